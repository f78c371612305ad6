/* Softmax attention reference, one (query, head) per work item with an online softmax (running max and
 * sum), so no score buffer is allocated whatever the key count (the bidirectional 60 s case has 106,480
 * keys). Accumulation in double keeps the oracle well above fp32 accuracy.
 * q (Nq, H*D), k/v (Nk, H*D), o (Nq, H*D); key_mask (Nk) nonzero = attend. */
#include "cpu_common.h"

#define WM_ATTN_MAX_D 512

typedef struct {
    const float *q, *k, *v;
    const uint8_t *mask;
    float *o;
    int64_t Nk, H, D, C;
    float scale;
} attn_ctx;

static void attn_items(void *p, int64_t i0, int64_t i1)
{
    const attn_ctx *c = p;
    double acc[WM_ATTN_MAX_D];
    for (int64_t it = i0; it < i1; it++) {
        int64_t n = it / c->H, h = it % c->H;
        const float *qv = c->q + n * c->C + h * c->D;
        double m = -INFINITY, l = 0;
        for (int64_t d = 0; d < c->D; d++) acc[d] = 0;
        for (int64_t j = 0; j < c->Nk; j++) {
            if (c->mask && !c->mask[j]) continue;
            const float *kv = c->k + j * c->C + h * c->D;
            double s = 0;
            for (int64_t d = 0; d < c->D; d++) s += (double)qv[d] * kv[d];
            s *= c->scale;
            if (s > m) {
                double corr = exp(m - s);
                l *= corr;
                for (int64_t d = 0; d < c->D; d++) acc[d] *= corr;
                m = s;
            }
            double pj = exp(s - m);
            l += pj;
            const float *vv = c->v + j * c->C + h * c->D;
            for (int64_t d = 0; d < c->D; d++) acc[d] += pj * vv[d];
        }
        float *ov = c->o + n * c->C + h * c->D;
        for (int64_t d = 0; d < c->D; d++) ov[d] = l > 0 ? (float)(acc[d] / l) : 0.0f; /* all keys masked: 0 */
    }
}

wm_status wm_attention_cpu(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                           const wm_tensor *key_mask, int n_heads, float scale, wm_tensor *o)
{
    WM_CPU_F32(be, q);
    WM_CPU_F32(be, k);
    WM_CPU_F32(be, v);
    WM_CPU_F32(be, o);
    int64_t C = wm_tensor_cols(q), Nq = wm_tensor_rows(q), Nk = wm_tensor_rows(k);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0, WM_ERR_SHAPE, "channels must split into n_heads");
    WM_OP_CHECK(be, C / n_heads <= WM_ATTN_MAX_D, WM_ERR_UNSUPPORTED, "head dim above 512");
    WM_OP_CHECK(be, wm_tensor_cols(k) == C && wm_tensor_cols(v) == C && wm_tensor_rows(v) == Nk, WM_ERR_SHAPE,
                "k and v must be (Nk, C)");
    WM_OP_CHECK(be, wm_tensor_numel(o) == Nq * C, WM_ERR_SHAPE, "o must be (Nq, C)");
    if (key_mask) {
        WM_OP_CHECK(be, key_mask->dtype == WM_U8 || key_mask->dtype == WM_BOOL || key_mask->dtype == WM_I8,
                    WM_ERR_DTYPE, "key_mask must be uint8/bool");
        WM_OP_CHECK(be, wm_tensor_numel(key_mask) == Nk, WM_ERR_SHAPE, "key_mask must have Nk elements");
    }
    attn_ctx c = {q->data, k->data, v->data, key_mask ? key_mask->data : NULL, o->data, Nk, n_heads, C / n_heads,
                  C, scale};
    wm_threadpool_run(be->pool, Nq * n_heads, 1, attn_items, &c);
    return WM_OK;
}
