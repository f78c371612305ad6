/* Softmax attention on Hopper warpgroup MMA (wgmma, sm_90a): the fast path of wm_attention_cuda for bf16
 * with head dim 64/112/128 (tokens-major (N, H*D) tensors, optional key mask, fp32 online softmax).
 *
 * Scheme (FlashAttention-3 class):
 *   - block = 1 producer + 2 consumer warpgroups (384 threads) = 128 queries of one head; consumer
 *     warpgroup w owns query rows 64w..64w+63 for the whole key loop (softmax statistics in registers);
 *     setmaxnreg moves registers from the producer (24) to the consumers (240);
 *   - one producer warp streams Q once and K/V tiles of 128 keys with TMA (cp.async.bulk.tensor, one
 *     3-D tensor map (d, head, token) per tensor, 128-byte swizzle, out-of-range rows and the columns
 *     112..127 of the second 64-wide block zero-filled by the hardware) into a 3-stage ring guarded by
 *     mbarriers (full: TMA bytes + the producer's key-mask writes; empty: all 256 consumer threads), so
 *     the consumers issue no load instruction and never meet at a block-wide barrier;
 *   - S = Q K^T is one m64n128 wgmma chain per warpgroup (D/16 k-steps, both operands in shared memory);
 *     P = exp2(S - m) is packed to bf16 in registers and fed as the register A operand of O += P V
 *     (m64n64 + m64n48 for D = 112, V read MN-major with the transpose bit: no transpose pass);
 *   - FlashAttention-3 scheduling: S_t and P_{t-1} V_{t-1} are issued back to back, S_t is awaited alone,
 *     so the softmax of S_t overlaps this warpgroup's own P.V (P double-buffered in registers, O rescaled
 *     after the P.V retires), and the two consumer warpgroups take turns to issue (named barriers), so
 *     one's softmax also runs under the other's wgmmas (WM_CUDA_ATTN=free: no turns, measured slower);
 *   - head dim 112 is used as is (7 k-steps); the scale folds into the exp2 argument; fully masked rows
 *     give 0, as the CPU reference does;
 *   - persistent: one block per SM walks the units (query tile, head[, key range]) u = blockIdx.x +
 *     k * gridDim.x; the ring carries over from unit to unit and Q has its own full/empty pair, so the
 *     next unit's Q and first K/V tiles load while this unit's last softmax, P.V and stores run (a
 *     cross-attention unit is one key tile: launched a block per unit it was latency-bound).
 * Compiled only in the sm_90a pass; the sm_90 pass gets an empty kernel that the launcher never runs
 * (it checks the loaded image first). The host encodes the three tensor maps per call (a few us, host
 * only; graph capture keeps them as kernel parameters).
 */
#include "cuda_common.cuh"
#include "mma.cuh"
#include "attention_wgmma.cuh"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <math.h>

#define WG_BM 128
#define WG_BN 128
#define WG_THREADS 256
#define WG_STAGES 3
#define WG_BLK 16384 /* bytes of one 64-column block of a 128-row tile */

/* Shared memory: Q tile, WG_STAGES K tiles, WG_STAGES V tiles (each NB blocks of 16 KB), the additive
 * key masks, the mbarriers (full[S], empty[S], Q full, Q empty), per-stage "no masked key" flags, plus
 * 1 KB so the base can be rounded up to the 1024-byte swizzle atom. */
template <int D> static constexpr int wg_nb() { return (D + 63) / 64; }
template <int D> static constexpr size_t wg_smem_bytes()
{
    return (size_t)(1 + 2 * WG_STAGES) * wg_nb<D>() * WG_BLK + WG_STAGES * WG_BN * sizeof(float) +
           (2 * WG_STAGES + 2) * 8 + WG_STAGES * 4 + 1024;
}

/* Tail balancing. Units (query tile, head) run one block per SM, so 420 units on 132 SMs leave a last
 * wave of 24 blocks (25% of the time for 6% of the work). The last `rem` units are therefore split over
 * nsplit key ranges each (partials in the backend scratch, then wg_combine_kernel). */
struct wg_split {
    int nqt, n_full, nsplit; /* query tiles per head; unsplit units; splits per tail unit */
    int n_work;              /* work items: n_full + (units - n_full) * nsplit */
    float *po, *pml;         /* partial O (nsplit*rem blocks x 128 x D) and (m, l) pairs */
};

