/* VAE data-movement and per-channel ops on CUDA (kernels/ops_vae.def, everything but vae_conv3d):
 * cache push, channel RMSNorm + SiLU, depth-to-space, space-to-depth with group mean, frame padding,
 * channel affine, uint8 conversion.
 *
 * All are memory bound and touch each element once, so they are written as one thread per OUTPUT
 * element with a grid-stride loop: consecutive threads write consecutive addresses of the row-major
 * output (coalesced stores, no write conflicts) and gather their source by the same index map as the
 * CPU reference. Tensors are read through gld()/gst(), which branch on a grid-uniform bf16 flag rather
 * than multiplying template instances (CI compiles on 2 cores). Arithmetic is fp32.
 * RMSNorm reduces over the slow channel axis: 8 threads share one position (channel groups), each a
 * coalesced row read across the warp per channel step, partial sums meet in shared memory (C <= 128 read
 * once from registers; wider layers read twice).
 * vae_cache_push runs in two stream-ordered phases: old frames that survive move to the front with
 * cudaMemcpy2DAsync (frame by frame in ascending order when source and destination overlap), or a
 * fresh cache's front is filled with x's frame 0 (a kernel); then x's newest frames are copied behind
 * them with one more cudaMemcpy2DAsync (C rows; x and the cache never overlap). No kernel reads what
 * another thread of it writes. depth_to_space writes 8 outputs per thread (d2s_vec_kernel) where the
 * width allows, else one block per output row (d2s_row_kernel).
 */
#include "vec.cuh" /* first: it brings the C headers in extern "C" (cuda_common.cuh) */
#include "kernels/vae_shapes.h"

__device__ __forceinline__ float gld(const void *p, int bf, int64_t i)
{
    return bf ? __bfloat162float(((const bf16 *)p)[i]) : ((const float *)p)[i];
}
__device__ __forceinline__ void gst(void *p, int bf, int64_t i, float v)
{
    if (bf) ((bf16 *)p)[i] = __float2bfloat16(v);
    else ((float *)p)[i] = v;
}
#define BF(t) ((t)->dtype == WM_BF16)
#define GRID(n) wm_grid1d((n), 256, 1 << 20), 256, 0, wm__cuda_stream(be)
#define FOR_I(n)                                                                                   \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* ---- rmsnorm over channels ---- */

/* Block (32, 8): 32 positions x 8 channel groups. Each thread sums the squares of channels ty, ty+8, ...
 * of its position (the first 16 kept in registers, so C <= 128 reads x once), the 8 partial sums meet in
 * shared memory, then every thread scales its channels. 8x the loads in flight of one thread per
 * position walking all C rows; reads stay coalesced (32 consecutive positions of one channel). In place
 * is safe: each element is read and written by the same thread. */
__global__ void __launch_bounds__(256) vae_rms_kernel(const void *x, int xb, void *y, int yb, int64_t C, int64_t P,
                                                      float eps, int silu)
{
    __shared__ float red[8][33];
    __shared__ float invs[32];
    int tx = threadIdx.x, ty = threadIdx.y;
    for (int64_t p0 = (int64_t)blockIdx.x * 32; p0 < P; p0 += (int64_t)gridDim.x * 32) {
        int64_t p = p0 + tx;
        bool ok = p < P;
        float v[16], ss = 0.0f;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            int64_t c = ty + 8 * j;
            v[j] = ok && c < C ? gld(x, xb, c * P + p) : 0.0f;
            ss += v[j] * v[j];
        }
        for (int64_t c = ty + 128; c < C; c += 8) {
            float u = ok ? gld(x, xb, c * P + p) : 0.0f;
            ss += u * u;
        }
        red[ty][tx] = ss;
        __syncthreads();
        if (ty == 0) {
            float t = 0.0f;
#pragma unroll
            for (int k = 0; k < 8; k++) t += red[k][tx];
            invs[tx] = 1.0f / sqrtf(t / (float)C + eps);
        }
        __syncthreads();
        float inv = invs[tx];
        if (ok) {
#pragma unroll
            for (int j = 0; j < 16; j++) {
                int64_t c = ty + 8 * j;
                if (c >= C) break;
                float u = v[j] * inv;
                gst(y, yb, c * P + p, silu ? u / (1.0f + expf(-u)) : u);
            }
            for (int64_t c = ty + 128; c < C; c += 8) {
                float u = gld(x, xb, c * P + p) * inv;
                gst(y, yb, c * P + p, silu ? u / (1.0f + expf(-u)) : u);
            }
        }
        __syncthreads(); /* red/invs are reused by the next positions */
    }
}

