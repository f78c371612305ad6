/* Per-token DiT ops on CUDA: the K short conv (streaming tail, chunk-bounded look-ahead), depthwise 3x3 +
 * GLU, the temporal-conv shift/concat, RoPE, UCPE and the camera beta discount (kernels/ops_dit.def).
 *
 * The two convs read every input row several times (7 frames for the short conv, 9 grid neighbours for
 * the depthwise conv); the re-reads hit L1/L2, so DRAM traffic stays one read + one write. They use the
 * 8-wide (16-byte) path when channels allow, as the norms do. Chunk bounds are host arrays in the op
 * interface; they travel by value as a kernel argument (graph-capturable, no copy).
 */
#include "gdn_fast.cuh" /* wm__dw_glu_check */
#include "vec.cuh"
#include "kernels/dit_shapes.h"

#define WM_MAX_BOUNDS 512
typedef struct { int n; int b[WM_MAX_BOUNDS + 1]; } dev_bounds;

static int fill_bounds(dev_bounds *d, const int *bounds, int n_chunks)
{
    if (n_chunks < 1 || n_chunks > WM_MAX_BOUNDS) return 0;
    d->n = n_chunks;
    for (int i = 0; i <= n_chunks; i++) d->b[i] = bounds[i];
    return 1;
}

__device__ __forceinline__ int chunk_end(const dev_bounds &bd, int f)
{
    for (int k = 0; k < bd.n; k++)
        if (f < bd.b[k + 1]) return bd.b[k + 1];
    return bd.b[bd.n];
}

__device__ __forceinline__ float gld(const void *p, int bf, int64_t i)
{
    return bf ? __bfloat162float(((const bf16 *)p)[i]) : ((const float *)p)[i];
}

/* ---------------------------------------------------------------- short conv */

template <typename T, int VEC>
__global__ void short_conv_kernel(const T *x, const void *w, int wb, const T *tail, T *y, const dev_bounds bd, int S,
                                  int64_t C, int K)
{
    int64_t nv = C / VEC, N = (int64_t)bd.b[bd.n] * S;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * nv; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / nv, c0 = (i % nv) * VEC;
        int f = (int)(n / S), s = (int)(n % S), ce = chunk_end(bd, f);
        float acc[VEC], v[VEC];
        vld<VEC>(x, n * C + c0, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) acc[j] = -wm_ldp(w, wb, (c0 + j) * K + K - 1) * v[j];
        for (int j = 0; j < K; j++) {
            int ff = f - (K - 1) + j, fb = f + (K - 1) - j;
            const T *rf = NULL;
            int64_t of = 0;
            if (ff >= 0) { rf = x; of = ((int64_t)ff * S + s) * C + c0; }
            else if (tail && (K - 1) + ff >= 0) { rf = tail; of = ((int64_t)((K - 1) + ff) * S + s) * C + c0; }
            if (rf) {
                vld<VEC>(rf, of, v);
#pragma unroll
                for (int e = 0; e < VEC; e++) acc[e] += wm_ldp(w, wb, (c0 + e) * K + j) * v[e];
            }
            if (fb < ce) {
                vld<VEC>(x, ((int64_t)fb * S + s) * C + c0, v);
#pragma unroll
                for (int e = 0; e < VEC; e++) acc[e] += wm_ldp(w, wb, (c0 + e) * K + j) * v[e];
            }
        }
        vst<VEC>(y, n * C + c0, acc);
    }
}

/* bf16 fast path (K <= 8): as the depthwise conv, a block owns 256 channels x 64 tokens with the taps
 * staged in shared memory as [tap][channel]. */
