/* Gemma-2 attention_gqa on bf16 tensor cores: causal grouped-query flash attention with logit
 * soft-capping, key mask and sliding window (the default CUDA path of the op; text_ops.cu keeps the
 * warp-per-query kernel for fp32 tensors, other head dims and WM_CUDA_TEXT_ATTN=old).
 *
 * Why a kernel of its own rather than attention.cu's: the text encoder needs head dim 256, GQA (query
 * head h reads kv head h / group), a causal + sliding-window visibility rule and cap * tanh(s / cap)
 * on every logit, none of which the DiT kernel has. Scheme (FlashAttention-2 with mma.sync m16n8k16,
 * bf16 operands, fp32 accumulation, the fragment layouts of mma.cuh):
 *   - block = 4 warps = 64 consecutive queries of one query head (grid: ceil(N/64) x H); each warp owns
 *     16 query rows for the whole key loop, so the row max m and row sum l stay in registers;
 *   - the Q tile (64 x D) stays in shared memory and its A fragments are re-read with ldmatrix per key
 *     tile: at D = 256, 128 fp32 accumulators per thread leave no room to also hold Q in registers;
 *   - keys/values stream in tiles of 32 rows, double-buffered with cp.async; only tiles that some query
 *     of the block can see are visited ([q0 - window + 1, q0 + 63]), and a warp skips a tile that none
 *     of its own 16 rows can see; rows past N are zero-filled and masked;
 *   - logits: s = scale * q.k, s = cap * tanh(s / cap), then the causal / window / key-mask rule gives
 *     -inf; the softmax runs in the exp2 domain; P goes from the accumulator registers straight into the
 *     P.V mma as bf16 (the usual flash-attention rounding, ~1e-3 relative);
 *   - a query with no visible key outputs zeros (row sum 0), as the CPU reference does.
 * Shared memory: (64 + 4 * 32) rows of D + 8 bf16 (padding keeps ldmatrix conflict-free) + 2 x 32 mask
 * floats = 101,632 bytes at D = 256 (opt-in above 48 KB; 2 blocks per SM). Instantiated for D = 16, 32,
 * 64 and 256; other head dims use the warp-per-query kernel.
 * Expected time at the real size (300 tokens, 8 / 4 heads of 256): 40 blocks, <= 10 key tiles each,
 * 128 mma per warp per tile -> ~10 us per call (the warp-per-query kernel: a serial key loop of
 * ~300 dependent steps per query, ~0.1-0.3 ms).
 */
#include "cuda_common.cuh"
#include "mma.cuh"

#include <math.h>

#define GF_BM 64
#define GF_BN 32
#define GF_THREADS 128
#define GF_LOG2E 1.4426950408889634f

template <int D> static constexpr size_t gf_smem_bytes()
{
    return (size_t)(GF_BM + 4 * GF_BN) * (D + 8) * sizeof(bf16) + 2 * GF_BN * sizeof(float);
}

typedef struct {
    const bf16 *q, *k, *v;
    const uint8_t *mask;
    bf16 *o;
    int N, H, group, window;
    float scale, softcap, inv_cap;
} gf_args;

/* cp.async the key/value rows [k0, k0 + 32) into buffer buf, and their additive mask (0 or -inf). */
template <int D>
__device__ __forceinline__ void gf_load_kv(const gf_args &a, const bf16 *kh, const bf16 *vh, bf16 *Ks, bf16 *Vs,
                                           float *valid, int k0, int buf, int ldk)
{
    constexpr int DP = D + 8, CH = D / 8;
    for (int c = threadIdx.x; c < GF_BN * CH; c += GF_THREADS) {
        int r = c / CH, cc = c - r * CH, gr = k0 + r, ok = gr < a.N;
        int64_t off = (int64_t)(ok ? gr : 0) * ldk + cc * 8;
        cp_async16(Ks + (buf * GF_BN + r) * DP + cc * 8, kh + off, ok ? 16 : 0);
        cp_async16(Vs + (buf * GF_BN + r) * DP + cc * 8, vh + off, ok ? 16 : 0);
    }
    if (threadIdx.x < GF_BN) {
        int gr = k0 + threadIdx.x;
        valid[buf * GF_BN + threadIdx.x] = gr < a.N && (!a.mask || a.mask[gr]) ? 0.0f : -INFINITY;
    }
}

/* S = Q K^T for this warp's 16 rows (qrow0..qrow0+15) and the tile's 32 keys, then scale, soft-cap and
 * the causal / window / key-mask rule, in log2 units (-inf = not visible). */
