/* LTX-2 VAE decoder: chunk-streaming causal decode (spec §1.5.1) and whole-clip non-causal decode.
 *
 * A wm_vae_decoder is one stream: one 2-frame cache per temporal conv (the last two frames of that
 * conv's INPUT, after norm+SiLU), one "first call done" flag per upsampler, and an activation arena.
 * On the first call every conv sees its first input frame replicated twice and every upsampler drops
 * its first output frame, exactly as a causal whole-clip decode pads and trims; later calls take the
 * cached frames as left context and keep all frames. Because each conv output is a fixed-order sum
 * that does not depend on how many frames a call holds, any split into calls gives bit-identical
 * pixels to one call over the whole clip (tests/vae/test_vae_decode.c).
 * The arena is planned at create time by running the forward with dry = 1 (shapes only) on the
 * largest first call, so decode calls never allocate. Activations of a resolution level stay live
 * until the call ends (bump arena); the largest level dominates, so this costs < 1/3 extra.
 */
#include "wm/vae/vae_internal.h"
#include "kernels/cuda/vae_conv.h"
#include "kernels/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wm_vae_decoder {
    wm_vae *vae;
    wm_vae_decoder_params p;
    int causal, stream;
    wm_arena arena;
    wm_tensor caches[WM_VAE_MAX_SLOTS];   /* (Cin, 2, h, w) per decoder conv */
    int fresh[WM_VAE_MAX_SLOTS];          /* 1: cache holds nothing yet */
    int trimmed[WM_VAE_MAX_BLOCKS];       /* 1: upsampler already dropped its first frame */
    void *cache_mem;
    size_t cache_bytes;
    size_t scratch_need;                  /* CUDA conv engine scratch of this decoder's convs (bf16) */
};

wm_status wm__vae_tensor(vae_fwd *f, int64_t c, int64_t t, int64_t h, int64_t w, wm_tensor *out)
{
    int64_t s[4] = {c, t, h, w};
    wm_status st = wm_arena_tensor(f->arena, f->dtype, 4, s, out);
    if (st != WM_OK) return wm__errf(f->err, st, "VAE: activation arena too small (%zu of %zu bytes used)",
                                     f->arena->used, f->arena->cap);
    return WM_OK;
}

wm_status wm__vae_op(vae_fwd *f, wm_status st)
{
    if (st != WM_OK && f->err) *f->err = f->be->err, f->err->code = st;
    return st;
}

#define OP(f, call) do { if (!(f)->dry) WM_TRY(wm__vae_op((f), (call))); } while (0)
/* OP with a profiling category (wm__vae_mark) around it; the marks are no-ops unless benchmarking. */
#define OPC(f, cat, call)                                                                          \
    do {                                                                                           \
        if (!(f)->dry) {                                                                           \
            wm__vae_mark((f), (cat));                                                              \
            WM_TRY(wm__vae_op((f), (call)));                                                       \
            wm__vae_mark((f), 1);                                                                  \
        }                                                                                          \
    } while (0)

void wm__vae_stage(vae_fwd *f, const char *name, const wm_tensor *t)
{
    if (f->on_stage && !f->dry) f->on_stage(f->user, name, t);
}

wm_status wm__vae_conv(vae_fwd *f, const vae_conv *cv, const wm_tensor *x, int causal, int reflect,
                       wm_tensor *caches, int *fresh, wm_tensor *y)
{
    return wm__vae_conv_ex(f, cv, x, causal, reflect, caches, fresh, 0, y);
}

wm_status wm__vae_conv_ex(vae_fwd *f, const vae_conv *cv, const wm_tensor *x, int causal, int reflect,
                          wm_tensor *caches, int *fresh, int post, wm_tensor *y)
{
    int s = caches ? cv->slot : -1;
    const wm_tensor *left = s >= 0 && !fresh[s] ? &caches[s] : NULL;
    WM_TRY(wm__vae_conv3d(f, x, left, &cv->w, &cv->b, causal, reflect, post, y));
    if (s >= 0) {
        OPC(f, 4, wm_vae_cache_push(f->be, &caches[s], x, fresh[s]));  /* after the conv read the old one */
        if (!f->dry) fresh[s] = 0;
    }
    return WM_OK;
}