#define SC_CV 32
#define SC_TOK 64
__global__ void __launch_bounds__(256)
    short_conv_fast_kernel(const bf16 *x, const void *w, int wb, const bf16 *tail, bf16 *y, const dev_bounds bd,
                           int S, int64_t C, int K)
{
    __shared__ __align__(16) float ws[8][SC_CV * 8];
    const int64_t ch0 = (int64_t)blockIdx.x * SC_CV * 8, N = (int64_t)bd.b[bd.n] * S;
    for (int i = threadIdx.x; i < K * SC_CV * 8; i += blockDim.x) {
        int j = i / (SC_CV * 8), c = i % (SC_CV * 8);
        ws[j][c] = ch0 + c < C ? wm_ldp(w, wb, (ch0 + c) * K + j) : 0.0f;
    }
    __syncthreads();
    const int cv = threadIdx.x % SC_CV, tl = threadIdx.x / SC_CV;
    const int64_t c0 = ch0 + cv * 8;
    if (c0 >= C) return;
    for (int64_t n = (int64_t)blockIdx.y * SC_TOK + tl; n < N && n < (int64_t)(blockIdx.y + 1) * SC_TOK; n += 8) {
        int f = (int)(n / S), s = (int)(n % S), ce = chunk_end(bd, f);
        float acc[8], v[8];
        vld<8>(x, n * C + c0, v);
#pragma unroll
        for (int e = 0; e < 8; e++) acc[e] = -ws[K - 1][cv * 8 + e] * v[e];
        for (int j = 0; j < K; j++) {
            int ff = f - (K - 1) + j, fb = f + (K - 1) - j;
            const bf16 *rf = NULL;
            int64_t of = 0;
            if (ff >= 0) { rf = x; of = ((int64_t)ff * S + s) * C + c0; }
            else if (tail && (K - 1) + ff >= 0) { rf = tail; of = ((int64_t)((K - 1) + ff) * S + s) * C + c0; }
            if (rf) {
                vld<8>(rf, of, v);
#pragma unroll
                for (int e = 0; e < 8; e++) acc[e] += ws[j][cv * 8 + e] * v[e];
            }
            if (fb < ce) {
                vld<8>(x, ((int64_t)fb * S + s) * C + c0, v);
#pragma unroll
                for (int e = 0; e < 8; e++) acc[e] += ws[j][cv * 8 + e] * v[e];
            }
        }
        vst<8>(y, n * C + c0, acc);
    }
}

extern "C" wm_status wm_short_conv_t_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *tail,
                                          const int *bounds, int n_chunks, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, w);
    WM_CUDA_FLOAT(be, y);
    dev_bounds bd;
    WM_OP_CHECK(be, bounds && fill_bounds(&bd, bounds, n_chunks) && bounds[0] == 0, WM_ERR_INVALID_ARG,
                "bounds must start at 0 (at most 512 chunks)");
    for (int k = 0; k < n_chunks; k++)
        WM_OP_CHECK(be, bounds[k + 1] > bounds[k], WM_ERR_INVALID_ARG, "bounds must increase");
    int64_t T = bounds[n_chunks], N = wm_tensor_rows(x), C = wm_tensor_cols(x), K = wm_tensor_cols(w);
    WM_OP_CHECK(be, T > 0 && N % T == 0, WM_ERR_SHAPE, "tokens must split into bounds[n_chunks] frames");
    WM_OP_CHECK(be, wm_tensor_rows(w) == C && K >= 1, WM_ERR_SHAPE, "w must be (C, K)");
    WM_OP_CHECK(be, wm_tensor_same_shape(x, y) && x->data != y->data, WM_ERR_SHAPE, "y must be x-shaped, no alias");
    WM_OP_CHECK(be, x->dtype == y->dtype, WM_ERR_DTYPE, "x and y must share a dtype");
    if (tail) {
        WM_CUDA_FLOAT(be, tail);
        WM_OP_CHECK(be, tail->dtype == x->dtype, WM_ERR_DTYPE, "tail must have x's dtype");
        WM_OP_CHECK(be, wm_tensor_numel(tail) == (K - 1) * (N / T) * C, WM_ERR_SHAPE, "tail must be ((K-1)*S, C)");
    }
    if (N == 0) return WM_OK;
    int v8 = wm_vec8_ok(C, x->data, y->data, tail ? tail->data : NULL), wb = w->dtype == WM_BF16, S = (int)(N / T);
    cudaStream_t s = wm__cuda_stream(be);
    unsigned grid = wm_grid1d(N * C / (v8 ? 8 : 1), 256, 65535);
    const void *tp = tail ? tail->data : NULL;
    if (x->dtype == WM_BF16 && v8 && K <= 8 && N / SC_TOK < 65535) {
        dim3 g2((unsigned)((C + SC_CV * 8 - 1) / (SC_CV * 8)), (unsigned)((N + SC_TOK - 1) / SC_TOK));
        short_conv_fast_kernel<<<g2, 256, 0, s>>>((const bf16 *)x->data, w->data, wb, (const bf16 *)tp, (bf16 *)y->data,
                                                  bd, S, C, (int)K);
    } else if (x->dtype == WM_BF16) {
        if (v8) short_conv_kernel<bf16, 8><<<grid, 256, 0, s>>>((const bf16 *)x->data, w->data, wb, (const bf16 *)tp, (bf16 *)y->data, bd, S, C, (int)K);
        else short_conv_kernel<bf16, 1><<<grid, 256, 0, s>>>((const bf16 *)x->data, w->data, wb, (const bf16 *)tp, (bf16 *)y->data, bd, S, C, (int)K);
    } else {
        if (v8) short_conv_kernel<float, 8><<<grid, 256, 0, s>>>((const float *)x->data, w->data, wb, (const float *)tp, (float *)y->data, bd, S, C, (int)K);
        else short_conv_kernel<float, 1><<<grid, 256, 0, s>>>((const float *)x->data, w->data, wb, (const float *)tp, (float *)y->data, bd, S, C, (int)K);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- depthwise 3x3 + GLU */

template <typename T, int VEC>
__global__ void dw_glu_kernel(const T *x, const void *w, const void *b, int pb, T *y, int gh, int gw, int64_t M,
                              int64_t N)
{
    int64_t nv = M / VEC, S = (int64_t)gh * gw, C2 = 2 * M;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * nv; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / nv, c0 = (i % nv) * VEC, f = n / S;
        int r = (int)((n % S) / gw), col = (int)(n % gw);
        float a[VEC], g[VEC], v[VEC];
#pragma unroll
        for (int e = 0; e < VEC; e++) {
            a[e] = wm_ldp(b, pb, c0 + e);
            g[e] = wm_ldp(b, pb, M + c0 + e);
        }
        for (int ky = 0; ky < 3; ky++) {
            int rr = r + ky - 1;
            if (rr < 0 || rr >= gh) continue;
            for (int kx = 0; kx < 3; kx++) {
                int cc = col + kx - 1;
                if (cc < 0 || cc >= gw) continue;
                int64_t row = ((f * gh + rr) * gw + cc) * C2;
                int tap = ky * 3 + kx;
                vld<VEC>(x, row + c0, v);
#pragma unroll
                for (int e = 0; e < VEC; e++) a[e] += wm_ldp(w, pb, (c0 + e) * 9 + tap) * v[e];
                vld<VEC>(x, row + M + c0, v);
#pragma unroll
                for (int e = 0; e < VEC; e++) g[e] += wm_ldp(w, pb, (M + c0 + e) * 9 + tap) * v[e];
            }
        }
#pragma unroll
        for (int e = 0; e < VEC; e++) a[e] *= g[e] / (1.0f + __expf(-g[e]));
        vst<VEC>(y, n * M + c0, a);
    }
}

