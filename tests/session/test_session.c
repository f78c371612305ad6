/* The SANA-WM pipeline on a tiny random-weight checkpoint set (synth_model.h), 128 x 192 frames
 * (latent 4 x 6), through wm/session directly and through the world API (WM_SOURCE_MODEL):
 *   - frame accounting: reset -> 1 frame (the cover-cropped start image), each step -> 24 frames;
 *   - chunk 0's frames = a direct causal VAE decode of its latents, uint8-truncated, first pixel dropped;
 *   - no drift: chunk 0 and chunk 1 latents equal wm/dit's streaming sampler run directly over the same
 *     noise, prompt and camera tensors (bit for bit), and the session's camera window equals the DiT's
 *     camera preprocessing of the whole pose history;
 *   - determinism: same seed -> identical frames (fresh session), other seed -> different frames;
 *   - snapshot/restore (session blob and world snapshots, also into a second world) -> identical frames;
 *   - checkpoint layouts (dit/, ltx2_causal_vae/, explicit VAE path, missing VAE);
 *   - constant memory: DiT arena high-water mark, session bytes and the process heap in use (mallinfo2)
 *     equal after chunk 3 and chunk 10.
 */
#include "rollout_poses.h"
#include "synth_model.h"

#include "input/camera.h"
#include "wm/core/backend.h"
#include "wm/dit/camera.h"
#include "wm/dit/sampler.h"
#include "wm/session/session.h"
#include "wm/vae/vae.h"
#include "wm/world/image.h"

#include <malloc.h>

#define H 64
#define W 96
#define FPS 24

static char dir[64];
static wm_camera_state g_cs; /* camera of the last rollout, to continue it */

static void chunk_poses(wm_camera_state *cs, int chunk, wm_pose *out) { rollout_chunk_poses(cs, chunk, FPS, out); }
static void cam_init(wm_camera_state *cs, wm_pose *pose0) { rollout_cam_init(cs, W, H, pose0); }

/* Roll out n_chunks; frames (1 + 24 n) * H * W * 3 into out (may be NULL); poses of all frames to hist. */
static int rollout(wm_session *s, uint64_t seed, int n_chunks, uint8_t *out, wm_pose *hist)
{
    wm_error err = {0};
    static uint8_t buf[FPS * H * W * 3];
    int ih = 100, iw = 170;
    uint8_t *img = synth_image(ih, iw);
    wm_camera_state *cs = &g_cs;
    cam_init(cs, &hist[0]);
    int ok = wm_session_reset(s, img, ih, iw, &hist[0], seed, buf, &err) == WM_OK;
    free(img);
    if (!ok) { fprintf(stderr, "reset: %s\n", err.msg); return 0; }
    if (out) memcpy(out, buf, (size_t)H * W * 3);
    for (int c = 0; c < n_chunks; c++) {
        chunk_poses(cs, c, &hist[1 + c * FPS]);
        if (wm_session_step(s, &hist[1 + c * FPS], buf, &err) != WM_OK) { fprintf(stderr, "step %d: %s\n", c, err.msg); return 0; }
        if (out) memcpy(out + (size_t)(1 + c * FPS) * H * W * 3, buf, (size_t)FPS * H * W * 3);
    }
    return 1;
}

/* Chunk 0's latents through a separately loaded causal VAE decoder (one call, 4 latent -> 25 pixel
 * frames), uint8 by clamp(127.5 x + 127.5) with truncation, pixel frame 0 dropped = the step's frames. */
