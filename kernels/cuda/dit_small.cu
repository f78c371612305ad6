/* Small DiT ops on CUDA (kernels/ops_dit.def): timestep embedding, adaLN tables, transpose, frame mean,
 * GDN gates, head renorm, CFG combine, per-frame Euler axpy.
 *
 * These touch at most one activation tensor once, so they are written for clarity: one thread per
 * output element (or a block reduction where a sum is needed), with every tensor read through
 * gld()/gst(), which branch on a grid-uniform bf16 flag instead of multiplying template instances
 * (CI compiles on 2 cores). Math in fp32; transcendental gate math uses the precise expf/log1pf, since
 * g = exp(-exp(A_log) softplus(.)) feeds a long product over frames.
 */
#include "cuda_common.cuh"
#include "kernels/dit_shapes.h"

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
#define GRID(n) wm_grid1d((n), 256, 65535), 256, 0, wm__cuda_stream(be)
#define FOR_I(n) for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void timestep_kernel(const void *t, int tb, void *o, int ob, int64_t T, int64_t dim)
{
    int64_t half = dim / 2;
    FOR_I(T * half) {
        int64_t f = i / half, k = i % half;
        double tt = (double)(int64_t)gld(t, tb, f); /* torch .long(): truncation toward zero */
        double arg = tt * exp(-log(10000.0) * (double)k / (double)half);
        gst(o, ob, f * dim + k, (float)cos(arg));
        gst(o, ob, f * dim + half + k, (float)sin(arg));
    }
}

extern "C" wm_status wm_dit_timestep_embed_cuda(wm_backend *be, const wm_tensor *t, wm_tensor *out)
{
    WM_CUDA_FLOAT(be, t);
    WM_CUDA_FLOAT(be, out);
    int64_t T = wm_tensor_numel(t), dim = wm_tensor_cols(out);
    WM_OP_CHECK(be, wm_tensor_rows(out) == T && dim % 2 == 0, WM_ERR_SHAPE, "out must be (T, even dim)");
    if (T == 0) return WM_OK;
    timestep_kernel<<<GRID(T * dim / 2)>>>(t->data, BF(t), out->data, BF(out), T, dim);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

__global__ void adaln_kernel(const void *t, int tb, const void *sst, int sb, void *o, int ob, int64_t K, int64_t T,
                             int64_t C, int64_t tc)
{
    FOR_I(K * T * C) {
        int64_t k = i / (T * C), f = (i / C) % T, c = i % C;
        gst(o, ob, i, gld(sst, sb, k * C + c) + gld(t, tb, f * tc + (tc == C ? 0 : k * C) + c));
    }
}

extern "C" wm_status wm_dit_adaln_table_cuda(wm_backend *be, const wm_tensor *t, const wm_tensor *sst, wm_tensor *out)
{
    WM_CUDA_FLOAT(be, t);
    WM_CUDA_FLOAT(be, sst);
    WM_CUDA_FLOAT(be, out);
    int64_t K = wm_tensor_rows(sst), C = wm_tensor_cols(sst), T = wm_tensor_rows(t), tc = wm_tensor_cols(t);
    WM_OP_CHECK(be, tc == K * C || tc == C, WM_ERR_SHAPE, "t must be (T, K*C) or (T, C)");
    WM_OP_CHECK(be, wm_tensor_numel(out) == K * T * C, WM_ERR_SHAPE, "out must be (K, T, C)");
    if (K * T * C == 0) return WM_OK;
    adaln_kernel<<<GRID(K * T * C)>>>(t->data, BF(t), sst->data, BF(sst), out->data, BF(out), K, T, C, tc);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* 32x32 tiles through shared memory so both the read and the write are coalesced. */
__global__ void transpose_kernel(const void *x, int xb, void *y, int yb, int64_t R, int64_t C)
{
    __shared__ float tile[32][33];
    int64_t c0 = (int64_t)blockIdx.x * 32, r0 = (int64_t)blockIdx.y * 32;
    for (int j = threadIdx.y; j < 32; j += blockDim.y) {
        int64_t r = r0 + j, c = c0 + threadIdx.x;
        if (r < R && c < C) tile[j][threadIdx.x] = gld(x, xb, r * C + c);
    }
    __syncthreads();
    for (int j = threadIdx.y; j < 32; j += blockDim.y) {
        int64_t c = c0 + j, r = r0 + threadIdx.x;
        if (r < R && c < C) gst(y, yb, c * R + r, tile[threadIdx.x][j]);
    }
}

extern "C" wm_status wm_transpose2d_cuda(wm_backend *be, const wm_tensor *x, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    WM_OP_CHECK(be, wm_tensor_numel(x) == wm_tensor_numel(y), WM_ERR_SHAPE, "y must have x's element count");
    WM_OP_CHECK(be, x->data != y->data, WM_ERR_INVALID_ARG, "y may not alias x");
    int64_t R = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, (R + 31) / 32 < 65536, WM_ERR_LIMIT, "more than 2M rows");
    if (R * C == 0) return WM_OK;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)((R + 31) / 32)), blk(32, 8);
    transpose_kernel<<<grid, blk, 0, wm__cuda_stream(be)>>>(x->data, BF(x), y->data, BF(y), R, C);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* Block = 32 channels x 32 token lanes; each lane sums a strided share of the frame's S tokens. */