/* x += conv2(silu(rms(conv1(silu(rms(x)))))), in place; temporaries released on return. On the CUDA
 * engine's bf16 paths conv1's output pass applies the norm + SiLU and conv2's adds the residual (x +=
 * conv2(.)), each from fp32 before the single rounding: two passes over the activations fewer each. */
wm_status wm__vae_resnet(vae_fwd *f, const vae_resnet *r, wm_tensor *x, int causal, int reflect,
                         wm_tensor *caches, int *fresh)
{
    size_t mark = wm_arena_mark(f->arena);
    wm_tensor t1, t2;
    const int64_t *s = x->shape;
    WM_TRY(wm__vae_tensor(f, s[0], s[1], s[2], s[3], &t1));
    WM_TRY(wm__vae_tensor(f, s[0], s[1], s[2], s[3], &t2));
    OPC(f, 2, wm_vae_rmsnorm_silu(f->be, x, 1e-8f, 1, &t1));
    if (wm__vae_fuses_add(f, &t1)) {
        WM_TRY(wm__vae_conv_ex(f, &r->conv1, &t1, causal, reflect, caches, fresh, WM_VAE_CONV_POST_RMS_SILU, &t2));
        WM_TRY(wm__vae_conv_ex(f, &r->conv2, &t2, causal, reflect, caches, fresh, WM_VAE_CONV_POST_ACC, x));
    } else {
        WM_TRY(wm__vae_conv(f, &r->conv1, &t1, causal, reflect, caches, fresh, &t2));
        OPC(f, 2, wm_vae_rmsnorm_silu(f->be, &t2, 1e-8f, 1, &t2));
        WM_TRY(wm__vae_conv(f, &r->conv2, &t2, causal, reflect, caches, fresh, &t1));
        OPC(f, 5, wm_gated_add(f->be, x, &t1, NULL, 0));
    }
    wm_arena_rewind(f->arena, mark);
    return WM_OK;
}

/* Upsampler: conv to C*n/f channels, depth-to-space, drop `trim` leading frames, + repeated residual. */
static wm_status upsample(wm_vae_decoder *d, vae_fwd *f, const vae_up *u, const wm_tensor *x, wm_tensor *y)
{
    int reflect = d->vae->cfg.decoder_reflect, trim = u->s[0] - 1;
    if (d->stream && d->trimmed[u->trim_slot]) trim = 0;
    const int64_t *s = x->shape;
    int64_t n = (int64_t)u->s[0] * u->s[1] * u->s[2], co = s[0] / u->factor;
    WM_TRY(wm__vae_tensor(f, co, s[1] * u->s[0] - trim, s[2] * u->s[1], s[3] * u->s[2], y));
    size_t mark = wm_arena_mark(f->arena);
    wm_tensor c;
    WM_TRY(wm__vae_tensor(f, s[0] * n / u->factor, s[1], s[2], s[3], &c));
    WM_TRY(wm__vae_conv(f, &u->conv, x, d->causal, reflect, d->stream ? d->caches : NULL, d->fresh, &c));
    OPC(f, 3, wm_vae_depth_to_space(f->be, &c, u->s[0], u->s[1], u->s[2], 0, trim, 0, y));
    if (u->residual) OPC(f, 3, wm_vae_depth_to_space(f->be, x, u->s[0], u->s[1], u->s[2], 0, trim, 1, y));
    wm_arena_rewind(f->arena, mark);
    if (d->stream && !f->dry) d->trimmed[u->trim_slot] = 1;
    return WM_OK;
}

