/* rmsnorm reference: y = x * rsqrt(mean(x^2) + eps) * w per row, statistics in double so the reference
 * is more accurate than any fast version it checks. */
#include "cpu_common.h"

typedef struct { const float *x, *w; float *y; int64_t C; float eps; } rms_ctx;

static void rms_rows(void *p, int64_t r0, int64_t r1)
{
    const rms_ctx *c = p;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = c->x + r * c->C;
        float *yr = c->y + r * c->C;
        double ss = 0;
        for (int64_t i = 0; i < c->C; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / (double)c->C + c->eps));
        for (int64_t i = 0; i < c->C; i++) yr[i] = xr[i] * inv * (c->w ? c->w[i] : 1.0f);
    }
}

wm_status wm_rmsnorm_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, float eps, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, wm_tensor_numel(x) == wm_tensor_numel(y) && wm_tensor_cols(x) == wm_tensor_cols(y),
                WM_ERR_SHAPE, "y must have x's shape");
    if (w) {
        WM_CPU_F32(be, w);
        WM_OP_CHECK(be, wm_tensor_numel(w) == wm_tensor_cols(x), WM_ERR_SHAPE, "w must have C elements");
    }
    rms_ctx c = {x->data, w ? w->data : NULL, y->data, wm_tensor_cols(x), eps};
    wm_threadpool_run(be->pool, wm_tensor_rows(x), 16, rms_rows, &c);
    return WM_OK;
}
