/* cuda_api.h -- the few CUDA-backend services beyond the op table, as plain C for host code (benchmarks,
 * the runtime's graph capture) that must compile without CUDA headers.
 *
 * Callers in libraries that may be built without CUDA declare these weak (as wm/core/backend.c does for
 * the backend entry points) and check for NULL before calling.
 *
 * Graphs: the per-chunk DiT forward is ~2,000 small launches; capturing it once into a CUDA graph and
 * replaying it removes the per-launch CPU cost and the gaps between kernels. Capture mode is
 * thread-local relaxed, so host-side work (cuBLASLt plan lookups) may run during capture; a graph
 * records device addresses, so the captured buffers must stay allocated while the graph is used.
 */
#ifndef WM_KERNELS_CUDA_API_H
#define WM_KERNELS_CUDA_API_H

#ifdef __cplusplus
extern "C" {
#endif

#include "wm/core/backend.h"

typedef struct wm_cuda_graph wm_cuda_graph;

/* Begin capturing every op issued on the backend's stream until wm__cuda_graph_end. */
wm_status wm__cuda_graph_begin(wm_backend *be);
/* End capture and instantiate; *out is freed with wm__cuda_graph_free. */
wm_status wm__cuda_graph_end(wm_backend *be, wm_cuda_graph **out);
wm_status wm__cuda_graph_launch(wm_backend *be, wm_cuda_graph *g);
void wm__cuda_graph_free(wm_cuda_graph *g);

/* Device memory: bytes in use on the device (all processes' view: total - free) and total. */
wm_status wm__cuda_mem_info(wm_backend *be, size_t *used, size_t *total);
/* Device name ("NVIDIA H100 80GB HBM3"), SM count. */
const char *wm__cuda_device_name(wm_backend *be);
int wm__cuda_sm_count(wm_backend *be);
/* Fill n elements of a device float tensor (fp32/bf16) with N(0, scale^2) values from a counter-based
 * hash of (seed, index): for random weights in benchmarks without a host round trip. */
wm_status wm__cuda_fill_normal(wm_backend *be, wm_tensor *t, uint64_t seed, float scale);

/* Profiling by category (benchmarks only; not capturable): wm__cuda_prof_mark(be, cat) records a device
 * event before an op of category cat (0..WM_PROF_CATS-1); the time until the next mark is charged to
 * cat. wm__cuda_prof_collect(be, ms) synchronises, adds each category's milliseconds into ms[] and
 * clears the marks. A mark with cat < 0 closes the last interval. */
#define WM_PROF_CATS 96 /* >= WM_OP_COUNT: per-op profiles use op ids as categories */
wm_status wm__cuda_prof_mark(wm_backend *be, int cat);
wm_status wm__cuda_prof_collect(wm_backend *be, double *ms);

#ifdef __cplusplus
}
#endif
#endif
