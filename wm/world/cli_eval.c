/* cli_eval.c -- `wm eval`: how close a generated rollout stays to the procedural ground truth.
 *
 * The truth is the procedural world (seed S) rendered at the trajectory's poses. The rollout under test
 * is either frames on disk (a PNG/PPM directory such as `wm dataset` or a model run writes, or an MP4
 * decoded through recordings/mp4.h, compared frame by frame as it decodes) or a live
 * frame source stepped with the same poses from the same start frame (the model gets the truth's frame
 * 0 as its start image; another procedural seed gives a "wrong world" baseline). Frame 0 is the given
 * start frame, so the table starts at frame 1 and groups frames by second of video at 16 fps
 * (frames 1-16 are second 0-1). Figures are means of per-frame PSNR and SSIM (metrics.h).
 */
#include "input/trajectory.h"
#include "wm/cli/cli.h"
#include "wm/world/cli_common.h"
#include "wm/world/image.h"
#include "wm/world/metrics.h"
#ifdef WM_HAVE_FFMPEG
#include "recordings/mp4.h"
#endif

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define EVAL_FPS 16

typedef struct ev_args {
    const char *traj, *dir, *source, *video, *model, *prompt;
    uint64_t seed, gen_seed;
    int frames, width, height, size_set, threads, gen_seed_set;
    char pattern[64];
} ev_args;

typedef struct ev_table {
    int n_sec;
    double *psnr, *ssim;   /* sums per second */
    int *count, *n_inf;
} ev_table;

static void ev_usage(FILE *f)
{
    fprintf(f, "usage: wm eval --seed S (--frames-dir DIR | --video FILE.mp4 | --source procedural|model [--gen-seed S2])\n"
               "               [--trajectory T] [--frames N] [--size HxW] [--threads N] [--model PATH] [--prompt TEXT]\n"
               "Renders the procedural world (seed S) along trajectory T as ground truth and prints PSNR and SSIM\n"
               "of the rollout under test per second of video (16 fps; frame 0 is the shared start frame).\n"
               "  --frames-dir DIR  frames DIR/frame_%%06d.png (or .ppm); T defaults to DIR/trajectory.json\n"
               "  --video FILE      an MP4 (e.g. wm dataset --format mp4, a recording); T defaults to\n"
               "                    trajectory.json next to it\n"
               "  --source SRC      step a frame source with the same poses (model: start image = truth frame 0;\n"
               "                    procedural: world seed --gen-seed, default S+1, a wrong-world baseline)\n"
               "  --model PATH      checkpoint for --source model; --prompt its text prompt\n"
               "  --size HxW        truth size (default: the frames' size, else the trajectory's, else 352x640)\n");
}

static int ev_parse(int argc, char **argv, ev_args *a)
{
    memset(a, 0, sizeof *a);
    a->frames = WM_TRAJ_MAX_FRAMES;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { ev_usage(stdout); return 0; }
        else if (!(v = cli_value("eval", argc, argv, &i))) return 2;
        else if (!strcmp(o, "--trajectory")) a->traj = v;
        else if (!strcmp(o, "--frames-dir")) a->dir = v;
        else if (!strcmp(o, "--video")) a->video = v;
        else if (!strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "--prompt")) a->prompt = v;
        else if (!strcmp(o, "--source")) a->source = v;
        else if (!strcmp(o, "--seed")) { if (!cli_u64("eval", o, v, &a->seed)) return 2; }
        else if (!strcmp(o, "--gen-seed")) { if (!cli_u64("eval", o, v, &a->gen_seed)) return 2; a->gen_seed_set = 1; }
        else if (!strcmp(o, "--frames")) { if (!cli_int("eval", o, v, 2, WM_TRAJ_MAX_FRAMES, &a->frames)) return 2; }
        else if (!strcmp(o, "--size")) { if (!cli_size("eval", v, &a->height, &a->width)) return 2; a->size_set = 1; }
        else if (!strcmp(o, "--threads")) { if (!cli_int("eval", o, v, 0, 256, &a->threads)) return 2; }
        else { fprintf(stderr, "wm eval: unknown option '%s'\n", o); ev_usage(stderr); return 2; }
    }
    if (!!a->dir + !!a->source + !!a->video != 1) {
        fprintf(stderr, "wm eval: give exactly one of --frames-dir, --video and --source\n");
        return 2;
    }
