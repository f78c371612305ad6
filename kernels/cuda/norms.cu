/* Row norms on CUDA: rmsnorm (q/k/y norms over the full 2240 channels) and layernorm_modulate (adaLN:
 * LayerNorm without affine, then per-frame (1 + scale) and shift).
 *
 * One block of 256 threads per row: a DiT row is 2240 channels = 280 16-byte bf16 vectors, so one pass
 * of 256 threads (plus a short tail) covers it and the statistics need one block reduction. Rows are
 * re-read for the normalise pass instead of being held in registers; a 4.5 KB row is still in L1, so
 * DRAM traffic stays at one read and one write per element. Statistics are fp32 (sum of squares over
 * 2240 values: relative error ~1e-6, far below bf16's 4e-3 storage step). LayerNorm uses the two-pass
 * mean/variance form (no catastrophic cancellation for rows with a large mean).
 * y may alias x: each element is read and then written by the same thread.
 *
 * Register-row variants (default; WM_CUDA_NORMS=old keeps the kernels above): when the row splits into
 * 16-byte vectors, a block of 32 x ceil(C/8/U/32) threads holds the whole row in registers (U = 1
 * vector of 8 per thread up to 8,192 channels, 2 up to 16,384): one global read per element, the
 * statistics from registers, one write. At C = 2240 that is 288 threads of one vector each; the old
 * kernels had 256 threads for 280 vectors, so 24 threads did a second round while the rest waited, and
 * LayerNorm read the row three times (measured 21.8 us = 1.09 TB/s for 2640 x 2240). Expected ~9-10 us.
 */
#include "vec.cuh"

#define NORM_THREADS 256

template <typename TX, typename TY, int VEC>
__global__ void rmsnorm_kernel(const TX *x, const void *w, int w_bf16, TY *y, int64_t C, float eps)
{
    __shared__ float red[32];
    const TX *xr = x + (int64_t)blockIdx.x * C;
    TY *yr = y + (int64_t)blockIdx.x * C;
    float ss = 0.0f, v[VEC];
    for (int64_t i = (int64_t)threadIdx.x * VEC; i < C; i += (int64_t)blockDim.x * VEC) {
        vld<VEC>(xr, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) ss += v[j] * v[j];
    }
    ss = wm_block_sum(ss, red);
    float inv = rsqrtf(ss / (float)C + eps);
    for (int64_t i = (int64_t)threadIdx.x * VEC; i < C; i += (int64_t)blockDim.x * VEC) {
        vld<VEC>(xr, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) v[j] = v[j] * inv * (w ? wm_ldp(w, w_bf16, i + j) : 1.0f);
        vst<VEC>(yr, i, v);
    }
}

template <typename TX, typename TY, int VEC>
__global__ void ln_mod_kernel(const TX *x, const void *shift, const void *scale, int p_bf16, TY *y, int64_t C,
                              int64_t rpg, float eps)
{
    __shared__ float red[32];
    int64_t r = blockIdx.x;
    const TX *xr = x + r * C;
    TY *yr = y + r * C;
    int64_t g = (r / rpg) * C;
    float s = 0.0f, v[VEC];
    for (int64_t i = (int64_t)threadIdx.x * VEC; i < C; i += (int64_t)blockDim.x * VEC) {
        vld<VEC>(xr, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) s += v[j];
    }
    float mean = wm_block_sum(s, red) / (float)C;
    float q = 0.0f;
    for (int64_t i = (int64_t)threadIdx.x * VEC; i < C; i += (int64_t)blockDim.x * VEC) {
        vld<VEC>(xr, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) q += (v[j] - mean) * (v[j] - mean);
    }
    float inv = rsqrtf(wm_block_sum(q, red) / (float)C + eps);
    for (int64_t i = (int64_t)threadIdx.x * VEC; i < C; i += (int64_t)blockDim.x * VEC) {
        vld<VEC>(xr, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) {
            float h = (v[j] - mean) * inv;
            if (scale) h *= 1.0f + wm_ldp(scale, p_bf16, g + i + j);
            if (shift) h += wm_ldp(shift, p_bf16, g + i + j);
            v[j] = h;
        }
        vst<VEC>(yr, i, v);
    }
}

