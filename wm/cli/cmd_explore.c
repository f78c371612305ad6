/* cmd_explore.c -- `wm explore`: walk through a world live (window) or render a trajectory headless.
 *
 * Live: a GLFW/Vulkan window (render/explorer.c), keyboard/mouse/gamepad drive the camera, optional
 * --record. Headless (--headless -o out.mp4): no window; the trajectory (a file or an action DSL
 * string; a built-in tour when none is given) is rendered through the off-screen Vulkan path when this
 * build has it (raw frames otherwise) and recorded with its sidecar. With no arguments this is the
 * program's default job: the procedural world in a window.
 * Model source (--source model --model DIR --image START): the start image and prompt (text, or
 * "@E.safetensors" from --prompt-embedding) go to the world's reset; their paths and SHA-256 digests go
 * into the sidecar so `wm replay` can regenerate the run and refuse inputs that changed.
 */
#include "input/trajectory.h"
#include "recordings/hash.h"
#include "recordings/run.h"
#include "wm/wm.h"
#ifdef WM_HAVE_VIEWER
#include "render/explorer.h"
#include "render/renderer.h"
#include <GLFW/glfw3.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>

/* A 16 s walk: forward, a look around, a strafe, a turn back. */
#define WM_DEFAULT_TOUR "w-48,wd-40,w-24,i-12,k-12,l-32,wa-40,none-8,s-24"

typedef struct explore_args {
    wm_world_params wp;
    uint64_t seed;
    const char *prompt, *image, *embedding, *trajectory, *intrinsics, *record, *out, *screenshot, *input;
    int headless, fullscreen, no_hud, validate, win_w, win_h;
    long frames;
    char prompt_buf[PATH_MAX + 2];
    char model_hex[65], image_hex[65], emb_hex[65];
    char image_abs[PATH_MAX], emb_abs[PATH_MAX];
    const char *model_sha, *image_sha, *emb_sha;
} explore_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wm explore [options]\n"
            "  --source procedural|model  frame source (default procedural)\n"
            "  --model PATH               checkpoint for --source model\n"
            "  --seed S                   world seed (default 0)\n"
            "  --image START.png|.ppm     start image (required for --source model)\n"
            "  --prompt TEXT              text prompt (model)\n"
            "  --prompt-embedding E.safetensors  precomputed prompt embedding (`wm encode-text`) instead of --prompt\n"
            "  --size HxW                 frame size, e.g. 352x640 (procedural default), 704x1280 (model)\n"
            "  --chunk N                  frames per chunk (procedural; default 24, the model's)\n"
            "  --trajectory T             camera path: .json, .npy (c2w) or an action string 'w-80,jw-40'\n"
            "  --intrinsics K.npy         intrinsics for a .npy trajectory\n"
            "  --record out.mp4           record the run (MP4 + out.json sidecar)\n"
            "  --headless -o out.mp4      no window: render the trajectory off-screen into out.mp4\n"
            "  --frames N                 stop after N frames\n"
            "  --fullscreen               start fullscreen (F11 toggles)\n"
            "  --window WxH               initial window size\n"
            "  --no-hud                   start with the HUD hidden (H or F1 toggles)\n"
            "  --screenshot out.png       save the window image at exit\n"
            "  --validate                 enable Vulkan validation layers when installed\n"
            "  --input DSL                scripted key presses per video tick, e.g. 'w-40,wd-20' (demos, smoke tests)\n"
            "keys: WASD move, arrows/IJKL look, E/Space up, Q/C down, Shift fast, Tab mouse look, Esc quit\n");
}

static int parse_pair(const char *s, int *a, int *b)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return 0;
    const char *t = end + 1;
    long y = strtol(t, &end, 10);
    if (end == t || *end || x < 16 || y < 16 || x > 8192 || y > 8192) return 0;
    *a = (int)x; *b = (int)y;
    return 1;
}

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "wm explore: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static int check_model_args(explore_args *a);

