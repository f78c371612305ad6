/* The CUDA op table. Unlike the CPU table (which must be complete, as every op's oracle), this one lists
 * the ops that have a CUDA implementation; a slot left out stays NULL and wm_<op>() on a CUDA backend
 * answers WM_ERR_UNSUPPORTED naming the op, instead of crashing. Add an op here when its kernel and its
 * parity test (tests/kernels/) exist. */
#include "kernels/ops.h"

/* dit_conv.cu: second-generation token convs; they fall back to the dit_token.cu kernels themselves
 * (shapes they do not cover, or WM_CUDA_CONV=old at backend creation). */
wm_status wm_short_conv_t_cuda_v2(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *tail,
                                  const int *bounds, int n_chunks, wm_tensor *y);
wm_status wm_depthwise3x3_glu_cuda_v2(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                      int n_frames, int grid_h, int grid_w, wm_tensor *y);
wm_status wm_temporal_shift_cat_cuda_v2(wm_backend *be, const wm_tensor *y, const wm_tensor *tail, const int *bounds,
                                        int n_chunks, wm_tensor *out);

const struct wm_ops wm__ops_cuda = {
    /* ops_common.def */
    .matmul = wm_matmul_cuda,
    .rmsnorm = wm_rmsnorm_cuda,
    .layernorm_modulate = wm_layernorm_modulate_cuda,
    .activate = wm_activate_cuda,
    .gated_add = wm_gated_add_cuda,
    .mul = wm_mul_cuda,
    .attention = wm_attention_cuda,
    .convert = wm_convert_cuda,
    /* ops_dit.def */
    .dit_timestep_embed = wm_dit_timestep_embed_cuda,
    .dit_adaln_table = wm_dit_adaln_table_cuda,
    .transpose2d = wm_transpose2d_cuda,
    .frame_mean = wm_frame_mean_cuda,
    .gdn_gates = wm_gdn_gates_cuda,
    .short_conv_t = wm_short_conv_t_cuda_v2,
    .rope_apply = wm_rope_apply_cuda,
    .ucpe_apply = wm_ucpe_apply_cuda,
    .gdn_cam_beta = wm_gdn_cam_beta_cuda,
    .gdn_gram = wm_gdn_gram_cuda,
    .gdn_scan = wm_gdn_scan_cuda,
    .gdn_scan_fr = wm_gdn_scan_fr_cuda,
    .gdn_output = wm_gdn_output_cuda,
    .gdn_output_ucpe = wm_gdn_output_ucpe_cuda,
    .depthwise3x3_glu = wm_depthwise3x3_glu_cuda_v2,
    .temporal_shift_cat = wm_temporal_shift_cat_cuda_v2,
    .head_renorm = wm_head_renorm_cuda,
    .cfg_combine = wm_cfg_combine_cuda,
    .frame_axpy = wm_frame_axpy_cuda,
    .dit_qk_prep = wm_dit_qk_prep_cuda,
    .matmul_add = wm_matmul_add_cuda,
    .mul_silu = wm_mul_silu_cuda,
    .depthwise3x3_silu_glu = wm_depthwise3x3_silu_glu_cuda,
    .matmul_batched = wm_matmul_batched_cuda,
    .gated_add_ln_mod = wm_gated_add_ln_mod_cuda,
    .gated_add_proj = wm_gated_add_proj_cuda,
    /* ops_vae.def */
    .vae_conv3d = wm_vae_conv3d_cuda,
    .vae_cache_push = wm_vae_cache_push_cuda,
    .vae_rmsnorm_silu = wm_vae_rmsnorm_silu_cuda,
    .vae_depth_to_space = wm_vae_depth_to_space_cuda,
    .vae_space_to_depth = wm_vae_space_to_depth_cuda,
    .vae_pad_frames = wm_vae_pad_frames_cuda,
    .vae_channel_affine = wm_vae_channel_affine_cuda,
    .vae_to_uint8 = wm_vae_to_uint8_cuda,
    /* ops_text.def */
    .rope_half = wm_rope_half_cuda,
    .attention_gqa = wm_attention_gqa_cuda,
    .embed_rows = wm_embed_rows_cuda,
    .qkv_rope_split = wm_qkv_rope_split_cuda,
    .gelu_mul = wm_gelu_mul_cuda,
    .norm_add_norm = wm_norm_add_norm_cuda,
};
