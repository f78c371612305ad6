/* wm_tokenizer_encode: text -> ids, the tokenizer.json pipeline in order.
 *
 *   1. validate: strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), size limit;
 *   2. split on added tokens that match the raw text (normalized = false), leftmost-longest;
 *   3. normalise each remaining segment, split it on normalized = true added tokens;
 *   4. pre-tokenize (string Splits) into words;
 *   5. BPE each word: one symbol per character (characters missing from the vocabulary become
 *      <0xXX> byte symbols, or <unk>), then repeatedly merge the best-ranked adjacent pair, leftmost
 *      first on ties, with a binary heap and lazy invalidation (O(n log n), as both reference libraries);
 *   6. add the post-processor's prefix/suffix ids.
 * Added-token word boundaries (single_word) and lstrip/rstrip use ASCII whitespace and treat every
 * non-ASCII character as a word character; Gemma sets none of these flags (docs/text.md).
 */
#include "wm/text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ growable buffers */
typedef struct ivec { int32_t *v; size_t n, cap; int oom; } ivec;

static void ivec_push(ivec *a, int32_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v) { a->oom = 1; return; }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
}

typedef struct bbuf { char *p; size_t n, cap; int oom; } bbuf;

static void bbuf_put(bbuf *b, const char *s, size_t len)
{
    if (len == 0) return;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

/* ------------------------------------------------------------------ UTF-8 */
int wm__utf8_char_len(const unsigned char *s, size_t avail)
{
    if (avail == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || (size_t)n > avail) return 0;
    for (int i = 1; i < n; i++) if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && c == 0xE0 && s[1] < 0xA0) return 0;   /* overlong */
    if (n == 3 && c == 0xED && s[1] >= 0xA0) return 0;  /* UTF-16 surrogates */
    if (n == 4 && c == 0xF0 && s[1] < 0x90) return 0;   /* overlong */
    if (n == 4 && c == 0xF4 && s[1] >= 0x90) return 0;  /* > U+10FFFF */
    return n;
}

size_t wm_utf8_valid_prefix(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        int n = wm__utf8_char_len((const unsigned char *)s + i, len - i);
        if (!n) return i;
        i += (size_t)n;
    }
    return len;
}

