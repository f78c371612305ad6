/* scene_internal.h -- data shared by the procedural world's generator, tracer and shader.
 *
 * Internally the scene uses a Y-up frame with the ground at y = 0: p = (x, WM_SCENE_EYE - y_cv, z).
 * Flipping one axis makes the frame left-handed, which does not matter to a ray caster (no cross
 * products of world axes are taken) and keeps heights positive, which the generator reads naturally.
 *
 * Per frame the renderer builds a window of WM_WIN x WM_WIN cells around the camera from the seed hash
 * (a few hundred hash evaluations) so the per-pixel loop only reads a flat array. The window is wider
 * than the fog's far distance, so cells outside it are invisible anyway.
 */
#ifndef WM_SCENES_SCENE_INTERNAL_H
#define WM_SCENES_SCENE_INTERNAL_H

#include "scenes/scene.h"

#include <math.h>
#include <stdint.h>

#define WM_WIN_HALF 16                       /* 16 cells * 8 m: covers WM_SCENE_FAR from anywhere in a cell */
#define WM_SCENE_FAR 120.0f                  /* no ray goes further; fog is >= 98 % there */
#define WM_WIN (2 * WM_WIN_HALF + 1)
#define WM_CELL_PRIMS 4                      /* largest object (arch) uses 3; one spare for test boxes */
#define WM_SCENE_HMAX 9.0f                   /* no primitive reaches above this height (generator bound) */
#define WM_MAX_EXTRA 8
#define WM_MOUNT_TAB 2048                    /* azimuth bins of the mountain ring: < 0.2 deg, smooth */

enum { WM_PRIM_BOX = 0, WM_PRIM_CYL, WM_PRIM_SPHERE };
enum { WM_PAT_PLAIN = 0, WM_PAT_WINDOWS, WM_PAT_BANDS, WM_PAT_FOLIAGE, WM_PAT_STRIPES };

typedef struct { float x, y, z; } wm_v3;

/* One analytic primitive, internal frame. Box: centre (x, z), half extents hx/hz in its local frame
 * rotated about +Y by (cs, sn), vertical range [y0, y1]. Cylinder: vertical, radius hx, [y0, y1].
 * Sphere: centre (x, y0, z), radius hx. */
typedef struct wm_prim {
    int kind, pattern;
    float x, z, y0, y1, hx, hz, cs, sn;
    float col[3];
} wm_prim;

/* Cell headers are kept small and apart from the primitives: a ray visits many cells and rejects
 * most of them from the header alone, so the headers of the whole window stay in L1/L2. */
typedef struct wm_cell {
    int n;
    float ymax;                /* highest point of any primitive (fast vertical reject) */
    float bx, bz, br;          /* XZ bounding circle of all primitives (fast horizontal reject) */
    wm_prim *p;                /* WM_CELL_PRIMS slots in wm_scene.win_prims */
} wm_cell;

/* Everything the seed decides besides the per-cell objects. */
typedef struct wm_style {
    wm_v3 sun_dir;             /* towards the sun, unit, internal frame */
    float sun_col[3], sky_zenith[3], sky_horizon[3], ambient[3];
    float ground_a[3], ground_b[3], mountain_col[3];
    float palette[6][3];
    float foliage[3], trunk[3];
    float fog_density;         /* 1/m */
    float mount_base, mount_amp[3], mount_phase[3];
    float mount_tab[WM_MOUNT_TAB + 1]; /* ring height per azimuth bin (sines evaluated once per seed) */
    float empty_p;             /* probability that a cell has no object */
    float type_w[6];           /* cumulative weights of object kinds */
} wm_style;

struct wm_scene {
    wm_scene_params params;
    wm_style style;
    wm_prim extra[WM_MAX_EXTRA];
    int extra_cx[WM_MAX_EXTRA], extra_cz[WM_MAX_EXTRA], n_extra;
    int win_x0, win_z0;         /* cell index of window[0][0] */
    wm_cell win[WM_WIN * WM_WIN];
    wm_prim win_prims[WM_WIN * WM_WIN * WM_CELL_PRIMS];
};

typedef struct wm_hit {
    float t;
    wm_v3 n;                    /* unit normal, facing the ray */
    const wm_prim *prim;        /* NULL: no object hit */
    float u, v;                 /* surface coordinates in metres (texture) */
} wm_hit;

/* scene_gen.c */
void wm__scene_style(uint64_t seed, wm_style *st);
void wm__scene_build_window(wm_scene *s, float cam_x, float cam_z);
int wm__scene_cell_of(float x);                         /* grid index of a coordinate */
uint32_t wm__hash3(uint32_t a, uint32_t b, uint32_t c); /* well-mixed 32-bit hash */
float wm__value_noise(uint32_t seed, float x, float z); /* smooth noise in [0, 1) */

/* scene_trace.c: nearest object hit along o + t d, t in (tmin, tmax); d unit. Returns 1 on a hit. */
int wm__scene_trace(const wm_scene *s, wm_v3 o, wm_v3 d, float tmax, wm_hit *h);
/* Any object between o and o + tmax d (shadow rays). */
int wm__scene_occluded(const wm_scene *s, wm_v3 o, wm_v3 d, float tmax);

#endif
