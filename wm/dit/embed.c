/* Global embedders and the final layer (spec §2.2, §2.8), plus the per-forward position/camera tables.
 *
 * x and Plücker are 1x1x1 Conv3d = per-token Linear on tokens-major transposes of the channels-first
 * inputs; timesteps go through the truncating sinusoid op, t_embedder (Linear-SiLU-Linear) and t_block
 * (SiLU-Linear); the caption through fc1-GELU(tanh)-fc2 and the y RMSNorm. RoPE tables and UCPE
 * matrices depend only on positions and camera, so they are built once per forward (upstream rebuilds
 * them per block) on the host: in place in the arena on the CPU backend, else in the run's host staging
 * arena and then uploaded. Host inputs are uploaded as fp32 and converted by the first op that reads them
 * (transpose2d, convert) into the activation dtype, so the backend decides every dtype (wm_dit_act_dtype).
 */
#include "wm/dit/camera.h"
#include "wm/dit/dit_internal.h"
#include "wm/dit/rope.h"

#include <string.h>


void dt_record(dit_fwd *f, const char *name, const wm_tensor *t)
{
    if (!f->run->record || !dt_live(f)) return;
    char full[128];
    if (f->block >= 0) snprintf(full, sizeof full, "blocks.%d.%s", f->block, name);
    else snprintf(full, sizeof full, "%s", name);
    f->run->record(f->run->record_user, full, t);
}

/* Upload a host fp32 array (rows, cols) into a new fp32 arena tensor. */
static wm_status upload(dit_fwd *f, const float *src, int64_t rows, int64_t cols, wm_tensor *t)
{
    WM_TRY(dt_new_f32(f, rows, cols, t));
    if (dt_live(f)) WM_TRY(wm_backend_upload(f->be, t->data, src, wm_tensor_nbytes(t)));
    return WM_OK;
}

/* Channels-first (ch, N) host input (or src_dev, already on the device) -> tokens (N, ch) in tok, a new
 * arena tensor. */
static wm_status tokens(dit_fwd *f, const float *src, const wm_tensor *src_dev, int64_t ch, wm_tensor *tok)
{
    wm_tensor cf;
    if (src_dev && dt_live(f)) {
        if (src_dev->dtype != WM_F32 || src_dev->device != f->be->device || wm_tensor_numel(src_dev) != ch * f->N)
            return wm__errf(&f->be->err, WM_ERR_SHAPE, "dit forward: x_dev must be fp32 (%lld, %lld) on the device",
                            (long long)ch, (long long)f->N);
        cf = wm_tensor_view4(WM_F32, src_dev->device, src_dev->data, 2, ch, f->N, 0, 0);
    } else {
        WM_TRY(upload(f, src, ch, f->N, &cf));
    }
    WM_TRY(dt_new(f, f->N, ch, tok));
    DT_RUN(f, wm_transpose2d(f->be, &cf, tok));
    return WM_OK;
}

/* Channels-first input -> tokens -> Linear -> (N, C). */
static wm_status patch_embed(dit_fwd *f, const float *src, const wm_tensor *src_dev, int64_t ch, const wm_tensor *w,
                             const wm_tensor *b, wm_tensor *out)
{
    WM_TRY(dt_new(f, f->N, f->C, out));
    size_t mark = wm_arena_mark(f->ar); /* the transposes are released, the result kept */
    wm_tensor tok;
    WM_TRY(tokens(f, src, src_dev, ch, &tok));
    DT_RUN(f, wm_matmul(f->be, &tok, w, b, WM_ACT_NONE, out));
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}

/* Plücker input: the (N, 48) tokens every block projects through its folded weight (pk_w), or the
 * embedding plucker_emb (N, C) each block's plucker_proj reads (unfused; also made when intermediates
 * are recorded, for the golden comparison). */
