/* cli_generate.c -- `wm generate`: offline SANA-WM rollout from a start image along a camera
 * trajectory (file or action DSL) to an MP4 + sidecar JSON.
 *
 * It runs a wm/session directly (the pipeline behind the WM_SOURCE_MODEL world, same frames) so the
 * backend can be chosen: reset at the trajectory's first pose with the image and prompt, then one
 * session step per 24 poses. Frame count as the streaming script (spec §1.2): F = min(--frames,
 * trajectory length) snapped to the nearest 24k+1 (ties up; down if the trajectory is too short), and
 * the video holds all F frames: frame 0 is the cover-cropped start image, frames 1..F-1 are generated.
 * Trajectory intrinsics are mapped to the frame size by the resize-cover + centre-crop rule (§1.4)
 * when the file states its image size. Output goes through wm_recorder (.part files renamed at the
 * end), so a failed run never leaves a file that looks complete. Exit: 0 ok, 1 failed, 2 bad arguments.
 */
#include "input/trajectory.h"
#include "recordings/recorder.h"
#include "wm/cli/cli.h"
#include "wm/session/session.h"
#include "wm/vae/preprocess.h"
#include "wm/world/cli_common.h"
#include "wm/world/image.h"
#include "wm/wm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "generate"

typedef struct gen_args {
    const char *model, *image, *prompt, *embedding, *traj, *action, *intrinsics, *out, *sidecar;
    uint64_t seed;
    int frames, height, width, threads, quiet, backend;
} gen_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: wm generate --model DIR --image IMG (--trajectory T | --action DSL) -o out.mp4 [options]\n"
               "  --model DIR             SANA-WM checkpoint folder (DiT, ltx2_causal_vae/ or vae/, optional\n"
               "                          text_encoder/ + tokenizer/; see docs/pipeline.md)\n"
               "  --image IMG             start image (PNG or PPM), resized to cover the frame and centre-cropped\n"
               "  --prompt TEXT           text prompt (needs the model's text encoder)\n"
               "  --prompt-embedding E    prompt embedding from `wm encode-text` (y, mask) instead of --prompt\n"
               "  --trajectory T          camera trajectory: .json (wm-trajectory or a sidecar) or c2w .npy\n"
               "  --intrinsics K.npy      intrinsics for a .npy trajectory (default: 60 deg horizontal FOV)\n"
               "  --action DSL            action string instead of a trajectory, e.g. \"w-48,d-24,none-24\"\n"
               "  --seed S                noise seed (default 42)\n"
               "  --frames N              frames including the start frame, snapped to 24k+1 (default 241)\n"
               "  --size HxW              frame size, multiples of 32 (default 704x1280)\n"
               "  --threads N             CPU threads (default: all)\n"
               "  --backend B             auto (CUDA when available, default), cpu or cuda\n"
               "  --sidecar F.json        sidecar path (default: out.json next to out.mp4)\n"
               "  -o, --output out.mp4    output video (H.264 MP4, 16 fps)\n"
               "  -q, --quiet             no progress lines\n");
}

