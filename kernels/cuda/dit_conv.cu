/* Token convolutions of the DiT, second generation: depthwise 3x3 + GLU from shared-memory rows, the K
 * short conv and the temporal shift/concat with each input row read once (kernels/ops_dit.def).
 *
 * The first-generation kernels (dit_token.cu) re-read every input 9x (depthwise) or 7x (short conv)
 * through L1/L2; ncu showed the depthwise conv L1-bound (82% memory throughput at 3.5x the DRAM floor).
 * Here a block sweeps down the rows of one frame for 32 channels (of a and of g): each input row is
 * staged once in a 4-row cp.async ring, each thread keeps three rolling output-row accumulators per
 * column, so a row costs 3 shared loads per channel pair instead of 9 global ones. The short conv and
 * the shift/concat give each thread one (position, 8 channels) across all frames: a sliding register
 * window of frames, every input row loaded once, every output row written once.
 * The op table (ops_table.c) points at the wm_*_cuda_v2 entry points below; they validate, take the
 * new kernels when the shape allows and WM_CUDA_CONV=old was not set at backend creation, and otherwise
 * call the previous implementations unchanged.
 */
#include "gdn_fast.cuh"
#include "mma.cuh"
#include "vec.cuh"

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

#define DW_CH 32     /* channels of a (and of g) per block: 16 pairs */
#define DW_SLOTS 16  /* column slots: thread = (pair, slot), columns slot, slot+16, ... */
#define DW_MAXC 4    /* columns per thread: grid width <= 64 */
#define DW_NS 4      /* staged input rows in flight */

