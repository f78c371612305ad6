/* Depthwise temporal short convolution on K (spec §3.2), in all three forms with one code path.
 *
 * y = yf + yb - w[K-1] x. yf is the causal conv (tap j applied to frame t-(K-1)+j) over the whole
 * sequence, whose left context is a tail of the K-1 previous frames (the streaming cache) or zeros.
 * yb is the same kernel run on the time-reversed sequence (tap j applied to frame t+(K-1)-j), but only
 * inside the chunk of the frame: one chunk = bidirectional model, the chunk list = chunk-causal teacher
 * and streaming (the current chunk is one chunk). Parallel over tokens of a frame (channels inner).
 * x, y (T*S, C); w (C, K); tail ((K-1)*S, C) oldest frame first, or NULL.
 */
#include "cpu_common.h"

typedef struct {
    const float *x, *w, *tail;
    float *y;
    const int *bounds;
    int n_chunks;
    int64_t T, S, C, K;
} sc_ctx;

/* Row of frame f (f may be negative: then it comes from the tail) at spatial position s, or NULL. */
static const float *sc_row(const sc_ctx *c, int64_t f, int64_t s)
{
    if (f >= 0) return c->x + (f * c->S + s) * c->C;
    int64_t tf = (c->K - 1) + f; /* tail frame index, oldest first */
    if (!c->tail || tf < 0) return NULL;
    return c->tail + (tf * c->S + s) * c->C;
}

static void sc_items(void *p, int64_t i0, int64_t i1)
{
    const sc_ctx *c = p;
    for (int64_t it = i0; it < i1; it++) {
        int64_t f = it / c->S, s = it % c->S;
        int64_t ce = c->T; /* end of this frame's chunk */
        for (int k = 0; k < c->n_chunks; k++)
            if (f < c->bounds[k + 1]) { ce = c->bounds[k + 1]; break; }
        float *yr = c->y + it * c->C;
        const float *xr = c->x + it * c->C;
        for (int64_t ch = 0; ch < c->C; ch++) yr[ch] = -c->w[ch * c->K + c->K - 1] * xr[ch];
        for (int64_t j = 0; j < c->K; j++) {
            const float *rf = sc_row(c, f - (c->K - 1) + j, s);
            int64_t fb = f + (c->K - 1) - j;
            const float *rb = fb < ce ? c->x + (fb * c->S + s) * c->C : NULL;
            for (int64_t ch = 0; ch < c->C; ch++) {
                float wj = c->w[ch * c->K + j];
                if (rf) yr[ch] += wj * rf[ch];
                if (rb) yr[ch] += wj * rb[ch];
            }
        }
    }
}

wm_status wm_short_conv_t_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *tail,
                              const int *bounds, int n_chunks, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, w);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, bounds && n_chunks > 0 && bounds[0] == 0, WM_ERR_INVALID_ARG, "bounds must start at 0");
    int64_t T = bounds[n_chunks], N = wm_tensor_rows(x), C = wm_tensor_cols(x), K = wm_tensor_cols(w);
    for (int k = 0; k < n_chunks; k++)
        WM_OP_CHECK(be, bounds[k + 1] > bounds[k], WM_ERR_INVALID_ARG, "bounds must increase");
    WM_OP_CHECK(be, T > 0 && N % T == 0, WM_ERR_SHAPE, "tokens must split into bounds[n_chunks] frames");
    WM_OP_CHECK(be, wm_tensor_rows(w) == C && K >= 1, WM_ERR_SHAPE, "w must be (C, K)");
    WM_OP_CHECK(be, wm_tensor_same_shape(x, y) && x->data != y->data, WM_ERR_SHAPE, "y must be x-shaped, no alias");
    if (tail) {
        WM_CPU_F32(be, tail);
        WM_OP_CHECK(be, wm_tensor_numel(tail) == (K - 1) * (N / T) * C, WM_ERR_SHAPE, "tail must be ((K-1)*S, C)");
    }
    sc_ctx c = {x->data, w->data, tail ? tail->data : NULL, y->data, bounds, n_chunks, T, N / T, C, K};
    wm_threadpool_run(be->pool, N, 16, sc_items, &c);
    return WM_OK;
}
