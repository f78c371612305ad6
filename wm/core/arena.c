/* Bump arenas over one host or device allocation (see arena.h for why). */
#include "wm/core/arena.h"
#include "wm/core/backend.h"

#include <stdlib.h>
#include <string.h>

#define WM_ARENA_ALIGN 256 /* covers cache lines, AVX-512 and the 128-byte CUDA vector/TMA alignment */

wm_status wm_arena_init(wm_arena *a, wm_backend *be, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->cap = cap;
    a->be = be;
    a->device = be ? be->device : WM_DEVICE_CPU;
    if (cap == 0) return WM_OK;
    if (be && be->device != WM_DEVICE_CPU) {
        void *p = NULL;
        WM_TRY(wm_backend_malloc(be, cap, &p));
        a->base = p;
    } else {
        a->base = aligned_alloc(WM_ARENA_ALIGN, (cap + WM_ARENA_ALIGN - 1) & ~(size_t)(WM_ARENA_ALIGN - 1));
        if (!a->base) return WM_ERR_OUT_OF_MEMORY;
        a->be = NULL;
    }
    wm__log(WM_LOG_DEBUG, "arena: reserved %.1f MiB on %s", cap / 1048576.0,
            a->device == WM_DEVICE_CPU ? "host" : "device");
    return WM_OK;
}

void wm_arena_init_measure(wm_arena *a, wm_device dev)
{
    memset(a, 0, sizeof *a);
    a->device = dev;
    a->measuring = 1;
    a->cap = (size_t)-1;
}

void wm_arena_free(wm_arena *a)
{
    if (!a->measuring && a->base) {
        if (a->be) wm_backend_mfree(a->be, a->base);
        else free(a->base);
    }
    memset(a, 0, sizeof *a);
}

wm_status wm_arena_alloc(wm_arena *a, size_t bytes, void **out)
{
    size_t start = (a->used + WM_ARENA_ALIGN - 1) & ~(size_t)(WM_ARENA_ALIGN - 1);
    if (start > a->cap || bytes > a->cap - start) {
        wm__log(WM_LOG_ERROR, "arena: out of memory: need %zu bytes at offset %zu, capacity %zu", bytes, start,
                a->cap);
        return WM_ERR_OUT_OF_MEMORY;
    }
    a->used = start + bytes;
    if (a->used > a->peak) a->peak = a->used;
    *out = a->measuring ? NULL : a->base + start;
    return WM_OK;
}

wm_status wm_arena_tensor(wm_arena *a, wm_dtype dtype, int ndim, const int64_t *shape, wm_tensor *out)
{
    wm_tensor t = wm_tensor_view(dtype, a->device, NULL, ndim, shape);
    void *p = NULL;
    WM_TRY(wm_arena_alloc(a, wm_tensor_nbytes(&t), &p));
    t.data = p;
    *out = t;
    return WM_OK;
}
