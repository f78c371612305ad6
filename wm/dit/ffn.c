/* GLUMBConvTemp FFN (spec §2.6): 1x1 conv C -> 2M + SiLU (a GEMM; its SiLU is applied by the conv as
 * it reads, depthwise3x3_silu_glu, unless the unfused path is selected), depthwise 3x3 + bias fused with
 * the GLU, 1x1 conv M -> C (no bias) = y, then out = y + t_conv(y). The (C, C, 3) temporal
 * conv is one GEMM on [y[t-1] | y[t] | y[t+1]]: left context crosses chunks (previous frame, or the
 * streaming tail = last y frame of the previous chunk's save pass, zero for chunk 0), right context
 * stops at the chunk's last frame; bidirectional = one chunk. */
#include "wm/dit/dit_internal.h"

/* Frames per group of the spatial part: the 2M-wide intermediates are only materialised for a group
 * (about 256 MiB in the activation dtype at most; the whole chunk when it is small). */
static int ffn_group(const dit_fwd *f)
{
    if (f->run->ffn_group_frames > 0) return f->run->ffn_group_frames;
    int64_t per = (int64_t)f->S * f->cfg->mlp_hidden * 3 * (int64_t)wm_dtype_size(f->adt);
    int64_t g = ((int64_t)256 << 20) / (per > 0 ? per : 1);
    return g < 1 ? 1 : g > f->T ? f->T : (int)g;
}

wm_status dit_ffn(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *out)
{
    int64_t M = f->cfg->mlp_hidden, S = f->S;
    WM_TRY(dt_new(f, f->N, f->C, out));
    size_t mark = wm_arena_mark(f->ar);
    wm_tensor y, cat;
    WM_TRY(dt_new(f, f->N, f->C, &y));
    int G = ffn_group(f);
    for (int f0 = 0; f0 < f->T; f0 += G) {
        int nf = f0 + G <= f->T ? G : f->T - f0;
        size_t m2 = wm_arena_mark(f->ar);
        wm_tensor hs = dt_rows(h, f0 * S, nf * S), ys = dt_rows(&y, f0 * S, nf * S), u, g;
        int gh = f->cfg->latent_h, gw = f->cfg->latent_w;
        if (dt_fused(f, WM_DIT_UNFUSE_DW)) { /* SiLU applied by the conv as it reads u: no pass over the 2M-wide GEMM output */
            WM_TRY(dt_linear(f, &hs, &b->inv_w, &b->inv_b, WM_ACT_NONE, &u));
            WM_TRY(dt_new(f, nf * S, M, &g));
            DT_RUN(f, wm_depthwise3x3_silu_glu(f->be, &u, &b->dw_w, &b->dw_b, nf, gh, gw, &g));
        } else {
            WM_TRY(dt_linear(f, &hs, &b->inv_w, &b->inv_b, WM_ACT_SILU, &u));
            WM_TRY(dt_new(f, nf * S, M, &g));
            DT_RUN(f, wm_depthwise3x3_glu(f->be, &u, &b->dw_w, &b->dw_b, nf, gh, gw, &g));
        }
        DT_RUN(f, wm_matmul(f->be, &g, &b->pt_w, NULL, WM_ACT_NONE, &ys));
        wm_arena_rewind(f->ar, m2);
    }
    wm_dit_block_cache *cc = dit_cache(f);
    if (f->kv_only) { /* only the tail is read (dit_fwd.kv_only): no t_conv */
        if (cc && f->run->save) WM_TRY(dit_save_tail(f, &cc->ttail, &y, 1));
        wm_arena_rewind(f->ar, mark);
        return WM_OK;
    }
    WM_TRY(dt_new(f, f->N, 3 * f->C, &cat));
    DT_RUN(f, wm_temporal_shift_cat(f->be, &y, cc ? &cc->ttail : NULL, f->bounds, f->n_chunks, &cat));
    if (dt_fused(f, WM_DIT_UNFUSE_ADD)) { /* out = t_conv(y) + y in one GEMM */
        DT_RUN(f, wm_matmul_add(f->be, &cat, &b->tconv_w, NULL, &y, out));
    } else {
        DT_RUN(f, wm_matmul(f->be, &cat, &b->tconv_w, NULL, WM_ACT_NONE, out));
        DT_RUN(f, wm_gated_add(f->be, out, &y, NULL, f->S));
    }
    if (cc && f->run->save) WM_TRY(dit_save_tail(f, &cc->ttail, &y, 1));
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}
