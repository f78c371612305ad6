/* The official SANA-WM config.yaml (e.g. configs/sana_wm/sana_wm_1600m_720p.yaml) -> wm_dit_config.
 *
 * libyaml's document loader gives a node tree with line numbers; we read a fixed table of
 * (section, key, type) fields into raw values first and only then derive the config, because
 * several fields depend on others (heads = hidden / linear_head_dim, MLP width = mlp_ratio x hidden,
 * hidden and depth come from the model name "..._1600M_P1_D20"). Scalars are typed by their text:
 * a quoted "112" is a string and is rejected where an integer is expected. Unknown keys are logged at
 * debug level and ignored; null / empty values keep the default. Our extension keys hidden_size,
 * depth, num_heads and caption_channels under model: override the derived values.
 */
#include "wm/io/dit_io.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define WM_YAML_MAX_BYTES (4u << 20)

enum { K_INT, K_NUM, K_BOOL, K_STR, K_INTLIST };
enum { F_MODEL, F_HIDDEN, F_DEPTH, F_HEADS, F_HEAD_DIM, F_MLP_RATIO, F_SOFTMAX_N, F_CONV_K, F_T_K, F_CHUNK,
       F_PLUCKER_CH, F_PLUCKER_BLOCKS, F_USE_PLUCKER, F_QK_NORM, F_CROSS_NORM, F_CAM_COMPRESS, F_CAPTION_CH,
       F_LATENT_DIM, F_VAE_STRIDE, F_MAX_LEN, F_TEXT_ENC, NF };

static const struct { const char *section, *key; int kind, field; } k_fields[] = {
    {"model", "model", K_STR, F_MODEL},
    {"model", "hidden_size", K_INT, F_HIDDEN},
    {"model", "depth", K_INT, F_DEPTH},
    {"model", "num_heads", K_INT, F_HEADS},
    {"model", "linear_head_dim", K_INT, F_HEAD_DIM},
    {"model", "mlp_ratio", K_NUM, F_MLP_RATIO},
    {"model", "softmax_every_n", K_INT, F_SOFTMAX_N},
    {"model", "conv_kernel_size", K_INT, F_CONV_K},
    {"model", "t_kernel_size", K_INT, F_T_K},
    {"model", "chunk_size", K_INT, F_CHUNK},
    {"model", "chunk_plucker_channels", K_INT, F_PLUCKER_CH},
    {"model", "chunk_plucker_post_attn_blocks", K_INT, F_PLUCKER_BLOCKS},
    {"model", "use_chunk_plucker_post_attn", K_BOOL, F_USE_PLUCKER},
    {"model", "qk_norm", K_BOOL, F_QK_NORM},
    {"model", "cross_norm", K_BOOL, F_CROSS_NORM},
    {"model", "cam_attn_compress", K_INT, F_CAM_COMPRESS},
    {"model", "caption_channels", K_INT, F_CAPTION_CH},
    {"vae", "vae_latent_dim", K_INT, F_LATENT_DIM},
    {"vae", "vae_stride", K_INTLIST, F_VAE_STRIDE},
    {"text_encoder", "model_max_length", K_INT, F_MAX_LEN},
    {"text_encoder", "text_encoder_name", K_STR, F_TEXT_ENC},
};

typedef struct yval { int set, line; int64_t i; double num; char s[128]; int64_t list[4]; int nlist; } yval;

typedef struct yctx { yaml_document_t *doc; const char *file; wm_error *err; yval v[NF]; } yctx;

static const char *kind_name(int k)
{
    return k == K_INT ? "an integer" : k == K_NUM ? "a number" : k == K_BOOL ? "true or false"
         : k == K_STR ? "a string" : "a list of integers";
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) return -1;
    *out = v;
    return 0;
}

static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Typed read of one scalar (or list) node into v; returns -1 on a type mismatch. */
static int read_value(yctx *y, const yaml_node_t *n, int kind, yval *v)
{
    if (kind == K_INTLIST) {
        if (n->type != YAML_SEQUENCE_NODE) return -1;
        v->nlist = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            const yaml_node_t *e = yaml_document_get_node(y->doc, *it);
            if (!e || e->type != YAML_SCALAR_NODE || e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                v->nlist >= 4 || parse_int((const char *)e->data.scalar.value, &v->list[v->nlist]) != 0)
                return -1;
            v->nlist++;
        }
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE) return -1;
    const char *s = (const char *)n->data.scalar.value;
    int plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (kind == K_STR) { snprintf(v->s, sizeof v->s, "%s", s); return 0; }
    if (!plain) return -1;
    if (kind == K_INT) return parse_int(s, &v->i);
    if (kind == K_NUM) {
        char *end;
        v->num = strtod(s, &end);
        return (*s && !*end && isfinite(v->num)) ? 0 : -1;
    }
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) { v->i = 1; return 0; }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) { v->i = 0; return 0; }
    return -1;
}