#define FM_LANES 32
__global__ void frame_mean_kernel(const void *x, int xb, void *y, int yb, int64_t S, int64_t C)
{
    __shared__ float part[FM_LANES][33];
    int64_t f = blockIdx.y, c = (int64_t)blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < C)
        for (int64_t t = threadIdx.y; t < S; t += FM_LANES) s += gld(x, xb, (f * S + t) * C + c);
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int k = 1; k < FM_LANES; k++) s += part[k][threadIdx.x];
        gst(y, yb, f * C + c, s / (float)S);
    }
}

extern "C" wm_status wm_frame_mean_cuda(wm_backend *be, const wm_tensor *x, int n_frames, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x);
    WM_OP_CHECK(be, n_frames > 0 && N % n_frames == 0, WM_ERR_SHAPE, "tokens must split into n_frames");
    WM_OP_CHECK(be, wm_tensor_numel(y) == (int64_t)n_frames * C, WM_ERR_SHAPE, "y must be (T, C)");
    if (N * C == 0) return WM_OK;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)n_frames), blk(32, FM_LANES);
    frame_mean_kernel<<<grid, blk, 0, wm__cuda_stream(be)>>>(x->data, BF(x), y->data, BF(y), N / n_frames, C);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

__global__ void gates_kernel(void *beta, int bb, int64_t nb, const void *a, int ab, const void *al, int lb,
                             const void *db, int dbb, void *g, int gb, int64_t TH, int64_t H)
{
    FOR_I(nb) gst(beta, bb, i, 1.0f / (1.0f + expf(-gld(beta, bb, i))));
    FOR_I(TH) {
        int64_t h = i % H;
        float z = gld(a, ab, i) + gld(db, dbb, h);
        float sp = log1pf(expf(-fabsf(z))) + fmaxf(z, 0.0f);
        gst(g, gb, i, expf(-expf(gld(al, lb, h)) * sp));
    }
}

