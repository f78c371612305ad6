/* trajectory.c -- JSON and .npy-pair trajectories, validation, and the load-by-extension entry.
 *
 * JSON goes through jansson (the project's one JSON parser) with duplicate keys rejected; every
 * field is type-checked so a malformed entry is reported as "file: frames[i].c2w[r][c]: ..." rather
 * than read as 0. Writes go to a temp name and are renamed, so a partial file never looks complete.
 */
#include "input/trajectory.h"
#include "input/npy.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void wm_trajectory_free(wm_trajectory *t)
{
    free(t->poses);
    memset(t, 0, sizeof *t);
}

static wm_status traj_alloc(wm_trajectory *t, long n, const char *name, wm_error *err)
{
    memset(t, 0, sizeof *t);
    if (n <= 0 || n > WM_TRAJ_MAX_FRAMES)
        return wm__errf(err, WM_ERR_LIMIT, "%s: %ld frames (need 1..%d)", name, n, WM_TRAJ_MAX_FRAMES);
    t->poses = calloc((size_t)n, sizeof *t->poses);
    if (!t->poses) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    t->n_frames = (int)n;
    t->fps = 16.0f;
    return WM_OK;
}

wm_status wm_pose_validate(const wm_pose *p, const char *where, wm_error *err)
{
    for (int i = 0; i < 16; i++)
        if (!isfinite(p->c2w[i])) return wm__errf(err, WM_ERR_FORMAT, "%s.c2w[%d][%d]: not finite", where, i / 4, i % 4);
    const float *m = p->c2w;
    if (fabsf(m[12]) > 1e-6f || fabsf(m[13]) > 1e-6f || fabsf(m[14]) > 1e-6f || fabsf(m[15] - 1) > 1e-6f)
        return wm__errf(err, WM_ERR_FORMAT, "%s.c2w: bottom row is not [0,0,0,1]", where);
    /* R^T R = I within 1e-3: the model inverts poses in closed form (R^T), spec §4.1. */
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            float d = m[0 * 4 + a] * m[0 * 4 + b] + m[1 * 4 + a] * m[1 * 4 + b] + m[2 * 4 + a] * m[2 * 4 + b];
            if (fabsf(d - (a == b ? 1.0f : 0.0f)) > 1e-3f)
                return wm__errf(err, WM_ERR_FORMAT, "%s.c2w: rotation is not orthonormal", where);
        }
    if (!(p->fx > 0 && p->fy > 0 && isfinite(p->fx) && isfinite(p->fy) && isfinite(p->cx) && isfinite(p->cy)))
        return wm__errf(err, WM_ERR_FORMAT, "%s.intrinsics: need finite fx, fy > 0", where);
    return WM_OK;
}

void *wm__pose_to_json(const wm_pose *p)
{
    json_t *rows = json_array();
    for (int r = 0; r < 4; r++) {
        json_t *row = json_array();
        for (int c = 0; c < 4; c++) json_array_append_new(row, json_real(p->c2w[r * 4 + c]));
        json_array_append_new(rows, row);
    }
    return json_pack("{s:o,s:[f,f,f,f]}", "c2w", rows, "intrinsics", (double)p->fx, (double)p->fy,
                     (double)p->cx, (double)p->cy);
}

/* Read an array of n numbers (or an n_rows x n_cols nested array when n_cols > 0) into out. */
static wm_status read_numbers(const json_t *j, int n_rows, int n_cols, float *out, const char *where,
                              const char *field, wm_error *err)
{
    if (!json_is_array(j) || (int)json_array_size(j) != n_rows)
        return wm__errf(err, WM_ERR_FORMAT, "%s.%s: expected an array of %d", where, field, n_rows);
    for (int r = 0; r < n_rows; r++) {
        const json_t *e = json_array_get(j, (size_t)r);
        if (n_cols == 0) {
            if (!json_is_number(e)) return wm__errf(err, WM_ERR_FORMAT, "%s.%s[%d]: expected a number", where, field, r);
            out[r] = (float)json_number_value(e);
            continue;
        }
        if (!json_is_array(e) || (int)json_array_size(e) != n_cols)
            return wm__errf(err, WM_ERR_FORMAT, "%s.%s[%d]: expected an array of %d", where, field, r, n_cols);
        for (int c = 0; c < n_cols; c++) {
            const json_t *v = json_array_get(e, (size_t)c);
            if (!json_is_number(v)) return wm__errf(err, WM_ERR_FORMAT, "%s.%s[%d][%d]: expected a number", where, field, r, c);
            out[r * n_cols + c] = (float)json_number_value(v);
        }
    }
    return WM_OK;
}

