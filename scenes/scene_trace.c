/* scene_trace.c -- ray queries against the cell window: nearest hit (camera rays) and any hit (shadows).
 *
 * A 2-D DDA walks the XZ grid front to back (Amanatides & Woo). Because every primitive lies inside its
 * own cell column, the nearest hit inside the first cell that has one is the visible surface, so the
 * walk stops there. A cell is skipped without testing its primitives when the ray stays above the
 * cell's highest point over the cell's span of t (the ray height is linear in t, so its minimum over the
 * span is at one end), or when the ray's XZ line misses the cell's bounding circle. Rays stop at tmax (ground hit, fog distance, or leaving the object layer).
 */
#include "scenes/scene_internal.h"

#define T_EPS 1e-4f

static inline float minf(float a, float b) { return a < b ? a : b; }
static inline float maxf(float a, float b) { return a > b ? a : b; }

/* Box rotated about Y: slab test in the box frame. */
static int hit_box(const wm_prim *p, wm_v3 o, wm_v3 d, float tmax, wm_hit *h)
{
    float ox = o.x - p->x, oz = o.z - p->z;
    float lox = ox * p->cs + oz * p->sn, loz = -ox * p->sn + oz * p->cs;
    float ldx = d.x * p->cs + d.z * p->sn, ldz = -d.x * p->sn + d.z * p->cs;
    float lo[3] = {lox, o.y - 0.5f * (p->y0 + p->y1), loz}, ld[3] = {ldx, d.y, ldz};
    float half[3] = {p->hx, 0.5f * (p->y1 - p->y0), p->hz};
    float tn = -INFINITY, tf = INFINITY;
    int axis = 0;
    for (int k = 0; k < 3; k++) {
        if (fabsf(ld[k]) < 1e-12f) {
            if (fabsf(lo[k]) > half[k]) return 0;
            continue;
        }
        float inv = 1.0f / ld[k];
        float t0 = (-half[k] - lo[k]) * inv, t1 = (half[k] - lo[k]) * inv;
        if (t0 > t1) { float tt = t0; t0 = t1; t1 = tt; }
        if (t0 > tn) { tn = t0; axis = k; }
        tf = minf(tf, t1);
    }
    if (tn > tf || tf <= T_EPS || tn >= tmax) return 0;
    if (!h) return tn > T_EPS || tf < tmax; /* occlusion: any part of the box inside (0, tmax) */
    if (tn <= T_EPS) return 0;               /* camera inside the box: show what is outside */
    float sg = ld[axis] > 0 ? -1.0f : 1.0f;   /* normal faces the ray */
    float lp[3] = {lo[0] + tn * ld[0], lo[1] + tn * ld[1] + half[1] + p->y0, lo[2] + tn * ld[2]};
    h->t = tn;
    h->prim = p;
    if (axis == 1) {
        h->n = (wm_v3){0, sg, 0};
        h->u = lp[0]; h->v = lp[2];
    } else if (axis == 0) {
        h->n = (wm_v3){sg * p->cs, 0, sg * p->sn};
        h->u = lp[2]; h->v = lp[1];
    } else {
        h->n = (wm_v3){-sg * p->sn, 0, sg * p->cs};
        h->u = lp[0]; h->v = lp[1];
    }
    return 1;
}

/* Vertical cylinder with caps. */
static int hit_cyl(const wm_prim *p, wm_v3 o, wm_v3 d, float tmax, wm_hit *h)
{
    float ox = o.x - p->x, oz = o.z - p->z, r = p->hx;
    float a = d.x * d.x + d.z * d.z, b = ox * d.x + oz * d.z, c = ox * ox + oz * oz - r * r;
    float best = tmax;
    int side = -1; /* 0 wall, 1 top cap, 2 bottom cap */
    if (a > 1e-12f) {
        float disc = b * b - a * c;
        if (disc >= 0) {
            float t = (-b - sqrtf(disc)) / a;
            float y = o.y + t * d.y;
            if (t > T_EPS && t < best && y >= p->y0 && y <= p->y1) { best = t; side = 0; }
        }
    }
    if (fabsf(d.y) > 1e-12f) {
        for (int k = 0; k < 2; k++) {
            float yc = k == 0 ? p->y1 : p->y0;
            float t = (yc - o.y) / d.y;
            float x = ox + t * d.x, z = oz + t * d.z;
            if (t > T_EPS && t < best && x * x + z * z <= r * r) { best = t; side = 1 + k; }
        }
    }
    if (side < 0) return 0;
    if (!h) return 1;
    float x = ox + best * d.x, z = oz + best * d.z;
    h->t = best;
    h->prim = p;
    if (side == 0) {
        h->n = (wm_v3){x / r, 0, z / r};
        h->u = atan2f(z, x) * r;
        h->v = o.y + best * d.y;
    } else {
        h->n = (wm_v3){0, side == 1 ? 1.0f : -1.0f, 0};
        h->u = x; h->v = z;
    }
    return 1;
}

