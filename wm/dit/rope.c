/* RoPE tables (see rope.h). Built on the host per forward: they depend only on positions, and a
 * streaming chunk needs its own absolute frame offset. */
#include "wm/dit/rope.h"

#include <math.h>

static void axis_dims(int D, int *t, int *h)
{
    *h = 2 * (D / 6);
    *t = D - 2 * *h;
}

int wm_dit_rope_pairs(int head_dim, int cam)
{
    int t, h;
    axis_dims(head_dim, &t, &h);
    return cam ? (t / 2) / 2 + 2 * ((h / 2) / 2) : head_dim / 2;
}

void wm_dit_rope_tables(int head_dim, double theta, int frame0, int T, int grid_h, int grid_w, int cam,
                        float *cos_out, float *sin_out)
{
    int td, hd;
    axis_dims(head_dim, &td, &hd);
    int nt = td / 2, nh = hd / 2;
    if (cam) { nt /= 2; nh /= 2; }
    int P = nt + 2 * nh;
    long n = 0;
    for (int f = 0; f < T; f++)
        for (int r = 0; r < grid_h; r++)
            for (int c = 0; c < grid_w; c++, n++) {
                for (int i = 0; i < P; i++) {
                    double pos, d;
                    int j;
                    if (i < nt) { pos = frame0 + f; d = td; j = i; }
                    else if (i < nt + nh) { pos = r; d = hd; j = i - nt; }
                    else { pos = c; d = hd; j = i - nt - nh; }
                    double a = pos / pow(theta, (2.0 * j) / d);
                    cos_out[n * P + i] = (float)cos(a);
                    sin_out[n * P + i] = (float)sin(a);
                }
            }
}
