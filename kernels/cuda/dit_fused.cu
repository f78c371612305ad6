/* Fused DiT ops on CUDA (kernels/ops_dit.def): dit_qk_prep (RMSNorm + ReLU + y_pre copy + UCPE + RoPE
 * of one q/k/v tensor in one pass), mul_silu (the output gate a * SiLU(g) in one pass) and
 * depthwise3x3_silu_glu (the FFN conv reading SiLU(x): no SiLU pass after the GEMM). matmul_add
 * (the residual add in the GEMM) lives with the other cuBLASLt code in matmul.cu.
 *
 * Why: between the GEMMs the stage-1 forward ran up to five memory-bound passes per q/k tensor
 * (rmsnorm, ReLU, copy, UCPE, RoPE: each a full read + write of a 2640 x 2240 bf16 tensor, 11.8 MB);
 * here each tensor is read once and written once (twice with y_pre). See docs/cuda.md "Fused DiT ops"
 * for the bytes per chunk before/after.
 *
 * dit_qk_prep: one block per token row. Phase 1 loads the row (16-byte loads) into shared memory as fp32
 * and reduces the sum of squares; phase 2 normalises (+ weight, ReLU) in shared memory and writes y_pre;
 * phase 3 computes each output element from the shared row: UCPE (4 shared reads against the token's
 * 4x4 matrix, also staged in shared memory), RoPE (the pair partner from shared memory, cos/sin from the
 * token's table row) or a copy, and stores 8 at a time. Every element is owned by the same thread in
 * phases 1 and 2, and phase 3 starts after a barrier, so y and y_pre may alias x (the whole row is in
 * shared memory before anything is written). Launch: grid N, block = 32 * ceil(C/VEC/32) threads
 * (288 at C = 2240), dynamic shared memory C * 4 bytes (8,960 B; at most 48 KB, C <= 12,288).
 * Expected at 2640 x 2240 bf16: 23.6 MB (35.5 MB with y_pre) at ~2.5 TB/s = ~10 (~14) us per call;
 * measured 41 us (latency-bound), so the default is now the warp-per-row kernel further down (row in
 * registers, no barrier) wherever head_dim % 8 == 0 and C <= 3072; this block kernel serves the rest
 * and WM_CUDA_NORMS=old.
 */
#include "gdn_fast.cuh" /* wm__dw_glu_cols: the conv engineer's column-group depthwise kernel (SiLU variant) */
#include "mma.cuh"
#include "vec.cuh"
#include "kernels/dit_shapes.h"

#define QKP_MAX_C 12288

typedef struct {
    const void *x, *w, *m, *cs, *sn;
    void *y, *yp;
    int wb, mb, tb; /* bf16 flags of the norm weight, the UCPE matrices, the RoPE tables */
    int norm, relu, tr;
    float eps, sg; /* sg: +1, or -1 for the conjugate rotation */
    int C, D, P, off;
    int pv, tv; /* warp kernel: norm weight 16-byte aligned (vector loads); RoPE range in whole 8-vectors with
                 * 4-pair table vectors aligned */
} qkp_args;

template <typename T, int VEC> __global__ void __launch_bounds__(1024) qk_prep_kernel(const qkp_args a)
{
    extern __shared__ float row[]; /* C floats */
    __shared__ float red[32];
    __shared__ float mm[16];
    const int64_t n = blockIdx.x;
    const int C = a.C, step = (int)blockDim.x * VEC;
    const T *xr = (const T *)a.x + n * C;
    float v[VEC], ss = 0.0f;
    for (int i = (int)threadIdx.x * VEC; i < C; i += step) {
        vld<VEC>(xr, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) {
            row[i + j] = v[j];
            ss += v[j] * v[j];
        }
    }
    if (a.m && threadIdx.x < 16) { /* mm[r][c] = M[r][c], or M[c][r] for the transpose */
        int r = threadIdx.x >> 2, c = threadIdx.x & 3;
        mm[threadIdx.x] = wm_ldp(a.m, a.mb, n * 16 + (a.tr ? c * 4 + r : r * 4 + c));
    }
    float inv = 1.0f;
    if (a.norm) inv = rsqrtf(wm_block_sum(ss, red) / (float)C + a.eps); /* its barriers publish row[] */
    else __syncthreads();
    T *pr = a.yp ? (T *)a.yp + n * C : NULL;
    for (int i = (int)threadIdx.x * VEC; i < C; i += step) {
#pragma unroll
        for (int j = 0; j < VEC; j++) {
            float u = row[i + j];
            if (a.norm) u = u * inv * (a.w ? wm_ldp(a.w, a.wb, i + j) : 1.0f);
            if (a.relu) u = u > 0.0f ? u : 0.0f;
            row[i + j] = u;
            v[j] = u;
        }
        if (pr) vst<VEC>(pr, i, v);
    }
    __syncthreads();
    T *yr = (T *)a.y + n * C;
    const int D = a.D, half = a.m ? D / 2 : 0, r0 = a.cs ? a.off : D, r1 = a.cs ? a.off + 2 * a.P : D;
    for (int i = (int)threadIdx.x * VEC; i < C; i += step) {
        int hd = i % D, hb = i - hd;
#pragma unroll
        for (int j = 0; j < VEC; j++) {
            const int col = hb + hd;
            float o;
            if (hd < half) {
                const int g = hb + (hd & ~3), r = (hd & 3) * 4;
                o = mm[r] * row[g] + mm[r + 1] * row[g + 1] + mm[r + 2] * row[g + 2] + mm[r + 3] * row[g + 3];
            } else if (hd >= r0 && hd < r1) {
                const int q = hd - r0;
                const int64_t t = n * a.P + (q >> 1);
                const float c = wm_ldp(a.cs, a.tb, t), s = a.sg * wm_ldp(a.sn, a.tb, t);
                o = (q & 1) ? row[col - 1] * s + row[col] * c : row[col] * c - row[col + 1] * s;
            } else {
                o = row[col];
            }
            v[j] = o;
            if (++hd == D) { hd = 0; hb += D; }
        }
        vst<VEC>(yr, i, v);
    }
}

