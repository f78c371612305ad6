/* The DiT module tree and `wm inspect`'s inputs.
 *
 * 1. At the released config the tree has 872 keys (22 global, 43 per GDN block, 41 per softmax block)
 *    and its parameter count (buffers excluded) is the spec's 2,661,800,448.
 * 2. A synthetic 872-key checkpoint at small width (hidden 224, 2 heads x 112, 20 blocks, tiny embedder
 *    shapes) written through the safetensors writer: the config inferred from it matches what built it
 *    and the check reports it complete.
 * 3. A mutilated copy (one key deleted, one renamed, one mis-shaped): the report names exactly those.
 * Usage: test_dit_keys [OUTDIR]; with OUTDIR the two files stay there (synthetic.safetensors,
 * mutilated.safetensors) for the `wm inspect` CLI tests that run after this one.
 */
#include "testing.h"
#include "wm/io/dit_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct counter { int n, gdn_like, per_block[WM_DIT_MAX_DEPTH]; double params; } counter;

static void count_key(void *ctx, const wm_dit_key *k)
{
    counter *c = ctx;
    c->n++;
    int b;
    if (sscanf(k->name, "blocks.%d.", &b) == 1 && b >= 0 && b < WM_DIT_MAX_DEPTH) c->per_block[b]++;
    /* Spec §6.4 counts parameters only: skip the buffers (pos_embed, y_embedding, recall_gate). */
    if (k->ndim < 0 || strstr(k->name, "y_embedding") || strstr(k->name, "recall_gate")) return;
    double p = 1;
    for (int d = 0; d < k->ndim; d++) p *= (double)k->shape[d];
    c->params += p;
}

static void test_released_tree(void)
{
    wm_dit_config cfg = wm_dit_config_default();
    counter c = {0};
    int n = wm_dit_expected_keys(&cfg, count_key, &c);
    CHECK_MSG(n == 872 && c.n == 872, "released tree has %d keys", n);
    int blocks = 0;
    for (int i = 0; i < 20; i++) {
        CHECK_MSG(c.per_block[i] == (cfg.is_softmax[i] ? 41 : 43), "block %d has %d keys", i, c.per_block[i]);
        blocks += c.per_block[i];
    }
    CHECK(n - blocks == 22);
    CHECK_MSG(c.params == 2661800448.0, "parameter count %.0f", c.params);
}

/* ---------------------------------------------------------------- synthetic checkpoint */
typedef struct builder { wm_st_item *items; int n, cap; const char *drop, *rename_from, *rename_to, *reshape; } builder;

static void add_item(void *ctx, const wm_dit_key *k)
{
    builder *b = ctx;
    if (b->drop && !strcmp(k->name, b->drop)) return;
    wm_st_item *it = &b->items[b->n++];
    memset(it, 0, sizeof *it);
    const char *name = b->rename_from && !strcmp(k->name, b->rename_from) ? b->rename_to : k->name;
    it->name = strdup(name);
    /* Big matrices in fp8 keep the file small (~20 MB); vectors in f32/bf16 so several dtypes occur. */
    it->ndim = k->ndim < 0 ? 3 : k->ndim;
    if (k->ndim < 0) { it->shape[0] = 1; it->shape[1] = 4; it->shape[2] = 224; }
    else memcpy(it->shape, k->shape, sizeof it->shape);
    it->dtype = it->ndim >= 2 ? WM_F8E4M3 : (b->n % 2 ? WM_F32 : WM_BF16);
    if (b->reshape && !strcmp(k->name, b->reshape)) it->shape[it->ndim - 2] -= 1;
    static uint8_t zeros[4 << 20];
    it->data = zeros;
}

static wm_dit_config small_config(void)
{
    wm_dit_config c = wm_dit_config_default();
    c.hidden_size = 224;
    c.num_heads = 2;
    c.depth = 20;
    c.in_channels = 8;
    c.out_channels = 8;
    c.mlp_hidden = 224;
    c.caption_channels = 16;
    c.caption_length = 4;
    c.plucker_channels = 6;
    c.freq_dim = 16;
    return c;
}