wm_status wm__pose_from_json(const void *jf, wm_pose *p, const char *where, wm_error *err)
{
    const json_t *f = jf;
    if (!json_is_object(f)) return wm__errf(err, WM_ERR_FORMAT, "%s: expected an object", where);
    const json_t *c2w = json_object_get(f, "c2w");
    if (!c2w) return wm__errf(err, WM_ERR_FORMAT, "%s: missing \"c2w\"", where);
    if (json_is_array(c2w) && json_array_size(c2w) == 16) WM_TRY(read_numbers(c2w, 16, 0, p->c2w, where, "c2w", err));
    else WM_TRY(read_numbers(c2w, 4, 4, p->c2w, where, "c2w", err));
    const json_t *in = json_object_get(f, "intrinsics"), *K = json_object_get(f, "K");
    if (in) {
        float v[4];
        WM_TRY(read_numbers(in, 4, 0, v, where, "intrinsics", err));
        p->fx = v[0]; p->fy = v[1]; p->cx = v[2]; p->cy = v[3];
    } else if (K) {
        float k[9];
        WM_TRY(read_numbers(K, 3, 3, k, where, "K", err));
        p->fx = k[0]; p->fy = k[4]; p->cx = k[2]; p->cy = k[5];
    } else {
        return wm__errf(err, WM_ERR_FORMAT, "%s: missing \"intrinsics\" (or \"K\")", where);
    }
    return wm_pose_validate(p, where, err);
}

wm_status wm_trajectory_load_json(const char *path, wm_trajectory *out, wm_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return wm__errf(err, WM_ERR_FORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    wm_status st = WM_OK;
    const json_t *frames = json_object_get(root, "frames");
    if (!json_is_array(frames)) { st = wm__errf(err, WM_ERR_FORMAT, "%s: missing \"frames\" array", path); goto done; }
    if ((st = traj_alloc(out, (long)json_array_size(frames), path, err)) != WM_OK) goto done;
    const json_t *v;
    if ((v = json_object_get(root, "fps")) && json_is_number(v) && json_number_value(v) > 0 && json_number_value(v) < 1000)
        out->fps = (float)json_number_value(v);
    if ((v = json_object_get(root, "width")) && json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 65536)
        out->width = (int)json_integer_value(v);
    if ((v = json_object_get(root, "height")) && json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 65536)
        out->height = (int)json_integer_value(v);
    for (int i = 0; i < out->n_frames; i++) {
        char where[600];
        snprintf(where, sizeof where, "%s: frames[%d]", path, i);
        if ((st = wm__pose_from_json(json_array_get(frames, (size_t)i), &out->poses[i], where, err)) != WM_OK) break;
    }
done:
    json_decref(root);
    if (st != WM_OK) wm_trajectory_free(out);
    return st;
}

wm_status wm_trajectory_save_json(const char *path, const wm_trajectory *t, wm_error *err)
{
    json_t *frames = json_array();
    for (int i = 0; i < t->n_frames; i++) json_array_append_new(frames, wm__pose_to_json(&t->poses[i]));
    json_t *root = json_pack("{s:s,s:i,s:f,s:i,s:i,s:o}", "format", "wm-trajectory", "version", 1, "fps",
                             (double)(t->fps > 0 ? t->fps : 16.0f), "width", t->width, "height", t->height,
                             "frames", frames);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    int rc = root ? json_dump_file(root, tmp, JSON_COMPACT | JSON_REAL_PRECISION(9)) : -1;
    json_decref(root);
    if (rc != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return wm__errf(err, WM_ERR_IO, "%s: write failed", path);
    }
    return WM_OK;
}
