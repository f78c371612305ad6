/* vae_conv3d reference: stride-1 3-D convolution with causal/replicate temporal padding and zeros or
 * reflect spatial padding, channels first (Ci,T,H,W) -> (Co,T,H,W).
 *
 * Direct loop, no im2col: a task is one output frame x a block of 8 output channels. For each output
 * row it walks (ci, dt, dh), fetches the one source row that tap needs (temporal padding and row
 * padding are index remaps, never copies), and adds it, shifted by dw, into 8 accumulator rows with
 * vector axpys. Each source row is read once per 8 outputs and stays in L1, which keeps the small
 * golden configs at a few GFLOP/s without any packing. Reflect columns are the only scalar work.
 * Summation order per output is fixed (ci, dt, dh, dw) and independent of T, so a frame convolved in a
 * streaming chunk is bit-identical to the same frame in a whole-clip call.
 */
#include "cpu_common.h"

#include <stdlib.h>
#include <string.h>

#define CO_BLOCK 8

typedef struct {
    const float *x, *left, *w, *b;
    float *y;
    int64_t Ci, Co, T, H, W, kt, kh, kw;
    int causal, reflect;
    int failed; /* set (atomically) when a worker could not get its accumulator rows */
} conv_ctx;

/* Frame j of the temporally padded input sequence of channel ci (length T + kt - 1). */
static const float *src_frame(const conv_ctx *c, int64_t ci, int64_t j)
{
    int64_t HW = c->H * c->W, n = c->kt - 1;
    if (c->causal) {
        if (j < n) return c->left ? c->left + (ci * n + j) * HW : c->x + ci * c->T * HW;
        return c->x + (ci * c->T + (j - n)) * HW;
    }
    int64_t t = j - n / 2;
    t = t < 0 ? 0 : (t >= c->T ? c->T - 1 : t);
    return c->x + (ci * c->T + t) * HW;
}

/* Padded row index -> source row, or -1 for a zero row. */
static int64_t map_index(int64_t i, int64_t n, int reflect)
{
    if (i >= 0 && i < n) return i;
    if (!reflect) return -1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}

static inline void axpy(float *a, const float *r, float wv, int64_t n)
{
    int64_t i = 0;
    wm_v8 vw = {wv, wv, wv, wv, wv, wv, wv, wv};
    for (; i + 8 <= n; i += 8) {
        wm_v8 va, vr;
        __builtin_memcpy(&va, a + i, 32);
        __builtin_memcpy(&vr, r + i, 32);
        va += vw * vr;
        __builtin_memcpy(a + i, &va, 32);
    }
    for (; i < n; i++) a[i] += wv * r[i];
}

/* acc[w] += wv * row[w + s] over the valid range, with reflect handling at the borders. */
static void add_shifted(float *acc, const float *row, float wv, int64_t s, int64_t W, int reflect)
{
    int64_t lo = s < 0 ? -s : 0, hi = s > 0 ? W - s : W;
    if (hi > lo) axpy(acc + lo, row + lo + s, wv, hi - lo);
    if (!reflect) return;
    for (int64_t w = 0; w < lo; w++) acc[w] += wv * row[map_index(w + s, W, 1)];
    for (int64_t w = hi > lo ? hi : lo; w < W; w++) acc[w] += wv * row[map_index(w + s, W, 1)];
}

static void conv_row(const conv_ctx *c, int64_t t, int64_t co0, int64_t nco, int64_t h, float *acc)
{
    int64_t W = c->W, ph = c->kh / 2, pw = c->kw / 2, K = c->kt * c->kh * c->kw;
    for (int64_t j = 0; j < nco; j++) {
        float bv = c->b ? c->b[co0 + j] : 0.0f;
        for (int64_t w = 0; w < W; w++) acc[j * W + w] = bv;
    }
    for (int64_t ci = 0; ci < c->Ci; ci++) {
        for (int64_t dt = 0; dt < c->kt; dt++) {
            const float *frame = src_frame(c, ci, t + dt);
            for (int64_t dh = 0; dh < c->kh; dh++) {
                int64_t hh = map_index(h + dh - ph, c->H, c->reflect);
                if (hh < 0) continue;
                const float *row = frame + hh * W;
                for (int64_t j = 0; j < nco; j++) {
                    const float *wk = c->w + ((co0 + j) * c->Ci + ci) * K + (dt * c->kh + dh) * c->kw;
                    for (int64_t dw = 0; dw < c->kw; dw++)
                        add_shifted(acc + j * W, row, wk[dw], dw - pw, W, c->reflect);
                }
            }
        }
    }
}

