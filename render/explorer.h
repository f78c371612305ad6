/* explorer.h -- `wm explore`: the live window (GLFW + Vulkan) over a world, with a generator thread.
 *
 * Threads: the UI thread (this call) polls input, samples one wm_action per video tick (16 fps),
 * shows the newest due frame from the ring, draws the HUD and presents (FIFO vsync); the generator
 * thread steps the world one chunk at a time (its poses fixed from the actions queued when the chunk
 * starts), pushes frames into the bounded ring and records them. The UI never waits on the
 * generator: with an empty ring it keeps showing the last frame and the HUD says so.
 */
#ifndef WM_RENDER_EXPLORER_H
#define WM_RENDER_EXPLORER_H

#include "input/trajectory.h"
#include "render/glfw_input.h"
#include "wm/wm.h"

typedef struct wm_explore_opts {
    wm_world_params world;        /* source, size, chunk length */
    uint64_t seed;
    const char *prompt;
    const char *image_path;       /* model start image for the reset (NULL for procedural) */
    /* Recorded in the sidecar so `wm replay` can check its inputs (NULL = not known). */
    const char *model_sha256, *image_sha256, *embedding_path, *embedding_sha256;
    const char *record_mp4;       /* NULL: no recording (sidecar goes next to it) */
    const wm_trajectory *traj;    /* NULL: keyboard/gamepad drive the camera; else these poses */
    int64_t max_frames;           /* stop after this many frames shown; 0 = until closed */
    int fullscreen, validate;
    int no_hud;                   /* start with the HUD hidden */
    int win_w, win_h;             /* initial window size; 0 = the video size (2x when small) */
    const char *screenshot;       /* write the read-back window image (PNG/PPM) at the end */
    /* Test hook: called on the UI thread at every video tick before input is sampled. */
    void (*on_tick)(void *user, int64_t tick, wm_glfw_input *in);
    void *user;
} wm_explore_opts;

typedef struct wm_explore_result {
    int64_t frames_shown, frames_generated, dropped;
    wm_pose last_pose;            /* pose of the last frame shown */
    int capture_max_diff;         /* screenshot vs the shown world frame (same size only), -1 = n/a */
    double seconds;
} wm_explore_result;

wm_status wm_explore_run(const wm_explore_opts *o, wm_explore_result *res, wm_error *err);

#endif
