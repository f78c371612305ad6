/* Camera preprocessing (see camera.h). Pose inverses are closed form (R^T, -R^T t), as upstream's
 * get_pose_inverse, which assumes orthonormal rotations; ray frames follow spec §4.3 step by step,
 * including the identity fallback when a ray direction is NaN. */
#include "wm/dit/camera.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void se3_inv(const double *m, double *o)
{
    memset(o, 0, 16 * sizeof(double));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) o[i * 4 + j] = m[j * 4 + i];
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += o[i * 4 + j] * m[j * 4 + 3];
        o[i * 4 + 3] = -s;
    }
    o[15] = 1;
}

static void norm3(double *v)
{
    double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (int i = 0; i < 3; i++) v[i] /= n;
}

static void cross3(const double *a, const double *b, double *o)
{
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

void wm_dit_relative_poses(const float *c2w, int n_raw, float *rel)
{
    double m0[16], inv[16];
    for (int i = 0; i < 16; i++) m0[i] = c2w[i];
    se3_inv(m0, inv);
    for (int f = 0; f < n_raw; f++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                double s = 0;
                for (int l = 0; l < 4; l++) s += inv[i * 4 + l] * (double)c2w[f * 16 + l * 4 + j];
                rel[f * 16 + i * 4 + j] = (float)(f == 0 ? (i == j) : s);
            }
}

void wm_dit_latent_intrinsics(const float *intr, int n_raw, int image_h, int image_w, int latent_h,
                              int latent_w, float *out)
{
    double sx = (double)latent_w / image_w, sy = (double)latent_h / image_h;
    for (int f = 0; f < n_raw; f++) {
        out[f * 4 + 0] = (float)(intr[f * 4 + 0] * sx);
        out[f * 4 + 1] = (float)(intr[f * 4 + 1] * sy);
        out[f * 4 + 2] = (float)(intr[f * 4 + 2] * sx);
        out[f * 4 + 3] = (float)(intr[f * 4 + 3] * sy);
    }
}

void wm_dit_camera_conditions(const float *rel, const float *lintr, int n_raw, int T, int stride, float *out)
{
    for (int i = 0; i < T; i++) {
        int r = stride * i < n_raw ? stride * i : n_raw - 1;
        memcpy(out + i * 20, rel + r * 16, 16 * sizeof(float));
        memcpy(out + i * 20 + 16, lintr + r * 4, 4 * sizeof(float));
    }
}

/* Unit ray direction in world of latent pixel (u, v) for pose R (3x3 inside a 4x4) and intrinsics. */
static void ray_dir(const double *R4, const double *K, int u, int v, double *d)
{
    double dc[3] = {(u - K[2]) / K[0], (v - K[3]) / K[1], 1.0};
    for (int i = 0; i < 3; i++) d[i] = R4[i * 4] * dc[0] + R4[i * 4 + 1] * dc[1] + R4[i * 4 + 2] * dc[2];
    norm3(d);
}

void wm_dit_chunk_plucker(const float *rel, const float *lintr, int n_raw, int T, int latent_h, int latent_w,
                          int stride, float *out)
{
    int64_t S = (int64_t)latent_h * latent_w;
    for (int i = 0; i < T; i++) {
        int s0 = stride * i - (stride - 1) > 0 ? stride * i - (stride - 1) : 0;
        for (int k = 0; k < stride; k++) {
            int r = s0 + k < n_raw ? s0 + k : n_raw - 1;
            double R4[16], K[4], o[3] = {rel[r * 16 + 3], rel[r * 16 + 7], rel[r * 16 + 11]};
            for (int j = 0; j < 16; j++) R4[j] = rel[r * 16 + j];
            for (int j = 0; j < 4; j++) K[j] = lintr[r * 4 + j];
            for (int v = 0; v < latent_h; v++)
                for (int u = 0; u < latent_w; u++) {
                    double d[3], m[3];
                    ray_dir(R4, K, u, v, d);
                    cross3(o, d, m);
                    for (int j = 0; j < 6; j++)
                        out[((int64_t)(6 * k + j) * T + i) * S + v * latent_w + u] = (float)(j < 3 ? d[j] : m[j - 3]);
                }
        }
    }
}

void wm_dit_ucpe_mats(const float *cam, int T, int latent_h, int latent_w, float *P, float *Pinv)
{
    int64_t S = (int64_t)latent_h * latent_w;
    for (int f = 0; f < T; f++) {
        double R4[16], K[4];
        for (int j = 0; j < 16; j++) R4[j] = cam[f * 20 + j];
        for (int j = 0; j < 4; j++) K[j] = cam[f * 20 + 16 + j];
        double down[3] = {R4[1], R4[5], R4[9]}, t[3] = {R4[3], R4[7], R4[11]};
        for (int v = 0; v < latent_h; v++)
            for (int u = 0; u < latent_w; u++) {
                double z[3], x[3], y[3], m[16], mi[16];
                ray_dir(R4, K, u, v, z);
                cross3(down, z, x);
                norm3(x);
                cross3(z, x, y);
                norm3(y);
                memset(m, 0, sizeof m);
                for (int j = 0; j < 3; j++) { m[j] = x[j]; m[4 + j] = y[j]; m[8 + j] = z[j]; }
                for (int i = 0; i < 3; i++) m[i * 4 + 3] = -(m[i * 4] * t[0] + m[i * 4 + 1] * t[1] + m[i * 4 + 2] * t[2]);
                m[15] = 1;
                if (isnan(z[0]) || isnan(z[1]) || isnan(z[2])) {
                    memset(m, 0, sizeof m);
                    m[0] = m[5] = m[10] = m[15] = 1;
                }
                se3_inv(m, mi);
                int64_t n = f * S + v * latent_w + u;
                for (int j = 0; j < 16; j++) { P[n * 16 + j] = (float)m[j]; Pinv[n * 16 + j] = (float)mi[j]; }
            }
    }
}

wm_status wm_dit_camera_from_raw(const float *c2w, const float *intr, int n_raw, int image_h, int image_w,
                                 int latent_h, int latent_w, int stride, int T, float *cam, float *plucker)
{
    if (n_raw < 1 || image_h < 1 || image_w < 1 || T < 1 || stride < 1) return WM_ERR_INVALID_ARG;
    float *rel = malloc((size_t)n_raw * 16 * sizeof(float)), *li = malloc((size_t)n_raw * 4 * sizeof(float));
    if (!rel || !li) { free(rel); free(li); return WM_ERR_OUT_OF_MEMORY; }
    wm_dit_relative_poses(c2w, n_raw, rel);
    wm_dit_latent_intrinsics(intr, n_raw, image_h, image_w, latent_h, latent_w, li);
    if (cam) wm_dit_camera_conditions(rel, li, n_raw, T, stride, cam);
    if (plucker) wm_dit_chunk_plucker(rel, li, n_raw, T, latent_h, latent_w, stride, plucker);
    free(rel);
    free(li);
    return WM_OK;
}
