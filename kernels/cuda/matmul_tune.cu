/* GEMM plan autotune for matmul.cu: which cuBLASLt algorithm a new plan keeps.
 *
 * Default: time each of the heuristic's candidates (WM_CUDA_MM_CANDIDATES, 1 warm-up + 3 runs) on the
 * call's own operands and keep the fastest; cuBLASLt's first pick is not always the fastest for our
 * skinny shapes (N = 2640 tokens against K = 2240).
 *
 * WM_CUDA_MM_SEARCH=1 (read at backend creation) widens the field beyond the heuristic: the heuristic's
 * algorithm ids, each with every tile and stage count cuBLASLt reports for it, the Hopper cluster
 * shapes up to 2 x 2, kept when cublasLtMatmulAlgoCheck accepts it for this plan and its workspace fits
 * (mm_enumerate). Candidates are screened with 1 warm-up + 1 run; the best MM_FINALISTS with each of
 * their custom options, and the heuristic's own best, are re-timed with 10 runs. It costs seconds per GEMM shape at start-up, which is
 * why it is a switch; WM_CUDA_MM_SEARCH=2 also prints, per plan, the heuristic's best and the search's
 * best with their configurations (stderr).
 *
 * Skipped while the stream is being captured into a graph (no timing there): the first candidate is
 * kept then. Runs once per plan, i.e. once per GEMM shape. */
#include "cuda_common.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MM_SEARCH_MAX 3000 /* configurations screened per plan at most */
#define MM_FINALISTS 8

typedef struct {
    cudaEvent_t e0, e1;
    const wm_cuda_plan *p;
    wm_cuda_ctx *c;
    const void *x, *w;
    void *y;
} mm_timer;

/* Mean ms of `runs` calls after one warm-up, or 1e30 when the algorithm fails to run. */
static float mm_time(mm_timer *t, const cublasLtMatmulAlgo_t *algo, int runs)
{
    float alpha = 1.0f, beta = 0.0f, ms = 0.0f;
    for (int r = 0; r <= runs; r++) {
        if (r == 1) cudaEventRecord(t->e0, t->c->stream);
        if (cublasLtMatmul(t->c->lt, t->p->desc, &alpha, t->w, t->p->la, t->x, t->p->lb, &beta, t->y, t->p->lc, t->y,
                           t->p->lc, algo, t->c->workspace, t->c->workspace_bytes, t->c->stream) != CUBLAS_STATUS_SUCCESS) {
            cudaGetLastError();
            return 1e30f;
        }
    }
    cudaEventRecord(t->e1, t->c->stream);
    if (cudaEventSynchronize(t->e1) != cudaSuccess || cudaEventElapsedTime(&ms, t->e0, t->e1) != cudaSuccess) {
        cudaGetLastError();
        return 1e30f;
    }
    return ms / (float)runs;
}

static double tune_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static uint32_t cfg_u32(const cublasLtMatmulAlgo_t *a, cublasLtMatmulAlgoConfigAttributes_t at)
{
    uint32_t v = 0;
    size_t wr = 0;
    cublasLtMatmulAlgoConfigGetAttribute(a, at, &v, sizeof v, &wr);
    return v;
}

static uint16_t cfg_u16(const cublasLtMatmulAlgo_t *a, cublasLtMatmulAlgoConfigAttributes_t at)
{
    uint16_t v = 0;
    size_t wr = 0;
    cublasLtMatmulAlgoConfigGetAttribute(a, at, &v, sizeof v, &wr);
    return v;
}

static void cfg_str(const cublasLtMatmulAlgo_t *a, char *s, size_t n)
{
    snprintf(s, n, "id %u tile %u stages %u cluster %u swizzle %u splitk %u custom %u",
             cfg_u32(a, CUBLASLT_ALGO_CONFIG_ID), cfg_u32(a, CUBLASLT_ALGO_CONFIG_TILE_ID),
             cfg_u32(a, CUBLASLT_ALGO_CONFIG_STAGES_ID), (unsigned)cfg_u16(a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID),
             cfg_u32(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING), cfg_u32(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM),
             cfg_u32(a, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION));
}

static cudaDataType_t tune_type(int t) { return t == WM_BF16 ? CUDA_R_16BF : t == WM_F16 ? CUDA_R_16F : CUDA_R_32F; }

