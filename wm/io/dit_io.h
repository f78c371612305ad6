/* The DiT's view of checkpoints and config files: the official config.yaml, inference of the config
 * from a checkpoint's names and shapes, and the module tree (every official key with its shape) used to
 * check a checkpoint for missing, unexpected and mis-shaped tensors (spec §2.1, §6.2, §6.3).
 *
 * Typical use: cfg = wm_dit_config_default(); optionally wm_dit_config_from_yaml(); then
 * wm_dit_config_from_checkpoint() (the checkpoint's shapes win over the YAML), then
 * wm_dit_check_checkpoint() before loading weights.
 */
#ifndef WM_IO_DIT_IO_H
#define WM_IO_DIT_IO_H

#include "wm/dit/config.h"
#include "wm/io/checkpoint.h"

/* Read the official config.yaml (model:, vae:, text_encoder: sections) into cfg. Fields the file does
 * not mention keep their value in cfg; unknown keys are ignored (logged at debug). Errors (not a mapping,
 * wrong-typed or out-of-range field) name the file, line and field. */
wm_status wm_dit_config_from_yaml(const char *path, wm_dit_config *cfg, wm_error *err);
wm_status wm_dit_config_from_yaml_mem(const char *text, size_t len, const char *label, wm_dit_config *cfg,
                                      wm_error *err);

/* Infer dimensions from tensor names and shapes: hidden size, depth, heads (rows of attn.beta_proj; if
 * absent, cfg->num_heads when the hidden size is unchanged, else hidden/112), softmax blocks (no
 * attn.conv_k), MLP width, in/out, caption and Plücker channels, caption length, kernel sizes. Keys that
 * are absent leave the cfg value alone (the module-tree check reports them). Needs x_embedder.proj.weight. */
wm_status wm_dit_config_from_checkpoint(const wm_checkpoint *ck, wm_dit_config *cfg, wm_error *err);

/* ---------------------------------------------------------------- module tree */
typedef struct wm_dit_key {
    const char *name;
    int ndim;                    /* -1: any shape (pos_embed) */
    int64_t shape[WM_MAX_DIMS];
    int optional;                /* 1: may be absent (pos_embed, dropped at load) */
} wm_dit_key;

typedef void (*wm_dit_key_fn)(void *ctx, const wm_dit_key *key);
/* Call fn for every official key of a DiT with this config, in module order; returns the count
 * (872 at the released config: 22 global incl. pos_embed, 43 per GDN block, 41 per softmax block). */
int wm_dit_expected_keys(const wm_dit_config *cfg, wm_dit_key_fn fn, void *ctx);

typedef struct wm_dit_check_item {
    char name[160];
    int want_ndim, have_ndim;    /* want_ndim: expected (mis-shaped) ; have_ndim: stored */
    int64_t want[WM_MAX_DIMS], have[WM_MAX_DIMS];
} wm_dit_check_item;

typedef struct wm_dit_check_report {
    int expected;                /* keys in the module tree, optional ones included */
    int present;                 /* expected keys present with the right shape */
    int complete;                /* 1: nothing missing, unexpected or mis-shaped */
    int n_missing, n_unexpected, n_misshaped;
    wm_dit_check_item *missing, *unexpected, *misshaped;   /* sorted by name */
} wm_dit_check_report;

/* Compare ck against the module tree of cfg. Returns WM_OK when the check ran (see rep->complete),
 * WM_ERR_OUT_OF_MEMORY otherwise. Free the lists with wm_dit_check_report_free. */
wm_status wm_dit_check_checkpoint(const wm_checkpoint *ck, const wm_dit_config *cfg, wm_dit_check_report *rep);
void wm_dit_check_report_free(wm_dit_check_report *rep);

#endif
