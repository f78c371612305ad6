/* tokenizer.json (HF `tokenizers` format) -> wm_tokenizer.
 *
 * Reads exactly the components Gemma's file uses and refuses the rest by name, so a checkpoint with a
 * different tokenizer fails at load with "unsupported normalizer 'NFKC'" instead of silently producing
 * other ids: model BPE (vocab, merges as "a b" strings or [a, b] pairs, byte_fallback, fuse_unk,
 * ignore_merges, unk_token), added_tokens with their flags, normalizer Replace(String) / Prepend /
 * Sequence, pre_tokenizer Split(String) / Sequence, post_processor TemplateProcessing (single). When the
 * file has no post_processor, tokenizer_config.json next to it decides (add_bos_token, default true, as
 * GemmaTokenizerFast rebuilds its template from it).
 */
#include "wm/text/tok_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JERR(code, ...) wm__errf(err, code, __VA_ARGS__)

static int jbool(json_t *o, const char *key, int def)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static wm_status dup_bytes(const char *s, size_t len, char **out, wm_error *err)
{
    *out = malloc(len + 1);
    if (!*out) return JERR(WM_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(*out, s, len);
    (*out)[len] = 0;
    return WM_OK;
}

/* {"String": s} -> s; {"Regex": ...} is refused. */
static wm_status string_pattern(wm_tokenizer *t, json_t *node, const char *what, const char **s, size_t *len,
                                wm_error *err)
{
    json_t *p = json_object_get(node, "pattern"), *str = json_object_get(p, "String");
    if (!json_is_string(str))
        return JERR(WM_ERR_UNSUPPORTED, "%s: %s: only a String pattern is supported (regex patterns are not)",
                    t->source, what);
    *s = json_string_value(str);
    *len = json_string_length(str);
    return WM_OK;
}

static wm_status parse_normalizer(wm_tokenizer *t, json_t *n, wm_error *err)
{
    if (!n || json_is_null(n)) return WM_OK;
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type) return JERR(WM_ERR_FORMAT, "%s: normalizer without a type", t->source);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "normalizers"), *it;
        size_t i;
        if (!json_is_array(arr)) return JERR(WM_ERR_FORMAT, "%s: normalizer Sequence without a list", t->source);
        json_array_foreach(arr, i, it) WM_TRY(parse_normalizer(t, it, err));
        return WM_OK;
    }
    if (t->n_norm >= TOK_MAX_NORM) return JERR(WM_ERR_UNSUPPORTED, "%s: too many normalizer steps", t->source);
    tok_norm *s = &t->norm[t->n_norm];
    if (!strcmp(type, "Replace")) {
        const char *p = NULL; /* set by string_pattern on success (gcc -O2 cannot see it) */
        size_t plen = 0;
        WM_TRY(string_pattern(t, n, "normalizer Replace", &p, &plen, err));
        json_t *c = json_object_get(n, "content");
        if (!json_is_string(c) || plen == 0)
            return JERR(WM_ERR_FORMAT, "%s: normalizer Replace needs a non-empty pattern and a content", t->source);
        s->kind = TOK_NORM_REPLACE;
        s->pattern_len = plen;
        s->content_len = json_string_length(c);
        t->n_norm++;
        WM_TRY(dup_bytes(p, plen, &s->pattern, err));
        return dup_bytes(json_string_value(c), s->content_len, &s->content, err);
    }
    if (!strcmp(type, "Prepend")) {
        json_t *c = json_object_get(n, "prepend");
        if (!json_is_string(c)) return JERR(WM_ERR_FORMAT, "%s: normalizer Prepend without 'prepend'", t->source);
        s->kind = TOK_NORM_PREPEND;
        s->content_len = json_string_length(c);
        t->n_norm++;
        return dup_bytes(json_string_value(c), s->content_len, &s->content, err);
    }
    return JERR(WM_ERR_UNSUPPORTED, "%s: unsupported normalizer '%s' (supported: Replace, Prepend, Sequence)",
                t->source, type);
}

