/* vae_conv3d reference: stride-1 3-D convolution with causal/replicate temporal padding and zeros or
 * reflect spatial padding, channels first (Ci,T,H,W) -> (Co,T,H,W).
 *
 * Direct convolution without im2col: a task is one output row (frame t, row h). It first copies the
 * Ci*kt*kh source rows that row needs into a small padded buffer (temporal padding/cache and row
 * padding are index remaps; border columns are written as zeros or reflected values, and the width is
 * rounded up to 8), then a 4-channel x 8-column register tile sweeps the taps with unaligned vector
 * loads and broadcast weights, so the inner loop has no branches and keeps 4 accumulators live.
 * Summation order per output is fixed (bias, then ci, dt, dh, dw) and independent of T, so a frame
 * convolved in a streaming chunk is bit-identical to the same frame in a whole-clip call.
 */
#include "cpu_common.h"
#include "kernels/vae_shapes.h"

#include <stdlib.h>
#include <string.h>

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

/* Padded source rows for output row h of frame t: one row per (ci, dt, dh), with kw/2 border columns
 * (zeros or reflected) and zeros up to the 8-aligned width, so the micro-kernel below never branches. */
static void build_rows(const conv_ctx *c, int64_t t, int64_t h, int64_t rowlen, float *prow)
{
    int64_t W = c->W, pw = c->kw / 2, ph = c->kh / 2;
    for (int64_t ci = 0; ci < c->Ci; ci++)
        for (int64_t dt = 0; dt < c->kt; dt++) {
            const float *frame = src_frame(c, ci, t + dt);
            for (int64_t dh = 0; dh < c->kh; dh++) {
                float *dst = prow + ((ci * c->kt + dt) * c->kh + dh) * rowlen;
                int64_t hh = map_index(h + dh - ph, c->H, c->reflect);
                if (hh < 0) {
                    memset(dst, 0, sizeof(float) * rowlen);
                    continue;
                }
                const float *row = frame + hh * W;
                for (int64_t q = 0; q < rowlen; q++) {
                    int64_t col = q - pw;
                    if (col >= 0 && col < W) dst[q] = row[col];
                    else if (c->reflect && col >= -pw && col < W + pw) dst[q] = row[map_index(col, W, 1)];
                    else dst[q] = 0.0f;
                }
            }
        }
}

/* out[j][w0..w0+8) for 4 output channels: bias + sum over (ci, dt, dh, dw) in that fixed order. The
 * four accumulators and the k = 3 taps are spelled out: GCC -O2 keeps them in registers only then. */
static void micro_4x8(const float *prow, int64_t R, int64_t rowlen, int64_t kw, const float *const wk[4],
                      const float bias[4], int64_t w0, float *out, int64_t Wv)
{
#define BC(x) ((wm_v8){(x), (x), (x), (x), (x), (x), (x), (x)})
    wm_v8 a0 = BC(bias[0]), a1 = BC(bias[1]), a2 = BC(bias[2]), a3 = BC(bias[3]), v;
    const float *k0 = wk[0], *k1 = wk[1], *k2 = wk[2], *k3 = wk[3];
    if (kw == 3) {
        for (int64_t r = 0; r < R; r++, k0 += 3, k1 += 3, k2 += 3, k3 += 3) {
            const float *pr = prow + r * rowlen + w0;
            for (int dw = 0; dw < 3; dw++) {
                __builtin_memcpy(&v, pr + dw, 32);
                a0 += k0[dw] * v, a1 += k1[dw] * v, a2 += k2[dw] * v, a3 += k3[dw] * v;
            }
        }
    } else {
        for (int64_t r = 0; r < R; r++) {
            const float *pr = prow + r * rowlen + w0;
            for (int64_t dw = 0; dw < kw; dw++, k0++, k1++, k2++, k3++) {
                __builtin_memcpy(&v, pr + dw, 32);
                a0 += *k0 * v, a1 += *k1 * v, a2 += *k2 * v, a3 += *k3 * v;
            }
        }
    }
#undef BC
    __builtin_memcpy(out + w0, &a0, 32);
    __builtin_memcpy(out + Wv + w0, &a1, 32);
    __builtin_memcpy(out + 2 * Wv + w0, &a2, 32);
    __builtin_memcpy(out + 3 * Wv + w0, &a3, 32);
}

static void conv_tasks(void *p, int64_t i0, int64_t i1)
{
    conv_ctx *c = p;
    int64_t W = c->W, HW = c->H * W, Wv = (W + 7) / 8 * 8, rowlen = Wv + c->kw - 1;
    int64_t R = c->Ci * c->kt * c->kh, K = R * c->kw;
    float *prow = malloc(sizeof(float) * (size_t)(R * rowlen + 4 * Wv));
    if (!prow) {
        __atomic_store_n(&c->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *out = prow + R * rowlen;
    for (int64_t i = i0; i < i1; i++) {
        int64_t t = i / c->H, h = i % c->H;
        build_rows(c, t, h, rowlen, prow);
        for (int64_t co0 = 0; co0 < c->Co; co0 += 4) {
            int64_t nco = c->Co - co0 < 4 ? c->Co - co0 : 4;
            const float *wk[4];
            float bias[4];
            for (int j = 0; j < 4; j++) { /* lanes past Co repeat the last channel and are not stored */
                int64_t co = co0 + (j < nco ? j : nco - 1);
                wk[j] = c->w + co * K, bias[j] = c->b ? c->b[co] : 0.0f;
            }
            for (int64_t w0 = 0; w0 < Wv; w0 += 8) micro_4x8(prow, R, rowlen, c->kw, wk, bias, w0, out, Wv);
            for (int64_t j = 0; j < nco; j++)
                memcpy(c->y + ((co0 + j) * c->T + t) * HW + h * W, out + j * Wv, sizeof(float) * W);
        }
    }
    free(prow);
}

wm_status wm_vae_conv3d_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                            const wm_tensor *bias, int causal, int reflect, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, w);
    WM_CPU_F32(be, y);
    if (bias) WM_CPU_F32(be, bias);
    if (left) WM_CPU_F32(be, left);
    WM_TRY(wm_vae_conv3d_shape(be, x, left, w, bias, causal, reflect, y));
    int64_t Ci = x->shape[0], T = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Co = w->shape[0], kt = w->shape[2], kh = w->shape[3], kw = w->shape[4];
    WM_OP_CHECK(be, W <= (1 << 20), WM_ERR_SHAPE, "frame wider than 2^20");
    conv_ctx c = {x->data, left ? left->data : NULL, w->data, bias ? bias->data : NULL, y->data,
                  Ci, Co, T, H, W, kt, kh, kw, causal, reflect, 0};
    wm_threadpool_run(be->pool, T * H, 1, conv_tasks, &c);
    WM_OP_CHECK(be, !c.failed, WM_ERR_OUT_OF_MEMORY, "no memory for accumulator rows");
    return WM_OK;
}
