/* Softmax attention on CUDA: a flash-attention kernel (online softmax, no score matrix in memory) on bf16
 * tensor cores for head dims 64/112/128, and a simple warp-per-query kernel for every other case
 * (fp32 tensors, other head dims) so the op is total.
 *
 * Tensor-core kernel (FlashAttention-2 scheme with mma.sync m16n8k16, bf16 in, fp32 accumulate):
 *   - block = 4 warps = 64 queries of one head; each warp owns 16 query rows for the whole key loop,
 *     so the softmax statistics (row max m, row sum l) never leave registers;
 *   - keys/values stream through shared memory in tiles of 64 rows, double-buffered with cp.async so
 *     the next tile loads while the current one is multiplied; rows past Nk are zero-filled and masked;
 *   - S = Q K^T comes out in the m16n8 accumulator layout, which is exactly the A-operand layout of the
 *     next mma, so P = exp(S - m) goes from registers into P.V without touching shared memory;
 *     V is fed through ldmatrix.trans (its rows are keys, the mma wants key pairs per register);
 *   - head dim 112 is used as is (7 k-steps of 16), no padding to 128: the scale is passed in
 *     (1/sqrt(112) for SANA-WM, spec §3.8) and the softmax runs in the exp2 domain with it folded in;
 *   - shared rows are padded by 8 bf16 (16 bytes) so ldmatrix's 8 row addresses hit distinct banks.
 * This kernel is the fallback and the WM_CUDA_ATTN=mma choice: bf16 with head dim 64/112/128 goes first to
 * the sm_90a wgmma kernel (attention_wgmma.cu) when its image is the one loaded.
 * Fully masked rows give 0, as the CPU reference does.
 */
#include "cuda_common.cuh"
#include "mma.cuh"

#include <math.h>

/* The sm_90a wgmma kernel (attention_wgmma.cu): WM_ERR_UNSUPPORTED = not applicable, use the ones here. */
extern "C" wm_status wm__attention_wgmma(wm_backend *be, const void *q, const void *k, const void *v,
                                         const uint8_t *mask, void *o, int H, int D, int Nq, int Nk, int ld,
                                         float scale);

#define FA_BM 64
#define FA_BN 64
#define FA_THREADS 128
/* 3 blocks (12 warps) per SM: 62 KB of shared memory each (the Q tile lives in the second K buffer until
 * its fragments are in registers) and at most 170 registers per thread. */
#define FA_MIN_BLOCKS 3

template <int D> static constexpr size_t fa_smem_bytes()
{
    return (size_t)(4 * FA_BN) * (D + 8) * sizeof(bf16) + 2 * FA_BN * sizeof(float);
}

/* Issue the cp.async loads of key/value tile t into buffer buf, and its additive mask (0 or -inf). */
template <int D>
__device__ __forceinline__ void fa_load_kv(const bf16 *kh, const bf16 *vh, const uint8_t *mask, bf16 *Ks, bf16 *Vs,
                                           float *Mb, int t, int buf, int Nk, int ld)
{
    constexpr int DP = D + 8, CH = D / 8;
    int k0 = t * FA_BN;
    for (int c = threadIdx.x; c < FA_BN * CH; c += FA_THREADS) {
        int r = c / CH, cc = c - r * CH, gr = k0 + r;
        int ok = gr < Nk;
        int64_t off = (int64_t)(ok ? gr : 0) * ld + cc * 8;
        cp_async16(Ks + (buf * FA_BN + r) * DP + cc * 8, kh + off, ok ? 16 : 0);
        cp_async16(Vs + (buf * FA_BN + r) * DP + cc * 8, vh + off, ok ? 16 : 0);
    }
    if (threadIdx.x < FA_BN) {
        int gr = k0 + threadIdx.x;
        int ok = gr < Nk && (!mask || mask[gr]);
        Mb[buf * FA_BN + threadIdx.x] = ok ? 0.0f : -INFINITY;
    }
}