/* Work item w -> head, first query row, key tiles [t0, t0 + ntiles) and split index (-1: not split). */
struct wg_item {
    int h, q0, t0, ntiles, split;
};
__device__ __forceinline__ wg_item wg_decode(const wg_split &sp, int w, int Nk)
{
    wg_item it;
    int unit = w;
    it.split = -1;
    if (unit >= sp.n_full) {
        it.split = (unit - sp.n_full) % sp.nsplit;
        unit = sp.n_full + (unit - sp.n_full) / sp.nsplit;
    }
    it.h = unit / sp.nqt;
    it.q0 = (unit - it.h * sp.nqt) * WG_BM;
    const int nk_all = (Nk + WG_BN - 1) / WG_BN;
    it.t0 = it.split < 0 ? 0 : it.split * nk_all / sp.nsplit;
    it.ntiles = it.split < 0 ? nk_all : (it.split + 1) * nk_all / sp.nsplit - it.t0;
    return it;
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

/* Issue S(64 x 128) = Q_w K_t^T for this warpgroup (not waited). */
template <int D> __device__ __forceinline__ void wg_issue_s(float *s, uint32_t qw, uint32_t kt)
{
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        uint32_t off = (kk >> 2) * WG_BLK + (kk & 3) * 32;
        if (kk == 0) wgmma_ss_n128_z(s, wg_desc(qw + off), wg_desc(kt + off));
        else wgmma_ss_n128(s, wg_desc(qw + off), wg_desc(kt + off), 1);
    }
}

/* Online-softmax update: P = exp2(S * scale + mask - m) packed to bf16 (the register A operand of P.V), the
 * row sums rescaled, corr = the factor for O (applied by the caller once the previous P.V that
 * accumulates into O has retired). S is only read: writing softmax values back into the wgmma accumulator
 * registers makes ptxas serialise every wgmma of the kernel (C7515). Thread holds rows g and g+8 of its
 * warp's 16; s[4j+e] is column 8j + 2c + (e & 1), row g + 8 (e >> 1); p[2j + (e >> 1)] packs e&1 = 0/1. */
template <int D>
__device__ __forceinline__ void wg_softmax(const float *s, const float *mb, float *mrow, float *lrow,
                                           float scale_log2, uint32_t *p, bool clean, float (&corr)[2])
{
    const int c2 = 2 * (threadIdx.x & 3);
    float mx[2] = {-INFINITY, -INFINITY};
    if (clean) { /* no masked key in the tile: max of the raw scores (scale > 0), one FMA per exp below */
#pragma unroll
        for (int j = 0; j < 16; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) mx[e >> 1] = fmaxf(mx[e >> 1], s[4 * j + e]);
        mx[0] *= scale_log2;
        mx[1] *= scale_log2;
    } else {
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const float2 m2 = *(const float2 *)(mb + 8 * j + c2);
#pragma unroll
            for (int e = 0; e < 4; e++)
                mx[e >> 1] = fmaxf(mx[e >> 1], fmaf(s[4 * j + e], scale_log2, (e & 1) ? m2.y : m2.x));
        }
    }
    float muse[2];
    /* lazy maxima (FlashAttention-4's conditional rescaling): corr = 1 exactly on most tiles after the first
     * few, so wg_tile's warps whose rows all kept their max skip the O rescale; all keys so far masked:
     * p = 0, no inf - inf */
    mma_softmax_max<true>(mx, mrow, lrow, corr, muse);
    const float nm0 = -muse[0], nm1 = -muse[1];
#pragma unroll
    for (int j = 0; j < 16; j++) {
        /* the masked, scaled score again (one FMA; holding it would cost 64 registers) */
        float2 m2 = make_float2(nm0, nm0), m3 = make_float2(nm1, nm1);
        if (!clean) {
            const float2 mk = *(const float2 *)(mb + 8 * j + c2);
            m2 = make_float2(mk.x + nm0, mk.y + nm0);
            m3 = make_float2(mk.x + nm1, mk.y + nm1);
        }
        float e0 = exp2f(fmaf(s[4 * j], scale_log2, m2.x));
        float e1 = exp2f(fmaf(s[4 * j + 1], scale_log2, m2.y));
        float e2 = exp2f(fmaf(s[4 * j + 2], scale_log2, m3.x));
        float e3 = exp2f(fmaf(s[4 * j + 3], scale_log2, m3.y));
        lrow[0] += e0 + e1;
        lrow[1] += e2 + e3;
        p[2 * j] = pack_bf16(e0, e1);
        p[2 * j + 1] = pack_bf16(e2, e3);
    }
}

