/* test_camera.c -- pose assertions for the §4.9 motion model (input/camera.c).
 *
 * Expected values are derived in closed form from the model's definition (speeds, exponential
 * smoothing, rotation order), not copied from the implementation's output: holding W for N frames
 * moves N·0.025/(1+1e-6) m along the initial +Z, coasting follows the geometric decay with
 * alpha = 1 - exp(-1/(16·1.0)), yaw rotates about world Y, pitch saturates at 60 deg.
 */
#include "input/camera.h"
#include "testing.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846
static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

static wm_action keys(uint32_t k) { wm_action a; memset(&a, 0, sizeof a); a.keys = k; return a; }

static void test_forward_and_coast(void)
{
    wm_camera_state s;
    wm_camera_reset(&s, NULL, NULL);
    wm_action w = keys(WM_KEY_FORWARD);
    wm_pose p;
    for (int i = 0; i < 40; i++) wm_camera_step(&s, &w, &p);
    /* Fresh press snaps velocity to 0.025/frame, so 40 frames move exactly 40 steps. */
    double exp_z = 40 * 0.025 / (1.0 + 1e-6);
    CHECK_MSG(near(p.c2w[11], exp_z, 1e-5), "z after 40 W frames: %f vs %f", p.c2w[11], exp_z);
    CHECK(near(p.c2w[3], 0, 1e-7) && near(p.c2w[7], 0, 1e-7));
    CHECK(near(p.c2w[0], 1, 1e-7) && near(p.c2w[5], 1, 1e-7) && near(p.c2w[10], 1, 1e-7));

    /* Release: velocity decays by (1-alpha) per frame with tau_coast = 1 s. */
    double alpha = 1.0 - exp(-1.0 / 16.0), v = 0.025, coast = 0;
    wm_action none = keys(0);
    for (int i = 0; i < 32; i++) {
        v += alpha * (0 - v);
        coast += v;
        wm_camera_step(&s, &none, &p);
    }
    double exp_total = (40 * 0.025 + coast) / (1.0 + 1e-6);
    CHECK_MSG(near(p.c2w[11], exp_total, 1e-5), "coast z %f vs %f", p.c2w[11], exp_total);
    CHECK(coast > 0.2 && coast < 0.025 * 32); /* it really coasts, and slows down */
}

static void test_press_ramp(void)
{
    /* Shift pressed after W: the target rises to 2.5x and velocity eases up with tau_press. */
    wm_camera_state s;
    wm_camera_reset(&s, NULL, NULL);
    wm_action w = keys(WM_KEY_FORWARD), wf = keys(WM_KEY_FORWARD | WM_KEY_FAST);
    wm_camera_step(&s, &w, NULL);
    double z0 = s.t[2];
    wm_camera_step(&s, &wf, NULL);
    double alpha = 1.0 - exp(-1.0 / (16.0 * 0.45));
    double v = 0.025 + alpha * (0.025 * 2.5 - 0.025);
    CHECK_MSG(near(s.t[2] - z0, v / (1 + 1e-6), 1e-9), "ramp step %g vs %g", s.t[2] - z0, v);
}

static void test_yaw_about_world_y(void)
{
    wm_camera_state s;
    wm_camera_reset(&s, NULL, NULL);
    wm_action d = keys(WM_KEY_YAW_RIGHT);
    wm_pose p;
    for (int i = 0; i < 50; i++) wm_camera_step(&s, &d, &p);
    double ang = 50 * 0.6 * PI / 180; /* 30 deg to the right */
    /* Forward (column 2) turns towards +X; Y axis untouched. */
    CHECK(near(p.c2w[2], sin(ang), 1e-6) && near(p.c2w[10], cos(ang), 1e-6));
    CHECK(near(p.c2w[5], 1, 1e-6) && near(p.c2w[6], 0, 1e-6) && near(p.c2w[9], 0, 1e-6));
    float yaw, pitch;
    wm_camera_angles(&s, &yaw, &pitch);
    CHECK(near(yaw, 30, 1e-3) && near(pitch, 0, 1e-4));
    /* Translation stays zero with only rotation keys. */
    CHECK(p.c2w[3] == 0 && p.c2w[7] == 0 && p.c2w[11] == 0);
}

