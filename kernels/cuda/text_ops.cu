/* Gemma-2 text-encoder ops on CUDA (kernels/ops_text.def): rotate-half RoPE, causal grouped-query
 * attention with logit soft-capping, key mask and sliding window, and the scaled embedding lookup.
 * Shape contracts are shared with the CPU references (kernels/text_shapes.c); this file checks only
 * dtypes, devices and the kernels' own limits.
 *
 * attention_gqa runs on tensor cores (text_attn.cu) when all tensors are bf16 with head dim 16/32/64/256
 * and the backend was not created with WM_CUDA_TEXT_ATTN=old; otherwise on the warp-per-query kernel
 * here. The text encoder runs once per prompt on ~300 tokens, so the kernels of this file are written for
 * exactness and simplicity rather than tensor cores:
 *   - rope_half: one thread per rotated pair (token, head, i < D/2); it reads x[i] and x[i + D/2] before
 *     writing both, so y may alias x.
 *   - attention_gqa: one warp per (query, head), lanes striding the head dim (lane + 32e, so a warp's
 *     loads of a key row are contiguous), a warp-shuffle dot product per visible key and an online
 *     softmax in fp32 (running max m, sum l, rescaled accumulator), all in registers. Keys outside
 *     [i - window + 1, i] are never visited; masked keys are skipped; a query with no visible key
 *     writes zeros, as the CPU reference does. 8 warps per block are 8 consecutive queries of one head,
 *     so their key/value rows are shared through L1. Soft-capping uses the precise tanhf.
 * Tensors may be fp32 or bf16 each (grid-uniform flags); arithmetic is fp32.
 */
#include "cuda_common.cuh"
#include "kernels/text_shapes.h"

__device__ __forceinline__ float tld(const void *p, int bf, int64_t i)
{
    return bf ? __bfloat162float(((const bf16 *)p)[i]) : ((const float *)p)[i];
}
__device__ __forceinline__ void tst(void *p, int bf, int64_t i, float v)
{
    if (bf) ((bf16 *)p)[i] = __float2bfloat16(v);
    else ((float *)p)[i] = v;
}
#define BF(t) ((t)->dtype == WM_BF16)

__global__ void rope_half_kernel(const void *x, int xb, const float *cs, const float *sn, void *y, int yb, int64_t N,
                                 int64_t H, int64_t half)
{
    int64_t total = N * H * half;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = t % half, r = t / half, h = r % H, n = r / H;
        int64_t d = n * H * 2 * half + h * 2 * half + i;
        float a = tld(x, xb, d), b = tld(x, xb, d + half), c = cs[n * half + i], s = sn[n * half + i];
        tst(y, yb, d, a * c - b * s);
        tst(y, yb, d + half, b * c + a * s);
    }
}

extern "C" wm_status wm_rope_half_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                                       int n_heads, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    WM_CUDA_DEV(be, cos);
    WM_CUDA_DEV(be, sin);
    WM_OP_CHECK(be, cos->dtype == WM_F32 && sin->dtype == WM_F32, WM_ERR_DTYPE, "cos and sin must be fp32");
    WM_TRY(wm_rope_half_shape(be, x, cos, sin, n_heads, y));
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x), half = C / n_heads / 2;
    int64_t total = N * n_heads * half;
    if (total == 0) return WM_OK;
    rope_half_kernel<<<wm_grid1d(total, 256, 1 << 20), 256, 0, wm__cuda_stream(be)>>>(
        x->data, BF(x), (const float *)cos->data, (const float *)sin->data, y->data, BF(y), N, n_heads, half);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm__text_gqa_flash(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                                        const wm_tensor *key_mask, int n_heads, int n_kv_heads, float scale,
                                        float softcap, int window, wm_tensor *o, int *used);

#define GQA_WARPS 8
#define GQA_MAX_E 16 /* head dim up to 32 * 16 = 512, like the CPU reference */

typedef struct {
    const void *q, *k, *v;
    const uint8_t *mask;
    void *o;
    int qb, kb, vb, ob;
    int N, H, Hkv, D, window;
    float scale, softcap;
} gqa_args;

