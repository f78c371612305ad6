/* Infer a DiT config from a checkpoint's tensor names and shapes (official Sana key names, spec §6).
 *
 * Shapes are the ground truth for a given file, so they override whatever cfg held (defaults or a
 * config.yaml). Head count: the per-head gate projections attn.beta_proj (heads, C) carry it directly;
 * only when those are absent do we fall back to cfg->num_heads (if the hidden size is unchanged) or to
 * the released head dim of 112 (C / 112, spec §2.1: linear_head_dim 112). A block is softmax when it
 * has no attn.conv_k (softmax blocks have no short convolutions, spec §6.3).
 */
#include "wm/io/dit_io.h"

#include <stdio.h>
#include <string.h>

#define WM_DIT_RELEASED_HEAD_DIM 112

static const wm_ckpt_entry *get(const wm_checkpoint *ck, const char *name) { return wm_checkpoint_find(ck, name); }

static const wm_ckpt_entry *getb(const wm_checkpoint *ck, int i, const char *suffix)
{
    char name[160];
    snprintf(name, sizeof name, "blocks.%d.%s", i, suffix);
    return wm_checkpoint_find(ck, name);
}

/* Set *dst to shape[dim] of a tensor if it is present with the expected rank. */
static void take(const wm_ckpt_entry *e, int ndim, int dim, int *dst)
{
    if (e && e->ndim == ndim && e->shape[dim] > 0 && e->shape[dim] < (1 << 30)) *dst = (int)e->shape[dim];
}

static wm_status infer_depth(const wm_checkpoint *ck, wm_dit_config *c, wm_error *err)
{
    int depth = 0;
    while (depth < WM_DIT_MAX_DEPTH + 1 && getb(ck, depth, "scale_shift_table")) depth++;
    if (depth > WM_DIT_MAX_DEPTH)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: more than %d blocks", wm_checkpoint_path(ck), WM_DIT_MAX_DEPTH);
    if (depth == 0)
        return wm__errf(err, WM_ERR_FORMAT, "%s: no DiT blocks ('blocks.0.scale_shift_table' missing)", wm_checkpoint_path(ck));
    c->depth = depth;
    int first_gdn = -1;
    for (int i = 0; i < WM_DIT_MAX_DEPTH; i++) {
        c->is_softmax[i] = i < depth && !getb(ck, i, "attn.conv_k.weight");
        if (i < depth && !c->is_softmax[i] && first_gdn < 0) first_gdn = i;
    }
    if (first_gdn >= 0) take(getb(ck, first_gdn, "attn.conv_k.weight"), 3, 2, &c->conv_kernel_size);
    return WM_OK;
}

static wm_status infer_heads(const wm_checkpoint *ck, wm_dit_config *c, int old_hidden, wm_error *err)
{
    const wm_ckpt_entry *beta = getb(ck, 0, "attn.beta_proj.weight");
    int heads = 0;
    if (beta && beta->ndim == 2 && beta->shape[0] > 0 && beta->shape[0] <= c->hidden_size) heads = (int)beta->shape[0];
    else if (c->hidden_size == old_hidden && c->num_heads > 0) heads = c->num_heads;
    else heads = c->hidden_size / WM_DIT_RELEASED_HEAD_DIM;
    if (heads <= 0 || c->hidden_size % heads)
        return wm__errf(err, WM_ERR_SHAPE, "%s: cannot derive the head count (hidden %d, %d heads)", wm_checkpoint_path(ck),
                        c->hidden_size, heads);
    c->num_heads = heads;
    return WM_OK;
}

wm_status wm_dit_config_from_checkpoint(const wm_checkpoint *ck, wm_dit_config *cfg, wm_error *err)
{
    const wm_ckpt_entry *x = get(ck, "x_embedder.proj.weight");
    if (!x || x->ndim != 5 || x->shape[0] <= 0 || x->shape[0] > 65536)
        return wm__errf(err, WM_ERR_FORMAT, "%s: cannot infer the DiT size: 'x_embedder.proj.weight' %s",
                        wm_checkpoint_path(ck), x ? "is not a (C, in, 1, 1, 1) tensor" : "is missing");
    wm_dit_config c = *cfg;
    int old_hidden = c.hidden_size;
    c.hidden_size = (int)x->shape[0];
    take(x, 5, 1, &c.in_channels);
    WM_TRY(infer_depth(ck, &c, err));
    WM_TRY(infer_heads(ck, &c, old_hidden, err));
    take(get(ck, "final_layer.linear.weight"), 2, 0, &c.out_channels);
    take(get(ck, "y_embedder.y_proj.fc1.weight"), 2, 1, &c.caption_channels);
    take(get(ck, "y_embedder.y_embedding"), 2, 0, &c.caption_length);
    take(get(ck, "plucker_embedder.proj.weight"), 5, 1, &c.plucker_channels);
    take(get(ck, "t_embedder.mlp.0.weight"), 2, 1, &c.freq_dim);
    take(getb(ck, 0, "mlp.point_conv.conv.weight"), 4, 1, &c.mlp_hidden);
    take(getb(ck, 0, "mlp.t_conv.weight"), 4, 2, &c.t_conv_kernel);
    *cfg = c;
    return WM_OK;
}
