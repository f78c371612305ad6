/* Channels-last implicit GEMM for the VAE's 3-D convolutions (the conv engine's "igemm" path).
 *
 * Input: xp (Tp, Hp, Wp, Ci8) bf16, the padded channels-last copy the engine's pack kernel makes (all
 * temporal context and spatial padding materialised), and wr (Co8, taps, Ci8) bf16 (repacked weights).
 * Output position p = (t, h, w) reads padded row q(p) = (t*Hp + h)*Wp + w shifted by a per-tap row offset
 * off(dt, dh, dw) = (dt*Hp + dh)*Wp + dw, so
 *     y[co, p] = bias[co] + sum_{tap, ci} xp[q(p) + off(tap), ci] * wr[co, tap, ci]
 * is a GEMM (M = positions, N = Co, K = taps*Ci8) whose A rows are gathered by one add per K chunk: with
 * K chunks of 32 channels inside one tap (Ci8 % 32 == 0), every A fragment row is 64 contiguous bytes.
 * This removes the per-element gather that limits the channels-first kernel (vae_conv3d.cu).
 *
 * Block 128 positions x 128 output channels x 32 K, 256 threads = 8 warps as 2 (M) x 4 (N) of 64 x 32;
 * cp.async 16-byte copies in a 4-stage pipeline (one __syncthreads per K chunk), shared rows padded to 40
 * bf16 (80 bytes: the 8 row addresses of an ldmatrix hit distinct bank groups); ldmatrix (no transpose:
 * A and B are both K-contiguous) into mma.sync m16n8k16 bf16 -> fp32. Epilogue: accumulators staged in
 * shared memory as [co][position] fp32, then written channels-first with the bias (coalesced rows), so
 * no unpack pass follows. Shared memory: 4 x 20,480 B pipeline (81,920 B), reused by the 67,584 B
 * epilogue tile (opt-in above 48 KB); 2 blocks/SM (128-register cap, 164 KB of shared memory).
 * Each output is one fixed-order sum (K chunks ascending, mma k order), independent of T or tiling:
 * a frame convolved in a streaming chunk is bit-identical to the same frame of a whole-clip call.
 */
#include "cuda_common.cuh"
#include "mma.cuh"

#define IG_BM 128
#define IG_BN 128
#define IG_BK 32
#define IG_ST 4
#define IG_P (IG_BK + 8)                       /* padded shared row, bf16 */
#define IG_STAGE (IG_BM + IG_BN) * IG_P        /* bf16 per stage */
#define IG_CP (IG_BM + 4)                      /* epilogue row of fp32 */
#define IG_SMEM_PIPE (IG_ST * IG_STAGE * 2)
#define IG_SMEM_EPI (IG_BN * IG_CP * 4)
#define IG_SMEM (IG_SMEM_PIPE > IG_SMEM_EPI ? IG_SMEM_PIPE : IG_SMEM_EPI)

typedef struct {
    const bf16 *xp, *wr;
    const void *bias;
    void *y;
    int b_bf16, y_bf16, acc;
    int Co, co8, ci8, T, H, W, hp, wp, kh, kw, nk; /* nk K chunks of 32 */
    int64_t P, K;
} ig_args;

/* Where the next K chunk to load lives: chunks run tap by tap (dt, dh, dw), 32 channels at a time, in
 * the order of wr's K axis; advanced incrementally (no divisions in the loop). */
struct ig_cursor {
    int ci0, dt, dh, dw;
    int64_t off; /* row offset of tap (dt, dh, dw) in xp */
    int64_t kb;  /* element offset of the chunk in a wr row */
};

__device__ __forceinline__ void ig_next(const ig_args &a, ig_cursor &u)
{
    u.kb += IG_BK;
    u.ci0 += IG_BK;
    if (u.ci0 < a.ci8) return;
    u.ci0 = 0;
    if (++u.dw == a.kw) {
        u.dw = 0;
        if (++u.dh == a.kh) u.dh = 0, u.dt++;
    }
    u.off = ((int64_t)u.dt * a.hp + u.dh) * a.wp + u.dw;
}

/* Copy the cursor's K chunk into stage buffers: each thread 2 A rows (positions) and 2 B rows (output
 * channels), one 16-byte piece each. Rows past the end are zero-filled (src_bytes 0). */
__device__ __forceinline__ void ig_load(const ig_args &a, bf16 *As, bf16 *Bs, const ig_cursor &u, const int64_t *qa,
                                        const int *va, int64_t cob)
{
    int tid = threadIdx.x, piece = tid & 3, row = tid >> 2;
#pragma unroll
    for (int i = 0; i < 2; i++) {
        const bf16 *src = a.xp + (qa[i] + u.off) * a.ci8 + u.ci0 + piece * 8;
        cp_async16(As + (row + 64 * i) * IG_P + piece * 8, va[i] ? src : a.xp, va[i] ? 16 : 0);
        int64_t co = cob + row + 64 * i;
        const bf16 *wsrc = a.wr + co * a.K + u.kb + piece * 8;
        cp_async16(Bs + (row + 64 * i) * IG_P + piece * 8, co < a.co8 ? wsrc : a.wr, co < a.co8 ? 16 : 0);
    }
}

