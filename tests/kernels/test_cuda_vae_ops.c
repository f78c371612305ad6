/* Parity of the VAE CUDA ops (kernels/ops_vae.def) against the fp32 CPU references (label gpu).
 *
 * vae_conv3d: odd small shapes (Co not a multiple of the 64-channel tile, positions not a multiple of the
 * 128-position tile, K not a multiple of 8 or 32), causal with and without the `left` cache, non-causal,
 * zeros and reflect padding, 1x1x1, bf16 and fp32 tensors, plus one decoder-sized layer (128 -> 128
 * channels, 3 frames at 44x80); both block tiles (64 channels for Co <= 64, 128 above). Inputs are
 * rounded to bf16 before both sides see them, because the CUDA conv feeds bf16 tensor cores: then only
 * the summation order (and the tensor cores' accumulation) differs, and fp32 outputs must agree to 1e-3
 * (elementwise, relative, with 1e-3 of the output RMS as floor; rel-L2 1e-4; expected ~1e-6, while an
 * indexing error is O(1)). bf16 outputs 1e-2.
 * fp32 x with fp32 w and y takes the true-fp32 kernel: 1e-5 elementwise, rel-L2 1e-5 (fp32 rounding
 * only; the old code rounded to bf16 here). Streaming: a conv over 2 + 3 frames with cache pushes
 * between chunks must equal the whole 5-frame conv BIT FOR BIT (the fixed-order-sum property docs/vae.md
 * relies on) on the op's kernels.
 * The conv engine (kernels/cuda/vae_conv.h) is tested on every case too, on its cuDNN path (channels-last
 * pack + cudnnConvolutionForward + unpack; skipped with a message when cuDNN is not built in or does not
 * load) and its old path; cuDNN rounds its result to bf16 before the bias add, so its fp32 outputs are
 * held to the bf16 tolerances (1e-2 elementwise + 1e-2 of the RMS, rel-L2 5e-3; an indexing error is
 * O(1)). Extra engine cases at real channel counts (512 -> 512, 256 -> 1024 upsampler-like, 48 -> 128
 * patchified conv_in, 64 -> 129 encoder conv_out with Co not a multiple of 8) and streaming 2 + 3 with
 * the engine (within bf16 tolerance; bit-exactness printed, cuDNN may pick another algorithm per T).
 * The data-movement ops are exact in fp32 (1e-6) and within bf16 rounding (1e-2) in bf16.
 * Outputs are poisoned (NaN) before every run. Exit 77 without a GPU.
 * Usage: test_cuda_vae_ops [--quick | --bench]  (--bench: conv3d timings at the decoder's level shapes).
 */
#include "cuda_parity.h"
#include "kernels/cuda/vae_conv.h"
/* The conv engine lives in the CUDA library: weak, so a build without CUDA still links (and skips). */
#pragma weak wm__vae_conv3d_engine
#pragma weak wm__vae_conv3d_engine_ex
#pragma weak wm__vae_conv_engine_create
#pragma weak wm__vae_conv_engine_free
#pragma weak wm__vae_conv_engine_name
#pragma weak wm__vae_conv_engine_path
#pragma weak wm__vae_conv_engine_plan
#pragma weak wm__vae_conv_engine_reserve

#include <time.h>

typedef cp_tensor tp;

static cp_ctx C_;
static cp_ctx *c = &C_;

/* Random input (scale >= 0; values rounded to bf16 when round_bf16) or poisoned output (scale < 0). */
static tp mk_r(wm_dtype dt, float scale, int round_bf16, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
               int64_t d4)
{
    int64_t sh[5] = {d0, d1, d2, d3, d4};
    return cp_tensor_make(c, dt, round_bf16 ? WM_BF16 : dt, scale, ndim, sh);
}
#define MK(dt, scale, ...) mk_r(dt, scale, 1, __VA_ARGS__)
#define OUT(dt, ...) mk_r(dt, -1.0f, 0, __VA_ARGS__)
static void upd(tp *t) { cp_tensor_upload(c, t); } /* same values on both sides */
static void rel(tp *t) { cp_tensor_free(c, t); }

