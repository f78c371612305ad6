/* Hash maps for the tokenizer: piece text -> id and (id, id) -> merge.
 *
 * Open addressing with linear probing and power-of-two tables at most half full: the real Gemma
 * vocabulary has 256k pieces and ~500k merges, built once at load, so a simple flat table is both the
 * fastest and the smallest choice (no per-entry allocation). Keys of the string map are not copied: a
 * slot holds an id and the text is the tokenizer's piece for that id.
 */
#include "wm/text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t c = 16;
    while (c < n && c < (1u << 30)) c <<= 1;
    return c;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}

wm_status wm__tok_strmap_init(tok_strmap *m, uint32_t n_expected)
{
    m->cap = pow2_at_least(n_expected * 2 + 1);
    m->slot = malloc(sizeof(int32_t) * m->cap);
    if (!m->slot) return WM_ERR_OUT_OF_MEMORY;
    memset(m->slot, 0xff, sizeof(int32_t) * m->cap);
    return WM_OK;
}

void wm__tok_strmap_free(tok_strmap *m)
{
    free(m->slot);
    m->slot = NULL;
    m->cap = 0;
}

static int piece_eq(const wm_tokenizer *t, int32_t id, const char *s, size_t len)
{
    return t->piece_len[id] == (int32_t)len && memcmp(t->arena + t->piece_off[id], s, len) == 0;
}

int32_t wm__tok_strmap_get(const wm_tokenizer *t, const tok_strmap *m, const char *s, size_t len)
{
    if (!m->cap) return -1;
    uint32_t mask = m->cap - 1, i = (uint32_t)hash_bytes(s, len) & mask;
    for (;;) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (piece_eq(t, id, s, len)) return id;
        i = (i + 1) & mask;
    }
}

int wm__tok_strmap_put(wm_tokenizer *t, tok_strmap *m, int32_t id)
{
    const char *s = t->arena + t->piece_off[id];
    size_t len = (size_t)t->piece_len[id];
    uint32_t mask = m->cap - 1, i = (uint32_t)hash_bytes(s, len) & mask;
    for (;;) {
        int32_t cur = m->slot[i];
        if (cur < 0) { m->slot[i] = id; return 1; }
        if (piece_eq(t, cur, s, len)) return 0;
        i = (i + 1) & mask;
    }
}

wm_status wm__tok_pairmap_init(tok_pairmap *m, uint32_t n_expected)
{
    m->cap = pow2_at_least(n_expected * 2 + 1);
    m->n = 0;
    m->slot = malloc(sizeof(tok_pair) * m->cap);
    if (!m->slot) return WM_ERR_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < m->cap; i++) m->slot[i].key = UINT64_MAX;
    return WM_OK;
}

void wm__tok_pairmap_free(tok_pairmap *m)
{
    free(m->slot);
    m->slot = NULL;
    m->cap = m->n = 0;
}

void wm__tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t mask = m->cap - 1, i = (uint32_t)hash_u64(key) & mask;
    while (m->slot[i].key != UINT64_MAX && m->slot[i].key != key) i = (i + 1) & mask;
    if (m->slot[i].key == UINT64_MAX) m->n++;
    m->slot[i].key = key;
    m->slot[i].rank = rank;
    m->slot[i].merged = merged;
}

const tok_pair *wm__tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b)
{
    if (!m->cap) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t mask = m->cap - 1, i = (uint32_t)hash_u64(key) & mask;
    for (;;) {
        if (m->slot[i].key == key) return &m->slot[i];
        if (m->slot[i].key == UINT64_MAX) return NULL;
        i = (i + 1) & mask;
    }
}
