/* First-frame preprocessing (spec §1.4): PIL-exact LANCZOS resize-to-cover, centre crop, intrinsics.
 *
 * Pillow's 8-bit resampler, rebuilt from its documented behaviour: for each output coordinate the
 * source window is centred at (x + 0.5) * scale, the Lanczos-3 kernel sinc(x)sinc(x/3) is stretched by
 * max(scale, 1) (antialiasing when shrinking), weights are normalised to sum 1, then quantised to
 * 22-bit fixed point with round-half-away-from-zero; each output is (sum + 2^21) >> 22 clamped to
 * [0, 255]. The horizontal pass runs first (only over the source rows the vertical pass needs) into
 * an 8-bit temporary, then the vertical pass; a pass whose size does not change is skipped.
 * Coefficients are computed in double with libm sin, as Pillow does.
 */
#include "wm/vae/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREC_BITS 22   /* Pillow: 32 - 8 - 2, so 8-bit sums fit in int32 */

wm_cover_crop wm_cover_crop_geometry(int h0, int w0, int th, int tw)
{
    double s = fmax((double)th / h0, (double)tw / w0);
    wm_cover_crop g;
    /* Python round() is half-to-even; nearbyint() in the default rounding mode matches it. */
    g.rw = (int)nearbyint(w0 * s), g.rh = (int)nearbyint(h0 * s);
    if (g.rw < tw) g.rw = tw;
    if (g.rh < th) g.rh = th;
    g.top = (g.rh - th) / 2, g.left = (g.rw - tw) / 2;
    return g;
}

void wm_cover_crop_intrinsics(int h0, int w0, int th, int tw, const double k[4], double out[4])
{
    wm_cover_crop g = wm_cover_crop_geometry(h0, w0, th, tw);
    double sx = (double)g.rw / w0, sy = (double)g.rh / h0;
    out[0] = k[0] * sx, out[1] = k[1] * sy;
    out[2] = k[2] * sx - g.left, out[3] = k[3] * sy - g.top;
}

static double sinc(double x)
{
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos3(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

/* Per output index: first source index, tap count, and ksize fixed-point weights. */
typedef struct {
    int ksize;
    int *bounds;     /* (out, 2): xmin, count */
    int32_t *k;      /* (out, ksize) */
} coeffs;

static int make_coeffs(int in_size, int out_size, coeffs *c)
{
    double scale = (double)in_size / out_size, fs = scale < 1.0 ? 1.0 : scale, support = 3.0 * fs;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    c->k = calloc((size_t)out_size * c->ksize, sizeof(int32_t));
    double *w = malloc(sizeof(double) * (size_t)c->ksize);
    if (!c->bounds || !c->k || !w) {
        free(w);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) ww += (w[x] = lanczos3((x + xmin - center + 0.5) / fs));
        for (int x = 0; x < xmax; x++) {
            double v = (ww != 0.0 ? w[x] / ww : w[x]) * (1 << PREC_BITS);
            c->k[(size_t)xx * c->ksize + x] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
        }
        c->bounds[2 * xx] = xmin, c->bounds[2 * xx + 1] = xmax;
    }
    free(w);
    return 0;
}

static void free_coeffs(coeffs *c)
{
    free(c->bounds);
    free(c->k);
}

static inline uint8_t clip8(int64_t v)
{
    if (v >= ((int64_t)1 << PREC_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PREC_BITS);
}

/* Horizontal pass over source rows [y0, y0 + rows): src (.., w0, ch) -> dst (rows, w1, ch). */
static void pass_h(const uint8_t *src, int w0, int ch, int y0, int rows, const coeffs *c, uint8_t *dst, int w1)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *r = src + (size_t)(y0 + y) * w0 * ch;
        for (int xx = 0; xx < w1; xx++) {
            const int32_t *k = c->k + (size_t)xx * c->ksize;
            int xmin = c->bounds[2 * xx], n = c->bounds[2 * xx + 1];
            for (int cc = 0; cc < ch; cc++) {
                int64_t s = 1 << (PREC_BITS - 1);
                for (int x = 0; x < n; x++) s += (int64_t)r[(size_t)(xmin + x) * ch + cc] * k[x];
                dst[((size_t)y * w1 + xx) * ch + cc] = clip8(s);
            }
        }
    }
}

