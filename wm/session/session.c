/* session.c -- one live SANA-WM rollout (spec §1.12, §5.4): reset from a start image, then one DiT
 * chunk per step, decoded by the causal VAE with its caches carried.
 *
 * Per step: camera window (raw frame 0 + the chunk's 24 poses) -> camera_conditions + chunk Plücker of
 * the chunk's latent frames; noise of chunk c from the counter-based RNG keyed by (seed, c) (the spec
 * draws one tensor for the whole video; an unbounded rollout cannot, and this keeps any chunk O(1) to
 * reproduce); chunk 0 gets the clean first-frame latent in frame 0; wm_dit_stream_chunk runs the 4
 * distilled Euler steps and the t = 0 save pass; the clean chunk goes through the causal VAE decoder
 * (chunk 0: 4 latent frames -> 25 pixel frames, the first -- the start image's reconstruction -- is
 * dropped; later: 3 -> 24); pixels -> uint8 with clamp(127.5 x + 127.5) and truncation (spec §1.5).
 * Everything is allocated at create (the DiT arena by wm_dit_stream_plan's measuring pass), so steps
 * never allocate and memory is constant however long the rollout runs. DiT and VAE run on the model's
 * backend (CPU or CUDA): the DiT takes host fp32 chunk inputs and stages them itself; the VAE's input and
 * output go through device buffers (plain host memory on the CPU backend). The VAE runs in fp32.
 */
#include "wm/session/session_internal.h"

#include "wm/vae/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void wm_session_noise(uint64_t seed, int64_t chunk, int in_ch, int n, int hw, float *out)
{
    /* splitmix64 of (key, counter) -> two 24-bit uniforms -> Box-Muller pair; u1 in (0, 1] */
    uint64_t key = mix64(seed ^ mix64((uint64_t)chunk * 0xD1B54A32D192ED03ull + 0x5EED));
    size_t total = (size_t)in_ch * n * hw;
    for (size_t i = 0; i < total; i += 2) {
        uint64_t r = mix64(key + i / 2);
        double u1 = (double)((r >> 40) + 1) / 16777216.0, u2 = (double)((r >> 16) & 0xFFFFFF) / 16777216.0;
        double rad = sqrt(-2.0 * log(u1)), ang = 6.283185307179586 * u2;
        out[i] = (float)(rad * cos(ang));
        if (i + 1 < total) out[i + 1] = (float)(rad * sin(ang));
    }
}

static void *zalloc(wm_session *s, size_t bytes)
{
    s->resident += bytes;
    return calloc(1, bytes ? bytes : 1);
}

/* VAE input/output on the model backend's device (host memory on the CPU backend). */
static wm_status device_buffers(wm_session *s, wm_error *err)
{
    size_t bz = (size_t)s->Ci * s->n0 * s->S * 4, bp = (size_t)3 * (1 + (size_t)s->stride * s->n0) * s->H * s->W * 4;
    size_t bl = (size_t)s->Ci * s->S * 4;
    wm_backend *be = s->m->be;
    if (wm_backend_malloc(be, bz, &s->d_z) != WM_OK || wm_backend_malloc(be, bp, &s->d_pix) != WM_OK ||
        wm_backend_malloc(be, bl, &s->d_lat) != WM_OK)
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "session: cannot reserve %zu bytes of %s memory", bz + bp + bl,
                        wm_backend_name(be));
    s->resident += bz + bp + bl;
    return WM_OK;
}