/* Warp-per-row variant (the default where it applies): measured on the H200 the block-per-row kernel
 * above took 41 us for the camera-k call (2640 x 2240 in, two outputs: 0.86 TB/s) -- latency-bound on
 * its three barriered phases with only 7 rows in flight per SM. Here a warp owns a row and keeps it in
 * registers (U 16-byte vectors per lane, U = 9 at C = 2240), the sum of squares is a warp shuffle, the
 * 4x4 matrix is spread by shuffles, and because head_dim % 8 == 0 and dim_offset is even every UCPE group
 * and RoPE pair lies inside one 8-wide vector: no shared memory, no barrier, 4 rows per 128-thread block.
 * Second version (first measured at 39-47 us on the H100, ncu: 33% SM, 36% memory throughput, latency-
 * bound): the row is loaded raw (bf16 stays packed: 36 registers at U = 9) before anything else, and the
 * norm weight and the RoPE tables are read as vectors through the read-only path (ldp8/ldp4: a.pv, a.tv)
 * instead of 3 scalar loads per element issued between the stores. */
template <typename T, int U> __global__ void __launch_bounds__(128) qk_prep_warp_kernel(const qkp_args a, int N)
{
    const int lane = threadIdx.x & 31;
    const int n = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (n >= N) return; /* the whole warp leaves together */
    const int C = a.C, D = a.D;
    const T *xr = (const T *)a.x + (int64_t)n * C;
    raw8<T> xv[U];
#pragma unroll
    for (int u = 0; u < U; u++)
        if ((lane + u * 32) * 8 < C) ld_raw8(xr, (lane + u * 32) * 8, xv[u]);
    const int t = lane & 15; /* mm[r][c] = M[r][c], or M[c][r] for the transpose */
    const float mv = a.m ? wm_ldp(a.m, a.mb, (int64_t)n * 16 + (a.tr ? (t & 3) * 4 + (t >> 2) : t)) : 0.0f;
    const float ss = warp_row_sumsq<T, U>(xv, lane, C);
    const float inv = a.norm ? rsqrtf(ss / (float)C + a.eps) : 1.0f;
    float mm[16];
#pragma unroll
    for (int k = 0; k < 16; k++) mm[k] = __shfl_sync(0xffffffffu, mv, k);
    T *pr = a.yp ? (T *)a.yp + (int64_t)n * C : NULL, *yr = (T *)a.y + (int64_t)n * C;
    const int half = a.m ? D / 2 : 0, r0 = a.cs ? a.off : D, r1 = a.cs ? a.off + 2 * a.P : D;
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int i = (lane + u * 32) * 8;
        if (i >= C) continue;
        float v[8], wv[8];
        cvt_raw8(xv[u], v);
        if (a.norm) {
            if (a.w && a.pv) ldp8(a.w, a.wb, i, wv);
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] *= inv * (!a.w ? 1.0f : a.pv ? wv[j] : wm_ldp(a.w, a.wb, i + j));
        }
        if (a.relu)
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = v[j] > 0.0f ? v[j] : 0.0f;
        if (pr) vst<8>(pr, i, v);
        const int hd0 = i % D; /* a multiple of 8: the vector is inside one head */
        float o[8];
        if (hd0 + 8 <= half) {
            ucpe8(v, mm, o);
        } else if (a.tv && hd0 >= half && hd0 >= r0 && hd0 + 8 <= r1) { /* 4 whole pairs: tables as vectors */
            float c4[4], s4[4];
            const int64_t t0 = (int64_t)n * a.P + ((hd0 - r0) >> 1);
            ldp4(a.cs, a.tb, t0, c4);
            ldp4(a.sn, a.tb, t0, s4);
#pragma unroll
            for (int p = 0; p < 4; p++) s4[p] *= a.sg;
            rope8(v, c4, s4, o);
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int hd = hd0 + j;
                if (hd < half) {
                    const int g = j & ~3, r = (j & 3) * 4;
                    o[j] = mm[r] * v[g] + mm[r + 1] * v[g + 1] + mm[r + 2] * v[g + 2] + mm[r + 3] * v[g + 3];
                } else if (hd >= r0 && hd < r1) {
                    const int64_t tt = (int64_t)n * a.P + ((hd - r0) >> 1);
                    const float c = wm_ldp(a.cs, a.tb, tt), sn = a.sg * wm_ldp(a.sn, a.tb, tt);
                    o[j] = (j & 1) ? v[j - 1] * sn + v[j] * c : v[j] * c - v[j + 1] * sn;
                } else {
                    o[j] = v[j];
                }
            }
        }
        vst<8>(yr, i, o);
    }
}

/* Third version (bf16, 9 vectors per lane: C in 2,056..2,304; the DiT's C = 2240). The second version ran
 * one wave (660 blocks of 4 rows at 5 blocks per SM) whose length was one warp's row: ~1,100 issued
 * instructions at 15 cycles each (ncu: 6.5 of them waiting on L1TEX), i.e. the per-element parameter
 * loads (norm weight, RoPE table) sat between the stores and paid their latency unit after unit, and the
 * runtime flags, dtype branches and an integer `i % D` per unit inflated the stream. Here the block
 * stages the norm weight (fp32, shared by its 4 rows) and each warp its token's cos/sin rows (sign
 * folded) in shared memory while the row loads are in flight; the loop then reads only shared memory,
 * the head offset advances by 256 mod D, and norm / UCPE / RoPE are template flags. ReLU and y_pre stay
 * runtime (uniform, cheap). Shared memory: C floats (NORM) + 4 x 2P floats. */
