/* Gemma ops (kernels/ops_text.def) on the CPU backend against naive loops written from the formulas:
 * rope_half against explicit rotation of (x[i], x[i + D/2]) with angles pos * theta^(-2i/D), in place
 * and out of place; attention_gqa against a dense masked softmax (causal, key mask, sliding window,
 * soft-cap, GQA head mapping) over several shapes including the real Gemma head size (256, 8/4 heads);
 * embed_rows against a direct gather * scale (exact), with an out-of-range id giving a zero row;
 * qkv_rope_split against rope_half on the q and k column blocks plus a copy of v (exact: same formula),
 * gelu_mul against matmul's GELU epilogue followed by mul (exact); norm_add_norm against rmsnorm +
 * gated_add + rmsnorm (exact), with y aliasing a as wm/text calls it.
 * Tolerance: fp32 outputs vs double references, |d| <= 1e-5 + 1e-4 |ref|.
 * The shared shape contracts (kernels/text_shapes.c, also called by the CUDA kernels) reject every kind
 * of bad call with the expected status and a message naming the op.
 */
#include "kernels/ops.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static wm_backend *be;

static void test_rope(int N, int H, int D, int inplace)
{
    t_rng r = {42 + (uint64_t)N};
    int C = H * D, half = D / 2;
    float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N * C), *ref = malloc(sizeof(float) * N * C);
    float *cs = malloc(sizeof(float) * N * half), *sn = malloc(sizeof(float) * N * half);
    t_fill_normal(&r, x, (size_t)N * C, 1.0f);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < half; i++) {
            double a = n * pow(10000.0, -2.0 * i / D);
            cs[n * half + i] = (float)cos(a);
            sn[n * half + i] = (float)sin(a);
        }
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < half; i++) {
                double a = n * pow(10000.0, -2.0 * i / D), x1 = x[n * C + h * D + i], x2 = x[n * C + h * D + i + half];
                ref[n * C + h * D + i] = (float)(x1 * cos(a) - x2 * sin(a));
                ref[n * C + h * D + i + half] = (float)(x2 * cos(a) + x1 * sin(a));
            }
    wm_tensor tx = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, x, 2, N, C, 0, 0);
    wm_tensor ty = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, inplace ? x : y, 2, N, C, 0, 0);
    wm_tensor tc = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, cs, 2, N, half, 0, 0);
    wm_tensor ts = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, sn, 2, N, half, 0, 0);
    CHECK(wm_rope_half(be, &tx, &tc, &ts, H, &ty) == WM_OK);
    char label[64];
    snprintf(label, sizeof label, "rope_half N%d H%d D%d%s", N, H, D, inplace ? " inplace" : "");
    CHECK(t_allclose(label, inplace ? x : y, ref, (size_t)N * C, 1e-5f, 1e-4f));
    /* shape errors are reported, not crashed on */
    CHECK(wm_rope_half(be, &tx, &tc, &ts, H == 1 ? 3 : H + 1, &ty) == WM_ERR_SHAPE || C % (H + 1) == 0);
    free(x); free(y); free(ref); free(cs); free(sn);
}

static void dense_ref(const float *q, const float *k, const float *v, const uint8_t *mask, int N, int H, int Hk,
                      int D, double scale, double cap, int window, float *o)
{
    double *p = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++)
        for (int h = 0; h < H; h++) {
            int hk = h / (H / Hk);
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < N; j++) {
                int ok = j <= i && (!mask || mask[j]) && (window <= 0 || i - j < window);
                double s = 0;
                for (int d = 0; d < D; d++) s += (double)q[i * H * D + h * D + d] * k[j * Hk * D + hk * D + d];
                s *= scale;
                if (cap > 0) s = cap * tanh(s / cap);
                p[j] = ok ? s : -INFINITY;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j < N; j++) { p[j] = p[j] == -INFINITY ? 0 : exp(p[j] - mx); sum += p[j]; }
            for (int d = 0; d < D; d++) {
                double a = 0;
                for (int j = 0; j < N; j++) a += p[j] * v[j * Hk * D + hk * D + d];
                o[i * H * D + h * D + d] = sum > 0 ? (float)(a / sum) : 0.0f;
            }
        }
    free(p);
}

