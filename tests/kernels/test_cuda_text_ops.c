/* Parity of the Gemma-2 text CUDA ops (kernels/ops_text.def) against the CPU references (label gpu).
 *
 * rope_half: odd token count and small head dim, out of place and in place (as wm/text calls it).
 * attention_gqa: a small odd config (37 tokens, 4 query / 2 kv heads, head dim 24) and the real one (300
 * tokens, 8 / 4 heads, head dim 256, scale 1/16, soft-cap 50), each without and with a sliding window,
 * with a key mask whose first keys are off (so the first queries see no key at all and must come out as
 * zeros) and the prompt-padding pattern (trailing keys off). The CPU oracle works in double.
 * bf16 attention runs on two CUDA backends: the default one (tensor-core kernel, text_attn.cu, for head
 * dims 16/32/64/256; others fall back) and one created with WM_CUDA_TEXT_ATTN=old (warp-per-query
 * kernel), so both paths are proven. Head dims 16, 32, 64 (group 4, window and 1-token / 64-token edge
 * cases) cover the tensor-core kernel's other instances and its block/tile boundaries.
 * qkv_rope_split (real head layout 8 / 4 x 256 and a small odd one) and gelu_mul (F = 9216 and an odd
 * F) in fp32 and bf16 against the CPU references: fp32 1e-5, bf16 1e-2 (one output rounding);
 * norm_add_norm (300 x 2304 and an odd width, y aliasing a as wm/text calls it, fp32 (1 + w) weights):
 * fp32 1e-5 for x and y, bf16 1e-2 for x and 2e-2 for y (x is rounded before the second norm).
 * embed_rows: fp32/bf16 tables into fp32/bf16 outputs, a repeated id and an out-of-range id (zero row);
 * bit-exact (one rounding of table * scale, as the CPU computes it). The CUDA side also rejects bad
 * calls through the shared contracts (kernels/text_shapes.c) with the same status as the CPU.
 * Tolerances: fp32 tensors 1e-4 elementwise (relative, with 1e-4 of the output RMS as floor) and 2e-5
 * relative L2 (fp32 online softmax with fast exp); bf16 tensors 1e-2 and 5e-3 (one bf16 rounding of the
 * output). Outputs are poisoned (NaN) first. Exit 77 without a GPU.
 * Usage: test_cuda_text_ops [--quick | --bench]  (--bench: attention time at the real size).
 */
#include "cuda_parity.h"

#include <time.h>

static cp_ctx C_;
static cp_ctx *c = &C_;
static wm_backend *gpu_old; /* WM_CUDA_TEXT_ATTN=old */

typedef cp_tensor tp;

static tp mk(wm_dtype dt, float scale, int64_t rows, int64_t cols)
{
    int64_t sh[2] = {rows, cols};
    return cp_tensor_make(c, dt, dt, scale, 2, sh);
}
#define OUT(dt, r, k) mk(dt, -1.0f, r, k)

static void rel(tp *t) { cp_tensor_free(c, t); }

static void cmp(const char *label, tp *o, float tol, double l2)
{
    size_t n = (size_t)wm_tensor_numel(&o->ht);
    float *got = cp_read(c, &o->dt);
    float rms = cp_rms(o->h, n);
    CHECK(cp_compare(label, got, o->h, n, tol * rms + 1e-7f, tol, l2));
    free(got);
}

