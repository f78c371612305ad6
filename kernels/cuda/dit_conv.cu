/* Token convolutions of the DiT, second generation: depthwise 3x3 + GLU from shared-memory rows, the K
 * short conv and the temporal shift/concat with each input row read once (kernels/ops_dit.def).
 *
 * The first-generation kernels (dit_token.cu) re-read every input 9x (depthwise) or 7x (short conv)
 * through L1/L2; ncu showed the depthwise conv L1-bound (82% memory throughput at 3.5x the DRAM floor).
 * Here a block sweeps down the rows of one frame for 32 channels (of a and of g): each input row is
 * staged once in a 4-row cp.async ring, each thread owns a run of contiguous columns and keeps three
 * rolling output-row accumulator sets, so an input value is read from shared memory ~1.4 times instead
 * of 9 times from global memory (a SiLU-on-read variant serves depthwise3x3_silu_glu). The short conv and
 * the shift/concat give each thread one (position, 8 channels) across all frames: a sliding register
 * window of frames, every input row loaded once, every output row written once.
 * The op table (ops_table.c) points at the wm_*_cuda_v2 entry points below; they validate, take the
 * new kernels when the shape allows and WM_CUDA_CONV=old was not set at backend creation, and otherwise
 * call the previous implementations unchanged.
 */
#include "gdn_fast.cuh"
#include "mma.cuh"
#include "vec.cuh"
#include "kernels/dit_shapes.h"

#define CV_MAX_BOUNDS 512
typedef struct { int n; int b[CV_MAX_BOUNDS + 1]; } conv_bounds;

static int conv_fill_bounds(conv_bounds *d, const int *bounds, int n_chunks)
{
    if (!bounds || n_chunks < 1 || n_chunks > CV_MAX_BOUNDS || bounds[0] != 0) return 0;
    d->n = n_chunks;
    for (int i = 0; i <= n_chunks; i++) {
        d->b[i] = bounds[i];
        if (i && bounds[i] <= bounds[i - 1]) return 0;
    }
    return 1;
}

__device__ __forceinline__ int conv_chunk_end(const conv_bounds &bd, int f)
{
    for (int k = 0; k < bd.n; k++)
        if (f < bd.b[k + 1]) return bd.b[k + 1];
    return bd.b[bd.n];
}

static int al_ok(const void *p, unsigned a) { return p == NULL || ((uintptr_t)p & (a - 1)) == 0; }

/* ---------------------------------------------------------------- depthwise 3x3 + GLU */

/* Block = (frame, 32 channels of a + the matching 32 of g, up to 12 output rows), 128 threads: thread =
 * (channel pair p, column group g of NC = ceil(gw / 8) CONTIGUOUS columns). The first sweep (v2, 89 us
 * at the streaming shape) gave a thread the strided columns slot, slot+16, ..: every input value was
 * read and unpacked for 3 output columns (3 shared loads + 6 unpacks per output pair and row), the
 * rolling accumulators were rotated with 12 moves per column and row, and each thread fetched its 40
 * taps with scalar loads that touched 9 cache lines per warp instruction (360 L1 wavefronts per warp).
 * Now a thread reads its NC + 2 input columns of a row once (slid across its NC outputs: 1.4 loads per
 * output pair at NC = 5), the row loop is unrolled by 3 with the accumulator sets changing roles instead
 * of being copied, and the taps are staged through shared memory with coalesced loads.
 * Shared row layout [half (a, g)][slot][32 ch] bf16 with slot = col (NC odd) or col + col / NC (NC even):
 * the two column groups of a warp then read slots an odd number apart, i.e. opposite 16-bank halves. */
#define DW_CH 32      /* channels of a (and of g) per block: 16 pairs */
#define DW_NG 8       /* column groups per block */
#define DW_THREADS 128
#define DW_MAXW 64    /* grid width <= 8 groups x 8 columns */
#define DW_NS 4       /* staged input rows in flight */
#define DW_WS (2 * DW_CH * 9 + 2 * DW_CH) /* staged taps [a ch 0..31 | g ch 0..31][9], then biases */

template <int NC> __device__ __forceinline__ int dw_slot(int col) { return NC % 2 ? col : col + col / NC; }

