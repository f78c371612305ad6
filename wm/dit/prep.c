/* The two fusion points of the block, each with its unfused op sequence kept selectable
 * (wm_dit_weights.unfused, WM_DIT_UNFUSED=1) so a misbehaving fused kernel can be switched off:
 *   dt_qk_prep:    RMSNorm (+ReLU) + y_pre copy + UCPE + RoPE of one q/k/v tensor = ONE dit_qk_prep op
 *                  instead of up to five passes (rmsnorm, activate, convert, ucpe_apply, rope_apply);
 *   dt_linear_add: a residual add in the GEMM (matmul_add: cuBLASLt beta = 1) instead of a GEMM output
 *                  tensor + gated_add.
 * On the CPU both forms compute the same fp32 expressions in the same order (bit-identical forwards,
 * tests/dit/test_dit_fused.c); on CUDA the fused form rounds to bf16 once instead of after every pass.
 */
#include "wm/dit/dit_internal.h"

wm_status dt_linear_add(dit_fwd *f, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b, wm_tensor *acc)
{
    const wm_tensor *bias = b && b->data ? b : NULL;
    if (dt_fused(f, WM_DIT_UNFUSE_ADD)) {
        DT_RUN(f, wm_matmul_add(f->be, x, w, bias, acc, acc));
        return WM_OK;
    }
    size_t mark = wm_arena_mark(f->ar);
    wm_tensor t;
    WM_TRY(dt_linear(f, x, w, b, WM_ACT_NONE, &t));
    DT_RUN(f, wm_gated_add(f->be, acc, &t, NULL, 1));
    wm_arena_rewind(f->ar, mark);
    return WM_OK;
}

wm_status dt_linear3(dit_fwd *f, const wm_tensor *x, const wm_tensor *w3, const wm_tensor *b3, wm_tensor *q,
                     wm_tensor *k, wm_tensor *v)
{
    int64_t M = wm_tensor_rows(w3) / 3, N = wm_tensor_rows(x);
    const wm_tensor *bias = b3 && b3->data ? b3 : NULL;
    wm_tensor *out[3] = {q, k, v};
    if (dt_fused(f, WM_DIT_UNFUSE_QKV)) {
        wm_tensor all;
        WM_TRY(dt_new(f, 3 * N, M, &all));
        DT_RUN(f, wm_matmul_batched(f->be, x, w3, bias, 3, 0, &all));
        for (int j = 0; j < 3; j++) *out[j] = dt_rows(&all, j * N, N);
        return WM_OK;
    }
    for (int j = 0; j < 3; j++) {
        wm_tensor wj = dt_rows(w3, j * M, M), bj;
        if (bias) bj = dt_rows(bias, j * M, M);
        WM_TRY(dt_linear(f, x, &wj, bias ? &bj : NULL, WM_ACT_NONE, out[j]));
    }
    return WM_OK;
}

wm_status dt_qk_prep(dit_fwd *f, wm_tensor *x, const wm_tensor *norm_w, float eps, int relu, const wm_tensor *mats,
                     int transpose, int cam, int conj, wm_tensor *y, wm_tensor *y_pre)
{
    const wm_tensor *cs = cam ? &f->cam_cos : &f->rope_cos, *sn = cam ? &f->cam_sin : &f->rope_sin;
    int off = cam ? f->D / 2 : 0;
    if (dt_fused(f, WM_DIT_UNFUSE_QK)) {
        DT_RUN(f, wm_dit_qk_prep(f->be, x, norm_w, eps, relu, mats, transpose, cs, sn, f->H, off, conj, y, y_pre));
        return WM_OK;
    }
    /* The unfused sequence, in place on x up to the y_pre point (x is always a temporary). */
    if (norm_w) DT_RUN(f, wm_rmsnorm(f->be, x, norm_w, eps, x));
    if (relu) DT_RUN(f, wm_activate(f->be, x, WM_ACT_RELU));
    if (y_pre && y_pre->data != x->data) WM_TRY(dt_copy(f, x, y_pre));
    const wm_tensor *src = x;
    if (mats) {
        DT_RUN(f, wm_ucpe_apply(f->be, x, mats, f->H, transpose, y));
        src = y;
    }
    DT_RUN(f, wm_rope_apply(f->be, src, cs, sn, f->H, off, conj, y));
    return WM_OK;
}
