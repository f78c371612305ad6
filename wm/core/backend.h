/* Backends: where tensors live and ops run.
 *
 * Two kinds: CPU (the reference; fp32 math, multi-threaded with a pthread pool) and CUDA (bf16 storage,
 * fp32 accumulation, one stream). Every op is declared once in kernels/ops.h and reached through the
 * backend's op table, so model code is written once and runs on either backend. Creating a CUDA backend
 * on a machine without a GPU (or a build without nvcc) fails cleanly with WM_ERR_NO_DEVICE; callers then
 * fall back to the CPU.
 */
#ifndef WM_CORE_BACKEND_H
#define WM_CORE_BACKEND_H

#include "wm/core/log.h"
#include "wm/core/tensor.h"
#include "wm/core/threadpool.h"

typedef enum wm_backend_kind { WM_BACKEND_CPU = 0, WM_BACKEND_CUDA = 1 } wm_backend_kind;

typedef struct wm_backend_params {
    int n_threads;   /* CPU worker threads; 0 = all online CPUs */
    int cuda_device; /* CUDA device ordinal, default 0 */
} wm_backend_params;

struct wm_ops; /* kernels/ops.h */

/* Called by the op dispatch (kernels/ops.c) before every wm_<op>() with the op's id (enum wm_op_id in
 * kernels/ops.h): lets a profiler attribute device time to ops without touching the model code. NULL
 * (the default) costs one pointer test per op. Not for graph capture. */
typedef void (*wm_op_observer)(void *ctx, int op_id);

typedef struct wm_backend {
    wm_backend_kind kind;
    wm_device device;           /* memory the backend's tensors live in */
    const struct wm_ops *ops;   /* op table (kernels/ops.h) */
    wm_threadpool *pool;        /* CPU workers (CUDA backend: host-side helpers) */
    void *cuda;                 /* CUDA context (stream, cuBLASLt handle, workspace); NULL on CPU */
    wm_error err;               /* last error with detail */
    wm_op_observer op_observer; /* optional, see above; set by benchmarks only */
    void *op_observer_ctx;
} wm_backend;

wm_backend_params wm_backend_default_params(void);
wm_status wm_backend_create(wm_backend_kind kind, const wm_backend_params *p, wm_backend **out, wm_error *err);
void wm_backend_free(wm_backend *be);
const char *wm_backend_name(const wm_backend *be); /* "cpu" or "cuda:<device name>" */

/* Device memory of the backend (host memory for CPU). Not for the hot path: use arenas. */
wm_status wm_backend_malloc(wm_backend *be, size_t bytes, void **out);
void wm_backend_mfree(wm_backend *be, void *p);
/* Copies between host and the backend's device (plain memcpy on CPU). */
wm_status wm_backend_upload(wm_backend *be, void *dst_dev, const void *src_host, size_t bytes);
wm_status wm_backend_download(wm_backend *be, void *dst_host, const void *src_dev, size_t bytes);
wm_status wm_backend_sync(wm_backend *be);

/* Implemented by kernels/cuda when built (WM_HAVE_CUDA); used by wm_backend_create. */
wm_status wm__cuda_backend_init(wm_backend *be, const wm_backend_params *p, wm_error *err);
void wm__cuda_backend_fini(wm_backend *be);
wm_status wm__cuda_malloc(wm_backend *be, size_t bytes, void **out);
void wm__cuda_free(wm_backend *be, void *p);
wm_status wm__cuda_memcpy(wm_backend *be, void *dst, const void *src, size_t bytes, int to_device);
wm_status wm__cuda_sync(wm_backend *be);

#endif
