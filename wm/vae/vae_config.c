/* LTX-2 VAE config: diffusers config.json -> wm_vae_config, plus the derived geometry and FLOP counts.
 *
 * The keys and defaults are those of diffusers' AutoencoderKLLTX2Video.__init__ (and NVlabs/Sana's
 * AutoencoderKLCausalLTX2Video, which adds `decoder_upsample_type`). Lists may be given as a single
 * bool where diffusers accepts one. Features SANA-WM's checkpoints do not use and this port does not
 * implement are refused by name instead of being silently ignored.
 */
#include "wm/vae/vae.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wm_vae_config wm_vae_config_default(void)
{
    wm_vae_config c = {0};
    static const int boc[4] = {256, 512, 1024, 2048}, lpb[5] = {4, 6, 6, 2, 2}, dboc[3] = {256, 512, 1024};
    static const int ds[4][3] = {{1, 2, 2}, {2, 1, 1}, {2, 2, 2}, {2, 2, 2}};
    c.in_channels = c.out_channels = 3;
    c.latent_channels = 128;
    c.n_enc_blocks = 4;
    for (int i = 0; i < 4; i++) {
        c.block_out_channels[i] = boc[i];
        c.spatio_temporal_scaling[i] = 1;
        memcpy(c.down_stride[i], ds[i], sizeof ds[i]);
    }
    memcpy(c.layers_per_block, lpb, sizeof lpb);
    c.n_dec_blocks = 3;
    for (int i = 0; i < 3; i++) {
        c.decoder_block_out_channels[i] = dboc[i];
        c.decoder_spatio_temporal_scaling[i] = 1;
        c.up_stride[i][0] = c.up_stride[i][1] = c.up_stride[i][2] = 2;
        c.upsample_residual[i] = 1;
        c.upsample_factor[i] = 2;
    }
    for (int i = 0; i < 4; i++) c.decoder_layers_per_block[i] = 5;
    c.patch_size = 4;
    c.patch_size_t = 1;
    c.resnet_norm_eps = 1e-6;
    c.scaling_factor = 1.0;
    c.encoder_causal = c.decoder_causal = 1;
    c.encoder_reflect = 0;
    c.decoder_reflect = 1;
    return c;
}

typedef struct {
    json_t *root;
    const char *what;
    wm_error *err;
} pctx;

static wm_status get_int(pctx *p, const char *key, int *v)
{
    json_t *j = json_object_get(p->root, key);
    if (!j || json_is_null(j)) return WM_OK;
    if (!json_is_integer(j) && !json_is_boolean(j))
        return wm__errf(p->err, WM_ERR_FORMAT, "%s: '%s' must be an integer", p->what, key);
    *v = json_is_boolean(j) ? json_is_true(j) : (int)json_integer_value(j);
    return WM_OK;
}

static wm_status get_num(pctx *p, const char *key, double *v)
{
    json_t *j = json_object_get(p->root, key);
    if (!j || json_is_null(j)) return WM_OK;
    if (!json_is_number(j)) return wm__errf(p->err, WM_ERR_FORMAT, "%s: '%s' must be a number", p->what, key);
    *v = json_number_value(j);
    return WM_OK;
}

/* Integer (or bool) list; a scalar bool/int is broadcast to `n_bcast` entries when n_bcast > 0. */
static wm_status get_list(pctx *p, const char *key, int *v, int max, int *n, int n_bcast)
{
    json_t *j = json_object_get(p->root, key);
    if (!j || json_is_null(j)) return WM_OK;
    if ((json_is_boolean(j) || json_is_integer(j)) && n_bcast > 0) {
        for (int i = 0; i < n_bcast; i++) v[i] = json_is_boolean(j) ? json_is_true(j) : (int)json_integer_value(j);
        if (n) *n = n_bcast;
        return WM_OK;
    }
    if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > (size_t)max)
        return wm__errf(p->err, WM_ERR_FORMAT, "%s: '%s' must be a list of 1..%d values", p->what, key, max);
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        if (!json_is_integer(e) && !json_is_boolean(e))
            return wm__errf(p->err, WM_ERR_FORMAT, "%s: '%s'[%zu] must be an integer", p->what, key, i);
        v[i] = json_is_boolean(e) ? json_is_true(e) : (int)json_integer_value(e);
        if (v[i] < 0) return wm__errf(p->err, WM_ERR_FORMAT, "%s: '%s'[%zu] is negative", p->what, key, i);
    }
    if (n) *n = (int)json_array_size(j);
    else if ((int)json_array_size(j) != n_bcast)
        return wm__errf(p->err, WM_ERR_FORMAT, "%s: '%s' must have %d entries", p->what, key, n_bcast);
    return WM_OK;
}

