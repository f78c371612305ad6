/* Second-generation GDN kernels (spec §3.4-§3.7): Gram sums without a partial-sum pass, and the frame
 * scan on tensor cores. The previous kernels (gdn.cu) stay selectable with WM_CUDA_GDN=old.
 *
 * gdn_gram (D = Dv = 112, bf16 k/v): one cluster of 2 CTAs per (frame, head, column group); the two
 *   CTAs split the frame's tokens in halves and their partial sums meet through distributed shared
 *   memory (deterministic p0 + p1, no scratch round trip, no second launch). Column groups: with v,
 *   z = 0 computes P = K^T diag(b) K and z = 1 A = K^T diag(b) V (112 columns each, 14 n-tiles per warp);
 *   without v, z = 0/1 are the two 56-column halves of P and z = 0 also sums b = sum beta k in fp32.
 *   Grid 60 x 2 x 2 = 240 CTAs of 7 warps at the streaming shape (2 per SM: 94 KB smem, <= 146 regs).
 *   Tokens stream through a 3-stage cp.async pipeline of 64-token tiles; beta is applied to the A
 *   fragments in registers (beta*k rounded to bf16, as the previous kernel and the reference's bf16 phase A).
 * gdn_scan, Dv % 16 == 0: M_t = g (M_{t-1} - P_t M_{t-1}) + A_t with P M on tensor cores in 3xTF32
 *   (P = Ph + Pl, M = Mh + Ml in tf32; Ph Mh + Ph Ml + Pl Mh in three accumulators: ~2^-21 relative,
 *   fp32-class). One CTA per (head, 16-column slab of M): columns evolve independently. Warp w owns rows
 *   16w.. of P, staged warp-privately with cp.async; the next step's rows are issued as soon as the
 *   current ones sit in registers, so the load overlaps the mma and the epilogue. One barrier per step.
 * gdn_scan, Dv == 1 (denominator z): one CTA per head, 4 threads per row of P, P of the next two steps
 *   in flight (3-slot cp.async ring), exact fp32 dot products.
 */
#include "gdn_fast.cuh"
#include "cam_emb.cuh"
#include "mma.cuh"

#include <cooperative_groups.h>

namespace cg = cooperative_groups;

