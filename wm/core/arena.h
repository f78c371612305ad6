/* Arenas: one big allocation carved by a bump pointer.
 *
 * The per-chunk hot path must not call malloc/cudaMalloc (wm.h promise), so sessions plan their
 * worst-case scratch once, reserve an arena, and reset it at the start of every chunk. mark/rewind give
 * stack-like scoping inside a forward (a block's temporaries are released when the block ends).
 * An arena is either host memory or device memory of one backend.
 */
#ifndef WM_CORE_ARENA_H
#define WM_CORE_ARENA_H

#include "wm/core/tensor.h"

#include <stddef.h>

typedef struct wm_backend wm_backend;

typedef struct wm_arena {
    char *base;
    size_t cap, used, peak;
    wm_device device;
    wm_backend *be;   /* owner of device memory; NULL for host arenas */
    int measuring;    /* 1: hand out no memory, only record the peak (planning pass) */
} wm_arena;

/* Reserve cap bytes on the backend's device (be == NULL: host). */
wm_status wm_arena_init(wm_arena *a, wm_backend *be, size_t cap);
/* A measuring arena: allocations succeed with data == NULL and only advance used/peak. Used to plan
 * the size of a real arena by running the same code once. */
void wm_arena_init_measure(wm_arena *a, wm_device dev);
void wm_arena_free(wm_arena *a);
static inline void wm_arena_reset(wm_arena *a) { a->used = 0; }
static inline size_t wm_arena_mark(const wm_arena *a) { return a->used; }
static inline void wm_arena_rewind(wm_arena *a, size_t mark) { a->used = mark; }

/* 256-byte aligned block; WM_ERR_OUT_OF_MEMORY (with sizes in the log) when the arena is too small. */
wm_status wm_arena_alloc(wm_arena *a, size_t bytes, void **out);
wm_status wm_arena_tensor(wm_arena *a, wm_dtype dtype, int ndim, const int64_t *shape, wm_tensor *out);

#endif
