/* Shared shape contracts of the VAE ops (see vae_shapes.h). */
#include "kernels/vae_shapes.h"

wm_status wm_vae_conv3d_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                              const wm_tensor *bias, int causal, int reflect, const wm_tensor *y)
{
    WM_OP_CHECK(be, x->ndim == 4 && w->ndim == 5 && y->ndim == 4, WM_ERR_SHAPE,
                "x, y must be (C,T,H,W) and w (Co,Ci,kt,kh,kw)");
    int64_t Ci = x->shape[0], T = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Co = w->shape[0], kt = w->shape[2], kh = w->shape[3], kw = w->shape[4];
    WM_OP_CHECK(be, w->shape[1] == Ci, WM_ERR_SHAPE, "w's input channels must equal x's channels");
    WM_OP_CHECK(be, kt >= 1 && kh % 2 == 1 && kw % 2 == 1, WM_ERR_SHAPE, "spatial kernel must be odd");
    WM_OP_CHECK(be, causal || kt % 2 == 1, WM_ERR_SHAPE, "non-causal conv needs an odd temporal kernel");
    WM_OP_CHECK(be, y->shape[0] == Co && y->shape[1] == T && y->shape[2] == H && y->shape[3] == W,
                WM_ERR_SHAPE, "y must be (Co,T,H,W)");
    WM_OP_CHECK(be, T >= 1, WM_ERR_SHAPE, "x needs at least one frame");
    WM_OP_CHECK(be, !reflect || (H > kh / 2 && W > kw / 2), WM_ERR_SHAPE,
                "reflect padding needs H, W larger than the padding");
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    if (bias) WM_OP_CHECK(be, wm_tensor_numel(bias) == Co, WM_ERR_SHAPE, "bias must have Co elements");
    if (left) {
        WM_OP_CHECK(be, causal, WM_ERR_INVALID_ARG, "left context only for causal convs");
        WM_OP_CHECK(be, left->ndim == 4 && left->shape[0] == Ci && left->shape[1] == kt - 1 &&
                            left->shape[2] == H && left->shape[3] == W,
                    WM_ERR_SHAPE, "left must be (Ci,kt-1,H,W)");
    }
    return WM_OK;
}

wm_status wm_vae_depth_to_space_shape(wm_backend *be, const wm_tensor *x, int st, int sh, int sw, int trim,
                                      const wm_tensor *y)
{
    WM_OP_CHECK(be, x->ndim == 4 && y->ndim == 4 && st >= 1 && sh >= 1 && sw >= 1, WM_ERR_SHAPE,
                "x, y must be (C,T,H,W), strides >= 1");
    int64_t n = (int64_t)st * sh * sw, Cs = x->shape[0] / n, T = x->shape[1], H = x->shape[2], W = x->shape[3];
    WM_OP_CHECK(be, x->shape[0] % n == 0 && Cs > 0, WM_ERR_SHAPE, "x's channels must be a multiple of st*sh*sw");
    WM_OP_CHECK(be, trim >= 0 && trim < T * st, WM_ERR_SHAPE, "trim must leave at least one frame");
    WM_OP_CHECK(be, y->shape[0] % Cs == 0 && y->shape[1] == T * st - trim && y->shape[2] == H * sh &&
                        y->shape[3] == W * sw,
                WM_ERR_SHAPE, "y must be (Cs*r, T*st-trim, H*sh, W*sw)");
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    return WM_OK;
}

wm_status wm_vae_space_to_depth_shape(wm_backend *be, const wm_tensor *x, int st, int sh, int sw, int group,
                                      const wm_tensor *y)
{
    WM_OP_CHECK(be, x->ndim == 4 && y->ndim == 4 && st >= 1 && sh >= 1 && sw >= 1 && group >= 1, WM_ERR_SHAPE,
                "x, y must be (C,T,H,W), strides and group >= 1");
    int64_t n = (int64_t)st * sh * sw, C = x->shape[0];
    WM_OP_CHECK(be, x->shape[1] % st == 0 && x->shape[2] % sh == 0 && x->shape[3] % sw == 0, WM_ERR_SHAPE,
                "x's T, H, W must be multiples of the strides");
    WM_OP_CHECK(be, (C * n) % group == 0, WM_ERR_SHAPE, "C*st*sh*sw must be a multiple of group");
    WM_OP_CHECK(be, y->shape[0] == C * n / group && y->shape[1] == x->shape[1] / st &&
                        y->shape[2] == x->shape[2] / sh && y->shape[3] == x->shape[3] / sw,
                WM_ERR_SHAPE, "y must be (C*st*sh*sw/group, T/st, H/sh, W/sw)");
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    return WM_OK;
}
