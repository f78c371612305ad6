/* session.h -- the SANA-WM streaming pipeline (spec §1.12): a loaded model and per-world sessions.
 *
 * wm_model holds what is loaded once and read-only afterwards: the stage-1 DiT weights (config from the
 * checkpoint's names/shapes, optionally config.yaml), the causal LTX-2 VAE, and optionally the Gemma-2
 * text encoder with a per-prompt cache. A model is built for ONE frame size because the DiT's GDN key
 * scale (D*S)^-1/2 is folded into its weights at load (S = latent tokens per frame).
 * wm_session is one live rollout: noise RNG, first-frame latent, DiT streaming caches (GDN states, conv
 * tails, softmax sink + previous-chunk KV), causal VAE decoder caches, camera history (raw frame 0).
 * Every buffer is sized at create; reset/step allocate nothing, so a minute-long rollout runs in
 * constant memory. The whole generator state is a flat byte blob (save/load) for world snapshots.
 * Frame accounting (docs/pipeline.md): reset yields frame 0 (the preprocessed start image); each step
 * takes 24 poses and yields 24 frames = one DiT chunk (step 1 runs the 4-frame sink chunk 0 and drops
 * its first pixel frame, later steps run 3-frame chunks).
 * Not thread-safe: one session per thread; sessions of one model may run on different threads.
 */
#ifndef WM_SESSION_SESSION_H
#define WM_SESSION_SESSION_H

#include "wm/core/log.h"
#include "wm/dit/config.h"
#include "wm/wm.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wm_model wm_model;
typedef struct wm_session wm_session;

typedef struct wm_model_params {
    const char *path;        /* checkpoint root (see docs/pipeline.md for the layout) or a DiT file */
    const char *vae_path;    /* VAE folder (config.json + safetensors); NULL = path/ltx2_causal_vae or path/vae */
    const char *text_path;   /* Gemma-2 folder; NULL = path/text_encoder or path/gemma-2-2b-it if present */
    int no_text;             /* 1: never load a text encoder (prompts must come as embeddings) */
    int height, width;       /* frame size, multiples of the VAE's spatial ratio (32); 0 = 704 x 1280 */
    int n_threads;           /* CPU threads, 0 = all online CPUs */
    int backend;             /* WM_MODEL_AUTO (CUDA when this program has it and a GPU is there, else the
                                CPU), WM_MODEL_CPU or WM_MODEL_CUDA (fails without a device) */
} wm_model_params;

enum { WM_MODEL_AUTO = 0, WM_MODEL_CPU = 1, WM_MODEL_CUDA = 2 };

wm_status wm_model_load(const wm_model_params *p, wm_model **out, wm_error *err);
void wm_model_free(wm_model *m);                              /* NULL is fine */
const wm_dit_config *wm_model_dit_config(const wm_model *m); /* latent_h/w set for the frame size */
int wm_model_has_text(const wm_model *m);
const char *wm_model_backend_name(const wm_model *m);       /* "cpu" or "cuda" */
struct wm_dit_weights;
const struct wm_dit_weights *wm_model_dit_weights(const wm_model *m); /* for tests and benchmarks */

wm_status wm_session_create(wm_model *m, wm_session **out, wm_error *err);
void wm_session_free(wm_session *s);                          /* NULL is fine */
int wm_session_frames_per_step(const wm_session *s);          /* 8 * chunk_size = 24 */

/* Prompt of the NEXT reset (and of the current episode's later chunks; the spec repeats one prompt).
 * Text goes through the model's encoder and cache; without an encoder the text "" (or NULL) gives the
 * zero embedding with a warning and any other text is WM_ERR_UNSUPPORTED. A text of the form
 * "@FILE.safetensors" loads an embedding written by `wm encode-text` (tensors y (1,1,L,C), mask (1,L)). */
wm_status wm_session_set_prompt(wm_session *s, const char *prompt, wm_error *err);
/* y (L, caption_channels) fp32, mask (L) (NULL = all valid); L must equal the DiT caption length. */
wm_status wm_session_set_embedding(wm_session *s, const float *y, const uint8_t *mask, int L, wm_error *err);

/* New episode: start image rgb (h0, w0, 3) is resized to cover the frame and centre-cropped (spec §1.4)
 * into frame0 (height, width, 3); its VAE latent becomes the clean frame-0 latent; pose0 (c2w +
 * intrinsics in pixels of the frame) is raw frame 0 that every later pose is made relative to. */
wm_status wm_session_reset(wm_session *s, const uint8_t *rgb, int h0, int w0, const wm_pose *pose0, uint64_t seed,
                           uint8_t *frame0, wm_error *err);
/* One chunk: exactly wm_session_frames_per_step poses (raw frames 24c+1 .. 24c+24) -> as many RGB8 frames
 * (n, height, width, 3) in rgb. */
wm_status wm_session_step(wm_session *s, const wm_pose *poses, uint8_t *rgb, wm_error *err);

/* Generator state as a flat blob: DiT caches and counters, VAE decoder caches, RNG (seed, chunk), raw
 * frame-0 pose, first-frame latent, prompt embedding. Load requires a session of the same model
 * config and frame size (checked through a header). */
size_t wm_session_state_bytes(const wm_session *s);
wm_status wm_session_state_save(const wm_session *s, void *blob, size_t bytes, wm_error *err);
wm_status wm_session_state_load(wm_session *s, const void *blob, size_t bytes, wm_error *err);

/* Inspection (tests, benchmarks): the inputs and output of the last DiT chunk, all host fp32. */
typedef struct wm_session_chunk_info {
    int index, frame0, n_frames;   /* DiT chunk index, its first latent frame, frames */
    const float *noise;            /* (in_ch, n, h, w) initial noise of the chunk (frame 0 of chunk 0 = z0) */
    const float *latent;           /* (in_ch, n, h, w) clean latents */
    const float *z0;               /* (in_ch, 1, h, w) */
    const float *cam;              /* (n, 20) camera_conditions */
    const float *plucker;          /* (48, n, h, w) */
    const float *y;                /* (L, caption_channels) */
    const uint8_t *mask;           /* (L) */
    int L;
    size_t dit_arena_peak;         /* high-water mark of the DiT scratch arena */
    size_t resident_bytes;         /* every buffer the session owns (constant after create) */
} wm_session_chunk_info;
void wm_session_chunk(const wm_session *s, wm_session_chunk_info *out);

/* The initial noise of DiT chunk `chunk` (n frames of in_ch x h x w, channels first) for `seed`:
 * counter-based (key = seed, chunk; counter = element index), so any chunk is drawn in O(1) without
 * the ones before it. Exposed for tests and docs/pipeline.md. */
void wm_session_noise(uint64_t seed, int64_t chunk, int in_ch, int n, int hw, float *out);

#endif
