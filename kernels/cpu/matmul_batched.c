/* matmul_batched reference: n_batch matmuls sharing x, w and bias stacked along their rows, outputs at
 * y_stride rows from each other along y's rows (0: stacked). Each batch is exactly matmul_cpu on row views, so [one matmul_batched] is bit-identical
 * to [n_batch matmul calls] (the DiT's q|k|v projections; tests/dit/test_dit_fused.c). */
#include "cpu_common.h"

wm_status wm_matmul_batched_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *bias,
                                int n_batch, int64_t y_stride, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, w);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, n_batch >= 1 && wm_tensor_rows(w) % n_batch == 0, WM_ERR_SHAPE,
                "w must stack n_batch (M, K) matrices");
    int64_t N = wm_tensor_rows(x), M = wm_tensor_rows(w) / n_batch, ys = y_stride ? y_stride : N;
    WM_OP_CHECK(be, ys >= N, WM_ERR_SHAPE, "y_stride must be 0 or >= the rows of x");
    WM_OP_CHECK(be, wm_tensor_rows(y) == (int64_t)(n_batch - 1) * ys + N && wm_tensor_cols(y) == M, WM_ERR_SHAPE,
                "y must be ((n_batch-1)*y_stride + N, M)");
    if (bias) {
        WM_CPU_F32(be, bias);
        WM_OP_CHECK(be, wm_tensor_numel(bias) == (int64_t)n_batch * M, WM_ERR_SHAPE, "bias must have n_batch*M elements");
    }
    for (int b = 0; b < n_batch; b++) {
        wm_tensor wb = wm_tensor_slice0(w, b * M, M), yb = wm_tensor_slice0(y, b * ys, N), bb;
        if (bias) {
            int64_t sh[1] = {M};
            bb = wm_tensor_view(WM_F32, WM_DEVICE_CPU, (float *)bias->data + b * M, 1, sh);
        }
        WM_TRY(wm_matmul_cpu(be, x, &wb, bias ? &bb : NULL, WM_ACT_NONE, &yb));
    }
    return WM_OK;
}