template <int D>
__device__ __forceinline__ void gf_scores(const gf_args &a, const bf16 *Qw, const bf16 *Kb, const float *valid, int k0,
                                          int qrow0, float (*s)[4])
{
    constexpr int DP = D + 8, KS = D / 16;
    const int lane = threadIdx.x & 31, g = lane >> 2, c4 = lane & 3;
#pragma unroll
    for (int n = 0; n < 4; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < KS; ks++) {
        uint32_t qa[4];
        ldsm_x4(qa, Qw + (lane & 15) * DP + ks * 16 + (lane >> 4) * 8);
#pragma unroll
        for (int j = 0; j < 2; j++) {
            uint32_t b[4];
            ldsm_x4(b, Kb + (16 * j + (lane & 7) + ((lane >> 4) << 3)) * DP + ks * 16 + ((lane >> 3) & 1) * 8);
            mma_bf16(s[2 * j], qa, b[0], b[1]);
            mma_bf16(s[2 * j + 1], qa, b[2], b[3]);
        }
    }
#pragma unroll
    for (int n = 0; n < 4; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int col = 8 * n + 2 * c4 + (e & 1), kj = k0 + col, qi = qrow0 + g + 8 * (e >> 1);
            float x = s[n][e] * a.scale;
            if (a.softcap > 0.0f) x = a.softcap * tanhf(x * a.inv_cap);
            int vis = kj <= qi && (a.window <= 0 || qi - kj < a.window);
            s[n][e] = vis ? x * GF_LOG2E + valid[col] : -INFINITY;
        }
    }
}

/* O += P V over the tile's 32 keys: P (the exponentiated scores, in the accumulator layout, which is the
 * A-operand layout) goes to the mma as bf16; V through ldmatrix.trans. */
template <int D>
__device__ __forceinline__ void gf_pv(const bf16 *Vb, float (*s)[4], float (*acc)[4])
{
    constexpr int DP = D + 8;
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int t2 = 0; t2 < 2; t2++) { /* keys 16 t2 .. 16 t2 + 15 */
        uint32_t pa[4] = {pack_bf16(s[2 * t2][0], s[2 * t2][1]), pack_bf16(s[2 * t2][2], s[2 * t2][3]),
                          pack_bf16(s[2 * t2 + 1][0], s[2 * t2 + 1][1]), pack_bf16(s[2 * t2 + 1][2], s[2 * t2 + 1][3])};
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
            uint32_t b[4];
            ldsm_x4_t(b, Vb + (16 * t2 + (lane & 7) + ((lane >> 3) & 1) * 8) * DP + 16 * dp + ((lane >> 4) & 1) * 8);
            mma_bf16(acc[2 * dp], pa, b[0], b[1]);
            mma_bf16(acc[2 * dp + 1], pa, b[2], b[3]);
        }
    }
}

/* One key tile for this warp's 16 rows: scores, online softmax update (running max m, sum l, rescaled
 * accumulator), O += P V. */
template <int D>
__device__ __forceinline__ void gf_tile(const gf_args &a, const bf16 *Qw, const bf16 *Kb, const bf16 *Vb,
                                        const float *valid, int k0, int qrow0, float (*acc)[4], float *mrow,
                                        float *lrow)
{
    constexpr int NT = D / 8;
    float s[4][4];
    gf_scores<D>(a, Qw, Kb, valid, k0, qrow0, s);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < 4; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
    }
    mma_online_softmax<NT, 4>(mx, mrow, lrow, acc, s);
    gf_pv<D>(Vb, s, acc);
}

/* Normalise this warp's 16 rows by their sums and store them, staged through the warp's own Q rows so
 * the global stores are 16 bytes wide. */
template <int D>
__device__ __forceinline__ void gf_store(const gf_args &a, float (*acc)[4], const float *lrow, bf16 *Ow, int qrow0,
                                         int h)
{
    constexpr int DP = D + 8, NT = D / 8, CH = D / 8;
    const int lane = threadIdx.x & 31, r = lane >> 2;
    float inv[2];
    mma_row_inv(lrow, inv);
#pragma unroll
    for (int n = 0; n < NT; n++) {
        int col = 8 * n + 2 * (lane & 3);
        *(uint32_t *)(Ow + r * DP + col) = pack_bf16(acc[n][0] * inv[0], acc[n][1] * inv[0]);
        *(uint32_t *)(Ow + (r + 8) * DP + col) = pack_bf16(acc[n][2] * inv[1], acc[n][3] * inv[1]);
    }
    __syncwarp();
    const int64_t ldq = (int64_t)a.H * D;
    for (int c = lane; c < 16 * CH; c += 32) {
        int rr = c / CH, cc = c - rr * CH;
        if (qrow0 + rr < a.N)
            *(uint4 *)(a.o + (int64_t)(qrow0 + rr) * ldq + (int64_t)h * D + cc * 8) = *(const uint4 *)(Ow + rr * DP + cc * 8);
    }
}

