/* Rotate-half RoPE reference (Gemma-2 / Llama convention): dimension d of a head is rotated together
 * with d + D/2, unlike the DiT's interleaved pairs (rope_apply.c). Cos/sin come as per-token tables so
 * the op stays agnostic of positions (the caller uses 0..N-1) and the GPU version needs no trig.
 * x, y (N, H*D); cos, sin (N, D/2). y may alias x: each row is read into registers pairwise first.
 */
#include "cpu_common.h"
#include "kernels/text_shapes.h"

typedef struct { const float *x, *cs, *sn; float *y; int64_t H, D; } rope_half_ctx;

static void rope_half_rows(void *p, int64_t n0, int64_t n1)
{
    const rope_half_ctx *c = p;
    int64_t half = c->D / 2, C = c->H * c->D;
    for (int64_t n = n0; n < n1; n++) {
        const float *xr = c->x + n * C, *cr = c->cs + n * half, *sr = c->sn + n * half;
        float *yr = c->y + n * C;
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t i = 0; i < half; i++) {
                int64_t d = h * c->D + i;
                float a = xr[d], b = xr[d + half];
                yr[d] = a * cr[i] - b * sr[i];         /* first half:  x*cos - x[i+D/2]*sin */
                yr[d + half] = b * cr[i] + a * sr[i];  /* second half: x*cos + x[i]*sin */
            }
    }
}

wm_status wm_rope_half_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                           int n_heads, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, cos);
    WM_CPU_F32(be, sin);
    WM_CPU_F32(be, y);
    WM_TRY(wm_rope_half_shape(be, x, cos, sin, n_heads, y));
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    rope_half_ctx c = {x->data, cos->data, sin->data, y->data, n_heads, C / n_heads};
    wm_threadpool_run(be->pool, N, 16, rope_half_rows, &c);
    return WM_OK;
}
