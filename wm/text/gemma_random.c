/* A Gemma-2 encoder with random weights and no checkpoint, for benchmarks (`wm bench text`: 300 tokens at
 * the real config on one GPU) and memory planning, where the real 5 GB of weights are not available.
 *
 * Weights are uniform with the variance of a 1/sqrt(fan_in) normal (cheap to generate: 2.6 B values in a
 * few seconds), resident on the backend in its storage dtype; norm weights are 1 + small noise. The
 * embedding is a small table of R = min(vocab, 4096) synthesised rows (row r from stream 2^40 + r of the
 * seed) that token id reads as row id mod R, on the backend in fp32: the benchmark needs no 1.2 GB table,
 * and the lookup runs on the device like the real encoder's. Deterministic for a given seed.
 */
#include "wm/text/gemma_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL; x ^= x >> 27; x *= 0x94d049bb133111ebULL; x ^= x >> 31;
    return x;
}

/* n values uniform in [-a, a] with a = sqrt(3) * sigma, from stream `stream` of `seed`. */
void wm__gemma_random_fill(float *dst, size_t n, uint64_t seed, uint64_t stream, float sigma)
{
    float a = sqrtf(3.0f) * sigma;
    uint64_t s = mix(seed ^ mix(stream + 0x9e3779b97f4a7c15ULL));
    for (size_t i = 0; i < n; i++) {
        s += 0x9e3779b97f4a7c15ULL;
        uint64_t r = mix(s);
        dst[i] = a * (2.0f * (float)(r >> 40) * (1.0f / 16777216.0f) - 1.0f);
    }
}

static wm_status fill(wm_gemma *g, wm_tensor *t, uint64_t stream, float sigma, float offset, wm_error *err)
{
    size_t n = (size_t)wm_tensor_numel(t);
    if (n > g->host_cap) {
        float *p = realloc(g->host, n * sizeof(float));
        if (!p) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
        g->host = p;
        g->host_cap = n;
    }
    wm__gemma_random_fill(g->host, n, g->seed, stream, sigma);
    for (size_t i = 0; offset != 0 && i < n; i++) g->host[i] += offset;
    wm_status st;
    if (t->dtype == WM_F32) {
        st = wm_backend_upload(g->be, t->data, g->host, n * sizeof(float));
    } else {
        uint16_t *tmp = malloc(n * sizeof(uint16_t));
        if (!tmp) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
        wm_convert_from_f32(t->dtype, g->host, tmp, n);
        st = wm_backend_upload(g->be, t->data, tmp, n * sizeof(uint16_t));
        free(tmp);
    }
    return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: upload failed: %s", g->be->err.msg);
}

wm_status wm__gemma_fill_random(wm_gemma *g, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    float sc = 1.0f / sqrtf((float)c->hidden);
    WM_TRY(fill(g, &g->final_norm, 1, 0.1f, 1.0f, err));
    for (int l = 0; l < g->n_slots; l++) {
        gemma_layer *s = &g->slots[l];
        uint64_t base = 100 + 16 * (uint64_t)l;
        wm_tensor *norms[4] = {&s->in_norm, &s->post_attn, &s->pre_ffn, &s->post_ffn};
        for (int i = 0; i < 4; i++) WM_TRY(fill(g, norms[i], base + (uint64_t)i, 0.1f, 1.0f, err));
        WM_TRY(fill(g, &s->q, base + 4, sc, 0, err));
        WM_TRY(fill(g, &s->k, base + 5, sc, 0, err));
        WM_TRY(fill(g, &s->v, base + 6, sc, 0, err));
        WM_TRY(fill(g, &s->o, base + 7, 1.0f / sqrtf((float)(c->n_heads * c->head_dim)), 0, err));
        WM_TRY(fill(g, &s->gate, base + 8, sc, 0, err));
        WM_TRY(fill(g, &s->up, base + 9, sc, 0, err));
        WM_TRY(fill(g, &s->down, base + 10, 1.0f / sqrtf((float)c->ffn), 0, err));
        s->loaded_layer = l;
    }
    return WM_OK;
}

wm_status wm__gemma_random_table(wm_gemma *g, wm_error *err)
{
    int64_t C = g->cfg.hidden, R = g->cfg.vocab_size < 4096 ? g->cfg.vocab_size : 4096;
    WM_TRY(wm__gemma_alloc(g, WM_F32, R, C, &g->rtable, err));
    g->rtable = wm_tensor_view4(WM_F32, g->be->device, g->rtable.data, 2, R, C, 0, 0); /* 2-D even if C == 1 */
    float *h = malloc(sizeof(float) * (size_t)(R * C));
    if (!h) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    for (int64_t r = 0; r < R; r++)
        wm__gemma_random_fill(h + r * C, (size_t)C, g->seed, (1ULL << 40) + (uint64_t)r, 1.0f / sqrtf((float)C));
    wm_status st = wm_backend_upload(g->be, g->rtable.data, h, sizeof(float) * (size_t)(R * C));
    free(h);
    return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: upload failed: %s", g->be->err.msg);
}