static wm_status read_section(yctx *y, const char *section, const yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE)
        return wm__errf(y->err, WM_ERR_FORMAT, "%s:%zu: section '%s' is not a mapping", y->file,
                        map->start_mark.line + 1, section);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(y->doc, p->key), *v = yaml_document_get_node(y->doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) continue;
        const char *key = (const char *)k->data.scalar.value;
        size_t f = 0, nf = sizeof k_fields / sizeof k_fields[0];
        while (f < nf && (strcmp(k_fields[f].section, section) || strcmp(k_fields[f].key, key))) f++;
        if (f == nf) { wm__log(WM_LOG_DEBUG, "%s:%zu: ignoring %s.%s", y->file, k->start_mark.line + 1, section, key); continue; }
        if (is_null(v)) continue;
        yval *out = &y->v[k_fields[f].field];
        if (read_value(y, v, k_fields[f].kind, out) != 0)
            return wm__errf(y->err, WM_ERR_FORMAT, "%s:%zu: field %s.%s: expected %s", y->file, v->start_mark.line + 1,
                            section, key, kind_name(k_fields[f].kind));
        out->set = 1;
        out->line = (int)v->start_mark.line + 1;
    }
    return WM_OK;
}

static wm_status read_root(yctx *y)
{
    const yaml_node_t *root = yaml_document_get_root_node(y->doc);
    if (!root) return wm__errf(y->err, WM_ERR_FORMAT, "%s: empty YAML document", y->file);
    if (root->type != YAML_MAPPING_NODE)
        return wm__errf(y->err, WM_ERR_FORMAT, "%s:%zu: root is a %s, not a mapping", y->file, root->start_mark.line + 1,
                        root->type == YAML_SEQUENCE_NODE ? "sequence" : "scalar");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(y->doc, p->key), *v = yaml_document_get_node(y->doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) continue;
        const char *key = (const char *)k->data.scalar.value;
        if (!strcmp(key, "model") || !strcmp(key, "vae") || !strcmp(key, "text_encoder")) WM_TRY(read_section(y, key, v));
        else wm__log(WM_LOG_DEBUG, "%s: ignoring section '%s'", y->file, key);
    }
    return WM_OK;
}

static wm_status bad(yctx *y, int f, const char *name, const char *why)
{
    return wm__errf(y->err, WM_ERR_FORMAT, "%s:%d: field %s: %s", y->file, y->v[f].line, name, why);
}

/* "SanaMSVideoCamCtrl_1600M_P1_D20": model size tag -> hidden width, _D<n> -> depth. */
static void from_model_name(const char *name, int *hidden, int *depth)
{
    if (strstr(name, "_1600M")) *hidden = 2240;
    else if (strstr(name, "_600M")) *hidden = 1152;
    const char *d = strstr(name, "_D");
    if (d && d[2] >= '0' && d[2] <= '9') {
        long v = strtol(d + 2, NULL, 10);
        *depth = v > 0 && v < 100000 ? (int)v : -1;   /* out of range -> rejected by the caller */
    }
}

