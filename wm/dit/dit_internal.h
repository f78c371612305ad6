/* Internal forward context shared by the DiT module files (embedders, attention branches, FFN, block,
 * model). Not part of the public API.
 *
 * Every temporary tensor comes from the forward's arena through dt_new(); in a measuring run the arena
 * hands out NULL data and DT_RUN() skips the op, so the same code path plans the arena size. Host-side
 * table builders check dt_live() before touching memory.
 */
#ifndef WM_DIT_INTERNAL_H
#define WM_DIT_INTERNAL_H

#include "kernels/ops.h"
#include "wm/dit/model.h"

typedef struct dit_fwd {
    wm_backend *be;
    wm_arena *ar;
    const wm_dit_config *cfg;
    const wm_dit_weights *w;
    const wm_dit_run *run;
    int T, S, N, C, H, D, L;
    int Lk;                            /* caption keys the cross-attention reads: up to the last unmasked
                                        * token (the masked ones after it add exactly nothing) */
    int n_chunks;
    int bounds[WM_DIT_MAX_CHUNKS + 1]; /* chunks of look-ahead (host) */
    wm_tensor rope_cos, rope_sin;      /* (N, D/2) */
    wm_tensor cam_cos, cam_sin;        /* (N, D/4) */
    wm_tensor P, Pinv;                 /* (N, 16) UCPE */
    wm_tensor y, mask;                 /* (L, C) caption after y-norm; (L) u8 */
    wm_tensor temb, t0;                /* (T, C), (T, 6C) */
    wm_tensor plk;                     /* (N, C) Plücker embedding (unfused, or recorded) */
    wm_tensor plk_tok;                 /* (N, 48) Plücker tokens (fused: the blocks' folded projection reads them) */
    int block;                         /* index of the running block (record names, caches) */
    int kv_only;                       /* the running block is the last one of a save pass whose velocity
                                        * nobody reads: only its caches matter -- K/V of every frame, the FFN
                                        * tail of the last frame -- so q and everything after the attention run
                                        * on the last frame only, and the t_conv not at all */
    wm_dtype adt;                      /* activation dtype (wm_dit_act_dtype) */
    int text;                          /* caption K/V: DT_TEXT_ARENA, _FILL (into the stream), _CACHED */
    int pre;                           /* block boundaries fused (gated_add_ln_mod): block i+1's adaLN table
                                        * and attention input are made by block i into these, by parity */
    wm_tensor pre_h[2], pre_mod[2];    /* (N, C), (6T, C) fp32 */
} dit_fwd;

enum { DT_TEXT_ARENA = 0, DT_TEXT_FILL, DT_TEXT_CACHED };

static inline int dt_live(const dit_fwd *f) { return !f->ar->measuring; }
/* Fusion `bit` (WM_DIT_UNFUSE_*) is on unless the weights ask for the unfused op sequence. */
static inline int dt_fused(const dit_fwd *f, int bit) { return !(f->w->unfused & bit); }

/* Projections of the block's adaLN output batched (fusion "batch"): the output gate with the camera
 * q|k|v, streaming K|V into their window buffers. Not in a kv_only block (its gate and queries cover one
 * frame), nor with the SiLU-GEMM gate (fusion "gate" off). */
static inline int dt_batch(const dit_fwd *f)
{
    return dt_fused(f, WM_DIT_UNFUSE_BATCH) && dt_fused(f, WM_DIT_UNFUSE_GATE) && !f->kv_only;
}

/* A save pass whose velocity nobody reads: its last block only has to write the caches. */
static inline int dt_trim(const dit_fwd *f)
{
    const wm_dit_run *r = f->run;
    return r->variant == WM_DIT_STREAMING && r->save && r->no_velocity && !r->record && dt_fused(f, WM_DIT_UNFUSE_TRIM);
}

#define DT_RUN(f, expr)                                                                            \
    do {                                                                                           \
        if (dt_live(f)) WM_TRY(expr);                                                              \
    } while (0)

/* A new activation tensor (the backend's activation dtype) or an fp32 one (tables, gates, states). */
static inline wm_status dt_new_as(dit_fwd *f, wm_dtype dt, int64_t rows, int64_t cols, wm_tensor *t)
{
    int64_t sh[2] = {rows, cols};
    return wm_arena_tensor(f->ar, dt, cols ? 2 : 1, sh, t);
}
static inline wm_status dt_new(dit_fwd *f, int64_t rows, int64_t cols, wm_tensor *t)
{
    return dt_new_as(f, f->adt, rows, cols, t);
}
static inline wm_status dt_new_f32(dit_fwd *f, int64_t rows, int64_t cols, wm_tensor *t)
{
    return dt_new_as(f, WM_F32, rows, cols, t);
}

