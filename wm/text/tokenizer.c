/* wm_tokenizer: loading (file choice, piece storage, added tokens) and accessors.
 *
 * A checkpoint directory normally ships both tokenizer.json and tokenizer.model; tokenizer.json wins
 * because it is what Sana's AutoTokenizer reads. The loaders fill pieces through wm__tok_set_piece(),
 * which keeps all piece text in one growing arena (the real vocabulary is ~3 MB of text) and indexes it
 * by id; wm__tok_finish() then builds the lookup structures the encoder needs.
 */
#include "wm/text/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

wm_status wm__tok_alloc_ids(wm_tokenizer *t, int32_t n_ids, wm_error *err)
{
    if (n_ids <= 0 || n_ids > (1 << 24))
        return wm__errf(err, WM_ERR_FORMAT, "%s: vocabulary size %d out of range", t->source, (int)n_ids);
    t->n_ids = n_ids;
    t->piece_off = calloc((size_t)n_ids, sizeof(int64_t));
    t->piece_len = malloc((size_t)n_ids * sizeof(int32_t));
    t->score = calloc((size_t)n_ids, sizeof(float));
    t->mergeable = calloc((size_t)n_ids, 1);
    if (!t->piece_off || !t->piece_len || !t->score || !t->mergeable)
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory for %d pieces", t->source, (int)n_ids);
    for (int32_t i = 0; i < n_ids; i++) t->piece_len[i] = -1;
    if (wm__tok_strmap_init(&t->vocab, (uint32_t)n_ids) != WM_OK)
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", t->source);
    return WM_OK;
}

wm_status wm__tok_set_piece(wm_tokenizer *t, int32_t id, const char *s, size_t len, wm_error *err)
{
    if (id < 0 || id >= t->n_ids)
        return wm__errf(err, WM_ERR_FORMAT, "%s: token id %d out of range [0, %d)", t->source, (int)id,
                        (int)t->n_ids);
    if (len > 65536) return wm__errf(err, WM_ERR_FORMAT, "%s: token %d is %zu bytes long", t->source, (int)id, len);
    if (t->piece_len[id] >= 0) {
        if ((size_t)t->piece_len[id] == len && !memcmp(t->arena + t->piece_off[id], s, len)) return WM_OK;
        return wm__errf(err, WM_ERR_FORMAT, "%s: id %d names two different tokens", t->source, (int)id);
    }
    if (t->arena_len + len + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap * 2 : 1 << 16;
        while (cap < t->arena_len + len + 1) cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", t->source);
        t->arena = a;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, s, len);
    t->arena[t->arena_len + len] = 0;
    t->piece_off[id] = (int64_t)t->arena_len;
    t->piece_len[id] = (int32_t)len;
    t->arena_len += len + 1;
    wm__tok_strmap_put(t, &t->vocab, id);
    return WM_OK;
}

wm_status wm__tok_add_token(wm_tokenizer *t, int32_t id, const char *s, size_t len, int special, int normalized,
                            int lstrip, int rstrip, int single_word, wm_error *err)
{
    if (len == 0) return wm__errf(err, WM_ERR_FORMAT, "%s: added token %d is empty", t->source, (int)id);
    WM_TRY(wm__tok_set_piece(t, id, s, len, err));
    tok_added *a = realloc(t->added, sizeof(tok_added) * (size_t)(t->n_added + 1));
    if (!a) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", t->source);
    t->added = a;
    a[t->n_added++] = (tok_added){.id = id, .off = (int32_t)t->piece_off[id], .len = (int32_t)len,
                                  .first = (uint8_t)s[0],
                                  .special = (uint8_t)special, .normalized = (uint8_t)normalized,
                                  .lstrip = (uint8_t)lstrip, .rstrip = (uint8_t)rstrip,
                                  .single_word = (uint8_t)single_word};
    return WM_OK;
}