/* Every tile x stages x cluster configuration (custom option 0, no swizzle) of the algorithm ids among
 * the heuristic's candidates that this plan accepts, up to cap. A first search over every id cuBLASLt
 * lists, both swizzles and clusters up to 4 CTAs (H100, docs/perf.md §14) found every winner among the
 * heuristic's ids, without swizzle, in clusters of at most 2. */
static int mm_enumerate(wm_cuda_ctx *c, const wm_cuda_plan *p, const cublasLtMatmulHeuristicResult_t *res, int found,
                        cublasLtMatmulAlgo_t *out, int cap)
{
    const cudaDataType_t at = tune_type(p->wt), bt = tune_type(p->xt), ct = tune_type(p->yt);
    int ids[64], nid = 0, n = 0;
    for (int i = 0; i < found && nid < 64; i++) {
        int id = (int)cfg_u32(&res[i].algo, CUBLASLT_ALGO_CONFIG_ID), seen = 0;
        for (int j = 0; j < nid; j++) seen |= ids[j] == id;
        if (!seen) ids[nid++] = id;
    }
    static const uint16_t clusters[] = {CUBLASLT_CLUSTER_SHAPE_AUTO, CUBLASLT_CLUSTER_SHAPE_1x1x1,
                                        CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_1x2x1,
                                        CUBLASLT_CLUSTER_SHAPE_2x2x1};
    for (int i = 0; i < nid && n < cap; i++) {
        cublasLtMatmulAlgo_t a;
        if (cublasLtMatmulAlgoInit(c->lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, at, bt, ct, ct, ids[i], &a) !=
            CUBLAS_STATUS_SUCCESS)
            continue;
        uint32_t tiles[1024], stages[128];
        size_t wr = 0;
        int nt = 0, ns = 0;
        if (cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_TILE_IDS, tiles, sizeof tiles, &wr) ==
            CUBLAS_STATUS_SUCCESS)
            nt = (int)(wr / sizeof tiles[0]);
        if (nt == 0) tiles[nt++] = CUBLASLT_MATMUL_TILE_UNDEFINED;
        wr = 0;
        if (cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_STAGES_IDS, stages, sizeof stages, &wr) ==
            CUBLAS_STATUS_SUCCESS)
            ns = (int)(wr / sizeof stages[0]);
        if (ns == 0) stages[ns++] = CUBLASLT_MATMUL_STAGES_UNDEFINED;
        for (int t = 0; t < nt && n < cap; t++)
            for (int s = 0; s < ns && n < cap; s++)
                for (size_t k = 0; k < sizeof clusters / sizeof clusters[0] && n < cap; k++) {
                        cublasLtMatmulAlgo_t b = a;
                        if (cublasLtMatmulAlgoConfigSetAttribute(&b, CUBLASLT_ALGO_CONFIG_TILE_ID, &tiles[t],
                                                                 sizeof tiles[t]) != CUBLAS_STATUS_SUCCESS ||
                            cublasLtMatmulAlgoConfigSetAttribute(&b, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages[s],
                                                                 sizeof stages[s]) != CUBLAS_STATUS_SUCCESS ||
                            cublasLtMatmulAlgoConfigSetAttribute(&b, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID,
                                                                 &clusters[k], sizeof clusters[k]) !=
                                CUBLAS_STATUS_SUCCESS)
                            continue;
                        cublasLtMatmulHeuristicResult_t r;
                        memset(&r, 0, sizeof r);
                        if (cublasLtMatmulAlgoCheck(c->lt, p->desc, p->la, p->lb, p->lc, p->lc, &b, &r) ==
                                CUBLAS_STATUS_SUCCESS &&
                            r.workspaceSize <= c->workspace_bytes)
                            out[n++] = b;
                    }
    }
    return n;
}

/* Index of the fastest of the n finalists fin[] (10 runs each). */
static int mm_final(mm_timer *t, const cublasLtMatmulAlgo_t *fin, int n, float *best_ms)
{
    int pick = 0;
    float best = 1e30f;
    for (int i = 0; i < n; i++) {
        float ms = mm_time(t, &fin[i], 10);
        if (ms < best) best = ms, pick = i;
    }
    *best_ms = best;
    return pick;
}