static wm_status embed_plucker(dit_fwd *f, const float *src)
{
    const wm_dit_weights *w = f->w;
    int64_t ch = f->cfg->plucker_channels;
    if (!dt_fused(f, WM_DIT_UNFUSE_PLK))
        return patch_embed(f, src, NULL, ch, &w->plk_w, &w->plk_b, &f->plk);
    WM_TRY(tokens(f, src, NULL, ch, &f->plk_tok));
    /* Always reserved: a run may record when its plan (wm_dit_plan) did not, and the arena must fit. */
    WM_TRY(dt_new(f, f->N, f->C, &f->plk));
    if (f->run->record) DT_RUN(f, wm_matmul(f->be, &f->plk_tok, &w->plk_w, &w->plk_b, WM_ACT_NONE, &f->plk));
    return WM_OK;
}

static wm_status embed_time(dit_fwd *f, const float *ts)
{
    const wm_dit_weights *w = f->w;
    wm_tensor t, sin_t, h;
    WM_TRY(upload(f, ts, f->T, 0, &t));
    WM_TRY(dt_new(f, f->T, f->cfg->freq_dim, &sin_t));
    DT_RUN(f, wm_dit_timestep_embed(f->be, &t, &sin_t));
    WM_TRY(dt_linear(f, &sin_t, &w->t0_w, &w->t0_b, WM_ACT_SILU, &h));
    WM_TRY(dt_linear_as(f, WM_F32, &h, &w->t2_w, &w->t2_b, WM_ACT_NONE, &f->temb)); /* fp32: adaLN input */
    wm_tensor s;
    WM_TRY(dt_new(f, f->T, f->C, &s));
    WM_TRY(dt_copy(f, &f->temb, &s));
    DT_RUN(f, wm_activate(f->be, &s, WM_ACT_SILU));
    WM_TRY(dt_linear_as(f, WM_F32, &s, &w->tb_w, &w->tb_b, WM_ACT_NONE, &f->t0));
    dt_record(f, "t_emb", &f->temb);
    dt_record(f, "t0", &f->t0);
    return WM_OK;
}

/* Where a host-built table for arena tensor t is written: t itself (CPU backend without a stage) or a
 * block of the run's host staging arena; stage_flush uploads it from there. */
static wm_status stage_ptr(dit_fwd *f, const wm_tensor *t, void **p)
{
    wm_arena *st = f->run->stage;
    if (!st) {
        if (f->be->device != WM_DEVICE_CPU)
            return wm__errf(&f->be->err, WM_ERR_INVALID_ARG, "dit forward: a device backend needs wm_dit_run.stage");
        *p = t->data;
        return WM_OK;
    }
    return wm_arena_alloc(st, wm_tensor_nbytes(t), p);
}

static wm_status stage_flush(dit_fwd *f, const wm_tensor *t, const void *p)
{
    if (p == t->data) return WM_OK;
    return wm_backend_upload(f->be, t->data, p, wm_tensor_nbytes(t));
}

/* Does the stream's caption cache hold this prompt? (exact compare with the host key copies) */
static int text_hit(const wm_dit_stream *st, const wm_dit_inputs *in, int L, int Cy)
{
    if (!st->cap_valid || st->cap_L != L || memcmp(st->cap_host_y, in->y, (size_t)L * Cy * sizeof(float)))
        return 0;
    for (int i = 0; i < L; i++)
        if (st->cap_host_mask[i] != (in->mask ? in->mask[i] != 0 : 1)) return 0;
    return 1;
}

/* Where the caption embedding, the mask and the blocks' text K/V go: the stream's caption cache when
 * streaming (reused when it already holds this prompt), else the arena. */
static wm_status text_place(dit_fwd *f, const wm_dit_inputs *in)
{
    wm_dit_stream *st = f->run->variant == WM_DIT_STREAMING ? f->run->stream : NULL;
    int Cy = f->cfg->caption_channels;
    if (!st || !st->cap_y.data || f->L > st->cfg.caption_length) {
        f->text = DT_TEXT_ARENA;
        int64_t sh[1] = {f->L};
        WM_TRY(dt_new(f, f->L, f->C, &f->y));
        return wm_arena_tensor(f->ar, WM_U8, 1, sh, &f->mask);
    }
    f->y = dt_rows(&st->cap_y, 0, f->L);
    f->mask = dt_rows(&st->cap_mask, 0, f->L);
    f->text = dt_live(f) && text_hit(st, in, f->L, Cy) ? DT_TEXT_CACHED : DT_TEXT_FILL;
    if (f->text == DT_TEXT_FILL && dt_live(f)) { /* the key is set valid when the forward succeeds */
        st->cap_valid = 0;
        memcpy(st->cap_host_y, in->y, (size_t)f->L * Cy * sizeof(float));
        for (int i = 0; i < f->L; i++) st->cap_host_mask[i] = in->mask ? in->mask[i] != 0 : 1;
    }
    return WM_OK;
}