static void test_attn(int N, int H, int Hk, int D, float cap, int window, int use_mask, float qscale)
{
    t_rng r = {7 + (uint64_t)(N * 31 + H + window)};
    size_t nq = (size_t)N * H * D, nk = (size_t)N * Hk * D;
    float *q = malloc(4 * nq), *k = malloc(4 * nk), *v = malloc(4 * nk), *o = malloc(4 * nq), *ref = malloc(4 * nq);
    uint8_t *mask = malloc((size_t)N);
    t_fill_normal(&r, q, nq, qscale);
    t_fill_normal(&r, k, nk, 1.0f);
    t_fill_normal(&r, v, nk, 1.0f);
    for (int j = 0; j < N; j++) mask[j] = use_mask ? (j == 0 || t_rng_uniform(&r) > 0.3f) : 1;
    if (use_mask && N > 4) for (int j = N - 3; j < N; j++) mask[j] = 0; /* right padding */
    float scale = 1.0f / sqrtf((float)D);
    dense_ref(q, k, v, use_mask ? mask : NULL, N, H, Hk, D, scale, cap, window, ref);
    wm_tensor tq = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, q, 2, N, H * D, 0, 0);
    wm_tensor tk = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, k, 2, N, Hk * D, 0, 0);
    wm_tensor tv = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, v, 2, N, Hk * D, 0, 0);
    wm_tensor to = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, o, 2, N, H * D, 0, 0);
    wm_tensor tm = wm_tensor_view4(WM_U8, WM_DEVICE_CPU, mask, 1, N, 0, 0, 0);
    CHECK(wm_attention_gqa(be, &tq, &tk, &tv, use_mask ? &tm : NULL, H, Hk, scale, cap, window, &to) == WM_OK);
    char label[96];
    snprintf(label, sizeof label, "attn_gqa N%d H%d/%d D%d cap%g win%d mask%d", N, H, Hk, D, cap, window, use_mask);
    CHECK(t_allclose(label, o, ref, nq, 1e-5f, 1e-4f));
    CHECK(wm_attention_gqa(be, &tq, &tk, &tv, NULL, 3, 2, scale, cap, window, &to) == WM_ERR_SHAPE);
    free(q); free(k); free(v); free(o); free(ref); free(mask);
}

static void test_embed_rows(void)
{
    enum { R = 11, C = 7, T = 5 };
    t_rng r = {99};
    float table[R * C], x[T * C], ref[T * C];
    int32_t ids[T] = {3, 0, 10, 3, 11}; /* 11 is out of range: a zero row */
    t_fill_normal(&r, table, R * C, 1.0f);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++) ref[t * C + i] = ids[t] < R ? table[ids[t] * C + i] * 48.0f : 0.0f;
    wm_tensor tt = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, table, 2, R, C, 0, 0);
    wm_tensor ti = wm_tensor_view4(WM_I32, WM_DEVICE_CPU, ids, 1, T, 0, 0, 0);
    wm_tensor tx = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, x, 2, T, C, 0, 0);
    memset(x, 0xFF, sizeof x);
    CHECK(wm_embed_rows(be, &tt, &ti, 48.0f, &tx) == WM_OK);
    CHECK(t_allclose("embed_rows", x, ref, T * C, 0.0f, 0.0f));
}

