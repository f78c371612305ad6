/* The whole SANA-WM pipeline (text on the CPU, DiT + VAE on CUDA) against the same pipeline on the CPU,
 * on the tiny random-weight checkpoint set of synth_model.h (64 x 96 frames, latent 2 x 3). Label gpu:
 * skipped (77) without a CUDA device.
 *   - agreement: per chunk, the CUDA session's clean latents vs the CPU session's (rel. L2; CUDA runs
 *     bf16 weights/activations, so the bound is the bf16 one, 5e-2 after 4 autoregressive chunks) and
 *     the uint8 frames (PSNR >= 30 dB);
 *   - determinism on the device: same seed twice -> identical frames;
 *   - snapshot/restore through the device caches: save after chunk 2, step, restore, step -> identical;
 *   - constant memory on the device over chunks 3..10 (cudaMemGetInfo through a second backend,
 *     plus the session's own arena/resident counters and the host heap).
 */
#include "rollout_poses.h"
#include "synth_model.h"

#include "input/camera.h"
#include "wm/core/backend.h"
#include "wm/session/session.h"

#include <malloc.h>
#include <math.h>

#pragma weak wm__cuda_mem_info
wm_status wm__cuda_mem_info(wm_backend *be, size_t *used, size_t *total);

#define H 64
#define W 96
#define FPS 24
#define NCH 4

static char dir[64];

static void chunk_poses(wm_camera_state *cs, int chunk, wm_pose *out) { rollout_chunk_poses(cs, chunk, FPS, out); }
static void cam_init(wm_camera_state *cs, wm_pose *pose0) { rollout_cam_init(cs, W, H, pose0); }

typedef struct rollout_out {
    uint8_t *frames;   /* (1 + 24 NCH, H, W, 3) */
    float *latents;    /* per chunk, the clean latents (chunk 0: 4 frames, later 3) */
    size_t lat_off[NCH + 1];
} rollout_out;

static int rollout(wm_session *s, uint64_t seed, rollout_out *o)
{
    wm_error err = {0};
    size_t fb = (size_t)H * W * 3;
    wm_pose hist[1 + FPS];
    wm_camera_state cs;
    cam_init(&cs, &hist[0]);
    uint8_t *img = synth_image(100, 170);
    int ok = wm_session_reset(s, img, 100, 170, &hist[0], seed, o->frames, &err) == WM_OK;
    free(img);
    if (!ok) { fprintf(stderr, "reset: %s\n", err.msg); return 0; }
    o->lat_off[0] = 0;
    for (int c = 0; c < NCH; c++) {
        chunk_poses(&cs, c, &hist[1]);
        if (wm_session_step(s, &hist[1], o->frames + (1 + (size_t)c * FPS) * fb, &err) != WM_OK) {
            fprintf(stderr, "step %d: %s\n", c, err.msg);
            return 0;
        }
        wm_session_chunk_info ci;
        wm_session_chunk(s, &ci);
        size_t n = (size_t)16 * ci.n_frames * (H / 32) * (W / 32);
        memcpy(o->latents + o->lat_off[c], ci.latent, n * 4);
        o->lat_off[c + 1] = o->lat_off[c] + n;
    }
    return 1;
}

static double rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return se == 0 ? INFINITY : 10 * log10(255.0 * 255.0 / (se / (double)n));
}

static wm_model *load(int backend, wm_error *err)
{
    wm_model_params mp = {0};
    mp.path = dir, mp.height = H, mp.width = W, mp.n_threads = 2, mp.backend = backend;
    wm_model *m = NULL;
    return wm_model_load(&mp, &m, err) == WM_OK ? m : NULL;
}

static void alloc_out(rollout_out *o)
{
    o->frames = malloc((1 + (size_t)NCH * FPS) * H * W * 3);
    o->latents = malloc((size_t)16 * (4 + 3 * (NCH - 1)) * (H / 32) * (W / 32) * 4);
}

