/* Parity of the fused DiT CUDA ops (dit_qk_prep, matmul_add, mul_silu, depthwise3x3_silu_glu, gated_add_proj;
 * kernels/cuda/dit_fused.cu and matmul.cu) against their fp32 CPU references (which
 * tests/dit/test_dit_fused.c proves bit-identical to the unfused op sequences).
 *
 * Shapes: the real stage-1 chunk (2640 tokens = 3 frames x 880, 20 heads x 112 = 2240 channels; GEMMs
 * 2640x2240 -> 2240 with bias, in place, and 880x6720 -> 2240 as the t_conv GEMM), odd ones (37 tokens,
 * 3 heads of 16; 19 tokens x 3 heads of 10 = 30 channels, which takes the scalar path; a 7x13 -> 5 GEMM;
 * 407-element gates; depthwise grids 5x6 / 7x9 with partial row bands and column runs, M = 24 / 7 for
 * the generic kernel; the real 3 x 22x40 grid with M = 6720), bf16 and fp32. Also the register-row
 * rmsnorm / layernorm_modulate of norms.cu (C = 64, 40, 2240, 12000: one and two vectors per thread),
 * and matmul_batched (q|k|v in one strided-batched GEMM, 3 x 2640x2240->2240 with and without bias). Every combination of dit_qk_prep the forward uses, in place and
 * out of place, with y_pre = x and a separate y_pre. Outputs that are not also inputs are poisoned (NaN)
 * before each run; NaN fails. Tolerance: bf16 outputs 1e-2 elementwise (relative, plus 1e-2 x RMS(ref)
 * absolute) and 5e-3 relative L2; fp32 outputs 1e-4 (rsqrtf / summation order). Exit 77 without a GPU.
 */
#include "cuda_parity.h"

#include <math.h>

static cp_ctx C_;
static cp_ctx *c = &C_;

typedef cp_tensor tp; /* h: host values (inputs: what the device holds), ht its view, dt the device copy */

static tp mk(wm_dtype dt, float scale, int64_t r, int64_t cols)
{
    int64_t sh[2] = {r, cols};
    return cp_tensor_make(c, dt, dt, scale, 2, sh);
}

static void upd(tp *t) { cp_tensor_upload(c, t); }
static void rel(tp *t) { cp_tensor_free(c, t); }

static float *hcopy(const tp *t)
{
    size_t n = (size_t)wm_tensor_numel(&t->ht);
    float *p = malloc(n * sizeof *p);
    memcpy(p, t->h, n * sizeof *p);
    return p;
}

/* Device tensor d against the host reference ref (n values); bf16 tolerances when d is bf16. */
static void cmp(const char *label, const wm_tensor *d, const float *ref)
{
    size_t n = (size_t)wm_tensor_numel(d);
    float *got = cp_read(c, d);
    double r2 = 0;
    for (size_t i = 0; i < n; i++) r2 += (double)ref[i] * ref[i];
    float rms = n ? (float)sqrt(r2 / n) : 0.0f, tol = d->dtype == WM_BF16 ? 1e-2f : 1e-4f;
    CHECK(cp_compare(label, got, ref, n, tol * rms + 1e-6f, tol, d->dtype == WM_BF16 ? 5e-3 : 1e-4));
    free(got);
}

typedef struct {
    const char *name;
    int norm, relu, ucpe, tr, cam, conj, pre; /* pre: 0 none, 1 y_pre = x, 2 separate y_pre */
    int inplace;                               /* y = x */
} qk_case;

typedef struct { int64_t N; int H, D; wm_dtype dt; const char *name; } qk_shape;

