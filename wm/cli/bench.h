/* Shared pieces of the `wm bench` subcommands (cmd_bench*.c): timing, random device tensors, headers. */
#ifndef WM_CLI_BENCH_H
#define WM_CLI_BENCH_H

#include "kernels/cuda/cuda_api.h"
#include "kernels/ops.h"

/* One timed step; i counts calls (0 = warm-up), so a step can rotate among input sets. */
typedef wm_status (*wm_bench_fn)(wm_backend *be, void *ctx, int i);

double wm_bench_now_ms(void);
/* Sorts v in place and returns its p-quantile (0..1). */
double wm_bench_percentile(double *v, int n, double p);
/* Median over `batches` of the mean time of `reps` consecutive steps, after one warm-up step. */
wm_status wm_bench_time(wm_backend *be, wm_bench_fn fn, void *ctx, int reps, int batches, double *median_ms);
/* A (rows, cols) device tensor filled with N(0, scale^2) on the device. */
wm_status wm_bench_tensor(wm_backend *be, wm_dtype dt, int64_t rows, int64_t cols, uint64_t seed, float scale,
                          wm_tensor *out);
wm_status wm_bench_open(wm_backend **be);
void wm_bench_header(wm_backend *be, const char *what);
/* The measured bf16 GEMM rate at 8192^3 (TFLOP/s); prints its table row. */
wm_status wm_bench_gemm_ceiling(wm_backend *be, double *tflops);

int wm_bench_ops(int argc, char **argv);
int wm_bench_dit(int argc, char **argv);
int wm_bench_vae(int argc, char **argv);  /* cmd_bench_vae.c */
int wm_bench_text(int argc, char **argv); /* cmd_bench_text.c */
/* cmd_model_bench.c (only in builds with wm/dit) */
int wm_bench_dit_model(int chunks, int warm, int graph, int profile);

#endif
