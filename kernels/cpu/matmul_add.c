/* matmul_add reference: y(N,M) = x(N,K) . w(M,K)^T + bias(M) + res(N,M), the residual add of a block
 * fused into its GEMM (the CUDA version is cuBLASLt with beta = 1). Each output is computed as the
 * unfused pair matmul -> gated_add(gate NULL) computes it, res + (dot + b), so the fused CPU forward is
 * bit-identical to the unfused one. res may alias y: every element is read before it is written by the
 * same thread. The loop is matmul.c's (wm__matmul_rows). */
#include "cpu_common.h"

wm_status wm_matmul_add_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *bias,
                            const wm_tensor *res, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, w);
    WM_CPU_F32(be, res);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(x), K = wm_tensor_cols(x), M = wm_tensor_rows(w);
    WM_OP_CHECK(be, wm_tensor_cols(w) == K, WM_ERR_SHAPE, "w must be (M, K) with K = x's last dim");
    WM_OP_CHECK(be, wm_tensor_rows(y) == N && wm_tensor_cols(y) == M, WM_ERR_SHAPE, "y must be (N, M)");
    WM_OP_CHECK(be, wm_tensor_numel(res) == N * M && wm_tensor_cols(res) == M, WM_ERR_SHAPE, "res must be (N, M)");
    if (bias) {
        WM_CPU_F32(be, bias);
        WM_OP_CHECK(be, wm_tensor_numel(bias) == M, WM_ERR_SHAPE, "bias must have M elements");
    }
    WM_OP_CHECK(be, y->data != x->data && y->data != w->data && res->data != x->data, WM_ERR_INVALID_ARG,
                "y and res may not alias x or w");
    wm__matmul_rows(be, x->data, w->data, bias ? bias->data : NULL, res->data, y->data, N, K, M, WM_ACT_NONE);
    return WM_OK;
}
