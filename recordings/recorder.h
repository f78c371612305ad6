/* recorder.h -- one recording = MP4 (when built with FFmpeg) + sidecar JSON, fed frame by frame.
 *
 * Both files are written progressively (fragmented "<out>.mp4.part", "<out>.json.part") and renamed
 * into place by wm_recorder_close(), so an interrupted run leaves readable .part files and a finished
 * one leaves complete files only. The sidecar fingerprints the WORLD's frames (what replay must
 * reproduce); the MP4 gets the frames as shown (identical unless a HUD was burned in).
 */
#ifndef WM_RECORDINGS_RECORDER_H
#define WM_RECORDINGS_RECORDER_H

#include "recordings/sidecar.h"
#include "wm/wm.h"

typedef struct wm_recorder_params {
    const char *mp4_path;       /* NULL: sidecar only */
    const char *sidecar_path;   /* NULL: mp4_path with ".mp4" replaced by ".json" */
    wm_sidecar_info info;       /* width/height/fps/seed/source/... (video_path filled in) */
} wm_recorder_params;

typedef struct wm_recorder wm_recorder;

wm_status wm_recorder_open(const wm_recorder_params *p, wm_recorder **out, wm_error *err);
/* Frame i of a batch: pose + world pixels (sidecar) and shown pixels (MP4; NULL = world pixels). */
wm_status wm_recorder_add_frame(wm_recorder *r, const wm_frames *f, int i, const uint8_t *shown_rgb, wm_error *err);
/* The same, also recording the action the frame was generated with (live runs). */
wm_status wm_recorder_add_frame_action(wm_recorder *r, const wm_frames *f, int i, const uint8_t *shown_rgb,
                                       const wm_action *a, wm_error *err);
wm_status wm_recorder_add_event(wm_recorder *r, double t_s, int64_t frame, const char *device, const char *name, int value);
void wm_recorder_flush(wm_recorder *r);
wm_status wm_recorder_close(wm_recorder *r, wm_error *err);
/* Stop without finalizing: the .part files stay (an interrupted recording). */
void wm_recorder_abandon(wm_recorder *r);
const char *wm_recorder_sidecar_path(const wm_recorder *r);

/* "<base>.json" for "<base>.mp4", else "<path>.json". */
void wm_recorder_default_sidecar(const char *mp4_path, char *out, size_t cap);

#endif
