/* GDN phase C (spec §3.4): read the per-frame states with the frame's queries.
 *   num(t,s) = Mf[t]^T q_s + Mr[t]^T q_s        (forward inclusive + reverse exclusive)
 *   out      = num / (zf[t].qd_s + zr[t].qd_s + eps)   when the denominator stream is given
 * The main branch uses the rotated queries for the numerator and the unrotated ones for the denominator;
 * the camera branch has no denominator. Both directions are read separately and summed, as upstream.
 * Parallel over (frame, head); double accumulation keeps the division well conditioned.
 * q, qd (N, H*D); Mf, Mr (T,H,D,Dv); zf, zr (T,H,D,1); out (N, H*Dv).
 */
#include "cpu_common.h"

typedef struct {
    const float *q, *Mf, *Mr, *qd, *zf, *zr;
    float *o;
    float eps;
    int64_t S, H, D, Dv;
} go_ctx;

static void go_items(void *p, int64_t i0, int64_t i1)
{
    const go_ctx *c = p;
    int64_t H = c->H, D = c->D, Dv = c->Dv, C = H * D, Co = H * Dv;
    double acc[1024];
    for (int64_t it = i0; it < i1; it++) {
        int64_t f = it / H, h = it % H;
        const float *Mf = c->Mf + it * D * Dv, *Mr = c->Mr + it * D * Dv;
        for (int64_t s = 0; s < c->S; s++) {
            int64_t n = f * c->S + s;
            const float *q = c->q + n * C + h * D;
            for (int64_t j = 0; j < Dv; j++) acc[j] = 0;
            for (int64_t i = 0; i < D; i++) {
                double qi = q[i];
                if (qi == 0) continue;
                for (int64_t j = 0; j < Dv; j++) acc[j] += qi * ((double)Mf[i * Dv + j] + (double)Mr[i * Dv + j]);
            }
            double den = 1.0;
            if (c->qd) {
                const float *qd = c->qd + n * C + h * D, *zf = c->zf + it * D, *zr = c->zr + it * D;
                double a = 0, b = 0;
                for (int64_t i = 0; i < D; i++) { a += (double)qd[i] * zf[i]; b += (double)qd[i] * zr[i]; }
                den = a + b + c->eps;
            }
            float *o = c->o + n * Co + h * Dv;
            for (int64_t j = 0; j < Dv; j++) o[j] = (float)(acc[j] / den);
        }
    }
}

wm_status wm_gdn_output_cpu(wm_backend *be, const wm_tensor *q, const wm_tensor *Mf, const wm_tensor *Mr,
                            const wm_tensor *qd, const wm_tensor *zf, const wm_tensor *zr, float eps, wm_tensor *out)
{
    WM_CPU_F32(be, q);
    WM_CPU_F32(be, Mf);
    WM_CPU_F32(be, Mr);
    WM_CPU_F32(be, out);
    WM_OP_CHECK(be, Mf->ndim == 4 && wm_tensor_same_shape(Mf, Mr), WM_ERR_SHAPE, "Mf, Mr must be (T,H,D,Dv)");
    int64_t T = Mf->shape[0], H = Mf->shape[1], D = Mf->shape[2], Dv = Mf->shape[3], N = wm_tensor_rows(q);
    WM_OP_CHECK(be, wm_tensor_cols(q) == H * D && N % T == 0, WM_ERR_SHAPE, "q must be (T*S, H*D)");
    WM_OP_CHECK(be, Dv <= 1024, WM_ERR_UNSUPPORTED, "value dim above 1024");
    WM_OP_CHECK(be, wm_tensor_numel(out) == N * H * Dv, WM_ERR_SHAPE, "out must be (N, H*Dv)");
    if (qd) {
        WM_CPU_F32(be, qd);
        WM_OP_CHECK(be, zf && zr && wm_tensor_same_shape(q, qd), WM_ERR_SHAPE, "qd must be q-shaped with zf, zr");
        WM_OP_CHECK(be, wm_tensor_numel(zf) == T * H * D && wm_tensor_numel(zr) == T * H * D, WM_ERR_SHAPE,
                    "zf, zr must be (T,H,D,1)");
    }
    go_ctx c = {q->data, Mf->data, Mr->data, qd ? qd->data : NULL, qd ? zf->data : NULL, qd ? zr->data : NULL,
                out->data, eps, N / T, H, D, Dv};
    wm_threadpool_run(be->pool, T * H, 1, go_items, &c);
    return WM_OK;
}
