/* Interleaved-pair rotary embedding (spec §2.7, §4.4) on n_pairs pairs starting at column dim_offset
 * of every head; the main RoPE uses offset 0 and all head_dim/2 pairs, the camera half-RoPE offset
 * head_dim/2 and head_dim/4 pairs. Tables cos/sin (N, n_pairs) are per token so that streaming chunks
 * at absolute frame offsets, the camera slice and any grid need no op change. conj rotates by -angle
 * (inverse UCPE on the attention output). y may alias x.
 */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

typedef struct {
    const float *x, *cs, *sn;
    float *y;
    int64_t C, H, D, P, off;
    int conj;
} rope_ctx;

static void rope_rows(void *p, int64_t n0, int64_t n1)
{
    const rope_ctx *c = p;
    float sg = c->conj ? -1.0f : 1.0f;
    for (int64_t n = n0; n < n1; n++) {
        const float *xr = c->x + n * c->C;
        float *yr = c->y + n * c->C;
        if (yr != xr)
            for (int64_t i = 0; i < c->C; i++) yr[i] = xr[i];
        const float *cr = c->cs + n * c->P, *sr = c->sn + n * c->P;
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t i = 0; i < c->P; i++) {
                int64_t d = h * c->D + c->off + 2 * i;
                float a = xr[d], b = xr[d + 1], co = cr[i], si = sg * sr[i];
                yr[d] = a * co - b * si;
                yr[d + 1] = a * si + b * co;
            }
    }
}

wm_status wm_rope_apply_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                            int n_heads, int dim_offset, int conj, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, cos);
    WM_CPU_F32(be, sin);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x), P = wm_tensor_cols(cos);
    WM_TRY(wm_rope_apply_shape(be, x, cos, sin, n_heads, dim_offset, y));
    int64_t D = C / n_heads;
    rope_ctx c = {x->data, cos->data, sin->data, y->data, C, n_heads, D, P, dim_offset, conj};
    wm_threadpool_run(be->pool, N, 16, rope_rows, &c);
    return WM_OK;
}
