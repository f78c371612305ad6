/* metrics.h -- image similarity for evaluating a world model against the procedural ground truth.
 *
 * PSNR over all RGB8 channels with peak 255 (identical images give +INFINITY). SSIM as in Wang et al.
 * 2004 and scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=255): 11x11 Gaussian window, K1 = 0.01, K2 = 0.03, computed
 * per channel over the "valid" region (pixels whose window lies inside the image) and averaged over
 * the three channels. Images must be at least 11x11 for SSIM (else NAN).
 */
#ifndef WM_WORLD_METRICS_H
#define WM_WORLD_METRICS_H

#include <stdint.h>

double wm_psnr_rgb8(const uint8_t *a, const uint8_t *b, int width, int height);
double wm_ssim_rgb8(const uint8_t *a, const uint8_t *b, int width, int height);

#endif