static wm_status get_strides(pctx *p, const char *key, int (*s)[3], int n)
{
    json_t *j = json_object_get(p->root, key);
    if (!j || json_is_null(j)) return WM_OK;
    if (!json_is_array(j) || json_array_size(j) != (size_t)n)
        return wm__errf(p->err, WM_ERR_FORMAT, "%s: '%s' must be a list of %d strings", p->what, key, n);
    for (int i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(j, (size_t)i));
        int st = 0, sh = 0;
        if (t && !strcmp(t, "spatial")) st = 1, sh = 2;
        else if (t && !strcmp(t, "temporal")) st = 2, sh = 1;
        else if (t && !strcmp(t, "spatiotemporal")) st = 2, sh = 2;
        else return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: '%s'[%d] = '%s' is not spatial, temporal or "
                                                         "spatiotemporal", p->what, key, i, t ? t : "?");
        s[i][0] = st, s[i][1] = s[i][2] = sh;
    }
    return WM_OK;
}

static wm_status get_padding(pctx *p, const char *key, int *reflect)
{
    json_t *j = json_object_get(p->root, key);
    if (!j || json_is_null(j)) return WM_OK;
    const char *t = json_string_value(j);
    if (t && !strcmp(t, "zeros")) *reflect = 0;
    else if (t && !strcmp(t, "reflect")) *reflect = 1;
    else return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: '%s' must be \"zeros\" or \"reflect\"", p->what, key);
    return WM_OK;
}

static wm_status check_unused(pctx *p)
{
    int v = 0, noise[WM_VAE_MAX_BLOCKS + 1] = {0};
    WM_TRY(get_int(p, "timestep_conditioning", &v));
    if (v) return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: timestep_conditioning is not supported", p->what);
    WM_TRY(get_list(p, "decoder_inject_noise", noise, WM_VAE_MAX_BLOCKS + 1, &v, WM_VAE_MAX_BLOCKS + 1));
    for (int i = 0; i < WM_VAE_MAX_BLOCKS + 1; i++)
        if (noise[i]) return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: decoder_inject_noise is not supported", p->what);
    return WM_OK;
}

/* Upsample types: diffusers indexes `upsample_type` in decoder order while Sana's causal class reverses
 * `decoder_upsample_type`; both agree only for uniform lists, the only kind shipped, so others are
 * refused rather than guessed. */
static wm_status get_up_types(pctx *p, wm_vae_config *c)
{
    const char *keys[2] = {"upsample_type", "decoder_upsample_type"};
    for (int k = 0; k < 2; k++) {
        if (!json_object_get(p->root, keys[k]) || json_is_null(json_object_get(p->root, keys[k]))) continue;
        WM_TRY(get_strides(p, keys[k], c->up_stride, c->n_dec_blocks));
        for (int i = 1; i < c->n_dec_blocks; i++)
            if (memcmp(c->up_stride[i], c->up_stride[0], sizeof c->up_stride[0]))
                return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: non-uniform '%s' is not supported", p->what, keys[k]);
    }
    return WM_OK;
}

