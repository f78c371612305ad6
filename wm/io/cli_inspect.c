/* `wm inspect PATH [--config config.yaml] [--json] [--quiet]`: what is in a checkpoint, and is it a
 * complete SANA-WM DiT?
 *
 * Lists every tensor (name, dtype, shape), shows the config (defaults, then config.yaml if given, then
 * what the checkpoint's shapes say), and checks the checkpoint against the module tree of that config,
 * naming missing, unexpected and mis-shaped keys. Exit 0 when complete, 1 when not (or not a DiT),
 * 2 when the input cannot be read or the arguments are wrong.
 */
#include "wm/cli/cli.h"
#include "wm/io/dit_io.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: wm inspect PATH [--config config.yaml] [--json] [--quiet]\n"
               "  PATH       .safetensors, *.safetensors.index.json, model.pt, or a directory holding one\n"
               "  --config   official config.yaml to read before inferring from the checkpoint\n"
               "  --json     machine-readable output on stdout\n"
               "  --quiet    do not list every tensor\n"
               "exit status: 0 complete DiT checkpoint, 1 incomplete / not a DiT, 2 unreadable input\n");
}

static void shape_str(int ndim, const int64_t *s, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && o < len; i++) o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)s[i]);
    if (o < len) snprintf(buf + o, len - o, ndim == 1 ? ",)" : ")");
}

static json_t *shape_json(int ndim, const int64_t *s)
{
    json_t *a = json_array();
    for (int i = 0; i < ndim; i++) json_array_append_new(a, json_integer(s[i]));
    return a;
}

static void softmax_list(const wm_dit_config *c, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < c->depth && o < len; i++)
        if (c->is_softmax[i]) o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? "," : "", i);
}

static json_t *config_json(const wm_dit_config *c)
{
    char sm[256];
    softmax_list(c, sm, sizeof sm);
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s}", "hidden_size", c->hidden_size,
                     "depth", c->depth, "num_heads", c->num_heads, "head_dim", wm_dit_head_dim(c), "mlp_hidden",
                     c->mlp_hidden, "in_channels", c->in_channels, "out_channels", c->out_channels, "caption_channels",
                     c->caption_channels, "caption_length", c->caption_length, "plucker_channels", c->plucker_channels,
                     "conv_kernel_size", c->conv_kernel_size, "t_conv_kernel", c->t_conv_kernel, "freq_dim",
                     c->freq_dim, "softmax_blocks", sm);
}

static json_t *items_json(const wm_dit_check_item *it, int n, int with_want, int with_have)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s}", "name", it[i].name);
        if (with_want) json_object_set_new(o, "expected", shape_json(it[i].want_ndim, it[i].want));
        if (with_have) json_object_set_new(o, "actual", shape_json(it[i].have_ndim, it[i].have));
        json_array_append_new(a, o);
    }
    return a;
}

