/* `wm bench gemm|ops|dit|vae|text` -- GPU measurements with random data, printed as short tables.
 *
 *   gemm  the card's bf16 GEMM ceiling (8192^3 through our cuBLASLt matmul op) and the DiT's GEMM shapes
 *         per 3-frame streaming chunk (2640 tokens) and per 11-frame bidirectional clip (9680 tokens);
 *   ops   the memory-bound common ops (GB/s) and flash attention at the streaming shape (TFLOP/s);
 *   dit   the stage-1 DiT streaming chunk (bench_dit.c);
 *   vae   the LTX-2 VAE: steady-state decode chunk, image encode (cmd_bench_vae.c);
 *   text  the Gemma-2-2B prompt encoder (cmd_bench_text.c).
 *
 * Timing: host clock around R launches bracketed by stream syncs, repeated B times, median reported.
 * With R launches of >= 50 us each the sync overhead is < 1%, so this equals event timing while keeping
 * this file free of CUDA headers (it builds without nvcc, and then reports that no GPU backend exists).
 * Weights rotate over enough copies that they do not sit in the 50 MB L2, as in the real model where
 * every GEMM reads a different weight. Inputs are random normals, never zeros (zeros run faster).
 */
#include "wm/cli/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma weak wm__cuda_mem_info
#pragma weak wm__cuda_device_name
#pragma weak wm__cuda_fill_normal
/* vae/text need the model libraries (wm/vae, wm/text): linked into `wm`, absent from tools/device's
 * standalone wmbench, where these stay NULL. */
#pragma weak wm_bench_vae
#pragma weak wm_bench_text

double wm_bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double wm_bench_percentile(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

wm_status wm_bench_time(wm_backend *be, wm_bench_fn fn, void *ctx, int reps, int batches, double *median_ms)
{
    double t[64];
    if (batches > 64) batches = 64;
    WM_TRY(fn(be, ctx, 0)); /* warm-up: plans, module load */
    WM_TRY(wm_backend_sync(be));
    for (int b = 0; b < batches; b++) {
        double t0 = wm_bench_now_ms();
        for (int r = 0; r < reps; r++) WM_TRY(fn(be, ctx, b * reps + r + 1));
        WM_TRY(wm_backend_sync(be));
        t[b] = (wm_bench_now_ms() - t0) / reps;
    }
    *median_ms = wm_bench_percentile(t, batches, 0.5);
    return WM_OK;
}

wm_status wm_bench_tensor(wm_backend *be, wm_dtype dt, int64_t rows, int64_t cols, uint64_t seed, float scale,
                          wm_tensor *out)
{
    int64_t s[2] = {rows, cols};
    *out = wm_tensor_view(dt, WM_DEVICE_CUDA, NULL, 2, s);
    WM_TRY(wm_backend_malloc(be, wm_tensor_nbytes(out), &out->data));
    if (!wm__cuda_fill_normal) return WM_ERR_NO_DEVICE;
    return wm__cuda_fill_normal(be, out, seed, scale);
}

wm_status wm_bench_open(wm_backend **be)
{
    wm_error err = {0};
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, NULL, be, &err);
    if (st != WM_OK) fprintf(stderr, "wm bench: %s\n", err.msg);
    return st;
}

void wm_bench_header(wm_backend *be, const char *what)
{
    size_t used = 0, total = 0;
    if (wm__cuda_mem_info) wm__cuda_mem_info(be, &used, &total);
    printf("# wm bench %s on %s (%.1f GiB)\n", what, wm__cuda_device_name ? wm__cuda_device_name(be) : "?",
           (double)total / (1 << 30));
}

/* ---------------------------------------------------------------- gemm */

typedef struct {
    wm_tensor x, y, *w; /* w: n_w rotating weight copies */
    int n_w;
    wm_act act;
} gemm_ctx;

static wm_status gemm_step(wm_backend *be, void *p, int i)
{
    gemm_ctx *g = p;
    return wm_matmul(be, &g->x, &g->w[i % g->n_w], NULL, g->act, &g->y);
}

/* One GEMM shape: returns TFLOP/s (and prints a row). */
static wm_status bench_gemm_shape(wm_backend *be, const char *name, int64_t N, int64_t K, int64_t M, wm_act act,
                                  double *tflops)
{
    gemm_ctx g = {.act = act};
    size_t wbytes = (size_t)(M * K * 2);
    g.n_w = (int)((256u << 20) / wbytes) + 1; /* >= 256 MB of weights in rotation: far beyond L2 */
    if (g.n_w > 16) g.n_w = 16;
    g.w = calloc((size_t)g.n_w, sizeof *g.w);
    wm_status st = wm_bench_tensor(be, WM_BF16, N, K, 1, 1.0f, &g.x);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, N, M, 2, 1.0f, &g.y);
    for (int i = 0; i < g.n_w && st == WM_OK; i++) st = wm_bench_tensor(be, WM_BF16, M, K, 10 + i, 0.02f, &g.w[i]);
    double ms = 0;
    double flop = 2.0 * N * K * M;
    int reps = (int)(2e12 / flop / 10) + 3; /* ~ 10-50 ms per batch */
    if (reps > 200) reps = 200;
    if (st == WM_OK) st = wm_bench_time(be, gemm_step, &g, reps, 9, &ms);
    if (st == WM_OK) {
        *tflops = flop / (ms * 1e-3) / 1e12;
        printf("%-28s %6lld %6lld %6lld %9.3f %8.1f\n", name, (long long)N, (long long)K, (long long)M, ms, *tflops);
    } else {
        fprintf(stderr, "gemm %s: %s: %s\n", name, wm_status_str(st), be->err.msg);
    }
    wm_backend_mfree(be, g.x.data);
    wm_backend_mfree(be, g.y.data);
    for (int i = 0; i < g.n_w; i++) wm_backend_mfree(be, g.w[i].data);
    free(g.w);
    return st;
}

