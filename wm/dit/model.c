/* The DiT forward (see model.h): set up the per-forward context (sizes, chunk bounds of the variant),
 * embed, run the blocks, final layer; streaming bookkeeping after a save pass. The measuring pass of
 * wm_dit_plan runs exactly this code on a measuring arena, so the planned size cannot drift from what
 * the forward allocates. */
#include "wm/dit/dit_internal.h"
#include "wm/dit/rope.h"

#include <string.h>

wm_dtype wm_dit_act_dtype(const wm_backend *be) { return be->kind == WM_BACKEND_CPU ? WM_F32 : WM_BF16; }

/* RoPE main + camera cos/sin, P and P^-1 (fp32 per token), the u8 text mask, 256-byte alignment each. */
size_t wm_dit_stage_bytes(const wm_dit_config *cfg, int T, int L)
{
    int D = cfg->hidden_size / cfg->num_heads;
    size_t N = (size_t)T * cfg->latent_h * cfg->latent_w;
    size_t per = (size_t)2 * wm_dit_rope_pairs(D, 0) + (size_t)2 * wm_dit_rope_pairs(D, 1) + 32;
    return N * per * sizeof(float) + (size_t)L + 8 * 256;
}

int wm_dit_chunk_bounds(int T, int chunk_size, int *bounds, int max_chunks)
{
    int n = 0, nxt = T < 1 + chunk_size ? T : 1 + chunk_size;
    bounds[0] = 0;
    while (bounds[n] < T && n < max_chunks) {
        bounds[++n] = nxt;
        nxt = nxt + chunk_size < T ? nxt + chunk_size : T;
    }
    return n;
}

wm_dit_block_cache *dit_cache(dit_fwd *f)
{
    if (f->run->variant != WM_DIT_STREAMING) return NULL;
    return &f->run->stream->blocks[f->block];
}

/* tail ((tf)*S, C) <- last tf frames of [tail || raw] (raw: this chunk's T frames). */
wm_status dit_save_tail(dit_fwd *f, wm_tensor *tail, const wm_tensor *raw, int tf)
{
    int64_t S = f->S;
    if (f->T >= tf) {
        wm_tensor src = dt_rows(raw, (int64_t)(f->T - tf) * S, (int64_t)tf * S);
        return dt_copy(f, &src, tail);
    }
    size_t mark = wm_arena_mark(f->ar);
    wm_tensor cat, d;
    WM_TRY(dt_new(f, (int64_t)(tf + f->T) * S, f->C, &cat));
    d = dt_rows(&cat, 0, (int64_t)tf * S);
    WM_TRY(dt_copy(f, tail, &d));
    d = dt_rows(&cat, (int64_t)tf * S, (int64_t)f->T * S);
    WM_TRY(dt_copy(f, raw, &d));
    d = dt_rows(&cat, (int64_t)f->T * S, (int64_t)tf * S);
    WM_TRY(dt_copy(f, &d, tail));
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}

void dit_narrow_frame(dit_fwd *f, int fr)
{
    int64_t r0 = (int64_t)fr * f->S, S = f->S;
    wm_tensor *tok[8] = {&f->rope_cos, &f->rope_sin, &f->cam_cos, &f->cam_sin, &f->P, &f->Pinv, &f->plk, &f->plk_tok};
    for (int j = 0; j < 8; j++)
        if (tok[j]->ndim == 2 && wm_tensor_rows(tok[j]) == f->N) *tok[j] = dt_rows(tok[j], r0, S);
    if (f->temb.ndim == 2) f->temb = dt_rows(&f->temb, fr, 1);
    if (f->t0.ndim == 2) f->t0 = dt_rows(&f->t0, fr, 1);
    f->T = 1, f->N = f->S, f->n_chunks = 1, f->bounds[0] = 0, f->bounds[1] = 1;
}

static wm_status setup(dit_fwd *f, wm_backend *be, const wm_dit_weights *w, const wm_dit_run *run, int T, int L,
                       wm_arena *ar)
{
    memset(f, 0, sizeof *f);
    const wm_dit_config *g = &w->cfg;
    f->be = be, f->ar = ar, f->cfg = g, f->w = w, f->run = run;
    f->T = T, f->L = L, f->S = g->latent_h * g->latent_w, f->N = T * f->S;
    f->C = g->hidden_size, f->H = g->num_heads, f->D = f->C / f->H;
    f->block = -1;
    f->adt = wm_dit_act_dtype(be);
    if (!ar->measuring && (w->device != be->device || w->x_w.dtype != f->adt))
        return wm__errf(&be->err, WM_ERR_INVALID_ARG, "dit forward: weights live on another device or dtype than "
                        "backend %s wants (load them with wm_dit_weights_load_on)", wm_backend_name(be));
    if (T < 1 || T > 1024 || L < 1)
        return wm__errf(&be->err, WM_ERR_INVALID_ARG, "dit forward: bad frame count %d or text length %d", T, L);
    if (run->variant == WM_DIT_CHUNK_CAUSAL) {
        f->n_chunks = wm_dit_chunk_bounds(T, g->chunk_size, f->bounds, WM_DIT_MAX_CHUNKS);
    } else {
        f->n_chunks = 1; /* bidirectional: one chunk; streaming: the current chunk */
        f->bounds[0] = 0, f->bounds[1] = T;
    }
    if (run->variant == WM_DIT_STREAMING) {
        const wm_dit_stream *st = run->stream;
        if (!st) return wm__errf(&be->err, WM_ERR_INVALID_ARG, "dit forward: streaming needs a stream");
        if (!ar->measuring && (st->be ? st->be->device : WM_DEVICE_CPU) != be->device)
            return wm__errf(&be->err, WM_ERR_INVALID_ARG, "dit forward: the stream's caches live on another device "
                            "(create it with wm_dit_stream_create_on(be, ...))");
        int cap = st->n_saved == 0 ? st->max_sink_frames : st->max_chunk_frames;
        if (T > cap || run->frame0 < 0)
            return wm__errf(&be->err, WM_ERR_LIMIT, "dit stream: chunk of %d frames (capacity %d)", T, cap);
    }
    return WM_OK;
}