/* Elementwise |d| <= tol |ref| + tol * rms(ref), and relative L2 <= l2. */
static void cmp(const char *label, tp *o, float tol, double l2)
{
    size_t n = (size_t)wm_tensor_numel(&o->ht);
    float *got = cp_read(c, &o->dt);
    float rms = cp_rms(o->h, n);
    CHECK(cp_compare(label, got, o->h, n, tol * rms + 1e-6f, tol, l2));
    free(got);
}
#define TOL(dt) ((dt) == WM_BF16 ? 1e-2f : 1e-6f)
#define L2(dt) ((dt) == WM_BF16 ? 5e-3 : 1e-6)

typedef struct {
    int Ci, Co, T, H, W, kt, kh, kw, causal, use_left, reflect;
    wm_dtype x, w, y;
    int round; /* inputs rounded to bf16 (exact on the tensor cores) */
    const char *name;
} conv_case;

/* Engines under test: [0] old path, [1] cuDNN (NULL when unavailable), [2] igemm, [3] best (cuDNN or
 * igemm per shape, whichever ran faster; NULL without cuDNN). */
static wm_vae_conv_engine *eng[4];
static const char *eng_name[4] = {"engine old", "engine cudnn", "engine igemm", "engine best"};

static wm_status conv_run(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *l, const wm_tensor *w,
                          const wm_tensor *b, int causal, int reflect, wm_tensor *y)
{
    if (!e) return wm_vae_conv3d(c->gpu, x, l, w, b, causal, reflect, y);
    WM_ASSERT(wm__vae_conv_engine_plan(e, x, w, causal, y) == WM_OK);
    WM_ASSERT(wm__vae_conv_engine_reserve(e) == WM_OK);
    return wm__vae_conv3d_engine(e, x, l, w, b, causal, reflect, y);
}

static void t_conv(const conv_case *k)
{
    tp x = mk_r(k->x, 1.0f, k->round, 4, k->Ci, k->T, k->H, k->W, 0);
    tp w = mk_r(k->w, 1.0f / sqrtf((float)(k->Ci * k->kt * k->kh * k->kw)), k->round, 5, k->Co, k->Ci, k->kt, k->kh,
                k->kw);
    tp b = mk_r(k->w, 0.5f, k->round, 1, k->Co, 0, 0, 0, 0);
    tp l = mk_r(k->x, 1.0f, k->round, 4, k->Ci, k->kt > 1 ? k->kt - 1 : 1, k->H, k->W, 0);
    tp y = OUT(k->y, 4, k->Co, k->T, k->H, k->W, 0);
    const wm_tensor *lh = k->use_left ? &l.ht : NULL, *ld = k->use_left ? &l.dt : NULL;
    CP_OK(c->cpu, wm_vae_conv3d(c->cpu, &x.ht, lh, &w.ht, &b.ht, k->causal, k->reflect, &y.ht));
    char lab[192];
    int f32 = k->x == WM_F32 && k->w == WM_F32 && k->y == WM_F32, exact = k->round && k->y == WM_F32;
    for (int e = -1; e < 4; e++) { /* the op, then the engine's old, cuDNN, igemm and best paths */
        if (e >= 0 && !eng[e]) continue;
        int cudnn = (e == 1 || e == 3) && k->x == WM_BF16;
        if (e >= 0) { /* fresh poison for each path */
            wm_tensor t = y.dt;
            cp_free(c, &y.dt);
            y.dt = cp_dev(c, t.dtype, NULL, 4, t.shape);
        }
        CP_OK(c->gpu, conv_run(e < 0 ? NULL : eng[e], &x.dt, ld, &w.dt, &b.dt, k->causal, k->reflect, &y.dt));
        snprintf(lab, sizeof lab, "conv3d %s [%s]", k->name, e < 0 ? "op" : eng_name[e]);
        if (f32) cmp(lab, &y, 1e-5f, 1e-5);
        else if (exact && !cudnn) cmp(lab, &y, 1e-3f, 1e-4);
        else cmp(lab, &y, 1e-2f, 5e-3);
    }
    rel(&x); rel(&w); rel(&b); rel(&l); rel(&y);
}

/* Engine post operations on every engine path: WM_VAE_CONV_POST_ACC (y += conv, the fused ResNet
 * residual; reference y0 + conv) and WM_VAE_CONV_POST_RMS_SILU (y = silu(rms_c(conv)); reference the CPU
 * conv then the CPU vae_rmsnorm_silu). */
