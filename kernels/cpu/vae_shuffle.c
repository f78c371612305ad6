/* VAE data-movement references: depth-to-space (upsamplers, 4x4 unpatchify), space-to-depth with group
 * mean (downsamplers, 4x4 patchify), frame padding, streaming cache push, uint8 conversion.
 *
 * All are pure index maps over channels-first (C,T,H,W) tensors, written as "one task per output
 * (channel, frame) plane, gather from the source" so there are no write conflicts and the output is
 * written sequentially. The sub-position order inside a channel group is the only subtle part: the
 * up/downsamplers use (t,h,w) order, the VAE's 4x4 patch uses (t,w,h) (w_major), see ops_vae.def.
 */
#include "cpu_common.h"
#include "kernels/vae_shapes.h"

#include <string.h>

static inline int64_t sub_index(int64_t it, int64_t ih, int64_t iw, int64_t sh, int64_t sw, int w_major)
{
    return w_major ? (it * sw + iw) * sh + ih : (it * sh + ih) * sw + iw;
}

typedef struct {
    const float *x;
    float *y;
    int64_t Cs, T, H, W, To, st, sh, sw, trim, group;
    int w_major, acc;
} shuf_ctx;

static void d2s_planes(void *p, int64_t i0, int64_t i1)
{
    const shuf_ctx *c = p;
    int64_t n = c->st * c->sh * c->sw, Ho = c->H * c->sh, Wo = c->W * c->sw;
    for (int64_t i = i0; i < i1; i++) {
        int64_t cy = i / c->To, to = i % c->To, ch = cy % c->Cs;
        int64_t tf = to + c->trim, t = tf / c->st, it = tf % c->st;
        float *o = c->y + i * Ho * Wo;
        for (int64_t ho = 0; ho < Ho; ho++) {
            int64_t h = ho / c->sh, ih = ho % c->sh;
            for (int64_t wo = 0; wo < Wo; wo++) {
                int64_t w = wo / c->sw, iw = wo % c->sw;
                int64_t src = ch * n + sub_index(it, ih, iw, c->sh, c->sw, c->w_major);
                float v = c->x[((src * c->T + t) * c->H + h) * c->W + w];
                o[ho * Wo + wo] = c->acc ? o[ho * Wo + wo] + v : v;
            }
        }
    }
}

wm_status wm_vae_depth_to_space_cpu(wm_backend *be, const wm_tensor *x, int st, int sh, int sw, int w_major,
                                    int trim, int accumulate, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_TRY(wm_vae_depth_to_space_shape(be, x, st, sh, sw, trim, y));
    int64_t n = (int64_t)st * sh * sw, Cs = x->shape[0] / n, T = x->shape[1], H = x->shape[2], W = x->shape[3];
    shuf_ctx c = {x->data, y->data, Cs, T, H, W, T * st - trim, st, sh, sw, trim, 1, w_major, accumulate};
    wm_threadpool_run(be->pool, y->shape[0] * c.To, 1, d2s_planes, &c);
    return WM_OK;
}

static void s2d_planes(void *p, int64_t i0, int64_t i1)
{
    const shuf_ctx *c = p; /* here T, H, W are the OUTPUT (coarse) sizes; x is (C, T*st, H*sh, W*sw) */
    int64_t n = c->st * c->sh * c->sw, Ti = c->T * c->st, Hi = c->H * c->sh, Wi = c->W * c->sw;
    float inv = 1.0f / (float)c->group;
    for (int64_t i = i0; i < i1; i++) {
        int64_t k = i / c->T, t = i % c->T;
        float *o = c->y + i * c->H * c->W;
        for (int64_t hw = 0; hw < c->H * c->W; hw++) {
            int64_t h = hw / c->W, w = hw % c->W;
            float s = 0.0f;
            for (int64_t g = 0; g < c->group; g++) {
                int64_t cs = k * c->group + g, ch = cs / n, sub = cs % n, it, ih, iw;
                if (c->w_major) { it = sub / (c->sw * c->sh); iw = sub / c->sh % c->sw; ih = sub % c->sh; }
                else { it = sub / (c->sh * c->sw); ih = sub / c->sw % c->sh; iw = sub % c->sw; }
                s += c->x[((ch * Ti + t * c->st + it) * Hi + h * c->sh + ih) * Wi + w * c->sw + iw];
            }
            float v = c->group == 1 ? s : s * inv;
            o[hw] = c->acc ? o[hw] + v : v;
        }
    }
}

