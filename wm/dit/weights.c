/* Loading the DiT weights by official names (see weights.h). Each tensor is read with its exact stored
 * shape (so a checkpoint of another size fails on the first mismatching key, naming it) and then viewed
 * in the 2-D layout the ops take; only t_conv needs a real re-layout. */
#include "wm/dit/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const wm_checkpoint *ck;
    wm_error *err;
    char name[160];
} ld_ctx;

/* Read key `name` with stored shape (ndim, s) into a new fp32 tensor viewed as (rows, cols) (cols 0:
 * 1-D of rows elements). */
static wm_status ld(ld_ctx *c, wm_tensor *dst, int ndim, const int64_t *s, int64_t rows, int64_t cols)
{
    int64_t sh[2] = {rows, cols};
    if (!c->ck) { /* shapes only (planning): a header without data */
        *dst = wm_tensor_view(WM_F32, WM_DEVICE_CPU, NULL, cols ? 2 : 1, sh);
        return WM_OK;
    }
    WM_TRY(wm_tensor_alloc(WM_F32, cols ? 2 : 1, sh, dst));
    wm_status st = wm_checkpoint_read_f32(c->ck, c->name, ndim, s, dst->data, c->err);
    if (st != WM_OK && !wm_checkpoint_find(c->ck, c->name))
        wm__errf(c->err, st, "%s: missing DiT weight '%s'", wm_checkpoint_path(c->ck), c->name);
    return st;
}

#define NAME(...) snprintf(c->name, sizeof c->name, __VA_ARGS__)
#define S1(a) ((const int64_t[]){a})
#define S2(a, b) ((const int64_t[]){a, b})
#define S3(a, b, d) ((const int64_t[]){a, b, d})
#define S4(a, b, d, e) ((const int64_t[]){a, b, d, e})
#define S5(a, b, d, e, f) ((const int64_t[]){a, b, d, e, f})

/* Linear "<pre>.weight" (o, i) and optional "<pre>.bias" (o). */
static wm_status ld_lin(ld_ctx *c, const char *pre, int64_t o, int64_t i, wm_tensor *w, wm_tensor *b)
{
    NAME("%s.weight", pre);
    WM_TRY(ld(c, w, 2, S2(o, i), o, i));
    if (!b) return WM_OK;
    NAME("%s.bias", pre);
    return ld(c, b, 1, S1(o), o, 0);
}

static wm_status ld_vec(ld_ctx *c, const char *name, int64_t n, wm_tensor *t)
{
    NAME("%s", name);
    return ld(c, t, 1, S1(n), n, 0);
}

static wm_status ld_globals(ld_ctx *c, const wm_dit_config *g, wm_dit_weights *w)
{
    int64_t C = g->hidden_size;
    NAME("x_embedder.proj.weight");
    WM_TRY(ld(c, &w->x_w, 5, S5(C, g->in_channels, 1, 1, 1), C, g->in_channels));
    WM_TRY(ld_vec(c, "x_embedder.proj.bias", C, &w->x_b));
    NAME("plucker_embedder.proj.weight");
    WM_TRY(ld(c, &w->plk_w, 5, S5(C, g->plucker_channels, 1, 1, 1), C, g->plucker_channels));
    WM_TRY(ld_vec(c, "plucker_embedder.proj.bias", C, &w->plk_b));
    WM_TRY(ld_lin(c, "t_embedder.mlp.0", C, g->freq_dim, &w->t0_w, &w->t0_b));
    WM_TRY(ld_lin(c, "t_embedder.mlp.2", C, C, &w->t2_w, &w->t2_b));
    WM_TRY(ld_lin(c, "t_block.1", 6 * C, C, &w->tb_w, &w->tb_b));
    WM_TRY(ld_lin(c, "y_embedder.y_proj.fc1", C, g->caption_channels, &w->y1_w, &w->y1_b));
    WM_TRY(ld_lin(c, "y_embedder.y_proj.fc2", C, C, &w->y2_w, &w->y2_b));
    WM_TRY(ld_vec(c, "attention_y_norm.weight", C, &w->y_norm));
    WM_TRY(ld_lin(c, "final_layer.linear", g->out_channels, C, &w->fin_w, &w->fin_b));
    NAME("final_layer.scale_shift_table");
    return ld(c, &w->fin_sst, 2, S2(2, C), 2, C);
}

