/* cam_emb.cuh -- the camera embedding of dit_qk_prep (UCPE on the first D/2 columns of each head, RoPE
 * pairs from a column offset) applied to 8 consecutive columns of one head, for kernels that hold a row
 * chunk anyway: the GDN camera readout applies it to its output tile before the store (gdn_output_ucpe),
 * so the readout needs no dit_qk_prep pass over a 2640 x 2240 tensor afterwards. Same fp32 expressions as
 * the CPU reference (kernels/cpu/dit_qk_prep.c). (Embedding v inside the Gram kernel the same way was
 * measured and dropped: the table loads of a tile sat on the kernel's latency-bound path, 55 us per call
 * against 25 + 12 us for the Gram and the dit_qk_prep pass.) */
#ifndef WM_KERNELS_CUDA_CAM_EMB_CUH
#define WM_KERNELS_CUDA_CAM_EMB_CUH

#include "cuda_common.cuh"

/* Kernel argument: fp32 tables (mats (N,16), cos/sin (N,P)); a NULL table skips its part. The launcher
 * guarantees 8-column chunks never straddle a range: half, off, off + 2P multiples of 8, tables 16-byte
 * aligned with P % 4 == 0. */
typedef struct {
    const float *m, *cs, *sn;
    int tr;   /* UCPE with M^T */
    float sg; /* +1, or -1 for the conjugate rotation */
    int half, off, P;
} cam_emb_args;

/* The two formulas on 8 columns, shared with dit_qk_prep's kernels (dit_fused.cu): UCPE of two groups of
 * 4 with the 4x4 matrix mm (row-major, already transposed if asked), and RoPE of 4 pairs with cos c and
 * (signed) sin s. o must not alias v. */
__device__ __forceinline__ void ucpe8(const float *v, const float *mm, float *o)
{
#pragma unroll
    for (int j = 0; j < 8; j++) {
        const int g = j & ~3, r = (j & 3) * 4;
        o[j] = mm[r] * v[g] + mm[r + 1] * v[g + 1] + mm[r + 2] * v[g + 2] + mm[r + 3] * v[g + 3];
    }
}

__device__ __forceinline__ void rope8(const float *v, const float *c, const float *s, float *o)
{
#pragma unroll
    for (int q = 0; q < 4; q++) {
        o[2 * q] = v[2 * q] * c[q] - v[2 * q + 1] * s[q];
        o[2 * q + 1] = v[2 * q] * s[q] + v[2 * q + 1] * c[q];
    }
}

__device__ __forceinline__ void cam_emb8(float (&v)[8], const cam_emb_args &e, int64_t n, int hd0)
{
    if (e.m && hd0 + 8 <= e.half) {
        const float4 *mp = (const float4 *)(e.m + n * 16);
        const float4 r[4] = {__ldg(mp), __ldg(mp + 1), __ldg(mp + 2), __ldg(mp + 3)};
        const float M[16] = {r[0].x, r[0].y, r[0].z, r[0].w, r[1].x, r[1].y, r[1].z, r[1].w,
                             r[2].x, r[2].y, r[2].z, r[2].w, r[3].x, r[3].y, r[3].z, r[3].w};
        float mm[16];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) mm[i * 4 + j] = e.tr ? M[j * 4 + i] : M[i * 4 + j];
        float o[8];
        ucpe8(v, mm, o);
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = o[j];
    } else if (e.cs && hd0 >= e.off && hd0 + 8 <= e.off + 2 * e.P) {
        const int64_t t = n * e.P + ((hd0 - e.off) >> 1);
        const float4 c4 = __ldg((const float4 *)(e.cs + t)), s4 = __ldg((const float4 *)(e.sn + t));
        const float cc[4] = {c4.x, c4.y, c4.z, c4.w}, ss[4] = {e.sg * s4.x, e.sg * s4.y, e.sg * s4.z, e.sg * s4.w};
        float o[8];
        rope8(v, cc, ss, o);
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = o[j];
    }
}

/* The same on 8 bf16 values packed in a uint4 (a 16-byte row chunk in shared memory). */
__device__ __forceinline__ uint4 cam_emb8_bf16(uint4 raw, const cam_emb_args &e, int64_t n, int hd0)
{
    const __nv_bfloat162 *p = (const __nv_bfloat162 *)&raw;
    float v[8];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const float2 f = __bfloat1622float2(p[i]);
        v[2 * i] = f.x;
        v[2 * i + 1] = f.y;
    }
    cam_emb8(v, e, n, hd0);
    uint4 o;
    __nv_bfloat162 *q = (__nv_bfloat162 *)&o;
#pragma unroll
    for (int i = 0; i < 4; i++) q[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    return o;
}

#endif
