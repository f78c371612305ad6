/* sidecar.h -- the JSON record that makes a run reproducible: every frame's pose, intrinsics and pixel
 * fingerprint, the input events with timestamps and frame indices, seed, prompt, source and model
 * identity, program version.
 *
 * Written progressively: while recording, each frame and event is appended as one JSON line to
 * "<path>.part" and flushed per chunk, so a killed run still leaves a readable log. wm_sidecar_close()
 * then writes the complete document to a temp name and renames it to <path> (atomic: a sidecar at
 * <path> is always complete), and removes the .part log. Document layout:
 *   {"format":"wm-recording","version":1,"program":"wm 0.1.0","created":"<UTC ISO 8601>",
 *    "source":"procedural"|"model","seed":S,"prompt":P|null,"model":{"path":..,"sha256":..}|null,
 *    "image":{"path":..,"sha256":..}|null (model start image), "prompt_embedding":{"path":..,"sha256":..}|null
 *    (model runs prompted with "@E.safetensors"; the prompt field then holds that "@..." text),
 *    "width":W,"height":H,"fps":16,"frames_per_chunk":24,"video":"out.mp4"|null,
 *    "frames":[{"index":i,"chunk":c,"c2w":[[4]x4],"intrinsics":[fx,fy,cx,cy],"rgb_fnv1a64":"hex",
 *               "action":{"keys":bits,"axes":[x,y,z,yaw,pitch]} (live runs)}...],
 *    "events":[{"t":seconds,"frame":i,"device":"key"|"pad"|"agent","name":"W","value":1}...],
 *    "complete":true}
 * The "frames" entries are trajectory-JSON frames (input/trajectory.h), so a sidecar loads as a
 * trajectory as well.
 */
#ifndef WM_RECORDINGS_SIDECAR_H
#define WM_RECORDINGS_SIDECAR_H

#include "wm/core/log.h"
#include "wm/wm.h"
#include <stdint.h>
#include <stdio.h>

typedef struct wm_sidecar_info {
    const char *source;          /* "procedural" or "model" */
    uint64_t seed;
    const char *prompt;          /* NULL = none */
    const char *model_path;      /* NULL for procedural */
    const char *model_sha256;    /* hex digest of the model file, NULL if not hashed */
    int width, height;
    float fps;
    int frames_per_chunk;
    const char *video_path;      /* the MP4 this sidecar belongs to, NULL if none */
    const char *image_path;      /* model start image, NULL for procedural */
    const char *image_sha256;    /* its hex digest (replay refuses a changed image), NULL if not hashed */
    const char *embedding_path;  /* prompt embedding file (prompt "@FILE"), NULL if none */
    const char *embedding_sha256;
} wm_sidecar_info;

typedef struct wm_sidecar wm_sidecar;

wm_status wm_sidecar_open(const char *path, const wm_sidecar_info *info, wm_sidecar **out, wm_error *err);
/* rgb: height*width*3 bytes of the frame (fingerprinted), may be NULL. a: the controls this frame was
 * generated with (live runs), recorded as "action":{"keys":bits,"axes":[x,y,z,yaw,pitch]}; may be NULL. */
wm_status wm_sidecar_add_frame(wm_sidecar *s, int64_t index, int64_t chunk, const wm_pose *p, const uint8_t *rgb,
                               const wm_action *a);
wm_status wm_sidecar_add_event(wm_sidecar *s, double t_s, int64_t frame, const char *device, const char *name, int value);
/* Flush the .part log to disk (call per chunk). */
void wm_sidecar_flush(wm_sidecar *s);
/* Finalize atomically (see above) and free. On failure the .part log is kept. */
wm_status wm_sidecar_close(wm_sidecar *s, wm_error *err);
/* Free without finalizing (the .part log stays, as after a crash). */
void wm_sidecar_abandon(wm_sidecar *s);

/* Reading back (for replay): metadata and per-frame fingerprints. */
typedef struct wm_sidecar_meta {
    char source[32];
    uint64_t seed;
    char prompt[1024];
    char model_path[1024];
    char model_sha256[65];
    char image_path[1024];       /* "" when the recording has no start image */
    char image_sha256[65];
    char embedding_path[1024];
    char embedding_sha256[65];
    int width, height, frames_per_chunk;
    float fps;
    int n_frames;
    uint64_t *rgb_fnv;           /* n_frames fingerprints (0 = absent), malloc'ed */
} wm_sidecar_meta;

wm_status wm_sidecar_read_meta(const char *path, wm_sidecar_meta *m, wm_error *err);
void wm_sidecar_meta_free(wm_sidecar_meta *m);

#endif