/* bf16 fast path: block = 32 channel vectors (256 channels of a and the matching 256 of g) x 8 token
 * lanes, 64 tokens per block. The 2 x 9 x 256 taps and the biases are staged once per block in shared
 * memory as [tap][channel], so each tap is two 16-byte shared loads per 8 channels instead of 16 scattered
 * global loads (the weights' (2M, 9) layout puts a channel's taps together). */
#define DW_CV 32
#define DW_TOK 64
__global__ void __launch_bounds__(256)
    dw_glu_fast_kernel(const bf16 *x, const void *w, const void *b, int pb, bf16 *y, int gh, int gw, int64_t M, int64_t N)
{
    __shared__ __align__(16) float wa[9][DW_CV * 8], wg[9][DW_CV * 8], ba[DW_CV * 8], bg[DW_CV * 8];
    const int64_t ch0 = (int64_t)blockIdx.x * DW_CV * 8, S = (int64_t)gh * gw, C2 = 2 * M;
    for (int i = threadIdx.x; i < 9 * DW_CV * 8; i += blockDim.x) {
        int tap = i / (DW_CV * 8), c = i % (DW_CV * 8);
        int64_t ch = ch0 + c;
        wa[tap][c] = ch < M ? wm_ldp(w, pb, ch * 9 + tap) : 0.0f;
        wg[tap][c] = ch < M ? wm_ldp(w, pb, (M + ch) * 9 + tap) : 0.0f;
    }
    for (int c = threadIdx.x; c < DW_CV * 8; c += blockDim.x) {
        ba[c] = ch0 + c < M ? wm_ldp(b, pb, ch0 + c) : 0.0f;
        bg[c] = ch0 + c < M ? wm_ldp(b, pb, M + ch0 + c) : 0.0f;
    }
    __syncthreads();
    const int cv = threadIdx.x % DW_CV, tl = threadIdx.x / DW_CV;
    const int64_t c0 = ch0 + cv * 8;
    if (c0 >= M) return;
    for (int64_t n = (int64_t)blockIdx.y * DW_TOK + tl; n < N && n < (int64_t)(blockIdx.y + 1) * DW_TOK; n += 8) {
        int64_t f = n / S;
        int r = (int)((n % S) / gw), col = (int)(n % gw);
        float a[8], g[8], v[8];
#pragma unroll
        for (int e = 0; e < 8; e++) { a[e] = ba[cv * 8 + e]; g[e] = bg[cv * 8 + e]; }
#pragma unroll
        for (int ky = 0; ky < 3; ky++) {
            int rr = r + ky - 1;
            if (rr < 0 || rr >= gh) continue;
#pragma unroll
            for (int kx = 0; kx < 3; kx++) {
                int cc = col + kx - 1;
                if (cc < 0 || cc >= gw) continue;
                int64_t row = ((f * gh + rr) * gw + cc) * C2;
                const int tap = ky * 3 + kx;
                vld<8>(x, row + c0, v);
#pragma unroll
                for (int e = 0; e < 8; e++) a[e] += wa[tap][cv * 8 + e] * v[e];
                vld<8>(x, row + M + c0, v);
#pragma unroll
                for (int e = 0; e < 8; e++) g[e] += wg[tap][cv * 8 + e] * v[e];
            }
        }
#pragma unroll
        for (int e = 0; e < 8; e++) a[e] *= g[e] / (1.0f + __expf(-g[e]));
        vst<8>(y, n * M + c0, a);
    }
}

