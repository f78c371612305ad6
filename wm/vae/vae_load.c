/* LTX-2 VAE weight loading: config.json + checkpoint -> the module tree of vae_internal.h.
 *
 * The tree is built by one function run twice: a counting pass that sizes every tensor from the config
 * (and allocates the small per-block ResNet arrays), then a loading pass that carves each tensor out
 * of ONE backend allocation and fills it through wm_checkpoint_read_f32, which checks the stored shape
 * and names the file and tensor on any mismatch. Weights are fp32 on the device for now; a bf16 copy
 * for the CUDA kernels is the CUDA engineer's choice (docs/vae.md). Names are the official diffusers
 * ones, e.g. decoder.up_blocks.0.upsamplers.0.conv.conv.weight.
 */
#include "wm/io/checkpoint.h"
#include "wm/vae/vae_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const wm_checkpoint *ck;
    wm_backend *be;
    int loading;          /* 0: count bytes, 1: carve + read */
    size_t off;
    char *base;
    wm_dtype dtype;       /* of conv weights */
    float *stage;         /* host staging buffer (non-CPU backends or bf16 weights) */
    size_t stage_n;
    wm_error *err;
} loader;

static wm_status load_tensor(loader *L, wm_tensor *t, const char *name, int ndim, const int64_t *shape, wm_dtype dt)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    size_t bytes = ((size_t)n * wm_dtype_size(dt) + 255) & ~(size_t)255;
    if (!L->loading) { /* counting pass: shapes only (the planner runs forwards on these) */
        *t = wm_tensor_view(dt, L->be ? L->be->device : WM_DEVICE_CPU, NULL, ndim, shape);
        L->off += bytes;
        if ((size_t)n > L->stage_n) L->stage_n = (size_t)n;
        return WM_OK;
    }
    *t = wm_tensor_view(dt, L->be->device, L->base + L->off, ndim, shape);
    L->off += bytes;
    if (!name) return WM_OK; /* derived tensor: space only, filled by the caller */
    if (L->be->device == WM_DEVICE_CPU && dt == WM_F32)
        return wm_checkpoint_read_f32(L->ck, name, ndim, shape, t->data, L->err);
    WM_TRY(wm_checkpoint_read_f32(L->ck, name, ndim, shape, L->stage, L->err));
    if (dt == WM_BF16) { /* in place: element i's 2 bytes never overtake float i's 4 */
        uint16_t *h = (uint16_t *)L->stage;
        for (int64_t i = 0; i < n; i++) h[i] = wm_f32_to_bf16(L->stage[i]);
    }
    return wm_backend_upload(L->be, t->data, L->stage, (size_t)n * wm_dtype_size(dt));
}

static wm_status load_conv(loader *L, vae_conv *cv, const char *prefix, int ci, int co, int slot)
{
    char name[256];
    int64_t ws[5] = {co, ci, 3, 3, 3}, bs[1] = {co};
    cv->slot = slot;
    snprintf(name, sizeof name, "%s.conv.weight", prefix);
    WM_TRY(load_tensor(L, &cv->w, name, 5, ws, L->dtype));
    snprintf(name, sizeof name, "%s.conv.bias", prefix);
    return load_tensor(L, &cv->b, name, 1, bs, L->dtype);
}

/* Decoder convs take the next cache slot; the encoder passes slots == NULL. */
static int next_slot(wm_vae *v, int *slots, int ch, int level)
{
    if (!slots) return -1;
    int s = (*slots)++;
    if (s < WM_VAE_MAX_SLOTS) v->slot_ch[s] = ch, v->slot_level[s] = level;
    return s;
}

static wm_status load_resnets(loader *L, wm_vae *v, vae_resnet **res, int n, const char *prefix, int ch,
                              int *slots, int level)
{
    if (!L->loading) {
        if (v->n_res_pool + n > 4096) return wm__errf(L->err, WM_ERR_LIMIT, "VAE: too many ResNet blocks");
        *res = v->res_pool + v->n_res_pool;
        v->n_res_pool += n;
    }
    char name[256];
    for (int k = 0; k < n; k++) {
        snprintf(name, sizeof name, "%s.resnets.%d.conv1", prefix, k);
        WM_TRY(load_conv(L, &(*res)[k].conv1, name, ch, ch, next_slot(v, slots, ch, level)));
        snprintf(name, sizeof name, "%s.resnets.%d.conv2", prefix, k);
        WM_TRY(load_conv(L, &(*res)[k].conv2, name, ch, ch, next_slot(v, slots, ch, level)));
    }
    return WM_OK;
}