/* The fused forms equal the separate ops bit for bit. */
static void test_fused(int N, int H, int Hk, int D)
{
    t_rng r = {5 + (uint64_t)N};
    int Cq = H * D, Ck = Hk * D, C = Cq + 2 * Ck, half = D / 2, F = 13;
    float *qkv = malloc(sizeof(float) * N * C), *q = malloc(sizeof(float) * N * Cq), *k = malloc(sizeof(float) * N * Ck);
    float *v = malloc(sizeof(float) * N * Ck), *rq = malloc(sizeof(float) * N * Cq), *rk = malloc(sizeof(float) * N * Ck);
    float *rv = malloc(sizeof(float) * N * Ck), *cs = malloc(sizeof(float) * N * half), *sn = malloc(sizeof(float) * N * half);
    t_fill_normal(&r, qkv, (size_t)N * C, 1.0f);
    t_fill_normal(&r, cs, (size_t)N * half, 1.0f);
    t_fill_normal(&r, sn, (size_t)N * half, 1.0f);
    for (int n = 0; n < N; n++) {
        memcpy(rq + n * Cq, qkv + n * C, sizeof(float) * Cq);
        memcpy(rk + n * Ck, qkv + n * C + Cq, sizeof(float) * Ck);
        memcpy(rv + n * Ck, qkv + n * C + Cq + Ck, sizeof(float) * Ck);
    }
    wm_tensor tqkv = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, qkv, 2, N, C, 0, 0);
    wm_tensor tq = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, q, 2, N, Cq, 0, 0), trq = tq;
    wm_tensor tk = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, k, 2, N, Ck, 0, 0), trk = tk;
    wm_tensor tv = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, v, 2, N, Ck, 0, 0);
    wm_tensor tc = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, cs, 2, N, half, 0, 0);
    wm_tensor ts = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, sn, 2, N, half, 0, 0);
    trq.data = rq;
    trk.data = rk;
    CHECK(wm_rope_half(be, &trq, &tc, &ts, H, &trq) == WM_OK && wm_rope_half(be, &trk, &tc, &ts, Hk, &trk) == WM_OK);
    CHECK(wm_qkv_rope_split(be, &tqkv, &tc, &ts, H, Hk, &tq, &tk, &tv) == WM_OK);
    char label[96];
    snprintf(label, sizeof label, "qkv_rope_split N%d H%d/%d D%d q", N, H, Hk, D);
    CHECK(t_allclose(label, q, rq, (size_t)N * Cq, 0.0f, 0.0f));
    label[strlen(label) - 1] = 'k';
    CHECK(t_allclose(label, k, rk, (size_t)N * Ck, 0.0f, 0.0f));
    label[strlen(label) - 1] = 'v';
    CHECK(t_allclose(label, v, rv, (size_t)N * Ck, 0.0f, 0.0f));
    /* gelu_mul vs matmul(GELU epilogue) . mul, with an identity weight so the matmul is exact */
    float *gu = malloc(sizeof(float) * N * 2 * F), *f = malloc(sizeof(float) * N * F), *eye = calloc((size_t)F * F, 4);
    float *g1 = malloc(sizeof(float) * N * F), *u = malloc(sizeof(float) * N * F), *g0 = malloc(sizeof(float) * N * F);
    t_fill_normal(&r, gu, (size_t)N * 2 * F, 2.0f);
    for (int i = 0; i < F; i++) eye[i * F + i] = 1.0f;
    for (int n = 0; n < N; n++) {
        memcpy(g0 + n * F, gu + n * 2 * F, sizeof(float) * F);
        memcpy(u + n * F, gu + n * 2 * F + F, sizeof(float) * F);
    }
    wm_tensor tgu = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, gu, 2, N, 2 * F, 0, 0);
    wm_tensor tf = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, f, 2, N, F, 0, 0), tg0 = tf, tg1 = tf, tu = tf;
    wm_tensor te = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, eye, 2, F, F, 0, 0);
    tg0.data = g0; tg1.data = g1; tu.data = u;
    CHECK(wm_matmul(be, &tg0, &te, NULL, WM_ACT_GELU_TANH, &tg1) == WM_OK && wm_mul(be, &tg1, &tu, &tg1) == WM_OK);
    CHECK(wm_gelu_mul(be, &tgu, &tf) == WM_OK);
    snprintf(label, sizeof label, "gelu_mul N%d F%d", N, F);
    CHECK(t_allclose(label, f, g1, (size_t)N * F, 0.0f, 0.0f));
    free(qkv); free(q); free(k); free(v); free(rq); free(rk); free(rv); free(cs); free(sn);
    free(gu); free(f); free(eye); free(g1); free(u); free(g0);
}

static void test_norm_add_norm(int N, int C)
{
    t_rng r = {77 + (uint64_t)C};
    size_t n = (size_t)N * C;
    float *x = malloc(4 * n), *a = malloc(4 * n), *x2 = malloc(4 * n), *a2 = malloc(4 * n), *w1 = malloc(4 * (size_t)C);
    float *w2 = malloc(4 * (size_t)C);
    t_fill_normal(&r, x, n, 3.0f);
    t_fill_normal(&r, a, n, 0.5f);
    t_fill_normal(&r, w1, (size_t)C, 1.0f);
    t_fill_normal(&r, w2, (size_t)C, 1.0f);
    memcpy(x2, x, 4 * n);
    memcpy(a2, a, 4 * n);
    wm_tensor tx = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, x, 2, N, C, 0, 0), ta = tx, tx2 = tx, ta2 = tx;
    wm_tensor tw1 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, w1, 1, C, 0, 0, 0), tw2 = tw1;
    ta.data = a; tx2.data = x2; ta2.data = a2; tw2.data = w2;
    /* separate ops, as the unfused forward runs them */
    CHECK(wm_rmsnorm(be, &ta2, &tw1, 1e-6f, &ta2) == WM_OK && wm_gated_add(be, &tx2, &ta2, NULL, N) == WM_OK &&
          wm_rmsnorm(be, &tx2, &tw2, 1e-6f, &ta2) == WM_OK);
    CHECK(wm_norm_add_norm(be, &tx, &ta, &tw1, &tw2, 1e-6f, &ta) == WM_OK); /* y aliases a */
    char label[64];
    snprintf(label, sizeof label, "norm_add_norm N%d C%d x", N, C);
    CHECK(t_allclose(label, x, x2, n, 0.0f, 0.0f));
    snprintf(label, sizeof label, "norm_add_norm N%d C%d y", N, C);
    CHECK(t_allclose(label, a, a2, n, 0.0f, 0.0f));
    free(x); free(a); free(x2); free(a2); free(w1); free(w2);
}