static int parse(int argc, char **argv, explore_args *a)
{
    memset(a, 0, sizeof *a);
    a->wp = wm_world_default_params();
    a->wp.width = a->wp.height = 0; /* let the source choose unless --size */
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) { usage(stdout); return 1; }
        else if (!strcmp(k, "--headless")) { a->headless = 1; takes = 0; }
        else if (!strcmp(k, "--fullscreen")) { a->fullscreen = 1; takes = 0; }
        else if (!strcmp(k, "--no-hud")) { a->no_hud = 1; takes = 0; }
        else if (!strcmp(k, "--validate")) { a->validate = 1; takes = 0; }
        else if (!v) return bad("missing value for", k);
        else if (!strcmp(k, "--source")) {
            if (!strcmp(v, "procedural")) a->wp.source = WM_SOURCE_PROCEDURAL;
            else if (!strcmp(v, "model")) a->wp.source = WM_SOURCE_MODEL;
            else return bad("--source must be procedural or model", v);
        } else if (!strcmp(k, "--model")) a->wp.model_path = v;
        else if (!strcmp(k, "--seed")) { char *e; a->seed = strtoull(v, &e, 10); if (*e || *v == '-') return bad("bad --seed", v); }
        else if (!strcmp(k, "--prompt")) a->prompt = v;
        else if (!strcmp(k, "--image")) a->image = v;
        else if (!strcmp(k, "--prompt-embedding")) a->embedding = v;
        else if (!strcmp(k, "--size")) { if (!parse_pair(v, &a->wp.height, &a->wp.width)) return bad("--size wants HxW", v); }
        else if (!strcmp(k, "--window")) { if (!parse_pair(v, &a->win_w, &a->win_h)) return bad("--window wants WxH", v); }
        else if (!strcmp(k, "--chunk")) { a->wp.frames_per_chunk = atoi(v); if (a->wp.frames_per_chunk < 1 || a->wp.frames_per_chunk > 256) return bad("--chunk wants 1..256", v); }
        else if (!strcmp(k, "--trajectory")) a->trajectory = v;
        else if (!strcmp(k, "--intrinsics")) a->intrinsics = v;
        else if (!strcmp(k, "--record")) a->record = v;
        else if (!strcmp(k, "-o") || !strcmp(k, "--output")) a->out = v;
        else if (!strcmp(k, "--screenshot")) a->screenshot = v;
        else if (!strcmp(k, "--input")) a->input = v;
        else if (!strcmp(k, "--frames")) { char *e; a->frames = strtol(v, &e, 10); if (*e || a->frames < 1) return bad("--frames wants a positive number", v); }
        else return bad("unknown option", k);
        i += takes;
    }
    if (a->headless && !a->out && !a->record) return bad("--headless needs -o out.mp4", NULL);
    int rc = check_model_args(a);
    if (rc) return rc;
    if (!a->headless && a->out && !a->record) a->record = a->out; /* -o in a window means record */
    return 0;
}

/* Model-source rules: model + start image required, one prompt kind, size a multiple of 32 (the VAE's
 * spatial ratio); the procedural world takes none of these inputs. */
static int check_model_args(explore_args *a)
{
    if (a->wp.source != WM_SOURCE_MODEL) {
        if (a->image || a->embedding) return bad("--image/--prompt-embedding need --source model", NULL);
        return 0;
    }
    if (!a->wp.model_path) return bad("--source model needs --model DIR", NULL);
    if (!a->image) return bad("--source model needs a start image: --image START.png|.ppm", NULL);
    if (a->prompt && a->embedding) return bad("give either --prompt or --prompt-embedding, not both", NULL);
    if (a->wp.width && (a->wp.width % 32 || a->wp.height % 32))
        return bad("--size must be a multiple of 32 in both dimensions for --source model", NULL);
    /* Absolute paths: the sidecar must still name the same files when replayed from another directory. */
    if (realpath(a->image, a->image_abs)) a->image = a->image_abs;
    if (a->embedding && realpath(a->embedding, a->emb_abs)) a->embedding = a->emb_abs;
    if (a->embedding) {
        snprintf(a->prompt_buf, sizeof a->prompt_buf, "@%s", a->embedding);
        a->prompt = a->prompt_buf;
    }
    return 0;
}

