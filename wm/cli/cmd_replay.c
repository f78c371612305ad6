/* cmd_replay.c -- `wm replay`: regenerate a recording (or any trajectory) headlessly.
 *
 *   wm replay SIDECAR.json -o out.mp4     same source, size, seed, prompt and per-frame poses as the
 *                                         recording; every frame's fingerprint is compared with the
 *                                         sidecar's: exit 0 only if the replay is frame-identical
 *   wm replay TRAJECTORY -o out.mp4 [--seed S] [--size HxW] [--source ...]
 *                                         render a .json/.npy trajectory or an action string
 * A model recording reopens the model world with the recorded start image and prompt (or prompt
 * embedding); the image, embedding and model file digests recorded in the sidecar are checked first,
 * so a changed input is refused by name instead of showing up as "frame 0 differs".
 * Frames are recorded as generated (no HUD), so two replays of one sidecar give the same MP4 bytes'
 * decoded frames, and match the original recording's frames on the same backend and seed.
 */
#include "input/trajectory.h"
#include "recordings/hash.h"
#include "recordings/run.h"
#include "recordings/sidecar.h"
#include "wm/wm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct replay_args {
    const char *input, *out, *intrinsics, *model, *prompt, *image;
    uint64_t seed;
    int have_seed, width, height, chunk, source;
} replay_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: wm replay SIDECAR.json -o out.mp4\n"
               "       wm replay TRAJECTORY -o out.mp4 [--seed S] [--size HxW] [--chunk N] [--intrinsics K.npy]\n"
               "                 [--source procedural|model] [--model PATH] [--image START.png] [--prompt TEXT]\n"
               "  A sidecar replay checks every frame against the recording and exits 1 on any mismatch.\n");
}

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "wm replay: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static int parse(int argc, char **argv, replay_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) { usage(stdout); return 1; }
        if (k[0] != '-' || !k[1]) {
            if (a->input) return bad("more than one input", k);
            a->input = k;
            continue;
        }
        if (!v) return bad("missing value for", k);
        if (!strcmp(k, "-o") || !strcmp(k, "--output")) a->out = v;
        else if (!strcmp(k, "--seed")) { char *e; a->seed = strtoull(v, &e, 10); if (*e || *v == '-') return bad("bad --seed", v); a->have_seed = 1; }
        else if (!strcmp(k, "--size")) { if (sscanf(v, "%dx%d", &a->height, &a->width) != 2 || a->width < 16 || a->height < 16) return bad("--size wants HxW", v); }
        else if (!strcmp(k, "--chunk")) { a->chunk = atoi(v); if (a->chunk < 1 || a->chunk > 256) return bad("--chunk wants 1..256", v); }
        else if (!strcmp(k, "--intrinsics")) a->intrinsics = v;
        else if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--prompt")) a->prompt = v;
        else if (!strcmp(k, "--image")) a->image = v;
        else if (!strcmp(k, "--source")) {
            if (!strcmp(v, "procedural")) a->source = WM_SOURCE_PROCEDURAL;
            else if (!strcmp(v, "model")) a->source = WM_SOURCE_MODEL;
            else return bad("--source must be procedural or model", v);
        } else return bad("unknown option", k);
        i++;
    }
    if (!a->input) return bad("missing SIDECAR or TRAJECTORY", NULL);
    if (!a->out) return bad("missing -o out.mp4", NULL);
    return 0;
}

/* A recorded input must still have its recorded digest (skipped when no digest was recorded, or for
 * a directory-form model). Returns 0 when it matches. */
static int check_digest(const char *what, const char *path, const char *want)
{
    struct stat sb;
    if (!path[0] || !want[0]) return 0;
    if (stat(path, &sb) != 0) { fprintf(stderr, "wm replay: %s %s is missing\n", what, path); return 1; }
    if (!S_ISREG(sb.st_mode)) return 0;
    char hex[65];
    wm_error err = {0};
    if (wm_sha256_file(path, hex, &err) != WM_OK) { fprintf(stderr, "wm replay: %s\n", err.msg); return 1; }
    if (strcmp(hex, want) != 0) {
        fprintf(stderr, "wm replay: %s %s changed since the recording (sha256 %s, recorded %s)\n", what, path, hex, want);
        return 1;
    }
    return 0;
}

