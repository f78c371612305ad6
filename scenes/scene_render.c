/* scene_render.c -- camera rays, shading, sky and fog for the procedural world; threaded over rows.
 *
 * Shading is deliberately simple but gives strong depth cues: Lambert sun light with cast shadows
 * (one shadow ray through the same grid walk), a hemisphere ambient term, a 1 m checker on the ground
 * tinted by low-frequency noise, window/band/stripe patterns on objects, exponential fog towards the
 * horizon colour, and a mountain ring at infinity (rotation cue without translation parallax).
 * Periodic textures fade to their mean as the pixel footprint approaches their period, which keeps
 * distant ground free of moire without supersampling (one ray per pixel keeps 16 fps on 2 cores).
 * Colours are computed in display space and rounded to RGB8; every pixel depends only on the pose and
 * the seed, so frames are bit-identical however rows are split among threads.
 */
#include "scenes/scene_internal.h"

#include <stdlib.h>
#include <string.h>

static inline float clampf(float x, float a, float b) { return x < a ? a : x > b ? b : x; }
static inline float fract(float x) { return x - floorf(x); }
static inline float dot3(wm_v3 a, wm_v3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }

wm_status wm_scene_create(const wm_scene_params *p, wm_scene **out)
{
    *out = NULL;
    wm_scene *s = calloc(1, sizeof *s);
    if (!s) return WM_ERR_OUT_OF_MEMORY;
    if (p) s->params = *p;
    wm__scene_style(s->params.seed, &s->style);
    if (s->params.no_fog) s->style.fog_density = 0;
    *out = s;
    return WM_OK;
}

void wm_scene_free(wm_scene *s) { free(s); }

wm_status wm_scene_add_box(wm_scene *s, float x0, float x1, float z0, float z1, float height, const float rgb[3])
{
    if (s->n_extra >= WM_MAX_EXTRA || !(x1 > x0) || !(z1 > z0) || !(height > 0) || height > WM_SCENE_HMAX)
        return WM_ERR_INVALID_ARG;
    int cx = wm__scene_cell_of(x0), cz = wm__scene_cell_of(z0);
    /* The tracer relies on primitives staying inside one cell column. */
    if (wm__scene_cell_of(x1 - 1e-4f) != cx || wm__scene_cell_of(z1 - 1e-4f) != cz) return WM_ERR_INVALID_ARG;
    wm_prim *b = &s->extra[s->n_extra];
    memset(b, 0, sizeof *b);
    b->kind = WM_PRIM_BOX;
    b->pattern = WM_PAT_PLAIN;
    b->x = 0.5f * (x0 + x1); b->z = 0.5f * (z0 + z1);
    b->hx = 0.5f * (x1 - x0); b->hz = 0.5f * (z1 - z0);
    b->y0 = 0; b->y1 = height; b->cs = 1; b->sn = 0;
    memcpy(b->col, rgb, sizeof b->col);
    s->extra_cx[s->n_extra] = cx;
    s->extra_cz[s->n_extra] = cz;
    s->n_extra++;
    return WM_OK;
}

void wm_scene_intrinsics(int width, int height, float hfov_deg, wm_pose *pose)
{
    float f = 0.5f * (float)width / tanf(0.5f * hfov_deg * 3.14159265f / 180.0f);
    pose->fx = pose->fy = f;
    pose->cx = 0.5f * (float)width;
    pose->cy = 0.5f * (float)height;
}

static void sky(const wm_style *st, wm_v3 d, float c[3])
{
    float e = d.y;
    float k = sqrtf(clampf(e, 0, 1));
    for (int i = 0; i < 3; i++) c[i] = st->sky_horizon[i] + (st->sky_zenith[i] - st->sky_horizon[i]) * k;
    if (e > -0.05f && e < 0.25f) { /* mountain ring: height is a periodic function of the azimuth */
        float fa = (atan2f(d.x, d.z) * (1.0f / 6.2831853f) + 0.5f) * WM_MOUNT_TAB;
        fa = fa >= 0 ? (fa < WM_MOUNT_TAB - 1 ? fa : WM_MOUNT_TAB - 1) : 0; /* also maps NaN to 0 */
        int ia = (int)fa;
        float h = st->mount_tab[ia] + (st->mount_tab[ia + 1] - st->mount_tab[ia]) * (fa - (float)ia);
        if (e < h) {
            float m = clampf(0.35f + 0.65f * (h - e) / (h + 0.02f), 0, 1) * 0.7f;
            for (int i = 0; i < 3; i++) c[i] += (st->mountain_col[i] - c[i]) * m;
            return;
        }
    }
    float s = dot3(d, st->sun_dir);
    if (s > 0.6f) { /* 0.6^12 * 0.25 < 1/1000: the glow ends invisibly */
        float g = powf(s, 600.0f) * 3.0f + powf(s, 12.0f) * 0.25f;
        for (int i = 0; i < 3; i++) c[i] += st->sun_col[i] * g;
    }
}

/* Base colour of the ground at (x, z); fp = pixel footprint in metres. */
static void ground_albedo(const wm_scene *s, float x, float z, float fp, float c[3])
{
    const wm_style *st = &s->style;
    float chk = (float)(((int)floorf(x) + (int)floorf(z)) & 1);
    float contrast = clampf(1.3f - 1.3f * fp, 0, 1);
    float m = 0.5f + (chk - 0.5f) * contrast;
    float n = wm__value_noise((uint32_t)s->params.seed ^ 0xA5A5u, x * 0.18f, z * 0.18f);
    float tint = 0.8f + 0.4f * n;
    for (int i = 0; i < 3; i++) c[i] = (st->ground_b[i] + (st->ground_a[i] - st->ground_b[i]) * m) * tint;
}