/* The same norm with 8 consecutive positions per thread (default when P % 8 == 0, x and y one dtype,
 * 16-byte aligned): block (32, 8) covers 256 positions x 8 channel groups, every load and store is 16 bytes
 * (the kernel above moves 2-byte elements, 64 bytes per warp request: 5.1 ms per decoded chunk on the
 * H100). The first 16 channels of each group stay raw in registers (C <= 128 reads x once). Partial sums
 * live in shared memory at [group][k * 32 + lane] (position lane * 8 + k): conflict-free. */
template <typename T>
__global__ void __launch_bounds__(256) vae_rms_vec_kernel(const T *x, T *y, int64_t C, int64_t P, float eps, int silu)
{
    __shared__ float red[8][256];
    __shared__ float invs[256];
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (int64_t p0 = (int64_t)blockIdx.x * 256; p0 < P; p0 += (int64_t)gridDim.x * 256) {
        const int64_t p = p0 + tx * 8;
        const bool ok = p < P; /* P % 8 == 0: a vector is wholly inside or outside */
        raw8<T> v[16];
        float ss[8];
#pragma unroll
        for (int k = 0; k < 8; k++) ss[k] = 0.0f;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int64_t c = ty + 8 * j;
            if (ok && c < C) ld_raw8(x, c * P + p, v[j]);
        }
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int64_t c = ty + 8 * j;
            if (!ok || c >= C) break;
            float u[8];
            cvt_raw8(v[j], u);
#pragma unroll
            for (int k = 0; k < 8; k++) ss[k] += u[k] * u[k];
        }
        for (int64_t c = ty + 128; ok && c < C; c += 8) {
            float u[8];
            vld<8>(x, c * P + p, u);
#pragma unroll
            for (int k = 0; k < 8; k++) ss[k] += u[k] * u[k];
        }
#pragma unroll
        for (int k = 0; k < 8; k++) red[ty][k * 32 + tx] = ss[k];
        __syncthreads();
        {
            const int q = ty * 32 + tx; /* 256 threads finish the 256 positions: slot q */
            float t = 0.0f;
#pragma unroll
            for (int g = 0; g < 8; g++) t += red[g][q];
            invs[q] = 1.0f / sqrtf(t / (float)C + eps);
        }
        __syncthreads();
        float inv[8];
#pragma unroll
        for (int k = 0; k < 8; k++) inv[k] = invs[k * 32 + tx];
        if (ok) {
#pragma unroll
            for (int j = 0; j < 16; j++) {
                const int64_t c = ty + 8 * j;
                if (c >= C) break;
                float u[8];
                cvt_raw8(v[j], u);
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    const float w = u[k] * inv[k];
                    u[k] = silu ? w / (1.0f + expf(-w)) : w;
                }
                vst<8>(y, c * P + p, u);
            }
            for (int64_t c = ty + 128; c < C; c += 8) {
                float u[8];
                vld<8>(x, c * P + p, u);
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    const float w = u[k] * inv[k];
                    u[k] = silu ? w / (1.0f + expf(-w)) : w;
                }
                vst<8>(y, c * P + p, u);
            }
        }
        __syncthreads(); /* red/invs are reused by the next positions */
    }
}

