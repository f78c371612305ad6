/* GLUMBConv spatial part (spec §2.6 steps 2-3): depthwise 3x3 conv with bias and zero padding over each
 * latent frame's grid, fused with the GLU u = a * SiLU(g) (a = first M channels, g = last M), so the
 * 2M-channel conv output is never stored. Parallel over tokens.
 * x (T*gh*gw, 2M) tokens-major, w (2M, 9) taps row-major (ky*3+kx), b (2M), y (T*gh*gw, M).
 */
#include "cpu_common.h"

typedef struct {
    const float *x, *w, *b;
    float *y;
    int64_t gh, gw, M;
} dw_ctx;

static float dw_at(const dw_ctx *c, int64_t f, int64_t r, int64_t col, int64_t ch)
{
    float s = c->b[ch];
    int64_t C2 = 2 * c->M;
    for (int ky = 0; ky < 3; ky++) {
        int64_t rr = r + ky - 1;
        if (rr < 0 || rr >= c->gh) continue;
        for (int kx = 0; kx < 3; kx++) {
            int64_t cc = col + kx - 1;
            if (cc < 0 || cc >= c->gw) continue;
            s += c->w[ch * 9 + ky * 3 + kx] * c->x[((f * c->gh + rr) * c->gw + cc) * C2 + ch];
        }
    }
    return s;
}

static void dw_items(void *p, int64_t i0, int64_t i1)
{
    const dw_ctx *c = p;
    int64_t S = c->gh * c->gw;
    for (int64_t n = i0; n < i1; n++) {
        int64_t f = n / S, r = (n % S) / c->gw, col = n % c->gw;
        float *yr = c->y + n * c->M;
        for (int64_t ch = 0; ch < c->M; ch++) {
            float a = dw_at(c, f, r, col, ch), g = dw_at(c, f, r, col, ch + c->M);
            yr[ch] = a * (g / (1.0f + expf(-g)));
        }
    }
}

wm_status wm_depthwise3x3_glu_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
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
    dw_ctx c = {x->data, w->data, b->data, y->data, grid_h, grid_w, C2 / 2};
    wm_threadpool_run(be->pool, N, 8, dw_items, &c);
    return WM_OK;
}