static void check_decode(const float *lat, const uint8_t *frames)
{
    char vdir[96];
    snprintf(vdir, sizeof vdir, "%s/vae", dir);
    wm_backend *be = NULL;
    wm_vae *vae = NULL;
    wm_vae_decoder *d = NULL;
    wm_error err = {0};
    CHECK(wm_backend_create(WM_BACKEND_CPU, NULL, &be, &err) == WM_OK);
    CHECK(be && wm_vae_load(vdir, be, NULL, &vae, &err) == WM_OK);
    wm_vae_decoder_params dp = {0};
    dp.lat_h = H / 32, dp.lat_w = W / 32, dp.max_frames = 4;
    CHECK(vae && wm_vae_decoder_create(vae, &dp, &d, &err) == WM_OK);
    float *pix = malloc((size_t)3 * 25 * H * W * 4);
    wm_tensor z = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, (void *)lat, 4, 16, 4, H / 32, W / 32);
    wm_tensor px = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, pix, 4, 3, 25, H, W);
    CHECK(d && wm_vae_decoder_decode(d, &z, &px, &err) == WM_OK);
    size_t plane = (size_t)H * W, bad = 0;
    for (int t = 1; t < 25; t++)
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) {
                float v = 127.5f * pix[(size_t)c * 25 * plane + t * plane + p] + 127.5f;
                uint8_t u = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                bad += u != frames[((size_t)(t - 1) * plane + p) * 3 + c];
            }
    CHECK_MSG(bad == 0, "chunk 0 frames differ from a direct VAE decode in %zu values", bad);
    free(pix);
    wm_vae_decoder_free(d);
    wm_vae_free(vae);
    wm_backend_free(be);
}

/* Session chunks 0 and 1 against wm_dit_sample_streaming over T = 7 latent frames. */
static void test_no_drift(wm_model *m, wm_session *s)
{
    const wm_dit_config *c = wm_model_dit_config(m);
    int Ci = c->in_channels, S = c->latent_h * c->latent_w, T = 7, nraw = 1 + 2 * FPS;
    static wm_pose hist[1 + 2 * FPS];
    static uint8_t buf[FPS * H * W * 3];
    wm_error err = {0};
    wm_camera_state cs;
    cam_init(&cs, &hist[0]);
    uint8_t *img = synth_image(100, 170);
    CHECK(wm_session_reset(s, img, 100, 170, &hist[0], 11, buf, &err) == WM_OK);
    free(img);
    chunk_poses(&cs, 0, &hist[1]);
    CHECK(wm_session_step(s, &hist[1], buf, &err) == WM_OK);
    wm_session_chunk_info i0;
    wm_session_chunk(s, &i0);
    float *x = malloc((size_t)Ci * T * S * 4), *lat0 = malloc((size_t)Ci * 4 * S * 4), *cam = malloc((size_t)T * 80);
    float *plk = malloc((size_t)c->plucker_channels * T * S * 4), *c2w = malloc((size_t)nraw * 64), *intr = malloc((size_t)nraw * 16);
    float *nz = malloc((size_t)Ci * 4 * S * 4);
    memcpy(lat0, i0.latent, (size_t)Ci * 4 * S * 4);
    CHECK(i0.index == 0 && i0.n_frames == 4 && i0.frame0 == 0);
    check_decode(lat0, buf);
    chunk_poses(&cs, 1, &hist[1 + FPS]);
    CHECK(wm_session_step(s, &hist[1 + FPS], buf, &err) == WM_OK);
    wm_session_chunk_info i1;
    wm_session_chunk(s, &i1);
    CHECK(i1.index == 1 && i1.n_frames == 3 && i1.frame0 == 4);
    /* camera tensors of the whole history vs the session's per-chunk windows */
    for (int i = 0; i < nraw; i++) {
        memcpy(c2w + i * 16, hist[i].c2w, 64);
        intr[i * 4] = hist[i].fx, intr[i * 4 + 1] = hist[i].fy, intr[i * 4 + 2] = hist[i].cx, intr[i * 4 + 3] = hist[i].cy;
    }
    CHECK(wm_dit_camera_from_raw(c2w, intr, nraw, H, W, c->latent_h, c->latent_w, c->vae_stride_t, T, cam, plk) == WM_OK);
    CHECK(memcmp(i1.cam, cam + 4 * 20, 3 * 80) == 0);
    int plk_same = 1;
    for (int ch = 0; ch < c->plucker_channels; ch++)
        plk_same &= memcmp(i1.plucker + (size_t)ch * 3 * S, plk + ((size_t)ch * T + 4) * S, (size_t)3 * S * 4) == 0;
    CHECK_MSG(plk_same, "chunk 1 Plücker differs from the whole-history computation");
    /* noise: chunk 0 (frame 0 = z0) and chunk 1 from the counter RNG, as the session drew them */
    wm_session_noise(11, 0, Ci, 4, S, nz);
    for (int ch = 0; ch < Ci; ch++) {
        memcpy(x + (size_t)ch * T * S, nz + (size_t)ch * 4 * S, (size_t)4 * S * 4);
        memcpy(x + (size_t)ch * T * S, i1.z0 + (size_t)ch * S, (size_t)S * 4);
    }
    wm_session_noise(11, 1, Ci, 3, S, nz);
    CHECK(memcmp(nz, i1.noise, (size_t)Ci * 3 * S * 4) == 0);
    for (int ch = 0; ch < Ci; ch++) memcpy(x + ((size_t)ch * T + 4) * S, nz + (size_t)ch * 3 * S, (size_t)3 * S * 4);
    /* wm/dit's whole-video streaming sampler on the same weights */
    wm_dit_stream *st = NULL;
    CHECK(wm_dit_stream_create(c, 4, 3, &st) == WM_OK);
    wm_dit_cond cond = {i1.y, NULL, i1.mask, NULL, i1.L, cam, plk, 1.0f};
    wm_backend *be = NULL;
    CHECK(wm_backend_create(WM_BACKEND_CPU, NULL, &be, &err) == WM_OK);
    CHECK(wm_dit_sample_streaming(be, wm_model_dit_weights(m), st, x, T, &cond, NULL, 0, NULL) == WM_OK);
    int same0 = 1, same1 = 1;
    for (int ch = 0; ch < Ci; ch++) {
        same0 &= memcmp(x + (size_t)ch * T * S, lat0 + (size_t)ch * 4 * S, (size_t)4 * S * 4) == 0;
        same1 &= memcmp(x + ((size_t)ch * T + 4) * S, i1.latent + (size_t)ch * 3 * S, (size_t)3 * S * 4) == 0;
    }
    CHECK_MSG(same0, "chunk 0 latents differ from wm_dit_sample_streaming");
    CHECK_MSG(same1, "chunk 1 latents differ from wm_dit_sample_streaming");
    wm_dit_stream_free(st);
    wm_backend_free(be);
    free(x), free(lat0), free(cam), free(plk), free(c2w), free(intr), free(nz);
}

