/* Self-attention of a softmax block (spec §3.8, §3.9, §4.6): main branch (RMSNorm q/k + RoPE) and the
 * UCPE camera branch (RMSNorm q/k, UCPE + camera half-RoPE on q/k/v, inverse UCPE on the output), each
 * a plain softmax attention whose key set depends on the variant:
 *   bidirectional: all tokens;  chunk-causal: queries of chunk c see chunks 0..c (teacher_chunk_mask,
 *   else all tokens, the #404 behaviour);  streaming: [sink chunk | previous chunk | current chunk].
 * Frame-major tokens make "chunks 0..c" a row prefix, so block-causal attention is one attention call
 * per chunk on views, with no mask tensor. A save pass stores this chunk's post-RoPE/UCPE K/V.
 */
#include "wm/dit/dit_internal.h"

#include <math.h>

/* In-place streaming window (fusion WM_DIT_UNFUSE_WINDOW): when the sink entry is full and the chunk fits,
 * the current K/V are written (by their GEMM, then prepared in place) into the stream's [sink | prev |
 * cur] buffer right after the entries the window uses -- the prev slot on chunk 1 (window [sink | cur]),
 * the cur slot later ([sink | prev | cur]) -- so the window is a row prefix of that buffer and needs no
 * copy. Chunk 0 attends to its own K/V (no copy either way). Measuring runs take the copy path, an
 * upper bound of the arena. Returns the slot for buffer j (0 K, 1 V, 2 Kc, 3 Vc) or NULL. */
static const wm_tensor *win_buf(dit_fwd *f, int j)
{
    const wm_dit_stream *st = f->run->stream;
    if (f->run->variant != WM_DIT_STREAMING || !st || !dt_live(f) || !dt_fused(f, WM_DIT_UNFUSE_WINDOW)) return NULL;
    if (st->n_saved < 1 || st->sink_frames != st->max_sink_frames || f->T > st->max_chunk_frames) return NULL;
    const wm_tensor *w = &st->win[4 * f->block + j];
    return w->data ? w : NULL;
}

static int64_t win_cur_row(dit_fwd *f)
{
    const wm_dit_stream *st = f->run->stream;
    return (int64_t)(st->max_sink_frames + (st->n_saved >= 2 ? st->max_chunk_frames : 0)) * f->S;
}

/* y = x W^T + b into the window slot of buffer j when there is one, else a new arena tensor. */
static wm_status kv_linear(dit_fwd *f, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b, int j, wm_tensor *y)
{
    const wm_tensor *wb = win_buf(f, j);
    if (!wb) return dt_linear(f, x, w, b, WM_ACT_NONE, y);
    *y = dt_rows(wb, win_cur_row(f), f->N);
    DT_RUN(f, wm_matmul(f->be, x, w, b && b->data ? b : NULL, WM_ACT_NONE, y));
    return WM_OK;
}

/* The current-chunk slots of window buffers j and j+1 (K|V, or camera K|V) as one strided matmul_batched
 * output: from j's slot to the end of j+1's, *ys = the distance between the buffers in rows (the stream
 * carves them one after the other). 0 when there is no such pair (then one GEMM each). */
static int win_pair(dit_fwd *f, int j, wm_tensor *y, int64_t *ys)
{
    const wm_tensor *a = win_buf(f, j), *b = win_buf(f, j + 1);
    if (!a || !b || a->dtype != b->dtype) return 0;
    const int64_t row = f->C * (int64_t)wm_dtype_size(a->dtype), d = (char *)b->data - (char *)a->data;
    if (d <= 0 || d % row || d / row < f->N) return 0;
    *ys = d / row;
    int64_t sh[2] = {*ys + f->N, f->C};
    *y = wm_tensor_view(a->dtype, a->device, (char *)a->data + win_cur_row(f) * row, 2, sh);
    return 1;
}

/* K and V (window buffers j, j+1; weight/bias rows of the pair) into their slots: one strided batched GEMM
 * (dt_batch) or one GEMM each. */