static void qk_run(const qk_case *k, const qk_shape *s)
{
    int64_t N = s->N, D = s->D, C = (int64_t)s->H * D, P = k->cam ? D / 4 : D / 2;
    int off = k->cam ? (int)D / 2 : 0;
    tp x = mk(s->dt, 1.5f, N, C), w = mk(WM_F32, 0.3f, 1, C), M = mk(WM_F32, 0.6f, N, 16);
    tp cs = mk(WM_F32, 1.0f, N, P), sn = mk(WM_F32, 1.0f, N, P);
    for (int64_t i = 0; i < C; i++) w.h[i] += 1.0f;
    for (int64_t i = 0; i < N * P; i++) {
        float a = cs.h[i] * 3.0f;
        cs.h[i] = cosf(a), sn.h[i] = sinf(a);
    }
    upd(&w), upd(&cs), upd(&sn);
    /* CPU reference on host copies */
    float *xc = hcopy(&x), *yc = calloc((size_t)(N * C), sizeof(float)), *pc = calloc((size_t)(N * C), sizeof(float));
    wm_tensor xh = cp_host2(xc, N, C), yh = cp_host2(yc, N, C), ph = cp_host2(pc, N, C);
    wm_tensor *yH = k->inplace ? &xh : &yh, *pH = k->pre == 1 ? &xh : k->pre == 2 ? &ph : NULL;
    CP_OK(c->cpu, wm_dit_qk_prep(c->cpu, &xh, k->norm ? &w.ht : NULL, 1e-6f, k->relu, k->ucpe ? &M.ht : NULL, k->tr,
                                 &cs.ht, &sn.ht, s->H, off, k->conj, yH, pH));
    /* GPU: separate outputs poisoned */
    tp yd = mk(s->dt, -1.0f, N, C), pd = mk(s->dt, -1.0f, N, C);
    wm_tensor *yD = k->inplace ? &x.dt : &yd.dt, *pD = k->pre == 1 ? &x.dt : k->pre == 2 ? &pd.dt : NULL;
    CP_OK(c->gpu, wm_dit_qk_prep(c->gpu, &x.dt, k->norm ? &w.dt : NULL, 1e-6f, k->relu, k->ucpe ? &M.dt : NULL, k->tr,
                                 &cs.dt, &sn.dt, s->H, off, k->conj, yD, pD));
    char l[160];
    snprintf(l, sizeof l, "%s: qk_prep %s y", s->name, k->name);
    cmp(l, yD, yH->data);
    if (pD) {
        snprintf(l, sizeof l, "%s: qk_prep %s y_pre", s->name, k->name);
        cmp(l, pD, pH->data);
    }
    free(xc), free(yc), free(pc);
    rel(&x), rel(&w), rel(&M), rel(&cs), rel(&sn), rel(&yd), rel(&pd);
}

static void t_qk_prep(int quick)
{
    static const qk_case cases[] = {
        {"gdn-main(norm,relu,rope,y_pre=x)", 1, 1, 0, 0, 0, 0, 1, 0},
        {"gdn-cam-q(norm,relu,ucpeT,rope,in-place)", 1, 1, 1, 1, 1, 0, 0, 1},
        {"gdn-cam-k(norm,relu,y_pre,ucpe,rope,in-place)", 1, 1, 1, 0, 1, 0, 2, 1},
        {"cam-v(ucpe,rope)", 0, 0, 1, 0, 1, 0, 0, 1},
        {"cam-out(ucpe,conj-rope)", 0, 0, 1, 0, 1, 1, 0, 1},
        {"softmax-main(norm,rope)", 1, 0, 0, 0, 0, 0, 0, 1},
        {"softmax-cam(norm,ucpeT,rope)", 1, 0, 1, 1, 1, 0, 0, 1},
        {"out-of-place(norm,relu,y_pre,ucpe,rope)", 1, 1, 1, 0, 1, 0, 2, 0},
    };
    static const qk_shape shapes[] = {
        {37, 3, 16, WM_BF16, "odd-bf16"},
        {37, 3, 16, WM_F32, "odd-f32"},
        {19, 3, 10, WM_BF16, "scalar-bf16"}, /* 30 channels: VEC = 1, no UCPE (D % 8) */
        {21, 4, 10, WM_BF16, "block-vec8-bf16"}, /* 40 channels, D % 8 != 0: the block-per-row kernel, 8-wide */
        {37, 20, 112, WM_BF16, "rows-2240-bf16"}, /* the row kernel (9 vectors per lane), a partial last block */
        {37, 18, 120, WM_BF16, "rows-2160-bf16"}, /* row kernel with 256 % D != 0, UCPE half across a vector;
                                                   * camera tables (P % 4 != 0) take the warp kernel */
        {2640, 20, 112, WM_BF16, "real-bf16"},
    };
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        if (quick && shapes[si].N > 100) continue;
        for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
            if (cases[ci].ucpe && shapes[si].D % 8) continue;
            qk_run(&cases[ci], &shapes[si]);
        }
    }
}

