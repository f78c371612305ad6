/* The DiT benchmark driver (see bench.h). Inputs are made once at creation; a streaming step copies the
 * pristine noise into the chunk latents (the sampler denoises them in place) and advances the chunk index
 * and absolute frame offset, so every step is the same work as a live session's chunk. */
#include "wm/dit/bench.h"

#include <stdlib.h>
#include <string.h>

struct wm_dit_bench {
    wm_backend *be;
    wm_dit_config cfg;
    wm_dit_bench_params p;
    wm_dit_weights *w;
    wm_dit_stream *stream;  /* streaming */
    wm_arena arena, stage;  /* stage: non-streaming forwards (the stream owns its own) */
    int Tmax, L, S, steps, frame0, last_frames;
    float *noise, *x, *y, *cam, *plk, *v, *ts;
    uint8_t *mask;
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill(float *d, size_t n, uint64_t *s, float sc)
{
    for (size_t i = 0; i < n; i++) d[i] = sc * (float)((double)(rng_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* camera_conditions (T, 20) for frames frame0..: identity rotation, moving forward 0.1 per latent frame,
 * pinhole intrinsics in latent units (fx = fy = W, principal point at the centre). */
static void make_cam(const wm_dit_config *g, int frame0, int T, float *cam)
{
    for (int f = 0; f < T; f++) {
        float *c = cam + (size_t)f * 20;
        memset(c, 0, 20 * sizeof(float));
        c[0] = c[5] = c[10] = c[15] = 1.0f;
        c[11] = 0.1f * (float)(frame0 + f);
        c[16] = c[17] = (float)g->latent_w;
        c[18] = 0.5f * (float)g->latent_w, c[19] = 0.5f * (float)g->latent_h;
    }
}

static wm_status alloc_inputs(wm_dit_bench *b)
{
    const wm_dit_config *g = &b->cfg;
    size_t n = (size_t)g->in_channels * b->Tmax * b->S;
    b->noise = malloc(n * 4), b->x = malloc(n * 4), b->v = malloc((size_t)g->out_channels * b->Tmax * b->S * 4);
    b->y = malloc((size_t)b->L * g->caption_channels * 4), b->mask = malloc((size_t)b->L);
    b->cam = malloc((size_t)b->Tmax * 20 * 4), b->plk = malloc((size_t)g->plucker_channels * b->Tmax * b->S * 4);
    b->ts = malloc((size_t)b->Tmax * 4);
    if (!b->noise || !b->x || !b->v || !b->y || !b->mask || !b->cam || !b->plk || !b->ts) return WM_ERR_OUT_OF_MEMORY;
    uint64_t s = b->p.seed ^ 0x5eedull;
    fill(b->noise, n, &s, 1.7f);
    fill(b->y, (size_t)b->L * g->caption_channels, &s, 1.0f);
    fill(b->plk, (size_t)g->plucker_channels * b->Tmax * b->S, &s, 1.0f);
    int valid = b->p.valid_text > 0 && b->p.valid_text < b->L ? b->p.valid_text : b->L < 120 ? b->L : 120;
    for (int i = 0; i < b->L; i++) b->mask[i] = i < valid;
    for (int f = 0; f < b->Tmax; f++) b->ts[f] = f == 0 ? 0.0f : 960.0f;
    return WM_OK;
}

static wm_status setup(wm_dit_bench *b, wm_error *err)
{
    wm_dit_weights_params wp = {b->be, 0};
    WM_TRY(wm_dit_weights_random(&b->cfg, b->p.seed, &wp, &b->w, err));
    size_t bytes = 0;
    wm_status st;
    if (b->p.variant == WM_DIT_STREAMING) {
        int cs = b->p.frames > 0 ? b->p.frames : b->cfg.chunk_size;
        b->Tmax = 1 + b->cfg.chunk_size > cs ? 1 + b->cfg.chunk_size : cs;
        st = wm_dit_stream_create_on(b->be, &b->cfg, 1 + b->cfg.chunk_size, cs, &b->stream);
        if (st != WM_OK) return wm__errf(err, st, "dit bench: streaming caches: %s", b->be->err.msg);
        st = wm_dit_stream_plan(b->be, b->w, b->stream, b->L, &bytes);
    } else {
        b->Tmax = b->p.frames > 0 ? b->p.frames : 11;
        wm_dit_run run = {0};
        run.variant = b->p.variant;
        st = wm_dit_plan(b->be, b->w, &run, b->Tmax, b->L, &bytes);
        if (st == WM_OK) st = wm_arena_init(&b->stage, NULL, wm_dit_stage_bytes(&b->cfg, b->Tmax, b->L));
    }
    if (st == WM_OK) st = wm_arena_init(&b->arena, b->be, bytes);
    if (st == WM_OK) st = alloc_inputs(b);
    if (st != WM_OK) return wm__errf(err, st, "dit bench: setup: %s", b->be->err.msg);
    return WM_OK;
}

wm_status wm_dit_bench_create(wm_backend *be, const wm_dit_config *cfg, const wm_dit_bench_params *p,
                              wm_dit_bench **out, wm_error *err)
{
    *out = NULL;
    wm_dit_bench *b = calloc(1, sizeof *b);
    if (!b) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "dit bench: out of memory");
    b->be = be, b->cfg = *cfg;
    if (p) b->p = *p;
    b->L = b->p.text_len > 0 ? b->p.text_len : cfg->caption_length;
    b->S = cfg->latent_h * cfg->latent_w;
    wm_status st = setup(b, err);
    if (st != WM_OK) {
        wm_dit_bench_free(b);
        return st;
    }
    *out = b;
    return WM_OK;
}

static wm_status stream_step(wm_dit_bench *b)
{
    const wm_dit_config *g = &b->cfg;
    int idx = b->stream->n_saved, n = idx == 0 ? b->stream->max_sink_frames : b->stream->max_chunk_frames;
    memcpy(b->x, b->noise, (size_t)g->in_channels * n * b->S * 4);
    make_cam(g, b->frame0, n, b->cam);
    wm_dit_chunk ck = {0};
    ck.x = b->x, ck.z0 = b->noise, ck.n_frames = n, ck.frame0 = b->frame0, ck.index = idx;
    ck.y = b->y, ck.mask = b->mask, ck.L = b->L, ck.cam = b->cam, ck.plucker = b->plk;
    static const int t4[4] = {1000, 960, 889, 727};
    int nt = b->p.n_steps > 0 ? b->p.n_steps : 4;
    int tl[64];
    for (int i = 0; i < nt && i < 64; i++) tl[i] = nt == 4 ? t4[i] : 1000 - (i * 1000) / (nt + 1);
    ck.t_list = tl, ck.n_t = nt;
    wm_dit_sampler_cb cb = {0};
    cb.blocks_hook = b->p.blocks_hook, cb.blocks_user = b->p.blocks_user;
    WM_TRY(wm_dit_stream_chunk(b->be, b->w, b->stream, &b->arena, &ck, &cb));
    b->frame0 += n;
    b->last_frames = n;
    return WM_OK;
}

wm_status wm_dit_bench_step(wm_dit_bench *b)
{
    if (b->p.variant == WM_DIT_STREAMING) WM_TRY(stream_step(b));
    else {
        make_cam(&b->cfg, 0, b->Tmax, b->cam);
        wm_dit_run run = {0};
        run.variant = b->p.variant, run.stage = &b->stage;
        run.blocks_hook = b->p.blocks_hook, run.blocks_user = b->p.blocks_user;
        wm_dit_inputs in = {b->noise, b->ts, b->y, b->mask, b->L, b->cam, b->plk, b->Tmax};
        WM_TRY(wm_dit_forward(b->be, b->w, &run, &in, &b->arena, b->v));
        b->last_frames = b->Tmax;
    }
    b->steps++;
    return WM_OK;
}

void wm_dit_bench_get_info(const wm_dit_bench *b, wm_dit_bench_info *info)
{
    memset(info, 0, sizeof *info);
    info->weight_bytes = b->w->mem_bytes[0] + b->w->mem_bytes[1];
    info->cache_bytes = b->stream ? b->stream->mem_bytes : 0;
    info->arena_bytes = b->arena.cap;
    info->arena_peak = b->arena.peak;
    info->stage_bytes = b->stream ? b->stream->stage.cap : b->stage.cap;
    info->frames = b->last_frames;
    info->forwards_per_step = b->stream ? (b->p.n_steps > 0 ? b->p.n_steps : 4) + 1 : 1;
    info->steps_done = b->steps;
}

const wm_dit_weights *wm_dit_bench_weights(const wm_dit_bench *b) { return b->w; }
wm_dit_stream *wm_dit_bench_stream(wm_dit_bench *b) { return b->stream; }
const float *wm_dit_bench_velocity(const wm_dit_bench *b) { return b->v; }

void wm_dit_bench_free(wm_dit_bench *b)
{
    if (!b) return;
    wm_arena_free(&b->arena);
    wm_arena_free(&b->stage);
    wm_dit_stream_free(b->stream);
    wm_dit_weights_free(b->w);
    free(b->noise), free(b->x), free(b->y), free(b->mask), free(b->cam), free(b->plk), free(b->v), free(b->ts);
    free(b);
}