/* The GLU of one finished output row: y[row][c0 + j][ch, ch+1] = a * silu(g). */
template <int NC, bool TANH>
__device__ __forceinline__ void dw_emit(const float (&A)[NC][4], bf16 *__restrict__ yrow, int c0, int gw, int M)
{
    bf16 *yc = yrow + (int64_t)c0 * M;
#pragma unroll
    for (int j = 0; j < NC; j++, yc += M) {
        if (c0 + j >= gw) break;
        const float o0 = A[j][0] * wm_silu_sel<TANH>(A[j][2]);
        const float o1 = A[j][1] * wm_silu_sel<TANH>(A[j][3]);
        *(__nv_bfloat162 *)yc = __floats2bfloat162_rn(o0, o1);
    }
}

/* One staged input row: it is tap ky = 2 of output row rr-1 (P), ky = 1 of rr (C), ky = 0 of rr+1 (N,
 * started here from the bias). pa/pg: this thread's first column (c0) in the a/g half of the row. */
template <int NC, bool SILU, bool TANH>
__device__ __forceinline__ void dw_row(float (&P)[NC][4], float (&Cc)[NC][4], float (&N)[NC][4],
                                       const bf16 *pa, const bf16 *pg, const float (&wa)[9][2],
                                       const float (&wg)[9][2], const float (&bb)[4], int c0, int gw)
{
#pragma unroll
    for (int j = 0; j < NC; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) N[j][e] = bb[e];
#pragma unroll
    for (int i = 0; i < NC + 2; i++) { /* input column c0 + i - 1 */
        const int c = c0 + i - 1;
        const int off = (i - 1 + (NC % 2 ? 0 : (i == 0 ? -1 : i == NC + 1 ? 1 : 0))) * DW_CH;
        float2 xa = make_float2(0.0f, 0.0f), xg = xa;
        if (c >= 0 && c < gw) {
            xa = __bfloat1622float2(*(const __nv_bfloat162 *)(pa + off));
            xg = __bfloat1622float2(*(const __nv_bfloat162 *)(pg + off));
            if (SILU) { /* depthwise3x3_silu_glu: SiLU of the input as it is read, kept in fp32 */
                xa.x = wm_silu_sel<TANH>(xa.x); xa.y = wm_silu_sel<TANH>(xa.y);
                xg.x = wm_silu_sel<TANH>(xg.x); xg.y = wm_silu_sel<TANH>(xg.y);
            }
        }
#pragma unroll
        for (int kx = 0; kx < 3; kx++) {
            const int j = i - kx; /* output column c0 + j reads input column c0 + j - 1 + kx */
            if (j < 0 || j >= NC) continue;
            P[j][0] += wa[6 + kx][0] * xa.x;  P[j][1] += wa[6 + kx][1] * xa.y;
            Cc[j][0] += wa[3 + kx][0] * xa.x; Cc[j][1] += wa[3 + kx][1] * xa.y;
            N[j][0] += wa[kx][0] * xa.x;      N[j][1] += wa[kx][1] * xa.y;
            P[j][2] += wg[6 + kx][0] * xg.x;  P[j][3] += wg[6 + kx][1] * xg.y;
            Cc[j][2] += wg[3 + kx][0] * xg.x; Cc[j][3] += wg[3 + kx][1] * xg.y;
            N[j][2] += wg[kx][0] * xg.x;      N[j][3] += wg[kx][1] * xg.y;
        }
    }
}

