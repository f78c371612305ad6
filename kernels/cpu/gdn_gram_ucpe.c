/* gdn_gram_ucpe reference: gdn_gram with every value row read through the camera embedding that
 * dit_qk_prep applies without norm/ReLU (UCPE + RoPE, the same fp32 expressions), one head slice at a time,
 * so v itself is left as it is. Equals dit_qk_prep on a copy of v followed by gdn_gram, bit for bit. */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

wm_status wm_gdn_gram_ucpe_cpu(wm_backend *be, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                               int n_frames, const wm_tensor *mats, int transpose, const wm_tensor *cos,
                               const wm_tensor *sin, int dim_offset, int conj, wm_tensor *P, wm_tensor *A)
{
    WM_OP_CHECK(be, v != NULL, WM_ERR_INVALID_ARG, "v is required");
    WM_CPU_F32(be, v);
    WM_CPU_F32(be, beta);
    if (mats) WM_CPU_F32(be, mats);
    if (cos) WM_CPU_F32(be, cos);
    if (sin) WM_CPU_F32(be, sin);
    int64_t H = wm_tensor_cols(beta), Pp = 0;
    WM_OP_CHECK(be, H > 0, WM_ERR_SHAPE, "beta must be (N, H)");
    WM_TRY(wm_dit_qk_prep_shape(be, v, NULL, mats, cos, sin, (int)H, dim_offset, v, NULL, &Pp));
    wm__cam_emb e = {mats ? mats->data : NULL, cos ? cos->data : NULL, sin ? sin->data : NULL, transpose != 0,
                     conj != 0, Pp, dim_offset};
    return wm__gdn_gram_ref(be, k, v, beta, n_frames, &e, P, A);
}