static int parse(int argc, char **argv, gen_args *a)
{
    memset(a, 0, sizeof *a);
    a->seed = 42, a->frames = 241, a->height = 704, a->width = 1280;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = NULL;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) { usage(stdout); return 1; }
        if (!strcmp(k, "-q") || !strcmp(k, "--quiet")) { a->quiet = 1; continue; }
        if (k[0] != '-') { fprintf(stderr, "wm %s: unexpected argument '%s'\n", CMD, k); return 2; }
        if (!(v = cli_value(CMD, argc, argv, &i))) return 2;
        if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--image")) a->image = v;
        else if (!strcmp(k, "--prompt")) a->prompt = v;
        else if (!strcmp(k, "--prompt-embedding")) a->embedding = v;
        else if (!strcmp(k, "--trajectory")) a->traj = v;
        else if (!strcmp(k, "--intrinsics")) a->intrinsics = v;
        else if (!strcmp(k, "--action")) a->action = v;
        else if (!strcmp(k, "-o") || !strcmp(k, "--output")) a->out = v;
        else if (!strcmp(k, "--sidecar")) a->sidecar = v;
        else if (!strcmp(k, "--seed")) { if (!cli_u64(CMD, k, v, &a->seed)) return 2; }
        else if (!strcmp(k, "--frames")) { if (!cli_int(CMD, k, v, 1, WM_TRAJ_MAX_FRAMES, &a->frames)) return 2; }
        else if (!strcmp(k, "--threads")) { if (!cli_int(CMD, k, v, 0, 1024, &a->threads)) return 2; }
        else if (!strcmp(k, "--size")) { if (!cli_size(CMD, v, &a->height, &a->width)) return 2; }
        else if (!strcmp(k, "--backend")) {
            a->backend = !strcmp(v, "auto") ? WM_MODEL_AUTO : !strcmp(v, "cpu") ? WM_MODEL_CPU : !strcmp(v, "cuda") ? WM_MODEL_CUDA : -1;
            if (a->backend < 0) { fprintf(stderr, "wm %s: --backend expects auto, cpu or cuda, got '%s'\n", CMD, v); return 2; }
        }
        else { fprintf(stderr, "wm %s: unknown option '%s' (see wm %s --help)\n", CMD, k, CMD); return 2; }
    }
    const char *miss = !a->model ? "--model" : !a->image ? "--image" : !a->out ? "-o" : NULL;
    if (miss) { fprintf(stderr, "wm %s: %s is required (see wm %s --help)\n", CMD, miss, CMD); return 2; }
    if (!!a->traj == !!a->action) { fprintf(stderr, "wm %s: give exactly one of --trajectory and --action\n", CMD); return 2; }
    if (a->prompt && a->embedding) { fprintf(stderr, "wm %s: give --prompt or --prompt-embedding, not both\n", CMD); return 2; }
    if (a->height % 32 || a->width % 32) { fprintf(stderr, "wm %s: --size %dx%d: sides must be multiples of 32\n", CMD, a->height, a->width); return 2; }
    return 0;
}

/* Nearest 24k+1 <= limit to want (ties up, down when up exceeds limit); 0 if below 25. */
static int snap_frames(int want, int limit)
{
    int n = want < limit ? want : limit;
    int lo = (n - 1) / 24 * 24 + 1, hi = lo + 24;
    int f = (n - lo) * 2 >= 24 && hi <= limit ? hi : lo;
    return f >= 25 ? f : 0;
}

/* Trajectory in the frame's pixels: intrinsics of a file with a known image size go through the
 * resize-cover + crop mapping (spec §1.4). */
static int load_traj(const gen_args *a, wm_trajectory *t)
{
    wm_camera_params cp = {0};
    cp.width = a->width, cp.height = a->height;
    wm_camera_params_resolve(&cp);
    wm_error err = {0};
    wm_status st = a->action ? wm_trajectory_from_dsl(a->action, &cp, t, &err)
                             : wm_trajectory_load(a->traj, a->intrinsics, &cp, t, &err);
    if (st != WM_OK) { fprintf(stderr, "wm %s: %s\n", CMD, err.msg); return 0; }
    if (!a->action && t->width > 0 && t->height > 0 && (t->width != a->width || t->height != a->height))
        for (int i = 0; i < t->n_frames; i++) {
            wm_pose *p = &t->poses[i];
            double k[4] = {p->fx, p->fy, p->cx, p->cy}, o[4];
            wm_cover_crop_intrinsics(t->height, t->width, a->height, a->width, k, o);
            p->fx = (float)o[0], p->fy = (float)o[1], p->cx = (float)o[2], p->cy = (float)o[3];
        }
    return 1;
}

/* Frames [first, first + n) of the rollout into the recorder (wm_frames as the world would hand them). */
static wm_status record(wm_recorder *rec, const gen_args *a, const uint8_t *rgb, const wm_pose *poses, int n,
                        int64_t first, int64_t chunk, wm_error *err)
{
    wm_frames f = {a->width, a->height, n, rgb, poses, chunk, first, 0, 0};
    for (int i = 0; i < n; i++) WM_TRY(wm_recorder_add_frame(rec, &f, i, NULL, err));
    wm_recorder_flush(rec);
    return WM_OK;
}