static int check_inputs(const wm_sidecar_meta *m, const char *model_override)
{
    if (strcmp(m->source, "model") != 0) return 0;
    if (!m->image_path[0]) { fprintf(stderr, "wm replay: the model recording names no start image\n"); return 1; }
    if (check_digest("start image", m->image_path, m->image_sha256)) return 1;
    if (check_digest("prompt embedding", m->embedding_path, m->embedding_sha256)) return 1;
    if (!model_override && check_digest("model", m->model_path, m->model_sha256)) return 1;
    return 0;
}

static int compare(const wm_sidecar_meta *m, const wm_run_result *r)
{
    if (r->n_frames != m->n_frames) {
        printf("wm replay: %d frames, the recording has %d: NOT identical\n", r->n_frames, m->n_frames);
        return 1;
    }
    for (int i = 0; i < r->n_frames; i++) {
        if (m->rgb_fnv[i] && m->rgb_fnv[i] != r->fnv[i]) {
            printf("wm replay: frame %d differs from the recording: NOT identical\n", i);
            return 1;
        }
    }
    printf("wm replay: %d frames, frame-identical to the recording\n", r->n_frames);
    return 0;
}

int wm_cmd_replay(int argc, char **argv)
{
    replay_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    wm_sidecar_meta meta;
    wm_error err = {0};
    size_t n = strlen(a.input);
    int is_sidecar = n > 5 && !strcasecmp(a.input + n - 5, ".json") && wm_sidecar_read_meta(a.input, &meta, &err) == WM_OK;
    wm_run_params rp = {.world = wm_world_default_params(), .out_mp4 = a.out, .verbose = 1, .prompt = a.prompt};
    rp.world.source = (wm_source)a.source;
    rp.world.model_path = a.model;
    if (a.width) { rp.world.width = a.width; rp.world.height = a.height; }
    if (a.chunk) rp.world.frames_per_chunk = a.chunk;
    rp.seed = a.seed;
    rp.image_path = a.image;
    if (is_sidecar) {
        rp.world.source = !strcmp(meta.source, "model") ? WM_SOURCE_MODEL : WM_SOURCE_PROCEDURAL;
        if (meta.model_path[0] && !a.model) rp.world.model_path = meta.model_path;
        rp.world.width = meta.width;
        rp.world.height = meta.height;
        if (meta.frames_per_chunk > 0) rp.world.frames_per_chunk = meta.frames_per_chunk;
        if (meta.fps > 0) rp.world.fps = (int)(meta.fps + 0.5f);
        if (!a.have_seed) rp.seed = meta.seed;
        if (!a.prompt && meta.prompt[0]) rp.prompt = meta.prompt;
        rp.model_sha256 = meta.model_sha256[0] ? meta.model_sha256 : NULL;
        if (rp.world.source == WM_SOURCE_MODEL) {
            if (check_inputs(&meta, a.model)) { wm_sidecar_meta_free(&meta); return 1; }
            rp.image_path = meta.image_path;
            rp.image_sha256 = meta.image_sha256[0] ? meta.image_sha256 : NULL;
            rp.embedding_path = meta.embedding_path[0] ? meta.embedding_path : NULL;
            rp.embedding_sha256 = meta.embedding_sha256[0] ? meta.embedding_sha256 : NULL;
        }
    }
    wm_camera_params cam = {0};
    cam.width = rp.world.width;
    cam.height = rp.world.height;
    wm_trajectory t;
    if (wm_trajectory_load(a.input, a.intrinsics, &cam, &t, &err) != WM_OK) {
        fprintf(stderr, "wm replay: %s\n", err.msg);
        if (is_sidecar) wm_sidecar_meta_free(&meta);
        return 2;
    }
    rp.traj = &t;
    wm_run_result res;
    wm_status st = wm_run_trajectory(&rp, &res, &err);
    wm_trajectory_free(&t);
    if (st != WM_OK) {
        fprintf(stderr, "wm replay: %s\n", err.msg);
        if (is_sidecar) wm_sidecar_meta_free(&meta);
        return 1;
    }
    printf("wm replay: wrote %s (%d frames %dx%d, %.2f s)\n", a.out, res.n_frames, res.width, res.height, res.seconds);
    rc = is_sidecar ? compare(&meta, &res) : 0;
    free(res.fnv);
    if (is_sidecar) wm_sidecar_meta_free(&meta);
    return rc;
}