wm_status wm_vae_space_to_depth_cpu(wm_backend *be, const wm_tensor *x, int st, int sh, int sw, int w_major,
                                    int group, int accumulate, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_TRY(wm_vae_space_to_depth_shape(be, x, st, sh, sw, group, y));
    int64_t C = x->shape[0];
    shuf_ctx c = {x->data, y->data, C, y->shape[1], y->shape[2], y->shape[3], 0, st, sh, sw, 0, group,
                  w_major, accumulate};
    wm_threadpool_run(be->pool, y->shape[0] * y->shape[1], 1, s2d_planes, &c);
    return WM_OK;
}

wm_status wm_vae_pad_frames_cpu(wm_backend *be, const wm_tensor *x, int n, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_CPU_F32(be, y);
    WM_OP_CHECK(be, x->ndim == 4 && y->ndim == 4 && n >= 0 && x->shape[1] >= 1, WM_ERR_SHAPE,
                "x, y must be (C,T,H,W), n >= 0");
    int64_t C = x->shape[0], T = x->shape[1], HW = x->shape[2] * x->shape[3];
    WM_OP_CHECK(be, y->shape[0] == C && y->shape[1] == T + n && y->shape[2] == x->shape[2] &&
                        y->shape[3] == x->shape[3],
                WM_ERR_SHAPE, "y must be (C,T+n,H,W)");
    const float *xs = x->data;
    float *yd = y->data;
    for (int64_t c = 0; c < C; c++) {
        for (int64_t j = 0; j < n; j++) memcpy(yd + (c * (T + n) + j) * HW, xs + c * T * HW, sizeof(float) * HW);
        memcpy(yd + (c * (T + n) + n) * HW, xs + c * T * HW, sizeof(float) * HW * T);
    }
    return WM_OK;
}

wm_status wm_vae_cache_push_cpu(wm_backend *be, wm_tensor *cache, const wm_tensor *x, int fresh)
{
    WM_CPU_F32(be, cache);
    WM_CPU_F32(be, x);
    WM_OP_CHECK(be, cache->ndim == 4 && x->ndim == 4 && x->shape[1] >= 1 && cache->shape[0] == x->shape[0] &&
                        cache->shape[2] == x->shape[2] && cache->shape[3] == x->shape[3],
                WM_ERR_SHAPE, "cache (C,n,H,W) and x (C,T,H,W) must agree on C, H, W");
    int64_t C = x->shape[0], T = x->shape[1], n = cache->shape[1], HW = x->shape[2] * x->shape[3];
    float *cd = cache->data;
    const float *xd = x->data;
    for (int64_t c = 0; c < C; c++) {
        float *cc = cd + c * n * HW;
        const float *xc = xd + c * T * HW;
        if (fresh)
            for (int64_t j = 0; j < n; j++) memcpy(cc + j * HW, xc, sizeof(float) * HW);
        int64_t keep = T >= n ? 0 : n - T; /* old frames that stay, shifted to the front */
        if (keep) memmove(cc, cc + (n - keep) * HW, sizeof(float) * HW * keep);
        memcpy(cc + keep * HW, xc + (T - (n - keep)) * HW, sizeof(float) * HW * (n - keep));
    }
    return WM_OK;
}

wm_status wm_vae_to_uint8_cpu(wm_backend *be, const wm_tensor *x, wm_tensor *y)
{
    WM_CPU_F32(be, x);
    WM_OP_CHECK(be, y->dtype == WM_U8 && y->device == WM_DEVICE_CPU, WM_ERR_DTYPE, "y must be a U8 host tensor");
    WM_OP_CHECK(be, x->ndim == 4 && y->ndim == 4 && y->shape[0] == x->shape[1] && y->shape[1] == x->shape[2] &&
                        y->shape[2] == x->shape[3] && y->shape[3] == x->shape[0],
                WM_ERR_SHAPE, "x (C,T,H,W) -> y (T,H,W,C)");
    int64_t C = x->shape[0], P = x->shape[1] * x->shape[2] * x->shape[3];
    const float *xd = x->data;
    uint8_t *yd = y->data;
    for (int64_t p = 0; p < P; p++)
        for (int64_t c = 0; c < C; c++) {
            float v = xd[c * P + p] * 127.5f + 127.5f;
            v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v); /* NaN compares false: mapped to 0 below */
            yd[p * C + c] = v == v ? (uint8_t)v : 0;
        }
    return WM_OK;
}
