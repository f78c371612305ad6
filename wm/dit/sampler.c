/* Samplers (see sampler.h). The loops drive wm_dit_forward; the Euler step and the CFG combine are ops
 * (frame_axpy, cfg_combine). Chunk slices of the channels-first latents are gathered into contiguous
 * buffers allocated once per call. Latents and velocities are host fp32 (the forward's API), so the
 * Euler/CFG ops run as their CPU versions on the backend's host thread pool whatever the backend; the
 * forwards' arena lives on the backend's device, with a host staging arena for the per-forward tables. */
#include "wm/dit/sampler.h"

#include "kernels/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wm_dit_sigmas_shifted(int steps, double shift, float *sigmas, float *timesteps)
{
    /* scheduler __init__: float32 sigmas of linspace(1, 1000, 1000)/1000 shifted in float32 */
    float fs = (float)shift, fs1 = (float)(shift - 1.0);
    float tmin = 1.0f / 1000.0f, tmax = 1000.0f / 1000.0f;
    float smin = fs * tmin / (1.0f + fs1 * tmin), smax = fs * tmax / (1.0f + fs1 * tmax);
    double a = (double)smax * 1000.0, b = (double)smin * 1000.0;
    double step = steps > 1 ? (b - a) / (steps - 1) : 0;
    for (int i = 0; i < steps; i++) {
        double u = (i == steps - 1 && steps > 1 ? b : i * step + a) / 1000.0;
        double s = shift * u / (1.0 + (shift - 1.0) * u);
        sigmas[i] = (float)s;
        timesteps[i] = sigmas[i] * 1000.0f;
    }
    sigmas[steps] = 0.0f;
}

void wm_dit_sigmas_distilled(const int *t_list, int n, float *sigmas, float *timesteps)
{
    for (int i = 0; i < n; i++) {
        sigmas[i] = (float)(t_list[i] / 1000.0);
        timesteps[i] = sigmas[i] * 1000.0f; /* float32 product: exactly 1000, 960, 889, 727 */
    }
    sigmas[n] = 0.0f;
}

int wm_dit_teacher_starts(int n_chunks, int steps, double interval_k, int *starts)
{
    double k = interval_k > 0 ? interval_k : 1.0 / n_chunks;
    for (int i = 0; i < n_chunks; i++) starts[i] = (int)((i * k) * steps);
    return starts[n_chunks - 1] + steps;
}

int wm_dit_stream_bounds(int T, int chunk_size, int *bounds, int max_chunks)
{
    int n = 0, first = chunk_size + T % chunk_size;
    bounds[0] = 0;
    bounds[++n] = first < T ? first : T;
    while (bounds[n] < T && n < max_chunks) {
        bounds[n + 1] = bounds[n] + chunk_size < T ? bounds[n] + chunk_size : T;
        n++;
    }
    return n;
}

void wm_dit_euler_dt(const float *t, int T, const float *sigmas, int n_sigmas, float *dt)
{
    for (int f = 0; f < T; f++) {
        float cur = t[f] / 1000.0f, lim = cur - 1e-6f, nxt = 0.0f;
        for (int i = 0; i < n_sigmas; i++)
            if (sigmas[i] < lim && sigmas[i] > nxt) nxt = sigmas[i];
        dt[f] = nxt - cur;
    }
}

/* ------------------------------------------------------------------ shared plumbing */

typedef struct smp {
    wm_backend *be;
    const wm_dit_weights *w;
    const wm_dit_cond *c;
    const wm_dit_sampler_cb *cb;
    wm_arena own, *arena; /* own: planned per sampling call; arena: the one forwards use */
    wm_arena stage;       /* host staging of the forwards' tables (wm_dit_run.stage) */
    int Ci, Co, S;
    float *vu, *vc, *xb, *pb, *dt; /* scratch: velocities, gathered latents / Plücker, step sizes */
    char prefix[64];
} smp;

static void rec_prefixed(void *u, const char *name, const wm_tensor *t)
{
    smp *s = u;
    char full[160];
    snprintf(full, sizeof full, "%s%s", s->prefix, name);
    s->cb->record(s->cb->user, full, t);
}

