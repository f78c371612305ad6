/* Softmax attention on Hopper warpgroup MMA (wgmma, sm_90a): the fast path of wm_attention_cuda for bf16
 * with head dim 64/112/128 (tokens-major (N, H*D) tensors, optional key mask, fp32 online softmax).
 *
 * Scheme (FlashAttention-3 class, without TMA):
 *   - block = 2 consumer warpgroups (256 threads) = 128 queries of one head; warpgroup w owns query rows
 *     64w..64w+63 for the whole key loop, so the softmax statistics stay in registers;
 *   - keys/values stream through shared memory in tiles of 128 rows, in a 3-stage cp.async ring (two
 *     tiles in flight while one is used), stored 128-byte swizzled (attention_wgmma.cuh) so wgmma reads
 *     them straight from shared memory without bank conflicts;
 *   - S = Q K^T is one m64n128 wgmma chain per warpgroup (D/16 k-steps, both operands in shared memory);
 *     P = exp2(S - m) is packed to bf16 in registers and fed as the register A operand of O += P V
 *     (m64n64 + m64n48 for D = 112, V read MN-major with the transpose bit: no transpose pass);
 *   - software pipelining inside each warpgroup: S for tile t+1 is issued before the softmax of tile t,
 *     so the tensor cores work while the exponentials run (needs two S tiles in registers);
 *   - head dim 112 is used as is (7 k-steps); the scale folds into the exp2 argument; fully masked rows
 *     give 0, as the CPU reference does.
 * Why cp.async and not TMA: the tokens-major layout needs no tensor map per call (graph-capture friendly),
 * and the load is a small share of the time at 128x128 tiles; the loads are issued by the same threads.
 * Compiled only in the sm_90a pass; the sm_90 pass gets an empty kernel that the launcher never runs
 * (it checks the loaded image, see wm__attention_wgmma_ok).
 */
#include "cuda_common.cuh"
#include "mma.cuh"
#include "attention_wgmma.cuh"

#include <math.h>

#define WG_BM 128
#define WG_BN 128
#define WG_THREADS 256
#define WG_STAGES 3
#define WG_BLK 16384 /* bytes of one 64-column block of a 128-row tile */

/* Shared memory: Q tile, WG_STAGES K tiles, WG_STAGES V tiles (each NB blocks of 16 KB), the additive
 * key masks, plus 1 KB so the base can be rounded up to the 1024-byte swizzle atom. */
template <int D> static constexpr int wg_nb() { return (D + 63) / 64; }
template <int D> static constexpr size_t wg_smem_bytes()
{
    return (size_t)(1 + 2 * WG_STAGES) * wg_nb<D>() * WG_BLK + WG_STAGES * WG_BN * sizeof(float) + 1024;
}

