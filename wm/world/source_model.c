/* source_model.c -- the SANA-WM world model as a frame source: not available in this build yet.
 *
 * The model pipeline (DiT + VAE + text encoder + streaming session) is being built in other folders;
 * until it exposes a session API this source refuses to open with a message that says exactly that,
 * so agents and the explorer fail clearly instead of silently rendering something else. When the
 * pipeline lands, this file becomes the adapter: open = load model + init session, reset = first
 * frame from the image/prompt initializer, render = one streaming chunk for the given poses,
 * snapshot/restore = copy of the session state.
 */
#include "wm/world/source.h"

static wm_status model_open(const wm_world_params *p, wm_threadpool *pool, void **self, wm_error *err)
{
    *self = NULL;
    return wm__errf(err, WM_ERR_UNSUPPORTED,
                    "world source 'model'%s%s%s is not available yet: this build has no SANA-WM generation "
                    "pipeline; use the procedural source (WM_SOURCE_PROCEDURAL, `--source procedural`)",
                    p->model_path ? " (" : "", p->model_path ? p->model_path : "", p->model_path ? ")" : "");
}

static wm_status model_unavailable(wm_error *err)
{
    return wm__errf(err, WM_ERR_UNSUPPORTED, "world source 'model' is not available yet");
}
static wm_status model_reset(void *self, const wm__source_reset *r, const wm_pose *start, uint8_t *rgb, wm_error *err)
{
    return model_unavailable(err);
}
static wm_status model_render(void *self, const wm_pose *poses, int n, uint8_t *rgb, wm_error *err)
{
    return model_unavailable(err);
}
static wm_status model_snapshot(void *self, void **state, wm_error *err) { return model_unavailable(err); }
static wm_status model_restore(void *self, const void *state, wm_error *err) { return model_unavailable(err); }
static void model_state_free(void *state) { (void)state; }
static void model_destroy(void *self) { (void)self; }

const wm__source_vt wm__source_model = {
    "model", model_open, model_reset, model_render, model_snapshot, model_restore, model_state_free, model_destroy,
};