__global__ void __launch_bounds__(256, 2) vae_igemm_kernel(ig_args a)
{
    extern __shared__ __align__(16) unsigned char ig_smem[];
    bf16 *sm = (bf16 *)ig_smem;
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp & 1, wn = warp >> 1;
    int64_t p0 = (int64_t)blockIdx.x * IG_BM, co0 = (int64_t)blockIdx.y * IG_BN;
    int64_t qa[2];
    int va[2];
#pragma unroll
    for (int i = 0; i < 2; i++) { /* this thread's A rows: padded row of output position p */
        int64_t p = p0 + (tid >> 2) + 64 * i;
        va[i] = p < a.P;
        int64_t pp = va[i] ? p : 0, hw = (int64_t)a.H * a.W;
        int64_t t = pp / hw, rem = pp - t * hw, h = rem / a.W, w = rem - h * a.W;
        qa[i] = (t * a.hp + h) * a.wp + w;
    }
    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;
    ig_cursor u = {0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int s = 0; s < IG_ST - 1; s++) {
        if (s < a.nk) {
            ig_load(a, sm + s * IG_STAGE, sm + s * IG_STAGE + IG_BM * IG_P, u, qa, va, co0);
            ig_next(a, u);
        }
        cp_async_commit();
    }
    for (int kc = 0; kc < a.nk; kc++) {
        cp_async_wait<IG_ST - 2>();
        __syncthreads(); /* stage kc landed for every thread; stage kc-1 is no longer read */
        int pf = kc + IG_ST - 1;
        if (pf < a.nk) {
            bf16 *st = sm + (pf % IG_ST) * IG_STAGE;
            ig_load(a, st, st + IG_BM * IG_P, u, qa, va, co0);
            ig_next(a, u);
        }
        cp_async_commit();
        const bf16 *As = sm + (kc % IG_ST) * IG_STAGE, *Bs = As + IG_BM * IG_P;
#pragma unroll
        for (int kk = 0; kk < IG_BK; kk += 16) {
            uint32_t af[4][4], bfr[2][4];
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
                ldsm_x4(af[mi], As + (wm * 64 + mi * 16 + (lane & 15)) * IG_P + kk + (lane >> 4) * 8);
#pragma unroll
            for (int nj = 0; nj < 2; nj++)
                ldsm_x4(bfr[nj], Bs + (wn * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3)) * IG_P + kk +
                                     ((lane >> 3) & 1) * 8);
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
#pragma unroll
                for (int ni = 0; ni < 4; ni++)
                    mma_bf16(acc[mi][ni], af[mi], bfr[ni >> 1][(ni & 1) * 2], bfr[ni >> 1][(ni & 1) * 2 + 1]);
        }
    }
    cp_async_wait<0>();
    __syncthreads(); /* the pipeline buffers become the epilogue tile */
    float *cs = (float *)ig_smem;
    int g = lane >> 2, c = lane & 3;
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int m = wm * 64 + mi * 16 + g + (e >> 1) * 8, n = wn * 32 + ni * 8 + 2 * c + (e & 1);
                cs[n * IG_CP + m] = acc[mi][ni][e];
            }
    __syncthreads();
    for (int n = warp; n < IG_BN; n += 8) { /* one output channel row per warp step, positions across lanes */
        int64_t co = co0 + n;
        if (co >= a.Co) break;
        float bv = a.bias ? wm_ldp(a.bias, a.b_bf16, co) : 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int m = lane + 32 * j;
            int64_t p = p0 + m;
            if (p >= a.P) continue;
            float v = cs[n * IG_CP + m] + bv;
            if (a.y_bf16) {
                bf16 *yp = (bf16 *)a.y + co * a.P + p;
                *yp = __float2bfloat16(a.acc ? __bfloat162float(*yp) + v : v);
            } else {
                float *yp = (float *)a.y + co * a.P + p;
                *yp = a.acc ? *yp + v : v;
            }
        }
    }
}

/* Whether this kernel handles a layer: 32-channel K chunks must not straddle taps. */
extern "C" int wm__vae_igemm_fits(int ci8) { return ci8 % IG_BK == 0; }

/* Opt the kernel into its dynamic shared memory (a host call worth doing once per engine). */
extern "C" wm_status wm__vae_igemm_init(wm_backend *be)
{
    WM_CUDA_TRY(be, cudaFuncSetAttribute(vae_igemm_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, IG_SMEM));
    return WM_OK;
}

/* y (Co, T*H*W) channels-first = (y +, when acc) conv of xp (padded (T+kt-1, hp, wp, ci8)) with wr (co8, kt*kh*kw, ci8). */
extern "C" wm_status wm__vae_igemm(wm_backend *be, const void *xp, const void *wr, const void *bias, int b_bf16,
                                   void *y, int y_bf16, int acc, int Co, int co8, int ci8, int T, int H, int W, int kt,
                                   int kh, int kw)
{
    ig_args a;
    a.xp = (const bf16 *)xp, a.wr = (const bf16 *)wr, a.bias = bias, a.y = y, a.b_bf16 = b_bf16, a.y_bf16 = y_bf16;
    a.acc = acc;
    a.Co = Co, a.co8 = co8, a.ci8 = ci8, a.T = T, a.H = H, a.W = W, a.hp = H + 2 * (kh / 2), a.wp = W + 2 * (kw / 2);
    a.kh = kh, a.kw = kw, a.nk = kt * kh * kw * (ci8 / IG_BK);
    a.P = (int64_t)T * H * W, a.K = (int64_t)kt * kh * kw * ci8;
    dim3 grid((unsigned)((a.P + IG_BM - 1) / IG_BM), (unsigned)((co8 + IG_BN - 1) / IG_BN));
    vae_igemm_kernel<<<grid, 256, IG_SMEM, wm__cuda_stream(be)>>>(a);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}
