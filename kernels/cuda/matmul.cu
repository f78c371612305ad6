/* matmul on CUDA: y(N,M) = act(x(N,K) . w(M,K)^T + bias(M)) through cuBLASLt.
 *
 * Layout trick: cuBLASLt is column-major. Our row-major y(N,M) is a column-major (M,N) matrix, so we
 * ask for D(M,N) = W^T(op)(M,K) . X(K,N): A = w read as a column-major (K,M) matrix with transa = T,
 * B = x as a column-major (K,N) matrix with transb = N. No copies, no transposes in memory.
 *
 * Precision: bf16 x/w with fp32 accumulation (CUBLAS_COMPUTE_32F), output bf16 or fp32; fp32 x/w use
 * exact fp32 compute (no TF32), since fp32 GEMMs here are small and parity matters more than speed.
 *
 * Epilogues: bias, GELU(tanh) and ReLU fuse into cuBLASLt (CUBLASLT_EPILOGUE_*; Lt's GELU is the tanh
 * approximation). cuBLASLt has no SiLU epilogue, so SiLU runs as one extra in-place pass over y; the
 * DiT's SiLU GEMM (inverted_conv) then costs one read+write of its output more than a fused kernel.
 *
 * matmul_add (ops_dit.def) is the same GEMM with beta = 1 and C = the residual: the DiT block's
 * "x += proj(...)" adds cost no extra pass over x (C may be D itself: in-place accumulation).
 *
 * Plans (descriptors + the heuristic's first algorithm) are cached per (shape, dtypes, epilogue,
 * pointer alignment) in the backend context: the heuristic query costs tens of microseconds, which
 * would be visible at ~300 GEMMs per chunk, and a cached plan keeps graph capture host-cheap.
 */
#include "cuda_common.cuh"

#include <string.h>

static cudaDataType_t lt_type(wm_dtype t) { return t == WM_BF16 ? CUDA_R_16BF : t == WM_F16 ? CUDA_R_16F : CUDA_R_32F; }

static int ptr_align(const void *p)
{
    uintptr_t u = (uintptr_t)p;
    int a = 256;
    while (a > 2 && (u % (uintptr_t)a)) a >>= 1;
    return a;
}

typedef struct { const void *x, *w, *y, *bias; } mm_ptrs;

/* Autotune: time each heuristic candidate (3 runs after 1 warm-up) on the call's own operands and keep
 * the fastest. cuBLASLt's first heuristic pick is not always the fastest for our skinny shapes (N = 2640
 * tokens against K = 2240). Skipped while the stream is being captured into a graph (no timing there):
 * the first candidate is kept then. Runs once per plan, i.e. once per GEMM shape. */
static int pick_algo(wm_backend *be, wm_cuda_plan *p, const cublasLtMatmulHeuristicResult_t *res, int found,
                     const mm_ptrs *mp)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
    if (found < 2 || !mp || cudaStreamIsCapturing(c->stream, &cs) != cudaSuccess || cs != cudaStreamCaptureStatusNone)
        return 0;
    cudaEvent_t e0, e1;
    if (cudaEventCreate(&e0) != cudaSuccess) return 0;
    if (cudaEventCreate(&e1) != cudaSuccess) { cudaEventDestroy(e0); return 0; }
    if (mp->bias) cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &mp->bias, sizeof mp->bias);
    float alpha = 1.0f, beta = 0.0f, best = 1e30f;
    int pick = 0;
    for (int i = 0; i < found; i++) {
        int ok = 1;
        for (int r = 0; r < 4 && ok; r++) {
            if (r == 1) cudaEventRecord(e0, c->stream);
            ok = cublasLtMatmul(c->lt, p->desc, &alpha, mp->w, p->la, mp->x, p->lb, &beta, (void *)mp->y, p->lc,
                                (void *)mp->y, p->lc, &res[i].algo, c->workspace, c->workspace_bytes,
                                c->stream) == CUBLAS_STATUS_SUCCESS;
        }
        cudaEventRecord(e1, c->stream);
        float ms = 0.0f;
        if (ok && cudaEventSynchronize(e1) == cudaSuccess && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess &&
            ms < best) {
            best = ms;
            pick = i;
        }
    }
    cudaGetLastError();
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return pick;
}

