/* UCPE 4x4 transform (spec §4.4): the first head_dim/2 columns of each head are head_dim/8 groups of 4,
 * each multiplied by the token's matrix: out[g,i] = sum_j M[i,j] in[g,j]. Queries use P^T
 * (transpose = 1 with mats = P), keys and values P^-1, the attention output P. The other half of the
 * head (camera half-RoPE) is copied unchanged. y may alias x (each group is read before it is written).
 */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

typedef struct {
    const float *x, *m;
    float *y;
    int64_t C, H, D;
    int tr;
} ucpe_ctx;

static void ucpe_rows(void *p, int64_t n0, int64_t n1)
{
    const ucpe_ctx *c = p;
    for (int64_t n = n0; n < n1; n++) {
        const float *xr = c->x + n * c->C, *M = c->m + n * 16;
        float *yr = c->y + n * c->C;
        float mm[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) mm[i * 4 + j] = c->tr ? M[j * 4 + i] : M[i * 4 + j];
        for (int64_t h = 0; h < c->H; h++) {
            int64_t base = h * c->D;
            for (int64_t d = c->D / 2; d < c->D; d++) yr[base + d] = xr[base + d];
            for (int64_t g = 0; g < c->D / 8; g++) {
                const float *in = xr + base + 4 * g;
                float a0 = in[0], a1 = in[1], a2 = in[2], a3 = in[3];
                float *o = yr + base + 4 * g;
                for (int i = 0; i < 4; i++)
                    o[i] = mm[i * 4] * a0 + mm[i * 4 + 1] * a1 + mm[i * 4 + 2] * a2 + mm[i * 4 + 3] * a3;
            }
        }
    }
}

wm_status wm_ucpe_apply_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *mats, int n_heads, int transpose,
                            wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, mats);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_TRY(wm_ucpe_apply_shape(be, x, mats, n_heads, y));
    ucpe_ctx c = {x->data, mats->data, y->data, C, n_heads, C / n_heads, transpose};
    wm_threadpool_run(be->pool, N, 16, ucpe_rows, &c);
    return WM_OK;
}
