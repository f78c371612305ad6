/* VAE op references vs obvious double-precision loops (kernels/ops_vae.def).
 *
 * The conv oracle materialises the padded input explicitly (temporal replicate/cache concat, zero or
 * reflect borders) and sums in double, so it shares no index logic with the direct-loop reference.
 * Shapes are odd on purpose (Co not a multiple of the 8-channel block, W below and above the 8-wide
 * vector). Streaming: a conv run over frames [0,5) in one call must equal the same conv run in chunks
 * with vae_cache_push between calls, bit for bit. Tolerance for fp32 vs double: 1e-5 abs + 1e-5 rel.
 */
#include "kernels/ops.h"
#include "testing.h"

#include <string.h>

static wm_backend *be;

static wm_tensor mk(int n, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e)
{
    int64_t s[5] = {a, b, c, d, e};
    wm_tensor t;
    if (wm_tensor_alloc(WM_F32, n, s, &t) != WM_OK) abort();
    return t;
}

static int reflect_idx(int i, int n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); }

/* Oracle: y(Co,T,H,W) for x(Ci,T,H,W), left (Ci,kt-1,H,W) or NULL. */
static void conv_oracle(const float *x, const float *left, const float *w, const float *b, int Ci, int Co, int T,
                        int H, int W, int kt, int kh, int kw, int causal, int reflect, float *y)
{
    int n = kt - 1, Tp = T + n;
    for (int co = 0; co < Co; co++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
                for (int q = 0; q < W; q++) {
                    double s = b[co];
                    for (int ci = 0; ci < Ci; ci++)
                        for (int dt = 0; dt < kt; dt++) {
                            int j = t + dt; /* index into the padded sequence of length Tp */
                            const float *fr;
                            if (causal) fr = j < n ? (left ? left + (ci * n + j) * H * W : x + ci * T * H * W)
                                                   : x + (ci * T + j - n) * H * W;
                            else {
                                int tt = j - n / 2;
                                tt = tt < 0 ? 0 : (tt >= T ? T - 1 : tt);
                                fr = x + (ci * T + tt) * H * W;
                            }
                            for (int dh = 0; dh < kh; dh++)
                                for (int dw = 0; dw < kw; dw++) {
                                    int hh = h + dh - kh / 2, ww = q + dw - kw / 2;
                                    if (reflect) hh = reflect_idx(hh, H), ww = reflect_idx(ww, W);
                                    else if (hh < 0 || hh >= H || ww < 0 || ww >= W) continue;
                                    s += (double)w[(((co * Ci + ci) * kt + dt) * kh + dh) * kw + dw] * fr[hh * W + ww];
                                }
                        }
                    y[((co * T + t) * H + h) * W + q] = (float)s;
                }
    (void)Tp;
}

static void test_conv(int Ci, int Co, int T, int H, int W, int k, int causal, int reflect, int with_left)
{
    t_rng r = {0x1234 + Ci * 7 + W};
    int kt = k, n = kt - 1;
    wm_tensor x = mk(4, Ci, T, H, W, 1), w = mk(5, Co, Ci, kt, k, k), b = mk(1, Co, 1, 1, 1, 1);
    wm_tensor y = mk(4, Co, T, H, W, 1), ref = mk(4, Co, T, H, W, 1), left = mk(4, Ci, n ? n : 1, H, W, 1);
    t_fill_normal(&r, x.data, wm_tensor_numel(&x), 1.0f);
    t_fill_normal(&r, w.data, wm_tensor_numel(&w), 0.2f);
    t_fill_normal(&r, b.data, Co, 0.1f);
    t_fill_normal(&r, left.data, wm_tensor_numel(&left), 1.0f);
    wm_tensor *lp = with_left && n ? &left : NULL;
    CHECK(wm_vae_conv3d(be, &x, lp, &w, &b, causal, reflect, &y) == WM_OK);
    conv_oracle(x.data, lp ? left.data : NULL, w.data, b.data, Ci, Co, T, H, W, kt, k, k, causal, reflect, ref.data);
    char label[96];
    snprintf(label, sizeof label, "conv3d %dx%d T%d %dx%d k%d c%d r%d l%d", Ci, Co, T, H, W, k, causal, reflect, with_left);
    CHECK(t_allclose(label, y.data, ref.data, wm_tensor_numel(&y), 1e-5f, 1e-5f));
    wm_tensor_free(&x), wm_tensor_free(&w), wm_tensor_free(&b), wm_tensor_free(&y), wm_tensor_free(&ref);
    wm_tensor_free(&left);
}

/* Whole-clip causal conv == chunked conv with the 2-frame cache, bit for bit. */
static void test_streaming(int reflect)
{
    const int Ci = 6, Co = 9, T = 5, H = 4, W = 11;
    t_rng r = {99};
    wm_tensor x = mk(4, Ci, T, H, W, 1), w = mk(5, Co, Ci, 3, 3, 3), b = mk(1, Co, 1, 1, 1, 1);
    wm_tensor y = mk(4, Co, T, H, W, 1), cache = mk(4, Ci, 2, H, W, 1);
    t_fill_normal(&r, x.data, wm_tensor_numel(&x), 1.0f);
    t_fill_normal(&r, w.data, wm_tensor_numel(&w), 0.2f);
    t_fill_normal(&r, b.data, Co, 0.1f);
    CHECK(wm_vae_conv3d(be, &x, NULL, &w, &b, 1, reflect, &y) == WM_OK);
    const int splits[][2] = {{0, 1}, {1, 2}, {2, 4}, {4, 5}};
    int fresh = 1, same = 1;
    for (int i = 0; i < 4; i++) {
        int t0 = splits[i][0], nt = splits[i][1] - t0;
        int64_t xs[4] = {Ci, nt, H, W}, ys[4] = {Co, nt, H, W};
        wm_tensor xc, yc;
        wm_tensor_alloc(WM_F32, 4, xs, &xc);
        wm_tensor_alloc(WM_F32, 4, ys, &yc);
        for (int c = 0; c < Ci; c++)
            memcpy((float *)xc.data + c * nt * H * W, (float *)x.data + (c * T + t0) * H * W, sizeof(float) * nt * H * W);
        CHECK(wm_vae_conv3d(be, &xc, fresh ? NULL : &cache, &w, &b, 1, reflect, &yc) == WM_OK);
        CHECK(wm_vae_cache_push(be, &cache, &xc, fresh) == WM_OK);
        fresh = 0;
        for (int c = 0; c < Co; c++)
            same &= !memcmp((float *)yc.data + c * nt * H * W, (float *)y.data + (c * T + t0) * H * W,
                            sizeof(float) * nt * H * W);
        wm_tensor_free(&xc), wm_tensor_free(&yc);
    }
    CHECK_MSG(same, "chunked causal conv (reflect %d) differs from the whole-clip conv", reflect);
    printf("conv3d streaming chunks 1+1+2+1 == whole clip (reflect %d): %s\n", reflect, same ? "bit-exact" : "FAIL");
    wm_tensor_free(&x), wm_tensor_free(&w), wm_tensor_free(&b), wm_tensor_free(&y), wm_tensor_free(&cache);
}

static void test_rmsnorm(void)
{
    const int C = 13, P = 1100;
    t_rng r = {5};
    wm_tensor x = mk(4, C, 2, 10, 55, 1), y = mk(4, C, 2, 10, 55, 1), ref = mk(4, C, 2, 10, 55, 1);
    t_fill_normal(&r, x.data, wm_tensor_numel(&x), 2.0f);
    const float *xd = x.data;
    for (int silu = 0; silu < 2; silu++) {
        for (int p = 0; p < P; p++) {
            double ss = 0;
            for (int c = 0; c < C; c++) ss += (double)xd[c * P + p] * xd[c * P + p];
            for (int c = 0; c < C; c++) {
                double v = xd[c * P + p] / sqrt(ss / C + 1e-8);
                ((float *)ref.data)[c * P + p] = (float)(silu ? v / (1 + exp(-v)) : v);
            }
        }
        CHECK(wm_vae_rmsnorm_silu(be, &x, 1e-8f, silu, &y) == WM_OK);
        CHECK(t_allclose(silu ? "rmsnorm_silu" : "rmsnorm", y.data, ref.data, C * P, 1e-5f, 1e-5f));
    }
    CHECK(wm_vae_rmsnorm_silu(be, &x, 1e-8f, 1, &x) == WM_OK); /* in place */
    CHECK(t_allclose("rmsnorm_silu in place", x.data, ref.data, C * P, 1e-5f, 1e-5f));
    wm_tensor_free(&x), wm_tensor_free(&y), wm_tensor_free(&ref);
}

/* depth_to_space / space_to_depth against index formulas written from the PyTorch permutes. */
static void test_shuffle(int w_major)
{
    const int Cs = 3, T = 3, H = 2, W = 3, st = 2, sh = 2, sw = 2, n = 8, trim = 1, rep = 2;
    t_rng r = {11 + w_major};
    wm_tensor x = mk(4, Cs * n, T, H, W, 1), y = mk(4, Cs * rep, T * st - trim, H * sh, W * sw, 1);
    t_fill_normal(&r, x.data, wm_tensor_numel(&x), 1.0f);
    for (int64_t i = 0; i < wm_tensor_numel(&y); i++) ((float *)y.data)[i] = 1.0f;
    CHECK(wm_vae_depth_to_space(be, &x, st, sh, sw, w_major, trim, 1, &y) == WM_OK);
    int bad = 0;
    const float *xd = x.data, *yd = y.data;
    for (int q = 0; q < Cs * rep; q++)
        for (int to = 0; to < T * st - trim; to++)
            for (int ho = 0; ho < H * sh; ho++)
                for (int wo = 0; wo < W * sw; wo++) {
                    int c = q % Cs, tf = to + trim, it = tf % st, ih = ho % sh, iw = wo % sw;
                    int sub = w_major ? (it * sw + iw) * sh + ih : (it * sh + ih) * sw + iw;
                    float want = 1.0f + xd[(((c * n + sub) * T + tf / st) * H + ho / sh) * W + wo / sw];
                    bad += yd[((q * (T * st - trim) + to) * H * sh + ho) * W * sw + wo] != want;
                }
    CHECK_MSG(bad == 0, "depth_to_space (w_major %d): %d wrong elements", w_major, bad);
    /* space_to_depth(depth_to_space(x)) == x (trim 0, group 1); group mean on top of that. */
    wm_tensor u = mk(4, Cs, T * st, H * sh, W * sw, 1), back = mk(4, Cs * n, T, H, W, 1), g = mk(4, Cs * n / 4, T, H, W, 1);
    CHECK(wm_vae_depth_to_space(be, &x, st, sh, sw, w_major, 0, 0, &u) == WM_OK);
    CHECK(wm_vae_space_to_depth(be, &u, st, sh, sw, w_major, 1, 0, &back) == WM_OK);
    CHECK_MSG(!memcmp(back.data, x.data, wm_tensor_nbytes(&x)), "space_to_depth is not the inverse (w_major %d)", w_major);
    CHECK(wm_vae_space_to_depth(be, &u, st, sh, sw, w_major, 4, 0, &g) == WM_OK);
    bad = 0;
    for (int k = 0; k < Cs * n / 4; k++)
        for (int p = 0; p < T * H * W; p++) {
            double m = 0;
            for (int j = 0; j < 4; j++) m += xd[(k * 4 + j) * T * H * W + p];
            bad += fabs(((float *)g.data)[k * T * H * W + p] - m / 4) > 1e-6;
        }
    CHECK_MSG(bad == 0, "space_to_depth group mean: %d wrong", bad);
    printf("depth/space shuffles (w_major %d): %s\n", w_major, bad ? "FAIL" : "ok");
    wm_tensor_free(&x), wm_tensor_free(&y), wm_tensor_free(&u), wm_tensor_free(&back), wm_tensor_free(&g);
}

static void test_small_ops(void)
{
    wm_tensor x = mk(4, 2, 2, 1, 3, 1), y = mk(4, 2, 5, 1, 3, 1);
    for (int i = 0; i < 12; i++) ((float *)x.data)[i] = (float)i;
    CHECK(wm_vae_pad_frames(be, &x, 3, &y) == WM_OK);
    const float want[30] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5,
                            6, 7, 8, 6, 7, 8, 6, 7, 8, 6, 7, 8, 9, 10, 11};
    CHECK(!memcmp(y.data, want, sizeof want));
    /* cache push: fresh + 1 frame -> [x0, x0]; then 1 frame -> [x0, x1]; then 3 frames -> last two. */
    wm_tensor cache = mk(4, 1, 2, 1, 1, 1), f1 = mk(4, 1, 1, 1, 1, 1), f3 = mk(4, 1, 3, 1, 1, 1);
    float *cd = cache.data;
    ((float *)f1.data)[0] = 7;
    CHECK(wm_vae_cache_push(be, &cache, &f1, 1) == WM_OK && cd[0] == 7 && cd[1] == 7);
    ((float *)f1.data)[0] = 8;
    CHECK(wm_vae_cache_push(be, &cache, &f1, 0) == WM_OK && cd[0] == 7 && cd[1] == 8);
    for (int i = 0; i < 3; i++) ((float *)f3.data)[i] = 10.0f + i;
    CHECK(wm_vae_cache_push(be, &cache, &f3, 0) == WM_OK && cd[0] == 11 && cd[1] == 12);
    /* affine */
    wm_tensor mul = mk(1, 2, 1, 1, 1, 1), add = mk(1, 2, 1, 1, 1, 1), a = mk(4, 2, 2, 1, 3, 1);
    ((float *)mul.data)[0] = 2, ((float *)mul.data)[1] = -1, ((float *)add.data)[0] = 1, ((float *)add.data)[1] = 0.5f;
    CHECK(wm_vae_channel_affine(be, &x, &mul, &add, &a) == WM_OK);
    CHECK(((float *)a.data)[5] == 11.0f && ((float *)a.data)[6] == -5.5f);
    /* uint8: truncation, clamping, NaN -> 0 */
    wm_tensor px = mk(4, 3, 1, 1, 2, 1), u8;
    int64_t us[4] = {1, 1, 2, 3};
    wm_tensor_alloc(WM_U8, 4, us, &u8);
    const float pv[6] = {-1.0f, 1.0f, 0.0f, 2.0f, -3.0f, NAN}; /* channel-major: R0 R1 G0 G1 B0 B1 */
    memcpy(px.data, pv, sizeof pv);
    CHECK(wm_vae_to_uint8(be, &px, &u8) == WM_OK);
    const uint8_t *ud = u8.data;
    CHECK(ud[0] == 0 && ud[1] == 127 && ud[2] == 0 && ud[3] == 255 && ud[4] == 255 && ud[5] == 0);
    /* shape errors are reported, not crashed on */
    CHECK(wm_vae_conv3d(be, &x, NULL, &x, NULL, 1, 0, &y) == WM_ERR_SHAPE);
    CHECK(wm_vae_depth_to_space(be, &x, 2, 2, 2, 0, 0, 0, &y) == WM_ERR_SHAPE);
    wm_tensor_free(&x), wm_tensor_free(&y), wm_tensor_free(&cache), wm_tensor_free(&f1), wm_tensor_free(&f3);
    wm_tensor_free(&mul), wm_tensor_free(&add), wm_tensor_free(&a), wm_tensor_free(&px), wm_tensor_free(&u8);
}