static wm_status plan_build(wm_backend *be, wm_cuda_plan *p, const mm_ptrs *mp)
{
    cublasStatus_t s;
    int ok = 1;
    cublasComputeType_t ct = CUBLAS_COMPUTE_32F;
    s = cublasLtMatmulDescCreate(&p->desc, ct, CUDA_R_32F);
    ok &= s == CUBLAS_STATUS_SUCCESS;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    if (ok) cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    if (ok) cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    cublasLtEpilogue_t epi = (cublasLtEpilogue_t)(p->epi & 0xFFFF);
    const int nb = p->epi >> 16; /* matmul_batched: batch count in the key's high bits (0/1: none) */
    if (ok) cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi);
    if (ok && p->bt >= 0) {
        cudaDataType_t bt = lt_type((wm_dtype)p->bt);
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt);
    }
    ok = ok && cublasLtMatrixLayoutCreate(&p->la, lt_type((wm_dtype)p->wt), p->k, p->m, p->k) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasLtMatrixLayoutCreate(&p->lb, lt_type((wm_dtype)p->xt), p->k, p->n, p->k) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasLtMatrixLayoutCreate(&p->lc, lt_type((wm_dtype)p->yt), p->m, p->n, p->m) == CUBLAS_STATUS_SUCCESS;
    if (ok && nb > 1) { /* W batch stride M*K, X shared (stride 0), D stride ys*M, bias stride M */
        int32_t cnt = nb;
        int64_t sa = p->m * p->k, sb = 0, sc = p->m * p->ys, sbias = p->m;
        ok &= cublasLtMatrixLayoutSetAttribute(p->la, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &cnt, sizeof cnt) == CUBLAS_STATUS_SUCCESS;
        ok &= cublasLtMatrixLayoutSetAttribute(p->la, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sa, sizeof sa) == CUBLAS_STATUS_SUCCESS;
        ok &= cublasLtMatrixLayoutSetAttribute(p->lb, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &cnt, sizeof cnt) == CUBLAS_STATUS_SUCCESS;
        ok &= cublasLtMatrixLayoutSetAttribute(p->lb, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sb, sizeof sb) == CUBLAS_STATUS_SUCCESS;
        ok &= cublasLtMatrixLayoutSetAttribute(p->lc, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &cnt, sizeof cnt) == CUBLAS_STATUS_SUCCESS;
        ok &= cublasLtMatrixLayoutSetAttribute(p->lc, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sc, sizeof sc) == CUBLAS_STATUS_SUCCESS;
        if (ok && p->bt >= 0)
            ok &= cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, &sbias, sizeof sbias) ==
                  CUBLAS_STATUS_SUCCESS;
        if (!ok) return wm__errf(&be->err, WM_ERR_UNSUPPORTED, "matmul_batched: cuBLASLt batch attributes refused");
    }
    if (!ok) return wm__errf(&be->err, WM_ERR_CUDA, "matmul: cuBLASLt descriptor creation failed");
    cublasLtMatmulPreference_t pref;
    if (cublasLtMatmulPreferenceCreate(&pref) != CUBLAS_STATUS_SUCCESS)
        return wm__errf(&be->err, WM_ERR_CUDA, "matmul: cuBLASLt preference creation failed");
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    uint32_t al = (uint32_t)p->align;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &c->workspace_bytes,
                                         sizeof c->workspace_bytes);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al, sizeof al);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al, sizeof al);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al, sizeof al);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al, sizeof al);
    cublasLtMatmulHeuristicResult_t res[64];
    int found = 0;
    s = cublasLtMatmulAlgoGetHeuristic(c->lt, p->desc, p->la, p->lb, p->lc, p->lc, pref, c->mm_candidates, res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found < 1)
        return wm__errf(&be->err, WM_ERR_UNSUPPORTED, "matmul: cuBLASLt has no algorithm for N=%lld M=%lld K=%lld "
                        "(epilogue %d): %s", (long long)p->n, (long long)p->m, (long long)p->k, p->epi,
                        cublasLtGetStatusString(s));
    p->algo = res[pick_algo(be, p, res, found, mp)].algo;
    p->used = 1;
    return WM_OK;
}

