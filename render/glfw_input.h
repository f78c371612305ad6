/* glfw_input.h -- the thin adapter from GLFW events to input/keymap.h's flat states.
 *
 * Keys are tracked from the key callback (not polled), so a test can feed synthetic events through
 * wm_glfw_input_key() -- the same path real key presses take -- and a gamepad state can be injected
 * (GLFW sees no joysticks on CI). Presses and releases of bound keys are queued as timestamped
 * events for the recording sidecar; H/F1, F11, Tab and Esc set toggle flags the app consumes.
 */
#ifndef WM_RENDER_GLFW_INPUT_H
#define WM_RENDER_GLFW_INPUT_H

#include "input/keymap.h"

struct GLFWwindow;

#define WM_INPUT_EVENT_CAP 256

typedef struct wm_input_event {
    double t;            /* seconds since the adapter was attached */
    char device[8];      /* "key" / "pad" / "mouse" */
    char name[16];       /* "W", "SPACE", "LEFT", "CAPTURE", ... */
    int value;           /* 1 press, 0 release */
} wm_input_event;

typedef struct wm_glfw_input {
    struct GLFWwindow *win;
    double t0;
    uint8_t down[WM_PK_COUNT];
    double last_x, last_y;
    int have_last, mouse_captured;
    float mouse_dx, mouse_dy;            /* accumulated since the last sample */
    int toggle_hud, toggle_fullscreen, quit;
    wm_input_event events[WM_INPUT_EVENT_CAP];
    int n_events;
    int pad_injected;
    wm_gamepad_state pad;                /* injected state (tests) */
    int pad_q[7];                        /* last logged pad axes, tenths (event on change) */
} wm_glfw_input;

/* Install callbacks on win (uses the window user pointer). */
void wm_glfw_input_attach(wm_glfw_input *in, struct GLFWwindow *win);
/* Feed one key event (GLFW key code, GLFW_PRESS/RELEASE/REPEAT): the callback calls this. */
void wm_glfw_input_key(wm_glfw_input *in, int glfw_key, int action);
void wm_glfw_input_inject_pad(wm_glfw_input *in, const wm_gamepad_state *pad);
/* Sample the current controls as one action (keyboard + mouse + first gamepad); resets mouse deltas. */
wm_action wm_glfw_input_sample(wm_glfw_input *in);
/* Capture or release the mouse cursor (mouse look). */
void wm_glfw_input_capture_mouse(wm_glfw_input *in, int on);

#endif
