/* The DiT module tree: every official key with its shape for a config (spec §6.2, §6.3), and the
 * check of a checkpoint against it.
 *
 * The tree is generated from the config (not a fixed list) so the same code checks the released
 * 2.66B file and the small synthetic checkpoints of the tests. Buffers that the forward never uses
 * (raymap_embedder, y_embedder.y_embedding, attn.recall_gate) are still part of the tree, because the
 * reference loads strictly and they are in every official file. pos_embed is listed as optional with
 * any shape: the reference drops it at load and its shape depends on the training resolution.
 * GDN blocks have 43 keys, softmax blocks 41 (no conv_k / conv_k_cam).
 */
#include "wm/io/dit_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct keygen { wm_dit_key_fn fn; void *ctx; int n; const char *prefix; } keygen;

static void emit(keygen *g, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t d4)
{
    char full[160];
    snprintf(full, sizeof full, "%s%s", g->prefix, name);
    wm_dit_key k = {.name = full, .ndim = ndim, .shape = {d0, d1, d2, d3, d4}, .optional = 0};
    g->fn(g->ctx, &k);
    g->n++;
}
#define K1(n, a) emit(g, n, 1, a, 1, 1, 1, 1)
#define K2(n, a, b) emit(g, n, 2, a, b, 1, 1, 1)
#define LIN(n, out, in) do { K2(n ".weight", out, in); K1(n ".bias", out); } while (0)

static void emit_globals(keygen *g, const wm_dit_config *c)
{
    int64_t C = c->hidden_size;
    emit(g, "x_embedder.proj.weight", 5, C, c->in_channels, 1, 1, 1);
    K1("x_embedder.proj.bias", C);
    emit(g, "plucker_embedder.proj.weight", 5, C, c->plucker_channels, 1, 1, 1);
    K1("plucker_embedder.proj.bias", C);
    emit(g, "raymap_embedder.proj.weight", 5, C, 3, 1, 1, 1);
    K1("raymap_embedder.proj.bias", C);
    LIN("t_embedder.mlp.0", C, c->freq_dim);
    LIN("t_embedder.mlp.2", C, C);
    LIN("t_block.1", 6 * C, C);
    LIN("y_embedder.y_proj.fc1", C, c->caption_channels);
    LIN("y_embedder.y_proj.fc2", C, C);
    K2("y_embedder.y_embedding", c->caption_length, c->caption_channels);
    K1("attention_y_norm.weight", C);
    LIN("final_layer.linear", c->out_channels, C);
    K2("final_layer.scale_shift_table", 2, C);
    wm_dit_key pe = {.name = "pos_embed", .ndim = -1, .optional = 1};
    g->fn(g->ctx, &pe);
    g->n++;
}

static void emit_attn(keygen *g, const wm_dit_config *c, int gdn)
{
    int64_t C = c->hidden_size, H = c->num_heads;
    K2("attn.qkv.weight", 3 * C, C);
    K1("attn.q_norm.weight", C);
    K1("attn.k_norm.weight", C);
    if (gdn) emit(g, "attn.conv_k.weight", 3, C, 1, c->conv_kernel_size, 1, 1);
    LIN("attn.beta_proj", H, C);
    LIN("attn.gate_proj", H, C);
    K1("attn.A_log", H);
    K1("attn.dt_bias", H);
    K1("attn.recall_gate", 1);
    LIN("attn.output_gate", C, C);
    LIN("attn.proj", C, C);
    LIN("attn.q_proj_cam", C, C);
    LIN("attn.k_proj_cam", C, C);
    LIN("attn.v_proj_cam", C, C);
    LIN("attn.out_proj_cam", C, C);
    K1("attn.q_norm_cam.weight", C);
    K1("attn.k_norm_cam.weight", C);
    if (gdn) emit(g, "attn.conv_k_cam.weight", 3, C, 1, c->conv_kernel_size, 1, 1);
}

static void emit_block(keygen *g, const wm_dit_config *c, int i)
{
    int64_t C = c->hidden_size, M2 = 2 * (int64_t)c->mlp_hidden;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "blocks.%d.", i);
    g->prefix = prefix;
    K2("scale_shift_table", 6, C);
    emit_attn(g, c, !c->is_softmax[i]);
    LIN("plucker_proj", C, C);
    LIN("cross_attn.q_linear", C, C);
    LIN("cross_attn.kv_linear", 2 * C, C);
    K1("cross_attn.q_norm.weight", C);
    K1("cross_attn.k_norm.weight", C);
    LIN("cross_attn.proj", C, C);
    emit(g, "mlp.inverted_conv.conv.weight", 4, M2, C, 1, 1, 1);
    K1("mlp.inverted_conv.conv.bias", M2);
    emit(g, "mlp.depth_conv.conv.weight", 4, M2, 1, 3, 3, 1);
    K1("mlp.depth_conv.conv.bias", M2);
    emit(g, "mlp.point_conv.conv.weight", 4, C, c->mlp_hidden, 1, 1, 1);
    emit(g, "mlp.t_conv.weight", 4, C, C, c->t_conv_kernel, 1, 1);
    g->prefix = "";
}

