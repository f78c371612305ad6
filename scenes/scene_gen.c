/* scene_gen.c -- what the seed decides: style (sun, sky, palette, mountains, density) and the object of
 * every grid cell.
 *
 * A cell's object is a pure function of (seed, cell x, cell z) through a 32-bit hash, so the world is
 * unbounded, needs no storage and is identical however it is walked. Objects are built so their whole
 * footprint stays inside their cell (with a margin): the tracer can then stop at the first cell with a
 * hit. The spawn cell (0, 0) is always empty so the camera never starts inside an object.
 * Heights stay below WM_SCENE_HMAX so rays above it skip all objects.
 */
#include "scenes/scene_internal.h"

#include <string.h>

uint32_t wm__hash3(uint32_t a, uint32_t b, uint32_t c)
{
    /* Three rounds of a murmur3-style finalizer: cheap and well mixed in every bit. */
    uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^ (c + 0x165667B1u) * 0xC2B2AE3Du;
    h ^= h >> 16; h *= 0x85EBCA6Bu; h ^= h >> 13; h *= 0xC2B2AE35u; h ^= h >> 16;
    return h;
}

typedef struct { uint32_t s; } rng32;
static float rnd(rng32 *r)            /* uniform [0, 1) */
{
    r->s = wm__hash3(r->s, 0x2545F491u, 0x68E31DA4u);
    return (float)(r->s >> 8) * (1.0f / 16777216.0f);
}
static float rnd_in(rng32 *r, float a, float b) { return a + (b - a) * rnd(r); }

static float lattice(uint32_t seed, int32_t x, int32_t z)
{
    return (float)(wm__hash3(seed, (uint32_t)x, (uint32_t)z) >> 8) * (1.0f / 16777216.0f);
}

float wm__value_noise(uint32_t seed, float x, float z)
{
    float fx = floorf(x), fz = floorf(z);
    int32_t ix = (int32_t)fx, iz = (int32_t)fz;
    float ux = x - fx, uz = z - fz;
    ux = ux * ux * (3.0f - 2.0f * ux);
    uz = uz * uz * (3.0f - 2.0f * uz);
    float a = lattice(seed, ix, iz), b = lattice(seed, ix + 1, iz);
    float c = lattice(seed, ix, iz + 1), d = lattice(seed, ix + 1, iz + 1);
    return (a + (b - a) * ux) + ((c + (d - c) * ux) - (a + (b - a) * ux)) * uz;
}

int wm__scene_cell_of(float x)
{
    float c = floorf(x / WM_SCENE_CELL + 0.5f);
    /* Keep the float->int conversion defined for absurd (or NaN) coordinates; the world API rejects
     * poses farther than 1e6 m, this only protects direct callers. */
    return c > 1e8f ? 100000000 : c < -1e8f ? -100000000 : c == c ? (int)c : 0;
}