/* SHA-256 of a regular file into hex; NULL (with a warning) when it cannot be read. */
static const char *hash_of(const char *path, char hex[65])
{
    struct stat sb;
    if (!path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return NULL;
    wm_error err = {0};
    if (wm_sha256_file(path, hex, &err) == WM_OK) return hex;
    fprintf(stderr, "wm explore: warning: %s\n", err.msg);
    return NULL;
}

/* Digests of the model's inputs, recorded so a replay can check them. The start image must exist. */
static int hash_inputs(explore_args *a)
{
    a->model_sha = a->image_sha = a->emb_sha = NULL;
    if (a->wp.source != WM_SOURCE_MODEL) return 0;
    a->model_sha = hash_of(a->wp.model_path, a->model_hex);
    a->image_sha = hash_of(a->image, a->image_hex);
    if (!a->image_sha) { fprintf(stderr, "wm explore: %s: cannot read the start image\n", a->image); return 2; }
    a->emb_sha = hash_of(a->embedding, a->emb_hex);
    if (a->embedding && !a->emb_sha) { fprintf(stderr, "wm explore: %s: cannot read the prompt embedding\n", a->embedding); return 2; }
    return 0;
}

/* Trajectory with intrinsics for the world's frame size. */
static int load_traj(const explore_args *a, const wm_world_params *wp, const char *src, wm_trajectory *t)
{
    wm_camera_params cam = {0};
    cam.width = wp->width;
    cam.height = wp->height;
    cam.hfov_deg = wp->hfov_deg;
    wm_error err = {0};
    if (wm_trajectory_load(src, a->intrinsics, &cam, t, &err) != WM_OK) {
        fprintf(stderr, "wm explore: %s\n", err.msg);
        return 0;
    }
    return 1;
}

/* The world's effective size (source defaults resolved) without keeping it open. */
static int resolve_world(wm_world_params *wp)
{
    if (wp->source == WM_SOURCE_MODEL) {
        /* No trial open: that would load the whole checkpoint once more. The model's defaults are
         * fixed (704x1280, 24 frames per chunk). */
        wm_world_params d = wm_world_default_params();
        d.source = wp->source;
        d.model_path = wp->model_path;
        d.n_threads = wp->n_threads;
        d.width = wp->width ? wp->width : 1280;
        d.height = wp->height ? wp->height : 704;
        d.frames_per_chunk = wp->frames_per_chunk ? wp->frames_per_chunk : 24;
        d.prompt = NULL;
        *wp = d;
        return 1;
    }
    wm_world *w = NULL;
    wm_status st = wm_world_open(wp, &w);
    if (st != WM_OK) { fprintf(stderr, "wm explore: cannot open the world: %s\n", wm_status_str(st)); return 0; }
    const char *model = wp->model_path;
    wm_world_get_params(w, wp);
    wp->model_path = model; /* keep the caller's string: the world's copy dies with it */
    wp->prompt = NULL;
    wm_world_free(w);
    return 1;
}

#ifdef WM_HAVE_VIEWER
/* Headless frames go through the same Vulkan pipeline as the window, rendered off-screen. */
static wm_status offscreen_filter(void *user, const uint8_t *rgb, int w, int h, int64_t index, const uint8_t **out, wm_error *err)
{
    (void)index;
    wm_renderer *r = user;
    WM_TRY(wm_renderer_set_frame(r, rgb, w, h, err));
    int shown, cw, ch;
    WM_TRY(wm_renderer_draw(r, w, h, NULL, &shown, err));
    if (!wm_renderer_capture(r, out, &cw, &ch) || cw != w || ch != h) return wm__errf(err, WM_ERR_VULKAN, "off-screen read-back failed");
    return WM_OK;
}
#endif

static int run_headless(explore_args *a)
{
    if (!resolve_world(&a->wp)) return 1;
    wm_trajectory t;
    if (!load_traj(a, &a->wp, a->trajectory ? a->trajectory : WM_DEFAULT_TOUR, &t)) return 2;
    wm_run_params rp = {.world = a->wp, .seed = a->seed, .prompt = a->prompt, .traj = &t, .max_frames = (int)a->frames,
                        .out_mp4 = a->out ? a->out : a->record, .verbose = 1, .model_sha256 = a->model_sha,
                        .image_path = a->image, .image_sha256 = a->image_sha, .embedding_path = a->embedding,
                        .embedding_sha256 = a->emb_sha};
#ifdef WM_HAVE_VIEWER
    wm_renderer *r = NULL;
    wm_error rerr = {0};
    wm_render_params vp = {.validate = a->validate};
    if (wm_renderer_open_offscreen(a->wp.width, a->wp.height, &vp, &r, &rerr) == WM_OK) {
        rp.filter = offscreen_filter;
        rp.filter_user = r;
    } else {
        fprintf(stderr, "wm explore: off-screen Vulkan unavailable (%s); recording frames directly\n", rerr.msg);
    }
#endif
    wm_run_result res;
    wm_error err = {0};
    wm_status st = wm_run_trajectory(&rp, &res, &err);
#ifdef WM_HAVE_VIEWER
    wm_renderer_free(r);
#endif
    wm_trajectory_free(&t);
    if (st != WM_OK) { fprintf(stderr, "wm explore: %s\n", err.msg); return 1; }
    printf("wm explore: %d frames %dx%d in %.2f s -> %s\n", res.n_frames, res.width, res.height, res.seconds, rp.out_mp4);
    free(res.fnv);
    return 0;
}

#ifdef WM_HAVE_VIEWER
/* --input: DSL key bits per tick, replayed as GLFW key events through the live input adapter. The
 * wanted state is compared with the adapter's (not with the previous tick), so keys the window system
 * released (focus changes under a bare X server) are pressed again. */
typedef struct script { uint32_t *keys; int n; } script;

static void script_tick(void *user, int64_t tick, wm_glfw_input *in)
{
    static const struct { uint32_t bit; int key; wm_pkey pk; } map[] = {
        {WM_KEY_FORWARD, GLFW_KEY_W, WM_PK_W}, {WM_KEY_BACK, GLFW_KEY_S, WM_PK_S},
        {WM_KEY_YAW_LEFT, GLFW_KEY_LEFT, WM_PK_LEFT}, {WM_KEY_YAW_RIGHT, GLFW_KEY_RIGHT, WM_PK_RIGHT},
        {WM_KEY_PITCH_UP, GLFW_KEY_UP, WM_PK_UP}, {WM_KEY_PITCH_DOWN, GLFW_KEY_DOWN, WM_PK_DOWN},
        {WM_KEY_STRAFE_LEFT, GLFW_KEY_A, WM_PK_A}, {WM_KEY_STRAFE_RIGHT, GLFW_KEY_D, WM_PK_D}};
    script *s = user;
    uint32_t want = tick < s->n ? s->keys[tick] : 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        int on = (want & map[i].bit) != 0;
        if (on != (in->down[map[i].pk] != 0)) wm_glfw_input_key(in, map[i].key, on ? GLFW_PRESS : GLFW_RELEASE);
    }
}
#endif