wm_status wm_bench_gemm_ceiling(wm_backend *be, double *tflops)
{
    return bench_gemm_shape(be, "square 8192^3 (ceiling)", 8192, 8192, 8192, WM_ACT_NONE, tflops);
}

static int bench_gemm(void)
{
    wm_backend *be;
    if (wm_bench_open(&be) != WM_OK) return 1;
    wm_bench_header(be, "gemm");
    printf("%-28s %6s %6s %6s %9s %8s\n", "shape", "N", "K", "M", "ms", "TFLOP/s");
    double ceil = 0, t = 0, sum_flop = 0, sum_ms = 0;
    wm_status st = wm_bench_gemm_ceiling(be, &ceil);
    static const struct { const char *name; int64_t K, M; wm_act act; } shapes[] = {
        {"qkv / cam qkv (C->3C)", 2240, 6720, WM_ACT_NONE}, {"proj-like (C->C)", 2240, 2240, WM_ACT_NONE},
        {"ffn inverted (C->2M)", 2240, 13440, WM_ACT_NONE}, {"ffn point (6720->C)", 6720, 2240, WM_ACT_NONE},
        {"t_conv as one GEMM (3C->C)", 6720, 2240, WM_ACT_NONE},
    };
    const int64_t Ns[2] = {2640, 9680};
    for (int n = 0; n < 2 && st == WM_OK; n++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && st == WM_OK; s++) {
            char name[64];
            snprintf(name, sizeof name, "%s", shapes[s].name);
            st = bench_gemm_shape(be, name, Ns[n], shapes[s].K, shapes[s].M, shapes[s].act, &t);
            double flop = 2.0 * Ns[n] * shapes[s].K * shapes[s].M;
            sum_flop += flop;
            sum_ms += flop / (t * 1e12) * 1e3;
        }
    if (st == WM_OK)
        printf("ceiling %.1f TFLOP/s; DiT shapes together %.1f TFLOP/s (%.0f%% of ceiling)\n", ceil,
               sum_flop / (sum_ms * 1e-3) / 1e12, 100.0 * sum_flop / (sum_ms * 1e-3) / 1e12 / ceil);
    wm_backend_free(be);
    return st == WM_OK ? 0 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: wm bench <what> [options]\n"
               "  gemm          bf16 GEMM ceiling (8192^3) and the DiT GEMM shapes, TFLOP/s\n"
               "  ops           common ops at DiT shapes: GB/s (norms, elementwise), TFLOP/s (attention)\n"
               "  dit [--model [--profile]] [--chunks N] [--warmup N] [--no-graph]\n"
               "                stage-1 DiT at the full config, random weights: streaming chunk + 11-frame\n"
               "                forward; default = op-sequence replica, --model = the wm/dit forward itself\n"
               "                (--profile: then device ms per op of one chunk, op by op)\n"
               "  vae [--frames N] [--size HxW] [--iters N] [--conv old|cudnn|igemm|best] [--no-compare]\n"
               "                LTX-2 VAE, real config, random bf16 weights: steady-state decode chunk\n"
               "                (3 latent -> 24 frames at 704x1280), image encode, TFLOP/s vs the GEMM ceiling\n"
               "  text [--tokens N] [--iters N] [--no-profile]\n"
               "                Gemma-2-2B, real config, random weights: ms per prompt encode (300 tokens),\n"
               "                fused and separate-GEMM forwards, then device ms per stage of one encode\n"
               "Needs a CUDA GPU; prints a table and exits 0, or 1 on a device error, 2 on bad arguments.\n");
}

int wm_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *what = argv[1];
    if (!strcmp(what, "gemm")) return bench_gemm();
    if (!strcmp(what, "ops")) return wm_bench_ops(argc - 1, argv + 1);
    if (!strcmp(what, "dit")) return wm_bench_dit(argc - 1, argv + 1);
    if (!strcmp(what, "vae") || !strcmp(what, "text")) {
        int (*fn)(int, char **) = what[0] == 'v' ? wm_bench_vae : wm_bench_text;
        if (fn) return fn(argc - 1, argv + 1);
        fprintf(stderr, "wm bench %s: this build has no %s model (use the `wm` CLI)\n", what, what);
        return 1;
    }
    fprintf(stderr, "wm bench: unknown benchmark '%s'\n", what);
    usage(stderr);
    return 2;
}