/* Issue O += P V_t (not waited): 8 k-steps of 16 keys, each one wgmma per 64-wide block of d. O is laid
 * out as D/8 column chunks of 4 registers, so block 1 starts at o + 32. */
template <int D, bool FIRST> __device__ __forceinline__ void wg_issue_pv(float *o, const uint32_t *p, uint32_t vt)
{
#pragma unroll
    for (int kk = 0; kk < WG_BN / 16; kk++) {
        const uint64_t d0 = wg_desc(vt + kk * 2048, 1024), d1 = wg_desc(vt + WG_BLK + kk * 2048, 1024);
        if (FIRST && kk == 0) { /* O = P V: the accumulator is never written by ordinary instructions */
            wgmma_rs_n64_t_z(o, p, d0);
            if (D == 112) wgmma_rs_n48_t_z(o + 32, p, d1);
            if (D == 128) wgmma_rs_n64_t_z(o + 32, p, d1);
        } else {
            wgmma_rs_n64_t(o, p + 4 * kk, d0);
            if (D == 112) wgmma_rs_n48_t(o + 32, p + 4 * kk, d1);
            if (D == 128) wgmma_rs_n64_t(o + 32, p + 4 * kk, d1);
        }
    }
}

/* Normalise by the row sums and store rows g and g+8 of this warp (4-byte stores; a quad covers 16
 * contiguous bytes per 8-column chunk). */
template <int D>
__device__ __forceinline__ void wg_store(const float *o, float *lrow, bf16 *oh, int row, int Nq, int ld)
{
    const int c2 = 2 * (threadIdx.x & 3);
    float inv[2];
    mma_row_inv(lrow, inv);
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        int col = 8 * n + c2;
        if (row < Nq) *(uint32_t *)(oh + (int64_t)row * ld + col) = pack_bf16(o[4 * n] * inv[0], o[4 * n + 1] * inv[0]);
        if (row + 8 < Nq)
            *(uint32_t *)(oh + (int64_t)(row + 8) * ld + col) = pack_bf16(o[4 * n + 2] * inv[1], o[4 * n + 3] * inv[1]);
    }
}

/* A split block's partial result for rows rl, rl+8 of its 128: unnormalised O (fp32) and the row max
 * (log2 domain) and row sum, combined by wg_combine_kernel. */
template <int D>
__device__ __forceinline__ void wg_store_part(const float *o, const float *mrow, float *lrow, const wg_split &sp, int pb,
                                              int rl)
{
    const int c2 = 2 * (threadIdx.x & 3);
    float *po = sp.po + (size_t)pb * WG_BM * D;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 1);
        lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 2);
    }
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        *(float2 *)(po + rl * D + 8 * n + c2) = make_float2(o[4 * n], o[4 * n + 1]);
        *(float2 *)(po + (rl + 8) * D + 8 * n + c2) = make_float2(o[4 * n + 2], o[4 * n + 3]);
    }
    if (c2 == 0) {
        float *pml = sp.pml + (size_t)pb * WG_BM * 2;
        pml[rl * 2] = mrow[0];
        pml[rl * 2 + 1] = lrow[0];
        pml[(rl + 8) * 2] = mrow[1];
        pml[(rl + 8) * 2 + 1] = lrow[1];
    }
}

#endif /* __CUDA_ARCH_FEAT_SM90_ALL */

/* Ping-pong between the two consumer warpgroups (FlashAttention-3's warp-scheduler barriers): a warpgroup
 * issues its wgmmas only in its turn (named barrier 1 + wg), then hands the turn to the other, so the
 * tensor cores run one warpgroup's P.V and S while the other runs its softmax instead of both meeting in
 * softmax and then in the queue. Warpgroup 1 opens the first turn of warpgroup 0 and warpgroup 0 takes
 * the last, unmatched hand-over at the end, so every barrier phase completes (both walk the same units). */
