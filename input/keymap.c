/* keymap.c -- the pure key/mouse/gamepad -> wm_action mappings (bindings documented in keymap.h).
 *
 * Keyboard controls become WM_KEY_* bits, so the camera model's "fresh press snaps the velocity"
 * rule (spec §4.9) applies to them exactly as to the action DSL; mouse and sticks become analog axes,
 * which the camera only eases towards (a stick has no "press" moment).
 */
#include "input/keymap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }
static float finite_or0(float v) { return isfinite(v) ? v : 0.0f; }

wm_action wm_keymap_action(const wm_key_state *ks, const wm_keymap_params *kp)
{
    wm_action a;
    memset(&a, 0, sizeof a);
    const uint8_t *d = ks->down;
    if (d[WM_PK_W]) a.keys |= WM_KEY_FORWARD;
    if (d[WM_PK_S]) a.keys |= WM_KEY_BACK;
    if (d[WM_PK_A]) a.keys |= WM_KEY_STRAFE_LEFT;
    if (d[WM_PK_D]) a.keys |= WM_KEY_STRAFE_RIGHT;
    if (d[WM_PK_E] || d[WM_PK_SPACE]) a.keys |= WM_KEY_UP;
    if (d[WM_PK_Q] || d[WM_PK_C]) a.keys |= WM_KEY_DOWN;
    if (d[WM_PK_LEFT] || d[WM_PK_J]) a.keys |= WM_KEY_YAW_LEFT;
    if (d[WM_PK_RIGHT] || d[WM_PK_L]) a.keys |= WM_KEY_YAW_RIGHT;
    if (d[WM_PK_UP] || d[WM_PK_I]) a.keys |= WM_KEY_PITCH_UP;
    if (d[WM_PK_DOWN] || d[WM_PK_K]) a.keys |= WM_KEY_PITCH_DOWN;
    if (d[WM_PK_SHIFT]) a.keys |= WM_KEY_FAST;
    if (ks->mouse_captured) {
        /* 12 px/frame for full speed: a relaxed flick; full speed is only 0.6 deg/frame (§4.9). */
        float unit = (kp && kp->mouse_px_per_unit > 0) ? kp->mouse_px_per_unit : 12.0f;
        a.yaw = clampf(finite_or0(ks->mouse_dx) / unit, -1, 1);
        a.pitch = clampf(-finite_or0(ks->mouse_dy) / unit, -1, 1); /* mouse up looks up */
    }
    return a;
}

/* Radial dead zone with rescale: |v| < dz -> 0, otherwise magnitude mapped (dz,1] -> (0,1]. */
static void dead_zone2(float *x, float *y, float dz)
{
    float vx = finite_or0(*x), vy = finite_or0(*y);
    float m = sqrtf(vx * vx + vy * vy);
    if (m <= dz || m == 0) { *x = *y = 0; return; }
    float scaled = clampf((m - dz) / (1.0f - dz), 0, 1);
    *x = clampf(vx / m * scaled, -1, 1);
    *y = clampf(vy / m * scaled, -1, 1);
}

static float trigger(float raw, float dz)
{
    float t = clampf((finite_or0(raw) + 1.0f) * 0.5f, 0, 1); /* GLFW triggers rest at -1 */
    return t <= dz ? 0.0f : (t - dz) / (1.0f - dz);
}

wm_action wm_gamepad_action(const wm_gamepad_state *gs, const wm_gamepad_params *gp)
{
    float sdz = (gp && gp->stick_dead_zone > 0 && gp->stick_dead_zone < 1) ? gp->stick_dead_zone : 0.15f;
    float tdz = (gp && gp->trigger_dead_zone > 0 && gp->trigger_dead_zone < 1) ? gp->trigger_dead_zone : 0.05f;
    wm_action a;
    memset(&a, 0, sizeof a);
    float lx = gs->axes[WM_PAD_LEFT_X], ly = gs->axes[WM_PAD_LEFT_Y];
    float rx = gs->axes[WM_PAD_RIGHT_X], ry = gs->axes[WM_PAD_RIGHT_Y];
    dead_zone2(&lx, &ly, sdz);
    dead_zone2(&rx, &ry, sdz);
    a.move_x = lx;
    a.move_z = -ly; /* stick pushed away (y = -1) is forward */
    a.yaw = rx;
    a.pitch = -ry;
    a.move_y = trigger(gs->axes[WM_PAD_RT], tdz) - trigger(gs->axes[WM_PAD_LT], tdz);
    if (gs->buttons[WM_PAD_BTN_RB] || gs->buttons[WM_PAD_BTN_L3]) a.keys |= WM_KEY_FAST;
    return a;
}

wm_action wm_action_merge(const wm_action *a, const wm_action *b)
{
    wm_action r = *a;
    r.keys |= b->keys;
    r.move_x = clampf(finite_or0(a->move_x) + finite_or0(b->move_x), -1, 1);
    r.move_y = clampf(finite_or0(a->move_y) + finite_or0(b->move_y), -1, 1);
    r.move_z = clampf(finite_or0(a->move_z) + finite_or0(b->move_z), -1, 1);
    r.yaw = clampf(finite_or0(a->yaw) + finite_or0(b->yaw), -1, 1);
    r.pitch = clampf(finite_or0(a->pitch) + finite_or0(b->pitch), -1, 1);
    return r;
}

char *wm_action_describe(const wm_action *a, char *buf, int cap)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {WM_KEY_FORWARD, "fwd"}, {WM_KEY_BACK, "back"}, {WM_KEY_STRAFE_LEFT, "left"},
        {WM_KEY_STRAFE_RIGHT, "right"}, {WM_KEY_UP, "up"}, {WM_KEY_DOWN, "down"},
        {WM_KEY_YAW_LEFT, "yawL"}, {WM_KEY_YAW_RIGHT, "yawR"}, {WM_KEY_PITCH_UP, "pitchU"},
        {WM_KEY_PITCH_DOWN, "pitchD"}, {WM_KEY_FAST, "fast"},
    };
    if (cap <= 0) return buf;
    int n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && n < cap; i++)
        if (a->keys & names[i].bit) n += snprintf(buf + n, (size_t)(cap - n), "%s%s", n ? " " : "", names[i].name);
    if (n < cap && (a->move_x || a->move_y || a->move_z || a->yaw || a->pitch))
        n += snprintf(buf + n, (size_t)(cap - n), "%sstick", n ? " " : "");
    if (n == 0) snprintf(buf, (size_t)cap, "-");
    return buf;
}