template <int NC, bool SILU, bool TANH>
__global__ void __launch_bounds__(DW_THREADS, NC <= 5 ? 4 : 2)
    dw_glu_cols_kernel(const bf16 *__restrict__ x, const void *w, const void *b, int pb, bf16 *__restrict__ y,
                       int gh, int gw, int M, int rb)
{
    extern __shared__ __align__(16) unsigned char dw_smem_raw[];
    const int SL = gw + DW_NG, rowsz = 2 * SL * DW_CH; /* slots per half (padding <= 7), elements per row */
    bf16 *rows = (bf16 *)dw_smem_raw;                  /* [DW_NS][2][SL][DW_CH] */
    float *ws = (float *)(rows + DW_NS * rowsz);       /* [DW_WS] */
    const int p = threadIdx.x & 15, g = threadIdx.x >> 4, c0 = g * NC;
    const int cb = blockIdx.x * DW_CH, f = blockIdx.z, r0 = blockIdx.y * rb, r1 = min(gh, r0 + rb);
    const int ch = cb + 2 * p;
    const bool act = ch < M; /* M % 8 == 0: a pair is wholly inside or outside */
    const int64_t C2 = 2 * (int64_t)M;
    const int ri0 = max(0, r0 - 1), ri1 = min(gh, r1 + 1), nin = ri1 - ri0;
    /* copy u = 4 idx + q: 8 channels (q) of (half, col) = idx; idx < 2 gw, so half is one compare (no
     * integer division by the runtime width); q is fixed per thread because DW_THREADS % 4 == 0 */
    const int lq = threadIdx.x & 3, lcq = cb + 8 * lq, c2i = 2 * M; /* M < 2^24: in-row offsets fit int */
    const bool lok = lcq < M;
    auto load = [&](int i) { /* input row ri0 + i into ring slot i % DW_NS; 16 B = 8 channels per copy */
        bf16 *d = rows + (i % DW_NS) * rowsz + 8 * lq;
        const bf16 *src = x + ((int64_t)f * gh + ri0 + i) * gw * C2 + (lok ? lcq : 0);
        for (int idx = threadIdx.x >> 2; idx < 2 * gw; idx += DW_THREADS / 4) {
            const int half = idx >= gw, col = idx - half * gw;
            cp_async16(d + (half * SL + dw_slot<NC>(col)) * DW_CH, src + (col * c2i + half * M), lok ? 16 : 0);
        }
    };
#pragma unroll
    for (int i = 0; i < DW_NS - 1; i++) {
        if (i < nin) load(i);
        cp_async_commit();
    }
    /* taps and biases of the block's 64 channels, coalesced (w (2M, 9), b (2M)); 0 past M */
    for (int u = threadIdx.x; u < DW_WS; u += DW_THREADS) {
        float v = 0.0f;
        if (u < 2 * DW_CH * 9) {
            const int hc = u / (DW_CH * 9), r = u - hc * (DW_CH * 9);
            if (cb + r / 9 < M) v = wm_ldp(w, pb, ((int64_t)hc * M + cb) * 9 + r);
        } else {
            const int r = u - 2 * DW_CH * 9, hc = r / DW_CH, cc = cb + r % DW_CH;
            if (cc < M) v = wm_ldp(b, pb, (int64_t)hc * M + cc);
        }
        ws[u] = v;
    }
    __syncthreads();
    float wa[9][2], wg[9][2], bb[4];
#pragma unroll
    for (int e = 0; e < 2; e++) {
#pragma unroll
        for (int t = 0; t < 9; t++) {
            wa[t][e] = ws[(2 * p + e) * 9 + t]; /* 18-word stride over p: 16 distinct banks */
            wg[t][e] = ws[DW_CH * 9 + (2 * p + e) * 9 + t];
        }
        bb[e] = ws[2 * DW_CH * 9 + 2 * p + e];
        bb[2 + e] = ws[2 * DW_CH * 9 + DW_CH + 2 * p + e];
    }
    /* three accumulator sets [col][a0, a1, g0, g1]; at input row i: P = X[i%3], C = X[(i+1)%3], N = X[(i+2)%3].
     * Row 0's C starts from the bias: its missing ky = 0 row (ri0 - 1) is padding or the row is not ours. */
    float X0[NC][4], X1[NC][4], X2[NC][4];
#pragma unroll
    for (int j = 0; j < NC; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            X0[j][e] = 0.0f;
            X1[j][e] = bb[e];
            X2[j][e] = 0.0f;
        }
    const int pad = NC % 2 ? 0 : g; /* dw_slot(c0) - c0 */
    bf16 *ybase = y + (int64_t)f * gh * gw * M + ch;
    auto step = [&](float (&P)[NC][4], float (&Cc)[NC][4], float (&N)[NC][4], int i) {
        cp_async_wait<DW_NS - 2>();
        __syncthreads(); /* row i landed; slot (i-1) % NS is free */
        if (i + DW_NS - 1 < nin) load(i + DW_NS - 1);
        cp_async_commit();
        const bf16 *pa = rows + (i % DW_NS) * rowsz + (c0 + pad) * DW_CH + 2 * p;
        dw_row<NC, SILU, TANH>(P, Cc, N, pa, pa + SL * DW_CH, wa, wg, bb, c0, gw);
        const int orow = ri0 + i - 1; /* P is complete */
        if (act && orow >= r0 && orow < r1) dw_emit<NC, TANH>(P, ybase + (int64_t)orow * gw * M, c0, gw, M);
    };
    for (int i = 0; i < nin; i += 3) {
        step(X0, X1, X2, i);
        if (i + 1 < nin) step(X1, X2, X0, i + 1);
        if (i + 2 < nin) step(X2, X0, X1, i + 2);
    }
    /* the frame's last row has no row below it: C of the last input row (X[nin % 3]) is complete */
    if (act && ri1 == gh && gh - 1 >= r0 && gh - 1 < r1) {
        bf16 *yr = ybase + (int64_t)(gh - 1) * gw * M;
        const int k = nin % 3;
        if (k == 0) dw_emit<NC, TANH>(X0, yr, c0, gw, M);
        else if (k == 1) dw_emit<NC, TANH>(X1, yr, c0, gw, M);
        else dw_emit<NC, TANH>(X2, yr, c0, gw, M);
    }
}

