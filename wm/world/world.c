/* world.c -- the world/agent API of wm.h: open, reset, step (actions or poses), snapshot, restore.
 *
 * The world owns what is common to every frame source: the camera controller of input/camera.h
 * (actions -> one pose per frame, spec §4.9), the frame and chunk counters, the output buffers
 * (sized once at open, so stepping never allocates), the last-error string, and snapshots of all
 * that. Pixels come from a frame source (source.h) chosen by params.source.
 * A step is: validate inputs -> poses for the chunk -> source renders them -> fill wm_frames.
 */
#include "input/camera.h"
#include "wm/world/source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIDE 8192
#define MAX_CHUNK 256
#define MAX_BUFFER_BYTES ((size_t)1 << 30) /* 1 GiB of frames per chunk: beyond that a typo, not a wish */

struct wm_world {
    wm_world_params params;       /* resolved; strings point at the copies below */
    char *model_path, *prompt;
    wm_error err;
    const wm__source_vt *vt;
    void *src;
    wm_threadpool *pool;
    wm_camera_state cam;
    int has_reset;
    uint64_t seed;                /* seed of the current episode */
    int64_t chunk, next_frame;    /* index of the last chunk produced, of the next frame */
    wm_pose pose;                 /* pose of the most recent frame */
    uint8_t *rgb;                 /* frames_per_chunk frames */
    wm_pose *poses;               /* frames_per_chunk poses */
};

