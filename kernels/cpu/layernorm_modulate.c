/* adaLN reference: y = LN(x) * (1 + scale[g]) + shift[g] with g = row / rows_per_group.
 * In the DiT a group is one latent frame (S tokens), which is how SANA-WM gives every frame its own
 * timestep conditioning (spec §2.3). LayerNorm has no affine; statistics in double. */
#include "cpu_common.h"

typedef struct { const float *x, *shift, *scale; float *y; int64_t C, rpg; float eps; } ln_ctx;

static void ln_rows(void *p, int64_t r0, int64_t r1)
{
    const ln_ctx *c = p;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = c->x + r * c->C;
        float *yr = c->y + r * c->C;
        const float *sh = c->shift ? c->shift + (r / c->rpg) * c->C : NULL;
        const float *sc = c->scale ? c->scale + (r / c->rpg) * c->C : NULL;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < c->C; i++) mean += xr[i];
        mean /= (double)c->C;
        for (int64_t i = 0; i < c->C; i++) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        var /= (double)c->C;
        float inv = (float)(1.0 / sqrt(var + c->eps)), m = (float)mean;
        for (int64_t i = 0; i < c->C; i++) {
            float h = (xr[i] - m) * inv;
            if (sc) h = h * (1.0f + sc[i]);
            if (sh) h += sh[i];
            yr[i] = h;
        }
    }
}

wm_status wm_layernorm_modulate_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *shift,
                                    const wm_tensor *scale, int64_t rows_per_group, float eps, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C, WM_ERR_SHAPE, "y must have x's shape");
    WM_OP_CHECK(be, rows_per_group > 0, WM_ERR_INVALID_ARG, "rows_per_group must be > 0");
    int64_t G = (N + rows_per_group - 1) / rows_per_group;
    if (shift) {
        WM_CPU_F32(be, shift);
        WM_OP_CHECK(be, wm_tensor_numel(shift) >= G * C, WM_ERR_SHAPE, "shift must be (G, C)");
    }
    if (scale) {
        WM_CPU_F32(be, scale);
        WM_OP_CHECK(be, wm_tensor_numel(scale) >= G * C, WM_ERR_SHAPE, "scale must be (G, C)");
    }
    ln_ctx c = {x->data, shift ? shift->data : NULL, scale ? scale->data : NULL, y->data, C, rows_per_group, eps};
    wm_threadpool_run(be->pool, N, 16, ln_rows, &c);
    return WM_OK;
}
