/* cli_dataset.c -- `wm dataset`: frames + exact poses from the procedural world, for training and for
 * ground truth; `--bench` measures the renderer instead of writing.
 *
 * The frames come through the public world API (wm_world_step_poses / step_actions), the same path
 * agents use, so a dataset is exactly what an agent would have seen. Layout of DIR:
 *   frame_000000.png ...   RGB8 frames (PPM with --format ppm; with --format mp4 one H.264 video.mp4
 *                          through recordings/mp4.h instead, lossy but 50x smaller)
 *   trajectory.json        per-frame c2w + intrinsics (input/trajectory.h JSON format)
 *   dataset.json           seed, size, fps, frame count, frame pattern -- written LAST, so its presence
 *                          marks a complete dataset (every file is written to a temp name and renamed).
 * Random trajectories are seeded agent-like walks (mostly forward, turns, strafes, pauses), so they
 * exercise the same §4.9 motion model as the explorer.
 */
#include "input/trajectory.h"
#include "wm/cli/cli.h"
#include "wm/world/cli_common.h"
#include "wm/world/image.h"
#ifdef WM_HAVE_FFMPEG
#include "recordings/mp4.h"
#endif

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

typedef struct ds_args {
    const char *out, *traj, *format;
    uint64_t seed;
    int frames, width, height, threads, bench, frames_set;
    float hfov;
    void *mp4;             /* wm_mp4 when --format mp4 */
} ds_args;

static void ds_usage(FILE *f)
{
    fprintf(f, "usage: wm dataset --out DIR [--seed S] [--frames N] [--trajectory T | --random] [--size HxW]\n"
               "                  [--format png|ppm|mp4] [--hfov DEG] [--threads N]\n"
               "       wm dataset --bench [--size HxW] [--frames N] [--seed S] [--threads N]\n"
               "Renders the procedural world (seed S, default 0) along a trajectory and writes DIR/frame_%%06d.png,\n"
               "DIR/trajectory.json (per-frame c2w + intrinsics) and DIR/dataset.json (written last).\n"
               "  --trajectory T  JSON trajectory, .npy c2w file, or an action DSL string (\"w-80,jw-40\")\n"
               "  --random        seeded random walk (default)\n"
               "  --frames N      frames including the start frame (default 160 = 10 s, or the trajectory's)\n"
               "  --size HxW      frame size (default 352x640)\n"
               "  --bench         render without writing and print frames per second\n");
}

static int ds_parse(int argc, char **argv, ds_args *a)
{
    memset(a, 0, sizeof *a);
    a->frames = 160; a->height = 352; a->width = 640; a->hfov = 60;
    a->format = wm_image_have_png() ? "png" : "ppm";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { ds_usage(stdout); return 0; }
        else if (!strcmp(o, "--random")) a->traj = NULL;
        else if (!strcmp(o, "--bench")) a->bench = 1;
        else if (!(v = cli_value("dataset", argc, argv, &i))) return 2;
        else if (!strcmp(o, "--out")) a->out = v;
        else if (!strcmp(o, "--trajectory")) a->traj = v;
        else if (!strcmp(o, "--format")) a->format = v;
        else if (!strcmp(o, "--seed")) { if (!cli_u64("dataset", o, v, &a->seed)) return 2; }
        else if (!strcmp(o, "--frames")) { if (!cli_int("dataset", o, v, 1, WM_TRAJ_MAX_FRAMES, &a->frames)) return 2; a->frames_set = 1; }
        else if (!strcmp(o, "--size")) { if (!cli_size("dataset", v, &a->height, &a->width)) return 2; }
        else if (!strcmp(o, "--hfov")) { if (!cli_float("dataset", o, v, 1, 170, &a->hfov)) return 2; }
        else if (!strcmp(o, "--threads")) { if (!cli_int("dataset", o, v, 0, 256, &a->threads)) return 2; }
        else { fprintf(stderr, "wm dataset: unknown option '%s'\n", o); ds_usage(stderr); return 2; }
    }
    if (!a->bench && !a->out) { fprintf(stderr, "wm dataset: --out DIR is required\n"); ds_usage(stderr); return 2; }
    if (strcmp(a->format, "png") && strcmp(a->format, "ppm") && strcmp(a->format, "mp4")) {
        fprintf(stderr, "wm dataset: --format png|ppm|mp4, got '%s'\n", a->format);
        return 2;
    }
#ifndef WM_HAVE_FFMPEG
    if (!strcmp(a->format, "mp4")) { fprintf(stderr, "wm dataset: this build has no MP4 support (FFmpeg)\n"); return 2; }
