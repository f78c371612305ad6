/* Tensor headers and host allocation. Views never copy; alloc/free exist for tests, loaders and tools. */
#include "wm/core/tensor.h"
#include "wm/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wm_tensor wm_tensor_view(wm_dtype dtype, wm_device dev, void *data, int ndim, const int64_t *shape)
{
    wm_tensor t;
    memset(&t, 0, sizeof t);
    WM_ASSERT(ndim >= 0 && ndim <= WM_MAX_DIMS);
    t.dtype = dtype;
    t.device = dev;
    t.ndim = ndim;
    t.data = data;
    for (int i = 0; i < WM_MAX_DIMS; i++) t.shape[i] = i < ndim ? shape[i] : 1;
    return t;
}

wm_tensor wm_tensor_view4(wm_dtype dtype, wm_device dev, void *data, int ndim, int64_t d0, int64_t d1,
                          int64_t d2, int64_t d3)
{
    int64_t s[4] = {d0, d1, d2, d3};
    return wm_tensor_view(dtype, dev, data, ndim, s);
}

int64_t wm_tensor_numel(const wm_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t wm_tensor_nbytes(const wm_tensor *t) { return (size_t)wm_tensor_numel(t) * wm_dtype_size(t->dtype); }

int wm_tensor_same_shape(const wm_tensor *a, const wm_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

int64_t wm_tensor_cols(const wm_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

int64_t wm_tensor_rows(const wm_tensor *t)
{
    int64_t c = wm_tensor_cols(t);
    return c ? wm_tensor_numel(t) / c : 0;
}

wm_status wm_tensor_reshape(const wm_tensor *t, int ndim, const int64_t *shape, wm_tensor *out)
{
    if (ndim < 0 || ndim > WM_MAX_DIMS) return WM_ERR_SHAPE;
    wm_tensor r = wm_tensor_view(t->dtype, t->device, t->data, ndim, shape);
    if (wm_tensor_numel(&r) != wm_tensor_numel(t)) return WM_ERR_SHAPE;
    r.owned = 0;
    *out = r;
    return WM_OK;
}

wm_tensor wm_tensor_slice0(const wm_tensor *t, int64_t start, int64_t count)
{
    WM_ASSERT(t->ndim >= 1 && start >= 0 && count >= 0 && start + count <= t->shape[0]);
    wm_tensor r = *t;
    r.owned = 0;
    size_t row = t->shape[0] ? wm_tensor_nbytes(t) / (size_t)t->shape[0] : 0;
    r.data = t->data ? (char *)t->data + (size_t)start * row : NULL;
    r.shape[0] = count;
    return r;
}

const char *wm_tensor_desc(const wm_tensor *t, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s[", wm_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && n > 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (n > 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, "]");
    return buf;
}

wm_status wm_tensor_alloc(wm_dtype dtype, int ndim, const int64_t *shape, wm_tensor *out)
{
    if (ndim < 0 || ndim > WM_MAX_DIMS) return WM_ERR_SHAPE;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) return WM_ERR_SHAPE;
    wm_tensor t = wm_tensor_view(dtype, WM_DEVICE_CPU, NULL, ndim, shape);
    size_t bytes = wm_tensor_nbytes(&t);
    size_t rounded = (bytes + 63) & ~(size_t)63;
    t.data = aligned_alloc(64, rounded ? rounded : 64);
    if (!t.data) return WM_ERR_OUT_OF_MEMORY;
    memset(t.data, 0, rounded ? rounded : 64);
    t.owned = 1;
    *out = t;
    return WM_OK;
}

void wm_tensor_free(wm_tensor *t)
{
    if (t && t->owned) free(t->data);
    if (t) { t->data = NULL; t->owned = 0; }
}

wm_status wm_tensor_to_f32(const wm_tensor *src, wm_tensor *out)
{
    if (src->device != WM_DEVICE_CPU) return WM_ERR_INVALID_ARG;
    if (!wm_dtype_is_float(src->dtype)) return WM_ERR_DTYPE;
    WM_TRY(wm_tensor_alloc(WM_F32, src->ndim, src->shape, out));
    wm_convert_to_f32(src->dtype, src->data, out->data, (size_t)wm_tensor_numel(src));
    return WM_OK;
}