static wm_status open_all(const gen_args *a, const char *prompt, wm_model **m, wm_session **s, wm_recorder **rec,
                          wm_error *err)
{
    wm_model_params mp = {0};
    mp.path = a->model, mp.height = a->height, mp.width = a->width, mp.n_threads = a->threads, mp.backend = a->backend;
    WM_TRY(wm_model_load(&mp, m, err));
    WM_TRY(wm_session_create(*m, s, err));
    WM_TRY(wm_session_set_prompt(*s, prompt, err));
    wm_recorder_params rp = {.mp4_path = a->out, .sidecar_path = a->sidecar};
    rp.info.source = "model", rp.info.seed = a->seed, rp.info.prompt = prompt, rp.info.model_path = a->model;
    rp.info.width = a->width, rp.info.height = a->height, rp.info.fps = 16.0f, rp.info.frames_per_chunk = 24;
    return wm_recorder_open(&rp, rec, err);
}

static wm_status rollout(const gen_args *a, const wm_trajectory *t, int F, wm_session *s, wm_recorder *rec,
                         uint8_t *rgb, wm_error *err)
{
    int w0 = 0, h0 = 0;
    uint8_t *img = NULL;
    WM_TRY(wm_image_read(a->image, &w0, &h0, &img, err));
    wm_status st = wm_session_reset(s, img, h0, w0, &t->poses[0], a->seed, rgb, err);
    free(img);
    if (st == WM_OK) st = record(rec, a, rgb, &t->poses[0], 1, 0, 0, err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int done = 1, c = 1; st == WM_OK && done < F; done += 24, c++) {
        st = wm_session_step(s, &t->poses[done], rgb, err);
        if (st == WM_OK) st = record(rec, a, rgb, &t->poses[done], 24, done, c, err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (!a->quiet) fprintf(stderr, "\rwm generate: %d/%d frames, %.2f s/chunk", done + 24, F, sec / c);
    }
    if (!a->quiet) fprintf(stderr, "\n");
    return st;
}

static int run(const gen_args *a, const wm_trajectory *t, int F, const char *prompt)
{
    wm_error err = {0};
    wm_model *m = NULL;
    wm_session *s = NULL;
    wm_recorder *rec = NULL;
    uint8_t *rgb = malloc((size_t)24 * a->width * a->height * 3);
    wm_status st = rgb ? open_all(a, prompt, &m, &s, &rec, &err) : wm__errf(&err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == WM_OK && !a->quiet) fprintf(stderr, "wm generate: model on %s, %d frames of %dx%d\n", wm_model_backend_name(m), F, a->width, a->height);
    if (st == WM_OK) st = rollout(a, t, F, s, rec, rgb, &err);
    if (st == WM_OK) st = wm_recorder_close(rec, &err);
    else wm_recorder_abandon(rec); /* leaves only .part files */
    wm_session_free(s);
    wm_model_free(m);
    free(rgb);
    if (st != WM_OK) { fprintf(stderr, "wm %s: %s\n", CMD, err.msg); return 1; }
    if (!a->quiet) fprintf(stderr, "wm generate: wrote %s (%d frames, %dx%d)\n", a->out, F, a->width, a->height);
    return 0;
}

int wm_cmd_generate(int argc, char **argv)
{
    gen_args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr == 1 ? 0 : 2;
    wm_trajectory t = {0};
    if (!load_traj(&a, &t)) return 2;
    int F = snap_frames(a.frames, t.n_frames);
    if (!F) {
        fprintf(stderr, "wm %s: %d frames requested, %d poses in the trajectory: need at least 25 (one chunk)\n", CMD,
                a.frames, t.n_frames);
        wm_trajectory_free(&t);
        return 2;
    }
    char prompt[4200];
    if (a.embedding) snprintf(prompt, sizeof prompt, "@%s", a.embedding);
    int rc = run(&a, &t, F, a.embedding ? prompt : a.prompt);
    wm_trajectory_free(&t);
    return rc;
}
