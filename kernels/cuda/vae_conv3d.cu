/* vae_conv3d on CUDA: stride-1 3-D convolution as an implicit GEMM on bf16 tensor cores (fp32 accumulate).
 *
 * GEMM view: y (Co, P) = w (Co, K) . B (K, P), P = T*H*W output positions, K = Ci*kt*kh*kw in PyTorch's
 * weight order (ci, dt, dh, dw), so the weight tensor is the A operand as it is stored (no repacking).
 * B is never materialised: each block gathers its (32 x 128) slice of B from x on the fly, resolving
 * the temporal padding (causal: `left` cache or replicated frame 0; non-causal: clamped frames) and the
 * spatial padding (zeros or reflect) per element. Channels-first layout makes the P direction the
 * contiguous one, so a warp gathers 32 consecutive positions of one K row (coalesced apart from edges).
 *
 * Block tile BM (Co) x 128 (positions) x 32 (K), BM = 128 when Co > 64 (8 warps as 4 x 2, each warp
 * 32 x 64 = 2 x 8 mma.sync m16n8k16 tiles, 1 block/SM) else 64 (2 x 4 warps of 32 x 32, 2 blocks/SM).
 * Operands go global -> registers -> shared (double buffered, one __syncthreads per K step: the gather
 * of step k+1 is in flight while step k multiplies). A fragments come via ldmatrix, B fragments via
 * ldmatrix.trans (shared B is stored [k][position]). Rows padded by 8 bf16 so the
 * 8 row addresses of each ldmatrix hit distinct banks.
 *
 * Numerics: bf16 x/left feed the bf16 tensor cores (w rounded to bf16 if stored fp32: the spec's
 * numerics, bf16 storage, fp32 accumulation); fp32 x/left take conv3d_f32_kernel, true fp32 FMA with
 * w as stored (no TF32, no bf16 rounding: an fp32 model matches the CPU to fp32 rounding); bias and the
 * epilogue are fp32; y is fp32 or bf16. This is the "old" path of the VAE conv engine
 * (vae_conv_engine.cu), which runs the channels-last cuDNN / implicit-GEMM paths for bf16.
 * Every output's sum runs over K in one fixed order whatever T or the tile it falls in, so a frame
 * convolved in a streaming chunk is bit-identical to the same frame in a whole-clip call.
 */
#include "cuda_common.cuh"
#include "mma.cuh"
#include "kernels/vae_shapes.h"

#define CV_BN 128
#define CV_BK 32
#define CV_THREADS 256
#define CV_AP (CV_BK + 8)  /* padded shared row of A (bf16) */
#define CV_BP (CV_BN + 8)  /* padded shared row of B (bf16) */
#define CV_MAX_TAPS 343    /* kt*kh*kw up to 7x7x7 */

typedef struct {
    const void *x, *left, *w, *bias;
    void *y;
    int w_bf16, b_bf16, y_bf16, w_vec, causal, reflect;
    int Ci, Co, T, H, W, kt, kh, kw, taps, K;
    int64_t HW, P;
} cv_args;

/* One tap (dt, dh, dw) packed as dt << 16 | dh << 8 | dw. */
struct cv_taps { int t[CV_MAX_TAPS]; };

__device__ __forceinline__ int cv_reflect(int i, int n, int reflect)
{
    if (i >= 0 && i < n) return i;
    if (!reflect) return -1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}

/* Source of one K row: channel ci's frame base for each padded frame index is resolved per element
 * (it depends on the column's t), so the row decode keeps only (ci, dt, dh, dw). */
struct cv_row {
    int ci, dt, dh, dw, ok;
    int ts;      /* frame shift: source frame of x = column's t + ts when inside [0, T) */
    int64_t off; /* x offset of this row relative to the column's own (t, h, w): the interior fast path */
};

__device__ __forceinline__ cv_row cv_decode(const cv_args &a, const int *taps, int k)
{
    cv_row r;
    r.ok = k < a.K;
    r.ci = r.ok ? k / a.taps : 0;
    int tp = r.ok ? taps[k - r.ci * a.taps] : 0;
    r.dt = tp >> 16, r.dh = ((tp >> 8) & 255) - a.kh / 2, r.dw = (tp & 255) - a.kw / 2;
    r.ts = r.dt - (a.causal ? a.kt - 1 : (a.kt - 1) / 2);
    r.off = ((int64_t)r.ci * a.T + r.ts) * a.HW + (int64_t)r.dh * a.W + r.dw;
    return r;
}

