/* GLUMBConvTemp FFN (spec §2.6): 1x1 conv C -> 2M + SiLU (GEMM with fused SiLU), depthwise 3x3 + bias
 * fused with the GLU, 1x1 conv M -> C (no bias) = y, then out = y + t_conv(y). The (C, C, 3) temporal
 * conv is one GEMM on [y[t-1] | y[t] | y[t+1]]: left context crosses chunks (previous frame, or the
 * streaming tail = last y frame of the previous chunk's save pass, zero for chunk 0), right context
 * stops at the chunk's last frame; bidirectional = one chunk. */
#include "wm/dit/dit_internal.h"

wm_status dit_ffn(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *out)
{
    int64_t M = f->cfg->mlp_hidden;
    WM_TRY(dt_new(f, f->N, f->C, out));
    size_t mark = wm_arena_mark(f->ar);
    wm_tensor u, g, y, cat;
    WM_TRY(dt_linear(f, h, &b->inv_w, &b->inv_b, WM_ACT_SILU, &u));
    WM_TRY(dt_new(f, f->N, M, &g));
    DT_RUN(f, wm_depthwise3x3_glu(f->be, &u, &b->dw_w, &b->dw_b, f->T, f->cfg->latent_h, f->cfg->latent_w, &g));
    WM_TRY(dt_linear(f, &g, &b->pt_w, NULL, WM_ACT_NONE, &y));
    wm_dit_block_cache *cc = dit_cache(f);
    WM_TRY(dt_new(f, f->N, 3 * f->C, &cat));
    DT_RUN(f, wm_temporal_shift_cat(f->be, &y, cc ? &cc->ttail : NULL, f->bounds, f->n_chunks, &cat));
    DT_RUN(f, wm_matmul(f->be, &cat, &b->tconv_w, NULL, WM_ACT_NONE, out));
    DT_RUN(f, wm_gated_add(f->be, out, &y, NULL, f->S));
    if (cc && f->run->save) WM_TRY(dit_save_tail(f, &cc->ttail, &y, 1));
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}