static void t_rope(wm_dtype dt)
{
    int64_t N = 37, H = 3, D = 10, half = D / 2;
    char lab[96];
    for (int inplace = 0; inplace < 2; inplace++) {
        tp x = mk(dt, 1.0f, N, H * D), cs = mk(WM_F32, 1.0f, N, half), sn = mk(WM_F32, 1.0f, N, half);
        for (int64_t i = 0; i < N * half; i++) { /* a real rotation: cos^2 + sin^2 = 1 */
            float a = 0.37f * (float)i;
            cs.h[i] = cosf(a), sn.h[i] = sinf(a);
        }
        wm_tensor csd = cp_dev(c, WM_F32, cs.h, 2, (int64_t[]){N, half});
        wm_tensor snd = cp_dev(c, WM_F32, sn.h, 2, (int64_t[]){N, half});
        tp y = OUT(dt, N, H * D);
        CP_OK(c->cpu, wm_rope_half(c->cpu, &x.ht, &cs.ht, &sn.ht, (int)H, &y.ht));
        CP_OK(c->gpu, wm_rope_half(c->gpu, &x.dt, &csd, &snd, (int)H, inplace ? &x.dt : &y.dt));
        if (inplace) { wm_tensor t = y.dt; y.dt = x.dt; x.dt = t; }
        snprintf(lab, sizeof lab, "rope_half%s %s", inplace ? " in-place" : "", dt == WM_BF16 ? "bf16" : "fp32");
        cmp(lab, &y, dt == WM_BF16 ? 1e-2f : 1e-5f, dt == WM_BF16 ? 5e-3 : 1e-5);
        cp_free(c, &csd);
        cp_free(c, &snd);
        rel(&x); rel(&cs); rel(&sn); rel(&y);
    }
}

typedef struct {
    int N, H, Hkv, D, window;
    float scale, softcap;
    const char *name;
} attn_cfg;

static void t_attn(const attn_cfg *g, wm_dtype dt, int mask_kind, int old)
{
    int64_t N = g->N, Cq = (int64_t)g->H * g->D, Ck = (int64_t)g->Hkv * g->D;
    /* q scaled so soft-capping is active on some logits (|s| near the cap) */
    tp q = mk(dt, 3.0f, N, Cq), k = mk(dt, 1.0f, N, Ck), v = mk(dt, 1.0f, N, Ck), o = OUT(dt, N, Cq);
    float *m = malloc(sizeof(float) * (size_t)N);
    for (int64_t j = 0; j < N; j++) /* 1: first 3 keys off (queries 0..2 see nothing); 2: trailing padding */
        m[j] = mask_kind == 1 ? (j >= 3 && j % 7 != 5) : mask_kind == 2 ? (j < N - N / 4) : 1.0f;
    uint8_t *mh = malloc((size_t)N);
    for (int64_t j = 0; j < N; j++) mh[j] = m[j] != 0.0f;
    wm_tensor mht = wm_tensor_view(WM_U8, WM_DEVICE_CPU, mh, 1, (int64_t[]){N});
    wm_tensor mdt = cp_dev(c, WM_U8, m, 1, (int64_t[]){N});
    const wm_tensor *mc = mask_kind ? &mht : NULL, *md = mask_kind ? &mdt : NULL;
    CP_OK(c->cpu, wm_attention_gqa(c->cpu, &q.ht, &k.ht, &v.ht, mc, g->H, g->Hkv, g->scale, g->softcap, g->window,
                                   &o.ht));
    wm_backend *gb = old ? gpu_old : c->gpu;
    CP_OK(gb, wm_attention_gqa(gb, &q.dt, &k.dt, &v.dt, md, g->H, g->Hkv, g->scale, g->softcap, g->window, &o.dt));
    /* the second backend has its own stream: wait for it before c->gpu's stream reads o (without this the
     * read raced the old kernel and saw the NaN poison -- the 27 failures of the a42eb93 run) */
    WM_ASSERT(wm_backend_sync(gb) == WM_OK);
    char lab[160];
    snprintf(lab, sizeof lab, "attention_gqa %s N%d win%d mask%d %s%s", g->name, g->N, g->window, mask_kind,
             dt == WM_BF16 ? "bf16" : "fp32", old ? " old" : "");
    cmp(lab, &o, dt == WM_BF16 ? 1e-2f : 1e-4f, dt == WM_BF16 ? 5e-3 : 2e-5);
    if (mask_kind == 1) { /* queries without a visible key are exact zeros */
        float *got = cp_read(c, &o.dt);
        int zeros = 1;
        for (int64_t i = 0; i < 3 * Cq; i++) zeros &= got[i] == 0.0f;
        CHECK_MSG(zeros, "%s: queries 0..2 must be zero", lab);
        free(got);
    }
    cp_free(c, &mdt);
    free(m); free(mh);
    rel(&q); rel(&k); rel(&v); rel(&o);
}

