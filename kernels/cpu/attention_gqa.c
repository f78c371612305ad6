/* Causal GQA attention reference for Gemma-2: soft-capped logits, key padding mask, sliding window.
 * One (query, head) per work item; scores of the visible keys (at most N) are formed in double, capped,
 * exponentiated against their maximum and accumulated in double, so the oracle is well above fp32
 * accuracy. Visible keys of query i: j in [max(0, i - window + 1), i] with key_mask[j] != 0.
 * q, o (N, H*D); k, v (N, Hkv*D); query head h uses kv head h / (H / Hkv) (HF repeat_kv order).
 */
#include "cpu_common.h"
#include "kernels/text_shapes.h"

#include <stdlib.h>

#define WM_ATTN_GQA_MAX_D 512

typedef struct {
    const float *q, *k, *v;
    const uint8_t *mask;
    float *o;
    int64_t N, H, Hkv, D;
    double scale, softcap;
    int window;
} gqa_ctx;

static void gqa_items(void *p, int64_t i0, int64_t i1)
{
    const gqa_ctx *c = p;
    double acc[WM_ATTN_GQA_MAX_D];
    double *s = malloc(sizeof(double) * (size_t)c->N);
    int64_t Cq = c->H * c->D, Ck = c->Hkv * c->D, group = c->H / c->Hkv;
    for (int64_t it = i0; it < i1; it++) {
        int64_t i = it / c->H, h = it % c->H, hk = h / group;
        int64_t lo = c->window > 0 && i - c->window + 1 > 0 ? i - c->window + 1 : 0;
        const float *qv = c->q + i * Cq + h * c->D;
        double m = -INFINITY, l = 0;
        for (int64_t j = lo; j <= i; j++) {
            s[j] = -INFINITY;
            if (c->mask && !c->mask[j]) continue;
            const float *kv = c->k + j * Ck + hk * c->D;
            double d = 0;
            for (int64_t t = 0; t < c->D; t++) d += (double)qv[t] * kv[t];
            d *= c->scale;
            if (c->softcap > 0) d = c->softcap * tanh(d / c->softcap);
            s[j] = d;
            if (d > m) m = d;
        }
        for (int64_t t = 0; t < c->D; t++) acc[t] = 0;
        for (int64_t j = lo; j <= i && m > -INFINITY; j++) {
            if (s[j] == -INFINITY) continue;
            double pj = exp(s[j] - m);
            l += pj;
            const float *vv = c->v + j * Ck + hk * c->D;
            for (int64_t t = 0; t < c->D; t++) acc[t] += pj * vv[t];
        }
        float *ov = c->o + i * Cq + h * c->D;
        for (int64_t t = 0; t < c->D; t++) ov[t] = l > 0 ? (float)(acc[t] / l) : 0.0f;
    }
    free(s);
}

wm_status wm_attention_gqa_cpu(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                               const wm_tensor *key_mask, int n_heads, int n_kv_heads, float scale, float softcap,
                               int window, wm_tensor *o)
{
    WM_CPU_F32(be, q);
    WM_CPU_F32(be, k);
    WM_CPU_F32(be, v);
    WM_CPU_F32(be, o);
    WM_TRY(wm_attention_gqa_shape(be, q, k, v, key_mask, n_heads, n_kv_heads, o));
    int64_t N = wm_tensor_rows(q), D = wm_tensor_cols(q) / n_heads;
    WM_OP_CHECK(be, D <= WM_ATTN_GQA_MAX_D, WM_ERR_UNSUPPORTED, "head dim above 512"); /* this reference's buffer */
    if (key_mask) WM_OP_CHECK(be, key_mask->device == WM_DEVICE_CPU, WM_ERR_DTYPE, "key_mask must be a host tensor");
    gqa_ctx c = {q->data, k->data, v->data, key_mask ? key_mask->data : NULL, o->data, N, n_heads, n_kv_heads, D,
                 scale, softcap, window};
    wm_threadpool_run(be->pool, N * n_heads, 4, gqa_items, &c);
    return WM_OK;
}