static void plan_destroy(wm_cuda_plan *p)
{
    if (p->la) cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb) cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc) cublasLtMatrixLayoutDestroy(p->lc);
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    memset(p, 0, sizeof *p);
}

/* Find or build the plan for this key. The cache is small and linear: a model has ~20 distinct GEMMs. */
static wm_status plan_get(wm_backend *be, const wm_cuda_plan *key, const mm_ptrs *mp, wm_cuda_plan **out)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    wm_cuda_plan *free_slot = NULL;
    for (int i = 0; i < WM_CUDA_PLAN_CACHE; i++) {
        wm_cuda_plan *p = &c->plans[i];
        if (!p->used) { if (!free_slot) free_slot = p; continue; }
        if (p->n == key->n && p->m == key->m && p->k == key->k && p->xt == key->xt && p->wt == key->wt &&
            p->yt == key->yt && p->bt == key->bt && p->epi == key->epi && p->align == key->align && p->ys == key->ys) {
            *out = p;
            return WM_OK;
        }
    }
    if (!free_slot) { /* full: recycle the last slot (shapes beyond 128 distinct ones are a test sweep) */
        free_slot = &c->plans[WM_CUDA_PLAN_CACHE - 1];
        plan_destroy(free_slot);
    }
    *free_slot = *key;
    free_slot->used = 0;
    free_slot->desc = NULL; free_slot->la = free_slot->lb = free_slot->lc = NULL;
    wm_status st = plan_build(be, free_slot, mp);
    if (st != WM_OK) { plan_destroy(free_slot); return st; }
    *out = free_slot;
    return WM_OK;
}

static int act_epilogue(wm_act act, int has_bias, int *post_act)
{
    *post_act = 0;
    switch (act) {
    case WM_ACT_GELU_TANH: return has_bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    case WM_ACT_RELU: return has_bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case WM_ACT_SILU: *post_act = 1; /* fall through: Lt has no SiLU */
    default: return has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    }
}

/* The GEMM of matmul and matmul_add: D = W^T X (+ bias) (+ res with beta = 1). res == NULL: plain matmul.
 * With res, cuBLASLt reads C = res and writes D = y (in place when they are the same buffer: C and D
 * then share one layout, which Lt allows). The autotune of a new plan writes D while it times the
 * candidates; with a residual that would destroy res (it may be y itself), so the timing runs write to
 * the op scratch instead (or are skipped when y does not fit there). */
