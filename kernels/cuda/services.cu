/* CUDA backend services beyond the op table (kernels/cuda/cuda_api.h): graph capture/replay, memory
 * info, device name, and an on-device random fill for benchmark weights.
 *
 * The random fill hashes (seed, index) with splitmix64 and turns two uniforms into a normal (Box-Muller),
 * so filling 5 GB of benchmark weights costs milliseconds and no host memory; it is not meant to match
 * any host RNG (tests draw on the host).
 */
#include "cuda_common.cuh"
#include "cuda_api.h"

#include <stdlib.h>

struct wm_cuda_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

extern "C" wm_status wm__cuda_graph_begin(wm_backend *be)
{
    WM_CUDA_TRY(be, cudaStreamBeginCapture(wm__cuda_stream(be), cudaStreamCaptureModeThreadLocal));
    return WM_OK;
}

extern "C" wm_status wm__cuda_graph_end(wm_backend *be, wm_cuda_graph **out)
{
    *out = NULL;
    wm_cuda_graph *g = (wm_cuda_graph *)calloc(1, sizeof *g);
    if (!g) return wm__errf(&be->err, WM_ERR_OUT_OF_MEMORY, "graph: out of memory");
    cudaError_t e = cudaStreamEndCapture(wm__cuda_stream(be), &g->graph);
    if (e == cudaSuccess) e = cudaGraphInstantiate(&g->exec, g->graph, 0);
    if (e != cudaSuccess) {
        wm__cuda_graph_free(g);
        return wm__cuda_fail(be, "graph", "cudaStreamEndCapture/cudaGraphInstantiate", e);
    }
    *out = g;
    return WM_OK;
}

extern "C" wm_status wm__cuda_graph_launch(wm_backend *be, wm_cuda_graph *g)
{
    WM_CUDA_TRY(be, cudaGraphLaunch(g->exec, wm__cuda_stream(be)));
    return WM_OK;
}

extern "C" void wm__cuda_graph_free(wm_cuda_graph *g)
{
    if (!g) return;
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->graph) cudaGraphDestroy(g->graph);
    free(g);
}

extern "C" wm_status wm__cuda_mem_info(wm_backend *be, size_t *used, size_t *total)
{
    size_t f = 0, t = 0;
    WM_CUDA_TRY(be, cudaMemGetInfo(&f, &t));
    *used = t - f;
    *total = t;
    return WM_OK;
}

extern "C" const char *wm__cuda_device_name(wm_backend *be) { return wm__cuda_ctx(be)->name; }
extern "C" int wm__cuda_sm_count(wm_backend *be) { return wm__cuda_ctx(be)->n_sm; }

__device__ __forceinline__ uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

template <typename T> __global__ void fill_normal_kernel(T *p, int64_t n, uint64_t seed, float scale)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint64_t r = splitmix64(seed ^ splitmix64((uint64_t)i));
        float u1 = ((r >> 40) + 1) * (1.0f / 16777217.0f), u2 = ((r >> 16) & 0xffffff) * (1.0f / 16777216.0f);
        wm_st(p, i, scale * sqrtf(-2.0f * __logf(u1)) * __cosf(6.2831853f * u2));
    }
}

extern "C" wm_status wm__cuda_fill_normal(wm_backend *be, wm_tensor *t, uint64_t seed, float scale)
{
    WM_CUDA_FLOAT(be, t);
    int64_t n = wm_tensor_numel(t);
    if (n == 0) return WM_OK;
    unsigned grid = wm_grid1d(n, 256, 8192);
    if (t->dtype == WM_BF16) fill_normal_kernel<bf16><<<grid, 256, 0, wm__cuda_stream(be)>>>((bf16 *)t->data, n, seed, scale);
    else fill_normal_kernel<float><<<grid, 256, 0, wm__cuda_stream(be)>>>((float *)t->data, n, seed, scale);
    WM_CUDA_LAUNCHED(be);
    return WM_OK;
}

extern "C" wm_status wm__cuda_prof_mark(wm_backend *be, int cat)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    if (!c->prof_ev) {
        c->prof_ev = (cudaEvent_t *)calloc(WM_CUDA_PROF_MAX, sizeof(cudaEvent_t));
        c->prof_cat = (int *)calloc(WM_CUDA_PROF_MAX, sizeof(int));
        if (!c->prof_ev || !c->prof_cat) return wm__errf(&be->err, WM_ERR_OUT_OF_MEMORY, "prof: out of memory");
        for (int i = 0; i < WM_CUDA_PROF_MAX; i++) WM_CUDA_TRY(be, cudaEventCreate(&c->prof_ev[i]));
    }
    if (c->prof_n >= WM_CUDA_PROF_MAX) return wm__errf(&be->err, WM_ERR_LIMIT, "prof: more than %d marks", WM_CUDA_PROF_MAX);
    c->prof_cat[c->prof_n] = cat;
    WM_CUDA_TRY(be, cudaEventRecord(c->prof_ev[c->prof_n++], c->stream));
    return WM_OK;
}

extern "C" wm_status wm__cuda_prof_collect(wm_backend *be, double *ms)
{
    wm_cuda_ctx *c = wm__cuda_ctx(be);
    WM_CUDA_TRY(be, cudaStreamSynchronize(c->stream));
    for (int i = 0; i + 1 < c->prof_n; i++) {
        float t = 0.0f;
        WM_CUDA_TRY(be, cudaEventElapsedTime(&t, c->prof_ev[i], c->prof_ev[i + 1]));
        if (c->prof_cat[i] >= 0 && c->prof_cat[i] < WM_PROF_CATS) ms[c->prof_cat[i]] += t;
    }
    c->prof_n = 0;
    return WM_OK;
}