static void t_conv_post(const conv_case *k, int post)
{
    tp x = mk_r(k->x, 1.0f, 1, 4, k->Ci, k->T, k->H, k->W, 0);
    tp w = mk_r(k->w, 1.0f / sqrtf((float)(k->Ci * 27)), 1, 5, k->Co, k->Ci, 3, 3, 3);
    tp b = mk_r(k->w, 0.5f, 1, 1, k->Co, 0, 0, 0, 0);
    tp l = mk_r(k->x, 1.0f, 1, 4, k->Ci, 2, k->H, k->W, 0);
    tp y = mk_r(k->y, 1.0f, 1, 4, k->Co, k->T, k->H, k->W, 0);
    size_t n = (size_t)wm_tensor_numel(&y.ht);
    float *y0 = malloc(n * sizeof(float));
    memcpy(y0, y.h, n * sizeof(float));
    const wm_tensor *lh = k->use_left ? &l.ht : NULL, *ld = k->use_left ? &l.dt : NULL;
    CP_OK(c->cpu, wm_vae_conv3d(c->cpu, &x.ht, lh, &w.ht, &b.ht, k->causal, k->reflect, &y.ht));
    if (post == WM_VAE_CONV_POST_ACC)
        for (size_t i = 0; i < n; i++) y.h[i] += y0[i]; /* reference: y0 + conv */
    else
        CP_OK(c->cpu, wm_vae_rmsnorm_silu(c->cpu, &y.ht, 1e-6f, 1, &y.ht));
    char lab[192];
    for (int e = 0; e < 4; e++) {
        if (!eng[e]) continue;
        wm_tensor t = y.dt; /* fresh y0 on the device */
        cp_free(c, &y.dt);
        y.dt = cp_dev(c, t.dtype, y0, 4, t.shape);
        WM_ASSERT(wm__vae_conv_engine_plan(eng[e], &x.dt, &w.dt, k->causal, &y.dt) == WM_OK);
        WM_ASSERT(wm__vae_conv_engine_reserve(eng[e]) == WM_OK);
        CP_OK(c->gpu, wm__vae_conv3d_engine_ex(eng[e], &x.dt, ld, &w.dt, &b.dt, k->causal, k->reflect, post, 1e-6f,
                                               &y.dt));
        snprintf(lab, sizeof lab, "conv3d %s %s [%s]", post == WM_VAE_CONV_POST_ACC ? "acc" : "rms+silu", k->name,
                 eng_name[e]);
        int loose = k->y == WM_BF16 || e == 1 || e == 3;
        cmp(lab, &y, loose ? 1e-2f : 1e-3f, loose ? 5e-3 : 1e-4);
    }
    free(y0);
    rel(&x); rel(&w); rel(&b); rel(&l); rel(&y);
}

/* Whole-clip causal conv of 5 frames == chunks of 2 then 3 frames with the left cache, bit for bit. */
static void t_conv_stream(wm_dtype dt, int64_t Ci, int64_t Co, wm_vae_conv_engine *e)
{
    int64_t T = 5, H = 9, W = 21, HW = H * W;
    tp x = MK(dt, 1.0f, 4, Ci, T, H, W, 0), w = MK(dt, 0.1f, 5, Co, Ci, 3, 3, 3), b = MK(dt, 0.5f, 1, Co, 0, 0, 0, 0);
    tp y = OUT(dt, 4, Co, T, H, W, 0);
    CP_OK(c->gpu, conv_run(e, &x.dt, NULL, &w.dt, &b.dt, 1, 0, &y.dt));
    float *whole = cp_read(c, &y.dt);
    double d2 = 0, r2 = 0;
    float *xh[2] = {malloc(sizeof(float) * Ci * 3 * HW), malloc(sizeof(float) * Ci * 3 * HW)};
    int64_t t0[2] = {0, 2}, nt[2] = {2, 3};
    tp cache = OUT(dt, 4, Ci, 2, H, W, 0);
    int same = 1;
    for (int ch = 0; ch < 2; ch++) {
        for (int64_t ci = 0; ci < Ci; ci++)
            memcpy(xh[ch] + ci * nt[ch] * HW, x.h + (ci * T + t0[ch]) * HW, sizeof(float) * nt[ch] * HW);
        tp xc = OUT(dt, 4, Ci, nt[ch], H, W, 0), yc = OUT(dt, 4, Co, nt[ch], H, W, 0);
        free(xc.h);
        xc.h = xh[ch];
        upd(&xc);
        CP_OK(c->gpu, conv_run(e, &xc.dt, ch ? &cache.dt : NULL, &w.dt, &b.dt, 1, 0, &yc.dt));
        CP_OK(c->gpu, wm_vae_cache_push(c->gpu, &cache.dt, &xc.dt, ch == 0));
        float *got = cp_read(c, &yc.dt);
        for (int64_t co = 0; co < Co; co++) {
            const float *g = got + co * nt[ch] * HW, *r = whole + (co * T + t0[ch]) * HW;
            same &= !memcmp(g, r, sizeof(float) * nt[ch] * HW);
            for (int64_t i = 0; i < nt[ch] * HW; i++) {
                double d = (double)g[i] - r[i];
                d2 += d == d ? d * d : INFINITY, r2 += (double)r[i] * r[i];
            }
        }
        free(got);
        xc.h = NULL;
        cp_free(c, &xc.dt);
        rel(&yc);
    }
    int cudnn = e && wm__vae_conv_engine_path(e) == WM_VAE_CONV_CUDNN && dt == WM_BF16;
    double rl2 = sqrt(d2 / (r2 > 0 ? r2 : 1));
    printf("conv3d streaming 2+3 frames == whole (%s, Co %lld, %s): %s, rel-L2 %.2e\n", dt == WM_BF16 ? "bf16" : "fp32",
           (long long)Co, e ? wm__vae_conv_engine_name(e) : "op", same ? "bit-identical" : "different", rl2);
    if (cudnn) CHECK(rl2 <= 5e-3); /* another cuDNN algorithm per T may change the rounding, nothing more */
    else CHECK(same);
    free(whole); free(xh[0]); free(xh[1]);
    rel(&x); rel(&w); rel(&b); rel(&y); rel(&cache);
}

