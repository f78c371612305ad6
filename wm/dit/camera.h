/* Camera preprocessing for the DiT (spec §4.1-§4.4, §4.7): from raw camera-to-world poses (OpenCV axes)
 * and pinhole intrinsics in pixels to the model's camera tensors.
 *
 * All geometry is computed in double and stored as fp32 (the golden reference computes in float64;
 * the official pipeline rounds camera tensors to bf16, spec §4.1, which a bf16 port may emulate).
 * Token order of per-pixel outputs is frame-major raster n = f*S + r*W + c with INTEGER latent pixel
 * coordinates (no +0.5).
 */
#ifndef WM_DIT_CAMERA_H
#define WM_DIT_CAMERA_H

#include "wm/wm.h"

/* rel[i] = inverse(c2w[0]) * c2w[i] with the closed-form SE(3) inverse; rel[0] = I exactly.
 * c2w, rel: (F, 4, 4) row-major. */
void wm_dit_relative_poses(const float *c2w, int n_raw, float *rel);
/* (fx, fy, cx, cy) pixels -> latent units: fx, cx * latent_w/image_w; fy, cy * latent_h/image_h. */
void wm_dit_latent_intrinsics(const float *intr, int n_raw, int image_h, int image_w, int latent_h,
                              int latent_w, float *out);
/* camera_conditions (T, 20): rel pose of raw frame stride*i (clamped to the last) + its intrinsics. */
void wm_dit_camera_conditions(const float *rel, const float *lintr, int n_raw, int T, int stride, float *out);
/* chunk Plücker (6*stride, T, latent_h, latent_w): for latent frame i the raw frames max(0, stride*i -
 * stride+1) + k (last repeated), channels 6k + (d_x, d_y, d_z, m_x, m_y, m_z), m = t x d. */
void wm_dit_chunk_plucker(const float *rel, const float *lintr, int n_raw, int T, int latent_h, int latent_w,
                          int stride, float *out);
/* UCPE world-to-ray matrices from camera_conditions (T, 20): P and P^-1 per token, (T*S, 16) each. */
void wm_dit_ucpe_mats(const float *cam, int T, int latent_h, int latent_w, float *P, float *Pinv);

/* Everything the forward needs from raw inputs: camera_conditions (T,20) and plucker (48,T,H,W) for
 * T = (n_raw-1)/stride + 1 latent frames (or the given T). Returns WM_ERR_INVALID_ARG for bad sizes. */
wm_status wm_dit_camera_from_raw(const float *c2w, const float *intr, int n_raw, int image_h, int image_w,
                                 int latent_h, int latent_w, int stride, int T, float *cam, float *plucker);

#endif
