/* `wm bench ops`: the common ops at the DiT's streaming shapes on the CUDA backend.
 *
 * Memory-bound ops are reported in GB/s counting each input read once and each output written once
 * (the minimum traffic; compare with the card's copy bandwidth, ~3.0 TB/s read+write on the H100 here).
 * Attention is reported in TFLOP/s counting 4*Nq*Nk*C (QK^T and PV), the spec §8.2 convention.
 * Shapes: one 3-frame chunk = 2640 tokens x 2240 channels, bf16; streaming window 8,800 keys; text
 * cross-attention 300 keys; bidirectional 11-frame clip 9,680 tokens.
 */
#include "wm/cli/bench.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    int op;
    wm_tensor x[4], y, g, mask;
    int heads;
} ops_ctx;

enum { OP_RMS, OP_LNMOD, OP_GADD, OP_MUL, OP_SILU, OP_ATTN };

static wm_status ops_step(wm_backend *be, void *p, int i)
{
    ops_ctx *c = p;
    wm_tensor *x = &c->x[i & 3]; /* rotate inputs: 4 x 11.8 MB is beyond L2 reuse between steps */
    switch (c->op) {
    case OP_RMS: {
        wm_tensor w = wm_tensor_slice0(&c->g, 0, 1); /* (1, C) norm weight */
        return wm_rmsnorm(be, x, &w, 1e-5f, &c->y);
    }
    case OP_LNMOD: return wm_layernorm_modulate(be, x, &c->g, &c->g, 880, 1e-6f, &c->y);
    case OP_GADD: return wm_gated_add(be, &c->y, x, &c->g, 880);
    case OP_MUL: return wm_mul(be, x, &c->x[(i + 1) & 3], &c->y);
    case OP_SILU: return wm_activate(be, x, WM_ACT_SILU);
    default: return WM_ERR_INVALID_ARG;
    }
}

static wm_status bench_mem_op(wm_backend *be, const char *name, int op, double bytes_per_elem)
{
    const int64_t N = 2640, C = 2240;
    ops_ctx c;
    memset(&c, 0, sizeof c);
    c.op = op;
    wm_status st = WM_OK;
    for (int i = 0; i < 4 && st == WM_OK; i++) st = wm_bench_tensor(be, WM_BF16, N, C, 100 + i, 1.0f, &c.x[i]);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, N, C, 200, 1.0f, &c.y);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 3, C, 300, 0.1f, &c.g);
    double ms = 0;
    if (st == WM_OK) st = wm_bench_time(be, ops_step, &c, 50, 9, &ms);
    if (st == WM_OK)
        printf("%-34s %9.4f ms %8.0f GB/s\n", name, ms, (double)N * C * bytes_per_elem / (ms * 1e-3) / 1e9);
    else
        fprintf(stderr, "%s: %s\n", name, be->err.msg);
    for (int i = 0; i < 4; i++) wm_backend_mfree(be, c.x[i].data);
    wm_backend_mfree(be, c.y.data);
    wm_backend_mfree(be, c.g.data);
    return st;
}

static wm_status attn_step(wm_backend *be, void *p, int i)
{
    ops_ctx *c = p;
    (void)i;
    return wm_attention(be, &c->x[0], &c->x[1], &c->x[2], c->mask.data ? &c->mask : NULL, c->heads,
                        0.0944911182523068f /* 1/sqrt(112) */, &c->y);
}

static wm_status bench_attn(wm_backend *be, const char *name, int64_t Nq, int64_t Nk, int masked)
{
    const int64_t C = 2240;
    ops_ctx c;
    memset(&c, 0, sizeof c);
    c.heads = 20;
    wm_status st = wm_bench_tensor(be, WM_BF16, Nq, C, 1, 1.0f, &c.x[0]);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, Nk, C, 2, 1.0f, &c.x[1]);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, Nk, C, 3, 1.0f, &c.x[2]);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, Nq, C, 4, 1.0f, &c.y);
    if (st == WM_OK && masked) {
        int64_t s = Nk;
        c.mask = wm_tensor_view(WM_U8, WM_DEVICE_CUDA, NULL, 1, &s);
        st = wm_backend_malloc(be, (size_t)Nk, &c.mask.data);
        unsigned char m[512];
        for (int64_t j = 0; j < Nk && j < 512; j++) m[j] = j < Nk * 3 / 4; /* a prompt shorter than 300 */
        if (st == WM_OK) st = wm_backend_upload(be, c.mask.data, m, (size_t)(Nk < 512 ? Nk : 512));
    }
    double ms = 0, flop = 4.0 * Nq * Nk * C;
    int reps = (int)(5e11 / flop) + 2;
    if (st == WM_OK) st = wm_bench_time(be, attn_step, &c, reps > 100 ? 100 : reps, 7, &ms);
    if (st == WM_OK)
        printf("%-34s %9.4f ms %8.1f TFLOP/s\n", name, ms, flop / (ms * 1e-3) / 1e12);
    else
        fprintf(stderr, "%s: %s\n", name, be->err.msg);
    for (int i = 0; i < 3; i++) wm_backend_mfree(be, c.x[i].data);
    wm_backend_mfree(be, c.y.data);
    if (c.mask.data) wm_backend_mfree(be, c.mask.data);
    return st;
}

