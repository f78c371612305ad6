/* test_cuda_attention -- parity of both CUDA flash-attention kernels against the fp32 CPU reference
 * (label gpu; exits 77 without a CUDA device).
 *
 * Four CUDA backends are created: the default one (the sm_90a wgmma kernel when its image is loaded,
 * persistent: a block per SM walking the work items, its two consumer warpgroups taking turns), one created
 * with WM_CUDA_ATTN=wave (the same kernel launched a block per work item), one with WM_CUDA_ATTN=free (no
 * turns) and one with WM_CUDA_ATTN=mma (the mma.sync kernel); every case runs on all four. Inputs are random
 * and rounded to bf16 so both sides see the same numbers; the CUDA output is poisoned (NaN) before each
 * run, so an unwritten element fails. Pass = |got - ref| <= 1e-2 + 1e-2 |ref| per element AND relative
 * L2 <= 1e-2, no NaN/Inf anywhere in the output.
 * Shapes: single query/key, odd lengths that are not multiples of the 64/128 tiles, each tensor-core
 * head dim (64/112/128), masks (random, all keys masked, a whole leading tile masked), keys whose scores
 * grow along the key axis (the running row maxima keep rising: lazy rescaling), key ranges long
 * enough for the wgmma kernel's split-over-keys tail path (a whole split fully masked too), the fallbacks
 * (head dim 40, fp32), and the real SANA-WM shapes (2640 x 8800 streaming window, 9680 x 9680
 * bidirectional, 2640 x 300 masked text, 2640 x 120 text cut at the last caption token; with more work
 * items than SMs these make the persistent blocks carry the K/V ring and the Q buffer across items,
 * split items included). At the real shapes the fp32 reference is computed for a
 * sample of query rows (a whole leading 128-row tile, the last rows and evenly spaced rows): rows are
 * independent, so the sample is exact, and the run stays in seconds. The real shapes also print the
 * time per call of each kernel (informational). `--quick` skips the 9680 x 9680 case.
 */
#include "cuda_parity.h"

#include <stdlib.h>
#include <time.h>

typedef struct {
    cp_ctx c;
    wm_backend *mma;  /* created with WM_CUDA_ATTN=mma */
    wm_backend *wave; /* created with WM_CUDA_ATTN=wave */
    wm_backend *free_turns; /* created with WM_CUDA_ATTN=free (the consumer warpgroups issue without turns) */
} at_ctx;

/* MASK_RISE: no mask; key j scaled by 1 + 4 j / Nk, so each row's running max keeps rising along the key
 * loop and the wgmma kernel's lazy maxima (a row moves its max only when a tile raises it by more than 8
 * in log2 units, then O is rescaled) take both the rescale and the skip path many times. */
enum { MASK_NONE, MASK_RANDOM, MASK_ALL, MASK_LEAD, MASK_RISE };