static void rec(smp *s, const char *name, const float *d, int64_t rows, int64_t cols)
{
    if (!s->cb || !s->cb->record) return;
    wm_tensor t = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, (void *)d, 2, rows, cols, 0, 0);
    rec_prefixed(s, name, &t);
}

/* bytes == 0: plan the arena with a measuring forward of plan_run over Tmax frames. */
static wm_status smp_init(smp *s, wm_backend *be, const wm_dit_weights *w, const wm_dit_cond *c,
                          const wm_dit_sampler_cb *cb, const wm_dit_run *plan_run, int Tmax, size_t bytes)
{
    s->be = be, s->w = w, s->c = c, s->cb = cb;
    s->Ci = w->cfg.in_channels, s->Co = w->cfg.out_channels, s->S = w->cfg.latent_h * w->cfg.latent_w;
    if (s->Ci != s->Co) return wm__errf(&be->err, WM_ERR_UNSUPPORTED, "sampler: in/out channels differ");
    if (!bytes) WM_TRY(wm_dit_plan(be, w, plan_run, Tmax, c->L, &bytes));
    WM_TRY(wm_arena_init(&s->own, be, bytes));
    s->arena = &s->own;
    WM_TRY(wm_arena_init(&s->stage, NULL, wm_dit_stage_bytes(&w->cfg, Tmax, c->L)));
    size_t n = (size_t)s->Ci * Tmax * s->S, np = (size_t)w->cfg.plucker_channels * Tmax * s->S;
    s->vu = malloc(n * 4), s->vc = malloc(n * 4), s->xb = malloc(n * 4), s->pb = malloc(np * 4);
    s->dt = malloc((size_t)Tmax * 4);
    if (!s->vu || !s->vc || !s->xb || !s->pb || !s->dt) return WM_ERR_OUT_OF_MEMORY;
    return WM_OK;
}

static void smp_free(smp *s)
{
    wm_arena_free(&s->own);
    wm_arena_free(&s->stage);
    free(s->vu), free(s->vc), free(s->xb), free(s->pb), free(s->dt);
}

/* dst (ch, n, S) <- frames [f0, f0+n) of src (ch, T, S); back = 1 scatters the other way. */
static void frames_copy(float *dst, float *src, int ch, int T, int S, int f0, int n, int back)
{
    for (int c = 0; c < ch; c++) {
        float *a = dst + (size_t)c * n * S, *b = src + ((size_t)c * T + f0) * S;
        if (back) memcpy(b, a, (size_t)n * S * 4);
        else memcpy(a, b, (size_t)n * S * 4);
    }
}

/* One (guided) velocity into s->vc for latents xb (Ci, n, S) of frames [f0, f0+n) with timesteps t. */
static wm_status velocity(smp *s, wm_dit_run *run, const float *xb, const float *t, int f0, int n, int T)
{
    const wm_dit_cond *c = s->c;
    const float *plk = c->plucker;
    if (f0 != 0 || n != T) { /* a frame range of the channels-first Plücker tensor: gather it */
        frames_copy(s->pb, (float *)c->plucker, s->w->cfg.plucker_channels, T, s->S, f0, n, 0);
        plk = s->pb;
    }
    wm_dit_inputs in = {xb, t, c->y, c->mask, c->L, c->cam + (size_t)f0 * 20, plk, n};
    WM_TRY(wm_dit_forward(s->be, s->w, run, &in, s->arena, s->vc));
    if (!c->y_uncond) return WM_OK;
    wm_dit_inputs iu = in;
    iu.y = c->y_uncond, iu.mask = c->mask_uncond;
    wm_dit_run ru = *run;
    ru.record = NULL;
    WM_TRY(wm_dit_forward(s->be, s->w, &ru, &iu, s->arena, s->vu));
    wm_tensor tu = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, s->vu, 1, (int64_t)s->Co * n * s->S, 0, 0, 0);
    wm_tensor tc = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, s->vc, 1, (int64_t)s->Co * n * s->S, 0, 0, 0);
    return wm_cfg_combine_cpu(s->be, &tu, &tc, c->cfg_scale, &tc);
}

