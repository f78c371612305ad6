/* CPU reference common ops against plain double-precision loops on random inputs, over shapes that are
 * not multiples of the tile sizes. Tolerance: fp32, |d| <= 1e-5 + 1e-5*|ref| (rtol 1e-4 for long dot
 * products, whose fp32 summation order differs from the double oracle). Also checks the op-level
 * argument validation (shape/dtype errors are statuses, not crashes). */
#include "testing.h"
#include "kernels/ops.h"

#include <string.h>

static wm_backend *be;
static t_rng rng = {0x1234567u};

static wm_tensor mk(int ndim, int64_t d0, int64_t d1)
{
    int64_t s[2] = {d0, d1};
    wm_tensor t;
    WM_ASSERT(wm_tensor_alloc(WM_F32, ndim, s, &t) == WM_OK);
    t_fill_normal(&rng, t.data, (size_t)wm_tensor_numel(&t), 1.0f);
    return t;
}

static double act_d(wm_act a, double x)
{
    if (a == WM_ACT_SILU) return x / (1 + exp(-x));
    if (a == WM_ACT_GELU_TANH) return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    if (a == WM_ACT_RELU) return x > 0 ? x : 0;
    return x;
}

static void test_matmul(int64_t N, int64_t K, int64_t M, wm_act act, int with_bias)
{
    wm_tensor x = mk(2, N, K), w = mk(2, M, K), b = mk(1, M, 1), y = mk(2, N, M), r = mk(2, N, M);
    CHECK(wm_matmul(be, &x, &w, with_bias ? &b : NULL, act, &y) == WM_OK);
    float *X = x.data, *W = w.data, *B = b.data, *R = r.data;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < M; j++) {
            double s = with_bias ? B[j] : 0;
            for (int64_t k = 0; k < K; k++) s += (double)X[i * K + k] * W[j * K + k];
            R[i * M + j] = (float)act_d(act, s);
        }
    char label[64];
    snprintf(label, sizeof label, "matmul %lldx%lldx%lld act%d", (long long)N, (long long)K, (long long)M, act);
    CHECK(t_allclose(label, y.data, r.data, (size_t)(N * M), 1e-5f, 1e-4f));
    wm_tensor_free(&x); wm_tensor_free(&w); wm_tensor_free(&b); wm_tensor_free(&y); wm_tensor_free(&r);
}

static void test_norms(int64_t N, int64_t C)
{
    wm_tensor x = mk(2, N, C), w = mk(1, C, 1), y = mk(2, N, C), r = mk(2, N, C);
    float *X = x.data, *Wt = w.data, *R = r.data;
    CHECK(wm_rmsnorm(be, &x, &w, 1e-5f, &y) == WM_OK);
    for (int64_t i = 0; i < N; i++) {
        double ss = 0;
        for (int64_t c = 0; c < C; c++) ss += (double)X[i * C + c] * X[i * C + c];
        double inv = 1 / sqrt(ss / C + 1e-5);
        for (int64_t c = 0; c < C; c++) R[i * C + c] = (float)(X[i * C + c] * inv * Wt[c]);
    }
    CHECK(t_allclose("rmsnorm", y.data, r.data, (size_t)(N * C), 1e-5f, 1e-5f));

    int64_t rpg = 3, G = (N + rpg - 1) / rpg;
    wm_tensor sh = mk(2, G, C), sc = mk(2, G, C);
    float *SH = sh.data, *SC = sc.data;
    CHECK(wm_layernorm_modulate(be, &x, &sh, &sc, rpg, 1e-6f, &y) == WM_OK);
    for (int64_t i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int64_t c = 0; c < C; c++) m += X[i * C + c];
        m /= C;
        for (int64_t c = 0; c < C; c++) v += (X[i * C + c] - m) * (X[i * C + c] - m);
        v /= C;
        int64_t g = i / rpg;
        for (int64_t c = 0; c < C; c++)
            R[i * C + c] = (float)((X[i * C + c] - m) / sqrt(v + 1e-6) * (1 + SC[g * C + c]) + SH[g * C + c]);
    }
    CHECK(t_allclose("layernorm_modulate", y.data, r.data, (size_t)(N * C), 1e-5f, 1e-5f));

    /* gated_add: x += gate[g] * h */
    wm_tensor h = mk(2, N, C);
    memcpy(r.data, x.data, wm_tensor_nbytes(&x));
    CHECK(wm_gated_add(be, &x, &h, &sc, rpg) == WM_OK);
    float *H = h.data;
    for (int64_t i = 0; i < N; i++)
        for (int64_t c = 0; c < C; c++) R[i * C + c] += SC[(i / rpg) * C + c] * H[i * C + c];
    CHECK(t_allclose("gated_add", x.data, r.data, (size_t)(N * C), 1e-6f, 1e-6f));
    wm_tensor_free(&x); wm_tensor_free(&w); wm_tensor_free(&y); wm_tensor_free(&r);
    wm_tensor_free(&sh); wm_tensor_free(&sc); wm_tensor_free(&h);
}