static void test_pitch_limit_and_yaw_order(void)
{
    wm_camera_state s;
    wm_camera_reset(&s, NULL, NULL);
    wm_action up = keys(WM_KEY_PITCH_UP);
    wm_pose p;
    for (int i = 0; i < 150; i++) wm_camera_step(&s, &up, &p); /* 90 deg requested */
    float yaw, pitch;
    wm_camera_angles(&s, &yaw, &pitch);
    CHECK_MSG(near(pitch, 60, 1e-3), "pitch clamps at 60: %f", pitch);
    CHECK(near(p.c2w[6], -sin(PI / 3), 1e-6)); /* forward.y negative = looking up */
    for (int i = 0; i < 300; i++) wm_camera_step(&s, &up, &p);
    wm_camera_angles(&s, &yaw, &pitch);
    CHECK(near(pitch, 60, 1e-3));

    /* Yaw by 90 deg while pitched: yaw is about WORLD Y, so forward keeps its y and turns in xz. */
    wm_camera_state s2 = s;
    memset(s2.vel, 0, sizeof s2.vel);
    s2.last_keys = 0;
    wm_action d = keys(WM_KEY_YAW_RIGHT);
    for (int i = 0; i < 150; i++) wm_camera_step(&s2, &d, &p);
    CHECK(near(p.c2w[6], -sin(PI / 3), 1e-5));
    CHECK(near(p.c2w[2], cos(PI / 3), 1e-5) && near(p.c2w[10], 0, 1e-5));
    /* Camera X axis stays horizontal (no roll). */
    CHECK(near(p.c2w[4], 0, 1e-6));

    /* Moving forward while pitched stays on the horizontal plane. */
    wm_action w = keys(WM_KEY_FORWARD);
    for (int i = 0; i < 20; i++) wm_camera_step(&s2, &w, &p);
    CHECK(near(p.c2w[7], 0, 1e-9));
    CHECK(near(p.c2w[3], 20 * 0.025 / (1 + 1e-6), 1e-5)); /* forward is +X after the 90 deg turn */
}

static void test_vertical_and_strafe(void)
{
    wm_camera_state s;
    wm_camera_reset(&s, NULL, NULL);
    wm_action a = keys(WM_KEY_UP | WM_KEY_STRAFE_RIGHT);
    wm_pose p;
    for (int i = 0; i < 10; i++) wm_camera_step(&s, &a, &p);
    CHECK(near(p.c2w[7], -0.25, 1e-6));             /* up is -Y in OpenCV */
    CHECK(near(p.c2w[3], 0.25 / (1 + 1e-6), 1e-6)); /* strafe right is +X */
    /* Analog axes: half stick = half speed (after the velocity settles). */
    wm_camera_reset(&s, NULL, NULL);
    wm_action an = keys(0);
    an.move_z = 0.5f;
    for (int i = 0; i < 400; i++) wm_camera_step(&s, &an, NULL);
    CHECK(near(s.vel[WM_CAM_V_FWD], 0.0125, 1e-7));
    an.move_z = NAN; /* garbage axes are ignored, never poison the pose */
    wm_camera_step(&s, &an, &p);
    CHECK(isfinite(p.c2w[11]));
}

static void test_determinism_and_start_pose(void)
{
    wm_camera_state a, b;
    wm_camera_params prm = wm_camera_default_params();
    wm_camera_reset(&a, &prm, NULL);
    wm_camera_reset(&b, &prm, NULL);
    t_rng r = {12345};
    for (int i = 0; i < 500; i++) {
        wm_action act = keys((uint32_t)(t_rng_u64(&r) & 0x7ff));
        act.yaw = t_rng_uniform(&r) * 2 - 1;
        wm_camera_step(&a, &act, NULL);
        wm_camera_step(&b, &act, NULL);
    }
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK(prm.fps == 16 && prm.pitch_limit_deg == 60 && near(prm.fx, 640 / tan(PI / 6), 1e-2));
    CHECK(prm.cx == 640 && prm.cy == 352 && prm.fy == prm.fx);

    /* Start pose: pitched 30 deg up, at (1,2,3); the pitch limit is absolute. */
    wm_pose start;
    memset(&start, 0, sizeof start);
    double c = cos(PI / 6), sn = sin(PI / 6);
    float R[9] = {1, 0, 0, 0, (float)c, (float)-sn, 0, (float)sn, (float)c}; /* rot_x(30deg) */
    for (int r2 = 0; r2 < 3; r2++)
        for (int c2 = 0; c2 < 3; c2++) start.c2w[r2 * 4 + c2] = R[r2 * 3 + c2];
    start.c2w[3] = 1; start.c2w[7] = 2; start.c2w[11] = 3; start.c2w[15] = 1;
    wm_camera_state s;
    wm_camera_reset(&s, NULL, &start);
    wm_pose p;
    wm_camera_pose(&s, &p);
    CHECK(memcmp(p.c2w, start.c2w, sizeof p.c2w) == 0);
    wm_action up = keys(WM_KEY_PITCH_UP);
    for (int i = 0; i < 200; i++) wm_camera_step(&s, &up, &p);
    float yaw, pitch;
    wm_camera_angles(&s, &yaw, &pitch);
    CHECK_MSG(near(pitch, 60, 1e-3), "start-pitched camera clamps at 60: %f", pitch);
}

int main(void)
{
    test_forward_and_coast();
    test_press_ramp();
    test_yaw_about_world_y();
    test_pitch_limit_and_yaw_order();
    test_vertical_and_strafe();
    test_determinism_and_start_pose();
    TEST_MAIN_END();
}
