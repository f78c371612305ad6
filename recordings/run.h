/* run.h -- headless generation along a fixed trajectory: `wm explore --headless`, `wm replay`.
 *
 * Opens a world, resets it at the trajectory's first pose (frame 0), then steps it chunk by chunk
 * with the following poses (wm_world_step_poses), optionally passes each frame through a filter (the
 * off-screen Vulkan renderer in `wm explore --headless`), and records MP4 + sidecar. The FNV-1a
 * fingerprint of every world frame is returned so callers can check a replay is frame-identical.
 */
#ifndef WM_RECORDINGS_RUN_H
#define WM_RECORDINGS_RUN_H

#include "input/trajectory.h"
#include "wm/wm.h"

/* Turn a world frame into the frame to record (e.g. render it); *out must stay valid until the next
 * call. Return WM_OK or an error (the run stops). */
typedef wm_status (*wm_frame_filter)(void *user, const uint8_t *rgb, int w, int h, int64_t index, const uint8_t **out,
                                     wm_error *err);

typedef struct wm_run_params {
    wm_world_params world;       /* source/size/chunk/model of the world to open */
    uint64_t seed;
    const char *prompt;
    const wm_trajectory *traj;   /* required; frame i uses traj->poses[i] */
    int max_frames;              /* 0 = the whole trajectory */
    const char *out_mp4;         /* NULL = no video */
    const char *sidecar;         /* NULL = derived from out_mp4 (or no sidecar when out_mp4 is NULL) */
    const char *model_sha256;    /* recorded in the sidecar when known */
    const char *image_path;      /* model start image, passed to the reset and recorded (NULL: none) */
    const char *image_sha256;    /* recorded in the sidecar when known */
    const char *embedding_path;  /* prompt embedding file behind a "@FILE" prompt, recorded with its hash */
    const char *embedding_sha256;
    wm_frame_filter filter;      /* NULL = record world frames as they are */
    void *filter_user;
    int verbose;                 /* 1: progress lines on stderr */
} wm_run_params;

typedef struct wm_run_result {
    int n_frames;
    uint64_t *fnv;               /* n_frames world-frame fingerprints, malloc'ed (free()) */
    double seconds;
    int width, height;
} wm_run_result;

wm_status wm_run_trajectory(const wm_run_params *p, wm_run_result *res, wm_error *err);

#endif
