/* Shape contracts of DiT ops that both backends share (the pattern of vae_shapes.h): each contract is
 * written once and called by the CPU reference and the CUDA kernel, so both accept exactly the same
 * shapes; accepted dtypes and kernel limits stay in each backend's file. Messages name the op (the
 * function name, through WM_OP_CHECK) in be->err. */
#ifndef WM_KERNELS_DIT_SHAPES_H
#define WM_KERNELS_DIT_SHAPES_H

#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

wm_status wm_gdn_gates_shape(wm_backend *be, const wm_tensor *beta, const wm_tensor *a, const wm_tensor *A_log,
                             const wm_tensor *dt_bias, const wm_tensor *g);
wm_status wm_gdn_cam_beta_shape(wm_backend *be, const wm_tensor *k_pre, const wm_tensor *k_post,
                                const wm_tensor *beta, int n_frames, const wm_tensor *beta_cam);
wm_status wm_rope_apply_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                              int n_heads, int dim_offset, const wm_tensor *y);
wm_status wm_ucpe_apply_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *mats, int n_heads,
                              const wm_tensor *y);
/* depthwise3x3_glu and depthwise3x3_silu_glu: x (T*gh*gw, 2M), w (2M, 9), b (2M), y (N, M). */
wm_status wm_depthwise3x3_glu_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                    int n_frames, int grid_h, int grid_w, const wm_tensor *y);
/* dit_qk_prep; *P = RoPE pairs per token (0 without cos/sin). */
wm_status wm_dit_qk_prep_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *norm_w, const wm_tensor *mats,
                               const wm_tensor *cos, const wm_tensor *sin, int n_heads, int dim_offset,
                               const wm_tensor *y, const wm_tensor *y_pre, int64_t *P);

/* gated_add_proj: x (N, C), h (N, C), gate (G >= ceil(N / rows_per_group), C) or NULL, u (N, P),
 * w (C, P), bias (C) or NULL; x aliases neither h nor u. */
wm_status wm_gated_add_proj_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                                  int64_t rows_per_group, const wm_tensor *u, const wm_tensor *w,
                                  const wm_tensor *bias);

#ifdef __cplusplus
}
#endif
#endif