/* The whole decoder on z (latent, t, h, w) -> pixels; pixels NULL in the dry run. */
static wm_status forward(wm_vae_decoder *d, vae_fwd *f, const wm_tensor *z, wm_tensor *pixels)
{
    const wm_vae *v = d->vae;
    const wm_vae_config *c = &v->cfg;
    int reflect = c->decoder_reflect, causal = d->causal, p = c->patch_size;
    wm_tensor *caches = d->stream ? d->caches : NULL;
    const int64_t *zs = z->shape;
    wm_tensor zd, x, y;
    WM_TRY(wm__vae_tensor(f, zs[0], zs[1], zs[2], zs[3], &zd));
    OP(f, wm_vae_channel_affine(f->be, z, &v->dec_mul, &v->dec_add, &zd));      /* z*std/sf + mean */
    WM_TRY(wm__vae_tensor(f, v->dec_in.w.shape[0], zs[1], zs[2], zs[3], &x));
    WM_TRY(wm__vae_conv(f, &v->dec_in, &zd, causal, reflect, caches, d->fresh, &x));
    wm__vae_stage(f, "decoder.conv_in", &x);
    for (int k = 0; k < v->n_dec_mid; k++) WM_TRY(wm__vae_resnet(f, &v->dec_mid[k], &x, causal, reflect, caches, d->fresh));
    wm__vae_stage(f, "decoder.mid_block", &x);
    for (int i = 0; i < c->n_dec_blocks; i++) {
        const vae_up *u = &v->up[i];
        if (u->scale) {
            WM_TRY(upsample(d, f, u, &x, &y));
            x = y;
        }
        for (int k = 0; k < u->n_res; k++) WM_TRY(wm__vae_resnet(f, &u->res[k], &x, causal, reflect, caches, d->fresh));
        char name[64];
        snprintf(name, sizeof name, "decoder.up_blocks.%d", i);
        wm__vae_stage(f, name, &x);
    }
    OPC(f, 2, wm_vae_rmsnorm_silu(f->be, &x, 1e-8f, 1, &x));
    WM_TRY(wm__vae_tensor(f, v->dec_out.w.shape[0], x.shape[1], x.shape[2], x.shape[3], &y));
    WM_TRY(wm__vae_conv(f, &v->dec_out, &x, causal, reflect, caches, d->fresh, &y));
    wm__vae_stage(f, "decoder.conv_out", &y);
    if (pixels) OPC(f, 3, wm_vae_depth_to_space(f->be, &y, 1, p, p, 1, 0, 0, pixels));   /* 4x4 unpatchify */
    return WM_OK;
}

int64_t wm_vae_decoder_out_frames(const wm_vae_decoder *d, int64_t t)
{
    for (int i = 0; i < d->vae->cfg.n_dec_blocks; i++) {
        const vae_up *u = &d->vae->up[i];
        if (!u->scale) continue;
        int first = !d->stream || !d->trimmed[u->trim_slot];
        t = t * u->s[0] - (first ? u->s[0] - 1 : 0);
    }
    return t;
}

void wm_vae_decoder_reset(wm_vae_decoder *d)
{
    for (int i = 0; i < WM_VAE_MAX_SLOTS; i++) d->fresh[i] = 1;
    memset(d->trimmed, 0, sizeof d->trimmed);
}

/* One (C, 2, h, w) cache per decoder conv, sized by the resolution level the conv runs at. Returns the
 * total bytes; with base != NULL also points the cache views into it. */
static size_t cache_layout(wm_vae_decoder *d, char *base)
{
    const wm_vae *v = d->vae;
    int64_t hs[WM_VAE_MAX_BLOCKS + 1], ws[WM_VAE_MAX_BLOCKS + 1];
    hs[0] = d->p.lat_h, ws[0] = d->p.lat_w;
    for (int i = 0; i < v->cfg.n_dec_blocks; i++) {
        const vae_up *u = &v->up[i];
        hs[i + 1] = hs[i] * (u->scale ? u->s[1] : 1), ws[i + 1] = ws[i] * (u->scale ? u->s[2] : 1);
    }
    size_t total = 0;
    for (int s = 0; s < v->n_slots; s++) {
        int64_t shape[4] = {v->slot_ch[s], 2, hs[v->slot_level[s]], ws[v->slot_level[s]]};
        wm_tensor t = wm_tensor_view(v->act_dtype, v->be->device, base ? base + total : NULL, 4, shape);
        if (base) d->caches[s] = t;
        total += (wm_tensor_nbytes(&t) + 255) & ~(size_t)255;
    }
    return total;
}

