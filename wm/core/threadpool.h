/* A fixed pool of pthreads for the CPU backend's data-parallel loops.
 *
 * wm_threadpool_run(pool, n, fn, ctx) calls fn(ctx, i) for i in [0, n) spread over the workers and the
 * calling thread, and returns when all are done. Work is split in contiguous ranges so each worker
 * touches neighbouring rows. A pool belongs to one backend; it is not reentrant (fn must not call
 * wm_threadpool_run on the same pool).
 */
#ifndef WM_CORE_THREADPOOL_H
#define WM_CORE_THREADPOOL_H

#include "wm/wm.h"

#include <stdint.h>

typedef struct wm_threadpool wm_threadpool;
typedef void (*wm_parallel_fn)(void *ctx, int64_t begin, int64_t end);

/* n_threads <= 0: number of online CPUs. */
wm_status wm_threadpool_create(int n_threads, wm_threadpool **out);
void wm_threadpool_free(wm_threadpool *p);
int wm_threadpool_size(const wm_threadpool *p);
/* Split [0, n) into ranges of at least min_chunk items and run fn on each. p == NULL runs inline. */
void wm_threadpool_run(wm_threadpool *p, int64_t n, int64_t min_chunk, wm_parallel_fn fn, void *ctx);

#endif