static void test_agreement_and_state(wm_model *mc, wm_model *mg)
{
    wm_error err = {0};
    wm_session *sc = NULL, *sg = NULL;
    CHECK(wm_session_create(mc, &sc, &err) == WM_OK && wm_session_create(mg, &sg, &err) == WM_OK);
    if (!sc || !sg) { wm_session_free(sc), wm_session_free(sg); return; }
    CHECK(wm_session_set_prompt(sc, "a quiet forest path", &err) == WM_OK);
    CHECK(wm_session_set_prompt(sg, "a quiet forest path", &err) == WM_OK);
    rollout_out c = {0}, g = {0}, g2 = {0};
    alloc_out(&c), alloc_out(&g), alloc_out(&g2);
    CHECK(rollout(sc, 5, &c) && rollout(sg, 5, &g));
    size_t fb = (size_t)H * W * 3;
    for (int k = 0; k < NCH; k++) {
        double e = rel_l2(g.latents + g.lat_off[k], c.latents + c.lat_off[k], g.lat_off[k + 1] - g.lat_off[k]);
        double p = psnr(g.frames + (1 + (size_t)k * FPS) * fb, c.frames + (1 + (size_t)k * FPS) * fb, FPS * fb);
        printf("chunk %d: cuda vs cpu latents rel_l2 %.3e, frames PSNR %.1f dB\n", k, e, p);
        CHECK_MSG(e <= 5e-2, "chunk %d latents rel_l2 %.3e > 5e-2", k, e);
        CHECK_MSG(p >= 30.0, "chunk %d frames PSNR %.1f dB < 30", k, p);
    }
    CHECK_MSG(memcmp(g.frames, c.frames, fb) == 0, "frame 0 (the start image) differs between backends");
    CHECK(rollout(sg, 5, &g2));
    CHECK_MSG(memcmp(g.frames, g2.frames, (1 + (size_t)NCH * FPS) * fb) == 0, "CUDA: same seed, different frames");

    /* snapshot after NCH chunks, step, restore, step again: identical frames through the device caches */
    size_t nb = wm_session_state_bytes(sg);
    void *blob = malloc(nb);
    CHECK(wm_session_state_save(sg, blob, nb, &err) == WM_OK);
    uint8_t *o1 = malloc(FPS * fb), *o2 = malloc(FPS * fb);
    wm_camera_state cs;
    wm_pose p0, ps[FPS];
    for (int r = 0; r < 2; r++) {
        if (r) CHECK_MSG(wm_session_state_load(sg, blob, nb, &err) == WM_OK, "%s", err.msg);
        cam_init(&cs, &p0);
        chunk_poses(&cs, 7, ps);
        CHECK(wm_session_step(sg, ps, r ? o2 : o1, &err) == WM_OK);
    }
    CHECK_MSG(memcmp(o1, o2, FPS * fb) == 0, "CUDA: restore did not reproduce the frames");

    /* constant device + host memory from chunk 3 to chunk 10 */
    wm_backend *probe = NULL;
    size_t u3 = 0, u10 = 0, total = 0;
    CHECK(wm_backend_create(WM_BACKEND_CUDA, NULL, &probe, &err) == WM_OK);
    CHECK(rollout(sg, 3, &g));
    wm_session_chunk_info i3, i10;
    wm_session_chunk(sg, &i3);
    struct mallinfo2 h3 = mallinfo2();
    if (probe && wm__cuda_mem_info) CHECK(wm__cuda_mem_info(probe, &u3, &total) == WM_OK);
    for (int k = NCH; k < 11; k++) {
        chunk_poses(&cs, k, ps);
        CHECK(wm_session_step(sg, ps, o1, &err) == WM_OK);
    }
    if (probe && wm__cuda_mem_info) CHECK(wm__cuda_mem_info(probe, &u10, &total) == WM_OK);
    struct mallinfo2 h10 = mallinfo2();
    wm_session_chunk(sg, &i10);
    printf("device memory in use: %.1f MiB after chunk %d, %.1f MiB after chunk 10; session resident %.1f MiB\n",
           u3 / 1048576.0, NCH - 1, u10 / 1048576.0, i10.resident_bytes / 1048576.0);
    CHECK_MSG(u10 <= u3, "device memory grew: %zu -> %zu bytes", u3, u10);
    CHECK_MSG(h10.uordblks + h10.hblkhd <= h3.uordblks + h3.hblkhd, "heap grew: %zu -> %zu bytes",
              h3.uordblks + h3.hblkhd, h10.uordblks + h10.hblkhd);
    CHECK(i3.dit_arena_peak == i10.dit_arena_peak && i3.resident_bytes == i10.resident_bytes);
    wm_backend_free(probe);
    free(blob), free(o1), free(o2);
    free(c.frames), free(c.latents), free(g.frames), free(g.latents), free(g2.frames), free(g2.latents);
    wm_session_free(sc), wm_session_free(sg);
}

int main(void)
{
    wm_error err = {0};
    wm_backend *probe = NULL;
    if (wm_backend_create(WM_BACKEND_CUDA, NULL, &probe, &err) != WM_OK) {
        printf("skipped: no CUDA backend (%s)\n", err.msg);
        return 77;
    }
    wm_backend_free(probe);
    snprintf(dir, sizeof dir, "/tmp/wm_session_cuda_%d", (int)getpid());
    CHECK(synth_model_write(dir, 1, 1234));
    wm_model *mc = load(WM_MODEL_CPU, &err);
    CHECK_MSG(mc != NULL, "cpu load: %s", err.msg);
    wm_model *mg = load(WM_MODEL_CUDA, &err);
    CHECK_MSG(mg != NULL, "cuda load: %s", err.msg);
    if (mg) CHECK(!strcmp(wm_model_backend_name(mg), "cuda"));
    if (mc && mg) test_agreement_and_state(mc, mg);
    wm_model_free(mc), wm_model_free(mg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    TEST_MAIN_END();
}