/* Every rejection of the shared contracts: status and a message naming the op. */
static int rejects(wm_status got, wm_status want, const char *op)
{
    int ok = got == want && strstr(be->err.msg, op) != NULL;
    if (!ok) fprintf(stderr, "  expected %s from %s, got %s: %s\n", wm_status_str(want), op, wm_status_str(got), be->err.msg);
    return ok;
}

static float buf[6][4096];
static uint8_t m8[16];
static int32_t i32[16];

static void contracts_rope(void)
{
    /* rope: x (4, 3*8), cos/sin (4, 4) */
    wm_tensor x = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 4, 24, 0, 0);
    wm_tensor y = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 4, 24, 0, 0);
    wm_tensor y2 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 4, 20, 0, 0);
    wm_tensor cs = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[2], 2, 4, 4, 0, 0);
    wm_tensor cs3 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[2], 2, 4, 3, 0, 0);
    CHECK(wm_rope_half(be, &x, &cs, &cs, 3, &y) == WM_OK);
    CHECK(rejects(wm_rope_half(be, &x, &cs, &cs, 5, &y), WM_ERR_SHAPE, "rope_half"));  /* 24 % 5 */
    CHECK(rejects(wm_rope_half(be, &x, &cs, &cs, 8, &y), WM_ERR_SHAPE, "rope_half"));  /* head dim 3, odd */
    CHECK(rejects(wm_rope_half(be, &x, &cs, &cs, 0, &y), WM_ERR_SHAPE, "rope_half"));
    CHECK(rejects(wm_rope_half(be, &x, &cs, &cs, 3, &y2), WM_ERR_SHAPE, "rope_half"));
    CHECK(rejects(wm_rope_half(be, &x, &cs3, &cs, 3, &y), WM_ERR_SHAPE, "rope_half"));
    CHECK(rejects(wm_rope_half(be, &x, &cs, &cs3, 3, &y), WM_ERR_SHAPE, "rope_half"));
}

static void contracts_attention(void)
{
    /* attention: q, o (6, 4*8); k, v (6, 2*8); mask (6) */
    wm_tensor q = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 32, 0, 0);
    wm_tensor k = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 6, 16, 0, 0);
    wm_tensor v = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[2], 2, 6, 16, 0, 0);
    wm_tensor o = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[3], 2, 6, 32, 0, 0);
    wm_tensor k5 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 5, 16, 0, 0);
    wm_tensor v24 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[2], 2, 6, 24, 0, 0);
    wm_tensor o5 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[3], 2, 5, 32, 0, 0);
    wm_tensor mk = wm_tensor_view4(WM_U8, WM_DEVICE_CPU, m8, 1, 6, 0, 0, 0);
    wm_tensor mk5 = wm_tensor_view4(WM_U8, WM_DEVICE_CPU, m8, 1, 5, 0, 0, 0);
    wm_tensor mkf = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[4], 1, 6, 0, 0, 0);
    memset(m8, 1, sizeof m8);
    CHECK(wm_attention_gqa(be, &q, &k, &v, &mk, 4, 2, 0.3f, 5.0f, 2, &o) == WM_OK);
    CHECK(rejects(wm_attention_gqa(be, &q, &k, &v, &mk, 4, 3, 0.3f, 5.0f, 2, &o), WM_ERR_SHAPE, "attention_gqa"));
    CHECK(rejects(wm_attention_gqa(be, &q, &k, &v, &mk, 0, 1, 0.3f, 5.0f, 2, &o), WM_ERR_SHAPE, "attention_gqa"));
    CHECK(rejects(wm_attention_gqa(be, &q, &k5, &v, &mk, 4, 2, 0.3f, 5.0f, 2, &o), WM_ERR_SHAPE, "attention_gqa"));
    CHECK(rejects(wm_attention_gqa(be, &q, &k, &v24, &mk, 4, 2, 0.3f, 5.0f, 2, &o), WM_ERR_SHAPE, "attention_gqa"));
    CHECK(rejects(wm_attention_gqa(be, &q, &k, &v, &mk, 4, 2, 0.3f, 5.0f, 2, &o5), WM_ERR_SHAPE, "attention_gqa"));
    CHECK(rejects(wm_attention_gqa(be, &q, &k, &v, &mk, 4, 2, 0.3f, 5.0f, 2, &q), WM_ERR_INVALID_ARG, "attention_gqa"));
    CHECK(rejects(wm_attention_gqa(be, &q, &k, &v, &mkf, 4, 2, 0.3f, 5.0f, 2, &o), WM_ERR_DTYPE, "attention_gqa"));
    CHECK(rejects(wm_attention_gqa(be, &q, &k, &v, &mk5, 4, 2, 0.3f, 5.0f, 2, &o), WM_ERR_SHAPE, "attention_gqa"));
}