static wm_status embed_text(dit_fwd *f, const wm_dit_inputs *in)
{
    const wm_dit_weights *w = f->w;
    /* Prompts are usually far shorter than the 300-token caption: the cross-attention stops at the last
     * valid key (a fully masked caption keeps one masked key, so its rows still come out 0). */
    f->Lk = f->L;
    if (in->mask && f->L > 0) {
        while (f->Lk > 1 && !in->mask[f->Lk - 1]) f->Lk--;
    }
    WM_TRY(text_place(f, in));
    if (f->text == DT_TEXT_CACHED) {
        dt_record(f, "y_emb", &f->y);
        return WM_OK;
    }
    size_t mark = wm_arena_mark(f->ar); /* the caption's temporaries are released */
    wm_tensor y, h;
    WM_TRY(upload(f, in->y, f->L, f->cfg->caption_channels, &y));
    if (f->adt != WM_F32) {
        wm_tensor ya;
        WM_TRY(dt_new(f, f->L, f->cfg->caption_channels, &ya));
        WM_TRY(dt_copy(f, &y, &ya));
        y = ya;
    }
    WM_TRY(dt_linear(f, &y, &w->y1_w, &w->y1_b, WM_ACT_GELU_TANH, &h));
    DT_RUN(f, wm_matmul(f->be, &h, &w->y2_w, &w->y2_b, WM_ACT_NONE, &f->y));
    wm_arena_rewind(f->ar, mark);
    DT_RUN(f, wm_rmsnorm(f->be, &f->y, &w->y_norm, f->cfg->eps_y_norm, &f->y));
    dt_record(f, "y_emb", &f->y);
    if (!dt_live(f)) return WM_OK;
    uint8_t *m = f->mask.data;
    WM_TRY(stage_ptr(f, &f->mask, (void **)&m));
    for (int i = 0; i < f->L; i++) m[i] = in->mask ? in->mask[i] != 0 : 1;
    return stage_flush(f, &f->mask, m);
}

/* Streaming: the six tables as views into the stream's table region; returns 1 when that region already
 * holds this chunk's tables (same frame offset, frame count and camera rows). */
static int stream_tables(dit_fwd *f, const wm_dit_inputs *in, wm_tensor **t, const int *cols)
{
    wm_dit_stream *st = f->run->stream;
    char *p = st->tab.data;
    for (int i = 0; i < 6; i++) {
        int64_t sh[2] = {f->N, cols[i]};
        *t[i] = wm_tensor_view(WM_F32, st->tab.device, p, 2, sh);
        p += (wm_tensor_nbytes(t[i]) + 255) & ~(size_t)255;
    }
    if (!dt_live(f)) return 1;
    int hit = st->tab_frames == f->T && st->tab_frame0 == f->run->frame0 &&
              !memcmp(st->tab_cam, in->cam, (size_t)f->T * 20 * sizeof(float));
    if (!hit) { /* mark empty until the rebuild below succeeds */
        st->tab_frames = 0;
        st->tab_frame0 = f->run->frame0;
        memcpy(st->tab_cam, in->cam, (size_t)f->T * 20 * sizeof(float));
    }
    return hit;
}

