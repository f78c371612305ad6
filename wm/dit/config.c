/* Defaults of the released SANA-WM 1600M/720p stage-1 DiT (spec §2.1, §2.9, §3.8). */
#include "wm/dit/config.h"

#include <string.h>

void wm_dit_config_set_softmax_every(wm_dit_config *c, int every_n)
{
    for (int i = 0; i < WM_DIT_MAX_DEPTH; i++) c->is_softmax[i] = every_n > 0 && (i + 1) % every_n == 0;
}

wm_dit_config wm_dit_config_default(void)
{
    wm_dit_config c;
    memset(&c, 0, sizeof c);
    c.hidden_size = 2240;
    c.depth = 20;
    c.num_heads = 20;
    c.in_channels = 128;
    c.out_channels = 128;
    c.mlp_hidden = 6720;
    c.caption_channels = 2304;
    c.caption_length = 300;
    c.plucker_channels = 48;
    c.conv_kernel_size = 4;
    c.t_conv_kernel = 3;
    c.freq_dim = 256;
    c.chunk_size = 3;
    c.latent_h = 22;
    c.latent_w = 40;
    c.vae_stride_t = 8;
    c.rope_theta = 10000.0f;
    c.eps_layernorm = 1e-6f;
    c.eps_qk_norm = 1e-5f;
    c.eps_cross_norm = 1e-6f;
    c.eps_y_norm = 1e-5f;
    c.eps_gdn = 1e-8f;
    wm_dit_config_set_softmax_every(&c, 4);
    c.softmax_scale_main = 0.0f; /* 1/sqrt(head_dim): newest upstream on every path */
    c.softmax_scale_cam = 0.0f;
    c.post_ucpe_renorm = 0;
    c.cam_conv_cache = 1;
    c.teacher_chunk_mask = 1;
    return c;
}
