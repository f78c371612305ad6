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

/* The camera embedding of dit_qk_prep on one row (all heads), in place: UCPE with the token's 4x4 matrix
 * M (or M^T) on the first D/2 columns of each head in groups of 4, then RoPE on P pairs from column off
 * of each head (sin negated for the conjugate). dit_qk_prep, gdn_output_ucpe and gdn_gram_ucpe all use
 * these, so the fused ops stay bit-identical to the op sequence. */
static inline void wm__ucpe_row(const float *M, int tr, float *yr, int64_t H, int64_t D)
{
    float mm[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) mm[i * 4 + j] = tr ? M[j * 4 + i] : M[i * 4 + j];
    for (int64_t h = 0; h < H; h++)
        for (int64_t g = 0; g < D / 8; g++) {
            float *o = yr + h * D + 4 * g;
            float a0 = o[0], a1 = o[1], a2 = o[2], a3 = o[3];
            for (int i = 0; i < 4; i++)
                o[i] = mm[i * 4] * a0 + mm[i * 4 + 1] * a1 + mm[i * 4 + 2] * a2 + mm[i * 4 + 3] * a3;
        }
}

static inline void wm__rope_row(const float *cr, const float *sr, int conj, float *yr, int64_t H, int64_t D,
                                int64_t P, int64_t off)
{
    float sg = conj ? -1.0f : 1.0f;
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < P; i++) {
            int64_t d = h * D + off + 2 * i;
            float a = yr[d], b = yr[d + 1], co = cr[i], si = sg * sr[i];
            yr[d] = a * co - b * si;
            yr[d + 1] = a * si + b * co;
        }
}

/* gdn_gram's loop (gdn_gram.c) with v optionally read through the camera embedding (emb != NULL:
 * gdn_gram_ucpe). */
typedef struct {
    const float *m, *cs, *sn;
    int tr, conj;
    int64_t P, off;
} wm__cam_emb;
wm_status wm__gdn_gram_ref(wm_backend *be, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                           int n_frames, const wm__cam_emb *emb, wm_tensor *P, wm_tensor *A);

/* CPU ops require host fp32 tensors; these checks return WM_ERR_DTYPE naming the op otherwise. */
#define WM_CPU_F32(be, t)                                                                          \
    WM_OP_CHECK(be, (t)->dtype == WM_F32 && (t)->device == WM_DEVICE_CPU, WM_ERR_DTYPE,            \
                #t " must be an fp32 host tensor")

#endif
