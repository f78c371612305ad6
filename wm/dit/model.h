/* The stage-1 DiT forward (spec §2-§4) in its three variants, on any backend through kernels/ops.h.
 *
 * One forward processes one batch element: the CFG batch of the samplers is two forwards. Inputs are
 * host fp32 arrays in the official layouts (x channels-first (in_ch, T, H, W), per-frame timesteps,
 * caption (L, caption_channels) + mask, camera_conditions (T, 20), chunk Plücker (48, T, H, W)); the
 * output velocity is (out_ch, T, H, W). All scratch comes from a caller arena reset per forward, sized
 * once by wm_dit_plan() (a measuring run of the same code), so the per-chunk path never allocates.
 * Streaming forwards read (and with save = 1 write) a wm_dit_stream holding every block's caches.
 * An optional recorder sees each named intermediate of tools/reference/GOLDEN.md (tests, --dump-blocks).
 */
#ifndef WM_DIT_MODEL_H
#define WM_DIT_MODEL_H

#include "wm/core/arena.h"
#include "wm/dit/stream.h"
#include "wm/dit/weights.h"

#define WM_DIT_MAX_CHUNKS 512

typedef struct wm_dit_inputs {
    const float *x;         /* (in_channels, T, H, W) */
    const float *timestep;  /* (T) per frame, float; truncated inside as torch .long() */
    const float *y;         /* (L, caption_channels) */
    const uint8_t *mask;    /* (L) nonzero = valid token; NULL = all valid */
    int L;                  /* text tokens */
    const float *cam;       /* camera_conditions (T, 20) */
    const float *plucker;   /* (plucker_channels, T, H, W) */
    int T;                  /* latent frames of this forward */
} wm_dit_inputs;

/* Called with each named intermediate (token-major (N, C) etc.); the tensor is only valid during the
 * call. */
typedef void (*wm_dit_record_fn)(void *user, const char *name, const wm_tensor *t);

/* Optional hook around the block stack, for CUDA-graph capture/replay of the blocks. Between phase 0
 * (before block 0) and phase 1 (after the last block) a forward issues only device ops (no host copies,
 * no recorder calls when record is NULL) on addresses that repeat for equal keys: the arena is reset per
 * forward and carved in the same order, the caches and the streaming tables have fixed addresses. Phase 0
 * may set *skip = 1 when the caller ran the blocks itself (replayed a graph captured earlier between the
 * phases of a forward with an equal key); phase 1 is then not called. A capturing caller must launch the
 * captured graph at phase 1 (capture records, it does not run). */
typedef struct wm_dit_blocks_key {
    wm_dit_variant variant;
    int frames, text_len, save;
    int window, sink_frames, prev_frames; /* streaming: min(n_saved, 2) and the window's frame counts */
    int text_cached;   /* streaming: 1 = the blocks read the stream's cached text K/V, 0 = they compute them */
    int text_keys;     /* caption keys the cross-attention reads (up to the last unmasked one) */
    int trim;          /* 1: the last block stops after writing its caches (see dit_fwd.kv_only) */
    size_t arena_used; /* not part of the key: arena bytes in use at phase 0, equal for equal keys (a
                        * replaying caller may assert it) */
} wm_dit_blocks_key;
typedef wm_status (*wm_dit_blocks_fn)(void *user, int phase, const wm_dit_blocks_key *key, int *skip);
/* 1 when two keys select the same block-stack op sequence (every field but arena_used): use this rather
 * than comparing fields, so keys stay correct when fields are added. */
int wm_dit_blocks_key_equal(const wm_dit_blocks_key *a, const wm_dit_blocks_key *b);

typedef struct wm_dit_run {
    wm_dit_variant variant;  /* BIDIRECTIONAL, CHUNK_CAUSAL or STREAMING */
    wm_dit_stream *stream;   /* STREAMING only: caches of earlier chunks (read) */
    int frame0;              /* STREAMING only: absolute index of the chunk's first frame (RoPE) */
    int save;                /* STREAMING only: write this pass's caches (the t = 0 pass) */
    int ffn_group_frames;    /* frames per FFN spatial group; 0 = auto (<= 256 MiB of intermediates) */
    wm_dit_record_fn record; /* optional */
    void *record_user;
    wm_arena *stage;         /* host staging arena for the host-built tables (RoPE, UCPE, text mask), sized
                              * by wm_dit_stage_bytes; required on a device backend. NULL on the CPU backend:
                              * the tables are built in place in the forward's arena. */
    wm_dit_blocks_fn blocks_hook; /* optional, see wm_dit_blocks_key */
    void *blocks_user;
    const wm_tensor *x_dev;  /* optional: the latents already on be's device, fp32 (in_channels, T*H*W);
                              * wm_dit_inputs.x unused then (a denoising loop that keeps them on the GPU) */
    wm_tensor *v_dev;        /* optional: the velocity stays on the device, fp32 (out_channels, T*H*W); v_out
                              * unused then */
    int no_velocity;         /* 1: nobody reads the velocity (a streaming save pass): no final layer */
} wm_dit_run;

/* The one place that decides dtypes per backend: activations (and matmul weights, which a GEMM takes in
 * the activation dtype) are fp32 on the CPU and bf16 on CUDA; GDN states/Gram sums, gates, adaLN tables,
 * timestep embeddings, RoPE/UCPE tables and the small non-GEMM weights stay fp32 everywhere. */
wm_dtype wm_dit_act_dtype(const wm_backend *be);
/* Host staging bytes a forward of T frames and L text tokens needs (wm_dit_run.stage). */
size_t wm_dit_stage_bytes(const wm_dit_config *cfg, int T, int L);

/* v_out: (out_channels, T, H, W) host fp32 (NULL with run->v_dev or run->no_velocity). The arena (on be's device) is reset at entry; w and the stream
 * must live on be's device too (wm_dit_weights_load_on, wm_dit_stream_create_on). */
wm_status wm_dit_forward(wm_backend *be, const wm_dit_weights *w, const wm_dit_run *run, const wm_dit_inputs *in,
                         wm_arena *arena, float *v_out);
/* Bytes of arena a forward of T frames and L text tokens needs (measuring pass). */
wm_status wm_dit_plan(wm_backend *be, const wm_dit_weights *w, const wm_dit_run *run, int T, int L, size_t *bytes);

/* Chunk boundaries "first_chunk_plus_one" (spec §3.6): [0, 1+cs), then cs frames each, the last one
 * possibly shorter. Returns the number of chunks (<= max_chunks), bounds has n+1 entries. */
int wm_dit_chunk_bounds(int T, int chunk_size, int *bounds, int max_chunks);

#endif