/* y = x w^T + b + res: in place (res = y) or not, with / without bias. */
static void mma_run(const char *name, int64_t N, int64_t K, int64_t M, wm_dtype dt, int bias_on, int inplace)
{
    tp x = mk(dt, 1.0f, N, K), w = mk(dt, 1.0f / sqrtf((float)K), M, K), b = mk(dt, 0.5f, 1, M);
    tp r = mk(dt, 1.0f, N, M), y = mk(dt, -1.0f, N, M);
    float *ref = calloc((size_t)(N * M), sizeof(float));
    wm_tensor refh = cp_host2(ref, N, M);
    CP_OK(c->cpu, wm_matmul_add(c->cpu, &x.ht, &w.ht, bias_on ? &b.ht : NULL, &r.ht, &refh));
    wm_tensor *yd = inplace ? &r.dt : &y.dt;
    CP_OK(c->gpu, wm_matmul_add(c->gpu, &x.dt, &w.dt, bias_on ? &b.dt : NULL, &r.dt, yd));
    CP_OK(c->gpu, wm_matmul_add(c->gpu, &x.dt, &w.dt, bias_on ? &b.dt : NULL, &r.dt, yd)); /* cached plan */
    if (inplace) { /* the second call accumulated twice: ref2 = ref + (ref - r) */
        for (int64_t i = 0; i < N * M; i++) ref[i] = ref[i] + (ref[i] - r.h[i]);
    }
    char l[160];
    snprintf(l, sizeof l, "%s: matmul_add %lldx%lld->%lld%s%s", name, (long long)N, (long long)K, (long long)M,
             bias_on ? " bias" : "", inplace ? " in-place x2" : "");
    cmp(l, yd, ref);
    if (!inplace) {
        snprintf(l, sizeof l, "%s: matmul_add leaves res", name);
        cmp(l, &r.dt, r.h);
    }
    free(ref);
    rel(&x), rel(&w), rel(&b), rel(&r), rel(&y);
}

/* nb GEMMs sharing x as one batched call: outputs stacked (ys = 0: q|k|v) or ys rows apart (K|V into
 * their streaming window buffers), against the CPU reference; the rows between strided outputs keep
 * their values (y starts random, the reference from the same values); bias fp32 or none. */
static void mmb_run(const char *name, int64_t N, int64_t K, int64_t M, wm_dtype dt, int bias_on, int nb, int64_t ys)
{
    const int64_t rows = (nb - 1) * (ys ? ys : N) + N;
    tp x = mk(dt, 1.0f, N, K), w = mk(dt, 1.0f / sqrtf((float)K), nb * M, K), b = mk(dt, 0.5f, 1, nb * M);
    tp y = mk(dt, ys ? 1.0f : -1.0f, rows, M); /* strided: random rows between the outputs; else poisoned */
    float *ref = hcopy(&y);
    wm_tensor refh = cp_host2(ref, rows, M);
    int64_t sb[1] = {nb * M};
    wm_tensor bh = wm_tensor_view(WM_F32, WM_DEVICE_CPU, b.h, 1, sb), bd = b.dt;
    bd.ndim = 1, bd.shape[0] = nb * M;
    CP_OK(c->cpu, wm_matmul_batched(c->cpu, &x.ht, &w.ht, bias_on ? &bh : NULL, nb, ys, &refh));
    CP_OK(c->gpu, wm_matmul_batched(c->gpu, &x.dt, &w.dt, bias_on ? &bd : NULL, nb, ys, &y.dt));
    CP_OK(c->gpu, wm_matmul_batched(c->gpu, &x.dt, &w.dt, bias_on ? &bd : NULL, nb, ys, &y.dt)); /* cached plan */
    char l[160];
    snprintf(l, sizeof l, "%s: matmul_batched %d x %lldx%lld->%lld stride %lld%s", name, nb, (long long)N, (long long)K,
             (long long)M, (long long)ys, bias_on ? " bias" : "");
    cmp(l, &y.dt, ref);
    free(ref);
    rel(&x), rel(&w), rel(&b), rel(&y);
}

