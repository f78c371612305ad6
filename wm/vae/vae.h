/* LTX-2 video VAE (diffusers AutoencoderKLLTX2Video / SANA-WM's AutoencoderKLCausalLTX2Video).
 *
 * Encoder: one RGB image (or a 1+8k-frame clip) in [-1,1] -> normalised posterior mode (spec §1.5).
 * Decoder: normalised latents -> pixels, either chunk-streaming and causal (spec §1.5.1: every temporal
 * conv keeps the last 2 frames of its input, the upsamplers drop their first output frame only on the
 * first call), so decoding chunk by chunk equals one causal decode of the whole clip bit for bit, or
 * one non-causal whole-clip decode (the bidirectional VAE config).
 * Every size comes from the checkpoint's config.json (parsed into wm_vae_config), so tests run a tiny
 * width with the same code as the real model. Weights load through wm/io/checkpoint.h under the official
 * diffusers names. Activations live in one arena per decoder, planned at create time by a dry run of the
 * forward, so a decode call allocates nothing. Tensors are channels first (C,T,H,W), one sample.
 * Thread safety: a wm_vae on the CPU is read-only after load and may be shared; on CUDA its conv engine
 * (plan cache, scratch) is used by every call, so one thread at a time; a wm_vae_decoder is one stream.
 */
#ifndef WM_VAE_VAE_H
#define WM_VAE_VAE_H

#include "wm/core/backend.h"
#include "wm/core/log.h"
#include "wm/core/tensor.h"

#define WM_VAE_MAX_BLOCKS 8

typedef struct wm_vae_config {
    int in_channels, out_channels, latent_channels;       /* 3, 3, 128 */
    int n_enc_blocks;                                      /* len(block_out_channels), 4 */
    int block_out_channels[WM_VAE_MAX_BLOCKS];             /* 256, 512, 1024, 2048 */
    int layers_per_block[WM_VAE_MAX_BLOCKS + 1];           /* 4, 6, 6, 2, 2 (last = mid block) */
    int spatio_temporal_scaling[WM_VAE_MAX_BLOCKS];        /* all true */
    int down_stride[WM_VAE_MAX_BLOCKS][3];                 /* from downsample_type: spatial (1,2,2) ... */
    int n_dec_blocks;                                      /* len(decoder_block_out_channels), 3 */
    int decoder_block_out_channels[WM_VAE_MAX_BLOCKS];     /* 256, 512, 1024 (official order) */
    int decoder_layers_per_block[WM_VAE_MAX_BLOCKS + 1];   /* 5, 5, 5, 5 (last = mid block) */
    int decoder_spatio_temporal_scaling[WM_VAE_MAX_BLOCKS];
    int up_stride[WM_VAE_MAX_BLOCKS][3];                   /* from upsample_type / decoder_upsample_type */
    int upsample_residual[WM_VAE_MAX_BLOCKS];
    int upsample_factor[WM_VAE_MAX_BLOCKS];
    int patch_size, patch_size_t;                          /* 4, 1 */
    double resnet_norm_eps;                                /* 1e-6 (only used by conv_shortcut norms) */
    double scaling_factor;                                 /* 1.0 */
    int encoder_causal, decoder_causal;                    /* true; false (bidirectional) / true (causal) */
    int encoder_reflect, decoder_reflect;                  /* spatial padding: zeros / reflect */
} wm_vae_config;

/* Diffusers defaults (the LTX-2 / SANA-WM config); decoder_causal true as in the causal class. */
wm_vae_config wm_vae_config_default(void);
/* Parse config.json text; missing keys keep the defaults. Unsupported features (timestep_conditioning,
 * decoder_inject_noise, patch_size_t != 1, channel plans that need an up-block conv_in) are refused with
 * a message naming the key. `what` names the source in messages. */
wm_status wm_vae_config_parse(const char *json_text, const char *what, wm_vae_config *cfg, wm_error *err);
wm_status wm_vae_config_load(const char *path, wm_vae_config *cfg, wm_error *err);
/* Pixel/latent geometry: 32 and 8 for the real config. */
int wm_vae_spatial_ratio(const wm_vae_config *cfg);
int wm_vae_temporal_ratio(const wm_vae_config *cfg);