static wm_status kv_pair_linear(dit_fwd *f, const wm_tensor *h, const wm_tensor *w2, const wm_tensor *b2, int j,
                                wm_tensor *k, wm_tensor *v)
{
    wm_tensor y;
    int64_t ys;
    if (dt_batch(f) && win_pair(f, j, &y, &ys)) {
        DT_RUN(f, wm_matmul_batched(f->be, h, w2, b2, 2, ys, &y));
        *k = dt_rows(win_buf(f, j), win_cur_row(f), f->N);
        *v = dt_rows(win_buf(f, j + 1), win_cur_row(f), f->N);
        return WM_OK;
    }
    const int64_t C = f->C;
    wm_tensor wk = dt_rows(w2, 0, C), wv = dt_rows(w2, C, C), bk, bv;
    if (b2) bk = dt_rows(b2, 0, C), bv = dt_rows(b2, C, C);
    WM_TRY(kv_linear(f, h, &wk, b2 ? &bk : NULL, j, k));
    return kv_linear(f, h, &wv, b2 ? &bv : NULL, j + 1, v);
}

/* Streaming key set [sink | prev | cur]: a prefix of the window buffer j (in place), cur itself (chunk 0),
 * or a copy in a new arena tensor. */
static wm_status window(dit_fwd *f, int j, const wm_tensor *cur, const wm_tensor *sink, const wm_tensor *prev,
                        wm_tensor *out)
{
    const wm_dit_stream *st = f->run->stream;
    int64_t ns = st->n_saved >= 1 ? (int64_t)st->sink_frames * f->S : 0;
    int64_t np = st->n_saved >= 2 ? (int64_t)st->prev_frames * f->S : 0;
    const wm_tensor *wb = win_buf(f, j);
    int64_t nc = wm_tensor_rows(cur);
    if (wb && win_cur_row(f) == ns + np) { /* cur was written right after the entries in use */
        *out = dt_rows(wb, 0, ns + np + nc);
        return WM_OK;
    }
    if (!ns && !np && dt_fused(f, WM_DIT_UNFUSE_WINDOW)) { /* chunk 0: the window is the chunk itself */
        *out = *cur;
        return WM_OK;
    }
    WM_TRY(dt_new(f, ns + np + nc, f->C, out));
    if (!dt_live(f)) return WM_OK; /* planning: the cache tensors may be bare headers */
    wm_tensor d;
    if (ns) { d = dt_rows(out, 0, ns); wm_tensor s = dt_rows(sink, 0, ns); WM_TRY(dt_copy(f, &s, &d)); }
    if (np) { d = dt_rows(out, ns, np); wm_tensor s = dt_rows(prev, 0, np); WM_TRY(dt_copy(f, &s, &d)); }
    d = dt_rows(out, ns + np, nc);
    return dt_copy(f, cur, &d);
}

/* Save this chunk's K (or V) into the sink entry (first save) or the previous-chunk entry. */
static wm_status save_kv(dit_fwd *f, const wm_tensor *cur, wm_tensor *sink, wm_tensor *prev)
{
    const wm_dit_stream *st = f->run->stream;
    wm_tensor *dst = st->n_saved == 0 ? sink : prev;
    if (wm_tensor_rows(dst) < f->N)
        return wm__errf(&f->be->err, WM_ERR_LIMIT, "dit stream: chunk of %d frames exceeds the cache", f->T);
    wm_tensor d = dt_rows(dst, 0, f->N);
    if (d.data == cur->data) return WM_OK; /* chunk 1 in place: its K/V were written into the prev entry */
    return dt_copy(f, cur, &d);
}

static wm_status attend(dit_fwd *f, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v, float scale,
                        wm_tensor *out)
{
    if (f->run->variant == WM_DIT_CHUNK_CAUSAL && f->cfg->teacher_chunk_mask) {
        for (int c = 0; c < f->n_chunks; c++) {
            int64_t r0 = (int64_t)f->bounds[c] * f->S, r1 = (int64_t)f->bounds[c + 1] * f->S;
            wm_tensor qs = dt_rows(q, r0, r1 - r0), os = dt_rows(out, r0, r1 - r0);
            wm_tensor ks = dt_rows(k, 0, r1), vs = dt_rows(v, 0, r1);
            DT_RUN(f, wm_attention(f->be, &qs, &ks, &vs, NULL, f->H, scale, &os));
        }
        return WM_OK;
    }
    DT_RUN(f, wm_attention(f->be, q, k, v, NULL, f->H, scale, out));
    return WM_OK;
}

