/* The world API (wm.h) on the procedural source: a full episode, determinism (same seed and inputs ->
 * identical frames; another seed -> different frames), snapshot / branch / restore reproducing frames
 * bit for bit (also into a second world), explicit poses, and the error paths (no reset, bad actions,
 * unavailable model source, image initializer on the procedural source). */
#include "testing.h"
#include "wm/wm.h"

#include <stdlib.h>
#include <string.h>

#define W 96
#define H 64
#define FPC 6

static wm_world *open_small(void)
{
    wm_world_params p = wm_world_default_params();
    p.width = W; p.height = H; p.frames_per_chunk = FPC; p.n_threads = 2; p.seed = 11;
    wm_world *w = NULL;
    CHECK(wm_world_open(&p, &w) == WM_OK);
    return w;
}

static size_t chunk_bytes(void) { return (size_t)FPC * W * H * 3; }

static void test_episode(void)
{
    wm_world *w = open_small();
    if (!w) return;
    wm_world_params ep;
    wm_world_get_params(w, &ep);
    CHECK(ep.fps == 16 && ep.frames_per_chunk == FPC && ep.width == W && ep.n_threads == 2);
    wm_frames f;
    wm_action a = {0};
    CHECK(wm_world_step_actions(w, &a, 1, &f) == WM_ERR_STATE);
    CHECK(strstr(wm_world_last_error(w), "reset") != NULL);
    CHECK(wm_world_reset(w, NULL, &f) == WM_OK);
    CHECK(f.n == 1 && f.chunk_index == 0 && f.first_frame == 0 && f.width == W && f.height == H);
    CHECK(f.poses[0].c2w[0] == 1 && f.poses[0].c2w[11] == 0 && f.poses[0].fx > 0);
    float z_prev = 0;
    a.keys = WM_KEY_FORWARD;
    for (int c = 1; c <= 3; c++) {
        CHECK(wm_world_step_actions(w, &a, 1, &f) == WM_OK);
        CHECK(f.n == FPC && f.chunk_index == c && f.first_frame == 1 + (c - 1) * FPC);
        CHECK(f.ms_total >= f.ms_generate && f.ms_generate >= 0);
        int monotone = 1;
        for (int i = 0; i < f.n; i++) { monotone &= f.poses[i].c2w[11] > z_prev; z_prev = f.poses[i].c2w[11]; }
        CHECK_MSG(monotone, "holding forward must move the camera along +Z (chunk %d)", c);
    }
    /* Two actions: yaw right for 2 frames, then nothing held for the rest of the chunk. */
    wm_action two[2] = {{0}, {0}};
    two[0].keys = WM_KEY_YAW_RIGHT; two[0].n_frames = 2;
    two[1].n_frames = 1;
    CHECK(wm_world_step_actions(w, two, 2, &f) == WM_OK && f.n == FPC);
    CHECK(f.poses[1].c2w[2] > f.poses[0].c2w[2] - 1e-6f); /* forward axis turns towards +X */
    wm_pose cur;
    wm_world_get_pose(w, &cur);
    CHECK(memcmp(&cur, &f.poses[FPC - 1], sizeof cur) == 0);
    /* Bad actions. */
    wm_action bad = {0};
    bad.yaw = 1.5f;
    CHECK(wm_world_step_actions(w, &bad, 1, &f) == WM_ERR_INVALID_ARG);
    bad.yaw = NAN;
    CHECK(wm_world_step_actions(w, &bad, 1, &f) == WM_ERR_INVALID_ARG);
    bad.yaw = 0; bad.n_frames = FPC + 1;
    CHECK(wm_world_step_actions(w, &bad, 1, &f) == WM_ERR_INVALID_ARG);
    CHECK(strstr(wm_world_last_error(w), "chunk") != NULL);
    CHECK(wm_world_step_actions(w, NULL, 0, &f) == WM_OK && f.chunk_index == 5); /* idle chunk */
    wm_world_free(w);
}

static void run_episode(uint64_t seed, uint8_t *out)
{
    wm_world *w = open_small();
    if (!w) return;
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = seed;
    wm_frames f;
    CHECK(wm_world_reset(w, &rp, &f) == WM_OK);
    memcpy(out, f.rgb, (size_t)W * H * 3);
    wm_action a = {0};
    a.keys = WM_KEY_FORWARD | WM_KEY_YAW_LEFT; a.move_x = 0.5f;
    CHECK(wm_world_step_actions(w, &a, 1, &f) == WM_OK);
    memcpy(out + (size_t)W * H * 3, f.rgb, chunk_bytes());
    wm_world_free(w);
}

static void test_determinism(void)
{
    size_t n = (size_t)W * H * 3 + chunk_bytes();
    uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
    run_episode(5, a);
    run_episode(5, b);
    run_episode(6, c);
    CHECK_MSG(memcmp(a, b, n) == 0, "same seed and actions must give identical frames");
    CHECK_MSG(memcmp(a, c, (size_t)W * H * 3) != 0, "another seed must give another world");
    free(a); free(b); free(c);
}