static void conv_tasks(void *p, int64_t i0, int64_t i1)
{
    conv_ctx *c = p;
    int64_t nblk = (c->Co + CO_BLOCK - 1) / CO_BLOCK, HW = c->H * c->W;
    float *acc = malloc(sizeof(float) * CO_BLOCK * (size_t)c->W);
    if (!acc) {
        __atomic_store_n(&c->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        int64_t t = i / nblk, co0 = (i % nblk) * CO_BLOCK;
        int64_t nco = c->Co - co0 < CO_BLOCK ? c->Co - co0 : CO_BLOCK;
        for (int64_t h = 0; h < c->H; h++) {
            conv_row(c, t, co0, nco, h, acc);
            for (int64_t j = 0; j < nco; j++)
                memcpy(c->y + ((co0 + j) * c->T + t) * HW + h * c->W, acc + j * c->W, sizeof(float) * c->W);
        }
    }
    free(acc);
}

wm_status wm_vae_conv3d_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                            const wm_tensor *bias, int causal, int reflect, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, w);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, x->ndim == 4 && w->ndim == 5 && y->ndim == 4, WM_ERR_SHAPE,
                "x, y must be (C,T,H,W) and w (Co,Ci,kt,kh,kw)");
    int64_t Ci = x->shape[0], T = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Co = w->shape[0], kt = w->shape[2], kh = w->shape[3], kw = w->shape[4];
    WM_OP_CHECK(be, w->shape[1] == Ci, WM_ERR_SHAPE, "w's input channels must equal x's channels");
    WM_OP_CHECK(be, kt >= 1 && kh % 2 == 1 && kw % 2 == 1, WM_ERR_SHAPE, "spatial kernel must be odd");
    WM_OP_CHECK(be, causal || kt % 2 == 1, WM_ERR_SHAPE, "non-causal conv needs an odd temporal kernel");
    WM_OP_CHECK(be, y->shape[0] == Co && y->shape[1] == T && y->shape[2] == H && y->shape[3] == W,
                WM_ERR_SHAPE, "y must be (Co,T,H,W)");
    WM_OP_CHECK(be, T >= 1 && W <= (1 << 20), WM_ERR_SHAPE, "x needs at least one frame");
    WM_OP_CHECK(be, !reflect || (H > kh / 2 && W > kw / 2), WM_ERR_SHAPE,
                "reflect padding needs H, W larger than the padding");
    WM_OP_CHECK(be, y->data != x->data, WM_ERR_INVALID_ARG, "y may not alias x");
    if (bias) {
        WM_CPU_F32(be, bias);
        WM_OP_CHECK(be, wm_tensor_numel(bias) == Co, WM_ERR_SHAPE, "bias must have Co elements");
    }
    if (left) {
        WM_CPU_F32(be, left);
        WM_OP_CHECK(be, causal, WM_ERR_INVALID_ARG, "left context only for causal convs");
        WM_OP_CHECK(be, left->ndim == 4 && left->shape[0] == Ci && left->shape[1] == kt - 1 &&
                            left->shape[2] == H && left->shape[3] == W,
                    WM_ERR_SHAPE, "left must be (Ci,kt-1,H,W)");
    }
    conv_ctx c = {x->data, left ? left->data : NULL, w->data, bias ? bias->data : NULL, y->data,
                  Ci, Co, T, H, W, kt, kh, kw, causal, reflect, 0};
    int64_t tasks = T * ((Co + CO_BLOCK - 1) / CO_BLOCK);
    wm_threadpool_run(be->pool, tasks, 1, conv_tasks, &c);
    WM_OP_CHECK(be, !c.failed, WM_ERR_OUT_OF_MEMORY, "no memory for accumulator rows");
    return WM_OK;
}