static void t_cache_push(wm_dtype dt)
{
    int64_t C = 5, n = 2, H = 3, W = 7;
    char lab[128];
    int Ts[3] = {1, 3, 1};
    for (int fresh = 0; fresh < 2; fresh++)
        for (int k = 0; k < 3; k++) {
            int64_t nn = k == 2 ? 3 : n; /* a 3-frame cache pushed by 1 frame: overlapping shift */
            tp cache = MK(dt, 1.0f, 4, C, nn, H, W, 0), x = MK(dt, 1.0f, 4, C, Ts[k], H, W, 0);
            CP_OK(c->cpu, wm_vae_cache_push(c->cpu, &cache.ht, &x.ht, fresh));
            CP_OK(c->gpu, wm_vae_cache_push(c->gpu, &cache.dt, &x.dt, fresh));
            snprintf(lab, sizeof lab, "cache_push n%lld T%d fresh%d %s", (long long)nn, Ts[k], fresh,
                     dt == WM_BF16 ? "bf16" : "fp32");
            cmp(lab, &cache, 0.0f, 0.0);
            rel(&cache); rel(&x);
        }
}

static void t_small(wm_dtype dt)
{
    char lab[128];
    const char *dn = dt == WM_BF16 ? "bf16" : "fp32";
    /* rmsnorm over channels; the in-place form on the device. C = 37 (< 128: registers only), 300 (the
     * re-read path for channels >= 128) and 8 (fewer channels than groups); positions not a multiple of 32,
     * then positions a multiple of 8 (the 8-wide kernel: one tile, several tiles, a partial last tile). */
    const int64_t rc[6][4] = {{37, 3, 5, 7}, {300, 2, 3, 7}, {8, 1, 9, 5}, {37, 2, 4, 8}, {300, 2, 4, 40}, {8, 3, 4, 24}};
    for (int silu = 0; silu < 12; silu++) {
        const int64_t *r = rc[silu / 2];
        tp x = MK(dt, 2.0f, 4, r[0], r[1], r[2], r[3], 0), y = OUT(dt, 4, r[0], r[1], r[2], r[3], 0);
        CP_OK(c->cpu, wm_vae_rmsnorm_silu(c->cpu, &x.ht, 1e-6f, silu & 1, &y.ht));
        CP_OK(c->gpu, wm_vae_rmsnorm_silu(c->gpu, &x.dt, 1e-6f, silu & 1, (silu & 1) ? &x.dt : &y.dt));
        if (silu & 1) { wm_tensor t = y.dt; y.dt = x.dt; x.dt = t; }
        snprintf(lab, sizeof lab, "rmsnorm_silu C%lld silu%d%s %s", (long long)r[0], silu & 1, (silu & 1) ? " in-place" : "", dn);
        cmp(lab, &y, dt == WM_BF16 ? 1e-2f : 1e-5f, dt == WM_BF16 ? 5e-3 : 1e-5);
        rel(&x); rel(&y);
    }
    { /* channel affine: fp32 latents -> activation dtype, fp32 vectors */
        tp x = MK(WM_F32, 1.0f, 4, 9, 2, 3, 5, 0), m = MK(WM_F32, 1.0f, 1, 9, 0, 0, 0, 0);
        tp a = MK(WM_F32, 1.0f, 1, 9, 0, 0, 0, 0), y = OUT(dt, 4, 9, 2, 3, 5, 0);
        CP_OK(c->cpu, wm_vae_channel_affine(c->cpu, &x.ht, &m.ht, &a.ht, &y.ht));
        CP_OK(c->gpu, wm_vae_channel_affine(c->gpu, &x.dt, &m.dt, &a.dt, &y.dt));
        snprintf(lab, sizeof lab, "channel_affine fp32->%s", dn);
        cmp(lab, &y, TOL(dt), L2(dt));
        rel(&x); rel(&m); rel(&a); rel(&y);
    }
    { /* frame padding */
        tp x = MK(dt, 1.0f, 4, 6, 3, 4, 5, 0), y = OUT(dt, 4, 6, 5, 4, 5, 0);
        CP_OK(c->cpu, wm_vae_pad_frames(c->cpu, &x.ht, 2, &y.ht));
        CP_OK(c->gpu, wm_vae_pad_frames(c->gpu, &x.dt, 2, &y.dt));
        snprintf(lab, sizeof lab, "pad_frames n2 %s", dn);
        cmp(lab, &y, 0.0f, 0.0);
        rel(&x); rel(&y);
    }
}

