/* sidecar.c -- progressive JSON-lines log + atomic finalization (layout in sidecar.h).
 *
 * The in-progress log holds one JSON object per line: the header first, then frame lines (starting
 * with {"index") and event lines (starting with {"t") interleaved as they happen. Finalization streams
 * that log twice (frames, then events) into the final document, so memory does not grow with the
 * length of a recording; jansson is used where escaping matters (prompt, paths, event names) and for
 * reading back.
 */
#include "recordings/sidecar.h"
#include "recordings/hash.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct wm_sidecar {
    char path[2048], part[2100];
    FILE *log;
    size_t frame_bytes;   /* width*height*3 */
    int failed;
};

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *header_json(const wm_sidecar_info *in)
{
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char program[64];
    snprintf(program, sizeof program, "wm %s", wm_version());
    json_t *model = in->model_path ? json_pack("{s:s,s:o}", "path", in->model_path, "sha256", str_or_null(in->model_sha256))
                                   : json_null();
    json_t *image = in->image_path ? json_pack("{s:s,s:o}", "path", in->image_path, "sha256", str_or_null(in->image_sha256))
                                   : json_null();
    json_t *emb = in->embedding_path
                      ? json_pack("{s:s,s:o}", "path", in->embedding_path, "sha256", str_or_null(in->embedding_sha256))
                      : json_null();
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:i,s:i,s:f,s:i,s:o}", "format", "wm-recording", "version", 1,
                     "program", program, "created", created, "source", in->source ? in->source : "procedural",
                     "seed", (json_int_t)in->seed, "prompt", str_or_null(in->prompt), "model", model,
                     "image", image, "prompt_embedding", emb, "width", in->width, "height", in->height, "fps", (double)(in->fps > 0 ? in->fps : 16.0f),
                     "frames_per_chunk", in->frames_per_chunk, "video", str_or_null(in->video_path));
}

wm_status wm_sidecar_open(const char *path, const wm_sidecar_info *info, wm_sidecar **out, wm_error *err)
{
    *out = NULL;
    if (!info || info->width <= 0 || info->height <= 0) return wm__errf(err, WM_ERR_INVALID_ARG, "%s: sidecar needs a frame size", path);
    wm_sidecar *s = calloc(1, sizeof *s);
    if (!s) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "sidecar: out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->part, sizeof s->part, "%s.part", path);
    s->frame_bytes = (size_t)info->width * (size_t)info->height * 3;
    s->log = fopen(s->part, "w");
    if (!s->log) {
        wm_status st = wm__errf(err, WM_ERR_IO, "%s: %s", s->part, strerror(errno));
        free(s);
        return st;
    }
    json_t *h = header_json(info);
    char *txt = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!txt) {
        fclose(s->log);
        remove(s->part);
        free(s);
        return wm__errf(err, WM_ERR_INVALID_ARG, "%s: sidecar header: bad string (not UTF-8?)", path);
    }
    fprintf(s->log, "%s\n", txt);
    free(txt);
    fflush(s->log);
    *out = s;
    return WM_OK;
}

wm_status wm_sidecar_add_frame(wm_sidecar *s, int64_t index, int64_t chunk, const wm_pose *p, const uint8_t *rgb,
                               const wm_action *a)
{
    FILE *f = s->log;
    fprintf(f, "{\"index\":%lld,\"chunk\":%lld,\"c2w\":[", (long long)index, (long long)chunk);
    for (int r = 0; r < 4; r++)
        fprintf(f, "%s[%.9g,%.9g,%.9g,%.9g]", r ? "," : "", p->c2w[r * 4], p->c2w[r * 4 + 1], p->c2w[r * 4 + 2], p->c2w[r * 4 + 3]);
    fprintf(f, "],\"intrinsics\":[%.9g,%.9g,%.9g,%.9g]", p->fx, p->fy, p->cx, p->cy);
    if (rgb) fprintf(f, ",\"rgb_fnv1a64\":\"%016llx\"", (unsigned long long)wm_fnv1a64(rgb, s->frame_bytes));
    if (a)
        fprintf(f, ",\"action\":{\"keys\":%u,\"axes\":[%.9g,%.9g,%.9g,%.9g,%.9g]}", (unsigned)a->keys, a->move_x,
                a->move_y, a->move_z, a->yaw, a->pitch);
    if (fprintf(f, "}\n") < 0) s->failed = 1;
    return s->failed ? WM_ERR_IO : WM_OK;
}

wm_status wm_sidecar_add_event(wm_sidecar *s, double t_s, int64_t frame, const char *device, const char *name, int value)
{
    json_t *e = json_pack("{s:f,s:I,s:s,s:s,s:i}", "t", t_s, "frame", (json_int_t)frame, "device", device ? device : "key",
                          "name", name ? name : "?", "value", value);
    char *txt = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(e);
    if (!txt) return WM_ERR_INVALID_ARG;
    if (fprintf(s->log, "%s\n", txt) < 0) s->failed = 1;
    free(txt);
    return s->failed ? WM_ERR_IO : WM_OK;
}

void wm_sidecar_flush(wm_sidecar *s)
{
    if (fflush(s->log) != 0) s->failed = 1;
}

