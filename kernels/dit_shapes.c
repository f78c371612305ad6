/* Shared shape contracts of DiT ops (see dit_shapes.h). */
#include "kernels/dit_shapes.h"

wm_status wm_gdn_gates_shape(wm_backend *be, const wm_tensor *beta, const wm_tensor *a, const wm_tensor *A_log,
                             const wm_tensor *dt_bias, const wm_tensor *g)
{
    int64_t H = wm_tensor_cols(a), T = wm_tensor_rows(a);
    WM_OP_CHECK(be, wm_tensor_cols(beta) == H, WM_ERR_SHAPE, "beta must be (N, H)");
    WM_OP_CHECK(be, wm_tensor_numel(A_log) == H && wm_tensor_numel(dt_bias) == H, WM_ERR_SHAPE,
                "A_log and dt_bias must have H elements");
    WM_OP_CHECK(be, wm_tensor_numel(g) == T * H, WM_ERR_SHAPE, "g must be (T, H)");
    return WM_OK;
}

wm_status wm_gdn_cam_beta_shape(wm_backend *be, const wm_tensor *k_pre, const wm_tensor *k_post,
                                const wm_tensor *beta, int n_frames, const wm_tensor *beta_cam)
{
    int64_t N = wm_tensor_rows(k_pre), C = wm_tensor_cols(k_pre), H = wm_tensor_cols(beta);
    WM_OP_CHECK(be, n_frames > 0 && N % n_frames == 0, WM_ERR_SHAPE, "tokens must split into n_frames");
    WM_OP_CHECK(be, H > 0 && C % H == 0 && wm_tensor_rows(beta) == N, WM_ERR_SHAPE, "beta must be (N, H)");
    WM_OP_CHECK(be, wm_tensor_same_shape(k_pre, k_post), WM_ERR_SHAPE, "k_post must be k_pre-shaped");
    WM_OP_CHECK(be, wm_tensor_numel(beta_cam) == N * H, WM_ERR_SHAPE, "beta_cam must be (N, H)");
    return WM_OK;
}

wm_status wm_rope_apply_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                              int n_heads, int dim_offset, const wm_tensor *y)
{
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x), P = wm_tensor_cols(cos);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0, WM_ERR_SHAPE, "channels must split into n_heads");
    WM_OP_CHECK(be, dim_offset >= 0 && dim_offset + 2 * P <= C / n_heads, WM_ERR_SHAPE, "pairs exceed the head dim");
    WM_OP_CHECK(be, wm_tensor_rows(cos) == N && wm_tensor_same_shape(cos, sin), WM_ERR_SHAPE,
                "cos/sin must be (N, n_pairs)");
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C, WM_ERR_SHAPE, "y must be x-shaped");
    return WM_OK;
}

wm_status wm_ucpe_apply_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *mats, int n_heads,
                              const wm_tensor *y)
{
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0 && (C / n_heads) % 8 == 0, WM_ERR_SHAPE,
                "head dim must be a multiple of 8");
    WM_OP_CHECK(be, wm_tensor_numel(mats) == N * 16, WM_ERR_SHAPE, "mats must be (N, 4, 4)");
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C, WM_ERR_SHAPE, "y must be x-shaped");
    return WM_OK;
}