template <typename TX, typename TY, int U>
__global__ void __launch_bounds__(1024) rmsnorm_reg_kernel(const TX *x, const void *w, int w_bf16, TY *y, int64_t C,
                                                           float eps)
{
    __shared__ float red[32];
    const TX *xr = x + (int64_t)blockIdx.x * C;
    TY *yr = y + (int64_t)blockIdx.x * C;
    float v[U][8], ss = 0.0f;
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int64_t i = ((int64_t)threadIdx.x + (int64_t)u * blockDim.x) * 8;
        if (i < C) vld<8>(xr, i, v[u]);
#pragma unroll
        for (int j = 0; j < 8; j++) ss += i < C ? v[u][j] * v[u][j] : 0.0f;
    }
    const float inv = rsqrtf(wm_block_sum(ss, red) / (float)C + eps);
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int64_t i = ((int64_t)threadIdx.x + (int64_t)u * blockDim.x) * 8;
        if (i >= C) continue;
#pragma unroll
        for (int j = 0; j < 8; j++) v[u][j] = v[u][j] * inv * (w ? wm_ldp(w, w_bf16, i + j) : 1.0f);
        vst<8>(yr, i, v[u]);
    }
}

/* The adaLN tail of the register-row kernels (ln_mod_reg_kernel, gadd_ln_reg_kernel): the row is in v (U
 * vectors of 8 per thread, s = this thread's sum of it); mean and variance over C, normalise, modulate with
 * frame group g's scale/shift (NULL = none), store to yr. */
template <typename TY, int U>
__device__ __forceinline__ void ln_mod_row_tail(float (&v)[U][8], float s, float *red, const void *shift,
                                                const void *scale, int p_bf16, TY *yr, int64_t C, int64_t g,
                                                float eps)
{
    const float mean = wm_block_sum(s, red) / (float)C;
    float q = 0.0f;
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int64_t i = ((int64_t)threadIdx.x + (int64_t)u * blockDim.x) * 8;
#pragma unroll
        for (int j = 0; j < 8; j++) q += i < C ? (v[u][j] - mean) * (v[u][j] - mean) : 0.0f;
    }
    const float inv = rsqrtf(wm_block_sum(q, red) / (float)C + eps);
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int64_t i = ((int64_t)threadIdx.x + (int64_t)u * blockDim.x) * 8;
        if (i >= C) continue;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            float h = (v[u][j] - mean) * inv;
            if (scale) h *= 1.0f + wm_ldp(scale, p_bf16, g + i + j);
            if (shift) h += wm_ldp(shift, p_bf16, g + i + j);
            v[u][j] = h;
        }
        vst<8>(yr, i, v[u]);
    }
}

template <typename TX, typename TY, int U>
__global__ void __launch_bounds__(1024) ln_mod_reg_kernel(const TX *x, const void *shift, const void *scale, int p_bf16,
                                                          TY *y, int64_t C, int64_t rpg, float eps)
{
    __shared__ float red[32];
    const int64_t r = blockIdx.x, g = (r / rpg) * C;
    const TX *xr = x + r * C;
    TY *yr = y + r * C;
    float v[U][8], s = 0.0f;
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int64_t i = ((int64_t)threadIdx.x + (int64_t)u * blockDim.x) * 8;
        if (i < C) vld<8>(xr, i, v[u]);
#pragma unroll
        for (int j = 0; j < 8; j++) s += i < C ? v[u][j] : 0.0f;
    }
    ln_mod_row_tail<TY, U>(v, s, red, shift, scale, p_bf16, yr, C, g, eps);
}

__device__ __forceinline__ float round_to(float v, const bf16 *) { return __bfloat162float(__float2bfloat16(v)); }
__device__ __forceinline__ float round_to(float v, const float *) { return v; }
/* Warp-per-row variants (default for C <= 3072, 16-byte rows): the register-row block kernels above still
 * measured 20 us for layernorm_modulate at 2640 x 2240 on the H200 (1.17 TB/s): one row per block, two
 * block reductions, only ~7 rows in flight per SM. A warp per row needs no barrier (shuffle reductions)
 * and keeps 4 rows per 128-thread block, ~16 rows in flight per SM. mode 0 rmsnorm (w), 1
 * layernorm_modulate (shift, scale), 2 gated_add_ln_mod (x += gate * h first, x stored and re-rounded). */
