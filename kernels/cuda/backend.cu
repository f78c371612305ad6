/* CUDA backend lifetime: device selection, one non-blocking stream, the cuBLASLt handle and its
 * workspace, and the memory/copy/sync entry points that wm/core/backend.c reaches through weak symbols.
 *
 * Why one stream: the DiT forward is a strict chain of dependent ops; parallel streams would buy little
 * and would complicate CUDA-graph capture, which records one stream. Why a fixed 64 MiB workspace:
 * cuBLASLt's fastest Hopper kernels (split-K, stream-K) want scratch, and handing it a workspace we own
 * keeps it from allocating behind our back (and keeps GEMMs capturable into graphs).
 *
 * No device (no driver, no GPU, cudaGetDeviceCount failing for any reason) is WM_ERR_NO_DEVICE with
 * CUDA's own message, so callers can fall back to the CPU and tests can skip with 77.
 */
#include "cuda_common.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WM_CUDA_WORKSPACE_BYTES ((size_t)64 << 20)
#define WM_CUDA_SCRATCH_BYTES ((size_t)32 << 20)
#define WM_CUDA_MM_CANDIDATES_DEFAULT 8 /* measured: see docs/perf.md (GEMM autotune) */

extern "C" wm_status wm__cuda_fail(wm_backend *be, const char *op, const char *call, cudaError_t e)
{
    return wm__errf(be ? &be->err : NULL, WM_ERR_CUDA, "%s: %s failed: %s (%s)", op, call, cudaGetErrorString(e),
                    cudaGetErrorName(e));
}

extern "C" wm_status wm__cuda_launch_check(wm_backend *be, const char *op)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return wm__cuda_fail(be, op, "kernel launch", e);
    return WM_OK;
}

static void ctx_release(wm_cuda_ctx *c)
{
    for (int i = 0; i < WM_CUDA_PLAN_CACHE; i++) {
        wm_cuda_plan *p = &c->plans[i];
        if (!p->used) continue;
        cublasLtMatrixLayoutDestroy(p->la);
        cublasLtMatrixLayoutDestroy(p->lb);
        cublasLtMatrixLayoutDestroy(p->lc);
        cublasLtMatmulDescDestroy(p->desc);
    }
    if (c->workspace) cudaFree(c->workspace);
    if (c->scratch) cudaFree(c->scratch);
    if (c->prof_ev) {
        for (int i = 0; i < WM_CUDA_PROF_MAX; i++) cudaEventDestroy(c->prof_ev[i]);
        free(c->prof_ev);
        free(c->prof_cat);
    }
    if (c->lt) cublasLtDestroy(c->lt);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

static wm_status pick_device(const wm_backend_params *p, wm_error *err, int *dev_out)
{
    int n = 0; /* cudaGetDeviceCount leaves it untouched on failure (deps-probe §3) */
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess)
        return wm__errf(err, WM_ERR_NO_DEVICE, "CUDA backend: no usable GPU (cudaGetDeviceCount: %s)",
                        cudaGetErrorString(e));
    if (n <= 0) return wm__errf(err, WM_ERR_NO_DEVICE, "CUDA backend: no CUDA device found");
    int dev = p ? p->cuda_device : 0;
    if (dev < 0 || dev >= n)
        return wm__errf(err, WM_ERR_NO_DEVICE, "CUDA backend: device %d requested, %d present", dev, n);
    *dev_out = dev;
    return WM_OK;
}

