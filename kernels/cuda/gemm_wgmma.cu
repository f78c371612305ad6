/* An own Hopper GEMM for the DiT's bf16 projections (experiment, WM_CUDA_GEMM=own at backend creation;
 * cuBLASLt stays the default): y(N,M) = x(N,K) . w(M,K)^T (+ bias(M)) (+ res(N,M)), fp32 accumulation.
 *
 * Why: a C x C projection at the streaming shape (2640 x 2240 x 2240) runs at ~600 TFLOP/s in cuBLASLt
 * (44 us) and ~400 of them per chunk cannot be batched; 378 tiles of 128 x 128 on 132 SMs bound it at
 * ~36 us at the card's 800 TFLOP/s, so the gap is per-tile overhead, which a persistent kernel hides.
 *
 * Scheme (the wgmma kernel of attention_wgmma.cu applied to S = Q K^T alone): persistent, one block per SM
 * walking 128 x 128 output tiles (tokens fastest, so neighbouring blocks share the weight tile in L2);
 * one producer warp streams 64-wide k-blocks of x and w with TMA (2-D tensor maps, 128-byte swizzle,
 * out-of-range rows and k columns zero-filled) into a GM_ST-stage ring (full: TMA bytes; empty: the 256
 * consumer threads); two consumer warpgroups own 64 tokens each and issue 4 wgmma.m64n128k16 per k-block,
 * keeping one k-block in flight (wait<1>) and releasing the stage behind it. The producer runs ahead into
 * the next tile while the consumers add bias/residual and store, so a tile starts on loaded stages.
 * Compiled only in the sm_90a pass (the sm_90 image is an empty stub, never launched). */
#include "cuda_common.cuh"
#include "mma.cuh"
#include "attention_wgmma.cuh"

#include <cuda.h>
#include <cudaTypedefs.h>

#define GM_BM 128
#define GM_BN 128
#define GM_BK 64
#define GM_ST 5
#define GM_TB 16384 /* one 128-row x 64-column bf16 operand tile */

struct gm_args {
    int N, M, K, tiles_n, tiles;
    const void *bias;
    int bias_bf16;
    const bf16 *res;
    bf16 *y;
};

static size_t gm_smem_bytes() { return (size_t)GM_ST * 2 * GM_TB + 2 * GM_ST * 8 + 1024; }

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const void *tmap, uint32_t bar, int c0, int c1)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n"
                 ::"r"(dst), "l"((uint64_t)tmap), "r"(bar), "r"(c0), "r"(c1)
                 : "memory");
}

/* 4 k-steps of 16 of one k-block: D(64 x 128) (+)= A(64 x 64) B(64 x 128)^T. */
__device__ __forceinline__ void gm_kblock(float *acc, uint32_t a, uint32_t b, bool first)
{
    if (first) wgmma_ss_n128_z(acc, wg_desc(a), wg_desc(b));
    else wgmma_ss_n128(acc, wg_desc(a), wg_desc(b), 1);
#pragma unroll
    for (int kk = 1; kk < 4; kk++) wgmma_ss_n128(acc, wg_desc(a + kk * 32), wg_desc(b + kk * 32), 1);
}

/* acc (+ bias + res) -> bf16 rows g and g+8 of this warp's 16 (4-byte stores, columns 8n + 2c). */
__device__ __forceinline__ void gm_store(const float *acc, const gm_args &g, int row, int col0)
{
    const int c2 = 2 * (threadIdx.x & 3);
#pragma unroll
    for (int n = 0; n < GM_BN / 8; n++) {
        const int col = col0 + 8 * n + c2;
        if (col >= g.M) break; /* M % 2 == 0: a pair is wholly in or out */
        float b0 = 0.0f, b1 = 0.0f;
        if (g.bias) b0 = wm_ldp(g.bias, g.bias_bf16, col), b1 = wm_ldp(g.bias, g.bias_bf16, col + 1);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int r = row + 8 * h;
            if (r >= g.N) continue;
            float v0 = acc[4 * n + 2 * h] + b0, v1 = acc[4 * n + 2 * h + 1] + b1;
            const int64_t o = (int64_t)r * g.M + col;
            if (g.res) {
                const float2 rr = __bfloat1622float2(*(const __nv_bfloat162 *)(g.res + o));
                v0 += rr.x;
                v1 += rr.y;
            }
            *(uint32_t *)(g.y + o) = pack_bf16(v0, v1);
        }
    }
}
#endif

