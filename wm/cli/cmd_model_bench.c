/* `wm bench dit --model`: the real stage-1 DiT forward of wm/dit (its wm_dit_bench driver: seeded random
 * weights on the device, streaming caches, planned arena) at the full config on CUDA: steady-state
 * streaming chunks (p50/p95) and 11-frame bidirectional forwards, with the block stack of each forward
 * captured once per key as a CUDA graph through wm/dit's blocks hook and replayed after that.
 *
 * --profile: one more steady-state chunk runs op by op (no graph) with a device event before every op
 * (wm_backend.op_observer -> wm__cuda_prof_mark), and the device time per op is printed, largest first:
 * where the chunk's milliseconds go in the real model, fused ops included.
 *
 * Separate from cmd_bench_dit.c (the op-sequence replica) because it needs the model library: it is
 * linked into `wm` only, not into the standalone device build (tools/device).
 */
#include "wm/cli/bench.h"
#include "wm/dit/bench.h"

#include <stdio.h>
#include <string.h>

#pragma weak wm__cuda_graph_begin
#pragma weak wm__cuda_graph_end
#pragma weak wm__cuda_graph_launch
#pragma weak wm__cuda_graph_free
#pragma weak wm__cuda_mem_info
#pragma weak wm__cuda_prof_mark
#pragma weak wm__cuda_prof_collect

_Static_assert(WM_OP_COUNT <= WM_PROF_CATS, "per-op profile: raise WM_PROF_CATS");

int wm_bench_dit_model(int chunks, int warm, int graph, int profile);

/* ---------------------------------------------------------------- --model: the real wm/dit forward */

/* CUDA-graph capture/replay of the block stack through wm/dit's blocks hook: the first forward with a
 * given key runs op by op (its GEMM plans are made there, where cuBLASLt's candidates can be timed: a
 * plan made during capture keeps the heuristic's first pick), the second is captured (and launched at
 * phase 1), later forwards with an equal key replay it. */
#define MAX_GRAPHS 16
typedef struct {
    wm_backend *be;
    int n, captures, replays, n_seen;
    wm_dit_blocks_key seen[MAX_GRAPHS]; /* keys run op by op once, not captured yet */
    wm_dit_blocks_key key[MAX_GRAPHS];
    wm_cuda_graph *g[MAX_GRAPHS];
    int capturing;
    int bypass; /* profiling: run op by op, neither capture nor replay */
} graph_cache;

static wm_status blocks_hook(void *user, int phase, const wm_dit_blocks_key *key, int *skip)
{
    graph_cache *gc = user;
    if (gc->bypass) return WM_OK;
    if (phase == 0) {
        for (int i = 0; i < gc->n; i++)
            if (wm_dit_blocks_key_equal(&gc->key[i], key)) {
                if (gc->key[i].arena_used != key->arena_used)
                    return wm__errf(&gc->be->err, WM_ERR_STATE, "bench dit: graph key with a new arena offset");
                *skip = 1;
                gc->replays++;
                return wm__cuda_graph_launch(gc->be, gc->g[i]);
            }
        if (gc->n == MAX_GRAPHS) return WM_OK; /* table full: run op by op */
        int seen = 0;
        for (int i = 0; i < gc->n_seen && !seen; i++) seen = wm_dit_blocks_key_equal(&gc->seen[i], key);
        if (!seen) { /* first sighting: op by op (plans, autotune) */
            if (gc->n_seen < MAX_GRAPHS) gc->seen[gc->n_seen++] = *key;
            return WM_OK;
        }
        gc->key[gc->n] = *key;
        gc->capturing = 1;
        return wm__cuda_graph_begin(gc->be);
    }
    if (!gc->capturing) return WM_OK;
    gc->capturing = 0;
    WM_TRY(wm__cuda_graph_end(gc->be, &gc->g[gc->n]));
    gc->captures++;
    return wm__cuda_graph_launch(gc->be, gc->g[gc->n++]);
}

/* n timed steps after warm steps: p50/p95 in ms. */
static wm_status time_steps(wm_backend *be, wm_dit_bench *b, int warm, int n, double *p50, double *p95)
{
    double t[256];
    if (n > 256) n = 256;
    for (int i = 0; i < warm; i++) WM_TRY(wm_dit_bench_step(b));
    WM_TRY(wm_backend_sync(be));
    for (int i = 0; i < n; i++) {
        double t0 = wm_bench_now_ms();
        WM_TRY(wm_dit_bench_step(b));
        WM_TRY(wm_backend_sync(be));
        t[i] = wm_bench_now_ms() - t0;
    }
    *p95 = wm_bench_percentile(t, n, 0.95);
    *p50 = wm_bench_percentile(t, n, 0.5);
    return WM_OK;
}

typedef struct { wm_backend *be; int calls[WM_OP_COUNT]; wm_status st; } op_profile;

static void observe_op(void *ctx, int op)
{
    op_profile *p = ctx;
    if (op >= 0 && op < WM_OP_COUNT) p->calls[op]++;
    if (p->st == WM_OK) p->st = wm__cuda_prof_mark(p->be, op);
}

