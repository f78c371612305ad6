/* Arenas: alignment, exhaustion reported as WM_ERR_OUT_OF_MEMORY, mark/rewind, and a measuring pass
 * whose peak sizes a real arena that then fits the same allocations exactly. */
#include "testing.h"
#include "wm/core/arena.h"
#include "wm/core/log.h"

static wm_status workload(wm_arena *a)
{
    void *p;
    WM_TRY(wm_arena_alloc(a, 1000, &p));
    size_t m = wm_arena_mark(a);
    for (int i = 0; i < 10; i++) WM_TRY(wm_arena_alloc(a, 300, &p));
    wm_arena_rewind(a, m);
    int64_t shape[2] = {17, 33};
    wm_tensor t;
    WM_TRY(wm_arena_tensor(a, WM_F32, 2, shape, &t));
    return WM_OK;
}

int main(void)
{
    wm_arena a;
    CHECK(wm_arena_init(&a, NULL, 4096) == WM_OK);
    void *p1, *p2;
    CHECK(wm_arena_alloc(&a, 1, &p1) == WM_OK && wm_arena_alloc(&a, 1, &p2) == WM_OK);
    CHECK(((uintptr_t)p1 % 256) == 0 && ((uintptr_t)p2 % 256) == 0 && p2 != p1);
    CHECK(wm_arena_alloc(&a, 8192, &p1) == WM_ERR_OUT_OF_MEMORY);
    wm_arena_reset(&a);
    CHECK(a.used == 0 && a.peak > 0);
    wm_arena_free(&a);

    wm_arena m;
    wm_arena_init_measure(&m, WM_DEVICE_CPU);
    CHECK(workload(&m) == WM_OK);
    size_t need = m.peak;
    CHECK(need >= 1000 + 10 * 300);
    wm_arena_free(&m);
    wm_arena r;
    CHECK(wm_arena_init(&r, NULL, need) == WM_OK);
    CHECK(workload(&r) == WM_OK);
    CHECK(r.peak == need);
    wm_arena_reset(&r);
    wm_arena_free(&r);
    wm_arena small;
    CHECK(wm_arena_init(&small, NULL, need - 1) == WM_OK);
    CHECK(workload(&small) == WM_ERR_OUT_OF_MEMORY);
    wm_arena_free(&small);
    TEST_MAIN_END();
}
