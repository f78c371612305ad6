/* image.h -- RGB8 frame files for datasets and evaluation: PNG (through zlib) and binary PPM.
 *
 * Our own small codec instead of libpng: we only need 8-bit RGB frames we write ourselves plus
 * ordinary 8-bit RGB/RGBA/gray PNGs from other tools, and zlib is already a dependency of FFmpeg.
 * Readers are defensive (every chunk length and CRC checked, dimensions bounded, non-interlaced
 * 8-bit only, anything else is WM_ERR_UNSUPPORTED with the file name). Writers go to "<path>.tmp"
 * and rename, so a file that exists is complete.
 */
#ifndef WM_WORLD_IMAGE_H
#define WM_WORLD_IMAGE_H

#include "wm/core/log.h"

#include <stddef.h>
#include <stdint.h>

#define WM_IMAGE_MAX_SIDE 8192   /* frames are at most 8192 wide (world limit); bounds decode memory */

/* Write by extension: ".png" (when built with zlib) or ".ppm". */
wm_status wm_image_write(const char *path, int width, int height, const uint8_t *rgb, wm_error *err);
/* Read a PNG or PPM into a malloc'ed RGB8 buffer (*rgb, free() it). */
wm_status wm_image_read(const char *path, int *width, int *height, uint8_t **rgb, wm_error *err);
/* The same from bytes in memory; name is only used in error messages. */
wm_status wm_image_decode(const char *name, const uint8_t *data, size_t n, int *width, int *height, uint8_t **rgb,
                          wm_error *err);
/* 1 if this build writes and reads PNG. */
int wm_image_have_png(void);

#endif