/* B element (row, column): x at the padded source location, 0 outside. */
template <typename TX>
__device__ __forceinline__ float cv_gather(const cv_args &a, const cv_row &r, int pt, int ph, int pw)
{
    if (!r.ok || pt < 0) return 0.0f;
    int hh = cv_reflect(ph + r.dh, a.H, a.reflect), ww = cv_reflect(pw + r.dw, a.W, a.reflect);
    if (hh < 0 || ww < 0) return 0.0f;
    int64_t sp = (int64_t)hh * a.W + ww;
    const TX *x = (const TX *)a.x;
    if (a.causal) {
        int j = pt + r.dt, nl = a.kt - 1;
        if (j < nl) {
            if (a.left) return wm_ld((const TX *)a.left, ((int64_t)r.ci * nl + j) * a.HW + sp);
            return wm_ld(x, (int64_t)r.ci * a.T * a.HW + sp);
        }
        return wm_ld(x, ((int64_t)r.ci * a.T + (j - nl)) * a.HW + sp);
    }
    int t = pt + r.dt - (a.kt - 1) / 2;
    t = t < 0 ? 0 : (t >= a.T ? a.T - 1 : t);
    return wm_ld(x, ((int64_t)r.ci * a.T + t) * a.HW + sp);
}

/* Columns of one thread: (t, h, w), t = -1 past the end; base = x offset of (t, h, w) in channel 0;
 * inner = no spatial padding can reach this column (every tap's row and column lie inside x). */
struct cv_col {
    int t, h, w, inner;
    int64_t base;
};

/* Interior fast path: when the column is spatially inner and the tap's frame lies in x (not the left
 * cache, not a replicated/clamped frame), the element is x[base + off]: the same address the general
 * path computes, without its padding logic. Only border columns and context frames take cv_gather. */
template <typename TX>
__device__ __forceinline__ float cv_elem(const cv_args &a, const cv_row &r, const cv_col &q)
{
    if (r.ok && q.inner && (unsigned)(q.t + r.ts) < (unsigned)a.T) return wm_ld((const TX *)a.x, q.base + r.off);
    return cv_gather<TX>(a, r, q.t, q.h, q.w);
}

/* Registers of one K step: 8 A values per 64 rows (row m = tid/4 (+64), k = (tid%4)*8..+8) and 4x4 B
 * values (K rows warp + 8i, columns lane + 32j). */
template <int BM> struct cv_stage {
    float a[BM / 64][8];
    float b[4][4];
};

/* 8 weights w[co, kb..kb+8) (zeros past Co or K): one 16-byte load when aligned bf16. */
__device__ __forceinline__ void cv_load_a(const cv_args &a, int co, int kb, float *v)
{
    if (co < a.Co && a.w_vec && kb + 8 <= a.K) {
        uint4 u = *(const uint4 *)((const bf16 *)a.w + (int64_t)co * a.K + kb);
        const __nv_bfloat162 *h = (const __nv_bfloat162 *)&u;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float2 f = __bfloat1622float2(h[j]);
            v[2 * j] = f.x, v[2 * j + 1] = f.y;
        }
    } else {
#pragma unroll
        for (int j = 0; j < 8; j++)
            v[j] = co < a.Co && kb + j < a.K ? wm_ldp(a.w, a.w_bf16, (int64_t)co * a.K + kb + j) : 0.0f;
    }
}

template <typename TX, int BM>
__device__ __forceinline__ void cv_load(const cv_args &a, const int *taps, int co0, int k0, const cv_col *pos,
                                        cv_stage<BM> &s)
{
    int tid = threadIdx.x;
#pragma unroll
    for (int r = 0; r < BM / 64; r++) cv_load_a(a, co0 + (tid >> 2) + 64 * r, k0 + (tid & 3) * 8, s.a[r]);
    int kr = tid >> 5;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        cv_row r = cv_decode(a, taps, k0 + kr + 8 * i);
#pragma unroll
        for (int j = 0; j < 4; j++) s.b[i][j] = cv_elem<TX>(a, r, pos[j]);
    }
}

