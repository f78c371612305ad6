/* depthwise3x3_silu_glu reference: the GLUMBConv spatial part on SiLU(x), i.e. depthwise3x3_glu with the
 * inverted conv's SiLU applied to every input value as it is read (zero padding stays zero: the conv
 * pads SiLU's output). Same loop and summation order as depthwise3x3_glu.c, and SiLU by the expression
 * the matmul epilogue uses, so [matmul(NONE) -> this] is bit-identical to [matmul(SILU) ->
 * depthwise3x3_glu] (tests/dit/test_dit_fused.c). The CUDA version stages SiLU(x) tiles in shared memory.
 */
#include "cpu_common.h"

typedef struct {
    const float *x, *w, *b;
    float *y;
    int64_t gh, gw, M;
} dws_ctx;

static float dws_at(const dws_ctx *c, int64_t f, int64_t r, int64_t col, int64_t ch)
{
    float s = c->b[ch];
    int64_t C2 = 2 * c->M;
    for (int ky = 0; ky < 3; ky++) {
        int64_t rr = r + ky - 1;
        if (rr < 0 || rr >= c->gh) continue;
        for (int kx = 0; kx < 3; kx++) {
            int64_t cc = col + kx - 1;
            if (cc < 0 || cc >= c->gw) continue;
            float v = wm_act_apply(WM_ACT_SILU, c->x[((f * c->gh + rr) * c->gw + cc) * C2 + ch]);
            s += c->w[ch * 9 + ky * 3 + kx] * v;
        }
    }
    return s;
}

static void dws_items(void *p, int64_t i0, int64_t i1)
{
    const dws_ctx *c = p;
    int64_t S = c->gh * c->gw;
    for (int64_t n = i0; n < i1; n++) {
        int64_t f = n / S, r = (n % S) / c->gw, col = n % c->gw;
        float *yr = c->y + n * c->M;
        for (int64_t ch = 0; ch < c->M; ch++) {
            float a = dws_at(c, f, r, col, ch), g = dws_at(c, f, r, col, ch + c->M);
            yr[ch] = a * (g / (1.0f + expf(-g)));
        }
    }
}

wm_status wm_depthwise3x3_silu_glu_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                       int n_frames, int grid_h, int grid_w, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, w);
    WM_CPU_F32(be, b);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(x), C2 = wm_tensor_cols(x);
    WM_OP_CHECK(be, n_frames > 0 && grid_h > 0 && grid_w > 0 && N == (int64_t)n_frames * grid_h * grid_w,
                WM_ERR_SHAPE, "x must have n_frames*grid_h*grid_w rows");
    WM_OP_CHECK(be, C2 % 2 == 0 && wm_tensor_numel(w) == C2 * 9 && wm_tensor_numel(b) == C2, WM_ERR_SHAPE,
                "w must be (2M, 9) and b (2M)");
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * (C2 / 2), WM_ERR_SHAPE, "y must be (N, M)");
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    dws_ctx c = {x->data, w->data, b->data, y->data, grid_h, grid_w, C2 / 2};
    wm_threadpool_run(be->pool, N, 8, dws_items, &c);
    return WM_OK;
}
