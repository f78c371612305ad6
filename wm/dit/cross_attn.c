/* Cross-attention to the caption (spec §2.5): q = RMSNorm(q_linear(x)), [K|V] = kv_linear(y) with
 * K = RMSNorm(K) (full-C norms, eps_cross_norm), softmax over the valid text tokens (key mask),
 * scale 1/sqrt(D), proj; keys past the last valid one are not read (f->Lk). No RoPE, no modulation, no gate. Identical in every variant; streaming keeps
 * K/V per prompt in the stream (they depend on the caption only). */
#include "wm/dit/dit_internal.h"

#include <math.h>

/* Text K (normed) and V of this block: new arena tensors, or the stream's caption cache (filled by the
 * first forward of a prompt, read as is afterwards). */
static wm_status text_kv(dit_fwd *f, const wm_dit_block_weights *b, wm_tensor *k, wm_tensor *v)
{
    int64_t C = f->C;
    wm_tensor wk = dt_rows(&b->ca_kv_w, 0, C), wv = dt_rows(&b->ca_kv_w, C, C);
    wm_tensor bk = dt_rows(&b->ca_kv_b, 0, C), bv = dt_rows(&b->ca_kv_b, C, C);
    if (f->text == DT_TEXT_ARENA) {
        WM_TRY(dt_linear(f, &f->y, &wk, &bk, WM_ACT_NONE, k));
        WM_TRY(dt_linear(f, &f->y, &wv, &bv, WM_ACT_NONE, v));
    } else {
        const wm_dit_stream *st = f->run->stream;
        *k = dt_rows(&st->cap_kv[2 * f->block], 0, f->L);
        *v = dt_rows(&st->cap_kv[2 * f->block + 1], 0, f->L);
        if (f->text == DT_TEXT_CACHED) return WM_OK;
        DT_RUN(f, wm_matmul(f->be, &f->y, &wk, &bk, WM_ACT_NONE, k));
        DT_RUN(f, wm_matmul(f->be, &f->y, &wv, &bv, WM_ACT_NONE, v));
    }
    DT_RUN(f, wm_rmsnorm(f->be, k, &b->ca_k_norm, f->cfg->eps_cross_norm, k));
    return WM_OK;
}

wm_status dit_cross_attn(dit_fwd *f, const wm_dit_block_weights *b, wm_tensor *x)
{
    int64_t C = f->C;
    size_t mark = wm_arena_mark(f->ar);
    wm_tensor q, k, v, o;
    WM_TRY(dt_linear(f, x, &b->ca_q_w, &b->ca_q_b, WM_ACT_NONE, &q));
    WM_TRY(text_kv(f, b, &k, &v));
    DT_RUN(f, wm_rmsnorm(f->be, &q, &b->ca_q_norm, f->cfg->eps_cross_norm, &q));
    WM_TRY(dt_new(f, f->N, C, &o));
    wm_tensor kk = dt_rows(&k, 0, f->Lk), vk = dt_rows(&v, 0, f->Lk), mk = dt_rows(&f->mask, 0, f->Lk);
    DT_RUN(f, wm_attention(f->be, &q, &kk, &vk, &mk, f->H, 1.0f / sqrtf((float)f->D), &o));
    WM_TRY(dt_linear_add(f, &o, &b->ca_proj_w, &b->ca_proj_b, x)); /* x += proj(o) */
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}
