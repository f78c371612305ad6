/* Gemma-2's sandwich-norm residual step fused with the next pre-norm (fp32 reference):
 *     x += rmsnorm(a) * w1;  y = rmsnorm(x) * w2        per row (N, C)
 * with rmsnorm exactly as kernels/cpu/rmsnorm.c computes it (statistics in double, inv rounded to fp32,
 * x * inv * w), so on the CPU the fused op equals rmsnorm + gated_add + rmsnorm bit for bit. Each row
 * reads a and x and writes x and y; y may alias a (a's row is consumed before y's row is written).
 */
#include "cpu_common.h"
#include "kernels/text_shapes.h"

#include <math.h>

typedef struct { float *x; const float *a, *w1, *w2; float *y; int64_t C; float eps; } nan_ctx;

static float inv_rms(const float *v, int64_t C, float eps)
{
    double ss = 0;
    for (int64_t i = 0; i < C; i++) ss += (double)v[i] * v[i];
    return (float)(1.0 / sqrt(ss / (double)C + eps));
}

static void nan_rows(void *p, int64_t r0, int64_t r1)
{
    const nan_ctx *c = p;
    for (int64_t r = r0; r < r1; r++) {
        float *xr = c->x + r * c->C, *yr = c->y + r * c->C;
        const float *ar = c->a + r * c->C;
        float inv = inv_rms(ar, c->C, c->eps);
        for (int64_t i = 0; i < c->C; i++) xr[i] += ar[i] * inv * c->w1[i];
        inv = inv_rms(xr, c->C, c->eps);
        for (int64_t i = 0; i < c->C; i++) yr[i] = xr[i] * inv * c->w2[i];
    }
}

wm_status wm_norm_add_norm_cpu(wm_backend *be, wm_tensor *x, const wm_tensor *a, const wm_tensor *w1,
                               const wm_tensor *w2, float eps, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, a);
    WM_CPU_F32(be, w1);
    WM_CPU_F32(be, w2);
    WM_CPU_F32(be, y);
    WM_TRY(wm_norm_add_norm_shape(be, x, a, w1, w2, y));
    nan_ctx c = {x->data, a->data, w1->data, w2->data, y->data, wm_tensor_cols(x), eps};
    wm_threadpool_run(be->pool, wm_tensor_rows(x), 16, nan_rows, &c);
    return WM_OK;
}
