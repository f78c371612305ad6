/* gdn_output_ucpe reference: the camera branch's GDN readout followed by its inverse embedding, written
 * as exactly that op sequence (gdn_output without denominator, then dit_qk_prep without norm/ReLU in place
 * on out), so the fused forward on the CPU is bit-identical to the unfused one. The CUDA version applies
 * the embedding to the output tile before it is stored (kernels/cuda/gdn_fast.cu). */
#include "cpu_common.h"

wm_status wm_gdn_output_ucpe_cpu(wm_backend *be, const wm_tensor *q, const wm_tensor *Mf, const wm_tensor *Mr,
                                 const wm_tensor *mats, int transpose, const wm_tensor *cos, const wm_tensor *sin,
                                 int dim_offset, int conj, wm_tensor *out)
{
    WM_OP_CHECK(be, Mf->ndim == 4, WM_ERR_SHAPE, "Mf must be (T,H,D,Dv)");
    WM_TRY(wm_gdn_output_cpu(be, q, Mf, Mr, NULL, NULL, NULL, 0.0f, out));
    return wm_dit_qk_prep_cpu(be, out, NULL, 0.0f, 0, mats, transpose, cos, sin, (int)Mf->shape[1], dim_offset, conj,
                              out, NULL);
}
