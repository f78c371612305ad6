/* keymap.h -- keyboard, mouse and gamepad state -> wm_action, as pure functions.
 *
 * The window layer (render/glfw_input.c) copies GLFW's key/mouse/gamepad state into the flat structs
 * below once per video frame; everything from there on is a pure function, so tests drive it with
 * synthetic states and CI never needs an input device (GLFW sees no joysticks under Xvfb).
 *
 * Live bindings (issue 5): WASD move on the horizontal plane (A/D strafe), arrow keys or IJKL look
 * (J/L and Left/Right yaw, I/K and Up/Down pitch), E or Space up, Q or C down, Shift fast; mouse look
 * while the cursor is captured. Note the action DSL (input/trajectory.h) keeps the reference letters,
 * where a/d are yaw and j/l strafe: the two surfaces differ on purpose, as they do in SANA-WM.
 * Gamepad: left stick translates, right stick looks, right/left trigger up/down, a stick click or the
 * right bumper is "fast". Dead zones are radial with rescaling so the response starts at 0 at the
 * edge of the dead zone instead of jumping.
 */
#ifndef WM_INPUT_KEYMAP_H
#define WM_INPUT_KEYMAP_H

#include "wm/wm.h"
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Physical keys the explorer reads (layout independent names; the adapter maps GLFW_KEY_*). */
typedef enum wm_pkey {
    WM_PK_W, WM_PK_A, WM_PK_S, WM_PK_D, WM_PK_Q, WM_PK_E, WM_PK_SPACE, WM_PK_C, WM_PK_SHIFT,
    WM_PK_UP, WM_PK_DOWN, WM_PK_LEFT, WM_PK_RIGHT, WM_PK_I, WM_PK_J, WM_PK_K, WM_PK_L,
    WM_PK_COUNT
} wm_pkey;

typedef struct wm_key_state {
    uint8_t down[WM_PK_COUNT];  /* 1 while held */
    int mouse_captured;         /* 1: mouse motion looks around */
    float mouse_dx, mouse_dy;   /* cursor motion since the previous frame, pixels (+x right, +y down) */
} wm_key_state;

typedef struct wm_keymap_params {
    float mouse_px_per_unit;    /* pixels of motion per frame for full look speed; default 12 */
} wm_keymap_params;

wm_action wm_keymap_action(const wm_key_state *ks, const wm_keymap_params *kp /* NULL = defaults */);

/* Mirrors GLFWgamepadstate (same axis/button order, so the adapter is a memcpy). */
enum { WM_PAD_LEFT_X = 0, WM_PAD_LEFT_Y, WM_PAD_RIGHT_X, WM_PAD_RIGHT_Y, WM_PAD_LT, WM_PAD_RT, WM_PAD_AXES };
enum { WM_PAD_BTN_RB = 5, WM_PAD_BTN_L3 = 9, WM_PAD_BTN_R3 = 10, WM_PAD_BUTTONS = 15 };
typedef struct wm_gamepad_state {
    uint8_t buttons[WM_PAD_BUTTONS];
    float axes[WM_PAD_AXES];    /* sticks [-1,1] (+y = down, as GLFW), triggers [-1,1] with -1 at rest */
} wm_gamepad_state;

typedef struct wm_gamepad_params {
    float stick_dead_zone;      /* radial dead zone of each stick; default 0.15 */
    float trigger_dead_zone;    /* of the [0,1]-mapped triggers; default 0.05 */
} wm_gamepad_params;

wm_action wm_gamepad_action(const wm_gamepad_state *gs, const wm_gamepad_params *gp /* NULL = defaults */);

/* Sum of two actions: keys OR-ed, axes added and clamped to [-1,1]; n_frames of a. */
wm_action wm_action_merge(const wm_action *a, const wm_action *b);

/* Short text of the held controls for the HUD ("W A Sp Sh ..."); returns buf. */
char *wm_action_describe(const wm_action *a, char *buf, int cap);

#ifdef __cplusplus
}
#endif
#endif
