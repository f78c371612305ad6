/* safetensors writer, atomic: the file is written under a temporary name in the target directory,
 * flushed with fsync and renamed over the final name, so a crash or a failed write never leaves a
 * partial file that looks complete.
 *
 * Layout written: u64 header length, JSON header padded with spaces to a multiple of 8 (so every
 * tensor starts 8-byte aligned when sizes allow), data in item order without gaps. Names are checked
 * for duplicates and shapes for overflow before anything is written.
 */
#include "wm/io/ck_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static wm_status build_header(const char *path, const wm_st_item *items, int n, const char *const *metadata,
                              json_t **out, wm_error *err)
{
    json_t *root = json_object();
    if (!root) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (metadata && metadata[0]) {
        json_t *m = json_object();
        for (int i = 0; metadata[i] && metadata[i + 1]; i += 2) json_object_set_new(m, metadata[i], json_string(metadata[i + 1]));
        json_object_set_new(root, "__metadata__", m);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const wm_st_item *it = &items[i];
        int64_t numel = it->ndim >= 0 && it->ndim <= WM_MAX_DIMS ? wm__shape_numel(it->ndim, it->shape) : -1;
        const char *why = !it->name || !*it->name                       ? "empty name"
                        : !strcmp(it->name, "__metadata__")             ? "reserved name"
                        : (unsigned)it->dtype >= WM_DTYPE_COUNT         ? "invalid dtype"
                        : numel < 0                                     ? "invalid shape"
                        : numel > 0 && !it->data                        ? "no data"
                        : json_object_get(root, it->name)               ? "duplicate name"
                                                                        : NULL;
        if (why) {
            json_decref(root);
            return wm__errf(err, WM_ERR_INVALID_ARG, "%s: item %d '%s': %s", path, i, it->name ? it->name : "", why);
        }
        uint64_t nb = (uint64_t)numel * wm_dtype_size(it->dtype);
        json_t *shape = json_array();
        for (int d = 0; d < it->ndim; d++) json_array_append_new(shape, json_integer(it->shape[d]));
        json_t *rec = json_pack("{s:s, s:o, s:[I,I]}", "dtype", wm_dtype_name(it->dtype), "shape", shape,
                                "data_offsets", (json_int_t)off, (json_int_t)(off + nb));
        if (!rec || json_object_set_new(root, it->name, rec) != 0) {
            json_decref(root);
            return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        }
        off += nb;
    }
    *out = root;
    return WM_OK;
}

static int write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }

static wm_status write_body(FILE *f, const char *path, const char *hdr, const wm_st_item *items, int n, wm_error *err)
{
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = write_all(f, len8, 8) && write_all(f, hdr, hlen);
    for (size_t i = hlen; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < n; i++) {
        size_t nb = (size_t)wm__shape_numel(items[i].ndim, items[i].shape) * wm_dtype_size(items[i].dtype);
        ok = write_all(f, items[i].data, nb);
    }
    if (ok) ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    return ok ? WM_OK : wm__errf(err, WM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
}

wm_status wm_safetensors_write(const char *path, const wm_st_item *items, int n, const char *const *metadata,
                               wm_error *err)
{
    if (!path || (n > 0 && !items) || n < 0) return wm__errf(err, WM_ERR_INVALID_ARG, "safetensors write: bad arguments");
    json_t *root;
    WM_TRY(build_header(path, items, n, metadata, &root, err));
    char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!hdr) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) { free(hdr); return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path); }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    wm_status st;
    if (fd < 0) {
        st = wm__errf(err, WM_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
    } else {
        /* mkstemp creates 0600; a checkpoint is an ordinary data file. */
        if (fchmod(fd, 0644) != 0) wm__log(WM_LOG_DEBUG, "%s: fchmod: %s", tmp, strerror(errno));
        FILE *f = fdopen(fd, "wb");
        if (!f) { close(fd); st = wm__errf(err, WM_ERR_IO, "%s: fdopen: %s", path, strerror(errno)); }
        else {
            st = write_body(f, path, hdr, items, n, err);
            if (fclose(f) != 0 && st == WM_OK) st = wm__errf(err, WM_ERR_IO, "%s: close: %s", path, strerror(errno));
        }
        if (st == WM_OK && rename(tmp, path) != 0)
            st = wm__errf(err, WM_ERR_IO, "%s: rename from temporary file: %s", path, strerror(errno));
        if (st != WM_OK) unlink(tmp);
    }
    free(tmp);
    free(hdr);
    return st;
}