static wm_status build_tables(dit_fwd *f, const wm_dit_inputs *in)
{
    const wm_dit_config *g = f->cfg;
    int pm = wm_dit_rope_pairs(f->D, 0), pc = wm_dit_rope_pairs(f->D, 1);
    int frame0 = f->run->variant == WM_DIT_STREAMING ? f->run->frame0 : 0;
    wm_tensor *t[6] = {&f->rope_cos, &f->rope_sin, &f->cam_cos, &f->cam_sin, &f->P, &f->Pinv};
    int cols[6] = {pm, pm, pc, pc, 16, 16};
    int streamed = f->run->variant == WM_DIT_STREAMING && f->run->stream->tab.data;
    if (streamed && stream_tables(f, in, t, cols)) return WM_OK;
    if (!streamed)
        for (int i = 0; i < 6; i++) WM_TRY(dt_new_f32(f, f->N, cols[i], t[i]));
    if (!dt_live(f)) return WM_OK;
    void *h[6];
    for (int i = 0; i < 6; i++) WM_TRY(stage_ptr(f, t[i], &h[i]));
    wm_dit_rope_tables(f->D, g->rope_theta, frame0, f->T, g->latent_h, g->latent_w, 0, h[0], h[1]);
    wm_dit_rope_tables(f->D, g->rope_theta, frame0, f->T, g->latent_h, g->latent_w, 1, h[2], h[3]);
    wm_dit_ucpe_mats(in->cam, f->T, g->latent_h, g->latent_w, h[4], h[5]);
    for (int i = 0; i < 6; i++) WM_TRY(stage_flush(f, t[i], h[i]));
    if (streamed) f->run->stream->tab_frames = f->T;
    return WM_OK;
}

wm_status dit_embed_inputs(dit_fwd *f, const wm_dit_inputs *in, wm_tensor *x)
{
    const wm_dit_weights *w = f->w;
    f->block = -1;
    if (f->run->stage && dt_live(f)) wm_arena_reset(f->run->stage);
    WM_TRY(patch_embed(f, in->x, f->run->x_dev, f->cfg->in_channels, &w->x_w, &w->x_b, x));
    dt_record(f, "x_emb", x);
    WM_TRY(embed_plucker(f, in->plucker));
    dt_record(f, "plucker_emb", &f->plk);
    WM_TRY(embed_time(f, in->timestep));
    WM_TRY(embed_text(f, in));
    return build_tables(f, in);
}

wm_status dit_final_layer(dit_fwd *f, const wm_tensor *x, float *v_out)
{
    const wm_dit_weights *w = f->w;
    f->block = -1;
    if (f->run->no_velocity && dt_live(f)) return WM_OK; /* planning still counts the layer's bytes */
    wm_tensor tab, h, o, v;
    WM_TRY(dt_new_f32(f, 2 * f->T, f->C, &tab));
    DT_RUN(f, wm_dit_adaln_table(f->be, &f->temb, &w->fin_sst, &tab));
    wm_tensor shift = dt_rows(&tab, 0, f->T), scale = dt_rows(&tab, f->T, f->T);
    WM_TRY(dt_new(f, f->N, f->C, &h));
    DT_RUN(f, wm_layernorm_modulate(f->be, x, &shift, &scale, f->S, f->cfg->eps_layernorm, &h));
    WM_TRY(dt_linear(f, &h, &w->fin_w, &w->fin_b, WM_ACT_NONE, &o));
    wm_tensor *vd = f->run->v_dev;
    if (vd && dt_live(f)) { /* the velocity stays on the device */
        if (vd->dtype != WM_F32 || vd->device != f->be->device || wm_tensor_numel(vd) != f->cfg->out_channels * f->N)
            return wm__errf(&f->be->err, WM_ERR_SHAPE, "dit forward: v_dev must be fp32 (%d, %lld) on the device",
                            f->cfg->out_channels, (long long)f->N);
        v = wm_tensor_view4(WM_F32, vd->device, vd->data, 2, f->cfg->out_channels, f->N, 0, 0);
        DT_RUN(f, wm_transpose2d(f->be, &o, &v));
        return WM_OK;
    }
    WM_TRY(dt_new_f32(f, f->cfg->out_channels, f->N, &v)); /* the transpose also converts to fp32 */
    DT_RUN(f, wm_transpose2d(f->be, &o, &v));
    if (dt_live(f)) WM_TRY(wm_backend_download(f->be, v_out, v.data, wm_tensor_nbytes(&v)));
    return WM_OK;
}
