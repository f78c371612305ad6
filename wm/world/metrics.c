/* metrics.c -- PSNR and SSIM (see metrics.h for the exact definitions).
 *
 * SSIM filters the five moment planes (x, y, x^2, y^2, xy) with a separable Gaussian, horizontally
 * then vertically, keeping only the valid region, in double precision: sigma^2 = E[x^2] - mu^2 loses
 * digits in float for 8-bit data. Memory is five planes per channel, allocated per call (evaluation
 * is not a real-time path).
 */
#include "wm/world/metrics.h"

#include <math.h>
#include <stdlib.h>

#define WIN 11
#define HALF 5

double wm_psnr_rgb8(const uint8_t *a, const uint8_t *b, int width, int height)
{
    size_t n = (size_t)width * (size_t)height * 3;
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    if (se == 0) return INFINITY;
    return 10.0 * log10(255.0 * 255.0 / (se / (double)n));
}

static void gauss_weights(double g[WIN])
{
    double s = 0;
    for (int i = 0; i < WIN; i++) s += g[i] = exp(-0.5 * (i - HALF) * (i - HALF) / (1.5 * 1.5));
    for (int i = 0; i < WIN; i++) g[i] /= s;
}

/* SSIM of one channel (stride 3 in the interleaved images). */
static double ssim_channel(const uint8_t *a, const uint8_t *b, int w, int h, int ch, double *tmp, double *mom)
{
    double g[WIN];
    gauss_weights(g);
    int vw = w - 2 * HALF, vh = h - 2 * HALF;
    size_t pl = (size_t)vw * (size_t)h; /* horizontally filtered plane: vw x h */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < vw; x++) {
            double s[5] = {0, 0, 0, 0, 0};
            for (int k = 0; k < WIN; k++) {
                size_t i = ((size_t)y * (size_t)w + (size_t)(x + k)) * 3 + (size_t)ch;
                double p = a[i], q = b[i];
                s[0] += g[k] * p; s[1] += g[k] * q; s[2] += g[k] * p * p; s[3] += g[k] * q * q; s[4] += g[k] * p * q;
            }
            for (int m = 0; m < 5; m++) tmp[m * pl + (size_t)y * (size_t)vw + (size_t)x] = s[m];
        }
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    double total = 0;
    for (int y = 0; y < vh; y++)
        for (int x = 0; x < vw; x++) {
            for (int m = 0; m < 5; m++) {
                double s = 0;
                for (int k = 0; k < WIN; k++) s += g[k] * tmp[m * pl + (size_t)(y + k) * (size_t)vw + (size_t)x];
                mom[m] = s;
            }
            double mx = mom[0], my = mom[1];
            double vx = mom[2] - mx * mx, vy = mom[3] - my * my, cxy = mom[4] - mx * my;
            total += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        }
    return total / ((double)vw * (double)vh);
}

double wm_ssim_rgb8(const uint8_t *a, const uint8_t *b, int width, int height)
{
    if (width < WIN || height < WIN) return NAN;
    double *tmp = malloc(sizeof(double) * 5 * (size_t)(width - 2 * HALF) * (size_t)height);
    if (!tmp) return NAN;
    double mom[5], s = 0;
    for (int c = 0; c < 3; c++) s += ssim_channel(a, b, width, height, c, tmp, mom);
    free(tmp);
    return s / 3.0;
}
