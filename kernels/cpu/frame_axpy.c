/* Per-frame Euler step of the flow-matching samplers (spec §5.1): x += dt[t] * v on channels-first
 * latents (Ch, T, S). Every token of a frame shares its sigma, so the per-token update reduces to a
 * per-frame step size; frames with dt = 0 (the clean first frame, finished chunks) stay bit-identical. */
#include "cpu_common.h"

wm_status wm_frame_axpy_cpu(wm_backend *be, wm_tensor *x, const wm_tensor *v, const wm_tensor *dt)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, v);
    WM_CPU_F32(be, dt);
    WM_OP_CHECK(be, x->ndim == 3 && wm_tensor_same_shape(x, v), WM_ERR_SHAPE, "x, v must be (Ch, T, S)");
    int64_t Ch = x->shape[0], T = x->shape[1], S = x->shape[2];
    WM_OP_CHECK(be, wm_tensor_numel(dt) == T, WM_ERR_SHAPE, "dt must have T elements");
    float *xv = x->data;
    const float *vv = v->data, *d = dt->data;
    for (int64_t c = 0; c < Ch; c++)
        for (int64_t t = 0; t < T; t++) {
            float a = d[t];
            if (a == 0.0f) continue;
            for (int64_t s = 0; s < S; s++) xv[(c * T + t) * S + s] += a * vv[(c * T + t) * S + s];
        }
    return WM_OK;
}