/* DiT ops at the streaming shape (T = 3 frames, 22x40, 20 heads x 112): device time per call, the
 * numbers behind the per-category profile of `wm bench dit` without its launch gaps. */
typedef struct {
    int op;
    wm_tensor k, v, beta, P, A, g, M, Mf, Mr, x2, w9, b2, y, wk, tail, nw, mats, cs, sn;
} dop_ctx;
enum { D_GRAM, D_GRAM1, D_SCANF, D_SCANR, D_SCANZ, D_OUT, D_DW, D_SCONV, D_SHIFT, D_DWS, D_QKP };
static const int k_bounds[2] = {0, 3};

static wm_status dop_step(wm_backend *be, void *p, int i)
{
    dop_ctx *c = p;
    (void)i;
    switch (c->op) {
    case D_GRAM: return wm_gdn_gram(be, &c->k, &c->v, &c->beta, 3, &c->P, &c->A);
    case D_GRAM1: {
        int64_t sh[4] = {3, 20, 112, 1};
        wm_tensor a1 = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c->A.data, 4, sh);
        return wm_gdn_gram(be, &c->k, NULL, &c->beta, 3, &c->P, &a1);
    }
    case D_SCANF: return wm_gdn_scan(be, &c->P, &c->A, &c->g, &c->M, 0, k_bounds, 1, &c->Mf, &c->M);
    case D_SCANR: return wm_gdn_scan(be, &c->P, &c->A, &c->g, NULL, 1, k_bounds, 1, &c->Mr, NULL);
    case D_OUT: return wm_gdn_output(be, &c->k, &c->Mf, &c->Mr, NULL, NULL, NULL, 0.0f, &c->v);
    case D_DW: return wm_depthwise3x3_glu(be, &c->x2, &c->w9, &c->b2, 3, 22, 40, &c->y);
    case D_SCONV: return wm_short_conv_t(be, &c->k, &c->wk, &c->tail, k_bounds, 1, &c->v);
    case D_SCANZ: { /* denominator stream: Dv = 1 */
        int64_t sA[4] = {3, 20, 112, 1}, sI[3] = {20, 112, 1};
        wm_tensor a1 = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c->A.data, 4, sA);
        wm_tensor z1 = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c->Mf.data, 4, sA);
        wm_tensor i1 = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c->M.data, 3, sI);
        return wm_gdn_scan(be, &c->P, &a1, &c->g, &i1, 0, k_bounds, 1, &z1, &i1);
    }
    case D_SHIFT: { /* FFN t_conv operand (2640, 3 x 2240) with the one-frame tail */
        wm_tensor t1 = wm_tensor_slice0(&c->tail, 0, 880);
        return wm_temporal_shift_cat(be, &c->k, &t1, k_bounds, 1, &c->y);
    }
    /* fused ops (docs/cuda.md "Fused DiT ops") */
    case D_DWS: return wm_depthwise3x3_silu_glu(be, &c->x2, &c->w9, &c->b2, 3, 22, 40, &c->y);
    case D_QKP: /* GDN camera k: RMSNorm + ReLU + k_pre copy + UCPE + camera RoPE */
        return wm_dit_qk_prep(be, &c->k, &c->nw, 1e-6f, 1, &c->mats, 0, &c->cs, &c->sn, 20, 56, 0, &c->v, &c->tail);
    default: return WM_ERR_INVALID_ARG;
    }
}

