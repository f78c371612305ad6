/* Gated DeltaNet on CUDA (spec §3.4-§3.7): Gram sums (phase A), the fp32 frame-wise scan (phase B) and
 * the readout with division (phase C).
 *
 * gdn_gram: per (frame, head) P = K^T diag(beta) K and A = K^T diag(beta) V, 112x112 each, a
 *   (D x S)(S x D) product on bf16 tensor cores (mma.sync m16n8k16, fp32 accumulate) as the reference's
 *   phase A does. One block of 7 warps per (frame, head): warp w owns rows 16w..16w+15 of P and A (all
 *   112 columns: 2 x 56 fp32 accumulators per thread). Tokens stream through shared memory 64 at a
 *   time as [token][dim] bf16 rows; both mma operands want token pairs per register, which
 *   ldmatrix.trans delivers from that layout. beta is folded into the A operand (beta*k rounded to bf16,
 *   as a bf16 kernel of the reference would). The vector form (v == NULL, A = sum beta k) and fp32 or
 *   other-shaped inputs take a plain fp32 kernel.
 * gdn_scan: M_t = g_t (M_{t-1} - P_t M_{t-1}) + A_t. Columns of M evolve independently (P acts from the
 *   left), so one block owns a 16-column slab of one head's state for the whole serial loop: grid =
 *   heads x ceil(Dv/16), the slab stays in shared memory, P_t is staged per step. fp32 throughout.
 * gdn_output: out = (Mf+Mr)^T q / (q_d.(zf+zr) + eps) per token. D = Dv = 112 with bf16 q: tensor cores
 *   with the fp32 state split into bf16 hi + lo (two mma per tile, ~fp32 accuracy); otherwise one block
 *   per (frame, head, 64-token tile) holds (Mf+Mr) in shared memory and computes a 4-token x 7-column
 *   register tile per thread in fp32 FMA.
 * The second generation of the Gram, scan and readout kernels lives in gdn_fast.cu: the entry points below try it
 * first (after validating) and keep these kernels for the shapes it declines and for WM_CUDA_GDN=old.
 */
#include "gdn_fast.cuh"
#include "kernels/dit_shapes.h"
#include "mma.cuh"

/* ---------------------------------------------------------------- gram (tensor cores) */

#define GR_TOK 64
#define GR_D 112
#define GR_DP (GR_D + 8)
#define GR_WARPS (GR_D / 16)
#define GR_HP 4 /* 16-column groups per block: 7 groups split 4 + 3 over blockIdx.z */

/* P(T,H,D,D), A(T,H,D,D) for D = 112, k/v bf16 (N, H*D), beta (N, H) fp32 or bf16. */
__global__ void __launch_bounds__(GR_WARPS * 32, 2)
    gdn_gram_tc_kernel(const bf16 *k, const bf16 *v, const void *beta, int beta_bf16, float *P, float *A, int S, int H,
                       int ldk, int ldv, int s_per)
{
    __shared__ __align__(16) bf16 ks[GR_TOK * GR_DP], bks[GR_TOK * GR_DP], vs[GR_TOK * GR_DP];
    __shared__ float bsm[GR_TOK];
    float avec = 0.0f; /* v == NULL: thread d < D accumulates A[d] = sum_s beta_s k_s[d] in fp32 */
    const int f = blockIdx.x / H, h = blockIdx.x % H, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int nthr = GR_WARPS * 32;
    /* blockIdx.z = column half: dp pairs [dp0, dp0 + GR_HP) of the 7 (16-column groups), so a thread
     * holds 2 x 32 accumulators instead of 2 x 56 and two blocks fit per SM */
    const int dp0 = blockIdx.z * GR_HP;
    float accP[2 * GR_HP][4], accA[2 * GR_HP][4];
#pragma unroll
    for (int n = 0; n < 2 * GR_HP; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) accP[n][e] = accA[n][e] = 0.0f;
    /* blockIdx.y = token split: tokens [s_beg, s_end) of the frame; partial sums go to slice y of P/A */
    const int s_beg = blockIdx.y * s_per, s_end = min(S, s_beg + s_per);
    for (int s0 = s_beg; s0 < s_end; s0 += GR_TOK) {
        __syncthreads(); /* previous tile fully consumed */
        /* all global loads of the tile first (4 per thread, in flight together), then the stores */
        constexpr int PER = GR_TOK * (GR_D / 8) / (GR_WARPS * 32);
        static_assert(PER * GR_WARPS * 32 == GR_TOK * (GR_D / 8), "tile chunks must split evenly");
        uint4 kk[PER], vv[PER];
        float bv[PER];
#pragma unroll
        for (int it = 0; it < PER; it++) {
            int c = threadIdx.x + it * nthr, r = c / (GR_D / 8), cc = c % (GR_D / 8), s = s0 + r;
            kk[it] = vv[it] = make_uint4(0, 0, 0, 0);
            bv[it] = 0.0f;
            if (s < s_end) {
                int64_t n = (int64_t)f * S + s;
                kk[it] = *(const uint4 *)(k + n * ldk + h * GR_D + cc * 8);
                if (v) vv[it] = *(const uint4 *)(v + n * ldv + h * GR_D + cc * 8);
                bv[it] = wm_ldp(beta, beta_bf16, n * H + h);
            }
        }
#pragma unroll
        for (int it = 0; it < PER; it++) {
            int c = threadIdx.x + it * nthr, r = c / (GR_D / 8), cc = c % (GR_D / 8);
            float b = bv[it];
            if (cc == 0) bsm[r] = b;
            *(uint4 *)(ks + r * GR_DP + cc * 8) = kk[it];
            if (v) *(uint4 *)(vs + r * GR_DP + cc * 8) = vv[it];
            uint4 bk;
            const __nv_bfloat162 *kp = (const __nv_bfloat162 *)&kk[it];
            __nv_bfloat162 *bp = (__nv_bfloat162 *)&bk;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float2 x = __bfloat1622float2(kp[j]);
                bp[j] = __floats2bfloat162_rn(x.x * b, x.y * b);
            }
            *(uint4 *)(bks + r * GR_DP + cc * 8) = bk;
        }
        __syncthreads();
#pragma unroll
        for (int t = 0; t < GR_TOK / 16; t++) {
            /* A operand: rows = dims 16*warp.., k = tokens 16t..: matrices (d0-7,t0-7),(d8-15,t0-7),(d0-7,t8-15),(d8-15,t8-15) */
            uint32_t a[4];
            int tok = 16 * t + (lane & 7) + ((lane >> 4) << 3), dim = 16 * warp + ((lane >> 3) & 1) * 8;
            ldsm_x4_t(a, bks + tok * GR_DP + dim);
#pragma unroll
            for (int q = 0; q < GR_HP; q++) {
                const int dp = dp0 + q;
                if (dp >= GR_D / 16) break;
                uint32_t b[4];
                int tk = 16 * t + (lane & 7) + ((lane >> 3) & 1) * 8, dm = 16 * dp + ((lane >> 4) & 1) * 8;
                ldsm_x4_t(b, ks + tk * GR_DP + dm);
                mma_bf16(accP[2 * q], a, b[0], b[1]);
                mma_bf16(accP[2 * q + 1], a, b[2], b[3]);
                if (v) {
                    ldsm_x4_t(b, vs + tk * GR_DP + dm);
                    mma_bf16(accA[2 * q], a, b[0], b[1]);
                    mma_bf16(accA[2 * q + 1], a, b[2], b[3]);
                }
            }
        }
        if (!v && blockIdx.z == 0 && threadIdx.x < GR_D)
            for (int r = 0; r < GR_TOK; r++) avec += bsm[r] * __bfloat162float(ks[r * GR_DP + threadIdx.x]);
    }
    if (!v) {
        int64_t base = ((int64_t)blockIdx.y * gridDim.x + blockIdx.x) * GR_D * GR_D;
        int r = 16 * warp + (lane >> 2);
#pragma unroll
        for (int n = 0; n < 2 * GR_HP; n++) {
            int c = 16 * dp0 + 8 * n + 2 * (lane & 3);
            if (c >= GR_D) break;
            *(float2 *)(P + base + (int64_t)r * GR_D + c) = make_float2(accP[n][0], accP[n][1]);
            *(float2 *)(P + base + (int64_t)(r + 8) * GR_D + c) = make_float2(accP[n][2], accP[n][3]);
        }
        if (blockIdx.z == 0 && threadIdx.x < GR_D)
            A[((int64_t)blockIdx.y * gridDim.x + blockIdx.x) * GR_D + threadIdx.x] = avec;
        return;
    }
    int64_t base = ((int64_t)blockIdx.y * gridDim.x + blockIdx.x) * GR_D * GR_D;
    int r = 16 * warp + (lane >> 2);