static wm_status ld_attn(ld_ctx *c, const wm_dit_config *g, int i, wm_dit_block_weights *b)
{
    int64_t C = g->hidden_size, H = g->num_heads, K = g->conv_kernel_size;
    char p[96];
#define P(suffix) (snprintf(p, sizeof p, "blocks.%d.attn.%s", i, suffix), p)
    WM_TRY(ld_lin(c, P("qkv"), 3 * C, C, &b->qkv, NULL));
    WM_TRY(ld_vec(c, P("q_norm.weight"), C, &b->q_norm));
    WM_TRY(ld_vec(c, P("k_norm.weight"), C, &b->k_norm));
    WM_TRY(ld_lin(c, P("beta_proj"), H, C, &b->beta_w, &b->beta_b));
    WM_TRY(ld_lin(c, P("gate_proj"), H, C, &b->gate_w, &b->gate_b));
    WM_TRY(ld_vec(c, P("A_log"), H, &b->A_log));
    WM_TRY(ld_vec(c, P("dt_bias"), H, &b->dt_bias));
    WM_TRY(ld_lin(c, P("output_gate"), C, C, &b->og_w, &b->og_b));
    WM_TRY(ld_lin(c, P("proj"), C, C, &b->proj_w, &b->proj_b));
    WM_TRY(ld_lin(c, P("q_proj_cam"), C, C, &b->qc_w, &b->qc_b));
    WM_TRY(ld_lin(c, P("k_proj_cam"), C, C, &b->kc_w, &b->kc_b));
    WM_TRY(ld_lin(c, P("v_proj_cam"), C, C, &b->vc_w, &b->vc_b));
    WM_TRY(ld_lin(c, P("out_proj_cam"), C, C, &b->oc_w, &b->oc_b));
    WM_TRY(ld_vec(c, P("q_norm_cam.weight"), C, &b->q_norm_cam));
    WM_TRY(ld_vec(c, P("k_norm_cam.weight"), C, &b->k_norm_cam));
    if (!g->is_softmax[i]) {
        NAME("blocks.%d.attn.conv_k.weight", i);
        WM_TRY(ld(c, &b->conv_k, 3, S3(C, 1, K), C, K));
        NAME("blocks.%d.attn.conv_k_cam.weight", i);
        WM_TRY(ld(c, &b->conv_k_cam, 3, S3(C, 1, K), C, K));
        double ks = 1.0 / sqrt((double)(C / H) * g->latent_h * g->latent_w);
        if (!c->ck) {
            b->k_norm_s = b->k_norm_cam_s = wm_tensor_view(WM_F32, WM_DEVICE_CPU, NULL, 1, S1(C));
            return WM_OK;
        }
        WM_TRY(wm_tensor_alloc(WM_F32, 1, S1(C), &b->k_norm_s));
        WM_TRY(wm_tensor_alloc(WM_F32, 1, S1(C), &b->k_norm_cam_s));
        for (int64_t j = 0; j < C; j++) {
            ((float *)b->k_norm_s.data)[j] = (float)(((float *)b->k_norm.data)[j] * ks);
            ((float *)b->k_norm_cam_s.data)[j] = (float)(((float *)b->k_norm_cam.data)[j] * ks);
        }
    }
#undef P
    return WM_OK;
}

