/* GDN gates (spec §3.3): beta = sigmoid(beta_proj(x)) per token and head (in place), and the per-frame
 * decay g = exp(-exp(A_log) * softplus(a + dt_bias)) from the frame-pooled gate projection a (T, H).
 * softplus uses the overflow-safe form log1p(exp(-|x|)) + max(x, 0) (torch's threshold 20 gives the
 * same value to fp32 rounding). */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

wm_status wm_gdn_gates_cpu(wm_backend *be, wm_tensor *beta, const wm_tensor *a, const wm_tensor *A_log,
                           const wm_tensor *dt_bias, wm_tensor *g)
{
    WM_CPU_F32(be, beta);
    WM_CPU_F32(be, a);
    WM_CPU_F32(be, A_log);
    WM_CPU_F32(be, dt_bias);
    WM_CPU_F32(be, g);
    int64_t H = wm_tensor_cols(a), T = wm_tensor_rows(a);
    WM_TRY(wm_gdn_gates_shape(be, beta, a, A_log, dt_bias, g));
    float *b = beta->data;
    for (int64_t i = 0, n = wm_tensor_numel(beta); i < n; i++) b[i] = 1.0f / (1.0f + expf(-b[i]));
    const float *av = a->data, *al = A_log->data, *db = dt_bias->data;
    float *gv = g->data;
    for (int64_t f = 0; f < T; f++)
        for (int64_t h = 0; h < H; h++) {
            double z = (double)av[f * H + h] + db[h];
            double sp = log1p(exp(-fabs(z))) + (z > 0 ? z : 0);
            gv[f * H + h] = (float)exp(-exp((double)al[h]) * sp);
        }
    return WM_OK;
}
