/* dit_qk_prep reference: the q/k/v preparation of the DiT attention branches as ONE op, per token row:
 * RMSNorm over the full C channels (optional weight), ReLU, an optional copy of that intermediate
 * (y_pre: the GDN denominator / camera beta read the un-rotated keys), UCPE on the first half of every
 * head, RoPE on pairs from dim_offset. It is written as exactly the unfused sequence (rmsnorm ->
 * activate -> convert -> ucpe_apply -> rope_apply) with the same fp32 expressions in the same order, so
 * the fused forward on the CPU is bit-identical to the unfused one (tests/dit/test_fused_ops.c); the
 * CUDA version (kernels/cuda/dit_fused.cu) keeps the row in registers/shared memory instead.
 * Aliasing: y and y_pre may alias x (each row is finished before the next); not each other.
 */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

typedef struct {
    const float *x, *w, *m, *cs, *sn;
    float *y, *yp;
    int64_t C, H, D, P, off;
    float eps;
    int norm, relu, tr, conj;
} qkp_ctx;

/* dst[i] = relu?(x[i] * inv * w[i]) as rmsnorm_cpu then activate_cpu compute it. */
static void norm_row(const qkp_ctx *c, const float *xr, float *dst)
{
    float inv = 1.0f;
    if (c->norm) {
        double ss = 0;
        for (int64_t i = 0; i < c->C; i++) ss += (double)xr[i] * xr[i];
        inv = (float)(1.0 / sqrt(ss / (double)c->C + c->eps));
    }
    for (int64_t i = 0; i < c->C; i++) {
        float v = c->norm ? xr[i] * inv * (c->w ? c->w[i] : 1.0f) : xr[i];
        dst[i] = c->relu ? wm_act_apply(WM_ACT_RELU, v) : v;
    }
}

static void ucpe_row(const qkp_ctx *c, const float *M, float *yr)
{
    float mm[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) mm[i * 4 + j] = c->tr ? M[j * 4 + i] : M[i * 4 + j];
    for (int64_t h = 0; h < c->H; h++)
        for (int64_t g = 0; g < c->D / 8; g++) {
            float *o = yr + h * c->D + 4 * g;
            float a0 = o[0], a1 = o[1], a2 = o[2], a3 = o[3];
            for (int i = 0; i < 4; i++)
                o[i] = mm[i * 4] * a0 + mm[i * 4 + 1] * a1 + mm[i * 4 + 2] * a2 + mm[i * 4 + 3] * a3;
        }
}

static void rope_row(const qkp_ctx *c, const float *cr, const float *sr, float *yr)
{
    float sg = c->conj ? -1.0f : 1.0f;
    for (int64_t h = 0; h < c->H; h++)
        for (int64_t i = 0; i < c->P; i++) {
            int64_t d = h * c->D + c->off + 2 * i;
            float a = yr[d], b = yr[d + 1], co = cr[i], si = sg * sr[i];
            yr[d] = a * co - b * si;
            yr[d + 1] = a * si + b * co;
        }
}

static void qkp_rows(void *p, int64_t n0, int64_t n1)
{
    const qkp_ctx *c = p;
    for (int64_t n = n0; n < n1; n++) {
        const float *xr = c->x + n * c->C;
        float *yr = c->y + n * c->C;
        if (c->yp) { /* y_pre first (it may be x itself), then y from it */
            float *pr = c->yp + n * c->C;
            norm_row(c, xr, pr);
            if (yr != pr)
                for (int64_t i = 0; i < c->C; i++) yr[i] = pr[i];
        } else {
            norm_row(c, xr, yr);
        }
        if (c->m) ucpe_row(c, c->m + n * 16, yr);
        if (c->cs) rope_row(c, c->cs + n * c->P, c->sn + n * c->P, yr);
    }
}

wm_status wm_dit_qk_prep_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *norm_w, float eps, int relu,
                             const wm_tensor *mats, int transpose, const wm_tensor *cos, const wm_tensor *sin,
                             int n_heads, int dim_offset, int conj, wm_tensor *y, wm_tensor *y_pre)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    if (y_pre) WM_CPU_F32(be, y_pre);
    if (norm_w) WM_CPU_F32(be, norm_w);
    if (mats) WM_CPU_F32(be, mats);
    if (cos) WM_CPU_F32(be, cos);
    if (sin) WM_CPU_F32(be, sin);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x), P = 0;
    WM_TRY(wm_dit_qk_prep_shape(be, x, norm_w, mats, cos, sin, n_heads, dim_offset, y, y_pre, &P));
    int64_t D = C / n_heads;
    qkp_ctx c = {x->data, norm_w ? norm_w->data : NULL, mats ? mats->data : NULL, cos ? cos->data : NULL,
                 sin ? sin->data : NULL, y->data, y_pre ? y_pre->data : NULL, C, n_heads, D, P, dim_offset,
                 eps, norm_w != NULL, relu != 0, transpose != 0, conj != 0};
    wm_threadpool_run(be->pool, N, 16, qkp_rows, &c);
    return WM_OK;
}