/* x (Ci, n, S) += dt[f] * v; then frame 0 restored from z0 (when z0 != NULL). */
static wm_status euler(smp *s, float *x, int n, const float *t, const float *sigmas, int n_sig, const float *z0)
{
    wm_dit_euler_dt(t, n, sigmas, n_sig, s->dt);
    wm_tensor tx = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, x, 3, s->Ci, n, s->S, 0);
    wm_tensor tv = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, s->vc, 3, s->Ci, n, s->S, 0);
    wm_tensor td = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, s->dt, 1, n, 0, 0, 0);
    WM_TRY(wm_frame_axpy_cpu(s->be, &tx, &tv, &td));
    if (z0)
        for (int c = 0; c < s->Ci; c++) memcpy(x + (size_t)c * n * s->S, z0 + (size_t)c * s->S, (size_t)s->S * 4);
    return WM_OK;
}

static float *first_frame(const float *x, int Ci, int T, int S)
{
    float *z = malloc((size_t)Ci * S * 4);
    if (z)
        for (int c = 0; c < Ci; c++) memcpy(z + (size_t)c * S, x + (size_t)c * T * S, (size_t)S * 4);
    return z;
}

/* ------------------------------------------------------------------ bidirectional */

wm_status wm_dit_sample_bidirectional(wm_backend *be, const wm_dit_weights *w, float *x, int T, const wm_dit_cond *c,
                                      int steps, double shift, const wm_dit_sampler_cb *cb)
{
    if (steps < 1 || steps > 1000) return WM_ERR_INVALID_ARG;
    wm_dit_run run = {0};
    run.variant = WM_DIT_BIDIRECTIONAL;
    smp s = {0};
    run.stage = &s.stage;
    float *sig = malloc((size_t)(steps + 1) * 4), *ts = malloc((size_t)steps * 4), *t = malloc((size_t)T * 4);
    float *z0 = first_frame(x, w->cfg.in_channels, T, w->cfg.latent_h * w->cfg.latent_w);
    wm_status st = sig && ts && t && z0 ? smp_init(&s, be, w, c, cb, &run, T, 0) : WM_ERR_OUT_OF_MEMORY;
    if (st == WM_OK) wm_dit_sigmas_shifted(steps, shift, sig, ts);
    for (int k = 0; st == WM_OK && k < steps; k++) {
        for (int f = 0; f < T; f++) t[f] = f == 0 ? 0.0f : ts[k];
        st = velocity(&s, &run, x, t, 0, T, T);
        if (st == WM_OK) {
            snprintf(s.prefix, sizeof s.prefix, "step%d.", k);
            rec(&s, "v", s.vc, s.Co, (int64_t)T * s.S);
            s.prefix[0] = 0;
            st = euler(&s, x, T, t, sig, steps + 1, z0);
        }
    }
    smp_free(&s);
    free(sig), free(ts), free(t), free(z0);
    return st;
}

/* ------------------------------------------------------------------ chunk-causal teacher */

wm_status wm_dit_sample_teacher(wm_backend *be, const wm_dit_weights *w, float *x, int T, const wm_dit_cond *c,
                                int steps, double shift, double interval_k, const wm_dit_sampler_cb *cb)
{
    int bounds[WM_DIT_MAX_CHUNKS + 1], starts[WM_DIT_MAX_CHUNKS];
    int nc = wm_dit_chunk_bounds(T, w->cfg.chunk_size, bounds, WM_DIT_MAX_CHUNKS);
    if (steps < 1 || steps > 1000 || nc < 1) return WM_ERR_INVALID_ARG;
    int total = wm_dit_teacher_starts(nc, steps, interval_k, starts);
    wm_dit_run run = {0};
    run.variant = WM_DIT_CHUNK_CAUSAL;
    smp s = {0};
    run.stage = &s.stage;
    int S = w->cfg.latent_h * w->cfg.latent_w, Ci = w->cfg.in_channels;
    float *sig = malloc((size_t)(steps + 1) * 4), *ts = malloc((size_t)steps * 4), *t = malloc((size_t)T * 4);
    float *z0 = first_frame(x, Ci, T, S);
    wm_status st = sig && ts && t && z0 ? smp_init(&s, be, w, c, cb, &run, T, 0) : WM_ERR_OUT_OF_MEMORY;
    if (st == WM_OK) wm_dit_sigmas_shifted(steps, shift, sig, ts);
    for (int g = 0; st == WM_OK && g < total; g++) {
        int last = 0;
        for (int j = 0; j < nc; j++)
            if (starts[j] <= g) last = j;
        int end = bounds[last + 1];
        for (int f = 0; f < end; f++) t[f] = 0.0f;
        for (int j = 0; j <= last; j++) {
            int loc = g - starts[j];
            if (loc < steps)
                for (int f = bounds[j]; f < bounds[j + 1]; f++) t[f] = ts[loc];
        }
        t[0] = 0.0f;
        frames_copy(s.xb, x, Ci, T, S, 0, end, 0);
        snprintf(s.prefix, sizeof s.prefix, "step%d.", g);
        rec(&s, "x_in", s.xb, Ci, (int64_t)end * S);
        rec(&s, "timestep", t, 1, end);
        st = velocity(&s, &run, s.xb, t, 0, end, T);
        if (st == WM_OK) {
            rec(&s, "v", s.vc, Ci, (int64_t)end * S);
            st = euler(&s, s.xb, end, t, sig, steps + 1, z0);
            frames_copy(s.xb, x, Ci, T, S, 0, end, 1);
        }
        s.prefix[0] = 0;
    }
    smp_free(&s);
    free(sig), free(ts), free(t), free(z0);
    return st;
}

