/* A benchmark driver of the real DiT (wm/dit) for `wm bench dit` (wm/cli/cmd_bench_dit.c does the timing:
 * events, percentiles, TFLOP/s, memory; this module only sets up and steps the model).
 *
 * wm_dit_bench_create builds everything once on the given backend: seeded random weights
 * (wm_dit_weights_random, the backend's dtypes), the streaming caches, the forward arena planned for the
 * worst chunk, a host staging arena and random host inputs (latent noise, caption + mask, a forward-moving
 * camera, Plücker). wm_dit_bench_step then runs one unit of work:
 *   streaming:            one chunk = n_steps denoising forwards + the t = 0 save pass (wm_dit_stream_chunk,
 *                         chunk 0 = the 1+chunk_size sink chunk, later chunks chunk_size frames with the
 *                         full [sink | previous] window from chunk 2 on: steady state);
 *   bidirectional/teacher: one forward of `frames` latent frames.
 * A step allocates nothing (host or device). The caller synchronises the backend before reading a clock.
 */
#ifndef WM_DIT_BENCH_H
#define WM_DIT_BENCH_H

#include "wm/dit/sampler.h"

typedef struct wm_dit_bench_params {
    wm_dit_variant variant; /* {0} = BIDIRECTIONAL; set WM_DIT_STREAMING for chunks */
    int frames;             /* bidirectional/chunk-causal: T (0 = 11); streaming: frames of chunks >= 1 (0 = cfg) */
    int text_len;           /* L (0 = cfg caption_length) */
    int valid_text;         /* valid tokens in the mask (0 = min(120, L)) */
    int n_steps;            /* streaming denoising forwards per chunk (0 = 4, timesteps 1000/960/889/727) */
    uint64_t seed;          /* weights and inputs */
    wm_dit_blocks_fn blocks_hook; /* optional: given to every forward (CUDA-graph capture/replay of the
                                   * block stack, see wm_dit_blocks_key in model.h) */
    void *blocks_user;
} wm_dit_bench_params;

typedef struct wm_dit_bench_info {
    size_t weight_bytes;    /* the two weight families on the device */
    size_t cache_bytes;     /* streaming caches (0 otherwise) */
    size_t arena_bytes;     /* the forward arena (planned worst case) */
    size_t arena_peak;      /* the arena high-water mark so far */
    size_t stage_bytes;     /* host staging */
    int frames;             /* frames of the last step's forwards */
    int forwards_per_step;  /* streaming: n_steps + 1; else 1 */
    int steps_done;         /* steps run (streaming: next chunk index) */
} wm_dit_bench_info;

typedef struct wm_dit_bench wm_dit_bench;

wm_status wm_dit_bench_create(wm_backend *be, const wm_dit_config *cfg, const wm_dit_bench_params *p,
                              wm_dit_bench **out, wm_error *err);
/* One chunk (streaming) or one forward; errors carry be->err. */
wm_status wm_dit_bench_step(wm_dit_bench *b);
void wm_dit_bench_get_info(const wm_dit_bench *b, wm_dit_bench_info *info);
/* The model objects, for callers that drive forwards themselves (e.g. per-pass timing). */
const wm_dit_weights *wm_dit_bench_weights(const wm_dit_bench *b);
wm_dit_stream *wm_dit_bench_stream(wm_dit_bench *b);
/* Host velocity of the last non-streaming step, (out_ch, frames, H, W). */
const float *wm_dit_bench_velocity(const wm_dit_bench *b);
void wm_dit_bench_free(wm_dit_bench *b);

#endif
