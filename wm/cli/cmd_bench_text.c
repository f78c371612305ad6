/* `wm bench text`: the Gemma-2-2B text encoder at the real config (wm_gemma_config_2b(): spec
 * sana_initializers_spec.md §3.1 -- hidden 2304, 26 layers, 8 query / 4 KV heads of 256, MLP 9216) on
 * CUDA with random resident weights (wm_gemma_init_random; no checkpoint, no embedding table): the time
 * to encode one prompt of --tokens tokens (issue 7 target: <= 30 ms for 300 tokens) and GPU memory.
 *
 * One encode = wm_gemma_forward, host ids in, host fp32 last_hidden_state out, i.e. what a prompt
 * change costs the session (upload + forward + download). Timed on the host clock around each call
 * (it synchronises when it downloads), p50/p95 over --iters after one warm-up, for the default forward
 * (fused q/k/v and gate/up GEMMs) and then the separate-GEMM one on the same weights. FLOPs are the layer
 * GEMMs (2 per multiply-add) plus QK^T and PV over all T x T pairs, for a TFLOP/s figure.
 * After the timed runs, one more encode runs with a device event before every op group
 * (wm_gemma_set_profiler -> wm__cuda_prof_mark) and the device time per stage is printed: where the
 * milliseconds go (GEMMs, attention, norms, host input preparation). --no-profile skips it.
 */
#include "wm/cli/bench.h"
#include "wm/text/gemma.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma weak wm__cuda_mem_info
#pragma weak wm__cuda_prof_mark
#pragma weak wm__cuda_prof_collect

static wm_status prof_mark(void *ctx, int stage) { return wm__cuda_prof_mark((wm_backend *)ctx, stage); }

/* One encode with a device event before each op group; prints device ms per stage. */
static wm_status profile(wm_backend *be, wm_gemma *g, const int32_t *ids, const uint8_t *mask, int T, float *out,
                         wm_error *err)
{
    double ms[WM_PROF_CATS] = {0}, tot = 0;
    wm_gemma_set_profiler(g, prof_mark, be);
    wm_status st = wm_gemma_forward(g, ids, mask, T, out, NULL, err);
    wm_gemma_set_profiler(g, NULL, NULL);
    if (st == WM_OK) st = wm__cuda_prof_mark(be, -1);
    if (st == WM_OK) st = wm__cuda_prof_collect(be, ms);
    if (st != WM_OK) return st;
    for (int i = 0; i < WM_GEMMA_N_STAGES; i++) tot += ms[i];
    printf("  per stage (one profiled encode, device events between op groups; %.2f ms in all):\n", tot);
    for (int i = 0; i < WM_GEMMA_N_STAGES; i++)
        printf("    %-26s %7.3f ms %5.1f%%\n", wm_gemma_stage_name(i), ms[i], tot > 0 ? 100 * ms[i] / tot : 0.0);
    return WM_OK;
}

static double gemma_flops(const wm_gemma_config *c, int T)
{
    double hq = (double)c->n_heads * c->head_dim, hkv = (double)c->n_kv_heads * c->head_dim;
    double per_tok = c->hidden * (hq + 2 * hkv) + hq * c->hidden + 3.0 * c->hidden * c->ffn;
    double attn = 2.0 * (double)T * T * hq; /* QK^T and PV, multiply-adds */
    return 2.0 * c->n_layers * (per_tok * T + attn);
}

typedef struct { wm_backend *be; wm_gemma *g; const int32_t *ids; const uint8_t *mask; int T; float *out; } enc_run;

/* iters timed encodes (after one warm-up: cuBLASLt plans for this path's shapes) -> p50, p95 */
static wm_status time_encodes(const enc_run *r, int iters, double *p50, double *p95, wm_error *err)
{
    double t[256];
    wm_status st = wm_gemma_forward(r->g, r->ids, r->mask, r->T, r->out, NULL, err);
    for (int i = 0; st == WM_OK && i < iters; i++) {
        double t0 = wm_bench_now_ms();
        st = wm_gemma_forward(r->g, r->ids, r->mask, r->T, r->out, NULL, err);
        if (st == WM_OK) st = wm_backend_sync(r->be);
        t[i] = wm_bench_now_ms() - t0;
    }
    if (st == WM_OK) {
        *p95 = wm_bench_percentile(t, iters, 0.95);
        *p50 = wm_bench_percentile(t, iters, 0.5);
    }
    return st;
}