template <bool NORM, bool UCPE, bool ROPE>
__global__ void __launch_bounds__(128) qk_prep_row_kernel(const qkp_args a, int N)
{
    constexpr int U = 9;
    extern __shared__ float qs[]; /* [C] norm weight | per warp [P] cos, [P] sin * sg */
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int n = blockIdx.x * 4 + warp;
    const int C = a.C, D = a.D, P = a.P;
    const bool live = n < N;
    const bf16 *xr = (const bf16 *)a.x + (int64_t)(live ? n : 0) * C;
    raw8<bf16> xv[U];
#pragma unroll
    for (int u = 0; u < U; u++)
        if (live && (lane + u * 32) * 8 < C) ld_raw8(xr, (lane + u * 32) * 8, xv[u]);
    const int t = lane & 15;
    const float mv = UCPE && live ? wm_ldp(a.m, a.mb, (int64_t)n * 16 + (a.tr ? (t & 3) * 4 + (t >> 2) : t)) : 0.0f;
    if (NORM) stage_params<5>(qs, a.w, a.wb, 0, C, 1.0f); /* C <= 2304 = 4 x 5 x 128 */
    float *tab = qs + (NORM ? C : 0) + warp * 2 * P;
    if (ROPE && live)
        for (int p = lane; p < P; p += 32) {
            tab[p] = wm_ldp(a.cs, a.tb, (int64_t)n * P + p);
            tab[P + p] = a.sg * wm_ldp(a.sn, a.tb, (int64_t)n * P + p);
        }
    __syncthreads();
    if (!live) return; /* after the barrier: the block's other rows still needed it */
    const float inv = NORM ? rsqrtf(warp_row_sumsq<bf16, U>(xv, lane, C) / (float)C + a.eps) : 1.0f;
    float mm[16];
#pragma unroll
    for (int k = 0; k < 16; k++) mm[k] = UCPE ? __shfl_sync(0xffffffffu, mv, k) : 0.0f;
    bf16 *pr = a.yp ? (bf16 *)a.yp + (int64_t)n * C : NULL, *yr = (bf16 *)a.y + (int64_t)n * C;
    const int half = UCPE ? D / 2 : 0, r0 = ROPE ? a.off : D, r1 = ROPE ? a.off + 2 * P : D;
    const int step = 256 % D;
    int hd0 = (lane * 8) % D; /* head offset of this lane's vector u, advanced by 256 mod D */
#pragma unroll
    for (int u = 0; u < U; u++, hd0 = hd0 + step >= D ? hd0 + step - D : hd0 + step) {
        const int i = (lane + u * 32) * 8;
        if (i >= C) continue;
        float v[8], o[8];
        cvt_raw8(xv[u], v);
        if (NORM) {
            const float4 w0 = *(const float4 *)(qs + i), w1 = *(const float4 *)(qs + i + 4);
            v[0] *= inv * w0.x; v[1] *= inv * w0.y; v[2] *= inv * w0.z; v[3] *= inv * w0.w;
            v[4] *= inv * w1.x; v[5] *= inv * w1.y; v[6] *= inv * w1.z; v[7] *= inv * w1.w;
        }
        if (a.relu)
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = v[j] > 0.0f ? v[j] : 0.0f;
        if (pr) vst<8>(pr, i, v);
        if (UCPE && hd0 + 8 <= half) {
            ucpe8(v, mm, o);
        } else if (ROPE && hd0 >= half && hd0 >= r0 && hd0 + 8 <= r1 && ((hd0 - r0) & 7) == 0) {
            const int p0 = (hd0 - r0) >> 1; /* 4 whole pairs, 16-byte aligned in the table */
            const float4 c4 = *(const float4 *)(tab + p0), s4 = *(const float4 *)(tab + P + p0);
            const float cc[4] = {c4.x, c4.y, c4.z, c4.w}, sn[4] = {s4.x, s4.y, s4.z, s4.w};
            rope8(v, cc, sn, o);
        } else { /* a vector across a range boundary, or outside both ranges */
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int hd = hd0 + j;
                if (UCPE && hd < half) {
                    const int g = j & ~3, r = (j & 3) * 4;
                    o[j] = mm[r] * v[g] + mm[r + 1] * v[g + 1] + mm[r + 2] * v[g + 2] + mm[r + 3] * v[g + 3];
                } else if (ROPE && hd >= r0 && hd < r1) {
                    const int pp = (hd - r0) >> 1;
                    const float c = tab[pp], sn = tab[P + pp];
                    o[j] = ((hd - r0) & 1) ? v[j - 1] * sn + v[j] * c : v[j] * c - v[j + 1] * sn;
                } else {
                    o[j] = v[j];
                }
            }
        }
        vst<8>(yr, i, o);
    }
}

/* The row kernel for bf16 rows of 9 vectors per lane with an even, vector-aligned RoPE range; 0 if it
 * does not apply (the warp kernel below then runs). */