#ifndef WM_HAVE_FFMPEG
    if (a->video) { fprintf(stderr, "wm eval: this build has no MP4 support (FFmpeg)\n"); return 2; }
#endif
    if (a->source && strcmp(a->source, "procedural") && strcmp(a->source, "model")) {
        fprintf(stderr, "wm eval: --source procedural|model, got '%s'\n", a->source);
        return 2;
    }
    if (!a->traj && a->source) { fprintf(stderr, "wm eval: --trajectory T is required with --source\n"); return 2; }
    if (!a->gen_seed_set) a->gen_seed = a->seed + 1;
    return -1;
}

static void ev_add(ev_table *t, int frame, double psnr, double ssim)
{
    int s = (frame - 1) / EVAL_FPS;
    if (s >= t->n_sec) return;
    if (isinf(psnr)) t->n_inf[s]++;
    else t->psnr[s] += psnr;
    t->ssim[s] += ssim;
    t->count[s]++;
}

static void ev_row(const char *label, int n, int n_inf, double psnr_sum, double ssim_sum)
{
    if (n == 0) return;
    if (n_inf == n) printf("%9s %7d %10s %8.4f\n", label, n, "inf", ssim_sum / n);
    else printf("%9s %7d %10.2f %8.4f%s\n", label, n, psnr_sum / (n - n_inf), ssim_sum / n,
                n_inf ? "  (identical frames excluded from PSNR)" : "");
}

static void ev_print(const ev_table *t)
{
    printf("%9s %7s %10s %8s\n", "second", "frames", "PSNR(dB)", "SSIM");
    double ps = 0, ss = 0;
    int n = 0, ni = 0;
    for (int s = 0; s < t->n_sec; s++) {
        char label[32];
        snprintf(label, sizeof label, "%d-%d", s, s + 1);
        ev_row(label, t->count[s], t->n_inf[s], t->psnr[s], t->ssim[s]);
        ps += t->psnr[s]; ss += t->ssim[s]; n += t->count[s]; ni += t->n_inf[s];
    }
    ev_row("all", n, ni, ps, ss);
}

/* Frame i of the rollout under test: from disk, or the i-th frame of the generated chunk. */
static wm_status ev_load_frame(const ev_args *a, int i, int w, int h, uint8_t **buf, wm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/", a->dir);
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, a->pattern, i);
    int fw = 0, fh = 0;
    free(*buf);
    *buf = NULL;
    WM_TRY(wm_image_read(path, &fw, &fh, buf, err));
    if (fw != w || fh != h) return wm__errf(err, WM_ERR_SHAPE, "%s: %dx%d (HxW), the truth is %dx%d", path, fh, fw, h, w);
    return WM_OK;
}

static void ev_find_pattern(ev_args *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/frame_000000.png", a->dir);
    strcpy(a->pattern, access(path, R_OK) == 0 ? "frame_%06d.png" : "frame_%06d.ppm");
}

typedef struct ev_ctx {
    ev_args a;
    wm_trajectory t;
    wm_world *truth, *gen;
    ev_table tab;
    uint8_t *img;      /* frame read from disk */
    char tmp_png[64];  /* start image handed to the model source */
} ev_ctx;

static wm_status ev_open_world(ev_ctx *c, wm_source src, uint64_t seed, const char *image, wm_world **w, wm_frames *f,
                               wm_error *err)
{
    wm_world_params wp = wm_world_default_params();
    wp.source = src; wp.width = c->a.width; wp.height = c->a.height; wp.n_threads = c->a.threads; wp.seed = seed;
    if (src == WM_SOURCE_MODEL) { wp.model_path = c->a.model; wp.prompt = c->a.prompt; }
    wm_status st = wm_world_open(&wp, w);
    if (st != WM_OK) return wm__errf(err, st, "cannot open the %s world: %s (see the log above)",
                                     src == WM_SOURCE_MODEL ? "model" : "procedural", wm_status_str(st));
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = seed;
    rp.start_pose = &c->t.poses[0];
    rp.image_path = image;
    st = wm_world_reset(*w, &rp, f);
    return st == WM_OK ? WM_OK : wm__errf(err, st, "reset: %s", wm_world_last_error(*w));
}

