/* First-frame preprocessing for the VAE encoder (spec §1.4): resize-to-cover with PIL's LANCZOS
 * filter, centre crop, intrinsics adjustment, and uint8 HWC -> fp32 CHW in [-1,1].
 *
 * The resampler reproduces Pillow's 8-bit path (ImagingResample: separable horizontal-then-vertical
 * passes, Lanczos-3 kernel stretched by the scale factor when downscaling, coefficients normalised and
 * quantised to 22-bit fixed point, each pass rounded and clamped to uint8), so the resized image is
 * byte-identical to PIL's (tests/vae/test_vae_preprocess.c checks against PIL output).
 */
#ifndef WM_VAE_PREPROCESS_H
#define WM_VAE_PREPROCESS_H

#include "wm/core/log.h"

#include <stdint.h>

typedef struct wm_cover_crop {
    int rh, rw;      /* resized size (covers th x tw) */
    int top, left;   /* crop offsets into the resized image */
} wm_cover_crop;

/* s = max(th/h0, tw/w0); rw = max(tw, round(w0*s)), rh = max(th, round(h0*s)); centred crop. */
wm_cover_crop wm_cover_crop_geometry(int h0, int w0, int th, int tw);

/* Intrinsics of the source image -> intrinsics of the cropped th x tw image, using the ratios of the
 * ROUNDED resized size (rw/w0, rh/h0), as the official pipeline does. k = {fx, fy, cx, cy}. */
void wm_cover_crop_intrinsics(int h0, int w0, int th, int tw, const double k_in[4], double k_out[4]);

/* PIL-exact LANCZOS resize of an interleaved 8-bit image (h0, w0, ch) to (h1, w1, ch). */
wm_status wm_resize_lanczos_u8(const uint8_t *src, int h0, int w0, int ch, uint8_t *dst, int h1, int w1,
                               wm_error *err);

/* Resize-to-cover + centre crop: src (h0, w0, 3) -> dst (th, tw, 3). */
wm_status wm_image_cover_crop(const uint8_t *src, int h0, int w0, uint8_t *dst, int th, int tw, wm_error *err);

/* uint8 (h, w, 3) -> fp32 (3, 1, h, w) with x = v/255*2 - 1 (ToTensor()*2-1). */
void wm_image_to_unit(const uint8_t *src, int h, int w, float *dst);

#endif