__global__ void __launch_bounds__(384, 1)
    gemm_wgmma_kernel(const __grid_constant__ CUtensorMap tx, const __grid_constant__ CUtensorMap tw, gm_args g)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ __align__(16) unsigned char gm_raw[];
    const uint32_t raw = smem_u32(gm_raw), base = (raw + 1023u) & ~1023u;
    const uint32_t bars = base + GM_ST * 2 * GM_TB; /* full[GM_ST], empty[GM_ST] */
    const int wgi = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0);
    if (threadIdx.x == 0) {
        for (int s = 0; s < GM_ST; s++) {
            mbar_init(bars + 8 * s, 1);
            mbar_init(bars + 8 * (GM_ST + s), 256);
        }
        mbar_init_fence();
    }
    __syncthreads();
    const int kblocks = (g.K + GM_BK - 1) / GM_BK;
    if (wgi == 0) { /* producer */
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (threadIdx.x != 0) return;
        int it = 0;
        for (int t = blockIdx.x; t < g.tiles; t += gridDim.x) {
            const int tn = t % g.tiles_n, tm = t / g.tiles_n;
            for (int kb = 0; kb < kblocks; kb++, it++) {
                const int s = it % GM_ST;
                if (it >= GM_ST) mbar_wait(bars + 8 * (GM_ST + s), ((it / GM_ST) - 1) & 1);
                const uint32_t a = base + s * 2 * GM_TB;
                mbar_arrive_tx(bars + 8 * s, 2 * GM_TB);
                tma_load_2d(a, &tx, bars + 8 * s, kb * GM_BK, tn * GM_BM);
                tma_load_2d(a + GM_TB, &tw, bars + 8 * s, kb * GM_BK, tm * GM_BN);
            }
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    const int wg = wgi - 1, warp = (threadIdx.x >> 5) & 3, gl = (threadIdx.x & 31) >> 2;
    int it = 0;
    for (int t = blockIdx.x; t < g.tiles; t += gridDim.x) {
        const int tn = t % g.tiles_n, tm = t / g.tiles_n;
        float acc[64];
        for (int kb = 0; kb < kblocks; kb++, it++) {
            const int s = it % GM_ST;
            mbar_wait(bars + 8 * s, (it / GM_ST) & 1);
            const uint32_t a = base + s * 2 * GM_TB;
            wg_fence();
            gm_kblock(acc, a + wg * 64 * 128, a + GM_TB, kb == 0);
            wg_commit();
            if (kb > 0) {
                wg_wait<1>(); /* k-block kb-1 done: its stage may refill */
                mbar_arrive(bars + 8 * (GM_ST + (it - 1) % GM_ST));
            }
        }
        wg_wait<0>();
        wg_pin<64>(acc);
        mbar_arrive(bars + 8 * (GM_ST + (it - 1) % GM_ST));
        gm_store(acc, g, tn * GM_BM + wg * 64 + warp * 16 + gl, tm * GM_BN);
    }
#else
    (void)tx; (void)tw; (void)g;
#endif
}

static int gm_tmap(PFN_cuTensorMapEncodeTiled_v12000 enc, CUtensorMap *m, const void *p, int K, int rows)
{
    cuuint64_t dims[2] = {(cuuint64_t)K, (cuuint64_t)rows}, strides[1] = {(cuuint64_t)K * 2};
    cuuint32_t box[2] = {GM_BK, 128}, estr[2] = {1, 1};
    return enc(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)p, dims, strides, box, estr,
               CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
               CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

/* WM_OK when launched; WM_ERR_UNSUPPORTED (nothing launched) when the shape/dtypes/image do not fit, so
 * the caller runs cuBLASLt. x, w, y, res bf16; bias bf16/fp32 or NULL; no activation. */
extern "C" wm_status wm__gemm_wgmma(wm_backend *be, const void *x, const void *w, const void *bias, int bias_bf16,
                                    const void *res, void *y, int64_t N, int64_t M, int64_t K)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    if (N < 1 || M < 2 || M % 2 || K % 8 || N > 0x7fffffff || M > 0x7fffffff || K > 0x7fffffff) return WM_ERR_UNSUPPORTED;
    if ((((uintptr_t)x | (uintptr_t)w | (uintptr_t)y) & 15u) || ((uintptr_t)res & 3u)) return WM_ERR_UNSUPPORTED;
    cudaFuncAttributes fa;
    if (cudaFuncGetAttributes(&fa, (const void *)gemm_wgmma_kernel) != cudaSuccess || fa.numRegs < 64) {
        (void)cudaGetLastError();
        return WM_ERR_UNSUPPORTED; /* the sm_90 stub */
    }
    void *fn = NULL;
    cudaDriverEntryPointQueryResult qr;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &qr) != cudaSuccess ||
        qr != cudaDriverEntryPointSuccess || !fn) {
        (void)cudaGetLastError();
        return WM_ERR_UNSUPPORTED;
    }
    PFN_cuTensorMapEncodeTiled_v12000 enc = (PFN_cuTensorMapEncodeTiled_v12000)fn;
    CUtensorMap mx, mw;
    if (!gm_tmap(enc, &mx, x, (int)K, (int)N) || !gm_tmap(enc, &mw, w, (int)K, (int)M)) return WM_ERR_UNSUPPORTED;
    const size_t smem = gm_smem_bytes();
    WM_TRY(wm__cuda_smem_optin(be, (const void *)gemm_wgmma_kernel, WM_SMEM_GEMM, smem));
    gm_args g;
    g.N = (int)N; g.M = (int)M; g.K = (int)K;
    g.tiles_n = (int)((N + GM_BM - 1) / GM_BM);
    g.tiles = g.tiles_n * (int)((M + GM_BN - 1) / GM_BN);
    g.bias = bias; g.bias_bf16 = bias_bf16; g.res = (const bf16 *)res; g.y = (bf16 *)y;
    const int nsm = c->n_sm > 0 ? c->n_sm : 1;
    gemm_wgmma_kernel<<<(unsigned)(g.tiles < nsm ? g.tiles : nsm), 384, smem, wm__cuda_stream(be)>>>(mx, mw, g);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
