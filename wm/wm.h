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

/* ================================================================ worlds (agent API)
 * A world is an environment an agent (or the explorer) drives chunk by chunk: reset it from an
 * initializer, step it with held controls (wm_action, the explorer's keys/sticks) or with explicit
 * camera poses, and receive RGB8 frames with the pose of every frame. Two frame sources sit behind
 * the same calls: WM_SOURCE_PROCEDURAL, a deterministic CPU-rendered 3-D world (scenes/, always
 * available; see docs/world.md), and WM_SOURCE_MODEL, the SANA-WM world model (needs model_path and a
 * start image at reset; in builds without the model pipeline wm_world_open returns WM_ERR_UNSUPPORTED
 * with a message saying so).
 *
 * Frame indexing: wm_world_reset produces frame 0 (the start view, chunk 0); every step produces the
 * next frames_per_chunk frames (chunk 1, 2, ...). Frames and poses returned in a wm_frames are owned by
 * the world and stay valid until the next call on that world (reset/step/restore/free); copy them to
 * keep them. No allocation happens per step: buffers are sized once at open.
 * Coordinates: OpenCV camera-to-world (see wm_pose); the world is "Y down" like the camera at identity,
 * so world up is -Y and the ground is the plane y = +eye_height below the start pose. */
typedef struct wm_world wm_world;
typedef struct wm_snapshot wm_snapshot;

typedef enum wm_source {
    WM_SOURCE_PROCEDURAL = 0,   /* CPU ray-cast procedural world (scenes/) */
    WM_SOURCE_MODEL = 1         /* SANA-WM stage-1 world model (needs model_path) */
} wm_source;

typedef struct wm_world_params {
    wm_source source;        /* frame source, default WM_SOURCE_PROCEDURAL */
    int width;               /* frame width in pixels; 0 = default (procedural 640, model 1280) */
    int height;              /* frame height in pixels; 0 = default (procedural 352, model 704) */
    int fps;                 /* video frames per second of content, 0 = 16 (motion speeds are per frame) */
    int frames_per_chunk;    /* frames produced by one step, 0 = 24 (model: must be 24) */
    uint64_t seed;           /* world seed used when a reset gives none (reset seed 0); default 0 */
    const char *model_path;  /* WM_SOURCE_MODEL: checkpoint directory/file; copied at open; default NULL */
    const char *prompt;      /* default text prompt for resets that give none; copied; default NULL */
    int n_threads;           /* render/compute threads, 0 = number of online CPUs */
    float hfov_deg;          /* horizontal field of view of the default intrinsics, degrees, 0 = 60
                                (fx = fy = width/2 / tan(hfov/2), principal point at the centre, as
                                input/camera.h) */
} wm_world_params;

wm_world_params wm_world_default_params(void);   /* every field filled with its effective default */

/* Open a world. Copies what it needs from params (strings included); sizes every buffer once.
 * WM_ERR_INVALID_ARG for out-of-range fields (sizes 16..8192, chunk 1..256), WM_ERR_UNSUPPORTED for
 * WM_SOURCE_MODEL in builds without the model pipeline, WM_ERR_OUT_OF_MEMORY. On failure *out is NULL and
 * the reason is logged at WARN (there is no handle to hold the message). */
wm_status wm_world_open(const wm_world_params *params, wm_world **out);
void wm_world_free(wm_world *w);                                  /* NULL is fine */
const char *wm_world_last_error(const wm_world *w);               /* detail of the last failure, "" if none */
/* Effective parameters after open (defaults resolved; strings point into the world). */
void wm_world_get_params(const wm_world *w, wm_world_params *out);

typedef struct wm_reset_params {
    uint64_t seed;            /* world seed; 0 = the seed of wm_world_params */
    const char *image_path;   /* start image (PNG/JPEG/PPM) for the model; procedural: must be NULL */
    const char *prompt;       /* text prompt; NULL = the world's default prompt; procedural ignores it */
    const wm_pose *start_pose;/* pose of frame 0; NULL = the source's spawn pose (procedural: identity,
                                 eye height 1.6 m above the ground, looking along +Z). Intrinsics of
                                 the pose are used when fx > 0, else the world's defaults. */
} wm_reset_params;

wm_reset_params wm_reset_default_params(void);

/* One batch of frames. Owned by the world; valid until the next call on the same world. */
typedef struct wm_frames {
    int width, height;        /* pixels */
    int n;                    /* number of frames */
    const uint8_t *rgb;       /* n * height * width * 3 bytes, RGB8, frame-major, top row first */
    const wm_pose *poses;     /* n poses: c2w + intrinsics of each frame */
    int64_t chunk_index;      /* 0 for the reset frame, then 1, 2, ... per step */
    int64_t first_frame;      /* video frame index of the first frame (frame 0 = reset frame) */
    double ms_generate;       /* wall time spent producing the pixels */
    double ms_total;          /* wall time of the whole call */
} wm_frames;

/* Reset: new episode (new seed/initializer), camera back to the start pose, camera smoothing state
 * cleared. Produces frame 0 (n = 1). rp == NULL means wm_reset_default_params(). */
wm_status wm_world_reset(wm_world *w, const wm_reset_params *rp, wm_frames *out);

/* Step one chunk with held controls: actions[0] is held for its n_frames frames, then actions[1], ...;
 * an n_frames of 0 holds that action for the rest of the chunk. Frames the actions do not cover get no
 * input (the camera coasts and settles per spec §4.9 smoothing). n = 0 (actions may be NULL) is an idle
 * chunk. WM_ERR_INVALID_ARG if the actions ask for more frames than a chunk, or for axes outside
 * [-1, 1] or non-finite; WM_ERR_STATE before the first reset. Produces frames_per_chunk frames. */
wm_status wm_world_step_actions(wm_world *w, const wm_action *actions, int n, wm_frames *out);

/* Step with explicit poses, one per frame (1 <= n <= frames_per_chunk; the model needs exactly
 * frames_per_chunk). Intrinsics of a pose with fx <= 0 are replaced by the world's defaults. The
 * camera controller continues from the last given pose (smoothing state is cleared). A pose must be a
 * camera (also for reset's start_pose): finite, rotation orthonormal within 1e-2, bottom row 0 0 0 1,
 * position within 1e6 m, focal length below 1e6 px; otherwise WM_ERR_INVALID_ARG naming the pose. */
wm_status wm_world_step_poses(wm_world *w, const wm_pose *poses, int n, wm_frames *out);

/* Pose of the most recent frame (the spawn pose before the first reset). */
void wm_world_get_pose(const wm_world *w, wm_pose *out);

/* Snapshots: the complete generator state (camera + smoothing, frame/chunk counters, seed, source
 * state) so an agent can branch: snapshot, step, restore, step differently. Restoring and stepping
 * with the same inputs reproduces the same frames bit for bit. A snapshot restores into the world that
 * made it or into any world opened with the same source, size and frames_per_chunk (so branches can
 * run side by side); otherwise WM_ERR_INVALID_ARG. It stays valid after further steps, can be restored
 * any number of times, and is freed with wm_snapshot_free (also after its world is freed). */
wm_status wm_world_snapshot(wm_world *w, wm_snapshot **out);
wm_status wm_world_restore(wm_world *w, const wm_snapshot *snap);
void wm_snapshot_free(wm_snapshot *snap);                          /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif /* WM_WM_H */