static int qk_prep_row(const qkp_args &a, int N, cudaStream_t s)
{
    const int units = (a.C + 7) / 8, need = (units + 31) / 32;
    if (need != 9 || (a.cs && (a.off % 2 || a.P % 4)) || (a.norm && a.w && !a.pv)) return 0;
    const size_t smem = (a.norm ? (size_t)a.C : 0) * 4 + (a.cs ? (size_t)4 * 2 * a.P * 4 : 0);
    if (smem > 48 * 1024) return 0;
    const unsigned grid = (unsigned)((N + 3) / 4);
    const int mode = (a.norm ? 4 : 0) | (a.m ? 2 : 0) | (a.cs ? 1 : 0);
    switch (mode) {
    case 0: qk_prep_row_kernel<false, false, false><<<grid, 128, smem, s>>>(a, N); break;
    case 1: qk_prep_row_kernel<false, false, true><<<grid, 128, smem, s>>>(a, N); break;
    case 2: qk_prep_row_kernel<false, true, false><<<grid, 128, smem, s>>>(a, N); break;
    case 3: qk_prep_row_kernel<false, true, true><<<grid, 128, smem, s>>>(a, N); break;
    case 4: qk_prep_row_kernel<true, false, false><<<grid, 128, smem, s>>>(a, N); break;
    case 5: qk_prep_row_kernel<true, false, true><<<grid, 128, smem, s>>>(a, N); break;
    case 6: qk_prep_row_kernel<true, true, false><<<grid, 128, smem, s>>>(a, N); break;
    default: qk_prep_row_kernel<true, true, true><<<grid, 128, smem, s>>>(a, N); break;
    }
    return 1;
}

/* Launch the warp kernel with the smallest instantiated U covering the row; 0 if none applies. */
template <typename T> static int qk_prep_warp(const qkp_args &a, int N, cudaStream_t s)
{
    const int units = (a.C + 7) / 8, need = (units + 31) / 32;
    const unsigned grid = (unsigned)((N + 3) / 4);
    if (need <= 1) qk_prep_warp_kernel<T, 1><<<grid, 128, 0, s>>>(a, N);
    else if (need <= 2) qk_prep_warp_kernel<T, 2><<<grid, 128, 0, s>>>(a, N);
    else if (need <= 4) qk_prep_warp_kernel<T, 4><<<grid, 128, 0, s>>>(a, N);
    else if (need <= 9) qk_prep_warp_kernel<T, 9><<<grid, 128, 0, s>>>(a, N);
    else if (need <= 12) qk_prep_warp_kernel<T, 12><<<grid, 128, 0, s>>>(a, N);
    else return 0;
    return 1;
}

/* Block-per-row kernel (the general path: any head dim / offset / alignment). */
static void qkp_launch_block(const qkp_args &a, wm_dtype dt, int v8, int64_t N, cudaStream_t s)
{
    const int vec = v8 ? 8 : 1;
    int64_t units = (a.C + vec - 1) / vec, threads = (units + 31) / 32 * 32;
    if (threads > 1024) threads = 1024;
    if (threads < 32) threads = 32;
    const size_t smem = (size_t)a.C * sizeof(float);
    if (dt == WM_BF16) {
        if (v8) qk_prep_kernel<bf16, 8><<<(unsigned)N, (unsigned)threads, smem, s>>>(a);
        else qk_prep_kernel<bf16, 1><<<(unsigned)N, (unsigned)threads, smem, s>>>(a);
    } else {
        if (v8) qk_prep_kernel<float, 8><<<(unsigned)N, (unsigned)threads, smem, s>>>(a);
        else qk_prep_kernel<float, 1><<<(unsigned)N, (unsigned)threads, smem, s>>>(a);
    }
}

extern "C" wm_status wm_dit_qk_prep_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *norm_w, float eps,
                                         int relu, const wm_tensor *mats, int transpose, const wm_tensor *cos,
                                         const wm_tensor *sin, int n_heads, int dim_offset, int conj, wm_tensor *y,
                                         wm_tensor *y_pre)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    if (y_pre) WM_CUDA_FLOAT(be, y_pre);
    if (norm_w) WM_CUDA_FLOAT(be, norm_w);
    if (mats) WM_CUDA_FLOAT(be, mats);
    if (cos) WM_CUDA_FLOAT(be, cos);
    if (sin) WM_CUDA_FLOAT(be, sin);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x), P = 0;
    WM_TRY(wm_dit_qk_prep_shape(be, x, norm_w, mats, cos, sin, n_heads, dim_offset, y, y_pre, &P));
    int64_t D = C / n_heads;
    WM_OP_CHECK(be, C <= QKP_MAX_C && N < (1LL << 31), WM_ERR_LIMIT, "more than 12288 channels or 2^31 rows");
    WM_OP_CHECK(be, y->dtype == x->dtype && (!y_pre || y_pre->dtype == x->dtype), WM_ERR_DTYPE,
                "y and y_pre must have x's dtype");
    WM_OP_CHECK(be, !cos || cos->dtype == sin->dtype, WM_ERR_DTYPE, "cos and sin must share a dtype");
    if (N == 0) return WM_OK;
    qkp_args a;
    memset(&a, 0, sizeof a);
    a.x = x->data; a.y = y->data; a.yp = y_pre ? y_pre->data : NULL;
    a.w = norm_w ? norm_w->data : NULL; a.wb = norm_w && norm_w->dtype == WM_BF16;
    a.m = mats ? mats->data : NULL; a.mb = mats && mats->dtype == WM_BF16; a.tr = transpose != 0;
    a.cs = cos ? cos->data : NULL; a.sn = sin ? sin->data : NULL; a.tb = cos && cos->dtype == WM_BF16;
    a.norm = norm_w != NULL; a.relu = relu != 0; a.eps = eps; a.sg = conj ? -1.0f : 1.0f;
    a.C = (int)C; a.D = (int)D; a.P = (int)P; a.off = dim_offset;
    a.pv = wm_aligned16(a.w, NULL, NULL, NULL);
    a.tv = a.cs && a.off % 8 == 0 && P % 4 == 0 && ((uintptr_t)a.cs | (uintptr_t)a.sn) % (a.tb ? 8 : 16) == 0;
    int v8 = wm_vec8_ok(C, x->data, y->data, y_pre ? y_pre->data : NULL), done = 0;
    cudaStream_t s = wm__cuda_stream(be);
    /* warp path: 16-byte rows, vectors inside one head, RoPE pairs at even offsets, C <= 3072 */
    if (v8 && D % 8 == 0 && dim_offset % 2 == 0 && C <= 3072 && !wm__cuda_ctx(be)->norms_old) {
        if (x->dtype == WM_BF16 && !wm__cuda_ctx(be)->qkp_warp) done = qk_prep_row(a, (int)N, s);
        if (!done)
            done = x->dtype == WM_BF16 ? qk_prep_warp<bf16>(a, (int)N, s) : qk_prep_warp<float>(a, (int)N, s);
    }
    if (!done) qkp_launch_block(a, x->dtype, v8, N, s);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- mul_silu */