extern "C" wm_status wm_gdn_gates_cuda(wm_backend *be, wm_tensor *beta, const wm_tensor *a, const wm_tensor *A_log,
                                       const wm_tensor *dt_bias, wm_tensor *g)
{
    WM_CUDA_FLOAT(be, beta);
    WM_CUDA_FLOAT(be, a);
    WM_CUDA_FLOAT(be, A_log);
    WM_CUDA_FLOAT(be, dt_bias);
    WM_CUDA_FLOAT(be, g);
    int64_t H = wm_tensor_cols(a), T = wm_tensor_rows(a);
    WM_TRY(wm_gdn_gates_shape(be, beta, a, A_log, dt_bias, g));
    int64_t nb = wm_tensor_numel(beta);
    if (nb + T * H == 0) return WM_OK;
    gates_kernel<<<GRID(nb > T * H ? nb : T * H)>>>(beta->data, BF(beta), nb, a->data, BF(a), A_log->data, BF(A_log),
                                                     dt_bias->data, BF(dt_bias), g->data, BF(g), T * H, H);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* One warp per (token, head): both sums of squares, then the scaled copy. */
__global__ void head_renorm_kernel(const void *a, const void *b, void *y, int bf, int64_t NH, int64_t D, float eps)
{
    int64_t w = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (w >= NH) return;
    int64_t o = w * D;
    float sa = 0.0f, sb = 0.0f;
    for (int64_t d = lane; d < D; d += 32) {
        float u = gld(a, bf, o + d), v = gld(b, bf, o + d);
        sa += u * u;
        sb += v * v;
    }
    for (int k = 16; k > 0; k >>= 1) {
        sa += __shfl_xor_sync(0xffffffffu, sa, k);
        sb += __shfl_xor_sync(0xffffffffu, sb, k);
    }
    float r = sqrtf(sa / D + eps) / sqrtf(sb / D + eps), s = fminf(r, 1.0f);
    for (int64_t d = lane; d < D; d += 32) gst(y, bf, o + d, gld(b, bf, o + d) * s);
}

extern "C" wm_status wm_head_renorm_cuda(wm_backend *be, const wm_tensor *pre, const wm_tensor *post, int n_heads,
                                         float eps, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, pre);
    WM_CUDA_FLOAT(be, post);
    WM_CUDA_FLOAT(be, y);
    int64_t N = wm_tensor_rows(pre), C = wm_tensor_cols(pre);
    WM_OP_CHECK(be, n_heads > 0 && C % n_heads == 0, WM_ERR_SHAPE, "channels must split into n_heads");
    WM_OP_CHECK(be, wm_tensor_same_shape(pre, post) && wm_tensor_numel(y) == N * C, WM_ERR_SHAPE,
                "pre, post, y must have one shape");
    WM_OP_CHECK(be, pre->dtype == post->dtype && post->dtype == y->dtype, WM_ERR_DTYPE, "one dtype for all");
    int64_t NH = N * n_heads;
    if (NH == 0) return WM_OK;
    head_renorm_kernel<<<(unsigned)((NH * 32 + 255) / 256), 256, 0, wm__cuda_stream(be)>>>(
        pre->data, post->data, y->data, BF(y), NH, C / n_heads, eps);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

__global__ void cfg_kernel(const void *a, int ab, const void *b, int bb, float scale, void *o, int obf, int64_t n)
{
    FOR_I(n) {
        float u = gld(a, ab, i);
        gst(o, obf, i, u + scale * (gld(b, bb, i) - u));
    }
}

extern "C" wm_status wm_cfg_combine_cuda(wm_backend *be, const wm_tensor *vu, const wm_tensor *vc, float scale,
                                         wm_tensor *v)
{
    WM_CUDA_FLOAT(be, vu);
    WM_CUDA_FLOAT(be, vc);
    WM_CUDA_FLOAT(be, v);
    int64_t n = wm_tensor_numel(vu);
    WM_OP_CHECK(be, wm_tensor_numel(vc) == n && wm_tensor_numel(v) == n, WM_ERR_SHAPE, "vu, vc, v must match");
    if (n == 0) return WM_OK;
    cfg_kernel<<<GRID(n)>>>(vu->data, BF(vu), vc->data, BF(vc), scale, v->data, BF(v), n);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

__global__ void axpy_kernel(void *x, int xb, const void *v, int vb, const void *dt, int db, int64_t n, int64_t T,
                            int64_t S)
{
    FOR_I(n) {
        float a = gld(dt, db, (i / S) % T);
        if (a != 0.0f) gst(x, xb, i, gld(x, xb, i) + a * gld(v, vb, i));
    }
}

extern "C" wm_status wm_frame_axpy_cuda(wm_backend *be, wm_tensor *x, const wm_tensor *v, const wm_tensor *dt)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, v);
    WM_CUDA_FLOAT(be, dt);
    WM_OP_CHECK(be, x->ndim == 3 && wm_tensor_same_shape(x, v), WM_ERR_SHAPE, "x, v must be (Ch, T, S)");
    int64_t T = x->shape[1], S = x->shape[2], n = wm_tensor_numel(x);
    WM_OP_CHECK(be, wm_tensor_numel(dt) == T, WM_ERR_SHAPE, "dt must have T elements");
    if (n == 0) return WM_OK;
    axpy_kernel<<<GRID(n)>>>(x->data, BF(x), v->data, BF(v), dt->data, BF(dt), n, T, S);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