/* Query rows whose reference is computed: all when few, else a leading tile, the tail and a spread. */
static int64_t pick_rows(int64_t Nq, int64_t *rows)
{
    if (Nq <= 640) {
        for (int64_t i = 0; i < Nq; i++) rows[i] = i;
        return Nq;
    }
    int64_t n = 0;
    for (int64_t i = 0; i < 128; i++) rows[n++] = i;
    for (int64_t i = Nq - 72; i < Nq; i++) rows[n++] = i;
    for (int64_t i = 0; i < 300; i++) rows[n++] = 128 + i * (Nq - 200) / 300;
    return n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void time_call(wm_backend *be, const char *name, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                      const wm_tensor *m, int H, float scale, wm_tensor *o, double flop)
{
    const int reps = 20;
    for (int i = 0; i < 3; i++) wm_attention(be, q, k, v, m, H, scale, o);
    wm_backend_sync(be);
    double t0 = now_ms();
    for (int i = 0; i < reps; i++) wm_attention(be, q, k, v, m, H, scale, o);
    wm_backend_sync(be);
    double ms = (now_ms() - t0) / reps;
    printf("  time %-6s %8.4f ms/call  %6.1f TFLOP/s\n", name, ms, flop / (ms * 1e-3) / 1e12);
}

static void run_case(at_ctx *a, int64_t Nq, int64_t Nk, int H, int D, wm_dtype dt, int mask_kind, int timed)
{
    cp_ctx *c = &a->c;
    int64_t C = (int64_t)H * D;
    float *q = cp_rand(c, (size_t)(Nq * C), 1.5f, dt), *k = cp_rand(c, (size_t)(Nk * C), 1.5f, dt);
    float *v = cp_rand(c, (size_t)(Nk * C), 1.0f, dt), *m = malloc((size_t)(Nk ? Nk : 1) * sizeof(float));
    uint8_t *mh = malloc((size_t)(Nk ? Nk : 1));
    for (int64_t j = 0; j < Nk; j++) {
        int keep = 1;
        if (mask_kind == MASK_RANDOM) keep = (t_rng_u64(&c->rng) % 4) != 0 || j == 0;
        if (mask_kind == MASK_ALL) keep = 0;
        /* the whole first 64- and 128-key tile masked; with long key ranges the whole first split too */
        if (mask_kind == MASK_LEAD) keep = j >= (Nk > 1000 ? 600 : 150);
        mh[j] = (uint8_t)keep;
        m[j] = keep;
    }
    if (mask_kind == MASK_RISE)
        for (int64_t j = 0; j < Nk; j++)
            for (int64_t i = 0; i < C; i++) {
                float x = k[j * C + i] * (1.0f + 4.0f * (float)j / (float)Nk);
                k[j * C + i] = dt == WM_F32 ? x : wm_round_bf16(x);
            }
    /* Reference on the sampled query rows. */
    int64_t *rows = malloc(600 * sizeof *rows), ns = pick_rows(Nq, rows);
    float *qs = malloc((size_t)(ns * C) * sizeof(float)), *ref = malloc((size_t)(ns * C) * sizeof(float));
    for (int64_t i = 0; i < ns; i++) memcpy(qs + i * C, q + rows[i] * C, (size_t)C * sizeof(float));
    wm_tensor hq = cp_host2(qs, ns, C), hk = cp_host2(k, Nk, C), hv = cp_host2(v, Nk, C), ho = cp_host2(ref, ns, C);
    int64_t ms = Nk;
    wm_tensor hm = wm_tensor_view(WM_U8, WM_DEVICE_CPU, mh, 1, &ms);
    const int use_mask = mask_kind != MASK_NONE && mask_kind != MASK_RISE;
    float scale = 1.0f / sqrtf((float)D);
    CP_OK(c->cpu, wm_attention(c->cpu, &hq, &hk, &hv, use_mask ? &hm : NULL, H, scale, &ho));

    wm_tensor dq = cp_dev2(c, dt, q, Nq, C), dk = cp_dev2(c, dt, k, Nk, C), dv = cp_dev2(c, dt, v, Nk, C);
    wm_tensor dm = cp_dev(c, WM_U8, m, 1, &ms);
    wm_backend *bes[4] = {c->gpu, a->wave, a->free_turns, a->mma};
    const char *names[4] = {"auto", "wave", "free", "mma"};
    float *sub = malloc((size_t)(ns * C) * sizeof(float));
    for (int b = 0; b < 4; b++) {
        wm_tensor dout = cp_dev2(c, dt, NULL, Nq, C); /* poisoned */
        CP_OK(bes[b], wm_attention(bes[b], &dq, &dk, &dv, use_mask ? &dm : NULL, H, scale, &dout));
        CP_OK(bes[b], wm_backend_sync(bes[b]));
        float *got = cp_read(c, &dout);
        size_t nonfinite = 0;
        for (int64_t i = 0; i < Nq * C; i++) nonfinite += !isfinite(got[i]);
        CHECK_MSG(nonfinite == 0, "%s: %zu of %lld outputs NaN/Inf (unwritten or overflow)", names[b], nonfinite,
                  (long long)(Nq * C));
        for (int64_t i = 0; i < ns; i++) memcpy(sub + i * C, got + rows[i] * C, (size_t)C * sizeof(float));
        char label[128];
        snprintf(label, sizeof label, "%-4s attention q%lld k%lld %dx%d %s mask%d rows%lld", names[b], (long long)Nq,
                 (long long)Nk, H, D, wm_dtype_name(dt), mask_kind, (long long)ns);
        float tol = dt == WM_BF16 ? 1e-2f : 1e-4f;
        CHECK(cp_compare(label, sub, ref, (size_t)(ns * C), tol, tol, dt == WM_BF16 ? 1e-2 : 1e-4));
        if (timed)
            time_call(bes[b], names[b], &dq, &dk, &dv, use_mask ? &dm : NULL, H, scale, &dout,
                      4.0 * (double)Nq * (double)Nk * (double)C);
        free(got);
        cp_free(c, &dout);
    }
    free(q); free(k); free(v); free(m); free(mh); free(rows); free(qs); free(ref); free(sub);
    cp_free(c, &dq); cp_free(c, &dk); cp_free(c, &dv); cp_free(c, &dm);
}

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) quick |= !strcmp(argv[i], "--quick");
    at_ctx a = {0};
    int rc = cp_init(&a.c, 0x5eed0a77);
    if (rc) return rc;
    wm_error err = {0};
    setenv("WM_CUDA_ATTN", "mma", 1);
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, NULL, &a.mma, &err);
    setenv("WM_CUDA_ATTN", "wave", 1);
    if (st == WM_OK) st = wm_backend_create(WM_BACKEND_CUDA, NULL, &a.wave, &err);
    setenv("WM_CUDA_ATTN", "free", 1);
    if (st == WM_OK) st = wm_backend_create(WM_BACKEND_CUDA, NULL, &a.free_turns, &err);
    unsetenv("WM_CUDA_ATTN");
    if (st != WM_OK) {
        fprintf(stderr, "second cuda backend: %s\n", err.msg);
        if (a.mma) wm_backend_free(a.mma);
        if (a.wave) wm_backend_free(a.wave);
        cp_fini(&a.c);
        return 1;
    }

    /* Odd and small shapes, every tensor-core head dim, the masks. */
    run_case(&a, 1, 1, 1, 112, WM_BF16, MASK_NONE, 0);
    run_case(&a, 1, 300, 4, 112, WM_BF16, MASK_RANDOM, 0);
    run_case(&a, 77, 130, 3, 112, WM_BF16, MASK_RANDOM, 0);
    run_case(&a, 77, 130, 3, 112, WM_BF16, MASK_ALL, 0);
    run_case(&a, 129, 400, 2, 112, WM_BF16, MASK_LEAD, 0);
    run_case(&a, 255, 383, 2, 112, WM_BF16, MASK_NONE, 0);
    run_case(&a, 200, 333, 2, 64, WM_BF16, MASK_RANDOM, 0);
    run_case(&a, 65, 129, 2, 128, WM_BF16, MASK_NONE, 0);
    run_case(&a, 300, 777, 2, 128, WM_BF16, MASK_RANDOM, 0);
    run_case(&a, 130, 1000, 3, 64, WM_BF16, MASK_NONE, 0);
    /* Few units, long key loops: the wgmma kernel splits them over key ranges (partials + combine). */
    run_case(&a, 200, 3000, 3, 112, WM_BF16, MASK_RANDOM, 0);
    run_case(&a, 129, 1100, 2, 128, WM_BF16, MASK_LEAD, 0);
    run_case(&a, 77, 1100, 2, 112, WM_BF16, MASK_ALL, 0);
    run_case(&a, 100, 1500, 1, 112, WM_BF16, MASK_LEAD, 0);
    /* Rising row maxima (lazy rescale taken and skipped), one key range and split over key ranges. */
    run_case(&a, 300, 2000, 4, 112, WM_BF16, MASK_RISE, 0);
    run_case(&a, 130, 3000, 2, 112, WM_BF16, MASK_RISE, 0);
    run_case(&a, 200, 1500, 2, 128, WM_BF16, MASK_RISE, 0);
    /* Fallbacks (simple kernel): other head dim, fp32. */
    run_case(&a, 50, 70, 2, 40, WM_BF16, MASK_RANDOM, 0);
    run_case(&a, 50, 70, 2, 112, WM_F32, MASK_RANDOM, 0);
    /* Real shapes: 20 heads x 112. */
    run_case(&a, 2640, 300, 20, 112, WM_BF16, MASK_RANDOM, 1); /* cross-attention, text keys */
    run_case(&a, 2640, 120, 20, 112, WM_BF16, MASK_NONE, 1);   /* cut at the last caption token */
    run_case(&a, 2640, 300, 20, 112, WM_BF16, MASK_ALL, 0);    /* persistent items with no key at all */
    run_case(&a, 2640, 1200, 20, 112, WM_BF16, MASK_LEAD, 0);  /* persistent + split items, masked lead */
    run_case(&a, 2640, 8800, 20, 112, WM_BF16, MASK_NONE, 1);  /* streaming: 7 cached + 3 current frames */
    if (!quick) run_case(&a, 9680, 9680, 20, 112, WM_BF16, MASK_NONE, 1); /* bidirectional 11 frames */

    wm_backend_free(a.wave);
    wm_backend_free(a.free_turns);
    wm_backend_free(a.mma);
    cp_fini(&a.c);
    TEST_MAIN_END();
}
