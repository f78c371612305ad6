/* rollout_poses.h -- the scripted camera of the pipeline tests (header-only): a camera reset to the
 * frame size and, per chunk, 24 poses of a fixed key pattern (odd chunks forward + yaw left, even
 * chunks strafe right + pitch up), so every test drives the same motion and differs only in what it
 * checks. */
#ifndef WM_TESTS_ROLLOUT_POSES_H
#define WM_TESTS_ROLLOUT_POSES_H

#include "input/camera.h"

static inline void rollout_cam_init(wm_camera_state *cs, int width, int height, wm_pose *pose0)
{
    wm_camera_params cp = {0};
    cp.width = width, cp.height = height;
    wm_camera_params_resolve(&cp);
    wm_camera_reset(cs, &cp, NULL);
    wm_camera_pose(cs, pose0);
}

static inline void rollout_chunk_poses(wm_camera_state *cs, int chunk, int n, wm_pose *out)
{
    wm_action a = {0};
    a.keys = chunk % 2 ? WM_KEY_FORWARD | WM_KEY_YAW_LEFT : WM_KEY_STRAFE_RIGHT | WM_KEY_PITCH_UP;
    for (int i = 0; i < n; i++) wm_camera_step(cs, &a, &out[i]);
}

#endif