static void t_shuffle(wm_dtype dt)
{
    char lab[160];
    const char *dn = dt == WM_BF16 ? "bf16" : "fp32";
    /* (st,sh,sw,w_major, trim, Cs, repeat r) */
    int d2s[3][7] = {{2, 2, 2, 0, 1, 3, 2}, {1, 4, 4, 1, 0, 3, 1}, {2, 1, 2, 0, 0, 5, 1}};
    /* W = 5: the per-row kernel; W = 8: output widths of 8k take the 8-wide kernel */
    for (int k = 0; k < 6; k++)
        for (int acc = 0; acc < 2; acc++) {
            int st = d2s[k % 3][0], sh = d2s[k % 3][1], sw = d2s[k % 3][2], wmj = d2s[k % 3][3], trim = d2s[k % 3][4];
            int64_t Cs = d2s[k % 3][5], r = d2s[k % 3][6], n = (int64_t)st * sh * sw, T = 3, H = 3, W = k < 3 ? 5 : 8;
            tp x = MK(dt, 1.0f, 4, Cs * n, T, H, W, 0);
            tp y = acc ? MK(dt, 1.0f, 4, Cs * r, T * st - trim, H * sh, W * sw, 0)
                       : OUT(dt, 4, Cs * r, T * st - trim, H * sh, W * sw, 0);
            CP_OK(c->cpu, wm_vae_depth_to_space(c->cpu, &x.ht, st, sh, sw, wmj, trim, acc, &y.ht));
            CP_OK(c->gpu, wm_vae_depth_to_space(c->gpu, &x.dt, st, sh, sw, wmj, trim, acc, &y.dt));
            snprintf(lab, sizeof lab, "depth_to_space %d%d%d wm%d trim%d acc%d W%d %s", st, sh, sw, wmj, trim, acc, (int)W, dn);
            cmp(lab, &y, TOL(dt), L2(dt));
            rel(&x); rel(&y);
        }
    /* (st,sh,sw,w_major, C, group) */
    int s2d[3][6] = {{2, 2, 2, 0, 3, 2}, {1, 4, 4, 1, 3, 1}, {1, 2, 2, 0, 8, 4}};
    for (int k = 0; k < 3; k++)
        for (int acc = 0; acc < 2; acc++) {
            int st = s2d[k][0], sh = s2d[k][1], sw = s2d[k][2], wmj = s2d[k][3], g = s2d[k][5];
            int64_t C = s2d[k][4], n = (int64_t)st * sh * sw, T = 2, H = 3, W = 4;
            tp x = MK(dt, 1.0f, 4, C, T * st, H * sh, W * sw, 0);
            tp y = acc ? MK(dt, 1.0f, 4, C * n / g, T, H, W, 0) : OUT(dt, 4, C * n / g, T, H, W, 0);
            CP_OK(c->cpu, wm_vae_space_to_depth(c->cpu, &x.ht, st, sh, sw, wmj, g, acc, &y.ht));
            CP_OK(c->gpu, wm_vae_space_to_depth(c->gpu, &x.dt, st, sh, sw, wmj, g, acc, &y.dt));
            snprintf(lab, sizeof lab, "space_to_depth %d%d%d wm%d group%d acc%d %s", st, sh, sw, wmj, g, acc, dn);
            cmp(lab, &y, dt == WM_BF16 ? 1e-2f : 1e-5f, dt == WM_BF16 ? 5e-3 : 1e-6);
            rel(&x); rel(&y);
        }
}

