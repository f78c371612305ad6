/* Operand of the FFN temporal conv (spec §2.6 step 5) so that the (C x C x 3) t_conv becomes ONE GEMM
 * against a (C, 3C) weight: out[n] = [y[t-1] | y[t] | y[t+1]] at the token's spatial position.
 * Left context crosses chunks (previous frame; the streaming tail or zero before frame 0); right context
 * stops at the last frame of the token's chunk (no look-ahead across a chunk boundary).
 * y (T*S, C); tail (S, C) or NULL; out (T*S, 3C).
 */
#include "cpu_common.h"

#include <string.h>

typedef struct {
    const float *y, *tail;
    float *o;
    const int *bounds;
    int n_chunks;
    int64_t T, S, C;
} ts_ctx;

static void ts_items(void *p, int64_t i0, int64_t i1)
{
    const ts_ctx *c = p;
    size_t row = (size_t)c->C * sizeof(float);
    for (int64_t n = i0; n < i1; n++) {
        int64_t f = n / c->S, s = n % c->S, ce = c->T;
        for (int k = 0; k < c->n_chunks; k++)
            if (f < c->bounds[k + 1]) { ce = c->bounds[k + 1]; break; }
        float *o = c->o + n * 3 * c->C;
        const float *prev = f > 0 ? c->y + (n - c->S) * c->C : (c->tail ? c->tail + s * c->C : NULL);
        if (prev) memcpy(o, prev, row); else memset(o, 0, row);
        memcpy(o + c->C, c->y + n * c->C, row);
        if (f + 1 < ce) memcpy(o + 2 * c->C, c->y + (n + c->S) * c->C, row);
        else memset(o + 2 * c->C, 0, row);
    }
}

wm_status wm_temporal_shift_cat_cpu(wm_backend *be, const wm_tensor *y, const wm_tensor *tail, const int *bounds,
                                    int n_chunks, wm_tensor *out)
{
    WM_CPU_F32(be, y);
    WM_CPU_F32(be, out);
    WM_OP_CHECK(be, bounds && n_chunks > 0 && bounds[0] == 0, WM_ERR_INVALID_ARG, "bounds must start at 0");
    for (int k = 0; k < n_chunks; k++)
        WM_OP_CHECK(be, bounds[k + 1] > bounds[k], WM_ERR_INVALID_ARG, "bounds must increase");
    int64_t T = bounds[n_chunks], N = wm_tensor_rows(y), C = wm_tensor_cols(y);
    WM_OP_CHECK(be, N % T == 0, WM_ERR_SHAPE, "tokens must split into bounds[n_chunks] frames");
    WM_OP_CHECK(be, wm_tensor_numel(out) == N * 3 * C, WM_ERR_SHAPE, "out must be (N, 3C)");
    if (tail) {
        WM_CPU_F32(be, tail);
        WM_OP_CHECK(be, wm_tensor_numel(tail) == (N / T) * C, WM_ERR_SHAPE, "tail must be (S, C)");
    }
    ts_ctx c = {y->data, tail ? tail->data : NULL, out->data, bounds, n_chunks, T, N / T, C};
    wm_threadpool_run(be->pool, N, 16, ts_items, &c);
    return WM_OK;
}
