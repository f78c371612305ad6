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

static void carve_block(carver *cv, const wm_dit_config *g, int i, int sink, int chunk, wm_dit_block_cache *b,
                        wm_tensor *win)
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
    for (int j = 0; j < 4; j++) { /* [sink | prev | cur] contiguous (see wm_dit_stream.win) */
        take2(cv, (sink + 2 * (int64_t)chunk) * S, C, &win[j]);
        *sk[j] = wm_tensor_slice0(&win[j], 0, sink * S);
        *pk[j] = wm_tensor_slice0(&win[j], sink * S, chunk * S);
    }
}

static void carve_all(carver *cv, wm_dit_stream *s)
{
    cv->off = 0;
    for (int i = 0; i < s->cfg.depth; i++)
        carve_block(cv, &s->cfg, i, s->max_sink_frames, s->max_chunk_frames, &s->blocks[i], &s->win[4 * i]);
    int mx = s->max_sink_frames > s->max_chunk_frames ? s->max_sink_frames : s->max_chunk_frames;
    int64_t n = (int64_t)(wm_dit_stage_bytes(&s->cfg, mx, 0) + 3) / 4; /* the six tables + alignment */
    take(cv, WM_F32, 1, &n, &s->tab);
    int64_t L = s->cfg.caption_length, C = s->cfg.hidden_size;
    take2(cv, L, C, &s->cap_y);
    take(cv, WM_U8, 1, &L, &s->cap_mask);
    for (int i = 0; i < 2 * s->cfg.depth; i++) take2(cv, L, C, &s->cap_kv[i]);
    if (s->be) { /* device-resident chunk latents (wm_dit_stream_chunk) */
        int64_t S = (int64_t)s->cfg.latent_h * s->cfg.latent_w, nl[2] = {s->cfg.in_channels, mx * S};
        int64_t nv[2] = {s->cfg.out_channels, mx * S}, nd = mx;
        take(cv, WM_F32, 2, nl, &s->lat);
        take(cv, WM_F32, 2, nv, &s->vel);
        take(cv, WM_F32, 1, &nd, &s->dts);
    }
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
    s->win = calloc((size_t)4 * cfg->depth, sizeof *s->win);
    s->cap_host_y = malloc((size_t)(cfg->caption_length > 0 ? cfg->caption_length : 1) * cfg->caption_channels * 4);
    s->cap_host_mask = malloc((size_t)(cfg->caption_length > 0 ? cfg->caption_length : 1));
    s->v = malloc((size_t)cfg->out_channels * mx * cfg->latent_h * cfg->latent_w * sizeof(float));
    wm_status st = s->blocks && s->v && s->cap_kv && s->win && s->cap_host_y && s->cap_host_mask ? alloc_mem(s)
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
    free(s->win);
    free(s->cap_host_y);
    free(s->cap_host_mask);
    free(s->v);
    free(s);
}

/* ---- Stream state (snapshots): header + the three counters + every block cache tensor in block order
 * (device bytes, downloaded one tensor at a time). The prompt cache and RoPE tables are NOT state: they
 * are keyed by their own inputs (host copies), not by the stream position. The fingerprint hashes the
 * cache layout (config dims, softmax pattern, capacities, dtype), so a blob loads only into an identical
 * stream. */
#define STATE_MAGIC 0x53544457u /* "WDTS" */
#define STATE_VERSION 1u
#define N_CACHE_TENSORS (sizeof(wm_dit_block_cache) / sizeof(wm_tensor))

typedef struct state_head {
    uint32_t magic, version;
    uint64_t bytes, fingerprint;
    int32_t n_saved, sink_frames, prev_frames, pad;
} state_head;

static size_t cache_bytes(const wm_dit_stream *s)
{
    size_t n = 0;
    for (int i = 0; i < s->cfg.depth; i++) {
        const wm_tensor *t = (const wm_tensor *)&s->blocks[i];
        for (size_t j = 0; j < N_CACHE_TENSORS; j++)
            if (t[j].data) n += wm_tensor_nbytes(&t[j]);
    }
    return n;
}