/* Attention over the variant's key set; streaming builds the window and saves on a save pass. */
static wm_status branch_attend(dit_fwd *f, int j, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                               float scale, wm_tensor *ksink, wm_tensor *kprev, wm_tensor *vsink, wm_tensor *vprev,
                               wm_tensor *out)
{
    if (f->run->variant != WM_DIT_STREAMING) return attend(f, q, k, v, scale, out);
    wm_tensor kw, vw;
    WM_TRY(window(f, j, k, ksink, kprev, &kw));
    WM_TRY(window(f, j + 1, v, vsink, vprev, &vw));
    DT_RUN(f, wm_attention(f->be, q, &kw, &vw, NULL, f->H, scale, out));
    if (f->run->save) {
        WM_TRY(save_kv(f, k, ksink, kprev));
        WM_TRY(save_kv(f, v, vsink, vprev));
    }
    return WM_OK;
}

static float scale_of(const dit_fwd *f, float s) { return s > 0 ? s : 1.0f / sqrtf((float)f->D); }

/* The queries' rows: all of them, or in a kv_only block (dit_fwd) the last frame's, with the context
 * narrowed to that frame (the caller restores *wide). q may already hold all rows (batched q|k|v). */
static void query_rows(dit_fwd *f, dit_fwd *wide, const wm_tensor *h, wm_tensor *q, wm_tensor *out, wm_tensor *hq,
                       wm_tensor *oq)
{
    *wide = *f;
    *hq = *h, *oq = *out;
    if (!f->kv_only) return;
    int64_t r0 = (int64_t)(f->T - 1) * f->S;
    *hq = dt_rows(h, r0, f->S), *oq = dt_rows(out, r0, f->S);
    if (q->ndim) *q = dt_rows(q, r0, f->S);
    dit_narrow_frame(f, f->T - 1);
}

static wm_status main_branch(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_dit_block_cache *cc,
                             wm_tensor *out)
{
    int64_t C = f->C;
    wm_tensor wq = dt_rows(&b->qkv, 0, C);
    wm_tensor q = {0}, k, v, hq, oq;
    if (win_buf(f, 0)) { /* K, V go straight into the window buffers */
        wm_tensor wkv = dt_rows(&b->qkv, C, 2 * C);
        WM_TRY(kv_pair_linear(f, h, &wkv, NULL, 0, &k, &v));
    } else {
        WM_TRY(dt_linear3(f, h, &b->qkv, NULL, &q, &k, &v));
    }
    WM_TRY(dt_qk_prep(f, &k, &b->k_norm, f->cfg->eps_qk_norm, 0, NULL, 0, 0, 0, &k, NULL));
    dit_fwd wide;
    query_rows(f, &wide, h, &q, out, &hq, &oq);
    wm_status st = q.ndim ? WM_OK : dt_linear(f, &hq, &wq, NULL, WM_ACT_NONE, &q);
    if (st == WM_OK) st = dt_qk_prep(f, &q, &b->q_norm, f->cfg->eps_qk_norm, 0, NULL, 0, 0, 0, &q, NULL);
    *f = wide;
    WM_TRY(st);
    return branch_attend(f, 0, &q, &k, &v, scale_of(f, f->cfg->softmax_scale_main), cc ? &cc->sink_k : NULL,
                         cc ? &cc->prev_k : NULL, cc ? &cc->sink_v : NULL, cc ? &cc->prev_v : NULL, &oq);
}

/* UCPE on x in place, with the first-release downscale-only RMS renorm when switched on (spec §4.6). */
static wm_status ucpe_maybe_renorm(dit_fwd *f, wm_tensor *x, const wm_tensor *mats, int transpose)
{
    if (!f->cfg->post_ucpe_renorm) return dit_ucpe(f, x, mats, transpose, 0);
    wm_tensor pre;
    WM_TRY(dt_new(f, f->N, f->C, &pre));
    WM_TRY(dt_copy(f, x, &pre));
    WM_TRY(dit_ucpe(f, x, mats, transpose, 0));
    DT_RUN(f, wm_head_renorm(f->be, &pre, x, f->H, 1e-6f, x));
    return WM_OK;
}