static wm_status parse_lists(pctx *p, wm_vae_config *c)
{
    int ne, nd;
    WM_TRY(get_list(p, "block_out_channels", c->block_out_channels, WM_VAE_MAX_BLOCKS, &c->n_enc_blocks, 0));
    ne = c->n_enc_blocks;
    WM_TRY(get_list(p, "layers_per_block", c->layers_per_block, WM_VAE_MAX_BLOCKS + 1, NULL, ne + 1));
    WM_TRY(get_list(p, "spatio_temporal_scaling", c->spatio_temporal_scaling, WM_VAE_MAX_BLOCKS, NULL, ne));
    WM_TRY(get_strides(p, "downsample_type", c->down_stride, ne));
    WM_TRY(get_list(p, "decoder_block_out_channels", c->decoder_block_out_channels, WM_VAE_MAX_BLOCKS,
                    &c->n_dec_blocks, 0));
    nd = c->n_dec_blocks;
    WM_TRY(get_list(p, "decoder_layers_per_block", c->decoder_layers_per_block, WM_VAE_MAX_BLOCKS + 1, NULL, nd + 1));
    WM_TRY(get_list(p, "decoder_spatio_temporal_scaling", c->decoder_spatio_temporal_scaling, WM_VAE_MAX_BLOCKS,
                    NULL, nd));
    WM_TRY(get_list(p, "upsample_residual", c->upsample_residual, WM_VAE_MAX_BLOCKS, NULL, nd));
    WM_TRY(get_list(p, "upsample_factor", c->upsample_factor, WM_VAE_MAX_BLOCKS, NULL, nd));
    return get_up_types(p, c);
}

/* Channel plans the module tree can actually run (see docs/vae.md "Channel plan"). */
static wm_status validate(pctx *p, const wm_vae_config *c)
{
    if (c->patch_size < 1 || c->patch_size_t != 1 || c->latent_channels < 1 || c->in_channels < 1 ||
        c->out_channels < 1)
        return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: need patch_size >= 1, patch_size_t == 1, channels >= 1",
                        p->what);
    int ch = c->latent_channels;
    for (int i = 0; i < c->n_enc_blocks; i++) {
        const int *s = c->down_stride[i];
        int n = s[0] * s[1] * s[2], co = c->block_out_channels[i];
        if (!c->spatio_temporal_scaling[i] ? co != ch : (co <= 0 || co % n || (ch * n) % co))
            return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: encoder block %d: %d -> %d channels is not a valid "
                                                        "downsampler plan", p->what, i, ch, co);
        ch = co;
    }
    int nd = c->n_dec_blocks;
    ch = c->decoder_block_out_channels[nd - 1];
    for (int i = 0; i < nd; i++) {
        int f = c->upsample_factor[nd - 1 - i], co = c->decoder_block_out_channels[nd - 1 - i];
        if (f < 1 || ch % f || co % f || ch / f != co / f)
            return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: decoder block %d needs an up-block conv_in "
                                                        "(%d -> %d channels, factor %d): not supported",
                            p->what, i, ch, co, f);
        if (!c->decoder_spatio_temporal_scaling[nd - 1 - i] && co / f != ch)
            return wm__errf(p->err, WM_ERR_UNSUPPORTED, "%s: decoder block %d without upsampler changes channels",
                            p->what, i);
        ch = co / f;
    }
    return WM_OK;
}

wm_status wm_vae_config_parse(const char *json_text, const char *what, wm_vae_config *cfg, wm_error *err)
{
    json_error_t je;
    json_t *root = json_loads(json_text, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return wm__errf(err, WM_ERR_FORMAT, "%s: not a JSON object (line %d: %s)", what, je.line, je.text);
    }
    wm_vae_config c = wm_vae_config_default();
    pctx p = {root, what, err};
    wm_status st = WM_OK;
#define G(call) if (st == WM_OK) st = (call)
    G(get_int(&p, "in_channels", &c.in_channels));
    G(get_int(&p, "out_channels", &c.out_channels));
    G(get_int(&p, "latent_channels", &c.latent_channels));
    G(get_int(&p, "patch_size", &c.patch_size));
    G(get_int(&p, "patch_size_t", &c.patch_size_t));
    G(get_num(&p, "resnet_norm_eps", &c.resnet_norm_eps));
    G(get_num(&p, "scaling_factor", &c.scaling_factor));
    G(get_int(&p, "encoder_causal", &c.encoder_causal));
    G(get_int(&p, "decoder_causal", &c.decoder_causal));
    G(get_padding(&p, "encoder_spatial_padding_mode", &c.encoder_reflect));
    G(get_padding(&p, "decoder_spatial_padding_mode", &c.decoder_reflect));
    G(check_unused(&p));
    G(parse_lists(&p, &c));
    G(validate(&p, &c));
#undef G
    if (st == WM_OK && !(c.scaling_factor > 0))
        st = wm__errf(err, WM_ERR_FORMAT, "%s: scaling_factor must be positive", what);
    json_decref(root);
    if (st == WM_OK) *cfg = c;
    return st;
}