static wm_status mm_run(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *bias, wm_act act,
                        const wm_tensor *res, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, w);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(x), K = wm_tensor_cols(x), M = wm_tensor_rows(w);
    WM_OP_CHECK(be, wm_tensor_cols(w) == K, WM_ERR_SHAPE, "w must be (M, K) with K = x's last dim");
    WM_OP_CHECK(be, wm_tensor_rows(y) == N && wm_tensor_cols(y) == M, WM_ERR_SHAPE, "y must be (N, M)");
    WM_OP_CHECK(be, x->dtype == w->dtype, WM_ERR_DTYPE, "x and w must have the same dtype");
    WM_OP_CHECK(be, y->data != x->data && y->data != w->data, WM_ERR_INVALID_ARG, "y may not alias x or w");
    if (bias) {
        WM_CUDA_FLOAT(be, bias);
        WM_OP_CHECK(be, wm_tensor_numel(bias) == M, WM_ERR_SHAPE, "bias must have M elements");
    }
    if (res) {
        WM_CUDA_FLOAT(be, res);
        WM_OP_CHECK(be, wm_tensor_numel(res) == N * M && wm_tensor_cols(res) == M, WM_ERR_SHAPE, "res must be (N, M)");
        WM_OP_CHECK(be, res->dtype == y->dtype, WM_ERR_DTYPE, "res must have y's dtype");
        WM_OP_CHECK(be, res->data != x->data && res->data != w->data, WM_ERR_INVALID_ARG, "res may not alias x or w");
    }
    if (N == 0 || M == 0) return WM_OK;
    int post_act = 0;
    wm_cuda_plan key;
    memset(&key, 0, sizeof key);
    key.n = N; key.m = M; key.k = K;
    key.xt = x->dtype; key.wt = w->dtype; key.yt = y->dtype; key.bt = bias ? (int)bias->dtype : -1;
    key.epi = act_epilogue(act, bias != NULL, &post_act);
    int al = ptr_align(x->data), a2 = ptr_align(w->data), a3 = ptr_align(y->data);
    if (a2 < al) al = a2;
    if (a3 < al) al = a3;
    if (bias && ptr_align(bias->data) < al) al = ptr_align(bias->data);
    if (res && ptr_align(res->data) < al) al = ptr_align(res->data);
    key.align = al;
    wm_cuda_plan *p;
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    mm_ptrs mp = {x->data, w->data, y->data, bias ? bias->data : NULL};
    const mm_ptrs *mpp = &mp;
    if (res) {
        size_t yb = (size_t)N * (size_t)M * wm_dtype_size(y->dtype);
        mp.y = c->scratch;
        if (!c->scratch || yb > c->scratch_bytes) mpp = NULL;
    }
    wm_status pst = plan_get(be, &key, mpp, &p);
    if (pst == WM_ERR_UNSUPPORTED && bias) {
        /* Some epilogue/bias-dtype pairs (e.g. GELU with an fp32 bias on a bf16 output) have no Lt kernel:
         * run the plain GEMM and apply bias + activation in one extra pass. */
        WM_TRY(mm_run(be, x, w, NULL, WM_ACT_NONE, res, y));
        return wm__cuda_bias_act(be, y, bias, act);
    }
    WM_TRY(pst);
    if (bias) {
        const void *bp = bias->data;
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp);
    }
    float alpha = 1.0f, beta = res ? 1.0f : 0.0f;
    const void *cp = res ? res->data : y->data;
    cublasStatus_t s = cublasLtMatmul(c->lt, p->desc, &alpha, w->data, p->la, x->data, p->lb, &beta, cp, p->lc,
                                      y->data, p->lc, &p->algo, c->workspace, c->workspace_bytes, c->stream);
    if (s != CUBLAS_STATUS_SUCCESS)
        return wm__errf(&be->err, WM_ERR_CUDA, "matmul: cublasLtMatmul failed (%s) for N=%lld M=%lld K=%lld",
                        cublasLtGetStatusString(s), (long long)N, (long long)M, (long long)K);
    if (post_act) return wm_activate_cuda(be, y, WM_ACT_SILU);
    return WM_OK;
}

extern "C" wm_status wm_matmul_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *bias,
                                    wm_act act, wm_tensor *y)
{
    return mm_run(be, x, w, bias, act, NULL, y);
}

/* y = x w^T + bias + res (kernels/ops_dit.def): the block's residual adds fused into the GEMM. */
extern "C" wm_status wm_matmul_add_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *bias,
                                        const wm_tensor *res, wm_tensor *y)
{
    WM_OP_CHECK(be, res != NULL, WM_ERR_INVALID_ARG, "res is required");
    return mm_run(be, x, w, bias, WM_ACT_NONE, res, y);
}

/* n_batch GEMMs sharing x (kernels/ops_dit.def): ONE strided-batched cuBLASLt call -- W stride M*K, X batch
 * stride 0 (the same activations for each), D stride N*M, bias stride M -- so the q|k|v projections run
 * as one (N, 3C)-sized problem (1.4 waves of tiles per C->C GEMM at N = 2640 become one 4.2-wave grid).
 * The batch count lives in the plan key's epilogue high bits. If Lt refuses the batched layout, the
 * n_batch GEMMs run one by one (same result). */
