/* Flow-matching samplers of the stage-1 DiT (spec §5): sigma tables and the three sampling loops.
 *
 * Scheduler arithmetic reproduces diffusers' FlowMatchEulerDiscreteScheduler as SANA uses it: sigmas
 * stored as float32, model timesteps t = sigma * 1000 in float32 (the DiT truncates them), per-token
 * sigma = t / 1000 in float32, next sigma = the largest schedule sigma strictly below sigma - 1e-6
 * (0 if none), update x += (sigma_next - sigma) * v per frame; frame 0 (the clean first-frame latent)
 * is restored after every step. Latents are channels-first (in_ch, T, H, W) host fp32 and updated in
 * place. One arena is planned and allocated per sampling call; the steps themselves do not allocate.
 * An optional recorder sees "step{k}.v", "step{g}.x_in" / ".timestep" / ".v" (teacher),
 * "chunk{c}.step{k}.x_in" / ".timestep" / ".v" / ".blocks.{i}.*", "chunk{c}.x0", "chunk{c}.save.v" and
 * the streaming caches "chunk{c}.save.blocks.{i}.<field>" (fields of wm_dit_block_cache).
 */
#ifndef WM_DIT_SAMPLER_H
#define WM_DIT_SAMPLER_H

#include "wm/dit/model.h"

/* Bidirectional / teacher schedule (§5.2): sigmas (steps+1, trailing 0) and timesteps (steps). */
void wm_dit_sigmas_shifted(int steps, double shift, float *sigmas, float *timesteps);
/* Distilled schedule (§5.4) from integer timesteps: sigmas (n+1) = t/1000 in float32 + 0; timesteps (n). */
void wm_dit_sigmas_distilled(const int *t_list, int n, float *sigmas, float *timesteps);
/* Teacher start step of chunk i = int(i * interval_k * steps) (interval_k <= 0: 1/n_chunks). Returns the
 * total number of global steps. */
int wm_dit_teacher_starts(int n_chunks, int steps, double interval_k, int *starts);
/* Streaming chunks (§5.4 create_autoregressive_segments): [0, cs + T mod cs, +cs, ..., T]. */
int wm_dit_stream_bounds(int T, int chunk_size, int *bounds, int max_chunks);
/* Per-frame step sizes dt[f] = sigma_next - sigma_cur for per-frame timesteps t (T) (§5.1). */
void wm_dit_euler_dt(const float *t, int T, const float *sigmas, int n_sigmas, float *dt);

typedef struct wm_dit_cond {
    const float *y, *y_uncond;          /* (L, caption_channels); y_uncond NULL = no CFG */
    const uint8_t *mask, *mask_uncond;  /* (L) */
    int L;
    const float *cam;                   /* camera_conditions (T, 20) */
    const float *plucker;               /* (48, T, H, W) */
    float cfg_scale;                    /* 5.0 released bidirectional/teacher; ignored without y_uncond */
} wm_dit_cond;

typedef struct wm_dit_sampler_cb {
    wm_dit_record_fn record;            /* optional */
    void *user;
    int record_blocks;                  /* 1: also pass the forwards' intermediates (prefixed) */
    wm_dit_blocks_fn blocks_hook;       /* optional, given to every forward (model.h) */
    void *blocks_user;
} wm_dit_sampler_cb;

/* Bidirectional Euler with shift and CFG (§5.2). x: (in_ch, T, H, W), frame 0 = clean latent. */
wm_status wm_dit_sample_bidirectional(wm_backend *be, const wm_dit_weights *w, float *x, int T, const wm_dit_cond *c,
                                      int steps, double shift, const wm_dit_sampler_cb *cb);
/* Chunk-causal teacher staggered schedule (§5.3); interval_k <= 0 means 1/n_chunks. */
wm_status wm_dit_sample_teacher(wm_backend *be, const wm_dit_weights *w, float *x, int T, const wm_dit_cond *c,
                                int steps, double shift, double interval_k, const wm_dit_sampler_cb *cb);
/* One chunk of the distilled streaming sampler (§5.4, §5.4.1), for interactive sessions that produce
 * chunks one at a time: n_t denoising forwards then the t = 0 save pass that writes the chunk's caches.
 * Chunks must come in order (index == stream->n_saved). Camera and Plücker are chunk-local. */
typedef struct wm_dit_chunk {
    float *x;              /* (in_ch, n, H, W): in the noise (chunk 0: frame 0 = clean latent), out clean */
    const float *z0;       /* (in_ch, 1, H, W) clean first-frame latent restored in chunk 0 */
    int n_frames, frame0;  /* frames of the chunk, absolute index of its first frame */
    int index;             /* chunk index (0 = the sink chunk) */
    const float *y;        /* (L, caption_channels) */
    const uint8_t *mask;   /* (L) */
    int L;
    const float *cam;      /* camera_conditions of the chunk (n, 20) */
    const float *plucker;  /* (48, n, H, W) */
    const int *t_list;     /* NULL: {1000, 960, 889, 727} */
    int n_t;
} wm_dit_chunk;

/* Arena bytes for any chunk of this stream (chunk 0, and the full sink + previous + current window). */
wm_status wm_dit_stream_plan(wm_backend *be, const wm_dit_weights *w, wm_dit_stream *stream, int L, size_t *bytes);
wm_status wm_dit_stream_chunk(wm_backend *be, const wm_dit_weights *w, wm_dit_stream *stream, wm_arena *arena,
                              const wm_dit_chunk *ck, const wm_dit_sampler_cb *cb);

/* Distilled streaming (§5.4): x holds the noise for all T frames with frame 0 = the clean latent; each
 * chunk runs n_t denoising forwards (timesteps t_list, default {1000, 960, 889, 727}) and the t = 0
 * save pass. stream is reset first. */
wm_status wm_dit_sample_streaming(wm_backend *be, const wm_dit_weights *w, wm_dit_stream *stream, float *x, int T,
                                  const wm_dit_cond *c, const int *t_list, int n_t, const wm_dit_sampler_cb *cb);

#endif