#endif
    if (!strcmp(a->format, "mp4") && (a->width % 2 || a->height % 2)) {
        fprintf(stderr, "wm dataset: MP4 needs even frame sides, got %dx%d\n", a->height, a->width);
        return 2;
    }
    if (!strcmp(a->format, "png") && !wm_image_have_png()) { fprintf(stderr, "wm dataset: this build has no PNG (zlib)\n"); return 2; }
    return -1;
}

/* Seeded agent-like action for one segment of a random walk. */
static void random_action(uint64_t *s, wm_action *a, int frames_left)
{
    static const uint32_t moves[] = {
        WM_KEY_FORWARD, WM_KEY_FORWARD, WM_KEY_FORWARD, WM_KEY_FORWARD | WM_KEY_YAW_LEFT,
        WM_KEY_FORWARD | WM_KEY_YAW_RIGHT, WM_KEY_YAW_LEFT, WM_KEY_YAW_RIGHT, WM_KEY_STRAFE_LEFT,
        WM_KEY_STRAFE_RIGHT, WM_KEY_BACK, WM_KEY_FORWARD | WM_KEY_FAST, 0};
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = (uint32_t)(*s >> 33);
    memset(a, 0, sizeof *a);
    a->keys = moves[r % (sizeof moves / sizeof moves[0])];
    if ((r >> 8) % 8 == 0) a->pitch = (float)((int)((r >> 12) % 7) - 3) * 0.1f; /* gentle look up/down */
    a->n_frames = 6 + (int)((r >> 16) % 30);
    if (a->n_frames > frames_left) a->n_frames = frames_left;
}

static wm_status ds_write_frames(const ds_args *a, const wm_frames *f, int first, int n, wm_pose *all, wm_error *err)
{
    for (int i = 0; i < n; i++) {
        all[first + i] = f->poses[i];
        if (a->bench) continue;
        const uint8_t *rgb = f->rgb + (size_t)i * f->width * f->height * 3;
#ifdef WM_HAVE_FFMPEG
        if (a->mp4) { WM_TRY(wm_mp4_write_rgb(a->mp4, rgb, err)); continue; }
#endif
        char path[4096];
        snprintf(path, sizeof path, "%s/frame_%06d.%s", a->out, first + i, a->format);
        WM_TRY(wm_image_write(path, f->width, f->height, rgb, err));
    }
    return WM_OK;
}

/* Roll the world along the trajectory (or a random walk) and hand every frame to ds_write_frames. */
static wm_status ds_run(const ds_args *a, wm_world *w, const wm_trajectory *t, wm_pose *all, wm_error *err)
{
    wm_frames f;
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = a->seed;
    rp.start_pose = t ? &t->poses[0] : NULL;
    wm_status st = wm_world_reset(w, &rp, &f);
    if (st != WM_OK) return wm__errf(err, st, "%s", wm_world_last_error(w));
    WM_TRY(ds_write_frames(a, &f, 0, 1, all, err));
    uint64_t rs = a->seed ^ 0x9E3779B97F4A7C15ull;
    for (int done = 1; done < a->frames;) {
        int want = a->frames - done < 24 ? a->frames - done : 24;
        if (t) {
            st = wm_world_step_poses(w, &t->poses[done], want, &f);
        } else {
            wm_action acts[24];
            int n = 0;
            for (int left = 24; left > 0; left -= acts[n++].n_frames) random_action(&rs, &acts[n], left);
            st = wm_world_step_actions(w, acts, n, &f);
        }
        if (st != WM_OK) return wm__errf(err, st, "%s", wm_world_last_error(w));
        WM_TRY(ds_write_frames(a, &f, done, want, all, err));
        done += want;
    }
    return WM_OK;
}