/* ------------------------------------------------------------------ distilled streaming */

/* Record the caches chunk c's save pass wrote (names "chunk{c}.save.blocks.{i}.<field>"). */
static void rec_caches(smp *s, const wm_dit_stream *st, int c, int n_tok)
{
    if (!s->cb || !s->cb->record) return;
    const wm_dit_config *g = &s->w->cfg;
    for (int i = 0; i < g->depth; i++) {
        const wm_dit_block_cache *b = &st->blocks[i];
        snprintf(s->prefix, sizeof s->prefix, "chunk%d.save.blocks.%d.", c, i);
        rec_prefixed(s, "ttail", &b->ttail);
        if (!g->is_softmax[i]) {
            rec_prefixed(s, "M", &b->M);
            rec_prefixed(s, "z", &b->z);
            rec_prefixed(s, "Mc", &b->Mc);
            rec_prefixed(s, "ktail", &b->ktail);
            rec_prefixed(s, "kctail", &b->kctail);
            continue;
        }
        int sink = st->n_saved == 1; /* the first save wrote the sink entry */
        const wm_tensor *e[4] = {sink ? &b->sink_k : &b->prev_k, sink ? &b->sink_v : &b->prev_v,
                                 sink ? &b->sink_kc : &b->prev_kc, sink ? &b->sink_vc : &b->prev_vc};
        const char *nm[4] = {"K", "V", "Kc", "Vc"};
        for (int j = 0; j < 4; j++) {
            wm_tensor v = wm_tensor_slice0(e[j], 0, n_tok);
            rec_prefixed(s, nm[j], &v);
        }
    }
    s->prefix[0] = 0;
}

/* stream_chunk with the latents on the device (device streams; chunk 0 with its clean first frame, any
 * recording and CFG take the host loop below): x is uploaded once, each forward reads it and writes its
 * velocity on the device (wm_dit_run.x_dev, v_dev), the Euler step is frame_axpy on the
 * device (only the n step sizes are uploaded), the save pass skips the final layer (no_velocity) and x is
 * downloaded once. The same fp32 expressions as the host loop: x += dt[f] * v per element. */
