/* protocol.h -- the wm agent protocol, version 1 (docs/agent-protocol.md is the normative text).
 *
 * Every message is a 16-byte header followed by `length` payload bytes, all integers little-endian:
 *     u8[4] magic "WMAP" | u16 version (1) | u16 type | u32 length | u32 request_id
 * A reply echoes the request_id of the request it answers. A connection holds at most one world at a
 * time (open several connections for side-by-side worlds); snapshots belong to the connection.
 * Requests are bounded by the server's max message size; replies carrying frames are as large as the
 * frames (n * height * width * 3 bytes plus a small prefix).
 * Why a fixed binary header (not JSON lines): frames are megabytes of raw RGB, and a length-prefixed
 * frame lets both sides read exactly one message without scanning, bound it before reading it, and
 * skip nothing by accident. The only parser is the bounds-checked reader in wire.h.
 */
#ifndef WM_SERVE_PROTOCOL_H
#define WM_SERVE_PROTOCOL_H

#define WM_PROTO_MAGIC "WMAP"
#define WM_PROTO_VERSION 1
#define WM_PROTO_HEADER 16

/* Client -> server requests. */
enum {
    WM_MSG_HELLO = 1,          /* u32 token_len, token bytes. Required first when the server has a token. */
    WM_MSG_OPEN = 2,           /* u32 source, width, height, fps, frames_per_chunk, u64 seed, f32 hfov, u32 n_threads, u32 prompt_len, prompt */
    WM_MSG_RESET = 3,          /* u64 seed, u32 has_pose, f32[20] pose, u32 prompt_len, prompt, u32 image_len, image (PNG/PPM bytes) */
    WM_MSG_STEP_ACTIONS = 4,   /* u32 n, n x {u32 keys, f32 move_x, move_y, move_z, yaw, pitch, i32 n_frames} */
    WM_MSG_STEP_POSES = 5,     /* u32 n, n x f32[20] {c2w[16] row-major, fx, fy, cx, cy} */
    WM_MSG_SNAPSHOT = 6,       /* empty */
    WM_MSG_RESTORE = 7,        /* u32 snapshot_id */
    WM_MSG_SNAPSHOT_FREE = 8,  /* u32 snapshot_id */
    WM_MSG_CLOSE = 9           /* empty: frees the world (and keeps the connection) */
};

/* Server -> client replies. */
enum {
    WM_MSG_OK = 64,            /* empty */
    WM_MSG_HELLO_OK = 65,      /* u32 protocol version, u32 max_message, u32 max_worlds, u32 len, server version */
    WM_MSG_OPENED = 66,        /* u32 source, width, height, fps, frames_per_chunk, f32 hfov, u32 n_threads */
    WM_MSG_FRAMES = 67,        /* i64 chunk_index, i64 first_frame, u32 n, width, height, f64 ms_generate,
                                  f64 ms_total, n x f32[20] poses, then n*height*width*3 RGB8 bytes */
    WM_MSG_SNAPSHOT_ID = 68,   /* u32 snapshot_id */
    WM_MSG_ERROR = 127         /* u32 wm_status code, u32 len, message (UTF-8, no NUL) */
};

#define WM_PROTO_ACTION_BYTES 28
#define WM_PROTO_POSE_BYTES 80
#define WM_PROTO_FRAMES_PREFIX 44   /* bytes before the poses in a FRAMES payload */

#endif