wm_status wm__gdn_smem_optin(wm_backend *be, const void *func, int slot, size_t bytes)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    if (c->gdn_smem[slot] >= bytes) return WM_OK;
    if (bytes > c->smem_optin)
        return wm__errf(&be->err, WM_ERR_UNSUPPORTED, "kernel needs %zu bytes of shared memory, the GPU allows %zu",
                        bytes, c->smem_optin);
    WM_CUDA_TRY(be, cudaFuncSetAttribute(func, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    c->gdn_smem[slot] = bytes;
    return WM_OK;
}

/* ---------------------------------------------------------------- gram (clusters of 2) */

#define GC_TOK 64
#define GC_D 112
#define GC_DP 120 /* smem row pitch (bf16): 240 B rows put ldmatrix's 8 rows in 8 distinct 16-byte bank groups */
#define GC_ST 3
#define GC_THREADS 224

__device__ __forceinline__ void scale_bf16x2(uint32_t &a, float2 b)
{
    __nv_bfloat162 x = *(__nv_bfloat162 *)&a;
    float2 f = __bfloat1622float2(x);
    x = __floats2bfloat162_rn(f.x * b.x, f.y * b.y);
    a = *(uint32_t *)&x;
}

template <int NT>
__global__ void __cluster_dims__(1, 2, 1) __launch_bounds__(GC_THREADS, 2)
    gdn_gram_cl_kernel(const bf16 *__restrict__ k, const bf16 *__restrict__ v, const void *beta, int beta_bf16,
                       float *P, float *A, int S, int H, int ldk, int ldv, int s_half, int s_pad)
{
    extern __shared__ __align__(16) unsigned char gc_smem[];
    cg::cluster_group cl = cg::this_cluster();
    const int rank = (int)cl.block_rank();
    const int fh = blockIdx.x, f = fh / H, h = fh % H, z = blockIdx.z;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, cq = lane & 3;
    const bool useV = v != nullptr && z == 1; /* B operand from v: the A = K^T diag(beta) V block */
    const int col0 = v ? 0 : 56 * z;          /* k-only form: P in two 56-column halves */
    const bool bvec = v == nullptr && z == 0; /* this CTA also sums b = sum beta k in fp32 */
    const int t0 = min(S, rank * s_half), t1 = min(S, t0 + s_half);
    const int ntile = (t1 - t0 + GC_TOK - 1) / GC_TOK;
    bf16 *kst = (bf16 *)gc_smem, *vst = kst + GC_ST * GC_TOK * GC_DP;
    float *bs = (float *)(vst + GC_ST * GC_TOK * GC_DP), *bred = bs + s_pad;
    auto load = [&](int it) {
        const int sl = it % GC_ST, tb = t0 + it * GC_TOK;
        bf16 *kd = kst + sl * GC_TOK * GC_DP, *vd = vst + sl * GC_TOK * GC_DP;
        for (int c = threadIdx.x; c < GC_TOK * (GC_D / 8); c += GC_THREADS) {
            const int r = c / (GC_D / 8), q = c % (GC_D / 8), s = tb + r;
            const bool ok = s < t1; /* rows past the half are zero-filled (src-size 0) */
            const int64_t n = (int64_t)f * S + (ok ? s : t0);
            cp_async16(kd + r * GC_DP + 8 * q, k + n * ldk + h * GC_D + 8 * q, ok ? 16 : 0);
            if (useV) cp_async16(vd + r * GC_DP + 8 * q, v + n * ldv + h * GC_D + 8 * q, ok ? 16 : 0);
        }
    };
#pragma unroll
    for (int p = 0; p < GC_ST - 1; p++) {
        if (p < ntile) load(p);
        cp_async_commit();
    }
    /* beta of the half into shared memory while the first tiles are in flight (the loop's first barrier
     * publishes it) */
    for (int i = threadIdx.x; i < s_pad; i += GC_THREADS) {
        int s = t0 + i;
        bs[i] = s < t1 ? wm_ldp(beta, beta_bf16, ((int64_t)f * S + s) * H + h) : 0.0f;
    }
    float acc[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float avec = 0.0f;
    for (int it = 0; it < ntile; it++) {
        cp_async_wait<GC_ST - 2>();
        __syncthreads(); /* tile it landed for every thread; tile it-1's slot is free */
        if (it + GC_ST - 1 < ntile) load(it + GC_ST - 1);
        cp_async_commit();
        const bf16 *ks = kst + (it % GC_ST) * GC_TOK * GC_DP;
        const bf16 *bsrc = useV ? vst + (it % GC_ST) * GC_TOK * GC_DP : ks;
        const float *bt = bs + it * GC_TOK;
#pragma unroll
        for (int t = 0; t < GC_TOK / 16; t++) {
            /* A = (beta k)^T: rows = dims 16*warp.., k = tokens 16t..; registers 0,1 hold tokens 2c, 2c+1 and
             * 2,3 tokens 2c+8, 2c+9 (ldmatrix.trans of the [token][dim] tile) */
            uint32_t a[4];
            ldsm_x4_t(a, ks + (16 * t + (lane & 7) + ((lane >> 4) << 3)) * GC_DP + 16 * warp + ((lane >> 3) & 1) * 8);
            const float2 b01 = *(const float2 *)(bt + 16 * t + 2 * cq), b89 = *(const float2 *)(bt + 16 * t + 2 * cq + 8);
            scale_bf16x2(a[0], b01);
            scale_bf16x2(a[1], b01);
            scale_bf16x2(a[2], b89);
            scale_bf16x2(a[3], b89);
#pragma unroll
            for (int q = 0; q < (NT + 1) / 2; q++) {
                uint32_t b[4];
                ldsm_x4_t(b, bsrc + (16 * t + (lane & 7) + ((lane >> 3) & 1) * 8) * GC_DP + col0 + 16 * q +
                                 ((lane >> 4) & 1) * 8);
                mma_bf16(acc[2 * q], a, b[0], b[1]);
                if (2 * q + 1 < NT) mma_bf16(acc[2 * q + 1], a, b[2], b[3]);
            }
        }
        if (bvec && threadIdx.x < GC_D)
            for (int r = 0; r < GC_TOK; r++) avec += bt[r] * __bfloat162float(ks[r * GC_DP + threadIdx.x]);
    }
    cp_async_wait<0>();
    __syncthreads(); /* the stages are reused as the partial-sum tile */
    constexpr int RP = NT * 8 + 4;
    float *red = (float *)gc_smem;
    {
        const int r = 16 * warp + (lane >> 2);
#pragma unroll
        for (int n = 0; n < NT; n++) {
            const int c = 8 * n + 2 * cq;
            *(float2 *)(red + r * RP + c) = make_float2(acc[n][0], acc[n][1]);
            *(float2 *)(red + (r + 8) * RP + c) = make_float2(acc[n][2], acc[n][3]);
        }
    }
    if (bvec && threadIdx.x < GC_D) bred[threadIdx.x] = avec;
    cl.sync(); /* both halves' partials are visible cluster-wide */
    const float *r0p = rank == 0 ? red : cl.map_shared_rank(red, 0);
    const float *r1p = rank == 1 ? red : cl.map_shared_rank(red, 1);
    float *dst = (useV ? A : P) + (int64_t)fh * GC_D * GC_D;
    constexpr int C4 = NT * 2; /* float4 per row */
    for (int i = threadIdx.x; i < (GC_D / 2) * C4; i += GC_THREADS) {
        const int r = rank * (GC_D / 2) + i / C4, q = i % C4;
        const float4 x = *(const float4 *)(r0p + r * RP + 4 * q), y = *(const float4 *)(r1p + r * RP + 4 * q);
        *(float4 *)(dst + (int64_t)r * GC_D + col0 + 4 * q) = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
    }
    if (bvec && rank == 0 && threadIdx.x < GC_D) {
        const float *b1 = cl.map_shared_rank(bred, 1);
        A[(int64_t)fh * GC_D + threadIdx.x] = bred[threadIdx.x] + b1[threadIdx.x];
    }
    cl.sync(); /* keep this CTA's shared memory alive until the peer has read it */
}

static int al16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

wm_status wm__gdn_gram_fast(wm_backend *be, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                            int n_frames, wm_tensor *P, wm_tensor *A, int *done)
{
    wm_cuda_ctx *cx = wm__cuda_ctx(be);
    *done = 0;
    int64_t N = wm_tensor_rows(k), Ck = wm_tensor_cols(k), H = wm_tensor_cols(beta), Cv = v ? wm_tensor_cols(v) : 0;
    if (cx->gdn_old || k->dtype != WM_BF16 || Ck != H * GC_D || (v && (v->dtype != WM_BF16 || Cv != H * GC_D)))
        return WM_OK;
    if (!al16(k->data) || (v && !al16(v->data)) || !al16(P->data) || !al16(A->data) || Ck % 8 || Cv % 8) return WM_OK;
    int S = (int)(N / n_frames), s_half = (S + 1) / 2, s_pad = (s_half + GC_TOK - 1) / GC_TOK * GC_TOK;
    size_t smem = 2 * (size_t)GC_ST * GC_TOK * GC_DP * sizeof(bf16) + ((size_t)s_pad + GC_D) * sizeof(float);
    if (smem > 200 * 1024 || (int64_t)n_frames * H > 0x7fffffff) return WM_OK;
    dim3 grid((unsigned)(n_frames * H), 2, 2);
    cudaStream_t s = wm__cuda_stream(be);
    if (v) {
        WM_TRY(wm__gdn_smem_optin(be, (const void *)gdn_gram_cl_kernel<14>, WM_GSM_GRAM14, smem));
        gdn_gram_cl_kernel<14><<<grid, GC_THREADS, smem, s>>>((const bf16 *)k->data, (const bf16 *)v->data, beta->data,
                                                             beta->dtype == WM_BF16, (float *)P->data, (float *)A->data,
                                                             S, (int)H, (int)Ck, (int)Cv, s_half, s_pad);
    } else {
        WM_TRY(wm__gdn_smem_optin(be, (const void *)gdn_gram_cl_kernel<7>, WM_GSM_GRAM7, smem));
        gdn_gram_cl_kernel<7><<<grid, GC_THREADS, smem, s>>>((const bf16 *)k->data, nullptr, beta->data,
                                                            beta->dtype == WM_BF16, (float *)P->data, (float *)A->data,
                                                            S, (int)H, (int)Ck, 0, s_half, s_pad);
    }
    WM_CUDA_LAUNCHED(be);
    *done = 1;
    return WM_OK;
}

/* ---------------------------------------------------------------- scan */

/* Step idx of a scan: source frame fs (whose P, A, g are applied), destination frame fd, reset = the
 * state restarts from zero (reverse: first step of a chunk). Forward: fs = fd = idx. Reverse, chunk
 * [s, e): R_t for t = e-2 .. s from frame t+1; R_{e-1} = 0 is written separately. */
__device__ __forceinline__ bool scan_sched(int rev, int T, const scan_bounds &b, int nc, int idx, int &fs, int &fd,
                                           int &reset)
{
    if (!rev) {
        fs = fd = idx;
        reset = 0;
        return idx < T;
    }
    for (int kk = 0; kk < nc; kk++) {
        const int n = b.b[kk + 1] - b.b[kk] - 1;
        if (idx < n) {
            fs = b.b[kk + 1] - 1 - idx;
            fd = fs - 1;
            reset = idx == 0;
            return true;
        }
        idx -= n;
    }
    return false;
}

__device__ __forceinline__ uint32_t tf32_rn(float x)
{
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
    return r;
}
__device__ __forceinline__ void tf32_split(float x, uint32_t &hi, uint32_t &lo)
{
    hi = tf32_rn(x);
    lo = tf32_rn(x - __uint_as_float(hi));
}
/* mma.sync m16n8k8 tf32 -> fp32. A (row): a0 (g, c), a1 (g+8, c), a2 (g, c+4), a3 (g+8, c+4);
 * B (col): b0 (k = c, n = g), b1 (k = c+4, n = g); C as m16n8k16. */
__device__ __forceinline__ void mma_tf32(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#define ST_SLAB 16
#define ST_MS 24 /* slab row pitch (floats): B-fragment loads (rows c, c+4; column g) hit 32 distinct banks */

/* This warp's 16 rows of P (row pitch D) into its private rows of Ps (pitch D+4), one cp.async group. */
template <int D> __device__ __forceinline__ void stage_rows(const float *src, float *dst, int lane)
{
    constexpr int Q = D / 4;
    for (int i = lane; i < 16 * Q; i += 32) {
        const int r = i / Q, q = i % Q;
        cp_async16(dst + r * (D + 4) + 4 * q, src + (int64_t)r * D + 4 * q, 16);
    }
    cp_async_commit();
}

template <int D>
__global__ void __launch_bounds__(2 * D)
    gdn_scan_tc_kernel(const float *__restrict__ P, const float *__restrict__ A, const void *g, int g_bf16,
                       const float *init, float *st_f, float *fin, int T, int H, int Dv, int rev_in,
                       const __grid_constant__ scan_bounds bnd, int n_chunks, float *st_r)
{
    constexpr int KS = D / 8, PP = D + 4;
    /* st_r != NULL (gdn_scan_fr): blockIdx.z = 1 runs the reverse scan into st_r beside the forward one */
    const int rev = st_r ? (int)blockIdx.z : rev_in;
    float *st = rev && st_r ? st_r : st_f;
    extern __shared__ __align__(16) float ts_smem[];
    float *Ps = ts_smem, *Mc = Ps + D * PP, *Mn = Mc + D * ST_MS;
    const int h = blockIdx.x, js = blockIdx.y * ST_SLAB, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int gq = lane >> 2, cq = lane & 3, r0 = 16 * warp;
    const int64_t DD = (int64_t)D * D, DV = (int64_t)D * Dv;
    if (rev)
        for (int kk = 0; kk < n_chunks; kk++)
            for (int o = threadIdx.x; o < D * ST_SLAB; o += blockDim.x)
                st[((int64_t)(bnd.b[kk + 1] - 1) * H + h) * DV + (int64_t)(o / ST_SLAB) * Dv + js + o % ST_SLAB] = 0.0f;
    for (int o = threadIdx.x; o < D * ST_SLAB; o += blockDim.x)
        Mc[(o / ST_SLAB) * ST_MS + o % ST_SLAB] =
            (!rev && init) ? init[h * DV + (int64_t)(o / ST_SLAB) * Dv + js + o % ST_SLAB] : 0.0f;
    int fs = 0, fd = 0, reset = 0;
    bool have = scan_sched(rev, T, bnd, n_chunks, 0, fs, fd, reset);
    if (have) stage_rows<D>(P + ((int64_t)fs * H + h) * DD + (int64_t)r0 * D, Ps + r0 * PP, lane);
    __syncthreads();
    for (int idx = 0; have; idx++) {
        int nfs = 0, nfd = 0, nreset = 0;
        const bool next = scan_sched(rev, T, bnd, n_chunks, idx + 1, nfs, nfd, nreset);
        const float *Ag = A + ((int64_t)fs * H + h) * DV;
        float2 av[2][2];
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int hh = 0; hh < 2; hh++)
                av[nt][hh] = *(const float2 *)(Ag + (int64_t)(r0 + gq + 8 * hh) * Dv + js + 8 * nt + 2 * cq);
        const float gv = wm_ldp(g, g_bf16, (int64_t)fs * H + h);
        cp_async_wait<0>();
        __syncwarp();
        float pa[KS][4];
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            pa[ks][0] = Ps[(r0 + gq) * PP + 8 * ks + cq];
            pa[ks][1] = Ps[(r0 + gq + 8) * PP + 8 * ks + cq];
            pa[ks][2] = Ps[(r0 + gq) * PP + 8 * ks + cq + 4];
            pa[ks][3] = Ps[(r0 + gq + 8) * PP + 8 * ks + cq + 4];
        }
        __syncwarp(); /* every lane holds its P values: the rows may be refilled with the next step's */
        if (next) stage_rows<D>(P + ((int64_t)nfs * H + h) * DD + (int64_t)r0 * D, Ps + r0 * PP, lane);
        float acc[3][2][4];
#pragma unroll
        for (int x = 0; x < 3; x++)
#pragma unroll
            for (int nt = 0; nt < 2; nt++) acc[x][nt][0] = acc[x][nt][1] = acc[x][nt][2] = acc[x][nt][3] = 0.0f;
        if (!reset) {
#pragma unroll
            for (int ks = 0; ks < KS; ks++) {
                uint32_t ah[4], al[4];
#pragma unroll
                for (int e = 0; e < 4; e++) tf32_split(pa[ks][e], ah[e], al[e]);
#pragma unroll
                for (int nt = 0; nt < 2; nt++) {
                    uint32_t bh0, bl0, bh1, bl1;
                    tf32_split(Mc[(8 * ks + cq) * ST_MS + 8 * nt + gq], bh0, bl0);
                    tf32_split(Mc[(8 * ks + cq + 4) * ST_MS + 8 * nt + gq], bh1, bl1);
                    mma_tf32(acc[0][nt], ah, bh0, bh1);
                    mma_tf32(acc[1][nt], ah, bl0, bl1);
                    mma_tf32(acc[2][nt], al, bh0, bh1);
                }
            }
        }
        float *Sg = st + ((int64_t)fd * H + h) * DV;
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int r = r0 + gq + 8 * hh, j = 8 * nt + 2 * cq;
                const float2 mo = reset ? make_float2(0.0f, 0.0f) : *(const float2 *)(Mc + r * ST_MS + j);
                const float p0 = acc[0][nt][2 * hh] + (acc[1][nt][2 * hh] + acc[2][nt][2 * hh]);
                const float p1 = acc[0][nt][2 * hh + 1] + (acc[1][nt][2 * hh + 1] + acc[2][nt][2 * hh + 1]);
                const float2 o = make_float2(gv * (mo.x - p0) + av[nt][hh].x, gv * (mo.y - p1) + av[nt][hh].y);
                *(float2 *)(Mn + r * ST_MS + j) = o;
                *(float2 *)(Sg + (int64_t)r * Dv + js + j) = o;
            }
        __syncthreads(); /* Mn complete; Mc no longer read */
        float *tmp = Mc;
        Mc = Mn;
        Mn = tmp;
        fs = nfs;
        fd = nfd;
        reset = nreset;
        have = next;
    }
    if (!rev && fin)
        for (int o = threadIdx.x; o < D * ST_SLAB; o += blockDim.x)
            fin[h * DV + (int64_t)(o / ST_SLAB) * Dv + js + o % ST_SLAB] = Mc[(o / ST_SLAB) * ST_MS + o % ST_SLAB];
}