extern "C" wm_status wm_depthwise3x3_glu_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                              int n_frames, int grid_h, int grid_w, wm_tensor *y)
{
    WM_TRY(wm__dw_glu_check(be, x, w, b, n_frames, grid_h, grid_w, y));
    int64_t N = wm_tensor_rows(x), C2 = wm_tensor_cols(x);
    int64_t M = C2 / 2;
    int v8 = wm_vec8_ok(M, x->data, y->data, NULL), pb = w->dtype == WM_BF16;
    cudaStream_t s = wm__cuda_stream(be);
    unsigned grid = wm_grid1d(N * M / (v8 ? 8 : 1), 256, 65535);
    if (x->dtype == WM_BF16 && v8 && N / DW_TOK < 65535) {
        dim3 g2((unsigned)((M + DW_CV * 8 - 1) / (DW_CV * 8)), (unsigned)((N + DW_TOK - 1) / DW_TOK));
        dw_glu_fast_kernel<<<g2, 256, 0, s>>>((const bf16 *)x->data, w->data, b->data, pb, (bf16 *)y->data, grid_h,
                                               grid_w, M, N);
    } else if (x->dtype == WM_BF16) {
        if (v8) dw_glu_kernel<bf16, 8><<<grid, 256, 0, s>>>((const bf16 *)x->data, w->data, b->data, pb, (bf16 *)y->data, grid_h, grid_w, M, N);
        else dw_glu_kernel<bf16, 1><<<grid, 256, 0, s>>>((const bf16 *)x->data, w->data, b->data, pb, (bf16 *)y->data, grid_h, grid_w, M, N);
    } else {
        if (v8) dw_glu_kernel<float, 8><<<grid, 256, 0, s>>>((const float *)x->data, w->data, b->data, pb, (float *)y->data, grid_h, grid_w, M, N);
        else dw_glu_kernel<float, 1><<<grid, 256, 0, s>>>((const float *)x->data, w->data, b->data, pb, (float *)y->data, grid_h, grid_w, M, N);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- temporal shift/concat */

template <typename T, int VEC>
__global__ void shift_cat_kernel(const T *y, const T *tail, T *o, const dev_bounds bd, int S, int64_t C)
{
    int64_t nv = C / VEC, N = (int64_t)bd.b[bd.n] * S;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * nv; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / nv, c0 = (i % nv) * VEC;
        int f = (int)(n / S), s = (int)(n % S);
        float v[VEC], z[VEC];
#pragma unroll
        for (int e = 0; e < VEC; e++) z[e] = 0.0f;
        T *orow = o + n * 3 * C;
        if (f > 0) { vld<VEC>(y, (n - S) * C + c0, v); vst<VEC>(orow, c0, v); }
        else if (tail) { vld<VEC>(tail, (int64_t)s * C + c0, v); vst<VEC>(orow, c0, v); }
        else vst<VEC>(orow, c0, z);
        vld<VEC>(y, n * C + c0, v);
        vst<VEC>(orow, C + c0, v);
        if (f + 1 < chunk_end(bd, f)) { vld<VEC>(y, (n + S) * C + c0, v); vst<VEC>(orow, 2 * C + c0, v); }
        else vst<VEC>(orow, 2 * C + c0, z);
    }
}

extern "C" wm_status wm_temporal_shift_cat_cuda(wm_backend *be, const wm_tensor *y, const wm_tensor *tail,
                                                const int *bounds, int n_chunks, wm_tensor *out)
{
    WM_CUDA_FLOAT(be, y);
    WM_CUDA_FLOAT(be, out);
    dev_bounds bd;
    WM_OP_CHECK(be, bounds && fill_bounds(&bd, bounds, n_chunks) && bounds[0] == 0, WM_ERR_INVALID_ARG,
                "bounds must start at 0 (at most 512 chunks)");
    for (int k = 0; k < n_chunks; k++)
        WM_OP_CHECK(be, bounds[k + 1] > bounds[k], WM_ERR_INVALID_ARG, "bounds must increase");
    int64_t T = bounds[n_chunks], N = wm_tensor_rows(y), C = wm_tensor_cols(y);
    WM_OP_CHECK(be, N % T == 0, WM_ERR_SHAPE, "tokens must split into bounds[n_chunks] frames");
    WM_OP_CHECK(be, wm_tensor_numel(out) == N * 3 * C, WM_ERR_SHAPE, "out must be (N, 3C)");
    WM_OP_CHECK(be, y->dtype == out->dtype, WM_ERR_DTYPE, "y and out must share a dtype");
    if (tail) {
        WM_CUDA_FLOAT(be, tail);
        WM_OP_CHECK(be, tail->dtype == y->dtype, WM_ERR_DTYPE, "tail must have y's dtype");
        WM_OP_CHECK(be, wm_tensor_numel(tail) == (N / T) * C, WM_ERR_SHAPE, "tail must be (S, C)");
    }
    if (N == 0) return WM_OK;
    int v8 = wm_vec8_ok(C, y->data, out->data, tail ? tail->data : NULL), S = (int)(N / T);
    cudaStream_t s = wm__cuda_stream(be);
    unsigned grid = wm_grid1d(N * C / (v8 ? 8 : 1), 256, 65535);
    const void *tp = tail ? tail->data : NULL;
    if (y->dtype == WM_BF16) {
        if (v8) shift_cat_kernel<bf16, 8><<<grid, 256, 0, s>>>((const bf16 *)y->data, (const bf16 *)tp, (bf16 *)out->data, bd, S, C);
        else shift_cat_kernel<bf16, 1><<<grid, 256, 0, s>>>((const bf16 *)y->data, (const bf16 *)tp, (bf16 *)out->data, bd, S, C);
    } else {
        if (v8) shift_cat_kernel<float, 8><<<grid, 256, 0, s>>>((const float *)y->data, (const float *)tp, (float *)out->data, bd, S, C);
        else shift_cat_kernel<float, 1><<<grid, 256, 0, s>>>((const float *)y->data, (const float *)tp, (float *)out->data, bd, S, C);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- RoPE, UCPE, camera beta */

/* One thread per channel pair; pairs inside [off, off + 2P) of a head rotate, the others are copied. */
template <typename T>
__global__ void rope_kernel(const T *x, const void *cs, const void *sn, int pb, T *y, int64_t N, int64_t C, int D,
                            int P, int off, float sg)
{
    int64_t half = C / 2;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * half; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / half, d = (i % half) * 2;
        int dd = (int)(d % D);
        float a = wm_ld(x, n * C + d), b = wm_ld(x, n * C + d + 1);
        if (dd >= off && dd < off + 2 * P) {
            int p = (dd - off) / 2;
            float co = wm_ldp(cs, pb, n * P + p), si = sg * wm_ldp(sn, pb, n * P + p);
            float a2 = a * co - b * si;
            b = a * si + b * co;
            a = a2;
        }
        wm_st(y, n * C + d, a);
        wm_st(y, n * C + d + 1, b);
    }
}

/* bf16, 8 channels (4 pairs) per thread with 16-byte loads/stores; pairs decide individually. */
__global__ void rope_vec_kernel(const bf16 *x, const void *cs, const void *sn, int pb, bf16 *y, int64_t N, int64_t C,
                                int D, int P, int off, float sg)
{
    int64_t nv = C / 8;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * nv; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / nv, d = (i % nv) * 8;
        float v[8];
        vld<8>(x, n * C + d, v);
#pragma unroll
        for (int e = 0; e < 8; e += 2) {
            int dd = (int)((d + e) % D);
            if (dd >= off && dd < off + 2 * P) {
                int p = (dd - off) / 2;
                float co = wm_ldp(cs, pb, n * P + p), si = sg * wm_ldp(sn, pb, n * P + p);
                float a = v[e], b = v[e + 1];
                v[e] = a * co - b * si;
                v[e + 1] = a * si + b * co;
            }
        }
        vst<8>(y, n * C + d, v);
    }
}

extern "C" wm_status wm_rope_apply_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                                        int n_heads, int dim_offset, int conj, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, cos);
    WM_CUDA_FLOAT(be, sin);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x), P = wm_tensor_cols(cos);
    WM_TRY(wm_rope_apply_shape(be, x, cos, sin, n_heads, dim_offset, y));
    int64_t D = C / n_heads;
    WM_OP_CHECK(be, D % 2 == 0 && dim_offset % 2 == 0, WM_ERR_UNSUPPORTED, "odd head dim or pair offset");
    WM_OP_CHECK(be, x->dtype == y->dtype && cos->dtype == sin->dtype, WM_ERR_DTYPE, "x/y and cos/sin must share dtypes");
    if (N * C == 0) return WM_OK;
    unsigned grid = wm_grid1d(N * C / 2, 256, 65535);
    cudaStream_t s = wm__cuda_stream(be);
    float sg = conj ? -1.0f : 1.0f;
    int pb = cos->dtype == WM_BF16;
    if (x->dtype == WM_BF16 && wm_vec8_ok(C, x->data, y->data, NULL))
        rope_vec_kernel<<<wm_grid1d(N * C / 8, 256, 65535), 256, 0, s>>>((const bf16 *)x->data, cos->data, sin->data,
                                                                          pb, (bf16 *)y->data, N, C, (int)D, (int)P,
                                                                          dim_offset, sg);
    else if (x->dtype == WM_BF16)
        rope_kernel<bf16><<<grid, 256, 0, s>>>((const bf16 *)x->data, cos->data, sin->data, pb, (bf16 *)y->data, N, C,
                                               (int)D, (int)P, dim_offset, sg);
    else
        rope_kernel<float><<<grid, 256, 0, s>>>((const float *)x->data, cos->data, sin->data, pb, (float *)y->data, N,
                                                C, (int)D, (int)P, dim_offset, sg);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* One thread per channel quad: quads in the first half of a head get the 4x4 transform, others copy. */