__device__ __forceinline__ void wg_turn_wait(int wg) { asm volatile("bar.sync %0, 256;\n" ::"r"(1 + wg) : "memory"); }
__device__ __forceinline__ void wg_turn_pass(int wg) { asm volatile("bar.arrive %0, 256;\n" ::"r"(2 - wg) : "memory"); }

/* One key tile t >= 1 of a consumer warpgroup (FlashAttention-3 ordering): in this warpgroup's turn (pp),
 * S_t = Q K_t^T and then P_{t-1} V_{t-1} are issued; S_t is awaited alone, so the softmax of S_t (into
 * pcur) runs while this warpgroup's P.V is still on the tensor cores, and only then is the P.V awaited,
 * the stage of tile t-1 released and O rescaled. P is double-buffered (pprev is being read by the P.V). */
template <int D>
__device__ __forceinline__ void wg_tile(int t, int ntiles, int kt0, float *o_acc, float *s, float *mrow, float *lrow,
                                        uint32_t (&pprev)[32], uint32_t (&pcur)[32], uint32_t qw, uint32_t kbase,
                                        uint32_t vbase, const float *mb, uint32_t bars, float scale_log2, int pp, int wg)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr uint32_t TB = wg_nb<D>() * WG_BLK;
    const int kt = kt0 + t, st = kt % WG_STAGES, sp = (kt + WG_STAGES - 1) % WG_STAGES;
    mbar_wait(bars + 8 * st, (kt / WG_STAGES) & 1);
    if (pp) wg_turn_wait(wg);
    /* Pin O before the fence so the previous rescale cannot sink past it. (Pinning P here as well makes
     * ptxas serialise every wgmma, C7515; the P writes stay ahead of the fence without it.) */
    wg_pin<D / 2>(o_acc);
    wg_fence();
    wg_issue_s<D>(s, qw, kbase + st * TB);
    wg_commit();
    if (t == 1) wg_issue_pv<D, true>(o_acc, pprev, vbase + sp * TB);
    else wg_issue_pv<D, false>(o_acc, pprev, vbase + sp * TB);
    wg_commit();
    if (pp) wg_turn_pass(wg);
    wg_wait<1>(); /* S_t done; P_{t-1} V_{t-1} may still run */
    wg_pin<64>(s);
    if (t == ntiles - 1) mbar_arrive(bars + 8 * (2 * WG_STAGES + 1)); /* the next unit's Q may load */
    const bool clean = ((const volatile int *)(mb + WG_STAGES * WG_BN + 16))[st] != 0;
    float corr[2];
    wg_softmax<D>(s, mb + st * WG_BN, mrow, lrow, scale_log2, pcur, clean, corr);
    wg_wait<0>();
    wg_pin<D / 2>(o_acc);
#pragma unroll
    for (int i = 0; i < 32; i++) asm volatile("" : "+r"(pprev[i])::"memory");
    mbar_arrive(bars + 8 * (WG_STAGES + sp)); /* K, V, mask of t-1 free */
    if (!__all_sync(0xffffffffu, corr[0] == 1.0f && corr[1] == 1.0f)) { /* some row of the warp moved its max */
#pragma unroll
        for (int n = 0; n < D / 8; n++) {
            o_acc[4 * n + 0] *= corr[0]; o_acc[4 * n + 1] *= corr[0];
            o_acc[4 * n + 2] *= corr[1]; o_acc[4 * n + 3] *= corr[1];
        }
    }
#endif
}

/* Consumer warpgroup: the key loop of one unit; kt0 = ring tiles consumed before it. Tile 0 computes S and
 * its softmax only; tiles 1.. run wg_tile (two per loop trip, so the P buffers swap roles with static
 * register names); the last P.V is issued after the loop. Live registers: S 64 + O D/2 + 2 x P 32. */
template <int D>
__device__ __forceinline__ void wg_consume(int ntiles, int kt0, float *o_acc, float *mrow, float *lrow, uint32_t qw,
                                           uint32_t kbase, uint32_t vbase, const float *mb, uint32_t bars,
                                           float scale_log2, int pp, int wg)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr uint32_t TB = wg_nb<D>() * WG_BLK;
    float s[64];
    uint32_t p0[32], p1[32];