static void t_embed(wm_dtype tdt, wm_dtype xdt)
{
    enum { R = 50, C = 40, T = 9 };
    float scale = wm_round_bf16(sqrtf(2304.0f));
    tp tab = mk(tdt, 1.0f, R, C), x = OUT(xdt, T, C);
    int32_t ids[T] = {0, 49, 7, 7, 50, 1, 2, 3, -1};
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++) {
            float v = ids[t] >= 0 && ids[t] < R ? tab.h[ids[t] * C + i] * scale : 0.0f;
            x.h[t * C + i] = xdt == WM_BF16 ? wm_round_bf16(v) : v;
        }
    wm_tensor idd = wm_tensor_view(WM_I32, WM_DEVICE_CUDA, NULL, 1, (int64_t[]){T});
    WM_ASSERT(wm_backend_malloc(c->gpu, sizeof ids, &idd.data) == WM_OK);
    WM_ASSERT(wm_backend_upload(c->gpu, idd.data, ids, sizeof ids) == WM_OK);
    CP_OK(c->gpu, wm_embed_rows(c->gpu, &tab.dt, &idd, scale, &x.dt));
    char lab[96];
    snprintf(lab, sizeof lab, "embed_rows %s -> %s", tdt == WM_BF16 ? "bf16" : "fp32", xdt == WM_BF16 ? "bf16" : "fp32");
    cmp(lab, &x, 0.0f, 0.0);
    /* shared contracts on the CUDA side: float ids, a (T, C-1) output, an output aliasing the table */
    wm_tensor bad = x.dt;
    bad.shape[1] = C - 1;
    wm_tensor alias = tab.dt;
    alias.shape[0] = T;
    CHECK(wm_embed_rows(c->gpu, &tab.dt, &tab.dt, scale, &x.dt) == WM_ERR_DTYPE);
    CHECK(wm_embed_rows(c->gpu, &tab.dt, &idd, scale, &bad) == WM_ERR_SHAPE && strstr(c->gpu->err.msg, "embed_rows"));
    CHECK(tdt != xdt || wm_embed_rows(c->gpu, &tab.dt, &idd, scale, &alias) == WM_ERR_INVALID_ARG);
    wm_backend_mfree(c->gpu, idd.data);
    rel(&tab); rel(&x);
}

static void t_qkv(wm_dtype dt, int64_t N, int64_t H, int64_t Hk, int64_t D)
{
    int64_t Cq = H * D, Ck = Hk * D, half = D / 2;
    tp qkv = mk(dt, 1.0f, N, Cq + 2 * Ck), cs = mk(WM_F32, 1.0f, N, half), sn = mk(WM_F32, 1.0f, N, half);
    tp q = OUT(dt, N, Cq), k = OUT(dt, N, Ck), v = OUT(dt, N, Ck);
    CP_OK(c->cpu, wm_qkv_rope_split(c->cpu, &qkv.ht, &cs.ht, &sn.ht, (int)H, (int)Hk, &q.ht, &k.ht, &v.ht));
    CP_OK(c->gpu, wm_qkv_rope_split(c->gpu, &qkv.dt, &cs.dt, &sn.dt, (int)H, (int)Hk, &q.dt, &k.dt, &v.dt));
    char lab[96];
    float tol = dt == WM_BF16 ? 1e-2f : 1e-5f;
    double l2 = dt == WM_BF16 ? 5e-3 : 1e-5;
    snprintf(lab, sizeof lab, "qkv_rope_split %ldx%ld/%ld q %s", (long)N, (long)H, (long)Hk, dt == WM_BF16 ? "bf16" : "fp32");
    cmp(lab, &q, tol, l2);
    snprintf(lab, sizeof lab, "qkv_rope_split %ldx%ld/%ld k %s", (long)N, (long)H, (long)Hk, dt == WM_BF16 ? "bf16" : "fp32");
    cmp(lab, &k, tol, l2);
    snprintf(lab, sizeof lab, "qkv_rope_split %ldx%ld/%ld v %s", (long)N, (long)H, (long)Hk, dt == WM_BF16 ? "bf16" : "fp32");
    cmp(lab, &v, 0.0f, 0.0); /* a copy */
    rel(&qkv); rel(&cs); rel(&sn); rel(&q); rel(&k); rel(&v);
}

