/* mp4.h -- H.264 MP4 recording through libavcodec/libavformat, and reading it back.
 *
 * The writer encodes RGB8 frames with libx264 (yuv420p, CRF, "zerolatency" so each frame leaves the
 * encoder at once) into a FRAGMENTED MP4 (movflags frag_keyframe+empty_moov+default_base_moof, a
 * keyframe every second) and flushes the file after every packet: if the program is killed, every
 * fragment already written stays playable. While recording, the file is "<path>.part"; close renames it
 * to <path>, so a file at <path> is always complete and a ".part" one is a (readable) interrupted run.
 * Frame durations are set explicitly (pkt->duration = 1 frame), otherwise the container reports one
 * frame less of duration (deps-probe pitfall 8). Frame sizes must be even (4:2:0 chroma).
 */
#ifndef WM_RECORDINGS_MP4_H
#define WM_RECORDINGS_MP4_H

#include "wm/core/log.h"
#include <stdint.h>

typedef struct wm_mp4_params {
    int width, height;   /* pixels, even, required */
    int fps;             /* frames per second, default 16 */
    int crf;             /* x264 constant rate factor, default 18 (visually lossless-ish) */
    int gop;             /* keyframe interval in frames, default = fps (a fragment per second) */
    int no_part_name;    /* 1: write <path> directly instead of <path>.part (tests of killed runs) */
} wm_mp4_params;

typedef struct wm_mp4 wm_mp4;

wm_status wm_mp4_open(const char *path, const wm_mp4_params *p, wm_mp4 **out, wm_error *err);
/* One RGB8 frame, height rows of width*3 bytes, top row first. */
wm_status wm_mp4_write_rgb(wm_mp4 *m, const uint8_t *rgb, wm_error *err);
/* Drain the encoder, write the trailer, rename into place, free. m == NULL is fine. */
wm_status wm_mp4_close(wm_mp4 *m, wm_error *err);
/* Free without finishing (the .part file stays, as after a crash). */
void wm_mp4_abandon(wm_mp4 *m);

typedef struct wm_mp4_info {
    int width, height;
    int n_frames;        /* video packets demuxed */
    double duration_s;   /* from the container */
    double fps;          /* average frame rate of the stream */
    char codec[32];
} wm_mp4_info;

/* Demux (and optionally decode) a video file. on_frame, when given, receives every decoded frame as
 * RGB8 (width*height*3 bytes, valid during the call); return non-zero from it to stop early. */
typedef int (*wm_mp4_frame_fn)(void *user, int index, const uint8_t *rgb, int width, int height);
wm_status wm_mp4_read(const char *path, wm_mp4_info *info, wm_mp4_frame_fn on_frame, void *user, wm_error *err);

#endif
