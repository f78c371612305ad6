/* LTX-2 VAE encoder: pixels in [-1,1] -> normalised posterior mode (spec §1.4/§1.5).
 *
 * 4x4 patchify (space-to-depth, width offset before height offset as in diffusers), conv_in, down
 * blocks (ResNets, then a downsampler = conv to cout/n channels + space-to-depth, plus the space-to-
 * depth of its input averaged over channel groups; temporal strides first prepend (st-1) copies of
 * frame 0), mid block, norm + SiLU + conv_out to latent+1 channels. Channels [0, latent) are the
 * posterior mean (= its mode); the last one is the shared log-variance, unused by SANA-WM. The mean is
 * normalised (mean - latents_mean) * scaling_factor / latents_std.
 * The encoder runs once per session (first frame), so it plans and frees its own arena per call
 * (a dry run gives the exact peak) instead of holding memory for the whole session.
 */
#include "wm/vae/vae_internal.h"
#include "kernels/ops.h"

#include <stdio.h>

#define OP(f, call) do { if (!(f)->dry) WM_TRY(wm__vae_op((f), (call))); } while (0)

static wm_status downsample(vae_fwd *f, const wm_vae *v, const vae_down *d, const wm_tensor *x, wm_tensor *y)
{
    int reflect = v->cfg.encoder_reflect, causal = v->cfg.encoder_causal;
    const int *s = d->s;
    int64_t n = (int64_t)s[0] * s[1] * s[2], C = x->shape[0], T = x->shape[1] + s[0] - 1;
    int64_t H = x->shape[2], W = x->shape[3], co = d->conv.w.shape[0] * n;
    WM_TRY(wm__vae_tensor(f, co, T / s[0], H / s[1], W / s[2], y));
    size_t mark = wm_arena_mark(f->arena);
    wm_tensor xp = *x, c;
    if (s[0] > 1) {
        WM_TRY(wm__vae_tensor(f, C, T, H, W, &xp));
        OP(f, wm_vae_pad_frames(f->be, x, s[0] - 1, &xp));
    }
    WM_TRY(wm__vae_tensor(f, d->conv.w.shape[0], T, H, W, &c));
    WM_TRY(wm__vae_conv(f, &d->conv, &xp, causal, reflect, NULL, NULL, &c));
    OP(f, wm_vae_space_to_depth(f->be, &c, s[0], s[1], s[2], 0, 1, 0, y));
    OP(f, wm_vae_space_to_depth(f->be, &xp, s[0], s[1], s[2], 0, d->group, 1, y));
    wm_arena_rewind(f->arena, mark);
    return WM_OK;
}

/* x -> raw conv_out (latent+1 channels; into `raw` when given) -> normalised mean into `latent`. */
static wm_status forward(vae_fwd *f, const wm_vae *v, const wm_tensor *x, wm_tensor *latent, wm_tensor *raw)
{
    const wm_vae_config *c = &v->cfg;
    int p = c->patch_size, reflect = c->encoder_reflect, causal = c->encoder_causal;
    const int64_t *s = x->shape;
    wm_tensor xp, h, y;
    WM_TRY(wm__vae_tensor(f, s[0] * p * p, s[1], s[2] / p, s[3] / p, &xp));
    OP(f, wm_vae_space_to_depth(f->be, x, 1, p, p, 1, 1, 0, &xp));
    wm__vae_stage(f, "encoder.patchify", &xp);
    WM_TRY(wm__vae_tensor(f, v->enc_in.w.shape[0], s[1], s[2] / p, s[3] / p, &h));
    WM_TRY(wm__vae_conv(f, &v->enc_in, &xp, causal, reflect, NULL, NULL, &h));
    wm__vae_stage(f, "encoder.conv_in", &h);
    char name[64];
    for (int i = 0; i < c->n_enc_blocks; i++) {
        const vae_down *d = &v->down[i];
        for (int k = 0; k < d->n_res; k++) WM_TRY(wm__vae_resnet(f, &d->res[k], &h, causal, reflect, NULL, NULL));
        if (d->scale) {
            WM_TRY(downsample(f, v, d, &h, &y));
            h = y;
        }
        snprintf(name, sizeof name, "encoder.down_blocks.%d", i);
        wm__vae_stage(f, name, &h);
    }
    for (int k = 0; k < v->n_enc_mid; k++) WM_TRY(wm__vae_resnet(f, &v->enc_mid[k], &h, causal, reflect, NULL, NULL));
    wm__vae_stage(f, "encoder.mid_block", &h);
    OP(f, wm_vae_rmsnorm_silu(f->be, &h, 1e-8f, 1, &h));
    if (raw) y = *raw;
    else WM_TRY(wm__vae_tensor(f, c->latent_channels + 1, h.shape[1], h.shape[2], h.shape[3], &y));
    WM_TRY(wm__vae_conv(f, &v->enc_out, &h, causal, reflect, NULL, NULL, &y));
    wm__vae_stage(f, "encoder.conv_out", &y);
    /* The mean is the leading latent_channels planes of the channels-first output: a prefix view. */
    wm_tensor mean = y;
    mean.shape[0] = c->latent_channels;
    if (latent) OP(f, wm_vae_channel_affine(f->be, &mean, &v->enc_mul, &v->enc_add, latent));
    return WM_OK;
}

