/* tokenizer.model (SentencePiece ModelProto) -> wm_tokenizer, with a minimal protobuf reader.
 *
 * Only what a BPE model needs is read: pieces (text, score, type), trainer_spec (model_type,
 * byte_fallback, unk/bos/eos/pad ids) and normalizer_spec (name, precompiled_charsmap, add_dummy_prefix,
 * remove_extra_whitespaces, escape_whitespaces). Every length and varint is bounds-checked against the
 * buffer; unknown fields are skipped by wire type, so newer files still load. The result is the same
 * pipeline transformers' GemmaConverter would produce (control, unknown and user-defined pieces become
 * added tokens; " " -> U+2581; <bos> prepended), except that pairs are ranked by piece score instead of
 * by an explicit merges list — which is how SentencePiece itself encodes.
 */
#include "wm/text/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER_DEFINED = 4, SPM_UNUSED = 5, SPM_BYTE = 6 };

typedef struct pb { const uint8_t *p, *end; } pb;

static int pb_varint(pb *b, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return -1;
        uint8_t c = *b->p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) { *v = x; return 0; }
    }
    return -1;
}

/* Next field: number, wire type, and either an integer (wt 0, 1, 5) or a sub-buffer (wt 2). */
static int pb_next(pb *b, uint32_t *field, int *wt, uint64_t *val, pb *sub)
{
    uint64_t key;
    if (pb_varint(b, &key)) return -1;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0: return pb_varint(b, val);
    case 1:
        if (b->end - b->p < 8) return -1;
        memcpy(val, b->p, 8); b->p += 8; return 0;
    case 5: {
        uint32_t v32;
        if (b->end - b->p < 4) return -1;
        memcpy(&v32, b->p, 4); b->p += 4; *val = v32; return 0;
    }
    case 2: {
        uint64_t n;
        if (pb_varint(b, &n) || n > (uint64_t)(b->end - b->p)) return -1;
        sub->p = b->p; sub->end = b->p + n; b->p += n; *val = n; return 0;
    }
    default: return -1;
    }
}

typedef struct spm_info {
    int64_t model_type, byte_fallback, unk_id, bos_id, eos_id, pad_id;
    int64_t add_dummy_prefix, remove_extra_ws, escape_ws;
    size_t charsmap_len;
    char norm_name[64];
} spm_info;

static int read_trainer(pb b, spm_info *s)
{
    uint32_t f; int wt; uint64_t v; pb sub;
    while (b.p < b.end) {
        if (pb_next(&b, &f, &wt, &v, &sub)) return -1;
        if (wt != 0) continue;
        if (f == 3) s->model_type = (int64_t)v;
        else if (f == 35) s->byte_fallback = (int64_t)v;
        else if (f == 40) s->unk_id = (int32_t)v;
        else if (f == 41) s->bos_id = (int32_t)v;
        else if (f == 42) s->eos_id = (int32_t)v;
        else if (f == 43) s->pad_id = (int32_t)v;
    }
    return 0;
}

static int read_normalizer(pb b, spm_info *s)
{
    uint32_t f; int wt; uint64_t v; pb sub;
    while (b.p < b.end) {
        if (pb_next(&b, &f, &wt, &v, &sub)) return -1;
        if (f == 1 && wt == 2) snprintf(s->norm_name, sizeof s->norm_name, "%.*s", (int)v, (const char *)sub.p);
        else if (f == 2 && wt == 2) s->charsmap_len = (size_t)v;
        else if (f == 3 && wt == 0) s->add_dummy_prefix = (int64_t)v;
        else if (f == 4 && wt == 0) s->remove_extra_ws = (int64_t)v;
        else if (f == 5 && wt == 0) s->escape_ws = (int64_t)v;
    }
    return 0;
}

/* One SentencePiece message: text, score, type (default NORMAL). */
static int read_piece(pb b, const char **s, size_t *len, float *score, int *type)
{
    uint32_t f; int wt; uint64_t v; pb sub;
    *s = ""; *len = 0; *score = 0; *type = SPM_NORMAL;
    while (b.p < b.end) {
        if (pb_next(&b, &f, &wt, &v, &sub)) return -1;
        if (f == 1 && wt == 2) { *s = (const char *)sub.p; *len = (size_t)v; }
        else if (f == 2 && wt == 5) { uint32_t u = (uint32_t)v; memcpy(score, &u, 4); }
        else if (f == 3 && wt == 0) *type = (int)v;
    }
    return 0;
}

