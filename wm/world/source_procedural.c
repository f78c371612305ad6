/* source_procedural.c -- the procedural world (scenes/) as a frame source.
 *
 * The scene is a pure function of the seed, so the generation state is just the seed: reset rebuilds
 * the scene for the new seed and a snapshot stores the seed. Rendering is stateless per frame, which
 * makes restore-and-replay bit-exact trivially. Frames are rendered one after another, each threaded
 * over rows with the world's pool.
 */
#include "scenes/scene.h"
#include "wm/world/source.h"

#include <stdlib.h>

typedef struct proc_source {
    wm_scene *scene;
    uint64_t seed;
    int width, height;
    wm_threadpool *pool;
} proc_source;

static wm_status proc_open(const wm_world_params *p, wm_threadpool *pool, void **self, wm_error *err)
{
    proc_source *s = calloc(1, sizeof *s);
    if (!s) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "procedural world: out of memory");
    s->width = p->width;
    s->height = p->height;
    s->pool = pool;
    s->seed = p->seed;
    wm_scene_params sp = {0};
    sp.seed = p->seed;
    if (wm_scene_create(&sp, &s->scene) != WM_OK) {
        free(s);
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "procedural world: out of memory");
    }
    *self = s;
    return WM_OK;
}

static wm_status set_seed(proc_source *s, uint64_t seed, wm_error *err)
{
    if (seed == s->seed) return WM_OK;
    wm_scene_params sp = {0};
    sp.seed = seed;
    wm_scene *ns = NULL;
    if (wm_scene_create(&sp, &ns) != WM_OK) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "procedural world: out of memory");
    wm_scene_free(s->scene);
    s->scene = ns;
    s->seed = seed;
    return WM_OK;
}

static wm_status proc_reset(void *self, const wm__source_reset *r, const wm_pose *start, uint8_t *rgb, wm_error *err)
{
    proc_source *s = self;
    if (r->image_path)
        return wm__errf(err, WM_ERR_UNSUPPORTED,
                        "reset: image_path '%s' given, but the procedural world starts from a seed, not an image",
                        r->image_path);
    WM_TRY(set_seed(s, r->seed, err));
    wm_scene_render(s->scene, s->pool, start, s->width, s->height, rgb);
    return WM_OK;
}

static wm_status proc_render(void *self, const wm_pose *poses, int n, uint8_t *rgb, wm_error *err)
{
    proc_source *s = self;
    size_t frame = (size_t)s->width * (size_t)s->height * 3;
    for (int i = 0; i < n; i++) wm_scene_render(s->scene, s->pool, &poses[i], s->width, s->height, rgb + frame * (size_t)i);
    return WM_OK;
}

static wm_status proc_snapshot(void *self, void **state, wm_error *err)
{
    uint64_t *st = malloc(sizeof *st);
    if (!st) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "snapshot: out of memory");
    *st = ((proc_source *)self)->seed;
    *state = st;
    return WM_OK;
}

static wm_status proc_restore(void *self, const void *state, wm_error *err)
{
    return set_seed(self, *(const uint64_t *)state, err);
}

static void proc_state_free(void *state) { free(state); }

static void proc_destroy(void *self)
{
    proc_source *s = self;
    if (!s) return;
    wm_scene_free(s->scene);
    free(s);
}

const wm__source_vt wm__source_procedural = {
    "procedural", proc_open, proc_reset, proc_render, proc_snapshot, proc_restore, proc_state_free, proc_destroy,
};
