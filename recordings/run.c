/* run.c -- headless trajectory runs (see run.h). Frames are consumed straight from the world's
 * buffers chunk by chunk; nothing is kept but fingerprints, so run length is bounded by disk only.
 */
#include "recordings/run.h"
#include "recordings/hash.h"
#include "recordings/recorder.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static wm_status consume(const wm_run_params *p, wm_recorder *rec, const wm_frames *f, wm_run_result *res, int limit,
                         wm_error *err)
{
    size_t fb = (size_t)f->width * f->height * 3;
    for (int i = 0; i < f->n && res->n_frames < limit; i++) {
        const uint8_t *rgb = f->rgb + fb * i, *shown = rgb;
        if (p->filter) WM_TRY(p->filter(p->filter_user, rgb, f->width, f->height, f->first_frame + i, &shown, err));
        if (rec) WM_TRY(wm_recorder_add_frame(rec, f, i, shown, err));
        res->fnv[res->n_frames++] = wm_fnv1a64(rgb, fb);
    }
    if (rec) wm_recorder_flush(rec);
    return WM_OK;
}

static wm_status open_recorder(const wm_run_params *p, const wm_world_params *wp, wm_recorder **rec, wm_error *err)
{
    *rec = NULL;
    if (!p->out_mp4 && !p->sidecar) return WM_OK;
    wm_recorder_params rp = {.mp4_path = p->out_mp4, .sidecar_path = p->sidecar};
    rp.info.source = wp->source == WM_SOURCE_MODEL ? "model" : "procedural";
    rp.info.seed = p->seed;
    rp.info.prompt = p->prompt;
    rp.info.model_path = wp->source == WM_SOURCE_MODEL ? wp->model_path : NULL;
    rp.info.model_sha256 = p->model_sha256;
    rp.info.image_path = p->image_path;
    rp.info.image_sha256 = p->image_sha256;
    rp.info.embedding_path = p->embedding_path;
    rp.info.embedding_sha256 = p->embedding_sha256;
    rp.info.width = wp->width;
    rp.info.height = wp->height;
    rp.info.fps = (float)wp->fps;
    rp.info.frames_per_chunk = wp->frames_per_chunk;
    return wm_recorder_open(&rp, rec, err);
}

wm_status wm_run_trajectory(const wm_run_params *p, wm_run_result *res, wm_error *err)
{
    memset(res, 0, sizeof *res);
    if (!p->traj || p->traj->n_frames < 1) return wm__errf(err, WM_ERR_INVALID_ARG, "run: empty trajectory");
    int limit = p->traj->n_frames;
    if (p->max_frames > 0 && p->max_frames < limit) limit = p->max_frames;
    double t0 = now_s();
    wm_world *w = NULL;
    wm_status st = wm_world_open(&p->world, &w);
    if (st != WM_OK) return wm__errf(err, st, "cannot open the world: %s (see the log above)", wm_status_str(st));
    wm_world_params wp;
    wm_world_get_params(w, &wp);
    res->width = wp.width;
    res->height = wp.height;
    wm_recorder *rec = NULL;
    wm_pose *pad = NULL;
    res->fnv = calloc((size_t)limit, sizeof *res->fnv);
    pad = calloc((size_t)wp.frames_per_chunk, sizeof *pad);
    if (!res->fnv || !pad) { st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "run: out of memory"); goto done; }
    if ((st = open_recorder(p, &wp, &rec, err)) != WM_OK) goto done;
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = p->seed;
    rp.prompt = p->prompt;
    rp.image_path = p->image_path;
    rp.start_pose = &p->traj->poses[0];
    wm_frames f;
    if ((st = wm_world_reset(w, &rp, &f)) != WM_OK) { st = wm__errf(err, st, "reset: %s", wm_world_last_error(w)); goto done; }
    if ((st = consume(p, rec, &f, res, limit, err)) != WM_OK) goto done;
    while (res->n_frames < limit) {
        int n = limit - res->n_frames;
        if (n > wp.frames_per_chunk) n = wp.frames_per_chunk;
        const wm_pose *poses = &p->traj->poses[res->n_frames];
        if (n < wp.frames_per_chunk && wp.source == WM_SOURCE_MODEL) {
            /* The model generates whole chunks: hold the last pose to fill it; extra frames are not kept. */
            for (int i = 0; i < wp.frames_per_chunk; i++) pad[i] = poses[i < n ? i : n - 1];
            poses = pad;
            n = wp.frames_per_chunk;
        }
        if ((st = wm_world_step_poses(w, poses, n, &f)) != WM_OK) {
            st = wm__errf(err, st, "step at frame %d: %s", res->n_frames, wm_world_last_error(w));
            goto done;
        }
        if ((st = consume(p, rec, &f, res, limit, err)) != WM_OK) goto done;
        if (p->verbose) fprintf(stderr, "\rwm: %d/%d frames", res->n_frames, limit);
    }
    if (p->verbose) fprintf(stderr, "\n");
done:
    if (rec && st == WM_OK) st = wm_recorder_close(rec, err);
    else wm_recorder_abandon(rec); /* a failed run must not leave files that look complete */
    wm_world_free(w);
    free(pad);
    res->seconds = now_s() - t0;
    if (st != WM_OK) { free(res->fnv); res->fnv = NULL; }
    return st;
}
