/* `wm explore --source model` and `wm replay` of a model recording, end to end on the synthetic model
 * (argv[1] = the wm binary), 64x96: a headless run along an action trajectory writes an MP4 with one
 * frame per trajectory pose and a sidecar naming the start image with its SHA-256; replaying that
 * sidecar regenerates frame-identical frames (exit 0) and a different seed would not (checked through
 * a replay with another seed); a --prompt-embedding run records the embedding's path + digest
 * and replays identically; a missing --image, a bad --size or both prompt kinds exit
 * 2 with a message; after the start image changes, the replay exits 1 with a message naming it.
 * KEEP=1 in the environment keeps the temporary directory (log.txt has every command's output). */
#include "synth_model.h"

#include "recordings/hash.h"
#include "recordings/mp4.h"
#include "wm/world/image.h"

#include <jansson.h>
#include <sys/wait.h>

static const char *wm_bin;
static char dir[64];

/* Runs `wm ARGS`, output to dir/log.txt (appended); returns the exit code. */
static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s > %s/last.txt 2>&1; rc=$?; cat %s/last.txt >> %s/log.txt; exit $rc", wm_bin,
             args, dir, dir, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether the last command's output mentions s. */
static int said(const char *s)
{
    char p[128], buf[8192];
    snprintf(p, sizeof p, "%s/last.txt", dir);
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return strstr(buf, s) != NULL;
}

static int write_image(const char *path, int shift)
{
    unsigned char *im = synth_image(80, 150);
    for (int i = 0; i < 80 * 150 * 3; i++) im[i] = (unsigned char)(im[i] + shift);
    wm_error err = {0};
    int ok = wm_image_write(path, 150, 80, im, &err) == WM_OK;
    free(im);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    wm_bin = argv[1];
    snprintf(dir, sizeof dir, "/tmp/wm_exm_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    CHECK(synth_model_write(dir, 1, 7));
    char img[128], a[2048], p[256];
    snprintf(img, sizeof img, "%s/start.ppm", dir);
    CHECK(write_image(img, 0));

    /* headless explore: 1 + 24 + 6 poses; the model steps whole chunks, the run keeps 31 frames */
    const char *common = "explore --source model --headless --size 64x96 --trajectory w-12,d-12,j-6";
    snprintf(a, sizeof a, "%s --model %s --image %s --prompt 'a road' --seed 5 -o %s/a.mp4", common, dir, img, dir);
    CHECK_MSG(run(a) == 0, "explore failed (see %s/log.txt)", dir);
    wm_mp4_info info;
    wm_error err = {0};
    snprintf(p, sizeof p, "%s/a.mp4", dir);
    CHECK(wm_mp4_read(p, &info, NULL, NULL, &err) == WM_OK);
    CHECK_MSG(info.n_frames == 31 && info.width == 96 && info.height == 64, "mp4: %d frames %dx%d", info.n_frames,
              info.width, info.height);
    snprintf(p, sizeof p, "%s/a.json", dir);
    json_error_t je;
    json_t *sc = json_load_file(p, 0, &je);
    CHECK(sc != NULL);
    const char *src = json_string_value(json_object_get(sc, "source"));
    const json_t *im = json_object_get(sc, "image");
    CHECK(src && !strcmp(src, "model"));
    CHECK(json_is_string(json_object_get(im, "path")) && !strcmp(json_string_value(json_object_get(im, "path")), img));
    char hex[65];
    CHECK(wm_sha256_file(img, hex, &err) == WM_OK);
    CHECK(json_is_string(json_object_get(im, "sha256")) && !strcmp(json_string_value(json_object_get(im, "sha256")), hex));
    CHECK(json_array_size(json_object_get(sc, "frames")) == 31);
    json_decref(sc);

    /* replay: frame-identical */
    snprintf(a, sizeof a, "replay %s/a.json -o %s/r.mp4", dir, dir);
    CHECK_MSG(run(a) == 0 && said("frame-identical"), "replay not identical (see %s/log.txt)", dir);
    snprintf(p, sizeof p, "%s/r.mp4", dir);
    CHECK(wm_mp4_read(p, &info, NULL, NULL, &err) == WM_OK && info.n_frames == 31);

    /* a different seed changes the frames, so the identity above means something */
    snprintf(a, sizeof a, "replay %s/a.json -o %s/s.mp4 --seed 6", dir, dir);
    CHECK(run(a) == 1 && said("NOT identical"));

    /* a precomputed prompt embedding: recorded with its digest, replayed identically */
    float y[16 * 64];
    int64_t mk[16];
    for (int i = 0; i < 16 * 64; i++) y[i] = 0.01f * (float)(i % 97) - 0.4f;
    for (int i = 0; i < 16; i++) mk[i] = i < 5;
    wm_st_item it[2] = {{"y", WM_F32, 4, {1, 1, 16, 64}, y}, {"mask", WM_I64, 2, {1, 16}, mk}};
    char emb[128];
    snprintf(emb, sizeof emb, "%s/e", dir); /* not in the model directory: one .safetensors there */
    mkdir(emb, 0755);
    snprintf(emb, sizeof emb, "%s/e/emb.safetensors", dir);
    CHECK(wm_safetensors_write(emb, it, 2, NULL, &err) == WM_OK);
    snprintf(a, sizeof a, "%s --model %s --image %s --prompt-embedding %s -o %s/e.mp4", common, dir, img, emb, dir);
    CHECK_MSG(run(a) == 0, "embedding explore failed (see %s/log.txt)", dir);
    snprintf(p, sizeof p, "%s/e.json", dir);
    sc = json_load_file(p, 0, &je);
    const json_t *pe = json_object_get(sc, "prompt_embedding");
    CHECK(json_is_string(json_object_get(pe, "path")) && !strcmp(json_string_value(json_object_get(pe, "path")), emb));
    CHECK(json_is_string(json_object_get(pe, "sha256")) && strlen(json_string_value(json_object_get(pe, "sha256"))) == 64);
    json_decref(sc);
    snprintf(a, sizeof a, "replay %s/e.json -o %s/er.mp4", dir, dir);
    CHECK_MSG(run(a) == 0 && said("frame-identical"), "embedding replay not identical (see %s/log.txt)", dir);

    /* argument errors */
    snprintf(a, sizeof a, "%s --model %s -o %s/f.mp4", common, dir, dir);
    CHECK(run(a) == 2 && said("--image"));
    snprintf(a, sizeof a, "explore --source model --headless --size 64x90 --model %s --image %s -o %s/f.mp4", dir, img, dir);
    CHECK(run(a) == 2 && said("multiple of 32"));
    snprintf(a, sizeof a, "%s --model %s --image %s --prompt x --prompt-embedding e -o %s/f.mp4", common, dir, img, dir);
    CHECK(run(a) == 2);
    snprintf(a, sizeof a, "explore --headless --image %s -o %s/f.mp4", img, dir);
    CHECK(run(a) == 2);

    /* the start image changed: replay refuses, naming it */
    CHECK(write_image(img, 1));
    snprintf(a, sizeof a, "replay %s/a.json -o %s/t.mp4", dir, dir);
    CHECK(run(a) == 1 && said(img) && said("changed"));

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!getenv("KEEP") && !t_failed && system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    TEST_MAIN_END();
}