extern "C" wm_status wm__cuda_backend_init(wm_backend *be, const wm_backend_params *p, wm_error *err)
{
    int dev = 0;
    WM_TRY(pick_device(p, err, &dev));
    wm_cuda_ctx *c = (wm_cuda_ctx *)calloc(1, sizeof *c);
    if (!c) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "CUDA backend: out of memory");
    c->device = dev;
    cudaDeviceProp prop;
    cudaError_t e = cudaSetDevice(dev);
    if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, dev);
    if (e == cudaSuccess && prop.major < 8) {
        ctx_release(c);
        return wm__errf(err, WM_ERR_NO_DEVICE, "CUDA backend: %s is compute capability %d.%d; bf16 tensor cores "
                        "need 8.0 or newer (built for 9.0)", prop.name, prop.major, prop.minor);
    }
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaMalloc(&c->workspace, WM_CUDA_WORKSPACE_BYTES);
    if (e == cudaSuccess) e = cudaMalloc(&c->scratch, WM_CUDA_SCRATCH_BYTES);
    if (e != cudaSuccess) {
        ctx_release(c);
        return wm__errf(err, e == cudaErrorMemoryAllocation ? WM_ERR_OUT_OF_MEMORY : WM_ERR_NO_DEVICE,
                        "CUDA backend: device %d setup failed: %s", dev, cudaGetErrorString(e));
    }
    c->workspace_bytes = WM_CUDA_WORKSPACE_BYTES;
    c->scratch_bytes = WM_CUDA_SCRATCH_BYTES;
    c->n_sm = prop.multiProcessorCount;
    c->smem_optin = prop.sharedMemPerBlockOptin;
    const char *text_attn = getenv("WM_CUDA_TEXT_ATTN"); /* read once here: no global switch */
    c->text_attn_old = text_attn && !strcmp(text_attn, "old");
    snprintf(c->name, sizeof c->name, "%s", prop.name);
    /* "mma": the mma.sync kernel; "wave": wgmma, a block per unit; "free": wgmma without ping-pong turns */
    const char *attn = getenv("WM_CUDA_ATTN");
    c->attn_impl = attn && strcmp(attn, "mma") == 0 ? WM_ATTN_MMA : WM_ATTN_AUTO;
    c->attn_wave = attn && strcmp(attn, "wave") == 0;
    c->attn_free = attn && strcmp(attn, "free") == 0;
    const char *gdn = getenv("WM_CUDA_GDN"), *conv = getenv("WM_CUDA_CONV"); /* "old": previous kernels */
    c->gdn_old = gdn && strcmp(gdn, "old") == 0;
    c->gdn_tile1 = gdn && strcmp(gdn, "tile1") == 0;
    c->conv_old = conv && strcmp(conv, "old") == 0;
    const char *norms = getenv("WM_CUDA_NORMS"); /* "old": norms.cu kernels that re-read the row */
    c->norms_old = norms && strcmp(norms, "old") == 0;
    const char *qkp = getenv("WM_CUDA_QKP"); /* "warp": dit_qk_prep's second kernel (per-unit parameter loads) */
    c->qkp_warp = qkp && strcmp(qkp, "warp") == 0;
    const char *silu = getenv("WM_CUDA_SILU"); /* "exp": SiLU as x / (1 + e^-x) in the depthwise GLU convs */
    c->silu_exp = silu && strcmp(silu, "exp") == 0;
    const char *mmc = getenv("WM_CUDA_MM_CANDIDATES"); /* 1..64: how many cuBLASLt algorithms each plan times */
    c->mm_candidates = mmc ? atoi(mmc) : WM_CUDA_MM_CANDIDATES_DEFAULT;
    if (c->mm_candidates < 1 || c->mm_candidates > 64) c->mm_candidates = WM_CUDA_MM_CANDIDATES_DEFAULT;
    cublasStatus_t bs = cublasLtCreate(&c->lt);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        ctx_release(c);
        return wm__errf(err, WM_ERR_NO_DEVICE, "CUDA backend: cublasLtCreate failed (%s)", cublasLtGetStatusString(bs));
    }
    be->cuda = c;
    wm__log(WM_LOG_INFO, "cuda: %s, %d SMs, cc %d.%d, %.1f GiB", prop.name, prop.multiProcessorCount, prop.major,
            prop.minor, (double)prop.totalGlobalMem / (1 << 30));
    return WM_OK;
}

extern "C" void wm__cuda_backend_fini(wm_backend *be)
{
    if (!be || !be->cuda) return;
    wm_cuda_ctx *c = (wm_cuda_ctx *)be->cuda;
    cudaStreamSynchronize(c->stream);
    ctx_release(c);
    be->cuda = NULL;
}

extern "C" wm_status wm__cuda_malloc(wm_backend *be, size_t bytes, void **out)
{
    *out = NULL;
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *out = NULL;
        return wm__errf(&be->err, e == cudaErrorMemoryAllocation ? WM_ERR_OUT_OF_MEMORY : WM_ERR_CUDA,
                        "cuda: cannot allocate %.1f MiB: %s", (double)bytes / (1 << 20), cudaGetErrorString(e));
    }
    return WM_OK;
}

extern "C" void wm__cuda_free(wm_backend *be, void *p)
{
    (void)be;
    if (p) cudaFree(p);
}

/* Copies are ordered on the backend stream and complete before returning, so host buffers may be
 * reused at once (uploads happen at load time and downloads at frame readback, both off the GPU's
 * critical chain). */
extern "C" wm_status wm__cuda_memcpy(wm_backend *be, void *dst, const void *src, size_t bytes, int to_device)
{
    cudaStream_t s = wm__cuda_stream(be);
    WM_CUDA_TRY(be, cudaMemcpyAsync(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, s));
    /* Host memory here is pageable (nothing is pinned), so an upload returns once src has been staged
     * (the caller may reuse it at once) and needs no stream synchronisation: the GPU keeps running the
     * work queued before it instead of draining at every upload (a forward uploads its inputs and tables
     * each time). A download must complete before the caller reads dst. */
    if (!to_device) WM_CUDA_TRY(be, cudaStreamSynchronize(s));
    return WM_OK;
}

extern "C" wm_status wm__cuda_sync(wm_backend *be)
{
    WM_CUDA_TRY(be, cudaStreamSynchronize(wm__cuda_stream(be)));
    return WM_OK;
}

extern "C" wm_status wm__cuda_smem_optin(wm_backend *be, const void *func, int slot, size_t bytes)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    if (c->smem_set[slot] >= bytes) return WM_OK;
    if (bytes > c->smem_optin)
        return wm__errf(&be->err, WM_ERR_UNSUPPORTED, "kernel needs %zu bytes of shared memory, the GPU allows %zu",
                        bytes, c->smem_optin);
    WM_CUDA_TRY(be, cudaFuncSetAttribute(func, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    c->smem_set[slot] = bytes;
    return WM_OK;
}