__global__ void __launch_bounds__(256, 2)
    dw_glu_rows_kernel(const bf16 *__restrict__ x, const void *w, const void *b, int pb, bf16 *__restrict__ y, int gh,
                       int gw, int M, int rb)
{
    extern __shared__ __align__(16) unsigned char dw_smem_raw[];
    bf16 *rows = (bf16 *)dw_smem_raw; /* [DW_NS][2 (a, g)][gw][DW_CH] */
    const int p = threadIdx.x & 15, slot = threadIdx.x >> 4;
    const int cb = blockIdx.x * DW_CH, f = blockIdx.z, r0 = blockIdx.y * rb, r1 = min(gh, r0 + rb);
    const int ch = cb + 2 * p;
    const bool act = ch < M; /* M % 8 == 0: a pair is wholly inside or outside */
    const int64_t C2 = 2 * (int64_t)M;
    float wa[9][2], wg[9][2], ba[2], bg[2];
#pragma unroll
    for (int e = 0; e < 2; e++) {
#pragma unroll
        for (int t = 0; t < 9; t++) {
            wa[t][e] = act ? wm_ldp(w, pb, (int64_t)(ch + e) * 9 + t) : 0.0f;
            wg[t][e] = act ? wm_ldp(w, pb, (int64_t)(M + ch + e) * 9 + t) : 0.0f;
        }
        ba[e] = act ? wm_ldp(b, pb, ch + e) : 0.0f;
        bg[e] = act ? wm_ldp(b, pb, M + ch + e) : 0.0f;
    }
    const int rowsz = 2 * gw * DW_CH;
    const int ri0 = max(0, r0 - 1), ri1 = min(gh, r1 + 1), nin = ri1 - ri0;
    auto load = [&](int i) { /* input row ri0 + i into ring slot i % DW_NS */
        bf16 *d = rows + (i % DW_NS) * rowsz;
        const bf16 *src = x + ((int64_t)f * gh + ri0 + i) * gw * C2;
        for (int u = threadIdx.x; u < 2 * gw * (DW_CH / 8); u += blockDim.x) {
            const int q = u & 3, col = (u >> 2) % gw, half = (u >> 2) / gw, c0 = cb + 8 * q;
            const bool ok = c0 < M;
            cp_async16(d + (half * gw + col) * DW_CH + 8 * q, src + col * C2 + half * M + (ok ? c0 : 0), ok ? 16 : 0);
        }
    };
#pragma unroll
    for (int i = 0; i < DW_NS - 1; i++) {
        if (i < nin) load(i);
        cp_async_commit();
    }
    /* rolling accumulators per column: P = output row rr-1, C = rr, N = rr+1 (a and g, 2 channels) */
    float aP[DW_MAXC][2], aC[DW_MAXC][2], gP[DW_MAXC][2], gC[DW_MAXC][2];
#pragma unroll
    for (int j = 0; j < DW_MAXC; j++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            aP[j][e] = gP[j][e] = 0.0f;
            aC[j][e] = ba[e];
            gC[j][e] = bg[e];
        }
    for (int i = 0; i < nin; i++) {
        cp_async_wait<DW_NS - 2>();
        __syncthreads(); /* row i landed; slot (i-1) % NS is free */
        if (i + DW_NS - 1 < nin) load(i + DW_NS - 1);
        cp_async_commit();
        const int rr = ri0 + i;
        const bf16 *ra = rows + (i % DW_NS) * rowsz, *rg = ra + gw * DW_CH;
        const bool emit = rr - 1 >= r0 && rr - 1 < r1;
#pragma unroll
        for (int j = 0; j < DW_MAXC; j++) {
            const int c = slot + DW_SLOTS * j;
            float aN[2] = {ba[0], ba[1]}, gN[2] = {bg[0], bg[1]};
            if (c < gw) {
#pragma unroll
                for (int kx = 0; kx < 3; kx++) {
                    const int cc = c + kx - 1;
                    if (cc < 0 || cc >= gw) continue;
                    const float2 xa = __bfloat1622float2(*(const __nv_bfloat162 *)(ra + cc * DW_CH + 2 * p));
                    const float2 xg = __bfloat1622float2(*(const __nv_bfloat162 *)(rg + cc * DW_CH + 2 * p));
                    /* this row is tap ky = 2 of output rr-1, ky = 1 of rr, ky = 0 of rr+1 */
                    aP[j][0] += wa[6 + kx][0] * xa.x; aP[j][1] += wa[6 + kx][1] * xa.y;
                    aC[j][0] += wa[3 + kx][0] * xa.x; aC[j][1] += wa[3 + kx][1] * xa.y;
                    aN[0] += wa[kx][0] * xa.x;        aN[1] += wa[kx][1] * xa.y;
                    gP[j][0] += wg[6 + kx][0] * xg.x; gP[j][1] += wg[6 + kx][1] * xg.y;
                    gC[j][0] += wg[3 + kx][0] * xg.x; gC[j][1] += wg[3 + kx][1] * xg.y;
                    gN[0] += wg[kx][0] * xg.x;        gN[1] += wg[kx][1] * xg.y;
                }
                if (emit && act) {
                    const float o0 = aP[j][0] * (gP[j][0] / (1.0f + __expf(-gP[j][0])));
                    const float o1 = aP[j][1] * (gP[j][1] / (1.0f + __expf(-gP[j][1])));
                    *(__nv_bfloat162 *)(y + (((int64_t)f * gh + rr - 1) * gw + c) * M + ch) = __floats2bfloat162_rn(o0, o1);
                }
            }
#pragma unroll
            for (int e = 0; e < 2; e++) {
                aP[j][e] = aC[j][e];
                gP[j][e] = gC[j][e];
                aC[j][e] = aN[e];
                gC[j][e] = gN[e];
            }
        }
    }
    /* the frame's last row has no row below it: it is complete after the loop */
    if (nin > 0 && ri1 == gh && gh - 1 >= r0 && gh - 1 < r1 && act) {
#pragma unroll
        for (int j = 0; j < DW_MAXC; j++) {
            const int c = slot + DW_SLOTS * j;
            if (c >= gw) continue;
            const float o0 = aP[j][0] * (gP[j][0] / (1.0f + __expf(-gP[j][0])));
            const float o1 = aP[j][1] * (gP[j][1] / (1.0f + __expf(-gP[j][1])));
            *(__nv_bfloat162 *)(y + (((int64_t)f * gh + gh - 1) * gw + c) * M + ch) = __floats2bfloat162_rn(o0, o1);
        }
    }
}