static wm_status build_encoder(loader *L, wm_vae *v)
{
    const wm_vae_config *c = &v->cfg;
    int p = c->patch_size, ch = c->latent_channels;
    char name[256];
    WM_TRY(load_conv(L, &v->enc_in, "encoder.conv_in", c->in_channels * p * p * c->patch_size_t, ch, -1));
    for (int i = 0; i < c->n_enc_blocks; i++) {
        vae_down *d = &v->down[i];
        snprintf(name, sizeof name, "encoder.down_blocks.%d", i);
        d->n_res = c->layers_per_block[i];
        WM_TRY(load_resnets(L, v, &d->res, d->n_res, name, ch, NULL, 0));
        d->scale = c->spatio_temporal_scaling[i];
        if (!d->scale) continue;
        memcpy(d->s, c->down_stride[i], sizeof d->s);
        int n = d->s[0] * d->s[1] * d->s[2], co = c->block_out_channels[i];
        d->group = ch * n / co;
        snprintf(name, sizeof name, "encoder.down_blocks.%d.downsamplers.0.conv", i);
        WM_TRY(load_conv(L, &d->conv, name, ch, co / n, -1));
        ch = co;
    }
    v->n_enc_mid = c->layers_per_block[c->n_enc_blocks];
    WM_TRY(load_resnets(L, v, &v->enc_mid, v->n_enc_mid, "encoder.mid_block", ch, NULL, 0));
    return load_conv(L, &v->enc_out, "encoder.conv_out", ch, c->latent_channels + 1, -1);
}

static wm_status build_decoder(loader *L, wm_vae *v)
{
    const wm_vae_config *c = &v->cfg;
    int nd = c->n_dec_blocks, ch = c->decoder_block_out_channels[nd - 1], slots = 0, trims = 0, p = c->patch_size;
    char name[256];
    WM_TRY(load_conv(L, &v->dec_in, "decoder.conv_in", c->latent_channels, ch, next_slot(v, &slots, c->latent_channels, 0)));
    v->n_dec_mid = c->decoder_layers_per_block[nd];
    WM_TRY(load_resnets(L, v, &v->dec_mid, v->n_dec_mid, "decoder.mid_block", ch, &slots, 0));
    for (int i = 0; i < nd; i++) {
        int j = nd - 1 - i; /* config lists are in encoder order; the decoder runs them reversed */
        vae_up *u = &v->up[i];
        u->scale = c->decoder_spatio_temporal_scaling[j];
        if (u->scale) {
            memcpy(u->s, c->up_stride[j], sizeof u->s);
            u->residual = c->upsample_residual[j];
            u->factor = c->upsample_factor[j];
            u->trim_slot = trims++;
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.conv", i);
            WM_TRY(load_conv(L, &u->conv, name, ch, ch * u->s[0] * u->s[1] * u->s[2] / u->factor,
                             next_slot(v, &slots, ch, i)));
            ch /= u->factor;
        }
        u->n_res = c->decoder_layers_per_block[j];
        snprintf(name, sizeof name, "decoder.up_blocks.%d", i);
        WM_TRY(load_resnets(L, v, &u->res, u->n_res, name, ch, &slots, i + 1));
    }
    WM_TRY(load_conv(L, &v->dec_out, "decoder.conv_out", ch, c->out_channels * p * p * c->patch_size_t,
                     next_slot(v, &slots, ch, nd)));
    if (slots > WM_VAE_MAX_SLOTS) return wm__errf(L->err, WM_ERR_LIMIT, "VAE: more than %d decoder convs", WM_VAE_MAX_SLOTS);
    v->n_slots = slots, v->n_trims = trims;
    return WM_OK;
}

/* latents_mean / latents_std -> the affine maps of decode (z*std/sf + mean) and encode. */
static wm_status build_norm(loader *L, wm_vae *v)
{
    int64_t C = v->cfg.latent_channels, s1[1] = {C};
    wm_tensor *ts[4] = {&v->dec_mul, &v->dec_add, &v->enc_mul, &v->enc_add};
    for (int i = 0; i < 4; i++) WM_TRY(load_tensor(L, ts[i], NULL, 1, s1, WM_F32));
    if (!L->loading) return WM_OK;
    float *buf = malloc(sizeof(float) * 6 * (size_t)C);
    if (!buf) return wm__errf(L->err, WM_ERR_OUT_OF_MEMORY, "VAE: no memory");
    float *mean = buf, *std = buf + C;
    wm_status st = wm_checkpoint_read_f32(L->ck, "latents_mean", 1, s1, mean, L->err);
    if (st == WM_OK) st = wm_checkpoint_read_f32(L->ck, "latents_std", 1, s1, std, L->err);
    double sf = v->cfg.scaling_factor;
    for (int64_t c = 0; st == WM_OK && c < C; c++) {
        if (!(std[c] > 0)) st = wm__errf(L->err, WM_ERR_FORMAT, "%s: latents_std[%lld] is not positive",
                                         wm_checkpoint_path(L->ck), (long long)c);
        buf[2 * C + c] = (float)(std[c] / sf);
        buf[3 * C + c] = mean[c];
        buf[4 * C + c] = (float)(sf / std[c]);
        buf[5 * C + c] = (float)(-mean[c] * sf / std[c]);
    }
    for (int i = 0; st == WM_OK && i < 4; i++)
        st = wm_backend_upload(v->be, ts[i]->data, buf + (2 + i) * C, sizeof(float) * (size_t)C);
    free(buf);
    return st;
}