static void test_session(void)
{
    wm_model_params mp = {0};
    mp.path = dir, mp.height = H, mp.width = W, mp.n_threads = 2;
    wm_model *m = NULL;
    wm_error err = {0};
    CHECK_MSG(wm_model_load(&mp, &m, &err) == WM_OK, "load: %s", err.msg);
    if (!m) return;
    CHECK(wm_model_has_text(m));
    wm_session *a = NULL, *b = NULL;
    CHECK(wm_session_create(m, &a, &err) == WM_OK && wm_session_create(m, &b, &err) == WM_OK);
    CHECK(wm_session_frames_per_step(a) == FPS);
    CHECK_MSG(wm_session_set_prompt(a, "a quiet forest path", &err) == WM_OK, "prompt: %s", err.msg);
    CHECK(wm_session_set_prompt(b, "a quiet forest path", &err) == WM_OK);
    test_no_drift(m, a);

    enum { NC = 2 };
    size_t fb = (size_t)H * W * 3, total = (1 + NC * FPS) * fb;
    uint8_t *f1 = malloc(total), *f2 = malloc(total), *f3 = malloc(total);
    static wm_pose hist[1 + 10 * FPS];
    CHECK(rollout(a, 5, NC, f1, hist) && rollout(b, 5, NC, f2, hist));
    CHECK_MSG(memcmp(f1, f2, total) == 0, "same seed, different frames");
    CHECK(rollout(b, 6, NC, f3, hist));
    CHECK_MSG(memcmp(f1 + fb, f3 + fb, total - fb) != 0, "different seeds, same frames");
    CHECK_MSG(memcmp(f1, f3, fb) == 0, "frame 0 must be the start image");
    int varied = 0;
    for (size_t i = fb; i < total; i++) varied |= f1[i] != f1[i - 1];
    CHECK(varied);

    /* snapshot after chunk 2, continue, restore, continue again (also into session b) */
    CHECK(rollout(a, 9, 2, NULL, hist));
    size_t nb = wm_session_state_bytes(a);
    CHECK(nb > 0);
    void *blob = malloc(nb);
    CHECK(wm_session_state_save(a, blob, nb, &err) == WM_OK);
    wm_camera_state cs;
    wm_pose p0, ps[FPS];
    uint8_t *o1 = malloc(FPS * fb), *o2 = malloc(FPS * fb), *o3 = malloc(FPS * fb);
    uint8_t *outs[3] = {o1, o2, o3};
    for (int r = 0; r < 3; r++) {
        wm_session *s = r == 2 ? b : a;
        if (r) CHECK(wm_session_state_load(s, blob, nb, &err) == WM_OK);
        cam_init(&cs, &p0);
        chunk_poses(&cs, 7, ps);
        CHECK(wm_session_step(s, ps, outs[r], &err) == WM_OK);
    }
    CHECK_MSG(memcmp(o1, o2, FPS * fb) == 0, "restore did not reproduce the frames");
    CHECK_MSG(memcmp(o1, o3, FPS * fb) == 0, "restore into another session did not reproduce the frames");
    CHECK(wm_session_state_load(a, blob, nb - 1, &err) == WM_ERR_INVALID_ARG);

    /* constant memory over 10 chunks */
    wm_session_chunk_info i3, i10;
    CHECK(rollout(a, 3, 3, NULL, hist));
    wm_session_chunk(a, &i3);
    uint8_t *fr = malloc(FPS * fb);
    struct mallinfo2 h3 = mallinfo2();
    for (int c = 3; c < 10; c++) {
        chunk_poses(&g_cs, c, ps);
        CHECK(wm_session_step(a, ps, fr, &err) == WM_OK);
    }
    struct mallinfo2 h10 = mallinfo2();
    free(fr);
    wm_session_chunk(a, &i10);
    CHECK_MSG(h10.uordblks + h10.hblkhd <= h3.uordblks + h3.hblkhd, "heap grew from chunk 3 to 10: %zu -> %zu bytes",
              h3.uordblks + h3.hblkhd, h10.uordblks + h10.hblkhd);
    CHECK(i10.index == 9 && i3.dit_arena_peak > 0);
    CHECK_MSG(i3.dit_arena_peak == i10.dit_arena_peak && i3.resident_bytes == i10.resident_bytes,
              "memory grew: arena peak %zu -> %zu, resident %zu -> %zu", i3.dit_arena_peak, i10.dit_arena_peak,
              i3.resident_bytes, i10.resident_bytes);
    printf("session: resident %.1f MiB, DiT arena peak %.1f MiB, state blob %.1f MiB\n", i10.resident_bytes / 1048576.0,
           i10.dit_arena_peak / 1048576.0, nb / 1048576.0);
    free(blob), free(o1), free(o2), free(o3), free(f1), free(f2), free(f3);
    wm_session_free(a);
    wm_session_free(b);
    wm_model_free(m);
}