static void contracts_embed_qkv(void)
{
    /* embed_rows: table (8, 16), ids (6), x (6, 16) */
    wm_tensor tab = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 8, 16, 0, 0);
    wm_tensor tab1 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 1, 128, 0, 0, 0);
    wm_tensor ids = wm_tensor_view4(WM_I32, WM_DEVICE_CPU, i32, 1, 6, 0, 0, 0);
    wm_tensor idf = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[4], 1, 6, 0, 0, 0);
    wm_tensor ex = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[5], 2, 6, 16, 0, 0);
    wm_tensor ex15 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[5], 2, 6, 15, 0, 0);
    wm_tensor ex5 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[5], 2, 5, 16, 0, 0);
    wm_tensor exa = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 16, 0, 0);
    CHECK(wm_embed_rows(be, &tab, &ids, 2.0f, &ex) == WM_OK);
    CHECK(rejects(wm_embed_rows(be, &tab, &idf, 2.0f, &ex), WM_ERR_DTYPE, "embed_rows"));
    CHECK(rejects(wm_embed_rows(be, &tab1, &ids, 2.0f, &ex), WM_ERR_SHAPE, "embed_rows"));
    CHECK(rejects(wm_embed_rows(be, &tab, &ids, 2.0f, &ex15), WM_ERR_SHAPE, "embed_rows"));
    CHECK(rejects(wm_embed_rows(be, &tab, &ids, 2.0f, &ex5), WM_ERR_SHAPE, "embed_rows"));
    CHECK(rejects(wm_embed_rows(be, &tab, &ids, 2.0f, &exa), WM_ERR_INVALID_ARG, "embed_rows"));
    /* qkv_rope_split: qkv (6, (4 + 2*2) * 8), q (6, 32), k, v (6, 16), cos/sin (6, 4) */
    wm_tensor qkv = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 64, 0, 0);
    wm_tensor qkv60 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 60, 0, 0);
    wm_tensor c4 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[4], 2, 6, 4, 0, 0);
    wm_tensor q2 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[3], 2, 6, 32, 0, 0);
    wm_tensor k2 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 6, 16, 0, 0);
    wm_tensor v2 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[2], 2, 6, 16, 0, 0);
    wm_tensor v2a = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 6, 16, 0, 0);
    CHECK(wm_qkv_rope_split(be, &qkv, &c4, &c4, 4, 2, &q2, &k2, &v2) == WM_OK);
    CHECK(rejects(wm_qkv_rope_split(be, &qkv60, &c4, &c4, 4, 2, &q2, &k2, &v2), WM_ERR_SHAPE, "qkv_rope_split"));
    CHECK(rejects(wm_qkv_rope_split(be, &qkv, &c4, &c4, 2, 3, &q2, &k2, &v2), WM_ERR_SHAPE, "qkv_rope_split"));
    CHECK(rejects(wm_qkv_rope_split(be, &qkv, &c4, &c4, 4, 2, &k2, &k2, &v2), WM_ERR_SHAPE, "qkv_rope_split"));
    CHECK(rejects(wm_qkv_rope_split(be, &qkv, &c4, &c4, 4, 2, &q2, &k2, &q2), WM_ERR_SHAPE, "qkv_rope_split"));
    wm_tensor cs3 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[2], 2, 4, 3, 0, 0);
    CHECK(rejects(wm_qkv_rope_split(be, &qkv, &cs3, &c4, 4, 2, &q2, &k2, &v2), WM_ERR_SHAPE, "qkv_rope_split"));
    CHECK(rejects(wm_qkv_rope_split(be, &qkv, &c4, &c4, 4, 2, &q2, &k2, &v2a), WM_ERR_INVALID_ARG, "qkv_rope_split"));
}

