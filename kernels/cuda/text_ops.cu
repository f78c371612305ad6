/* Gemma-2 text-encoder ops on CUDA (kernels/ops_text.def): rotate-half RoPE and causal grouped-query
 * attention with logit soft-capping, key mask and sliding window.
 *
 * The text encoder runs once per prompt on ~300 tokens (8 query heads, 4 kv heads, head dim 256 at the
 * real config), so these kernels are written for exactness and simplicity rather than tensor cores:
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
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0 && (C / n_heads) % 2 == 0, WM_ERR_SHAPE,
                "channels must split into n_heads heads of even size");
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C, WM_ERR_SHAPE, "y must have x's shape");
    WM_OP_CHECK(be, x->data != y->data || x->dtype == y->dtype, WM_ERR_DTYPE, "in-place needs x and y of one dtype");
    int64_t half = C / n_heads / 2;
    WM_OP_CHECK(be, wm_tensor_numel(cos) == N * half && wm_tensor_numel(sin) == N * half, WM_ERR_SHAPE,
                "cos and sin must be (N, head_dim/2)");
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
    int64_t N = wm_tensor_rows(q), Cq = wm_tensor_cols(q);
    WM_OP_CHECK(be, n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && Cq % n_heads == 0, WM_ERR_SHAPE,
                "n_heads must be a multiple of n_kv_heads and split the channels");
    int64_t D = Cq / n_heads;
    WM_OP_CHECK(be, D <= 32 * GQA_MAX_E, WM_ERR_UNSUPPORTED, "head dim above 512");
    WM_OP_CHECK(be, N < (1LL << 30) && n_heads <= 65535, WM_ERR_LIMIT, "too many tokens or heads");
    WM_OP_CHECK(be, wm_tensor_rows(k) == N && wm_tensor_rows(v) == N && wm_tensor_cols(k) == n_kv_heads * D &&
                        wm_tensor_cols(v) == n_kv_heads * D,
                WM_ERR_SHAPE, "k and v must be (N, n_kv_heads*D)");
    WM_OP_CHECK(be, wm_tensor_numel(o) == N * Cq, WM_ERR_SHAPE, "o must be (N, H*D)");
    WM_OP_CHECK(be, o->data != q->data && o->data != k->data && o->data != v->data, WM_ERR_INVALID_ARG,
                "o may not alias q, k or v");
    if (key_mask) {
        WM_CUDA_DEV(be, key_mask);
        WM_OP_CHECK(be, key_mask->dtype == WM_U8 || key_mask->dtype == WM_BOOL, WM_ERR_DTYPE, "key_mask must be uint8");
        WM_OP_CHECK(be, wm_tensor_numel(key_mask) == N, WM_ERR_SHAPE, "key_mask must have N elements");
    }
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
