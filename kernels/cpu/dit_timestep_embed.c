/* Sinusoidal timestep embedding of the DiT (spec §2.2), one row per latent frame.
 *
 * The model casts timesteps with .long() before embedding, so fractional timesteps are truncated toward
 * zero here (998.26 -> 998); this is what makes a port bit-faithful to the reference schedule. Angles
 * are formed in double and rounded once, which keeps the table well inside fp32 accuracy for t <= 1000.
 * out (T, dim): [cos(t f_i) for i < dim/2 | sin(t f_i)], f_i = exp(-ln(10000) i / (dim/2)).
 */
#include "cpu_common.h"

wm_status wm_dit_timestep_embed_cpu(wm_backend *be, const wm_tensor *t, wm_tensor *out)
{
    WM_CPU_F32(be, t);
    WM_CPU_F32(be, out);
    int64_t T = wm_tensor_numel(t), dim = wm_tensor_cols(out);
    WM_OP_CHECK(be, wm_tensor_rows(out) == T && dim % 2 == 0, WM_ERR_SHAPE, "out must be (T, even dim)");
    const float *tv = t->data;
    float *o = out->data;
    int64_t half = dim / 2;
    for (int64_t f = 0; f < T; f++) {
        double tt = (double)(int64_t)tv[f]; /* torch .long(): truncation toward zero */
        for (int64_t i = 0; i < half; i++) {
            double arg = tt * exp(-log(10000.0) * (double)i / (double)half);
            o[f * dim + i] = (float)cos(arg);
            o[f * dim + half + i] = (float)sin(arg);
        }
    }
    return WM_OK;
}