static wm_status session_init(wm_session *s, wm_model *m, wm_error *err)
{
    const wm_dit_config *c = &m->cfg;
    s->m = m, s->cfg = c;
    s->H = m->height, s->W = m->width, s->h = c->latent_h, s->w = c->latent_w, s->S = s->h * s->w;
    s->Ci = c->in_channels, s->cs = c->chunk_size, s->n0 = 1 + c->chunk_size, s->stride = c->vae_stride_t;
    s->fps = s->cs * s->stride;
    s->L = c->caption_length, s->Cy = c->caption_channels;
    size_t lat = (size_t)s->Ci * s->n0 * s->S * 4, nw = (size_t)s->fps + 1;
    s->noise = zalloc(s, lat), s->x = zalloc(s, lat), s->z0 = zalloc(s, (size_t)s->Ci * s->S * 4);
    s->c2w = zalloc(s, nw * 64), s->rel = zalloc(s, nw * 64), s->intr = zalloc(s, nw * 16), s->lintr = zalloc(s, nw * 16);
    size_t plk = (size_t)c->plucker_channels * s->n0 * s->S * 4;
    s->cam_w = zalloc(s, (size_t)s->n0 * 80), s->cam = zalloc(s, (size_t)s->n0 * 80);
    s->plk_w = zalloc(s, plk), s->plk = zalloc(s, plk);
    s->pix = zalloc(s, (size_t)3 * (1 + (size_t)s->stride * s->n0) * s->H * s->W * 4);
    s->img = zalloc(s, (size_t)3 * s->H * s->W * 4);
    s->y = zalloc(s, (size_t)s->L * s->Cy * 4), s->mask = zalloc(s, (size_t)s->L);
    if (!s->noise || !s->x || !s->z0 || !s->c2w || !s->rel || !s->intr || !s->lintr || !s->cam_w || !s->cam ||
        !s->plk_w || !s->plk || !s->pix || !s->img || !s->y || !s->mask)
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "session: out of memory for %zu bytes of buffers", s->resident);
    if (wm_dit_stream_create_on(m->be, c, s->n0, s->cs, &s->stream) != WM_OK)
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "session: cannot allocate the DiT streaming caches");
    size_t bytes = 0;
    wm_status st = wm_dit_stream_plan(m->be, m->dit, s->stream, s->L, &bytes);
    if (st != WM_OK) return wm__errf(err, st, "session: DiT arena plan: %s", m->be->err.msg);
    WM_TRY(wm_arena_init(&s->arena, m->be, bytes));
    WM_TRY(device_buffers(s, err));
    wm_vae_decoder_params dp = {0};
    dp.lat_h = s->h, dp.lat_w = s->w, dp.max_frames = s->n0;
    WM_TRY(wm_vae_decoder_create(m->vae, &dp, &s->dec, err));
    s->resident += bytes + wm_vae_decoder_memory(s->dec);
    for (int i = 0; i < c->depth; i++) {
        const wm_tensor *t = (const wm_tensor *)&s->stream->blocks[i];
        for (size_t j = 0; j < sizeof(wm_dit_block_cache) / sizeof(wm_tensor); j++)
            if (t[j].data) s->resident += wm_tensor_nbytes(&t[j]);
    }
    s->last_index = -1;
    return WM_OK;
}

wm_status wm_session_create(wm_model *m, wm_session **out, wm_error *err)
{
    *out = NULL;
    wm_session *s = calloc(1, sizeof *s);
    if (!s) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "session: out of memory");
    wm_status st = session_init(s, m, err);
    if (st != WM_OK) {
        wm_session_free(s);
        return st;
    }
    *out = s;
    return WM_OK;
}

void wm_session_free(wm_session *s)
{
    if (!s) return;
    wm_vae_decoder_free(s->dec);
    if (s->m) {
        if (s->d_z) wm_backend_mfree(s->m->be, s->d_z);
        if (s->d_pix) wm_backend_mfree(s->m->be, s->d_pix);
        if (s->d_lat) wm_backend_mfree(s->m->be, s->d_lat);
    }
    wm_arena_free(&s->arena);
    wm_dit_stream_free(s->stream);
    free(s->noise), free(s->x), free(s->z0), free(s->c2w), free(s->rel), free(s->intr), free(s->lintr);
    free(s->cam_w), free(s->cam), free(s->plk_w), free(s->plk), free(s->pix), free(s->img), free(s->y), free(s->mask);
    free(s);
}

int wm_session_frames_per_step(const wm_session *s) { return s->fps; }

wm_status wm_session_reset(wm_session *s, const uint8_t *rgb, int h0, int w0, const wm_pose *pose0, uint64_t seed,
                           uint8_t *frame0, wm_error *err)
{
    if (!rgb || h0 < 1 || w0 < 1 || !pose0 || !frame0)
        return wm__errf(err, WM_ERR_INVALID_ARG, "session reset: needs a start image, a pose and an output frame");
    s->has_reset = 0;
    WM_TRY(wm_image_cover_crop(rgb, h0, w0, frame0, s->H, s->W, err));
    wm_image_to_unit(frame0, s->H, s->W, s->img);
    wm_backend *be = s->m->be;
    wm_tensor x = wm_tensor_view4(WM_F32, WM_DEVICE_CPU, s->img, 4, 3, 1, s->H, s->W); /* host input */
    wm_tensor z = wm_tensor_view4(WM_F32, be->device, s->d_lat, 4, s->Ci, 1, s->h, s->w);
    WM_TRY(wm_vae_encode_tiled(s->m->vae, &x, &z, 0, 0, err)); /* allocates its scratch: once per episode */
    if (wm_backend_download(be, s->z0, s->d_lat, (size_t)s->Ci * s->S * 4) != WM_OK)
        return wm__errf(err, WM_ERR_IO, "session reset: first-frame latent download: %s", be->err.msg);
    if (!s->has_y) WM_TRY(wm__session_default_prompt(s, err));
    if (wm_dit_stream_zero(s->stream) != WM_OK)
        return wm__errf(err, WM_ERR_IO, "session reset: clearing the DiT caches: %s", be->err.msg);
    wm_vae_decoder_reset(s->dec);
    s->seed = seed;
    s->chunk = 0;
    s->pose0 = *pose0;
    s->has_reset = 1;
    s->last_index = -1;
    return WM_OK;
}