static void contracts_mlp_norm(void)
{
    /* gelu_mul: gu (6, 32), f (6, 16) */
    wm_tensor gu = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 32, 0, 0);
    wm_tensor gu31 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 31, 0, 0);
    wm_tensor f16 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 6, 16, 0, 0);
    wm_tensor f15 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 6, 15, 0, 0);
    wm_tensor f5 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 5, 16, 0, 0);
    wm_tensor fa = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 16, 0, 0);
    CHECK(wm_gelu_mul(be, &gu, &f16) == WM_OK);
    CHECK(rejects(wm_gelu_mul(be, &gu31, &f16), WM_ERR_SHAPE, "gelu_mul"));
    CHECK(rejects(wm_gelu_mul(be, &gu, &f15), WM_ERR_SHAPE, "gelu_mul"));
    CHECK(rejects(wm_gelu_mul(be, &gu, &f5), WM_ERR_SHAPE, "gelu_mul"));
    CHECK(rejects(wm_gelu_mul(be, &gu, &fa), WM_ERR_INVALID_ARG, "gelu_mul"));
    /* norm_add_norm: x, a, y (6, 16); w (16) */
    wm_tensor nx = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[0], 2, 6, 16, 0, 0);
    wm_tensor na = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 6, 16, 0, 0);
    wm_tensor na15 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[1], 2, 6, 15, 0, 0);
    wm_tensor ny5 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[2], 2, 5, 16, 0, 0);
    wm_tensor nw = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[3], 1, 16, 0, 0, 0);
    wm_tensor nw15 = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, buf[3], 1, 15, 0, 0, 0);
    CHECK(wm_norm_add_norm(be, &nx, &na, &nw, &nw, 1e-6f, &na) == WM_OK);
    CHECK(rejects(wm_norm_add_norm(be, &nx, &na15, &nw, &nw, 1e-6f, &na), WM_ERR_SHAPE, "norm_add_norm"));
    CHECK(rejects(wm_norm_add_norm(be, &nx, &na, &nw, &nw, 1e-6f, &ny5), WM_ERR_SHAPE, "norm_add_norm"));
    CHECK(rejects(wm_norm_add_norm(be, &nx, &na, &nw15, &nw, 1e-6f, &na), WM_ERR_SHAPE, "norm_add_norm"));
    CHECK(rejects(wm_norm_add_norm(be, &nx, &na, &nw, &nw15, 1e-6f, &na), WM_ERR_SHAPE, "norm_add_norm"));
    CHECK(rejects(wm_norm_add_norm(be, &nx, &nx, &nw, &nw, 1e-6f, &na), WM_ERR_INVALID_ARG, "norm_add_norm"));
    CHECK(rejects(wm_norm_add_norm(be, &nx, &na, &nw, &nw, 1e-6f, &nx), WM_ERR_INVALID_ARG, "norm_add_norm"));
}

static void test_contracts(void)
{
    contracts_rope();
    contracts_attention();
    contracts_embed_qkv();
    contracts_mlp_norm();
}

int main(void)
{
    wm_error err = {0};
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
    test_rope(7, 4, 16, 0);
    test_rope(33, 8, 256, 1);
    test_rope(1, 1, 2, 0);
    test_attn(1, 1, 1, 8, 0, 0, 0, 1.0f);
    test_attn(24, 4, 2, 16, 50.0f, 0, 1, 1.0f);
    test_attn(24, 4, 2, 16, 2.0f, 8, 1, 4.0f);   /* cap and window both active */
    test_attn(37, 4, 4, 12, 0, 5, 0, 2.0f);      /* MHA, no cap, window */
    test_attn(40, 8, 4, 256, 50.0f, 4096, 1, 8.0f); /* the real Gemma head layout */
    test_attn(19, 6, 1, 20, 5.0f, 1, 1, 1.0f);   /* MQA, window 1 = only self */
    test_embed_rows();
    test_fused(5, 3, 1, 8);
    test_fused(33, 8, 4, 256);
    test_norm_add_norm(7, 64);
    test_norm_add_norm(3, 2304);
    test_contracts();
    wm_backend_free(be);
    TEST_MAIN_END();
}
