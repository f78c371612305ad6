/* npy.c -- .npy parsing and writing (format notes in npy.h).
 *
 * The header is a Python dict literal. Rather than a general literal parser we accept exactly the
 * grammar NumPy writes: '{', then 'key': value pairs for descr (a quoted string), fortran_order
 * (True/False) and shape (a tuple of non-negative integers, "(F,)" style trailing comma allowed),
 * separated by commas, then '}'. Anything else is rejected with the offset into the header.
 */
#include "input/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPY_MAX_HEADER (64 * 1024)
#define NPY_MAX_BYTES ((size_t)1 << 32) /* 4 GiB: far beyond any trajectory, bounds the malloc */

typedef struct { const char *s; size_t n, i; } cursor;

static void skip_ws(cursor *c) { while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\n' || c->s[c->i] == '\t')) c->i++; }
static int eat(cursor *c, char ch) { skip_ws(c); if (c->i < c->n && c->s[c->i] == ch) { c->i++; return 1; } return 0; }

static int quoted(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->i >= c->n || (c->s[c->i] != '\'' && c->s[c->i] != '"')) return 0;
    char q = c->s[c->i++];
    size_t k = 0;
    while (c->i < c->n && c->s[c->i] != q) {
        if (k + 1 >= cap) return 0;
        out[k++] = c->s[c->i++];
    }
    if (c->i >= c->n) return 0;
    c->i++;
    out[k] = 0;
    return 1;
}

static int parse_shape(cursor *c, wm_npy *a)
{
    if (!eat(c, '(')) return 0;
    a->ndim = 0;
    for (;;) {
        if (eat(c, ')')) return 1;
        skip_ws(c);
        int64_t v = 0;
        size_t start = c->i;
        while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
            v = v * 10 + (c->s[c->i++] - '0');
            if (v > INT32_MAX) return 0;
        }
        if (c->i == start || a->ndim >= WM_NPY_MAX_DIMS) return 0;
        a->shape[a->ndim++] = v;
        if (!eat(c, ',')) return eat(c, ')');
    }
}

static wm_status parse_header(const char *h, size_t n, const char *name, wm_npy *a, int *is_f8, wm_error *err)
{
    cursor c = {h, n, 0};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!eat(&c, '{')) return wm__errf(err, WM_ERR_FORMAT, "%s: .npy header is not a dict", name);
    while (!eat(&c, '}')) {
        char key[32], val[32];
        if (!quoted(&c, key, sizeof key) || !eat(&c, ':'))
            return wm__errf(err, WM_ERR_FORMAT, "%s: .npy header: bad key at offset %zu", name, c.i);
        if (!strcmp(key, "descr")) {
            if (!quoted(&c, val, sizeof val)) return wm__errf(err, WM_ERR_FORMAT, "%s: .npy descr is not a string", name);
            if (!strcmp(val, "<f4")) *is_f8 = 0;
            else if (!strcmp(val, "<f8")) *is_f8 = 1;
            else return wm__errf(err, WM_ERR_DTYPE, "%s: .npy dtype '%s' unsupported (need '<f4' or '<f8')", name, val);
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            skip_ws(&c);
            if (c.n - c.i >= 5 && !strncmp(c.s + c.i, "False", 5)) c.i += 5;
            else if (c.n - c.i >= 4 && !strncmp(c.s + c.i, "True", 4))
                return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: .npy fortran_order True is not supported", name);
            else return wm__errf(err, WM_ERR_FORMAT, "%s: .npy fortran_order is not a bool", name);
            have_order = 1;
        } else if (!strcmp(key, "shape")) {
            if (!parse_shape(&c, a)) return wm__errf(err, WM_ERR_FORMAT, "%s: .npy shape is malformed (max %d dims)", name, WM_NPY_MAX_DIMS);
            have_shape = 1;
        } else {
            return wm__errf(err, WM_ERR_FORMAT, "%s: .npy header: unknown key '%s'", name, key);
        }
        if (!eat(&c, ',')) { if (!eat(&c, '}')) return wm__errf(err, WM_ERR_FORMAT, "%s: .npy header: expected ',' or '}' at offset %zu", name, c.i); break; }
    }
    if (!have_descr || !have_order || !have_shape)
        return wm__errf(err, WM_ERR_FORMAT, "%s: .npy header lacks descr/fortran_order/shape", name);
    return WM_OK;
}

