/* camera.h -- held controls (wm_action) -> one OpenCV camera-to-world pose per video frame.
 *
 * This is the motion model of spec §4.9, matching SANA-WM's shared camera-control core
 * (inference_video_scripts/camera_control.py) so an action string rolled out here produces the same
 * trajectory the reference scripts produce:
 *   - per-frame speeds: 0.025 m translation, 0.6 deg rotation, at 16 fps;
 *   - velocity smoothing: a key that becomes newly held snaps ALL velocity components to their
 *     targets (a fresh press takes effect at once); otherwise each component eases towards its target
 *     with alpha = 1 - exp(-dt/tau), tau = 0.45 s while that component has a non-zero target and 1.0 s
 *     while it coasts to rest;
 *   - rotation R_new = rot_y(yaw) · R · rot_x(pitch_step): yaw about world Y, pitch about camera X,
 *     with accumulated pitch saturating at ±60 deg;
 *   - translation on the horizontal plane along the projected forward/right axes.
 * Extensions beyond the reference (not in §4.9, used by the live explorer): a vertical velocity along
 * world "up" (OpenCV -Y) smoothed the same way, analog axes added to the digital keys (clamped to
 * [-1,1]), and a "fast" multiplier for translation while WM_KEY_FAST is held. With none of those used
 * the rollout is exactly the reference one. State is double precision (the reference integrates in
 * float64 and casts to float32 at the end), so long runs do not drift from the reference.
 */
#ifndef WM_INPUT_CAMERA_H
#define WM_INPUT_CAMERA_H

#include "wm/wm.h"
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Zero fields mean "default" (so {0} is valid); wm_camera_default_params() fills them in. */
typedef struct wm_camera_params {
    float fps;              /* video frames per second; default 16 (spec §1.3) */
    float move_speed;       /* metres per video frame at full input; default 0.025 (§4.9) */
    float rot_speed_deg;    /* degrees per video frame at full input; default 0.6 (§4.9) */
    float pitch_limit_deg;  /* |accumulated pitch| limit; default 60 (§4.9) */
    float tau_press_s;      /* smoothing time constant towards a non-zero target; default 0.45 s */
    float tau_coast_s;      /* smoothing time constant towards rest; default 1.0 s */
    float fast_mult;        /* translation multiplier while WM_KEY_FAST is held; default 2.5 */
    int width, height;      /* frame size the intrinsics refer to; default 1280 x 704 (§1.3) */
    float hfov_deg;         /* horizontal field of view of the default intrinsics; default 60 deg */
    float fx, fy, cx, cy;   /* explicit intrinsics in pixels; fx == 0 -> from hfov_deg and the size
                               (fx = fy = W/2 / tan(hfov/2), principal point at the image centre) */
    int no_smoothing;       /* 1: velocity = target each frame (reference smooth=False); default 0 */
} wm_camera_params;

wm_camera_params wm_camera_default_params(void);
/* Replace zero fields of *p by defaults and derive fx/fy/cx/cy when fx == 0. */
void wm_camera_params_resolve(wm_camera_params *p);

/* Velocity components, in per-frame units (metres or radians per video frame). */
enum { WM_CAM_V_FWD = 0, WM_CAM_V_STRAFE, WM_CAM_V_YAW, WM_CAM_V_PITCH, WM_CAM_V_UP, WM_CAM_V_COUNT };

/* Plain value type: copy it to branch a trajectory, compare it to check determinism. */
typedef struct wm_camera_state {
    wm_camera_params p;        /* resolved parameters */
    double R[9];               /* camera-to-world rotation, row-major */
    double t[3];               /* camera centre in world, metres */
    double pitch;              /* accumulated pitch, radians, + = up */
    double vel[WM_CAM_V_COUNT];/* current smoothed velocity */
    uint32_t last_keys;        /* motion keys held on the previous step (fresh-press detection) */
    uint64_t frame;            /* steps taken since reset */
} wm_camera_state;

/* Reset to a start pose (NULL = identity, the reference's start). The accumulated pitch is taken from
 * the start pose's forward axis so the pitch limit stays absolute. Velocity starts at rest. */
void wm_camera_reset(wm_camera_state *s, const wm_camera_params *p, const wm_pose *start);

/* Advance one video frame with action *a held (a == NULL: nothing held) and write the new pose (c2w +
 * intrinsics) to *out (may be NULL). a->n_frames is ignored here: callers repeat the call per frame. */
void wm_camera_step(wm_camera_state *s, const wm_action *a, wm_pose *out);

/* The current pose without advancing. */
void wm_camera_pose(const wm_camera_state *s, wm_pose *out);

/* Camera yaw/pitch in degrees derived from the current rotation (for the HUD): yaw + = right of the
 * world +Z axis, pitch + = up. */
void wm_camera_angles(const wm_camera_state *s, float *yaw_deg, float *pitch_deg);

#ifdef __cplusplus
}
#endif
#endif