__global__ void __launch_bounds__(GQA_WARPS * 32) gqa_kernel(gqa_args a)
{
    int lane = threadIdx.x & 31, h = blockIdx.y;
    int i = blockIdx.x * GQA_WARPS + (threadIdx.x >> 5);
    if (i >= a.N) return;
    int hk = h / (a.H / a.Hkv);
    int64_t Cq = (int64_t)a.H * a.D, Ck = (int64_t)a.Hkv * a.D;
    float qv[GQA_MAX_E], acc[GQA_MAX_E];
#pragma unroll
    for (int e = 0; e < GQA_MAX_E; e++) {
        int d = lane + 32 * e;
        qv[e] = d < a.D ? tld(a.q, a.qb, i * Cq + (int64_t)h * a.D + d) : 0.0f;
        acc[e] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int lo = a.window > 0 && i - a.window + 1 > 0 ? i - a.window + 1 : 0;
    for (int j = lo; j <= i; j++) {
        if (a.mask && !a.mask[j]) continue; /* uniform across the warp */
        const int64_t kr = j * Ck + (int64_t)hk * a.D;
        float s = 0.0f;
#pragma unroll
        for (int e = 0; e < GQA_MAX_E; e++) {
            int d = lane + 32 * e;
            if (d < a.D) s += qv[e] * tld(a.k, a.kb, kr + d);
        }
        for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        s *= a.scale;
        if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
        float mn = fmaxf(m, s), corr = expf(m - mn), p = expf(s - mn); /* expf(-inf) = 0 on the first key */
        l = l * corr + p;
#pragma unroll
        for (int e = 0; e < GQA_MAX_E; e++) {
            int d = lane + 32 * e;
            if (d < a.D) acc[e] = acc[e] * corr + p * tld(a.v, a.vb, kr + d);
        }
        m = mn;
    }
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int e = 0; e < GQA_MAX_E; e++) {
        int d = lane + 32 * e;
        if (d < a.D) tst(a.o, a.ob, i * Cq + (int64_t)h * a.D + d, acc[e] * inv);
    }
}

extern "C" wm_status wm_attention_gqa_cuda(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                                           const wm_tensor *key_mask, int n_heads, int n_kv_heads, float scale,
                                           float softcap, int window, wm_tensor *o)
{
    WM_CUDA_FLOAT(be, q);
    WM_CUDA_FLOAT(be, k);
    WM_CUDA_FLOAT(be, v);
    WM_CUDA_FLOAT(be, o);
    if (key_mask) WM_CUDA_DEV(be, key_mask);
    WM_TRY(wm_attention_gqa_shape(be, q, k, v, key_mask, n_heads, n_kv_heads, o));
    int64_t N = wm_tensor_rows(q), Cq = wm_tensor_cols(q), D = Cq / n_heads;
    WM_OP_CHECK(be, D <= 32 * GQA_MAX_E, WM_ERR_UNSUPPORTED, "head dim above 512"); /* the kernels' registers */
    WM_OP_CHECK(be, N < (1LL << 30) && n_heads <= 65535, WM_ERR_LIMIT, "too many tokens or heads");
    if (N == 0) return WM_OK;
    if (!wm__cuda_ctx(be)->text_attn_old) { /* tensor-core kernel where it applies (text_attn.cu) */
        int used = 0;
        WM_TRY(wm__text_gqa_flash(be, q, k, v, key_mask, n_heads, n_kv_heads, scale, softcap, window, o, &used));
        if (used) return WM_OK;
    }
    gqa_args a = {q->data, k->data, v->data, key_mask ? (const uint8_t *)key_mask->data : NULL, o->data,
                  BF(q), BF(k), BF(v), BF(o), (int)N, n_heads, n_kv_heads, (int)D, window, scale, softcap};
    dim3 grid((unsigned)((N + GQA_WARPS - 1) / GQA_WARPS), (unsigned)n_heads);
    gqa_kernel<<<grid, GQA_WARPS * 32, 0, wm__cuda_stream(be)>>>(a);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* x[t, :] = table[ids[t], :] * scale: one thread per element (T * C is ~0.7 M at the real size, a few
 * microseconds); the id is read once per element from L1. Out-of-range ids give zero rows. */
__global__ void embed_rows_kernel(const void *table, int tb, const int32_t *ids, float scale, void *x, int xb,
                                  int64_t R, int64_t C, int64_t total)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = e / C, i = e - t * C, id = ids[t];
        float val = id >= 0 && id < R ? __fmul_rn(tld(table, tb, id * C + i), scale) : 0.0f; /* no FMA contraction */
        tst(x, xb, e, val);
    }
}

