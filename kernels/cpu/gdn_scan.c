/* GDN phase B (spec §3.4, §3.6, §3.7): the frame-wise delta-rule recurrence, serial over frames and
 * parallel over heads, in fp32.
 *   forward (inclusive):  M_t = g_t (M_{t-1} - P_t M_{t-1}) + A_t,   M_{-1} = init or 0
 *   reverse (exclusive):  R_t = g_{t+1} (R_{t+1} - P_{t+1} R_{t+1}) + A_{t+1}, R = 0 at a chunk's last
 *                         frame, so the reverse branch never looks past its own chunk.
 * The forward pass crosses chunk boundaries (causal), which is all that changes between the three
 * variants together with the streaming init state; final_state receives M after the last frame.
 * P (T,H,D,D), A/states (T,H,D,Dv), g (T,H), init/final (H,D,Dv).
 */
#include "cpu_common.h"

#include <string.h>

typedef struct {
    const float *P, *A, *g, *init;
    float *st, *fin;
    const int *bounds;
    int n_chunks, rev;
    int64_t T, H, D, Dv;
} scan_ctx;

/* next = g * (prev - P prev) + A for one head; prev may be NULL (zero state). */
static void scan_step(const scan_ctx *c, const float *P, const float *A, float g, const float *prev, float *next)
{
    int64_t D = c->D, Dv = c->Dv;
    for (int64_t i = 0; i < D; i++) {
        float *nr = next + i * Dv;
        const float *ar = A + i * Dv;
        if (!prev) {
            for (int64_t j = 0; j < Dv; j++) nr[j] = ar[j];
            continue;
        }
        for (int64_t j = 0; j < Dv; j++) nr[j] = prev[i * Dv + j];
        const float *pr = P + i * D;
        for (int64_t l = 0; l < D; l++) {
            float pil = pr[l];
            if (pil == 0.0f) continue;
            const float *ml = prev + l * Dv;
            for (int64_t j = 0; j < Dv; j++) nr[j] -= pil * ml[j];
        }
        for (int64_t j = 0; j < Dv; j++) nr[j] = g * nr[j] + ar[j];
    }
}

static void scan_heads(void *p, int64_t h0, int64_t h1)
{
    const scan_ctx *c = p;
    int64_t H = c->H, DD = c->D * c->D, DV = c->D * c->Dv;
    for (int64_t h = h0; h < h1; h++) {
        if (!c->rev) {
            const float *prev = c->init ? c->init + h * DV : NULL;
            for (int64_t t = 0; t < c->T; t++) {
                float *cur = c->st + (t * H + h) * DV;
                scan_step(c, c->P + (t * H + h) * DD, c->A + (t * H + h) * DV, c->g[t * H + h], prev, cur);
                prev = cur;
            }
            if (c->fin && prev && prev != c->fin + h * DV) memcpy(c->fin + h * DV, prev, (size_t)DV * sizeof(float));
            continue;
        }
        for (int k = 0; k < c->n_chunks; k++) {
            int64_t s = c->bounds[k], e = c->bounds[k + 1];
            memset(c->st + ((e - 1) * H + h) * DV, 0, (size_t)DV * sizeof(float));
            for (int64_t t = e - 2; t >= s; t--)
                scan_step(c, c->P + ((t + 1) * H + h) * DD, c->A + ((t + 1) * H + h) * DV, c->g[(t + 1) * H + h],
                          c->st + ((t + 1) * H + h) * DV, c->st + (t * H + h) * DV);
        }
    }
}

wm_status wm_gdn_scan_cpu(wm_backend *be, const wm_tensor *P, const wm_tensor *A, const wm_tensor *g,
                          const wm_tensor *init, int reverse, const int *bounds, int n_chunks, wm_tensor *states,
                          wm_tensor *final_state)
{
    WM_CPU_F32(be, P);
    WM_CPU_F32(be, A);
    WM_CPU_F32(be, g);
    WM_CPU_F32(be, states);
    WM_OP_CHECK(be, P->ndim == 4 && A->ndim == 4 && P->shape[2] == P->shape[3], WM_ERR_SHAPE,
                "P must be (T,H,D,D) and A (T,H,D,Dv)");
    int64_t T = P->shape[0], H = P->shape[1], D = P->shape[2], Dv = A->shape[3];
    WM_OP_CHECK(be, A->shape[0] == T && A->shape[1] == H && A->shape[2] == D, WM_ERR_SHAPE, "A must be (T,H,D,Dv)");
    WM_OP_CHECK(be, wm_tensor_numel(g) == T * H, WM_ERR_SHAPE, "g must be (T, H)");
    WM_OP_CHECK(be, wm_tensor_numel(states) == T * H * D * Dv, WM_ERR_SHAPE, "states must be (T,H,D,Dv)");
    if (reverse) {
        WM_OP_CHECK(be, bounds && n_chunks > 0 && bounds[0] == 0 && bounds[n_chunks] == T, WM_ERR_INVALID_ARG,
                    "reverse scan needs bounds from 0 to T");
        for (int k = 0; k < n_chunks; k++)
            WM_OP_CHECK(be, bounds[k + 1] > bounds[k], WM_ERR_INVALID_ARG, "bounds must increase");
    }
    if (init) {
        WM_CPU_F32(be, init);
        WM_OP_CHECK(be, wm_tensor_numel(init) == H * D * Dv, WM_ERR_SHAPE, "init must be (H, D, Dv)");
    }
    if (final_state) {
        WM_CPU_F32(be, final_state);
        WM_OP_CHECK(be, wm_tensor_numel(final_state) == H * D * Dv, WM_ERR_SHAPE, "final_state must be (H,D,Dv)");
    }
    scan_ctx c = {P->data, A->data, g->data, init ? init->data : NULL, states->data,
                  (!reverse && final_state) ? final_state->data : NULL, bounds, n_chunks, reverse, T, H, D, Dv};
    wm_threadpool_run(be->pool, H, 1, scan_heads, &c);
    return WM_OK;
}
