/* Elementwise references: activate (in place), gated_add (x += gate[g] * h), mul (y = a * b).
 * Kept together because each is a few lines of the same loop shape; threads split rows. */
#include "cpu_common.h"

typedef struct { float *x; const float *h, *gate, *b; int64_t C, rpg; wm_act act; float *y; } ew_ctx;

static void act_range(void *p, int64_t i0, int64_t i1)
{
    const ew_ctx *c = p;
    for (int64_t i = i0; i < i1; i++) c->x[i] = wm_act_apply(c->act, c->x[i]);
}

wm_status wm_activate_cpu(wm_backend *be, wm_tensor *x, wm_act act)
{
    WM_CPU_F32(be, x);
    ew_ctx c = {.x = x->data, .act = act};
    wm_threadpool_run(be->pool, wm_tensor_numel(x), 4096, act_range, &c);
    return WM_OK;
}

static void gadd_rows(void *p, int64_t r0, int64_t r1)
{
    const ew_ctx *c = p;
    for (int64_t r = r0; r < r1; r++) {
        float *xr = c->x + r * c->C;
        const float *hr = c->h + r * c->C;
        const float *g = c->gate ? c->gate + (r / c->rpg) * c->C : NULL;
        for (int64_t i = 0; i < c->C; i++) xr[i] += g ? g[i] * hr[i] : hr[i];
    }
}

wm_status wm_gated_add_cpu(wm_backend *be, wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                           int64_t rows_per_group)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, h);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, wm_tensor_numel(h) == N * C, WM_ERR_SHAPE, "h must have x's shape");
    if (gate) {
        WM_CPU_F32(be, gate);
        WM_OP_CHECK(be, rows_per_group > 0, WM_ERR_INVALID_ARG, "rows_per_group must be > 0");
        WM_OP_CHECK(be, wm_tensor_numel(gate) >= ((N + rows_per_group - 1) / rows_per_group) * C, WM_ERR_SHAPE,
                    "gate must be (G, C)");
    }
    ew_ctx c = {.x = x->data, .h = h->data, .gate = gate ? gate->data : NULL, .C = C,
                .rpg = rows_per_group > 0 ? rows_per_group : 1};
    wm_threadpool_run(be->pool, N, 16, gadd_rows, &c);
    return WM_OK;
}

static void mul_range(void *p, int64_t i0, int64_t i1)
{
    const ew_ctx *c = p;
    for (int64_t i = i0; i < i1; i++) c->y[i] = c->h[i] * c->b[i];
}

wm_status wm_mul_cpu(wm_backend *be, const wm_tensor *a, const wm_tensor *b, wm_tensor *y)
{
    WM_CPU_F32(be, a);
    WM_CPU_F32(be, b);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, wm_tensor_numel(a) == wm_tensor_numel(b) && wm_tensor_numel(a) == wm_tensor_numel(y),
                WM_ERR_SHAPE, "a, b and y must have the same number of elements");
    ew_ctx c = {.h = a->data, .b = b->data, .y = y->data};
    wm_threadpool_run(be->pool, wm_tensor_numel(a), 4096, mul_range, &c);
    return WM_OK;
}