template <int BM> __device__ __forceinline__ void cv_store(const cv_stage<BM> &s, bf16 *As, bf16 *Bs)
{
    int tid = threadIdx.x, m = tid >> 2, kc = (tid & 3) * 8;
#pragma unroll
    for (int r = 0; r < BM / 64; r++) {
        uint4 u;
        uint32_t *p = (uint32_t *)&u;
#pragma unroll
        for (int j = 0; j < 4; j++) p[j] = pack_bf16(s.a[r][2 * j], s.a[r][2 * j + 1]);
        *(uint4 *)(As + (m + 64 * r) * CV_AP + kc) = u;
    }
    int kr = tid >> 5, lane = tid & 31;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) Bs[(kr + 8 * i) * CV_BP + lane + 32 * j] = __float2bfloat16(s.b[i][j]);
}

/* The warp's 32 x NI*8 tile over one 32-deep K slice held in shared memory. */
template <int NI>
__device__ __forceinline__ void cv_mma(const bf16 *As, const bf16 *Bs, int wm, int wn, float (*acc)[NI][4])
{
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int kk = 0; kk < CV_BK; kk += 16) {
        uint32_t af[2][4], bfr[NI / 2][4];
#pragma unroll
        for (int mi = 0; mi < 2; mi++)
            ldsm_x4(af[mi], As + (wm * 32 + mi * 16 + (lane & 15)) * CV_AP + kk + (lane >> 4) * 8);
#pragma unroll
        for (int nj = 0; nj < NI / 2; nj++)
            ldsm_x4_t(bfr[nj], Bs + (kk + (lane & 7) + ((lane >> 3) & 1) * 8) * CV_BP + wn * NI * 8 + nj * 16 +
                                   (lane >> 4) * 8);
#pragma unroll
        for (int mi = 0; mi < 2; mi++)
#pragma unroll
            for (int ni = 0; ni < NI; ni++)
                mma_bf16(acc[mi][ni], af[mi], bfr[ni >> 1][(ni & 1) * 2], bfr[ni >> 1][(ni & 1) * 2 + 1]);
    }
}

/* BM = 64: warps 2 (Co) x 4 (positions) of 32 x 32; BM = 128: 4 x 2 of 32 x 64 (twice the mma work per
 * gathered B element, for layers of >= 128 channels). */
template <typename TX, int BM>
__global__ void __launch_bounds__(CV_THREADS, 128 / BM) conv3d_kernel(cv_args a, cv_taps tp)
{
    constexpr int WMW = BM / 32, NI = CV_BN / (8 / WMW) / 8;
    __shared__ __align__(16) bf16 As[2][BM * CV_AP];
    __shared__ __align__(16) bf16 Bs[2][CV_BK * CV_BP];
    __shared__ int taps[CV_MAX_TAPS];
    for (int i = threadIdx.x; i < a.taps; i += CV_THREADS) taps[i] = tp.t[i];
    int co0 = blockIdx.y * BM;
    int64_t p0 = (int64_t)blockIdx.x * CV_BN;
    cv_col pos[4]; /* this thread's 4 gather columns */
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        int64_t p = p0 + lane + 32 * j;
        int64_t hw = p % a.HW;
        cv_col &q = pos[j];
        q.t = p < a.P ? (int)(p / a.HW) : -1;
        q.h = (int)(hw / a.W), q.w = (int)(hw % a.W);
        q.inner = q.t >= 0 && q.h >= a.kh / 2 && q.h < a.H - a.kh / 2 && q.w >= a.kw / 2 && q.w < a.W - a.kw / 2;
        q.base = p < a.P ? p : 0;
    }
    __syncthreads();
    float acc[2][NI][4] = {};
    int warp = threadIdx.x >> 5, wm = warp % WMW, wn = warp / WMW;
    int nk = (a.K + CV_BK - 1) / CV_BK;
    cv_stage<BM> st;
    cv_load<TX, BM>(a, taps, co0, 0, pos, st);
    for (int kb = 0; kb < nk; kb++) {
        int buf = kb & 1;
        cv_store<BM>(st, As[buf], Bs[buf]);
        __syncthreads();
        if (kb + 1 < nk) cv_load<TX, BM>(a, taps, co0, (kb + 1) * CV_BK, pos, st);
        cv_mma<NI>(As[buf], Bs[buf], wm, wn, acc);
    }
    /* Epilogue: thread (g, c) of the mma layout holds rows g, g+8 and columns 2c, 2c+1 of each tile. */
    int g = lane >> 2, c = lane & 3;
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            int co = co0 + wm * 32 + mi * 16 + g + 8 * r;
            if (co >= a.Co) continue;
            float bv = a.bias ? wm_ldp(a.bias, a.b_bf16, co) : 0.0f;
