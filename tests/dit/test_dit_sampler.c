/* Samplers (spec §5) against the reference: sigma/timestep tables (bidirectional shift 9.8 x 60 steps,
 * distilled list), the float32 timestep arithmetic and its .long() truncation, chunk boundaries and the
 * teacher's start steps for T = 121, the per-token Euler step sizes, and two small CFG sampler runs
 * (bidirectional 4 steps, chunk-causal teacher 4 steps with interval_k 1/2) step by step. */
#include "dit_golden.h"
#include "wm/dit/sampler.h"

static void test_tables(const wm_checkpoint *sm)
{
    float sig[61], ts[60];
    wm_dit_sigmas_shifted(60, 9.8, sig, ts);
    int64_t n;
    float *r = g_read(sm, "bidir.sigmas", &n);
    CHECK(r && n == 61 && !memcmp(r, sig, sizeof sig)); /* bit-exact float32 */
    free(r);
    r = g_read(sm, "bidir.timesteps", &n);
    CHECK(r && n == 60 && !memcmp(r, ts, sizeof ts));
    free(r);
    r = g_read(sm, "bidir.timesteps_long", &n);
    int same = r && n == 60;
    for (int i = 0; same && i < 60; i++) same = (float)(int64_t)ts[i] == r[i];
    CHECK_MSG(same, "truncated timesteps differ");
    printf("bidir: sigma[1] %.5f t[1] %.2f -> %lld, t[59] %.2f -> %lld\n", sig[1], ts[1], (long long)ts[1], ts[59],
           (long long)ts[59]);
    free(r);
    /* spec §5.2 values */
    CHECK(fabsf(sig[1] - 0.99826f) < 1e-5f && fabsf(sig[58] - 0.21058f) < 1e-5f && fabsf(sig[59] - 0.08770f) < 1e-5f);
    CHECK((int64_t)ts[1] == 998 && (int64_t)ts[59] == 87);
    int tl[4] = {1000, 960, 889, 727};
    float ds[5], dts[4];
    wm_dit_sigmas_distilled(tl, 4, ds, dts);
    r = g_read(sm, "distilled.sigmas", &n);
    CHECK(r && n == 5 && !memcmp(r, ds, sizeof ds));
    free(r);
    r = g_read(sm, "distilled.timesteps", &n);
    CHECK(r && n == 4 && !memcmp(r, dts, sizeof dts));
    free(r);
    for (int i = 0; i < 4; i++) CHECK((int64_t)dts[i] == tl[i]); /* float32 product: no 959/888/726 */
    int b[64], bs[64], starts[64];
    int nc = wm_dit_chunk_bounds(121, 3, b, 63), ns = wm_dit_stream_bounds(121, 3, bs, 63);
    r = g_read(sm, "teacher.T121.chunk_starts", &n);
    CHECK(r && nc == 40 && n == 41 && ns == 40);
    for (int i = 0; r && i <= nc; i++) CHECK(b[i] == (int)r[i] && bs[i] == b[i]);
    free(r);
    int total = wm_dit_teacher_starts(40, 60, 0, starts);
    r = g_read(sm, "teacher.T121.start_steps", &n);
    for (int i = 0; r && i < 40; i++) CHECK(starts[i] == (int)r[i]);
    free(r);
    r = g_read(sm, "teacher.T121.total_steps", &n);
    CHECK(r && total == (int)r[0] && total == 118);
    free(r);
    /* per-frame step sizes: frame 0 (t = 0) stays, others go to the next lower sigma */
    float t3[3] = {0.0f, ts[0], ts[59]}, dt[3];
    wm_dit_euler_dt(t3, 3, sig, 61, dt);
    CHECK(dt[0] == 0.0f && dt[1] == sig[1] - sig[0] && dt[2] == 0.0f - sig[59]);
}