static void test_world(void)
{
    char img[128];
    snprintf(img, sizeof img, "%s/start.ppm", dir);
    uint8_t *im = synth_image(90, 160);
    wm_error err = {0};
    CHECK(wm_image_write(img, 160, 90, im, &err) == WM_OK);
    free(im);
    wm_world_params p = wm_world_default_params();
    p.source = WM_SOURCE_MODEL, p.model_path = dir, p.width = W, p.height = H, p.n_threads = 2;
    p.prompt = "a quiet forest path";
    wm_world *w = NULL, *w2 = NULL;
    CHECK(wm_world_open(&p, &w) == WM_OK && wm_world_open(&p, &w2) == WM_OK);
    if (!w || !w2) { wm_world_free(w); wm_world_free(w2); return; }
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = 4, rp.image_path = img;
    wm_frames f;
    CHECK_MSG(wm_world_reset(w, &rp, &f) == WM_OK, "reset: %s", wm_world_last_error(w));
    CHECK(f.n == 1 && f.width == W && f.height == H && f.first_frame == 0);
    wm_action a = {0};
    a.keys = WM_KEY_FORWARD, a.n_frames = 10;
    CHECK_MSG(wm_world_step_actions(w, &a, 1, &f) == WM_OK, "step: %s", wm_world_last_error(w));
    CHECK(f.n == FPS && f.first_frame == 1 && f.chunk_index == 1);
    wm_snapshot *snap = NULL;
    CHECK(wm_world_snapshot(w, &snap) == WM_OK);
    size_t cb = (size_t)FPS * H * W * 3;
    uint8_t *r1 = malloc(cb), *r2 = malloc(cb), *r3 = malloc(cb);
    a.keys = WM_KEY_YAW_RIGHT;
    CHECK(wm_world_step_actions(w, &a, 1, &f) == WM_OK && f.first_frame == 25);
    memcpy(r1, f.rgb, cb);
    CHECK(wm_world_restore(w, snap) == WM_OK);
    CHECK(wm_world_step_actions(w, &a, 1, &f) == WM_OK && f.first_frame == 25);
    memcpy(r2, f.rgb, cb);
    CHECK(wm_world_restore(w2, snap) == WM_OK);
    CHECK(wm_world_step_actions(w2, &a, 1, &f) == WM_OK && f.first_frame == 25);
    memcpy(r3, f.rgb, cb);
    CHECK_MSG(memcmp(r1, r2, cb) == 0 && memcmp(r1, r3, cb) == 0, "world restore did not reproduce the frames");
    wm_pose ps[FPS];
    CHECK(wm_world_step_poses(w, ps, 3, &f) == WM_ERR_INVALID_ARG);
    rp.image_path = NULL;
    CHECK(wm_world_reset(w, &rp, &f) == WM_ERR_INVALID_ARG);
    wm_snapshot_free(snap);
    free(r1), free(r2), free(r3);
    wm_world_free(w);
    wm_world_free(w2);
    /* bad model paths fail to open with a message, no crash */
    p.model_path = "/nonexistent/model";
    CHECK(wm_world_open(&p, &w) != WM_OK && w == NULL);
    p.model_path = dir, p.width = 200;
    CHECK(wm_world_open(&p, &w) == WM_ERR_INVALID_ARG && w == NULL);
}

