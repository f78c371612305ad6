/* Streaming cache allocation (see stream.h): every buffer sized from the config at session start, in
 * two passes over the same code (plan the bytes, then carve one allocation), so a chunk never allocates.
 * Reset zeroes the caches through uploads of a zero block (device memory has no memset in the backend
 * API; reset runs once per session, not per chunk). */
#include "wm/dit/stream.h"

#include "wm/dit/model.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *base;  /* NULL: planning pass */
    size_t off;
    wm_device dev;
    wm_dtype adt;
} carver;

static void take(carver *cv, wm_dtype dt, int ndim, const int64_t *sh, wm_tensor *t)
{
    *t = wm_tensor_view(dt, cv->dev, NULL, ndim, sh);
    if (cv->base) t->data = cv->base + cv->off;
    cv->off += (wm_tensor_nbytes(t) + 255) & ~(size_t)255;
}

static void take2(carver *cv, int64_t r, int64_t c, wm_tensor *t)
{
    int64_t sh[2] = {r, c};
    take(cv, cv->adt, 2, sh, t);
}

static void carve_block(carver *cv, const wm_dit_config *g, int i, int sink, int chunk, wm_dit_block_cache *b)
{
    int64_t C = g->hidden_size, H = g->num_heads, D = C / H, S = (int64_t)g->latent_h * g->latent_w;
    int64_t K1 = g->conv_kernel_size - 1;
    take2(cv, S, C, &b->ttail);
    if (!g->is_softmax[i]) {
        int64_t sh[3] = {H, D, D}, shz[3] = {H, D, 1};
        take(cv, WM_F32, 3, sh, &b->M);
        take(cv, WM_F32, 3, shz, &b->z);
        take(cv, WM_F32, 3, sh, &b->Mc);
        take2(cv, K1 * S, C, &b->ktail);
        take2(cv, K1 * S, C, &b->kctail);
        return;
    }
    wm_tensor *sk[4] = {&b->sink_k, &b->sink_v, &b->sink_kc, &b->sink_vc};
    wm_tensor *pk[4] = {&b->prev_k, &b->prev_v, &b->prev_kc, &b->prev_vc};
    for (int j = 0; j < 4; j++) {
        take2(cv, sink * S, C, sk[j]);
        take2(cv, chunk * S, C, pk[j]);
    }
}

static void carve_all(carver *cv, wm_dit_stream *s)
{
    cv->off = 0;
    for (int i = 0; i < s->cfg.depth; i++)
        carve_block(cv, &s->cfg, i, s->max_sink_frames, s->max_chunk_frames, &s->blocks[i]);
    int mx = s->max_sink_frames > s->max_chunk_frames ? s->max_sink_frames : s->max_chunk_frames;
    int64_t n = (int64_t)(wm_dit_stage_bytes(&s->cfg, mx, 0) + 3) / 4; /* the six tables + alignment */
    take(cv, WM_F32, 1, &n, &s->tab);
    int64_t L = s->cfg.caption_length, C = s->cfg.hidden_size;
    take2(cv, L, C, &s->cap_y);
    take(cv, WM_U8, 1, &L, &s->cap_mask);
    for (int i = 0; i < 2 * s->cfg.depth; i++) take2(cv, L, C, &s->cap_kv[i]);
}

wm_status wm_dit_stream_create(const wm_dit_config *cfg, int max_first_chunk, int max_chunk, wm_dit_stream **out)
{
    return wm_dit_stream_create_on(NULL, cfg, max_first_chunk, max_chunk, out);
}

static wm_status alloc_mem(wm_dit_stream *s)
{
    carver cv = {NULL, 0, s->be ? s->be->device : WM_DEVICE_CPU, s->be ? wm_dit_act_dtype(s->be) : WM_F32};
    carve_all(&cv, s); /* plan */
    s->mem_bytes = cv.off;
    if (s->be) WM_TRY(wm_backend_malloc(s->be, cv.off, &s->mem));
    else if (!(s->mem = aligned_alloc(256, cv.off))) return WM_ERR_OUT_OF_MEMORY;
    cv.base = s->mem;
    carve_all(&cv, s);
    int mx = s->max_sink_frames > s->max_chunk_frames ? s->max_sink_frames : s->max_chunk_frames;
    return wm_arena_init(&s->stage, NULL, wm_dit_stage_bytes(&s->cfg, mx, s->cfg.caption_length + 4096));
}

wm_status wm_dit_stream_create_on(wm_backend *be, const wm_dit_config *cfg, int max_first_chunk, int max_chunk,
                                  wm_dit_stream **out)
{
    *out = NULL;
    if (max_first_chunk < 1 || max_chunk < 1 || cfg->depth < 1 || cfg->depth > WM_DIT_MAX_DEPTH)
        return WM_ERR_INVALID_ARG;
    wm_dit_stream *s = calloc(1, sizeof *s);
    if (!s) return WM_ERR_OUT_OF_MEMORY;
    s->cfg = *cfg;
    s->be = be;
    s->max_sink_frames = max_first_chunk;
    s->max_chunk_frames = max_chunk;
    int mx = max_first_chunk > max_chunk ? max_first_chunk : max_chunk;
    if (mx > WM_DIT_MAX_CHUNK_FRAMES) { free(s); return WM_ERR_INVALID_ARG; }
    s->blocks = calloc((size_t)cfg->depth, sizeof *s->blocks);
    s->cap_kv = calloc((size_t)2 * cfg->depth, sizeof *s->cap_kv);
    s->cap_host_y = malloc((size_t)(cfg->caption_length > 0 ? cfg->caption_length : 1) * cfg->caption_channels * 4);
    s->cap_host_mask = malloc((size_t)(cfg->caption_length > 0 ? cfg->caption_length : 1));
    s->v = malloc((size_t)cfg->out_channels * mx * cfg->latent_h * cfg->latent_w * sizeof(float));
    wm_status st = s->blocks && s->v && s->cap_kv && s->cap_host_y && s->cap_host_mask ? alloc_mem(s)
                                                                                      : WM_ERR_OUT_OF_MEMORY;
    if (st == WM_OK) st = wm_dit_stream_zero(s);
    if (st != WM_OK) {
        wm_dit_stream_free(s);
        return st;
    }
    *out = s;
    return WM_OK;
}

wm_status wm_dit_stream_zero(wm_dit_stream *s)
{
    s->n_saved = s->sink_frames = s->prev_frames = 0;
    s->tab_frames = 0;
    s->cap_valid = 0;
    if (!s->be) {
        memset(s->mem, 0, s->mem_bytes);
        return WM_OK;
    }
    size_t blk = s->mem_bytes < ((size_t)8 << 20) ? s->mem_bytes : ((size_t)8 << 20);
    void *z = calloc(1, blk);
    if (!z) return WM_ERR_OUT_OF_MEMORY;
    wm_status st = WM_OK;
    for (size_t o = 0; st == WM_OK && o < s->mem_bytes; o += blk)
        st = wm_backend_upload(s->be, (char *)s->mem + o, z, s->mem_bytes - o < blk ? s->mem_bytes - o : blk);
    free(z);
    return st;
}

void wm_dit_stream_reset(wm_dit_stream *s) { (void)wm_dit_stream_zero(s); }

void wm_dit_stream_free(wm_dit_stream *s)
{
    if (!s) return;
    if (s->mem) {
        if (s->be) wm_backend_mfree(s->be, s->mem);
        else free(s->mem);
    }
    wm_arena_free(&s->stage);
    free(s->blocks);
    free(s->cap_kv);
    free(s->cap_host_y);
    free(s->cap_host_mask);
    free(s->v);
    free(s);
}
