/* cuda_common.cuh -- what every CUDA op file shares: the backend context (one stream, one cuBLASLt
 * handle, one workspace), error propagation, and bf16/fp32 element access.
 *
 * Errors: every CUDA call goes through WM_CUDA_TRY, which records the call, file and CUDA's message in
 * be->err and RETURNS WM_ERR_CUDA (never aborts), in release builds too (conventions rule 3). Launches
 * are checked with wm__cuda_launch_check() right after the <<<>>>, so a bad configuration names the op.
 *
 * Element access: ops accept bf16 or fp32 activations and decide per tensor at run time; the kernels are
 * templated on the storage type (float or __nv_bfloat16) and do all arithmetic in fp32, as the spec's
 * numerics ask (bf16 storage, fp32 accumulation). Small per-channel vectors (norm weights, adaLN tables,
 * gates) are read through ldp(), which branches on a dtype flag that is uniform across the grid.
 */
#ifndef WM_KERNELS_CUDA_COMMON_CUH
#define WM_KERNELS_CUDA_COMMON_CUH

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* The wm headers are C; backend.h and log.h carry no extern "C" guards of their own. */
extern "C" {
#include "kernels/ops.h"
}

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#define WM_CUDA_PLAN_CACHE 128
#define WM_CUDA_PROF_MAX 16384

/* One cached cuBLASLt plan: descriptors + the heuristic's algorithm for one GEMM shape/dtype/epilogue. */
typedef struct wm_cuda_plan {
    int used;
    int64_t n, m, k;
    int64_t ys; /* matmul_batched: rows between outputs (0: not batched) */
    int xt, wt, yt, bt, epi, align;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} wm_cuda_plan;

typedef struct wm_cuda_ctx {
    int device;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *workspace;
    size_t workspace_bytes;
    int n_sm;
    size_t smem_optin;
    char name[256];
    wm_cuda_plan plans[WM_CUDA_PLAN_CACHE];
    void *scratch;            /* op-private scratch (split-K partial sums), stream-ordered between ops */
    size_t scratch_bytes;
    size_t smem_set[16];      /* dynamic shared memory already opted in, per WM_SMEM_* kernel slot */
    cudaEvent_t *prof_ev;     /* benchmark profiling marks (services.cu) */
    int *prof_cat, prof_n;
    int text_attn_old;        /* WM_CUDA_TEXT_ATTN=old at creation: warp-per-query attention_gqa (text_ops.cu) */
    int attn_impl;            /* WM_ATTN_*: which flash-attention kernel (WM_CUDA_ATTN=mma at creation) */
    int attn_wave;            /* WM_CUDA_ATTN=wave at creation: the wgmma kernel runs one block per unit */
    int attn_free;            /* WM_CUDA_ATTN=free at creation: its consumer warpgroups issue without turns */
    int gdn_old;              /* WM_CUDA_GDN=old at creation: the previous GDN gram/scan kernels (gdn.cu) */
    int gdn_tile1;            /* WM_CUDA_GDN=tile1 at creation: the GDN readout runs one block per token tile */
    int conv_old;             /* WM_CUDA_CONV=old at creation: the previous short/depthwise conv kernels */
    int norms_old;            /* WM_CUDA_NORMS=old at creation: row re-reading rmsnorm/layernorm kernels */
    int qkp_warp;             /* WM_CUDA_QKP=warp at creation: dit_qk_prep keeps the second (warp) kernel */
    int silu_exp;             /* WM_CUDA_SILU=exp at creation: the depthwise GLU convs use ex2 + rcp SiLU, not tanh */
    int mm_candidates;        /* cuBLASLt heuristic candidates timed per GEMM plan (WM_CUDA_MM_CANDIDATES) */
    size_t gdn_smem[16];      /* shared memory opted in per kernel of gdn_fast.cu (WM_GSM_*) */
} wm_cuda_ctx;

/* Flash-attention kernel choice (attention.cu): AUTO = wgmma when its sm_90a image is loaded (decided
 * on first use), MMA = the mma.sync kernel (forced by WM_CUDA_ATTN=mma), WGMMA = decided. */
enum { WM_ATTN_AUTO, WM_ATTN_MMA, WM_ATTN_WGMMA };

static inline wm_cuda_ctx *wm__cuda_ctx(wm_backend *be) { return (wm_cuda_ctx *)be->cuda; }
static inline cudaStream_t wm__cuda_stream(wm_backend *be) { return ((wm_cuda_ctx *)be->cuda)->stream; }

#ifdef __cplusplus
extern "C" {
#endif
/* Record a CUDA error ("<op>: <call> failed: <cuda message>") and return WM_ERR_CUDA. */
wm_status wm__cuda_fail(wm_backend *be, const char *op, const char *call, cudaError_t e);
/* cudaGetLastError after a launch; WM_OK or the recorded error. */
wm_status wm__cuda_launch_check(wm_backend *be, const char *op);
/* y(N,M) = act(y + bias(M)) in place (elementwise.cu): the GEMM epilogue when cuBLASLt has none. */
wm_status wm__cuda_bias_act(wm_backend *be, wm_tensor *y, const wm_tensor *bias, wm_act act);
#ifdef __cplusplus
}
#endif