static void print_json(const wm_checkpoint *ck, const wm_dit_config *c, const wm_dit_check_report *r, const char *note)
{
    json_t *tensors = json_array();
    for (int i = 0; i < wm_checkpoint_count(ck); i++) {
        const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
        json_array_append_new(tensors, json_pack("{s:s,s:s,s:o}", "name", e->name, "dtype", wm_dtype_name(e->dtype),
                                                 "shape", shape_json(e->ndim, e->shape)));
    }
    json_t *check = json_pack("{s:b,s:i,s:i,s:o,s:o,s:o}", "complete", r->complete, "expected", r->expected, "present",
                              r->present, "missing", items_json(r->missing, r->n_missing, 1, 0), "unexpected",
                              items_json(r->unexpected, r->n_unexpected, 0, 1), "misshaped",
                              items_json(r->misshaped, r->n_misshaped, 1, 1));
    if (note) json_object_set_new(check, "error", json_string(note));
    json_t *root = json_pack("{s:s,s:i,s:o,s:o,s:o}", "path", wm_checkpoint_path(ck), "count", wm_checkpoint_count(ck),
                             "tensors", tensors, "config", config_json(c), "check", check);
    json_dumpf(root, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(root);
}

/* Lists are capped in text mode (a non-DiT file would list ~870 missing keys); --json has them all. */
#define WM_INSPECT_MAX_LIST 40

static int capped(int i, int n, const char *what)
{
    if (i < WM_INSPECT_MAX_LIST) return 0;
    if (i == WM_INSPECT_MAX_LIST) printf("  ... and %d more %s (--json lists all)\n", n - i, what);
    return 1;
}

static void print_text(const wm_checkpoint *ck, const wm_dit_config *c, const wm_dit_check_report *r, int quiet)
{
    char sh[128], sh2[128], sm[256];
    printf("checkpoint: %s (%d tensors)\n", wm_checkpoint_path(ck), wm_checkpoint_count(ck));
    for (int i = 0; !quiet && i < wm_checkpoint_count(ck); i++) {
        const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
        shape_str(e->ndim, e->shape, sh, sizeof sh);
        printf("  %-52s %-7s %s\n", e->name, wm_dtype_name(e->dtype), sh);
    }
    softmax_list(c, sm, sizeof sm);
    printf("config: hidden %d, depth %d, heads %d x %d, mlp %d, in %d, out %d, caption %d x %d, plucker %d, "
           "conv_k %d, t_conv %d, freq %d, softmax blocks [%s]\n", c->hidden_size, c->depth, c->num_heads,
           wm_dit_head_dim(c), c->mlp_hidden, c->in_channels, c->out_channels, c->caption_length, c->caption_channels,
           c->plucker_channels, c->conv_kernel_size, c->t_conv_kernel, c->freq_dim, sm);
    if (r->complete) {
        printf("module tree: complete: %d/%d keys%s\n", r->present, r->expected,
               r->present < r->expected ? " (optional pos_embed absent)" : "");
        return;
    }
    printf("module tree: INCOMPLETE: %d/%d keys present; %d missing, %d unexpected, %d mis-shaped\n", r->present,
           r->expected, r->n_missing, r->n_unexpected, r->n_misshaped);
    for (int i = 0; i < r->n_missing && !capped(i, r->n_missing, "missing"); i++) {
        shape_str(r->missing[i].want_ndim, r->missing[i].want, sh, sizeof sh);
        printf("  missing: %s %s\n", r->missing[i].name, sh);
    }
    for (int i = 0; i < r->n_unexpected && !capped(i, r->n_unexpected, "unexpected"); i++) {
        shape_str(r->unexpected[i].have_ndim, r->unexpected[i].have, sh, sizeof sh);
        printf("  unexpected: %s %s\n", r->unexpected[i].name, sh);
    }
    for (int i = 0; i < r->n_misshaped && !capped(i, r->n_misshaped, "mis-shaped"); i++) {
        shape_str(r->misshaped[i].have_ndim, r->misshaped[i].have, sh, sizeof sh);
        shape_str(r->misshaped[i].want_ndim, r->misshaped[i].want, sh2, sizeof sh2);
        printf("  mis-shaped: %s %s, expected %s\n", r->misshaped[i].name, sh, sh2);
    }
}

/* The checkpoint's shapes win over config.yaml; say so when they disagree. */
static void report_overrides(const char *yaml, const wm_dit_config *y, const wm_dit_config *c)
{
    const struct { const char *name; int a, b; } f[] = {
        {"hidden_size", y->hidden_size, c->hidden_size}, {"depth", y->depth, c->depth},
        {"num_heads", y->num_heads, c->num_heads}, {"mlp_hidden", y->mlp_hidden, c->mlp_hidden},
        {"in_channels", y->in_channels, c->in_channels}, {"caption_channels", y->caption_channels, c->caption_channels},
        {"caption_length", y->caption_length, c->caption_length}, {"plucker_channels", y->plucker_channels, c->plucker_channels},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].a != f[i].b)
            fprintf(stderr, "wm inspect: note: %s gives %s %d, the checkpoint has %d (using the checkpoint)\n", yaml,
                    f[i].name, f[i].a, f[i].b);
    int differ = 0;
    for (int i = 0; i < c->depth && i < WM_DIT_MAX_DEPTH; i++) differ |= !y->is_softmax[i] != !c->is_softmax[i];
    if (differ)
        fprintf(stderr, "wm inspect: note: %s and the checkpoint disagree on which blocks are softmax\n", yaml);
}

int wm_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL, *yaml = NULL;
    int json = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) yaml = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { fprintf(stderr, "wm inspect: unexpected argument '%s'\n", argv[i]); usage(stderr); return 2; }
    }
    if (!path) { usage(stderr); return 2; }
    wm_error err = {0};
    wm_dit_config cfg = wm_dit_config_default();
    if (yaml && wm_dit_config_from_yaml(yaml, &cfg, &err) != WM_OK) { fprintf(stderr, "wm inspect: %s\n", err.msg); return 2; }
    wm_checkpoint *ck = NULL;
    if (wm_checkpoint_open(path, &ck, &err) != WM_OK) { fprintf(stderr, "wm inspect: %s\n", err.msg); return 2; }
    const char *note = NULL;
    wm_dit_config from_yaml = cfg;
    if (wm_dit_config_from_checkpoint(ck, &cfg, &err) == WM_OK) {
        if (yaml) report_overrides(yaml, &from_yaml, &cfg);
    } else {
        note = err.msg;
        fprintf(stderr, "wm inspect: %s (checking against the %s config)\n", err.msg, yaml ? "given" : "default");
    }
    wm_dit_check_report rep;
    if (wm_dit_check_checkpoint(ck, &cfg, &rep) != WM_OK) {
        fprintf(stderr, "wm inspect: out of memory\n");
        wm_checkpoint_close(ck);
        return 2;
    }
    if (json) print_json(ck, &cfg, &rep, note);
    else print_text(ck, &cfg, &rep, quiet);
    int rc = rep.complete && !note ? 0 : 1;
    wm_dit_check_report_free(&rep);
    wm_checkpoint_close(ck);
    return rc;
}
