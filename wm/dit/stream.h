/* Streaming caches of the distilled DiT (spec §3.7, §3.9, §2.6): one entry per block, allocated once
 * per session from the config (no allocation per chunk).
 *
 * GDN blocks keep the forward states (main M, z and camera M, fp32) and the raw-K short-conv tails of
 * the main and camera branch (last K-1 frames, oldest first). Softmax blocks keep the K/V (after norm,
 * RoPE / UCPE) of the sink chunk (chunk 0) and of the previous chunk; the window of chunk c is
 * {} (c = 0), {sink} (c = 1), {sink, c-1} (c >= 2). Every block keeps the FFN t_conv tail (last frame
 * of the point-conv output). Only save passes (t = 0, after a chunk's denoising steps) write.
 * Layouts: M (H, D, D) with M[key][value]; z (H, D, 1); tails ((K-1)*S, C) / (S, C); K/V (frames*S, C).
 * Memory: ONE allocation on the backend's device (wm_dit_stream_create_on) carved into every cache,
 * states fp32, tails and K/V in the backend's activation dtype (wm_dit_act_dtype), plus a small host
 * staging arena for the per-forward host-built tables (wm_dit_run.stage) and the host velocity scratch.
 */
#ifndef WM_DIT_STREAM_H
#define WM_DIT_STREAM_H

#include "wm/dit/config.h"
#include "wm/core/arena.h"
#include "wm/core/backend.h"
#include "wm/core/log.h"
#include "wm/core/tensor.h"

#define WM_DIT_MAX_CHUNK_FRAMES 64

typedef struct wm_dit_block_cache {
    wm_tensor M, z, Mc;                              /* GDN states */
    wm_tensor ktail, kctail;                         /* GDN short-conv tails */
    wm_tensor sink_k, sink_v, sink_kc, sink_vc;      /* softmax: chunk 0 */
    wm_tensor prev_k, prev_v, prev_kc, prev_vc;      /* softmax: previous chunk */
    wm_tensor ttail;                                 /* FFN t_conv tail (S, C) */
} wm_dit_block_cache;

typedef struct wm_dit_stream {
    wm_dit_config cfg;
    wm_dit_block_cache *blocks;
    int n_saved;          /* chunks whose save pass has run */
    int sink_frames;      /* frames in the sink entry (set by the first save) */
    int prev_frames;      /* frames in the previous-chunk entry */
    int max_sink_frames;  /* capacities */
    int max_chunk_frames;
    float *v;             /* velocity scratch (out_ch, max frames, S) for wm_dit_stream_chunk */
    wm_backend *be;       /* owner of mem (NULL: host memory, fp32, as on the CPU backend) */
    void *mem;            /* the one cache allocation */
    size_t mem_bytes;
    wm_arena stage;       /* host staging for the tables of one chunk forward */
    /* The chunk's RoPE / camera RoPE / UCPE tables on the device (fp32, carved from mem): the n_t + 1
     * forwards of a chunk share them, so they are built and uploaded once per chunk (key: frame0, frames,
     * camera rows). tab_frames = 0: empty. */
    wm_tensor tab;
    int tab_frame0, tab_frames;
    float tab_cam[WM_DIT_MAX_CHUNK_FRAMES * 20];
    /* The prompt's caption embedding (cap_y (caption_length, C) after y-norm, cap_mask (caption_length)
     * u8) and every block's cross-attention K (after k-norm) and V (cap_kv[2i], cap_kv[2i+1]), in the
     * activation dtype: computed by the first forward of a prompt, reused while (L, caption, mask) stay
     * the same (key: host copies). Kept outside wm_dit_block_cache so state snapshots do not carry them. */
    wm_tensor cap_y, cap_mask, *cap_kv;
    /* Softmax blocks: win[4i + j] (j = K, V, Kc, Vc) is ONE buffer [sink | prev | cur] of (max_sink +
     * 2 max_chunk) * S rows; the cache tensors sink_* / prev_* are its first two entries. A forward whose
     * window is a row prefix of it (sink entry full) writes its K/V straight after the entries it uses and
     * attends to the prefix: no window copies. data NULL for GDN blocks. Not state (the cur rows are
     * scratch of the running chunk). */
    wm_tensor *win;
    int cap_valid, cap_L;
    float *cap_host_y;
    uint8_t *cap_host_mask;
    /* Device-resident denoising of a chunk (device streams only; data NULL on the host): the chunk's
     * latents (in_channels, max frames * S), velocity (out_channels, ...) and Euler step sizes (max
     * frames), fp32. wm_dit_stream_chunk keeps x on the GPU across its forwards with these: one upload
     * and one download per chunk instead of a round trip per forward. Scratch, not state. */
    wm_tensor lat, vel, dts;
} wm_dit_stream;


/* max_first_chunk: frames of the first (sink) chunk, max_chunk: frames of later chunks. */
wm_status wm_dit_stream_create(const wm_dit_config *cfg, int max_first_chunk, int max_chunk, wm_dit_stream **out);
/* The same with the caches on be's device in its dtypes (be == NULL: as wm_dit_stream_create). */
wm_status wm_dit_stream_create_on(wm_backend *be, const wm_dit_config *cfg, int max_first_chunk, int max_chunk,
                                  wm_dit_stream **out);
void wm_dit_stream_reset(wm_dit_stream *s);
/* wm_dit_stream_reset with its status (a device upload can fail). */
wm_status wm_dit_stream_zero(wm_dit_stream *s);
void wm_dit_stream_free(wm_dit_stream *s);
/* Stream state for snapshots: the counters and every block cache (GDN states, conv tails, sink and
 * previous-chunk K/V, FFN tails), downloaded from the backend's device, behind a header (magic, version,
 * byte count, layout fingerprint). Save and load need n == bytes; a blob of another config/capacity, a
 * truncated or foreign buffer fail with WM_ERR_INVALID_ARG and a message in err (may be NULL). The
 * prompt K/V and RoPE tables are not part of the state (rebuilt on demand). */
size_t wm_dit_stream_state_bytes(const wm_dit_stream *s);
wm_status wm_dit_stream_state_save(const wm_dit_stream *s, void *host_buf, size_t n, wm_error *err);
wm_status wm_dit_stream_state_load(wm_dit_stream *s, const void *host_buf, size_t n, wm_error *err);

#endif
