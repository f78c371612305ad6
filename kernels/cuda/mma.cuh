/* mma.cuh -- the warp-level tensor-core primitives shared by the flash-attention and GDN Gram kernels:
 * cp.async 16-byte copies, ldmatrix (plain and transposed) and mma.sync m16n8k16 bf16 -> fp32.
 * Fragment layouts (PTX ISA, m16n8k16): thread (g = lane/4, c = lane%4) holds A rows g and g+8 at
 * k = 2c, 2c+1 and 2c+8, 2c+9; B column g at the same k; C rows g, g+8 at columns 2c, 2c+1. */
#ifndef WM_KERNELS_CUDA_MMA_CUH
#define WM_KERNELS_CUDA_MMA_CUH

#include "cuda_common.cuh"

__device__ __forceinline__ uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem), "r"(src_bytes));
}
/* 4-byte variant (L1-allocating): for staging into padded shared rows that break 16-byte alignment. */
__device__ __forceinline__ void cp_async4(void *smem, const void *gmem)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(smem_u32(smem)), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldsm_x4(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}

__device__ __forceinline__ void mma_bf16(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&h;
}

/* One online-softmax step (flash attention) for the two rows (g, g + 8) a lane holds in m16 fragments: mx
 * holds this tile's row maxima over the lane's own scores and is reduced over the quad here; the running
 * max mrow and sum lrow and the NT accumulator tiles are rescaled, and the NS score tiles s (log2 domain)
 * become p = exp2(s - max) with their sums added to lrow. A row whose keys are all masked so far keeps
 * p = 0 (no inf - inf). Shared by the DiT attention (attention.cu) and the text encoder's (text_attn.cu). */
/* Its running-max part alone (also used by the wgmma kernel, whose fragments are laid out differently):
 * muse = the max to subtract, corr = the rescale of the old sums (applied to lrow here) and accumulators.
 * LAZY (the wgmma kernel): a row keeps its max unless the tile raises it by more than 8 (log2 units), so
 * P <= 2^8 and corr = 1 exactly on most tiles (attention_wgmma.cu skips the O rescale then). */
template <bool LAZY = false>
__device__ __forceinline__ void mma_softmax_max(float (&mx)[2], float *mrow, float *lrow, float (&corr)[2],
                                                float (&muse)[2])
{
#pragma unroll
    for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        const float mnew = LAZY ? (mx[r] > mrow[r] + 8.0f ? mx[r] : mrow[r]) : fmaxf(mrow[r], mx[r]);
        muse[r] = mnew == -INFINITY ? 0.0f : mnew;
        corr[r] = exp2f(mrow[r] - muse[r]);
        mrow[r] = mnew;
        lrow[r] *= corr[r];
    }
}

template <int NT, int NS>
__device__ __forceinline__ void mma_online_softmax(float (&mx)[2], float *mrow, float *lrow, float (*acc)[4],
                                                   float (&s)[NS][4])
{
    float corr[2], muse[2];
    mma_softmax_max(mx, mrow, lrow, corr, muse);
#pragma unroll
    for (int n = 0; n < NT; n++) {
        acc[n][0] *= corr[0]; acc[n][1] *= corr[0];
        acc[n][2] *= corr[1]; acc[n][3] *= corr[1];
    }
#pragma unroll
    for (int n = 0; n < NS; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            s[n][e] = exp2f(s[n][e] - muse[e >> 1]);
            lrow[e >> 1] += s[n][e];
        }
    }
}

/* The final normalisation of a flash-attention row pair: each lane's partial row sums lrow are summed over
 * the quad and inverted; a row that saw no visible key gets 0 (output 0, not NaN). */
__device__ __forceinline__ void mma_row_inv(const float *lrow, float (&inv)[2])
{
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float l = lrow[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
    }
}

/* acc (D/8 chunks of a 16-row m16n8 accumulator) += A . (Bh + Bl): A the 16 x D bf16 row fragments qf (D/16
 * k-steps), Bh/Bl the bf16 hi and lo parts of an fp32 D x D matrix in shared memory with row pitch DP
 * (fp32-class accuracy from bf16 tensor cores: the GDN readouts' q . M). */
template <int D, int DP>
__device__ __forceinline__ void mma_hilo_product(float (&acc)[D / 8][4], const uint32_t (&qf)[D / 16][4],
                                                 const bf16 *Bh, const bf16 *Bl, int lane)
{
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
            uint32_t b[4];
            const int row = 16 * ks + (lane & 7) + ((lane >> 3) & 1) * 8, col = 16 * dp + ((lane >> 4) & 1) * 8;
            ldsm_x4_t(b, Bh + row * DP + col);
            mma_bf16(acc[2 * dp], qf[ks], b[0], b[1]);
            mma_bf16(acc[2 * dp + 1], qf[ks], b[2], b[3]);
            ldsm_x4_t(b, Bl + row * DP + col);
            mma_bf16(acc[2 * dp], qf[ks], b[0], b[1]);
            mma_bf16(acc[2 * dp + 1], qf[ks], b[2], b[3]);
        }
    }
}

#endif
