/* test_keymap.c -- synthetic keyboard, mouse and gamepad states move the camera as specified.
 *
 * Each case builds the flat state the GLFW adapter would fill, maps it with the pure functions of
 * input/keymap.c, runs the camera for some frames and asserts the pose (direction and distance).
 */
#include "input/camera.h"
#include "input/keymap.h"
#include "testing.h"

#include <math.h>
#include <string.h>

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

static wm_pose run(const wm_action *a, int frames)
{
    wm_camera_state s;
    wm_camera_reset(&s, NULL, NULL);
    wm_pose p;
    wm_camera_pose(&s, &p);
    for (int i = 0; i < frames; i++) wm_camera_step(&s, a, &p);
    return p;
}

static void test_keyboard(void)
{
    wm_key_state ks;
    memset(&ks, 0, sizeof ks);
    ks.down[WM_PK_W] = 1;
    wm_action a = wm_keymap_action(&ks, NULL);
    CHECK(a.keys == WM_KEY_FORWARD);
    wm_pose p = run(&a, 16);
    CHECK_MSG(near(p.c2w[11], 0.4, 1e-5), "W 1 s -> 0.4 m forward, got %f", p.c2w[11]);

    memset(&ks, 0, sizeof ks);
    ks.down[WM_PK_A] = 1; /* live binding: A strafes left (-X) */
    a = wm_keymap_action(&ks, NULL);
    p = run(&a, 16);
    CHECK(near(p.c2w[3], -0.4, 1e-5) && near(p.c2w[11], 0, 1e-7));

    memset(&ks, 0, sizeof ks);
    ks.down[WM_PK_SPACE] = 1;
    ks.down[WM_PK_SHIFT] = 1;
    a = wm_keymap_action(&ks, NULL);
    CHECK(a.keys == (WM_KEY_UP | WM_KEY_FAST));
    p = run(&a, 16);
    CHECK(p.c2w[7] < -0.4 && p.c2w[7] > -0.4 * 2.5 - 1e-5); /* up, faster than walking */

    memset(&ks, 0, sizeof ks);
    ks.down[WM_PK_Q] = 1;
    CHECK(wm_keymap_action(&ks, NULL).keys == WM_KEY_DOWN);
    ks.down[WM_PK_Q] = 0; ks.down[WM_PK_C] = 1;
    CHECK(wm_keymap_action(&ks, NULL).keys == WM_KEY_DOWN);
    ks.down[WM_PK_C] = 0; ks.down[WM_PK_E] = 1;
    CHECK(wm_keymap_action(&ks, NULL).keys == WM_KEY_UP);

    /* Arrow right and L both yaw right; Up and I pitch up. */
    memset(&ks, 0, sizeof ks);
    ks.down[WM_PK_RIGHT] = 1;
    a = wm_keymap_action(&ks, NULL);
    p = run(&a, 25); /* 15 deg */
    CHECK(near(p.c2w[2], sin(15 * M_PI / 180), 1e-5));
    memset(&ks, 0, sizeof ks);
    ks.down[WM_PK_L] = 1;
    CHECK(wm_keymap_action(&ks, NULL).keys == WM_KEY_YAW_RIGHT);
    memset(&ks, 0, sizeof ks);
    ks.down[WM_PK_I] = 1;
    a = wm_keymap_action(&ks, NULL);
    p = run(&a, 25);
    CHECK(near(p.c2w[6], -sin(15 * M_PI / 180), 1e-5)); /* looking up: forward.y < 0 */
}

