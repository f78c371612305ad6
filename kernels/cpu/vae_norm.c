/* vae_rmsnorm_silu and vae_channel_affine references: per-position statistics over the channel axis of
 * a channels-first tensor (C, ...), and a per-channel affine map.
 *
 * The channel axis is the slowest one, so a position's channels are P floats apart. Rather than a
 * strided gather per position, a task takes a block of positions and sweeps the C contiguous rows
 * twice (sum of squares, then scale), so every load is sequential. Statistics accumulate in fp32 like
 * PyTorch's fp32 mean; the golden tests bound the difference to the float64 reference.
 */
#include "cpu_common.h"

#define POS_BLOCK 512

typedef struct {
    const float *x;
    float *y;
    int64_t C, P;
    float eps;
    int silu;
} rms_ctx;

static void rms_blocks(void *p, int64_t b0, int64_t b1)
{
    const rms_ctx *c = p;
    float ss[POS_BLOCK];
    for (int64_t b = b0; b < b1; b++) {
        int64_t p0 = b * POS_BLOCK, n = c->P - p0 < POS_BLOCK ? c->P - p0 : POS_BLOCK;
        for (int64_t i = 0; i < n; i++) ss[i] = 0.0f;
        for (int64_t ch = 0; ch < c->C; ch++) {
            const float *r = c->x + ch * c->P + p0;
            for (int64_t i = 0; i < n; i++) ss[i] += r[i] * r[i];
        }
        for (int64_t i = 0; i < n; i++) ss[i] = 1.0f / sqrtf(ss[i] / (float)c->C + c->eps);
        for (int64_t ch = 0; ch < c->C; ch++) {
            const float *r = c->x + ch * c->P + p0;
            float *o = c->y + ch * c->P + p0;
            for (int64_t i = 0; i < n; i++) {
                float v = r[i] * ss[i];
                o[i] = c->silu ? v / (1.0f + expf(-v)) : v;
            }
        }
    }
}

wm_status wm_vae_rmsnorm_silu_cpu(wm_backend *be, const wm_tensor *x, float eps, int silu, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, x->ndim >= 2 && wm_tensor_same_shape(x, y), WM_ERR_SHAPE, "x, y must be (C, ...) alike");
    rms_ctx c = {x->data, y->data, x->shape[0], wm_tensor_numel(x) / x->shape[0], eps, silu};
    wm_threadpool_run(be->pool, (c.P + POS_BLOCK - 1) / POS_BLOCK, 1, rms_blocks, &c);
    return WM_OK;
}

typedef struct {
    const float *x, *mul, *add;
    float *y;
    int64_t P;
} aff_ctx;

static void aff_rows(void *p, int64_t c0, int64_t c1)
{
    const aff_ctx *c = p;
    for (int64_t ch = c0; ch < c1; ch++) {
        float m = c->mul ? c->mul[ch] : 1.0f, a = c->add ? c->add[ch] : 0.0f;
        const float *r = c->x + ch * c->P;
        float *o = c->y + ch * c->P;
        for (int64_t i = 0; i < c->P; i++) o[i] = r[i] * m + a;
    }
}

wm_status wm_vae_channel_affine_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *mul, const wm_tensor *add,
                                    wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, x->ndim >= 1 && wm_tensor_same_shape(x, y), WM_ERR_SHAPE, "x, y must be (C, ...) alike");
    int64_t C = x->shape[0];
    if (mul) {
        WM_CPU_F32(be, mul);
        WM_OP_CHECK(be, wm_tensor_numel(mul) == C, WM_ERR_SHAPE, "mul must have C elements");
    }
    if (add) {
        WM_CPU_F32(be, add);
        WM_OP_CHECK(be, wm_tensor_numel(add) == C, WM_ERR_SHAPE, "add must have C elements");
    }
    aff_ctx c = {x->data, mul ? mul->data : NULL, add ? add->data : NULL, y->data, wm_tensor_numel(x) / C};
    wm_threadpool_run(be->pool, C, 1, aff_rows, &c);
    return WM_OK;
}