/* One key tile: S = Q K^T (16 x 64 per warp), online-softmax update, O += P V. */
template <int D>
__device__ __forceinline__ void fa_tile(const uint32_t (*qf)[4], const bf16 *Kb, const bf16 *Vb, const float *Mb,
                                        float (*acc)[4], float *mrow, float *lrow, float scale_log2)
{
    constexpr int DP = D + 8, KS = D / 16, NT = D / 8;
    const int lane = threadIdx.x & 31;
    float s[8][4];
#pragma unroll
    for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < KS; ks++) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint32_t b[4];
            int key = 16 * j + (lane & 7) + ((lane >> 4) << 3), dim = ks * 16 + ((lane >> 3) & 1) * 8;
            ldsm_x4(b, Kb + key * DP + dim);
            mma_bf16(s[2 * j], qf[ks], b[0], b[1]);
            mma_bf16(s[2 * j + 1], qf[ks], b[2], b[3]);
        }
    }
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < 8; n++) {
        int col = 8 * n + 2 * (lane & 3);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            s[n][e] = s[n][e] * scale_log2 + Mb[col + (e & 1)];
            mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
        }
    }
    mma_online_softmax<NT, 8>(mx, mrow, lrow, acc, s);
#pragma unroll
    for (int t2 = 0; t2 < 4; t2++) {
        uint32_t a[4] = {pack_bf16(s[2 * t2][0], s[2 * t2][1]), pack_bf16(s[2 * t2][2], s[2 * t2][3]),
                         pack_bf16(s[2 * t2 + 1][0], s[2 * t2 + 1][1]), pack_bf16(s[2 * t2 + 1][2], s[2 * t2 + 1][3])};
#pragma unroll
        for (int dp = 0; dp < NT / 2; dp++) {
            uint32_t b[4];
            int key = 16 * t2 + (lane & 7) + ((lane >> 3) & 1) * 8, dim = 16 * dp + ((lane >> 4) & 1) * 8;
            ldsm_x4_t(b, Vb + key * DP + dim);
            mma_bf16(acc[2 * dp], a, b[0], b[1]);
            mma_bf16(acc[2 * dp + 1], a, b[2], b[3]);
        }
    }
}

/* Normalise by the row sums and store this warp's 16 rows (staged through shared memory so the global
 * stores are 16 bytes wide). */
template <int D>
__device__ __forceinline__ void fa_store(float (*acc)[4], float *lrow, bf16 *Qw, bf16 *oh, int row0, int Nq, int ld)
{
    constexpr int DP = D + 8, NT = D / 8, CH = D / 8;
    const int lane = threadIdx.x & 31;
    float inv[2];
    mma_row_inv(lrow, inv);
    int r = lane >> 2;
#pragma unroll
    for (int n = 0; n < NT; n++) {
        int col = 8 * n + 2 * (lane & 3);
        *(uint32_t *)(Qw + r * DP + col) = pack_bf16(acc[n][0] * inv[0], acc[n][1] * inv[0]);
        *(uint32_t *)(Qw + (r + 8) * DP + col) = pack_bf16(acc[n][2] * inv[1], acc[n][3] * inv[1]);
    }
    __syncwarp();
    for (int c = lane; c < 16 * CH; c += 32) {
        int rr = c / CH, cc = c - rr * CH;
        if (row0 + rr < Nq) *(uint4 *)(oh + (int64_t)(row0 + rr) * ld + cc * 8) = *(const uint4 *)(Qw + rr * DP + cc * 8);
    }
}