/* One step op by op with a device event before each op; prints device ms per op, largest first. */
static wm_status profile_step(wm_backend *be, wm_dit_bench *b, graph_cache *gc, double graph_ms)
{
    op_profile p;
    memset(&p, 0, sizeof p);
    p.be = be;
    double ms[WM_PROF_CATS] = {0}, tot = 0;
    WM_TRY(wm_backend_sync(be));
    gc->bypass = 1;
    be->op_observer = observe_op;
    be->op_observer_ctx = &p;
    double t0 = wm_bench_now_ms();
    wm_status st = wm_dit_bench_step(b);
    be->op_observer = NULL;
    be->op_observer_ctx = NULL;
    gc->bypass = 0;
    if (st == WM_OK) st = p.st;
    if (st == WM_OK) st = wm__cuda_prof_mark(be, -1);
    if (st == WM_OK) st = wm__cuda_prof_collect(be, ms);
    double wall = wm_bench_now_ms() - t0;
    if (st != WM_OK) return st;
    int order[WM_OP_COUNT], n = 0;
    for (int i = 0; i < WM_OP_COUNT; i++)
        if (p.calls[i]) { order[n++] = i; tot += ms[i]; }
    for (int i = 1; i < n; i++) /* insertion sort by ms, descending */
        for (int j = i; j > 0 && ms[order[j]] > ms[order[j - 1]]; j--) { int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t; }
    printf("  per op (one step op by op, device events before every op; %.1f ms of device time, %.1f ms wall; "
           "graph replay p50 %.1f ms):\n", tot, wall, graph_ms);
    printf("    %-24s %6s %9s %6s %9s\n", "op", "calls", "ms", "share", "us/call");
    for (int k = 0; k < n; k++) {
        int i = order[k];
        printf("    %-24s %6d %9.2f %5.1f%% %9.1f\n", wm_op_name(i), p.calls[i], ms[i], tot > 0 ? 100 * ms[i] / tot : 0.0,
               1e3 * ms[i] / p.calls[i]);
    }
    return WM_OK;
}

static wm_status run_model_variant(wm_backend *be, int streaming, int graph, int warm, int n, double ceil, int profile)
{
    wm_dit_config cfg = wm_dit_config_default();
    graph_cache gc;
    memset(&gc, 0, sizeof gc);
    gc.be = be;
    wm_dit_bench_params p;
    memset(&p, 0, sizeof p);
    p.variant = streaming ? WM_DIT_STREAMING : WM_DIT_BIDIRECTIONAL;
    p.frames = streaming ? 0 : 11;
    p.seed = 7;
    if (graph) { p.blocks_hook = blocks_hook; p.blocks_user = &gc; }
    size_t used0 = 0, used = 0, total = 0;
    wm__cuda_mem_info(be, &used0, &total);
    wm_dit_bench *b = NULL;
    wm_error err = {0};
    wm_status st = wm_dit_bench_create(be, &cfg, &p, &b, &err);
    if (st != WM_OK) {
        fprintf(stderr, "wm bench dit --model: %s\n", err.msg[0] ? err.msg : be->err.msg);
        return st;
    }
    double p50 = 0, p95 = 0, tf = streaming ? 75.6 : 5.11 * 11;
    st = time_steps(be, b, warm, n, &p50, &p95);
    wm__cuda_mem_info(be, &used, &total);
    wm_dit_bench_info info;
    wm_dit_bench_get_info(b, &info);
    if (st == WM_OK) {
        printf("%s (wm/dit forward%s), %d %s after %d warm-up:\n", streaming ? "streaming chunk" : "bidirectional 11 frames",
               graph ? ", block stack as CUDA graphs" : ", op by op", n, streaming ? "chunks" : "forwards", warm);
        printf("  p50 %.1f ms  p95 %.1f ms -> %.0f TFLOP/s (spec 8.2: %.1f TFLOP) = %.0f%% of the GEMM ceiling %.0f\n",
               p50, p95, tf / (p50 * 1e-3), tf, 100.0 * tf / (p50 * 1e-3) / ceil, ceil);
        printf("  weights %.2f GB, caches %.2f GB, arena %.2f GB (peak used %.2f GB); device memory in use %.2f GB "
               "(before the model %.2f GB)%s\n", info.weight_bytes / 1e9, info.cache_bytes / 1e9, info.arena_bytes / 1e9,
               info.arena_peak / 1e9, used / 1e9, used0 / 1e9, graph ? "" : "");
        if (graph) printf("  graphs captured %d, replayed %d\n", gc.captures, gc.replays);
        if (profile) st = profile_step(be, b, &gc, p50);
    }
    if (st != WM_OK) {
        fprintf(stderr, "wm bench dit --model: %s: %s\n", wm_status_str(st), be->err.msg);
    }
    wm_dit_bench_free(b);
    for (int i = 0; i < gc.n; i++) wm__cuda_graph_free(gc.g[i]);
    return st;
}

int wm_bench_dit_model(int chunks, int warm, int graph, int profile)
{
    wm_backend *be;
    if (wm_bench_open(&be) != WM_OK) return 1;
    wm_bench_header(be, "dit --model");
    double ceil = 0;
    wm_status st = wm_bench_gemm_ceiling(be, &ceil);
    if (st == WM_OK) st = run_model_variant(be, 1, graph, warm, chunks, ceil, profile);
    if (st == WM_OK) st = run_model_variant(be, 0, graph, 1, 5, ceil, profile);
    wm_backend_free(be);
    return st == WM_OK ? 0 : 1;
}