static void t_matmul_add(int quick)
{
    mma_run("odd-bf16", 7, 13, 5, WM_BF16, 1, 0);
    mma_run("odd-bf16", 7, 13, 5, WM_BF16, 0, 1);
    mma_run("odd-f32", 9, 21, 11, WM_F32, 1, 1);
    mmb_run("odd-bf16", 7, 13, 5, WM_BF16, 1, 3, 0);
    mmb_run("odd-f32", 9, 21, 11, WM_F32, 0, 3, 0);
    mmb_run("odd-bf16 strided", 7, 13, 5, WM_BF16, 1, 2, 19);
    mmb_run("odd-f32 strided", 9, 21, 11, WM_F32, 0, 4, 9);
    if (quick) return;
    mmb_run("real-bf16 qkv", 2640, 2240, 2240, WM_BF16, 0, 3, 0);
    mmb_run("real-bf16 cam qkv", 2640, 2240, 2240, WM_BF16, 1, 3, 0);
    mmb_run("real-bf16 gate|cam qkv", 2640, 2240, 2240, WM_BF16, 1, 4, 0);
    mmb_run("real-bf16 K|V into the window", 2640, 2240, 2240, WM_BF16, 0, 2, 7920);
    mma_run("real-bf16 proj", 2640, 2240, 2240, WM_BF16, 1, 1);
    mma_run("real-bf16 t_conv", 880, 6720, 2240, WM_BF16, 0, 0);
}

static void ms_run(const char *name, int64_t r, int64_t cols, wm_dtype dt, int inplace)
{
    tp a = mk(dt, 1.0f, r, cols), g = mk(dt, 2.0f, r, cols), y = mk(dt, -1.0f, r, cols);
    float *ref = calloc((size_t)(r * cols), sizeof(float));
    wm_tensor refh = cp_host2(ref, r, cols);
    CP_OK(c->cpu, wm_mul_silu(c->cpu, &a.ht, &g.ht, &refh));
    wm_tensor *yd = inplace ? &a.dt : &y.dt;
    CP_OK(c->gpu, wm_mul_silu(c->gpu, &a.dt, &g.dt, yd));
    char l[160];
    snprintf(l, sizeof l, "%s: mul_silu %lldx%lld%s", name, (long long)r, (long long)cols, inplace ? " in-place" : "");
    cmp(l, yd, ref);
    free(ref);
    rel(&a), rel(&g), rel(&y);
}

static void t_mul_silu(int quick)
{
    ms_run("odd-bf16", 37, 11, WM_BF16, 0);
    ms_run("odd-f32", 7, 13, WM_F32, 1);
    if (!quick) ms_run("real-bf16", 2640, 2240, WM_BF16, 1);
    if (!quick) ms_run("real-bf16 frame", 880, 2240, WM_BF16, 0);
}

/* depthwise3x3_silu_glu: tiled path (bf16, M % 64 == 0) and the generic one; w/b fp32 as the model.
 * Two kernels can serve bf16: dit_conv.cu's column-group kernel (SiLU in fp32: the exact reference) or,
 * when it declines or WM_CUDA_CONV=old, the tile kernel, which stores SiLU(x) as bf16 in shared memory --
 * the values the unfused path stores after its SiLU pass -- so its reference is depthwise3x3_glu on
 * bf16-rounded SiLU(x) (the first device run showed 3e-3 rel. L2 against the unrounded reference with
 * single elements 4% off: intermediate bf16 noise amplified by the GLU, not an index error). Every
 * element must pass against one of the two, and the exact reference to 5e-3 rel. L2. NaN fails both. */