static wm_status apply(yctx *y, wm_dit_config *c)
{
    yval *v = y->v;
    int head_dim = wm_dit_head_dim(c), hidden = c->hidden_size, depth = c->depth;
    if (v[F_MODEL].set) from_model_name(v[F_MODEL].s, &hidden, &depth);
    if (v[F_HIDDEN].set) hidden = (int)v[F_HIDDEN].i;
    if (v[F_DEPTH].set) depth = (int)v[F_DEPTH].i;
    if (hidden <= 0 || hidden > 65536) return bad(y, v[F_HIDDEN].set ? F_HIDDEN : F_MODEL, "model.hidden_size", "out of range");
    if (depth <= 0 || depth > WM_DIT_MAX_DEPTH) return bad(y, v[F_DEPTH].set ? F_DEPTH : F_MODEL, "model.depth", "out of range (1..64)");
    if (v[F_HEAD_DIM].set) {
        head_dim = (int)v[F_HEAD_DIM].i;
        if (head_dim <= 0 || hidden % head_dim) return bad(y, F_HEAD_DIM, "model.linear_head_dim", "does not divide the hidden size");
    }
    int heads = v[F_HEADS].set ? (int)v[F_HEADS].i : hidden / (head_dim > 0 ? head_dim : 1);
    if (heads <= 0 || hidden % heads) return bad(y, v[F_HEADS].set ? F_HEADS : F_MODEL, "model.num_heads", "does not divide the hidden size");
    int mlp = c->mlp_hidden * hidden / c->hidden_size;   /* keep the default ratio unless given */
    if (v[F_MLP_RATIO].set) {
        double r = v[F_MLP_RATIO].num;
        if (!(r > 0 && r <= 64)) return bad(y, F_MLP_RATIO, "model.mlp_ratio", "out of range");
        mlp = (int)lround(r * hidden);
    }
    c->hidden_size = hidden;
    c->depth = depth;
    c->num_heads = heads;
    c->mlp_hidden = mlp;
    static const struct { int f; const char *name; size_t off; int lo, hi; } ints[] = {
        {F_CONV_K, "model.conv_kernel_size", offsetof(wm_dit_config, conv_kernel_size), 1, 16},
        {F_T_K, "model.t_kernel_size", offsetof(wm_dit_config, t_conv_kernel), 1, 15},
        {F_CHUNK, "model.chunk_size", offsetof(wm_dit_config, chunk_size), 1, 1024},
        {F_PLUCKER_CH, "model.chunk_plucker_channels", offsetof(wm_dit_config, plucker_channels), 1, 4096},
        {F_CAPTION_CH, "model.caption_channels", offsetof(wm_dit_config, caption_channels), 1, 65536},
        {F_LATENT_DIM, "vae.vae_latent_dim", offsetof(wm_dit_config, in_channels), 1, 4096},
        {F_MAX_LEN, "text_encoder.model_max_length", offsetof(wm_dit_config, caption_length), 1, 65536},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (!v[ints[i].f].set) continue;
        int64_t x = v[ints[i].f].i;
        if (x < ints[i].lo || x > ints[i].hi) return bad(y, ints[i].f, ints[i].name, "out of range");
        *(int *)((char *)c + ints[i].off) = (int)x;
    }
    if (v[F_LATENT_DIM].set) c->out_channels = c->in_channels;   /* pred_sigma false: out = latent channels */
    if (v[F_SOFTMAX_N].set) {
        if (v[F_SOFTMAX_N].i < 0 || v[F_SOFTMAX_N].i > 64) return bad(y, F_SOFTMAX_N, "model.softmax_every_n", "out of range");
        wm_dit_config_set_softmax_every(c, (int)v[F_SOFTMAX_N].i);
    }
    if (v[F_VAE_STRIDE].set) {
        if (v[F_VAE_STRIDE].nlist != 3 || v[F_VAE_STRIDE].list[0] < 1 || v[F_VAE_STRIDE].list[0] > 64)
            return bad(y, F_VAE_STRIDE, "vae.vae_stride", "expected [t, h, w] with 1 <= t <= 64");
        c->vae_stride_t = (int)v[F_VAE_STRIDE].list[0];
    }
    if (v[F_TEXT_ENC].set && strstr(v[F_TEXT_ENC].s, "gemma-2-2b") && !v[F_CAPTION_CH].set) c->caption_channels = 2304;
    if ((v[F_QK_NORM].set && !v[F_QK_NORM].i) || (v[F_CROSS_NORM].set && !v[F_CROSS_NORM].i))
        wm__log(WM_LOG_WARN, "%s: qk_norm/cross_norm false is not what the released model uses; ignored", y->file);
    if (v[F_CAM_COMPRESS].set && v[F_CAM_COMPRESS].i != 1)
        return bad(y, F_CAM_COMPRESS, "model.cam_attn_compress", "only 1 (full-width camera branch) is supported");
    return WM_OK;
}

wm_status wm_dit_config_from_yaml_mem(const char *text, size_t len, const char *label, wm_dit_config *cfg,
                                      wm_error *err)
{
    if (len > WM_YAML_MAX_BYTES) return wm__errf(err, WM_ERR_LIMIT, "%s: larger than %u bytes", label, WM_YAML_MAX_BYTES);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    wm_status st = WM_OK;
    if (!yaml_parser_load(&parser, &doc)) {
        st = wm__errf(err, WM_ERR_FORMAT, "%s:%zu: YAML syntax error: %s", label, parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "unknown");
    } else {
        yctx y;
        memset(&y, 0, sizeof y);
        y.doc = &doc;
        y.file = label;
        y.err = err;
        wm_dit_config tmp = *cfg;
        st = read_root(&y);
        if (st == WM_OK) st = apply(&y, &tmp);
        if (st == WM_OK) *cfg = tmp;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return st;
}

wm_status wm_dit_config_from_yaml(const char *path, wm_dit_config *cfg, wm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return wm__errf(err, WM_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc(WM_YAML_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, WM_YAML_MAX_BYTES + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    wm_status st;
    if (!buf) st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    else if (rerr) st = wm__errf(err, WM_ERR_IO, "%s: read error", path);
    else st = wm_dit_config_from_yaml_mem(buf, n, path, cfg, err);
    free(buf);
    return st;
}