wm_status wm_npy_parse(const uint8_t *buf, size_t len, const char *name, wm_npy *a, wm_error *err)
{
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return wm__errf(err, WM_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    int major = buf[6];
    size_t hlen, off;
    if (major == 1) { hlen = buf[8] | (size_t)buf[9] << 8; off = 10; }
    else if (major == 2 || major == 3) {
        if (len < 12) return wm__errf(err, WM_ERR_FORMAT, "%s: truncated .npy header", name);
        hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        off = 12;
    } else return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: .npy format version %d unsupported", name, major);
    if (hlen > NPY_MAX_HEADER || off + hlen > len)
        return wm__errf(err, WM_ERR_FORMAT, "%s: .npy header length %zu exceeds the file", name, hlen);
    int is_f8 = 0;
    WM_TRY(parse_header((const char *)buf + off, hlen, name, a, &is_f8, err));
    size_t count = 1;
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] && count > NPY_MAX_BYTES / (size_t)a->shape[d]) return wm__errf(err, WM_ERR_LIMIT, "%s: .npy too large", name);
        count *= (size_t)a->shape[d];
    }
    size_t isz = is_f8 ? 8 : 4, data = len - off - hlen;
    if (count > NPY_MAX_BYTES / isz) return wm__errf(err, WM_ERR_LIMIT, "%s: .npy too large", name);
    if (data != count * isz)
        return wm__errf(err, WM_ERR_FORMAT, "%s: .npy data is %zu bytes, shape needs %zu", name, data, count * isz);
    a->count = count;
    a->data = malloc(count ? count * sizeof(float) : 1);
    if (!a->data) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    const uint8_t *p = buf + off + hlen;
    for (size_t i = 0; i < count; i++) {
        if (is_f8) { double v; memcpy(&v, p + 8 * i, 8); a->data[i] = (float)v; }
        else memcpy(&a->data[i], p + 4 * i, 4); /* little-endian host (x86-64/aarch64) */
    }
    return WM_OK;
}

wm_status wm_npy_read(const char *path, wm_npy *out, wm_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return wm__errf(err, WM_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz < 0 || (size_t)sz > NPY_MAX_BYTES + NPY_MAX_HEADER || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return wm__errf(err, WM_ERR_IO, "%s: cannot size the file", path);
    }
    buf = malloc((size_t)sz + 1);
    if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        fclose(f);
        return wm__errf(err, WM_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    wm_status st = wm_npy_parse(buf, (size_t)sz, path, out, err);
    free(buf);
    return st;
}

void wm_npy_free(wm_npy *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

wm_status wm_npy_write(const char *path, const float *data, int ndim, const int64_t *shape, wm_error *err)
{
    char dims[160] = "", hdr[256];
    size_t count = 1, n = 0;
    for (int d = 0; d < ndim && d < WM_NPY_MAX_DIMS; d++) {
        n += (size_t)snprintf(dims + n, sizeof dims - n, "%lld,%s", (long long)shape[d], (ndim > 1 && d < ndim - 1) ? " " : "");
        count *= (size_t)shape[d];
    }
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    /* Pad so that magic + len + header is a multiple of 64 and ends with '\n' (NumPy's layout). */
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return wm__errf(err, WM_ERR_IO, "%s: %s", tmp, strerror(errno));
    uint16_t len = (uint16_t)(hl + pad + 1);
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(len & 0xff), (uint8_t)(len >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)hl, f) == (size_t)hl;
    for (int i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(data, sizeof(float), count, f) == count;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return wm__errf(err, WM_ERR_IO, "%s: write failed", path);
    }
    return WM_OK;
}