template <typename T>
__global__ void ucpe_kernel(const T *x, const void *m, int mb, T *y, int64_t N, int64_t C, int D, int tr)
{
    int64_t nq = C / 4;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * nq; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / nq, d = (i % nq) * 4;
        float a[4];
#pragma unroll
        for (int e = 0; e < 4; e++) a[e] = wm_ld(x, n * C + d + e);
        if ((int)(d % D) < D / 2) {
            float o[4];
#pragma unroll
            for (int r = 0; r < 4; r++) {
                o[r] = 0.0f;
#pragma unroll
                for (int c = 0; c < 4; c++) o[r] += wm_ldp(m, mb, n * 16 + (tr ? c * 4 + r : r * 4 + c)) * a[c];
            }
#pragma unroll
            for (int e = 0; e < 4; e++) a[e] = o[e];
        }
#pragma unroll
        for (int e = 0; e < 4; e++) wm_st(y, n * C + d + e, a[e]);
    }
}

/* bf16, two quads per thread with 16-byte loads/stores. */
__global__ void ucpe_vec_kernel(const bf16 *x, const void *m, int mb, bf16 *y, int64_t N, int64_t C, int D, int tr)
{
    int64_t nv = C / 8;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * nv; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / nv, d = (i % nv) * 8;
        float v[8];
        vld<8>(x, n * C + d, v);
        if ((int)(d % D) < D / 2) {
            float mm[16];
#pragma unroll
            for (int k = 0; k < 16; k++) mm[k] = wm_ldp(m, mb, n * 16 + (tr ? (k % 4) * 4 + k / 4 : k));
#pragma unroll
            for (int qd = 0; qd < 8; qd += 4) {
                float o[4];
#pragma unroll
                for (int r = 0; r < 4; r++)
                    o[r] = mm[r * 4] * v[qd] + mm[r * 4 + 1] * v[qd + 1] + mm[r * 4 + 2] * v[qd + 2] + mm[r * 4 + 3] * v[qd + 3];
#pragma unroll
                for (int r = 0; r < 4; r++) v[qd + r] = o[r];
            }
        }
        vst<8>(y, n * C + d, v);
    }
}