extern "C" wm_status wm_vae_rmsnorm_silu_cuda(wm_backend *be, const wm_tensor *x, float eps, int silu, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    WM_OP_CHECK(be, x->ndim >= 2 && wm_tensor_same_shape(x, y), WM_ERR_SHAPE, "x, y must be (C, ...) alike");
    WM_OP_CHECK(be, x->data != y->data || x->dtype == y->dtype, WM_ERR_DTYPE, "in-place needs x and y of one dtype");
    int64_t C = x->shape[0], P = wm_tensor_numel(x) / C;
    if (P == 0) return WM_OK;
    if (P % 8 == 0 && x->dtype == y->dtype && wm_aligned16(x->data, y->data, NULL, NULL)) {
        const unsigned grid = wm_grid1d((P + 255) / 256, 1, 1 << 20);
        if (BF(x)) vae_rms_vec_kernel<bf16><<<grid, dim3(32, 8), 0, wm__cuda_stream(be)>>>((const bf16 *)x->data, (bf16 *)y->data, C, P, eps, silu);
        else vae_rms_vec_kernel<float><<<grid, dim3(32, 8), 0, wm__cuda_stream(be)>>>((const float *)x->data, (float *)y->data, C, P, eps, silu);
        WM_CUDA_LAUNCHED(be);
        return WM_OK;
    }
    vae_rms_kernel<<<wm_grid1d((P + 31) / 32, 1, 1 << 20), dim3(32, 8), 0, wm__cuda_stream(be)>>>(x->data, BF(x), y->data,
                                                                                              BF(y), C, P, eps, silu);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---- channel affine ---- */

__global__ void vae_affine_kernel(const void *x, int xb, const void *mul, const void *add, int pb, void *y, int yb,
                                  int64_t n, int64_t P)
{
    FOR_I(n) {
        int64_t c = i / P;
        float m = mul ? wm_ldp(mul, pb, c) : 1.0f, a = add ? wm_ldp(add, pb, c) : 0.0f;
        gst(y, yb, i, gld(x, xb, i) * m + a);
    }
}

extern "C" wm_status wm_vae_channel_affine_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *mul,
                                                const wm_tensor *add, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    WM_OP_CHECK(be, x->ndim >= 1 && wm_tensor_same_shape(x, y), WM_ERR_SHAPE, "x, y must be (C, ...) alike");
    WM_OP_CHECK(be, x->data != y->data || x->dtype == y->dtype, WM_ERR_DTYPE, "in-place needs x and y of one dtype");
    int64_t C = x->shape[0], n = wm_tensor_numel(x);
    if (mul) {
        WM_CUDA_FLOAT(be, mul);
        WM_OP_CHECK(be, wm_tensor_numel(mul) == C, WM_ERR_SHAPE, "mul must have C elements");
    }
    if (add) {
        WM_CUDA_FLOAT(be, add);
        WM_OP_CHECK(be, wm_tensor_numel(add) == C, WM_ERR_SHAPE, "add must have C elements");
    }
    WM_OP_CHECK(be, !mul || !add || mul->dtype == add->dtype, WM_ERR_DTYPE, "mul and add must have one dtype");
    if (n == 0) return WM_OK;
    int pb = (mul && BF(mul)) || (add && BF(add));
    vae_affine_kernel<<<GRID(n)>>>(x->data, BF(x), mul ? mul->data : NULL, add ? add->data : NULL, pb, y->data, BF(y),
                                   n, n / C);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---- depth-to-space / space-to-depth ---- */

__device__ __forceinline__ int64_t sub_index(int64_t it, int64_t ih, int64_t iw, int64_t sh, int64_t sw, int w_major)
{
    return w_major ? (it * sw + iw) * sh + ih : (it * sh + ih) * sw + iw;
}

typedef struct {
    int64_t Cs, T, H, W, To, Ho, Wo, st, sh, sw, trim, group, n;
    int w_major, acc;
} shuf_args;

__global__ void d2s_kernel(const void *x, int xb, void *y, int yb, int64_t total, shuf_args s)
{
    FOR_I(total) {
        int64_t wo = i % s.Wo, r = i / s.Wo, ho = r % s.Ho;
        r /= s.Ho;
        int64_t to = r % s.To, cy = r / s.To, ch = cy % s.Cs;
        int64_t tf = to + s.trim, t = tf / s.st, it = tf % s.st;
        int64_t src = ch * s.n + sub_index(it, ho % s.sh, wo % s.sw, s.sh, s.sw, s.w_major);
        float v = gld(x, xb, ((src * s.T + t) * s.H + ho / s.sh) * s.W + wo / s.sw);
        gst(y, yb, i, s.acc ? gld(y, yb, i) + v : v);
    }
}

/* The same map, one block per output row (cy, to, ho) of y (Cy, To, Ho, Wo): the row is decoded once
 * (32-bit divisions), each element then costs one small division by sw. The per-element int64 divisions
 * of d2s_kernel made the decoder's upsamplers and the final unpatchify compute bound. */
__global__ void d2s_row_kernel(const void *x, int xb, void *y, int yb, int rows, shuf_args s)
{
    int Wo = (int)s.Wo, Ho = (int)s.Ho, To = (int)s.To, Cs = (int)s.Cs, sw = (int)s.sw, sh = (int)s.sh;
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        int ho = row % Ho, r = row / Ho, to = r % To, cy = r / To, ch = cy % Cs;
        int tf = to + (int)s.trim, t = tf / (int)s.st, it = tf - t * (int)s.st, h = ho / sh, ih = ho - h * sh;
        int64_t ybase = (int64_t)row * Wo, xrow = (int64_t)t * s.H + h;
        for (int wo = threadIdx.x; wo < Wo; wo += blockDim.x) {
            int w = wo / sw, iw = wo - w * sw;
            int64_t src = (int64_t)ch * s.n + sub_index(it, ih, iw, sh, sw, s.w_major);
            float v = gld(x, xb, (src * s.T * s.H + xrow) * s.W + w);
            gst(y, yb, ybase + wo, s.acc ? gld(y, yb, ybase + wo) + v : v);
        }
    }
}