extern "C" void wm__mm_tune(wm_backend *be, wm_cuda_plan *p, const cublasLtMatmulHeuristicResult_t *res, int found,
                            const void *x, const void *w, void *y, const void *bias)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    p->algo = res[0].algo;
    cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
    if ((found < 2 && !c->mm_search) || !x || cudaStreamIsCapturing(c->stream, &cs) != cudaSuccess ||
        cs != cudaStreamCaptureStatusNone)
        return;
    mm_timer t = {NULL, NULL, p, c, x, w, y};
    if (cudaEventCreate(&t.e0) != cudaSuccess) return;
    if (cudaEventCreate(&t.e1) != cudaSuccess) { cudaEventDestroy(t.e0); return; }
    if (bias) cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    float hbest = 1e30f;
    int hpick = 0;
    for (int i = 0; i < found; i++) {
        float ms = mm_time(&t, &res[i].algo, 3);
        if (ms < hbest) hbest = ms, hpick = i;
    }
    p->algo = res[hpick].algo;
    cublasLtMatmulAlgo_t *cand = c->mm_search ? (cublasLtMatmulAlgo_t *)malloc(MM_SEARCH_MAX * sizeof *cand) : NULL;
    float *ms = cand ? (float *)malloc(MM_SEARCH_MAX * sizeof *ms) : NULL;
    if (cand && ms) {
        double t0 = tune_now_ms();
        int n = mm_enumerate(c, p, res, found, cand, MM_SEARCH_MAX);
        double t1 = tune_now_ms();
        for (int i = 0; i < n; i++) ms[i] = mm_time(&t, &cand[i], 1);
        double t2 = tune_now_ms();
        /* finalists: the heuristic's best, the screen's best MM_FINALISTS, and each of the latter with its
         * other custom options (kernel variants of one tile configuration, e.g. the tile scheduler) */
        cublasLtMatmulAlgo_t fin[MM_FINALISTS * 8 + 1];
        int nf = 0;
        fin[nf++] = res[hpick].algo;
        for (int f = 0; f < MM_FINALISTS && f < n; f++) { /* selection of the screen's best */
            int b = -1;
            for (int i = 0; i < n; i++)
                if (ms[i] < 1e29f && (b < 0 || ms[i] < ms[b])) b = i;
            if (b < 0) break;
            fin[nf++] = cand[b];
            ms[b] = 1e30f;
            int32_t cmax = 0;
            size_t wr = 0;
            cublasLtMatmulAlgoCapGetAttribute(&cand[b], CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX, &cmax, sizeof cmax, &wr);
            for (uint32_t o = 1; o <= (uint32_t)cmax && o < 8; o++) {
                cublasLtMatmulAlgo_t v = cand[b];
                cublasLtMatmulHeuristicResult_t r;
                memset(&r, 0, sizeof r);
                if (cublasLtMatmulAlgoConfigSetAttribute(&v, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, &o, sizeof o) ==
                        CUBLAS_STATUS_SUCCESS &&
                    cublasLtMatmulAlgoCheck(c->lt, p->desc, p->la, p->lb, p->lc, p->lc, &v, &r) == CUBLAS_STATUS_SUCCESS &&
                    r.workspaceSize <= c->workspace_bytes)
                    fin[nf++] = v;
            }
        }
        float fbest = 0.0f;
        int pick = mm_final(&t, fin, nf, &fbest);
        p->algo = fin[pick];
        if (c->mm_search > 1) {
            char hs[160], ss[160];
            float h10 = mm_time(&t, &res[hpick].algo, 10);
            cfg_str(&res[hpick].algo, hs, sizeof hs);
            cfg_str(&fin[pick], ss, sizeof ss);
            fprintf(stderr, "mm search N=%lld M=%lld K=%lld batch=%d epi=%d: %d configs (enumerated in %.0f ms, "
                    "screened in %.0f ms), %d finalists (%.0f ms); heuristic best %.1f us (%s); search best %.1f us "
                    "(%s)%s\n", (long long)p->n, (long long)p->m, (long long)p->k, p->epi >> 16 ? p->epi >> 16 : 1,
                    p->epi & 0xFFFF, n, t1 - t0, t2 - t1, nf, tune_now_ms() - t2, 1e3 * h10, hs, 1e3 * fbest, ss,
                    pick == 0 ? " = heuristic" : "");
        }
    }
    free(cand);
    free(ms);
    cudaGetLastError();
    cudaEventDestroy(t.e0);
    cudaEventDestroy(t.e1);
}
