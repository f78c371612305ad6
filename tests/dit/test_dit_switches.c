/* Version switches of wm_dit_config in combination against the reference (tests/golden/dit/
 * out_switches.safetensors, made by tools/golden/gen_dit_golden.py from the golden weights/inputs; the
 * one-switch-at-a-time outputs of the same file are checked by test_dit_golden):
 *   A  post_ucpe_renorm = 1 with softmax scales 1/sqrt(128) (first release, bidirectional)
 *   B  teacher_chunk_mask = 0 (#404 chunk-causal teacher: unmasked softmax)
 *   C  cam_conv_cache = 0 (June-release streaming camera conv), whole streaming sampler
 * Each output differs from the newest-default golden output by design; here it must match the reference
 * run with the same switch. */
#include "dit_golden.h"
#include "wm/dit/sampler.h"

static wm_backend *be;

static int forward_v(const wm_dit_config *cfg, const wm_checkpoint *wck, const wm_checkpoint *in, wm_dit_variant var,
                     int T, float *v)
{
    wm_error err = {0};
    wm_dit_weights *w = NULL;
    if (wm_dit_weights_load(wck, cfg, &w, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 0; }
    float *x = g_read(in, "x", NULL), *ts = g_read(in, "timestep", NULL), *y = g_read(in, "y", NULL);
    float *mk = g_read(in, "mask", NULL), *cam = g_read(in, "camera_conditions", NULL);
    float *plk = g_read(in, "chunk_plucker", NULL);
    uint8_t m[64];
    for (int i = 0; i < cfg->caption_length; i++) m[i] = mk[i] != 0;
    wm_dit_inputs inp = {x, ts, y, m, cfg->caption_length, cam, plk, T};
    wm_dit_run run = {0};
    run.variant = var;
    size_t bytes = 0;
    wm_arena ar = {0};
    int ok = wm_dit_plan(be, w, &run, T, cfg->caption_length, &bytes) == WM_OK &&
             wm_arena_init(&ar, NULL, bytes) == WM_OK && wm_dit_forward(be, w, &run, &inp, &ar, v) == WM_OK;
    wm_arena_free(&ar);
    wm_dit_weights_free(w);
    free(x), free(ts), free(y), free(mk), free(cam), free(plk);
    return ok;
}

static int streaming(const wm_dit_config *cfg, const wm_checkpoint *wck, const wm_checkpoint *in, float *x, int T)
{
    wm_error err = {0};
    wm_dit_weights *w = NULL;
    if (wm_dit_weights_load(wck, cfg, &w, &err) != WM_OK) return 0;
    int S = cfg->latent_h * cfg->latent_w;
    float *noise = g_read(in, "stream.noise", NULL), *z0 = g_read(in, "stream.z0", NULL);
    float *y = g_read(in, "stream.y", NULL), *mk = g_read(in, "stream.mask", NULL);
    float *cam = g_read(in, "stream.camera_conditions", NULL), *plk = g_read(in, "stream.chunk_plucker", NULL);
    memcpy(x, noise, (size_t)cfg->in_channels * T * S * 4);
    for (int c = 0; c < cfg->in_channels; c++) memcpy(x + (size_t)c * T * S, z0 + (size_t)c * S, (size_t)S * 4);
    uint8_t m[64];
    for (int i = 0; i < cfg->caption_length; i++) m[i] = mk[i] != 0;
    wm_dit_cond cond = {y, NULL, m, NULL, cfg->caption_length, cam, plk, 1.0f};
    wm_dit_stream *st = NULL;
    int ok = wm_dit_stream_create(cfg, 1 + cfg->chunk_size, cfg->chunk_size, &st) == WM_OK &&
             wm_dit_sample_streaming(be, w, st, x, T, &cond, NULL, 0, NULL) == WM_OK;
    wm_dit_stream_free(st);
    wm_dit_weights_free(w);
    free(noise), free(z0), free(y), free(mk), free(cam), free(plk);
    return ok;
}

int main(void)
{
    wm_dit_config cfg;
    int T = 0, Ts = 0;
    if (g_load_config(&cfg, &T, &Ts)) { printf("golden files absent: skipped\n"); return 77; }
    wm_checkpoint *ref = NULL, *wck = g_open("weights.safetensors"), *in = g_open("inputs.safetensors");
    wm_error err = {0};
    if (wm_checkpoint_open("tests/golden/dit/out_switches.safetensors", &ref, &err) != WM_OK || !wck || !in) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) return 1;
    int S = cfg.latent_h * cfg.latent_w;
    float *v = malloc((size_t)cfg.out_channels * Ts * S * 4);
    int64_t n = 0;
    float *r;
    wm_dit_config a = cfg;
    a.post_ucpe_renorm = 1, a.softmax_scale_main = 1.0f / sqrtf(128.0f), a.softmax_scale_cam = 1.0f / sqrtf(128.0f);
    CHECK(forward_v(&a, wck, in, WM_DIT_BIDIRECTIONAL, T, v));
    r = g_read(ref, "first_release.bidirectional.v", &n);
    CHECK(r && g_close("A: post-UCPE renorm + 1/sqrt(128), bidirectional v", v, r, n));
    free(r);
    wm_dit_config b = cfg;
    b.teacher_chunk_mask = 0;
    CHECK(forward_v(&b, wck, in, WM_DIT_CHUNK_CAUSAL, T, v));
    r = g_read(ref, "nomask.chunk_causal.v", &n);
    CHECK(r && g_close("B: teacher without chunk mask, v", v, r, n));
    free(r);
    wm_dit_config c = cfg;
    c.cam_conv_cache = 0;
    CHECK(streaming(&c, wck, in, v, Ts));
    r = g_read(ref, "uncached_cam_conv.latents", &n);
    CHECK(r && g_close("C: streaming, uncached camera conv, latents", v, r, n));
    free(r);
    free(v);
    wm_backend_free(be);
    wm_checkpoint_close(ref), wm_checkpoint_close(wck), wm_checkpoint_close(in);
    TEST_MAIN_END();
}
