/* Parity of the common CUDA ops (kernels/ops_common.def) against the fp32 CPU references.
 *
 * Shape sweep per op: tiny and odd sizes (not multiples of any tile or of the 8-wide vector path), then
 * the real SANA-WM shapes (C = 2240, 20 heads x 112, 880 tokens per latent frame, 3-frame chunks,
 * 8,800 keys). Tolerances: bf16 outputs are rounded once to 8 mantissa bits (relative step 2^-8 =
 * 3.9e-3), so elementwise rtol 1e-2 with a small atol and a relative-L2 bound of 5e-3; fp32 outputs of
 * bf16 GEMMs differ only by summation order (1e-3); pure-fp32 paths 1e-4. Exit 77 without a GPU.
 * Usage: test_cuda_common [--quick]  (--quick drops the largest shapes).
 */
#include "cuda_parity.h"

static int quick;

static void t_matmul(cp_ctx *c, int64_t N, int64_t K, int64_t M, wm_dtype io, wm_dtype yt, int has_bias,
                     wm_dtype bt, wm_act act)
{
    float *x = cp_rand(c, (size_t)(N * K), 1.0f, io), *w = cp_rand(c, (size_t)(M * K), 1.0f / sqrtf((float)K), io);
    float *b = has_bias ? cp_rand(c, (size_t)M, 0.5f, bt) : NULL, *ref = malloc((size_t)(N * M) * sizeof(float));
    wm_tensor hx = cp_host2(x, N, K), hw = cp_host2(w, M, K), hy = cp_host2(ref, N, M), hb = cp_host2(b, 1, M);
    CP_OK(c->cpu, wm_matmul(c->cpu, &hx, &hw, has_bias ? &hb : NULL, act, &hy));
    wm_tensor dx = cp_dev2(c, io, x, N, K), dw = cp_dev2(c, io, w, M, K), dy = cp_dev2(c, yt, NULL, N, M);
    wm_tensor db = cp_dev2(c, bt, b, 1, M);
    CP_OK(c->gpu, wm_matmul(c->gpu, &dx, &dw, has_bias ? &db : NULL, act, &dy));
    float *got = cp_read(c, &dy);
    char label[96];
    snprintf(label, sizeof label, "matmul %lldx%lldx%lld %s->%s b%d act%d", (long long)N, (long long)K, (long long)M,
             wm_dtype_name(io), wm_dtype_name(yt), has_bias, (int)act);
    float tol = yt == WM_BF16 ? 1e-2f : io == WM_BF16 ? 1e-3f : 1e-4f;
    CHECK(cp_compare(label, got, ref, (size_t)(N * M), tol, tol, yt == WM_BF16 ? 5e-3 : tol));
    free(x); free(w); free(b); free(ref); free(got);
    cp_free(c, &dx); cp_free(c, &dw); cp_free(c, &dy); cp_free(c, &db);
}

static void t_rmsnorm(cp_ctx *c, int64_t N, int64_t C, wm_dtype dt, int has_w, int inplace)
{
    float *x = cp_rand(c, (size_t)(N * C), 2.0f, dt), *w = cp_rand(c, (size_t)C, 1.0f, dt);
    float *ref = malloc((size_t)(N * C) * sizeof(float));
    wm_tensor hx = cp_host2(x, N, C), hw = cp_host2(w, 1, C), hy = cp_host2(ref, N, C);
    CP_OK(c->cpu, wm_rmsnorm(c->cpu, &hx, has_w ? &hw : NULL, 1e-5f, &hy));
    wm_tensor dx = cp_dev2(c, dt, x, N, C), dw = cp_dev2(c, dt, w, 1, C);
    wm_tensor dy = inplace ? dx : cp_dev2(c, dt, NULL, N, C);
    CP_OK(c->gpu, wm_rmsnorm(c->gpu, &dx, has_w ? &dw : NULL, 1e-5f, &dy));
    float *got = cp_read(c, &dy);
    char label[96];
    snprintf(label, sizeof label, "rmsnorm %lldx%lld %s w%d inplace%d", (long long)N, (long long)C, wm_dtype_name(dt),
             has_w, inplace);
    float tol = dt == WM_BF16 ? 1e-2f : 1e-5f;
    CHECK(cp_compare(label, got, ref, (size_t)(N * C), tol, tol, dt == WM_BF16 ? 5e-3 : 1e-5));
    free(x); free(w); free(ref); free(got);
    cp_free(c, &dx); cp_free(c, &dw);
    if (!inplace) cp_free(c, &dy);
}