static void object_albedo(const wm_scene *s, const wm_hit *h, float fp, float c[3])
{
    const wm_prim *p = h->prim;
    float k = 1.0f;
    switch (p->pattern) {
    case WM_PAT_WINDOWS: { /* 1 m panels with a darker inset: façades / masonry */
        float fu = fract(h->u), fv = fract(h->v);
        float in = (fu > 0.25f && fu < 0.75f && fv > 0.3f && fv < 0.8f) ? 0.62f : 1.0f;
        k = 1.0f + (in - 1.0f) * clampf(1.5f - 2.0f * fp, 0, 1) - 0.19f * clampf(2.0f * fp - 0.5f, 0, 1);
        break;
    }
    case WM_PAT_BANDS: k = fract(h->v * 1.5f) < 0.5f ? 1.0f : 0.8f; break;
    case WM_PAT_STRIPES: k = fract((h->u + h->v) * 0.8f) < 0.5f ? 1.0f : 0.75f; break;
    case WM_PAT_FOLIAGE: k = 0.75f + 0.5f * wm__value_noise(0x7EEu, h->u * 2.5f, h->v * 2.5f + h->n.z); break;
    default: break;
    }
    for (int i = 0; i < 3; i++) c[i] = p->col[i] * k;
}

/* Colour of one camera ray (o, d unit) in the internal frame. fpk = metres of footprint per metre
 * of distance (1 / focal length in pixels). */
static void shade(const wm_scene *s, wm_v3 o, wm_v3 d, float fpk, float c[3])
{
    const wm_style *st = &s->style;
    float far = WM_SCENE_FAR;
    float tg = INFINITY;
    if (fabsf(d.y) > 1e-9f && o.y * d.y < 0) tg = -o.y / d.y;
    float tmax = tg < far ? tg : far;
    wm_hit h;
    int obj = wm__scene_trace(s, o, d, tmax, &h);
    if (!obj && tg >= far) { sky(st, d, c); return; }
    float t = obj ? h.t : tg;
    wm_v3 n = obj ? h.n : (wm_v3){0, o.y > 0 ? 1.0f : -1.0f, 0};
    wm_v3 p = {o.x + t * d.x, o.y + t * d.y, o.z + t * d.z};
    float alb[3];
    if (obj) object_albedo(s, &h, t * fpk, alb);
    else ground_albedo(s, p.x, p.z, t * fpk / (fabsf(d.y) + 0.02f), alb);
    float lam = dot3(n, st->sun_dir);
    if (lam > 0) {
        wm_v3 q = {p.x + n.x * 2e-3f, p.y + n.y * 2e-3f, p.z + n.z * 2e-3f};
        if (wm__scene_occluded(s, q, st->sun_dir, 1e30f)) lam = 0;
    } else {
        lam = 0;
    }
    float amb = 0.75f + 0.25f * n.y;
    /* Exponential fog, faded fully out over the last 40 m so objects entering the cell window at
     * WM_SCENE_FAR never pop in. */
    float f = st->fog_density > 0 ? expf(-st->fog_density * t) * clampf((WM_SCENE_FAR - t) * 0.025f, 0, 1) : 1.0f;
    for (int i = 0; i < 3; i++) {
        float lit = alb[i] * (st->ambient[i] * amb + st->sun_col[i] * lam);
        c[i] = lit * f + st->sky_horizon[i] * (1.0f - f);
    }
}

typedef struct {
    wm_scene *s;
    const wm_pose *pose;
    int w, h;
    uint8_t *rgb;
} render_job;

static void render_rows(void *ctx, int64_t y0, int64_t y1)
{
    const render_job *j = ctx;
    const float *M = j->pose->c2w;
    /* Internal frame flips world Y: p_int = (x, EYE - y, z), d_int = (dx, -dy, dz). */
    wm_v3 o = {M[3], WM_SCENE_EYE - M[7], M[11]};
    float fx = j->pose->fx, fy = j->pose->fy, cx = j->pose->cx, cy = j->pose->cy;
    float fpk = 2.0f / (fx + fy);
    for (int64_t y = y0; y < y1; y++) {
        uint8_t *row = j->rgb + (size_t)y * (size_t)j->w * 3;
        float vy = ((float)y + 0.5f - cy) / fy;
        for (int x = 0; x < j->w; x++) {
            float vx = ((float)x + 0.5f - cx) / fx;
            wm_v3 d = {M[0] * vx + M[1] * vy + M[2], -(M[4] * vx + M[5] * vy + M[6]), M[8] * vx + M[9] * vy + M[10]};
            float len2 = dot3(d, d);
            if (!(len2 > 1e-20f && len2 < 1e30f)) d = (wm_v3){0, 0, 1}, len2 = 1; /* degenerate c2w */
            float inv = 1.0f / sqrtf(len2);
            d.x *= inv; d.y *= inv; d.z *= inv;
            float c[3];
            shade(j->s, o, d, fpk, c);
            for (int k = 0; k < 3; k++) row[3 * x + k] = (uint8_t)(clampf(c[k], 0, 1) * 255.0f + 0.5f);
        }
    }
}

void wm_scene_render(wm_scene *s, wm_threadpool *pool, const wm_pose *pose, int width, int height, uint8_t *rgb)
{
    wm__scene_build_window(s, pose->c2w[3], pose->c2w[11]);
    render_job j = {s, pose, width, height, rgb};
    wm_threadpool_run(pool, height, 4, render_rows, &j);
}
