/* vec.cuh -- 8-wide element access for the memory-bound ops: one 16-byte load/store per thread for bf16,
 * two for fp32, so a warp moves 512 contiguous bytes per instruction pair (Hopper wants 16-byte
 * accesses; HOPPER.md). The ops take the 8-wide path only when every row length is a multiple of 8 and
 * the base pointers are 16-byte aligned, and fall back to VEC = 1 otherwise (odd test shapes). */
#ifndef WM_KERNELS_CUDA_VEC_CUH
#define WM_KERNELS_CUDA_VEC_CUH

#include "cuda_common.cuh"

template <int VEC> __device__ __forceinline__ void vld(const float *p, int64_t i, float *v)
{
    if constexpr (VEC == 8) {
        float4 a = *(const float4 *)(p + i), b = *(const float4 *)(p + i + 4);
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else {
#pragma unroll
        for (int j = 0; j < VEC; j++) v[j] = p[i + j];
    }
}

template <int VEC> __device__ __forceinline__ void vld(const bf16 *p, int64_t i, float *v)
{
    if constexpr (VEC == 8) {
        uint4 u = *(const uint4 *)(p + i);
        const __nv_bfloat162 *h = (const __nv_bfloat162 *)&u;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float2 f = __bfloat1622float2(h[j]);
            v[2 * j] = f.x;
            v[2 * j + 1] = f.y;
        }
    } else {
#pragma unroll
        for (int j = 0; j < VEC; j++) v[j] = __bfloat162float(p[i + j]);
    }
}

template <int VEC> __device__ __forceinline__ void vst(float *p, int64_t i, const float *v)
{
    if constexpr (VEC == 8) {
        *(float4 *)(p + i) = make_float4(v[0], v[1], v[2], v[3]);
        *(float4 *)(p + i + 4) = make_float4(v[4], v[5], v[6], v[7]);
    } else {
#pragma unroll
        for (int j = 0; j < VEC; j++) p[i + j] = v[j];
    }
}

template <int VEC> __device__ __forceinline__ void vst(bf16 *p, int64_t i, const float *v)
{
    if constexpr (VEC == 8) {
        uint4 u;
        __nv_bfloat162 *h = (__nv_bfloat162 *)&u;
#pragma unroll
        for (int j = 0; j < 4; j++) h[j] = __floats2bfloat162_rn(v[2 * j], v[2 * j + 1]);
        *(uint4 *)(p + i) = u;
    } else {
#pragma unroll
        for (int j = 0; j < VEC; j++) p[i + j] = __float2bfloat16(v[j]);
    }
}

/* 1 if the 8-wide path is safe for these pointers and row length. */
static inline int wm_vec8_ok(int64_t cols, const void *a, const void *b, const void *c)
{
    if (cols % 8) return 0;
    uintptr_t m = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c;
    return (m & 15u) == 0;
}

#endif