static void t_lnmod(cp_ctx *c, int64_t N, int64_t C, int64_t rpg, wm_dtype dt, wm_dtype pt)
{
    int64_t G = (N + rpg - 1) / rpg;
    float *x = cp_rand(c, (size_t)(N * C), 3.0f, dt), *sh = cp_rand(c, (size_t)(G * C), 0.5f, pt);
    float *sc = cp_rand(c, (size_t)(G * C), 0.5f, pt), *ref = malloc((size_t)(N * C) * sizeof(float));
    for (int64_t i = 0; i < N * C; i++) x[i] += 1.5f; /* a non-zero mean exercises the two-pass variance */
    if (dt == WM_BF16) for (int64_t i = 0; i < N * C; i++) x[i] = wm_round_bf16(x[i]);
    wm_tensor hx = cp_host2(x, N, C), hs = cp_host2(sh, G, C), hc = cp_host2(sc, G, C), hy = cp_host2(ref, N, C);
    CP_OK(c->cpu, wm_layernorm_modulate(c->cpu, &hx, &hs, &hc, rpg, 1e-6f, &hy));
    wm_tensor dx = cp_dev2(c, dt, x, N, C), ds = cp_dev2(c, pt, sh, G, C), dc = cp_dev2(c, pt, sc, G, C);
    wm_tensor dy = cp_dev2(c, dt, NULL, N, C);
    CP_OK(c->gpu, wm_layernorm_modulate(c->gpu, &dx, &ds, &dc, rpg, 1e-6f, &dy));
    float *got = cp_read(c, &dy);
    char label[96];
    snprintf(label, sizeof label, "layernorm_modulate %lldx%lld/%lld %s p%s", (long long)N, (long long)C,
             (long long)rpg, wm_dtype_name(dt), wm_dtype_name(pt));
    float tol = dt == WM_BF16 ? 1e-2f : 1e-5f;
    CHECK(cp_compare(label, got, ref, (size_t)(N * C), tol, tol, dt == WM_BF16 ? 5e-3 : 1e-5));
    free(x); free(sh); free(sc); free(ref); free(got);
    cp_free(c, &dx); cp_free(c, &ds); cp_free(c, &dc); cp_free(c, &dy);
}

static void t_elementwise(cp_ctx *c, int64_t N, int64_t C, wm_dtype dt)
{
    size_t n = (size_t)(N * C);
    int64_t rpg = N > 3 ? N / 3 : 1, G = (N + rpg - 1) / rpg;
    char label[96];
    float tol = dt == WM_BF16 ? 1e-2f : 1e-5f;
    for (int act = WM_ACT_SILU; act <= WM_ACT_RELU; act++) {
        float *x = cp_rand(c, n, 3.0f, dt);
        wm_tensor dx = cp_dev2(c, dt, x, N, C), hx = cp_host2(x, N, C);
        CP_OK(c->gpu, wm_activate(c->gpu, &dx, (wm_act)act));
        CP_OK(c->cpu, wm_activate(c->cpu, &hx, (wm_act)act));
        float *got = cp_read(c, &dx);
        snprintf(label, sizeof label, "activate %lldx%lld %s act%d", (long long)N, (long long)C, wm_dtype_name(dt), act);
        CHECK(cp_compare(label, got, x, n, tol, tol, dt == WM_BF16 ? 5e-3 : 1e-5));
        free(x); free(got); cp_free(c, &dx);
    }
    for (int gated = 0; gated < 2; gated++) {
        float *x = cp_rand(c, n, 1.0f, dt), *h = cp_rand(c, n, 1.0f, dt), *g = cp_rand(c, (size_t)(G * C), 1.0f, WM_F32);
        wm_tensor dx = cp_dev2(c, dt, x, N, C), dh = cp_dev2(c, dt, h, N, C), dg = cp_dev2(c, WM_F32, g, G, C);
        wm_tensor hx = cp_host2(x, N, C), hh = cp_host2(h, N, C), hg = cp_host2(g, G, C);
        CP_OK(c->gpu, wm_gated_add(c->gpu, &dx, &dh, gated ? &dg : NULL, rpg));
        CP_OK(c->cpu, wm_gated_add(c->cpu, &hx, &hh, gated ? &hg : NULL, rpg));
        float *got = cp_read(c, &dx);
        snprintf(label, sizeof label, "gated_add %lldx%lld %s gate%d", (long long)N, (long long)C, wm_dtype_name(dt),
                 gated);
        CHECK(cp_compare(label, got, x, n, tol, tol, dt == WM_BF16 ? 5e-3 : 1e-5));
        free(x); free(h); free(g); free(got);
        cp_free(c, &dx); cp_free(c, &dh); cp_free(c, &dg);
    }
    float *a = cp_rand(c, n, 1.0f, dt), *b = cp_rand(c, n, 1.0f, dt), *ref = malloc(n * sizeof(float));
    wm_tensor ha = cp_host2(a, N, C), hb = cp_host2(b, N, C), hy = cp_host2(ref, N, C);
    CP_OK(c->cpu, wm_mul(c->cpu, &ha, &hb, &hy));
    wm_tensor da = cp_dev2(c, dt, a, N, C), db = cp_dev2(c, dt, b, N, C), dy = cp_dev2(c, dt, NULL, N, C);
    CP_OK(c->gpu, wm_mul(c->gpu, &da, &db, &dy));
    float *got = cp_read(c, &dy);
    snprintf(label, sizeof label, "mul %lldx%lld %s", (long long)N, (long long)C, wm_dtype_name(dt));
    CHECK(cp_compare(label, got, ref, n, tol, tol, dt == WM_BF16 ? 5e-3 : 1e-5));
    free(a); free(b); free(ref); free(got);
    cp_free(c, &da); cp_free(c, &db); cp_free(c, &dy);
}