extern "C" wm_status wm_embed_rows_cuda(wm_backend *be, const wm_tensor *table, const wm_tensor *ids, float scale,
                                        wm_tensor *x)
{
    WM_CUDA_FLOAT(be, table);
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_DEV(be, ids);
    WM_TRY(wm_embed_rows_shape(be, table, ids, x));
    int64_t C = wm_tensor_cols(table), total = wm_tensor_numel(x);
    if (total == 0) return WM_OK;
    embed_rows_kernel<<<wm_grid1d(total, 256, 1 << 20), 256, 0, wm__cuda_stream(be)>>>(
        table->data, BF(table), (const int32_t *)ids->data, scale, x->data, BF(x), wm_tensor_rows(table), C, total);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* qkv_rope_split: one thread per element of a qkv row (N * (H + 2 Hkv) * D threads, ~1.2 M at the real
 * size): q and k elements are rotated from their pair partner (d +- D/2) with the token's cos/sin, as
 * rope_half does; v elements are copied. Reads are coalesced along the row. */
__global__ void qkv_rope_split_kernel(const void *qkv, int ib, const float *cs, const float *sn, void *q, void *k,
                                      void *v, int ob, int64_t Cq, int64_t Ck, int64_t D, int64_t total)
{
    const int64_t C = Cq + 2 * Ck, half = D / 2;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = e / C, c = e - n * C;
        float x = tld(qkv, ib, e);
        if (c >= Cq + Ck) {
            tst(v, ob, n * Ck + (c - Cq - Ck), x);
            continue;
        }
        int64_t local = c < Cq ? c : c - Cq, d = local % D, i = d < half ? d : d - half;
        float cv = cs[n * half + i], sv = sn[n * half + i];
        float y = d < half ? x * cv - tld(qkv, ib, e + half) * sv : x * cv + tld(qkv, ib, e - half) * sv;
        if (c < Cq) tst(q, ob, n * Cq + local, y);
        else tst(k, ob, n * Ck + local, y);
    }
}

extern "C" wm_status wm_qkv_rope_split_cuda(wm_backend *be, const wm_tensor *qkv, const wm_tensor *cos,
                                            const wm_tensor *sin, int n_heads, int n_kv_heads, wm_tensor *q,
                                            wm_tensor *k, wm_tensor *v)
{
    WM_CUDA_FLOAT(be, qkv);
    WM_CUDA_FLOAT(be, q);
    WM_CUDA_FLOAT(be, k);
    WM_CUDA_FLOAT(be, v);
    WM_CUDA_DEV(be, cos);
    WM_CUDA_DEV(be, sin);
    WM_OP_CHECK(be, cos->dtype == WM_F32 && sin->dtype == WM_F32, WM_ERR_DTYPE, "cos and sin must be fp32");
    WM_OP_CHECK(be, q->dtype == k->dtype && q->dtype == v->dtype, WM_ERR_DTYPE, "q, k and v must share a dtype");
    WM_TRY(wm_qkv_rope_split_shape(be, qkv, cos, sin, n_heads, n_kv_heads, q, k, v));
    int64_t D = wm_tensor_cols(qkv) / ((int64_t)n_heads + 2 * (int64_t)n_kv_heads), total = wm_tensor_numel(qkv);
    if (total == 0) return WM_OK;
    qkv_rope_split_kernel<<<wm_grid1d(total, 256, 1 << 20), 256, 0, wm__cuda_stream(be)>>>(
        qkv->data, BF(qkv), (const float *)cos->data, (const float *)sin->data, q->data, k->data, v->data, BF(q),
        (int64_t)n_heads * D, (int64_t)n_kv_heads * D, D, total);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* gelu_mul: one thread per output element, f = gelu_tanh(gate) * up in fp32; ~2.8 M elements at the real
 * size, bandwidth-bound (~6 us). tanh is computed as 1 - 2 / (exp(2z) + 1): under --use_fast_math the
 * library tanhf was ~1e-6 off near saturation (|z| ~ 4..9), which a large up value turned into 4.4e-5 at
 * a near-zero output (the one fp32 parity failure of the 14:32 run); this form is exact to ~1e-7 there
 * and saturates cleanly (exp -> 0 gives -1, exp -> inf gives 1). */
__device__ __forceinline__ float gelu_tanh_acc(float x)
{
    float z = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    float t = 1.0f - 2.0f / (__expf(2.0f * z) + 1.0f);
    return 0.5f * x * (1.0f + t);
}

__global__ void gelu_mul_kernel(const void *gu, int gb, void *f, int fb, int64_t F, int64_t total)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = e / F, i = e - n * F;
        float g = tld(gu, gb, n * 2 * F + i), u = tld(gu, gb, n * 2 * F + F + i);
        tst(f, fb, e, gelu_tanh_acc(g) * u);
    }
}