static int hit_sphere(const wm_prim *p, wm_v3 o, wm_v3 d, float tmax, wm_hit *h)
{
    float ox = o.x - p->x, oy = o.y - p->y0, oz = o.z - p->z, r = p->hx;
    float b = ox * d.x + oy * d.y + oz * d.z, c = ox * ox + oy * oy + oz * oz - r * r;
    float disc = b * b - c;
    if (disc < 0) return 0;
    float t = -b - sqrtf(disc);
    if (t <= T_EPS || t >= tmax) return 0;
    if (!h) return 1;
    float inv = 1.0f / r;
    h->t = t;
    h->prim = p;
    h->n = (wm_v3){(ox + t * d.x) * inv, (oy + t * d.y) * inv, (oz + t * d.z) * inv};
    h->u = p->x + ox + t * d.x; /* world-anchored coordinates for noise patterns */
    h->v = p->y0 + oy + t * d.y;
    return 1;
}

static int hit_prim(const wm_prim *p, wm_v3 o, wm_v3 d, float tmax, wm_hit *h)
{
    switch (p->kind) {
    case WM_PRIM_BOX: return hit_box(p, o, d, tmax, h);
    case WM_PRIM_CYL: return hit_cyl(p, o, d, tmax, h);
    default: return hit_sphere(p, o, d, tmax, h);
    }
}

/* Walk the grid; any != 0: return at the first occluder. */
static int walk(const wm_scene *s, wm_v3 o, wm_v3 d, float tmax, wm_hit *best, int any)
{
    if (d.y > 0) {
        if (o.y >= WM_SCENE_HMAX) return 0;
        tmax = minf(tmax, (WM_SCENE_HMAX - o.y) / d.y);
    }
    const float S = WM_SCENE_CELL;
    float gx = o.x / S + 0.5f, gz = o.z / S + 0.5f; /* grid coordinates: cell i spans [i, i+1) */
    if (!(fabsf(gx) < 1e8f && fabsf(gz) < 1e8f && d.x == d.x && d.z == d.z)) return 0; /* defined int conversion */
    int ix = (int)floorf(gx), iz = (int)floorf(gz);
    int sx = d.x > 0 ? 1 : -1, sz = d.z > 0 ? 1 : -1;
    float dtx = fabsf(d.x) > 1e-12f ? S / fabsf(d.x) : INFINITY;
    float dtz = fabsf(d.z) > 1e-12f ? S / fabsf(d.z) : INFINITY;
    float tx = fabsf(d.x) > 1e-12f ? ((float)(ix + (sx > 0)) - gx) * S / d.x : INFINITY;
    float tz = fabsf(d.z) > 1e-12f ? ((float)(iz + (sz > 0)) - gz) * S / d.z : INFINITY;
    float t0 = 0, dxz2 = d.x * d.x + d.z * d.z;
    while (t0 < tmax) {
        int wi = ix - s->win_x0, wj = iz - s->win_z0;
        if (wi < 0 || wj < 0 || wi >= WM_WIN || wj >= WM_WIN) return 0;
        float t1 = minf(minf(tx, tz), tmax);
        const wm_cell *c = &s->win[wj * WM_WIN + wi];
        float px = c->bx - o.x, pz = c->bz - o.z, cr = px * d.z - pz * d.x;
        if (c->n && minf(o.y + t0 * d.y, o.y + t1 * d.y) <= c->ymax && cr * cr <= c->br * c->br * dxz2) {
            int found = 0;
            float lim = any ? tmax : t1 + 1e-3f;
            for (int k = 0; k < c->n; k++) {
                if (hit_prim(&c->p[k], o, d, lim, any ? NULL : best)) {
                    if (any) return 1;
                    lim = best->t;
                    found = 1;
                }
            }
            if (found) return 1;
        }
        if (tx < tz) { ix += sx; t0 = tx; tx += dtx; }
        else { iz += sz; t0 = tz; tz += dtz; }
    }
    return 0;
}

int wm__scene_trace(const wm_scene *s, wm_v3 o, wm_v3 d, float tmax, wm_hit *h)
{
    h->prim = NULL;
    h->t = tmax;
    return walk(s, o, d, tmax, h, 0);
}

int wm__scene_occluded(const wm_scene *s, wm_v3 o, wm_v3 d, float tmax)
{
    return walk(s, o, d, tmax, NULL, 1);
}