static void dws_run(const char *name, int T, int gh, int gw, int64_t M, wm_dtype dt, int rounded)
{
    int64_t N = (int64_t)T * gh * gw;
    tp x = mk(dt, 1.5f, N, 2 * M), w = mk(WM_F32, 0.3f, 2 * M, 9), b = mk(WM_F32, 0.2f, 1, 2 * M);
    tp y = mk(dt, -1.0f, N, M);
    float *ref = calloc((size_t)(N * M), sizeof(float)), *xs = malloc((size_t)(N * 2 * M) * sizeof(float));
    wm_tensor refh = cp_host2(ref, N, M), xsh = cp_host2(xs, N, 2 * M);
    CP_OK(c->cpu, wm_depthwise3x3_silu_glu(c->cpu, &x.ht, &w.ht, &b.ht, T, gh, gw, &refh));
    CP_OK(c->gpu, wm_depthwise3x3_silu_glu(c->gpu, &x.dt, &w.dt, &b.dt, T, gh, gw, &y.dt));
    char l[160];
    snprintf(l, sizeof l, "%s: depthwise3x3_silu_glu T=%d %dx%d M=%lld vs exact", name, T, gh, gw, (long long)M);
    float *got = cp_read(c, &y.dt);
    CHECK(cp_compare(l, got, ref, (size_t)(N * M), 1e30f, 0.0f, 5e-3)); /* rel. L2 only */
    free(got);
    if (rounded) { /* either kernel may run: pass against the exact OR the bf16-SiLU reference */
        float *got2 = cp_read(c, &y.dt), *rr = malloc((size_t)(N * M) * sizeof(float));
        wm_tensor rrh = cp_host2(rr, N, M);
        for (int64_t i = 0; i < N * 2 * M; i++) xs[i] = wm_round_bf16(x.h[i] / (1.0f + expf(-x.h[i])));
        CP_OK(c->cpu, wm_depthwise3x3_glu(c->cpu, &xsh, &w.ht, &b.ht, T, gh, gw, &rrh));
        int64_t bad[2] = {0, 0};
        for (int r = 0; r < 2; r++) {
            const float *rf = r ? rr : ref;
            double r2 = 0;
            for (int64_t i = 0; i < N * M; i++) r2 += (double)rf[i] * rf[i];
            float atol = 1e-2f * (float)sqrt(r2 / (double)(N * M)) + 1e-6f;
            for (int64_t i = 0; i < N * M; i++)
                bad[r] += !(fabsf(got2[i] - rf[i]) <= atol + 1e-2f * fabsf(rf[i]));
        }
        printf("%s: depthwise3x3_silu_glu T=%d %dx%d M=%lld: %lld / %lld elements out of 1e-2 vs exact / vs bf16 SiLU(x)\n",
               name, T, gh, gw, (long long)M, (long long)bad[0], (long long)bad[1]);
        CHECK(bad[0] == 0 || bad[1] == 0);
        free(got2), free(rr);
    } else {
        snprintf(l, sizeof l, "%s: depthwise3x3_silu_glu T=%d %dx%d M=%lld", name, T, gh, gw, (long long)M);
        cmp(l, &y.dt, ref);
    }
    free(ref), free(xs);
    rel(&x), rel(&w), rel(&b), rel(&y);
}

static void t_dw_silu(int quick)
{
    dws_run("odd-bf16 tiled", 4, 5, 6, 64, WM_BF16, 1);    /* R = 4: bands 0-3, 4 (partial) */
    dws_run("odd-bf16 tiled", 2, 7, 9, 128, WM_BF16, 1);   /* partial runs of 4 columns (9 = 4 + 4 + 1) */
    dws_run("odd-bf16 generic", 3, 5, 6, 24, WM_BF16, 1);  /* M % 64 != 0 (column-group kernel takes it) */
    dws_run("odd-bf16 generic", 2, 3, 5, 7, WM_BF16, 1);   /* M % 8 != 0: the generic kernel */
    dws_run("odd-f32 generic", 2, 3, 5, 7, WM_F32, 0);
    if (!quick) dws_run("real-bf16", 3, 22, 40, 6720, WM_BF16, 1);
}