#pragma unroll
            for (int ni = 0; ni < NI; ni++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    int64_t p = p0 + wn * NI * 8 + ni * 8 + 2 * c + e;
                    if (p >= a.P) continue;
                    float v = acc[mi][ni][2 * r + e] + bv;
                    if (a.y_bf16) ((bf16 *)a.y)[(int64_t)co * a.P + p] = __float2bfloat16(v);
                    else ((float *)a.y)[(int64_t)co * a.P + p] = v;
                }
        }
}

/* True-fp32 path for fp32 activations: the same gather (cv_decode / cv_elem), SIMT fp32 FMA instead of
 * bf16 tensor cores, so an fp32 model means fp32 math (the tensor-core path rounds x and w to bf16, which
 * put the fp32 CUDA VAE 4e-3 away from the CPU). Block 64 Co x 64 positions x 16 K, 256 threads of 4 x 4
 * outputs (rows ty + 16i, columns tx + 16j: conflict-free shared reads). Each output is one fma chain over
 * K in ascending order, whatever T or the tile: the streaming bit-exactness holds here too. Speed is not
 * the point (fp32 serves tests and the CPU-parity golden model): ~10-20 TFLOP/s expected. */
#define CF_T 64
#define CF_BK 16
__global__ void __launch_bounds__(CV_THREADS) conv3d_f32_kernel(cv_args a, cv_taps tp)
{
    __shared__ float As[CF_BK][CF_T + 4];
    __shared__ float Bs[CF_BK][CF_T + 4];
    __shared__ int taps[CV_MAX_TAPS];
    for (int i = threadIdx.x; i < a.taps; i += CV_THREADS) taps[i] = tp.t[i];
    int tid = threadIdx.x, co0 = blockIdx.y * CF_T, ty = tid >> 4, tx = tid & 15;
    int64_t p0 = (int64_t)blockIdx.x * CF_T;
    cv_col q; /* this thread's gather column: tid % 64 */
    {
        int64_t p = p0 + (tid & 63), hw = p % a.HW;
        q.t = p < a.P ? (int)(p / a.HW) : -1;
        q.h = (int)(hw / a.W), q.w = (int)(hw % a.W);
        q.inner = q.t >= 0 && q.h >= a.kh / 2 && q.h < a.H - a.kh / 2 && q.w >= a.kw / 2 && q.w < a.W - a.kw / 2;
        q.base = p < a.P ? p : 0;
    }
    __syncthreads();
    float acc[4][4] = {};
    for (int k0 = 0; k0 < a.K; k0 += CF_BK) {
#pragma unroll
        for (int i = 0; i < 4; i++) { /* A: 64 rows x 16 k, k fastest across threads (coalesced) */
            int e = tid + CV_THREADS * i, m = e >> 4, kk = e & 15, co = co0 + m, k = k0 + kk;
            As[kk][m] = co < a.Co && k < a.K ? wm_ldp(a.w, a.w_bf16, (int64_t)co * a.K + k) : 0.0f;
        }
#pragma unroll
        for (int i = 0; i < 4; i++) { /* B: 16 rows x 64 columns, positions fastest (coalesced) */
            int kk = (tid >> 6) + 4 * i;
            cv_row r = cv_decode(a, taps, k0 + kk);
            Bs[kk][tid & 63] = cv_elem<float>(a, r, q);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < CF_BK; kk++) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) av[i] = As[kk][ty + 16 * i], bv[i] = Bs[kk][tx + 16 * i];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int co = co0 + ty + 16 * i;
        if (co >= a.Co) continue;
        float bv = a.bias ? wm_ldp(a.bias, a.b_bf16, co) : 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int64_t p = p0 + tx + 16 * j;
            if (p >= a.P) continue;
            float v = acc[i][j] + bv;
            if (a.y_bf16) ((bf16 *)a.y)[(int64_t)co * a.P + p] = __float2bfloat16(v);
            else ((float *)a.y)[(int64_t)co * a.P + p] = v;
        }
    }
}

