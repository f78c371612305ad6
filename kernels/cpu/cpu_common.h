/* Helpers shared by the CPU reference ops: fp32 pointer access with dtype checks, and a SIMD float
 * vector type from GCC/Clang vector extensions (8 lanes; the compiler lowers it to SSE or AVX, so the
 * build needs no -march flag and runs on any x86-64 or ARM host). */
#ifndef WM_KERNELS_CPU_COMMON_H
#define WM_KERNELS_CPU_COMMON_H

#include "kernels/ops.h"

#include <math.h>

typedef float wm_v8 __attribute__((vector_size(32)));

/* By pointer: passing a 32-byte vector by value changes the ABI between AVX and non-AVX builds
 * (clang -Wpsabi), which matters for nothing here but is noise in every build log. */
static inline float wm_v8_sum(const wm_v8 *v)
{
    return (((*v)[0] + (*v)[4]) + ((*v)[1] + (*v)[5])) + (((*v)[2] + (*v)[6]) + ((*v)[3] + (*v)[7]));
}

/* Dot product of two fp32 vectors of length n (any alignment). */
static inline float wm_dot_f32(const float *a, const float *b, int64_t n)
{
    wm_v8 acc0 = {0}, acc1 = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        wm_v8 a0, b0, a1, b1;
        __builtin_memcpy(&a0, a + i, 32); __builtin_memcpy(&b0, b + i, 32);
        __builtin_memcpy(&a1, a + i + 8, 32); __builtin_memcpy(&b1, b + i + 8, 32);
        acc0 += a0 * b0;
        acc1 += a1 * b1;
    }
    wm_v8 acc = acc0 + acc1;
    float s = wm_v8_sum(&acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static inline float wm_act_apply(wm_act act, float x)
{
    switch (act) {
    case WM_ACT_SILU: return x / (1.0f + expf(-x));
    case WM_ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case WM_ACT_RELU: return x > 0 ? x : 0;
    default: return x;
    }
}

/* The matmul loop (matmul.c): y = act(x . w^T + b), plus res(N, M) when res is not NULL (matmul_add). */
void wm__matmul_rows(wm_backend *be, const float *x, const float *w, const float *b, const float *res, float *y,
                     int64_t N, int64_t K, int64_t M, wm_act act);

/* depthwise3x3_glu and depthwise3x3_silu_glu share one loop (depthwise3x3_glu.c); op names the caller. */
wm_status wm__depthwise3x3_glu_ref(wm_backend *be, const char *op, const wm_tensor *x, const wm_tensor *w,
                                   const wm_tensor *b, int n_frames, int grid_h, int grid_w, wm_tensor *y,
                                   int silu_input);

/* CPU ops require host fp32 tensors; these checks return WM_ERR_DTYPE naming the op otherwise. */
#define WM_CPU_F32(be, t)                                                                          \
    WM_OP_CHECK(be, (t)->dtype == WM_F32 && (t)->device == WM_DEVICE_CPU, WM_ERR_DTYPE,            \
                #t " must be an fp32 host tensor")

#endif