#pragma unroll
    for (int i = 0; i < 32; i++) p0[i] = p1[i] = 0u;
    const uint32_t qempty = bars + 8 * (2 * WG_STAGES + 1);
    if (ntiles > 0) { /* tile 0: S only */
        const int st = kt0 % WG_STAGES;
        mbar_wait(bars + 8 * st, (kt0 / WG_STAGES) & 1);
        if (pp) wg_turn_wait(wg);
        wg_fence();
        wg_issue_s<D>(s, qw, kbase + st * TB);
        wg_commit();
        if (pp) wg_turn_pass(wg);
        wg_wait<0>();
        wg_pin<64>(s);
        if (ntiles == 1) mbar_arrive(qempty); /* the next unit's Q may load */
        const bool clean = ((const volatile int *)(mb + WG_STAGES * WG_BN + 16))[st] != 0;
        float corr[2]; /* O has no value yet: nothing to rescale */
        wg_softmax<D>(s, mb + st * WG_BN, mrow, lrow, scale_log2, p0, clean, corr);
    }
    for (int t = 1; t < ntiles; t += 2) {
        wg_tile<D>(t, ntiles, kt0, o_acc, s, mrow, lrow, p0, p1, qw, kbase, vbase, mb, bars, scale_log2, pp, wg);
        if (t + 1 < ntiles)
            wg_tile<D>(t + 1, ntiles, kt0, o_acc, s, mrow, lrow, p1, p0, qw, kbase, vbase, mb, bars, scale_log2, pp, wg);
    }
    if (ntiles > 0) {
        const int st = (kt0 + ntiles - 1) % WG_STAGES;
        if (pp) wg_turn_wait(wg);
        wg_pin<D / 2>(o_acc);
        wg_fence();
        if (ntiles == 1) wg_issue_pv<D, true>(o_acc, p0, vbase + st * TB);
        else if ((ntiles - 1) % 2) wg_issue_pv<D, false>(o_acc, p1, vbase + st * TB);
        else wg_issue_pv<D, false>(o_acc, p0, vbase + st * TB);
        wg_commit();
        if (pp) wg_turn_pass(wg);
        wg_wait<0>();
        wg_pin<D / 2>(o_acc);
#pragma unroll
        for (int i = 0; i < 32; i++) asm volatile("" : "+r"(p0[i]), "+r"(p1[i])::"memory");
        mbar_arrive(bars + 8 * (WG_STAGES + st));
    } else {
        mbar_arrive(qempty);
    }
#endif
}

/* Producer warp, per unit j of this block: Q (once the consumers' last S of unit j-1 is done), then the K/V
 * tiles t0.. into the ring (ring tile kt = kt0 + t, waiting for its stage to be released), with the tile's
 * additive key mask (0 or -inf; keys past Nk masked) written by the 32 lanes. */
template <int D>
__device__ __forceinline__ void wg_produce(const CUtensorMap *tq, const CUtensorMap *tk, const CUtensorMap *tv,
                                           const uint8_t *mask, uint32_t qs, uint32_t kbase, uint32_t vbase,
                                           float *mb, uint32_t bars, int j, int kt0, const wg_item &it, int Nk)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int NB = wg_nb<D>();
    constexpr uint32_t TB = NB * WG_BLK;
    const int lane = threadIdx.x & 31;
    const uint32_t qbar = bars + 8 * (2 * WG_STAGES), qempty = qbar + 8;
    if (lane == 0) {
        if (j > 0) mbar_wait(qempty, (j - 1) & 1);
        mbar_arrive_tx(qbar, TB);
        for (int b = 0; b < NB; b++) tma_load_3d(qs + b * WG_BLK, tq, qbar, 64 * b, it.h, it.q0);
    }
    __syncwarp();
    const int h = it.h;
    for (int t = 0; t < it.ntiles; t++) {
        const int kt = kt0 + t, st = kt % WG_STAGES, k0 = (it.t0 + t) * WG_BN;
        const uint32_t full = bars + 8 * st;
        if (kt >= WG_STAGES) mbar_wait(bars + 8 * (WG_STAGES + st), ((kt / WG_STAGES) - 1) & 1);
        int all_ok = 1;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int key = k0 + 4 * lane + i;
            int ok = key < Nk && (!mask || mask[key]);
            all_ok &= ok;
            mb[st * WG_BN + 4 * lane + i] = ok ? 0.0f : -INFINITY;
        }
        all_ok = __all_sync(0xffffffffu, all_ok);
        if (lane == 0) {
            ((volatile int *)(mb + WG_STAGES * WG_BN + 16))[st] = all_ok; /* tile has no masked key */
            mbar_arrive_tx(full, 2 * TB);
            for (int b = 0; b < NB; b++) {
                tma_load_3d(kbase + st * TB + b * WG_BLK, tk, full, 64 * b, h, k0);
                tma_load_3d(vbase + st * TB + b * WG_BLK, tv, full, 64 * b, h, k0);
            }
        } else {
            mbar_arrive(full);
        }
    }