template <int NC>
static void dw_launch(dim3 grid, size_t smem, cudaStream_t s, const wm_tensor *x, const wm_tensor *w,
                      const wm_tensor *b, wm_tensor *y, int gh, int gw, int M, int rb, int silu, int tanh_silu)
{
    const bf16 *xp = (const bf16 *)x->data;
    bf16 *yp = (bf16 *)y->data;
    const int pb = w->dtype == WM_BF16;
#define WM_DW(S, TH) dw_glu_cols_kernel<NC, S, TH><<<grid, DW_THREADS, smem, s>>>(xp, w->data, b->data, pb, yp, gh, gw, M, rb)
    if (silu && tanh_silu) WM_DW(true, true);
    else if (silu) WM_DW(true, false);
    else if (tanh_silu) WM_DW(false, true);
    else WM_DW(false, false);
#undef WM_DW
}

/* depthwise3x3_glu (silu = 0) or depthwise3x3_silu_glu (silu = 1: SiLU of every input value as the conv
 * reads it, in fp32 -- the CPU reference's order, no bf16 rounding of SiLU(x); the tanh form of SiLU,
 * one SFU op per value, unless WM_CUDA_SILU=exp: the SFU pipe bounds this kernel) through the column-group
 * kernel when the shape allows: bf16 x/y, fp32 or bf16 w/b, width <= 64, M % 8 == 0, M < 2^24, 16-byte
 * aligned x, 4-byte aligned y. Arguments are assumed validated by the op entry; *done = 0 when declined
 * (the caller runs its own kernel). Exported for dit_fused.cu's depthwise3x3_silu_glu. */