static wm_status ld_block(ld_ctx *c, const wm_dit_config *g, int i, wm_dit_block_weights *b)
{
    int64_t C = g->hidden_size, M = g->mlp_hidden;
    char p[96];
#define P(suffix) (snprintf(p, sizeof p, "blocks.%d.%s", i, suffix), p)
    NAME("blocks.%d.scale_shift_table", i);
    WM_TRY(ld(c, &b->sst, 2, S2(6, C), 6, C));
    WM_TRY(ld_attn(c, g, i, b));
    WM_TRY(ld_lin(c, P("plucker_proj"), C, C, &b->pp_w, &b->pp_b));
    WM_TRY(ld_lin(c, P("cross_attn.q_linear"), C, C, &b->ca_q_w, &b->ca_q_b));
    WM_TRY(ld_lin(c, P("cross_attn.kv_linear"), 2 * C, C, &b->ca_kv_w, &b->ca_kv_b));
    WM_TRY(ld_vec(c, P("cross_attn.q_norm.weight"), C, &b->ca_q_norm));
    WM_TRY(ld_vec(c, P("cross_attn.k_norm.weight"), C, &b->ca_k_norm));
    WM_TRY(ld_lin(c, P("cross_attn.proj"), C, C, &b->ca_proj_w, &b->ca_proj_b));
    NAME("blocks.%d.mlp.inverted_conv.conv.weight", i);
    WM_TRY(ld(c, &b->inv_w, 4, S4(2 * M, C, 1, 1), 2 * M, C));
    WM_TRY(ld_vec(c, P("mlp.inverted_conv.conv.bias"), 2 * M, &b->inv_b));
    NAME("blocks.%d.mlp.depth_conv.conv.weight", i);
    WM_TRY(ld(c, &b->dw_w, 4, S4(2 * M, 1, 3, 3), 2 * M, 9));
    WM_TRY(ld_vec(c, P("mlp.depth_conv.conv.bias"), 2 * M, &b->dw_b));
    NAME("blocks.%d.mlp.point_conv.conv.weight", i);
    WM_TRY(ld(c, &b->pt_w, 4, S4(C, M, 1, 1), C, M));
#undef P
    int64_t kt = g->t_conv_kernel;
    wm_tensor raw;
    NAME("blocks.%d.mlp.t_conv.weight", i);
    if (kt != 3) return wm__errf(c->err, WM_ERR_UNSUPPORTED, "%s: t_conv kernel %d (only 3)", c->name, (int)kt);
    if (!c->ck) {
        b->tconv_w = wm_tensor_view(WM_F32, WM_DEVICE_CPU, NULL, 2, S2(C, 3 * C));
        return WM_OK;
    }
    WM_TRY(ld(c, &raw, 4, S4(C, C, 3, 1), C * C * 3, 0));
    wm_status st = wm_tensor_alloc(WM_F32, 2, S2(C, 3 * C), &b->tconv_w);
    if (st == WM_OK) {
        const float *r = raw.data;
        float *o = b->tconv_w.data;
        for (int64_t oc = 0; oc < C; oc++)
            for (int64_t ic = 0; ic < C; ic++)
                for (int64_t j = 0; j < 3; j++) o[oc * 3 * C + j * C + ic] = r[(oc * C + ic) * 3 + j];
    }
    wm_tensor_free(&raw);
    return st;
}

wm_status wm_dit_weights_load(const wm_checkpoint *ck, const wm_dit_config *cfg, wm_dit_weights **out,
                              wm_error *err)
{
    *out = NULL;
    if (cfg->depth <= 0 || cfg->depth > WM_DIT_MAX_DEPTH || cfg->num_heads <= 0 ||
        cfg->hidden_size % cfg->num_heads)
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT config: bad depth/heads/hidden size");
    wm_dit_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->blocks = calloc((size_t)cfg->depth, sizeof *w->blocks))) {
        free(w);
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "DiT weights: out of memory");
    }
    w->cfg = *cfg;
    ld_ctx c = {ck, err, {0}};
    wm_status st = ld_globals(&c, cfg, w);
    for (int i = 0; st == WM_OK && i < cfg->depth; i++) st = ld_block(&c, cfg, i, &w->blocks[i]);
    if (st != WM_OK) {
        wm_dit_weights_free(w);
        return st;
    }
    *out = w;
    return WM_OK;
}

wm_status wm_dit_weights_shapes(const wm_dit_config *cfg, wm_dit_weights **out, wm_error *err)
{
    return wm_dit_weights_load(NULL, cfg, out, err);
}

/* Every wm_tensor member is freed by walking the structs as arrays of tensors (all members are
 * wm_tensor; unloaded ones are zero and wm_tensor_free ignores them). */
void wm_dit_weights_free(wm_dit_weights *w)
{
    if (!w) return;
    if (w->blocks)
        for (int i = 0; i < w->cfg.depth; i++) {
            wm_tensor *t = (wm_tensor *)&w->blocks[i];
            for (size_t j = 0; j < sizeof(wm_dit_block_weights) / sizeof(wm_tensor); j++) wm_tensor_free(&t[j]);
        }
    wm_tensor *t = &w->x_w;
    for (wm_tensor *e = &w->fin_sst; t <= e; t++) wm_tensor_free(t);
    free(w->blocks);
    free(w);
}