wm_status wm_vae_config_load(const char *path, wm_vae_config *cfg, wm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return wm__errf(err, WM_ERR_IO, "%s: cannot open", path);
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    int too_big = buf && n == (1 << 20) - 1;
    fclose(f);
    if (!buf) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: no memory", path);
    if (too_big) {
        free(buf);
        return wm__errf(err, WM_ERR_FORMAT, "%s: larger than 1 MiB, not a VAE config", path);
    }
    buf[n] = 0;
    wm_status st = wm_vae_config_parse(buf, path, cfg, err);
    free(buf);
    return st;
}

int wm_vae_spatial_ratio(const wm_vae_config *cfg)
{
    int r = cfg->patch_size;
    for (int i = 0; i < cfg->n_enc_blocks; i++)
        if (cfg->spatio_temporal_scaling[i]) r *= cfg->down_stride[i][1];
    return r;
}

int wm_vae_temporal_ratio(const wm_vae_config *cfg)
{
    int r = cfg->patch_size_t;
    for (int i = 0; i < cfg->n_enc_blocks; i++)
        if (cfg->spatio_temporal_scaling[i]) r *= cfg->down_stride[i][0];
    return r;
}

static double conv_flops(double ci, double co, double t, double h, double w) { return 2.0 * ci * co * 27.0 * t * h * w; }

double wm_vae_decode_flops(const wm_vae_config *c, int lat_h, int lat_w, int frames_in, int first_call)
{
    int nd = c->n_dec_blocks;
    double ch = c->decoder_block_out_channels[nd - 1], t = frames_in, h = lat_h, w = lat_w;
    double f = conv_flops(c->latent_channels, ch, t, h, w);
    f += 2.0 * c->decoder_layers_per_block[nd] * conv_flops(ch, ch, t, h, w);
    for (int i = 0; i < nd; i++) {
        int j = nd - 1 - i, fac = c->upsample_factor[j];
        if (c->decoder_spatio_temporal_scaling[j]) {
            const int *s = c->up_stride[j];
            f += conv_flops(ch, ch * s[0] * s[1] * s[2] / fac, t, h, w);
            t = t * s[0] - (first_call ? s[0] - 1 : 0);
            h *= s[1], w *= s[2], ch /= fac;
        }
        f += 2.0 * c->decoder_layers_per_block[j] * conv_flops(ch, ch, t, h, w);
    }
    return f + conv_flops(ch, (double)c->out_channels * c->patch_size * c->patch_size, t, h, w);
}

double wm_vae_encode_flops(const wm_vae_config *c, int frames, int height, int width)
{
    double p = c->patch_size, ch = c->latent_channels, t = frames, h = height / p, w = width / p;
    double f = conv_flops(c->in_channels * p * p, ch, t, h, w);
    for (int i = 0; i < c->n_enc_blocks; i++) {
        f += 2.0 * c->layers_per_block[i] * conv_flops(ch, ch, t, h, w);
        if (!c->spatio_temporal_scaling[i]) continue;
        const int *s = c->down_stride[i];
        double co = c->block_out_channels[i], tp = t + s[0] - 1;
        f += conv_flops(ch, co / (s[0] * s[1] * s[2]), tp, h, w);
        t = tp / s[0], h /= s[1], w /= s[2], ch = co;
    }
    f += 2.0 * c->layers_per_block[c->n_enc_blocks] * conv_flops(ch, ch, t, h, w);
    return f + conv_flops(ch, c->latent_channels + 1.0, t, h, w);
}
