/* Internal state of wm_tokenizer, shared by the two loaders (tok_json.c, tok_spm.c) and the encoder
 * (tok_encode.c).
 *
 * Both file formats are turned into one pipeline description: pieces by id, a piece -> id hash map, the
 * added tokens, the normaliser steps, the pre-tokenizer splits, the BPE pair ranking and the
 * post-processor ids. The only difference left at encode time is how a pair of adjacent symbols is
 * ranked: tokenizer.json has an explicit merges list (rank = position, lower first, looked up by the
 * pair of ids), tokenizer.model has piece scores (SentencePiece merges the pair whose concatenation is a
 * piece with the highest score). Ties go to the leftmost pair in both, as in both libraries.
 */
#ifndef WM_TEXT_TOK_INTERNAL_H
#define WM_TEXT_TOK_INTERNAL_H

#include "wm/text/tokenizer.h"

#include <stdint.h>

/* piece -> id, open addressing; keys are the pieces stored in the tokenizer (not copied). */
typedef struct tok_strmap {
    uint32_t cap;   /* power of two */
    int32_t *slot;  /* id or -1 */
} tok_strmap;

/* (left id, right id) -> (rank, merged id) for tokenizer.json merges. */
typedef struct tok_pair {
    uint64_t key;   /* (left << 32) | right, UINT64_MAX = empty */
    int32_t rank, merged;
} tok_pair;
typedef struct tok_pairmap {
    uint32_t cap, n;
    tok_pair *slot;
} tok_pairmap;

typedef struct tok_added {
    int32_t id;
    int32_t off, len;   /* content inside the piece arena */
    uint8_t first;      /* first byte of the content (bucket key) */
    uint8_t special, normalized, lstrip, rstrip, single_word;
} tok_added;

typedef enum tok_norm_kind { TOK_NORM_REPLACE = 0, TOK_NORM_PREPEND } tok_norm_kind;
typedef struct tok_norm {
    tok_norm_kind kind;
    char *pattern, *content;  /* Replace: pattern -> content; Prepend: content */
    size_t pattern_len, content_len;
} tok_norm;

typedef enum tok_split_behavior {
    TOK_SPLIT_REMOVED = 0, TOK_SPLIT_ISOLATED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT, TOK_SPLIT_CONTIGUOUS
} tok_split_behavior;
typedef struct tok_split {
    char *pattern;
    size_t pattern_len;
    tok_split_behavior behavior;
} tok_split;

typedef enum tok_rank_mode { TOK_RANK_MERGES = 0, TOK_RANK_SCORES } tok_rank_mode;

#define TOK_MAX_NORM 8
#define TOK_MAX_SPLIT 8
#define TOK_MAX_TEMPLATE 8

struct wm_tokenizer {
    char source[1024];
    /* pieces: id -> text in one arena; ids without a piece have len -1 */
    int32_t n_ids;
    char *arena;
    size_t arena_len, arena_cap;
    int64_t *piece_off;
    int32_t *piece_len;
    tok_strmap vocab;        /* every piece (HF vocab + added tokens) */
    /* BPE */
    tok_rank_mode rank_mode;
    tok_pairmap merges;      /* TOK_RANK_MERGES */
    float *score;            /* TOK_RANK_SCORES: per id */
    uint8_t *mergeable;      /* TOK_RANK_SCORES: 1 for pieces BPE may produce (normal, user-defined) */
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;          /* -1 if none */
    int32_t byte_id[256];    /* <0xXX> pieces, -1 if absent */
    /* added tokens, sorted by first byte then length descending; first[b]..first[b+1] is bucket b */
    tok_added *added;
    int32_t n_added;
    int32_t added_first[257];
    /* pipeline */
    tok_norm norm[TOK_MAX_NORM];
    int n_norm;
    tok_split split[TOK_MAX_SPLIT];
    int n_split;
    int32_t prefix[TOK_MAX_TEMPLATE], suffix[TOK_MAX_TEMPLATE];
    int n_prefix, n_suffix;
    int32_t bos_id, eos_id, pad_id;
};

/* tok_map.c */
wm_status wm__tok_strmap_init(tok_strmap *m, uint32_t n_expected);
void wm__tok_strmap_free(tok_strmap *m);
int32_t wm__tok_strmap_get(const wm_tokenizer *t, const tok_strmap *m, const char *s, size_t len);
/* Insert id (its piece must already be set); keeps an existing entry for the same text (returns 0),
 * returns 1 when inserted. */
int wm__tok_strmap_put(wm_tokenizer *t, tok_strmap *m, int32_t id);
wm_status wm__tok_pairmap_init(tok_pairmap *m, uint32_t n_expected);
void wm__tok_pairmap_free(tok_pairmap *m);
/* Later puts of the same pair overwrite (tokenizers keeps the last duplicate). */
void wm__tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
const tok_pair *wm__tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b);

/* tokenizer.c: piece storage and shared finishing steps */
wm_status wm__tok_alloc_ids(wm_tokenizer *t, int32_t n_ids, wm_error *err);
wm_status wm__tok_set_piece(wm_tokenizer *t, int32_t id, const char *s, size_t len, wm_error *err);
wm_status wm__tok_add_token(wm_tokenizer *t, int32_t id, const char *s, size_t len, int special, int normalized,
                            int lstrip, int rstrip, int single_word, wm_error *err);
/* Sort the added tokens into buckets, fill byte_id[]. Called by both loaders at the end. */
wm_status wm__tok_finish(wm_tokenizer *t, wm_error *err);
const char *wm__tok_piece_ptr(const wm_tokenizer *t, int32_t id);

/* loaders */
wm_status wm__tok_load_json(wm_tokenizer *t, const char *path, wm_error *err);
wm_status wm__tok_load_spm(wm_tokenizer *t, const char *path, wm_error *err);

/* tok_utf8 (in tok_encode.c): length of the UTF-8 char at s[0] (1..4) or 0 if invalid. */
int wm__utf8_char_len(const unsigned char *s, size_t avail);

#endif