/* Check the parameters and fill d; plan the arena by a dry run of the largest call (a non-first call:
 * the first call's trims only remove frames). Allocates nothing. */
static wm_status plan(wm_vae *vae, const wm_vae_decoder_params *p, wm_vae_decoder *d, size_t *need, wm_error *err)
{
    if (p->lat_h < 1 || p->lat_w < 1 || p->max_frames < 0)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE decoder: bad latent size %dx%d", p->lat_h, p->lat_w);
    if (vae->cfg.decoder_reflect && (p->lat_h < 2 || p->lat_w < 2))
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE decoder: reflect padding needs a latent grid >= 2x2");
    /* As upstream's CausalVaeStreamingDecoder: a decoder trained non-causally (the bidirectional vae/
     * config) must not be streamed; use non_causal = 1 or the ltx2_causal_vae weights. */
    if (!p->non_causal && !vae->cfg.decoder_causal)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE decoder: config has decoder_causal false: streaming needs "
                                                 "the causal VAE (ltx2_causal_vae) or a non-causal decode");
    d->vae = vae, d->p = *p;
    if (!d->p.max_frames) d->p.max_frames = 4;
    d->causal = !p->non_causal, d->stream = !p->non_causal;
    wm_vae_decoder_reset(d);
    wm_arena_init_measure(&d->arena, vae->be->device);
    int64_t zs[4] = {vae->cfg.latent_channels, d->p.max_frames, p->lat_h, p->lat_w};
    wm_tensor z = wm_tensor_view(vae->act_dtype, vae->be->device, NULL, 4, zs);
    vae_fwd f = {vae->be, &d->arena, vae->act_dtype, 1, NULL, NULL, err, vae->conv_eng, {0, 0, 0}, 0};
    if (d->stream) memset(d->trimmed, 1, sizeof d->trimmed);
    wm_status st = forward(d, &f, &z, NULL);
    *need = d->arena.peak;
    if (st == WM_OK && d->stream && vae->conv_eng) { /* the first call's (trimmed) shapes, for the conv plans */
        wm_vae_decoder_reset(d);
        wm_arena_reset(&d->arena); /* used = 0, peak kept: the peak stays the max of both runs */
        st = forward(d, &f, &z, NULL);
        *need = d->arena.peak;
    }
    d->scratch_need = vae->act_dtype == WM_BF16 ? f.scratch[0] + f.scratch[1] + f.scratch[2] : 0;
    wm_vae_decoder_reset(d);
    wm_arena_free(&d->arena);
    return st;
}

wm_status wm_vae_decoder_create(wm_vae *vae, const wm_vae_decoder_params *p, wm_vae_decoder **out, wm_error *err)
{
    *out = NULL;
    wm_vae_decoder *d = calloc(1, sizeof *d);
    if (!d) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE decoder: no memory");
    size_t need = 0;
    wm_status st = plan(vae, p, d, &need, err);
    if (st == WM_OK) st = wm_arena_init(&d->arena, vae->be, need);
    if (st == WM_OK) st = wm__vae_engine_reserve(vae, err);
    if (st == WM_OK && d->stream) {
        d->cache_bytes = cache_layout(d, NULL);
        st = wm_backend_malloc(vae->be, d->cache_bytes, &d->cache_mem);
        if (st == WM_OK) cache_layout(d, d->cache_mem);
    }
    if (st != WM_OK) {
        if (err && err->code == WM_OK) wm__errf(err, st, "VAE decoder: cannot reserve %zu + %zu bytes", need, d->cache_bytes);
        wm_vae_decoder_free(d);
        return st;
    }
    wm__log(WM_LOG_INFO, "vae decoder: %.1f MiB arena + %.1f MiB caches for %d frames of %dx%d latents",
            need / 1048576.0, d->cache_bytes / 1048576.0, d->p.max_frames, p->lat_h, p->lat_w);
    *out = d;
    return WM_OK;
}