/* Kernels that opt into > 48 KB of dynamic shared memory. The opt-in is a host call costing several
 * microseconds, so it is made once per kernel and size, not per launch. */
enum { WM_SMEM_FA64, WM_SMEM_FA112, WM_SMEM_FA128, WM_SMEM_SCAN, WM_SMEM_GOTC, WM_SMEM_GO0, WM_SMEM_GO1,
       WM_SMEM_GO2, WM_SMEM_GO3, WM_SMEM_TEXT_GQA,
       WM_SMEM_WG64, WM_SMEM_WG112, WM_SMEM_WG128 };
#ifdef __cplusplus
extern "C" {
#endif
wm_status wm__cuda_smem_optin(wm_backend *be, const void *func, int slot, size_t bytes);
#ifdef __cplusplus
}
#endif

#define WM_CUDA_TRY(be, call)                                                                      \
    do {                                                                                           \
        cudaError_t wm__e = (call);                                                                \
        if (wm__e != cudaSuccess) return wm__cuda_fail((be), __func__, #call, wm__e);              \
    } while (0)

#define WM_CUDA_LAUNCHED(be) WM_TRY(wm__cuda_launch_check((be), __func__))

/* Ops require their tensors on the CUDA device and in a dtype the op supports. */
#define WM_CUDA_DEV(be, t)                                                                         \
    WM_OP_CHECK(be, (t)->device == WM_DEVICE_CUDA, WM_ERR_INVALID_ARG, #t " must be a CUDA tensor")
#define WM_CUDA_FLOAT(be, t)                                                                       \
    do {                                                                                           \
        WM_CUDA_DEV(be, t);                                                                        \
        WM_OP_CHECK(be, (t)->dtype == WM_F32 || (t)->dtype == WM_BF16, WM_ERR_DTYPE,               \
                    #t " must be fp32 or bf16");                                                   \
    } while (0)

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float wm_ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float wm_ld(const bf16 *p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void wm_st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void wm_st(bf16 *p, int64_t i, float v) { p[i] = __float2bfloat16(v); }

/* Parameter vectors of either dtype; is_bf16 is uniform, so the branch costs nothing measurable. */
__device__ __forceinline__ float wm_ldp(const void *p, int is_bf16, int64_t i)
{
    return is_bf16 ? __bfloat162float(((const bf16 *)p)[i]) : ((const float *)p)[i];
}

/* SiLU with the fast division (__fdividef: 2 ulp; x / inf -> 0 as it should), written out so the kernel does
 * not depend on the build's --use_fast_math for it: the FFN conv evaluates SiLU ~1.4 times per input element
 * plus once per output. Within the bf16 tolerances of the parity tests (the CPU reference uses expf). */
__device__ __forceinline__ float wm_silu_fast(float x) { return __fdividef(x, 1.0f + __expf(-x)); }
/* SiLU through one MUFU op instead of two (ex2 + rcp above): x sigmoid(x) = h + h tanh(h), h = x / 2.
 * tanh.approx.f32 has ~2^-11 relative error, so the absolute error is below |x| 2^-12: under the bf16
 * rounding of the values it feeds. For kernels whose SFU pipe is the limit (depthwise3x3_silu_glu applies
 * SiLU to every input it reads). */
__device__ __forceinline__ float wm_silu_tanh(float x)
{
    const float h = 0.5f * x;
    float t;
    asm("tanh.approx.f32 %0, %1;" : "=f"(t) : "f"(h));
    return fmaf(h, t, h);
}
template <bool TANH> __device__ __forceinline__ float wm_silu_sel(float x) { return TANH ? wm_silu_tanh(x) : wm_silu_fast(x); }

__device__ __forceinline__ float wm_act_dev(wm_act act, float x)
{
    switch (act) {
    case WM_ACT_SILU: return x / (1.0f + __expf(-x));
    case WM_ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case WM_ACT_RELU: return x > 0.0f ? x : 0.0f;
    default: return x;
    }
}

/* Block-wide sum over blockDim.x <= 1024 threads; every thread gets the result. */
__device__ __forceinline__ float wm_block_sum(float v, float *red /* >= 32 floats of shared memory */)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = (blockDim.x + 31) >> 5;
    __syncthreads(); /* red may still be read by a previous call */
    if (l == 0) red[w] = v;
    __syncthreads();
    v = l < nw ? red[l] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static inline unsigned wm_grid1d(int64_t n, int threads, int64_t cap)
{
    int64_t b = (n + threads - 1) / threads;
    if (b > cap) b = cap;
    if (b < 1) b = 1;
    return (unsigned)b;
}

#endif