static wm_status ev_setup(ev_ctx *c, wm_error *err)
{
    ev_args *a = &c->a;
    static char traj_path[4096];
    if (a->dir) {
        ev_find_pattern(a);
        if (!a->traj) { snprintf(traj_path, sizeof traj_path, "%s/trajectory.json", a->dir); a->traj = traj_path; }
        if (!a->size_set) {
            char path[4200];
            snprintf(path, sizeof path, "%s/", a->dir);
            size_t n = strlen(path);
            snprintf(path + n, sizeof path - n, a->pattern, 0);
            WM_TRY(wm_image_read(path, &a->width, &a->height, &c->img, err));
            a->size_set = 1;
        }
    }
#ifdef WM_HAVE_FFMPEG
    if (a->video) {
        if (!a->traj) {
            const char *slash = strrchr(a->video, '/');
            int dl = slash ? (int)(slash - a->video) : 1;
            snprintf(traj_path, sizeof traj_path, "%.*s/trajectory.json", dl, slash ? a->video : ".");
            a->traj = traj_path;
        }
        wm_mp4_info info;
        WM_TRY(wm_mp4_read(a->video, &info, NULL, NULL, err));
        if (!a->size_set) { a->width = info.width; a->height = info.height; a->size_set = 1; }
    }
#endif
    wm_camera_params cp = {0};
    cp.width = a->size_set ? a->width : 640; cp.height = a->size_set ? a->height : 352;
    wm_camera_params_resolve(&cp);
    WM_TRY(wm_trajectory_load(a->traj, NULL, &cp, &c->t, err));
    if (!a->size_set) {
        a->width = c->t.width > 0 ? c->t.width : 640;
        a->height = c->t.height > 0 ? c->t.height : 352;
    }
    if (c->t.width > 0 && c->t.height > 0 && (c->t.width != a->width || c->t.height != a->height)) {
        float sx = (float)a->width / (float)c->t.width, sy = (float)a->height / (float)c->t.height;
        for (int i = 0; i < c->t.n_frames; i++) {
            c->t.poses[i].fx *= sx; c->t.poses[i].cx *= sx; c->t.poses[i].fy *= sy; c->t.poses[i].cy *= sy;
        }
    }
    if (a->frames > c->t.n_frames) a->frames = c->t.n_frames;
    if (a->frames < 2) return wm__errf(err, WM_ERR_INVALID_ARG, "%s: needs at least 2 frames", a->traj);
    c->tab.n_sec = (a->frames - 2) / EVAL_FPS + 1;
    c->tab.psnr = calloc((size_t)c->tab.n_sec, sizeof(double));
    c->tab.ssim = calloc((size_t)c->tab.n_sec, sizeof(double));
    c->tab.count = calloc((size_t)c->tab.n_sec, sizeof(int));
    c->tab.n_inf = calloc((size_t)c->tab.n_sec, sizeof(int));
    if (!c->tab.psnr || !c->tab.ssim || !c->tab.count || !c->tab.n_inf) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    return WM_OK;
}

#ifdef WM_HAVE_FFMPEG
typedef struct ev_video { ev_ctx *c; wm_status st; wm_error *err; int seen; } ev_video;

/* Called per decoded frame, in order: render the truth for that frame's pose and compare. */
static int ev_on_video_frame(void *user, int index, const uint8_t *rgb, int w, int h)
{
    ev_video *v = user;
    ev_ctx *c = v->c;
    if (index >= c->a.frames) return 1;
    if (w != c->a.width || h != c->a.height) {
        v->st = wm__errf(v->err, WM_ERR_SHAPE, "%s: %dx%d (HxW), the truth is %dx%d", c->a.video, h, w, c->a.height, c->a.width);
        return 1;
    }
    v->seen = index + 1;
    if (index == 0) return 0; /* the shared start frame */
    wm_frames tf;
    if (wm_world_step_poses(c->truth, &c->t.poses[index], 1, &tf) != WM_OK) {
        v->st = wm__errf(v->err, WM_ERR_STATE, "truth: %s", wm_world_last_error(c->truth));
        return 1;
    }
    ev_add(&c->tab, index, wm_psnr_rgb8(tf.rgb, rgb, w, h), wm_ssim_rgb8(tf.rgb, rgb, w, h));
    return 0;
}

