/* Backend creation and memory helpers. The CPU backend is a thread pool plus the reference op table; the
 * CUDA backend's device work lives in kernels/cuda (library wm_cuda).
 *
 * The CUDA entry points are WEAK references here: a program that links wm_cuda (the `wm` CLI, the GPU
 * tests) gets the CUDA backend, every other program (the many CPU tests) stays free of cudart/cuBLAS,
 * whose loading costs ~0.45 s per process start (deps-probe pitfall 11), and asking it for a CUDA
 * backend returns WM_ERR_NO_DEVICE. */
#include "wm/core/backend.h"

#include "kernels/ops.h"

#include <stdlib.h>
#include <string.h>

#pragma weak wm__cuda_backend_init
#pragma weak wm__cuda_backend_fini
#pragma weak wm__cuda_malloc
#pragma weak wm__cuda_free
#pragma weak wm__cuda_memcpy
#pragma weak wm__cuda_sync
#pragma weak wm__ops_cuda

static int have_cuda(void) { return wm__cuda_backend_init != NULL && &wm__ops_cuda != NULL; }

wm_backend_params wm_backend_default_params(void)
{
    wm_backend_params p;
    memset(&p, 0, sizeof p);
    return p;
}

wm_status wm_backend_create(wm_backend_kind kind, const wm_backend_params *p, wm_backend **out, wm_error *err)
{
    wm_backend_params defaults = wm_backend_default_params();
    if (!p) p = &defaults;
    *out = NULL;
    if (kind == WM_BACKEND_CUDA && !have_cuda())
        return wm__errf(err, WM_ERR_NO_DEVICE, "CUDA backend: this program was built without CUDA support");
    wm_backend *be = calloc(1, sizeof *be);
    if (!be) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "backend: out of memory");
    be->kind = kind;
    wm_status st = wm_threadpool_create(p->n_threads, &be->pool);
    if (st != WM_OK) {
        free(be);
        return wm__errf(err, st, "backend: cannot start %d worker threads", p->n_threads);
    }
    if (kind == WM_BACKEND_CPU) {
        be->device = WM_DEVICE_CPU;
        be->ops = &wm__ops_cpu;
    } else {
        be->device = WM_DEVICE_CUDA;
        be->ops = &wm__ops_cuda;
        st = wm__cuda_backend_init(be, p, err);
        if (st != WM_OK) {
            wm_threadpool_free(be->pool);
            free(be);
            return st;
        }
    }
    *out = be;
    return WM_OK;
}

void wm_backend_free(wm_backend *be)
{
    if (!be) return;
    if (be->kind == WM_BACKEND_CUDA) wm__cuda_backend_fini(be);
    wm_threadpool_free(be->pool);
    free(be);
}

const char *wm_backend_name(const wm_backend *be) { return be->kind == WM_BACKEND_CPU ? "cpu" : "cuda"; }

wm_status wm_backend_malloc(wm_backend *be, size_t bytes, void **out)
{
    if (be->kind == WM_BACKEND_CUDA) return wm__cuda_malloc(be, bytes, out);
    void *p = aligned_alloc(256, (bytes + 255) & ~(size_t)255);
    if (!p) return WM_ERR_OUT_OF_MEMORY;
    *out = p;
    return WM_OK;
}

void wm_backend_mfree(wm_backend *be, void *p)
{
    if (be->kind == WM_BACKEND_CUDA) { wm__cuda_free(be, p); return; }
    free(p);
}

wm_status wm_backend_upload(wm_backend *be, void *dst, const void *src, size_t bytes)
{
    if (be->kind == WM_BACKEND_CUDA) return wm__cuda_memcpy(be, dst, src, bytes, 1);
    memcpy(dst, src, bytes);
    return WM_OK;
}

wm_status wm_backend_download(wm_backend *be, void *dst, const void *src, size_t bytes)
{
    if (be->kind == WM_BACKEND_CUDA) return wm__cuda_memcpy(be, dst, src, bytes, 0);
    memcpy(dst, src, bytes);
    return WM_OK;
}

wm_status wm_backend_sync(wm_backend *be)
{
    if (be->kind == WM_BACKEND_CUDA) return wm__cuda_sync(be);
    (void)be;
    return WM_OK;
}