extern "C" wm_status wm_ucpe_apply_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *mats, int n_heads,
                                        int transpose, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, mats);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_TRY(wm_ucpe_apply_shape(be, x, mats, n_heads, y));
    WM_OP_CHECK(be, x->dtype == y->dtype, WM_ERR_DTYPE, "x and y must share a dtype");
    if (N * C == 0) return WM_OK;
    unsigned grid = wm_grid1d(N * C / 4, 256, 65535);
    cudaStream_t s = wm__cuda_stream(be);
    int mb = mats->dtype == WM_BF16;
    if (x->dtype == WM_BF16 && (C / n_heads) % 16 == 0 && wm_vec8_ok(C, x->data, y->data, NULL))
        ucpe_vec_kernel<<<wm_grid1d(N * C / 8, 256, 65535), 256, 0, s>>>((const bf16 *)x->data, mats->data, mb,
                                                                          (bf16 *)y->data, N, C, (int)(C / n_heads),
                                                                          transpose);
    else if (x->dtype == WM_BF16)
        ucpe_kernel<bf16><<<grid, 256, 0, s>>>((const bf16 *)x->data, mats->data, mb, (bf16 *)y->data, N, C,
                                               (int)(C / n_heads), transpose);
    else
        ucpe_kernel<float><<<grid, 256, 0, s>>>((const float *)x->data, mats->data, mb, (float *)y->data, N, C,
                                                (int)(C / n_heads), transpose);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* One block per (frame, head): warps take tokens in turn, each token's inflation |k_post|^2/|k_pre|^2 is
 * a warp reduction over D; the block mean then divides the frame's betas. */
