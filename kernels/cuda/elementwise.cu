/* Elementwise ops on CUDA: activate (in place), gated_add (x += gate[g] * h), mul (y = a * b) and convert
 * (dtype copy between fp32, bf16 and fp16).
 *
 * All are pure bandwidth: grid-stride loops over 8-element vectors (16-byte bf16 accesses) when the
 * row length and pointers allow, scalar otherwise. The grid is capped at a few waves of the GPU so
 * each thread handles several vectors and the launch stays cheap. Arithmetic is fp32 on loaded values;
 * results are rounded once on store.
 */
#include "vec.cuh"

#define EW_THREADS 256
#define EW_MAX_BLOCKS 4096

template <typename T, int VEC> __global__ void activate_kernel(T *x, int64_t n, wm_act act)
{
    float v[VEC];
    for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC; i < n;
         i += (int64_t)gridDim.x * blockDim.x * VEC) {
        vld<VEC>(x, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) v[j] = wm_act_dev(act, v[j]);
        vst<VEC>(x, i, v);
    }
}

template <typename TX, typename TH, int VEC>
__global__ void gated_add_kernel(TX *x, const TH *h, const void *gate, int g_bf16, int64_t n, int64_t C, int64_t rpg)
{
    float a[VEC], b[VEC];
    for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC; i < n;
         i += (int64_t)gridDim.x * blockDim.x * VEC) {
        vld<VEC>(x, i, a);
        vld<VEC>(h, i, b);
        if (gate) {
            int64_t r = i / C, c = i - r * C, gi = (r / rpg) * C + c;
#pragma unroll
            for (int j = 0; j < VEC; j++) a[j] += wm_ldp(gate, g_bf16, gi + j) * b[j];
        } else {
#pragma unroll
            for (int j = 0; j < VEC; j++) a[j] += b[j];
        }
        vst<VEC>(x, i, a);
    }
}

template <typename TA, typename TY, int VEC> __global__ void mul_kernel(const TA *a, const TA *b, TY *y, int64_t n)
{
    float u[VEC], v[VEC];
    for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC; i < n;
         i += (int64_t)gridDim.x * blockDim.x * VEC) {
        vld<VEC>(a, i, u);
        vld<VEC>(b, i, v);
#pragma unroll
        for (int j = 0; j < VEC; j++) u[j] *= v[j];
        vst<VEC>(y, i, u);
    }
}

__device__ __forceinline__ float ld_any(const void *p, int t, int64_t i)
{
    if (t == WM_BF16) return __bfloat162float(((const bf16 *)p)[i]);
    if (t == WM_F16) return __half2float(((const __half *)p)[i]);
    return ((const float *)p)[i];
}

__global__ void convert_kernel(const void *src, int st, void *dst, int dt, int64_t n)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = ld_any(src, st, i);
        if (dt == WM_BF16) ((bf16 *)dst)[i] = __float2bfloat16(v);
        else if (dt == WM_F16) ((__half *)dst)[i] = __float2half(v);
        else ((float *)dst)[i] = v;
    }
}

template <typename T, int VEC>
__global__ void bias_act_kernel(T *y, const void *bias, int b_bf16, int64_t n, int64_t M, wm_act act)
{
    float v[VEC];
    for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC; i < n;
         i += (int64_t)gridDim.x * blockDim.x * VEC) {
        vld<VEC>(y, i, v);
        int64_t c = i % M;
#pragma unroll
        for (int j = 0; j < VEC; j++) v[j] = wm_act_dev(act, v[j] + wm_ldp(bias, b_bf16, c + j));
        vst<VEC>(y, i, v);
    }
}

static unsigned ew_grid(int64_t n, int vec) { return wm_grid1d((n + vec - 1) / vec, EW_THREADS, EW_MAX_BLOCKS); }