/* Checkpoint layouts: DiT in dit/, VAE in ltx2_causal_vae/ (the streaming repo's name), no text encoder
 * (no_text); a missing VAE folder fails with a message naming it. Run last: it moves the files. */
static void test_layouts(void)
{
    char a[160], b[160];
    snprintf(a, sizeof a, "%s/dit", dir);
    CHECK(mkdir(a, 0755) == 0);
    snprintf(a, sizeof a, "%s/model.safetensors", dir), snprintf(b, sizeof b, "%s/dit/model.safetensors", dir);
    CHECK(rename(a, b) == 0);
    snprintf(a, sizeof a, "%s/vae", dir), snprintf(b, sizeof b, "%s/ltx2_causal_vae", dir);
    CHECK(rename(a, b) == 0);
    wm_model_params mp = {0};
    mp.path = dir, mp.height = H, mp.width = W, mp.n_threads = 1, mp.no_text = 1;
    wm_model *m = NULL;
    wm_error err = {0};
    CHECK_MSG(wm_model_load(&mp, &m, &err) == WM_OK, "dit/ + ltx2_causal_vae/: %s", err.msg);
    CHECK(m && !wm_model_has_text(m) && !strcmp(wm_model_backend_name(m), "cpu"));
    wm_model_free(m);
    m = NULL;
    snprintf(a, sizeof a, "%s/ltx2_causal_vae", dir), snprintf(b, sizeof b, "%s/vae_moved", dir);
    CHECK(rename(a, b) == 0);
    CHECK(wm_model_load(&mp, &m, &err) == WM_ERR_NOT_FOUND && m == NULL && strstr(err.msg, "VAE"));
    mp.vae_path = b; /* explicit VAE folder */
    CHECK(wm_model_load(&mp, &m, &err) == WM_OK);
    wm_model_free(m);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/wm_session_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    if (!synth_model_write(dir, 1, 20261123)) { fprintf(stderr, "cannot write the synthetic model\n"); return 1; }
    test_session();
    test_world();
    test_layouts();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    TEST_MAIN_END();
}