wm_status wm_vae_plan(const wm_vae_config *cfg, const wm_vae_load_params *lp, const wm_vae_decoder_params *p,
                      wm_vae_plan_info *out, wm_error *err)
{
    wm_backend be = {0};   /* planning only: no op runs, nothing is allocated on it */
    be.kind = WM_BACKEND_CPU, be.device = WM_DEVICE_CPU;
    wm_vae *v = NULL;
    memset(out, 0, sizeof *out);
    WM_TRY(wm__vae_shapes(cfg, lp, &be, &v, &out->weight_bytes, err));
    wm_vae_decoder *d = calloc(1, sizeof *d);
    wm_status st = d ? plan(v, p, d, &out->decoder_arena_bytes, err) : WM_ERR_OUT_OF_MEMORY;
    if (st == WM_OK && d->stream) out->decoder_cache_bytes = cache_layout(d, NULL);
    if (st == WM_OK) out->conv_scratch_bytes = d->scratch_need;
    free(d);
    wm_vae_free(v);
    return st;
}

void wm_vae_decoder_free(wm_vae_decoder *d)
{
    if (!d) return;
    if (d->arena.base || d->arena.cap) wm_arena_free(&d->arena);
    if (d->cache_mem) wm_backend_mfree(d->vae->be, d->cache_mem);
    free(d);
}

size_t wm_vae_decoder_memory(const wm_vae_decoder *d) { return d->arena.cap + d->cache_bytes; }

wm_status wm_vae_decoder_decode(wm_vae_decoder *d, const wm_tensor *z, wm_tensor *pixels, wm_error *err)
{
    const wm_vae_config *c = &d->vae->cfg;
    int sr = wm_vae_spatial_ratio(c);
    if (z->ndim != 4 || z->shape[0] != c->latent_channels || z->shape[1] < 1 || z->shape[1] > d->p.max_frames ||
        z->shape[2] != d->p.lat_h || z->shape[3] != d->p.lat_w)
        return wm__errf(err, WM_ERR_SHAPE, "VAE decode: z must be (%d, 1..%d, %d, %d)", c->latent_channels,
                        d->p.max_frames, d->p.lat_h, d->p.lat_w);
    int64_t tout = wm_vae_decoder_out_frames(d, z->shape[1]);
    if (pixels->ndim != 4 || pixels->shape[0] != c->out_channels || pixels->shape[1] != tout ||
        pixels->shape[2] != (int64_t)d->p.lat_h * sr || pixels->shape[3] != (int64_t)d->p.lat_w * sr)
        return wm__errf(err, WM_ERR_SHAPE, "VAE decode: pixels must be (%d, %lld, %lld, %lld)", c->out_channels,
                        (long long)tout, (long long)d->p.lat_h * sr, (long long)d->p.lat_w * sr);
    wm_arena_reset(&d->arena);
    vae_fwd f = {d->vae->be, &d->arena, d->vae->act_dtype, 0, d->p.on_stage, d->p.user, err, d->vae->conv_eng,
                 {0, 0, 0}, d->vae->prof};
    return forward(d, &f, z, pixels);
}

/* ---- Stream state (snapshots): header + every conv cache (device bytes, downloaded) + the fresh and
 * trimmed flags as int32. The fingerprint hashes everything that fixes the cache layout (slot channels,
 * levels, latent grid, dtype, bytes), so a blob only loads into a decoder with the identical layout. */
#define STATE_MAGIC 0x53454157u /* "WAES" */
#define STATE_VERSION 1u

typedef struct state_head {
    uint32_t magic, version;
    uint64_t bytes, fingerprint, cache_bytes;
    int32_t n_slots, n_trims;
} state_head;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fingerprint(const wm_vae_decoder *d)
{
    const wm_vae *v = d->vae;
    int32_t g[8] = {d->p.lat_h, d->p.lat_w, (int32_t)v->act_dtype, v->n_slots, v->n_trims,
                    v->cfg.latent_channels, v->cfg.n_dec_blocks, d->causal};
    uint64_t h = fnv(0xcbf29ce484222325ull, g, sizeof g);
    h = fnv(h, v->slot_ch, sizeof(int) * (size_t)v->n_slots);
    h = fnv(h, v->slot_level, sizeof(int) * (size_t)v->n_slots);
    return fnv(h, &d->cache_bytes, sizeof d->cache_bytes);
}