#pragma unroll
    for (int n = 0; n < 2 * GR_HP; n++) {
        int c = 16 * dp0 + 8 * n + 2 * (lane & 3);
        if (c >= GR_D) break;
        *(float2 *)(P + base + (int64_t)r * GR_D + c) = make_float2(accP[n][0], accP[n][1]);
        *(float2 *)(P + base + (int64_t)(r + 8) * GR_D + c) = make_float2(accP[n][2], accP[n][3]);
        *(float2 *)(A + base + (int64_t)r * GR_D + c) = make_float2(accA[n][0], accA[n][1]);
        *(float2 *)(A + base + (int64_t)(r + 8) * GR_D + c) = make_float2(accA[n][2], accA[n][3]);
    }
}

/* Sum of the token-split partials: out[i] = sum_s part[s][i]. */
__global__ void gram_reduce_kernel(const float *part, int nsplit, int64_t n, float *out)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float a = 0.0f;
        for (int s = 0; s < nsplit; s++) a += part[s * n + i];
        out[i] = a;
    }
}

/* Fallback: one thread per output element of P (and of A), fp32 sums over the frame's tokens. Used for
 * the vector form (v == NULL), fp32 inputs and head dims other than 112. */
template <typename T>
__global__ void gdn_gram_simple_kernel(const T *k, const T *v, const void *beta, int beta_bf16, float *P, float *A,
                                       int S, int H, int D, int Dv, int ldk, int ldv)
{
    int64_t per = (int64_t)D * D + (int64_t)D * Dv;
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int fh = blockIdx.y, f = fh / H, h = fh % H;
    if (idx >= per) return;
    int isP = idx < (int64_t)D * D;
    int i = isP ? (int)(idx / D) : (int)((idx - D * D) / Dv), j = isP ? (int)(idx % D) : (int)((idx - D * D) % Dv);
    float acc = 0.0f;
    for (int s = 0; s < S; s++) {
        int64_t n = (int64_t)f * S + s;
        float bk = wm_ldp(beta, beta_bf16, n * H + h) * wm_ld(k, n * ldk + h * D + i);
        float o = isP ? wm_ld(k, n * ldk + h * D + j) : (v ? wm_ld(v, n * ldv + h * Dv + j) : 1.0f);
        acc += bk * o;
    }
    int64_t fh64 = (int64_t)fh;
    if (isP) P[fh64 * D * D + (int64_t)i * D + j] = acc;
    else A[fh64 * D * Dv + (int64_t)i * Dv + j] = acc;
}