static int is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_word(unsigned char c)
{
    return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* ------------------------------------------------------------------ BPE */
typedef struct sym { int32_t start, len, id, prev, next; uint8_t frozen; } sym;
typedef struct cand { double key; int32_t left, right, lid, rid, merged; } cand;

typedef struct bpe_ws { sym *s; size_t s_cap; cand *h; size_t h_n, h_cap; int oom; } bpe_ws;

static int cand_less(const cand *a, const cand *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static void heap_push(bpe_ws *w, cand c)
{
    if (w->h_n == w->h_cap) {
        size_t cap = w->h_cap ? w->h_cap * 2 : 64;
        cand *h = realloc(w->h, cap * sizeof *h);
        if (!h) { w->oom = 1; return; }
        w->h = h;
        w->h_cap = cap;
    }
    size_t i = w->h_n++;
    while (i > 0 && cand_less(&c, &w->h[(i - 1) / 2])) { w->h[i] = w->h[(i - 1) / 2]; i = (i - 1) / 2; }
    w->h[i] = c;
}

static cand heap_pop(bpe_ws *w)
{
    cand top = w->h[0], last = w->h[--w->h_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->h_n) break;
        if (c + 1 < w->h_n && cand_less(&w->h[c + 1], &w->h[c])) c++;
        if (!cand_less(&w->h[c], &last)) break;
        w->h[i] = w->h[c];
        i = c;
    }
    if (w->h_n) w->h[i] = last;
    return top;
}

/* Queue the pair (l, l.next) if the model knows a merge for it. */
static void try_pair(const wm_tokenizer *t, bpe_ws *w, const char *word, int32_t l)
{
    if (l < 0) return;
    int32_t r = w->s[l].next;
    if (r < 0 || w->s[l].frozen || w->s[r].frozen) return;
    cand c = {.left = l, .right = r, .lid = w->s[l].id, .rid = w->s[r].id};
    if (t->rank_mode == TOK_RANK_MERGES) {
        const tok_pair *p = wm__tok_pairmap_get(&t->merges, c.lid, c.rid);
        if (!p) return;
        c.key = p->rank;
        c.merged = p->merged;
    } else {
        int32_t id = wm__tok_strmap_get(t, &t->vocab, word + w->s[l].start, (size_t)(w->s[l].len + w->s[r].len));
        if (id < 0 || !t->mergeable[id]) return;
        c.key = -(double)t->score[id];
        c.merged = id;
    }
    heap_push(w, c);
}

/* Initial symbols: one per character; unknown characters -> byte symbols, else <unk> (fused). */
static size_t bpe_init(const wm_tokenizer *t, bpe_ws *w, const char *word, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int cl = wm__utf8_char_len((const unsigned char *)word + i, len - i);
        int32_t id = wm__tok_strmap_get(t, &t->vocab, word + i, (size_t)cl);
        if (id >= 0 && t->rank_mode == TOK_RANK_SCORES && !t->mergeable[id]) id = -1;
        int bytes_ok = t->byte_fallback;
        for (int k = 0; k < cl && bytes_ok; k++) bytes_ok = t->byte_id[(unsigned char)word[i + k]] >= 0;
        if (id >= 0) {
            w->s[n++] = (sym){.start = (int32_t)i, .len = cl, .id = id};
        } else if (bytes_ok) {
            for (int k = 0; k < cl; k++)
                w->s[n++] = (sym){.start = (int32_t)(i + (size_t)k), .len = 1,
                                  .id = t->byte_id[(unsigned char)word[i + (size_t)k]], .frozen = 1};
        } else if (t->fuse_unk && n > 0 && w->s[n - 1].frozen && w->s[n - 1].id == t->unk_id) {
            w->s[n - 1].len += cl;
        } else {
            w->s[n++] = (sym){.start = (int32_t)i, .len = cl, .id = t->unk_id, .frozen = 1};
        }
        i += (size_t)cl;
    }
    for (size_t i = 0; i < n; i++) {
        w->s[i].prev = (int32_t)i - 1;
        w->s[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    return n;
}

static wm_status bpe_word(const wm_tokenizer *t, bpe_ws *w, const char *word, size_t len, ivec *out, wm_error *err)
{
    if (t->ignore_merges) {
        int32_t id = wm__tok_strmap_get(t, &t->vocab, word, len);
        if (id >= 0) { ivec_push(out, id); return WM_OK; }
    }
    if (len > w->s_cap) {
        sym *s = realloc(w->s, len * sizeof *s);
        if (!s) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        w->s = s;
        w->s_cap = len;
    }
    size_t n = bpe_init(t, w, word, len);
    w->h_n = 0;
    for (size_t i = 0; i + 1 < n; i++) try_pair(t, w, word, (int32_t)i);
    while (w->h_n) {
        cand c = heap_pop(w);
        sym *l = &w->s[c.left];
        if (l->len == 0 || l->next != c.right || l->id != c.lid || w->s[c.right].id != c.rid) continue; /* stale */
        sym *r = &w->s[c.right];
        l->len += r->len;
        l->id = c.merged;
        l->next = r->next;
        if (r->next >= 0) w->s[r->next].prev = c.left;
        r->len = 0;
        r->id = -1;
        try_pair(t, w, word, l->prev);
        try_pair(t, w, word, c.left);
    }
    if (w->oom) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (int32_t i = n ? 0 : -1; i >= 0; i = w->s[i].next) {
        if (w->s[i].id < 0)
            return wm__errf(err, WM_ERR_FORMAT, "%s: character at byte %d has no token and there is no <unk>",
                            t->source, (int)w->s[i].start);
        ivec_push(out, w->s[i].id);
    }
    return WM_OK;
}

/* ------------------------------------------------------------------ pre-tokenizer and normaliser */
typedef struct span { size_t off, len; int m; } span;
typedef struct spans { span *v; size_t n, cap; int oom; } spans;

static void spans_push(spans *a, size_t off, size_t len, int m)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        span *v = realloc(a->v, cap * sizeof *v);
        if (!v) { a->oom = 1; return; }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (span){off, len, m};
}

/* Split one span on a string pattern, folding delimiters as tokenizers' SplitDelimiterBehavior does:
 * the pattern occurrences and the text between them form a list of (piece, is_match); Removed drops
 * matches, Isolated keeps all, MergedWithPrevious/Next glue a match to the neighbouring non-match (a
 * match right after a match stays alone), Contiguous glues runs of equal kind. Empty pieces vanish. */
static void split_span(const char *s, span in, const tok_split *sp, spans *parts, spans *out)
{
    size_t pos = in.off, end = in.off + in.len, seg = in.off, pl = sp->pattern_len;
    parts->n = 0;
    while (pos + pl <= end) {
        if (memcmp(s + pos, sp->pattern, pl)) { pos++; continue; }
        if (pos > seg) spans_push(parts, seg, pos - seg, 0);
        spans_push(parts, pos, pl, 1);
        pos += pl;
        seg = pos;
    }
    if (end > seg) spans_push(parts, seg, end - seg, 0);
    size_t first = out->n;
    int prev_match = 0;
    if (sp->behavior == TOK_SPLIT_MERGED_NEXT) {
        /* fold from the right, then reverse what was appended */
        for (size_t k = parts->n; k-- > 0;) {
            span p = parts->v[k];
            if (p.m && !prev_match && out->n > first) { span *l = &out->v[out->n - 1]; l->len += l->off - p.off; l->off = p.off; }
            else spans_push(out, p.off, p.len, 0);
            prev_match = p.m;
        }
        for (size_t i = first, j = out->n; i + 1 < j; i++, j--) { span x = out->v[i]; out->v[i] = out->v[j - 1]; out->v[j - 1] = x; }
        return;
    }
    for (size_t k = 0; k < parts->n; k++) {
        span p = parts->v[k];
        span *l = out->n > first ? &out->v[out->n - 1] : NULL;
        if (sp->behavior == TOK_SPLIT_REMOVED) { if (!p.m) spans_push(out, p.off, p.len, 0); }
        else if (sp->behavior == TOK_SPLIT_ISOLATED) spans_push(out, p.off, p.len, 0);
        else if (sp->behavior == TOK_SPLIT_MERGED_PREV && p.m && !prev_match && l) l->len = p.off + p.len - l->off;
        else if (sp->behavior == TOK_SPLIT_CONTIGUOUS && p.m == prev_match && l) l->len = p.off + p.len - l->off;
        else spans_push(out, p.off, p.len, 0);
        prev_match = p.m;
    }
}

static void normalize(const wm_tokenizer *t, const char *s, size_t len, bbuf *out, bbuf *tmp)
{
    out->n = 0;
    bbuf_put(out, s, len);
    for (int k = 0; k < t->n_norm; k++) {
        const tok_norm *n = &t->norm[k];
        if (out->n == 0) continue;
        tmp->n = 0;
        if (n->kind == TOK_NORM_PREPEND) {
            bbuf_put(tmp, n->content, n->content_len);
            bbuf_put(tmp, out->p, out->n);
        } else {
            size_t i = 0, seg = 0;
            while (i + n->pattern_len <= out->n) {
                if (memcmp(out->p + i, n->pattern, n->pattern_len)) { i++; continue; }
                bbuf_put(tmp, out->p + seg, i - seg);
                bbuf_put(tmp, n->content, n->content_len);
                i += n->pattern_len;
                seg = i;
            }
            bbuf_put(tmp, out->p + seg, out->n - seg);
        }
        bbuf swap = *out; *out = *tmp; *tmp = swap;
    }
}

/* ------------------------------------------------------------------ added tokens */
/* Longest added token with the given normalized flag matching at s[i], or NULL. */
static const tok_added *match_added(const wm_tokenizer *t, const char *s, size_t len, size_t i, int normalized)
{
    unsigned char b = (unsigned char)s[i];
    for (int32_t k = t->added_first[b]; k < t->added_first[b + 1]; k++) {
        const tok_added *a = &t->added[k];
        if (a->normalized != normalized || (size_t)a->len > len - i) continue;
        if (!memcmp(s + i, t->arena + a->off, (size_t)a->len)) return a;
    }
    return NULL;
}

typedef wm_status (*segment_fn)(const wm_tokenizer *t, const char *s, size_t len, void *ctx, ivec *out, wm_error *err);

/* Emit added-token ids found in s and pass the text between them to fn (HF find_matches). */
static wm_status split_added(const wm_tokenizer *t, const char *s, size_t len, int normalized, segment_fn fn,
                             void *ctx, ivec *out, wm_error *err)
{
    size_t start = 0, i = 0;
    while (i < len) {
        const tok_added *a = match_added(t, s, len, i, normalized);
        if (!a) { i++; continue; }
        size_t ms = i, me = i + (size_t)a->len;
        if (a->single_word && ((ms > 0 && is_word((unsigned char)s[ms - 1])) || (me < len && is_word((unsigned char)s[me])))) {
            i = me;
            continue;
        }
        if (a->lstrip) while (ms > start && is_ws((unsigned char)s[ms - 1])) ms--;
        if (a->rstrip) while (me < len && is_ws((unsigned char)s[me])) me++;
        if (ms > start) WM_TRY(fn(t, s + start, ms - start, ctx, out, err));
        ivec_push(out, a->id);
        start = i = me;
    }
    if (start < len) WM_TRY(fn(t, s + start, len - start, ctx, out, err));
    return WM_OK;
}

typedef struct enc_ctx { bbuf norm, tmp; spans words, next, parts; bpe_ws bpe; } enc_ctx;

static wm_status encode_normalized(const wm_tokenizer *t, const char *s, size_t len, void *vctx, ivec *out,
                                   wm_error *err)
{
    enc_ctx *c = vctx;
    c->words.n = 0;
    spans_push(&c->words, 0, len, 0);
    for (int k = 0; k < t->n_split; k++) {
        c->next.n = 0;
        for (size_t i = 0; i < c->words.n; i++) split_span(s, c->words.v[i], &t->split[k], &c->parts, &c->next);
        spans sw = c->words; c->words = c->next; c->next = sw;
    }
    if (c->words.oom || c->next.oom || c->parts.oom) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (size_t i = 0; i < c->words.n; i++)
        if (c->words.v[i].len) WM_TRY(bpe_word(t, &c->bpe, s + c->words.v[i].off, c->words.v[i].len, out, err));
    return WM_OK;
}

static wm_status encode_raw(const wm_tokenizer *t, const char *s, size_t len, void *vctx, ivec *out, wm_error *err)
{
    enc_ctx *c = vctx;
    normalize(t, s, len, &c->norm, &c->tmp);
    if (c->norm.oom || c->tmp.oom) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    /* the normalised text lives in c->norm, which nested calls do not touch */
    bbuf text = c->norm;
    c->norm = (bbuf){0};
    wm_status st = split_added(t, text.p, text.n, 1, encode_normalized, c, out, err);
    c->norm = text;
    return st;
}

wm_status wm_tokenizer_encode(const wm_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                              int *n, wm_error *err)
{
    *ids = NULL;
    *n = 0;
    if (!text && len) return wm__errf(err, WM_ERR_INVALID_ARG, "tokenizer: text is NULL");
    if (len > WM_TOKENIZER_MAX_INPUT)
        return wm__errf(err, WM_ERR_LIMIT, "tokenizer: text is %zu bytes; at most %u are accepted", len,
                        WM_TOKENIZER_MAX_INPUT);
    size_t bad = wm_utf8_valid_prefix(text, len);
    if (bad != len) return wm__errf(err, WM_ERR_INVALID_ARG, "tokenizer: text is not valid UTF-8 (byte %zu)", bad);
    ivec out = {0};
    enc_ctx c = {0};
    if (add_special) for (int i = 0; i < t->n_prefix; i++) ivec_push(&out, t->prefix[i]);
    wm_status st = split_added(t, text, len, 0, encode_raw, &c, &out, err);
    if (add_special) for (int i = 0; i < t->n_suffix; i++) ivec_push(&out, t->suffix[i]);
    if (st == WM_OK && out.oom) st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    free(c.norm.p); free(c.tmp.p); free(c.words.v); free(c.next.v); free(c.parts.v); free(c.bpe.s); free(c.bpe.h);
    if (st != WM_OK) { free(out.v); return st; }
    *ids = out.v ? out.v : malloc(sizeof(int32_t));
    if (!*ids) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    *n = (int)out.n;
    return WM_OK;
}
