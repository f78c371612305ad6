/* GEMM plan autotune for matmul.cu: which cuBLASLt algorithm a new plan keeps.
 *
 * Default: time each of the heuristic's candidates (WM_CUDA_MM_CANDIDATES, 1 warm-up + 3 runs) on the
 * call's own operands and keep the fastest; cuBLASLt's first pick is not always the fastest for our
 * skinny shapes (N = 2640 tokens against K = 2240).
 *
 * WM_CUDA_MM_SEARCH=1 (read at backend creation) widens the field beyond the heuristic: every algorithm
 * id cuBLASLt lists for the dtypes, each with every tile and stage count it reports, the Hopper cluster
 * shapes up to 4 CTAs and both CTA swizzles, kept when cublasLtMatmulAlgoCheck accepts it for this plan
 * and its workspace fits. Candidates are screened with 1 warm-up + 2 runs, the best MM_FINALISTS (and
 * the heuristic's own best) re-timed with 10 runs. It costs seconds per GEMM shape at start-up, which is
 * why it is a switch; WM_CUDA_MM_SEARCH=2 also prints, per plan, the heuristic's best and the search's
 * best with their configurations (stderr).
 *
 * Skipped while the stream is being captured into a graph (no timing there): the first candidate is
 * kept then. Runs once per plan, i.e. once per GEMM shape. */
#include "cuda_common.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Every configuration of every listed algorithm that this plan accepts, up to cap. */
static int mm_enumerate(wm_cuda_ctx *c, const wm_cuda_plan *p, cublasLtMatmulAlgo_t *out, int cap)
{
    const cudaDataType_t at = tune_type(p->wt), bt = tune_type(p->xt), ct = tune_type(p->yt);
    int ids[512], nid = 0, n = 0;
    if (cublasLtMatmulAlgoGetIds(c->lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, at, bt, ct, ct, 512, ids, &nid) !=
        CUBLAS_STATUS_SUCCESS)
        return 0;
    static const uint16_t clusters[] = {CUBLASLT_CLUSTER_SHAPE_AUTO, CUBLASLT_CLUSTER_SHAPE_1x1x1,
                                        CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_1x2x1,
                                        CUBLASLT_CLUSTER_SHAPE_2x2x1, CUBLASLT_CLUSTER_SHAPE_4x1x1,
                                        CUBLASLT_CLUSTER_SHAPE_1x4x1};
    for (int i = 0; i < nid && n < cap; i++) {
        cublasLtMatmulAlgo_t a;
        if (cublasLtMatmulAlgoInit(c->lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, at, bt, ct, ct, ids[i], &a) !=
            CUBLAS_STATUS_SUCCESS)
            continue;
        uint32_t tiles[1024], stages[128], swz = 0;
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
        cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT, &swz, sizeof swz, &wr);
        for (int t = 0; t < nt && n < cap; t++)
            for (int s = 0; s < ns && n < cap; s++)
                for (size_t k = 0; k < sizeof clusters / sizeof clusters[0] && n < cap; k++)
                    for (uint32_t z = 0; z <= (swz ? 1u : 0u) && n < cap; z++) {
                        cublasLtMatmulAlgo_t b = a;
                        if (cublasLtMatmulAlgoConfigSetAttribute(&b, CUBLASLT_ALGO_CONFIG_TILE_ID, &tiles[t],
                                                                 sizeof tiles[t]) != CUBLAS_STATUS_SUCCESS ||
                            cublasLtMatmulAlgoConfigSetAttribute(&b, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages[s],
                                                                 sizeof stages[s]) != CUBLAS_STATUS_SUCCESS ||
                            cublasLtMatmulAlgoConfigSetAttribute(&b, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID,
                                                                 &clusters[k], sizeof clusters[k]) !=
                                CUBLAS_STATUS_SUCCESS ||
                            cublasLtMatmulAlgoConfigSetAttribute(&b, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &z,
                                                                 sizeof z) != CUBLAS_STATUS_SUCCESS)
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
        int n = mm_enumerate(c, p, cand, MM_SEARCH_MAX);
        for (int i = 0; i < n; i++) ms[i] = mm_time(&t, &cand[i], 2);
        cublasLtMatmulAlgo_t fin[MM_FINALISTS + 1];
        int nf = 0;
        fin[nf++] = res[hpick].algo; /* the heuristic's best competes in the final */
        for (int f = 0; f < MM_FINALISTS && f < n; f++) { /* selection of the screen's best */
            int b = -1;
            for (int i = 0; i < n; i++)
                if (ms[i] < 1e29f && (b < 0 || ms[i] < ms[b])) b = i;
            if (b < 0) break;
            fin[nf++] = cand[b];
            ms[b] = 1e30f;
        }
        float fbest = 0.0f;
        int pick = mm_final(&t, fin, nf, &fbest);
        p->algo = fin[pick];
        if (c->mm_search > 1) {
            char hs[160], ss[160];
            float h10 = mm_time(&t, &res[hpick].algo, 10);
            cfg_str(&res[hpick].algo, hs, sizeof hs);
            cfg_str(&fin[pick], ss, sizeof ss);
            fprintf(stderr, "mm search N=%lld M=%lld K=%lld batch=%d epi=%d: %d configs; heuristic best %.1f us "
                    "(%s); search best %.1f us (%s)%s\n", (long long)p->n, (long long)p->m, (long long)p->k,
                    p->epi >> 16 ? p->epi >> 16 : 1, p->epi & 0xFFFF, n, 1e3 * h10, hs, 1e3 * fbest, ss,
                    pick == 0 ? " = heuristic" : "");
        }
    }
    free(cand);
    free(ms);
    cudaGetLastError();
    cudaEventDestroy(t.e0);
    cudaEventDestroy(t.e1);
}