extern "C" wm_status wm__dw_glu_cols(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                     int n_frames, int grid_h, int grid_w, wm_tensor *y, int silu, int *done)
{
    int64_t N = wm_tensor_rows(x), C2 = wm_tensor_cols(x), M = C2 / 2;
    *done = 0;
    int fast = x->device == WM_DEVICE_CUDA && y->device == WM_DEVICE_CUDA && w->device == WM_DEVICE_CUDA &&
               b->device == WM_DEVICE_CUDA && x->dtype == WM_BF16 && y->dtype == WM_BF16 &&
               (w->dtype == WM_BF16 || w->dtype == WM_F32) && w->dtype == b->dtype && n_frames > 0 &&
               n_frames <= 65535 && grid_h > 0 && grid_w > 0 && grid_w <= DW_MAXW &&
               N == (int64_t)n_frames * grid_h * grid_w && C2 % 16 == 0 && M < (1 << 24) &&
               wm_tensor_numel(w) == C2 * 9 && wm_tensor_numel(b) == C2 && wm_tensor_numel(y) == N * M &&
               x->data != y->data && al_ok(x->data, 16) && al_ok(y->data, 4);
    if (!fast) return WM_OK;
    *done = 1;
    if (N == 0) return WM_OK;
    int nrb = (grid_h + 11) / 12, rb = (grid_h + nrb - 1) / nrb;
    nrb = (grid_h + rb - 1) / rb;
    /* ring of DW_NS rows x 2 halves x (gw + 8) slots x 32 bf16 + the taps: <= 39.4 KB at gw = 64 */
    size_t smem = (size_t)DW_NS * 2 * (grid_w + DW_NG) * DW_CH * sizeof(bf16) + DW_WS * sizeof(float);
    dim3 grid((unsigned)((M + DW_CH - 1) / DW_CH), (unsigned)nrb, (unsigned)n_frames);
    cudaStream_t s = wm__cuda_stream(be);
    int gh = grid_h, gw = grid_w, m = (int)M, th = !wm__cuda_ctx(be)->silu_exp;
    switch ((grid_w + DW_NG - 1) / DW_NG) {
    case 1: dw_launch<1>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    case 2: dw_launch<2>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    case 3: dw_launch<3>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    case 4: dw_launch<4>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    case 5: dw_launch<5>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    case 6: dw_launch<6>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    case 7: dw_launch<7>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    default: dw_launch<8>(grid, smem, s, x, w, b, y, gh, gw, m, rb, silu, th); break;
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm_depthwise3x3_glu_cuda_v2(wm_backend *be, const wm_tensor *x, const wm_tensor *w,
                                                 const wm_tensor *b, int n_frames, int grid_h, int grid_w,
                                                 wm_tensor *y)
{
    int done = 0;
    if (!wm__cuda_ctx(be)->conv_old)
        WM_TRY(wm__dw_glu_cols(be, x, w, b, n_frames, grid_h, grid_w, y, 0, &done));
    return done ? WM_OK : wm_depthwise3x3_glu_cuda(be, x, w, b, n_frames, grid_h, grid_w, y);
}

/* ---------------------------------------------------------------- short conv (K = 4) */

/* Thread = (position s, 8 channels) over all frames; win[u] = frame t-3+u (u = 0..6) as 8 packed bf16,
 * frames < 0 from the tail (or zero), frames >= T zero (never used: the look-ahead stops at the chunk
 * end <= T). The window stays packed (28 registers).
 * Block = 8 channel vectors (64 channels) x 32 positions; lane = (vector lane & 7, position lane >> 3).
 * The first version mapped consecutive threads to consecutive channel vectors of one position, so a warp
 * spanned 32 channel vectors and each of its 32 scalar tap loads touched 32 cache lines (1024 L1
 * wavefronts per warp, ~30 us of L1 time at the streaming shape: it measured 40.6 us against 28 us for
 * the old kernel). Here a warp spans 8 vectors x 4 positions: the taps of a thread are one 128-byte line
 * read as 8 float4 (fp32) or 4 uint4 (bf16), 8 lines per warp instruction (64 wavefronts per warp), and
 * each x row load is still 4 whole 128-byte lines. */
__device__ __forceinline__ void fma8(float *acc, const float *wj, uint4 u)
{
    const __nv_bfloat162 *h = (const __nv_bfloat162 *)&u;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const float2 t = __bfloat1622float2(h[j]);
        acc[2 * j] += wj[2 * j] * t.x;
        acc[2 * j + 1] += wj[2 * j + 1] * t.y;
    }
}

#define SC_VEC 8  /* channel vectors (of 8) per block */
#define SC_POS 32 /* positions per block: 8 warps x 4 */

/* Thread = (position, 8 channels) over all frames: a 7-frame register window (3 behind, the frame, 3 ahead
 * inside the chunk). The taps of the block's 64 channels sit in shared memory as taps[j][channel] (two float4
 * per tap and thread), not in 32 registers per thread: that kept the kernel at 120 registers, two blocks
 * per SM and ~3.7 latency-bound waves at the streaming shape; at 80 registers three blocks share an SM
 * (at 64 ptxas spills the window). */
__global__ void __launch_bounds__(256, 3)
    short_conv4_kernel(const bf16 *__restrict__ x, const void *w, int wb, const bf16 *__restrict__ tail,
                       bf16 *__restrict__ y, const __grid_constant__ conv_bounds bd, int S, int64_t C)
{
    __shared__ __align__(16) float taps[4][SC_VEC * 8];
    const int lane = threadIdx.x & 31;
    const int64_t nv = C / 8, vb = (int64_t)blockIdx.x * SC_VEC;
    for (int i = threadIdx.x; i < 4 * SC_VEC * 8; i += blockDim.x) {
        const int ch = i >> 2, j = i & 3; /* w (C, 4): the block's taps are 256 consecutive values */
        const int64_t c = vb * 8 + ch;
        taps[j][ch] = c < C ? wm_ldp(w, wb, c * 4 + j) : 0.0f;
    }
    __syncthreads();
    const int64_t v = vb + (lane & 7);
    const int s = blockIdx.y * SC_POS + (threadIdx.x >> 5) * 4 + (lane >> 3);
    if (v >= nv || s >= S) return;
    const int64_t c0 = v * 8;
    const int T = bd.b[bd.n];
    const uint4 zero = make_uint4(0, 0, 0, 0);
    uint4 win[7];
#pragma unroll
    for (int u = 0; u < 7; u++) {
        const int fr = u - 3;
        win[u] = zero;
        if (fr >= 0 && fr < T) win[u] = *(const uint4 *)(x + ((int64_t)fr * S + s) * C + c0);
        else if (fr < 0 && tail) win[u] = *(const uint4 *)(tail + ((int64_t)(3 + fr) * S + s) * C + c0);
    }
    const int tw = (lane & 7) * 8; /* this thread's 8 channels in taps[j][.] */
    for (int t = 0; t < T; t++) {
        const int ce = conv_chunk_end(bd, t);
        float acc[8], wj[8];
        *(float4 *)wj = *(const float4 *)&taps[3][tw];
        *(float4 *)(wj + 4) = *(const float4 *)&taps[3][tw + 4];
        { /* the centre tap is counted by both directions: subtract it once */
            const __nv_bfloat162 *h = (const __nv_bfloat162 *)&win[3];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const float2 f = __bfloat1622float2(h[j]);
                acc[2 * j] = -wj[2 * j] * f.x;
                acc[2 * j + 1] = -wj[2 * j + 1] * f.y;
            }
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
            *(float4 *)wj = *(const float4 *)&taps[j][tw];
            *(float4 *)(wj + 4) = *(const float4 *)&taps[j][tw + 4];
            fma8(acc, wj, win[j]);                       /* causal: frame t-3+j */
            if (t + 3 - j < ce) fma8(acc, wj, win[6 - j]); /* look-ahead: frame t+3-j, inside the chunk */
        }
        vst<8>(y, ((int64_t)t * S + s) * C + c0, acc);
        if (t + 1 < T) {
#pragma unroll
            for (int u = 0; u < 6; u++) win[u] = win[u + 1];
            win[6] = t + 4 < T ? *(const uint4 *)(x + ((int64_t)(t + 4) * S + s) * C + c0) : zero;
        }
    }
}

