/* Downscale-only RMS re-normalisation after UCPE (spec §4.6; first release #379, softmax camera branch
 * only, off by default): y = post * min(1, rms(pre)/rms(post)) per token and head, rms over the head's
 * D dims with eps inside the root. y may alias post. */
#include "cpu_common.h"

wm_status wm_head_renorm_cpu(wm_backend *be, const wm_tensor *pre, const wm_tensor *post, int n_heads, float eps,
                             wm_tensor *y)
{
    WM_CPU_F32(be, pre);
    WM_CPU_F32(be, post);
    WM_CPU_F32(be, y);
    int64_t N = wm_tensor_rows(pre), C = wm_tensor_cols(pre);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0, WM_ERR_SHAPE, "channels must split into n_heads");
    WM_OP_CHECK(be, wm_tensor_same_shape(pre, post) && wm_tensor_numel(y) == N * C, WM_ERR_SHAPE,
                "pre, post, y must have one shape");
    int64_t D = C / n_heads;
    const float *a = pre->data, *b = post->data;
    float *o = y->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < n_heads; h++) {
            const float *pa = a + n * C + h * D, *pb = b + n * C + h * D;
            double sa = 0, sb = 0;
            for (int64_t d = 0; d < D; d++) { sa += (double)pa[d] * pa[d]; sb += (double)pb[d] * pb[d]; }
            double r = sqrt(sa / D + eps) / sqrt(sb / D + eps);
            float s = (float)(r < 1.0 ? r : 1.0);
            for (int64_t d = 0; d < D; d++) o[n * C + h * D + d] = pb[d] * s;
        }
    return WM_OK;
}