wm_status wm_dit_qk_prep_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *norm_w, const wm_tensor *mats,
                               const wm_tensor *cos, const wm_tensor *sin, int n_heads, int dim_offset,
                               const wm_tensor *y, const wm_tensor *y_pre, int64_t *P)
{
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    *P = 0;
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0, WM_ERR_SHAPE, "channels must split into n_heads");
    int64_t D = C / n_heads;
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C && wm_tensor_cols(y) == C, WM_ERR_SHAPE, "y must be x-shaped");
    if (y_pre) {
        WM_OP_CHECK(be, wm_tensor_numel(y_pre) == N * C, WM_ERR_SHAPE, "y_pre must be x-shaped");
        WM_OP_CHECK(be, y_pre->data != y->data, WM_ERR_INVALID_ARG, "y_pre may not alias y");
    }
    if (norm_w) WM_OP_CHECK(be, wm_tensor_numel(norm_w) == C, WM_ERR_SHAPE, "norm_w must have C elements");
    if (mats) {
        WM_OP_CHECK(be, D % 8 == 0, WM_ERR_SHAPE, "head dim must be a multiple of 8 for UCPE");
        WM_OP_CHECK(be, wm_tensor_numel(mats) == N * 16, WM_ERR_SHAPE, "mats must be (N, 4, 4)");
    }
    WM_OP_CHECK(be, !cos == !sin, WM_ERR_INVALID_ARG, "cos and sin must be given together");
    if (cos) {
        int64_t p = wm_tensor_cols(cos);
        WM_OP_CHECK(be, wm_tensor_rows(cos) == N && wm_tensor_same_shape(cos, sin), WM_ERR_SHAPE,
                    "cos/sin must be (N, n_pairs)");
        WM_OP_CHECK(be, dim_offset >= 0 && dim_offset + 2 * p <= D, WM_ERR_SHAPE, "pairs exceed the head dim");
        WM_OP_CHECK(be, !mats || dim_offset >= D / 2, WM_ERR_INVALID_ARG, "RoPE pairs overlap the UCPE half");
        *P = p;
    }
    return WM_OK;
}

wm_status wm_depthwise3x3_glu_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                    int n_frames, int grid_h, int grid_w, const wm_tensor *y)
{
    int64_t N = wm_tensor_rows(x), C2 = wm_tensor_cols(x);
    WM_OP_CHECK(be, n_frames > 0 && grid_h > 0 && grid_w > 0 && N == (int64_t)n_frames * grid_h * grid_w,
                WM_ERR_SHAPE, "x must have n_frames*grid_h*grid_w rows");
    WM_OP_CHECK(be, C2 % 2 == 0 && wm_tensor_numel(w) == C2 * 9 && wm_tensor_numel(b) == C2, WM_ERR_SHAPE,
                "w must be (2M, 9) and b (2M)");
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * (C2 / 2), WM_ERR_SHAPE, "y must be (N, M)");
    return WM_OK;
}

wm_status wm_gated_add_proj_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                                  int64_t rows_per_group, const wm_tensor *u, const wm_tensor *w,
                                  const wm_tensor *bias)
{
    WM_OP_CHECK(be, x->ndim == 2 && u->ndim == 2 && w->ndim == 2, WM_ERR_SHAPE, "x, u and w must be 2-D");
    int64_t N = x->shape[0], C = x->shape[1], P = u->shape[1];
    WM_OP_CHECK(be, wm_tensor_numel(h) == N * C, WM_ERR_SHAPE, "h must have x's shape (N, C)");
    WM_OP_CHECK(be, u->shape[0] == N, WM_ERR_SHAPE, "u must be (N, P) with x's N rows");
    WM_OP_CHECK(be, w->shape[0] == C && w->shape[1] == P, WM_ERR_SHAPE, "w must be (C, P): x's C, u's P");
    WM_OP_CHECK(be, !bias || wm_tensor_numel(bias) == C, WM_ERR_SHAPE, "bias must have C elements");
    if (gate) {
        WM_OP_CHECK(be, rows_per_group > 0, WM_ERR_INVALID_ARG, "rows_per_group must be > 0");
        WM_OP_CHECK(be, wm_tensor_numel(gate) >= ((N + rows_per_group - 1) / rows_per_group) * C, WM_ERR_SHAPE,
                    "gate must be (G, C) with G >= ceil(N / rows_per_group)");
    }
    WM_OP_CHECK(be, x->data != h->data && x->data != u->data, WM_ERR_INVALID_ARG, "x may not alias h or u");
    return WM_OK;
}