/* Byte offset of 16-byte chunk c (of D/8) of row r inside a swizzled 128-row tile. */
__device__ __forceinline__ uint32_t wg_sw(int r, int c)
{
    return (uint32_t)((c >> 3) * WG_BLK + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

/* cp.async 128 rows (row0.., head columns) of src into the swizzled tile at shared address dst; rows past
 * n are zero-filled (finite zeros: masked keys must not bring NaN into P.V). */
template <int D>
__device__ __forceinline__ void wg_load_tile(uint32_t dst, const bf16 *src, int row0, int n, int ld)
{
    constexpr int CH = D / 8;
    for (int c = threadIdx.x; c < WG_BN * CH; c += WG_THREADS) {
        int r = c / CH, cc = c - r * CH, gr = row0 + r, ok = gr < n;
        const bf16 *g = src + (int64_t)(ok ? gr : 0) * ld + cc * 8;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst + wg_sw(r, cc)), "l"(g),
                     "r"(ok ? 16 : 0));
    }
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

struct wg_smem {
    uint32_t q, k, v; /* shared addresses of the Q tile and of stage 0 of the K/V rings */
    float *mb;        /* WG_STAGES x WG_BN additive masks */
};

template <int D>
__device__ __forceinline__ void wg_load_kv(const wg_smem &sm, const bf16 *kh, const bf16 *vh, const uint8_t *mask,
                                           int t, int Nk, int ld)
{
    constexpr uint32_t TB = wg_nb<D>() * WG_BLK;
    int st = t % WG_STAGES, k0 = t * WG_BN;
    wg_load_tile<D>(sm.k + st * TB, kh, k0, Nk, ld);
    wg_load_tile<D>(sm.v + st * TB, vh, k0, Nk, ld);
    if (threadIdx.x < WG_BN) {
        int gr = k0 + threadIdx.x;
        int ok = gr < Nk && (!mask || mask[gr]);
        sm.mb[st * WG_BN + threadIdx.x] = ok ? 0.0f : -INFINITY;
    }
}

/* Issue S(64 x 128) = Q_w K_t^T for this warpgroup (not waited). */
template <int D> __device__ __forceinline__ void wg_issue_s(float *s, uint32_t qw, uint32_t kt)
{
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        uint32_t off = (kk >> 2) * WG_BLK + (kk & 3) * 32;
        wgmma_ss_n128(s, wg_desc(qw + off), wg_desc(kt + off), kk > 0);
    }
}

/* Online-softmax update of S in place to P (fp32), rescaling O and the row sums. Thread holds rows g and
 * g+8 of its warp's 16; s[4j+e] is column 8j + 2c + (e & 1), row g + 8 (e >> 1). */
template <int D>
__device__ __forceinline__ void wg_softmax(float *s, const float *mb, float *o, float *mrow, float *lrow,
                                           float scale_log2)
{
    const int c2 = 2 * (threadIdx.x & 3);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < 16; j++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            s[4 * j + e] = s[4 * j + e] * scale_log2 + mb[8 * j + c2 + (e & 1)];
            mx[e >> 1] = fmaxf(mx[e >> 1], s[4 * j + e]);
        }
    }
    float corr[2], muse[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        float mnew = fmaxf(mrow[r], mx[r]);
        muse[r] = mnew == -INFINITY ? 0.0f : mnew; /* all keys so far masked: p = 0, no inf - inf */
        corr[r] = exp2f(mrow[r] - muse[r]);
        mrow[r] = mnew;
        lrow[r] *= corr[r];
    }
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        o[4 * n + 0] *= corr[0]; o[4 * n + 1] *= corr[0];
        o[4 * n + 2] *= corr[1]; o[4 * n + 3] *= corr[1];
    }
#pragma unroll
    for (int j = 0; j < 16; j++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            s[4 * j + e] = exp2f(s[4 * j + e] - muse[e >> 1]);
            lrow[e >> 1] += s[4 * j + e];
        }
    }
}

/* Issue O += P V_t (not waited): 8 k-steps of 16 keys, each one wgmma per 64-wide block of d. O is laid
 * out as D/8 column chunks of 4 registers, so block 1 starts at o + 32. */
template <int D> __device__ __forceinline__ void wg_issue_pv(float *o, const uint32_t *p, uint32_t vt)
{
#pragma unroll
    for (int kk = 0; kk < WG_BN / 16; kk++) {
        wgmma_rs_n64_t(o, p + 4 * kk, wg_desc(vt + kk * 2048, 1024));
        if (D == 112) wgmma_rs_n48_t(o + 32, p + 4 * kk, wg_desc(vt + WG_BLK + kk * 2048, 1024));
        if (D == 128) wgmma_rs_n64_t(o + 32, p + 4 * kk, wg_desc(vt + WG_BLK + kk * 2048, 1024));
    }
}

__device__ __forceinline__ void wg_pack_p(const float *s, uint32_t *p)
{
#pragma unroll
    for (int i = 0; i < 32; i++) p[i] = pack_bf16(s[2 * i], s[2 * i + 1]);
}

/* Normalise by the row sums and store rows g and g+8 of this warp (4-byte stores; a quad covers 16
 * contiguous bytes per 8-column chunk). */