extern "C" wm_status wm_short_conv_t_cuda_v2(wm_backend *be, const wm_tensor *x, const wm_tensor *w,
                                             const wm_tensor *tail, const int *bounds, int n_chunks, wm_tensor *y)
{
    wm_cuda_ctx *cx = wm__cuda_ctx(be);
    conv_bounds bd;
    int ok = !cx->conv_old && conv_fill_bounds(&bd, bounds, n_chunks) && x->device == WM_DEVICE_CUDA &&
             y->device == WM_DEVICE_CUDA && w->device == WM_DEVICE_CUDA && x->dtype == WM_BF16 &&
             y->dtype == WM_BF16 && (w->dtype == WM_BF16 || w->dtype == WM_F32) && wm_tensor_cols(w) == 4 &&
             (!tail || (tail->device == WM_DEVICE_CUDA && tail->dtype == WM_BF16));
    int64_t T = ok ? bounds[n_chunks] : 1, N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    ok = ok && T > 0 && N % T == 0 && wm_tensor_rows(w) == C && wm_tensor_same_shape(x, y) && x->data != y->data &&
         C % 8 == 0 && (!tail || wm_tensor_numel(tail) == 3 * (N / T) * C) && al_ok(x->data, 16) &&
         al_ok(y->data, 16) && al_ok(tail ? tail->data : NULL, 16) && (N / T + SC_POS - 1) / SC_POS <= 65535;
    if (!ok) return wm_short_conv_t_cuda(be, x, w, tail, bounds, n_chunks, y);
    if (N == 0) return WM_OK;
    int S = (int)(N / T);
    dim3 grid((unsigned)((C / 8 + SC_VEC - 1) / SC_VEC), (unsigned)((S + SC_POS - 1) / SC_POS));
    short_conv4_kernel<<<grid, 256, 0, wm__cuda_stream(be)>>>((const bf16 *)x->data, w->data, w->dtype == WM_BF16,
                                                              tail ? (const bf16 *)tail->data : NULL, (bf16 *)y->data,
                                                              bd, S, C);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- temporal shift/concat */

/* out(t) = [y(t-1) | y(t) | y(t+1)]: y(-1) = tail or 0 (y(t-1) crosses chunks), y(t+1) = 0 at a chunk's
 * last frame. Thread = (position, 8 channels): each y row is read once and written to its three places. */
__global__ void __launch_bounds__(256)
    shift_cat_rows_kernel(const bf16 *__restrict__ y, const bf16 *__restrict__ tail, bf16 *__restrict__ o,
                          const __grid_constant__ conv_bounds bd, int S, int64_t C)
{
    const int64_t nv = C / 8, i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (int64_t)S * nv) return;
    const int64_t s = i / nv, c0 = (i % nv) * 8, C3 = 3 * C;
    const int T = bd.b[bd.n];
    const uint4 zero = make_uint4(0, 0, 0, 0);
    *(uint4 *)(o + s * C3 + c0) = tail ? *(const uint4 *)(tail + s * C + c0) : zero;
    for (int t = 0; t < T; t++) {
        const int64_t n = (int64_t)t * S + s;
        const uint4 v = *(const uint4 *)(y + n * C + c0);
        *(uint4 *)(o + n * C3 + C + c0) = v;
        if (t + 1 < T) *(uint4 *)(o + (n + S) * C3 + c0) = v;
        const bool same = t > 0 && t < conv_chunk_end(bd, t - 1); /* frame t is t-1's look-ahead */
        if (t > 0) *(uint4 *)(o + (n - S) * C3 + 2 * C + c0) = same ? v : zero;
    }
    *(uint4 *)(o + ((int64_t)(T - 1) * S + s) * C3 + 2 * C + c0) = zero;
}