int wm_dit_blocks_key_equal(const wm_dit_blocks_key *a, const wm_dit_blocks_key *b)
{
    return a->variant == b->variant && a->frames == b->frames && a->text_len == b->text_len && a->save == b->save &&
           a->window == b->window && a->sink_frames == b->sink_frames && a->prev_frames == b->prev_frames &&
           a->text_cached == b->text_cached && a->text_keys == b->text_keys && a->trim == b->trim;
}

static wm_dit_blocks_key blocks_key(const dit_fwd *f)
{
    const wm_dit_run *r = f->run;
    wm_dit_blocks_key k = {r->variant, f->T, f->L, 0, 0, 0, 0, f->text == DT_TEXT_CACHED, f->Lk, 0,
                           wm_arena_mark(f->ar)};
    if (r->variant == WM_DIT_STREAMING) {
        k.save = r->save;
        k.trim = dt_trim(f);
        k.window = r->stream->n_saved < 2 ? r->stream->n_saved : 2;
        k.sink_frames = k.window >= 1 ? r->stream->sink_frames : 0;
        k.prev_frames = k.window >= 2 ? r->stream->prev_frames : 0;
    }
    return k;
}

static wm_status forward(dit_fwd *f, const wm_dit_inputs *in, float *v_out)
{
    wm_tensor x;
    WM_TRY(dit_embed_inputs(f, in, &x));
    wm_dit_blocks_fn hook = dt_live(f) ? f->run->blocks_hook : NULL;
    wm_dit_blocks_key key = blocks_key(f);
    int skip = 0;
    if (hook) WM_TRY(hook(f->run->blocks_user, 0, &key, &skip));
    if (!skip) {
        size_t mark = wm_arena_mark(f->ar);
        f->pre = dt_fused(f, WM_DIT_UNFUSE_LN) && f->cfg->depth > 1;
        for (int k = 0; k < 2 && f->pre; k++) {
            WM_TRY(dt_new(f, f->N, f->C, &f->pre_h[k]));
            WM_TRY(dt_new_f32(f, 6 * (int64_t)f->T, f->C, &f->pre_mod[k]));
        }
        for (int i = 0; i < f->cfg->depth; i++) WM_TRY(dit_block(f, i, &x));
        if (hook) WM_TRY(hook(f->run->blocks_user, 1, &key, &skip));
        wm_arena_rewind(f->ar, mark);
    }
    return dit_final_layer(f, &x, v_out);
}

wm_status wm_dit_forward(wm_backend *be, const wm_dit_weights *w, const wm_dit_run *run, const wm_dit_inputs *in,
                         wm_arena *arena, float *v_out)
{
    dit_fwd fs, *f = &fs; /* ~2 KB of context on the stack: no allocation per forward */
    if ((!in->x && !run->x_dev) || !in->timestep || !in->y || !in->cam || !in->plucker ||
        (!v_out && !run->v_dev && !run->no_velocity))
        return wm__errf(&be->err, WM_ERR_INVALID_ARG, "dit forward: missing input array");
    wm_arena_reset(arena);
    wm_status st = setup(f, be, w, run, in->T, in->L, arena);
    if (st == WM_OK) st = forward(f, in, v_out);
    if (st == WM_OK && f->text == DT_TEXT_FILL) run->stream->cap_valid = 1, run->stream->cap_L = in->L;
    if (st == WM_OK && run->variant == WM_DIT_STREAMING && run->save) {
        wm_dit_stream *s = run->stream;
        if (s->n_saved == 0) s->sink_frames = in->T;
        else s->prev_frames = in->T;
        s->n_saved++;
    }
    return st;
}

wm_status wm_dit_plan(wm_backend *be, const wm_dit_weights *w, const wm_dit_run *run, int T, int L, size_t *bytes)
{
    wm_arena ar;
    wm_arena_init_measure(&ar, be->device);
    dit_fwd fs, *f = &fs;
    wm_dit_inputs in = {0};
    in.T = T, in.L = L;
    wm_status st = setup(f, be, w, run, T, L, &ar);
    if (st == WM_OK) st = forward(f, &in, NULL);
    *bytes = ar.peak + 4096;
    wm_arena_free(&ar);
    return st;
}