static wm_status parse_behavior(wm_tokenizer *t, const char *b, tok_split_behavior *out, wm_error *err)
{
    static const struct { const char *name; tok_split_behavior v; } k[] = {
        {"Removed", TOK_SPLIT_REMOVED}, {"Isolated", TOK_SPLIT_ISOLATED},
        {"MergedWithPrevious", TOK_SPLIT_MERGED_PREV}, {"MergedWithNext", TOK_SPLIT_MERGED_NEXT},
        {"Contiguous", TOK_SPLIT_CONTIGUOUS}};
    for (size_t i = 0; b && i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(b, k[i].name)) { *out = k[i].v; return WM_OK; }
    return JERR(WM_ERR_UNSUPPORTED, "%s: unsupported Split behavior '%s'", t->source, b ? b : "(none)");
}

static wm_status parse_pretokenizer(wm_tokenizer *t, json_t *n, wm_error *err)
{
    if (!n || json_is_null(n)) return WM_OK;
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type) return JERR(WM_ERR_FORMAT, "%s: pre_tokenizer without a type", t->source);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "pretokenizers"), *it;
        size_t i;
        if (!json_is_array(arr)) return JERR(WM_ERR_FORMAT, "%s: pre_tokenizer Sequence without a list", t->source);
        json_array_foreach(arr, i, it) WM_TRY(parse_pretokenizer(t, it, err));
        return WM_OK;
    }
    if (strcmp(type, "Split"))
        return JERR(WM_ERR_UNSUPPORTED, "%s: unsupported pre_tokenizer '%s' (supported: Split, Sequence)", t->source,
                    type);
    if (t->n_split >= TOK_MAX_SPLIT) return JERR(WM_ERR_UNSUPPORTED, "%s: too many pre_tokenizer steps", t->source);
    if (jbool(n, "invert", 0)) return JERR(WM_ERR_UNSUPPORTED, "%s: inverted Split is not supported", t->source);
    const char *p = NULL; /* set by string_pattern on success (gcc -O2 cannot see it) */
    size_t plen = 0;
    WM_TRY(string_pattern(t, n, "pre_tokenizer Split", &p, &plen, err));
    tok_split *s = &t->split[t->n_split];
    WM_TRY(parse_behavior(t, json_string_value(json_object_get(n, "behavior")), &s->behavior, err));
    s->pattern_len = plen;
    t->n_split++;
    return dup_bytes(p, plen, &s->pattern, err);
}

static wm_status parse_vocab(wm_tokenizer *t, json_t *model, json_t *added, wm_error *err)
{
    json_t *vocab = json_object_get(model, "vocab"), *v, *it;
    const char *key;
    size_t i;
    if (!json_is_object(vocab)) return JERR(WM_ERR_FORMAT, "%s: model.vocab missing or not an object", t->source);
    json_int_t max_id = -1;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return JERR(WM_ERR_FORMAT, "%s: model.vocab['%.64s'] is not a token id", t->source, key);
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    json_array_foreach(added, i, it) {
        json_t *id = json_object_get(it, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0)
            return JERR(WM_ERR_FORMAT, "%s: added_tokens[%zu].id is not a token id", t->source, i);
        if (json_integer_value(id) > max_id) max_id = json_integer_value(id);
    }
    if (max_id >= (1 << 24)) return JERR(WM_ERR_FORMAT, "%s: token id %lld too large", t->source, (long long)max_id);
    WM_TRY(wm__tok_alloc_ids(t, (int32_t)max_id + 1, err));
    /* json_object_foreach gives no length for keys with NUL bytes; the _n variant does */
    void *iter = json_object_iter(vocab);
    while (iter) {
        size_t klen = json_object_iter_key_len(iter);
        WM_TRY(wm__tok_set_piece(t, (int32_t)json_integer_value(json_object_iter_value(iter)),
                                 json_object_iter_key(iter), klen, err));
        iter = json_object_iter_next(vocab, iter);
    }
    json_array_foreach(added, i, it) {
        json_t *c = json_object_get(it, "content");
        if (!json_is_string(c)) return JERR(WM_ERR_FORMAT, "%s: added_tokens[%zu].content missing", t->source, i);
        WM_TRY(wm__tok_add_token(t, (int32_t)json_integer_value(json_object_get(it, "id")), json_string_value(c),
                                 json_string_length(c), jbool(it, "special", 0), jbool(it, "normalized", 0),
                                 jbool(it, "lstrip", 0), jbool(it, "rstrip", 0), jbool(it, "single_word", 0), err));
    }
    return WM_OK;
}