/* rmsnorm / layernorm_modulate (norms.cu register-row kernels; the CPU references are the oracle). */
static void norm_run(const char *name, int64_t N, int64_t C, int64_t rpg, wm_dtype dt, int inplace)
{
    int64_t G = (N + rpg - 1) / rpg;
    tp x = mk(dt, 2.0f, N, C), w = mk(WM_F32, 0.3f, 1, C), sh = mk(WM_F32, 0.5f, G, C), sc = mk(WM_F32, 0.5f, G, C);
    tp y = mk(dt, -1.0f, N, C);
    for (int64_t i = 0; i < N * C; i++) x.h[i] += 0.7f; /* a row mean away from 0 (two-pass variance) */
    upd(&x);
    float *ref = calloc((size_t)(N * C), sizeof(float)), *ref2 = calloc((size_t)(N * C), sizeof(float));
    wm_tensor rh = cp_host2(ref, N, C), rh2 = cp_host2(ref2, N, C);
    CP_OK(c->cpu, wm_rmsnorm(c->cpu, &x.ht, &w.ht, 1e-6f, &rh));
    CP_OK(c->cpu, wm_layernorm_modulate(c->cpu, &x.ht, &sh.ht, &sc.ht, rpg, 1e-6f, &rh2));
    char l[160];
    CP_OK(c->gpu, wm_rmsnorm(c->gpu, &x.dt, &w.dt, 1e-6f, &y.dt));
    snprintf(l, sizeof l, "%s: rmsnorm %lldx%lld", name, (long long)N, (long long)C);
    cmp(l, &y.dt, ref);
    wm_tensor *yd = inplace ? &x.dt : &y.dt;
    CP_OK(c->gpu, wm_layernorm_modulate(c->gpu, &x.dt, &sh.dt, &sc.dt, rpg, 1e-6f, yd));
    snprintf(l, sizeof l, "%s: layernorm_modulate %lldx%lld rpg %lld%s", name, (long long)N, (long long)C,
             (long long)rpg, inplace ? " in-place" : "");
    cmp(l, yd, ref2);
    free(ref), free(ref2);
    rel(&x), rel(&w), rel(&sh), rel(&sc), rel(&y);
}

/* gated_add_ln_mod: x updated in place and y, against gated_add + layernorm_modulate on the CPU. */
static void gln_run(const char *name, int64_t N, int64_t C, int64_t rpg, wm_dtype dt, int gate_on)
{
    int64_t G = (N + rpg - 1) / rpg;
    tp x = mk(dt, 2.0f, N, C), h = mk(dt, 1.0f, N, C), g = mk(WM_F32, 0.5f, G, C), sh = mk(WM_F32, 0.5f, G, C);
    tp sc = mk(WM_F32, 0.5f, G, C), y = mk(dt, -1.0f, N, C);
    float *xr = hcopy(&x), *ref = calloc((size_t)(N * C), sizeof(float));
    wm_tensor xh = cp_host2(xr, N, C), rh = cp_host2(ref, N, C);
    CP_OK(c->cpu, wm_gated_add_ln_mod(c->cpu, &xh, &h.ht, gate_on ? &g.ht : NULL, &sh.ht, &sc.ht, rpg, 1e-6f, &rh));
    CP_OK(c->gpu, wm_gated_add_ln_mod(c->gpu, &x.dt, &h.dt, gate_on ? &g.dt : NULL, &sh.dt, &sc.dt, rpg, 1e-6f, &y.dt));
    char l[160];
    snprintf(l, sizeof l, "%s: gated_add_ln_mod %lldx%lld%s x", name, (long long)N, (long long)C, gate_on ? " gate" : "");
    cmp(l, &x.dt, xr);
    snprintf(l, sizeof l, "%s: gated_add_ln_mod %lldx%lld%s y", name, (long long)N, (long long)C, gate_on ? " gate" : "");
    cmp(l, &y.dt, ref);
    free(xr), free(ref);
    rel(&x), rel(&h), rel(&g), rel(&sh), rel(&sc), rel(&y);
}

/* gated_add_proj: x in place against gated_add + matmul_add on the CPU (u, w, bias in x's dtype as the
 * model stores them; the gate fp32). Shapes cover partial token and channel tiles and the fallback pair. */