template <int D>
__device__ __forceinline__ void wg_store(const float *o, float *lrow, bf16 *oh, int row, int Nq, int ld)
{
    const int c2 = 2 * (threadIdx.x & 3);
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float l = lrow[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
    }
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        int col = 8 * n + c2;
        if (row < Nq) *(uint32_t *)(oh + (int64_t)row * ld + col) = pack_bf16(o[4 * n] * inv[0], o[4 * n + 1] * inv[0]);
        if (row + 8 < Nq)
            *(uint32_t *)(oh + (int64_t)(row + 8) * ld + col) = pack_bf16(o[4 * n + 2] * inv[1], o[4 * n + 3] * inv[1]);
    }
}

#endif /* __CUDA_ARCH_FEAT_SM90_ALL */

template <int D>
__global__ void __launch_bounds__(WG_THREADS, 1)
    flash_attn_wgmma_kernel(const bf16 *q, const bf16 *k, const bf16 *v, const uint8_t *mask, bf16 *o, int Nq, int Nk,
                            int ld, float scale_log2)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr uint32_t TB = wg_nb<D>() * WG_BLK;
    extern __shared__ __align__(16) unsigned char wg_raw[];
    const uint32_t raw = smem_u32(wg_raw), base = (raw + 1023u) & ~1023u;
    wg_smem sm;
    sm.q = base;
    sm.k = base + TB;
    sm.v = base + (1 + WG_STAGES) * TB;
    sm.mb = (float *)(wg_raw + (base - raw) + (1 + 2 * WG_STAGES) * TB);
    const int h = blockIdx.y, q0 = blockIdx.x * WG_BM, wg = threadIdx.x >> 7;
    const bf16 *kh = k + h * D, *vh = v + h * D;
    const int ntiles = (Nk + WG_BN - 1) / WG_BN;

    /* Prologue: Q and the first WG_STAGES-1 key tiles in flight, one commit group each. */
    wg_load_tile<D>(sm.q, q + h * D, q0, Nq, ld);
    for (int t = 0; t < WG_STAGES - 1; t++) {
        if (t < ntiles) wg_load_kv<D>(sm, kh, vh, mask, t, Nk, ld);
        cp_async_commit();
    }

    float o_acc[D / 2], s_cur[64], s_nxt[64];
    uint32_t p[32];
#pragma unroll
    for (int i = 0; i < D / 2; i++) o_acc[i] = 0.0f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
    const uint32_t qw = sm.q + wg * 64 * 128;

    /* Tile 0's S. */
    cp_async_wait<WG_STAGES - 2>();
    fence_proxy_async();
    __syncthreads();
    if (ntiles > 0) {
        wg_fence();
        wg_issue_s<D>(s_cur, qw, sm.k);
        wg_commit();
    }
    for (int t = 0; t < ntiles; t++) {
        const int st = t % WG_STAGES;
        /* Ring: tile t+WG_STAGES-1 goes into the stage tile t-1 used; the barrier at the end of
         * iteration t-1 guarantees both warpgroups finished reading it. */
        if (t + WG_STAGES - 1 < ntiles) wg_load_kv<D>(sm, kh, vh, mask, t + WG_STAGES - 1, Nk, ld);
        cp_async_commit();
        /* Tile t+1 landed (all but the newest WG_STAGES-2 groups), visible to the async proxy. */
        cp_async_wait<WG_STAGES - 2>();
        fence_proxy_async();
        __syncthreads();
        wg_wait<0>(); /* S_t done */
        wg_pin<64>(s_cur);
        if (t + 1 < ntiles) {
            wg_fence();
            wg_issue_s<D>(s_nxt, qw, sm.k + ((t + 1) % WG_STAGES) * TB);
            wg_commit();
        }
        wg_softmax<D>(s_cur, sm.mb + st * WG_BN, o_acc, mrow, lrow, scale_log2);
        wg_pack_p(s_cur, p);
        wg_fence();
        wg_issue_pv<D>(o_acc, p, sm.v + st * TB);
        wg_commit();
        wg_wait<0>(); /* P V_t (and S_{t+1}) done: stage st may be refilled after the barrier */
        wg_pin<D / 2>(o_acc);
        wg_pin<64>(s_nxt);
#pragma unroll
        for (int i = 0; i < 32; i++) asm volatile("" : "+r"(p[i])::"memory");
#pragma unroll
        for (int i = 0; i < 64; i++) s_cur[i] = s_nxt[i];
        __syncthreads();
    }
    cp_async_wait<0>();
    const int warp = (threadIdx.x >> 5) & 3, g = (threadIdx.x & 31) >> 2;
    wg_store<D>(o_acc, lrow, o + h * D, q0 + wg * 64 + warp * 16 + g, Nq, ld);
