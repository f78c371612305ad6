/* The pool visits every index exactly once, for many job sizes and repeated jobs (catches lost wake-ups
 * and ranges handed out twice), and a NULL pool runs inline. */
#include "testing.h"
#include "wm/core/threadpool.h"

#include <stdatomic.h>
#include <string.h>

typedef struct { atomic_int *hits; } ctx_t;

static void mark(void *p, int64_t b, int64_t e)
{
    ctx_t *c = p;
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

int main(void)
{
    static atomic_int hits[10007];
    wm_threadpool *pool;
    CHECK(wm_threadpool_create(4, &pool) == WM_OK);
    CHECK(wm_threadpool_size(pool) == 4);
    int all_ok = 1;
    for (int rep = 0; rep < 300; rep++) {
        int64_t n = 1 + (rep * 37) % 10007;
        for (int64_t i = 0; i < n; i++) atomic_store(&hits[i], 0);
        ctx_t c = {hits};
        wm_threadpool_run(pool, n, 1 + rep % 7, mark, &c);
        for (int64_t i = 0; i < n; i++)
            if (atomic_load(&hits[i]) != 1) all_ok = 0;
    }
    CHECK(all_ok);
    wm_threadpool_free(pool);
    for (int i = 0; i < 10; i++) atomic_store(&hits[i], 0);
    ctx_t c = {hits};
    wm_threadpool_run(NULL, 10, 1, mark, &c);
    int inline_ok = 1;
    for (int i = 0; i < 10; i++) inline_ok &= atomic_load(&hits[i]) == 1;
    CHECK(inline_ok);
    TEST_MAIN_END();
}