static wm_status bench_dit_ops(wm_backend *be)
{
    dop_ctx c;
    memset(&c, 0, sizeof c);
    int64_t sP[4] = {3, 20, 112, 112}, sM[3] = {20, 112, 112};
    wm_status st = wm_bench_tensor(be, WM_BF16, 2640, 2240, 1, 0.05f, &c.k);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, 2640, 2240, 2, 1.0f, &c.v);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 2640, 20, 3, 0.5f, &c.beta);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 3 * 20 * 112, 112, 4, 0.001f, &c.P);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 3 * 20 * 112, 112, 5, 0.01f, &c.A);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 3 * 20 * 112, 112, 6, 0.01f, &c.Mf);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 3 * 20 * 112, 112, 7, 0.01f, &c.Mr);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 20 * 112, 112, 8, 0.01f, &c.M);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 3, 20, 9, 0.1f, &c.g);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, 2640, 13440, 10, 1.0f, &c.x2);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, 13440, 9, 11, 0.2f, &c.w9);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, 1, 13440, 12, 0.1f, &c.b2);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, 2640, 6720, 13, 1.0f, &c.y);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 2240, 4, 14, 0.3f, &c.wk);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_BF16, 3 * 880, 2240, 15, 1.0f, &c.tail);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 1, 2240, 16, 0.1f, &c.nw);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 2640, 16, 17, 0.5f, &c.mats);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 2640, 28, 18, 0.7f, &c.cs);
    if (st == WM_OK) st = wm_bench_tensor(be, WM_F32, 2640, 28, 19, 0.7f, &c.sn);
    c.P = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c.P.data, 4, sP);
    c.A = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c.A.data, 4, sP);
    c.Mf = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c.Mf.data, 4, sP);
    c.Mr = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c.Mr.data, 4, sP);
    c.M = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, c.M.data, 3, sM);
    static const char *const names[] = {"gdn_gram k,v (P, A)", "gdn_gram k (P, b)", "gdn_scan forward (3 frames)",
                                        "gdn_scan reverse", "gdn_scan fwd Dv=1 (z)", "gdn_output (tensor cores)",
                                        "depthwise3x3_glu", "short_conv_t (tail)", "temporal_shift_cat",
                                        "depthwise3x3_silu_glu (fused)", "dit_qk_prep cam k + k_pre (fused)"};
    printf("DiT ops, one 3-frame chunk (device time per call; x calls per chunk):\n");
    static const int per_chunk[] = {150, 75, 150, 150, 150, 150, 100, 150, 100, 100, 600};
    for (int op = 0; op <= D_QKP && st == WM_OK; op++) {
        double ms = 0;
        c.op = op;
        st = wm_bench_time(be, dop_step, &c, 50, 7, &ms);
        if (st == WM_OK) printf("%-34s %9.4f ms  x%3d = %6.1f ms\n", names[op], ms, per_chunk[op], ms * per_chunk[op]);
        else fprintf(stderr, "%s: %s\n", names[op], be->err.msg);
    }
    wm_tensor *all[] = {&c.k, &c.v, &c.beta, &c.P, &c.A, &c.Mf, &c.Mr, &c.M, &c.g, &c.x2, &c.w9, &c.b2, &c.y, &c.wk, &c.tail,
                        &c.nw, &c.mats, &c.cs, &c.sn};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) wm_backend_mfree(be, all[i]->data);
    return st;
}

int wm_bench_ops(int argc, char **argv)
{
    (void)argc; (void)argv;
    wm_backend *be;
    if (wm_bench_open(&be) != WM_OK) return 1;
    wm_bench_header(be, "ops");
    printf("memory-bound ops, 2640 x 2240 bf16 (one 3-frame chunk):\n");
    wm_status st = bench_mem_op(be, "rmsnorm (C=2240)", OP_RMS, 4);
    if (st == WM_OK) st = bench_mem_op(be, "layernorm_modulate (3 frames)", OP_LNMOD, 4);
    if (st == WM_OK) st = bench_mem_op(be, "gated_add (fp32 gate)", OP_GADD, 6);
    if (st == WM_OK) st = bench_mem_op(be, "mul", OP_MUL, 6);
    if (st == WM_OK) st = bench_mem_op(be, "activate silu (in place)", OP_SILU, 4);
    printf("attention, 20 heads x 112, scale 1/sqrt(112):\n");
    if (st == WM_OK) st = bench_attn(be, "streaming: 2640 q x 8800 k", 2640, 8800, 0);
    if (st == WM_OK) st = bench_attn(be, "cross-attn: 2640 q x 300 text (mask)", 2640, 300, 1);
    if (st == WM_OK) st = bench_attn(be, "bidirectional 11 frames: 9680^2", 9680, 9680, 0);
    if (st == WM_OK) st = bench_dit_ops(be);
    wm_backend_free(be);
    return st == WM_OK ? 0 : 1;
}
