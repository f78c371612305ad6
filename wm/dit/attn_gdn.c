/* Self-attention of a GDN block (spec §3.1-§3.7, §4.5): frame-wise Gated DeltaNet main branch and the
 * UCPE camera branch, in the bidirectional, chunk-causal and streaming forms.
 *
 * The three variants differ only in data the ops receive: the chunk bounds (look-ahead of the short
 * conv and the reverse scan), the short-conv tails and the forward-scan initial states (streaming
 * caches, zero for chunk 0). A save pass writes the new tails and the forward states after the chunk's
 * last frame straight into the cache (the scan reads its initial state before it writes the final one).
 * Outputs main_raw (num/den) and cam_raw (after inverse UCPE), both (N, C), before out_proj_cam.
 */
#include "wm/dit/dit_internal.h"

typedef struct {
    wm_tensor *init, *final_state; /* forward-scan seed and destination (streaming) */
} scan_io;

/* The camera readout's inverse embedding inside the readout kernel (fusion "ucpe"; needs the fused
 * dit_qk_prep form, whose bf16 roundings it reproduces). */
static int dt_cam_emb(const dit_fwd *f) { return dt_fused(f, WM_DIT_UNFUSE_UCPE) && dt_fused(f, WM_DIT_UNFUSE_QK); }

/* Forward + reverse scans of one stream (numerator: Dv = D; denominator: v == NULL, Dv = 1). */
static wm_status scans(dit_fwd *f, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                       const wm_tensor *g, scan_io io, wm_tensor *Mf, wm_tensor *Mr)
{
    int64_t Dv = v ? f->D : 1;
    int64_t shP[4] = {f->T, f->H, f->D, f->D}, shA[4] = {f->T, f->H, f->D, Dv};
    wm_tensor P, A;
    WM_TRY(wm_arena_tensor(f->ar, WM_F32, 4, shP, &P));
    WM_TRY(wm_arena_tensor(f->ar, WM_F32, 4, shA, &A));
    WM_TRY(wm_arena_tensor(f->ar, WM_F32, 4, shA, Mf));
    WM_TRY(wm_arena_tensor(f->ar, WM_F32, 4, shA, Mr));
    DT_RUN(f, wm_gdn_gram(f->be, k, v, beta, f->T, &P, &A));
    if (dt_fused(f, WM_DIT_UNFUSE_SCAN)) { /* the two independent scans in one launch */
        DT_RUN(f, wm_gdn_scan_fr(f->be, &P, &A, g, io.init, f->bounds, f->n_chunks, Mf, io.final_state, Mr));
        return WM_OK;
    }
    DT_RUN(f, wm_gdn_scan(f->be, &P, &A, g, io.init, 0, f->bounds, f->n_chunks, Mf, io.final_state));
    DT_RUN(f, wm_gdn_scan(f->be, &P, &A, g, NULL, 1, f->bounds, f->n_chunks, Mr, NULL));
    return WM_OK;
}

/* Short conv on a raw K projection, with the streaming tail; a save pass then updates the tail. */
static wm_status conv_k(dit_fwd *f, const wm_tensor *raw, const wm_tensor *w, wm_tensor *tail, int use_tail,
                        wm_tensor *out)
{
    WM_TRY(dt_new(f, f->N, f->C, out));
    DT_RUN(f, wm_short_conv_t(f->be, raw, w, use_tail ? tail : NULL, f->bounds, f->n_chunks, out));
    if (tail && f->run->save) WM_TRY(dit_save_tail(f, tail, raw, f->cfg->conv_kernel_size - 1));
    return WM_OK;
}

/* x <- ReLU(RMSNorm(x)) (the GDN denominator reads it) and y = RoPE(x) in a new tensor: one dit_qk_prep. */
static wm_status norm_relu_rope(dit_fwd *f, wm_tensor *x, const wm_tensor *w, wm_tensor *y)
{
    WM_TRY(dt_new(f, f->N, f->C, y));
    return dt_qk_prep(f, x, w, f->cfg->eps_qk_norm, 1, NULL, 0, 0, 0, y, x);
}

/* UCPE (first half, mats or their transpose) + camera half-RoPE (second half, +/- angle), in place. */
wm_status dit_ucpe(dit_fwd *f, wm_tensor *x, const wm_tensor *mats, int transpose, int conj)
{
    return dt_qk_prep(f, x, NULL, 0.0f, 0, mats, transpose, 1, conj, x, NULL);
}

static wm_status gates(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *beta, wm_tensor *g)
{
    wm_tensor xm, a;
    WM_TRY(dt_linear(f, h, &b->beta_w, &b->beta_b, WM_ACT_NONE, beta));
    WM_TRY(dt_new(f, f->T, f->C, &xm));
    DT_RUN(f, wm_frame_mean(f->be, h, f->T, &xm));
    WM_TRY(dt_linear(f, &xm, &b->gate_w, &b->gate_b, WM_ACT_NONE, &a));
    WM_TRY(dt_new_f32(f, f->T, f->H, g));
    DT_RUN(f, wm_gdn_gates(f->be, beta, &a, &b->A_log, &b->dt_bias, g));
    dt_record(f, "attn.beta", beta);
    dt_record(f, "attn.g", g);
    return WM_OK;
}