static wm_status stream_chunk_dev(smp *s, wm_dit_stream *st, int c, int f0, int n, const float *sig, const float *ts,
                                  int n_t)
{
    int Ci = s->Ci, S = s->S;
    const int64_t N = (int64_t)n * S;
    wm_tensor x = wm_tensor_view4(WM_F32, st->lat.device, st->lat.data, 2, Ci, N, 0, 0);
    wm_tensor v = wm_tensor_view4(WM_F32, st->vel.device, st->vel.data, 2, s->Co, N, 0, 0);
    wm_tensor x3 = wm_tensor_view4(WM_F32, x.device, x.data, 3, Ci, n, S, 0);
    wm_tensor v3 = wm_tensor_view4(WM_F32, v.device, v.data, 3, s->Co, n, S, 0);
    wm_tensor d = wm_tensor_view4(WM_F32, st->dts.device, st->dts.data, 1, n, 0, 0, 0);
    float t[WM_DIT_MAX_CHUNK_FRAMES];
    wm_dit_run run = {0};
    run.variant = WM_DIT_STREAMING, run.stream = st, run.frame0 = f0, run.stage = &st->stage;
    if (s->cb) run.blocks_hook = s->cb->blocks_hook, run.blocks_user = s->cb->blocks_user;
    run.x_dev = &x, run.v_dev = &v;
    const wm_dit_cond *cd = s->c;
    wm_dit_inputs in = {NULL, t, cd->y, cd->mask, cd->L, cd->cam, cd->plucker, n};
    WM_TRY(wm_backend_upload(s->be, x.data, s->xb, (size_t)Ci * N * 4));
    for (int k = 0; k < n_t; k++) {
        for (int f = 0; f < n; f++) t[f] = (c == 0 && f == 0) ? 0.0f : ts[k];
        WM_TRY(wm_dit_forward(s->be, s->w, &run, &in, s->arena, NULL));
        wm_dit_euler_dt(t, n, sig, n_t + 1, s->dt);
        WM_TRY(wm_backend_upload(s->be, d.data, s->dt, (size_t)n * 4));
        WM_TRY(wm_frame_axpy(s->be, &x3, &v3, &d));
    }
    for (int f = 0; f < n; f++) t[f] = 0.0f;
    run.save = 1, run.v_dev = NULL, run.no_velocity = 1;
    WM_TRY(wm_dit_forward(s->be, s->w, &run, &in, s->arena, NULL));
    return wm_backend_download(s->be, s->xb, x.data, (size_t)Ci * N * 4);
}

/* The n_t denoising forwards of one chunk (latents in s->xb, chunk-local camera/Plücker in s->c), then
 * the save pass. */
static wm_status stream_chunk(smp *s, wm_dit_stream *st, int c, int f0, int n, const float *sig, const float *ts,
                              int n_t, const float *z0)
{
    int Ci = s->Ci, S = s->S;
    int recording = s->cb && s->cb->record;
    if (st->lat.data && (c != 0 || !z0) && !recording && !s->c->y_uncond && n * S <= wm_tensor_numel(&st->lat) / Ci)
        return stream_chunk_dev(s, st, c, f0, n, sig, ts, n_t);
    float t[WM_DIT_MAX_CHUNK_FRAMES];
    wm_dit_run run = {0};
    run.variant = WM_DIT_STREAMING, run.stream = st, run.frame0 = f0, run.stage = &st->stage;
    if (s->cb && s->cb->record && s->cb->record_blocks) run.record = rec_prefixed, run.record_user = s;
    if (s->cb) run.blocks_hook = s->cb->blocks_hook, run.blocks_user = s->cb->blocks_user;
    for (int k = 0; k < n_t; k++) {
        for (int f = 0; f < n; f++) t[f] = (c == 0 && f == 0) ? 0.0f : ts[k];
        snprintf(s->prefix, sizeof s->prefix, "chunk%d.step%d.", c, k);
        rec(s, "x_in", s->xb, Ci, (int64_t)n * S);
        rec(s, "timestep", t, 1, n);
        WM_TRY(velocity(s, &run, s->xb, t, 0, n, n));
        rec(s, "v", s->vc, Ci, (int64_t)n * S);
        WM_TRY(euler(s, s->xb, n, t, sig, n_t + 1, c == 0 ? z0 : NULL));
    }
    snprintf(s->prefix, sizeof s->prefix, "chunk%d.", c);
    rec(s, "x0", s->xb, Ci, (int64_t)n * S);
    for (int f = 0; f < n; f++) t[f] = 0.0f;
    run.save = 1;
    snprintf(s->prefix, sizeof s->prefix, "chunk%d.save.", c);
    WM_TRY(velocity(s, &run, s->xb, t, 0, n, n));
    rec(s, "v", s->vc, Ci, (int64_t)n * S);
    rec_caches(s, st, c, n * S);
    return WM_OK;
}

