/* GDN phase A (spec §3.4, §3.5): per (frame, head) Gram sums over the frame's S tokens,
 *   P = sum_s beta_s k_s k_s^T (D x D),  A = sum_s beta_s k_s v_s^T (D x Dv)  or  A = sum_s beta_s k_s.
 * These are the only per-token work of the recurrence; the scan then runs on D x D matrices per frame,
 * which is what makes a frame (not a token) the recurrent step. Parallel over (frame, head); the
 * sums are accumulated in fp32 row by row (each output row touches the S tokens once).
 * k (N, H*D), v (N, H*Dv) or NULL, beta (N, H); P (T,H,D,D); A (T,H,D,Dv) or (T,H,D,1).
 */
#include "cpu_common.h"

typedef struct {
    const float *k, *v, *b;
    float *P, *A;
    int64_t S, H, D, Dv, Ck, Cv;
} gram_ctx;

static void gram_items(void *p, int64_t i0, int64_t i1)
{
    const gram_ctx *c = p;
    for (int64_t it = i0; it < i1; it++) {
        int64_t f = it / c->H, h = it % c->H;
        float *P = c->P + it * c->D * c->D, *A = c->A + it * c->D * c->Dv;
        for (int64_t i = 0; i < c->D * c->D; i++) P[i] = 0;
        for (int64_t i = 0; i < c->D * c->Dv; i++) A[i] = 0;
        for (int64_t s = 0; s < c->S; s++) {
            int64_t n = f * c->S + s;
            float bt = c->b[n * c->H + h];
            const float *kv = c->k + n * c->Ck + h * c->D;
            const float *vv = c->v ? c->v + n * c->Cv + h * c->Dv : NULL;
            for (int64_t i = 0; i < c->D; i++) {
                float bk = bt * kv[i];
                if (bk == 0.0f) continue;
                float *Pr = P + i * c->D, *Ar = A + i * c->Dv;
                for (int64_t j = 0; j < c->D; j++) Pr[j] += bk * kv[j];
                if (vv)
                    for (int64_t j = 0; j < c->Dv; j++) Ar[j] += bk * vv[j];
                else
                    Ar[0] += bk;
            }
        }
    }
}

wm_status wm_gdn_gram_cpu(wm_backend *be, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                          int n_frames, wm_tensor *P, wm_tensor *A)
{
    WM_CPU_F32(be, k);
    WM_CPU_F32(be, beta);
    WM_CPU_F32(be, P);
    WM_CPU_F32(be, A);
    int64_t N = wm_tensor_rows(k), Ck = wm_tensor_cols(k), H = wm_tensor_cols(beta);
    WM_OP_CHECK(be, n_frames > 0 && N % n_frames == 0, WM_ERR_SHAPE, "tokens must split into n_frames");
    WM_OP_CHECK(be, H > 0 && Ck % H == 0 && wm_tensor_rows(beta) == N, WM_ERR_SHAPE, "beta must be (N, H)");
    int64_t D = Ck / H, Cv = H, Dv = 1;
    if (v) {
        WM_CPU_F32(be, v);
        Cv = wm_tensor_cols(v);
        WM_OP_CHECK(be, wm_tensor_rows(v) == N && Cv % H == 0, WM_ERR_SHAPE, "v must be (N, H*Dv)");
        Dv = Cv / H;
    }
    WM_OP_CHECK(be, wm_tensor_numel(P) == n_frames * H * D * D, WM_ERR_SHAPE, "P must be (T, H, D, D)");
    WM_OP_CHECK(be, wm_tensor_numel(A) == n_frames * H * D * Dv, WM_ERR_SHAPE, "A must be (T, H, D, Dv)");
    gram_ctx c = {k->data, v ? v->data : NULL, beta->data, P->data, A->data, N / n_frames, H, D, Dv, Ck, Cv};
    wm_threadpool_run(be->pool, n_frames * H, 1, gram_items, &c);
    return WM_OK;
}