#else
    (void)q; (void)k; (void)v; (void)mask; (void)o; (void)Nq; (void)Nk; (void)ld; (void)scale_log2;
#endif
}

/* The sm_90 image of the kernel is empty: run the wgmma path only when the loaded image is the sm_90a
 * one (it uses registers; the empty stub needs almost none). Checked once per backend. */
template <int D> static int wg_image_ok()
{
    cudaFuncAttributes a;
    if (cudaFuncGetAttributes(&a, (const void *)flash_attn_wgmma_kernel<D>) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return a.numRegs >= 64;
}

template <int D>
static wm_status wg_launch(wm_backend *be, const bf16 *q, const bf16 *k, const bf16 *v, const uint8_t *mask, bf16 *o,
                           int H, int Nq, int Nk, int ld, float scale)
{
    size_t smem = wg_smem_bytes<D>();
    WM_TRY(wm__cuda_smem_optin(be, (const void *)flash_attn_wgmma_kernel<D>,
                               D == 112 ? WM_SMEM_WG112 : D == 128 ? WM_SMEM_WG128 : WM_SMEM_WG64, smem));
    dim3 grid((unsigned)((Nq + WG_BM - 1) / WG_BM), (unsigned)H);
    flash_attn_wgmma_kernel<D><<<grid, WG_THREADS, smem, wm__cuda_stream(be)>>>(q, k, v, mask, o, Nq, Nk, ld,
                                                                                 scale * 1.4426950408889634f);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* WM_OK when launched; WM_ERR_UNSUPPORTED (nothing launched, no error recorded) when this path does not
 * apply, so the caller falls back to the mma.sync kernel. */
extern "C" wm_status wm__attention_wgmma(wm_backend *be, const void *q, const void *k, const void *v,
                                         const uint8_t *mask, void *o, int H, int D, int Nq, int Nk, int ld,
                                         float scale)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    if (c->attn_impl == WM_ATTN_MMA) return WM_ERR_UNSUPPORTED;
    if (c->attn_impl == WM_ATTN_AUTO) {
        int ok = wg_image_ok<112>() && wg_image_ok<128>() && wg_image_ok<64>();
        c->attn_impl = ok ? WM_ATTN_WGMMA : WM_ATTN_MMA;
        wm__log(WM_LOG_INFO, "cuda attention: %s", ok ? "wgmma kernel (sm_90a)" : "mma.sync kernel (no sm_90a image)");
        if (!ok) return WM_ERR_UNSUPPORTED;
    }
    const bf16 *bq = (const bf16 *)q, *bk = (const bf16 *)k, *bv = (const bf16 *)v;
    if (D == 112) return wg_launch<112>(be, bq, bk, bv, mask, (bf16 *)o, H, Nq, Nk, ld, scale);
    if (D == 128) return wg_launch<128>(be, bq, bk, bv, mask, (bf16 *)o, H, Nq, Nk, ld, scale);
    if (D == 64) return wg_launch<64>(be, bq, bk, bv, mask, (bf16 *)o, H, Nq, Nk, ld, scale);
    return WM_ERR_UNSUPPORTED;
}
