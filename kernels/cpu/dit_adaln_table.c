/* Per-frame adaLN tables (spec §2.3, §2.8): out[k, f, :] = sst[k, :] + t[f, k*C:(k+1)*C].
 *
 * The block's modulation mod = scale_shift_table + t0.reshape(T, 6, C) is re-laid out as (6, T, C) so
 * that shift/scale/gate of one kind are contiguous (G, C) tables, which is what layernorm_modulate and
 * gated_add take. When t has only C columns (the final layer uses the t_embedder output for both shift
 * and scale) the same row is added for every k.
 */
#include "cpu_common.h"

wm_status wm_dit_adaln_table_cpu(wm_backend *be, const wm_tensor *t, const wm_tensor *sst, wm_tensor *out)
{
    WM_CPU_F32(be, t);
    WM_CPU_F32(be, sst);
    WM_CPU_F32(be, out);
    int64_t K = wm_tensor_rows(sst), C = wm_tensor_cols(sst), T = wm_tensor_rows(t), tc = wm_tensor_cols(t);
    WM_OP_CHECK(be, tc == K * C || tc == C, WM_ERR_SHAPE, "t must be (T, K*C) or (T, C)");
    WM_OP_CHECK(be, wm_tensor_numel(out) == K * T * C, WM_ERR_SHAPE, "out must be (K, T, C)");
    const float *tv = t->data, *s = sst->data;
    float *o = out->data;
    for (int64_t k = 0; k < K; k++)
        for (int64_t f = 0; f < T; f++) {
            const float *tr = tv + f * tc + (tc == C ? 0 : k * C);
            float *orow = o + (k * T + f) * C;
            for (int64_t c = 0; c < C; c++) orow[c] = s[k * C + c] + tr[c];
        }
    return WM_OK;
}