/* 8 consecutive outputs per thread (the default when Wo % 8 == 0, sw in {1, 2, 4}, 16-byte aligned
 * tensors): the row kernel above moved 2-byte elements one per thread and measured 4.6 ms per decoded
 * chunk on the H100 (the decoder's three upsamplers and the unpatchify move ~0.9 GB: ~0.3 ms of
 * bandwidth). Output wo0..wo0+7 of a row gathers 8/SW consecutive inputs from each of SW sub-channel
 * planes (one 2..16-byte load each), interleaves them, and stores one 16-byte vector (two for fp32). */
template <int BYTES> struct d2s_vt;
template <> struct d2s_vt<16> { typedef uint4 t; };
template <> struct d2s_vt<8> { typedef uint2 t; };
template <> struct d2s_vt<4> { typedef unsigned t; };
template <> struct d2s_vt<2> { typedef unsigned short t; };

__device__ __forceinline__ float d2s_f(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float d2s_f(float v) { return v; }

/* K consecutive elements of TX at p (aligned to their total size, at most 16 bytes per load). */
template <typename TX, int K> __device__ __forceinline__ void d2s_ldk(const TX *p, float *v)
{
    constexpr int B = K * (int)sizeof(TX), L = B > 16 ? 16 : B, E = L / (int)sizeof(TX);
#pragma unroll
    for (int h = 0; h < K / E; h++) {
        const typename d2s_vt<L>::t r = *(const typename d2s_vt<L>::t *)(p + h * E);
        const TX *e = (const TX *)&r;
#pragma unroll
        for (int k = 0; k < E; k++) v[h * E + k] = d2s_f(e[k]);
    }
}

template <typename TX, typename TY, int SW>
__global__ void d2s_vec_kernel(const TX *__restrict__ x, TY *__restrict__ y, int rows, shuf_args s)
{
    constexpr int K = 8 / SW;
    const int Wo = (int)s.Wo, V = Wo / 8, Ho = (int)s.Ho, To = (int)s.To, Cs = (int)s.Cs, sh = (int)s.sh;
    const int64_t nv = (int64_t)rows * V;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < nv; idx += (int64_t)gridDim.x * blockDim.x) {
        const int row = (int)(idx / V), v = (int)(idx - (int64_t)row * V);
        const int ho = row % Ho, r = row / Ho, to = r % To, cy = r / To, ch = cy % Cs;
        const int tf = to + (int)s.trim, t = tf / (int)s.st, it = tf - t * (int)s.st, h = ho / sh, ih = ho - h * sh;
        const int64_t xrow = (int64_t)t * s.H + h, w0 = (int64_t)v * K;
        float o[8];
#pragma unroll
        for (int iw = 0; iw < SW; iw++) {
            const int64_t src = (int64_t)ch * s.n + sub_index(it, ih, iw, sh, SW, s.w_major);
            float in[K];
            d2s_ldk<TX, K>(x + (src * s.T * s.H + xrow) * s.W + w0, in);
#pragma unroll
            for (int k = 0; k < K; k++) o[k * SW + iw] = in[k];
        }
        const int64_t yo = (int64_t)row * Wo + (int64_t)v * 8;
        if (s.acc) {
            float a[8];
            vld<8>(y, yo, a);
#pragma unroll
            for (int j = 0; j < 8; j++) o[j] += a[j];
        }
        vst<8>(y, yo, o);
    }
}