extern "C" wm_status wm_gelu_mul_cuda(wm_backend *be, const wm_tensor *gu, wm_tensor *f)
{
    WM_CUDA_FLOAT(be, gu);
    WM_CUDA_FLOAT(be, f);
    WM_TRY(wm_gelu_mul_shape(be, gu, f));
    int64_t total = wm_tensor_numel(f);
    if (total == 0) return WM_OK;
    gelu_mul_kernel<<<wm_grid1d(total, 256, 1 << 20), 256, 0, wm__cuda_stream(be)>>>(gu->data, BF(gu), f->data, BF(f),
                                                                                     wm_tensor_cols(f), total);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* norm_add_norm: one block of 256 threads per row (C = 2304: 9 strided elements per thread, coalesced),
 * two block reductions. The normalised a is rounded to a's dtype and the new x to x's dtype exactly where
 * the separate ops store them (rmsnorm -> a, gated_add -> x), so the fused form differs from them only
 * in the order of the fp32 sums of squares. Each thread reads and writes only its own columns, so y may
 * alias a. */
#define NAN_THREADS 256

__device__ __forceinline__ float round_as(int bf, float v) { return bf ? __bfloat162float(__float2bfloat16(v)) : v; }

__global__ void __launch_bounds__(NAN_THREADS)
    norm_add_norm_kernel(void *x, int xb, const void *a, int ab, const void *w1, int w1b, const void *w2, int w2b,
                         void *y, int yb, int64_t C, float eps)
{
    __shared__ float red[32];
    const int64_t r0 = (int64_t)blockIdx.x * C;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < C; i += NAN_THREADS) {
        float v = tld(a, ab, r0 + i);
        ss += v * v;
    }
    float inv = rsqrtf(wm_block_sum(ss, red) / (float)C + eps);
    ss = 0.0f;
    for (int64_t i = threadIdx.x; i < C; i += NAN_THREADS) {
        float t = round_as(ab, tld(a, ab, r0 + i) * inv * wm_ldp(w1, w1b, i));
        float xn = round_as(xb, tld(x, xb, r0 + i) + t);
        tst(x, xb, r0 + i, xn);
        ss += xn * xn;
    }
    inv = rsqrtf(wm_block_sum(ss, red) / (float)C + eps);
    for (int64_t i = threadIdx.x; i < C; i += NAN_THREADS)
        tst(y, yb, r0 + i, tld(x, xb, r0 + i) * inv * wm_ldp(w2, w2b, i));
}

extern "C" wm_status wm_norm_add_norm_cuda(wm_backend *be, wm_tensor *x, const wm_tensor *a, const wm_tensor *w1,
                                           const wm_tensor *w2, float eps, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, a);
    WM_CUDA_FLOAT(be, w1);
    WM_CUDA_FLOAT(be, w2);
    WM_CUDA_FLOAT(be, y);
    WM_TRY(wm_norm_add_norm_shape(be, x, a, w1, w2, y));
    WM_OP_CHECK(be, a->data != y->data || a->dtype == y->dtype, WM_ERR_DTYPE, "y aliasing a needs one dtype");
    int64_t N = wm_tensor_rows(x);
    WM_OP_CHECK(be, N < (1LL << 31), WM_ERR_LIMIT, "more than 2^31 rows");
    if (N == 0) return WM_OK;
    norm_add_norm_kernel<<<(unsigned)N, NAN_THREADS, 0, wm__cuda_stream(be)>>>(
        x->data, BF(x), a->data, BF(a), w1->data, BF(w1), w2->data, BF(w2), y->data, BF(y), wm_tensor_cols(x), eps);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