static void test_branching(void)
{
    wm_world *w = open_small(), *w2 = open_small();
    if (!w || !w2) { wm_world_free(w); wm_world_free(w2); return; }
    uint8_t *first = malloc(chunk_bytes());
    wm_frames f;
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = 99;
    CHECK(wm_world_reset(w, &rp, &f) == WM_OK);
    wm_action fwd = {0}, left = {0};
    fwd.keys = WM_KEY_FORWARD; left.keys = WM_KEY_STRAFE_LEFT | WM_KEY_PITCH_UP;
    CHECK(wm_world_step_actions(w, &fwd, 1, &f) == WM_OK);
    wm_snapshot *snap = NULL;
    CHECK(wm_world_snapshot(w, &snap) == WM_OK);
    CHECK(wm_world_step_actions(w, &fwd, 1, &f) == WM_OK);
    memcpy(first, f.rgb, chunk_bytes());
    int64_t idx = f.chunk_index;
    CHECK(wm_world_step_actions(w, &left, 1, &f) == WM_OK);  /* wander off */
    rp.seed = 1234;
    CHECK(wm_world_reset(w, &rp, &f) == WM_OK);              /* even another episode */
    CHECK(wm_world_restore(w, snap) == WM_OK);
    CHECK(wm_world_step_actions(w, &fwd, 1, &f) == WM_OK);
    CHECK(f.chunk_index == idx);
    CHECK_MSG(memcmp(first, f.rgb, chunk_bytes()) == 0, "restore + same action must reproduce the frames");
    CHECK(wm_world_restore(w2, snap) == WM_OK);               /* side-by-side branch in another world */
    CHECK(wm_world_step_actions(w2, &fwd, 1, &f) == WM_OK);
    CHECK_MSG(memcmp(first, f.rgb, chunk_bytes()) == 0, "a second world restored from the snapshot must match");
    CHECK(wm_world_step_actions(w2, &left, 1, &f) == WM_OK);
    CHECK(memcmp(first, f.rgb, chunk_bytes()) != 0);
    /* Snapshot of a different-size world is refused. */
    wm_world_params p = wm_world_default_params();
    p.width = W * 2; p.height = H; p.frames_per_chunk = FPC; p.n_threads = 1;
    wm_world *w3 = NULL;
    CHECK(wm_world_open(&p, &w3) == WM_OK);
    CHECK(w3 && wm_world_restore(w3, snap) == WM_ERR_INVALID_ARG);
    wm_world_free(w3);
    wm_world_free(w);
    wm_world_free(w2);
    wm_snapshot_free(snap); /* after its world is gone */
    free(first);
}

static void test_poses_and_errors(void)
{
    wm_world *w = open_small();
    if (!w) return;
    wm_frames f;
    CHECK(wm_world_reset(w, NULL, &f) == WM_OK);
    wm_pose ps[3];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < 3; i++) {
        ps[i].c2w[0] = ps[i].c2w[5] = ps[i].c2w[10] = ps[i].c2w[15] = 1;
        ps[i].c2w[3] = (float)i;
    }
    ps[2].fx = ps[2].fy = 50; ps[2].cx = 48; ps[2].cy = 32;
    CHECK(wm_world_step_poses(w, ps, 3, &f) == WM_OK && f.n == 3);
    CHECK(f.poses[1].c2w[3] == 1.0f && f.poses[1].fx > 0 && f.poses[2].fx == 50);
    CHECK(memcmp(f.rgb, f.rgb + (size_t)W * H * 3, (size_t)W * H * 3) != 0); /* sideways motion shows */
    CHECK(wm_world_step_poses(w, ps, FPC + 1, &f) == WM_ERR_INVALID_ARG);
    ps[0].c2w[5] = INFINITY;
    CHECK(wm_world_step_poses(w, ps, 1, &f) == WM_ERR_INVALID_ARG);
    ps[0].c2w[5] = 0; /* singular rotation */
    CHECK(wm_world_step_poses(w, ps, 1, &f) == WM_ERR_INVALID_ARG && strstr(wm_world_last_error(w), "orthonormal"));
    ps[0].c2w[5] = 1; ps[0].c2w[3] = 3e7f; /* absurdly far */
    CHECK(wm_world_step_poses(w, ps, 1, &f) == WM_ERR_INVALID_ARG && strstr(wm_world_last_error(w), "pose 0"));
    ps[0].c2w[3] = 0;
    CHECK(wm_world_step_poses(w, ps, 1, &f) == WM_OK);
    wm_reset_params rp = wm_reset_default_params();
    rp.image_path = "start.png";
    CHECK(wm_world_reset(w, &rp, &f) == WM_ERR_UNSUPPORTED);
    CHECK(strstr(wm_world_last_error(w), "start.png") != NULL);
    wm_world_free(w);

    wm_world_params p = wm_world_default_params();
    p.source = WM_SOURCE_MODEL; p.n_threads = 1;
    wm_world *m = NULL;
    /* No model path: refused cleanly, whether or not this build has the model pipeline. */
    wm_status mst = wm_world_open(&p, &m);
    CHECK((mst == WM_ERR_UNSUPPORTED || mst == WM_ERR_INVALID_ARG) && m == NULL);
    p = wm_world_default_params();
    p.width = 5;
    CHECK(wm_world_open(&p, &m) == WM_ERR_INVALID_ARG && m == NULL);
    wm_world_params z;
    memset(&z, 0, sizeof z); /* {0} means defaults */
    z.n_threads = 1;
    CHECK(wm_world_open(&z, &m) == WM_OK);
    if (m) {
        wm_world_get_params(m, &z);
        CHECK(z.width == 640 && z.height == 352 && z.frames_per_chunk == 24 && z.fps == 16);
    }
    wm_world_free(m);
}

int main(void)
{
    wm_log_set_level(WM_LOG_ERROR); /* the expected open failures would log warnings */
    test_episode();
    test_determinism();
    test_branching();
    test_poses_and_errors();
    TEST_MAIN_END();
}