static void t_gelu_mul(wm_dtype dt, int64_t N, int64_t F)
{
    tp gu = mk(dt, 2.0f, N, 2 * F), f = OUT(dt, N, F);
    CP_OK(c->cpu, wm_gelu_mul(c->cpu, &gu.ht, &f.ht));
    CP_OK(c->gpu, wm_gelu_mul(c->gpu, &gu.dt, &f.dt));
    char lab[96];
    snprintf(lab, sizeof lab, "gelu_mul %ldx%ld %s", (long)N, (long)F, dt == WM_BF16 ? "bf16" : "fp32");
    /* fp32: elementwise 3e-5 (libm tanhf on the CPU vs the device formula differ by a few ulp of 1 near
     * saturation, times |up| up to ~10), relative L2 1e-5 */
    cmp(lab, &f, dt == WM_BF16 ? 1e-2f : 3e-5f, dt == WM_BF16 ? 5e-3 : 1e-5);
    rel(&gu); rel(&f);
}

static void t_norm_add_norm(wm_dtype dt, int64_t N, int64_t C)
{
    tp x = mk(dt, 3.0f, N, C), a = mk(dt, 0.5f, N, C), w1 = mk(WM_F32, 1.0f, 1, C), w2 = mk(WM_F32, 1.0f, 1, C);
    CP_OK(c->cpu, wm_norm_add_norm(c->cpu, &x.ht, &a.ht, &w1.ht, &w2.ht, 1e-6f, &a.ht));
    CP_OK(c->gpu, wm_norm_add_norm(c->gpu, &x.dt, &a.dt, &w1.dt, &w2.dt, 1e-6f, &a.dt));
    char lab[96];
    snprintf(lab, sizeof lab, "norm_add_norm %ldx%ld x %s", (long)N, (long)C, dt == WM_BF16 ? "bf16" : "fp32");
    cmp(lab, &x, dt == WM_BF16 ? 1e-2f : 1e-5f, dt == WM_BF16 ? 5e-3 : 1e-5);
    snprintf(lab, sizeof lab, "norm_add_norm %ldx%ld y %s", (long)N, (long)C, dt == WM_BF16 ? "bf16" : "fp32");
    cmp(lab, &a, dt == WM_BF16 ? 2e-2f : 1e-5f, dt == WM_BF16 ? 1e-2 : 1e-5);
    rel(&x); rel(&a); rel(&w1); rel(&w2);
}

/* The shared attention / rope contracts reject bad calls on CUDA as on the CPU (test_text_ops). */
static void t_contracts(void)
{
    tp q = mk(WM_BF16, 1.0f, 6, 32), k = mk(WM_BF16, 1.0f, 6, 16), o = OUT(WM_BF16, 6, 32);
    CHECK(wm_attention_gqa(c->gpu, &q.dt, &k.dt, &k.dt, NULL, 4, 3, 0.3f, 5.0f, 0, &o.dt) == WM_ERR_SHAPE);
    CHECK(wm_attention_gqa(c->gpu, &q.dt, &k.dt, &k.dt, NULL, 4, 2, 0.3f, 5.0f, 0, &q.dt) == WM_ERR_INVALID_ARG);
    CHECK(wm_attention_gqa(c->gpu, &q.dt, &q.dt, &k.dt, NULL, 4, 2, 0.3f, 5.0f, 0, &o.dt) == WM_ERR_SHAPE &&
          strstr(c->gpu->err.msg, "attention_gqa"));
    tp cs = mk(WM_F32, 1.0f, 6, 3);
    CHECK(wm_rope_half(c->gpu, &q.dt, &cs.dt, &cs.dt, 4, &o.dt) == WM_ERR_SHAPE && strstr(c->gpu->err.msg, "rope_half"));
    rel(&q); rel(&k); rel(&o); rel(&cs);
}