template <int D>
__global__ void __launch_bounds__(FA_THREADS, FA_MIN_BLOCKS)
    flash_attn_kernel(const bf16 *q, const bf16 *k, const bf16 *v, const uint8_t *mask, bf16 *o, int Nq, int Nk,
                      int ld, float scale_log2)
{
    constexpr int DP = D + 8, KS = D / 16, NT = D / 8, CH = D / 8;
    extern __shared__ __align__(16) unsigned char fa_smem[];
    bf16 *Ks = (bf16 *)fa_smem;
    bf16 *Vs = Ks + 2 * FA_BN * DP;
    bf16 *Qs = Ks + FA_BN * DP; /* = K buffer 1, free until tile 1 is prefetched */
    float *Mb = (float *)(Vs + 2 * FA_BN * DP);
    const int h = blockIdx.y, q0 = blockIdx.x * FA_BM, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const bf16 *qh = q + h * D, *kh = k + h * D, *vh = v + h * D;

    for (int c = threadIdx.x; c < FA_BM * CH; c += FA_THREADS) {
        int r = c / CH, cc = c - r * CH, gr = q0 + r, ok = gr < Nq;
        cp_async16(Qs + r * DP + cc * 8, qh + (int64_t)(ok ? gr : 0) * ld + cc * 8, ok ? 16 : 0);
    }
    const int ntiles = (Nk + FA_BN - 1) / FA_BN;
    if (ntiles > 0) fa_load_kv<D>(kh, vh, mask, Ks, Vs, Mb, 0, 0, Nk, ld);
    cp_async_commit();

    uint32_t qf[KS][4];
    float acc[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
    bf16 *Qw = Qs + warp * 16 * DP;
    cp_async_wait<0>();
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < KS; ks++) ldsm_x4(qf[ks], Qw + (lane & 15) * DP + ks * 16 + (lane >> 4) * 8);
    __syncthreads(); /* every warp has its Q fragments before K buffer 1 is overwritten */

    for (int t = 0; t < ntiles; t++) {
        int buf = t & 1;
        if (t + 1 < ntiles) {
            fa_load_kv<D>(kh, vh, mask, Ks, Vs, Mb, t + 1, buf ^ 1, Nk, ld);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        fa_tile<D>(qf, Ks + buf * FA_BN * DP, Vs + buf * FA_BN * DP, Mb + buf * FA_BN, acc, mrow, lrow, scale_log2);
        __syncthreads(); /* the next iteration's prefetch overwrites the buffer just read */
    }
    cp_async_wait<0>();
    __syncthreads();
    fa_store<D>(acc, lrow, Qw, o + h * D, q0 + warp * 16, Nq, ld);
}

/* Fallback: one warp per (query, head), lanes split the head dim (<= 256), online softmax in fp32. */
template <typename T>
__global__ void attn_simple_kernel(const T *q, const T *k, const T *v, const uint8_t *mask, T *o, int Nq, int Nk, int H,
                                   int D, int ld, float scale)
{
    int gw = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (gw >= Nq * H) return;
    int n = gw / H, h = gw - n * H;
    float qv[8], acc[8];
    const int64_t qo = (int64_t)n * ld + h * D;
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int d = lane + 32 * j;
        qv[j] = d < D ? wm_ld(q, qo + d) : 0.0f;
        acc[j] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int t = 0; t < Nk; t++) {
        if (mask && !mask[t]) continue;
        const int64_t ko = (int64_t)t * ld + h * D;
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int d = lane + 32 * j;
            if (d < D) s += qv[j] * wm_ld(k, ko + d);
        }
        for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        s *= scale;
        float mn = fmaxf(m, s), c = __expf(m - mn), p = __expf(s - mn);
        l = l * c + p;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int d = lane + 32 * j;
            acc[j] = acc[j] * c + (d < D ? p * wm_ld(v, ko + d) : 0.0f);
        }
        m = mn;
    }
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int d = lane + 32 * j;
        if (d < D) wm_st(o, qo + d, acc[j] * inv);
    }
}

