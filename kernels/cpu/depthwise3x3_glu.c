/* GLUMBConv spatial part (spec §2.6 steps 2-3): depthwise 3x3 conv with bias and zero padding over each
 * latent frame's grid, fused with the GLU u = a * SiLU(g) (a = first M channels, g = last M), so the
 * 2M-channel conv output is never stored. Parallel over tokens.
 * x (T*gh*gw, 2M) tokens-major, w (2M, 9) taps row-major (ky*3+kx), b (2M), y (T*gh*gw, M).
 * The fused variant depthwise3x3_silu_glu (SiLU applied to every input value as it is read) shares this
 * loop through wm__depthwise3x3_glu_ref, so both keep one summation order.
 */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

typedef struct {
    const float *x, *w, *b;
    float *y;
    int64_t gh, gw, M;
    int silu_input;
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
            float v = c->x[((f * c->gh + rr) * c->gw + cc) * C2 + ch];
            if (c->silu_input) v = wm_act_apply(WM_ACT_SILU, v);
            s += c->w[ch * 9 + ky * 3 + kx] * v;
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

/* Checks name the op that was called (op), not this shared function. */
#define DW_CHECK(cond, code, what)                                                                 \
    do {                                                                                           \
        if (!(cond)) return wm__op_check(be, op, 0, (code), (what));                               \
    } while (0)

wm_status wm__depthwise3x3_glu_ref(wm_backend *be, const char *op, const wm_tensor *x, const wm_tensor *w,
                                   const wm_tensor *b, int n_frames, int grid_h, int grid_w, wm_tensor *y,
                                   int silu_input)
{
    const wm_tensor *ts[4] = {x, w, b, y};
    for (int i = 0; i < 4; i++)
        DW_CHECK(ts[i]->dtype == WM_F32 && ts[i]->device == WM_DEVICE_CPU, WM_ERR_DTYPE,
                 "x, w, b and y must be fp32 host tensors");
    int64_t N = wm_tensor_rows(x), C2 = wm_tensor_cols(x);
    WM_TRY(wm_depthwise3x3_glu_shape(be, x, w, b, n_frames, grid_h, grid_w, y));
    DW_CHECK(!silu_input || y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    dw_ctx c = {x->data, w->data, b->data, y->data, grid_h, grid_w, C2 / 2, silu_input};
    wm_threadpool_run(be->pool, N, 8, dw_items, &c);
    return WM_OK;
}

wm_status wm_depthwise3x3_glu_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                  int n_frames, int grid_h, int grid_w, wm_tensor *y)
{
    return wm__depthwise3x3_glu_ref(be, "wm_depthwise3x3_glu_cpu", x, w, b, n_frames, grid_h, grid_w, y, 0);
}
