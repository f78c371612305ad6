/* wm.h -- the public C API of wm, an interactive world-model simulator.
 *
 * Basic usage (agent / embedding):
 *
 *     wm_world_params wp = wm_world_default_params();   // {0} fields mean "default"
 *     wp.source = WM_SOURCE_PROCEDURAL;                 // or WM_SOURCE_MODEL with wp.model_path
 *     wm_world *w = NULL;
 *     wm_status st = wm_world_open(&wp, &w);
 *     if (st != WM_OK) fprintf(stderr, "%s\n", wm_status_str(st));
 *     wm_reset_params rp = wm_reset_default_params(); rp.seed = 7;
 *     wm_world_reset(w, &rp, &frames);                  // frames of the initial view
 *     wm_action a = {0}; a.keys = WM_KEY_FORWARD;       // hold W for one chunk
 *     wm_world_step_actions(w, &a, 1, &frames);         // one chunk of video frames + poses
 *     wm_world_free(w);
 *
 * Thread safety: handles are not thread-safe; use one handle from one thread at a time. Different
 * handles may be used concurrently from different threads. There is no process-global mutable state
 * except the log callback (wm_log_set).
 *
 * Errors: every fallible call returns a wm_status; handles keep a last-error string with details
 * (file, tensor or field names). wm_status_str() gives the generic text of a code.
 */
#ifndef WM_WM_H
#define WM_WM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status codes and logging */
typedef enum wm_status {
#define X(name, msg) name,
#include "wm/core/status.def"
#undef X
    WM_STATUS_COUNT
} wm_status;

const char *wm_status_str(wm_status st);     /* static string, never NULL */

typedef enum wm_log_level { WM_LOG_DEBUG = 0, WM_LOG_INFO, WM_LOG_WARN, WM_LOG_ERROR } wm_log_level;
typedef void (*wm_log_fn)(wm_log_level level, const char *msg, void *user_data);
/* Route library logging (default: WARN and above to stderr). NULL restores the default. The only
 * process-global state of the library; set it before creating handles. */
void wm_log_set(wm_log_fn fn, void *user_data);
void wm_log_set_level(wm_log_level min_level);

const char *wm_version(void);                 /* "0.1.0" */

/* ---------------------------------------------------------------- camera poses and actions */
/* One camera per video frame: OpenCV camera-to-world (+X right, +Y down, +Z forward), row-major 4x4,
 * metric translation; pinhole intrinsics in pixels of the frame it belongs to. */
typedef struct wm_pose {
    float c2w[16];
    float fx, fy, cx, cy;
} wm_pose;

/* Held controls for a span of frames. Digital keys (bits below) and analog axes add up; axes are in
 * [-1, 1] (gamepad sticks/triggers, agent actions). Semantics follow spec §4.9 (per-frame speeds,
 * exponential smoothing, pitch limit): see input/camera.h. */
enum {
    WM_KEY_FORWARD = 1u << 0, WM_KEY_BACK = 1u << 1,           /* translate along view (horizontal) */
    WM_KEY_STRAFE_LEFT = 1u << 2, WM_KEY_STRAFE_RIGHT = 1u << 3,
    WM_KEY_UP = 1u << 4, WM_KEY_DOWN = 1u << 5,                 /* world vertical */
    WM_KEY_YAW_LEFT = 1u << 6, WM_KEY_YAW_RIGHT = 1u << 7,
    WM_KEY_PITCH_UP = 1u << 8, WM_KEY_PITCH_DOWN = 1u << 9,
    WM_KEY_FAST = 1u << 10                                      /* speed multiplier (Shift) */
};

typedef struct wm_action {
    uint32_t keys;     /* WM_KEY_* bits held */
    float move_x;      /* strafe, + = right, [-1, 1] */
    float move_y;      /* vertical, + = up, [-1, 1] */
    float move_z;      /* forward, + = forward, [-1, 1] */
    float yaw;         /* look, + = right, [-1, 1] */
    float pitch;       /* look, + = up, [-1, 1] */
    int n_frames;      /* video frames this action is held for; 0 = the rest of the chunk */
} wm_action;

#ifdef __cplusplus
}
#endif
#endif /* WM_WM_H */