static uint64_t fingerprint(const wm_dit_stream *s)
{
    const wm_dit_config *g = &s->cfg;
    int64_t k[10] = {g->depth, g->hidden_size, g->num_heads, g->latent_h, g->latent_w, g->conv_kernel_size,
                     s->max_sink_frames, s->max_chunk_frames, s->be ? (int64_t)wm_dit_act_dtype(s->be) : -1,
                     (int64_t)cache_bytes(s)};
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)k;
    for (size_t i = 0; i < sizeof k; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    for (int i = 0; i < g->depth; i++) h = (h ^ (unsigned)(g->is_softmax[i] != 0)) * 0x100000001b3ull;
    return h;
}

size_t wm_dit_stream_state_bytes(const wm_dit_stream *s) { return s ? sizeof(state_head) + cache_bytes(s) : 0; }

/* dir 0: stream -> buf (download), 1: buf -> stream (upload). */
static wm_status move_caches(wm_dit_stream *s, char *p, int dir, wm_error *err)
{
    for (int i = 0; i < s->cfg.depth; i++) {
        wm_tensor *t = (wm_tensor *)&s->blocks[i];
        for (size_t j = 0; j < N_CACHE_TENSORS; j++) {
            if (!t[j].data) continue;
            size_t n = wm_tensor_nbytes(&t[j]);
            wm_status st = WM_OK;
            if (!s->be) dir ? (void)memcpy(t[j].data, p, n) : (void)memcpy(p, t[j].data, n);
            else st = dir ? wm_backend_upload(s->be, t[j].data, p, n) : wm_backend_download(s->be, p, t[j].data, n);
            if (st != WM_OK) return wm__errf(err, st, "DiT stream state: block %d cache copy: %s", i, s->be->err.msg);
            p += n;
        }
    }
    return WM_OK;
}

wm_status wm_dit_stream_state_save(const wm_dit_stream *s, void *host_buf, size_t n, wm_error *err)
{
    size_t want = wm_dit_stream_state_bytes(s);
    if (!s || !host_buf || n != want)
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT stream state save: buffer of %zu bytes, need %zu", n, want);
    state_head h = {STATE_MAGIC, STATE_VERSION, want, fingerprint(s), s->n_saved, s->sink_frames, s->prev_frames, 0};
    memcpy(host_buf, &h, sizeof h);
    return move_caches((wm_dit_stream *)s, (char *)host_buf + sizeof h, 0, err);
}

wm_status wm_dit_stream_state_load(wm_dit_stream *s, const void *host_buf, size_t n, wm_error *err)
{
    state_head h;
    if (!s || !host_buf || n < sizeof h)
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT stream state load: %zu bytes, no header", n);
    memcpy(&h, host_buf, sizeof h);
    if (h.magic != STATE_MAGIC || h.version != STATE_VERSION)
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT stream state load: not a DiT stream state (magic/version)");
    uint64_t fp = fingerprint(s);
    if (h.fingerprint != fp || h.bytes != wm_dit_stream_state_bytes(s))
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT stream state load: state of another config (fingerprint "
                        "%016llx, this stream %016llx)", (unsigned long long)h.fingerprint, (unsigned long long)fp);
    if (n != h.bytes)
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT stream state load: %zu bytes, need %llu (truncated?)", n,
                        (unsigned long long)h.bytes);
    if (h.n_saved < 0 || h.sink_frames < 0 || h.sink_frames > s->max_sink_frames || h.prev_frames < 0 ||
        h.prev_frames > s->max_chunk_frames)
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT stream state load: counters out of range");
    WM_TRY(move_caches(s, (char *)(uintptr_t)host_buf + sizeof h, 1, err));
    s->n_saved = h.n_saved, s->sink_frames = h.sink_frames, s->prev_frames = h.prev_frames;
    return WM_OK;
}
