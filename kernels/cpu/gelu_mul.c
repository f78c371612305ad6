/* GeGLU of a fused gate/up projection (fp32 reference): f = gelu_tanh(gate) * up with gu = [gate | up]
 * per row. gelu_tanh is wm_act_apply (the formula the CPU matmul epilogue uses), so the fused and
 * the separate-GEMM forms of Gemma's MLP agree exactly on the CPU. gu (N, 2F), f (N, F).
 */
#include "cpu_common.h"
#include "kernels/text_shapes.h"

typedef struct { const float *gu; float *f; int64_t F; } gelu_mul_ctx;

static void gelu_mul_rows(void *p, int64_t n0, int64_t n1)
{
    const gelu_mul_ctx *c = p;
    for (int64_t n = n0; n < n1; n++) {
        const float *g = c->gu + n * 2 * c->F, *u = g + c->F;
        float *f = c->f + n * c->F;
        for (int64_t i = 0; i < c->F; i++) f[i] = wm_act_apply(WM_ACT_GELU_TANH, g[i]) * u[i];
    }
}

wm_status wm_gelu_mul_cpu(wm_backend *be, const wm_tensor *gu, wm_tensor *f)
{
    WM_CPU_F32(be, gu);
    WM_CPU_F32(be, f);
    WM_TRY(wm_gelu_mul_shape(be, gu, f));
    gelu_mul_ctx c = {gu->data, f->data, wm_tensor_cols(f)};
    wm_threadpool_run(be->pool, wm_tensor_rows(gu), 8, gelu_mul_rows, &c);
    return WM_OK;
}