wm_status wm_dit_stream_plan(wm_backend *be, const wm_dit_weights *w, wm_dit_stream *stream, int L, size_t *bytes)
{
    wm_dit_run plan = {0};
    plan.variant = WM_DIT_STREAMING, plan.stream = stream;
    size_t b0 = 0, b1 = 0;
    int saved = stream->n_saved, sf = stream->sink_frames, pf = stream->prev_frames;
    stream->n_saved = 0;
    wm_status st = wm_dit_plan(be, w, &plan, stream->max_sink_frames, L, &b0);
    stream->n_saved = 2, stream->sink_frames = stream->max_sink_frames, stream->prev_frames = stream->max_chunk_frames;
    if (st == WM_OK) st = wm_dit_plan(be, w, &plan, stream->max_chunk_frames, L, &b1);
    stream->n_saved = saved, stream->sink_frames = sf, stream->prev_frames = pf;
    *bytes = b0 > b1 ? b0 : b1;
    return st;
}

wm_status wm_dit_stream_chunk(wm_backend *be, const wm_dit_weights *w, wm_dit_stream *stream, wm_arena *arena,
                              const wm_dit_chunk *ck, const wm_dit_sampler_cb *cb)
{
    static const int def_t[4] = {1000, 960, 889, 727};
    const int *tl = ck->t_list ? ck->t_list : def_t;
    int n_t = ck->t_list ? ck->n_t : 4, n = ck->n_frames;
    if (n_t < 1 || n_t > 64 || n < 1 || n > WM_DIT_MAX_CHUNK_FRAMES || ck->index != stream->n_saved)
        return wm__errf(&be->err, WM_ERR_INVALID_ARG, "dit stream: chunk %d (%d frames) out of order or too large",
                        ck->index, n);
    wm_dit_cond c = {ck->y, NULL, ck->mask, NULL, ck->L, ck->cam, ck->plucker, 1.0f};
    float sig[65], ts[64], dt[WM_DIT_MAX_CHUNK_FRAMES];
    wm_dit_sigmas_distilled(tl, n_t, sig, ts);
    smp s = {0};
    s.be = be, s.w = w, s.c = &c, s.cb = cb, s.arena = arena;
    s.Ci = w->cfg.in_channels, s.Co = w->cfg.out_channels, s.S = w->cfg.latent_h * w->cfg.latent_w;
    s.vc = stream->v, s.xb = ck->x, s.dt = dt;
    if (s.Ci != s.Co) return WM_ERR_UNSUPPORTED;
    return stream_chunk(&s, stream, ck->index, ck->frame0, n, sig, ts, n_t, ck->z0);
}

wm_status wm_dit_sample_streaming(wm_backend *be, const wm_dit_weights *w, wm_dit_stream *stream, float *x, int T,
                                  const wm_dit_cond *c, const int *t_list, int n_t, const wm_dit_sampler_cb *cb)
{
    int bounds[WM_DIT_MAX_CHUNKS + 1];
    int nc = wm_dit_stream_bounds(T, w->cfg.chunk_size, bounds, WM_DIT_MAX_CHUNKS);
    if (nc < 1 || bounds[1] > stream->max_sink_frames) return WM_ERR_INVALID_ARG;
    smp s = {0};
    int S = w->cfg.latent_h * w->cfg.latent_w, Ci = w->cfg.in_channels;
    int Tmax = stream->max_sink_frames > stream->max_chunk_frames ? stream->max_sink_frames : stream->max_chunk_frames;
    float *z0 = first_frame(x, Ci, T, S);
    size_t bytes = 0;
    wm_status st = z0 ? wm_dit_stream_plan(be, w, stream, c->L, &bytes) : WM_ERR_OUT_OF_MEMORY;
    if (st == WM_OK) st = smp_init(&s, be, w, c, cb, NULL, Tmax, bytes);
    if (st == WM_OK) st = wm_dit_stream_zero(stream);
    for (int k = 0; st == WM_OK && k < nc; k++) {
        int f0 = bounds[k], n = bounds[k + 1] - f0;
        frames_copy(s.xb, x, Ci, T, S, f0, n, 0);
        frames_copy(s.pb, (float *)c->plucker, w->cfg.plucker_channels, T, S, f0, n, 0);
        wm_dit_chunk ck = {s.xb, z0, n, f0, k, c->y, c->mask, c->L, c->cam + (size_t)f0 * 20, s.pb, t_list, n_t};
        st = wm_dit_stream_chunk(be, w, stream, s.arena, &ck, cb);
        if (st == WM_OK) frames_copy(s.xb, x, Ci, T, S, f0, n, 1);
    }
    smp_free(&s);
    free(z0);
    return st;
}
