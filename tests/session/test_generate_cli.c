/* `wm generate` end to end on the synthetic model (argv[1] = the wm binary): an action-DSL rollout with
 * a text prompt -> MP4 with 1 + 24k frames of the requested size + sidecar; the same run again gives
 * the same frame fingerprints (sidecar), another seed different ones; a model without a text encoder
 * with a precomputed prompt embedding; exit 2 for bad arguments (missing options, both prompt kinds,
 * size not a multiple of 32, trajectory shorter than one chunk, unknown backend), exit 1 for a text prompt without a
 * text encoder, and no complete-looking output file after a failure. */
#include "synth_model.h"

#include "recordings/mp4.h"
#include "wm/world/image.h"

#include <jansson.h>
#include <sys/wait.h>

static const char *wm_bin;
static char dir[64], dir2[80];

static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' generate %s >> %s/log.txt 2>&1", wm_bin, args, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *frames_of(const char *sidecar)
{
    json_error_t je;
    json_t *j = json_load_file(sidecar, 0, &je);
    json_t *f = j ? json_incref(json_object_get(j, "frames")) : NULL;
    json_decref(j);
    return f;
}

static int file_exists(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    wm_bin = argv[1];
    snprintf(dir, sizeof dir, "/tmp/wm_gen_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(dir2, sizeof dir2, "%s/notext", dir);
    CHECK(synth_model_write(dir, 1, 7) && synth_model_write(dir2, 0, 7));
    char img[128], a[2048], p[256];
    snprintf(img, sizeof img, "%s/start.ppm", dir);
    unsigned char *im = synth_image(80, 150);
    wm_error err = {0};
    CHECK(wm_image_write(img, 150, 80, im, &err) == WM_OK);
    free(im);

    snprintf(a, sizeof a, "--model %s --image %s --prompt 'a road' --action w-30,d-20 --size 64x96 --seed 3 --threads 2 --backend cpu -q -o %s/a.mp4",
             dir, img, dir);
    CHECK_MSG(run(a) == 0, "generate failed (see %s/log.txt)", dir);
    wm_mp4_info info;
    snprintf(p, sizeof p, "%s/a.mp4", dir);
    CHECK(wm_mp4_read(p, &info, NULL, NULL, &err) == WM_OK);
    CHECK_MSG(info.n_frames == 49 && info.width == 96 && info.height == 64, "mp4: %d frames %dx%d", info.n_frames, info.width, info.height);
    snprintf(p, sizeof p, "%s/a.json", dir);
    json_t *fa = frames_of(p);
    CHECK(fa && json_array_size(fa) == 49);
    snprintf(a, sizeof a, "--model %s --image %s --prompt 'a road' --action w-30,d-20 --size 64x96 --seed 3 --threads 2 --backend cpu -q -o %s/b.mp4",
             dir, img, dir);
    CHECK(run(a) == 0);
    snprintf(p, sizeof p, "%s/b.json", dir);
    json_t *fb = frames_of(p);
    CHECK_MSG(fa && fb && json_equal(fa, fb), "same seed, different frames");
    snprintf(a, sizeof a, "--model %s --image %s --prompt 'a road' --action w-30,d-20 --size 64x96 --seed 4 --backend cpu -q -o %s/c.mp4 --frames 30",
             dir, img, dir);
    CHECK(run(a) == 0);
    snprintf(p, sizeof p, "%s/c.json", dir);
    json_t *fc = frames_of(p);
    CHECK(fc && json_array_size(fc) == 25); /* 30 snaps to 25 */
    int differ = 0;
    for (size_t i = 1; fa && fc && i < json_array_size(fc); i++)
        differ |= !json_equal(json_object_get(json_array_get(fa, i), "rgb_fnv1a64"),
                              json_object_get(json_array_get(fc, i), "rgb_fnv1a64"));
    CHECK_MSG(differ, "different seeds, same frames");
    json_decref(fa), json_decref(fb), json_decref(fc);

    /* precomputed embedding on a model without a text encoder */
    float y[16 * 64];
    int64_t mk[16];
    for (int i = 0; i < 16 * 64; i++) y[i] = 0.01f * (float)(i % 97) - 0.4f;
    for (int i = 0; i < 16; i++) mk[i] = i < 5;
    wm_st_item it[2] = {{"y", WM_F32, 4, {1, 1, 16, 64}, y}, {"mask", WM_I64, 2, {1, 16}, mk}};
    snprintf(p, sizeof p, "%s/emb.safetensors", dir);
    CHECK(wm_safetensors_write(p, it, 2, NULL, &err) == WM_OK);
    snprintf(a, sizeof a, "--model %s --image %s --prompt-embedding %s --action w-24 --size 64x96 --backend cpu -q -o %s/d.mp4", dir2, img, p, dir);
    CHECK_MSG(run(a) == 0, "embedding run failed (see %s/log.txt)", dir);
    snprintf(p, sizeof p, "%s/d.mp4", dir);
    CHECK(file_exists(p));

    /* failures */
    snprintf(a, sizeof a, "--model %s --image %s --prompt 'x' --action w-24 --size 64x96 --backend cpu -q -o %s/e.mp4", dir2, img, dir);
    CHECK(run(a) == 1);
    snprintf(p, sizeof p, "%s/e.mp4", dir);
    CHECK(!file_exists(p));
    snprintf(a, sizeof a, "--model %s --image %s --action w-10 --size 64x96 -o %s/f.mp4", dir, img, dir);
    CHECK(run(a) == 2); /* 11 poses < one chunk */
    snprintf(a, sizeof a, "--model %s --image %s --action w-30 --size 64x90 -o %s/f.mp4", dir, img, dir);
    CHECK(run(a) == 2);
    snprintf(a, sizeof a, "--model %s --image %s --action w-30 --trajectory t.json -o %s/f.mp4", dir, img, dir);
    CHECK(run(a) == 2);
    snprintf(a, sizeof a, "--model %s --image %s --action w-30 --prompt a --prompt-embedding e -o %s/f.mp4", dir, img, dir);
    CHECK(run(a) == 2);
    snprintf(a, sizeof a, "--image %s --action w-30 -o %s/f.mp4", img, dir);
    CHECK(run(a) == 2);
    snprintf(a, sizeof a, "--model %s --image %s --action w-30 --backend gpu -o %s/f.mp4", dir, img, dir);
    CHECK(run(a) == 2);
    CHECK(run("--bogus 1") == 2);
    CHECK(run("--help") == 0);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!t_failed && system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    TEST_MAIN_END();
}