typedef struct wm_vae wm_vae;
typedef struct wm_checkpoint wm_checkpoint;

typedef struct wm_vae_load_params {
    wm_dtype weight_dtype;   /* conv weights/biases on the device: WM_F32 (default, CPU) or WM_BF16 */
    wm_dtype act_dtype;      /* activations and stream caches: WM_F32 (default, CPU) or WM_BF16 */
} wm_vae_load_params;        /* {0} = fp32 everywhere; the latent (de)normalisation vectors stay fp32 */

/* Load from a directory holding config.json and the weights (diffusion_pytorch_model.safetensors, else
 * a .safetensors file or index), as the Hugging Face vae/ and ltx2_causal_vae/ folders do. p may be NULL. */
wm_status wm_vae_load(const char *dir, wm_backend *be, const wm_vae_load_params *p, wm_vae **out, wm_error *err);
wm_status wm_vae_load_checkpoint(const wm_vae_config *cfg, const wm_checkpoint *ck, wm_backend *be,
                                 const wm_vae_load_params *p, wm_vae **out, wm_error *err);
void wm_vae_free(wm_vae *vae);
const wm_vae_config *wm_vae_get_config(const wm_vae *vae);

/* Optional per-stage observer (tests, debugging): called after each stage with a device tensor that is
 * valid only during the call. Stage names follow the module tree: "decoder.conv_in",
 * "decoder.mid_block", "decoder.up_blocks.0", ..., "encoder.down_blocks.3", "encoder.conv_out". */
typedef void (*wm_vae_stage_fn)(void *user, const char *name, const wm_tensor *t);

typedef struct wm_vae_decoder_params {
    int lat_h, lat_w;        /* latent grid of every call (22 x 40 for 704 x 1280) */
    int max_frames;          /* most latent frames per call; 0 = 4 (streaming chunk 0 = sink + 3) */
    int non_causal;          /* 1: whole-clip non-causal decode, no caches (bidirectional config) */
    wm_vae_stage_fn on_stage;
    void *user;
} wm_vae_decoder_params;

typedef struct wm_vae_decoder wm_vae_decoder;

wm_status wm_vae_decoder_create(wm_vae *vae, const wm_vae_decoder_params *p, wm_vae_decoder **out, wm_error *err);
void wm_vae_decoder_free(wm_vae_decoder *d);
/* Forget all stream state: the next call is the first of a new stream. */
void wm_vae_decoder_reset(wm_vae_decoder *d);
/* Pixel frames the next call yields for t latent frames: 8t, or 8(t-1)+1 on the first call (and for
 * every non-causal call). */
int64_t wm_vae_decoder_out_frames(const wm_vae_decoder *d, int64_t t);
/* z (latent_channels, t, lat_h, lat_w) normalised latents -> pixels (out_channels, frames, H, W) in
 * ~[-1,1], H = lat_h * 32. Both on the backend's device; pixels preallocated by the caller. */
wm_status wm_vae_decoder_decode(wm_vae_decoder *d, const wm_tensor *z, wm_tensor *pixels, wm_error *err);
/* Whole-clip decode tiled as the bidirectional pipeline does (enable_tiling() + frame-wise decoding,
 * spec §1.5; details in vae_decode_tiled.c). Pixels differ from an untiled decode at the seams. z HOST
 * fp32 (latent, T, h, w) normalised -> pixels HOST fp32 (out, 8(T-1)+1, 32h, 32w); tiles run through
 * decoders created per tile (non-causal when the config says decoder_causal false). Offline path. */
typedef struct wm_vae_tiling {
    int tile_px, stride_px;          /* spatial tile and stride in pixels; 0 = 512, 448 */
    int tile_frames, stride_frames;  /* temporal tile and stride in pixel frames; 0 = 96, 64 */
} wm_vae_tiling;
wm_status wm_vae_decode_tiled(wm_vae *vae, const wm_tensor *z, wm_tensor *pixels, const wm_vae_tiling *tiling,
                              wm_error *err);

