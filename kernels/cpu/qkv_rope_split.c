/* Split of a fused q/k/v projection with rotate-half RoPE on q and k (fp32 reference).
 * One token row per work item: the row [q | k | v] of qkv is read once; q and k heads are rotated with
 * the same formula as rope_half.c (pairs d, d + D/2 with the token's cos/sin), v is copied.
 * qkv (N, (H + 2 Hkv) D); q (N, H*D); k, v (N, Hkv*D); cos, sin (N, D/2).
 */
#include "cpu_common.h"
#include "kernels/text_shapes.h"

typedef struct { const float *qkv, *cs, *sn; float *q, *k, *v; int64_t H, Hkv, D; } qkv_ctx;

/* n_heads heads of D from src rotated into dst with the row's tables */
static void rotate(const float *src, float *dst, int64_t n_heads, int64_t D, const float *cr, const float *sr)
{
    int64_t half = D / 2;
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < half; i++) {
            int64_t d = h * D + i;
            float a = src[d], b = src[d + half];
            dst[d] = a * cr[i] - b * sr[i];
            dst[d + half] = b * cr[i] + a * sr[i];
        }
}

static void qkv_rows(void *p, int64_t n0, int64_t n1)
{
    const qkv_ctx *c = p;
    int64_t Cq = c->H * c->D, Ck = c->Hkv * c->D, C = Cq + 2 * Ck, half = c->D / 2;
    for (int64_t n = n0; n < n1; n++) {
        const float *row = c->qkv + n * C, *cr = c->cs + n * half, *sr = c->sn + n * half;
        rotate(row, c->q + n * Cq, c->H, c->D, cr, sr);
        rotate(row + Cq, c->k + n * Ck, c->Hkv, c->D, cr, sr);
        for (int64_t i = 0; i < Ck; i++) c->v[n * Ck + i] = row[Cq + Ck + i];
    }
}

wm_status wm_qkv_rope_split_cpu(wm_backend *be, const wm_tensor *qkv, const wm_tensor *cos, const wm_tensor *sin,
                                int n_heads, int n_kv_heads, wm_tensor *q, wm_tensor *k, wm_tensor *v)
{
    WM_CPU_F32(be, qkv);
    WM_CPU_F32(be, cos);
    WM_CPU_F32(be, sin);
    WM_CPU_F32(be, q);
    WM_CPU_F32(be, k);
    WM_CPU_F32(be, v);
    WM_TRY(wm_qkv_rope_split_shape(be, qkv, cos, sin, n_heads, n_kv_heads, q, k, v));
    int64_t D = wm_tensor_cols(qkv) / ((int64_t)n_heads + 2 * (int64_t)n_kv_heads);
    qkv_ctx c = {qkv->data, cos->data, sin->data, q->data, k->data, v->data, n_heads, n_kv_heads, D};
    wm_threadpool_run(be->pool, wm_tensor_rows(qkv), 8, qkv_rows, &c);
    return WM_OK;
}
