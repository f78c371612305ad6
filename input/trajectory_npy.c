/* trajectory_npy.c -- the SANA-WM .npy pair (c2w (F,4,4), intrinsics K) and load-by-extension.
 *
 * Intrinsics shapes follow the reference's load_intrinsics: (3,3) and (4,) are broadcast to every
 * frame; (F',3,3) and (F',4) are truncated when F' >= F and linearly resampled over normalised time
 * when 1 < F' < F (np.interp over linspace(0,1) on both sides).
 */
#include "input/npy.h"
#include "input/trajectory.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* K of frame i as [fx,fy,cx,cy] from an intrinsics array of any accepted shape. */
static void k_at(const wm_npy *k, int per_frame_k33, int64_t nk, double t, float out[4])
{
    /* t in [0,1]: normalised time of the target frame. */
    double pos = t * (double)(nk - 1);
    int64_t i0 = (int64_t)pos;
    if (i0 >= nk - 1) i0 = nk - 1;
    int64_t i1 = i0 + 1 < nk ? i0 + 1 : i0;
    double w = pos - (double)i0;
    for (int c = 0; c < 4; c++) {
        static const int k33[4] = {0, 4, 2, 5};
        size_t stride = per_frame_k33 ? 9 : 4, idx = per_frame_k33 ? (size_t)k33[c] : (size_t)c;
        double a = k->data[(size_t)i0 * stride + idx], b = k->data[(size_t)i1 * stride + idx];
        out[c] = (float)(a + (b - a) * w);
    }
}

static wm_status apply_intrinsics(const wm_npy *k, const char *kp, wm_trajectory *t, wm_error *err)
{
    int k33 = 0;
    int64_t nk = 1;
    if (k->ndim == 2 && k->shape[0] == 3 && k->shape[1] == 3) k33 = 1;
    else if (k->ndim == 1 && k->shape[0] == 4) k33 = 0;
    else if (k->ndim == 3 && k->shape[1] == 3 && k->shape[2] == 3 && k->shape[0] > 0) { k33 = 1; nk = k->shape[0]; }
    else if (k->ndim == 2 && k->shape[1] == 4 && k->shape[0] > 0) { k33 = 0; nk = k->shape[0]; }
    else return wm__errf(err, WM_ERR_SHAPE, "%s: intrinsics shape must be (3,3), (F,3,3), (4,) or (F,4)", kp);
    int F = t->n_frames;
    for (int i = 0; i < F; i++) {
        float v[4];
        if (nk >= F) {
            const float *base = k->data + (size_t)i * (k33 ? 9 : 4);
            if (k33) { v[0] = base[0]; v[1] = base[4]; v[2] = base[2]; v[3] = base[5]; }
            else memcpy(v, base, sizeof v);
        } else {
            k_at(k, k33, nk, F > 1 ? (double)i / (F - 1) : 0.0, v);
        }
        t->poses[i].fx = v[0]; t->poses[i].fy = v[1]; t->poses[i].cx = v[2]; t->poses[i].cy = v[3];
    }
    return WM_OK;
}

wm_status wm_trajectory_load_npy(const char *c2w_path, const char *k_path, const wm_camera_params *cam,
                                 wm_trajectory *out, wm_error *err)
{
    memset(out, 0, sizeof *out);
    wm_npy c = {0}, k = {0};
    wm_status st = wm_npy_read(c2w_path, &c, err);
    if (st != WM_OK) return st;
    if (c.ndim != 3 || c.shape[1] != 4 || c.shape[2] != 4) {
        st = wm__errf(err, WM_ERR_SHAPE, "%s: c2w shape must be (F,4,4)", c2w_path);
        goto done;
    }
    if (c.shape[0] < 1 || c.shape[0] > WM_TRAJ_MAX_FRAMES) {
        st = wm__errf(err, WM_ERR_LIMIT, "%s: %lld frames (need 1..%d)", c2w_path, (long long)c.shape[0], WM_TRAJ_MAX_FRAMES);
        goto done;
    }
    memset(out, 0, sizeof *out);
    out->poses = calloc((size_t)c.shape[0], sizeof *out->poses);
    if (!out->poses) { st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", c2w_path); goto done; }
    out->n_frames = (int)c.shape[0];
    out->fps = 16.0f;
    wm_camera_params p = cam ? *cam : wm_camera_default_params();
    wm_camera_params_resolve(&p);
    out->width = p.width;
    out->height = p.height;
    for (int i = 0; i < out->n_frames; i++) {
        memcpy(out->poses[i].c2w, c.data + (size_t)i * 16, 16 * sizeof(float));
        out->poses[i].fx = p.fx; out->poses[i].fy = p.fy; out->poses[i].cx = p.cx; out->poses[i].cy = p.cy;
    }
    if (k_path) {
        if ((st = wm_npy_read(k_path, &k, err)) != WM_OK) goto done;
        if ((st = apply_intrinsics(&k, k_path, out, err)) != WM_OK) goto done;
    }
    for (int i = 0; i < out->n_frames; i++) {
        char where[600];
        snprintf(where, sizeof where, "%s: frames[%d]", c2w_path, i);
        if ((st = wm_pose_validate(&out->poses[i], where, err)) != WM_OK) goto done;
    }
done:
    wm_npy_free(&c);
    wm_npy_free(&k);
    if (st != WM_OK) wm_trajectory_free(out);
    return st;
}

wm_status wm_trajectory_save_npy(const char *c2w_path, const char *k_path, const wm_trajectory *t, wm_error *err)
{
    size_t F = (size_t)t->n_frames;
    float *buf = calloc(F * 16 + 1, sizeof(float));
    if (!buf) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", c2w_path);
    for (size_t i = 0; i < F; i++) memcpy(buf + i * 16, t->poses[i].c2w, 16 * sizeof(float));
    int64_t sc[3] = {(int64_t)F, 4, 4};
    wm_status st = wm_npy_write(c2w_path, buf, 3, sc, err);
    if (st == WM_OK && k_path) {
        for (size_t i = 0; i < F; i++) {
            const wm_pose *p = &t->poses[i];
            float K[9] = {p->fx, 0, p->cx, 0, p->fy, p->cy, 0, 0, 1};
            memcpy(buf + i * 9, K, sizeof K);
        }
        int64_t sk[3] = {(int64_t)F, 3, 3};
        st = wm_npy_write(k_path, buf, 3, sk, err);
    }
    free(buf);
    return st;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

wm_status wm_trajectory_load(const char *src, const char *k_path, const wm_camera_params *cam,
                             wm_trajectory *out, wm_error *err)
{
    if (ends_with(src, ".json")) {
        WM_TRY(wm_trajectory_load_json(src, out, err));
        return WM_OK;
    }
    if (ends_with(src, ".npy")) return wm_trajectory_load_npy(src, k_path, cam, out, err);
    return wm_trajectory_from_dsl(src, cam, out, err);
}