template <typename TX, typename TY>
static int d2s_vec(const void *x, void *y, int64_t rows, const shuf_args &s, cudaStream_t st)
{
    const int64_t nv = rows * (s.Wo / 8);
    const unsigned grid = wm_grid1d(nv, 256, 1 << 20);
    if (s.sw == 1) d2s_vec_kernel<TX, TY, 1><<<grid, 256, 0, st>>>((const TX *)x, (TY *)y, (int)rows, s);
    else if (s.sw == 2) d2s_vec_kernel<TX, TY, 2><<<grid, 256, 0, st>>>((const TX *)x, (TY *)y, (int)rows, s);
    else if (s.sw == 4) d2s_vec_kernel<TX, TY, 4><<<grid, 256, 0, st>>>((const TX *)x, (TY *)y, (int)rows, s);
    else return 0;
    return 1;
}

extern "C" wm_status wm_vae_depth_to_space_cuda(wm_backend *be, const wm_tensor *x, int st, int sh, int sw,
                                                int w_major, int trim, int accumulate, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    WM_TRY(wm_vae_depth_to_space_shape(be, x, st, sh, sw, trim, y));
    int64_t n = (int64_t)st * sh * sw, Cs = x->shape[0] / n, T = x->shape[1], H = x->shape[2], W = x->shape[3];
    shuf_args s = {Cs, T, H, W, T * st - trim, H * sh, W * sw, st, sh, sw, trim, 1, n, w_major, accumulate};
    int64_t total = wm_tensor_numel(y), rows = s.Cs == 0 ? 0 : y->shape[0] * s.To * s.Ho;
    if (total == 0) return WM_OK;
    cudaStream_t cs = wm__cuda_stream(be);
    if (s.Wo % 8 == 0 && rows < (1LL << 31) && s.Wo < (1LL << 30) && y->shape[0] < (1LL << 30) &&
        wm_aligned16(x->data, y->data, NULL, NULL)) {
        int done = BF(x) ? (BF(y) ? d2s_vec<bf16, bf16>(x->data, y->data, rows, s, cs) : d2s_vec<bf16, float>(x->data, y->data, rows, s, cs))
                         : (BF(y) ? d2s_vec<float, bf16>(x->data, y->data, rows, s, cs) : d2s_vec<float, float>(x->data, y->data, rows, s, cs));
        if (done) {
            WM_CUDA_LAUNCHED(be);
            return WM_OK;
        }
    }
    if (rows < (1LL << 31) && s.Wo < (1LL << 30) && y->shape[0] < (1LL << 30)) {
        int threads = s.Wo >= 256 ? 256 : (int)((s.Wo + 31) / 32 * 32);
        d2s_row_kernel<<<wm_grid1d(rows, 1, 1 << 20), threads, 0, wm__cuda_stream(be)>>>(x->data, BF(x), y->data, BF(y),
                                                                                         (int)rows, s);
    } else {
        d2s_kernel<<<GRID(total)>>>(x->data, BF(x), y->data, BF(y), total, s);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* Here T, H, W are the OUTPUT (coarse) sizes; x is (C, T*st, H*sh, W*sw). */
__global__ void s2d_kernel(const void *x, int xb, void *y, int yb, int64_t total, shuf_args s)
{
    int64_t Ti = s.T * s.st, Hi = s.H * s.sh, Wi = s.W * s.sw;
    float inv = 1.0f / (float)s.group;
    FOR_I(total) {
        int64_t w = i % s.W, r = i / s.W, h = r % s.H;
        r /= s.H;
        int64_t t = r % s.T, k = r / s.T;
        float acc = 0.0f;
        for (int64_t g = 0; g < s.group; g++) {
            int64_t cs = k * s.group + g, ch = cs / s.n, sub = cs % s.n, it, ih, iw;
            if (s.w_major) { it = sub / (s.sw * s.sh); iw = sub / s.sh % s.sw; ih = sub % s.sh; }
            else { it = sub / (s.sh * s.sw); ih = sub / s.sw % s.sh; iw = sub % s.sw; }
            acc += gld(x, xb, ((ch * Ti + t * s.st + it) * Hi + h * s.sh + ih) * Wi + w * s.sw + iw);
        }
        float v = s.group == 1 ? acc : acc * inv;
        gst(y, yb, i, s.acc ? gld(y, yb, i) + v : v);
    }
}

extern "C" wm_status wm_vae_space_to_depth_cuda(wm_backend *be, const wm_tensor *x, int st, int sh, int sw,
                                                int w_major, int group, int accumulate, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    WM_TRY(wm_vae_space_to_depth_shape(be, x, st, sh, sw, group, y));
    int64_t n = (int64_t)st * sh * sw, C = x->shape[0];
    shuf_args s = {C, y->shape[1], y->shape[2], y->shape[3], 0, 0, 0, st, sh, sw, 0, group, n, w_major, accumulate};
    int64_t total = wm_tensor_numel(y);
    if (total == 0) return WM_OK;
    s2d_kernel<<<GRID(total)>>>(x->data, BF(x), y->data, BF(y), total, s);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---- frame padding, cache push ---- */

/* y (C, Ty, HW) frame f of channel c = x (C, Tx, HW) frame max(f - n, 0): pad (n copies of frame 0). */
__global__ void pad_kernel(const void *x, int xb, void *y, int yb, int64_t total, int64_t Tx, int64_t Ty, int64_t HW,
                           int64_t n)
{
    FOR_I(total) {
        int64_t p = i % HW, r = i / HW, f = r % Ty, c = r / Ty, t = f - n < 0 ? 0 : f - n;
        gst(y, yb, i, gld(x, xb, (c * Tx + t) * HW + p));
    }
}

extern "C" wm_status wm_vae_pad_frames_cuda(wm_backend *be, const wm_tensor *x, int n, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    WM_OP_CHECK(be, x->ndim == 4 && y->ndim == 4 && n >= 0 && x->shape[1] >= 1, WM_ERR_SHAPE,
                "x, y must be (C,T,H,W), n >= 0");
    int64_t C = x->shape[0], T = x->shape[1], HW = x->shape[2] * x->shape[3];
    WM_OP_CHECK(be, y->shape[0] == C && y->shape[1] == T + n && y->shape[2] == x->shape[2] &&
                        y->shape[3] == x->shape[3],
                WM_ERR_SHAPE, "y must be (C,T+n,H,W)");
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    int64_t total = wm_tensor_numel(y);
    if (total == 0) return WM_OK;
    pad_kernel<<<GRID(total)>>>(x->data, BF(x), y->data, BF(y), total, T, T + n, HW, n);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* cache (C, n, HW) frames [0, keep) := x's frame 0 (fresh cache: n copies of frame 0, then shifted). */
__global__ void cache_fill_kernel(void *cd, const void *xd, int bf, int64_t total, int64_t n, int64_t T, int64_t HW,
                                  int64_t keep)
{
    FOR_I(total) {
        int64_t p = i % HW, r = i / HW, j = r % keep, c = r / keep;
        gst(cd, bf, (c * n + j) * HW + p, gld(xd, bf, c * T * HW + p));
    }
}

extern "C" wm_status wm_vae_cache_push_cuda(wm_backend *be, wm_tensor *cache, const wm_tensor *x, int fresh)
{
    WM_CUDA_FLOAT(be, cache);
    WM_CUDA_FLOAT(be, x);
    WM_OP_CHECK(be, cache->dtype == x->dtype, WM_ERR_DTYPE, "cache and x must have one dtype");
    WM_OP_CHECK(be, cache->ndim == 4 && x->ndim == 4 && x->shape[1] >= 1 && cache->shape[0] == x->shape[0] &&
                        cache->shape[2] == x->shape[2] && cache->shape[3] == x->shape[3],
                WM_ERR_SHAPE, "cache (C,n,H,W) and x (C,T,H,W) must agree on C, H, W");
    int64_t C = x->shape[0], T = x->shape[1], n = cache->shape[1], HW = x->shape[2] * x->shape[3];
    if (C == 0 || n == 0 || HW == 0) return WM_OK;
    int bf = BF(x);
    size_t es = bf ? 2 : 4;
    int64_t keep = T >= n ? 0 : n - T; /* old frames that stay, shifted to the front */
    cudaStream_t s = wm__cuda_stream(be);
    if (keep && fresh) {
        cache_fill_kernel<<<GRID(C * keep * HW)>>>(cache->data, x->data, bf, C * keep * HW, n, T, HW, keep);
        WM_CUDA_LAUNCHED(be);
    } else if (keep) { /* shift frames [n-keep, n) to [0, keep): rows of keep*HW, pitch n*HW; front <= back */
        size_t row = (size_t)(keep * HW) * es, pitch = (size_t)(n * HW) * es;
        char *base = (char *)cache->data;
        if ((n - keep) >= keep) { /* no overlap inside a channel's row */
            WM_CUDA_TRY(be, cudaMemcpy2DAsync(base, pitch, base + (size_t)((n - keep) * HW) * es, pitch, row,
                                              (size_t)C, cudaMemcpyDeviceToDevice, s));
        } else { /* overlapping: move frame by frame in ascending order (each copy reads a later frame) */
            for (int64_t j = 0; j < keep; j++)
                WM_CUDA_TRY(be, cudaMemcpy2DAsync(base + (size_t)(j * HW) * es, pitch,
                                                  base + (size_t)((n - keep + j) * HW) * es, pitch, (size_t)HW * es,
                                                  (size_t)C, cudaMemcpyDeviceToDevice, s));
        }
    }
    /* x's newest n - keep frames behind them: C rows of (n - keep)*HW elements, pitches n*HW and T*HW. */
    WM_CUDA_TRY(be, cudaMemcpy2DAsync((char *)cache->data + (size_t)(keep * HW) * es, (size_t)(n * HW) * es,
                                      (const char *)x->data + (size_t)((T - (n - keep)) * HW) * es, (size_t)(T * HW) * es,
                                      (size_t)((n - keep) * HW) * es, (size_t)C, cudaMemcpyDeviceToDevice, s));
    return WM_OK;
}

/* ---- uint8 ---- */

__global__ void u8_kernel(const void *x, int xb, uint8_t *y, int64_t C, int64_t P)
{
    FOR_I(C * P) { /* i indexes y (P, C) */
        int64_t c = i % C, p = i / C;
        float v = gld(x, xb, c * P + p) * 127.5f + 127.5f;
        v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
        y[i] = v == v ? (uint8_t)v : 0;
    }
}

/* y may be a device tensor, or a host tensor (display/recording): then the bytes go through a
 * stream-ordered temporary and the call returns when they have arrived. */
extern "C" wm_status wm_vae_to_uint8_cuda(wm_backend *be, const wm_tensor *x, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_OP_CHECK(be, y->dtype == WM_U8, WM_ERR_DTYPE, "y must be a U8 tensor");
    WM_OP_CHECK(be, x->ndim == 4 && y->ndim == 4 && y->shape[0] == x->shape[1] && y->shape[1] == x->shape[2] &&
                        y->shape[2] == x->shape[3] && y->shape[3] == x->shape[0],
                WM_ERR_SHAPE, "x (C,T,H,W) -> y (T,H,W,C)");
    int64_t C = x->shape[0], P = x->shape[1] * x->shape[2] * x->shape[3];
    if (C * P == 0) return WM_OK;
    cudaStream_t s = wm__cuda_stream(be);
    if (y->device == WM_DEVICE_CUDA) {
        u8_kernel<<<GRID(C * P)>>>(x->data, BF(x), (uint8_t *)y->data, C, P);
        WM_CUDA_LAUNCHED(be);
        return WM_OK;
    }
    void *tmp = NULL;
    WM_CUDA_TRY(be, cudaMallocAsync(&tmp, (size_t)(C * P), s));
    u8_kernel<<<GRID(C * P)>>>(x->data, BF(x), (uint8_t *)tmp, C, P);
    wm_status st = wm__cuda_launch_check(be, __func__);
    cudaError_t e = st == WM_OK ? cudaMemcpyAsync(y->data, tmp, (size_t)(C * P), cudaMemcpyDeviceToHost, s)
                                : cudaSuccess;
    cudaError_t e2 = cudaFreeAsync(tmp, s);
    if (st != WM_OK) return st;
    if (e != cudaSuccess) return wm__cuda_fail(be, __func__, "cudaMemcpyAsync", e);
    if (e2 != cudaSuccess) return wm__cuda_fail(be, __func__, "cudaFreeAsync", e2);
    WM_CUDA_TRY(be, cudaStreamSynchronize(s));
    return WM_OK;
}
