/* glfw_input.c -- GLFW callbacks -> wm_key_state / wm_gamepad_state -> wm_action (see header). */
#include "render/glfw_input.h"

#include <GLFW/glfw3.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct { int key; wm_pkey pk; const char *name; } k_bind[] = {
    {GLFW_KEY_W, WM_PK_W, "W"}, {GLFW_KEY_A, WM_PK_A, "A"}, {GLFW_KEY_S, WM_PK_S, "S"}, {GLFW_KEY_D, WM_PK_D, "D"},
    {GLFW_KEY_Q, WM_PK_Q, "Q"}, {GLFW_KEY_E, WM_PK_E, "E"}, {GLFW_KEY_SPACE, WM_PK_SPACE, "SPACE"}, {GLFW_KEY_C, WM_PK_C, "C"},
    {GLFW_KEY_LEFT_SHIFT, WM_PK_SHIFT, "SHIFT"}, {GLFW_KEY_RIGHT_SHIFT, WM_PK_SHIFT, "SHIFT"},
    {GLFW_KEY_UP, WM_PK_UP, "UP"}, {GLFW_KEY_DOWN, WM_PK_DOWN, "DOWN"}, {GLFW_KEY_LEFT, WM_PK_LEFT, "LEFT"},
    {GLFW_KEY_RIGHT, WM_PK_RIGHT, "RIGHT"}, {GLFW_KEY_I, WM_PK_I, "I"}, {GLFW_KEY_J, WM_PK_J, "J"}, {GLFW_KEY_K, WM_PK_K, "K"},
    {GLFW_KEY_L, WM_PK_L, "L"},
};

static void push_event(wm_glfw_input *in, const char *dev, const char *name, int value)
{
    if (in->n_events >= WM_INPUT_EVENT_CAP) return; /* the app drains every frame; overflow drops */
    wm_input_event *e = &in->events[in->n_events++];
    e->t = glfwGetTime() - in->t0;
    snprintf(e->device, sizeof e->device, "%s", dev);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->value = value;
}

void wm_glfw_input_key(wm_glfw_input *in, int key, int action)
{
    if (action == GLFW_REPEAT) return;
    int press = action == GLFW_PRESS;
    for (size_t i = 0; i < sizeof k_bind / sizeof k_bind[0]; i++) {
        if (k_bind[i].key != key) continue;
        in->down[k_bind[i].pk] = (uint8_t)press;
        push_event(in, "key", k_bind[i].name, press);
        return;
    }
    if (!press) return;
    if (key == GLFW_KEY_H || key == GLFW_KEY_F1) in->toggle_hud = 1;
    else if (key == GLFW_KEY_F11) in->toggle_fullscreen = 1;
    else if (key == GLFW_KEY_TAB) wm_glfw_input_capture_mouse(in, !in->mouse_captured);
    else if (key == GLFW_KEY_ESCAPE) {
        if (in->mouse_captured) wm_glfw_input_capture_mouse(in, 0);
        else in->quit = 1;
    }
}

static void key_cb(GLFWwindow *w, int key, int scancode, int action, int mods)
{
    (void)scancode; (void)mods;
    wm_glfw_input_key(glfwGetWindowUserPointer(w), key, action);
}

static void cursor_cb(GLFWwindow *w, double x, double y)
{
    wm_glfw_input *in = glfwGetWindowUserPointer(w);
    if (in->have_last && in->mouse_captured) {
        in->mouse_dx += (float)(x - in->last_x);
        in->mouse_dy += (float)(y - in->last_y);
    }
    in->last_x = x; in->last_y = y; in->have_last = 1;
}

static void focus_cb(GLFWwindow *w, int focused)
{
    /* Losing focus releases every key: GLFW would not report releases that happen elsewhere. */
    wm_glfw_input *in = glfwGetWindowUserPointer(w);
    if (!focused) memset(in->down, 0, sizeof in->down);
}

void wm_glfw_input_attach(wm_glfw_input *in, GLFWwindow *win)
{
    memset(in, 0, sizeof *in);
    in->win = win;
    in->t0 = glfwGetTime();
    glfwSetWindowUserPointer(win, in);
    glfwSetKeyCallback(win, key_cb);
    glfwSetCursorPosCallback(win, cursor_cb);
    glfwSetWindowFocusCallback(win, focus_cb);
}

void wm_glfw_input_capture_mouse(wm_glfw_input *in, int on)
{
    in->mouse_captured = on;
    in->have_last = 0;
    in->mouse_dx = in->mouse_dy = 0;
    if (in->win) glfwSetInputMode(in->win, GLFW_CURSOR, on ? GLFW_CURSOR_DISABLED : GLFW_CURSOR_NORMAL);
    push_event(in, "mouse", "CAPTURE", on);
}

void wm_glfw_input_inject_pad(wm_glfw_input *in, const wm_gamepad_state *pad)
{
    in->pad_injected = pad != NULL;
    if (pad) in->pad = *pad;
}

/* Log gamepad motion for the sidecar as events when an axis moves by a tenth (value in percent). */
static void log_pad(wm_glfw_input *in, const wm_action *p)
{
    static const char *names[7] = {"MOVE_X", "MOVE_Y", "MOVE_Z", "YAW", "PITCH", "FAST", "-"};
    float v[6] = {p->move_x, p->move_y, p->move_z, p->yaw, p->pitch, (p->keys & WM_KEY_FAST) ? 1.0f : 0.0f};
    for (int i = 0; i < 6; i++) {
        int q = (int)lroundf(v[i] * 10.0f);
        if (q != in->pad_q[i]) {
            in->pad_q[i] = q;
            push_event(in, "pad", names[i], q * 10);
        }
    }
}

wm_action wm_glfw_input_sample(wm_glfw_input *in)
{
    wm_key_state ks;
    memcpy(ks.down, in->down, sizeof ks.down);
    ks.mouse_captured = in->mouse_captured;
    ks.mouse_dx = in->mouse_dx;
    ks.mouse_dy = in->mouse_dy;
    in->mouse_dx = in->mouse_dy = 0;
    wm_action a = wm_keymap_action(&ks, NULL);
    wm_gamepad_state gs;
    int have = 0;
    if (in->pad_injected) { gs = in->pad; have = 1; }
    else {
        for (int j = GLFW_JOYSTICK_1; j <= GLFW_JOYSTICK_LAST && !have; j++) {
            GLFWgamepadstate g;
            if (glfwJoystickIsGamepad(j) && glfwGetGamepadState(j, &g)) {
                memcpy(gs.buttons, g.buttons, sizeof gs.buttons);
                memcpy(gs.axes, g.axes, sizeof gs.axes);
                have = 1;
            }
        }
    }
    if (have) {
        wm_action p = wm_gamepad_action(&gs, NULL);
        log_pad(in, &p);
        a = wm_action_merge(&a, &p);
    }
    return a;
}