template <int D>
static wm_status launch_flash(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                              const uint8_t *mask, int H, float scale, wm_tensor *o, int Nq, int Nk, int ld)
{
    size_t smem = fa_smem_bytes<D>();
    WM_TRY(wm__cuda_smem_optin(be, (const void *)flash_attn_kernel<D>,
                               D == 112 ? WM_SMEM_FA112 : D == 128 ? WM_SMEM_FA128 : WM_SMEM_FA64, smem));
    dim3 grid((unsigned)((Nq + FA_BM - 1) / FA_BM), (unsigned)H);
    const float log2e = 1.4426950408889634f;
    flash_attn_kernel<D><<<grid, FA_THREADS, smem, wm__cuda_stream(be)>>>(
        (const bf16 *)q->data, (const bf16 *)k->data, (const bf16 *)v->data, mask, (bf16 *)o->data, Nq, Nk, ld,
        scale * log2e);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm_attention_cuda(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                                       const wm_tensor *key_mask, int n_heads, float scale, wm_tensor *o)
{
    WM_CUDA_FLOAT(be, q);
    WM_CUDA_FLOAT(be, k);
    WM_CUDA_FLOAT(be, v);
    WM_CUDA_FLOAT(be, o);
    int64_t C = wm_tensor_cols(q), Nq = wm_tensor_rows(q), Nk = wm_tensor_rows(k);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0, WM_ERR_SHAPE, "channels must split into n_heads");
    WM_OP_CHECK(be, wm_tensor_cols(k) == C && wm_tensor_cols(v) == C && wm_tensor_rows(v) == Nk, WM_ERR_SHAPE,
                "k and v must be (Nk, C)");
    WM_OP_CHECK(be, wm_tensor_numel(o) == Nq * C, WM_ERR_SHAPE, "o must be (Nq, C)");
    WM_OP_CHECK(be, q->dtype == k->dtype && q->dtype == v->dtype && q->dtype == o->dtype, WM_ERR_DTYPE,
                "q, k, v and o must share one dtype");
    WM_OP_CHECK(be, Nq * n_heads < (1LL << 31) && Nk < (1LL << 31) && C < (1LL << 31), WM_ERR_LIMIT,
                "attention sizes above 2^31");
    int D = (int)(C / n_heads);
    WM_OP_CHECK(be, D <= 256, WM_ERR_UNSUPPORTED, "head dim above 256");
    const uint8_t *mask = NULL;
    if (key_mask) {
        WM_CUDA_DEV(be, key_mask);
        WM_OP_CHECK(be, key_mask->dtype == WM_U8 || key_mask->dtype == WM_BOOL || key_mask->dtype == WM_I8,
                    WM_ERR_DTYPE, "key_mask must be uint8/bool");
        WM_OP_CHECK(be, wm_tensor_numel(key_mask) == Nk, WM_ERR_SHAPE, "key_mask must have Nk elements");
        mask = (const uint8_t *)key_mask->data;
    }
    if (Nq == 0) return WM_OK;
    uintptr_t al = (uintptr_t)q->data | (uintptr_t)k->data | (uintptr_t)v->data | (uintptr_t)o->data;
    int tc = q->dtype == WM_BF16 && (al & 15u) == 0 && C % 8 == 0;
    if (tc && (D == 64 || D == 112 || D == 128)) {
        wm_status ws = wm__attention_wgmma(be, q->data, k->data, v->data, mask, o->data, n_heads, D, (int)Nq,
                                           (int)Nk, (int)C, scale);
        if (ws != WM_ERR_UNSUPPORTED) return ws;
    }
    if (tc && D == 112) return launch_flash<112>(be, q, k, v, mask, n_heads, scale, o, (int)Nq, (int)Nk, (int)C);
    if (tc && D == 128) return launch_flash<128>(be, q, k, v, mask, n_heads, scale, o, (int)Nq, (int)Nk, (int)C);
    if (tc && D == 64) return launch_flash<64>(be, q, k, v, mask, n_heads, scale, o, (int)Nq, (int)Nk, (int)C);
    int64_t warps = Nq * n_heads;
    unsigned grid = (unsigned)((warps * 32 + 255) / 256);
    cudaStream_t s = wm__cuda_stream(be);
    if (q->dtype == WM_BF16)
        attn_simple_kernel<bf16><<<grid, 256, 0, s>>>((const bf16 *)q->data, (const bf16 *)k->data,
                                                      (const bf16 *)v->data, mask, (bf16 *)o->data, (int)Nq, (int)Nk,
                                                      n_heads, D, (int)C, scale);
    else
        attn_simple_kernel<float><<<grid, 256, 0, s>>>((const float *)q->data, (const float *)k->data,
                                                       (const float *)v->data, mask, (float *)o->data, (int)Nq,
                                                       (int)Nk, n_heads, D, (int)C, scale);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