template <typename T, int VEC> __global__ void mul_silu_kernel(const T *a, const T *g, T *y, int64_t n)
{
    float u[VEC], v[VEC];
    for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC; i < n;
         i += (int64_t)gridDim.x * blockDim.x * VEC) {
        vld<VEC>(a, i, u);
        vld<VEC>(g, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) u[j] *= wm_silu_fast(v[j]);
        vst<VEC>(y, i, u);
    }
}

extern "C" wm_status wm_mul_silu_cuda(wm_backend *be, const wm_tensor *a, const wm_tensor *g, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, a);
    WM_CUDA_FLOAT(be, g);
    WM_CUDA_FLOAT(be, y);
    int64_t n = wm_tensor_numel(a);
    WM_OP_CHECK(be, wm_tensor_numel(g) == n && wm_tensor_numel(y) == n, WM_ERR_SHAPE,
                "a, g and y must have the same number of elements");
    WM_OP_CHECK(be, a->dtype == g->dtype && a->dtype == y->dtype, WM_ERR_DTYPE, "a, g and y must share a dtype");
    if (n == 0) return WM_OK;
    int v8 = wm_vec8_ok(n, a->data, g->data, y->data);
    int64_t units = v8 ? n / 8 : n;
    unsigned grid = wm_grid1d(units, 256, 8192);
    cudaStream_t s = wm__cuda_stream(be);
    if (a->dtype == WM_BF16) {
        if (v8) mul_silu_kernel<bf16, 8><<<grid, 256, 0, s>>>((const bf16 *)a->data, (const bf16 *)g->data, (bf16 *)y->data, n);
        else mul_silu_kernel<bf16, 1><<<grid, 256, 0, s>>>((const bf16 *)a->data, (const bf16 *)g->data, (bf16 *)y->data, n);
    } else {
        if (v8) mul_silu_kernel<float, 8><<<grid, 256, 0, s>>>((const float *)a->data, (const float *)g->data, (float *)y->data, n);
        else mul_silu_kernel<float, 1><<<grid, 256, 0, s>>>((const float *)a->data, (const float *)g->data, (float *)y->data, n);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- depthwise3x3_silu_glu
 *
 * The inverted conv GEMM has no SiLU epilogue in cuBLASLt; instead of a SiLU pass over its 2640 x 13440
 * output (142 MB read + write per block forward) the conv applies SiLU as it stages its input. Tiled:
 * a block owns one frame, a band of R grid rows and 64 channels of a (with the matching 64 of g); it
 * stages SiLU(x) of the band plus one halo row above and below, all grid columns, as bf16 in shared
 * memory (bf16: exactly the values the unfused path stored after its SiLU pass). Then each thread owns a
 * channel pair (bf16x2 shared loads) and each warp a run of 4 consecutive tokens of one grid row: it
 * reads the 3 x 6 neighbourhood once (36 32-bit shared loads for 4 tokens x 2 channels x (a, g), 4.5 per
 * output instead of 18), taps and biases in registers. Every input element comes from L2 (R+2)/R times
 * and is SiLU'd that often, not 9 times.
 * Launch: grid (M/64, T * ceil(gh/R)), 256 threads, dynamic smem (R+2)*gw*256 B = 40,960 B at gw = 40,
 * R = 2 (R is the largest of 1..4 that keeps it <= 48 KB). Needs bf16, M % 64 == 0, 16-byte aligned x
 * and y, gw <= 64; other cases take the generic kernel (SiLU on each of the 9 reads).
 * Expected at 2640 tokens x 2M = 13440: 71 MB read + 35 MB written at ~2.5 TB/s = ~45 us (was ~125 us
 * for the conv + ~50 us for the SiLU pass); shared-memory loads ~11 us of issue per SM.
 */
#define DS_CV 64
#define DS_RUN 4
#define DS_LD 5

__device__ __forceinline__ uint4 silu_bf16x8(uint4 u)
{
    __nv_bfloat162 *h = (__nv_bfloat162 *)&u;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        float2 v = __bfloat1622float2(h[j]);
        v.x = v.x / (1.0f + __expf(-v.x));
        v.y = v.y / (1.0f + __expf(-v.y));
        h[j] = __floats2bfloat162_rn(v.x, v.y);
    }
    return u;
}

