/* source.h -- the frame-source interface behind wm_world: the procedural world and the model are two
 * implementations of the same small vtable, so the world API, the server and the explorer never know
 * which one produces the pixels.
 *
 * A source turns camera poses into frames. The world owns everything else (camera controller, frame
 * counters, output buffers, snapshots of its own state); a source only keeps what it needs to
 * continue generating (the procedural world: its seed; the model: latent/KV/recurrent state) and must
 * be able to save and load that state as an opaque blob for branching.
 * Why a vtable (not a switch on wm_source): sources live in different libraries that may be absent
 * from a build (the model needs the DiT/VAE), and a new source (a replayed recording, another model)
 * should not touch the world code.
 */
#ifndef WM_WORLD_SOURCE_H
#define WM_WORLD_SOURCE_H

#include "wm/core/log.h"
#include "wm/core/threadpool.h"
#include "wm/wm.h"

typedef struct wm__source_reset {
    uint64_t seed;            /* resolved world seed */
    const char *image_path;   /* NULL if none */
    const char *prompt;       /* NULL if none */
} wm__source_reset;

typedef struct wm__source_vt {
    const char *name;         /* "procedural", "model" */
    /* Create the source for validated, resolved params (sizes, fps, chunk). pool may be NULL. */
    wm_status (*open)(const wm_world_params *p, wm_threadpool *pool, void **self, wm_error *err);
    /* New episode; writes frame 0 seen from *start into rgb (height*width*3). */
    wm_status (*reset)(void *self, const wm__source_reset *r, const wm_pose *start, uint8_t *rgb, wm_error *err);
    /* The next n frames at the given poses (n <= frames_per_chunk) into rgb (n*height*width*3). */
    wm_status (*render)(void *self, const wm_pose *poses, int n, uint8_t *rgb, wm_error *err);
    /* Save / load the generation state. The state blob is freed by state_free, which must work after
     * the source is destroyed (snapshots outlive worlds). */
    wm_status (*snapshot)(void *self, void **state, wm_error *err);
    wm_status (*restore)(void *self, const void *state, wm_error *err);
    void (*state_free)(void *state);
    void (*destroy)(void *self);
} wm__source_vt;

extern const wm__source_vt wm__source_procedural;
extern const wm__source_vt wm__source_model;

#endif