extern "C" wm_status wm_temporal_shift_cat_cuda_v2(wm_backend *be, const wm_tensor *y, const wm_tensor *tail,
                                                   const int *bounds, int n_chunks, wm_tensor *out)
{
    wm_cuda_ctx *cx = wm__cuda_ctx(be);
    conv_bounds bd;
    int ok = !cx->conv_old && conv_fill_bounds(&bd, bounds, n_chunks) && y->device == WM_DEVICE_CUDA &&
             out->device == WM_DEVICE_CUDA && y->dtype == WM_BF16 && out->dtype == WM_BF16 &&
             (!tail || (tail->device == WM_DEVICE_CUDA && tail->dtype == WM_BF16));
    int64_t T = ok ? bounds[n_chunks] : 1, N = wm_tensor_rows(y), C = wm_tensor_cols(y);
    ok = ok && T > 0 && N % T == 0 && wm_tensor_numel(out) == N * 3 * C && C % 8 == 0 &&
         (!tail || wm_tensor_numel(tail) == (N / T) * C) && al_ok(y->data, 16) && al_ok(out->data, 16) &&
         al_ok(tail ? tail->data : NULL, 16) && N / T <= 0x7fffffff;
    if (!ok) return wm_temporal_shift_cat_cuda(be, y, tail, bounds, n_chunks, out);
    if (N == 0) return WM_OK;
    int S = (int)(N / T);
    int64_t threads = (int64_t)S * (C / 8);
    shift_cat_rows_kernel<<<(unsigned)((threads + 255) / 256), 256, 0, wm__cuda_stream(be)>>>(
        (const bf16 *)y->data, tail ? (const bf16 *)tail->data : NULL, (bf16 *)out->data, bd, S, C);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm__dw_glu_check(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                      int n_frames, int grid_h, int grid_w, const wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, w);
    WM_CUDA_FLOAT(be, b);
    WM_CUDA_FLOAT(be, y);
    WM_TRY(wm_depthwise3x3_glu_shape(be, x, w, b, n_frames, grid_h, grid_w, y));
    WM_OP_CHECK(be, x->dtype == y->dtype && w->dtype == b->dtype, WM_ERR_DTYPE, "x/y and w/b must share dtypes");
    return WM_OK;
}