static int cmp_added(const void *pa, const void *pb)
{
    const tok_added *a = pa, *b = pb;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

const char *wm__tok_piece_ptr(const wm_tokenizer *t, int32_t id)
{
    return t->arena + t->piece_off[id];
}

wm_status wm__tok_finish(wm_tokenizer *t, wm_error *err)
{
    /* Sorting by (first byte, length desc) gives leftmost-longest matching a short candidate list. */
    if (t->n_added > 1) qsort(t->added, (size_t)t->n_added, sizeof(tok_added), cmp_added);
    int32_t k = 0;
    for (int b = 0; b < 256; b++) {
        t->added_first[b] = k;
        while (k < t->n_added && t->added[k].first == b) k++;
    }
    t->added_first[256] = k;
    char name[8];
    for (int b = 0; b < 256; b++) {
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = wm__tok_strmap_get(t, &t->vocab, name, 6);
    }
    (void)err;
    return WM_OK;
}

static void tok_free_fields(wm_tokenizer *t)
{
    free(t->arena);
    free(t->piece_off);
    free(t->piece_len);
    free(t->score);
    free(t->mergeable);
    free(t->added);
    wm__tok_strmap_free(&t->vocab);
    wm__tok_pairmap_free(&t->merges);
    for (int i = 0; i < t->n_norm; i++) { free(t->norm[i].pattern); free(t->norm[i].content); }
    for (int i = 0; i < t->n_split; i++) free(t->split[i].pattern);
}

void wm_tokenizer_free(wm_tokenizer *t)
{
    if (!t) return;
    tok_free_fields(t);
    free(t);
}

/* Resolve path to (file, kind): kind 1 = tokenizer.json, 2 = tokenizer.model. */
static wm_status pick_file(const char *path, char *file, size_t cap, int *kind, wm_error *err)
{
    if (is_dir(path)) {
        const char *names[2] = {"tokenizer.json", "tokenizer.model"};
        for (int i = 0; i < 2; i++) {
            /* checkpoints put the tokenizer either at the top or in a tokenizer/ subfolder */
            const char *fmt[2] = {"%s/%s", "%s/tokenizer/%s"};
            for (int j = 0; j < 2; j++) {
                snprintf(file, cap, fmt[j], path, names[i]);
                if (is_file(file)) { *kind = i + 1; return WM_OK; }
            }
        }
        return wm__errf(err, WM_ERR_NOT_FOUND, "%s: no tokenizer.json or tokenizer.model (also looked in %s/tokenizer/)",
                        path, path);
    }
    if (!is_file(path)) return wm__errf(err, WM_ERR_NOT_FOUND, "%s: tokenizer file not found", path);
    snprintf(file, cap, "%s", path);
    *kind = ends_with(path, ".json") ? 1 : 2;
    return WM_OK;
}

wm_status wm_tokenizer_load(const char *path, wm_tokenizer **out, wm_error *err)
{
    *out = NULL;
    if (!path) return wm__errf(err, WM_ERR_INVALID_ARG, "tokenizer path is NULL");
    wm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    int kind = 0;
    wm_status st = pick_file(path, t->source, sizeof t->source, &kind, err);
    if (st == WM_OK) {
        t->unk_id = t->bos_id = t->eos_id = t->pad_id = -1;
        st = kind == 1 ? wm__tok_load_json(t, t->source, err) : wm__tok_load_spm(t, t->source, err);
    }
    if (st == WM_OK) st = wm__tok_finish(t, err);
    if (st != WM_OK) { wm_tokenizer_free(t); return st; }
    *out = t;
    return WM_OK;
}

int wm_tokenizer_vocab_size(const wm_tokenizer *t) { return t->n_ids; }
int32_t wm_tokenizer_bos(const wm_tokenizer *t) { return t->bos_id; }
int32_t wm_tokenizer_pad(const wm_tokenizer *t) { return t->pad_id; }
const char *wm_tokenizer_source(const wm_tokenizer *t) { return t->source; }

int32_t wm_tokenizer_find(const wm_tokenizer *t, const char *piece)
{
    return wm__tok_strmap_get(t, &t->vocab, piece, strlen(piece));
}

const char *wm_tokenizer_piece(const wm_tokenizer *t, int32_t id, int *len)
{
    if (id < 0 || id >= t->n_ids || t->piece_len[id] < 0) return NULL;
    if (len) *len = t->piece_len[id];
    return t->arena + t->piece_off[id];
}
