/* Per-prompt embedding cache: (prompt text, use_chi) -> wm_text_embedding, encoded once.
 *
 * A world needs two embeddings (its prompt with CHI and the empty negative prompt) and perhaps a few
 * more when the user edits the prompt, so a short array scanned linearly (hash first) beats any map.
 * Entries are individually allocated so pointers handed out stay valid while other entries come and go;
 * with a capacity set, the least recently used entry is evicted. Mirrors SANA-WM's streaming prompt
 * cache (_get_streaming_stage1_prompt), which keys on the prompt text as well.
 */
#include "wm/text/text_encoder.h"

#include <stdlib.h>
#include <string.h>

typedef struct cache_entry {
    uint64_t hash;
    char *prompt;
    int use_chi;
    uint64_t last_use;
    wm_text_embedding emb;
} cache_entry;

struct wm_prompt_cache {
    cache_entry **e;
    int n, cap_alloc, capacity, encodes;
    uint64_t clock;
};

static uint64_t key_hash(const char *s, int use_chi)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(use_chi != 0);
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ULL; }
    return h;
}

wm_status wm_prompt_cache_create(int capacity, wm_prompt_cache **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return WM_ERR_OUT_OF_MEMORY;
    (*out)->capacity = capacity > 0 ? capacity : 0;
    return WM_OK;
}

static void entry_free(cache_entry *x)
{
    wm_text_embedding_free(&x->emb);
    free(x->prompt);
    free(x);
}

void wm_prompt_cache_free(wm_prompt_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) entry_free(c->e[i]);
    free(c->e);
    free(c);
}

int wm_prompt_cache_count(const wm_prompt_cache *c) { return c->n; }
int wm_prompt_cache_encodes(const wm_prompt_cache *c) { return c->encodes; }

static void evict_lru(wm_prompt_cache *c)
{
    int victim = 0;
    for (int i = 1; i < c->n; i++) if (c->e[i]->last_use < c->e[victim]->last_use) victim = i;
    entry_free(c->e[victim]);
    c->e[victim] = c->e[--c->n];
}

wm_status wm_prompt_cache_get(wm_prompt_cache *c, wm_text_encoder *enc, const char *prompt, int use_chi,
                              const wm_text_embedding **out, wm_error *err)
{
    *out = NULL;
    if (!c || !prompt) return wm__errf(err, WM_ERR_INVALID_ARG, "prompt cache: cache and prompt are required");
    use_chi = use_chi != 0;
    uint64_t h = key_hash(prompt, use_chi);
    for (int i = 0; i < c->n; i++) {
        cache_entry *x = c->e[i];
        if (x->hash == h && x->use_chi == use_chi && !strcmp(x->prompt, prompt)) {
            x->last_use = ++c->clock;
            *out = &x->emb;
            return WM_OK;
        }
    }
    if (!enc)
        return wm__errf(err, WM_ERR_STATE, "prompt cache: \"%.60s\" was not encoded before the text encoder was freed",
                        prompt);
    cache_entry *x = calloc(1, sizeof *x);
    if (!x || !(x->prompt = strdup(prompt))) { free(x); return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory"); }
    wm_status st = wm_text_encode(enc, prompt, use_chi, &x->emb, err);
    if (st != WM_OK) { entry_free(x); return st; }
    c->encodes++;
    if (c->capacity && c->n >= c->capacity) evict_lru(c);
    if (c->n == c->cap_alloc) {
        int cap = c->cap_alloc ? 2 * c->cap_alloc : 4;
        cache_entry **e = realloc(c->e, sizeof *e * (size_t)cap);
        if (!e) { entry_free(x); return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory"); }
        c->e = e;
        c->cap_alloc = cap;
    }
    x->hash = h;
    x->use_chi = use_chi;
    x->last_use = ++c->clock;
    c->e[c->n++] = x;
    *out = &x->emb;
    return WM_OK;
}
