/* Shared helpers of the DiT golden tests: the golden config (config.json -> wm_dit_config), reading
 * golden tensors as fp32, a recorder that keeps copies of the forward's named intermediates, and the
 * project tolerance check. Golden contract: tools/reference/GOLDEN.md.
 *
 * Tolerance: per element |got - ref| <= atol + rtol |ref| with rtol = 1e-4 and atol = 1e-4 * RMS(ref)
 * (so near-zero elements of a tensor are judged against the tensor's scale, not their own); the
 * report also prints max relative error against max|ref| and rel-L2.
 */
#ifndef WM_TESTS_DIT_GOLDEN_H
#define WM_TESTS_DIT_GOLDEN_H

#include "testing.h"
#include "wm/core/backend.h"
#include "wm/dit/model.h"
#include "wm/io/checkpoint.h"

#include <jansson.h>
#include <string.h>

#define GOLDEN_DIR "tests/golden/dit/"

static inline int g_load_config(wm_dit_config *c, int *T_forward, int *T_stream)
{
    json_error_t je;
    json_t *j = json_load_file(GOLDEN_DIR "config.json", 0, &je);
    if (!j) return -1;
    *c = wm_dit_config_default();
#define GI(f) c->f = (int)json_integer_value(json_object_get(j, #f))
#define GF(f) c->f = (float)json_number_value(json_object_get(j, #f))
    GI(hidden_size); GI(depth); GI(num_heads); GI(in_channels); GI(out_channels); GI(mlp_hidden);
    GI(caption_channels); GI(caption_length); GI(plucker_channels); GI(conv_kernel_size); GI(t_conv_kernel);
    GI(freq_dim); GI(chunk_size); GI(latent_h); GI(latent_w); GI(vae_stride_t); GF(rope_theta);
    GF(eps_layernorm); GF(eps_qk_norm); GF(eps_cross_norm); GF(eps_y_norm); GF(eps_gdn);
    GF(softmax_scale_main); GF(softmax_scale_cam); GI(post_ucpe_renorm); GI(cam_conv_cache); GI(teacher_chunk_mask);
#undef GI
#undef GF
    json_t *a = json_object_get(j, "is_softmax");
    memset(c->is_softmax, 0, sizeof c->is_softmax);
    for (size_t i = 0; i < json_array_size(a) && i < WM_DIT_MAX_DEPTH; i++)
        c->is_softmax[i] = (uint8_t)json_integer_value(json_array_get(a, i));
    if (T_forward) *T_forward = (int)json_integer_value(json_object_get(j, "T_forward"));
    if (T_stream) *T_stream = (int)json_integer_value(json_object_get(j, "T_stream"));
    json_decref(j);
    return 0;
}

/* Open a golden file; NULL (message printed) if absent. */
static inline wm_checkpoint *g_open(const char *file)
{
    char p[256];
    snprintf(p, sizeof p, GOLDEN_DIR "%s", file);
    wm_checkpoint *ck = NULL;
    wm_error err = {0};
    if (wm_checkpoint_open(p, &ck, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return NULL; }
    return ck;
}

/* Tensor `name` as a malloc'd fp32 array (NULL if absent); *n = element count. */
static inline float *g_read(const wm_checkpoint *ck, const char *name, int64_t *n)
{
    const wm_ckpt_entry *e = wm_checkpoint_find(ck, name);
    if (!e) { fprintf(stderr, "golden tensor %s missing\n", name); return NULL; }
    int64_t cnt = 1;
    for (int i = 0; i < e->ndim; i++) cnt *= e->shape[i];
    float *d = malloc((size_t)(cnt ? cnt : 1) * sizeof(float));
    if (e->dtype == WM_I64) {
        for (int64_t i = 0; i < cnt; i++) { int64_t v; memcpy(&v, (const char *)e->data + 8 * i, 8); d[i] = (float)v; }
    } else {
        wm_error err = {0};
        if (wm_checkpoint_read_f32(ck, name, 0, NULL, d, &err) != WM_OK) { free(d); return NULL; }
    }
    if (n) *n = cnt;
    return d;
}

/* Compare got (n) against ref (n) with the tolerance above; prints one line. */
static inline int g_close(const char *label, const float *got, const float *ref, int64_t n)
{
    double ss = 0, mx = 0, e2 = 0, maxd = 0;
    for (int64_t i = 0; i < n; i++) {
        ss += (double)ref[i] * ref[i];
        if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
    }
    double rms = sqrt(ss / (n ? n : 1)), atol = 1e-4 * rms, rtol = 1e-4;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= atol + rtol * fabs(ref[i]))) { if (first < 0) first = i; bad++; }
        if (d > maxd || d != d) maxd = d;
        e2 += d * d;
    }
    printf("%-44s n=%-6lld max_abs=%.2e max_abs/max|ref|=%.2e rel_l2=%.2e %s\n", label, (long long)n, maxd,
           mx > 0 ? maxd / mx : maxd, ss > 0 ? sqrt(e2 / ss) : sqrt(e2), bad ? "FAIL" : "ok");
    if (bad)
        fprintf(stderr, "  %s: %lld elements out of tolerance; first %lld got %g ref %g (atol %.3g)\n", label,
                (long long)bad, (long long)first, got[first], ref[first], atol);
    return bad == 0;
}

/* Recorder: copies of named intermediates. */
typedef struct g_rec_item {
    char name[96];
    float *data;
    int64_t n, rows, cols;
} g_rec_item;
typedef struct g_rec {
    g_rec_item items[4096];
    int n;
    const char *prefix; /* prepended to names (e.g. "chunk1.step0.") */
} g_rec;

static inline void g_record(void *u, const char *name, const wm_tensor *t)
{
    g_rec *r = u;
    if (r->n >= 4096) return;
    g_rec_item *it = &r->items[r->n++];
    snprintf(it->name, sizeof it->name, "%s%s", r->prefix ? r->prefix : "", name);
    it->n = wm_tensor_numel(t);
    it->rows = wm_tensor_rows(t);
    it->cols = wm_tensor_cols(t);
    it->data = malloc((size_t)it->n * sizeof(float));
    memcpy(it->data, t->data, (size_t)it->n * sizeof(float));
}

static inline g_rec_item *g_find(g_rec *r, const char *name)
{
    for (int i = r->n - 1; i >= 0; i--)
        if (!strcmp(r->items[i].name, name)) return &r->items[i];
    return NULL;
}

static inline void g_rec_clear(g_rec *r)
{
    for (int i = 0; i < r->n; i++) free(r->items[i].data);
    r->n = 0;
}

/* (N, H) token-major -> (H, N) as the reference's (B, H, T, S). */
static inline void g_tr(const float *src, int64_t rows, int64_t cols, float *dst)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

/* Compare a recorded intermediate with golden `gname` (transposing (N,H)/(T,H) records to (H,...)). */
static inline int g_check(g_rec *r, const char *rname, const wm_checkpoint *ck, const char *gname, int transpose)
{
    g_rec_item *it = g_find(r, rname);
    int64_t n = 0;
    float *ref = g_read(ck, gname, &n);
    int ok = it && ref && it->n == n;
    if (!ok) {
        fprintf(stderr, "FAIL %s: %s\n", gname, !it ? "not recorded" : !ref ? "no golden" : "size differs");
        free(ref);
        return 0;
    }
    float *got = it->data, *tmp = NULL;
    if (transpose) { tmp = malloc((size_t)n * sizeof(float)); g_tr(it->data, it->rows, it->cols, tmp); got = tmp; }
    ok = g_close(gname, got, ref, n);
    free(tmp);
    free(ref);
    return ok;
}

#endif