struct wm_snapshot {
    const wm__source_vt *vt;      /* static tables: valid after the world is freed */
    int width, height, frames_per_chunk;
    wm_camera_state cam;
    int has_reset;
    uint64_t seed;
    int64_t chunk, next_frame;
    wm_pose pose;
    void *src_state;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

wm_world_params wm_world_default_params(void)
{
    wm_world_params p;
    memset(&p, 0, sizeof p);
    p.source = WM_SOURCE_PROCEDURAL;
    p.width = 640;
    p.height = 352;
    p.fps = 16;
    p.frames_per_chunk = 24;
    p.hfov_deg = 60.0f;
    return p;
}

wm_reset_params wm_reset_default_params(void)
{
    wm_reset_params r;
    memset(&r, 0, sizeof r);
    return r;
}

static wm_status resolve_params(const wm_world_params *in, wm_world_params *p, wm_error *err)
{
    *p = in ? *in : wm_world_default_params();
    if (p->source != WM_SOURCE_PROCEDURAL && p->source != WM_SOURCE_MODEL)
        return wm__errf(err, WM_ERR_INVALID_ARG, "wm_world_open: unknown source %d", (int)p->source);
    int model = p->source == WM_SOURCE_MODEL;
    if (p->width == 0) p->width = model ? 1280 : 640;
    if (p->height == 0) p->height = model ? 704 : 352;
    if (p->fps == 0) p->fps = 16;
    if (p->frames_per_chunk == 0) p->frames_per_chunk = 24;
    if (p->hfov_deg == 0) p->hfov_deg = 60.0f;
    if (p->width < 16 || p->width > MAX_SIDE || p->height < 16 || p->height > MAX_SIDE)
        return wm__errf(err, WM_ERR_INVALID_ARG, "wm_world_open: size %dx%d outside 16..%d", p->width, p->height, MAX_SIDE);
    if (p->fps < 1 || p->fps > 240)
        return wm__errf(err, WM_ERR_INVALID_ARG, "wm_world_open: fps %d outside 1..240", p->fps);
    if (p->frames_per_chunk < 1 || p->frames_per_chunk > MAX_CHUNK)
        return wm__errf(err, WM_ERR_INVALID_ARG, "wm_world_open: frames_per_chunk %d outside 1..%d",
                        p->frames_per_chunk, MAX_CHUNK);
    if (!(p->hfov_deg >= 1.0f && p->hfov_deg <= 170.0f))
        return wm__errf(err, WM_ERR_INVALID_ARG, "wm_world_open: hfov_deg %g outside 1..170", (double)p->hfov_deg);
    if ((size_t)p->width * (size_t)p->height * 3 * (size_t)p->frames_per_chunk > MAX_BUFFER_BYTES)
        return wm__errf(err, WM_ERR_LIMIT, "wm_world_open: %d frames of %dx%d exceed the 1 GiB chunk buffer limit",
                        p->frames_per_chunk, p->width, p->height);
    return WM_OK;
}

static char *dup_or_null(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void camera_params(const wm_world *w, wm_camera_params *cp)
{
    memset(cp, 0, sizeof *cp);
    cp->fps = (float)w->params.fps;
    cp->width = w->params.width;
    cp->height = w->params.height;
    cp->hfov_deg = w->params.hfov_deg;
    wm_camera_params_resolve(cp);
}

static wm_status open_world(wm_world *w, const wm_world_params *params)
{
    WM_TRY(resolve_params(params, &w->params, &w->err));
    wm_world_params *p = &w->params;
    if ((p->model_path && !(w->model_path = dup_or_null(p->model_path))) || (p->prompt && !(w->prompt = dup_or_null(p->prompt))))
        return wm__errf(&w->err, WM_ERR_OUT_OF_MEMORY, "wm_world_open: out of memory");
    p->model_path = w->model_path;
    p->prompt = w->prompt;
    size_t n = (size_t)p->frames_per_chunk;
    w->rgb = malloc(n * (size_t)p->width * (size_t)p->height * 3);
    w->poses = calloc(n, sizeof *w->poses);
    if (!w->rgb || !w->poses) return wm__errf(&w->err, WM_ERR_OUT_OF_MEMORY, "wm_world_open: out of memory for frame buffers");
    if (wm_threadpool_create(p->n_threads, &w->pool) != WM_OK)
        return wm__errf(&w->err, WM_ERR_OUT_OF_MEMORY, "wm_world_open: cannot start %d threads", p->n_threads);
    p->n_threads = wm_threadpool_size(w->pool);
    w->vt = p->source == WM_SOURCE_MODEL ? &wm__source_model : &wm__source_procedural;
    WM_TRY(w->vt->open(p, w->pool, &w->src, &w->err));
    w->seed = p->seed;
    wm_camera_params cp;
    camera_params(w, &cp);
    wm_camera_reset(&w->cam, &cp, NULL);
    wm_camera_pose(&w->cam, &w->pose);
    return WM_OK;
}

wm_status wm_world_open(const wm_world_params *params, wm_world **out)
{
    if (!out) return WM_ERR_INVALID_ARG;
    *out = NULL;
    wm_world *w = calloc(1, sizeof *w);
    if (!w) return WM_ERR_OUT_OF_MEMORY;
    wm_status st = open_world(w, params);
    if (st != WM_OK) {
        wm__log(WM_LOG_WARN, "%s", w->err.msg);
        wm_world_free(w);
        return st;
    }
    *out = w;
    return WM_OK;
}

void wm_world_free(wm_world *w)
{
    if (!w) return;
    if (w->vt && w->src) w->vt->destroy(w->src);
    wm_threadpool_free(w->pool);
    free(w->rgb);
    free(w->poses);
    free(w->model_path);
    free(w->prompt);
    free(w);
}

const char *wm_world_last_error(const wm_world *w) { return w ? w->err.msg : "no world"; }

void wm_world_get_params(const wm_world *w, wm_world_params *out) { *out = w->params; }

void wm_world_get_pose(const wm_world *w, wm_pose *out) { *out = w->pose; }

static void fill_frames(wm_world *w, int n, double t0, double t_gen, wm_frames *out)
{
    if (n > 0) w->pose = w->poses[n - 1];
    if (!out) return;
    out->width = w->params.width;
    out->height = w->params.height;
    out->n = n;
    out->rgb = w->rgb;
    out->poses = w->poses;
    out->chunk_index = w->chunk;
    out->first_frame = w->next_frame - n;
    out->ms_generate = t_gen;
    out->ms_total = now_ms() - t0;
}

/* NULL if the pose is usable, else what is wrong: finite values, a rotation that is orthonormal within
 * 1e-2 (a camera, not an arbitrary matrix), bottom row 0 0 0 1, position within 1000 km (keeps grid
 * arithmetic exact enough and integer conversions defined), focal lengths below 1e6 px. */
static const char *pose_problem(const wm_pose *p)
{
    const float *m = p->c2w;
    for (int i = 0; i < 16; i++)
        if (!isfinite(m[i])) return "non-finite c2w";
    if (!isfinite(p->fx) || !isfinite(p->fy) || !isfinite(p->cx) || !isfinite(p->cy)) return "non-finite intrinsics";
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            float d = m[i] * m[j] + m[4 + i] * m[4 + j] + m[8 + i] * m[8 + j];
            if (fabsf(d - (i == j ? 1.0f : 0.0f)) > 1e-2f) return "rotation is not orthonormal";
        }
    if (fabsf(m[12]) > 1e-3f || fabsf(m[13]) > 1e-3f || fabsf(m[14]) > 1e-3f || fabsf(m[15] - 1) > 1e-3f)
        return "bottom row is not 0 0 0 1";
    if (fabsf(m[3]) > 1e6f || fabsf(m[7]) > 1e6f || fabsf(m[11]) > 1e6f) return "position farther than 1e6 m";
    if (p->fx > 1e6f || p->fy > 1e6f) return "focal length above 1e6 px";
    return NULL;
}

/* Intrinsics of a caller pose: its own when fx > 0, else the world defaults. */
static void complete_pose(const wm_world *w, const wm_pose *in, wm_pose *out)
{
    *out = *in;
    if (!(in->fx > 0)) {
        out->fx = (float)w->cam.p.fx;
        out->fy = (float)w->cam.p.fy;
        out->cx = (float)w->cam.p.cx;
        out->cy = (float)w->cam.p.cy;
    } else if (!(in->fy > 0)) {
        out->fy = in->fx;
    }
}

wm_status wm_world_reset(wm_world *w, const wm_reset_params *rp, wm_frames *out)
{
    double t0 = now_ms();
    wm_reset_params r = rp ? *rp : wm_reset_default_params();
    const char *bad = r.start_pose ? pose_problem(r.start_pose) : NULL;
    if (bad) return wm__errf(&w->err, WM_ERR_INVALID_ARG, "reset: start_pose: %s", bad);
    wm__source_reset sr = {r.seed ? r.seed : w->params.seed, r.image_path, r.prompt ? r.prompt : w->prompt};
    wm_camera_params cp;
    camera_params(w, &cp);
    wm_pose start;
    if (r.start_pose) complete_pose(w, r.start_pose, &start);
    wm_camera_reset(&w->cam, &cp, r.start_pose ? &start : NULL);
    wm_camera_pose(&w->cam, &w->poses[0]);
    if (r.start_pose) w->poses[0] = start; /* keep the caller's exact matrix and intrinsics */
    double tg = now_ms();
    wm_status st = w->vt->reset(w->src, &sr, &w->poses[0], w->rgb, &w->err);
    if (st != WM_OK) {
        w->has_reset = 0;
        return st;
    }
    tg = now_ms() - tg;
    w->has_reset = 1;
    w->seed = sr.seed;
    w->chunk = 0;
    w->next_frame = 1;
    fill_frames(w, 1, t0, tg, out);
    w->err.msg[0] = 0;
    return WM_OK;
}

static wm_status check_actions(wm_world *w, const wm_action *a, int n)
{
    int fpc = w->params.frames_per_chunk, total = 0;
    if (n < 0 || (n > 0 && !a)) return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step: %d actions but no array", n);
    for (int i = 0; i < n; i++) {
        const float ax[5] = {a[i].move_x, a[i].move_y, a[i].move_z, a[i].yaw, a[i].pitch};
        for (int k = 0; k < 5; k++)
            if (!(ax[k] >= -1.0f && ax[k] <= 1.0f))
                return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step: action %d: axis %d = %g is not in [-1, 1]", i, k, (double)ax[k]);
        if (a[i].n_frames < 0)
            return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step: action %d: n_frames %d < 0", i, a[i].n_frames);
        if (a[i].n_frames == 0 && i != n - 1)
            return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step: action %d holds for the rest of the chunk but is not the last", i);
        total += a[i].n_frames == 0 ? 0 : a[i].n_frames;
        if (total > fpc)
            return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step: actions cover more than the %d frames of a chunk", fpc);
    }
    return WM_OK;
}

static wm_status render_chunk(wm_world *w, int n, double t0, wm_frames *out)
{
    double tg = now_ms();
    wm_status st = w->vt->render(w->src, w->poses, n, w->rgb, &w->err);
    if (st != WM_OK) return st;
    tg = now_ms() - tg;
    w->chunk++;
    w->next_frame += n;
    fill_frames(w, n, t0, tg, out);
    return WM_OK;
}

wm_status wm_world_step_actions(wm_world *w, const wm_action *actions, int n, wm_frames *out)
{
    double t0 = now_ms();
    if (!w->has_reset) return wm__errf(&w->err, WM_ERR_STATE, "step: the world has not been reset");
    WM_TRY(check_actions(w, actions, n));
    int fpc = w->params.frames_per_chunk, f = 0;
    for (int i = 0; i < n && f < fpc; i++) {
        int hold = actions[i].n_frames == 0 ? fpc - f : actions[i].n_frames;
        for (int k = 0; k < hold; k++, f++) wm_camera_step(&w->cam, &actions[i], &w->poses[f]);
    }
    for (; f < fpc; f++) wm_camera_step(&w->cam, NULL, &w->poses[f]);
    return render_chunk(w, fpc, t0, out);
}

wm_status wm_world_step_poses(wm_world *w, const wm_pose *poses, int n, wm_frames *out)
{
    double t0 = now_ms();
    if (!w->has_reset) return wm__errf(&w->err, WM_ERR_STATE, "step: the world has not been reset");
    int fpc = w->params.frames_per_chunk;
    if (n < 1 || n > fpc || !poses)
        return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step_poses: %d poses, need 1..%d", n, fpc);
    if (w->params.source == WM_SOURCE_MODEL && n != fpc)
        return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step_poses: the model needs exactly %d poses per chunk", fpc);
    for (int i = 0; i < n; i++) {
        const char *bad = pose_problem(&poses[i]);
        if (bad) return wm__errf(&w->err, WM_ERR_INVALID_ARG, "step_poses: pose %d: %s", i, bad);
        complete_pose(w, &poses[i], &w->poses[i]);
    }
    /* The controller continues from the last given pose, at rest. */
    wm_camera_params cp = w->cam.p;
    wm_camera_reset(&w->cam, &cp, &w->poses[n - 1]);
    return render_chunk(w, n, t0, out);
}

wm_status wm_world_snapshot(wm_world *w, wm_snapshot **out)
{
    *out = NULL;
    wm_snapshot *s = calloc(1, sizeof *s);
    if (!s) return wm__errf(&w->err, WM_ERR_OUT_OF_MEMORY, "snapshot: out of memory");
    wm_status st = w->vt->snapshot(w->src, &s->src_state, &w->err);
    if (st != WM_OK) { free(s); return st; }
    s->vt = w->vt;
    s->width = w->params.width;
    s->height = w->params.height;
    s->frames_per_chunk = w->params.frames_per_chunk;
    s->cam = w->cam;
    s->has_reset = w->has_reset;
    s->seed = w->seed;
    s->chunk = w->chunk;
    s->next_frame = w->next_frame;
    s->pose = w->pose;
    *out = s;
    return WM_OK;
}

wm_status wm_world_restore(wm_world *w, const wm_snapshot *s)
{
    if (!s) return wm__errf(&w->err, WM_ERR_INVALID_ARG, "restore: no snapshot");
    if (s->vt != w->vt || s->width != w->params.width || s->height != w->params.height ||
        s->frames_per_chunk != w->params.frames_per_chunk)
        return wm__errf(&w->err, WM_ERR_INVALID_ARG, "restore: snapshot of a %s %dx%d world (chunk %d) into a %s %dx%d world (chunk %d)",
                        s->vt->name, s->width, s->height, s->frames_per_chunk, w->vt->name, w->params.width,
                        w->params.height, w->params.frames_per_chunk);
    WM_TRY(w->vt->restore(w->src, s->src_state, &w->err));
    w->cam = s->cam;
    w->has_reset = s->has_reset;
    w->seed = s->seed;
    w->chunk = s->chunk;
    w->next_frame = s->next_frame;
    w->pose = s->pose;
    return WM_OK;
}

void wm_snapshot_free(wm_snapshot *s)
{
    if (!s) return;
    if (s->vt && s->src_state) s->vt->state_free(s->src_state);
    free(s);
}