template <typename T, int U, int MODE>
__global__ void __launch_bounds__(128) norm_warp_kernel(T *x, const T *hh, const void *w, int wb, const void *gate,
                                                        int gb, const void *shift, const void *scale, int pb, T *y,
                                                        int C, int N, int64_t rpg, float eps)
{
    constexpr int NP = MODE == 0 ? 1 : MODE == 1 ? 2 : 3; /* staged parameter rows: w | shift, scale | gate, ... */
    extern __shared__ float4 nw_smem4[];
    float *ps = (float *)nw_smem4;
    const int lane = threadIdx.x & 31, n = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    const bool live = n < N;
    const int64_t g0 = (int64_t)(blockIdx.x * (blockDim.x >> 5)) / rpg; /* group of the block's first row */
    const int64_t g = live ? (n / rpg) * (int64_t)C : 0;
    T *xr = x + (int64_t)(live ? n : 0) * C;
    /* Every load of the row first (x and, for mode 2, h, raw: bf16 stays packed), then the arithmetic and
     * the stores; the row stays raw between passes (mode 2 keeps the updated x rounded to T, exactly the
     * values stored). */
    raw8<T> xv[U], hv[MODE == 2 ? U : 1];
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int i = (lane + u * 32) * 8;
        if (!live || i >= C) continue;
        ld_raw8(xr, i, xv[u]);
        if (MODE == 2) ld_raw8(hh + (int64_t)n * C, i, hv[u]);
    }
    /* Per-channel parameters of the block's first row's group staged as fp32 in shared memory while the
     * row loads fly (second version read them per vector through the read-only path between the stores:
     * one exposed latency per vector; gated_add_ln_mod measured 31 us). Absent ones stage as identities
     * (w, gate 1; shift, scale 0). A row of another group (a block across a group boundary) reads them
     * from global memory as before. */
    constexpr int IT = (U * 256 + 511) / 512; /* float4 per thread at 128 threads for C <= 256 U */
    if (MODE == 0) stage_params<IT>(ps, w, wb, 0, C, 1.0f);
    if (MODE == 2) stage_params<IT>(ps, gate, gb, g0 * C, C, 1.0f);
    if (MODE != 0) {
        stage_params<IT>(ps + (NP - 2) * C, shift, pb, g0 * C, C, 0.0f);
        stage_params<IT>(ps + (NP - 1) * C, scale, pb, g0 * C, C, 0.0f);
    }
    __syncthreads();
    if (!live) return; /* after the barrier */
    const bool staged = MODE == 0 || g == g0 * C;
    /* parameter row k (staged index) / p (global) at channel i: 8 fp32 values; identity when p is NULL */
    auto par8 = [&](int k, const void *p, int pbf, int64_t off, float dflt, int i, float *o) {
        if (staged) {
            const float4 a = *(const float4 *)(ps + k * C + i), b = *(const float4 *)(ps + k * C + i + 4);
            o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w; o[4] = b.x; o[5] = b.y; o[6] = b.z; o[7] = b.w;
        } else if (p) {
            ldp8(p, pbf, off + i, o);
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++) o[j] = dflt;
        }
    };
    float s = 0.0f;
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int i = (lane + u * 32) * 8;
        if (i >= C) continue;
        float v[8];
        cvt_raw8(xv[u], v);
        if (MODE == 2) {
            float h8[8], g8[8];
            cvt_raw8(hv[u], h8);
            par8(0, gate, gb, g, 1.0f, i, g8);
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] += g8[j] * h8[j];
            pack_raw8(v, xv[u]);
            st_raw8(xr, i, xv[u]);
            cvt_raw8(xv[u], v);
        }
