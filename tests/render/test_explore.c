/* test_explore.c -- the live explorer end to end under Xvfb + lavapipe (label "display").
 *
 * Runs wm_explore_run on a small procedural world with synthetic input injected at every video tick
 * through the same adapter real GLFW key events use (wm_glfw_input_key) or as a gamepad state, and
 * asserts: frames are presented, the read-back window image equals the world frame shown (HUD off,
 * window = video size), holding W moves the camera forward (+Z, no sideways drift), the gamepad's
 * right trigger raises it (-Y) and the right stick turns it right, and a recording made during the
 * run has one sidecar pose per generated frame and the W press among its events.
 * Exit 77 without DISPLAY.
 */
#include "recordings/run.h"
#include "recordings/sidecar.h"
#include "input/trajectory.h"
#include "render/explorer.h"
#include "testing.h"

#include <GLFW/glfw3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void press_w(void *user, int64_t tick, wm_glfw_input *in)
{
    (void)user;
    if (tick == 0) wm_glfw_input_key(in, GLFW_KEY_W, GLFW_PRESS);
}

static void pad_up_right(void *user, int64_t tick, wm_glfw_input *in)
{
    (void)user;
    /* Also exercise the window keys: HUD on, fullscreen and back. */
    if (tick == 0) wm_glfw_input_key(in, GLFW_KEY_H, GLFW_PRESS);
    if (tick == 4 || tick == 12) wm_glfw_input_key(in, GLFW_KEY_F11, GLFW_PRESS);
    wm_gamepad_state g;
    memset(&g, 0, sizeof g);
    g.axes[WM_PAD_LT] = -1;
    g.axes[WM_PAD_RT] = 1;   /* rise */
    g.axes[WM_PAD_RIGHT_X] = 1; /* turn right */
    wm_glfw_input_inject_pad(in, &g);
}

static wm_explore_opts small_opts(void)
{
    wm_explore_opts o;
    memset(&o, 0, sizeof o);
    o.world = wm_world_default_params();
    o.world.width = 160;
    o.world.height = 96;
    o.world.frames_per_chunk = 8;
    o.world.n_threads = 2;
    o.seed = 3;
    o.max_frames = 32;
    o.no_hud = 1;
    o.win_w = 160;
    o.win_h = 96;
    return o;
}

int main(void)
{
    if (!getenv("DISPLAY")) { printf("skip: no DISPLAY (run under xvfb-run)\n"); return 77; }
    char dir[] = "/tmp/wm_test_explore_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char mp4[512], json[512];
    snprintf(mp4, sizeof mp4, "%s/live.mp4", dir);
    snprintf(json, sizeof json, "%s/live.json", dir);

    wm_explore_opts o = small_opts();
    o.on_tick = press_w;
    o.record_mp4 = mp4;
    wm_explore_result res;
    wm_error err = {0};
    wm_status st = wm_explore_run(&o, &res, &err);
    if (st == WM_ERR_NO_DISPLAY || st == WM_ERR_VULKAN) { printf("skip: %s\n", err.msg); return 77; }
    CHECK_MSG(st == WM_OK, "explore: %s", err.msg);
    printf("W run: shown %lld generated %lld dropped %lld, pose x %.3f y %.3f z %.3f, capture diff %d\n",
           (long long)res.frames_shown, (long long)res.frames_generated, (long long)res.dropped, res.last_pose.c2w[3],
           res.last_pose.c2w[7], res.last_pose.c2w[11], res.capture_max_diff);
    CHECK(res.frames_shown >= 32);
    CHECK(res.capture_max_diff >= 0 && res.capture_max_diff <= 1);
    /* The first chunks are generated before any input; W then moves the camera along +Z only. */
    CHECK(res.last_pose.c2w[11] > 0.1f);
    CHECK(fabsf(res.last_pose.c2w[3]) < 1e-3f && fabsf(res.last_pose.c2w[7]) < 1e-3f);
    CHECK(res.last_pose.c2w[11] <= 0.025f * 32 + 1e-4f);

    /* Recording: one sidecar frame per generated frame, W press logged. */
    wm_sidecar_meta m;
    CHECK(wm_sidecar_read_meta(json, &m, &err) == WM_OK);
    CHECK(m.n_frames == res.frames_generated && m.width == 160 && m.height == 96 && m.seed == 3);
    wm_sidecar_meta_free(&m);
    wm_trajectory t;
    CHECK(wm_trajectory_load_json(json, &t, &err) == WM_OK);
    if (t.n_frames > 1) CHECK(t.poses[t.n_frames - 1].c2w[11] >= res.last_pose.c2w[11]);

    /* The live (key-driven) run replays frame-identically from its sidecar's poses. */
    CHECK(wm_sidecar_read_meta(json, &m, &err) == WM_OK);
    wm_run_params rp;
    memset(&rp, 0, sizeof rp);
    rp.world = small_opts().world;
    rp.seed = m.seed;
    rp.traj = &t;
    wm_run_result rr;
    CHECK(wm_run_trajectory(&rp, &rr, &err) == WM_OK);
    int same = rr.n_frames == m.n_frames && m.n_frames > 0;
    for (int i = 0; same && i < rr.n_frames; i++) same = rr.fnv[i] == m.rgb_fnv[i];
    CHECK_MSG(same, "live recording replays frame-identically (%d frames)", rr.n_frames);
    free(rr.fnv);
    wm_sidecar_meta_free(&m);
    wm_trajectory_free(&t);
    FILE *f = fopen(json, "r");
    char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    CHECK(strstr(buf, "\"name\":\"W\"") && strstr(buf, "\"value\":1"));
    CHECK(strstr(buf, "\"action\":{\"keys\":1,") != NULL); /* frames carry the W action they used */

    /* Gamepad: right trigger rises (-Y), right stick turns right (forward gains +X). */
    o = small_opts();
    o.on_tick = pad_up_right;
    char mp4b[512], jsonb[512];
    snprintf(mp4b, sizeof mp4b, "%s/pad.mp4", dir);
    snprintf(jsonb, sizeof jsonb, "%s/pad.json", dir);
    o.record_mp4 = mp4b;
    st = wm_explore_run(&o, &res, &err);
    CHECK_MSG(st == WM_OK, "explore (pad): %s", err.msg);
    f = fopen(jsonb, "r");
    n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    CHECK(strstr(buf, "\"device\":\"pad\",\"name\":\"MOVE_Y\",\"value\":100") != NULL);
    printf("pad run: pose y %.3f fwd.x %.3f\n", res.last_pose.c2w[7], res.last_pose.c2w[2]);
    CHECK(res.last_pose.c2w[7] < -0.05f);
    printf("pad run capture diff with HUD on: %d\n", res.capture_max_diff);
    CHECK(res.capture_max_diff > 50); /* H turned the HUD on; back to the 160x96 window after F11 x2 */
    CHECK(res.last_pose.c2w[2] > 0.02f);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    TEST_MAIN_END();
}
