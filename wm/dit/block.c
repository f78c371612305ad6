/* One DiT block (spec §2.3): per-frame adaLN-single modulation, self-attention (GDN or softmax, each
 * with its camera branch) merged through out_proj_cam, the SiLU output gate and proj, gated residual;
 * Plücker injection; cross-attention; modulated FFN with gated residual. Intermediates are recorded
 * under the names of tools/reference/GOLDEN.md. In the last block of a save pass whose velocity nobody
 * reads (dit_fwd.kv_only) only the caches matter: K/V (or the GDN states) of every frame, then the rest
 * runs on the last frame, whose FFN y is the t_conv tail, and the t_conv itself is skipped. */
#include "wm/dit/dit_internal.h"

/* proj((main_raw + out_proj_cam(cam_raw)) * SiLU(output_gate(h))); output_gate(h) given when gate_pre->ndim */
static wm_status attn_out(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *main_raw,
                          const wm_tensor *cam_raw, const wm_tensor *gate_pre, wm_tensor *out)
{
    wm_tensor gate = *gate_pre;
    WM_TRY(dt_linear_add(f, cam_raw, &b->oc_w, &b->oc_b, main_raw));
    if (dt_fused(f, WM_DIT_UNFUSE_GATE)) {
        if (!gate.ndim) WM_TRY(dt_linear(f, h, &b->og_w, &b->og_b, WM_ACT_NONE, &gate));
        DT_RUN(f, wm_mul_silu(f->be, main_raw, &gate, main_raw));
    } else {
        WM_TRY(dt_linear(f, h, &b->og_w, &b->og_b, WM_ACT_SILU, &gate));
        DT_RUN(f, wm_mul(f->be, main_raw, &gate, main_raw));
    }
    DT_RUN(f, wm_matmul(f->be, main_raw, &b->proj_w, &b->proj_b, WM_ACT_NONE, out));
    return WM_OK;
}

wm_status dit_block(dit_fwd *f, int i, wm_tensor *x)
{
    const wm_dit_block_weights *b = &f->w->blocks[i];
    f->block = i;
    size_t mark = wm_arena_mark(f->ar);
    int64_t T = f->T;
    wm_tensor mod, h, main_raw, cam_raw, gate, a, t;
    if (f->pre) { /* made by the previous block's gated_add_ln_mod (block 0: below) */
        mod = f->pre_mod[i & 1];
        h = f->pre_h[i & 1];
    } else {
        WM_TRY(dt_new_f32(f, 6 * T, f->C, &mod));
        WM_TRY(dt_new(f, f->N, f->C, &h));
    }
    wm_tensor sh_msa = dt_rows(&mod, 0, T), sc_msa = dt_rows(&mod, T, T), g_msa = dt_rows(&mod, 2 * T, T);
    wm_tensor sh_mlp = dt_rows(&mod, 3 * T, T), sc_mlp = dt_rows(&mod, 4 * T, T), g_mlp = dt_rows(&mod, 5 * T, T);
    if (!f->pre || i == 0) {
        DT_RUN(f, wm_dit_adaln_table(f->be, &f->t0, &b->sst, &mod));
        DT_RUN(f, wm_layernorm_modulate(f->be, x, &sh_msa, &sc_msa, f->S, f->cfg->eps_layernorm, &h));
    }
    dt_record(f, "attn_in", &h);
    f->kv_only = i == f->cfg->depth - 1 && dt_trim(f);
    if (f->cfg->is_softmax[i]) WM_TRY(dit_attn_softmax(f, b, &h, &main_raw, &cam_raw, &gate));
    else WM_TRY(dit_attn_gdn(f, b, &h, &main_raw, &cam_raw, &gate));
    dit_fwd wide = *f;
    wm_tensor xw = *x;
    if (f->kv_only) { /* the rest only for the last frame: its FFN y is the tail the next chunk reads */
        int64_t r0 = (int64_t)(T - 1) * f->S, S = f->S;
        h = dt_rows(&h, r0, S), main_raw = dt_rows(&main_raw, r0, S), cam_raw = dt_rows(&cam_raw, r0, S);
        xw = dt_rows(x, r0, S);
        x = &xw;
        g_msa = dt_rows(&mod, 3 * T - 1, 1), sh_mlp = dt_rows(&mod, 4 * T - 1, 1), sc_mlp = dt_rows(&mod, 5 * T - 1, 1);
        dit_narrow_frame(f, T - 1);
    }
    dt_record(f, "attn.main_raw", &main_raw);
    dt_record(f, "attn.cam_raw", &cam_raw);
    WM_TRY(dt_new(f, f->N, f->C, &a));
    WM_TRY(attn_out(f, b, &h, &main_raw, &cam_raw, &gate, &a));
    dt_record(f, "attn.out", &a);
    int plk = dt_fused(f, WM_DIT_UNFUSE_PLK);
    if (plk && dt_fused(f, WM_DIT_UNFUSE_ADD) && !f->run->record) { /* one pass; after_attn is not seen */
        DT_RUN(f, wm_gated_add_proj(f->be, x, &a, &g_msa, f->S, &f->plk_tok, &b->pk_w, &b->pk_b));
    } else {
        DT_RUN(f, wm_gated_add(f->be, x, &a, &g_msa, f->S));
        dt_record(f, "after_attn", x);
        if (plk) WM_TRY(dt_linear_add(f, &f->plk_tok, &b->pk_w, &b->pk_b, x));
        else WM_TRY(dt_linear_add(f, &f->plk, &b->pp_w, &b->pp_b, x));
    }
    dt_record(f, "after_plucker", x);
    WM_TRY(dit_cross_attn(f, b, x));
    dt_record(f, "after_cross", x);
    DT_RUN(f, wm_layernorm_modulate(f->be, x, &sh_mlp, &sc_mlp, f->S, f->cfg->eps_layernorm, &h));
    WM_TRY(dit_ffn(f, b, &h, &t));
    if (f->kv_only) { /* the tail is saved; nothing reads this block's output */
        *f = wide;
        f->kv_only = 0;
        wm_arena_rewind(f->ar, mark);
        return WM_OK;
    }
    dt_record(f, "mlp.out", &t);
    if (f->pre && i + 1 < f->cfg->depth) { /* x += g_mlp t fused with the next block's adaLN LayerNorm */
        wm_tensor *nm = &f->pre_mod[(i + 1) & 1], *nh = &f->pre_h[(i + 1) & 1];
        wm_tensor nsh = dt_rows(nm, 0, T), nsc = dt_rows(nm, T, T);
        DT_RUN(f, wm_dit_adaln_table(f->be, &f->t0, &f->w->blocks[i + 1].sst, nm));
        DT_RUN(f, wm_gated_add_ln_mod(f->be, x, &t, &g_mlp, &nsh, &nsc, f->S, f->cfg->eps_layernorm, nh));
    } else {
        DT_RUN(f, wm_gated_add(f->be, x, &t, &g_mlp, f->S));
    }
    dt_record(f, "out", x);
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}
