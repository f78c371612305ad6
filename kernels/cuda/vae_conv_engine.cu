/* VAE 3-D convolution engine on CUDA (kernels/cuda/vae_conv.h): channels-last bf16 convolutions through
 * cuDNN, with the op's own kernel (vae_conv3d.cu) as the "old" path and for fp32.
 *
 * Why: the channels-first implicit GEMM of vae_conv3d.cu spends its time on the per-element gather
 * (~20 TFLOP/s on the decoder). cuDNN's Hopper implicit-GEMM kernels want NDHWC bf16 and have no causal
 * or reflect padding, so each call (x bf16) runs
 *   1. pack:    x (Ci,T,H,W) + temporal context (left cache / replicated frame 0 / clamped frames) +
 *               spatial padding (zeros / reflect) -> xp (Tp,Hp,Wp,Ci8) bf16, materialised: the conv
 *               that follows is a plain "valid" convolution and every output is computed once;
 *   2. repack:  w (Co,Ci,kt,kh,kw) -> wr (Co8,kt,kh,kw,Ci8) bf16 (cuDNN's NHWC filter layout); channel
 *               counts are zero-padded to multiples of 8 (16-byte vectors; the encoder's 129 channels);
 *   3. conv:    cudnnConvolutionForward, NDHWC bf16 in/out, fp32 accumulation, tensor-op math, the
 *               algorithm chosen once per shape (cudnnFindConvolutionForwardAlgorithmEx on the first call,
 *               heuristics as fallback) and cached with its descriptors;
 *   4. unpack:  yc (P,Co8) -> y (Co,T,H,W) + bias (fp32 add), fp32 or bf16 out.
 * Steps 1, 2, 4 are tiled transposes through shared memory (~2 extra passes over the activations,
 * ~20% of the conv time at the 128-channel level). Scratch (xp, yc, wr, cuDNN workspace) is planned by
 * the model's dry run and allocated once (reserve), so decode calls do not allocate.
 * cuDNN is dlopen'ed at creation (never a link dependency, never loaded by CPU-only programs); a build
 * without its header (WM_HAVE_CUDNN undefined), a missing library or a shape cuDNN refuses falls back
 * to the old kernel. Numerics: as the old bf16 path (bf16 operands, fp32 accumulation) plus one bf16
 * rounding of the conv result before the bias add.
 * The "igemm" path replaces step 3-4 by our channels-last implicit GEMM (vae_conv_igemm.cu), which reads
 * xp/wr and writes y channels-first with the bias (no yc, no unpack); layers with Ci8 % 32 != 0 (tiny
 * ones only) take the old kernel.
 */
#include "cuda_common.cuh"
#include "kernels/cuda/vae_conv.h"
#include "kernels/vae_shapes.h"

#ifdef WM_HAVE_CUDNN
#ifdef WM_CUDNN_V9_HEADER
#include <cudnn_v9.h>
#else
#include <cudnn.h>
#endif
#include <dlfcn.h>
#endif

/* The channels-last implicit GEMM (vae_conv_igemm.cu): reads xp/wr, writes y channels-first + bias. */
extern "C" int wm__vae_igemm_fits(int ci8);
extern "C" wm_status wm__vae_igemm_init(wm_backend *be);
extern "C" wm_status wm__vae_igemm(wm_backend *be, const void *xp, const void *wr, const void *bias, int b_bf16,
                                   void *y, int y_bf16, int acc, int Co, int co8, int ci8, int T, int H, int W, int kt,
                                   int kh, int kw);

#define VE_MAX_PLANS 256
#define VE_WS_CAP ((size_t)256 << 20) /* largest cuDNN workspace an algorithm may ask for */

enum { VE_XP, VE_YC, VE_WR, VE_WS, VE_NBUF };

/* One conv shape in the channels-last form (channel counts padded to 8). All ints: memcmp-able. */
typedef struct {
    int ci, co, t, h, w, kt, kh, kw, tp, hp, wp;
} ve_shape;

#ifdef WM_HAVE_CUDNN
#define VE_CUDNN_FNS(X)                                                                            \
    X(cudnnGetVersion) X(cudnnGetErrorString) X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream)    \
    X(cudnnCreateTensorDescriptor) X(cudnnDestroyTensorDescriptor) X(cudnnSetTensorNdDescriptorEx) \
    X(cudnnCreateFilterDescriptor) X(cudnnDestroyFilterDescriptor) X(cudnnSetFilterNdDescriptor)  \
    X(cudnnCreateConvolutionDescriptor) X(cudnnDestroyConvolutionDescriptor)                       \
    X(cudnnSetConvolutionNdDescriptor) X(cudnnSetConvolutionMathType)                              \
    X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnFindConvolutionForwardAlgorithmEx)            \
    X(cudnnGetConvolutionForwardWorkspaceSize) X(cudnnConvolutionForward)
typedef struct {
#define VE_FN_FIELD(fn) decltype(&::fn) fn;
    VE_CUDNN_FNS(VE_FN_FIELD)
#undef VE_FN_FIELD
} ve_cudnn;
#endif