/* The argument checks of gdn_gram and gdn_gram_ucpe. */
static wm_status gram_check(wm_backend *be, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                            int n_frames, wm_tensor *P, wm_tensor *A)
{
    WM_CUDA_FLOAT(be, k);
    WM_CUDA_FLOAT(be, beta);
    WM_CUDA_DEV(be, P);
    WM_CUDA_DEV(be, A);
    WM_OP_CHECK(be, P->dtype == WM_F32 && A->dtype == WM_F32, WM_ERR_DTYPE, "P and A must be fp32");
    int64_t N = wm_tensor_rows(k), Ck = wm_tensor_cols(k), H = wm_tensor_cols(beta);
    WM_OP_CHECK(be, n_frames > 0 && N % n_frames == 0, WM_ERR_SHAPE, "tokens must split into n_frames");
    WM_OP_CHECK(be, H > 0 && Ck % H == 0 && wm_tensor_rows(beta) == N, WM_ERR_SHAPE, "beta must be (N, H)");
    int64_t D = Ck / H, Cv = H, Dv = 1;
    if (v) {
        WM_CUDA_FLOAT(be, v);
        WM_OP_CHECK(be, v->dtype == k->dtype, WM_ERR_DTYPE, "k and v must share a dtype");
        Cv = wm_tensor_cols(v);
        WM_OP_CHECK(be, wm_tensor_rows(v) == N && Cv % H == 0, WM_ERR_SHAPE, "v must be (N, H*Dv)");
        Dv = Cv / H;
    }
    WM_OP_CHECK(be, wm_tensor_numel(P) == n_frames * H * D * D, WM_ERR_SHAPE, "P must be (T, H, D, D)");
    WM_OP_CHECK(be, wm_tensor_numel(A) == n_frames * H * D * Dv, WM_ERR_SHAPE, "A must be (T, H, D, Dv)");
    return WM_OK;
}

