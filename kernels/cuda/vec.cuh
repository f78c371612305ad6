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

/* Raw 8-element vectors of a row held in registers before any conversion: 4 registers for bf16, 8 for
 * fp32. The warp-per-row kernels load a whole row this way first and only then compute and store, so
 * every load of the row is in flight at once (a load issued after a store to a possibly aliasing pointer
 * must wait for it: with loads and stores interleaved, each row became a chain of serial round trips). */
template <typename T> struct raw8 { uint4 r[sizeof(T) / 2]; };

template <typename T> __device__ __forceinline__ void ld_raw8(const T *p, int64_t i, raw8<T> &o)
{
#pragma unroll
    for (int k = 0; k < (int)(sizeof(T) / 2); k++) o.r[k] = ((const uint4 *)(p + i))[k];
}

__device__ __forceinline__ void cvt_raw8(const raw8<bf16> &o, float *v)
{
    const __nv_bfloat162 *h = (const __nv_bfloat162 *)&o.r[0];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        float2 f = __bfloat1622float2(h[j]);
        v[2 * j] = f.x;
        v[2 * j + 1] = f.y;
    }
}

__device__ __forceinline__ void cvt_raw8(const raw8<float> &o, float *v)
{
    const float *f = (const float *)&o.r[0];
#pragma unroll
    for (int j = 0; j < 8; j++) v[j] = f[j];
}

__device__ __forceinline__ void pack_raw8(const float *v, raw8<bf16> &o)
{
    __nv_bfloat162 *h = (__nv_bfloat162 *)&o.r[0];
#pragma unroll
    for (int j = 0; j < 4; j++) h[j] = __floats2bfloat162_rn(v[2 * j], v[2 * j + 1]);
}

__device__ __forceinline__ void pack_raw8(const float *v, raw8<float> &o)
{
    float *f = (float *)&o.r[0];
#pragma unroll
    for (int j = 0; j < 8; j++) f[j] = v[j];
}

template <typename T> __device__ __forceinline__ void st_raw8(T *p, int64_t i, const raw8<T> &o)
{
#pragma unroll
    for (int k = 0; k < (int)(sizeof(T) / 2); k++) ((uint4 *)(p + i))[k] = o.r[k];
}

/* Read-only parameters (norm weights, modulation and RoPE tables; fp32 or bf16 by flag) as vectors through
 * the non-coherent cache: 8 elements from p + i (p + i 16-byte aligned), or 4 (8-byte aligned for bf16,
 * 16-byte for fp32). One or two loads instead of 8 scalar loads each touching a different sector. */
__device__ __forceinline__ void ldp8(const void *p, int is_bf16, int64_t i, float *v)
{
    if (is_bf16) {
        raw8<bf16> r;
        r.r[0] = __ldg((const uint4 *)((const bf16 *)p + i));
        cvt_raw8(r, v);
    } else {
        const float4 a = __ldg((const float4 *)((const float *)p + i)), b = __ldg((const float4 *)((const float *)p + i) + 1);
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    }
}

__device__ __forceinline__ void ldp4(const void *p, int is_bf16, int64_t i, float *v)
{
    if (is_bf16) {
        const uint2 u = __ldg((const uint2 *)((const bf16 *)p + i));
        const float2 a = __bfloat1622float2(*(const __nv_bfloat162 *)&u.x), b = __bfloat1622float2(*(const __nv_bfloat162 *)&u.y);
        v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
    } else {
        const float4 a = __ldg((const float4 *)((const float *)p + i));
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    }
}

/* Sum of (v - center)^2 over a row held by a warp as U raw 8-vectors per lane (vector u of lane l at
 * channel (l + 32 u) * 8, C channels), reduced over the warp: every lane gets the total. center 0: the
 * RMSNorm sum of squares; the row mean: LayerNorm's two-pass variance. */
template <typename T, int U>
__device__ __forceinline__ float warp_row_sumsq(const raw8<T> (&xv)[U], int lane, int C, float center = 0.0f)
{
    float ss = 0.0f;
#pragma unroll
    for (int u = 0; u < U; u++) {
        if ((lane + u * 32) * 8 >= C) continue;
        float v[8];
        cvt_raw8(xv[u], v);
#pragma unroll
        for (int j = 0; j < 8; j++) ss += (v[j] - center) * (v[j] - center);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    return ss;
}

/* Stage n fp32 values of a read-only parameter row (p + off: fp32 or bf16 by flag, 16-byte aligned for
 * fp32 / 8-byte for bf16, n % 4 == 0, n <= 4 * IT * blockDim.x) into shared dst (16-byte aligned) with
 * the whole block: every load of a thread is issued before its first store, so the staging costs one
 * memory round trip, not one per element. p NULL stages dflt. */
template <int IT>
__device__ __forceinline__ void stage_params(float *dst, const void *p, int is_bf16, int64_t off, int n, float dflt)
{
    const int nv = n / 4;
    float4 r[IT];
#pragma unroll
    for (int k = 0; k < IT; k++) {
        const int i = (int)threadIdx.x + k * (int)blockDim.x;
        float v[4] = {dflt, dflt, dflt, dflt};
        if (p && i < nv) ldp4(p, is_bf16, off + 4 * (int64_t)i, v);
        r[k] = make_float4(v[0], v[1], v[2], v[3]);
    }
#pragma unroll
    for (int k = 0; k < IT; k++) {
        const int i = (int)threadIdx.x + k * (int)blockDim.x;
        if (i < nv) ((float4 *)dst)[i] = r[k];
    }
}

/* 1 if every non-NULL pointer is 16-byte aligned. */
static inline int wm_aligned16(const void *a, const void *b, const void *c, const void *d)
{
    return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)c | (uintptr_t)d) & 15u) == 0;
}

/* 1 if the 8-wide path is safe for these pointers and row length. */
static inline int wm_vec8_ok(int64_t cols, const void *a, const void *b, const void *c)
{
    if (cols % 8) return 0;
    uintptr_t m = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c;
    return (m & 15u) == 0;
}

#endif
