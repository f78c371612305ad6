/* source_model.c -- the SANA-WM world model as a frame source: an adapter from the source vtable to
 * wm/session (docs/pipeline.md).
 *
 * open = load the model for the world's frame size (DiT + causal VAE + text encoder when present) and
 * create one session; reset = read the start image (PNG/PPM), encode the prompt (text, or
 * "@file.safetensors" for an embedding from `wm encode-text`), preprocess the image into frame 0 and
 * encode its latent; render = one streaming chunk for exactly frames_per_chunk (24) poses; snapshot /
 * restore = copy of the session's state blob (DiT caches, VAE caches, RNG counter, pose of frame 0,
 * first-frame latent, prompt embedding), so branches reproduce frames bit for bit.
 */
#include "wm/session/session.h"
#include "wm/world/image.h"
#include "wm/world/source.h"

#include <stdlib.h>
#include <string.h>

typedef struct model_src {
    wm_model *model;
    wm_session *s;
} model_src;

typedef struct model_state {
    size_t n;
    unsigned char data[];
} model_state;

static void model_destroy(void *self)
{
    model_src *m = self;
    if (!m) return;
    wm_session_free(m->s);
    wm_model_free(m->model);
    free(m);
}

static wm_status model_open(const wm_world_params *p, wm_threadpool *pool, void **self, wm_error *err)
{
    (void)pool; /* the model's backend has its own workers */
    *self = NULL;
    if (!p->model_path)
        return wm__errf(err, WM_ERR_INVALID_ARG, "world source 'model' needs model_path (a SANA-WM checkpoint folder)");
    model_src *m = calloc(1, sizeof *m);
    if (!m) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "model source: out of memory");
    wm_model_params mp = {0};
    mp.path = p->model_path, mp.height = p->height, mp.width = p->width, mp.n_threads = p->n_threads;
    wm_status st = wm_model_load(&mp, &m->model, err);
    if (st == WM_OK) st = wm_session_create(m->model, &m->s, err);
    if (st == WM_OK && wm_session_frames_per_step(m->s) != p->frames_per_chunk)
        st = wm__errf(err, WM_ERR_INVALID_ARG, "world source 'model': frames_per_chunk must be %d (one DiT chunk), got %d",
                      wm_session_frames_per_step(m->s), p->frames_per_chunk);
    if (st != WM_OK) {
        model_destroy(m);
        return st;
    }
    *self = m;
    return WM_OK;
}

static wm_status model_reset(void *self, const wm__source_reset *r, const wm_pose *start, uint8_t *rgb, wm_error *err)
{
    model_src *m = self;
    if (!r->image_path)
        return wm__errf(err, WM_ERR_INVALID_ARG, "reset: the model source needs a start image (image_path)");
    int w0 = 0, h0 = 0;
    uint8_t *img = NULL;
    WM_TRY(wm_image_read(r->image_path, &w0, &h0, &img, err));
    wm_status st = wm_session_set_prompt(m->s, r->prompt, err);
    if (st == WM_OK) st = wm_session_reset(m->s, img, h0, w0, start, r->seed, rgb, err);
    free(img);
    return st;
}

static wm_status model_render(void *self, const wm_pose *poses, int n, uint8_t *rgb, wm_error *err)
{
    model_src *m = self;
    if (n != wm_session_frames_per_step(m->s))
        return wm__errf(err, WM_ERR_INVALID_ARG, "model source: %d poses, a chunk needs %d", n, wm_session_frames_per_step(m->s));
    return wm_session_step(m->s, poses, rgb, err);
}

static wm_status model_snapshot(void *self, void **state, wm_error *err)
{
    model_src *m = self;
    *state = NULL;
    size_t n = wm_session_state_bytes(m->s);
    if (!n) return wm__errf(err, WM_ERR_UNSUPPORTED, "model source: the VAE decoder keeps no stream state (not a causal streaming decoder), so there is nothing consistent to snapshot");
    model_state *s = malloc(sizeof *s + n);
    if (!s) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "model source: out of memory for a %zu-byte snapshot", n);
    s->n = n;
    wm_status st = wm_session_state_save(m->s, s->data, n, err);
    if (st != WM_OK) {
        free(s);
        return st;
    }
    *state = s;
    return WM_OK;
}

static wm_status model_restore(void *self, const void *state, wm_error *err)
{
    const model_state *s = state;
    if (!s) return wm__errf(err, WM_ERR_INVALID_ARG, "model source: empty snapshot");
    return wm_session_state_load(((model_src *)self)->s, s->data, s->n, err);
}

static void model_state_free(void *state) { free(state); }

const wm__source_vt wm__source_model = {
    "model", model_open, model_reset, model_render, model_snapshot, model_restore, model_state_free, model_destroy,
};