#pragma unroll
        for (int j = 0; j < 8; j++) s += MODE == 0 ? v[j] * v[j] : v[j];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    float mean = 0.0f, inv;
    if (MODE == 0) {
        inv = rsqrtf(s / (float)C + eps);
    } else {
        mean = s / (float)C;
        inv = rsqrtf(warp_row_sumsq<T, U>(xv, lane, C, mean) / (float)C + eps);
    }
    T *yr = y + (int64_t)n * C;
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int i = (lane + u * 32) * 8;
        if (i >= C) continue;
        float v[8], p8[8], q8[8];
        cvt_raw8(xv[u], v);
        if (MODE == 0) {
            par8(0, w, wb, 0, 1.0f, i, p8);
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = v[j] * inv * p8[j];
        } else {
            par8(NP - 1, scale, pb, g, 0.0f, i, p8);
            par8(NP - 2, shift, pb, g, 0.0f, i, q8);
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = (v[j] - mean) * inv * (1.0f + p8[j]) + q8[j];
        }
        vst<8>(yr, i, v);
    }
}

/* Launch the warp kernel (x, y one dtype T) with the smallest U covering C; 0 if it does not apply. */
template <typename T, int MODE>
static int norm_warp(wm_backend *be, T *x, const T *h, const void *w, int wb, const void *gate, int gb,
                     const void *shift, const void *scale, int pb, T *y, int64_t C, int64_t N, int64_t rpg, float eps)
{
    if (wm__cuda_ctx(be)->norms_old || C > 3072 || C % 8 || N >= (1LL << 31)) return 0;
    if (!wm_aligned16(w, gate, shift, scale)) return 0; /* the parameters are read as 16-byte vectors */
    const int need = (int)((C / 8 + 31) / 32);
    const unsigned grid = (unsigned)((N + 3) / 4);
    cudaStream_t s = wm__cuda_stream(be);
    const size_t smem = (size_t)(MODE == 0 ? 1 : MODE == 1 ? 2 : 3) * C * sizeof(float);
#define WM_NW(UU) norm_warp_kernel<T, UU, MODE><<<grid, 128, smem, s>>>(x, h, w, wb, gate, gb, shift, scale, pb, y, \
                                                                       (int)C, (int)N, rpg, eps)
    if (need <= 1) WM_NW(1);
    else if (need <= 2) WM_NW(2);
    else if (need <= 4) WM_NW(4);
    else if (need <= 9) WM_NW(9);
    else if (need <= 12) WM_NW(12);
#undef WM_NW
    return 1;
}

/* Register-row launch shape: U vectors of 8 per thread and the thread count; 0 when it does not apply. */
static int reg_row_shape(wm_backend *be, int64_t C, int v8, int *threads)
{
    if (wm__cuda_ctx(be)->norms_old || !v8) return 0;
    const int64_t units = C / 8;
    const int U = units <= 1024 ? 1 : units <= 2048 ? 2 : 0;
    if (!U) return 0;
    int64_t t = (units + U - 1) / U;
    t = (t + 31) / 32 * 32;
    *threads = (int)(t < 64 ? 64 : t);
    return U;
}

/* Expands BODY for the (x dtype, y dtype) pair at hand (register-row kernels: always 8-wide). */
#define WM_DISPATCH_XY_REG(xt, yt, BODY)                                                           \
    do {                                                                                           \
        if ((xt) == WM_BF16 && (yt) == WM_BF16) { typedef bf16 TX; typedef bf16 TY; BODY; }        \
        else if ((xt) == WM_BF16) { typedef bf16 TX; typedef float TY; BODY; }                     \
        else if ((yt) == WM_BF16) { typedef float TX; typedef bf16 TY; BODY; }                     \
        else { typedef float TX; typedef float TY; BODY; }                                         \
    } while (0)

