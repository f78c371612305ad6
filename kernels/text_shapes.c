/* Shared shape contracts of the text ops (see text_shapes.h). */
#include "kernels/text_shapes.h"

wm_status wm_rope_half_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                             int n_heads, const wm_tensor *y)
{
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0 && (C / n_heads) % 2 == 0, WM_ERR_SHAPE,
                "channels must split into n_heads heads of even size");
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C, WM_ERR_SHAPE, "y must have x's shape");
    WM_OP_CHECK(be, x->data != y->data || x->dtype == y->dtype, WM_ERR_DTYPE, "in-place needs x and y of one dtype");
    int64_t half = C / n_heads / 2;
    WM_OP_CHECK(be, wm_tensor_numel(cos) == N * half && wm_tensor_numel(sin) == N * half, WM_ERR_SHAPE,
                "cos and sin must be (N, head_dim/2)");
    return WM_OK;
}

wm_status wm_attention_gqa_shape(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                                 const wm_tensor *key_mask, int n_heads, int n_kv_heads, const wm_tensor *o)
{
    int64_t N = wm_tensor_rows(q), Cq = wm_tensor_cols(q);
    WM_OP_CHECK(be, n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && Cq % n_heads == 0, WM_ERR_SHAPE,
                "n_heads must be a multiple of n_kv_heads and split the channels");
    int64_t D = Cq / n_heads;
    WM_OP_CHECK(be, wm_tensor_rows(k) == N && wm_tensor_rows(v) == N && wm_tensor_cols(k) == n_kv_heads * D &&
                        wm_tensor_cols(v) == n_kv_heads * D,
                WM_ERR_SHAPE, "k and v must be (N, n_kv_heads*D)");
    WM_OP_CHECK(be, wm_tensor_numel(o) == N * Cq, WM_ERR_SHAPE, "o must be (N, H*D)");
    WM_OP_CHECK(be, o->data != q->data && o->data != k->data && o->data != v->data, WM_ERR_INVALID_ARG,
                "o may not alias q, k or v");
    if (key_mask) {
        WM_OP_CHECK(be, key_mask->dtype == WM_U8 || key_mask->dtype == WM_BOOL, WM_ERR_DTYPE, "key_mask must be uint8");
        WM_OP_CHECK(be, wm_tensor_numel(key_mask) == N, WM_ERR_SHAPE, "key_mask must have N elements");
    }
    return WM_OK;
}

wm_status wm_embed_rows_shape(wm_backend *be, const wm_tensor *table, const wm_tensor *ids, const wm_tensor *x)
{
    WM_OP_CHECK(be, ids->dtype == WM_I32, WM_ERR_DTYPE, "ids must be int32");
    int64_t T = wm_tensor_numel(ids), C = wm_tensor_cols(table);
    WM_OP_CHECK(be, table->ndim == 2 && C > 0, WM_ERR_SHAPE, "table must be (R, C)");
    WM_OP_CHECK(be, wm_tensor_rows(x) == T && wm_tensor_cols(x) == C, WM_ERR_SHAPE, "x must be (T, C)");
    WM_OP_CHECK(be, x->data != table->data && x->data != ids->data, WM_ERR_INVALID_ARG, "x may not alias its inputs");
    return WM_OK;
}

wm_status wm_qkv_rope_split_shape(wm_backend *be, const wm_tensor *qkv, const wm_tensor *cos, const wm_tensor *sin,
                                  int n_heads, int n_kv_heads, const wm_tensor *q, const wm_tensor *k,
                                  const wm_tensor *v)
{
    int64_t N = wm_tensor_rows(qkv), C = wm_tensor_cols(qkv);
    int64_t parts = (int64_t)n_heads + 2 * (int64_t)n_kv_heads;
    WM_OP_CHECK(be, n_heads > 0 && n_kv_heads > 0 && C % parts == 0 && (C / parts) % 2 == 0, WM_ERR_SHAPE,
                "qkv must be (N, (H + 2 Hkv) D) with an even head dim D");
    int64_t D = C / parts, half = D / 2;
    WM_OP_CHECK(be, wm_tensor_rows(q) == N && wm_tensor_cols(q) == n_heads * D, WM_ERR_SHAPE, "q must be (N, H*D)");
    WM_OP_CHECK(be, wm_tensor_rows(k) == N && wm_tensor_cols(k) == n_kv_heads * D && wm_tensor_rows(v) == N &&
                        wm_tensor_cols(v) == n_kv_heads * D,
                WM_ERR_SHAPE, "k and v must be (N, Hkv*D)");
    WM_OP_CHECK(be, wm_tensor_numel(cos) == N * half && wm_tensor_numel(sin) == N * half, WM_ERR_SHAPE,
                "cos and sin must be (N, D/2)");
    WM_OP_CHECK(be, q->data != qkv->data && k->data != qkv->data && v->data != qkv->data && q->data != k->data &&
                        q->data != v->data && k->data != v->data,
                WM_ERR_INVALID_ARG, "q, k, v may not alias each other or qkv");
    return WM_OK;
}

wm_status wm_gelu_mul_shape(wm_backend *be, const wm_tensor *gu, const wm_tensor *f)
{
    int64_t N = wm_tensor_rows(gu), F2 = wm_tensor_cols(gu);
    WM_OP_CHECK(be, F2 % 2 == 0 && F2 > 0, WM_ERR_SHAPE, "gu must be (N, 2F)");
    WM_OP_CHECK(be, wm_tensor_rows(f) == N && wm_tensor_cols(f) == F2 / 2, WM_ERR_SHAPE, "f must be (N, F)");
    WM_OP_CHECK(be, f->data != gu->data, WM_ERR_INVALID_ARG, "f may not alias gu");
    return WM_OK;
}

wm_status wm_norm_add_norm_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *a, const wm_tensor *w1,
                                 const wm_tensor *w2, const wm_tensor *y)
{
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, C > 0 && wm_tensor_rows(a) == N && wm_tensor_cols(a) == C && wm_tensor_rows(y) == N &&
                        wm_tensor_cols(y) == C,
                WM_ERR_SHAPE, "x, a and y must all be (N, C)");
    WM_OP_CHECK(be, wm_tensor_numel(w1) == C && wm_tensor_numel(w2) == C, WM_ERR_SHAPE, "w1 and w2 must have C elements");
    WM_OP_CHECK(be, x->data != a->data && x->data != y->data, WM_ERR_INVALID_ARG, "x may not alias a or y");
    return WM_OK;
}