__global__ void __launch_bounds__(256) dw_silu_glu_tile_kernel(const bf16 *x, const void *w, const void *b, int pb,
                                                               bf16 *y, int gh, int gw, int64_t M, int R)
{
    extern __shared__ __align__(16) unsigned char ds_smem[];
    bf16 *tile = (bf16 *)ds_smem; /* [(R + 2) * gw tokens][128 channels: 64 of a, then 64 of g] */
    const int64_t c0 = (int64_t)blockIdx.x * DS_CV, S = (int64_t)gh * gw, C2 = 2 * M;
    const int bands = (gh + R - 1) / R, f = (int)(blockIdx.y / bands), r0 = (int)(blockIdx.y % bands) * R;
    const int items = (R + 2) * gw * 16; /* 16-byte pieces: 8 of a, 8 of g per token */
    /* Loads issued DS_LD at a time before any is used (the first device run, one load in flight per
     * thread, took 121 us: latency-bound), then SiLU and the shared stores. */
    for (int i0 = threadIdx.x; i0 < items; i0 += DS_LD * blockDim.x) {
        uint4 u[DS_LD];
#pragma unroll
        for (int k = 0; k < DS_LD; k++) {
            const int i = i0 + k * blockDim.x, tok = i >> 4, part = i & 15, rr = r0 - 1 + tok / gw, cc = tok % gw;
            u[k] = make_uint4(0u, 0u, 0u, 0u); /* zero padding (bf16 +0) */
            if (i < items && rr >= 0 && rr < gh) {
                const int64_t ch = part < 8 ? c0 + part * 8 : M + c0 + (part - 8) * 8;
                u[k] = *(const uint4 *)(x + ((int64_t)f * S + (int64_t)rr * gw + cc) * C2 + ch);
            }
        }
#pragma unroll
        for (int k = 0; k < DS_LD; k++) {
            const int i = i0 + k * blockDim.x;
            if (i < items) *(uint4 *)(tile + (i >> 4) * 128 + (i & 15) * 8) = silu_bf16x8(u[k]);
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const int64_t ca = c0 + 2 * lane; /* this thread's two channels of a; M + ca those of g */
    float wa[2][9], wg[2][9], ba[2], bg[2];
#pragma unroll
    for (int e = 0; e < 2; e++) {
#pragma unroll
        for (int t = 0; t < 9; t++) {
            wa[e][t] = wm_ldp(w, pb, (ca + e) * 9 + t);
            wg[e][t] = wm_ldp(w, pb, (M + ca + e) * 9 + t);
        }
        ba[e] = wm_ldp(b, pb, ca + e);
        bg[e] = wm_ldp(b, pb, M + ca + e);
    }
    __syncthreads();
    const int runs_per_row = (gw + DS_RUN - 1) / DS_RUN;
    for (int job = warp; job < R * runs_per_row; job += nw) {
        const int lr = job / runs_per_row, cs = (job % runs_per_row) * DS_RUN, r = r0 + lr;
        if (r >= gh) break; /* jobs only grow: every later run of this warp is past the grid too */
        float acc_a[DS_RUN][2], acc_g[DS_RUN][2];
#pragma unroll
        for (int k = 0; k < DS_RUN; k++)
#pragma unroll
            for (int e = 0; e < 2; e++) acc_a[k][e] = ba[e], acc_g[k][e] = bg[e];
#pragma unroll
        for (int ky = 0; ky < 3; ky++) {
            const bf16 *trow = tile + (size_t)(lr + ky) * gw * 128; /* tile row lr + ky = grid row r - 1 + ky */
#pragma unroll
            for (int j = 0; j < DS_RUN + 2; j++) {
                const int col = cs - 1 + j;
                if (col < 0 || col >= gw) continue;
                const float2 va = __bfloat1622float2(*(const __nv_bfloat162 *)(trow + col * 128 + 2 * lane));
                const float2 vg = __bfloat1622float2(*(const __nv_bfloat162 *)(trow + col * 128 + 64 + 2 * lane));
#pragma unroll
                for (int k = 0; k < DS_RUN; k++) {
                    const int kx = j - k; /* output cs + k reads column cs + k - 1 + kx */
                    if (kx < 0 || kx > 2) continue;
                    const int t = ky * 3 + kx;
                    acc_a[k][0] += wa[0][t] * va.x;
                    acc_a[k][1] += wa[1][t] * va.y;
                    acc_g[k][0] += wg[0][t] * vg.x;
                    acc_g[k][1] += wg[1][t] * vg.y;
                }
            }
        }
#pragma unroll
        for (int k = 0; k < DS_RUN; k++) {
            if (cs + k >= gw) break;
            float o0 = acc_a[k][0] * (acc_g[k][0] / (1.0f + __expf(-acc_g[k][0])));
            float o1 = acc_a[k][1] * (acc_g[k][1] / (1.0f + __expf(-acc_g[k][1])));
            *(__nv_bfloat162 *)(y + ((int64_t)f * S + (int64_t)r * gw + cs + k) * M + ca) = __floats2bfloat162_rn(o0, o1);
        }
    }
}

/* Generic: one (token, channel) per thread, SiLU on each of the up to 9 reads. */
template <typename T>
__global__ void dw_silu_glu_kernel(const T *x, const void *w, const void *b, int pb, T *y, int gh, int gw, int64_t M,
                                   int64_t N)
{
    const int64_t S = (int64_t)gh * gw, C2 = 2 * M;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * M; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = i / M, ch = i % M, f = n / S;
        const int r = (int)((n % S) / gw), col = (int)(n % gw);
        float a = wm_ldp(b, pb, ch), g = wm_ldp(b, pb, M + ch);
        for (int ky = 0; ky < 3; ky++) {
            const int rr = r + ky - 1;
            if (rr < 0 || rr >= gh) continue;
            for (int kx = 0; kx < 3; kx++) {
                const int cc = col + kx - 1;
                if (cc < 0 || cc >= gw) continue;
                const int64_t row = ((f * gh + rr) * gw + cc) * C2;
                float va = wm_ld(x, row + ch), vg = wm_ld(x, row + M + ch);
                a += wm_ldp(w, pb, ch * 9 + ky * 3 + kx) * (va / (1.0f + __expf(-va)));
                g += wm_ldp(w, pb, (M + ch) * 9 + ky * 3 + kx) * (vg / (1.0f + __expf(-vg)));
            }
        }
        wm_st(y, i, a * (g / (1.0f + __expf(-g))));
    }
}

extern "C" wm_status wm_depthwise3x3_silu_glu_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *w,
                                                   const wm_tensor *b, int n_frames, int grid_h, int grid_w,
                                                   wm_tensor *y)
{
    WM_TRY(wm__dw_glu_check(be, x, w, b, n_frames, grid_h, grid_w, y));
    int64_t N = wm_tensor_rows(x), C2 = wm_tensor_cols(x);
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    if (N == 0 || C2 == 0) return WM_OK;
    /* First choice: dit_conv.cu's column-group depthwise kernel with SiLU applied in fp32 as it unpacks
     * its rows (61.9 us without SiLU at abeb839, the tile kernel below measured 120.6 us there). It
     * declines shapes it does not take (and WM_CUDA_CONV=old keeps the tile kernel). */
    if (!wm__cuda_ctx(be)->conv_old) {
        int done = 0;
        WM_TRY(wm__dw_glu_cols(be, x, w, b, n_frames, grid_h, grid_w, y, 1, &done));
        if (done) return WM_OK;
    }
    const int64_t M = C2 / 2;
    const int pb = w->dtype == WM_BF16;
    cudaStream_t s = wm__cuda_stream(be);
    int R = 4;
    while (R > 1 && (size_t)(R + 2) * grid_w * 256 > 48 * 1024) R--;
    const size_t smem = (size_t)(R + 2) * grid_w * 256;
    const int64_t blocks_y = (int64_t)n_frames * ((grid_h + R - 1) / R);
    if (x->dtype == WM_BF16 && M % DS_CV == 0 && (((uintptr_t)x->data | (uintptr_t)y->data) & 15u) == 0 &&
        smem <= 48 * 1024 && blocks_y < 65535 && M / DS_CV < (1LL << 31)) {
        dim3 grid((unsigned)(M / DS_CV), (unsigned)blocks_y);
        dw_silu_glu_tile_kernel<<<grid, 256, smem, s>>>((const bf16 *)x->data, w->data, b->data, pb,
                                                        (bf16 *)y->data, grid_h, grid_w, M, R);
    } else {
        unsigned grid = wm_grid1d(N * M, 256, 65535);
        if (x->dtype == WM_BF16)
            dw_silu_glu_kernel<bf16><<<grid, 256, 0, s>>>((const bf16 *)x->data, w->data, b->data, pb, (bf16 *)y->data,
                                                          grid_h, grid_w, M, N);
        else
            dw_silu_glu_kernel<float><<<grid, 256, 0, s>>>((const float *)x->data, w->data, b->data, pb,
                                                           (float *)y->data, grid_h, grid_w, M, N);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- gated_add_proj
 *
 * x += gate[g] * h + u w^T + bias in one pass. In the block this replaces the attention's gated residual
 * (a 35 MB pass) followed by a cuBLASLt GEMM with K = 48 (the folded Plücker projection, 24 MB more of
 * x traffic for 0.6 GFLOP). Block = 64 tokens x 128 channels, 256 threads. The product runs on tensor
 * cores (mma m16n8k16, bf16 in, fp32 out): u's 64 x P rows and w's 128 x P rows are staged in shared
 * memory as they are stored ([row][k], 56-element pitch: the fragment loads of a warp hit 32 distinct
 * banks), warp w computes tokens 16 (w % 4).. x channels 64 (w / 4).., and the fp32 tile goes back to
 * shared memory (over the staged operands) so that the residual pass reads x, h and the gate as 16-byte
 * vectors, 8 channels of one token per thread, and writes x once. A first version did the product with
 * CUDA-core FMAs from shared memory: 42 us at the streaming shape, no faster than the two ops it
 * replaces (20 + 22 us), bound by its shared-memory loads.
 * Fast path: bf16 x, h, u, w; P % 16 == 0, P <= 48; C % 8 == 0; 16-byte aligned rows. Otherwise the two
 * ops run back to back (gated_add, matmul_add). */
#define GAP_TN 64
#define GAP_TC 128
#define GAP_PMAX 48
#define GAP_KP (GAP_PMAX + 8) /* bf16 pitch of the staged u and w rows */
#define GAP_OP (GAP_TC + 4)   /* fp32 pitch of the product tile */

union gap_smem {
    struct {
        bf16 u[GAP_TN][GAP_KP];
        bf16 w[GAP_TC][GAP_KP];
    } in;
    float o[GAP_TN][GAP_OP];
};

__global__ void __launch_bounds__(256) gated_add_proj_kernel(bf16 *__restrict__ x, const bf16 *__restrict__ h,
                                                             const void *gate, int gb, int64_t rpg,
                                                             const bf16 *__restrict__ u, const bf16 *__restrict__ w,
                                                             const void *bias, int bb, int N, int C, int P)
{
    __shared__ __align__(16) gap_smem sm;
    const int c0 = blockIdx.x * GAP_TC, n0 = blockIdx.y * GAP_TN, pv = P / 8;
    const uint4 zero = make_uint4(0, 0, 0, 0);
    for (int v = threadIdx.x; v < (GAP_TN + GAP_TC) * pv; v += blockDim.x) {
        const int r = v / pv, j0 = (v - r * pv) * 8;
        if (r < GAP_TN)
            *(uint4 *)&sm.in.u[r][j0] = n0 + r < N ? *(const uint4 *)(u + (int64_t)(n0 + r) * P + j0) : zero;
        else
            *(uint4 *)&sm.in.w[r - GAP_TN][j0] =
                c0 + r - GAP_TN < C ? *(const uint4 *)(w + (int64_t)(c0 + r - GAP_TN) * P + j0) : zero;
    }
    __syncthreads();
    const int lane = threadIdx.x & 31, wp = threadIdx.x >> 5, m0 = 16 * (wp & 3), nb = 64 * (wp >> 2);
    const int qr = lane >> 2, qc = 2 * (lane & 3);
    float acc[8][4];
#pragma unroll
    for (int n = 0; n < 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    for (int k = 0; k < P; k += 16) {
        uint32_t a[4];
        a[0] = *(const uint32_t *)&sm.in.u[m0 + qr][k + qc];
        a[1] = *(const uint32_t *)&sm.in.u[m0 + qr + 8][k + qc];
        a[2] = *(const uint32_t *)&sm.in.u[m0 + qr][k + qc + 8];
        a[3] = *(const uint32_t *)&sm.in.u[m0 + qr + 8][k + qc + 8];
#pragma unroll
        for (int n = 0; n < 8; n++) {
            const bf16 *wr = &sm.in.w[nb + 8 * n + qr][k + qc];
            mma_bf16(acc[n], a, *(const uint32_t *)wr, *(const uint32_t *)(wr + 8));
        }
    }
    __syncthreads(); /* every warp is done with the staged operands: the product tile goes over them */
#pragma unroll
    for (int n = 0; n < 8; n++) {
        *(float2 *)&sm.o[m0 + qr][nb + 8 * n + qc] = make_float2(acc[n][0], acc[n][1]);
        *(float2 *)&sm.o[m0 + qr + 8][nb + 8 * n + qc] = make_float2(acc[n][2], acc[n][3]);
    }
    __syncthreads();
    const int cv = threadIdx.x & 15, c = c0 + 8 * cv;
    if (c >= C) return;
    float bv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (bias) ldp8(bias, bb, c, bv);
    for (int t = threadIdx.x >> 4; t < GAP_TN; t += 16) {
        const int n = n0 + t;
        if (n >= N) break;
        float xv[8], hv[8], gv[8];
        vld<8>(x, (int64_t)n * C + c, xv);
        vld<8>(h, (int64_t)n * C + c, hv);
        if (gate) ldp8(gate, gb, (n / rpg) * (int64_t)C + c, gv);
        const float4 p0 = *(const float4 *)&sm.o[t][8 * cv], p1 = *(const float4 *)&sm.o[t][8 * cv + 4];
        const float pr[8] = {p0.x, p0.y, p0.z, p0.w, p1.x, p1.y, p1.z, p1.w};
#pragma unroll
        for (int k = 0; k < 8; k++) xv[k] = (xv[k] + (gate ? gv[k] : 1.0f) * hv[k]) + (pr[k] + bv[k]);
        vst<8>(x, (int64_t)n * C + c, xv);
    }
}

extern "C" wm_status wm_gated_add_proj_cuda(wm_backend *be, wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                                            int64_t rows_per_group, const wm_tensor *u, const wm_tensor *w,
                                            const wm_tensor *bias)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, h);
    WM_CUDA_FLOAT(be, u);
    WM_CUDA_FLOAT(be, w);
    if (gate) WM_CUDA_FLOAT(be, gate);
    if (bias) WM_CUDA_FLOAT(be, bias);
    WM_TRY(wm_gated_add_proj_shape(be, x, h, gate, rows_per_group, u, w, bias));
    int64_t N = x->shape[0], C = x->shape[1], P = u->shape[1];
    if (N == 0 || C == 0) return WM_OK;
    int fast = x->dtype == WM_BF16 && h->dtype == WM_BF16 && u->dtype == WM_BF16 && w->dtype == WM_BF16 &&
               P % 16 == 0 && P > 0 && P <= GAP_PMAX && C % 8 == 0 && N <= 0x7fffffff && C <= 0x7fffffff &&
               wm_aligned16(x->data, h->data, u->data, w->data) &&
               wm_aligned16(gate ? gate->data : NULL, bias ? bias->data : NULL, NULL, NULL) &&
               (N + GAP_TN - 1) / GAP_TN <= 65535;
    if (!fast) { /* the unfused pair: any dtype, shape or alignment the two ops take */
        WM_TRY(wm_gated_add_cuda(be, x, h, gate, rows_per_group));
        return wm_matmul_add_cuda(be, u, w, bias, x, x);
    }
    dim3 grid((unsigned)((C + GAP_TC - 1) / GAP_TC), (unsigned)((N + GAP_TN - 1) / GAP_TN));
    gated_add_proj_kernel<<<grid, 256, 0, wm__cuda_stream(be)>>>(
        (bf16 *)x->data, (const bf16 *)h->data, gate ? gate->data : NULL, gate && gate->dtype == WM_BF16,
        rows_per_group > 0 ? rows_per_group : 1, (const bf16 *)u->data, (const bf16 *)w->data,
        bias ? bias->data : NULL, bias && bias->dtype == WM_BF16, (int)N, (int)C, (int)P);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