static void gap_run(const char *name, int64_t N, int64_t C, int64_t P, int64_t rpg, wm_dtype dt, int gate_on,
                    int bias_on)
{
    int64_t G = (N + rpg - 1) / rpg;
    tp x = mk(dt, 2.0f, N, C), h = mk(dt, 1.0f, N, C), g = mk(WM_F32, 0.5f, G, C), u = mk(dt, 1.0f, N, P);
    tp w = mk(dt, 1.0f / sqrtf((float)P), C, P), b = mk(dt, 0.5f, 1, C);
    float *xr = hcopy(&x);
    wm_tensor xh = cp_host2(xr, N, C);
    int64_t sb[1] = {C};
    wm_tensor bh = wm_tensor_view(WM_F32, WM_DEVICE_CPU, b.h, 1, sb), bd = b.dt;
    bd.ndim = 1, bd.shape[0] = C;
    CP_OK(c->cpu, wm_gated_add_proj(c->cpu, &xh, &h.ht, gate_on ? &g.ht : NULL, rpg, &u.ht, &w.ht, bias_on ? &bh : NULL));
    CP_OK(c->gpu, wm_gated_add_proj(c->gpu, &x.dt, &h.dt, gate_on ? &g.dt : NULL, rpg, &u.dt, &w.dt, bias_on ? &bd : NULL));
    char l[160];
    snprintf(l, sizeof l, "%s: gated_add_proj %lldx%lld P %lld rpg %lld%s%s", name, (long long)N, (long long)C,
             (long long)P, (long long)rpg, gate_on ? " gate" : "", bias_on ? " bias" : "");
    cmp(l, &x.dt, xr);
    CHECK(wm_gated_add_proj(c->gpu, &x.dt, &x.dt, NULL, rpg, &u.dt, &w.dt, NULL) == WM_ERR_INVALID_ARG); /* x = h */
    free(xr);
    rel(&x), rel(&h), rel(&g), rel(&u), rel(&w), rel(&b);
}

static void t_gated_add_proj(int quick)
{
    gap_run("odd-bf16", 70, 136, 48, 30, WM_BF16, 1, 1); /* partial tiles: 70 = 64 + 6 tokens, 136 = 128 + 8 */
    gap_run("odd-bf16 P16", 5, 24, 16, 2, WM_BF16, 0, 0);
    gap_run("fallback-bf16 (P % 8)", 9, 40, 5, 4, WM_BF16, 1, 1);
    gap_run("fallback-bf16 (P > 48)", 9, 40, 64, 4, WM_BF16, 1, 0);
    gap_run("odd-f32", 7, 30, 6, 3, WM_F32, 1, 1);
    if (!quick) gap_run("real-bf16 (Plücker)", 2640, 2240, 48, 880, WM_BF16, 1, 1);
}

static void t_norms(int quick)
{
    norm_run("odd-f32", 7, 64, 3, WM_F32, 0);
    norm_run("odd-bf16", 9, 40, 4, WM_BF16, 1);
    norm_run("wide-bf16 (2 vectors per thread)", 5, 12000, 2, WM_BF16, 0);
    norm_run("groups-across-blocks-bf16", 37, 2240, 3, WM_BF16, 0); /* staged group + rows of the next one */
    if (!quick) norm_run("real-bf16", 2640, 2240, 880, WM_BF16, 1);
    gln_run("odd-f32", 7, 64, 3, WM_F32, 1);
    gln_run("odd-bf16", 9, 40, 4, WM_BF16, 0);
    gln_run("scalar-bf16 (fallback pair)", 5, 30, 2, WM_BF16, 1);
    gln_run("wide-bf16", 5, 12000, 2, WM_BF16, 1);
    gln_run("groups-across-blocks-bf16", 37, 2240, 3, WM_BF16, 1);
    gln_run("groups-across-blocks-bf16", 37, 2240, 5, WM_BF16, 0);
    if (!quick) gln_run("real-bf16", 2640, 2240, 880, WM_BF16, 1);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int rc = cp_init(c, 0x5eed00f5);
    if (rc) return rc;
    t_qk_prep(quick);
    t_matmul_add(quick);
    t_mul_silu(quick);
    t_dw_silu(quick);
    t_gated_add_proj(quick);
    t_norms(quick);
    /* argument errors name the op */
    tp x = mk(WM_BF16, 1.0f, 4, 32), cs = mk(WM_F32, 1.0f, 4, 8);
    CHECK(wm_dit_qk_prep(c->gpu, &x.dt, NULL, 1e-6f, 0, NULL, 0, &cs.dt, &cs.dt, 2, 0, 0, &x.dt, &x.dt) ==
          WM_ERR_INVALID_ARG);
    CHECK(strstr(c->gpu->err.msg, "dit_qk_prep") != NULL);
    rel(&x), rel(&cs);
    cp_fini(c);
    TEST_MAIN_END();
}