/* Stream state for snapshots: everything that makes the next decode call continue identically (every
 * conv's 2-frame cache, downloaded from the backend's device, and the first-call/trim flags), behind a
 * header (magic, version, byte count, layout fingerprint). bytes = 0 for a non-streaming decoder. Save
 * and load need n == bytes; a blob of another decoder config, a truncated or foreign buffer fail with
 * WM_ERR_INVALID_ARG and a message in err (may be NULL), leaving the decoder untouched. */
size_t wm_vae_decoder_state_bytes(const wm_vae_decoder *d);
wm_status wm_vae_decoder_state_save(const wm_vae_decoder *d, void *host_buf, size_t n, wm_error *err);
wm_status wm_vae_decoder_state_load(wm_vae_decoder *d, const void *host_buf, size_t n, wm_error *err);

/* The 3-D convolution path in use ("cudnn 91900 (...)", "old (...)", "cpu reference") and the device
 * scratch it holds (channels-last copies + cuDNN workspace; 0 on the CPU). On CUDA the path is chosen
 * when the model is created: env WM_CUDA_CONV3D=old|cudnn (default: cuDNN when it loads). */
const char *wm_vae_conv_path(const wm_vae *vae);
size_t wm_vae_conv_scratch_bytes(const wm_vae *vae);

/* Bytes of the decoder's activation arena and stream caches (planned at create). */
size_t wm_vae_decoder_memory(const wm_vae_decoder *d);

/* Memory a model + decoder would take, without loading anything (session planning, `wm bench vae`):
 * weights, the decoder's activation arena and its stream caches, in the load params' dtypes, and on
 * CUDA with bf16 activations the conv engine's channels-last scratch for the decoder's convs (padded
 * input + output + repacked weights; cuDNN's workspace, at most 256 MiB, not included; 0 for fp32). */
typedef struct wm_vae_plan_info {
    size_t weight_bytes, decoder_arena_bytes, decoder_cache_bytes;
    size_t conv_scratch_bytes;
} wm_vae_plan_info;
wm_status wm_vae_plan(const wm_vae_config *cfg, const wm_vae_load_params *lp, const wm_vae_decoder_params *p,
                      wm_vae_plan_info *out, wm_error *err);

/* x (in_channels, T, H, W) in [-1,1], T = 1 + 8k, H and W multiples of 32 -> normalised posterior mode
 * (latent_channels, 1 + k, H/32, W/32). Allocates its scratch per call (an image encode per session). */
wm_status wm_vae_encode(wm_vae *vae, const wm_tensor *x, wm_tensor *latent, wm_vae_stage_fn on_stage, void *user,
                        wm_error *err);

/* Spatially tiled encode, as the official pipeline encodes the first frame (diffusers enable_tiling():
 * tile 512 px, stride 448; 0, 0 = those): each tile is encoded alone, the raw moments are blended in
 * place with the already blended upper, then left, tile over (tile-stride)/32 latent rows/columns, and
 * the first stride/32 of each are kept. x: HOST fp32 (3, T, H, W) in [-1,1]; latent on the device as in
 * wm_vae_encode. Frames no larger than one tile are encoded untiled (identical to wm_vae_encode). */
wm_status wm_vae_encode_tiled(wm_vae *vae, const wm_tensor *x, wm_tensor *latent, int tile, int stride,
                              wm_error *err);

/* FLOPs (2 per multiply-add) of all decoder convolutions for one streaming call of frames_in latent
 * frames on a lat_h x lat_w grid; first_call selects the trimmed first call. Elementwise work (norms,
 * SiLU, shuffles) is not counted. 2.708e13 for a steady-state 3-frame chunk at 22 x 40. */
double wm_vae_decode_flops(const wm_vae_config *cfg, int lat_h, int lat_w, int frames_in, int first_call);
/* Same for one encode of a T-frame clip of H x W pixels. */
double wm_vae_encode_flops(const wm_vae_config *cfg, int frames, int height, int width);

#endif