/* Copy every log line starting with `prefix` into out as array elements. */
static int copy_lines(FILE *in, FILE *out, const char *prefix)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int first = 1, ok = 1;
    size_t plen = strlen(prefix);
    rewind(in);
    while ((n = getline(&line, &cap, in)) > 0) {
        if ((size_t)n <= plen || strncmp(line, prefix, plen) != 0) continue;
        if (line[n - 1] == '\n') line[--n] = 0;
        if (fprintf(out, "%s\n%s", first ? "" : ",", line) < 0) ok = 0;
        first = 0;
    }
    free(line);
    return ok;
}

wm_status wm_sidecar_close(wm_sidecar *s, wm_error *err)
{
    if (!s) return WM_OK;
    wm_status st = WM_OK;
    char tmp[2200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", s->path, (int)getpid());
    FILE *in = s->log, *out = NULL;
    char *header = NULL;
    size_t cap = 0;
    if (fflush(in) != 0 || s->failed) { st = wm__errf(err, WM_ERR_IO, "%s: write failed", s->part); goto done; }
    in = freopen(s->part, "r", in);
    s->log = in;
    if (!in || getline(&header, &cap, in) <= 0 || header[0] != '{') { st = wm__errf(err, WM_ERR_IO, "%s: cannot re-read", s->part); goto done; }
    char *end = strrchr(header, '}');
    if (!end) { st = wm__errf(err, WM_ERR_FORMAT, "%s: bad header", s->part); goto done; }
    *end = 0; /* the header object, reopened to append the arrays */
    if (!(out = fopen(tmp, "w"))) { st = wm__errf(err, WM_ERR_IO, "%s: %s", tmp, strerror(errno)); goto done; }
    int ok = fprintf(out, "%s,\"frames\":[", header) > 0 && copy_lines(in, out, "{\"index\"") &&
             fprintf(out, "],\n\"events\":[") > 0 && copy_lines(in, out, "{\"t\"") &&
             fprintf(out, "],\n\"complete\":true}\n") > 0;
    ok = (fflush(out) == 0) && (fsync(fileno(out)) == 0) && ok;
    ok = (fclose(out) == 0) && ok;
    out = NULL;
    if (!ok || rename(tmp, s->path) != 0) { remove(tmp); st = wm__errf(err, WM_ERR_IO, "%s: write failed", s->path); goto done; }
    remove(s->part);
done:
    free(header);
    if (out) { fclose(out); remove(tmp); }
    if (s->log) fclose(s->log);
    free(s);
    return st;
}

void wm_sidecar_abandon(wm_sidecar *s)
{
    if (!s) return;
    if (s->log) fclose(s->log);
    free(s);
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    dst[0] = 0;
    if (json_is_string(v)) snprintf(dst, cap, "%s", json_string_value(v));
}

wm_status wm_sidecar_read_meta(const char *path, wm_sidecar_meta *m, wm_error *err)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return wm__errf(err, WM_ERR_FORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    wm_status st = WM_OK;
    const json_t *fmt = json_object_get(root, "format"), *frames = json_object_get(root, "frames");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "wm-recording") != 0 || !json_is_array(frames)) {
        st = wm__errf(err, WM_ERR_FORMAT, "%s: not a wm recording sidecar (format/frames)", path);
        goto done;
    }
    copy_str(m->source, sizeof m->source, json_object_get(root, "source"));
    copy_str(m->prompt, sizeof m->prompt, json_object_get(root, "prompt"));
    const json_t *model = json_object_get(root, "model");
    copy_str(m->model_path, sizeof m->model_path, json_object_get(model, "path"));
    copy_str(m->model_sha256, sizeof m->model_sha256, json_object_get(model, "sha256"));
    const json_t *image = json_object_get(root, "image"), *emb = json_object_get(root, "prompt_embedding");
    copy_str(m->image_path, sizeof m->image_path, json_object_get(image, "path"));
    copy_str(m->image_sha256, sizeof m->image_sha256, json_object_get(image, "sha256"));
    copy_str(m->embedding_path, sizeof m->embedding_path, json_object_get(emb, "path"));
    copy_str(m->embedding_sha256, sizeof m->embedding_sha256, json_object_get(emb, "sha256"));
    const json_t *v;
    if (json_is_integer(v = json_object_get(root, "seed"))) m->seed = (uint64_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(root, "width"))) m->width = (int)json_integer_value(v);
    if (json_is_integer(v = json_object_get(root, "height"))) m->height = (int)json_integer_value(v);
    if (json_is_integer(v = json_object_get(root, "frames_per_chunk"))) m->frames_per_chunk = (int)json_integer_value(v);
    m->fps = json_is_number(v = json_object_get(root, "fps")) ? (float)json_number_value(v) : 16.0f;
    size_t n = json_array_size(frames);
    if (n > (1u << 20)) { st = wm__errf(err, WM_ERR_LIMIT, "%s: too many frames", path); goto done; }
    m->rgb_fnv = calloc(n + 1, sizeof *m->rgb_fnv);
    if (!m->rgb_fnv) { st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path); goto done; }
    m->n_frames = (int)n;
    for (size_t i = 0; i < n; i++) {
        const json_t *h = json_object_get(json_array_get(frames, i), "rgb_fnv1a64");
        if (json_is_string(h)) m->rgb_fnv[i] = strtoull(json_string_value(h), NULL, 16);
    }
done:
    json_decref(root);
    if (st != WM_OK) wm_sidecar_meta_free(m);
    return st;
}

void wm_sidecar_meta_free(wm_sidecar_meta *m)
{
    free(m->rgb_fnv);
    memset(m, 0, sizeof *m);
}