size_t wm_vae_decoder_state_bytes(const wm_vae_decoder *d)
{
    if (!d || !d->stream) return 0;
    return sizeof(state_head) + d->cache_bytes + 4 * (size_t)(d->vae->n_slots + d->vae->n_trims);
}

static void head_of(const wm_vae_decoder *d, state_head *h)
{
    memset(h, 0, sizeof *h);
    h->magic = STATE_MAGIC, h->version = STATE_VERSION, h->bytes = wm_vae_decoder_state_bytes(d);
    h->fingerprint = fingerprint(d), h->cache_bytes = d->cache_bytes;
    h->n_slots = d->vae->n_slots, h->n_trims = d->vae->n_trims;
}

wm_status wm_vae_decoder_state_save(const wm_vae_decoder *d, void *host_buf, size_t n, wm_error *err)
{
    if (!d || !d->stream) return wm__errf(err, WM_ERR_INVALID_ARG, "VAE state save: not a streaming decoder");
    state_head h;
    head_of(d, &h);
    if (!host_buf || n != h.bytes)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE state save: buffer of %zu bytes, need %llu", n,
                        (unsigned long long)h.bytes);
    char *p = host_buf;
    memcpy(p, &h, sizeof h), p += sizeof h;
    wm_status st = wm_backend_download(d->vae->be, p, d->cache_mem, d->cache_bytes);
    if (st != WM_OK) return wm__errf(err, st, "VAE state save: cache download: %s", d->vae->be->err.msg);
    p += d->cache_bytes;
    for (int i = 0; i < d->vae->n_slots; i++, p += 4) memcpy(p, &(int32_t){d->fresh[i]}, 4);
    for (int i = 0; i < d->vae->n_trims; i++, p += 4) memcpy(p, &(int32_t){d->trimmed[i]}, 4);
    return WM_OK;
}

wm_status wm_vae_decoder_state_load(wm_vae_decoder *d, const void *host_buf, size_t n, wm_error *err)
{
    if (!d || !d->stream) return wm__errf(err, WM_ERR_INVALID_ARG, "VAE state load: not a streaming decoder");
    state_head want, h;
    head_of(d, &want);
    if (!host_buf || n < sizeof h) return wm__errf(err, WM_ERR_INVALID_ARG, "VAE state load: %zu bytes, no header", n);
    memcpy(&h, host_buf, sizeof h);
    if (h.magic != STATE_MAGIC || h.version != STATE_VERSION)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE state load: not a VAE decoder state (magic/version)");
    if (h.fingerprint != want.fingerprint || h.bytes != want.bytes || h.cache_bytes != want.cache_bytes ||
        h.n_slots != want.n_slots || h.n_trims != want.n_trims)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE state load: state of another decoder config (fingerprint "
                        "%016llx, this decoder %016llx)", (unsigned long long)h.fingerprint,
                        (unsigned long long)want.fingerprint);
    if (n != want.bytes)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE state load: %zu bytes, need %llu (truncated?)", n,
                        (unsigned long long)want.bytes);
    const char *p = (const char *)host_buf + sizeof h;
    wm_status st = wm_backend_upload(d->vae->be, d->cache_mem, p, d->cache_bytes);
    if (st != WM_OK) return wm__errf(err, st, "VAE state load: cache upload: %s", d->vae->be->err.msg);
    p += d->cache_bytes;
    int32_t x;
    for (int i = 0; i < d->vae->n_slots; i++, p += 4) memcpy(&x, p, 4), d->fresh[i] = x != 0;
    for (int i = 0; i < d->vae->n_trims; i++, p += 4) memcpy(&x, p, 4), d->trimmed[i] = x != 0;
    return WM_OK;
}