static void test_mouse(void)
{
    wm_key_state ks;
    memset(&ks, 0, sizeof ks);
    ks.mouse_dx = 24; /* beyond full speed: clamps to 1 */
    CHECK(wm_keymap_action(&ks, NULL).yaw == 0); /* not captured -> ignored */
    ks.mouse_captured = 1;
    wm_action a = wm_keymap_action(&ks, NULL);
    CHECK(a.yaw == 1.0f && a.pitch == 0);
    ks.mouse_dx = 0; ks.mouse_dy = -6;
    a = wm_keymap_action(&ks, NULL);
    CHECK(near(a.pitch, 0.5, 1e-6));
    /* Sustained mouse motion right turns the camera right. */
    ks.mouse_dx = 12; ks.mouse_dy = 0;
    a = wm_keymap_action(&ks, NULL);
    wm_pose p = run(&a, 64);
    CHECK(p.c2w[2] > 0.2);
}

static void test_gamepad(void)
{
    wm_gamepad_state g;
    memset(&g, 0, sizeof g);
    g.axes[WM_PAD_LT] = g.axes[WM_PAD_RT] = -1; /* triggers at rest */
    g.axes[WM_PAD_LEFT_X] = 0.1f; g.axes[WM_PAD_LEFT_Y] = -0.1f; /* inside the dead zone */
    wm_action a = wm_gamepad_action(&g, NULL);
    CHECK(a.move_x == 0 && a.move_z == 0 && a.move_y == 0 && a.keys == 0);

    g.axes[WM_PAD_LEFT_X] = 0; g.axes[WM_PAD_LEFT_Y] = -1; /* full forward */
    a = wm_gamepad_action(&g, NULL);
    CHECK(near(a.move_z, 1, 1e-6));
    wm_pose p = run(&a, 160);
    /* Analog input eases in with tau 0.45 s: after 10 s the speed is full, distance a bit less. */
    CHECK(p.c2w[11] > 0.9 * 160 * 0.025 && p.c2w[11] < 160 * 0.025);

    g.axes[WM_PAD_LEFT_Y] = -0.575f; /* halfway between dead zone and full -> 0.5 */
    a = wm_gamepad_action(&g, NULL);
    CHECK(near(a.move_z, 0.5, 1e-5));

    memset(&g, 0, sizeof g);
    g.axes[WM_PAD_LT] = -1; g.axes[WM_PAD_RT] = 1; /* right trigger: up */
    g.axes[WM_PAD_RIGHT_X] = 1; g.axes[WM_PAD_RIGHT_Y] = -1;
    g.buttons[WM_PAD_BTN_RB] = 1;
    a = wm_gamepad_action(&g, NULL);
    CHECK(near(a.move_y, 1, 1e-6) && a.yaw > 0.6f && a.pitch > 0.6f && (a.keys & WM_KEY_FAST));
    p = run(&a, 32);
    CHECK(p.c2w[7] < -0.3); /* rose */
    CHECK(p.c2w[2] > 0.05);  /* turned right */
    CHECK(p.c2w[6] < -0.05); /* looked up */

    g.axes[WM_PAD_LEFT_X] = NAN;
    a = wm_gamepad_action(&g, NULL);
    CHECK(a.move_x == 0 && isfinite(a.move_z));
}

static void test_merge_describe(void)
{
    wm_action k, g;
    memset(&k, 0, sizeof k);
    memset(&g, 0, sizeof g);
    k.keys = WM_KEY_FORWARD; k.yaw = 0.8f;
    g.keys = WM_KEY_FAST; g.yaw = 0.8f; g.move_x = -0.3f;
    wm_action m = wm_action_merge(&k, &g);
    CHECK(m.keys == (WM_KEY_FORWARD | WM_KEY_FAST) && m.yaw == 1.0f && near(m.move_x, -0.3, 1e-7));
    char buf[64];
    wm_action_describe(&m, buf, sizeof buf);
    CHECK(strcmp(buf, "fwd fast stick") == 0);
    memset(&m, 0, sizeof m);
    CHECK(strcmp(wm_action_describe(&m, buf, sizeof buf), "-") == 0);
}

int main(void)
{
    test_keyboard();
    test_mouse();
    test_gamepad();
    test_merge_describe();
    TEST_MAIN_END();
}