int wm_dit_expected_keys(const wm_dit_config *cfg, wm_dit_key_fn fn, void *ctx)
{
    keygen g = {.fn = fn, .ctx = ctx, .n = 0, .prefix = ""};
    emit_globals(&g, cfg);
    for (int i = 0; i < cfg->depth && i < WM_DIT_MAX_DEPTH; i++) emit_block(&g, cfg, i);
    return g.n;
}

/* ---------------------------------------------------------------- checking a checkpoint */
typedef struct checker {
    const wm_checkpoint *ck;
    wm_dit_check_report *rep;
    char **names;          /* expected names, for the unexpected-key pass */
    int nnames, cap, oom;
} checker;

static wm_dit_check_item *push_item(wm_dit_check_item **list, int *n)
{
    wm_dit_check_item *l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (!l) return NULL;
    *list = l;
    memset(&l[*n], 0, sizeof l[*n]);
    return &l[(*n)++];
}

static void check_key(void *vctx, const wm_dit_key *k)
{
    checker *c = vctx;
    wm_dit_check_report *r = c->rep;
    r->expected++;
    if (c->nnames == c->cap) {
        int cap = c->cap ? 2 * c->cap : 1024;
        char **n = realloc(c->names, (size_t)cap * sizeof *n);
        if (!n) { c->oom = 1; return; }
        c->names = n;
        c->cap = cap;
    }
    if (!(c->names[c->nnames] = strdup(k->name))) { c->oom = 1; return; }
    c->nnames++;
    const wm_ckpt_entry *e = wm_checkpoint_find(c->ck, k->name);
    if (!e) {
        if (k->optional) return;
        wm_dit_check_item *it = push_item(&r->missing, &r->n_missing);
        if (!it) { c->oom = 1; return; }
        snprintf(it->name, sizeof it->name, "%s", k->name);
        it->want_ndim = k->ndim;
        memcpy(it->want, k->shape, sizeof it->want);
        return;
    }
    int same = k->ndim < 0 || k->ndim == e->ndim;
    for (int d = 0; same && k->ndim > 0 && d < k->ndim; d++) same = k->shape[d] == e->shape[d];
    if (same) { r->present++; return; }
    wm_dit_check_item *it = push_item(&r->misshaped, &r->n_misshaped);
    if (!it) { c->oom = 1; return; }
    snprintf(it->name, sizeof it->name, "%s", k->name);
    it->want_ndim = k->ndim;
    memcpy(it->want, k->shape, sizeof it->want);
    it->have_ndim = e->ndim;
    memcpy(it->have, e->shape, sizeof it->have);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const wm_dit_check_item *)a)->name, ((const wm_dit_check_item *)b)->name);
}

wm_status wm_dit_check_checkpoint(const wm_checkpoint *ck, const wm_dit_config *cfg, wm_dit_check_report *rep)
{
    memset(rep, 0, sizeof *rep);
    checker c = {.ck = ck, .rep = rep};
    wm_dit_expected_keys(cfg, check_key, &c);
    if (!c.oom && c.nnames > 1) qsort(c.names, (size_t)c.nnames, sizeof *c.names, cmp_str);
    for (int i = 0; !c.oom && i < wm_checkpoint_count(ck); i++) {
        const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
        const char *key = e->name;
        if (bsearch(&key, c.names, (size_t)c.nnames, sizeof *c.names, cmp_str)) continue;
        wm_dit_check_item *it = push_item(&rep->unexpected, &rep->n_unexpected);
        if (!it) { c.oom = 1; break; }
        snprintf(it->name, sizeof it->name, "%s", key);
        it->have_ndim = e->ndim;
        memcpy(it->have, e->shape, sizeof it->have);
    }
    for (int i = 0; i < c.nnames; i++) free(c.names[i]);
    free(c.names);
    if (c.oom) { wm_dit_check_report_free(rep); return WM_ERR_OUT_OF_MEMORY; }
    if (rep->n_missing > 1) qsort(rep->missing, (size_t)rep->n_missing, sizeof *rep->missing, cmp_item);
    if (rep->n_misshaped > 1) qsort(rep->misshaped, (size_t)rep->n_misshaped, sizeof *rep->misshaped, cmp_item);
    rep->complete = !rep->n_missing && !rep->n_unexpected && !rep->n_misshaped;
    return WM_OK;
}

void wm_dit_check_report_free(wm_dit_check_report *rep)
{
    free(rep->missing);
    free(rep->unexpected);
    free(rep->misshaped);
    rep->missing = rep->unexpected = rep->misshaped = NULL;
    rep->n_missing = rep->n_unexpected = rep->n_misshaped = 0;
}