/* Named after the op so its messages read "wm_vae_conv3d_cuda_check: ..." (WM_OP_CHECK uses __func__). */
static wm_status wm_vae_conv3d_cuda_check(wm_backend *be, const wm_tensor *x, const wm_tensor *left,
                                          const wm_tensor *w, const wm_tensor *bias, int causal, int reflect,
                                          const wm_tensor *y)
{
    WM_CUDA_FLOAT(be, x);
    WM_CUDA_FLOAT(be, w);
    WM_CUDA_FLOAT(be, y);
    if (bias) WM_CUDA_FLOAT(be, bias);
    if (left) {
        WM_CUDA_FLOAT(be, left);
        WM_OP_CHECK(be, left->dtype == x->dtype, WM_ERR_DTYPE, "left must have x's dtype");
    }
    WM_TRY(wm_vae_conv3d_shape(be, x, left, w, bias, causal, reflect, y));
    /* Limits of this kernel's index arithmetic and tile loops. */
    int64_t Ci = x->shape[0], T = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Co = w->shape[0], kt = w->shape[2], kh = w->shape[3], kw = w->shape[4];
    WM_OP_CHECK(be, kt <= 7 && kh <= 7 && kw <= 7, WM_ERR_UNSUPPORTED, "kernel larger than 7x7x7");
    WM_OP_CHECK(be, T < (1 << 20) && H < (1 << 20) && W < (1 << 20) && Ci < (1 << 20) && Co < (1 << 20),
                WM_ERR_SHAPE, "sizes must be below 2^20");
    WM_OP_CHECK(be, Ci * kt * kh * kw < (1LL << 30), WM_ERR_LIMIT, "Ci*kt*kh*kw above 2^30");
    WM_OP_CHECK(be, (T * H * W + CF_T - 1) / CF_T < (1LL << 31), WM_ERR_LIMIT, "too many output positions");
    return WM_OK;
}

extern "C" wm_status wm_vae_conv3d_cuda(wm_backend *be, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                                        const wm_tensor *bias, int causal, int reflect, wm_tensor *y)
{
    WM_TRY(wm_vae_conv3d_cuda_check(be, x, left, w, bias, causal, reflect, y));
    cv_args a;
    memset(&a, 0, sizeof a);
    a.x = x->data, a.left = left && w->shape[2] > 1 ? left->data : NULL, a.w = w->data;
    a.bias = bias ? bias->data : NULL, a.y = y->data;
    a.w_bf16 = w->dtype == WM_BF16, a.b_bf16 = bias && bias->dtype == WM_BF16, a.y_bf16 = y->dtype == WM_BF16;
    a.causal = causal, a.reflect = reflect;
    a.Ci = (int)x->shape[0], a.T = (int)x->shape[1], a.H = (int)x->shape[2], a.W = (int)x->shape[3];
    a.Co = (int)w->shape[0], a.kt = (int)w->shape[2], a.kh = (int)w->shape[3], a.kw = (int)w->shape[4];
    a.taps = a.kt * a.kh * a.kw;
    a.K = a.Ci * a.taps, a.HW = (int64_t)a.H * a.W, a.P = a.HW * a.T;
    a.w_vec = a.w_bf16 && a.K % 8 == 0 && ((uintptr_t)w->data & 15u) == 0;
    cv_taps tp;
    for (int i = 0; i < a.taps; i++) {
        int dt = i / (a.kh * a.kw), dh = i / a.kw % a.kh, dw = i % a.kw;
        tp.t[i] = dt << 16 | dh << 8 | dw;
    }
    cudaStream_t s = wm__cuda_stream(be);
    if (x->dtype == WM_F32) { /* fp32 activations: true fp32 math (see conv3d_f32_kernel) */
        dim3 g32((unsigned)((a.P + CF_T - 1) / CF_T), (unsigned)((a.Co + CF_T - 1) / CF_T));
        conv3d_f32_kernel<<<g32, CV_THREADS, 0, s>>>(a, tp);
        WM_CUDA_LAUNCHED(be);
        return WM_OK;
    }
    int bm = a.Co > 64 ? 128 : 64; /* the wide tile halves the gather work per FLOP; 64 wastes less on small Co */
    dim3 grid((unsigned)((a.P + CV_BN - 1) / CV_BN), (unsigned)((a.Co + bm - 1) / bm));
    if (bm == 128) conv3d_kernel<bf16, 128><<<grid, CV_THREADS, 0, s>>>(a, tp);
    else conv3d_kernel<bf16, 64><<<grid, CV_THREADS, 0, s>>>(a, tp);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