#endif
}

template <int D>
__global__ void __launch_bounds__(WG_THREADS + 128, 1)
    flash_attn_wgmma_kernel(const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                            const __grid_constant__ CUtensorMap tv, const uint8_t *mask, bf16 *o, int Nq, int Nk,
                            int ld, float scale_log2, wg_split sp, int pp)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr uint32_t TB = wg_nb<D>() * WG_BLK;
    extern __shared__ __align__(16) unsigned char wg_raw[];
    const uint32_t raw = smem_u32(wg_raw), base = (raw + 1023u) & ~1023u;
    const uint32_t qs = base, kbase = base + TB, vbase = base + (1 + WG_STAGES) * TB;
    float *mb = (float *)(wg_raw + (base - raw) + (1 + 2 * WG_STAGES) * TB);
    /* mbarriers after the masks: full[WG_STAGES], empty[WG_STAGES], Q full, Q empty */
    const uint32_t bars = base + (1 + 2 * WG_STAGES) * TB + WG_STAGES * WG_BN * 4;
    /* Warpgroup index through a shuffle: provably warp-uniform, so the compiler keeps the wgmma chains of
     * the consumer branch asynchronous (no serialising waits for a "divergent" path). */
    const int wgi = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0);
    if (threadIdx.x == 0) {
        for (int s = 0; s < WG_STAGES; s++) {
            mbar_init(bars + 8 * s, 32);                       /* full: producer lanes (+ TMA bytes) */
            mbar_init(bars + 8 * (WG_STAGES + s), WG_THREADS); /* empty: every consumer thread */
        }
        mbar_init(bars + 8 * (2 * WG_STAGES), 1);
        mbar_init(bars + 8 * (2 * WG_STAGES + 1), WG_THREADS); /* Q empty: every consumer thread */
        mbar_init_fence();
    }
    __syncthreads();
    if (wgi == 0) { /* producer warpgroup: hands its registers to the consumers; warp 0 issues the loads */
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
        if ((threadIdx.x >> 5) != 0) return;
        int kt = 0, j = 0;
        for (int w = blockIdx.x; w < sp.n_work; w += gridDim.x, j++) {
            const wg_item it = wg_decode(sp, w, Nk);
            wg_produce<D>(&tq, &tk, &tv, mask, qs, kbase, vbase, mb, bars, j, kt, it, Nk);
            kt += it.ntiles;
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
    const int wg = wgi - 1;
    /* O is first written by the first P.V wgmma (zeroing form); zeroing it with ordinary instructions
     * makes ptxas serialise every wgmma (C7515). No keys at all: zeros after the loop. */
    const uint32_t qw = qs + wg * 64 * 128;
    const int warp = (threadIdx.x >> 5) & 3, g = (threadIdx.x & 31) >> 2, rl = wg * 64 + warp * 16 + g;
    if (pp && wg == 1) wg_turn_pass(1); /* warpgroup 0 has the first turn */
    int kt = 0, j = 0;
    for (int w = blockIdx.x; w < sp.n_work; w += gridDim.x, j++) {
        const wg_item it = wg_decode(sp, w, Nk);
        float o_acc[D / 2], mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
        mbar_wait(bars + 8 * (2 * WG_STAGES), j & 1);
        wg_consume<D>(it.ntiles, kt, o_acc, mrow, lrow, qw, kbase, vbase, mb, bars, scale_log2, pp, wg);
        kt += it.ntiles;
        if (it.ntiles == 0)
#pragma unroll
            for (int i = 0; i < D / 2; i++) o_acc[i] = 0.0f;
        if (it.split < 0) wg_store<D>(o_acc, lrow, o + it.h * D, it.q0 + rl, Nq, ld);
        else wg_store_part<D>(o_acc, mrow, lrow, sp, w - sp.n_full, rl);
    }
    if (pp && wg == 0) wg_turn_wait(0); /* warpgroup 1's last hand-over */
#else
    (void)tq; (void)tk; (void)tv; (void)mask; (void)o; (void)Nq; (void)Nk; (void)ld; (void)scale_log2; (void)sp;
    (void)pp;
#endif
}

/* Merge the split partials of the tail units: one warp per query row, o = sum_s w_s O_s / sum_s w_s l_s
 * with w_s = 2^(m_s - max m); rows that saw no unmasked key anywhere give 0. Plain CUDA (any image). */
template <int D>
__global__ void wg_combine_kernel(wg_split sp, bf16 *o, int Nq, int ld, int rem)
{
    const int wrow = (int)((blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (wrow >= rem * WG_BM) return;
    const int j = wrow / WG_BM, r = wrow - j * WG_BM, unit = sp.n_full + j;
    const int h = unit / sp.nqt, row = (unit - h * sp.nqt) * WG_BM + r;
    if (row >= Nq) return;
    float M = -INFINITY;
    for (int s = 0; s < sp.nsplit; s++) M = fmaxf(M, sp.pml[((size_t)(j * sp.nsplit + s) * WG_BM + r) * 2]);
    float acc[(D + 31) / 32], L = 0.0f;
#pragma unroll
    for (int i = 0; i < (D + 31) / 32; i++) acc[i] = 0.0f;
    for (int s = 0; s < sp.nsplit; s++) {
        const size_t pr = (size_t)(j * sp.nsplit + s) * WG_BM + r;
        const float m = sp.pml[pr * 2], w = m == -INFINITY ? 0.0f : exp2f(m - M);
        L += w * sp.pml[pr * 2 + 1];
#pragma unroll
        for (int i = 0; i < (D + 31) / 32; i++)
            if (lane + 32 * i < D) acc[i] += w * sp.po[pr * D + lane + 32 * i];
    }
    const float inv = L > 0.0f ? 1.0f / L : 0.0f;
#pragma unroll
    for (int i = 0; i < (D + 31) / 32; i++)
        if (lane + 32 * i < D) o[(int64_t)row * ld + h * D + lane + 32 * i] = __float2bfloat16(acc[i] * inv);
}

/* The sm_90 image of the kernel is empty: run the wgmma path only when the loaded image is the sm_90a
 * one (it uses registers; the empty stub needs almost none). */
template <int D> static int wg_image_ok()
{
    cudaFuncAttributes a;
    if (cudaFuncGetAttributes(&a, (const void *)flash_attn_wgmma_kernel<D>) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return a.numRegs >= 64;
}

/* Tensor map of one (N, H*D) bf16 tensor seen as 3-D (d, head, token), box 64 x 1 x 128, 128-byte swizzle. */
static int wg_tmap(PFN_cuTensorMapEncodeTiled_v12000 enc, CUtensorMap *m, const void *p, int D, int H, int N, int ld)
{
    cuuint64_t dims[3] = {(cuuint64_t)D, (cuuint64_t)H, (cuuint64_t)N};
    cuuint64_t strides[2] = {(cuuint64_t)D * 2, (cuuint64_t)ld * 2};
    cuuint32_t box[3] = {64, 1, WG_BN}, estr[3] = {1, 1, 1};
    return enc(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, (void *)p, dims, strides, box, estr,
               CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
               CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

/* Split plan: when the last wave is at most half full and the key loop is long (>= 8 tiles), split the
 * last rem units into up to n_sm / rem key ranges (at least 4 tiles each, at most 8 ranges), if the
 * partials fit in the backend scratch. */
static wg_split wg_plan(wm_cuda_ctx *c, int D, int H, int Nq, int Nk)
{
    wg_split sp = {(Nq + WG_BM - 1) / WG_BM, 0, 1, 0, NULL, NULL};
    const int units = sp.nqt * H, nk = (Nk + WG_BN - 1) / WG_BN, nsm = c->n_sm > 0 ? c->n_sm : 1;
    sp.n_full = units;
    sp.n_work = units;
    const int rem = units % nsm;
    if (rem == 0 || 2 * rem > nsm || nk < 8) return sp;
    int ns = nsm / rem;
    if (ns > 8) ns = 8;
    if (ns > nk / 4) ns = nk / 4;
    const size_t need = (size_t)rem * ns * WG_BM * (D + 2) * sizeof(float);
    if (ns < 2 || need > c->scratch_bytes) return sp;
    sp.n_full = units - rem;
    sp.nsplit = ns;
    sp.n_work = sp.n_full + rem * ns;
    sp.po = (float *)c->scratch;
    sp.pml = sp.po + (size_t)rem * ns * WG_BM * D;
    return sp;
}

template <int D>
static wm_status wg_launch(wm_backend *be, const CUtensorMap *m, const uint8_t *mask, bf16 *o, int H, int Nq, int Nk,
                           int ld, float scale)
{
    size_t smem = wg_smem_bytes<D>();
    WM_TRY(wm__cuda_smem_optin(be, (const void *)flash_attn_wgmma_kernel<D>,
                               D == 112 ? WM_SMEM_WG112 : D == 128 ? WM_SMEM_WG128 : WM_SMEM_WG64, smem));
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    const wg_split sp = wg_plan(c, D, H, Nq, Nk);
    const int units = sp.nqt * H, rem = units - sp.n_full;
    /* persistent: a block per SM (one fits per SM); WM_CUDA_ATTN=wave: a block per work item */
    const int nsm = c->n_sm > 0 ? c->n_sm : 1;
    const unsigned blocks = (unsigned)(c->attn_wave || sp.n_work < nsm ? sp.n_work : nsm);
    flash_attn_wgmma_kernel<D><<<blocks, WG_THREADS + 128, smem, wm__cuda_stream(be)>>>(
        m[0], m[1], m[2], mask, o, Nq, Nk, ld, scale * 1.4426950408889634f, sp, !c->attn_free);
    WM_CUDA_LAUNCHED(be);
    if (rem > 0) {
        const unsigned cb = (unsigned)((rem * WG_BM + 7) / 8);
        wg_combine_kernel<D><<<cb, 256, 0, wm__cuda_stream(be)>>>(sp, o, Nq, ld, rem);
        WM_CUDA_LAUNCHED(be);
    }
    return WM_OK;
}

/* WM_OK when launched; WM_ERR_UNSUPPORTED (nothing launched) when this path does not apply, so the caller
 * falls back to the mma.sync kernel. */
extern "C" wm_status wm__attention_wgmma(wm_backend *be, const void *q, const void *k, const void *v,
                                         const uint8_t *mask, void *o, int H, int D, int Nq, int Nk, int ld,
                                         float scale)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    if (c->attn_impl == WM_ATTN_MMA || (D != 64 && D != 112 && D != 128)) return WM_ERR_UNSUPPORTED;
    if (c->attn_impl == WM_ATTN_AUTO) {
        int ok = wg_image_ok<112>() && wg_image_ok<128>() && wg_image_ok<64>();
        c->attn_impl = ok ? WM_ATTN_WGMMA : WM_ATTN_MMA;
        wm__log(WM_LOG_INFO, "cuda attention: %s", ok ? "wgmma kernel (sm_90a)" : "mma.sync kernel (no sm_90a image)");
        if (!ok) return WM_ERR_UNSUPPORTED;
    }
    void *fn = NULL;
    cudaDriverEntryPointQueryResult qr;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &qr) != cudaSuccess ||
        qr != cudaDriverEntryPointSuccess || !fn) {
        (void)cudaGetLastError();
        return WM_ERR_UNSUPPORTED;
    }
    PFN_cuTensorMapEncodeTiled_v12000 enc = (PFN_cuTensorMapEncodeTiled_v12000)fn;
    CUtensorMap m[3];
    if (!wg_tmap(enc, &m[0], q, D, H, Nq, ld) || !wg_tmap(enc, &m[1], k, D, H, Nk, ld) ||
        !wg_tmap(enc, &m[2], v, D, H, Nk, ld))
        return WM_ERR_UNSUPPORTED;
    if (D == 112) return wg_launch<112>(be, m, mask, (bf16 *)o, H, Nq, Nk, ld, scale);
    if (D == 128) return wg_launch<128>(be, m, mask, (bf16 *)o, H, Nq, Nk, ld, scale);
    return wg_launch<64>(be, m, mask, (bf16 *)o, H, Nq, Nk, ld, scale);
}