extern "C" wm_status wm_gdn_gram_cuda(wm_backend *be, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                                      int n_frames, wm_tensor *P, wm_tensor *A)
{
    WM_TRY(gram_check(be, k, v, beta, n_frames, P, A));
    int64_t N = wm_tensor_rows(k), Ck = wm_tensor_cols(k), H = wm_tensor_cols(beta);
    int64_t D = Ck / H, Cv = v ? wm_tensor_cols(v) : H, Dv = Cv / H;
    if (N == 0) return WM_OK;
    int done = 0;
    WM_TRY(wm__gdn_gram_fast(be, k, v, beta, n_frames, P, A, &done));
    if (done) return WM_OK;
    int S = (int)(N / n_frames), bb = beta->dtype == WM_BF16;
    cudaStream_t s = wm__cuda_stream(be);
    uintptr_t al = (uintptr_t)k->data | (v ? (uintptr_t)v->data : 0);
    if (k->dtype == WM_BF16 && D == GR_D && (!v || Dv == GR_D) && (al & 15u) == 0 && Ck % 8 == 0 && (!v || Cv % 8 == 0)) {
        /* One block per (frame, head) is only 60 blocks for a 3-frame chunk on 132 SMs: split the frame's
         * tokens so there are ~2 blocks per SM, sum the partials in a second pass (deterministic, unlike
         * atomics), within the backend's scratch. */
        wm_cuda_ctx *cx = wm__cuda_ctx(be);
        int64_t per = (int64_t)n_frames * H * GR_D * GR_D, perA = (int64_t)n_frames * H * GR_D * Dv; /* floats */
        int nsplit = (int)((4 * cx->n_sm + 2 * n_frames * H - 1) / (2 * n_frames * H));
        int64_t fit = (int64_t)(cx->scratch_bytes / ((per + perA) * sizeof(float)));
        if (nsplit > fit) nsplit = (int)fit;
        if (nsplit > (S + GR_TOK - 1) / GR_TOK) nsplit = (S + GR_TOK - 1) / GR_TOK;
        if (nsplit < 2) nsplit = 1;
        int s_per = ((S + nsplit - 1) / nsplit + GR_TOK - 1) / GR_TOK * GR_TOK;
        nsplit = (S + s_per - 1) / s_per;
        float *pp = (float *)P->data, *pa = (float *)A->data;
        if (nsplit > 1) { pp = (float *)cx->scratch; pa = pp + nsplit * per; }
        dim3 grid((unsigned)(n_frames * H), (unsigned)nsplit, (unsigned)((GR_D / 16 + GR_HP - 1) / GR_HP));
        gdn_gram_tc_kernel<<<grid, GR_WARPS * 32, 0, s>>>((const bf16 *)k->data, v ? (const bf16 *)v->data : NULL, beta->data, bb,
                                                         pp, pa, S, (int)H, (int)Ck, (int)Cv, s_per);
        if (nsplit > 1) {
            WM_CUDA_LAUNCHED(be);
            gram_reduce_kernel<<<wm_grid1d(per, 256, 4096), 256, 0, s>>>(pp, nsplit, per, (float *)P->data);
            WM_CUDA_LAUNCHED(be);
            gram_reduce_kernel<<<wm_grid1d(perA, 256, 4096), 256, 0, s>>>(pa, nsplit, perA, (float *)A->data);
        }
    } else {
        int64_t per = D * D + D * Dv;
        dim3 grid((unsigned)((per + 255) / 256), (unsigned)(n_frames * H));
        if (k->dtype == WM_BF16)
            gdn_gram_simple_kernel<bf16><<<grid, 256, 0, s>>>((const bf16 *)k->data, v ? (const bf16 *)v->data : NULL,
                                                               beta->data, bb, (float *)P->data, (float *)A->data, S,
                                                               (int)H, (int)D, (int)Dv, (int)Ck, (int)Cv);
        else
            gdn_gram_simple_kernel<float><<<grid, 256, 0, s>>>((const float *)k->data, v ? (const float *)v->data : NULL,
                                                                beta->data, bb, (float *)P->data, (float *)A->data, S,
                                                                (int)H, (int)D, (int)Dv, (int)Ck, (int)Cv);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- scan (fp32) */

#define SC_W 8 /* 14 column slabs x 20 heads = 280 blocks: > 2 per SM */
#define SC_THREADS 256

/* One step on a column slab: nxt[i][j] = g * (cur[i][j] - sum_l P[i][l] cur[l][j]) + A[i][j].
 * Thread t owns column j = t % W and rows i = t / W + r * (blockDim / W): one shared load of cur[l][j]
 * serves up to 8 rows (register tile), so the inner loop is ~1 shared load per FMA instead of 2. */
__device__ void scan_step(const float *Pg, const float *Ag, float g, const float *cur, float *nxt, float *Ps, int D,
                          int Dv, int j0, int W)
{
    /* cp.async: every element's copy is in flight at once (a plain load->store loop serialises ~49
     * global-memory latencies per thread: ncu showed the scan instruction/latency-bound) */
    for (int c = threadIdx.x; c < D * D; c += blockDim.x) cp_async4(Ps + (c / D) * (D + 1) + c % D, Pg + c);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    const int j = threadIdx.x % W, i0 = threadIdx.x / W, rs = blockDim.x / W;
    if (i0 < rs) {
        float acc[8];
#pragma unroll
        for (int r = 0; r < 8; r++) acc[r] = 0.0f;
        for (int l = 0; l < D; l++) {
            float cv = cur[l * W + j];
#pragma unroll
            for (int r = 0; r < 8; r++) {
                int i = i0 + r * rs;
                if (i < D) acc[r] += Ps[i * (D + 1) + l] * cv;
            }
        }
#pragma unroll
        for (int r = 0; r < 8; r++) {
            int i = i0 + r * rs;
            if (i < D) nxt[i * W + j] = g * (cur[i * W + j] - acc[r]) + Ag[(int64_t)i * Dv + j0 + j];
        }
    }
    __syncthreads();
}

/* scan_bounds (chunk bounds by value, graph-capturable) lives in gdn_fast.cuh. */

__global__ void gdn_scan_kernel(const float *P, const float *A, const void *g, int g_bf16, const float *init,
                                float *st, float *fin, int T, int H, int D, int Dv, int rev, const scan_bounds bnd,
                                int n_chunks)
{
    extern __shared__ float sc_smem[];
    float *Ps = sc_smem, *m0 = Ps + D * (D + 1), *m1 = m0 + D * SC_W;
    int h = blockIdx.x, j0 = blockIdx.y * SC_W, W = min(SC_W, Dv - j0);
    int64_t DD = (int64_t)D * D, DV = (int64_t)D * Dv;
    float *cur = m0, *nxt = m1;
    if (!rev) {
        for (int o = threadIdx.x; o < D * W; o += blockDim.x)
            cur[o] = init ? init[h * DV + (int64_t)(o / W) * Dv + j0 + o % W] : 0.0f;
        __syncthreads();
        for (int t = 0; t < T; t++) {
            int64_t th = (int64_t)t * H + h;
            scan_step(P + th * DD, A + th * DV, wm_ldp(g, g_bf16, th), cur, nxt, Ps, D, Dv, j0, W);
            for (int o = threadIdx.x; o < D * W; o += blockDim.x) st[th * DV + (int64_t)(o / W) * Dv + j0 + o % W] = nxt[o];
            float *tmp = cur; cur = nxt; nxt = tmp;
        }
        if (fin)
            for (int o = threadIdx.x; o < D * W; o += blockDim.x) fin[h * DV + (int64_t)(o / W) * Dv + j0 + o % W] = cur[o];
        return;
    }
    for (int k = 0; k < n_chunks; k++) {
        int s = bnd.b[k], e = bnd.b[k + 1];
        for (int o = threadIdx.x; o < D * W; o += blockDim.x) {
            cur[o] = 0.0f;
            st[((int64_t)(e - 1) * H + h) * DV + (int64_t)(o / W) * Dv + j0 + o % W] = 0.0f;
        }
        __syncthreads();
        for (int t = e - 2; t >= s; t--) {
            int64_t tn = (int64_t)(t + 1) * H + h, th = (int64_t)t * H + h;
            scan_step(P + tn * DD, A + tn * DV, wm_ldp(g, g_bf16, tn), cur, nxt, Ps, D, Dv, j0, W);
            for (int o = threadIdx.x; o < D * W; o += blockDim.x) st[th * DV + (int64_t)(o / W) * Dv + j0 + o % W] = nxt[o];
            float *tmp = cur; cur = nxt; nxt = tmp;
        }
        __syncthreads();
    }
}

/* The argument contract of gdn_scan (and of each half of gdn_scan_fr); fills sb with the bounds. */
static wm_status scan_check(wm_backend *be, const wm_tensor *P, const wm_tensor *A, const wm_tensor *g,
                            const wm_tensor *init, int reverse, const int *bounds, int n_chunks,
                            const wm_tensor *states, const wm_tensor *final_state, scan_bounds *sb)
{
    WM_CUDA_DEV(be, P);
    WM_CUDA_DEV(be, A);
    WM_CUDA_FLOAT(be, g);
    WM_CUDA_DEV(be, states);
    WM_OP_CHECK(be, P->dtype == WM_F32 && A->dtype == WM_F32 && states->dtype == WM_F32, WM_ERR_DTYPE,
                "P, A and states must be fp32");
    WM_OP_CHECK(be, P->ndim == 4 && A->ndim == 4 && P->shape[2] == P->shape[3], WM_ERR_SHAPE,
                "P must be (T,H,D,D) and A (T,H,D,Dv)");
    int64_t T = P->shape[0], H = P->shape[1], D = P->shape[2], Dv = A->shape[3];
    WM_OP_CHECK(be, A->shape[0] == T && A->shape[1] == H && A->shape[2] == D, WM_ERR_SHAPE, "A must be (T,H,D,Dv)");
    WM_OP_CHECK(be, wm_tensor_numel(g) == T * H, WM_ERR_SHAPE, "g must be (T, H)");
    WM_OP_CHECK(be, wm_tensor_numel(states) == T * H * D * Dv, WM_ERR_SHAPE, "states must be (T,H,D,Dv)");
    WM_OP_CHECK(be, D <= 128, WM_ERR_UNSUPPORTED, "head dim above 128");
    memset(sb, 0, sizeof *sb);
    if (reverse) {
        WM_OP_CHECK(be, bounds && n_chunks > 0 && n_chunks <= WM_MAX_SCAN_CHUNKS && bounds[0] == 0 &&
                            bounds[n_chunks] == T, WM_ERR_INVALID_ARG, "reverse scan needs bounds from 0 to T");
        for (int k = 0; k < n_chunks; k++)
            WM_OP_CHECK(be, bounds[k + 1] > bounds[k], WM_ERR_INVALID_ARG, "bounds must increase");
        for (int i = 0; i <= n_chunks; i++) sb->b[i] = bounds[i];
    }
    if (init) {
        WM_CUDA_DEV(be, init);
        WM_OP_CHECK(be, init->dtype == WM_F32 && wm_tensor_numel(init) == H * D * Dv, WM_ERR_SHAPE,
                    "init must be fp32 (H, D, Dv)");
    }
    if (final_state) {
        WM_CUDA_DEV(be, final_state);
        WM_OP_CHECK(be, final_state->dtype == WM_F32 && wm_tensor_numel(final_state) == H * D * Dv, WM_ERR_SHAPE,
                    "final_state must be fp32 (H, D, Dv)");
    }
    return WM_OK;
}

extern "C" wm_status wm_gdn_scan_cuda(wm_backend *be, const wm_tensor *P, const wm_tensor *A, const wm_tensor *g,
                                      const wm_tensor *init, int reverse, const int *bounds, int n_chunks,
                                      wm_tensor *states, wm_tensor *final_state)
{
    scan_bounds sb;
    WM_TRY(scan_check(be, P, A, g, init, reverse, bounds, n_chunks, states, final_state, &sb));
    int64_t T = P->shape[0], H = P->shape[1], D = P->shape[2], Dv = A->shape[3];
    if (T == 0 || H == 0) return WM_OK;
    cudaStream_t s = wm__cuda_stream(be);
    int done = 0;
    WM_TRY(wm__gdn_scan_fast(be, P, A, g, init, reverse, &sb, n_chunks, states, final_state, NULL, &done));
    if (done) return WM_OK;
    size_t smem = ((size_t)D * (D + 1) + 2 * (size_t)D * SC_W) * sizeof(float);
    WM_TRY(wm__cuda_smem_optin(be, (const void *)gdn_scan_kernel, WM_SMEM_SCAN, smem));
    dim3 grid((unsigned)H, (unsigned)((Dv + SC_W - 1) / SC_W));
    gdn_scan_kernel<<<grid, SC_THREADS, smem, s>>>((const float *)P->data, (const float *)A->data, g->data,
                                                   g->dtype == WM_BF16, init ? (const float *)init->data : NULL,
                                                   (float *)states->data,
                                                   (!reverse && final_state) ? (float *)final_state->data : NULL,
                                                   (int)T, (int)H, (int)D, (int)Dv, reverse, sb, n_chunks);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* Forward + reverse in one launch of the second-generation kernels (WM_CUDA_GDN=old, or a shape they do
 * not take: the two scans one after the other). */
extern "C" wm_status wm_gdn_scan_fr_cuda(wm_backend *be, const wm_tensor *P, const wm_tensor *A, const wm_tensor *g,
                                         const wm_tensor *init, const int *bounds, int n_chunks, wm_tensor *states,
                                         wm_tensor *final_state, wm_tensor *rstates)
{
    WM_OP_CHECK(be, rstates && states && rstates->data != states->data, WM_ERR_INVALID_ARG,
                "rstates must be a tensor of its own");
    scan_bounds sb, sbr;
    WM_TRY(scan_check(be, P, A, g, init, 0, bounds, n_chunks, states, final_state, &sb));
    WM_TRY(scan_check(be, P, A, g, NULL, 1, bounds, n_chunks, rstates, NULL, &sbr));
    if (P->shape[0] == 0 || P->shape[1] == 0) return WM_OK;
    int done = 0;
    WM_TRY(wm__gdn_scan_fast(be, P, A, g, init, 0, &sbr, n_chunks, states, final_state, rstates, &done));
    if (done) return WM_OK;
    WM_TRY(wm_gdn_scan_cuda(be, P, A, g, init, 0, bounds, n_chunks, states, final_state));
    return wm_gdn_scan_cuda(be, P, A, g, NULL, 1, bounds, n_chunks, rstates, NULL);
}

/* ---------------------------------------------------------------- output (fp32) */

#define GO_TOK 64
#define GO_COLS 7 /* per thread: columns j = tid%16 + 16*c, c < 7 (Dv <= 112) */

template <typename TQ, typename TO>
__global__ void __launch_bounds__(256)
    gdn_output_kernel(const TQ *q, const float *Mf, const float *Mr, const TQ *qd, const float *zf, const float *zr,
                      float eps, TO *out, int S, int H, int D, int Dv)
{
    extern __shared__ float go_smem[];
    float *Ms = go_smem, *qs = Ms + D * Dv, *zs = qs + GO_TOK * (D + 1), *dens = zs + D;
    const int tiles = (S + GO_TOK - 1) / GO_TOK;
    const int fh = blockIdx.x / tiles, tile = blockIdx.x % tiles, f = fh / H, h = fh % H;
    const int s0 = tile * GO_TOK, C = H * D, Co = H * Dv;
    const int64_t mo = (int64_t)fh * D * Dv;
    for (int c = threadIdx.x; c < D * Dv; c += blockDim.x) Ms[c] = Mf[mo + c] + Mr[mo + c];
    if (qd)
        for (int c = threadIdx.x; c < D; c += blockDim.x) zs[c] = zf[(int64_t)fh * D + c] + zr[(int64_t)fh * D + c];
    for (int c = threadIdx.x; c < GO_TOK * D; c += blockDim.x) {
        int r = c / D, i = c % D, s = s0 + r;
        qs[r * (D + 1) + i] = s < S ? wm_ld(q, ((int64_t)f * S + s) * C + h * D + i) : 0.0f;
    }
    __syncthreads();
    if (qd && threadIdx.x < GO_TOK) { /* denominators: one thread per token */
        int s = s0 + threadIdx.x;
        float a = 0.0f;
        if (s < S)
            for (int i = 0; i < D; i++) a += wm_ld(qd, ((int64_t)f * S + s) * C + h * D + i) * zs[i];
        dens[threadIdx.x] = a + eps;
    }
    __syncthreads();
    const int jl = threadIdx.x % 16, tg = threadIdx.x / 16; /* 16 token groups of 4 */
    float acc[4][GO_COLS];
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int c = 0; c < GO_COLS; c++) acc[r][c] = 0.0f;
    for (int i = 0; i < D; i++) {
        float qv[4], mv[GO_COLS];
#pragma unroll
        for (int r = 0; r < 4; r++) qv[r] = qs[(4 * tg + r) * (D + 1) + i];
#pragma unroll
        for (int c = 0; c < GO_COLS; c++) {
            int j = jl + 16 * c;
            mv[c] = j < Dv ? Ms[i * Dv + j] : 0.0f;
        }
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int c = 0; c < GO_COLS; c++) acc[r][c] += qv[r] * mv[c];
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int s = s0 + 4 * tg + r;
        if (s >= S) continue;
        float inv = qd ? 1.0f / dens[4 * tg + r] : 1.0f;
#pragma unroll
        for (int c = 0; c < GO_COLS; c++) {
            int j = jl + 16 * c;
            if (j < Dv) wm_st(out, ((int64_t)f * S + s) * Co + h * Dv + j, acc[r][c] * inv);
        }
    }
}

/* Tensor-core readout for D = Dv = 112, bf16 q/out: M = Mf + Mr is split into bf16 hi + lo parts
 * (M = hi + lo to ~16 mantissa bits), so q.hi + q.lo on bf16 mma with fp32 accumulation reproduces the
 * fp32 product to ~1e-5 relative, while running on tensor cores. Block = 8 warps x 16 tokens. */
#define GT_TOK 128
#define GT_DP (GR_D + 8)

__global__ void __launch_bounds__(256)
    gdn_output_tc_kernel(const bf16 *q, const float *Mf, const float *Mr, const bf16 *qd, const float *zf,
                         const float *zr, float eps, bf16 *out, int S, int H)
{
    extern __shared__ __align__(16) unsigned char gt_smem[];
    bf16 *Mh = (bf16 *)gt_smem, *Ml = Mh + GR_D * GT_DP, *Qs = Ml + GR_D * GT_DP;
    float *zs = (float *)(Qs + GT_TOK * GT_DP);
    const int tiles = (S + GT_TOK - 1) / GT_TOK;
    const int fh = blockIdx.x / tiles, tile = blockIdx.x % tiles, f = fh / H, h = fh % H;
    const int s0 = tile * GT_TOK, C = H * GR_D, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t mo = (int64_t)fh * GR_D * GR_D;
    /* 4 pairs per thread per round, loads first so 8 global loads are in flight together */
    for (int c0 = threadIdx.x; c0 < GR_D * GR_D / 2; c0 += 4 * blockDim.x) {
        float2 a[4], b[4];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            int c = c0 + u * blockDim.x;
            if (c < GR_D * GR_D / 2) {
                a[u] = *(const float2 *)(Mf + mo + 2 * c);
                b[u] = *(const float2 *)(Mr + mo + 2 * c);
            }
        }
#pragma unroll
        for (int u = 0; u < 4; u++) {
            int c = c0 + u * blockDim.x;
            if (c >= GR_D * GR_D / 2) break;
            int i = (2 * c) / GR_D, j = (2 * c) % GR_D;
            float m0 = a[u].x + b[u].x, m1 = a[u].y + b[u].y;
            __nv_bfloat162 hi = __floats2bfloat162_rn(m0, m1);
            float2 hf = __bfloat1622float2(hi);
            *(__nv_bfloat162 *)(Mh + i * GT_DP + j) = hi;
            *(__nv_bfloat162 *)(Ml + i * GT_DP + j) = __floats2bfloat162_rn(m0 - hf.x, m1 - hf.y);
        }
    }
    if (qd)
        for (int c = threadIdx.x; c < GR_D; c += blockDim.x) zs[c] = zf[(int64_t)fh * GR_D + c] + zr[(int64_t)fh * GR_D + c];
    for (int c = threadIdx.x; c < GT_TOK * (GR_D / 8); c += blockDim.x) {
        int r = c / (GR_D / 8), cc = c % (GR_D / 8), s = s0 + r;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (s < S) v = *(const uint4 *)(q + ((int64_t)f * S + s) * C + h * GR_D + cc * 8);
        *(uint4 *)(Qs + r * GT_DP + cc * 8) = v;
    }
    __syncthreads();
    bf16 *Qw = Qs + warp * 16 * GT_DP;
    uint32_t qf[GR_D / 16][4];
#pragma unroll
    for (int ks = 0; ks < GR_D / 16; ks++) ldsm_x4(qf[ks], Qw + (lane & 15) * GT_DP + ks * 16 + (lane >> 4) * 8);
    float acc[GR_D / 8][4];
#pragma unroll
    for (int n = 0; n < GR_D / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    mma_hilo_product<GR_D, GT_DP>(acc, qf, Mh, Ml, lane);
    /* denominators of this thread's two rows (lane/4 and lane/4 + 8): a quad-parallel dot over D */
    float inv[2] = {1.0f, 1.0f};
    if (qd) {
#pragma unroll
        for (int rr = 0; rr < 2; rr++) {
            int s = s0 + warp * 16 + (lane >> 2) + 8 * rr;
            float a = 0.0f;
            if (s < S)
                for (int i = lane & 3; i < GR_D; i += 4)
                    a += __bfloat162float(qd[((int64_t)f * S + s) * C + h * GR_D + i]) * zs[i];
            a += __shfl_xor_sync(0xffffffffu, a, 1);
            a += __shfl_xor_sync(0xffffffffu, a, 2);
            inv[rr] = 1.0f / (a + eps);
        }
    }
    __syncwarp();
    int r = lane >> 2;
#pragma unroll
    for (int n = 0; n < GR_D / 8; n++) {
        int col = 8 * n + 2 * (lane & 3);
        *(__nv_bfloat162 *)(Qw + r * GT_DP + col) = __floats2bfloat162_rn(acc[n][0] * inv[0], acc[n][1] * inv[0]);
        *(__nv_bfloat162 *)(Qw + (r + 8) * GT_DP + col) = __floats2bfloat162_rn(acc[n][2] * inv[1], acc[n][3] * inv[1]);
    }
    __syncwarp();
    for (int c = lane; c < 16 * (GR_D / 8); c += 32) {
        int rr = c / (GR_D / 8), cc = c % (GR_D / 8), s = s0 + warp * 16 + rr;
        if (s < S) *(uint4 *)(out + ((int64_t)f * S + s) * C + h * GR_D + cc * 8) = *(const uint4 *)(Qw + rr * GT_DP + cc * 8);
    }
}

#define GO_LAUNCH(TQ, TO)                                                                          \
    gdn_output_kernel<TQ, TO><<<grid, 256, smem, s>>>((const TQ *)q->data, (const float *)Mf->data,           \
                                                      (const float *)Mr->data, qd ? (const TQ *)qd->data : NULL,  \
                                                      qd ? (const float *)zf->data : NULL,                      \
                                                      qd ? (const float *)zr->data : NULL, eps, (TO *)out->data,  \
                                                      S, (int)H, (int)D, (int)Dv)

/* The argument checks of gdn_output and gdn_output_ucpe. */
static wm_status output_check(wm_backend *be, const wm_tensor *q, const wm_tensor *Mf, const wm_tensor *Mr,
                              const wm_tensor *qd, const wm_tensor *zf, const wm_tensor *zr, wm_tensor *out)
{
    WM_CUDA_FLOAT(be, q);
    WM_CUDA_DEV(be, Mf);
    WM_CUDA_DEV(be, Mr);
    WM_CUDA_FLOAT(be, out);
    WM_OP_CHECK(be, Mf->dtype == WM_F32 && Mr->dtype == WM_F32, WM_ERR_DTYPE, "Mf and Mr must be fp32");
    WM_OP_CHECK(be, Mf->ndim == 4 && wm_tensor_same_shape(Mf, Mr), WM_ERR_SHAPE, "Mf, Mr must be (T,H,D,Dv)");
    int64_t T = Mf->shape[0], H = Mf->shape[1], D = Mf->shape[2], Dv = Mf->shape[3], N = wm_tensor_rows(q);
    WM_OP_CHECK(be, wm_tensor_cols(q) == H * D && N % T == 0, WM_ERR_SHAPE, "q must be (T*S, H*D)");
    WM_OP_CHECK(be, Dv <= 16 * GO_COLS && D <= 128, WM_ERR_UNSUPPORTED, "head dims above 112 (value) / 128 (key)");
    WM_OP_CHECK(be, wm_tensor_numel(out) == N * H * Dv, WM_ERR_SHAPE, "out must be (N, H*Dv)");
    if (qd) {
        WM_CUDA_FLOAT(be, qd);
        WM_OP_CHECK(be, qd->dtype == q->dtype, WM_ERR_DTYPE, "qd must have q's dtype");
        WM_OP_CHECK(be, zf && zr && wm_tensor_same_shape(q, qd), WM_ERR_SHAPE, "qd must be q-shaped with zf, zr");
        WM_OP_CHECK(be, zf->dtype == WM_F32 && zr->dtype == WM_F32, WM_ERR_DTYPE, "zf and zr must be fp32");
        WM_OP_CHECK(be, wm_tensor_numel(zf) == T * H * D && wm_tensor_numel(zr) == T * H * D, WM_ERR_SHAPE,
                    "zf, zr must be (T,H,D,1)");
    }
    return WM_OK;
}

extern "C" wm_status wm_gdn_output_cuda(wm_backend *be, const wm_tensor *q, const wm_tensor *Mf, const wm_tensor *Mr,
                                        const wm_tensor *qd, const wm_tensor *zf, const wm_tensor *zr, float eps,
                                        wm_tensor *out)
{
    WM_TRY(output_check(be, q, Mf, Mr, qd, zf, zr, out));
    int64_t T = Mf->shape[0], H = Mf->shape[1], D = Mf->shape[2], Dv = Mf->shape[3], N = wm_tensor_rows(q);
    if (N == 0) return WM_OK;
    int done = 0;
    WM_TRY(wm__gdn_output_fast(be, q, Mf, Mr, qd, zf, zr, eps, NULL, out, &done));
    if (done) return WM_OK;
    int S = (int)(N / T);
    size_t smem = ((size_t)D * Dv + GO_TOK * (D + 1) + D + GO_TOK) * sizeof(float);
    cudaStream_t s = wm__cuda_stream(be);
    dim3 grid((unsigned)(T * H * ((S + GO_TOK - 1) / GO_TOK)));
    uintptr_t al = (uintptr_t)q->data | (uintptr_t)out->data | (qd ? (uintptr_t)qd->data : 0);
    if (q->dtype == WM_BF16 && out->dtype == WM_BF16 && D == GR_D && Dv == GR_D && (al & 15u) == 0) {
        size_t sm2 = (2 * GR_D + GT_TOK) * GT_DP * sizeof(bf16) + GR_D * sizeof(float);
        WM_TRY(wm__cuda_smem_optin(be, (const void *)gdn_output_tc_kernel, WM_SMEM_GOTC, sm2));
        gdn_output_tc_kernel<<<(unsigned)(T * H * ((S + GT_TOK - 1) / GT_TOK)), 256, sm2, s>>>(
            (const bf16 *)q->data, (const float *)Mf->data, (const float *)Mr->data, qd ? (const bf16 *)qd->data : NULL,
            qd ? (const float *)zf->data : NULL, qd ? (const float *)zr->data : NULL, eps, (bf16 *)out->data, S, (int)H);
    } else if (q->dtype == WM_BF16 && out->dtype == WM_BF16) {
        WM_TRY(wm__cuda_smem_optin(be, (const void *)gdn_output_kernel<bf16, bf16>, WM_SMEM_GO0, smem));
        GO_LAUNCH(bf16, bf16);
    } else if (q->dtype == WM_BF16) {
        WM_TRY(wm__cuda_smem_optin(be, (const void *)gdn_output_kernel<bf16, float>, WM_SMEM_GO1, smem));
        GO_LAUNCH(bf16, float);
    } else if (out->dtype == WM_BF16) {
        WM_TRY(wm__cuda_smem_optin(be, (const void *)gdn_output_kernel<float, bf16>, WM_SMEM_GO2, smem));
        GO_LAUNCH(float, bf16);
    } else {
        WM_TRY(wm__cuda_smem_optin(be, (const void *)gdn_output_kernel<float, float>, WM_SMEM_GO3, smem));
        GO_LAUNCH(float, float);
    }
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

/* ---------------------------------------------------------------- camera-embedded GDN ops */

/* The fused kernels' view of dit_qk_prep's embedding arguments (already shape-checked); 0 when they cannot
 * take them: fp32 16-byte-aligned tables, 8-column chunks inside one range. */
static int cam_emb_make(const wm_tensor *mats, int transpose, const wm_tensor *cos, const wm_tensor *sin, int64_t D,
                        int off, int conj, int64_t P, cam_emb_args *e)
{
    if (mats && (mats->dtype != WM_F32 || ((uintptr_t)mats->data & 15u) || (D / 2) % 8)) return 0;
    if (cos && (cos->dtype != WM_F32 || sin->dtype != WM_F32 || (((uintptr_t)cos->data | (uintptr_t)sin->data) & 15u) ||
                P % 4 || off % 8))
        return 0;
    *e = cam_emb_args{mats ? (const float *)mats->data : NULL, cos ? (const float *)cos->data : NULL,
                      cos ? (const float *)sin->data : NULL, transpose != 0, conj ? -1.0f : 1.0f, (int)(D / 2), off,
                      (int)P};
    return 1;
}

static wm_status emb_tables_on_device(wm_backend *be, const wm_tensor *mats, const wm_tensor *cos, const wm_tensor *sin)
{
    if (mats) WM_CUDA_DEV(be, mats);
    if (cos) WM_CUDA_DEV(be, cos);
    if (sin) WM_CUDA_DEV(be, sin);
    return WM_OK;
}

/* gdn_output_ucpe: the readout kernel embeds its output tile before the store; otherwise gdn_output and
 * an in-place dit_qk_prep (the op's definition). */
extern "C" wm_status wm_gdn_output_ucpe_cuda(wm_backend *be, const wm_tensor *q, const wm_tensor *Mf,
                                             const wm_tensor *Mr, const wm_tensor *mats, int transpose,
                                             const wm_tensor *cos, const wm_tensor *sin, int dim_offset, int conj,
                                             wm_tensor *out)
{
    WM_TRY(output_check(be, q, Mf, Mr, NULL, NULL, NULL, out));
    WM_TRY(emb_tables_on_device(be, mats, cos, sin));
    const int64_t H = Mf->shape[1];
    int64_t P = 0;
    WM_TRY(wm_dit_qk_prep_shape(be, out, NULL, mats, cos, sin, (int)H, dim_offset, out, NULL, &P));
    if (wm_tensor_rows(q) == 0) return WM_OK;
    cam_emb_args e;
    int done = 0;
    if (cam_emb_make(mats, transpose, cos, sin, Mf->shape[3], dim_offset, conj, P, &e))
        WM_TRY(wm__gdn_output_fast(be, q, Mf, Mr, NULL, NULL, NULL, 0.0f, &e, out, &done));
    if (done) return WM_OK;
    WM_TRY(wm_gdn_output_cuda(be, q, Mf, Mr, NULL, NULL, NULL, 0.0f, out));
    return wm_dit_qk_prep_cuda(be, out, NULL, 0.0f, 0, mats, transpose, cos, sin, (int)H, dim_offset, conj, out, NULL);
}