static wm_status main_branch(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, const wm_tensor *beta,
                             const wm_tensor *g, wm_dit_block_cache *cc, wm_tensor *out)
{
    wm_tensor q, kraw, k, v, qr, kr, Mf, Mr, zf, zr;
    WM_TRY(dt_linear3(f, h, &b->qkv, NULL, &q, &kraw, &v));
    WM_TRY(conv_k(f, &kraw, &b->conv_k, cc ? &cc->ktail : NULL, 1, &k));
    WM_TRY(norm_relu_rope(f, &q, &b->q_norm, &qr));
    WM_TRY(norm_relu_rope(f, &k, &b->k_norm_s, &kr));
    int save = cc && f->run->save;
    WM_TRY(scans(f, &kr, &v, beta, g, (scan_io){cc ? &cc->M : NULL, save ? &cc->M : NULL}, &Mf, &Mr));
    WM_TRY(scans(f, &k, NULL, beta, g, (scan_io){cc ? &cc->z : NULL, save ? &cc->z : NULL}, &zf, &zr));
    DT_RUN(f, wm_gdn_output(f->be, &qr, &Mf, &Mr, &q, &zf, &zr, f->cfg->eps_gdn, out));
    return WM_OK;
}

/* gq: gate|q|k|v of the camera projections already computed (dt_batch), else NULL */
static wm_status cam_branch(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, const wm_tensor *beta,
                            const wm_tensor *g, wm_dit_block_cache *cc, const wm_tensor *gq, wm_tensor *out)
{
    wm_tensor q, kraw, k, v, kpre, bc, Mf, Mr;
    if (gq) q = dt_rows(gq, f->N, f->N), kraw = dt_rows(gq, 2 * f->N, f->N), v = dt_rows(gq, 3 * f->N, f->N);
    else WM_TRY(dt_linear3(f, h, &b->qkvc_w, &b->qkvc_b, &q, &kraw, &v));
    WM_TRY(conv_k(f, &kraw, &b->conv_k_cam, cc ? &cc->kctail : NULL, f->cfg->cam_conv_cache, &k));
    float eps = f->cfg->eps_qk_norm;
    WM_TRY(dt_new(f, f->N, f->C, &kpre));
    WM_TRY(dt_qk_prep(f, &q, &b->q_norm_cam, eps, 1, &f->P, 1, 1, 0, &q, NULL));
    WM_TRY(dt_qk_prep(f, &k, &b->k_norm_cam_s, eps, 1, &f->Pinv, 0, 1, 0, &k, &kpre));
    WM_TRY(dit_ucpe(f, &v, &f->Pinv, 0, 0));
    WM_TRY(dt_new_f32(f, f->N, f->H, &bc));
    DT_RUN(f, wm_gdn_cam_beta(f->be, &kpre, &k, beta, f->T, &bc));
    dt_record(f, "attn.beta_cam", &bc);
    int save = cc && f->run->save;
    WM_TRY(scans(f, &k, &v, &bc, g, (scan_io){cc ? &cc->Mc : NULL, save ? &cc->Mc : NULL}, &Mf, &Mr));
    if (dt_cam_emb(f)) { /* readout + its inverse embedding (UCPE with P, conjugate camera RoPE) in one op */
        DT_RUN(f, wm_gdn_output_ucpe(f->be, &q, &Mf, &Mr, &f->P, 0, &f->cam_cos, &f->cam_sin, f->D / 2, 1, out));
        return WM_OK;
    }
    DT_RUN(f, wm_gdn_output(f->be, &q, &Mf, &Mr, NULL, NULL, NULL, 0.0f, out));
    return dit_ucpe(f, out, &f->P, 0, 1);
}

wm_status dit_attn_gdn(dit_fwd *f, const wm_dit_block_weights *b, const wm_tensor *h, wm_tensor *main_raw,
                       wm_tensor *cam_raw, wm_tensor *gate)
{
    wm_dit_block_cache *cc = dit_cache(f);
    WM_TRY(dt_new(f, f->N, f->C, main_raw));
    WM_TRY(dt_new(f, f->N, f->C, cam_raw));
    wm_tensor gq = {0};
    gate->ndim = 0;
    if (dt_batch(f)) { /* output gate | camera q | k | v: one GEMM of 4 on h (outlives this function: the gate) */
        WM_TRY(dt_new(f, 4 * f->N, f->C, &gq));
        DT_RUN(f, wm_matmul_batched(f->be, h, &b->gqkvc_w, &b->gqkvc_b, 4, 0, &gq));
        *gate = dt_rows(&gq, 0, f->N);
    }
    size_t mark = wm_arena_mark(f->ar);
    wm_tensor beta, g;
    WM_TRY(gates(f, b, h, &beta, &g));
    size_t mark2 = wm_arena_mark(f->ar); /* each branch's temporaries are released after it */
    WM_TRY(main_branch(f, b, h, &beta, &g, cc, main_raw));
    wm_arena_rewind(f->ar, mark2);
    WM_TRY(cam_branch(f, b, h, &beta, &g, cc, gq.ndim ? &gq : NULL, cam_raw));
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}