static void test_attention(int64_t Nq, int64_t Nk, int H, int D, int masked)
{
    int64_t C = (int64_t)H * D;
    wm_tensor q = mk(2, Nq, C), k = mk(2, Nk, C), v = mk(2, Nk, C), o = mk(2, Nq, C), r = mk(2, Nq, C);
    int64_t ms[1] = {Nk};
    wm_tensor mask;
    WM_ASSERT(wm_tensor_alloc(WM_U8, 1, ms, &mask) == WM_OK);
    uint8_t *Mk = mask.data;
    for (int64_t j = 0; j < Nk; j++) Mk[j] = masked ? (j % 3 != 1) : 1;
    float scale = 1.0f / sqrtf((float)D);
    CHECK(wm_attention(be, &q, &k, &v, masked ? &mask : NULL, H, scale, &o) == WM_OK);
    float *Q = q.data, *K = k.data, *V = v.data, *R = r.data;
    double *s = malloc(sizeof(double) * (size_t)Nk);
    for (int64_t i = 0; i < Nq; i++)
        for (int h = 0; h < H; h++) {
            double mx = -1e300, l = 0;
            for (int64_t j = 0; j < Nk; j++) {
                double d = 0;
                for (int e = 0; e < D; e++) d += (double)Q[i * C + h * D + e] * K[j * C + h * D + e];
                s[j] = Mk[j] ? d * scale : -1e300;
                if (s[j] > mx) mx = s[j];
            }
            for (int64_t j = 0; j < Nk; j++) { s[j] = Mk[j] ? exp(s[j] - mx) : 0; l += s[j]; }
            for (int e = 0; e < D; e++) {
                double a = 0;
                for (int64_t j = 0; j < Nk; j++) a += s[j] * V[j * C + h * D + e];
                R[i * C + h * D + e] = (float)(a / l);
            }
        }
    free(s);
    char label[64];
    snprintf(label, sizeof label, "attention q%lld k%lld h%d d%d m%d", (long long)Nq, (long long)Nk, H, D, masked);
    CHECK(t_allclose(label, o.data, r.data, (size_t)(Nq * C), 1e-5f, 1e-4f));
    wm_tensor_free(&q); wm_tensor_free(&k); wm_tensor_free(&v); wm_tensor_free(&o); wm_tensor_free(&r);
    wm_tensor_free(&mask);
}