__global__ void cam_beta_kernel(const void *kp, const void *kq, int kb, const void *beta, int bb, void *bc, int cb,
                                int S, int H, int D)
{
    __shared__ float red[32];
    int f = blockIdx.x / H, h = blockIdx.x % H, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int nw = blockDim.x >> 5;
    int64_t C = (int64_t)H * D;
    float m = 0.0f;
    for (int s = warp; s < S; s += nw) {
        int64_t o = ((int64_t)f * S + s) * C + (int64_t)h * D;
        float na = 0.0f, nb = 0.0f;
        for (int d = lane; d < D; d += 32) {
            float a = gld(kp, kb, o + d), b = gld(kq, kb, o + d);
            na += a * a;
            nb += b * b;
        }
        for (int k = 16; k > 0; k >>= 1) {
            na += __shfl_xor_sync(0xffffffffu, na, k);
            nb += __shfl_xor_sync(0xffffffffu, nb, k);
        }
        if (lane == 0) m += na > 0.0f ? nb / na : 1.0f;
    }
    m = wm_block_sum(m, red) / (float)S;
    float div = fmaxf(m, 1.0f);
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        int64_t i = ((int64_t)f * S + s) * H + h;
        float v = gld(beta, bb, i) / div;
        if (cb) ((bf16 *)bc)[i] = __float2bfloat16(v);
        else ((float *)bc)[i] = v;
    }
}

/* Two-pass form (default where it applies): the one-block-per-(frame, head) kernel above measured 48-50 us
 * per call on the H100 (ncu: 20% of DRAM bandwidth) -- a 3-frame chunk gives it only 60 blocks for 132
 * SMs, and each warp reads a head's 112 values with scalar loads. Pass 1: a warp per token reads both
 * rows as 16-byte vectors (every load first) and writes the token's inflation per head into scratch
 * (N, H) fp32; pass 2: a block per (frame, head) averages S values and divides the betas. Needs D % 8 == 0,
 * C <= 3072, 16-byte rows, one dtype, H <= 32, N * H floats of scratch. */
template <typename T, int U>
__global__ void __launch_bounds__(128) cam_infl_kernel(const T *kp, const T *kq, float *infl, int N, int C, int D, int H)
{
    __shared__ float part[4][2][3072 / 8];
    const int lane = threadIdx.x & 31, wi = threadIdx.x >> 5, n = blockIdx.x * 4 + wi;
    if (n >= N) return;
    raw8<T> a[U], b[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int i = (lane + u * 32) * 8;
        if (i >= C) continue;
        ld_raw8(kp + (int64_t)n * C, i, a[u]);
        ld_raw8(kq + (int64_t)n * C, i, b[u]);
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int i = (lane + u * 32) * 8;
        if (i >= C) continue;
        float va[8], vb[8], sa = 0.0f, sb = 0.0f;
        cvt_raw8(a[u], va);
        cvt_raw8(b[u], vb);
#pragma unroll
        for (int j = 0; j < 8; j++) { sa += va[j] * va[j]; sb += vb[j] * vb[j]; }
        part[wi][0][i / 8] = sa;
        part[wi][1][i / 8] = sb;
    }
    __syncwarp();
    const int per = D / 8;
    for (int h = lane; h < H; h += 32) {
        float na = 0.0f, nb = 0.0f;
        for (int k = 0; k < per; k++) { na += part[wi][0][h * per + k]; nb += part[wi][1][h * per + k]; }
        infl[(int64_t)n * H + h] = na > 0.0f ? nb / na : 1.0f;
    }
}