template <int D> __global__ void __launch_bounds__(GF_THREADS, 2) gqa_flash_kernel(gf_args a)
{
    constexpr int DP = D + 8, NT = D / 8, CH = D / 8;
    extern __shared__ __align__(16) unsigned char gf_smem[];
    bf16 *Qs = (bf16 *)gf_smem, *Ks = Qs + GF_BM * DP, *Vs = Ks + 2 * GF_BN * DP;
    float *valid = (float *)(Vs + 2 * GF_BN * DP);
    const int h = blockIdx.y, hk = h / a.group, q0 = blockIdx.x * GF_BM, warp = threadIdx.x >> 5;
    const int64_t ldq = (int64_t)a.H * D, ldk = (int64_t)(a.H / a.group) * D;
    const bf16 *qh = a.q + (int64_t)h * D, *kh = a.k + (int64_t)hk * D, *vh = a.v + (int64_t)hk * D;

    for (int c = threadIdx.x; c < GF_BM * CH; c += GF_THREADS) {
        int r = c / CH, cc = c - r * CH, gr = q0 + r, ok = gr < a.N;
        cp_async16(Qs + r * DP + cc * 8, qh + (int64_t)(ok ? gr : 0) * ldq + cc * 8, ok ? 16 : 0);
    }
    const int qlast = min(q0 + GF_BM, a.N) - 1;
    const int lo = a.window > 0 ? max(0, q0 - a.window + 1) : 0;
    const int t0 = lo / GF_BN, t1 = qlast / GF_BN + 1; /* key tiles some query of the block can see */
    gf_load_kv<D>(a, kh, vh, Ks, Vs, valid, t0 * GF_BN, 0, (int)ldk);
    cp_async_commit();

    float acc[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
    const int qrow0 = q0 + warp * 16;
    bf16 *Qw = Qs + warp * 16 * DP;
    for (int t = t0; t < t1; t++) {
        const int buf = (t - t0) & 1, k0 = t * GF_BN;
        if (t + 1 < t1) {
            gf_load_kv<D>(a, kh, vh, Ks, Vs, valid, k0 + GF_BN, buf ^ 1, (int)ldk);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        /* warp-uniform: no row of this warp sees any key of the tile (future keys, or all outside the
         * window), or the warp's rows are all past N */
        int skip = qrow0 >= a.N || k0 > qrow0 + 15 || (a.window > 0 && qrow0 - (k0 + GF_BN - 1) >= a.window);
        if (!skip)
            gf_tile<D>(a, Qw, Ks + buf * GF_BN * DP, Vs + buf * GF_BN * DP, valid + buf * GF_BN, k0, qrow0, acc, mrow,
                       lrow);
        __syncthreads(); /* buffer buf is refilled by the next iteration's prefetch */
    }
    if (qrow0 < a.N) gf_store<D>(a, acc, lrow, Qw, qrow0, h);
}

template <int D> static wm_status gf_launch(wm_backend *be, const gf_args *a, int *used)
{
    size_t smem = gf_smem_bytes<D>();
    if (smem > wm__cuda_ctx(be)->smem_optin) return WM_OK; /* a GPU with less shared memory: general kernel */
    if (smem > 48 * 1024) WM_TRY(wm__cuda_smem_optin(be, (const void *)gqa_flash_kernel<D>, WM_SMEM_TEXT_GQA, smem));
    dim3 grid((unsigned)((a->N + GF_BM - 1) / GF_BM), (unsigned)a->H);
    gqa_flash_kernel<D><<<grid, GF_THREADS, smem, wm__cuda_stream(be)>>>(*a);
    WM_CUDA_LAUNCHED(be);
    *used = 1;
    return WM_OK;
}

static int aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

/* Runs the tensor-core kernel when it applies (all four tensors bf16, head dim 16/32/64/256, 16-byte
 * aligned rows) and sets *used; otherwise leaves *used = 0 for the caller's general kernel. Shapes were
 * checked by the caller (kernels/text_shapes.c). */
extern "C" wm_status wm__text_gqa_flash(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                                        const wm_tensor *key_mask, int n_heads, int n_kv_heads, float scale,
                                        float softcap, int window, wm_tensor *o, int *used)
{
    *used = 0;
    if (q->dtype != WM_BF16 || k->dtype != WM_BF16 || v->dtype != WM_BF16 || o->dtype != WM_BF16) return WM_OK;
    if (!aligned16(q->data) || !aligned16(k->data) || !aligned16(v->data) || !aligned16(o->data)) return WM_OK;
    int64_t N = wm_tensor_rows(q), D = wm_tensor_cols(q) / n_heads;
    if (N <= 0 || N >= (1LL << 30)) return WM_OK;
    gf_args a = {(const bf16 *)q->data, (const bf16 *)k->data, (const bf16 *)v->data,
                 key_mask ? (const uint8_t *)key_mask->data : NULL, (bf16 *)o->data, (int)N, n_heads,
                 n_heads / n_kv_heads, window, scale, softcap, softcap > 0.0f ? 1.0f / softcap : 0.0f};
    switch (D) {
    case 16: return gf_launch<16>(be, &a, used);
    case 32: return gf_launch<32>(be, &a, used);
    case 64: return gf_launch<64>(be, &a, used);
    case 256: return gf_launch<256>(be, &a, used);
    default: return WM_OK;
    }
}