/* Camera-branch q: RMSNorm, UCPE (P^T) and camera RoPE, or the first-release norm + renormed UCPE. */
static wm_status cam_q(dit_fwd *f, const wm_dit_block_weights *b, wm_tensor *q)
{
    float eps = f->cfg->eps_qk_norm;
    if (!f->cfg->post_ucpe_renorm) return dt_qk_prep(f, q, &b->q_norm_cam, eps, 0, &f->P, 1, 1, 0, q, NULL);
    DT_RUN(f, wm_rmsnorm(f->be, q, &b->q_norm_cam, eps, q));
    return ucpe_maybe_renorm(f, q, &f->P, 1);
}

/* gq: gate|q (window path) or gate|q|k|v (otherwise) of the camera projections computed already (dt_batch),
 * else NULL */
static wm_status cam_branch(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_dit_block_cache *cc,
                            const wm_tensor *gq, wm_tensor *out)
{
    wm_tensor q = {0}, k, v, hq, oq;
    if (gq) q = dt_rows(gq, f->N, f->N);
    if (win_buf(f, 2)) {
        const int64_t C = f->C;
        wm_tensor w2 = dt_rows(&b->gqkvc_w, 2 * C, 2 * C), b2 = dt_rows(&b->gqkvc_b, 2 * C, 2 * C);
        WM_TRY(kv_pair_linear(f, h, &w2, &b2, 2, &k, &v));
    } else if (gq) {
        k = dt_rows(gq, 2 * f->N, f->N), v = dt_rows(gq, 3 * f->N, f->N);
    } else {
        WM_TRY(dt_linear3(f, h, &b->qkvc_w, &b->qkvc_b, &q, &k, &v));
    }
    float eps = f->cfg->eps_qk_norm;
    if (f->cfg->post_ucpe_renorm) { /* first-release switch: the renorm needs the pre-UCPE tensors */
        DT_RUN(f, wm_rmsnorm(f->be, &k, &b->k_norm_cam, eps, &k));
        WM_TRY(ucpe_maybe_renorm(f, &k, &f->Pinv, 0));
    } else {
        WM_TRY(dt_qk_prep(f, &k, &b->k_norm_cam, eps, 0, &f->Pinv, 0, 1, 0, &k, NULL));
    }
    WM_TRY(ucpe_maybe_renorm(f, &v, &f->Pinv, 0));
    dit_fwd wide;
    query_rows(f, &wide, h, &q, out, &hq, &oq);
    wm_status st = q.ndim ? WM_OK : dt_linear(f, &hq, &b->qc_w, &b->qc_b, WM_ACT_NONE, &q);
    if (st == WM_OK) st = cam_q(f, b, &q);
    *f = wide;
    WM_TRY(st);
    WM_TRY(branch_attend(f, 2, &q, &k, &v, scale_of(f, f->cfg->softmax_scale_cam), cc ? &cc->sink_kc : NULL,
                         cc ? &cc->prev_kc : NULL, cc ? &cc->sink_vc : NULL, cc ? &cc->prev_vc : NULL, &oq));
    wm_tensor none = {0};
    query_rows(f, &wide, h, &none, out, &hq, &oq); /* the inverse UCPE reads the queries' P rows */
    st = dit_ucpe(f, &oq, &f->P, 0, 1);
    *f = wide;
    return st;
}

wm_status dit_attn_softmax(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *main_raw,
                           wm_tensor *cam_raw, wm_tensor *gate)
{
    wm_dit_block_cache *cc = dit_cache(f);
    WM_TRY(dt_new(f, f->N, f->C, main_raw));
    WM_TRY(dt_new(f, f->N, f->C, cam_raw));
    wm_tensor gq = {0};
    gate->ndim = 0;
    if (dt_batch(f)) { /* output gate | camera q (| k | v when they do not go to the window): one GEMM */
        const int n = win_buf(f, 2) ? 2 : 4;
        wm_tensor w = dt_rows(&b->gqkvc_w, 0, n * f->C), bb = dt_rows(&b->gqkvc_b, 0, n * f->C);
        WM_TRY(dt_new(f, n * f->N, f->C, &gq));
        DT_RUN(f, wm_matmul_batched(f->be, h, &w, &bb, n, 0, &gq));
        *gate = dt_rows(&gq, 0, f->N);
    }
    size_t mark = wm_arena_mark(f->ar);
    WM_TRY(main_branch(f, b, h, cc, main_raw));
    wm_arena_rewind(f->ar, mark); /* the main branch's temporaries are released */
    WM_TRY(cam_branch(f, b, h, cc, gq.ndim ? &gq : NULL, cam_raw));
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}
