/* The VAE's link to the CUDA conv engine (kernels/cuda/vae_conv.h): channels-last cuDNN convolutions
 * with preallocated scratch, owned per wm_vae (no global state).
 *
 * wm_vae is linked into CPU-only programs too, so the engine's entry points are weak references here,
 * as wm/core/backend.c does for the CUDA backend: when the program did not link the CUDA library they
 * are NULL and every conv goes through the op table (wm_vae_conv3d). The engine reads WM_CUDA_CONV3D
 * (old | cudnn | igemm) once, at creation. Planning: the forwards' dry runs announce every conv shape
 * (wm__vae_conv), then reserve() allocates the largest scratch, so decode calls do not allocate.
 */
#include "kernels/cuda/vae_conv.h"
#include "kernels/ops.h"
#include "wm/vae/vae_internal.h"

#pragma weak wm__vae_conv_engine_create
#pragma weak wm__vae_conv_engine_free
#pragma weak wm__vae_conv_engine_plan
#pragma weak wm__vae_conv_engine_reserve
#pragma weak wm__vae_conv3d_engine
#pragma weak wm__vae_conv3d_engine_ex
#pragma weak wm__vae_conv_engine_fuses_add
#pragma weak wm__vae_conv_engine_name
#pragma weak wm__vae_conv_engine_bytes
#pragma weak wm__cuda_prof_mark
wm_status wm__cuda_prof_mark(wm_backend *be, int cat); /* kernels/cuda/cuda_api.h (benchmarks) */

wm_status wm__vae_engine_init(wm_vae *v, wm_error *err)
{
    v->conv_eng = NULL;
    if (!v->be || v->be->kind != WM_BACKEND_CUDA || !wm__vae_conv_engine_create) return WM_OK;
    wm_status st = wm__vae_conv_engine_create(v->be, WM_VAE_CONV_AUTO, &v->conv_eng);
    if (st != WM_OK) return wm__errf(err, st, "VAE: conv engine: %s", v->be->err.msg);
    wm__log(WM_LOG_INFO, "vae: 3-D convs on %s", wm__vae_conv_engine_name(v->conv_eng));
    return WM_OK;
}

void wm__vae_engine_fini(wm_vae *v)
{
    if (v->conv_eng && wm__vae_conv_engine_free) wm__vae_conv_engine_free(v->conv_eng);
    v->conv_eng = NULL;
}

wm_status wm__vae_engine_reserve(wm_vae *v, wm_error *err)
{
    if (!v->conv_eng) return WM_OK;
    wm_status st = wm__vae_conv_engine_reserve(v->conv_eng);
    if (st != WM_OK) return wm__errf(err, st, "VAE: conv scratch: %s", v->be->err.msg);
    return WM_OK;
}

const char *wm_vae_conv_path(const wm_vae *v)
{
    if (v->conv_eng) return wm__vae_conv_engine_name(v->conv_eng);
    return v->be && v->be->kind == WM_BACKEND_CUDA ? "op table (vae_conv3d)" : "cpu reference";
}

size_t wm_vae_conv_scratch_bytes(const wm_vae *v)
{
    return v->conv_eng ? wm__vae_conv_engine_bytes(v->conv_eng) : 0;
}

int wm__vae_fuses_add(const vae_fwd *f, const wm_tensor *x)
{
    return f->eng && wm__vae_conv_engine_fuses_add && wm__vae_conv3d_engine_ex && wm__vae_conv_engine_fuses_add(f->eng, x);
}

void wm__vae_mark(vae_fwd *f, int cat)
{
    if (f->prof && !f->dry && wm__cuda_prof_mark) wm__cuda_prof_mark(f->be, cat);
}

/* One conv: the engine when there is one (planning in a dry run), else the op. post (only when
 * wm__vae_fuses_add): WM_VAE_CONV_POST_ACC y += conv, WM_VAE_CONV_POST_RMS_SILU y = silu(rms(conv)). */
wm_status wm__vae_conv3d(vae_fwd *f, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                         const wm_tensor *b, int causal, int reflect, int post, wm_tensor *y)
{
    if (f->dry) { /* the engine's scratch for this conv (its ve_bytes), for wm_vae_plan; then its own plan */
        int64_t ci8 = (x->shape[0] + 7) / 8 * 8, co8 = (w->shape[0] + 7) / 8 * 8, T = x->shape[1], H = x->shape[2];
        int64_t W = x->shape[3], kt = w->shape[2], kh = w->shape[3], kw = w->shape[4];
        size_t nb[3] = {(size_t)((T + kt - 1) * (H + kh - 1) * (W + kw - 1) * ci8 * 2), (size_t)(T * H * W * co8 * 2),
                        (size_t)(co8 * kt * kh * kw * ci8 * 2)};
        for (int i = 0; i < 3; i++) f->scratch[i] = nb[i] > f->scratch[i] ? nb[i] : f->scratch[i];
        return f->eng ? wm__vae_conv_engine_plan(f->eng, x, w, causal, y) : WM_OK;
    }
    int prof = f->prof && wm__cuda_prof_mark; /* benchmarks: device time of convs (0) vs the rest (1) */
    if (prof) WM_TRY(wm__vae_op(f, wm__cuda_prof_mark(f->be, 0)));
    wm_status st;
    if (post && !wm__vae_fuses_add(f, x)) st = wm__errf(&f->be->err, WM_ERR_INVALID_ARG, "VAE: fused conv without engine");
    else if (f->eng) st = wm__vae_conv3d_engine_ex(f->eng, x, left, w, b, causal, reflect, post, 1e-8f, y);
    else st = wm_vae_conv3d(f->be, x, left, w, b, causal, reflect, y);
    if (prof && st == WM_OK) st = wm__cuda_prof_mark(f->be, 1);
    return wm__vae_op(f, st);
}