static void test_misc(void)
{
    wm_tensor a = mk(2, 7, 13), b = mk(2, 7, 13), y = mk(2, 7, 13);
    CHECK(wm_mul(be, &a, &b, &y) == WM_OK);
    int ok = 1;
    for (int i = 0; i < 91; i++) ok &= ((float *)y.data)[i] == ((float *)a.data)[i] * ((float *)b.data)[i];
    CHECK(ok);
    memcpy(y.data, a.data, wm_tensor_nbytes(&a));
    CHECK(wm_activate(be, &y, WM_ACT_RELU) == WM_OK);
    ok = 1;
    for (int i = 0; i < 91; i++) { float v = ((float *)a.data)[i]; ok &= ((float *)y.data)[i] == (v > 0 ? v : 0); }
    CHECK(ok);
    /* convert F32 -> BF16 -> F32 equals rounding each element through bf16 */
    int64_t s[2] = {7, 13};
    wm_tensor h;
    WM_ASSERT(wm_tensor_alloc(WM_BF16, 2, s, &h) == WM_OK);
    CHECK(wm_convert(be, &a, &h) == WM_OK && wm_convert(be, &h, &y) == WM_OK);
    ok = 1;
    for (int i = 0; i < 91; i++) ok &= ((float *)y.data)[i] == wm_round_bf16(((float *)a.data)[i]);
    CHECK(ok);
    /* validation: wrong shapes and dtypes give statuses naming the op */
    wm_tensor w_bad = mk(2, 5, 12);
    CHECK(wm_matmul(be, &a, &w_bad, NULL, WM_ACT_NONE, &y) == WM_ERR_SHAPE);
    CHECK(strstr(be->err.msg, "matmul") != NULL);
    CHECK(wm_rmsnorm(be, &h, NULL, 1e-5f, &y) == WM_ERR_DTYPE);
    CHECK(wm_matmul(be, &a, &a, NULL, WM_ACT_NONE, &a) != WM_OK);
    wm_tensor_free(&a); wm_tensor_free(&b); wm_tensor_free(&y); wm_tensor_free(&h); wm_tensor_free(&w_bad);
}

/* The dispatch calls the backend's op observer with each op's id before the op (the hook of
 * `wm bench dit --model --profile`), also for calls the op rejects; none once it is cleared. */
typedef struct { int n, last[4]; } seen_ops;
static void seen(void *ctx, int op)
{
    seen_ops *s = ctx;
    if (s->n < 4) s->last[s->n] = op;
    s->n++;
}

static void test_op_observer(void)
{
    seen_ops s = {0};
    wm_tensor x = mk(2, 3, 8), w = mk(1, 8, 1), y = mk(2, 3, 8), y2 = mk(2, 2, 8);
    be->op_observer = seen;
    be->op_observer_ctx = &s;
    CHECK(wm_rmsnorm(be, &x, &w, 1e-6f, &y) == WM_OK);
    CHECK(wm_activate(be, &y, WM_ACT_RELU) == WM_OK);
    CHECK(wm_rmsnorm(be, &x, &w, 1e-6f, &y2) == WM_ERR_SHAPE);
    be->op_observer = NULL;
    be->op_observer_ctx = NULL;
    CHECK(wm_activate(be, &y, WM_ACT_RELU) == WM_OK);
    CHECK(s.n == 3 && s.last[0] == WM_OP_rmsnorm && s.last[1] == WM_OP_activate && s.last[2] == WM_OP_rmsnorm);
    CHECK(!strcmp(wm_op_name(WM_OP_matmul), "matmul") && !strcmp(wm_op_name(WM_OP_gdn_scan_fr), "gdn_scan_fr"));
    CHECK(!strcmp(wm_op_name(-1), "?") && !strcmp(wm_op_name(WM_OP_COUNT), "?"));
    wm_tensor_free(&x), wm_tensor_free(&w), wm_tensor_free(&y), wm_tensor_free(&y2);
}

int main(void)
{
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 3;
    wm_error err = {0};
    WM_ASSERT(wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) == WM_OK);
    test_matmul(1, 1, 1, WM_ACT_NONE, 0);
    test_matmul(7, 37, 5, WM_ACT_NONE, 1);
    test_matmul(33, 224, 67, WM_ACT_SILU, 1);
    test_matmul(9, 100, 31, WM_ACT_GELU_TANH, 1);
    test_matmul(64, 130, 17, WM_ACT_RELU, 0);
    test_norms(1, 5);
    test_norms(29, 224);
    test_attention(1, 1, 1, 8, 0);
    test_attention(13, 29, 2, 112, 0);
    test_attention(11, 40, 3, 16, 1);
    test_misc();
    test_op_observer();
    wm_backend_free(be);
    TEST_MAIN_END();
}