/* Expands BODY for the (x dtype, y dtype, 8-wide or scalar) combination at hand. */
#define WM_DISPATCH_XY(xt, yt, vec8, BODY)                                                         \
    do {                                                                                           \
        if ((xt) == WM_BF16 && (yt) == WM_BF16) {                                                  \
            typedef bf16 TX; typedef bf16 TY;                                                      \
            if (vec8) { const int VEC = 8; BODY; } else { const int VEC = 1; BODY; }               \
        } else if ((xt) == WM_BF16) {                                                              \
            typedef bf16 TX; typedef float TY;                                                     \
            if (vec8) { const int VEC = 8; BODY; } else { const int VEC = 1; BODY; }               \
        } else if ((yt) == WM_BF16) {                                                              \
            typedef float TX; typedef bf16 TY;                                                     \
            if (vec8) { const int VEC = 8; BODY; } else { const int VEC = 1; BODY; }               \
        } else {                                                                                   \
            typedef float TX; typedef float TY;                                                    \
            if (vec8) { const int VEC = 8; BODY; } else { const int VEC = 1; BODY; }               \
        }                                                                                          \
    } while (0)

extern "C" wm_status wm_rmsnorm_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *w, float eps, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C && wm_tensor_cols(y) == C, WM_ERR_SHAPE, "y must have x's shape");
    WM_OP_CHECK(be, N < (1LL << 31), WM_ERR_LIMIT, "more than 2^31 rows");
    if (w) {
        WM_CUDA_FLOAT(be, w);
        WM_OP_CHECK(be, wm_tensor_numel(w) == C, WM_ERR_SHAPE, "w must have C elements");
    }
    WM_OP_CHECK(be, x->data != y->data || x->dtype == y->dtype, WM_ERR_DTYPE, "in-place needs x and y of one dtype");
    if (N == 0) return WM_OK;
    int v8 = wm_vec8_ok(C, x->data, y->data, NULL);
    const void *wp = w ? w->data : NULL;
    int wb = w && w->dtype == WM_BF16;
    cudaStream_t s = wm__cuda_stream(be);
    if (v8 && x->dtype == y->dtype) {
        int done = x->dtype == WM_BF16
                       ? norm_warp<bf16, 0>(be, (bf16 *)x->data, NULL, wp, wb, NULL, 0, NULL, NULL, 0, (bf16 *)y->data, C, N, 1, eps)
                       : norm_warp<float, 0>(be, (float *)x->data, NULL, wp, wb, NULL, 0, NULL, NULL, 0, (float *)y->data, C, N, 1, eps);
        if (done) {
            WM_CUDA_LAUNCHED(be);
            return WM_OK;
        }
    }
    int rt = 0, U = reg_row_shape(be, C, v8, &rt);
    if (U == 1)
        WM_DISPATCH_XY_REG(x->dtype, y->dtype, (rmsnorm_reg_kernel<TX, TY, 1><<<(unsigned)N, rt, 0, s>>>(
                                                   (const TX *)x->data, wp, wb, (TY *)y->data, C, eps)));
    else if (U == 2)
        WM_DISPATCH_XY_REG(x->dtype, y->dtype, (rmsnorm_reg_kernel<TX, TY, 2><<<(unsigned)N, rt, 0, s>>>(
                                                   (const TX *)x->data, wp, wb, (TY *)y->data, C, eps)));
    else
        WM_DISPATCH_XY(x->dtype, y->dtype, v8,
                       (rmsnorm_kernel<TX, TY, VEC><<<(unsigned)N, NORM_THREADS, 0, s>>>((const TX *)x->data, wp, wb,
                                                                                       (TY *)y->data, C, eps)));
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm_layernorm_modulate_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *shift,
                                                const wm_tensor *scale, int64_t rows_per_group, float eps, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, wm_tensor_numel(y) == N * C, WM_ERR_SHAPE, "y must have x's shape");
    WM_OP_CHECK(be, rows_per_group > 0, WM_ERR_INVALID_ARG, "rows_per_group must be > 0");
    WM_OP_CHECK(be, N < (1LL << 31), WM_ERR_LIMIT, "more than 2^31 rows");
    int64_t G = (N + rows_per_group - 1) / rows_per_group;
    if (shift) {
        WM_CUDA_FLOAT(be, shift);
        WM_OP_CHECK(be, wm_tensor_numel(shift) >= G * C, WM_ERR_SHAPE, "shift must be (G, C)");
    }
    if (scale) {
        WM_CUDA_FLOAT(be, scale);
        WM_OP_CHECK(be, wm_tensor_numel(scale) >= G * C, WM_ERR_SHAPE, "scale must be (G, C)");
    }
    WM_OP_CHECK(be, !shift || !scale || shift->dtype == scale->dtype, WM_ERR_DTYPE,
                "shift and scale must have the same dtype");
    WM_OP_CHECK(be, x->data != y->data || x->dtype == y->dtype, WM_ERR_DTYPE, "in-place needs x and y of one dtype");
    if (N == 0) return WM_OK;
    int pb = (shift && shift->dtype == WM_BF16) || (scale && scale->dtype == WM_BF16);
    int v8 = wm_vec8_ok(C, x->data, y->data, NULL);
    const void *shp = shift ? shift->data : NULL, *scp = scale ? scale->data : NULL;
    cudaStream_t s = wm__cuda_stream(be);
    if (v8 && x->dtype == y->dtype) {
        int done = x->dtype == WM_BF16
                       ? norm_warp<bf16, 1>(be, (bf16 *)x->data, NULL, NULL, 0, NULL, 0, shp, scp, pb, (bf16 *)y->data, C, N,
                                            rows_per_group, eps)
                       : norm_warp<float, 1>(be, (float *)x->data, NULL, NULL, 0, NULL, 0, shp, scp, pb, (float *)y->data, C,
                                             N, rows_per_group, eps);
        if (done) {
            WM_CUDA_LAUNCHED(be);
            return WM_OK;
        }
    }
    int rt = 0, U = reg_row_shape(be, C, v8, &rt);
    if (U == 1)
        WM_DISPATCH_XY_REG(x->dtype, y->dtype, (ln_mod_reg_kernel<TX, TY, 1><<<(unsigned)N, rt, 0, s>>>(
                                                   (const TX *)x->data, shp, scp, pb, (TY *)y->data, C, rows_per_group, eps)));
    else if (U == 2)
        WM_DISPATCH_XY_REG(x->dtype, y->dtype, (ln_mod_reg_kernel<TX, TY, 2><<<(unsigned)N, rt, 0, s>>>(
                                                   (const TX *)x->data, shp, scp, pb, (TY *)y->data, C, rows_per_group, eps)));
    else
        WM_DISPATCH_XY(x->dtype, y->dtype, v8,
                       (ln_mod_kernel<TX, TY, VEC><<<(unsigned)N, NORM_THREADS, 0, s>>>(
                           (const TX *)x->data, shp, scp, pb, (TY *)y->data, C, rows_per_group, eps)));
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- gated_add_ln_mod
 * x += gate[g] * h and y = adaLN(x) in one pass: the row of x and h in registers (as ln_mod_reg_kernel),
 * the updated x stored and rounded to its dtype before the statistics (exactly the values the unfused
 * layernorm_modulate would read back). Saves one read of x per block boundary. Shapes the register
 * path cannot take fall back to gated_add + layernorm_modulate. */

