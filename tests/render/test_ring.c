/* test_ring.c -- the generator/UI frame ring: order, bounded capacity (the producer blocks until a
 * chunk fits and wakes when the consumer pops), newest-of-due popping, the action queue keeping the
 * most recent samples, quit releasing a blocked producer, and the just-in-time wait (a chunk starts only
 * once the queue ahead of the screen is short). Runs real producer threads. */
#include "render/ring.h"
#include "testing.h"

#include <string.h>
#include <unistd.h>

enum { W = 8, H = 4, CHUNK = 4 };

static void *producer(void *arg)
{
    wm_ring *r = arg;
    uint8_t rgb[W * H * 3];
    wm_pose p;
    memset(&p, 0, sizeof p);
    for (int c = 0; c < 5; c++) {
        if (!wm_ring_wait_space(r, CHUNK)) return NULL;
        for (int i = 0; i < CHUNK; i++) {
            int idx = c * CHUNK + i;
            memset(rgb, idx, sizeof rgb);
            p.c2w[11] = (float)idx;
            wm_ring_push(r, rgb, &p, idx, c, i, 0.5 * idx);
        }
    }
    wm_ring_wait_space(r, 1000); /* blocks until quit (capacity is smaller) */
    return NULL;
}

/* Just-in-time start: a producer asking for at most 2 queued frames must not return while more are
 * queued, and must return once the consumer has drained down to 2. */
typedef struct { wm_ring *r; volatile int returned_at_depth; } jit_ctx;

static void *jit_producer(void *arg)
{
    jit_ctx *c = arg;
    if (wm_ring_wait_ready(c->r, CHUNK, 2)) c->returned_at_depth = wm_ring_depth(c->r);
    return NULL;
}

static void test_wait_ready(void)
{
    wm_ring r;
    CHECK(wm_ring_init(&r, 3 * CHUNK, W, H) == WM_OK);
    uint8_t rgb[W * H * 3], buf[W * H * 3];
    wm_pose p;
    memset(&p, 0, sizeof p);
    memset(rgb, 1, sizeof rgb);
    for (int i = 0; i < 6; i++) wm_ring_push(&r, rgb, &p, i, 0, i, 0);
    jit_ctx c = {&r, -1};
    pthread_t t;
    pthread_create(&t, NULL, jit_producer, &c);
    usleep(20000);
    CHECK(c.returned_at_depth == -1); /* 6 queued > 2: still waiting although a chunk fits */
    wm_ring_slot s = {.rgb = buf};
    for (int i = 0; i < 4; i++) { wm_ring_pop(&r, 1, &s); usleep(2000); }
    pthread_join(t, NULL);
    CHECK(c.returned_at_depth >= 0 && c.returned_at_depth <= 2);
    wm_ring_free(&r);
}

int main(void)
{
    test_wait_ready();
    wm_ring r;
    CHECK(wm_ring_init(&r, 2 * CHUNK + 1, W, H) == WM_OK);
    pthread_t t;
    pthread_create(&t, NULL, producer, &r);
    uint8_t buf[W * H * 3];
    wm_ring_slot s = {.rgb = buf};
    int64_t expect = 0;
    int max_depth = 0;
    while (expect < 20) {
        int d = wm_ring_depth(&r);
        if (d > max_depth) max_depth = d;
        int n = wm_ring_pop(&r, expect == 8 ? 3 : 1, &s); /* once pop 3: newest of them shown */
        if (n == 0) { usleep(1000); continue; }
        expect += n;
        CHECK(s.frame_index == expect - 1 && buf[0] == (uint8_t)(expect - 1) && s.pose.c2w[11] == (float)(expect - 1));
        CHECK(s.frame_in_chunk == (int)((expect - 1) % CHUNK) && s.input_t == 0.5 * (expect - 1));
    }
    CHECK(max_depth <= 2 * CHUNK + 1);
    wm_ring_quit(&r);
    pthread_join(t, NULL);

    wm_action a;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < WM_ACTION_QUEUE + 10; i++) { a.yaw = (float)i; wm_ring_put_action(&r, &a, i); }
    wm_action out[8];
    double ts[8];
    int k = wm_ring_take_actions(&r, out, ts, 8);
    CHECK(k == 8 && out[7].yaw == (float)(WM_ACTION_QUEUE + 9) && out[0].yaw == (float)(WM_ACTION_QUEUE + 2));
    CHECK(ts[7] == WM_ACTION_QUEUE + 9);
    CHECK(wm_ring_take_actions(&r, out, NULL, 8) == 0);
    wm_ring_free(&r);
    TEST_MAIN_END();
}