#define SV_NS 3 /* P slots in flight for the vector scan */

__global__ void __launch_bounds__(512)
    gdn_scan_vec_kernel(const float *__restrict__ P, const float *__restrict__ A, const void *g, int g_bf16,
                        const float *init, float *st_f, float *fin, int T, int H, int D, int rev_in,
                        const __grid_constant__ scan_bounds bnd, int n_chunks, float *st_r)
{
    extern __shared__ __align__(16) float sv_smem[];
    const int rev = st_r ? (int)blockIdx.y : rev_in; /* as the tensor-core scan, on grid y */
    float *st = rev && st_r ? st_r : st_f;
    float *Ps = sv_smem, *zc = Ps + SV_NS * D * D, *zn = zc + D;
    const int h = blockIdx.x, i = threadIdx.x >> 2, c = threadIdx.x & 3, nth = blockDim.x;
    const int64_t DD = (int64_t)D * D;
    if (rev)
        for (int kk = 0; kk < n_chunks; kk++)
            for (int o = threadIdx.x; o < D; o += nth) st[((int64_t)(bnd.b[kk + 1] - 1) * H + h) * D + o] = 0.0f;
    for (int o = threadIdx.x; o < D; o += nth) zc[o] = (!rev && init) ? init[(int64_t)h * D + o] : 0.0f;
    auto stage = [&](int idx) {
        int f2, d2, r2;
        if (scan_sched(rev, T, bnd, n_chunks, idx, f2, d2, r2)) {
            const float *src = P + ((int64_t)f2 * H + h) * DD;
            float *dst = Ps + (idx % SV_NS) * D * D;
            for (int q = threadIdx.x; q < D * D / 4; q += nth) cp_async16(dst + 4 * q, src + 4 * q, 16);
        }
        cp_async_commit(); /* possibly empty: keeps one group per step for the wait count */
    };
#pragma unroll
    for (int p = 0; p < SV_NS - 1; p++) stage(p);
    for (int idx = 0;; idx++) {
        int fs, fd, reset;
        if (!scan_sched(rev, T, bnd, n_chunks, idx, fs, fd, reset)) break;
        const float av = (c == 0 && i < D) ? A[((int64_t)fs * H + h) * D + i] : 0.0f;
        const float gv = wm_ldp(g, g_bf16, (int64_t)fs * H + h);
        cp_async_wait<SV_NS - 2>();
        __syncthreads(); /* step idx's P landed; zc complete; slot (idx-1) % NS free */
        stage(idx + SV_NS - 1);
        float sum = 0.0f;
        if (!reset && i < D) {
            const float *Pr = Ps + (idx % SV_NS) * D * D + i * D;
            for (int q = c; q < D / 4; q += 4) {
                const float4 p = *(const float4 *)(Pr + 4 * q), zz = *(const float4 *)(zc + 4 * q);
                sum += p.x * zz.x + p.y * zz.y + p.z * zz.z + p.w * zz.w;
            }
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        if (c == 0 && i < D) {
            const float o = gv * ((reset ? 0.0f : zc[i]) - sum) + av;
            zn[i] = o;
            st[((int64_t)fd * H + h) * D + i] = o;
        }
        float *tmp = zc;
        zc = zn;
        zn = tmp;
    }
    __syncthreads();
    if (!rev && fin)
        for (int o = threadIdx.x; o < D; o += nth) fin[(int64_t)h * D + o] = zc[o];
}

template <int D>
static wm_status launch_scan_tc(wm_backend *be, int slot, const float *P, const float *A, const void *g, int gb,
                                const float *init, float *st, float *fin, int T, int H, int Dv, int rev,
                                const scan_bounds *sb, int n_chunks, float *st_r)
{
    size_t smem = ((size_t)D * (D + 4) + 2 * (size_t)D * ST_MS) * sizeof(float);
    WM_TRY(wm__gdn_smem_optin(be, (const void *)gdn_scan_tc_kernel<D>, slot, smem));
    dim3 grid((unsigned)H, (unsigned)(Dv / ST_SLAB), st_r ? 2u : 1u);
    gdn_scan_tc_kernel<D><<<grid, 2 * D, smem, wm__cuda_stream(be)>>>(P, A, g, gb, init, st, fin, T, H, Dv, rev, *sb,
                                                                     n_chunks, st_r);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

wm_status wm__gdn_scan_fast(wm_backend *be, const wm_tensor *P, const wm_tensor *A, const wm_tensor *g,
                                       const wm_tensor *init, int reverse, const scan_bounds *sb, int n_chunks,
                                       wm_tensor *states, wm_tensor *final_state, wm_tensor *rstates, int *done)
{
    wm_cuda_ctx *cx = wm__cuda_ctx(be);
    *done = 0;
    if (cx->gdn_old) return WM_OK;
    int64_t T = P->shape[0], H = P->shape[1], D = P->shape[2], Dv = A->shape[3];
    float *fin = (!reverse && final_state) ? (float *)final_state->data : NULL;
    const float *ini = (!reverse && init) ? (const float *)init->data : NULL;
    float *str = rstates ? (float *)rstates->data : NULL;
    if (!al16(P->data) || !al16(A->data) || !al16(states->data) || (ini && !al16(ini)) || (fin && !al16(fin)) ||
        (str && !al16(str)))
        return WM_OK;
    if (T > 0x7fffffff || H > 65535) return WM_OK;
    const float *p = (const float *)P->data, *a = (const float *)A->data;
    float *st = (float *)states->data;
    int gb = g->dtype == WM_BF16, nc = reverse || str ? n_chunks : 0;
    if (Dv == 1 && D % 8 == 0 && D <= 128) { /* 4D threads: whole warps for the quad shuffles */
        size_t smem = ((size_t)SV_NS * D * D + 2 * D) * sizeof(float);
        WM_TRY(wm__gdn_smem_optin(be, (const void *)gdn_scan_vec_kernel, WM_GSM_SCAN_VEC, smem));
        gdn_scan_vec_kernel<<<dim3((unsigned)H, str ? 2u : 1u), (unsigned)(4 * D), smem, wm__cuda_stream(be)>>>(
            p, a, g->data, gb, ini, st, fin, (int)T, (int)H, (int)D, reverse, *sb, nc, str);
        WM_CUDA_LAUNCHED(be);
        *done = 1;
        return WM_OK;
    }
    if (Dv % ST_SLAB || Dv / ST_SLAB > 65535) return WM_OK;
    wm_status s = WM_OK;
#define WM_SCAN_TC(DD, SLOT)                                                                                    \
    s = launch_scan_tc<DD>(be, SLOT, p, a, g->data, gb, ini, st, fin, (int)T, (int)H, (int)Dv, reverse, sb, nc, str)
    switch (D) {
    case 16: WM_SCAN_TC(16, WM_GSM_SCAN_TC16); break;
    case 64: WM_SCAN_TC(64, WM_GSM_SCAN_TC64); break;
    case 112: WM_SCAN_TC(112, WM_GSM_SCAN_TC112); break;
    case 128: WM_SCAN_TC(128, WM_GSM_SCAN_TC128); break;
    default: return WM_OK;
    }
#undef WM_SCAN_TC
    if (s == WM_OK) *done = 1;
    return s;
}

/* ---------------------------------------------------------------- readout */

/* out = (Mf+Mr)^T q / (qd.(zf+zr) + eps) for D = Dv = 112, bf16 q/qd/out: the tensor-core readout (M split
 * into bf16 hi + lo for fp32-class accuracy, 8 warps x 16 tokens per 128-token tile). A block owns one
 * (frame, head) and every G-th token tile of it, so M is read and split once per block instead of once per
 * tile (G blocks per (frame, head) fill the SMs two blocks each). Per tile: the q tile lands by cp.async
 * (the first one while M is converted), each warp stages its 16 rows of qd into its own rows of the tile once
 * its q fragments sit in registers (the qd load overlaps the numerator mma), the denominators are read
 * from shared memory, and the warp's rows then stage its output rows for 16-byte stores. */
#define GT2_TOK 128
#define GT2_DP (GC_D + 8)

__device__ __forceinline__ void gt2_load_q(bf16 *Qs, const bf16 *q, int f, int h, int s0, int S, int C)
{
    for (int c = threadIdx.x; c < GT2_TOK * (GC_D / 8); c += blockDim.x) {
        const int r = c / (GC_D / 8), cc = c % (GC_D / 8), s = s0 + r;
        const bool ok = s < S;
        cp_async16(Qs + r * GT2_DP + cc * 8, q + ((int64_t)f * S + (ok ? s : 0)) * C + h * GC_D + cc * 8, ok ? 16 : 0);
    }
    cp_async_commit();
}

template <bool EMB>
__global__ void __launch_bounds__(256, 2)
    gdn_output_tc2_kernel(const bf16 *__restrict__ q, const float *__restrict__ Mf, const float *__restrict__ Mr,
                          const bf16 *__restrict__ qd, const float *zf, const float *zr, float eps,
                          bf16 *__restrict__ out, int S, int H, int G, cam_emb_args emb)
{
    extern __shared__ __align__(16) unsigned char gt2_smem[];
    bf16 *Mh = (bf16 *)gt2_smem, *Ml = Mh + GC_D * GT2_DP, *Qs = Ml + GC_D * GT2_DP;
    float *zs = (float *)(Qs + GT2_TOK * GT2_DP);
    const int tiles = (S + GT2_TOK - 1) / GT2_TOK;
    const int fh = blockIdx.x / G, g = blockIdx.x % G, f = fh / H, h = fh % H;
    const int C = H * GC_D, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (g >= tiles) return;
    const int64_t mo = (int64_t)fh * GC_D * GC_D;
    gt2_load_q(Qs, q, f, h, g * GT2_TOK, S, C);
    constexpr int NQ = GC_D * GC_D / 4; /* float4 quads of a state */
    for (int c0 = threadIdx.x; c0 < NQ; c0 += 4 * blockDim.x) {
        float4 a[4], b[4];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int c = c0 + u * blockDim.x;
            if (c < NQ) {
                a[u] = *(const float4 *)(Mf + mo + 4 * c);
                b[u] = *(const float4 *)(Mr + mo + 4 * c);
            }
        }
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int c = c0 + u * blockDim.x;
            if (c >= NQ) break;
            const int i = (4 * c) / GC_D, j = (4 * c) % GC_D;
            const float m[4] = {a[u].x + b[u].x, a[u].y + b[u].y, a[u].z + b[u].z, a[u].w + b[u].w};
            __nv_bfloat162 hi[2], lo[2];
#pragma unroll
            for (int e = 0; e < 2; e++) {
                hi[e] = __floats2bfloat162_rn(m[2 * e], m[2 * e + 1]);
                const float2 hf = __bfloat1622float2(hi[e]);
                lo[e] = __floats2bfloat162_rn(m[2 * e] - hf.x, m[2 * e + 1] - hf.y);
            }
            *(uint2 *)(Mh + i * GT2_DP + j) = *(const uint2 *)hi;
            *(uint2 *)(Ml + i * GT2_DP + j) = *(const uint2 *)lo;
        }
    }
    if (qd)
        for (int c = threadIdx.x; c < GC_D; c += blockDim.x)
            zs[c] = zf[(int64_t)fh * GC_D + c] + zr[(int64_t)fh * GC_D + c];
    bf16 *Qw = Qs + warp * 16 * GT2_DP;
    for (int tile = g; tile < tiles; tile += G) {
        const int s0 = tile * GT2_TOK;
        cp_async_wait<0>();
        __syncthreads(); /* the q tile (and, the first time, M and zs) are in shared memory */
        uint32_t qf[GC_D / 16][4];
#pragma unroll
        for (int ks = 0; ks < GC_D / 16; ks++) ldsm_x4(qf[ks], Qw + (lane & 15) * GT2_DP + ks * 16 + (lane >> 4) * 8);
        __syncwarp(); /* the warp's q rows are in registers: its rows of Qs now take its qd rows */
        if (qd)
            for (int c = lane; c < 16 * (GC_D / 8); c += 32) {
                const int r = c / (GC_D / 8), cc = c % (GC_D / 8), s = s0 + warp * 16 + r;
                const bool ok = s < S;
                cp_async16(Qw + r * GT2_DP + cc * 8, qd + ((int64_t)f * S + (ok ? s : 0)) * C + h * GC_D + cc * 8,
                           ok ? 16 : 0);
            }
        cp_async_commit();
        float acc[GC_D / 8][4];
#pragma unroll
        for (int n = 0; n < GC_D / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
        mma_hilo_product<GC_D, GT2_DP>(acc, qf, Mh, Ml, lane);
        float inv[2] = {1.0f, 1.0f};
        if (qd) {
            cp_async_wait<0>();
            __syncwarp();
#pragma unroll
            for (int rr = 0; rr < 2; rr++) {
                const bf16 *qr = Qw + ((lane >> 2) + 8 * rr) * GT2_DP;
                float a = 0.0f;
#pragma unroll
                for (int kk = 0; kk < GC_D / 8; kk++) {
                    const int i = 2 * (lane & 3) + 8 * kk;
                    const float2 x = __bfloat1622float2(*(const __nv_bfloat162 *)(qr + i));
                    a += x.x * zs[i] + x.y * zs[i + 1];
                }
                a += __shfl_xor_sync(0xffffffffu, a, 1);
                a += __shfl_xor_sync(0xffffffffu, a, 2);
                inv[rr] = 1.0f / (a + eps);
            }
        }
        __syncwarp(); /* qd fully read: the rows stage the output tile */
        const int r = lane >> 2;
#pragma unroll
        for (int n = 0; n < GC_D / 8; n++) {
            const int col = 8 * n + 2 * (lane & 3);
            *(__nv_bfloat162 *)(Qw + r * GT2_DP + col) = __floats2bfloat162_rn(acc[n][0] * inv[0], acc[n][1] * inv[0]);
            *(__nv_bfloat162 *)(Qw + (r + 8) * GT2_DP + col) =
                __floats2bfloat162_rn(acc[n][2] * inv[1], acc[n][3] * inv[1]);
        }
        __syncwarp();
        for (int c = lane; c < 16 * (GC_D / 8); c += 32) {
            const int rr = c / (GC_D / 8), cc = c % (GC_D / 8), s = s0 + warp * 16 + rr;
            if (s < S) {
                uint4 o = *(const uint4 *)(Qw + rr * GT2_DP + cc * 8);
                if (EMB) o = cam_emb8_bf16(o, emb, (int64_t)f * S + s, cc * 8); /* gdn_output_ucpe */
                *(uint4 *)(out + ((int64_t)f * S + s) * C + h * GC_D + cc * 8) = o;
            }
        }
        if (tile + G < tiles) {
            __syncthreads(); /* every warp has stored its rows: the tile buffer takes the next q tile */
            gt2_load_q(Qs, q, f, h, (tile + G) * GT2_TOK, S, C);
        }
    }
}

wm_status wm__gdn_output_fast(wm_backend *be, const wm_tensor *q, const wm_tensor *Mf, const wm_tensor *Mr,
                              const wm_tensor *qd, const wm_tensor *zf, const wm_tensor *zr, float eps,
                              const cam_emb_args *emb, wm_tensor *out, int *done)
{
    wm_cuda_ctx *cx = wm__cuda_ctx(be);
    *done = 0;
    int64_t T = Mf->shape[0], H = Mf->shape[1], D = Mf->shape[2], Dv = Mf->shape[3], N = wm_tensor_rows(q);
    if (cx->gdn_old || q->dtype != WM_BF16 || out->dtype != WM_BF16 || D != GC_D || Dv != GC_D) return WM_OK;
    if (!al16(q->data) || !al16(out->data) || (qd && !al16(qd->data)) || !al16(Mf->data) || !al16(Mr->data))
        return WM_OK;
    int S = (int)(N / T);
    /* G blocks per (frame, head), each taking every G-th token tile, all resident at once (two per SM), so
     * each block splits its M once for several tiles (WM_CUDA_GDN=tile1: a block per tile, G = tiles) */
    const int64_t tiles = (S + GT2_TOK - 1) / GT2_TOK, slots = 2 * (int64_t)(cx->n_sm > 0 ? cx->n_sm : 1);
    int64_t G = cx->gdn_tile1 ? tiles : slots / (T * H > 0 ? T * H : 1);
    if (G > tiles) G = tiles;
    if (G < 1) G = 1;
    int64_t blocks = T * H * G;
    if (blocks > 0x7fffffff) return WM_OK;
    size_t smem = (2 * GC_D + GT2_TOK) * GT2_DP * sizeof(bf16) + GC_D * sizeof(float);
    const cam_emb_args none = {};
    if (emb) {
        WM_TRY(wm__gdn_smem_optin(be, (const void *)gdn_output_tc2_kernel<true>, WM_GSM_OUTE, smem));
        gdn_output_tc2_kernel<true><<<(unsigned)blocks, 256, smem, wm__cuda_stream(be)>>>(
            (const bf16 *)q->data, (const float *)Mf->data, (const float *)Mr->data, NULL, NULL, NULL, 0.0f,
            (bf16 *)out->data, S, (int)H, (int)G, *emb);
    } else {
        WM_TRY(wm__gdn_smem_optin(be, (const void *)gdn_output_tc2_kernel<false>, WM_GSM_OUT, smem));
        gdn_output_tc2_kernel<false><<<(unsigned)blocks, 256, smem, wm__cuda_stream(be)>>>(
            (const bf16 *)q->data, (const float *)Mf->data, (const float *)Mr->data, qd ? (const bf16 *)qd->data : NULL,
            qd ? (const float *)zf->data : NULL, qd ? (const float *)zr->data : NULL, eps, (bf16 *)out->data, S, (int)H,
            (int)G, none);
    }
    WM_CUDA_LAUNCHED(be);
    *done = 1;
    return WM_OK;
}
