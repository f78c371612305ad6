/* The stage-1 DiT configuration (spec §2.1) and the switches for version-dependent behaviour.
 *
 * Every dimension of the model comes from here, so the same code runs the 2.66B model and the small
 * test configs. wm_dit_config_default() gives the released SANA-WM 1600M/720p values; a checkpoint's
 * names and shapes (wm_dit_config_from_checkpoint, wm/io) or an official config.yaml
 * (wm_dit_config_from_yaml, wm/io) override them. Where upstream changed behaviour between releases
 * (spec §0.1 version map) the newest behaviour is the default and the older one a switch.
 */
#ifndef WM_DIT_CONFIG_H
#define WM_DIT_CONFIG_H

#include <stdint.h>

#define WM_DIT_MAX_DEPTH 64

typedef enum wm_dit_variant {
    WM_DIT_BIDIRECTIONAL = 0, /* all frames jointly, GDN both directions */
    WM_DIT_CHUNK_CAUSAL,      /* teacher: causal across chunks, bidirectional inside */
    WM_DIT_STREAMING          /* distilled student: chunk by chunk with caches */
} wm_dit_variant;

typedef struct wm_dit_config {
    int hidden_size;         /* C, 2240 */
    int depth;               /* 20 blocks */
    int num_heads;           /* 20 (self- and cross-attention); head_dim = hidden_size / num_heads */
    int in_channels;         /* 128 latent channels */
    int out_channels;        /* 128 */
    int mlp_hidden;          /* GLUMBConvTemp hidden width, 6720 (= mlp_ratio 3 * C); GLU doubles it */
    int caption_channels;    /* 2304 (Gemma-2-2B hidden) */
    int caption_length;      /* 300 text tokens */
    int plucker_channels;    /* 48 = 8 raw frames x 6 */
    int conv_kernel_size;    /* 4: GDN short conv on K */
    int t_conv_kernel;       /* 3: temporal conv of the FFN */
    int freq_dim;            /* 256: sinusoidal timestep embedding */
    int chunk_size;          /* 3 latent frames per chunk (first chunk 1 + chunk_size) */
    int latent_h, latent_w;  /* 22 x 40 latent grid (704 x 1280 pixels / 32) */
    int vae_stride_t;        /* 8 raw frames per latent frame */
    float rope_theta;        /* 10000 */
    float eps_layernorm;     /* 1e-6 (adaLN LayerNorms, final layer) */
    float eps_qk_norm;       /* 1e-5 (self-attention q/k RMSNorm, camera q/k norms) */
    float eps_cross_norm;    /* 1e-6 (cross-attention q/k RMSNorm) */
    float eps_y_norm;        /* 1e-5 (attention_y_norm) */
    float eps_gdn;           /* 1e-8 (GDN numerator/denominator division) */
    uint8_t is_softmax[WM_DIT_MAX_DEPTH]; /* 1 for softmax blocks (i+1) % 4 == 0, else GDN */
    /* Version switches (spec §3.8, §4.6, §3.2, §3.8 teacher mask): defaults = newest upstream (#415+). */
    float softmax_scale_main;   /* 0 = 1/sqrt(head_dim) (newest); set 1/sqrt(128) for release-era */
    float softmax_scale_cam;    /* 0 = 1/sqrt(head_dim) (newest); release-era used 1/sqrt(128) */
    int post_ucpe_renorm;       /* 0 (newest); 1 = first release (#379) softmax camera branch renorm */
    int cam_conv_cache;         /* 1 (newest): streaming conv_k_cam keeps a 3-frame cross-chunk tail */
    int teacher_chunk_mask;     /* 1 (newest): chunk-causal softmax is block-causal; 0 = #404 */
} wm_dit_config;

wm_dit_config wm_dit_config_default(void);
static inline int wm_dit_head_dim(const wm_dit_config *c) { return c->hidden_size / c->num_heads; }
/* Fill is_softmax[] with the (i+1) % every_n == 0 rule. */
void wm_dit_config_set_softmax_every(wm_dit_config *c, int every_n);

#endif
