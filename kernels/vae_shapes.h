/* Shape contracts of the VAE ops that both backends share.
 *
 * The CPU reference and the CUDA kernel of an op must accept exactly the same shapes, so each contract
 * is written once here and called by both implementations; what differs per backend (accepted dtypes,
 * the CUDA kernels' index-width limits) stays in the backend's file. Each function records a message
 * naming the op in be->err (WM_OP_CHECK uses __func__) and returns the status. */
#ifndef WM_KERNELS_VAE_SHAPES_H
#define WM_KERNELS_VAE_SHAPES_H

#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

wm_status wm_vae_conv3d_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                              const wm_tensor *bias, int causal, int reflect, const wm_tensor *y);
wm_status wm_vae_depth_to_space_shape(wm_backend *be, const wm_tensor *x, int st, int sh, int sw, int trim,
                                      const wm_tensor *y);
wm_status wm_vae_space_to_depth_shape(wm_backend *be, const wm_tensor *x, int st, int sh, int sw, int group,
                                      const wm_tensor *y);

#ifdef __cplusplus
}
#endif
#endif