template <typename T, int U>
__global__ void __launch_bounds__(1024) gadd_ln_reg_kernel(T *x, const T *hh, const void *gate, int g_bf16,
                                                           const void *shift, const void *scale, int p_bf16, T *y,
                                                           int64_t C, int64_t rpg, float eps)
{
    __shared__ float red[32];
    const int64_t r = blockIdx.x, g = (r / rpg) * C;
    T *xr = x + r * C;
    const T *hr = hh + r * C;
    T *yr = y + r * C;
    float v[U][8], hv[8], s = 0.0f;
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int64_t i = ((int64_t)threadIdx.x + (int64_t)u * blockDim.x) * 8;
        if (i < C) {
            vld<8>(xr, i, v[u]);
            vld<8>(hr, i, hv);
#pragma unroll
            for (int j = 0; j < 8; j++) v[u][j] += (gate ? wm_ldp(gate, g_bf16, g + i + j) : 1.0f) * hv[j];
            vst<8>(xr, i, v[u]);
#pragma unroll
            for (int j = 0; j < 8; j++) v[u][j] = round_to(v[u][j], (const T *)0);
        }
#pragma unroll
        for (int j = 0; j < 8; j++) s += i < C ? v[u][j] : 0.0f;
    }
    ln_mod_row_tail<T, U>(v, s, red, shift, scale, p_bf16, yr, C, g, eps);
}