extern "C" wm_status wm_depthwise3x3_glu_cuda_v2(wm_backend *be, const wm_tensor *x, const wm_tensor *w,
                                                 const wm_tensor *b, int n_frames, int grid_h, int grid_w,
                                                 wm_tensor *y)
{
    wm_cuda_ctx *cx = wm__cuda_ctx(be);
    int64_t N = wm_tensor_rows(x), C2 = wm_tensor_cols(x), M = C2 / 2;
    int fast = !cx->conv_old && x->device == WM_DEVICE_CUDA && y->device == WM_DEVICE_CUDA &&
               w->device == WM_DEVICE_CUDA && b->device == WM_DEVICE_CUDA && x->dtype == WM_BF16 &&
               y->dtype == WM_BF16 && (w->dtype == WM_BF16 || w->dtype == WM_F32) && w->dtype == b->dtype &&
               n_frames > 0 && n_frames <= 65535 && grid_h > 0 && grid_w > 0 && grid_w <= DW_SLOTS * DW_MAXC &&
               N == (int64_t)n_frames * grid_h * grid_w && C2 % 16 == 0 && M <= 0x3fffffff &&
               wm_tensor_numel(w) == C2 * 9 && wm_tensor_numel(b) == C2 && wm_tensor_numel(y) == N * M &&
               al_ok(x->data, 16) && al_ok(y->data, 4);
    if (!fast) return wm_depthwise3x3_glu_cuda(be, x, w, b, n_frames, grid_h, grid_w, y);
    if (N == 0) return WM_OK;
    int nrb = (grid_h + 11) / 12, rb = (grid_h + nrb - 1) / nrb;
    nrb = (grid_h + rb - 1) / rb;
    size_t smem = (size_t)DW_NS * 2 * grid_w * DW_CH * sizeof(bf16);
    dim3 grid((unsigned)((M + DW_CH - 1) / DW_CH), (unsigned)nrb, (unsigned)n_frames);
    dw_glu_rows_kernel<<<grid, 256, smem, wm__cuda_stream(be)>>>((const bf16 *)x->data, w->data, b->data,
                                                                  w->dtype == WM_BF16, (bf16 *)y->data, grid_h,
                                                                  grid_w, (int)M, rb);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- short conv (K = 4) */

/* Thread = (position s, 8 channels) over all frames; win[u] = frame t-3+u (u = 0..6) as 8 packed bf16,
 * frames < 0 from the tail (or zero), frames >= T zero (never used: the look-ahead stops at the chunk
 * end <= T). The window stays packed (28 registers) so 2 blocks of 256 fit per SM. */
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

__global__ void __launch_bounds__(256, 2)
    short_conv4_kernel(const bf16 *__restrict__ x, const void *w, int wb, const bf16 *__restrict__ tail,
                       bf16 *__restrict__ y, const __grid_constant__ conv_bounds bd, int S, int64_t C)
{
    const int64_t nv = C / 8, i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (int64_t)S * nv) return;
    const int64_t s = i / nv, c0 = (i % nv) * 8;
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
    float wt[4][8];
#pragma unroll
    for (int e = 0; e < 8; e++)
#pragma unroll
        for (int j = 0; j < 4; j++) wt[j][e] = wm_ldp(w, wb, (c0 + e) * 4 + j);
    float w3n[8];
#pragma unroll
    for (int e = 0; e < 8; e++) w3n[e] = -wt[3][e];
    for (int t = 0; t < T; t++) {
        const int ce = conv_chunk_end(bd, t);
        float acc[8];
#pragma unroll
        for (int e = 0; e < 8; e++) acc[e] = 0.0f;
        fma8(acc, w3n, win[3]); /* the centre tap is counted by both directions: subtract it once */
#pragma unroll
        for (int j = 0; j < 4; j++) {
            fma8(acc, wt[j], win[j]);                       /* causal: frame t-3+j */
            if (t + 3 - j < ce) fma8(acc, wt[j], win[6 - j]); /* look-ahead: frame t+3-j, inside the chunk */
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
         al_ok(y->data, 16) && al_ok(tail ? tail->data : NULL, 16) && N / T <= 0x7fffffff;
    if (!ok) return wm_short_conv_t_cuda(be, x, w, tail, bounds, n_chunks, y);
    if (N == 0) return WM_OK;
    int S = (int)(N / T);
    int64_t threads = (int64_t)S * (C / 8);
    short_conv4_kernel<<<(unsigned)((threads + 255) / 256), 256, 0, wm__cuda_stream(be)>>>(
        (const bf16 *)x->data, w->data, w->dtype == WM_BF16, tail ? (const bf16 *)tail->data : NULL, (bf16 *)y->data,
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
