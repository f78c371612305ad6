/* Internal module tree of the LTX-2 VAE, shared by the loader, the decoder and the encoder.
 *
 * The tree mirrors the diffusers modules but keeps only what runs: a conv is (weight, bias, cache
 * slot); a ResNet block is two convs (PerChannelRMSNorm and SiLU carry no weights); down/up blocks add
 * their resampler conv. Sizes are derived once from wm_vae_config by the loader, so the forwards only
 * read tensor shapes. Decoder temporal convs get consecutive cache slots in execution order; each
 * upsampler gets a trim flag slot, so a stream's state is two flat arrays.
 */
#ifndef WM_VAE_INTERNAL_H
#define WM_VAE_INTERNAL_H

#include "wm/core/arena.h"
#include "wm/vae/vae.h"

typedef struct vae_conv {
    wm_tensor w, b;   /* (Co, Ci, kt, kh, kw), (Co) on the backend's device, weight_dtype */
    int slot;         /* decoder stream cache slot, -1 in the encoder */
} vae_conv;

typedef struct vae_resnet {
    vae_conv conv1, conv2;
} vae_resnet;

typedef struct vae_down {
    int n_res;
    vae_resnet *res;
    int scale;        /* has a downsampler */
    int s[3];         /* (st, sh, sw) */
    int group;        /* residual channel-group size: cin * st*sh*sw / cout */
    vae_conv conv;    /* cin -> cout / (st*sh*sw) */
} vae_down;

typedef struct vae_up {
    int scale;        /* has an upsampler */
    int s[3];
    int residual, factor;
    vae_conv conv;    /* cin -> cin * st*sh*sw / factor */
    int trim_slot;    /* index of this upsampler's "first call done" flag */
    int n_res;
    vae_resnet *res;
} vae_up;

struct wm_vae {
    wm_vae_config cfg;
    wm_backend *be;
    wm_dtype weight_dtype, act_dtype;
    vae_conv enc_in, enc_out;
    vae_down down[WM_VAE_MAX_BLOCKS];
    int n_enc_mid;
    vae_resnet *enc_mid;
    vae_conv dec_in, dec_out;
    int n_dec_mid;
    vae_resnet *dec_mid;
    vae_up up[WM_VAE_MAX_BLOCKS];    /* execution order (reversed config lists) */
    wm_tensor dec_mul, dec_add;      /* (latent_channels): std/sf, mean  -> z * mul + add */
    wm_tensor enc_mul, enc_add;      /* sf/std, -mean*sf/std */
    int n_slots, n_trims;            /* decoder stream state sizes */
    int slot_ch[256];                /* input channels of the conv owning each cache slot */
    int slot_level[256];             /* resolution level (0 = latent grid, i+1 after upsampler i) */
    vae_resnet *res_pool;
    int n_res_pool;
    void *mem;                       /* all weights, one backend allocation */
    size_t mem_bytes;
    struct wm_vae_conv_engine *conv_eng; /* CUDA conv engine (vae_engine.c), NULL on CPU */
    int prof;                        /* benchmarks: CUDA profiling marks around every conv (0 = convs, 1 = rest) */
};

#define WM_VAE_MAX_SLOTS 256

/* Forward context shared by encoder and decoder: backend, arena, dry-run flag (planning pass: shapes
 * flow, no op runs, arena only measures), stage observer. */
typedef struct vae_fwd {
    wm_backend *be;
    wm_arena *arena;
    wm_dtype dtype;   /* activation dtype */
    int dry;
    wm_vae_stage_fn on_stage;
    void *user;
    wm_error *err;
    struct wm_vae_conv_engine *eng;  /* the VAE's conv engine or NULL (op table) */
    size_t scratch[3];               /* dry run: largest channels-last xp, yc, wr of the CUDA engine (bytes) */
    int prof;                        /* wm_vae.prof of the model */
} vae_fwd;

/* Allocate an activation tensor (C,T,H,W) in the forward's arena. */
wm_status wm__vae_tensor(vae_fwd *f, int64_t c, int64_t t, int64_t h, int64_t w, wm_tensor *out);
/* Run an op status through the forward: copies the backend's message into f->err on failure. */
wm_status wm__vae_op(vae_fwd *f, wm_status st);
/* PerChannelRMSNorm + SiLU -> conv (causal with optional cache) into a new tensor of co channels. */
wm_status wm__vae_resnet(vae_fwd *f, const vae_resnet *r, wm_tensor *x, int causal, int reflect,
                         wm_tensor *caches, int *fresh);
wm_status wm__vae_conv(vae_fwd *f, const vae_conv *cv, const wm_tensor *x, int causal, int reflect,
                       wm_tensor *caches, int *fresh, wm_tensor *y);
/* Same with a fused post operation (only where wm__vae_fuses_add; see wm__vae_conv3d). */
wm_status wm__vae_conv_ex(vae_fwd *f, const vae_conv *cv, const wm_tensor *x, int causal, int reflect,
                          wm_tensor *caches, int *fresh, int post, wm_tensor *y);
void wm__vae_stage(vae_fwd *f, const char *name, const wm_tensor *t);
/* The CUDA conv engine (vae_engine.c): created with the model on a CUDA backend when the program links
 * the CUDA library; conv3d goes through it (a dry run plans its scratch), else through the op table. */
wm_status wm__vae_engine_init(wm_vae *v, wm_error *err);
void wm__vae_engine_fini(wm_vae *v);
wm_status wm__vae_engine_reserve(wm_vae *v, wm_error *err);
wm_status wm__vae_conv3d(vae_fwd *f, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                         const wm_tensor *b, int causal, int reflect, int post, wm_tensor *y);
/* Benchmarks (wm_vae.prof): a device-time mark opening category cat (0 convs, 1 other, 2 rmsnorm,
 * 3 depth-to-space, 4 cache pushes, 5 residual adds); no-op unless profiling. */
void wm__vae_mark(vae_fwd *f, int cat);
#define WM_VAE_PROF_CATS 6
/* Whether the engine can fuse the ResNet's residual add or norm + SiLU (eps 1e-8) into a conv of x
 * (post = WM_VAE_CONV_POST_ACC / _RMS_SILU of kernels/cuda/vae_conv.h): bf16 on cuDNN/igemm. */
int wm__vae_fuses_add(const vae_fwd *f, const wm_tensor *x);
/* Encoder forward with its own arena: normalised mean into latent and/or raw conv_out into raw. */
wm_status wm__vae_encode_run(wm_vae *v, const wm_tensor *x, wm_tensor *latent, wm_tensor *raw,
                             wm_vae_stage_fn on_stage, void *user, wm_error *err);
/* A host tile of planes x (h, w) floats, for the tiled encode/decode blends. */
typedef struct wm__vae_tile {
    float *d;
    int64_t h, w;
} wm__vae_tile;
/* diffusers blend_v/blend_h/blend_t, in place on cur: with e = min(a's, cur's extent, ext), row (or
 * column when cols) k < e of every plane becomes a[n_a - e + k] * (1 - k/e) + cur[k] * (k/e). */
void wm__vae_blend(const wm__vae_tile *a, wm__vae_tile *cur, int64_t planes, int64_t ext, int cols);
/* The module tree with shapes but no weight memory (tensor data NULL), for planning. */
wm_status wm__vae_shapes(const wm_vae_config *cfg, const wm_vae_load_params *p, wm_backend *be, wm_vae **out,
                         size_t *weight_bytes, wm_error *err);

#endif
