/* Per-frame token mean y(T, C) of x(T*S, C): the pooled input of the GDN decay gate (spec §3.3).
 * Accumulated in double so the mean of 880 tokens is exact to fp32 rounding; parallel over frames. */
#include "cpu_common.h"

typedef struct {
    const float *x;
    float *y;
    int64_t S, C;
} fm_ctx;

static void fm_frames(void *p, int64_t f0, int64_t f1)
{
    const fm_ctx *c = p;
    for (int64_t f = f0; f < f1; f++)
        for (int64_t ch = 0; ch < c->C; ch++) {
            double s = 0;
            for (int64_t i = 0; i < c->S; i++) s += c->x[(f * c->S + i) * c->C + ch];
            c->y[f * c->C + ch] = (float)(s / (double)c->S);
        }
}

wm_status wm_frame_mean_cpu(wm_backend *be, const wm_tensor *x, int n_frames, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, n_frames > 0 && N % n_frames == 0, WM_ERR_SHAPE, "tokens must split into n_frames");
    WM_OP_CHECK(be, wm_tensor_numel(y) == (int64_t)n_frames * C, WM_ERR_SHAPE, "y must be (T, C)");
    fm_ctx c = {x->data, y->data, N / n_frames, C};
    wm_threadpool_run(be->pool, n_frames, 1, fm_frames, &c);
    return WM_OK;
}
