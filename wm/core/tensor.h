/* Tensors: a typed, shaped view of contiguous row-major memory on one device.
 *
 * A wm_tensor never owns its memory implicitly: memory comes from an arena (the per-chunk hot path),
 * from a checkpoint mapping, or from wm_tensor_alloc() (tests, tools, one-off host buffers; freed with
 * wm_tensor_free()). Tensors are always contiguous; a "view" of a slice along the first axis is just a
 * tensor whose data points inside another one (wm_tensor_slice0). Shapes are outermost first, as in
 * PyTorch, with at most 5 dimensions (B, C, T, H, W latents are the largest we need).
 */
#ifndef WM_CORE_TENSOR_H
#define WM_CORE_TENSOR_H

#include "wm/core/dtype.h"
#include "wm/wm.h"

#include <stdint.h>

#define WM_MAX_DIMS 5

typedef enum wm_device { WM_DEVICE_CPU = 0, WM_DEVICE_CUDA = 1 } wm_device;

typedef struct wm_tensor {
    wm_dtype dtype;
    wm_device device;
    int ndim;
    int64_t shape[WM_MAX_DIMS];
    void *data;
    int owned; /* 1 if allocated by wm_tensor_alloc (host) and released by wm_tensor_free */
} wm_tensor;

/* A tensor header over existing memory. Unused trailing shape entries are set to 1. */
wm_tensor wm_tensor_view(wm_dtype dtype, wm_device dev, void *data, int ndim, const int64_t *shape);
/* Convenience for up to 4 dims: wm_tensor_view4(WM_F32, WM_DEVICE_CPU, p, 2, n, c, 0, 0). */
wm_tensor wm_tensor_view4(wm_dtype dtype, wm_device dev, void *data, int ndim, int64_t d0, int64_t d1,
                          int64_t d2, int64_t d3);

int64_t wm_tensor_numel(const wm_tensor *t);
size_t wm_tensor_nbytes(const wm_tensor *t);
int wm_tensor_same_shape(const wm_tensor *a, const wm_tensor *b);
/* Rows x cols view of a tensor: rows = product of all dims but the last. */
int64_t wm_tensor_rows(const wm_tensor *t);
int64_t wm_tensor_cols(const wm_tensor *t);
/* Same memory, new shape (numel must match; returns WM_ERR_SHAPE otherwise). */
wm_status wm_tensor_reshape(const wm_tensor *t, int ndim, const int64_t *shape, wm_tensor *out);
/* Rows [start, start+count) along dim 0, as a view. */
wm_tensor wm_tensor_slice0(const wm_tensor *t, int64_t start, int64_t count);
/* "F32[2,3,4]" into buf; returns buf. */
const char *wm_tensor_desc(const wm_tensor *t, char *buf, size_t len);

/* Host allocation (64-byte aligned, zeroed) for tests, loaders and tools; not for the hot path. */
wm_status wm_tensor_alloc(wm_dtype dtype, int ndim, const int64_t *shape, wm_tensor *out);
void wm_tensor_free(wm_tensor *t);

/* Host copy of any float tensor as fp32 (allocated; caller frees with wm_tensor_free). */
wm_status wm_tensor_to_f32(const wm_tensor *src, wm_tensor *out);

#endif