extern "C" wm_status wm_activate_cuda(wm_backend *be, wm_tensor *x, wm_act act)
{
    WM_CUDA_FLOAT(be, x);
    int64_t n = wm_tensor_numel(x);
    if (n == 0 || act == WM_ACT_NONE) return WM_OK;
    int v8 = wm_vec8_ok(n, x->data, NULL, NULL);
    cudaStream_t s = wm__cuda_stream(be);
    if (x->dtype == WM_BF16) {
        if (v8) activate_kernel<bf16, 8><<<ew_grid(n, 8), EW_THREADS, 0, s>>>((bf16 *)x->data, n, act);
        else activate_kernel<bf16, 1><<<ew_grid(n, 1), EW_THREADS, 0, s>>>((bf16 *)x->data, n, act);
    } else {
        if (v8) activate_kernel<float, 8><<<ew_grid(n, 8), EW_THREADS, 0, s>>>((float *)x->data, n, act);
        else activate_kernel<float, 1><<<ew_grid(n, 1), EW_THREADS, 0, s>>>((float *)x->data, n, act);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

#define GADD_LAUNCH(TX, TH)                                                                        \
    do {                                                                                           \
        if (v8) gated_add_kernel<TX, TH, 8><<<ew_grid(n, 8), EW_THREADS, 0, s>>>(                  \
            (TX *)x->data, (const TH *)h->data, gp, gb, n, C, rpg);                                \
        else gated_add_kernel<TX, TH, 1><<<ew_grid(n, 1), EW_THREADS, 0, s>>>(                     \
            (TX *)x->data, (const TH *)h->data, gp, gb, n, C, rpg);                                \
    } while (0)

extern "C" wm_status wm_gated_add_cuda(wm_backend *be, wm_tensor *x, const wm_tensor *h, const wm_tensor *gate,
                                       int64_t rows_per_group)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, h);
    int64_t N = wm_tensor_rows(x), C = wm_tensor_cols(x), n = N * C;
    WM_OP_CHECK(be, wm_tensor_numel(h) == n, WM_ERR_SHAPE, "h must have x's shape");
    if (gate) {
        WM_CUDA_FLOAT(be, gate);
        WM_OP_CHECK(be, rows_per_group > 0, WM_ERR_INVALID_ARG, "rows_per_group must be > 0");
        WM_OP_CHECK(be, wm_tensor_numel(gate) >= ((N + rows_per_group - 1) / rows_per_group) * C, WM_ERR_SHAPE,
                    "gate must be (G, C)");
    }
    if (n == 0) return WM_OK;
    const void *gp = gate ? gate->data : NULL;
    int gb = gate && gate->dtype == WM_BF16;
    int64_t rpg = rows_per_group > 0 ? rows_per_group : 1;
    int v8 = wm_vec8_ok(C, x->data, h->data, NULL);
    cudaStream_t s = wm__cuda_stream(be);
    if (x->dtype == WM_BF16 && h->dtype == WM_BF16) GADD_LAUNCH(bf16, bf16);
    else if (x->dtype == WM_BF16) GADD_LAUNCH(bf16, float);
    else if (h->dtype == WM_BF16) GADD_LAUNCH(float, bf16);
    else GADD_LAUNCH(float, float);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

#define MUL_LAUNCH(TA, TY)                                                                         \
    do {                                                                                           \
        if (v8) mul_kernel<TA, TY, 8><<<ew_grid(n, 8), EW_THREADS, 0, s>>>(                        \
            (const TA *)a->data, (const TA *)b->data, (TY *)y->data, n);                           \
        else mul_kernel<TA, TY, 1><<<ew_grid(n, 1), EW_THREADS, 0, s>>>(                           \
            (const TA *)a->data, (const TA *)b->data, (TY *)y->data, n);                           \
    } while (0)

extern "C" wm_status wm_mul_cuda(wm_backend *be, const wm_tensor *a, const wm_tensor *b, wm_tensor *y)
{
    WM_CUDA_FLOAT(be, a);
    WM_CUDA_FLOAT(be, b);
    WM_CUDA_FLOAT(be, y);
    int64_t n = wm_tensor_numel(a);
    WM_OP_CHECK(be, wm_tensor_numel(b) == n && wm_tensor_numel(y) == n, WM_ERR_SHAPE,
                "a, b and y must have the same number of elements");
    WM_OP_CHECK(be, a->dtype == b->dtype, WM_ERR_DTYPE, "a and b must have the same dtype");
    WM_OP_CHECK(be, (y->data != a->data && y->data != b->data) || y->dtype == a->dtype, WM_ERR_DTYPE,
                "in-place needs y of the inputs' dtype");
    if (n == 0) return WM_OK;
    int v8 = wm_vec8_ok(n, a->data, b->data, y->data);
    cudaStream_t s = wm__cuda_stream(be);
    if (a->dtype == WM_BF16 && y->dtype == WM_BF16) MUL_LAUNCH(bf16, bf16);
    else if (a->dtype == WM_BF16) MUL_LAUNCH(bf16, float);
    else if (y->dtype == WM_BF16) MUL_LAUNCH(float, bf16);
    else MUL_LAUNCH(float, float);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm_convert_cuda(wm_backend *be, const wm_tensor *src, wm_tensor *dst)
{
    WM_CUDA_DEV(be, src);
    WM_CUDA_DEV(be, dst);
    int64_t n = wm_tensor_numel(src);
    WM_OP_CHECK(be, wm_tensor_numel(dst) == n, WM_ERR_SHAPE, "numel must match");
    int sok = src->dtype == WM_F32 || src->dtype == WM_BF16 || src->dtype == WM_F16;
    int dok = dst->dtype == WM_F32 || dst->dtype == WM_BF16 || dst->dtype == WM_F16;
    WM_OP_CHECK(be, sok && dok, WM_ERR_DTYPE, "convert supports fp32, bf16 and fp16");
    if (n == 0) return WM_OK;
    cudaStream_t s = wm__cuda_stream(be);
    if (src->dtype == dst->dtype) {
        if (src->data != dst->data)
            WM_CUDA_TRY(be, cudaMemcpyAsync(dst->data, src->data, wm_tensor_nbytes(src), cudaMemcpyDeviceToDevice, s));
        return WM_OK;
    }
    WM_OP_CHECK(be, src->data != dst->data, WM_ERR_INVALID_ARG, "convert cannot change dtype in place");
    convert_kernel<<<ew_grid(n, 1), EW_THREADS, 0, s>>>(src->data, src->dtype, dst->data, dst->dtype, n);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm__cuda_bias_act(wm_backend *be, wm_tensor *y, const wm_tensor *bias, wm_act act)
{
    int64_t n = wm_tensor_numel(y), M = wm_tensor_cols(y);
    if (n == 0) return WM_OK;
    int v8 = wm_vec8_ok(M, y->data, NULL, NULL), bb = bias->dtype == WM_BF16;
    cudaStream_t s = wm__cuda_stream(be);
    if (y->dtype == WM_BF16) {
        if (v8) bias_act_kernel<bf16, 8><<<ew_grid(n, 8), EW_THREADS, 0, s>>>((bf16 *)y->data, bias->data, bb, n, M, act);
        else bias_act_kernel<bf16, 1><<<ew_grid(n, 1), EW_THREADS, 0, s>>>((bf16 *)y->data, bias->data, bb, n, M, act);
    } else {
        if (v8) bias_act_kernel<float, 8><<<ew_grid(n, 8), EW_THREADS, 0, s>>>((float *)y->data, bias->data, bb, n, M, act);
        else bias_act_kernel<float, 1><<<ew_grid(n, 1), EW_THREADS, 0, s>>>((float *)y->data, bias->data, bb, n, M, act);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