__global__ void cam_beta_div_kernel(const float *infl, const void *beta, int bb, void *bc, int cb, int S, int H)
{
    __shared__ float red[32];
    const int f = blockIdx.x / H, h = blockIdx.x % H;
    float m = 0.0f;
    for (int s = threadIdx.x; s < S; s += blockDim.x) m += infl[((int64_t)f * S + s) * H + h];
    m = wm_block_sum(m, red) / (float)S;
    const float div = fmaxf(m, 1.0f);
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        const int64_t i = ((int64_t)f * S + s) * H + h;
        const float v = gld(beta, bb, i) / div;
        if (cb) ((bf16 *)bc)[i] = __float2bfloat16(v);
        else ((float *)bc)[i] = v;
    }
}

template <typename T>
static int cam_beta_two_pass(wm_backend *be, const T *kp, const T *kq, const wm_tensor *beta, wm_tensor *bc, int64_t N,
                             int64_t C, int64_t H, int n_frames)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    const int64_t D = C / H, units = C / 8, need = (units + 31) / 32;
    if (c->norms_old || D % 8 || C > 3072 || H > 32 || (size_t)(N * H) * sizeof(float) > c->scratch_bytes ||
        !wm_vec8_ok(C, kp, kq, NULL) || N >= (1LL << 31))
        return 0;
    float *infl = (float *)c->scratch;
    cudaStream_t s = wm__cuda_stream(be);
    const unsigned grid = (unsigned)((N + 3) / 4);
#define WM_CI(UU) cam_infl_kernel<T, UU><<<grid, 128, 0, s>>>(kp, kq, infl, (int)N, (int)C, (int)D, (int)H)
    if (need <= 1) WM_CI(1);
    else if (need <= 2) WM_CI(2);
    else if (need <= 4) WM_CI(4);
    else if (need <= 9) WM_CI(9);
    else WM_CI(12);
#undef WM_CI
    cam_beta_div_kernel<<<(unsigned)(n_frames * H), 256, 0, s>>>(infl, beta->data, beta->dtype == WM_BF16, bc->data,
                                                                 bc->dtype == WM_BF16, (int)(N / n_frames), (int)H);
    return 1;
}

extern "C" wm_status wm_gdn_cam_beta_cuda(wm_backend *be, const wm_tensor *k_pre, const wm_tensor *k_post,
                                          const wm_tensor *beta, int n_frames, wm_tensor *beta_cam)
{
    WM_CUDA_FLOAT(be, k_pre);
    WM_CUDA_FLOAT(be, k_post);
    WM_CUDA_FLOAT(be, beta);
    WM_CUDA_FLOAT(be, beta_cam);
    int64_t N = wm_tensor_rows(k_pre), C = wm_tensor_cols(k_pre), H = wm_tensor_cols(beta);
    WM_TRY(wm_gdn_cam_beta_shape(be, k_pre, k_post, beta, n_frames, beta_cam));
    WM_OP_CHECK(be, k_pre->dtype == k_post->dtype, WM_ERR_DTYPE, "k_pre and k_post must share a dtype");
    if (N == 0) return WM_OK;
    int done = k_pre->dtype == WM_BF16
                   ? cam_beta_two_pass<bf16>(be, (const bf16 *)k_pre->data, (const bf16 *)k_post->data, beta, beta_cam, N, C, H, n_frames)
                   : cam_beta_two_pass<float>(be, (const float *)k_pre->data, (const float *)k_post->data, beta, beta_cam, N, C, H, n_frames);
    if (done) {
        WM_CUDA_LAUNCHED(be);
        return WM_OK;
    }
    /* 1024 threads: a 3-frame chunk has only 60 (frame, head) blocks, so each needs many warps in flight */
    cam_beta_kernel<<<(unsigned)(n_frames * H), 1024, 0, wm__cuda_stream(be)>>>(
        k_pre->data, k_post->data, k_pre->dtype == WM_BF16, beta->data, beta->dtype == WM_BF16, beta_cam->data,
        beta_cam->dtype == WM_BF16, (int)(N / n_frames), (int)H, (int)(C / H));
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
