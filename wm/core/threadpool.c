/* Persistent worker threads woken per job.
 *
 * A job is (fn, ctx, n, chunk). Items are handed out in contiguous ranges through an atomic cursor, so
 * uneven rows balance themselves and no per-job allocation happens. Workers sleep on a condition
 * variable between jobs; the caller works too and then waits for the stragglers. Spinning was rejected:
 * on the 2-core CI machine other processes (tests, compilers) share the cores.
 */
#include "wm/core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct wm_threadpool {
    int n_workers; /* threads besides the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    uint64_t generation; /* bumped per job; workers run each generation once */
    int quit;
    int active;          /* workers still inside the current job */
    /* current job */
    wm_parallel_fn fn;
    void *ctx;
    int64_t n, chunk;
    atomic_llong cursor;
};

static void run_ranges(wm_threadpool *p)
{
    for (;;) {
        int64_t b = atomic_fetch_add(&p->cursor, p->chunk);
        if (b >= p->n) break;
        int64_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
        p->fn(p->ctx, b, e);
    }
}

static void *worker(void *arg)
{
    wm_threadpool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_ranges(p);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

wm_status wm_threadpool_create(int n_threads, wm_threadpool **out)
{
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    wm_threadpool *p = calloc(1, sizeof *p);
    if (!p) return WM_ERR_OUT_OF_MEMORY;
    p->n_workers = n_threads - 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n_workers > 0) {
        p->threads = calloc((size_t)p->n_workers, sizeof *p->threads);
        if (!p->threads) { free(p); return WM_ERR_OUT_OF_MEMORY; }
    }
    for (int i = 0; i < p->n_workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            p->n_workers = i; /* free() joins only the ones that started */
            wm_threadpool_free(p);
            return WM_ERR_OUT_OF_MEMORY;
        }
    }
    *out = p;
    return WM_OK;
}

void wm_threadpool_free(wm_threadpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int wm_threadpool_size(const wm_threadpool *p) { return p ? p->n_workers + 1 : 1; }

void wm_threadpool_run(wm_threadpool *p, int64_t n, int64_t min_chunk, wm_parallel_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (min_chunk < 1) min_chunk = 1;
    int nt = wm_threadpool_size(p);
    /* About 4 ranges per thread balances uneven work without much cursor traffic. */
    int64_t chunk = (n + 4 * nt - 1) / (4 * nt);
    if (chunk < min_chunk) chunk = min_chunk;
    if (!p || p->n_workers == 0 || chunk >= n) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    atomic_store(&p->cursor, 0);
    p->active = p->n_workers;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_ranges(p);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