/* uint8: host and device outputs; CPU and GPU may round 127.5x + 127.5 differently (FMA) right at a
 * truncation boundary, so each byte may differ by one step and only rarely. */
static void t_uint8(wm_dtype dt)
{
    int64_t T = 2, H = 5, W = 9, P = T * H * W;
    tp x = MK(dt, 0.7f, 4, 3, T, H, W, 0);
    x.h[0] = 3.0f, x.h[1] = -3.0f, x.h[2] = 1.0f, x.h[3] = -1.0f; /* clamps and both ends */
    upd(&x);
    int64_t us[4] = {T, H, W, 3};
    uint8_t *ref = malloc((size_t)P * 3), *got = malloc((size_t)P * 3), *got2 = malloc((size_t)P * 3);
    wm_tensor yr = wm_tensor_view(WM_U8, WM_DEVICE_CPU, ref, 4, us);
    wm_tensor yh = wm_tensor_view(WM_U8, WM_DEVICE_CPU, got, 4, us);
    wm_tensor yd = wm_tensor_view(WM_U8, WM_DEVICE_CUDA, NULL, 4, us);
    WM_ASSERT(wm_backend_malloc(c->gpu, (size_t)P * 3, &yd.data) == WM_OK);
    memset(got, 0xAB, (size_t)P * 3);
    CP_OK(c->cpu, wm_vae_to_uint8(c->cpu, &x.ht, &yr));
    CP_OK(c->gpu, wm_vae_to_uint8(c->gpu, &x.dt, &yh));
    CP_OK(c->gpu, wm_vae_to_uint8(c->gpu, &x.dt, &yd));
    WM_ASSERT(wm_backend_sync(c->gpu) == WM_OK);
    WM_ASSERT(wm_backend_download(c->gpu, got2, yd.data, (size_t)P * 3) == WM_OK);
    int maxd = 0, ndiff = 0;
    for (int64_t i = 0; i < P * 3; i++) {
        int d1 = abs((int)got[i] - ref[i]), d2 = abs((int)got2[i] - ref[i]);
        int d = d1 > d2 ? d1 : d2;
        maxd = d > maxd ? d : maxd;
        ndiff += d != 0;
    }
    printf("to_uint8 %s host+device: max step diff %d, %d of %lld bytes differ\n", dt == WM_BF16 ? "bf16" : "fp32",
           maxd, ndiff, (long long)(P * 3));
    CHECK(maxd <= 1 && ndiff <= 2);
    /* Output is (T,H,W,3): the red bytes of pixels 0..3 (x = 3, -3, 1, -1) sit at 0, 3, 6, 9. */
    const uint8_t *outs[3] = {ref, got, got2};
    for (int k = 0; k < 3; k++)
        CHECK(outs[k][0] == 255 && outs[k][3] == 0 && outs[k][6] == 255 && outs[k][9] == 0);
    wm_backend_mfree(c->gpu, yd.data);
    free(ref); free(got); free(got2);
    rel(&x);
}

