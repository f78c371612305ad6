/* cuda_parity.h -- helpers for the CUDA-vs-CPU parity tests (label gpu).
 *
 * Pattern of every check: draw fresh random fp32 inputs, round them to the dtype the CUDA op will read
 * (so both sides see identical inputs), upload, POISON the CUDA output (all bytes 0xFF = NaN in fp32,
 * bf16 and fp16, so an element the kernel forgot to write fails the NaN check), run the op on both
 * backends, download, compare with testing.h's |got - ref| <= atol + rtol |ref| and a relative-L2 bound.
 * Only the public backend API is used (no CUDA headers), so the tests compile in CI without a GPU and
 * exit 77 (skipped) when no device is found.
 */
#ifndef WM_TESTS_CUDA_PARITY_H
#define WM_TESTS_CUDA_PARITY_H

#include "testing.h"
#include "kernels/ops.h"
#include "wm/core/backend.h"

#include <math.h>
#include <string.h>

typedef struct {
    wm_backend *cpu, *gpu;
    t_rng rng;
} cp_ctx;

/* 0 = ready, 77 = no CUDA device (message printed), 1 = failure. */
static inline int cp_init(cp_ctx *c, uint64_t seed)
{
    wm_error err = {0};
    memset(c, 0, sizeof *c);
    c->rng.s = seed ? seed : 0x9e3779b97f4a7c15ULL;
    if (wm_backend_create(WM_BACKEND_CPU, NULL, &c->cpu, &err) != WM_OK) {
        fprintf(stderr, "cpu backend: %s\n", err.msg);
        return 1;
    }
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, NULL, &c->gpu, &err);
    if (st == WM_ERR_NO_DEVICE) {
        printf("SKIP: %s\n", err.msg);
        wm_backend_free(c->cpu);
        return 77;
    }
    if (st != WM_OK) {
        fprintf(stderr, "cuda backend: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static inline void cp_fini(cp_ctx *c)
{
    wm_backend_free(c->gpu);
    wm_backend_free(c->cpu);
}

/* n fresh N(0, scale^2) values, already rounded to dtype dt (bf16/f16 inputs -> exact on both sides). */
static inline float *cp_rand(cp_ctx *c, size_t n, float scale, wm_dtype dt)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    t_fill_normal(&c->rng, x, n, scale);
    if (dt == WM_BF16)
        for (size_t i = 0; i < n; i++) x[i] = wm_round_bf16(x[i]);
    if (dt == WM_F16)
        for (size_t i = 0; i < n; i++) x[i] = wm_f16_to_f32(wm_f32_to_f16(x[i]));
    return x;
}

/* A device tensor of dtype dt holding src (converted), or poisoned (src NULL). Aborts the test on
 * allocation failure: a test machine without memory cannot say anything useful. */
static inline wm_tensor cp_dev(cp_ctx *c, wm_dtype dt, const float *src, int ndim, const int64_t *shape)
{
    wm_tensor t = wm_tensor_view(dt, WM_DEVICE_CUDA, NULL, ndim, shape);
    size_t nb = wm_tensor_nbytes(&t), n = (size_t)wm_tensor_numel(&t);
    WM_ASSERT(wm_backend_malloc(c->gpu, nb, &t.data) == WM_OK);
    void *h = malloc(nb ? nb : 1);
    if (src) {
        if (dt == WM_F32 || dt == WM_BF16 || dt == WM_F16) WM_ASSERT(wm_convert_from_f32(dt, src, h, n) == 0);
        else for (size_t i = 0; i < n; i++) ((uint8_t *)h)[i] = src[i] != 0.0f; /* masks */
    } else {
        memset(h, 0xFF, nb);
    }
    WM_ASSERT(wm_backend_upload(c->gpu, t.data, h, nb) == WM_OK);
    free(h);
    return t;
}

static inline wm_tensor cp_dev2(cp_ctx *c, wm_dtype dt, const float *src, int64_t rows, int64_t cols)
{
    int64_t s[2] = {rows, cols};
    return cp_dev(c, dt, src, 2, s);
}

/* Download a float device tensor into a fresh fp32 host array. */
static inline float *cp_read(cp_ctx *c, const wm_tensor *t)
{
    size_t nb = wm_tensor_nbytes(t), n = (size_t)wm_tensor_numel(t);
    void *h = malloc(nb ? nb : 1);
    float *f = malloc((n ? n : 1) * sizeof *f);
    WM_ASSERT(wm_backend_sync(c->gpu) == WM_OK);
    WM_ASSERT(wm_backend_download(c->gpu, h, t->data, nb) == WM_OK);
    WM_ASSERT(wm_convert_to_f32(t->dtype, h, f, n) == 0);
    free(h);
    return f;
}

static inline void cp_free(cp_ctx *c, wm_tensor *t)
{
    wm_backend_mfree(c->gpu, t->data);
    t->data = NULL;
}

static inline wm_tensor cp_host2(float *p, int64_t rows, int64_t cols)
{
    int64_t s[2] = {rows, cols};
    return wm_tensor_view(WM_F32, WM_DEVICE_CPU, p, 2, s);
}

/* One test tensor: host fp32 values h (the reference reads them; for inputs they are exactly what the
 * device holds) with their view ht, and the device copy dt. scale >= 0: fresh random values of that
 * scale, rounded to round_dt; scale < 0: a poisoned output (host zeros, device all-0xFF bytes). */
typedef struct {
    float *h;
    wm_tensor ht, dt;
} cp_tensor;

static inline cp_tensor cp_tensor_make(cp_ctx *c, wm_dtype dt, wm_dtype round_dt, float scale, int ndim,
                                       const int64_t *shape)
{
    cp_tensor t;
    t.ht = wm_tensor_view(WM_F32, WM_DEVICE_CPU, NULL, ndim, shape);
    size_t n = (size_t)wm_tensor_numel(&t.ht);
    t.h = scale >= 0 ? cp_rand(c, n, scale, round_dt) : calloc(n ? n : 1, sizeof(float));
    t.ht.data = t.h;
    t.dt = cp_dev(c, dt, scale >= 0 ? t.h : NULL, ndim, shape);
    return t;
}

/* Re-upload host values changed after cp_tensor_make (e.g. made positive), converted to the device dtype. */
static inline void cp_tensor_upload(cp_ctx *c, cp_tensor *t)
{
    size_t n = (size_t)wm_tensor_numel(&t->ht), nb = wm_tensor_nbytes(&t->dt);
    void *b = malloc(nb ? nb : 1);
    WM_ASSERT(wm_convert_from_f32(t->dt.dtype, t->h, b, n) == 0);
    WM_ASSERT(wm_backend_upload(c->gpu, t->dt.data, b, nb) == WM_OK);
    free(b);
}

static inline void cp_tensor_free(cp_ctx *c, cp_tensor *t)
{
    free(t->h);
    t->h = NULL;
    cp_free(c, &t->dt);
}

/* Root mean square of n host values (the scale of element tolerances). */
static inline float cp_rms(const float *h, size_t n)
{
    double r2 = 0;
    for (size_t i = 0; i < n; i++) r2 += (double)h[i] * h[i];
    return n ? (float)sqrt(r2 / n) : 0.0f;
}

/* Elementwise tolerance AND relative L2 (||got-ref|| / ||ref|| <= l2max); prints one line. */
static inline int cp_compare(const char *label, const float *got, const float *ref, size_t n, float atol, float rtol,
                             double l2max)
{
    int ok = t_allclose(label, got, ref, n, atol, rtol);
    double e2 = 0, r2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        e2 += d * d;
        r2 += (double)ref[i] * ref[i];
    }
    double rel = r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
    if (!(rel <= l2max)) {
        fprintf(stderr, "  %s: relative L2 error %.3e above %.1e\n", label, rel, l2max);
        ok = 0;
    }
    return ok;
}

#define CP_OK(be, call)                                                                            \
    do {                                                                                           \
        wm_status cp__st = (call);                                                                 \
        CHECK_MSG(cp__st == WM_OK, "%s -> %s: %s", #call, wm_status_str(cp__st), (be)->err.msg);   \
    } while (0)

#endif