typedef struct {
    ve_shape s;
    int state; /* 0: descriptors + heuristic algorithm, 1: algorithm final, -1: cuDNN refused (old path) */
    int igemm; /* "best" mode: igemm beat cuDNN (+ unpack) on this shape */
    size_t ws; /* workspace of the chosen algorithm */
#ifdef WM_HAVE_CUDNN
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t fd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t algo;
    cudnnMathType_t math;
#endif
} ve_plan;

struct wm_vae_conv_engine {
    wm_backend *be;
    int path, find, best; /* best: cuDNN or igemm per shape, whichever ran faster at the first call */
    int fuse;             /* fuses_add() answers yes (WM_VAE_FUSE=0 turns the fused ResNet ops off) */
    char name[192];
    ve_plan plans[VE_MAX_PLANS];
    int n_plans, warned_grow;
    size_t need[VE_NBUF], cap[VE_NBUF];
    void *buf[VE_NBUF];
#ifdef WM_HAVE_CUDNN
    void *lib;
    ve_cudnn f;
    cudnnHandle_t h;
#endif
};

static int r8(int64_t c) { return (int)((c + 7) / 8 * 8); }

static ve_shape ve_shape_of(const wm_tensor *x, const wm_tensor *w)
{
    ve_shape s;
    memset(&s, 0, sizeof s);
    s.ci = r8(x->shape[0]), s.co = r8(w->shape[0]);
    s.t = (int)x->shape[1], s.h = (int)x->shape[2], s.w = (int)x->shape[3];
    s.kt = (int)w->shape[2], s.kh = (int)w->shape[3], s.kw = (int)w->shape[4];
    s.tp = s.t + s.kt - 1, s.hp = s.h + 2 * (s.kh / 2), s.wp = s.w + 2 * (s.kw / 2);
    return s;
}

/* Scratch bytes of one shape: padded input, channels-last output, repacked weights. */
static void ve_bytes(const ve_shape *s, size_t *b)
{
    b[VE_XP] = (size_t)s->tp * s->hp * s->wp * s->ci * 2;
    b[VE_YC] = (size_t)s->t * s->h * s->w * s->co * 2;
    b[VE_WR] = (size_t)s->co * s->kt * s->kh * s->kw * s->ci * 2;
}

/* ---- layout kernels ---- */

typedef struct {
    const bf16 *x, *left;
    bf16 *xp;
    int Ci, T, H, W, ci8, hp, wp, tpad, causal, reflect, ph, pw;
} ve_pack_args;

__device__ __forceinline__ int ve_refl(int i, int n, int reflect)
{
    if (i >= 0 && i < n) return i;
    if (!reflect) return -1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}

/* Block (32, 8): one padded row (tp, hp) of 32 padded columns x 32 channels. Reads run along W (the
 * contiguous axis of x), writes along the channels (contiguous in xp); the tile transposes them. */
__global__ void __launch_bounds__(256) ve_pack_kernel(ve_pack_args a)
{
    __shared__ bf16 tile[32][34];
    int row = blockIdx.x, tpi = row / a.hp, hpi = row % a.hp;
    int w0 = blockIdx.y * 32, c0 = blockIdx.z * 32, tx = threadIdx.x, ty = threadIdx.y;
    int64_t HW = (int64_t)a.H * a.W, cstride = (int64_t)a.T * HW;
    const bf16 *base;
    if (a.causal && tpi < a.tpad) { /* left context: the cache's frame, or frame 0 replicated */
        if (a.left) base = a.left + (int64_t)tpi * HW, cstride = (int64_t)a.tpad * HW;
        else base = a.x;
    } else {
        int t = tpi - a.tpad;
        t = t < 0 ? 0 : (t >= a.T ? a.T - 1 : t); /* non-causal: replicated first/last frame */
        base = a.x + (int64_t)t * HW;
    }
    int hs = ve_refl(hpi - a.ph, a.H, a.reflect), ws = ve_refl(w0 + tx - a.pw, a.W, a.reflect);
    bool ok = hs >= 0 && ws >= 0 && w0 + tx < a.wp;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int c = c0 + ty + 8 * i;
        tile[ty + 8 * i][tx] = ok && c < a.Ci ? base[c * cstride + (int64_t)hs * a.W + ws] : __float2bfloat16(0.0f);
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int wpi = w0 + ty + 8 * i, c = c0 + tx;
        if (wpi < a.wp && c < a.ci8) a.xp[((int64_t)row * a.wp + wpi) * a.ci8 + c] = tile[tx][ty + 8 * i];
    }
}

/* wr (co8, taps, ci8) = w (Co, Ci, taps), zero in the padded channels. */
__global__ void ve_wrepack_kernel(const void *w, int w_bf16, bf16 *wr, int Co, int Ci, int taps, int co8, int ci8)
{
    int64_t total = (int64_t)co8 * taps * ci8;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int ci = (int)(i % ci8);
        int64_t r = i / ci8;
        int tap = (int)(r % taps), co = (int)(r / taps);
        float v = co < Co && ci < Ci ? wm_ldp(w, w_bf16, ((int64_t)co * Ci + ci) * taps + tap) : 0.0f;
        wr[i] = __float2bfloat16(v);
    }
}

