/* scene.h -- the procedural ground-truth world: a deterministic 3-D scene rendered on the CPU.
 *
 * A scene is a pure function of its seed: an unbounded textured ground plane, a hash grid of 8 m cells
 * each holding at most one object (box, stacked boxes, pillar, arch, tree, ball) built from a few
 * analytic primitives, a sky gradient with a sun and a ring of distant mountains (so yaw is visible on
 * the horizon), exponential fog, sun lighting with cast shadows. Nothing is stored per cell: the cells
 * around the camera are regenerated from the hash for each frame, so walking anywhere shows objects and
 * memory stays constant.
 *
 * Why ray casting (not rasterization): the primitives are analytic, each cell holds at most a handful,
 * and a 2-D DDA over the grid visits cells front to back, so the first hit in a cell is the visible
 * surface; shadows are the same traversal towards the sun. It is one small loop per pixel, trivially
 * threaded over rows, and identical at any resolution. Details and timings in docs/world.md.
 *
 * Coordinates: poses are OpenCV camera-to-world (+Y down). The ground is the plane y = +WM_SCENE_EYE
 * (1.6 m below the identity pose); objects rise towards -Y.
 */
#ifndef WM_SCENES_SCENE_H
#define WM_SCENES_SCENE_H

#include "wm/core/threadpool.h"
#include "wm/wm.h"

#include <stdint.h>

#define WM_SCENE_EYE 1.6f      /* spawn eye height above the ground, metres */
#define WM_SCENE_CELL 8.0f     /* object grid cell size, metres */

typedef struct wm_scene wm_scene;

typedef struct wm_scene_params {
    uint64_t seed;     /* world seed: palette, sun, mountains, object layout */
    int no_objects;    /* 1: ground, sky and explicit boxes only (renderer tests) */
    int no_fog;        /* 1: disable fog (renderer tests) */
} wm_scene_params;

wm_status wm_scene_create(const wm_scene_params *p, wm_scene **out);
void wm_scene_free(wm_scene *s);

/* Add an axis-aligned box standing on the ground (OpenCV world coordinates, x/z ranges, height in
 * metres above the ground) with a flat colour. It must fit inside one grid cell (cells are
 * [-4 + 8k, 4 + 8k) along x and z); WM_ERR_INVALID_ARG otherwise or when 8 boxes exist already. */
wm_status wm_scene_add_box(wm_scene *s, float x0, float x1, float z0, float z1, float height,
                           const float rgb[3]);

/* Render one frame from a pose (c2w + intrinsics) into rgb (height * width * 3, RGB8, top row first).
 * Threads over rows with pool (NULL = calling thread only). Not reentrant on one scene (it rebuilds its
 * cell window per frame); different scenes may render concurrently. */
void wm_scene_render(wm_scene *s, wm_threadpool *pool, const wm_pose *pose, int width, int height,
                     uint8_t *rgb);

/* Default intrinsics for a frame size and horizontal FOV (same rule as input/camera.h). */
void wm_scene_intrinsics(int width, int height, float hfov_deg, wm_pose *pose);

#endif
