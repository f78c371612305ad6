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

/* Pair i of the table at (frame pos ft, row r, column c): one cos/sin in double, stored fp32. */
static void entry(int i, int nt, int nh, int td, int hd, double theta, int ft, int r, int c, float *co, float *si)
{
    double pos, d;
    int j;
    if (i < nt) { pos = ft; d = td; j = i; }
    else if (i < nt + nh) { pos = r; d = hd; j = i - nt; }
    else { pos = c; d = hd; j = i - nt - nh; }
    double a = pos / pow(theta, (2.0 * j) / d);
    *co = (float)cos(a);
    *si = (float)sin(a);
}

/* Every pair depends on one axis only, so each distinct value is computed once (at the first token that
 * needs it) and copied to the other tokens: T*nt + H*nh + W*P trigonometric calls instead of N*P, with
 * bit-identical values (the same expression per element). No allocation. */
void wm_dit_rope_tables(int head_dim, double theta, int frame0, int T, int grid_h, int grid_w, int cam,
                        float *cos_out, float *sin_out)
{
    int td, hd;
    axis_dims(head_dim, &td, &hd);
    int nt = td / 2, nh = hd / 2;
    if (cam) { nt /= 2; nh /= 2; }
    int P = nt + 2 * nh;
    long S = (long)grid_h * grid_w;
    for (int f = 0; f < T; f++)
        for (int r = 0; r < grid_h; r++)
            for (int c = 0; c < grid_w; c++) {
                long n = f * S + (long)r * grid_w + c;
                float *co = cos_out + n * P, *si = sin_out + n * P;
                long nf = f * S * P, nr = (long)r * grid_w * P, nc = (long)c * P; /* reference token rows */
                for (int i = 0; i < P; i++) {
                    long src = -1; /* flat index of an already computed equal entry */
                    if (i < nt) src = (r || c) ? nf + i : -1;
                    else if (i < nt + nh) src = (f || c) ? nr + i : -1;
                    else src = (f || r) ? nc + i : -1;
                    if (src < 0) entry(i, nt, nh, td, hd, theta, frame0 + f, r, c, co + i, si + i);
                    else co[i] = cos_out[src], si[i] = sin_out[src];
                }
            }
}
