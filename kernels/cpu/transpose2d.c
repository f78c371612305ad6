/* 2-D transpose y(C, R) = x(R, C)^T: converts channels-first latents (Ch, T*H*W) to tokens-major
 * activations (N, Ch) and back (patch size 1x1x1, spec §1.6, §2.8). Blocked 32x32 for cache reuse,
 * parallel over row blocks of the output. */
#include "cpu_common.h"

typedef struct {
    const float *x;
    float *y;
    int64_t R, C;
} tr_ctx;

static void tr_rows(void *p, int64_t b0, int64_t b1)
{
    const tr_ctx *c = p;
    for (int64_t bc = b0; bc < b1; bc++) {
        int64_t c0 = bc * 32, c1 = c0 + 32 < c->C ? c0 + 32 : c->C;
        for (int64_t r0 = 0; r0 < c->R; r0 += 32) {
            int64_t r1 = r0 + 32 < c->R ? r0 + 32 : c->R;
            for (int64_t j = c0; j < c1; j++)
                for (int64_t i = r0; i < r1; i++) c->y[j * c->R + i] = c->x[i * c->C + j];
        }
    }
}

wm_status wm_transpose2d_cpu(wm_backend *be, const wm_tensor *x, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, wm_tensor_numel(x) == wm_tensor_numel(y), WM_ERR_SHAPE, "y must have x's element count");
    WM_OP_CHECK(be, x->data != y->data, WM_ERR_INVALID_ARG, "y may not alias x");
    tr_ctx c = {x->data, y->data, wm_tensor_rows(x), wm_tensor_cols(x)};
    wm_threadpool_run(be->pool, (c.C + 31) / 32, 1, tr_rows, &c);
    return WM_OK;
}
