/* gated_add_proj reference: x += gate[g] * h, then x += u w^T + bias -- the gated_add and matmul_add
 * references back to back, so the fused op is bit-identical to the unfused pair by construction; the CUDA
 * version does both in one pass over x (the narrow product computed in the same kernel). */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

wm_status wm_gated_add_proj_cpu(wm_backend *be, wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                                int64_t rows_per_group, const wm_tensor *u, const wm_tensor *w,
                                const wm_tensor *bias)
{
    WM_CPU_F32(be, x);
    WM_TRY(wm_gated_add_proj_shape(be, x, h, gate, rows_per_group, u, w, bias));
    WM_TRY(wm_gated_add_cpu(be, x, h, gate, rows_per_group));
    return wm_matmul_add_cpu(be, u, w, bias, x, x);
}