/* convert must round exactly like the host conversion (round to nearest even): compare bit for bit. */
static void t_convert(cp_ctx *c, int64_t n)
{
    float *x = cp_rand(c, (size_t)n, 10.0f, WM_F32);
    wm_tensor d32 = cp_dev2(c, WM_F32, x, 1, n), d16 = cp_dev2(c, WM_BF16, NULL, 1, n);
    wm_tensor dh = cp_dev2(c, WM_F16, NULL, 1, n), back = cp_dev2(c, WM_F32, NULL, 1, n);
    CP_OK(c->gpu, wm_convert(c->gpu, &d32, &d16));
    CP_OK(c->gpu, wm_convert(c->gpu, &d16, &dh));
    CP_OK(c->gpu, wm_convert(c->gpu, &d16, &back));
    float *got = cp_read(c, &back), *gh = cp_read(c, &dh);
    size_t bad = 0, badh = 0;
    for (int64_t i = 0; i < n; i++) {
        float r = wm_round_bf16(x[i]);
        bad += memcmp(&got[i], &r, 4) != 0;
        badh += gh[i] != wm_f16_to_f32(wm_f32_to_f16(r));
    }
    printf("convert f32->bf16->f32/f16 n=%lld mismatches %zu / %zu\n", (long long)n, bad, badh);
    CHECK(bad == 0 && badh == 0);
    free(x); free(got); free(gh);
    cp_free(c, &d32); cp_free(c, &d16); cp_free(c, &dh); cp_free(c, &back);
}