static wm_status check_x(const wm_vae *v, const wm_tensor *x, wm_error *err)
{
    const wm_vae_config *c = &v->cfg;
    int sr = wm_vae_spatial_ratio(c), tr = wm_vae_temporal_ratio(c);
    if (x->ndim != 4 || x->shape[0] != c->in_channels || x->shape[1] < 1 || (x->shape[1] - 1) % tr ||
        x->shape[2] < sr || x->shape[2] % sr || x->shape[3] < sr || x->shape[3] % sr)
        return wm__errf(err, WM_ERR_SHAPE, "VAE encode: x must be (%d, 1+%dk, H, W) with H, W multiples of %d",
                        c->in_channels, tr, sr);
    return WM_OK;
}

/* Plan the arena by a dry run, reserve it, run, release. latent and/or raw receive the outputs. */
wm_status wm__vae_encode_run(wm_vae *v, const wm_tensor *x, wm_tensor *latent, wm_tensor *raw,
                             wm_vae_stage_fn on_stage, void *user, wm_error *err)
{
    WM_TRY(check_x(v, x, err));
    wm_arena arena;
    wm_arena_init_measure(&arena, v->be->device);
    vae_fwd f = {v->be, &arena, v->act_dtype, 1, on_stage, user, err, v->conv_eng, {0, 0, 0}, v->prof};
    WM_TRY(forward(&f, v, x, NULL, NULL));
    WM_TRY(wm__vae_engine_reserve(v, err));
    size_t need = arena.peak;
    wm_status st = wm_arena_init(&arena, v->be, need);
    if (st != WM_OK) return wm__errf(err, st, "VAE encode: cannot reserve %zu bytes of activations", need);
    f.dry = 0;
    st = forward(&f, v, x, latent, raw);
    wm_arena_free(&arena);
    return st;
}

wm_status wm_vae_encode(wm_vae *v, const wm_tensor *x, wm_tensor *latent, wm_vae_stage_fn on_stage, void *user,
                        wm_error *err)
{
    const wm_vae_config *c = &v->cfg;
    int sr = wm_vae_spatial_ratio(c), tr = wm_vae_temporal_ratio(c);
    WM_TRY(check_x(v, x, err));
    int64_t t = 1 + (x->shape[1] - 1) / tr;
    if (latent->ndim != 4 || latent->shape[0] != c->latent_channels || latent->shape[1] != t ||
        latent->shape[2] != x->shape[2] / sr || latent->shape[3] != x->shape[3] / sr)
        return wm__errf(err, WM_ERR_SHAPE, "VAE encode: latent must be (%d, %lld, %lld, %lld)", c->latent_channels,
                        (long long)t, (long long)(x->shape[2] / sr), (long long)(x->shape[3] / sr));
    return wm__vae_encode_run(v, x, latent, NULL, on_stage, user, err);
}