/* Rows [r0, r0 + n) of a 2-D tensor (a view). */
static inline wm_tensor dt_rows(const wm_tensor *t, int64_t r0, int64_t n) { return wm_tensor_slice0(t, r0, n); }

/* y = x W^T + b (b may be NULL) with a fused activation. */
static inline wm_status dt_linear_as(dit_fwd *f, wm_dtype dt, const wm_tensor *x, const wm_tensor *w,
                                     const wm_tensor *b, wm_act act, wm_tensor *y)
{
    WM_TRY(dt_new_as(f, dt, wm_tensor_rows(x), w->shape[0], y));
    DT_RUN(f, wm_matmul(f->be, x, w, b && b->data ? b : NULL, act, y));
    return WM_OK;
}
static inline wm_status dt_linear(dit_fwd *f, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                  wm_act act, wm_tensor *y)
{
    return dt_linear_as(f, f->adt, x, w, b, act, y);
}
/* q, k, v (N, C each) = x W_j^T + b_j for the three row blocks of w3 (3C, C) / b3 (3C, may be NULL): one
 * batched GEMM into one arena tensor (fused), or three matmuls. */
wm_status dt_linear3(dit_fwd *f, const wm_tensor *x, const wm_tensor *w3, const wm_tensor *b3, wm_tensor *q,
                     wm_tensor *k, wm_tensor *v);
/* acc += x W^T + b: one GEMM with the residual in its epilogue (fused), or matmul + gated_add. */
wm_status dt_linear_add(dit_fwd *f, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b, wm_tensor *acc);
/* In place: x = RoPE(UCPE(ReLU(RMSNorm(x)))) as dit_qk_prep defines it (norm_w NULL: no norm, mats NULL:
 * no UCPE, camera tables when cam, else the main ones; y_pre may be NULL), fused or as the op sequence. */
wm_status dt_qk_prep(dit_fwd *f, wm_tensor *x, const wm_tensor *norm_w, float eps, int relu, const wm_tensor *mats,
                     int transpose, int cam, int conj, wm_tensor *y, wm_tensor *y_pre);

/* Copy src into dst (same element count) through the backend. */
static inline wm_status dt_copy(dit_fwd *f, const wm_tensor *src, wm_tensor *dst)
{
    DT_RUN(f, wm_convert(f->be, src, dst));
    return WM_OK;
}

void dt_record(dit_fwd *f, const char *name, const wm_tensor *t);

/* Modules */
wm_status dit_embed_inputs(dit_fwd *f, const wm_dit_inputs *in, wm_tensor *x);
wm_status dit_final_layer(dit_fwd *f, const wm_tensor *x, float *v_out);
wm_status dit_block(dit_fwd *f, int i, wm_tensor *x);
/* Self-attention: main_raw and cam_raw (new tensors); *gate = output_gate(h) when computed in a batch with
 * the camera projections (dt_batch), else gate->ndim = 0 (attn_out runs it). */
wm_status dit_attn_gdn(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *main_raw,
                       wm_tensor *cam_raw, wm_tensor *gate);
wm_status dit_attn_softmax(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *main_raw,
                           wm_tensor *cam_raw, wm_tensor *gate);
/* x += cross-attention(x) */
wm_status dit_cross_attn(dit_fwd *f, const wm_dit_block_weights *b, wm_tensor *x);
wm_status dit_ffn(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *out);
/* UCPE (first half: mats or mats^T) + camera half-RoPE (+angle, or -angle with conj), in place. */
wm_status dit_ucpe(dit_fwd *f, wm_tensor *x, const wm_tensor *mats, int transpose, int conj);
/* Restrict the context to frame fr of the forward (row views of every per-token table, T = 1): the ops
 * after a block's K/V are row-local, so a kv_only block runs them on the one frame whose values are
 * cached. The caller keeps a copy of the wide context and restores it. */
void dit_narrow_frame(dit_fwd *f, int fr);
/* Streaming helpers */
wm_dit_block_cache *dit_cache(dit_fwd *f);
wm_status dit_save_tail(dit_fwd *f, wm_tensor *tail, const wm_tensor *raw, int tail_frames);

#endif