static void t_attention(cp_ctx *c, int64_t Nq, int64_t Nk, int H, int D, wm_dtype dt, int masked)
{
    int64_t C = (int64_t)H * D;
    float *q = cp_rand(c, (size_t)(Nq * C), 1.5f, dt), *k = cp_rand(c, (size_t)(Nk * C), 1.5f, dt);
    float *v = cp_rand(c, (size_t)(Nk * C), 1.0f, dt), *m = malloc((size_t)Nk * sizeof(float));
    float *ref = malloc((size_t)(Nq * C) * sizeof(float));
    uint8_t *mh = malloc((size_t)Nk);
    for (int64_t j = 0; j < Nk; j++) { mh[j] = !masked || (t_rng_u64(&c->rng) % 4) != 0 || j == 0; m[j] = mh[j]; }
    wm_tensor hq = cp_host2(q, Nq, C), hk = cp_host2(k, Nk, C), hv = cp_host2(v, Nk, C), ho = cp_host2(ref, Nq, C);
    int64_t ms = Nk;
    wm_tensor hm = wm_tensor_view(WM_U8, WM_DEVICE_CPU, mh, 1, &ms);
    float scale = 1.0f / sqrtf((float)D);
    CP_OK(c->cpu, wm_attention(c->cpu, &hq, &hk, &hv, masked ? &hm : NULL, H, scale, &ho));
    wm_tensor dq = cp_dev2(c, dt, q, Nq, C), dk = cp_dev2(c, dt, k, Nk, C), dv = cp_dev2(c, dt, v, Nk, C);
    wm_tensor dm = cp_dev(c, WM_U8, m, 1, &ms), dout = cp_dev2(c, dt, NULL, Nq, C);
    CP_OK(c->gpu, wm_attention(c->gpu, &dq, &dk, &dv, masked ? &dm : NULL, H, scale, &dout));
    float *got = cp_read(c, &dout);
    char label[96];
    snprintf(label, sizeof label, "attention q%lld k%lld %dx%d %s mask%d", (long long)Nq, (long long)Nk, H, D,
             wm_dtype_name(dt), masked);
    float tol = dt == WM_BF16 ? 1.5e-2f : 1e-4f;
    CHECK(cp_compare(label, got, ref, (size_t)(Nq * C), tol, tol, dt == WM_BF16 ? 1e-2 : 1e-4));
    free(q); free(k); free(v); free(m); free(mh); free(ref); free(got);
    cp_free(c, &dq); cp_free(c, &dk); cp_free(c, &dv); cp_free(c, &dm); cp_free(c, &dout);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) quick |= !strcmp(argv[i], "--quick");
    cp_ctx c;
    int rc = cp_init(&c, 0x5eed0001);
    if (rc) return rc;
    const wm_dtype dts[2] = {WM_BF16, WM_F32};

    /* matmul: odd sizes, every epilogue, bias dtypes, fp32 output, fp32 inputs, then DiT shapes. */
    t_matmul(&c, 7, 13, 5, WM_BF16, WM_BF16, 1, WM_BF16, WM_ACT_NONE);
    t_matmul(&c, 33, 64, 48, WM_BF16, WM_BF16, 1, WM_F32, WM_ACT_GELU_TANH);
    t_matmul(&c, 65, 96, 130, WM_BF16, WM_BF16, 1, WM_BF16, WM_ACT_SILU);
    t_matmul(&c, 65, 96, 130, WM_BF16, WM_BF16, 0, WM_BF16, WM_ACT_RELU);
    t_matmul(&c, 100, 256, 72, WM_BF16, WM_F32, 1, WM_F32, WM_ACT_NONE);
    t_matmul(&c, 31, 57, 19, WM_F32, WM_F32, 1, WM_F32, WM_ACT_SILU);
    t_matmul(&c, 880, 2240, 2240, WM_BF16, WM_BF16, 1, WM_BF16, WM_ACT_NONE);
    if (!quick) {
        t_matmul(&c, 880, 2240, 13440, WM_BF16, WM_BF16, 1, WM_BF16, WM_ACT_SILU);
        t_matmul(&c, 880, 6720, 2240, WM_BF16, WM_BF16, 0, WM_BF16, WM_ACT_NONE);
    }
    for (int d = 0; d < 2; d++) {
        t_rmsnorm(&c, 3, 7, dts[d], 1, 0);
        t_rmsnorm(&c, 17, 2240, dts[d], 1, 0);
        t_rmsnorm(&c, 880, 2240, dts[d], 0, 1);
        t_lnmod(&c, 5, 7, 2, dts[d], WM_F32);
        t_lnmod(&c, 2640, 2240, 880, dts[d], dts[d]);
        t_elementwise(&c, 5, 7, dts[d]);
        t_elementwise(&c, 2640, 2240, dts[d]);
    }
    t_convert(&c, 100003);

    /* attention: single key, odd sizes with mask, each tensor-core head dim, fallback paths, real shapes. */
    t_attention(&c, 1, 1, 1, 112, WM_BF16, 0);
    t_attention(&c, 77, 130, 3, 112, WM_BF16, 1);
    t_attention(&c, 200, 333, 2, 64, WM_BF16, 1);
    t_attention(&c, 65, 129, 2, 128, WM_BF16, 0);
    t_attention(&c, 50, 70, 2, 40, WM_BF16, 1);
    t_attention(&c, 50, 70, 2, 112, WM_F32, 1);
    t_attention(&c, 130, 300, 20, 112, WM_BF16, 1); /* cross-attention shape: 300 text keys, masked */
    if (!quick) t_attention(&c, 880, 8800, 4, 112, WM_BF16, 0); /* one frame vs the streaming window */

    cp_fini(&c);
    TEST_MAIN_END();
}