/* The shared shape contracts (kernels/vae_shapes.c) reject bad calls with a status naming the op,
 * before any memory is touched (data pointers are NULL on purpose). */
static void test_shape_contracts(void)
{
    float dummy;
    wm_tensor x = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, &dummy, 4, 4, 3, 6, 8);
    int64_t ws[5] = {5, 3, 3, 3, 3}; /* Ci 3 != x's 4 */
    wm_tensor w = wm_tensor_view(WM_F32, WM_DEVICE_CPU, &dummy, 5, ws);
    wm_tensor y = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, (char *)&dummy + 1, 4, 5, 3, 6, 8);
    CHECK(wm_vae_conv3d(be, &x, NULL, &w, NULL, 1, 0, &y) == WM_ERR_SHAPE && strstr(be->err.msg, "vae_conv3d"));
    ws[1] = 4;
    w = wm_tensor_view(WM_F32, WM_DEVICE_CPU, &dummy, 5, ws);
    wm_tensor left = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, &dummy, 4, 4, 2, 6, 8);
    CHECK(wm_vae_conv3d(be, &x, &left, &w, NULL, 0, 0, &y) == WM_ERR_INVALID_ARG); /* left on a non-causal conv */
    CHECK(wm_vae_conv3d(be, &x, NULL, &w, NULL, 1, 0, &x) != WM_OK);             /* y aliases x */
    wm_tensor d = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, &dummy, 4, 8, 2, 3, 4);
    wm_tensor dy = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, (char *)&dummy + 1, 4, 1, 4, 6, 8);
    CHECK(wm_vae_depth_to_space(be, &d, 2, 2, 2, 0, 4, 0, &dy) == WM_ERR_SHAPE); /* trim leaves no frame */
    CHECK(strstr(be->err.msg, "depth_to_space") != NULL);
    wm_tensor s = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, &dummy, 4, 3, 3, 6, 8);  /* T=3 not a multiple of 2 */
    wm_tensor sy = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, (char *)&dummy + 1, 4, 24, 1, 3, 4);
    CHECK(wm_vae_space_to_depth(be, &s, 2, 2, 2, 0, 1, 0, &sy) == WM_ERR_SHAPE);
    CHECK(strstr(be->err.msg, "space_to_depth") != NULL);
}

int main(void)
{
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_error err = {0};
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) return 1;
    test_conv(5, 11, 3, 5, 7, 3, 1, 0, 0);
    test_conv(5, 11, 3, 5, 19, 3, 1, 1, 0);
    test_conv(4, 9, 2, 6, 17, 3, 1, 1, 1);
    test_conv(4, 9, 2, 6, 17, 3, 1, 0, 1);
    test_conv(3, 8, 4, 3, 9, 3, 0, 1, 0);
    test_conv(3, 8, 1, 2, 2, 3, 0, 1, 0);
    test_conv(6, 10, 2, 4, 5, 1, 1, 0, 0);
    test_streaming(0);
    test_streaming(1);
    test_rmsnorm();
    test_shuffle(0);
    test_shuffle(1);
    test_small_ops();
    test_shape_contracts();
    wm_backend_free(be);
    TEST_MAIN_END();
}
