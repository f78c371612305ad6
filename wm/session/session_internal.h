/* session_internal.h -- the structs behind wm_model / wm_session, shared by the files of wm/session
 * (model loading, the per-chunk pipeline, camera windows, prompt handling, state blobs). */
#ifndef WM_SESSION_INTERNAL_H
#define WM_SESSION_INTERNAL_H

#include "wm/core/arena.h"
#include "wm/core/backend.h"
#include "wm/dit/sampler.h"
#include "wm/session/session.h"
#include "wm/text/text_encoder.h"
#include "wm/vae/vae.h"

#define WM_SESSION_PATH 4096

struct wm_model {
    wm_backend *be;             /* DiT + VAE (CPU or CUDA) */
    wm_backend *cpu;            /* the CPU backend, always created (== be when be is the CPU) */
    wm_dit_config cfg;          /* latent grid set for the frame size */
    wm_dit_weights *dit;
    wm_vae *vae;
    wm_text_encoder *text;      /* NULL: prompts only as embeddings */
    wm_prompt_cache *prompts;
    int height, width, ratio;   /* frame size, VAE spatial ratio */
};

struct wm_session {
    wm_model *m;
    const wm_dit_config *cfg;
    int H, W, h, w, S, Ci, cs, n0, stride, fps; /* pixels, latent grid, S = h*w, chunk sizes, frames/step */
    int L, Cy;                  /* caption tokens and channels */
    wm_dit_stream *stream;
    wm_arena arena;             /* DiT scratch, planned once */
    wm_vae_decoder *dec;
    /* buffers, all sized at create */
    float *noise, *x, *z0;      /* (Ci, n0, S), (Ci, n0, S), (Ci, S) */
    float *c2w, *intr, *rel, *lintr; /* camera window of 1 + fps raw frames */
    float *cam_w, *plk_w;       /* window tensors (n0, 20), (48, n0, S) */
    float *cam, *plk;           /* chunk tensors */
    float *pix;                 /* decoder output (3, 1 + stride*n0, H, W) */
    float *img;                 /* (3, 1, H, W) encoder input */
    float *y;                   /* (L, Cy) prompt embedding */
    void *d_z, *d_pix, *d_lat;  /* on the model backend's device: decoder input/output, encoder output
                                   (plain host memory on the CPU backend) */
    uint8_t *mask;              /* (L) */
    size_t resident;            /* bytes of everything above + caches */
    /* generator state (also in the state blob) */
    int has_y, has_reset;
    uint64_t seed;
    int64_t chunk;              /* next DiT chunk */
    wm_pose pose0;
    /* last chunk (inspection) */
    int last_index, last_frame0, last_n;
};

/* camera_window.c: cam/plk of the chunk about to run from raw frame 0 + the chunk's poses. */
void wm__session_camera(wm_session *s, const wm_pose *poses);
/* prompt.c */
wm_status wm__session_default_prompt(wm_session *s, wm_error *err);

#endif