static void hsv(float h, float s, float v, float out[3])
{
    h = (h - floorf(h)) * 6.0f;
    int i = (int)h;
    float f = h - (float)i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    float tab[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    memcpy(out, tab[i % 6], sizeof tab[0]);
}

void wm__scene_style(uint64_t seed, wm_style *st)
{
    rng32 r = {wm__hash3((uint32_t)seed, (uint32_t)(seed >> 32), 0x5EED5EEDu)};
    memset(st, 0, sizeof *st);
    float az = rnd_in(&r, 0, 6.2831853f), el = rnd_in(&r, 0.45f, 1.05f); /* 26..60 deg sun */
    st->sun_dir = (wm_v3){cosf(el) * sinf(az), sinf(el), cosf(el) * cosf(az)};
    float warm = rnd(&r);
    float sun[3] = {1.0f, 0.93f - 0.1f * warm, 0.82f - 0.2f * warm};
    float zen_h = rnd_in(&r, 0.55f, 0.65f);
    hsv(zen_h, rnd_in(&r, 0.45f, 0.7f), rnd_in(&r, 0.75f, 0.9f), st->sky_zenith);
    hsv(zen_h - 0.02f, rnd_in(&r, 0.1f, 0.25f), 0.95f, st->sky_horizon);
    float gh = rnd(&r) < 0.6f ? rnd_in(&r, 0.22f, 0.33f) : rnd_in(&r, 0.07f, 0.14f); /* grass or sand */
    float gs = rnd_in(&r, 0.35f, 0.6f);
    hsv(gh, gs, rnd_in(&r, 0.5f, 0.62f), st->ground_a);
    hsv(gh + 0.02f, gs * 0.9f, rnd_in(&r, 0.36f, 0.44f), st->ground_b);
    hsv(zen_h + rnd_in(&r, -0.05f, 0.05f), 0.25f, 0.55f, st->mountain_col);
    float base_h = rnd(&r);
    for (int i = 0; i < 6; i++)
        hsv(base_h + 0.17f * (float)i + rnd_in(&r, -0.04f, 0.04f), rnd_in(&r, 0.3f, 0.75f),
            rnd_in(&r, 0.55f, 0.9f), st->palette[i]);
    hsv(rnd_in(&r, 0.2f, 0.38f), rnd_in(&r, 0.5f, 0.75f), rnd_in(&r, 0.35f, 0.55f), st->foliage);
    hsv(rnd_in(&r, 0.05f, 0.1f), 0.55f, rnd_in(&r, 0.3f, 0.4f), st->trunk);
    for (int i = 0; i < 3; i++) {
        st->sun_col[i] = sun[i];
        st->ambient[i] = 0.3f * st->sky_horizon[i] + 0.08f;
        st->mount_amp[i] = rnd_in(&r, 0.3f, 1.0f) * (0.035f / (float)(i + 1));
        st->mount_phase[i] = rnd_in(&r, 0, 6.2831853f);
    }
    st->mount_base = rnd_in(&r, 0.03f, 0.07f); /* ring stays below 0.14 rad (the sky test band is 0.25) */
    for (int k = 0; k <= WM_MOUNT_TAB; k++) {
        float az = ((float)k / WM_MOUNT_TAB - 0.5f) * 6.2831853f, h = st->mount_base;
        for (int i = 0; i < 3; i++) h += st->mount_amp[i] * sinf(az * (float)(3 + 5 * i) + st->mount_phase[i]);
        st->mount_tab[k] = h;
    }
    st->fog_density = rnd_in(&r, 0.014f, 0.022f);
    st->empty_p = rnd_in(&r, 0.25f, 0.55f);
    float acc = 0;
    for (int i = 0; i < 6; i++) st->type_w[i] = acc += rnd_in(&r, 0.3f, 1.0f);
    for (int i = 0; i < 6; i++) st->type_w[i] /= acc;
}

static wm_prim *add(wm_cell *c, int kind, int pattern, const float col[3])
{
    wm_prim *p = &c->p[c->n++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->pattern = pattern;
    p->cs = 1.0f;
    memcpy(p->col, col, sizeof p->col);
    return p;
}

static void box_at(wm_prim *p, float x, float z, float hx, float hz, float y0, float y1, float a)
{
    p->x = x; p->z = z; p->hx = hx; p->hz = hz; p->y0 = y0; p->y1 = y1;
    p->cs = cosf(a); p->sn = sinf(a);
}

/* Object kinds, in the order of style.type_w. Each gets the cell centre (X, Z) and the largest radius
 * its footprint may have around its own centre; the caller offsets the centre within that slack. */
static void gen_object(const wm_style *st, rng32 *r, int kind, float X, float Z, wm_cell *c)
{
    const float slack = 0.5f * WM_SCENE_CELL - 0.3f; /* 3.7 m: footprint radius + offset */
    float col[3];
    memcpy(col, st->palette[(int)(rnd(r) * 6) % 6], sizeof col);
    float a = rnd_in(r, 0, 3.14159265f);
    if (kind == 0 || kind == 1) {                                  /* box / stacked boxes */
        float hx = rnd_in(r, 0.6f, 2.1f), hz = rnd_in(r, 0.6f, 2.1f), rb = sqrtf(hx * hx + hz * hz);
        float ox = rnd_in(r, -1, 1) * (slack - rb), oz = rnd_in(r, -1, 1) * (slack - rb);
        float h = kind == 0 ? rnd_in(r, 1.0f, 6.0f) : rnd_in(r, 1.5f, 3.5f);
        box_at(add(c, WM_PRIM_BOX, WM_PAT_WINDOWS, col), X + ox, Z + oz, hx, hz, 0, h, a);
        if (kind == 1) {
            float s = rnd_in(r, 0.4f, 0.8f), h2 = rnd_in(r, 1.0f, 3.0f);
            float col2[3];
            memcpy(col2, st->palette[(int)(rnd(r) * 6) % 6], sizeof col2);
            box_at(add(c, WM_PRIM_BOX, WM_PAT_STRIPES, col2), X + ox, Z + oz, hx * s, hz * s, h, h + h2,
                   a + rnd_in(r, 0.3f, 1.2f));
        }
    } else if (kind == 2) {                                        /* pillar on a plinth */
        float rad = rnd_in(r, 0.3f, 0.7f), pl = rad + 0.4f, rb = pl * 1.415f;
        float x = X + rnd_in(r, -1, 1) * (slack - rb), z = Z + rnd_in(r, -1, 1) * (slack - rb);
        wm_prim *p = add(c, WM_PRIM_CYL, WM_PAT_BANDS, col);
        p->x = x; p->z = z; p->hx = rad; p->y0 = 0; p->y1 = rnd_in(r, 3.0f, 8.0f);
        float pc[3] = {col[0] * 0.6f + 0.3f, col[1] * 0.6f + 0.3f, col[2] * 0.6f + 0.3f};
        box_at(add(c, WM_PRIM_BOX, WM_PAT_PLAIN, pc), x, z, pl, pl, 0, 0.45f, a);
    } else if (kind == 3) {                                        /* arch: two legs and a lintel */
        float w = rnd_in(r, 1.0f, 2.1f), h = rnd_in(r, 2.5f, 4.5f), rb = sqrtf((w + 0.5f) * (w + 0.5f) + 0.2f);
        float x = X + rnd_in(r, -1, 1) * (slack - rb), z = Z + rnd_in(r, -1, 1) * (slack - rb);
        float cs = cosf(a), sn = sinf(a);
        box_at(add(c, WM_PRIM_BOX, WM_PAT_WINDOWS, col), x + w * cs, z + w * sn, 0.35f, 0.35f, 0, h, a);
        box_at(add(c, WM_PRIM_BOX, WM_PAT_WINDOWS, col), x - w * cs, z - w * sn, 0.35f, 0.35f, 0, h, a);
        float lc[3] = {col[0] * 0.75f, col[1] * 0.75f, col[2] * 0.75f};
        box_at(add(c, WM_PRIM_BOX, WM_PAT_STRIPES, lc), x, z, w + 0.5f, 0.42f, h, h + 0.6f, a);
    } else if (kind == 4) {                                        /* tree: trunk and canopy */
        float rad = rnd_in(r, 1.0f, 2.2f), th = rnd_in(r, 1.4f, 3.0f);
        float x = X + rnd_in(r, -1, 1) * (slack - rad), z = Z + rnd_in(r, -1, 1) * (slack - rad);
        float fol[3];
        for (int i = 0; i < 3; i++) fol[i] = st->foliage[i] * rnd_in(r, 0.85f, 1.15f);
        wm_prim *t = add(c, WM_PRIM_CYL, WM_PAT_PLAIN, st->trunk);
        t->x = x; t->z = z; t->hx = rnd_in(r, 0.15f, 0.3f); t->y0 = 0; t->y1 = th + rad * 0.5f;
        wm_prim *s = add(c, WM_PRIM_SPHERE, WM_PAT_FOLIAGE, fol);
        s->x = x; s->z = z; s->hx = rad; s->y0 = th + rad * 0.7f;
    } else {                                                       /* ball resting on the ground */
        float rad = rnd_in(r, 0.5f, 1.8f);
        wm_prim *s = add(c, WM_PRIM_SPHERE, WM_PAT_STRIPES, col);
        s->x = X + rnd_in(r, -1, 1) * (slack - rad);
        s->z = Z + rnd_in(r, -1, 1) * (slack - rad);
        s->hx = rad; s->y0 = rad;
    }
}

static void gen_cell(const wm_scene *s, int cx, int cz, wm_cell *c)
{
    c->n = 0;
    c->ymax = 0;
    const wm_style *st = &s->style;
    if (!s->params.no_objects && !(cx == 0 && cz == 0)) {
        uint64_t sd = s->params.seed;
        rng32 r = {wm__hash3((uint32_t)cx ^ (uint32_t)(sd >> 32), (uint32_t)cz, (uint32_t)sd)};
        if (rnd(&r) >= st->empty_p) {
            float u = rnd(&r);
            int kind = 0;
            while (kind < 5 && u >= st->type_w[kind]) kind++;
            gen_object(st, &r, kind, (float)cx * WM_SCENE_CELL, (float)cz * WM_SCENE_CELL, c);
        }
    }
    for (int i = 0; i < s->n_extra && c->n < WM_CELL_PRIMS; i++)
        if (s->extra_cx[i] == cx && s->extra_cz[i] == cz) c->p[c->n++] = s->extra[i];
    float x0 = INFINITY, x1 = -INFINITY, z0 = INFINITY, z1 = -INFINITY;
    for (int i = 0; i < c->n; i++) {
        const wm_prim *p = &c->p[i];
        float top = p->kind == WM_PRIM_SPHERE ? p->y0 + p->hx : p->y1;
        if (top > c->ymax) c->ymax = top;
        float r = p->kind == WM_PRIM_BOX ? sqrtf(p->hx * p->hx + p->hz * p->hz) : p->hx;
        x0 = fminf(x0, p->x - r); x1 = fmaxf(x1, p->x + r);
        z0 = fminf(z0, p->z - r); z1 = fmaxf(z1, p->z + r);
    }
    if (c->n) {
        c->bx = 0.5f * (x0 + x1);
        c->bz = 0.5f * (z0 + z1);
        c->br = 0.5f * sqrtf((x1 - x0) * (x1 - x0) + (z1 - z0) * (z1 - z0)) + 1e-3f;
    }
}

void wm__scene_build_window(wm_scene *s, float cam_x, float cam_z)
{
    s->win_x0 = wm__scene_cell_of(cam_x) - WM_WIN_HALF;
    s->win_z0 = wm__scene_cell_of(cam_z) - WM_WIN_HALF;
    for (int j = 0; j < WM_WIN; j++)
        for (int i = 0; i < WM_WIN; i++)
        {
            wm_cell *c = &s->win[j * WM_WIN + i];
            c->p = &s->win_prims[(size_t)(j * WM_WIN + i) * WM_CELL_PRIMS];
            gen_cell(s, s->win_x0 + i, s->win_z0 + j, c);
        }
}