/* --bench: device time of vae_conv3d at the decoder's level shapes (GPU only, no CPU reference): the
 * numbers that decide the block tile. Steady-state streaming chunk sizes, left cache in use. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void bench_conv(void)
{
    const int64_t lv[4][4] = {{1024, 3, 22, 40}, {512, 6, 44, 80}, {256, 12, 88, 160}, {128, 24, 176, 320}};
    for (int i = 0; i < 4; i++) {
        int64_t C = lv[i][0], T = lv[i][1], H = lv[i][2], W = lv[i][3];
        tp x = MK(WM_BF16, 1.0f, 4, C, T, H, W, 0), w = MK(WM_BF16, 0.02f, 5, C, C, 3, 3, 3);
        tp l = MK(WM_BF16, 1.0f, 4, C, 2, H, W, 0), b = MK(WM_BF16, 0.1f, 1, C, 0, 0, 0, 0);
        tp y = OUT(WM_BF16, 4, C, T, H, W, 0);
        for (int e = 0; e < 3; e++) { /* engine old, cuDNN, igemm paths */
            if (!eng[e]) continue;
            CP_OK(c->gpu, conv_run(eng[e], &x.dt, &l.dt, &w.dt, &b.dt, 1, 1, &y.dt)); /* plan + warm-up */
            WM_ASSERT(wm_backend_sync(c->gpu) == WM_OK);
            int reps = 5;
            double t0 = now_s();
            for (int r = 0; r < reps; r++)
                CP_OK(c->gpu, wm__vae_conv3d_engine(eng[e], &x.dt, &l.dt, &w.dt, &b.dt, 1, 1, &y.dt));
            WM_ASSERT(wm_backend_sync(c->gpu) == WM_OK);
            double ms = (now_s() - t0) * 1e3 / reps, fl = 2.0 * C * C * 27 * T * H * W;
            printf("bench conv3d %-6s %4lld->%-4lld x %2lld frames %3lldx%-3lld: %8.3f ms  %6.1f TFLOP/s\n",
                   eng_name[e] + 7, (long long)C, (long long)C, (long long)T, (long long)H, (long long)W, ms,
                   fl / ms * 1e-9);
        }
        rel(&x); rel(&w); rel(&l); rel(&b); rel(&y);
    }
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int rc = cp_init(c, 0x5eed0a0e);
    if (rc) return rc;
    WM_ASSERT(wm__vae_conv_engine_create(c->gpu, WM_VAE_CONV_OLD, &eng[0]) == WM_OK);
    WM_ASSERT(wm__vae_conv_engine_create(c->gpu, WM_VAE_CONV_CUDNN, &eng[1]) == WM_OK);
    WM_ASSERT(wm__vae_conv_engine_create(c->gpu, WM_VAE_CONV_IGEMM, &eng[2]) == WM_OK);
    WM_ASSERT(wm__vae_conv_engine_create(c->gpu, WM_VAE_CONV_BEST, &eng[3]) == WM_OK);
    printf("conv engines: [%s] [%s] [%s] [%s]\n", wm__vae_conv_engine_name(eng[0]), wm__vae_conv_engine_name(eng[1]),
           wm__vae_conv_engine_name(eng[2]), wm__vae_conv_engine_name(eng[3]));
    if (wm__vae_conv_engine_path(eng[1]) != WM_VAE_CONV_CUDNN) {
        printf("NOTE: cuDNN path not available in this build/machine: its checks are skipped\n");
        for (int e = 1; e < 4; e += 2) {
            wm__vae_conv_engine_free(eng[e]);
            eng[e] = NULL;
        }
    }
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench_conv();
        for (int e = 0; e < 4; e++) wm__vae_conv_engine_free(eng[e]);
        cp_fini(c);
        TEST_MAIN_END();
    }
    const wm_dtype B = WM_BF16, F = WM_F32;
    const conv_case cases[] = {
        /* Ci Co T  H  W kt kh kw causal left reflect  x  w  y round */
        {5, 7, 3, 5, 9, 3, 3, 3, 1, 0, 0, B, B, F, 1, "5->7 causal zeros bf16"},
        {16, 67, 2, 6, 40, 3, 3, 3, 1, 1, 1, B, B, F, 1, "16->67 causal+left reflect bf16"},
        {16, 40, 2, 6, 40, 3, 3, 3, 1, 1, 1, B, B, F, 1, "16->40 causal+left reflect bf16"},
        {20, 150, 2, 7, 19, 3, 3, 3, 0, 0, 1, B, B, B, 1, "20->150 non-causal reflect bf16 out"},
        {9, 33, 4, 7, 11, 3, 3, 3, 0, 0, 0, B, B, F, 1, "9->33 non-causal zeros bf16"},
        {24, 130, 3, 5, 13, 1, 1, 1, 1, 0, 0, B, B, B, 1, "24->130 1x1x1 bf16 out"},
        {8, 20, 3, 6, 10, 3, 3, 3, 1, 1, 1, F, F, F, 1, "8->20 causal+left reflect fp32 (bf16 values)"},
        {8, 20, 3, 6, 10, 3, 3, 3, 0, 0, 1, F, B, B, 0, "8->20 non-causal fp32 x unrounded"},
        {6, 12, 2, 9, 9, 3, 5, 5, 1, 0, 0, B, B, F, 1, "6->12 kernel 3x5x5"},
        {128, 128, 3, 44, 80, 3, 3, 3, 1, 1, 0, B, B, F, 1, "128->128 3x44x80 decoder layer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (quick && cases[i].Ci >= 128) continue;
        t_conv(&cases[i]);
    }
    const conv_case engine_cases[] = { /* real channel counts (small grids: the CPU reference is slow) */
        {512, 512, 2, 6, 10, 3, 3, 3, 1, 1, 1, B, B, B, 1, "512->512 causal+left reflect (mid block)"},
        {256, 1024, 2, 5, 9, 3, 3, 3, 1, 0, 1, B, B, B, 1, "256->1024 causal reflect (upsampler conv)"},
        {48, 128, 1, 12, 20, 3, 3, 3, 1, 0, 0, B, B, B, 1, "48->128 causal zeros (encoder conv_in)"},
        {64, 129, 1, 6, 10, 3, 3, 3, 1, 0, 0, B, B, F, 1, "64->129 causal zeros (encoder conv_out, Co % 8)"},
        {128, 48, 3, 9, 17, 3, 3, 3, 1, 1, 1, B, B, B, 1, "128->48 causal+left reflect (decoder conv_out)"},
        {40, 24, 4, 7, 33, 3, 3, 3, 0, 0, 1, B, B, F, 1, "40->24 non-causal reflect, W > 32"},
    };
    for (size_t i = 0; i < sizeof engine_cases / sizeof engine_cases[0]; i++) {
        if (quick && engine_cases[i].Ci >= 256) continue;
        t_conv(&engine_cases[i]);
    }
    const conv_case acc_cases[] = { /* fused post ops: ResNet shapes (igemm: Ci % 32 == 0) and the fallbacks */
        {64, 64, 3, 9, 21, 3, 3, 3, 1, 1, 1, B, B, B, 1, "64->64 causal+left reflect bf16"},
        {32, 40, 2, 7, 10, 3, 3, 3, 1, 0, 0, B, B, F, 1, "32->40 causal zeros, fp32 y"},
        {12, 20, 2, 6, 9, 3, 3, 3, 0, 0, 1, B, B, B, 1, "12->20 non-causal (igemm falls back)"},
        {8, 16, 2, 5, 7, 3, 3, 3, 1, 1, 1, F, F, F, 1, "8->16 fp32 (old kernel + add)"},
    };
    for (size_t i = 0; i < sizeof acc_cases / sizeof acc_cases[0]; i++) {
        t_conv_post(&acc_cases[i], WM_VAE_CONV_POST_ACC);
        t_conv_post(&acc_cases[i], WM_VAE_CONV_POST_RMS_SILU);
    }
    const conv_case wide = {160, 136, 2, 5, 9, 3, 3, 3, 1, 1, 1, B, B, B, 1, "160->136 (channel chunks of 32, Co % 32)"};
    t_conv_post(&wide, WM_VAE_CONV_POST_RMS_SILU);
    t_conv_stream(B, 12, 70, NULL); /* the 128-channel tile */
    t_conv_stream(F, 12, 40, NULL); /* the 64-channel tile; fp32: true-fp32 kernel */
    if (eng[1]) t_conv_stream(B, 32, 70, eng[1]);
    if (eng[3]) t_conv_stream(B, 64, 136, eng[3]);
    t_conv_stream(B, 64, 136, eng[2]); /* igemm: fixed-order sums, bit-exact; 2 channel tiles */
    for (int k = 0; k < 2; k++) {
        wm_dtype dt = k ? B : F;
        t_cache_push(dt);
        t_small(dt);
        t_shuffle(dt);
        t_uint8(dt);
    }
    for (int e = 0; e < 4; e++) wm__vae_conv_engine_free(eng[e]);
    cp_fini(c);
    TEST_MAIN_END();
}