static int run_window(explore_args *a)
{
#ifdef WM_HAVE_VIEWER
    script sc = {0};
    if (a->input) {
        wm_error perr = {0};
        if (wm_dsl_parse(a->input, &sc.keys, &sc.n, &perr) != WM_OK) { fprintf(stderr, "wm explore: --input: %s\n", perr.msg); return 2; }
    }
    wm_trajectory t = {0};
    int have_traj = 0;
    if (a->trajectory) {
        if (!resolve_world(&a->wp)) return 1;
        if (!load_traj(a, &a->wp, a->trajectory, &t)) return 2;
        have_traj = 1;
    }
    wm_explore_opts o = {.world = a->wp, .seed = a->seed, .prompt = a->prompt, .image_path = a->image,
                         .model_sha256 = a->model_sha, .image_sha256 = a->image_sha, .embedding_path = a->embedding,
                         .embedding_sha256 = a->emb_sha, .record_mp4 = a->record,
                         .traj = have_traj ? &t : NULL, .max_frames = a->frames, .fullscreen = a->fullscreen,
                         .validate = a->validate, .no_hud = a->no_hud, .win_w = a->win_w, .win_h = a->win_h,
                         .screenshot = a->screenshot, .on_tick = a->input ? script_tick : NULL, .user = &sc};
    wm_explore_result res;
    wm_error err = {0};
    wm_status st = wm_explore_run(&o, &res, &err);
    wm_trajectory_free(&t);
    free(sc.keys);
    if (st != WM_OK) {
        fprintf(stderr, "wm explore: %s\n", err.msg);
        return st == WM_ERR_NO_DISPLAY ? 3 : 1;
    }
    printf("wm explore: shown %lld frames (%lld generated, %lld dropped) in %.1f s\n", (long long)res.frames_shown,
           (long long)res.frames_generated, (long long)res.dropped, res.seconds);
    return 0;
#else
    (void)a;
    fprintf(stderr, "wm explore: this build has no window support (GLFW/Vulkan not found); use --headless -o out.mp4\n");
    return 3;
#endif
}

int wm_cmd_explore(int argc, char **argv)
{
    explore_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    if ((rc = hash_inputs(&a)) != 0) return rc;
    return a.headless ? run_headless(&a) : run_window(&a);
}
