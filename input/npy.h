/* npy.h -- a small, defensive reader/writer for NumPy .npy files (format versions 1.0-3.0).
 *
 * Only what trajectories need: little-endian float32/float64 ('<f4', '<f8'), C order
 * (fortran_order False), up to 4 dimensions. The header dict is parsed field by field with bounds
 * (header <= 64 KiB, dims <= 2^31, total bytes must match the file exactly), so a truncated or hostile
 * file is an error naming the file and the problem, never a crash or an over-read. Data is returned
 * converted to float (trajectories are float32 in SANA-WM's scripts; '<f8' files are narrowed).
 */
#ifndef WM_INPUT_NPY_H
#define WM_INPUT_NPY_H

#include "wm/core/log.h"
#include <stddef.h>
#include <stdint.h>

#define WM_NPY_MAX_DIMS 4

typedef struct wm_npy {
    int ndim;
    int64_t shape[WM_NPY_MAX_DIMS];
    size_t count;   /* product of shape */
    float *data;    /* count floats, malloc'ed; free with wm_npy_free */
} wm_npy;

/* Read path; on failure returns a code, records "path: what" in err and leaves *out zeroed. */
wm_status wm_npy_read(const char *path, wm_npy *out, wm_error *err);
/* Parse an in-memory .npy image (used by the reader and by fuzz/corpus tests). */
wm_status wm_npy_parse(const uint8_t *buf, size_t len, const char *name, wm_npy *out, wm_error *err);
void wm_npy_free(wm_npy *a);

/* Write a '<f4' C-order array (format 1.0), atomically (temp file + rename). */
wm_status wm_npy_write(const char *path, const float *data, int ndim, const int64_t *shape, wm_error *err);

#endif