static wm_status add_pieces(wm_tokenizer *t, pb all, wm_error *err)
{
    uint32_t f; int wt; uint64_t v; pb sub;
    int32_t id = 0;
    while (all.p < all.end) {
        if (pb_next(&all, &f, &wt, &v, &sub)) break;
        if (f != 1 || wt != 2) continue;
        const char *s; size_t len; float score; int type;
        if (read_piece(sub, &s, &len, &score, &type))
            return wm__errf(err, WM_ERR_FORMAT, "%s: piece %d is malformed", t->source, (int)id);
        if (wm_utf8_valid_prefix(s, len) != len)
            return wm__errf(err, WM_ERR_FORMAT, "%s: piece %d is not UTF-8", t->source, (int)id);
        t->score[id] = score;
        t->mergeable[id] = type == SPM_NORMAL || type == SPM_USER_DEFINED;
        if (type == SPM_CONTROL || type == SPM_UNKNOWN || type == SPM_USER_DEFINED) {
            /* GemmaConverter: control and unknown pieces are special; user-defined ones are not, except the
             * turn markers it lists explicitly. */
            int special = type != SPM_USER_DEFINED || (len == 15 && !memcmp(s, "<start_of_turn>", 15)) ||
                          (len == 13 && !memcmp(s, "<end_of_turn>", 13));
            WM_TRY(wm__tok_add_token(t, id, s, len, special, 0, 0, 0, 0, err));
        } else {
            WM_TRY(wm__tok_set_piece(t, id, s, len, err));
        }
        id++;
    }
    return WM_OK;
}

static wm_status count_and_specs(wm_tokenizer *t, pb all, int32_t *n, pb *pieces_out, spm_info *info, wm_error *err)
{
    uint32_t f; int wt; uint64_t v; pb sub;
    *pieces_out = all;
    *n = 0;
    while (all.p < all.end) {
        if (pb_next(&all, &f, &wt, &v, &sub))
            return wm__errf(err, WM_ERR_FORMAT, "%s: not a SentencePiece model (protobuf error at byte %td)",
                            t->source, all.p - pieces_out->p);
        if (f == 1 && wt == 2) (*n)++;
        else if (f == 2 && wt == 2 && read_trainer(sub, info))
            return wm__errf(err, WM_ERR_FORMAT, "%s: malformed trainer_spec", t->source);
        else if (f == 3 && wt == 2 && read_normalizer(sub, info))
            return wm__errf(err, WM_ERR_FORMAT, "%s: malformed normalizer_spec", t->source);
    }
    if (*n == 0) return wm__errf(err, WM_ERR_FORMAT, "%s: no pieces (not a SentencePiece model?)", t->source);
    return WM_OK;
}

static wm_status check_supported(wm_tokenizer *t, const spm_info *s, wm_error *err)
{
    if (s->model_type != 2)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: SentencePiece model_type %lld is not BPE (2)", t->source,
                        (long long)s->model_type);
    if (s->charsmap_len > 0 || s->remove_extra_ws)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: normalisation '%s' (charsmap / whitespace folding) is not "
                        "supported; Gemma uses identity", t->source, s->norm_name);
    return WM_OK;
}

static wm_status push_norm(wm_tokenizer *t, tok_norm_kind kind, const char *pat, const char *content, wm_error *err)
{
    tok_norm *n = &t->norm[t->n_norm++];
    n->kind = kind;
    n->pattern_len = pat ? strlen(pat) : 0;
    n->content_len = strlen(content);
    n->pattern = pat ? strdup(pat) : NULL;
    n->content = strdup(content);
    if ((pat && !n->pattern) || !n->content) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    return WM_OK;
}

wm_status wm__tok_load_spm(wm_tokenizer *t, const char *path, wm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return wm__errf(err, WM_ERR_IO, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size <= 0 || size > (1L << 30)) { fclose(f); return wm__errf(err, WM_ERR_FORMAT, "%s: bad size %ld", path, size); }
    uint8_t *buf = malloc((size_t)size);
    size_t got = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    if (got != (size_t)size) { free(buf); return wm__errf(err, WM_ERR_IO, "%s: read failed", path); }
    spm_info info = {.unk_id = 0, .bos_id = 1, .eos_id = 2, .pad_id = -1, .add_dummy_prefix = 1,
                     .remove_extra_ws = 1, .escape_ws = 1};
    int32_t n = 0;
    pb all = {buf, buf + size}, pieces;
    wm_status st = count_and_specs(t, all, &n, &pieces, &info, err);
    if (st == WM_OK) st = check_supported(t, &info, err);
    if (st == WM_OK) st = wm__tok_alloc_ids(t, n, err);
    if (st == WM_OK) st = add_pieces(t, pieces, err);
    free(buf);
    if (st != WM_OK) return st;
    t->rank_mode = TOK_RANK_SCORES;
    t->byte_fallback = (int)info.byte_fallback;
    t->fuse_unk = 1;
    int32_t ids[4] = {(int32_t)info.unk_id, (int32_t)info.bos_id, (int32_t)info.eos_id, (int32_t)info.pad_id};
    for (int k = 0; k < 4; k++) if (ids[k] >= n) ids[k] = -1;
    t->unk_id = ids[0]; t->bos_id = ids[1]; t->eos_id = ids[2]; t->pad_id = ids[3];
    if (info.add_dummy_prefix) WM_TRY(push_norm(t, TOK_NORM_PREPEND, NULL, "\xe2\x96\x81", err));
    if (info.escape_ws) WM_TRY(push_norm(t, TOK_NORM_REPLACE, " ", "\xe2\x96\x81", err));
    if (t->bos_id >= 0) t->prefix[t->n_prefix++] = t->bos_id; /* GemmaTokenizer: add_bos_token = True */
    return WM_OK;
}
