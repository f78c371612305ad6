/* Classifier-free guidance combine v = vu + scale * (vc - vu) (spec §5.2), the form SANA uses, so the
 * result matches the reference's rounding order. v may alias vu or vc. */
#include "cpu_common.h"

wm_status wm_cfg_combine_cpu(wm_backend *be, const wm_tensor *vu, const wm_tensor *vc, float scale, wm_tensor *v)
{
    WM_CPU_F32(be, vu);
    WM_CPU_F32(be, vc);
    WM_CPU_F32(be, v);
    int64_t n = wm_tensor_numel(vu);
    WM_OP_CHECK(be, wm_tensor_numel(vc) == n && wm_tensor_numel(v) == n, WM_ERR_SHAPE, "vu, vc, v must match");
    const float *a = vu->data, *b = vc->data;
    float *o = v->data;
    for (int64_t i = 0; i < n; i++) o[i] = a[i] + scale * (b[i] - a[i]);
    return WM_OK;
}