static wm_status run(wm_backend *be, int T, int iters, int prof, size_t used0, wm_error *err)
{
    wm_gemma_config cfg = wm_gemma_config_2b();
    wm_gemma_params gp = {.weights = 1, .max_tokens = T};
    wm_gemma *g = NULL;
    int32_t *ids = malloc(sizeof *ids * (size_t)T);
    uint8_t *mask = malloc((size_t)T);
    float *out = malloc(sizeof *out * (size_t)T * (size_t)cfg.hidden);
    size_t used_load = 0, used = 0, total = 0;
    double p50 = 0, p95 = 0, u50 = 0, u95 = 0;
    wm_status st = (ids && mask && out) ? WM_OK : wm__errf(err, WM_ERR_OUT_OF_MEMORY, "bench text: no memory");
    for (int i = 0; st == WM_OK && i < T; i++) {
        ids[i] = (int32_t)((i * 7919u + 2u) % (unsigned)cfg.vocab_size);
        mask[i] = 1;
    }
    if (st == WM_OK) st = wm_gemma_init_random(be, &cfg, &gp, 1, &g, err);
    if (st == WM_OK) st = wm__cuda_mem_info(be, &used_load, &total);
    enc_run r = {be, g, ids, mask, T, out};
    if (st == WM_OK) st = time_encodes(&r, iters, &p50, &p95, err); /* the default (fused) forward */
    if (st == WM_OK) wm_gemma_set_unfused(g, 1);                     /* the separate-GEMM forward */
    if (st == WM_OK) st = time_encodes(&r, iters, &u50, &u95, err);
    if (g) wm_gemma_set_unfused(g, 0);
    if (st == WM_OK) st = wm__cuda_mem_info(be, &used, &total);
    if (st == WM_OK) {
        double fl = gemma_flops(&cfg, T);
        printf("Gemma-2-2B (random resident weights, %d layers, hidden %d), one prompt of %d tokens, %d iters:\n",
               cfg.n_layers, cfg.hidden, T, iters);
        printf("  encode p50 %.2f ms  p95 %.2f ms (target <= 30 ms at 300 tokens); %.2f TFLOP -> %.0f TFLOP/s\n", p50,
               p95, fl / 1e12, fl / (p50 * 1e-3) / 1e12);
        printf("  separate q/k/v and gate/up GEMMs (WM_TEXT_UNFUSED=1): p50 %.2f ms  p95 %.2f ms\n", u50, u95);
        printf("  GPU memory in use: before %.2f GB (context), after load %.2f GB, after the encodes %.2f GB\n",
               used0 / 1e9, used_load / 1e9, used / 1e9);
    }
    if (st == WM_OK && prof) st = profile(be, g, ids, mask, T, out, err);
    wm_gemma_free(g);
    free(ids);
    free(mask);
    free(out);
    return st;
}

int wm_bench_text(int argc, char **argv)
{
    int T = 300, iters = 20, prof = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-profile")) prof = 0;
        else {
            fprintf(stderr, "wm bench text: unknown option '%s' (options: --tokens N --iters N --no-profile)\n", argv[i]);
            return 2;
        }
    }
    if (T < 1 || T > 4096 || iters < 1 || iters > 256) {
        fprintf(stderr, "wm bench text: need 1 <= --tokens <= 4096 and 1 <= --iters <= 256\n");
        return 2;
    }
    if (!wm__cuda_mem_info) {
        fprintf(stderr, "wm bench text: this build has no CUDA backend\n");
        return 1;
    }
    wm_backend *be;
    if (wm_bench_open(&be) != WM_OK) return 1;
    wm_bench_header(be, "text");
    size_t used0 = 0, total = 0;
    if (wm__cuda_mem_info(be, &used0, &total) != WM_OK) used0 = 0;
    wm_error err = {0};
    wm_status st = run(be, T, iters, prof, used0, &err);
    if (st != WM_OK) fprintf(stderr, "wm bench text: %s: %s\n", wm_status_str(st), err.msg[0] ? err.msg : be->err.msg);
    wm_backend_free(be);
    return st == WM_OK ? 0 : 1;
}