extern "C" wm_status wm_matmul_batched_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *w,
                                            const wm_tensor *bias, int n_batch, int64_t y_stride, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, w);
    WM_CUDA_FLOAT(be, y);
    WM_OP_CHECK(be, n_batch >= 1 && n_batch < 32768 && wm_tensor_rows(w) % n_batch == 0, WM_ERR_SHAPE,
                "w must stack n_batch (M, K) matrices");
    int64_t N = wm_tensor_rows(x), K = wm_tensor_cols(x), M = wm_tensor_rows(w) / n_batch;
    const int64_t ys = y_stride ? y_stride : N;
    WM_OP_CHECK(be, wm_tensor_cols(w) == K, WM_ERR_SHAPE, "w must be (n_batch*M, K) with K = x's last dim");
    WM_OP_CHECK(be, ys >= N, WM_ERR_SHAPE, "y_stride must be 0 or >= the rows of x");
    WM_OP_CHECK(be, wm_tensor_rows(y) == (int64_t)(n_batch - 1) * ys + N && wm_tensor_cols(y) == M, WM_ERR_SHAPE,
                "y must be ((n_batch-1)*y_stride + N, M)");
    WM_OP_CHECK(be, x->dtype == w->dtype, WM_ERR_DTYPE, "x and w must have the same dtype");
    WM_OP_CHECK(be, y->data != x->data && y->data != w->data, WM_ERR_INVALID_ARG, "y may not alias x or w");
    if (bias) {
        WM_CUDA_FLOAT(be, bias);
        WM_OP_CHECK(be, wm_tensor_numel(bias) == (int64_t)n_batch * M, WM_ERR_SHAPE, "bias must have n_batch*M elements");
    }
    if (N == 0 || M == 0) return WM_OK;
    wm_status st = WM_ERR_UNSUPPORTED;
    if (n_batch > 1) {
        int post_act = 0;
        wm_cuda_plan key;
        memset(&key, 0, sizeof key);
        key.n = N; key.m = M; key.k = K; key.ys = ys;
        key.xt = x->dtype; key.wt = w->dtype; key.yt = y->dtype; key.bt = bias ? (int)bias->dtype : -1;
        key.epi = act_epilogue(WM_ACT_NONE, bias != NULL, &post_act) | (n_batch << 16);
        int al = ptr_align(x->data), a2 = ptr_align(w->data), a3 = ptr_align(y->data);
        if (a2 < al) al = a2;
        if (a3 < al) al = a3;
        if (bias && ptr_align(bias->data) < al) al = ptr_align(bias->data);
        key.align = al;
        wm_cuda_plan *p;
        mm_ptrs mp = {x->data, w->data, y->data, bias ? bias->data : NULL};
        st = plan_get(be, &key, &mp, &p);
        if (st == WM_OK) {
            wm_cuda_ctx *c = wm__cuda_ctx(be);
            if (bias) {
                const void *bp = bias->data;
                cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp);
            }
            float alpha = 1.0f, beta = 0.0f;
            cublasStatus_t s = cublasLtMatmul(c->lt, p->desc, &alpha, w->data, p->la, x->data, p->lb, &beta, y->data,
                                              p->lc, y->data, p->lc, &p->algo, c->workspace, c->workspace_bytes,
                                              c->stream);
            if (s != CUBLAS_STATUS_SUCCESS)
                return wm__errf(&be->err, WM_ERR_CUDA, "matmul_batched: cublasLtMatmul failed (%s) for %d x N=%lld "
                                "M=%lld K=%lld", cublasLtGetStatusString(s), n_batch, (long long)N, (long long)M,
                                (long long)K);
            return WM_OK;
        }
        if (st != WM_ERR_UNSUPPORTED) return st;
    }
    for (int b = 0; b < n_batch; b++) { /* one by one */
        wm_tensor wb = wm_tensor_slice0(w, b * M, M), yb = wm_tensor_slice0(y, b * ys, N), bb;
        if (bias) {
            int64_t sh[1] = {M};
            bb = wm_tensor_view(bias->dtype, bias->device, (char *)bias->data + (size_t)b * M * wm_dtype_size(bias->dtype),
                                1, sh);
        }
        WM_TRY(mm_run(be, x, &wb, bias ? &bb : NULL, WM_ACT_NONE, NULL, &yb));
    }
    return WM_OK;
}