static wm_status merge_parts(wm_tokenizer *t, json_t *m, size_t i, const char **a, size_t *alen, const char **b,
                             size_t *blen, wm_error *err)
{
    if (json_is_string(m)) { /* "a b": tokenizers requires exactly one space */
        const char *s = json_string_value(m), *sp = memchr(s, ' ', json_string_length(m));
        if (!sp || memchr(sp + 1, ' ', json_string_length(m) - (size_t)(sp + 1 - s)))
            return JERR(WM_ERR_FORMAT, "%s: model.merges[%zu] is not two tokens separated by one space", t->source, i);
        *a = s; *alen = (size_t)(sp - s); *b = sp + 1; *blen = json_string_length(m) - *alen - 1;
        return WM_OK;
    }
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0)); *alen = json_string_length(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1)); *blen = json_string_length(json_array_get(m, 1));
        return WM_OK;
    }
    return JERR(WM_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [a, b]", t->source, i);
}

static wm_status parse_merges(wm_tokenizer *t, json_t *model, wm_error *err)
{
    json_t *merges = json_object_get(model, "merges"), *m;
    size_t i;
    if (!json_is_array(merges)) return JERR(WM_ERR_FORMAT, "%s: model.merges missing or not a list", t->source);
    if (wm__tok_pairmap_init(&t->merges, (uint32_t)json_array_size(merges)) != WM_OK)
        return JERR(WM_ERR_OUT_OF_MEMORY, "%s: out of memory for merges", t->source);
    char *buf = NULL;
    size_t cap = 0;
    wm_status st = WM_OK;
    json_array_foreach(merges, i, m) {
        const char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        if ((st = merge_parts(t, m, i, &a, &al, &b, &bl, err)) != WM_OK) break;
        int32_t ia = wm__tok_strmap_get(t, &t->vocab, a, al), ib = wm__tok_strmap_get(t, &t->vocab, b, bl);
        if (al + bl > cap) { cap = 2 * (al + bl); free(buf); buf = malloc(cap); }
        if (!buf) { st = JERR(WM_ERR_OUT_OF_MEMORY, "out of memory"); break; }
        memcpy(buf, a, al);
        memcpy(buf + al, b, bl);
        int32_t im = wm__tok_strmap_get(t, &t->vocab, buf, al + bl);
        if (ia < 0 || ib < 0 || im < 0) {
            st = JERR(WM_ERR_FORMAT, "%s: model.merges[%zu]: a token or its merge is not in the vocabulary", t->source, i);
            break;
        }
        wm__tok_pairmap_put(&t->merges, ia, ib, (int32_t)i, im);
    }
    free(buf);
    return st;
}

static wm_status parse_model(wm_tokenizer *t, json_t *model, wm_error *err)
{
    json_t *d = json_object_get(model, "dropout");
    if (d && !json_is_null(d) && json_number_value(d) != 0.0)
        return JERR(WM_ERR_UNSUPPORTED, "%s: BPE dropout is not supported", t->source);
    const char *opt[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(model, opt[k]);
        if (v && !json_is_null(v) && json_string_length(v) > 0)
            return JERR(WM_ERR_UNSUPPORTED, "%s: model.%s is not supported", t->source, opt[k]);
    }
    t->rank_mode = TOK_RANK_MERGES;
    t->byte_fallback = jbool(model, "byte_fallback", 0);
    t->fuse_unk = jbool(model, "fuse_unk", 0);
    t->ignore_merges = jbool(model, "ignore_merges", 0);
    json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) {
        t->unk_id = wm__tok_strmap_get(t, &t->vocab, json_string_value(unk), json_string_length(unk));
        if (t->unk_id < 0) return JERR(WM_ERR_FORMAT, "%s: model.unk_token is not in the vocabulary", t->source);
    }
    return parse_merges(t, model, err);
}