static void test_runs(wm_backend *be, const wm_dit_config *cfg, const wm_dit_weights *w, const wm_checkpoint *in,
                      const wm_checkpoint *rr, int T)
{
    int S = cfg->latent_h * cfg->latent_w;
    float *x = g_read(in, "x", NULL), *y = g_read(in, "y", NULL), *yu = g_read(in, "y_uncond", NULL);
    float *mk = g_read(in, "mask", NULL), *mku = g_read(in, "mask_uncond", NULL);
    float *cam = g_read(in, "camera_conditions", NULL), *plk = g_read(in, "chunk_plucker", NULL);
    uint8_t m[64], mu[64];
    for (int i = 0; i < cfg->caption_length; i++) m[i] = mk[i] != 0, mu[i] = mku[i] != 0;
    wm_dit_cond c = {y, yu, m, mu, cfg->caption_length, cam, plk, 5.0f};
    size_t nx = (size_t)cfg->in_channels * T * S;
    float *xb = malloc(nx * 4);
    g_rec rec = {0};
    wm_dit_sampler_cb cb = {g_record, &rec, 0, NULL, NULL};
    memcpy(xb, x, nx * 4);
    CHECK(wm_dit_sample_bidirectional(be, w, xb, T, &c, 4, 9.8, &cb) == WM_OK);
    char a[64], b[64];
    for (int k = 0; k < 4; k++) {
        snprintf(a, sizeof a, "step%d.v", k);
        snprintf(b, sizeof b, "bidir.step%d.v", k);
        CHECK(g_check(&rec, a, rr, b, 0));
    }
    int64_t n;
    float *ref = g_read(rr, "bidir.latents", &n);
    CHECK(ref && n == (int64_t)nx && g_close("bidir.latents", xb, ref, n));
    free(ref);
    g_rec_clear(&rec);
    memcpy(xb, x, nx * 4);
    CHECK(wm_dit_sample_teacher(be, w, xb, T, &c, 4, 9.8, 0.5, &cb) == WM_OK);
    for (int g = 0; g < 6; g++) {
        const char *nm[3] = {"x_in", "timestep", "v"};
        for (int j = 0; j < 3; j++) {
            snprintf(a, sizeof a, "step%d.%s", g, nm[j]);
            snprintf(b, sizeof b, "teacher.step%d.%s", g, nm[j]);
            CHECK(g_check(&rec, a, rr, b, 0));
        }
    }
    CHECK(g_find(&rec, "step6.v") == NULL); /* exactly 6 global steps */
    ref = g_read(rr, "teacher.latents", &n);
    CHECK(ref && n == (int64_t)nx && g_close("teacher.latents", xb, ref, n));
    free(ref);
    g_rec_clear(&rec);
    free(x), free(y), free(yu), free(mk), free(mku), free(cam), free(plk), free(xb);
}

int main(void)
{
    wm_dit_config cfg;
    int T = 0;
    if (g_load_config(&cfg, &T, NULL)) { printf("golden files absent: skipped\n"); return 77; }
    wm_checkpoint *sm = g_open("samplers.safetensors");
    if (!sm) return 1;
    test_tables(sm);
    wm_checkpoint_close(sm);
    wm_checkpoint *rr = g_open("sampler_runs.safetensors"), *wck = g_open("weights.safetensors");
    wm_checkpoint *in = g_open("inputs.safetensors");
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_backend *be = NULL;
    wm_error err = {0};
    wm_dit_weights *w = NULL;
    if (rr && wck && in && wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) == WM_OK &&
        wm_dit_weights_load(wck, &cfg, &w, &err) == WM_OK)
        test_runs(be, &cfg, w, in, rr, T);
    else
        CHECK_MSG(0, "sampler runs: %s", err.msg);
    wm_dit_weights_free(w);
    wm_backend_free(be);
    wm_checkpoint_close(rr), wm_checkpoint_close(wck), wm_checkpoint_close(in);
    TEST_MAIN_END();
}