extern "C" wm_status wm_gated_add_ln_mod_cuda(wm_backend *be, wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                                              const wm_tensor *shift, const wm_tensor *scale, int64_t rows_per_group,
                                              float eps, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, h);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, wm_tensor_numel(h) == N * C && wm_tensor_numel(y) == N * C, WM_ERR_SHAPE, "h and y must have x's shape");
    WM_OP_CHECK(be, y->data != x->data && y->data != h->data, WM_ERR_INVALID_ARG, "y may not alias x or h");
    WM_OP_CHECK(be, rows_per_group > 0, WM_ERR_INVALID_ARG, "rows_per_group must be > 0");
    WM_OP_CHECK(be, N < (1LL << 31), WM_ERR_LIMIT, "more than 2^31 rows");
    int64_t G = (N + rows_per_group - 1) / rows_per_group;
    const wm_tensor *pv[3] = {gate, shift, scale};
    for (int k = 0; k < 3; k++)
        if (pv[k]) {
            WM_CUDA_FLOAT(be, pv[k]);
            WM_OP_CHECK(be, wm_tensor_numel(pv[k]) >= G * C, WM_ERR_SHAPE, "gate, shift and scale must be (G, C)");
        }
    WM_OP_CHECK(be, !shift || !scale || shift->dtype == scale->dtype, WM_ERR_DTYPE,
                "shift and scale must have the same dtype");
    if (N == 0) return WM_OK;
    int v8 = wm_vec8_ok(C, x->data, y->data, h->data), rt = 0;
    int U = reg_row_shape(be, C, v8, &rt);
    if (!U || x->dtype != h->dtype || x->dtype != y->dtype) { /* the unfused pair */
        WM_TRY(wm_gated_add_cuda(be, x, h, gate, rows_per_group));
        return wm_layernorm_modulate_cuda(be, x, shift, scale, rows_per_group, eps, y);
    }
    int gb = gate && gate->dtype == WM_BF16;
    int pb = (shift && shift->dtype == WM_BF16) || (scale && scale->dtype == WM_BF16);
    const void *gp = gate ? gate->data : NULL, *shp = shift ? shift->data : NULL, *scp = scale ? scale->data : NULL;
    cudaStream_t s = wm__cuda_stream(be);
    int done = x->dtype == WM_BF16
                   ? norm_warp<bf16, 2>(be, (bf16 *)x->data, (const bf16 *)h->data, NULL, 0, gp, gb, shp, scp, pb,
                                        (bf16 *)y->data, C, N, rows_per_group, eps)
                   : norm_warp<float, 2>(be, (float *)x->data, (const float *)h->data, NULL, 0, gp, gb, shp, scp, pb,
                                         (float *)y->data, C, N, rows_per_group, eps);
    if (done) {
        WM_CUDA_LAUNCHED(be);
        return WM_OK;
    }
    if (x->dtype == WM_BF16) {
        if (U == 1) gadd_ln_reg_kernel<bf16, 1><<<(unsigned)N, rt, 0, s>>>((bf16 *)x->data, (const bf16 *)h->data, gp, gb, shp, scp, pb, (bf16 *)y->data, C, rows_per_group, eps);
        else gadd_ln_reg_kernel<bf16, 2><<<(unsigned)N, rt, 0, s>>>((bf16 *)x->data, (const bf16 *)h->data, gp, gb, shp, scp, pb, (bf16 *)y->data, C, rows_per_group, eps);
    } else {
        if (U == 1) gadd_ln_reg_kernel<float, 1><<<(unsigned)N, rt, 0, s>>>((float *)x->data, (const float *)h->data, gp, gb, shp, scp, pb, (float *)y->data, C, rows_per_group, eps);
        else gadd_ln_reg_kernel<float, 2><<<(unsigned)N, rt, 0, s>>>((float *)x->data, (const float *)h->data, gp, gb, shp, scp, pb, (float *)y->data, C, rows_per_group, eps);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
