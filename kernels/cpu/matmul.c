/* matmul reference: y(N,M) = act(x(N,K) . w(M,K)^T + bias).
 *
 * Both operands are read along K, the contiguous axis of a PyTorch Linear weight, so each output is a
 * dot product of two contiguous rows. Rows of x are processed in tiles of 4 so each weight row loaded
 * from memory serves four outputs; threads split the N rows. This is a reference, not a fast GEMM: the
 * GPU path uses cuBLASLt, and on the CPU it only has to run the small test configs quickly.
 * matmul_add (residual fused into the GEMM) runs the same loop through wm__matmul_rows with res set.
 */
#include "cpu_common.h"

typedef struct {
    const float *x, *w, *b, *res;
    float *y;
    int64_t K, M;
    wm_act act;
} mm_ctx;

static void mm_rows(void *p, int64_t r0, int64_t r1)
{
    const mm_ctx *c = p;
    for (int64_t r = r0; r < r1; r += 4) {
        int64_t nr = r1 - r < 4 ? r1 - r : 4;
        for (int64_t j = 0; j < c->M; j++) {
            const float *wj = c->w + j * c->K;
            float bj = c->b ? c->b[j] : 0.0f;
            for (int64_t i = 0; i < nr; i++) {
                float v = wm_act_apply(c->act, wm_dot_f32(c->x + (r + i) * c->K, wj, c->K) + bj);
                int64_t o = (r + i) * c->M + j;
                c->y[o] = c->res ? c->res[o] + v : v; /* res may alias y: read before the write */
            }
        }
    }
}

wm_status wm_matmul_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *bias, wm_act act,
                        wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, w);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(x), K = wm_tensor_cols(x), M = wm_tensor_rows(w);
    WM_OP_CHECK(be, wm_tensor_cols(w) == K, WM_ERR_SHAPE, "w must be (M, K) with K = x's last dim");
    WM_OP_CHECK(be, wm_tensor_rows(y) == N && wm_tensor_cols(y) == M, WM_ERR_SHAPE, "y must be (N, M)");
    if (bias) {
        WM_CPU_F32(be, bias);
        WM_OP_CHECK(be, wm_tensor_numel(bias) == M, WM_ERR_SHAPE, "bias must have M elements");
    }
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    wm__matmul_rows(be, x->data, w->data, bias ? bias->data : NULL, NULL, y->data, N, K, M, act);
    return WM_OK;
}

void wm__matmul_rows(wm_backend *be, const float *x, const float *w, const float *b, const float *res, float *y,
                     int64_t N, int64_t K, int64_t M, wm_act act)
{
    mm_ctx c = {x, w, b, res, y, K, M, act};
    /* Tiles of 4 rows; small chunks keep all threads busy for short N. */
    wm_threadpool_run(be->pool, N, 4, mm_rows, &c);
}
