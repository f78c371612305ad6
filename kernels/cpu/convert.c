/* convert reference: host copy with dtype conversion between F32/BF16/F16 (round to nearest even). */
#include "cpu_common.h"

#include <string.h>

wm_status wm_convert_cpu(wm_backend *be, const wm_tensor *src, wm_tensor *dst)
{
    WM_OP_CHECK(be, src->device == WM_DEVICE_CPU && dst->device == WM_DEVICE_CPU, WM_ERR_INVALID_ARG,
                "tensors must be on the host");
    WM_OP_CHECK(be, wm_tensor_numel(src) == wm_tensor_numel(dst), WM_ERR_SHAPE, "numel must match");
    size_t n = (size_t)wm_tensor_numel(src);
    if (src->dtype == dst->dtype) {
        memmove(dst->data, src->data, wm_tensor_nbytes(src));
        return WM_OK;
    }
    if (dst->dtype == WM_F32) {
        WM_OP_CHECK(be, wm_convert_to_f32(src->dtype, src->data, dst->data, n) == 0, WM_ERR_DTYPE,
                    "unsupported source dtype");
        return WM_OK;
    }
    WM_OP_CHECK(be, src->dtype == WM_F32, WM_ERR_DTYPE, "conversions go through fp32 on the CPU");
    WM_OP_CHECK(be, wm_convert_from_f32(dst->dtype, src->data, dst->data, n) == 0, WM_ERR_DTYPE,
                "unsupported destination dtype");
    return WM_OK;
}