/* TemplateProcessing "single": special ids before $A go to prefix, after it to suffix. */
static wm_status parse_post(wm_tokenizer *t, json_t *pp, wm_error *err)
{
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (!type || strcmp(type, "TemplateProcessing"))
        return JERR(WM_ERR_UNSUPPORTED, "%s: unsupported post_processor '%s' (only TemplateProcessing)", t->source,
                    type ? type : "(none)");
    json_t *single = json_object_get(pp, "single"), *specials = json_object_get(pp, "special_tokens"), *it;
    size_t i;
    int after = 0;
    if (!json_is_array(single)) return JERR(WM_ERR_FORMAT, "%s: post_processor.single missing", t->source);
    json_array_foreach(single, i, it) {
        json_t *sp = json_object_get(it, "SpecialToken");
        if (!sp) { after = 1; continue; }
        const char *name = json_string_value(json_object_get(sp, "id"));
        json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids"), *idv;
        size_t j;
        if (!json_is_array(ids))
            return JERR(WM_ERR_FORMAT, "%s: post_processor special token '%s' has no ids", t->source, name ? name : "");
        json_array_foreach(ids, j, idv) {
            int32_t id = (int32_t)json_integer_value(idv);
            int *n = after ? &t->n_suffix : &t->n_prefix;
            if (!json_is_integer(idv) || id < 0 || id >= t->n_ids || *n >= TOK_MAX_TEMPLATE)
                return JERR(WM_ERR_FORMAT, "%s: post_processor special token '%s': bad id", t->source, name);
            (after ? t->suffix : t->prefix)[(*n)++] = id;
        }
    }
    return WM_OK;
}

/* No post_processor in tokenizer.json: GemmaTokenizerFast builds "<bos> $A" from tokenizer_config.json
 * (add_bos_token default true, add_eos_token default false). */
static void post_from_config(wm_tokenizer *t)
{
    char path[1100];
    snprintf(path, sizeof path, "%s", t->source);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "tokenizer_config.json");
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    int add_bos = jbool(cfg, "add_bos_token", 1), add_eos = jbool(cfg, "add_eos_token", 0);
    if (add_bos && t->bos_id >= 0) t->prefix[t->n_prefix++] = t->bos_id;
    if (add_eos && t->eos_id >= 0) t->suffix[t->n_suffix++] = t->eos_id;
    json_decref(cfg);
}

static void special_ids(wm_tokenizer *t)
{
    t->bos_id = wm__tok_strmap_get(t, &t->vocab, "<bos>", 5);
    t->eos_id = wm__tok_strmap_get(t, &t->vocab, "<eos>", 5);
    t->pad_id = wm__tok_strmap_get(t, &t->vocab, "<pad>", 5);
}

/* The whole file in memory: json_loadb on a buffer is faster than json_load_file's getc loop, and the
 * size is bounded (the real file is 34 MB). */
static wm_status parse_file(const char *path, json_t **root, wm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return JERR(WM_ERR_IO, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size <= 0 || size > (512L << 20)) { fclose(f); return JERR(WM_ERR_FORMAT, "%s: size %ld out of range", path, size); }
    char *buf = malloc((size_t)size);
    size_t got = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    if (got != (size_t)size) { free(buf); return JERR(buf ? WM_ERR_IO : WM_ERR_OUT_OF_MEMORY, "%s: read failed", path); }
    json_error_t je;
    *root = json_loadb(buf, (size_t)size, JSON_ALLOW_NUL, &je);
    free(buf);
    if (!*root) return JERR(WM_ERR_FORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    return WM_OK;
}

wm_status wm__tok_load_json(wm_tokenizer *t, const char *path, wm_error *err)
{
    json_t *root = NULL;
    WM_TRY(parse_file(path, &root, err));
    wm_status st = WM_OK;
    json_t *model = json_object_get(root, "model"), *added = json_object_get(root, "added_tokens");
    if (!json_is_object(model)) st = JERR(WM_ERR_FORMAT, "%s: no 'model' object", path);
    if (st == WM_OK && added && !json_is_array(added)) st = JERR(WM_ERR_FORMAT, "%s: added_tokens is not a list", path);
    const char *type = json_string_value(json_object_get(model, "type"));
    if (st == WM_OK && type && strcmp(type, "BPE"))
        st = JERR(WM_ERR_UNSUPPORTED, "%s: model type '%s' is not supported (only BPE)", path, type);
    if (st == WM_OK) st = parse_vocab(t, model, added, err);
    if (st == WM_OK) st = parse_model(t, model, err);
    if (st == WM_OK) st = parse_normalizer(t, json_object_get(root, "normalizer"), err);
    if (st == WM_OK) st = parse_pretokenizer(t, json_object_get(root, "pre_tokenizer"), err);
    if (st == WM_OK) {
        special_ids(t);
        json_t *pp = json_object_get(root, "post_processor");
        if (pp && !json_is_null(pp)) st = parse_post(t, pp, err);
        else post_from_config(t);
    }
    json_decref(root);
    return st;
}