/* (3, T, H, W) in ~[-1, 1] from frame `skip` on -> (T - skip, H, W, 3) uint8, truncating (spec §1.5). */
static void to_rgb8(const float *pix, int T, int skip, int H, int W, uint8_t *rgb)
{
    size_t plane = (size_t)H * W, frame = (size_t)T * plane;
    for (int t = skip; t < T; t++)
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) {
                float v = 127.5f * pix[c * frame + (size_t)t * plane + p] + 127.5f;
                v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
                rgb[((size_t)(t - skip) * plane + p) * 3 + c] = (uint8_t)v;
            }
}

static wm_status run_dit(wm_session *s, int n, int frame0, wm_error *err)
{
    wm_session_noise(s->seed, s->chunk, s->Ci, n, s->S, s->noise);
    if (s->chunk == 0) /* frame 0 of chunk 0 is the clean first-frame latent (spec §1.8) */
        for (int c = 0; c < s->Ci; c++) memcpy(s->noise + (size_t)c * n * s->S, s->z0 + (size_t)c * s->S, (size_t)s->S * 4);
    memcpy(s->x, s->noise, (size_t)s->Ci * n * s->S * 4);
    wm_dit_chunk ck = {s->x, s->z0, n, frame0, (int)s->chunk, s->y, s->mask, s->L, s->cam, s->plk, NULL, 0};
    wm_status st = wm_dit_stream_chunk(s->m->be, s->m->dit, s->stream, &s->arena, &ck, NULL);
    if (st != WM_OK) return wm__errf(err, st, "session chunk %lld: DiT: %s", (long long)s->chunk, s->m->be->err.msg);
    return WM_OK;
}

/* Clean latents (host) -> device -> causal VAE -> pixels back on the host (fp32). */
static wm_status decode(wm_session *s, int n, int64_t tout, wm_error *err)
{
    wm_backend *be = s->m->be;
    size_t bz = (size_t)s->Ci * n * s->S * 4, bp = (size_t)3 * tout * s->H * s->W * 4;
    if (wm_backend_upload(be, s->d_z, s->x, bz) != WM_OK)
        return wm__errf(err, WM_ERR_IO, "session chunk %lld: latent upload: %s", (long long)s->chunk, be->err.msg);
    wm_tensor z = wm_tensor_view4(WM_F32, be->device, s->d_z, 4, s->Ci, n, s->h, s->w);
    wm_tensor px = wm_tensor_view4(WM_F32, be->device, s->d_pix, 4, 3, tout, s->H, s->W);
    WM_TRY(wm_vae_decoder_decode(s->dec, &z, &px, err));
    if (wm_backend_download(be, s->pix, s->d_pix, bp) != WM_OK)
        return wm__errf(err, WM_ERR_IO, "session chunk %lld: pixel download: %s", (long long)s->chunk, be->err.msg);
    return WM_OK;
}

wm_status wm_session_step(wm_session *s, const wm_pose *poses, uint8_t *rgb, wm_error *err)
{
    if (!s->has_reset) return wm__errf(err, WM_ERR_STATE, "session step: no reset yet");
    if (!poses || !rgb) return wm__errf(err, WM_ERR_INVALID_ARG, "session step: needs %d poses and an output buffer", s->fps);
    if (s->chunk >= INT32_MAX / 8)
        return wm__errf(err, WM_ERR_LIMIT, "session step: rollout longer than the frame counter allows");
    int first = s->chunk == 0, n = first ? s->n0 : s->cs;
    int frame0 = first ? 0 : 1 + (int)s->chunk * s->cs;
    wm__session_camera(s, poses);
    WM_TRY(run_dit(s, n, frame0, err));
    int64_t tout = wm_vae_decoder_out_frames(s->dec, n);
    if (tout - first != s->fps)
        return wm__errf(err, WM_ERR_SHAPE, "session: the VAE yields %lld frames for %d latent frames, expected %d",
                        (long long)tout, n, s->fps + first);
    WM_TRY(decode(s, n, tout, err));
    to_rgb8(s->pix, (int)tout, first, s->H, s->W, rgb);
    s->last_index = (int)s->chunk, s->last_frame0 = frame0, s->last_n = n;
    s->chunk++;
    return WM_OK;
}

void wm_session_chunk(const wm_session *s, wm_session_chunk_info *o)
{
    memset(o, 0, sizeof *o);
    o->index = s->last_index, o->frame0 = s->last_frame0, o->n_frames = s->last_n;
    o->noise = s->noise, o->latent = s->x, o->z0 = s->z0, o->cam = s->cam, o->plucker = s->plk;
    o->y = s->y, o->mask = s->mask, o->L = s->L;
    o->dit_arena_peak = s->arena.peak;
    o->resident_bytes = s->resident;
}