/* y (Co, P) = (y +, when acc) yc (P, co8) + bias; block (32, 8) transposes 32 positions x 32 channels. */
__global__ void __launch_bounds__(256) ve_unpack_kernel(const bf16 *yc, void *y, int y_bf16, int acc, const void *bias,
                                                        int b_bf16, int64_t P, int Co, int co8)
{
    __shared__ float tile[32][33];
    int64_t p0 = (int64_t)blockIdx.x * 32;
    int c0 = blockIdx.y * 32, tx = threadIdx.x, ty = threadIdx.y;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int64_t p = p0 + ty + 8 * i;
        int c = c0 + tx;
        tile[ty + 8 * i][tx] = p < P && c < co8 ? __bfloat162float(yc[p * co8 + c]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int c = c0 + ty + 8 * i;
        int64_t p = p0 + tx;
        if (c >= Co || p >= P) continue;
        float v = tile[tx][ty + 8 * i] + (bias ? wm_ldp(bias, b_bf16, c) : 0.0f);
        int64_t o = (int64_t)c * P + p;
        if (y_bf16) ((bf16 *)y)[o] = __float2bfloat16(acc ? __bfloat162float(((bf16 *)y)[o]) + v : v);
        else ((float *)y)[o] = acc ? ((float *)y)[o] + v : v;
    }
}

/* y (Co, P) = silu(rms_c(yc + bias)) (the ResNet's norm + SiLU after its first conv, fused into the
 * unpack): block (32, 8) owns 32 positions and all channels. Pass 1: warp ty sums the squares of
 * positions ty + 8j over channel chunks of 32 (lanes = channels, shuffle-reduced); pass 2 re-reads the
 * block's yc (L2-resident: 32 x co8 x 2 bytes), scales, applies SiLU and writes channels-first through a
 * shared tile. Padded channels (>= Co) are not part of the mean. */
__global__ void __launch_bounds__(256) ve_unpack_norm_kernel(const bf16 *yc, void *y, int y_bf16, const void *bias,
                                                             int b_bf16, int64_t P, int Co, int co8, float eps)
{
    __shared__ float tile[32][33];
    __shared__ float inv[32];
    int64_t p0 = (int64_t)blockIdx.x * 32;
    int tx = threadIdx.x, ty = threadIdx.y;
    float ss[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int c0 = 0; c0 < Co; c0 += 32) {
        int c = c0 + tx;
        float bv = c < Co && bias ? wm_ldp(bias, b_bf16, c) : 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int64_t p = p0 + ty + 8 * j;
            float v = p < P && c < Co ? __bfloat162float(yc[p * co8 + c]) + bv : 0.0f;
            ss[j] += v * v;
        }
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        for (int o = 16; o > 0; o >>= 1) ss[j] += __shfl_xor_sync(0xffffffffu, ss[j], o);
        if (tx == 0) inv[ty + 8 * j] = 1.0f / sqrtf(ss[j] / (float)Co + eps);
    }
    __syncthreads();
    for (int c0 = 0; c0 < Co; c0 += 32) {
        int c = c0 + tx;
        float bv = c < Co && bias ? wm_ldp(bias, b_bf16, c) : 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int pl = ty + 8 * j;
            int64_t p = p0 + pl;
            float v = p < P && c < Co ? (__bfloat162float(yc[p * co8 + c]) + bv) * inv[pl] : 0.0f;
            tile[pl][tx] = v / (1.0f + expf(-v));
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int cc = c0 + ty + 8 * i;
            int64_t p = p0 + tx;
            if (cc >= Co || p >= P) continue;
            float v = tile[tx][ty + 8 * i];
            if (y_bf16) ((bf16 *)y)[(int64_t)cc * P + p] = __float2bfloat16(v);
            else ((float *)y)[(int64_t)cc * P + p] = v;
        }
        __syncthreads();
    }
}

/* ---- scratch ---- */

static wm_status ve_grow(wm_vae_conv_engine *e, int i, size_t bytes)
{
    if (bytes <= e->cap[i]) return WM_OK;
    if (e->buf[i]) { /* a kernel of an earlier call may still read it */
        WM_CUDA_TRY(e->be, cudaStreamSynchronize(wm__cuda_stream(e->be)));
        cudaFree(e->buf[i]);
        e->buf[i] = NULL, e->cap[i] = 0;
    }
    bytes = (bytes + 4095) & ~(size_t)4095;
    WM_CUDA_TRY(e->be, cudaMalloc(&e->buf[i], bytes));
    e->cap[i] = bytes;
    return WM_OK;
}

/* ---- cuDNN ---- */