/* Vertical pass: src (rows, w, ch) with bounds relative to its first row -> dst (h1, w, ch). */
static void pass_v(const uint8_t *src, int w, int ch, const coeffs *c, int y_shift, uint8_t *dst, int h1)
{
    for (int yy = 0; yy < h1; yy++) {
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        int ymin = c->bounds[2 * yy] - y_shift, n = c->bounds[2 * yy + 1];
        for (size_t i = 0; i < (size_t)w * ch; i++) {
            int64_t s = 1 << (PREC_BITS - 1);
            for (int y = 0; y < n; y++) s += (int64_t)src[(size_t)(ymin + y) * w * ch + i] * k[y];
            dst[(size_t)yy * w * ch + i] = clip8(s);
        }
    }
}

wm_status wm_resize_lanczos_u8(const uint8_t *src, int h0, int w0, int ch, uint8_t *dst, int h1, int w1,
                               wm_error *err)
{
    if (h0 < 1 || w0 < 1 || h1 < 1 || w1 < 1 || ch < 1 || ch > 4)
        return wm__errf(err, WM_ERR_INVALID_ARG, "resize: bad sizes %dx%dx%d -> %dx%d", h0, w0, ch, h1, w1);
    coeffs ch_h = {0}, cv = {0};
    int need_h = w1 != w0, need_v = h1 != h0;
    if (make_coeffs(w0, w1, &ch_h) || make_coeffs(h0, h1, &cv)) {
        free_coeffs(&ch_h), free_coeffs(&cv);
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "resize: no memory");
    }
    /* Source rows the vertical pass reads: [first, last). */
    int first = need_v ? cv.bounds[0] : 0;
    int last = need_v ? cv.bounds[2 * (h1 - 1)] + cv.bounds[2 * (h1 - 1) + 1] : h0;
    const uint8_t *mid = src;
    uint8_t *tmp = NULL;
    int shift = 0;
    if (need_h) {
        tmp = malloc((size_t)(last - first) * w1 * ch);
        if (!tmp) {
            free_coeffs(&ch_h), free_coeffs(&cv);
            return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "resize: no memory");
        }
        pass_h(src, w0, ch, first, last - first, &ch_h, need_v ? tmp : dst, w1);
        mid = tmp, shift = first;
    }
    if (need_v) pass_v(mid, w1, ch, &cv, shift, dst, h1);
    else if (!need_h) memcpy(dst, src, (size_t)h0 * w0 * ch);
    else if (tmp) memcpy(dst, tmp, (size_t)h1 * w1 * ch);
    free(tmp);
    free_coeffs(&ch_h), free_coeffs(&cv);
    return WM_OK;
}

wm_status wm_image_cover_crop(const uint8_t *src, int h0, int w0, uint8_t *dst, int th, int tw, wm_error *err)
{
    if (h0 < 1 || w0 < 1 || th < 1 || tw < 1) return wm__errf(err, WM_ERR_INVALID_ARG, "cover crop: bad sizes");
    wm_cover_crop g = wm_cover_crop_geometry(h0, w0, th, tw);
    uint8_t *res = malloc((size_t)g.rh * g.rw * 3);
    if (!res) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "cover crop: no memory for %dx%d", g.rh, g.rw);
    wm_status st = wm_resize_lanczos_u8(src, h0, w0, 3, res, g.rh, g.rw, err);
    for (int y = 0; st == WM_OK && y < th; y++)
        memcpy(dst + (size_t)y * tw * 3, res + ((size_t)(y + g.top) * g.rw + g.left) * 3, (size_t)tw * 3);
    free(res);
    return st;
}

void wm_image_to_unit(const uint8_t *src, int h, int w, float *dst)
{
    size_t P = (size_t)h * w;
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < 3; c++) dst[c * P + p] = (float)src[p * 3 + c] / 255.0f * 2.0f - 1.0f;
}
