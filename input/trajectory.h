/* trajectory.h -- camera trajectories: one OpenCV c2w pose + intrinsics per video frame.
 *
 * Three on-disk forms (issue 5, spec §1.2 and §4.9):
 *   JSON   {"format":"wm-trajectory","version":1,"fps":16,"width":W,"height":H,
 *           "frames":[{"c2w":[[4],[4],[4],[4]],"intrinsics":[fx,fy,cx,cy]}, ...]}
 *          ("K": 3x3 is accepted instead of "intrinsics"; a recording's sidecar JSON has the same
 *          "frames" entries, so it loads as a trajectory too.)
 *   .npy   the pair SANA-WM's scripts use: c2w (F,4,4) and intrinsics K (F,3,3), also (3,3), (4,) or
 *          (F,4) [fx,fy,cx,cy]; a single K is broadcast, a longer one truncated, a shorter one linearly
 *          resampled over normalised time (as the reference's load_intrinsics does).
 *   DSL    "w-80,jw-40,none-8": keys held for N frames with the reference letters w/s forward/back,
 *          a/d yaw, i/k pitch, j/l strafe; rolled out through input/camera.c from the identity, giving
 *          N+1 poses like the reference's action_string_to_c2w.
 * Every loader validates each entry (finite numbers, bottom row 0 0 0 1, orthonormal rotation within
 * 1e-3, positive focal lengths) and reports the first problem as "file: frames[i].field: what".
 */
#ifndef WM_INPUT_TRAJECTORY_H
#define WM_INPUT_TRAJECTORY_H

#include "input/camera.h"
#include "wm/core/log.h"

/* Upper bound on frames in any trajectory: 2^20 frames = 18 hours at 16 fps. Bounds allocations
 * driven by untrusted files. */
#define WM_TRAJ_MAX_FRAMES (1 << 20)

typedef struct wm_trajectory {
    int n_frames;
    wm_pose *poses;     /* n_frames, malloc'ed */
    float fps;          /* 16 unless the file says otherwise */
    int width, height;  /* frame size the intrinsics refer to (0 = unknown) */
} wm_trajectory;

void wm_trajectory_free(wm_trajectory *t);

/* Load by extension: ".json" -> JSON, ".npy" -> c2w array (intrinsics from k_path when given, else the
 * camera params' defaults), anything else is treated as a DSL string (not a path). cam may be NULL. */
wm_status wm_trajectory_load(const char *path_or_dsl, const char *k_path, const wm_camera_params *cam,
                             wm_trajectory *out, wm_error *err);

wm_status wm_trajectory_load_json(const char *path, wm_trajectory *out, wm_error *err);
wm_status wm_trajectory_save_json(const char *path, const wm_trajectory *t, wm_error *err);
wm_status wm_trajectory_load_npy(const char *c2w_path, const char *k_path, const wm_camera_params *cam,
                                 wm_trajectory *out, wm_error *err);
wm_status wm_trajectory_save_npy(const char *c2w_path, const char *k_path, const wm_trajectory *t, wm_error *err);

/* DSL: parse into per-frame held WM_KEY_* bits (malloc'ed *keys, *n frames). */
wm_status wm_dsl_parse(const char *dsl, uint32_t **keys, int *n, wm_error *err);
/* DSL rollout from the identity: n+1 poses (pose 0 is the start). */
wm_status wm_trajectory_from_dsl(const char *dsl, const wm_camera_params *cam, wm_trajectory *out, wm_error *err);

/* Check one pose; returns WM_OK or WM_ERR_FORMAT with "where: what" in err. */
wm_status wm_pose_validate(const wm_pose *p, const char *where, wm_error *err);

/* JSON helpers shared with recordings' sidecar (json_t* as void* to keep jansson out of this header). */
void *wm__pose_to_json(const wm_pose *p);
wm_status wm__pose_from_json(const void *json_frame, wm_pose *p, const char *where, wm_error *err);

#endif
