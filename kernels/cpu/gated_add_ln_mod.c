/* gated_add_ln_mod reference: x += gate[g] * h, then y = LayerNorm(x)(1 + scale[g]) + shift[g] -- the two
 * references run back to back (gated_add_cpu, layernorm_modulate_cpu), so the fused op is bit-identical to
 * the unfused pair by construction; the CUDA version does both in one pass over the row. */
#include "cpu_common.h"

wm_status wm_gated_add_ln_mod_cpu(wm_backend *be, wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                                  const wm_tensor *shift, const wm_tensor *scale, int64_t rows_per_group, float eps,
                                  wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, y->data != x->data && y->data != h->data, WM_ERR_INVALID_ARG, "y may not alias x or h");
    WM_TRY(wm_gated_add_cpu(be, x, h, gate, rows_per_group));
    return wm_layernorm_modulate_cpu(be, x, shift, scale, rows_per_group, eps, y);
}