static wm_status build_all(loader *L, wm_vae *v)
{
    WM_TRY(build_encoder(L, v));
    WM_TRY(build_decoder(L, v));
    return build_norm(L, v);
}

wm_status wm_vae_load_checkpoint(const wm_vae_config *cfg, const wm_checkpoint *ck, wm_backend *be,
                                 const wm_vae_load_params *p, wm_vae **out, wm_error *err)
{
    *out = NULL;
    wm_vae_load_params lp = p ? *p : (wm_vae_load_params){0};
    if ((lp.weight_dtype != WM_F32 && lp.weight_dtype != WM_BF16) || (lp.act_dtype != WM_F32 && lp.act_dtype != WM_BF16))
        return wm__errf(err, WM_ERR_DTYPE, "VAE: weight and activation dtypes must be F32 or BF16");
    wm_vae *v = calloc(1, sizeof *v);
    if (!v || !(v->res_pool = calloc(4096, sizeof(vae_resnet)))) {
        free(v);
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE: no memory");
    }
    v->cfg = *cfg;
    v->be = be;
    v->weight_dtype = lp.weight_dtype, v->act_dtype = lp.act_dtype;
    loader L = {ck, be, 0, 0, NULL, lp.weight_dtype, NULL, 0, err};
    wm_status st = build_all(&L, v);
    if (st == WM_OK) st = wm_backend_malloc(be, L.off, &v->mem);
    if (st == WM_OK && (be->device != WM_DEVICE_CPU || L.dtype != WM_F32) && !(L.stage = malloc(L.stage_n * sizeof(float))))
        st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE: no memory for a staging buffer");
    if (st == WM_OK) {
        v->mem_bytes = L.off;
        L.loading = 1, L.off = 0, L.base = v->mem;
        st = build_all(&L, v);
    } else if (st != WM_OK && err && err->code == WM_OK) {
        wm__errf(err, st, "VAE: cannot allocate %zu bytes of weights", L.off);
    }
    free(L.stage);
    if (st == WM_OK) st = wm__vae_engine_init(v, err);
    if (st != WM_OK) {
        wm_vae_free(v);
        return st;
    }
    wm__log(WM_LOG_INFO, "vae: %.1f MiB of %s weights, %d decoder cache slots", v->mem_bytes / 1048576.0,
            wm_dtype_name(v->weight_dtype), v->n_slots);
    *out = v;
    return WM_OK;
}

wm_status wm_vae_load(const char *dir, wm_backend *be, const wm_vae_load_params *p, wm_vae **out, wm_error *err)
{
    char path[4096];
    /* Hugging Face diffusers folders name the weights diffusion_pytorch_model.safetensors; a directory
     * may also hold other .safetensors files (e.g. the golden test folder), so try known names first. */
    const char *names[] = {"diffusion_pytorch_model.safetensors", "weights.safetensors", "model.safetensors"};
    wm_vae_config cfg;
    snprintf(path, sizeof path, "%s/config.json", dir);
    WM_TRY(wm_vae_config_load(path, &cfg, err));
    wm_checkpoint *ck = NULL;
    for (int i = 0; i < 3 && !ck; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fclose(f);
        WM_TRY(wm_checkpoint_open(path, &ck, err));
    }
    if (!ck) WM_TRY(wm_checkpoint_open(dir, &ck, err));
    wm_status st = wm_vae_load_checkpoint(&cfg, ck, be, p, out, err);
    wm_checkpoint_close(ck);
    return st;
}

void wm_vae_free(wm_vae *v)
{
    if (!v) return;
    wm__vae_engine_fini(v);
    if (v->mem) wm_backend_mfree(v->be, v->mem);
    free(v->res_pool);
    free(v);
}

const wm_vae_config *wm_vae_get_config(const wm_vae *v) { return &v->cfg; }

wm_status wm__vae_shapes(const wm_vae_config *cfg, const wm_vae_load_params *p, wm_backend *be, wm_vae **out,
                         size_t *weight_bytes, wm_error *err)
{
    wm_vae *v = calloc(1, sizeof *v);
    if (!v || !(v->res_pool = calloc(4096, sizeof(vae_resnet)))) {
        free(v);
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE: no memory");
    }
    v->cfg = *cfg, v->be = be;
    v->weight_dtype = p ? p->weight_dtype : WM_F32, v->act_dtype = p ? p->act_dtype : WM_F32;
    loader L = {NULL, be, 0, 0, NULL, v->weight_dtype, NULL, 0, err};
    wm_status st = build_all(&L, v);
    if (st == WM_OK) st = wm__vae_engine_init(v, err);
    if (st != WM_OK) {
        wm_vae_free(v);
        return st;
    }
    *weight_bytes = L.off;
    *out = v;
    return WM_OK;
}
