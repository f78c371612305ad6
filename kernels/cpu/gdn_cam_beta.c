/* Dynamic beta discount of the GDN camera branch (spec §4.5 step 5).
 *
 * UCPE's 4x4 transforms are not orthogonal, so they inflate key norms; the delta rule is only stable
 * for beta*|k|^2 <= 2, so upstream shrinks beta by the frame's mean squared inflation. Per token and
 * head infl = |k_post|^2 / |k_pre|^2 (k_pre: after norm/ReLU/scale, before UCPE; a zero key, possible
 * after ReLU, counts as inflation 1); m(f, h) = mean over the S tokens of frame f; beta_cam = beta /
 * max(m, 1). Parallel over (frame, head); sums in double.
 */
#include "cpu_common.h"
#include "kernels/dit_shapes.h"

typedef struct {
    const float *kp, *kq, *b;
    float *bc;
    int64_t S, H, D, C;
} cb_ctx;

static void cb_items(void *p, int64_t i0, int64_t i1)
{
    const cb_ctx *c = p;
    for (int64_t it = i0; it < i1; it++) {
        int64_t f = it / c->H, h = it % c->H;
        double m = 0;
        for (int64_t s = 0; s < c->S; s++) {
            int64_t n = f * c->S + s;
            const float *a = c->kp + n * c->C + h * c->D, *b = c->kq + n * c->C + h * c->D;
            double na = 0, nb = 0;
            for (int64_t d = 0; d < c->D; d++) { na += (double)a[d] * a[d]; nb += (double)b[d] * b[d]; }
            m += na > 0 ? nb / na : 1.0;
        }
        m /= (double)c->S;
        double div = m > 1.0 ? m : 1.0;
        for (int64_t s = 0; s < c->S; s++) {
            int64_t n = f * c->S + s;
            c->bc[n * c->H + h] = (float)(c->b[n * c->H + h] / div);
        }
    }
}

wm_status wm_gdn_cam_beta_cpu(wm_backend *be, const wm_tensor *k_pre, const wm_tensor *k_post, const wm_tensor *beta,
                              int n_frames, wm_tensor *beta_cam)
{
    WM_CPU_F32(be, k_pre);
    WM_CPU_F32(be, k_post);
    WM_CPU_F32(be, beta);
    WM_CPU_F32(be, beta_cam);
    int64_t N = wm_tensor_rows(k_pre), C = wm_tensor_cols(k_pre), H = wm_tensor_cols(beta);
    WM_TRY(wm_gdn_cam_beta_shape(be, k_pre, k_post, beta, n_frames, beta_cam));
    cb_ctx c = {k_pre->data, k_post->data, beta->data, beta_cam->data, N / n_frames, H, C / H, C};
    wm_threadpool_run(be->pool, n_frames * H, 1, cb_items, &c);
    return WM_OK;
}