static wm_status ev_run_video(ev_ctx *c, wm_error *err)
{
    ev_video v = {c, WM_OK, err, 0};
    wm_mp4_info info;
    WM_TRY(wm_mp4_read(c->a.video, &info, ev_on_video_frame, &v, err));
    if (v.st == WM_OK && v.seen < c->a.frames) c->a.frames = v.seen; /* a shorter video: compare what is there */
    return v.st;
}
#endif

static wm_status ev_run(ev_ctx *c, wm_error *err)
{
    const ev_args *a = &c->a;
    wm_frames tf, gf;
    WM_TRY(ev_open_world(c, WM_SOURCE_PROCEDURAL, a->seed, NULL, &c->truth, &tf, err));
#ifdef WM_HAVE_FFMPEG
    if (a->video) return ev_run_video(c, err);
#endif
    if (a->source) {
        int model = !strcmp(a->source, "model");
        if (model) {
            snprintf(c->tmp_png, sizeof c->tmp_png, "/tmp/wm-eval-start-%d.png", (int)getpid());
            WM_TRY(wm_image_write(c->tmp_png, a->width, a->height, tf.rgb, err));
        }
        WM_TRY(ev_open_world(c, model ? WM_SOURCE_MODEL : WM_SOURCE_PROCEDURAL, a->gen_seed, model ? c->tmp_png : NULL,
                             &c->gen, &gf, err));
    }
    size_t fb = (size_t)a->width * (size_t)a->height * 3;
    for (int done = 1; done < a->frames;) {
        int want = a->frames - done < 24 ? a->frames - done : 24;
        if (wm_world_step_poses(c->truth, &c->t.poses[done], want, &tf) != WM_OK)
            return wm__errf(err, WM_ERR_STATE, "truth: %s", wm_world_last_error(c->truth));
        if (c->gen && wm_world_step_poses(c->gen, &c->t.poses[done], want, &gf) != WM_OK)
            return wm__errf(err, WM_ERR_STATE, "rollout: %s", wm_world_last_error(c->gen));
        for (int i = 0; i < want; i++) {
            const uint8_t *g = c->gen ? gf.rgb + fb * (size_t)i : NULL;
            if (!g) { WM_TRY(ev_load_frame(a, done + i, a->width, a->height, &c->img, err)); g = c->img; }
            const uint8_t *tr = tf.rgb + fb * (size_t)i;
            ev_add(&c->tab, done + i, wm_psnr_rgb8(tr, g, a->width, a->height), wm_ssim_rgb8(tr, g, a->width, a->height));
        }
        done += want;
    }
    return WM_OK;
}

int wm_cmd_eval(int argc, char **argv)
{
    ev_ctx c;
    memset(&c, 0, sizeof c);
    int rc = ev_parse(argc, argv, &c.a);
    if (rc >= 0) return rc;
    wm_error err = {0};
    wm_status st = ev_setup(&c, &err);
    if (st == WM_OK) st = ev_run(&c, &err);
    if (st == WM_OK) {
        printf("truth: procedural seed %llu, %d frames of %dx%d (HxW); rollout: %s%s\n", (unsigned long long)c.a.seed,
               c.a.frames, c.a.height, c.a.width, c.a.dir ? c.a.dir : c.a.video ? c.a.video : c.a.source,
               c.a.source ? " source" : "");
        ev_print(&c.tab);
    } else {
        fprintf(stderr, "wm eval: %s\n", err.msg);
    }
    if (c.tmp_png[0]) remove(c.tmp_png);
    wm_world_free(c.truth);
    wm_world_free(c.gen);
    wm_trajectory_free(&c.t);
    free(c.img);
    free(c.tab.psnr); free(c.tab.ssim); free(c.tab.count); free(c.tab.n_inf);
    return st == WM_OK ? 0 : 1;
}