static int write_ckpt(const char *path, const wm_dit_config *cfg, builder *b)
{
    b->items = calloc(1024, sizeof *b->items);
    b->n = 0;
    wm_dit_expected_keys(cfg, add_item, b);
    wm_error err = {0};
    wm_status st = wm_safetensors_write(path, b->items, b->n, NULL, &err);
    CHECK_MSG(st == WM_OK, "write %s: %s", path, err.msg);
    for (int i = 0; i < b->n; i++) free((char *)b->items[i].name);
    free(b->items);
    return st == WM_OK;
}

static void test_synthetic(const char *dir)
{
    char path[600], mpath[600];
    snprintf(path, sizeof path, "%s/synthetic.safetensors", dir);
    snprintf(mpath, sizeof mpath, "%s/mutilated.safetensors", dir);
    wm_dit_config built = small_config();
    builder b = {0};
    if (!write_ckpt(path, &built, &b)) return;
    CHECK(b.n == 872);
    wm_error err = {0};
    wm_checkpoint *ck = NULL;
    CHECK_MSG(wm_checkpoint_open(path, &ck, &err) == WM_OK, "%s", err.msg);
    if (!ck) return;
    CHECK(wm_checkpoint_count(ck) == 872);
    wm_dit_config cfg = wm_dit_config_default();   /* inference must get from 2240 to 224 by itself */
    CHECK_MSG(wm_dit_config_from_checkpoint(ck, &cfg, &err) == WM_OK, "%s", err.msg);
    CHECK(cfg.hidden_size == 224 && cfg.num_heads == 2 && wm_dit_head_dim(&cfg) == 112 && cfg.depth == 20);
    CHECK(cfg.in_channels == 8 && cfg.out_channels == 8 && cfg.mlp_hidden == 224 && cfg.caption_channels == 16);
    CHECK(cfg.caption_length == 4 && cfg.plucker_channels == 6 && cfg.freq_dim == 16);
    CHECK(cfg.conv_kernel_size == 4 && cfg.t_conv_kernel == 3);
    for (int i = 0; i < 20; i++) CHECK_MSG(cfg.is_softmax[i] == ((i + 1) % 4 == 0), "block %d softmax flag", i);
    wm_dit_check_report rep;
    CHECK(wm_dit_check_checkpoint(ck, &cfg, &rep) == WM_OK);
    CHECK_MSG(rep.complete && rep.present == 872 && rep.expected == 872, "complete %d present %d/%d", rep.complete,
              rep.present, rep.expected);
    wm_dit_check_report_free(&rep);
    wm_checkpoint_close(ck);

    builder m = {.drop = "blocks.5.cross_attn.proj.bias", .rename_from = "blocks.7.attn.qkv.weight",
                 .rename_to = "blocks.7.attn.qkv_renamed.weight", .reshape = "blocks.12.mlp.t_conv.weight"};
    if (!write_ckpt(mpath, &built, &m)) return;
    CHECK_MSG(wm_checkpoint_open(mpath, &ck, &err) == WM_OK, "%s", err.msg);
    if (!ck) return;
    cfg = wm_dit_config_default();
    CHECK(wm_dit_config_from_checkpoint(ck, &cfg, &err) == WM_OK && cfg.hidden_size == 224);
    CHECK(wm_dit_check_checkpoint(ck, &cfg, &rep) == WM_OK);
    CHECK(!rep.complete && rep.present == 869);
    CHECK_MSG(rep.n_missing == 2 && !strcmp(rep.missing[0].name, "blocks.5.cross_attn.proj.bias") &&
              !strcmp(rep.missing[1].name, "blocks.7.attn.qkv.weight"), "missing list (%d)", rep.n_missing);
    CHECK(rep.n_unexpected == 1 && !strcmp(rep.unexpected[0].name, "blocks.7.attn.qkv_renamed.weight"));
    CHECK(rep.n_misshaped == 1 && !strcmp(rep.misshaped[0].name, "blocks.12.mlp.t_conv.weight") &&
          rep.misshaped[0].have[2] == 2 && rep.misshaped[0].want[2] == 3);
    wm_dit_check_report_free(&rep);
    wm_checkpoint_close(ck);
}

int main(int argc, char **argv)
{
    test_released_tree();
    char dir[512];
    int keep = argc > 1;
    if (keep) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "/tmp/wm_test_dit_XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    }
    test_synthetic(dir);
    if (!keep) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    }
    TEST_MAIN_END();
}