#ifdef WM_HAVE_CUDNN
#define VE_CK(e, call, what)                                                                       \
    do {                                                                                           \
        cudnnStatus_t ve__s = (call);                                                              \
        if (ve__s != CUDNN_STATUS_SUCCESS) {                                                       \
            wm__log(WM_LOG_WARN, "vae conv engine: %s failed: %s", what, (e)->f.cudnnGetErrorString(ve__s)); \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

static const char *ve_lib_names[] = {"/usr/local/cuda/lib64/libcudnn.so.9", "libcudnn.so.9",
                                     "/usr/lib/x86_64-linux-gnu/libcudnn.so.9"};

/* dlopen + dlsym + handle on the backend's stream; 0 on success, else a reason in why. */
static int ve_cudnn_open(wm_vae_conv_engine *e, char *why, size_t n)
{
    for (size_t i = 0; i < sizeof ve_lib_names / sizeof *ve_lib_names && !e->lib; i++)
        e->lib = dlopen(ve_lib_names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE); /* never unmapped: reload-safe */
    if (!e->lib) {
        const char *d = dlerror();
        snprintf(why, n, "cannot load libcudnn.so.9 (%s)", d ? d : "?");
        return -1;
    }
#define VE_FN_LOAD(fn)                                                                             \
    if (!(e->f.fn = (decltype(e->f.fn))dlsym(e->lib, #fn))) {                                      \
        snprintf(why, n, "libcudnn.so.9 lacks %s", #fn);                                           \
        return -1;                                                                                 \
    }
    VE_CUDNN_FNS(VE_FN_LOAD)
#undef VE_FN_LOAD
    size_t v = e->f.cudnnGetVersion();
    if (v < 90000 || v >= 100000) {
        snprintf(why, n, "cuDNN version %zu is not 9.x", v);
        return -1;
    }
    if (e->f.cudnnCreate(&e->h) != CUDNN_STATUS_SUCCESS) {
        e->h = NULL;
        snprintf(why, n, "cudnnCreate failed (cuDNN %zu)", v);
        return -1;
    }
    if (e->f.cudnnSetStream(e->h, wm__cuda_stream(e->be)) != CUDNN_STATUS_SUCCESS) {
        snprintf(why, n, "cudnnSetStream failed");
        return -1;
    }
    snprintf(e->name, sizeof e->name, "cudnn %zu (channels-last bf16, fp32 accumulate)", v);
    return 0;
}

/* Descriptors + the heuristic's best algorithm within the workspace cap; -1 when cuDNN has none. */
static int ve_cudnn_plan(wm_vae_conv_engine *e, ve_plan *p)
{
    const ve_shape *s = &p->s;
    int xdim[5] = {1, s->ci, s->tp, s->hp, s->wp}, ydim[5] = {1, s->co, s->t, s->h, s->w};
    int fdim[5] = {s->co, s->ci, s->kt, s->kh, s->kw}, pad[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    VE_CK(e, e->f.cudnnCreateTensorDescriptor(&p->xd), "cudnnCreateTensorDescriptor");
    VE_CK(e, e->f.cudnnCreateTensorDescriptor(&p->yd), "cudnnCreateTensorDescriptor");
    VE_CK(e, e->f.cudnnCreateFilterDescriptor(&p->fd), "cudnnCreateFilterDescriptor");
    VE_CK(e, e->f.cudnnCreateConvolutionDescriptor(&p->cd), "cudnnCreateConvolutionDescriptor");
    VE_CK(e, e->f.cudnnSetTensorNdDescriptorEx(p->xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 5, xdim), "x descriptor");
    VE_CK(e, e->f.cudnnSetTensorNdDescriptorEx(p->yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 5, ydim), "y descriptor");
    VE_CK(e, e->f.cudnnSetFilterNdDescriptor(p->fd, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_NHWC, 5, fdim), "w descriptor");
    VE_CK(e, e->f.cudnnSetConvolutionNdDescriptor(p->cd, 3, pad, one, one, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          "conv descriptor");
    VE_CK(e, e->f.cudnnSetConvolutionMathType(p->cd, CUDNN_TENSOR_OP_MATH), "math type");
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int n = 0, got = 0;
    VE_CK(e, e->f.cudnnGetConvolutionForwardAlgorithm_v7(e->h, p->xd, p->fd, p->cd, p->yd, 8, &n, perf),
          "cudnnGetConvolutionForwardAlgorithm_v7");
    for (int i = 0; i < n && !got; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= VE_WS_CAP)
            p->algo = perf[i].algo, p->math = perf[i].mathType, p->ws = perf[i].memory, got = 1;
    /* Reserve for every usable candidate, so the first-call search can pick any of them. */
    for (int i = 0; i < n; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= VE_WS_CAP && perf[i].memory > e->need[VE_WS])
            e->need[VE_WS] = perf[i].memory;
    return got ? 0 : -1;
}

/* First real call of a shape: time the algorithms on the actual buffers, keep the fastest that fits the
 * reserved workspace (the heuristic's choice if the search fails). Writes yc (overwritten right after). */
static void ve_cudnn_pick(wm_vae_conv_engine *e, ve_plan *p)
{
    p->state = 1;
    if (!e->find) return;
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int n = 0;
    cudnnStatus_t st = e->f.cudnnFindConvolutionForwardAlgorithmEx(
        e->h, p->xd, e->buf[VE_XP], p->fd, e->buf[VE_WR], p->cd, p->yd, e->buf[VE_YC], 8, &n, perf, e->buf[VE_WS],
        e->cap[VE_WS]);
    if (st != CUDNN_STATUS_SUCCESS) {
        wm__log(WM_LOG_WARN, "vae conv engine: algorithm search failed (%s), keeping the heuristic's",
                e->f.cudnnGetErrorString(st));
        return;
    }
    for (int i = 0; i < n; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= e->cap[VE_WS]) {
            p->algo = perf[i].algo, p->math = perf[i].mathType, p->ws = perf[i].memory;
            wm__log(WM_LOG_DEBUG, "vae conv %dx%d %dx%dx%d: cudnn algo %d, %.3f ms, %zu B workspace", p->s.ci,
                    p->s.co, p->s.t, p->s.h, p->s.w, (int)perf[i].algo, perf[i].time, perf[i].memory);
            return;
        }
}

static void ve_cudnn_destroy(wm_vae_conv_engine *e, ve_plan *p)
{
    if (p->xd) e->f.cudnnDestroyTensorDescriptor(p->xd);
    if (p->yd) e->f.cudnnDestroyTensorDescriptor(p->yd);
    if (p->fd) e->f.cudnnDestroyFilterDescriptor(p->fd);
    if (p->cd) e->f.cudnnDestroyConvolutionDescriptor(p->cd);
}
#endif

/* The plan of a shape, created (descriptors, heuristic, scratch needs) on first sight. */
static ve_plan *ve_plan_get(wm_vae_conv_engine *e, const ve_shape *s)
{
    for (int i = 0; i < e->n_plans; i++)
        if (!memcmp(&e->plans[i].s, s, sizeof *s)) return &e->plans[i];
    if (e->n_plans == VE_MAX_PLANS) return NULL;
    ve_plan *p = &e->plans[e->n_plans++];
    memset(p, 0, sizeof *p);
    p->s = *s;
    size_t b[VE_NBUF] = {0};
    ve_bytes(s, b);
    p->state = -1;
#ifdef WM_HAVE_CUDNN
    if (e->path == WM_VAE_CONV_CUDNN && ve_cudnn_plan(e, p) == 0) p->state = 0;
#endif
    if (e->path == WM_VAE_CONV_IGEMM) {
        p->state = wm__vae_igemm_fits(s->ci) ? 1 : -1;
        b[VE_YC] = 0; /* igemm writes y itself */
    }
    if (p->state >= 0)
        for (int i = 0; i < VE_WS; i++) e->need[i] = b[i] > e->need[i] ? b[i] : e->need[i];
    return p;
}

/* ---- public ---- */

extern "C" wm_status wm__vae_conv_engine_create(wm_backend *be, int mode, wm_vae_conv_engine **out)
{
    *out = NULL;
    if (be->kind != WM_BACKEND_CUDA || !be->cuda) return wm__errf(&be->err, WM_ERR_INVALID_ARG, "vae conv engine: not a CUDA backend");
    wm_vae_conv_engine *e = (wm_vae_conv_engine *)calloc(1, sizeof *e);
    if (!e) return wm__errf(&be->err, WM_ERR_OUT_OF_MEMORY, "vae conv engine: no memory");
    e->be = be;
    const char *env = getenv("WM_CUDA_CONV3D"), *fenv = getenv("WM_CUDNN_FIND"), *uenv = getenv("WM_VAE_FUSE");
    e->fuse = !(uenv && !strcmp(uenv, "0"));
    if (mode == WM_VAE_CONV_AUTO)
        mode = env && !strcmp(env, "old")     ? WM_VAE_CONV_OLD
               : env && !strcmp(env, "igemm") ? WM_VAE_CONV_IGEMM
               : env && !strcmp(env, "best")  ? WM_VAE_CONV_BEST
                                              : WM_VAE_CONV_CUDNN;
    if (mode == WM_VAE_CONV_BEST) { /* cuDNN with igemm where it is faster */
        if (wm__vae_igemm_init(be) != WM_OK) {
            free(e);
            return WM_ERR_CUDA;
        }
        e->best = 1, mode = WM_VAE_CONV_CUDNN;
    }
    e->find = !(fenv && !strcmp(fenv, "0"));
    e->path = WM_VAE_CONV_OLD;
    snprintf(e->name, sizeof e->name, "old (channels-first implicit GEMM, bf16 tensor cores)");
    if (mode == WM_VAE_CONV_CUDNN) {
        char why[256] = "built without the cuDNN header (WM_CUDNN off or cudnn.h not found)";
#ifdef WM_HAVE_CUDNN
        if (ve_cudnn_open(e, why, sizeof why) == 0) e->path = WM_VAE_CONV_CUDNN;
#endif
        if (e->path == WM_VAE_CONV_CUDNN && e->best)
            snprintf(e->name + strlen(e->name), sizeof e->name - strlen(e->name), " + igemm where faster");
        if (e->path != WM_VAE_CONV_CUDNN) wm__log(WM_LOG_WARN, "vae conv engine: cuDNN unavailable: %s; using the old kernel", why);
    } else if (mode == WM_VAE_CONV_IGEMM) {
        wm_status st = wm__vae_igemm_init(be);
        if (st != WM_OK) {
            free(e);
            return st;
        }
        e->path = WM_VAE_CONV_IGEMM;
        snprintf(e->name, sizeof e->name, "igemm (channels-last implicit GEMM, mma.sync bf16)");
    }
    *out = e;
    return WM_OK;
}

extern "C" void wm__vae_conv_engine_free(wm_vae_conv_engine *e)
{
    if (!e) return;
    if (e->be && e->be->cuda) cudaStreamSynchronize(wm__cuda_stream(e->be));
    for (int i = 0; i < VE_NBUF; i++)
        if (e->buf[i]) cudaFree(e->buf[i]);
#ifdef WM_HAVE_CUDNN
    if (e->lib) {
        for (int i = 0; i < e->n_plans; i++) ve_cudnn_destroy(e, &e->plans[i]);
        if (e->h) e->f.cudnnDestroy(e->h);
        dlclose(e->lib);
    }
#endif
    free(e);
}

extern "C" int wm__vae_conv_engine_path(const wm_vae_conv_engine *e) { return e ? e->path : WM_VAE_CONV_OLD; }
extern "C" const char *wm__vae_conv_engine_name(const wm_vae_conv_engine *e) { return e ? e->name : "old"; }

extern "C" size_t wm__vae_conv_engine_bytes(const wm_vae_conv_engine *e)
{
    size_t n = 0;
    for (int i = 0; e && i < VE_NBUF; i++) n += e->cap[i];
    return n;
}

extern "C" wm_status wm__vae_conv_engine_plan(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *w, int causal,
                                              const wm_tensor *y)
{
    (void)causal, (void)y;
    if (!e || e->path == WM_VAE_CONV_OLD || x->dtype != WM_BF16 || x->ndim != 4 || w->ndim != 5) return WM_OK;
    ve_shape s = ve_shape_of(x, w);
    ve_plan_get(e, &s);
    return WM_OK;
}

extern "C" wm_status wm__vae_conv_engine_reserve(wm_vae_conv_engine *e)
{
    if (!e) return WM_OK;
    for (int i = 0; i < VE_NBUF; i++) WM_TRY(ve_grow(e, i, e->need[i]));
    return WM_OK;
}

/* cuDNN's step 3-4 (forward with the plan's algorithm + unpack into y) or igemm into y. post: 0, or
 * WM_VAE_CONV_POST_ACC (y += conv), or WM_VAE_CONV_POST_RMS_SILU (y = silu(rms_c(conv))). */
static wm_status ve_conv(wm_vae_conv_engine *e, ve_plan *p, int igemm, const wm_tensor *w, const wm_tensor *bias,
                         wm_tensor *y, int post, float eps)
{
    int acc = post == WM_VAE_CONV_POST_ACC;
    wm_backend *be = e->be;
    const ve_shape *s = &p->s;
    const void *bd = bias ? bias->data : NULL;
    int bb = bias && bias->dtype == WM_BF16, yb = y->dtype == WM_BF16, Co = (int)w->shape[0];
    if (igemm) {
        WM_TRY(wm__vae_igemm(be, e->buf[VE_XP], e->buf[VE_WR], bd, bb, y->data, yb, acc, Co, s->co, s->ci, s->t, s->h,
                             s->w, s->kt, s->kh, s->kw));
        return post == WM_VAE_CONV_POST_RMS_SILU ? wm_vae_rmsnorm_silu_cuda(be, y, eps, 1, y) : WM_OK;
    }
#ifdef WM_HAVE_CUDNN
    float one = 1.0f, zero = 0.0f;
    e->f.cudnnSetConvolutionMathType(p->cd, p->math);
    cudnnStatus_t cs = e->f.cudnnConvolutionForward(e->h, &one, p->xd, e->buf[VE_XP], p->fd, e->buf[VE_WR], p->cd, p->algo,
                                                    e->buf[VE_WS], e->cap[VE_WS], &zero, p->yd, e->buf[VE_YC]);
    if (cs != CUDNN_STATUS_SUCCESS) {
        wm__log(WM_LOG_WARN, "vae conv engine: cudnnConvolutionForward: %s (%dx%d, %dx%dx%d, algo %d); shape moved "
                "to the old kernel", e->f.cudnnGetErrorString(cs), s->ci, s->co, s->t, s->h, s->w, (int)p->algo);
        p->state = -1;
        return WM_ERR_UNSUPPORTED;
    }
#else
    return wm__errf(&be->err, WM_ERR_UNSUPPORTED, "vae_conv3d: built without cuDNN");
#endif
    int64_t P = (int64_t)s->t * s->h * s->w;
    if (post == WM_VAE_CONV_POST_RMS_SILU) {
        ve_unpack_norm_kernel<<<(unsigned)((P + 31) / 32), dim3(32, 8), 0, wm__cuda_stream(be)>>>(
            (const bf16 *)e->buf[VE_YC], y->data, yb, bd, bb, P, Co, s->co, eps);
        WM_CUDA_LAUNCHED(be);
        return WM_OK;
    }
    dim3 ug((unsigned)((P + 31) / 32), (unsigned)((s->co + 31) / 32));
    ve_unpack_kernel<<<ug, dim3(32, 8), 0, wm__cuda_stream(be)>>>((const bf16 *)e->buf[VE_YC], y->data, yb, acc, bd, bb,
                                                                 P, Co, s->co);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

#ifdef WM_HAVE_CUDNN
/* "best" mode, first call of a shape: time cuDNN (+ unpack) and igemm on the packed operands (second of
 * two runs each, device events) and keep the faster. Both write y; the caller's run overwrites it. */
static void ve_choose(wm_vae_conv_engine *e, ve_plan *p, const wm_tensor *w, const wm_tensor *bias, wm_tensor *y)
{
    cudaEvent_t ev[3];
    float ms[2] = {0, 0};
    if (cudaEventCreate(&ev[0]) != cudaSuccess) return;
    cudaEventCreate(&ev[1]), cudaEventCreate(&ev[2]);
    cudaStream_t st = wm__cuda_stream(e->be);
    int ok = 1;
    for (int rep = 0; rep < 2 && ok; rep++) {
        cudaEventRecord(ev[0], st);
        ok = ve_conv(e, p, 0, w, bias, y, 0, 0.0f) == WM_OK;
        cudaEventRecord(ev[1], st);
        ok = ok && ve_conv(e, p, 1, w, bias, y, 0, 0.0f) == WM_OK;
        cudaEventRecord(ev[2], st);
        ok = ok && cudaEventSynchronize(ev[2]) == cudaSuccess;
    }
    if (ok && cudaEventElapsedTime(&ms[0], ev[0], ev[1]) == cudaSuccess &&
        cudaEventElapsedTime(&ms[1], ev[1], ev[2]) == cudaSuccess) {
        p->igemm = ms[1] < ms[0];
        wm__log(WM_LOG_INFO, "vae conv %d->%d at %dx%dx%d: cudnn %.3f ms, igemm %.3f ms -> %s", p->s.ci, p->s.co,
                p->s.t, p->s.h, p->s.w, ms[0], ms[1], p->igemm ? "igemm" : "cudnn");
    }
    for (int i = 0; i < 3; i++) cudaEventDestroy(ev[i]);
}
#endif

/* Channels-last conv of a planned shape: pack, repack, cuDNN + unpack (or igemm). */
static wm_status ve_old(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                        const wm_tensor *bias, int causal, int reflect, wm_tensor *y, int post, float eps);

static wm_status ve_run(wm_vae_conv_engine *e, ve_plan *p, const wm_tensor *x, const wm_tensor *left,
                        const wm_tensor *w, const wm_tensor *bias, int causal, int reflect, wm_tensor *y, int post,
                        float eps)
{
    wm_backend *be = e->be;
    const ve_shape *s = &p->s;
    size_t b[VE_NBUF] = {0};
    ve_bytes(s, b);
    if (e->path == WM_VAE_CONV_IGEMM) b[VE_YC] = 0;
    for (int i = 0; i < VE_WS; i++) {
        if (b[i] > e->cap[i] && !e->warned_grow++)
            wm__log(WM_LOG_INFO, "vae conv engine: unplanned shape %dx%d at %dx%dx%d grows the scratch", s->ci, s->co,
                    s->t, s->h, s->w);
        WM_TRY(ve_grow(e, i, b[i]));
    }
    if (e->path == WM_VAE_CONV_CUDNN) WM_TRY(ve_grow(e, VE_WS, e->need[VE_WS] > p->ws ? e->need[VE_WS] : p->ws));
    cudaStream_t st = wm__cuda_stream(be);
    ve_pack_args a;
    a.x = (const bf16 *)x->data, a.left = left && s->kt > 1 ? (const bf16 *)left->data : NULL, a.xp = (bf16 *)e->buf[VE_XP];
    a.Ci = (int)x->shape[0], a.T = s->t, a.H = s->h, a.W = s->w, a.ci8 = s->ci, a.hp = s->hp, a.wp = s->wp;
    a.causal = causal, a.tpad = causal ? s->kt - 1 : (s->kt - 1) / 2, a.reflect = reflect, a.ph = s->kh / 2, a.pw = s->kw / 2;
    dim3 pg((unsigned)(s->tp * s->hp), (unsigned)((s->wp + 31) / 32), (unsigned)((s->ci + 31) / 32));
    ve_pack_kernel<<<pg, dim3(32, 8), 0, st>>>(a);
    WM_CUDA_LAUNCHED(be);
    int taps = s->kt * s->kh * s->kw;
    int64_t nw = (int64_t)s->co * taps * s->ci;
    ve_wrepack_kernel<<<wm_grid1d(nw, 256, 1 << 16), 256, 0, st>>>(w->data, w->dtype == WM_BF16, (bf16 *)e->buf[VE_WR],
                                                                   (int)w->shape[0], (int)w->shape[1], taps, s->co, s->ci);
    WM_CUDA_LAUNCHED(be);
    if (e->path == WM_VAE_CONV_IGEMM) return ve_conv(e, p, 1, w, bias, y, post, eps);
#ifdef WM_HAVE_CUDNN
    if (p->state == 0) {
        ve_cudnn_pick(e, p);
        if (p->ws > e->cap[VE_WS]) WM_TRY(ve_grow(e, VE_WS, p->ws));
        if (e->best && wm__vae_igemm_fits(s->ci) && post != WM_VAE_CONV_POST_ACC) ve_choose(e, p, w, bias, y); /* acc: y is live */
    }
    if (p->ws > e->cap[VE_WS]) WM_TRY(ve_grow(e, VE_WS, p->ws));
#endif
    wm_status r = p->state < 0 ? WM_ERR_UNSUPPORTED : ve_conv(e, p, p->igemm, w, bias, y, post, eps);
    if (r == WM_ERR_UNSUPPORTED && p->state < 0) /* cuDNN refused it at run time: old kernel from now on */
        return ve_old(e, x, left, w, bias, causal, reflect, y, post, eps);
    return r;
}

__global__ void ve_add_kernel(void *y, int y_bf16, const void *t, int64_t n)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = wm_ldp(t, y_bf16, i);
        if (y_bf16) ((bf16 *)y)[i] = __float2bfloat16(__bfloat162float(((bf16 *)y)[i]) + v);
        else ((float *)y)[i] += v;
    }
}

/* The op's kernel; with acc, into a y-shaped temporary in the YC scratch (grown if needed), then added;
 * with the norm, followed by the rmsnorm op in place. */
static wm_status ve_old(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                        const wm_tensor *bias, int causal, int reflect, wm_tensor *y, int post, float eps)
{
    if (post == WM_VAE_CONV_POST_RMS_SILU) {
        WM_TRY(wm_vae_conv3d_cuda(e->be, x, left, w, bias, causal, reflect, y));
        return wm_vae_rmsnorm_silu_cuda(e->be, y, eps, 1, y);
    }
    if (post != WM_VAE_CONV_POST_ACC) return wm_vae_conv3d_cuda(e->be, x, left, w, bias, causal, reflect, y);
    WM_TRY(ve_grow(e, VE_YC, wm_tensor_nbytes(y)));
    wm_tensor t = *y;
    t.data = e->buf[VE_YC];
    WM_TRY(wm_vae_conv3d_cuda(e->be, x, left, w, bias, causal, reflect, &t));
    int64_t n = wm_tensor_numel(y);
    ve_add_kernel<<<wm_grid1d(n, 256, 1 << 16), 256, 0, wm__cuda_stream(e->be)>>>(y->data, y->dtype == WM_BF16, t.data, n);
    return wm__cuda_launch_check(e->be, "vae_conv3d (accumulate)");
}

extern "C" wm_status wm__vae_conv3d_engine(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *left,
                                           const wm_tensor *w, const wm_tensor *bias, int causal, int reflect,
                                           wm_tensor *y)
{
    return wm__vae_conv3d_engine_ex(e, x, left, w, bias, causal, reflect, 0, 0.0f, y);
}

extern "C" int wm__vae_conv_engine_fuses_add(const wm_vae_conv_engine *e, const wm_tensor *x)
{
    return e && e->fuse && e->path != WM_VAE_CONV_OLD && x->dtype == WM_BF16;
}

extern "C" wm_status wm__vae_conv3d_engine_ex(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *left,
                                              const wm_tensor *w, const wm_tensor *bias, int causal, int reflect,
                                              int post, float eps, wm_tensor *y)
{
    WM_OP_CHECK(e->be, post >= 0 && post <= WM_VAE_CONV_POST_RMS_SILU, WM_ERR_INVALID_ARG, "unknown post operation");
    if (e->path == WM_VAE_CONV_OLD || x->dtype != WM_BF16) {
        if (post) WM_TRY(wm_vae_conv3d_shape(e->be, x, left, w, bias, causal, reflect, y));
        return ve_old(e, x, left, w, bias, causal, reflect, y, post, eps);
    }
    wm_backend *be = e->be;
    WM_CUDA_DEV(be, x);
    WM_CUDA_FLOAT(be, w);
    WM_CUDA_FLOAT(be, y);
    if (bias) WM_CUDA_FLOAT(be, bias);
    if (left) {
        WM_CUDA_DEV(be, left);
        WM_OP_CHECK(be, left->dtype == x->dtype, WM_ERR_DTYPE, "left must have x's dtype");
    }
    WM_TRY(wm_vae_conv3d_shape(be, x, left, w, bias, causal, reflect, y));
    WM_OP_CHECK(be, x->shape[0] < (1 << 20) && w->shape[0] < (1 << 20) && x->shape[1] < (1 << 20) &&
                        x->shape[2] < (1 << 20) && x->shape[3] < (1 << 20) && w->shape[2] <= 7 &&
                        w->shape[3] <= 7 && w->shape[4] <= 7 && (x->shape[1] + 6) * (x->shape[2] + 6) < (1LL << 31) &&
                        x->shape[1] * x->shape[2] * x->shape[3] < (1LL << 36),
                WM_ERR_LIMIT, "sizes beyond the engine's limits");
    ve_shape s = ve_shape_of(x, w);
    ve_plan *p = ve_plan_get(e, &s);
    if (!p || p->state < 0) return ve_old(e, x, left, w, bias, causal, reflect, y, post, eps);
    return ve_run(e, p, x, left, w, bias, causal, reflect, y, post, eps);
}