/* --bench: device time of one Gemma-2-2B attention call (300 tokens, bf16), GPU only, on backend gb. */
static void bench_attn(wm_backend *gb, const char *which)
{
    int64_t N = 300, H = 8, Hkv = 4, D = 256;
    tp q = mk(WM_BF16, 1.0f, N, H * D), k = mk(WM_BF16, 1.0f, N, Hkv * D), v = mk(WM_BF16, 1.0f, N, Hkv * D);
    tp o = OUT(WM_BF16, N, H * D);
    CP_OK(gb, wm_attention_gqa(gb, &q.dt, &k.dt, &v.dt, NULL, 8, 4, 0.0625f, 50.0f, 0, &o.dt));
    WM_ASSERT(wm_backend_sync(gb) == WM_OK);
    struct timespec t0, t1;
    int reps = 20;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < reps; r++)
        CP_OK(gb, wm_attention_gqa(gb, &q.dt, &k.dt, &v.dt, NULL, 8, 4, 0.0625f, 50.0f, 0, &o.dt));
    WM_ASSERT(wm_backend_sync(gb) == WM_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6) / reps;
    printf("bench attention_gqa (%s) 300 tokens 8/4 heads x 256 bf16: %.3f ms per call (x26 layers = %.2f ms)\n",
           which, ms, 26 * ms);
    rel(&q); rel(&k); rel(&v); rel(&o);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int rc = cp_init(c, 0x5eed7e47);
    if (rc) return rc;
    wm_error err = {0};
    setenv("WM_CUDA_TEXT_ATTN", "old", 1); /* read once at backend creation */
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, NULL, &gpu_old, &err);
    unsetenv("WM_CUDA_TEXT_ATTN");
    if (st != WM_OK) {
        fprintf(stderr, "cuda backend (old attention): %s\n", err.msg);
        return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench_attn(c->gpu, "tensor cores");
        bench_attn(gpu_old, "old");
        wm_backend_free(gpu_old);
        cp_fini(c);
        TEST_MAIN_END();
    }
    t_rope(WM_F32);
    t_rope(WM_BF16);
    t_embed(WM_F32, WM_F32);
    t_embed(WM_F32, WM_BF16);
    t_embed(WM_BF16, WM_BF16);
    t_embed(WM_BF16, WM_F32);
    t_contracts();
    for (int d = 0; d < 2; d++) {
        wm_dtype dt = d ? WM_BF16 : WM_F32;
        t_qkv(dt, 300, 8, 4, 256);
        t_qkv(dt, 7, 3, 1, 10);
        t_gelu_mul(dt, 300, 9216);
        t_gelu_mul(dt, 5, 37);
        t_norm_add_norm(dt, 300, 2304);
        t_norm_add_norm(dt, 3, 100);
    }
    const attn_cfg cfgs[] = {
        {37, 4, 2, 24, 0, 0.2f, 50.0f, "small"},
        {37, 4, 2, 24, 5, 0.2f, 50.0f, "small"},
        {37, 6, 6, 40, 0, 0.15f, 0.0f, "small MHA no-cap"},
        {300, 8, 4, 256, 0, 0.0625f, 50.0f, "gemma2-2b"},
        {300, 8, 4, 256, 64, 0.0625f, 50.0f, "gemma2-2b"},
        {1, 8, 4, 256, 0, 0.0625f, 50.0f, "gemma2-2b"},
        {64, 8, 4, 256, 30, 0.0625f, 50.0f, "gemma2-2b"},
        {37, 4, 2, 16, 0, 0.25f, 5.0f, "hd16"},
        {130, 4, 2, 16, 8, 0.25f, 5.0f, "hd16"},
        {100, 8, 2, 64, 20, 0.125f, 30.0f, "hd64 group4"},
        {129, 2, 2, 32, 0, 0.17f, 0.0f, "hd32 MHA no-cap"},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        if (quick && cfgs[i].N >= 300 && cfgs[i].window) continue;
        for (int mk_ = 0; mk_ < 3; mk_++) {
            if (cfgs[i].N < 3 && mk_ == 1) continue; /* the mask-1 check needs 3 queries */
            t_attn(&cfgs[i], WM_F32, mk_, 0);
            t_attn(&cfgs[i], WM_BF16, mk_, 0);
            t_attn(&cfgs[i], WM_BF16, mk_, 1);
        }
    }
    wm_backend_free(gpu_old);
    cp_fini(c);
    TEST_MAIN_END();
}