static wm_status ds_write_meta(const ds_args *a, wm_pose *all, wm_error *err)
{
    char path[4096], tmp[4200];
    wm_trajectory t = {a->frames, all, 16.0f, a->width, a->height};
    snprintf(path, sizeof path, "%s/trajectory.json", a->out);
    WM_TRY(wm_trajectory_save_json(path, &t, err));
    if (strcmp(a->format, "mp4")) snprintf(path, sizeof path, "%s/frame_%%06d.%s", a->out, a->format);
    else snprintf(path, sizeof path, "%s/video.mp4", a->out);
    json_t *root = json_pack("{s:s,s:i,s:s,s:I,s:i,s:i,s:i,s:i,s:s,s:s,s:s}", "format", "wm-dataset", "version", 1,
                             "source", "procedural", "seed", (json_int_t)a->seed, "n_frames", a->frames, "width",
                             a->width, "height", a->height, "fps", 16, strcmp(a->format, "mp4") ? "frame_pattern" : "video", strrchr(path, '/') + 1,
                             "trajectory", "trajectory.json", "generator", wm_version());
    snprintf(path, sizeof path, "%s/dataset.json", a->out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = root ? json_dump_file(root, tmp, JSON_INDENT(2)) : -1;
    json_decref(root);
    if (rc != 0 || rename(tmp, path) != 0) { remove(tmp); return wm__errf(err, WM_ERR_IO, "%s: write failed", path); }
    return WM_OK;
}

static wm_status ds_load_traj(ds_args *a, wm_trajectory *t, wm_error *err)
{
    wm_camera_params cp = {0};
    cp.width = a->width; cp.height = a->height; cp.hfov_deg = a->hfov;
    wm_camera_params_resolve(&cp);
    WM_TRY(wm_trajectory_load(a->traj, NULL, &cp, t, err));
    if (!a->frames_set || a->frames > t->n_frames) a->frames = t->n_frames;
    if (t->width > 0 && t->height > 0 && (t->width != a->width || t->height != a->height)) {
        float sx = (float)a->width / (float)t->width, sy = (float)a->height / (float)t->height;
        for (int i = 0; i < t->n_frames; i++) {  /* intrinsics follow the output size */
            t->poses[i].fx *= sx; t->poses[i].cx *= sx; t->poses[i].fy *= sy; t->poses[i].cy *= sy;
        }
    }
    return WM_OK;
}

int wm_cmd_dataset(int argc, char **argv)
{
    ds_args a;
    int rc = ds_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    wm_error err = {0};
    wm_trajectory traj = {0};
    if (a.traj && ds_load_traj(&a, &traj, &err) != WM_OK) { fprintf(stderr, "wm dataset: %s\n", err.msg); return 1; }
    if (!a.bench && mkdir(a.out, 0777) != 0 && errno != EEXIST) { fprintf(stderr, "wm dataset: %s: cannot create directory\n", a.out); wm_trajectory_free(&traj); return 1; }
    wm_world_params wp = wm_world_default_params();
    wp.width = a.width; wp.height = a.height; wp.hfov_deg = a.hfov; wp.n_threads = a.threads; wp.seed = a.seed;
    wm_world *w = NULL;
    wm_pose *all = calloc((size_t)a.frames, sizeof *all);
    wm_status st = all ? wm_world_open(&wp, &w) : WM_ERR_OUT_OF_MEMORY;
    if (st != WM_OK) { fprintf(stderr, "wm dataset: cannot open the world: %s\n", wm_status_str(st)); free(all); wm_trajectory_free(&traj); return 1; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
#ifdef WM_HAVE_FFMPEG
    char vpath[4200];
    snprintf(vpath, sizeof vpath, "%s/video.mp4", a.out ? a.out : ".");
    wm_mp4_params mp = {a.width, a.height, 16, 0, 0, 0};
    wm_mp4 *m = NULL;
    if (!a.bench && !strcmp(a.format, "mp4")) st = wm_mp4_open(vpath, &mp, &m, &err);
    a.mp4 = m;
    if (st == WM_OK) st = ds_run(&a, w, a.traj ? &traj : NULL, all, &err);
    if (a.mp4) {
        wm_status cst = st == WM_OK ? wm_mp4_close(a.mp4, &err) : WM_OK;
        if (st != WM_OK) wm_mp4_abandon(a.mp4);
        if (st == WM_OK) st = cst;
    }
#else
    st = ds_run(&a, w, a.traj ? &traj : NULL, all, &err);
#endif
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (st == WM_OK && !a.bench) st = ds_write_meta(&a, all, &err);
    wm_world_params ep;
    wm_world_get_params(w, &ep);
    if (st != WM_OK) fprintf(stderr, "wm dataset: %s\n", err.msg);
    else if (a.bench) {
        /* CPU time too: on a shared machine wall-clock fps mostly measures the other processes. */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
                     1e-6 * (double)ru.ru_stime.tv_usec;
        printf("rendered %d frames of %dx%d (HxW) on %d threads in %.2f s: %.1f fps (%.1f ms/frame); "
               "CPU %.1f ms/frame (%.1f fps if %d idle cores scale perfectly)\n", a.frames, a.height, a.width,
               ep.n_threads, sec, a.frames / sec, 1e3 * sec / a.frames, 1e3 * cpu / a.frames,
               a.frames * ep.n_threads / cpu, ep.n_threads);
    }
    else printf("wrote %d frames of %dx%d to %s in %.2f s\n", a.frames, a.height, a.width, a.out, sec);
    wm_world_free(w);
    free(all);
    wm_trajectory_free(&traj);
    return st == WM_OK ? 0 : 1;
}
