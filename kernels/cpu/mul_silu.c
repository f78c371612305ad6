/* mul_silu reference: y = a * SiLU(g), the DiT's output gate (spec §2.3: proj((main + cam) * SiLU(
 * output_gate(h)))) in one pass instead of a SiLU pass over the gate GEMM's output and a multiply.
 * Same expressions as matmul's SiLU epilogue followed by mul, so the fused CPU forward is bit-identical.
 * y may alias a or g (elementwise). */
#include "cpu_common.h"

typedef struct { const float *a, *g; float *y; } ms_ctx;

static void ms_range(void *p, int64_t i0, int64_t i1)
{
    const ms_ctx *c = p;
    for (int64_t i = i0; i < i1; i++) c->y[i] = c->a[i] * wm_act_apply(WM_ACT_SILU, c->g[i]);
}

wm_status wm_mul_silu_cpu(wm_backend *be, const wm_tensor *a, const wm_tensor *g, wm_tensor *y)
{
    WM_CPU_F32(be, a);
    WM_CPU_F32(be, g);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, wm_tensor_numel(a) == wm_tensor_numel(g) && wm_tensor_numel(a) == wm_tensor_numel(y),
                WM_ERR_SHAPE, "a, g and y must have the same number of elements");
    ms_ctx c = {a->data, g->data, y->data};
    wm_threadpool_run(be->pool, wm_tensor_numel(a), 4096, ms_range, &c);
    return WM_OK;
}
