/* Streaming cache allocation (see stream.h): every buffer sized from the config at session start. */
#include "wm/dit/stream.h"

#include <stdlib.h>
#include <string.h>

static wm_status alloc2(wm_tensor *t, int64_t r, int64_t c)
{
    int64_t sh[2] = {r, c};
    return wm_tensor_alloc(WM_F32, 2, sh, t);
}

static wm_status alloc_block(const wm_dit_config *g, int i, int sink, int chunk, wm_dit_block_cache *b)
{
    int64_t C = g->hidden_size, H = g->num_heads, D = C / H, S = (int64_t)g->latent_h * g->latent_w;
    int64_t K1 = g->conv_kernel_size - 1;
    WM_TRY(alloc2(&b->ttail, S, C));
    if (!g->is_softmax[i]) {
        int64_t sh[3] = {H, D, D}, shz[3] = {H, D, 1};
        WM_TRY(wm_tensor_alloc(WM_F32, 3, sh, &b->M));
        WM_TRY(wm_tensor_alloc(WM_F32, 3, shz, &b->z));
        WM_TRY(wm_tensor_alloc(WM_F32, 3, sh, &b->Mc));
        WM_TRY(alloc2(&b->ktail, K1 * S, C));
        return alloc2(&b->kctail, K1 * S, C);
    }
    wm_tensor *sk[4] = {&b->sink_k, &b->sink_v, &b->sink_kc, &b->sink_vc};
    wm_tensor *pk[4] = {&b->prev_k, &b->prev_v, &b->prev_kc, &b->prev_vc};
    for (int j = 0; j < 4; j++) {
        WM_TRY(alloc2(sk[j], sink * S, C));
        WM_TRY(alloc2(pk[j], chunk * S, C));
    }
    return WM_OK;
}

wm_status wm_dit_stream_create(const wm_dit_config *cfg, int max_first_chunk, int max_chunk, wm_dit_stream **out)
{
    *out = NULL;
    if (max_first_chunk < 1 || max_chunk < 1 || cfg->depth < 1 || cfg->depth > WM_DIT_MAX_DEPTH)
        return WM_ERR_INVALID_ARG;
    wm_dit_stream *s = calloc(1, sizeof *s);
    if (!s) return WM_ERR_OUT_OF_MEMORY;
    s->cfg = *cfg;
    s->max_sink_frames = max_first_chunk;
    s->max_chunk_frames = max_chunk;
    int mx = max_first_chunk > max_chunk ? max_first_chunk : max_chunk;
    if (mx > WM_DIT_MAX_CHUNK_FRAMES) { free(s); return WM_ERR_INVALID_ARG; }
    s->blocks = calloc((size_t)cfg->depth, sizeof *s->blocks);
    s->v = malloc((size_t)cfg->out_channels * mx * cfg->latent_h * cfg->latent_w * sizeof(float));
    wm_status st = s->blocks && s->v ? WM_OK : WM_ERR_OUT_OF_MEMORY;
    for (int i = 0; st == WM_OK && i < cfg->depth; i++)
        st = alloc_block(cfg, i, max_first_chunk, max_chunk, &s->blocks[i]);
    if (st != WM_OK) {
        wm_dit_stream_free(s);
        return st;
    }
    *out = s;
    return WM_OK;
}

void wm_dit_stream_reset(wm_dit_stream *s)
{
    for (int i = 0; i < s->cfg.depth; i++) {
        wm_tensor *t = (wm_tensor *)&s->blocks[i];
        for (size_t j = 0; j < sizeof(wm_dit_block_cache) / sizeof(wm_tensor); j++)
            if (t[j].data) memset(t[j].data, 0, wm_tensor_nbytes(&t[j]));
    }
    s->n_saved = s->sink_frames = s->prev_frames = 0;
}

void wm_dit_stream_free(wm_dit_stream *s)
{
    if (!s) return;
    if (s->blocks)
        for (int i = 0; i < s->cfg.depth; i++) {
            wm_tensor *t = (wm_tensor *)&s->blocks[i];
            for (size_t j = 0; j < sizeof(wm_dit_block_cache) / sizeof(wm_tensor); j++) wm_tensor_free(&t[j]);
        }
    free(s->blocks);
    free(s->v);
    free(s);
}
