/* ZIP central-directory reader for PyTorch archives (see zip.h).
 *
 * The end-of-central-directory record is searched backwards over the last 64 KiB + 22 bytes; if any
 * of its fields is saturated, the ZIP64 locator and record give the 64-bit values. Central entries
 * are bounds-checked as they are read; the local header of an entry is only checked when its data is
 * requested (its name must match and its data must lie inside the image). Offsets are all uint64 and
 * compared against the image length before any pointer is formed.
 */
#include "wm/io/zip.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

typedef struct { uint64_t count, cd_size, cd_off; } zip_eocd;

static wm_status find_eocd(const wm_zip *z, zip_eocd *out, wm_error *err)
{
    if (z->len < 22) return wm__errf(err, WM_ERR_FORMAT, "%s: truncated zip archive (%zu bytes)", z->file, z->len);
    size_t lo = z->len > 22 + 65535 ? z->len - 22 - 65535 : 0;
    for (size_t p = z->len - 22 + 1; p-- > lo;) {
        const uint8_t *r = z->base + p;
        if (rd(r, 4) != 0x06054b50) continue;
        out->count = rd(r + 10, 2);
        out->cd_size = rd(r + 12, 4);
        out->cd_off = rd(r + 16, 4);
        if (out->count != 0xffff && out->cd_size != 0xffffffffu && out->cd_off != 0xffffffffu) return WM_OK;
        /* ZIP64: locator immediately before the EOCD record. */
        if (p < 20 || rd(r - 20, 4) != 0x07064b50)
            return wm__errf(err, WM_ERR_FORMAT, "%s: zip64 end-of-directory locator missing", z->file);
        uint64_t off = rd(r - 20 + 8, 8);
        if (off > z->len || z->len - off < 56 || rd(z->base + off, 4) != 0x06064b50)
            return wm__errf(err, WM_ERR_FORMAT, "%s: zip64 end-of-directory record out of bounds", z->file);
        const uint8_t *q = z->base + off;
        out->count = rd(q + 32, 8);
        out->cd_size = rd(q + 40, 8);
        out->cd_off = rd(q + 48, 8);
        return WM_OK;
    }
    return wm__errf(err, WM_ERR_FORMAT, "%s: not a zip archive or truncated (no end-of-directory record)", z->file);
}

/* Replace saturated 32-bit fields by the ZIP64 extra field values (in its fixed order). */
static int apply_zip64(wm_zip_entry *e, const uint8_t *x, size_t xlen)
{
    size_t p = 0;
    while (p + 4 <= xlen) {
        uint64_t id = rd(x + p, 2), sz = rd(x + p + 2, 2);
        if (p + 4 + sz > xlen) return -1;
        if (id == 1) {
            const uint8_t *f = x + p + 4;
            size_t q = 0;
            uint64_t *fields[3] = {&e->size, &e->csize, &e->local_off};
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xffffffffu) continue;
                if (q + 8 > sz) return -1;
                *fields[i] = rd(f + q, 8);
                q += 8;
            }
            return 0;
        }
        p += 4 + sz;
    }
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const wm_zip_entry *)a)->name, ((const wm_zip_entry *)b)->name);
}

static wm_status read_central(wm_zip *z, const zip_eocd *eo, wm_error *err)
{
    const uint8_t *p = z->base + eo->cd_off, *end = p + eo->cd_size;
    for (uint64_t i = 0; i < eo->count; i++) {
        if (end - p < 46 || rd(p, 4) != 0x02014b50)
            return wm__errf(err, WM_ERR_FORMAT, "%s: zip central directory entry %llu is truncated or corrupt", z->file,
                            (unsigned long long)i);
        size_t nl = rd(p + 28, 2), xl = rd(p + 30, 2), cl = rd(p + 32, 2);
        if ((size_t)(end - p) < 46 + nl + xl + cl)
            return wm__errf(err, WM_ERR_FORMAT, "%s: zip central directory entry %llu runs past the directory", z->file,
                            (unsigned long long)i);
        wm_zip_entry *e = &z->e[z->n];
        if (nl == 0 || memchr(p + 46, 0, nl))
            return wm__errf(err, WM_ERR_FORMAT, "%s: zip entry %llu has an empty or invalid name", z->file, (unsigned long long)i);
        e->name = malloc(nl + 1);
        if (!e->name) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", z->file);
        memcpy(e->name, p + 46, nl);
        e->name[nl] = 0;
        z->n++;
        e->flags = (int)rd(p + 8, 2);
        e->method = (int)rd(p + 10, 2);
        e->csize = rd(p + 20, 4);
        e->size = rd(p + 24, 4);
        e->local_off = rd(p + 42, 4);
        if (apply_zip64(e, p + 46 + nl, xl) != 0)
            return wm__errf(err, WM_ERR_FORMAT, "%s: zip entry '%s': bad zip64 extra field", z->file, e->name);
        if (e->local_off >= z->len)
            return wm__errf(err, WM_ERR_FORMAT, "%s: zip entry '%s': local header offset past end of file", z->file, e->name);
        p += 46 + nl + xl + cl;
    }
    return WM_OK;
}

wm_status wm__zip_open(wm_zip *z, const uint8_t *base, size_t len, const char *file, wm_error *err)
{
    memset(z, 0, sizeof *z);
    z->base = base;
    z->len = len;
    z->file = file;
    zip_eocd eo = {0, 0, 0};
    WM_TRY(find_eocd(z, &eo, err));
    if (eo.cd_off > len || eo.cd_size > len - eo.cd_off)
        return wm__errf(err, WM_ERR_FORMAT, "%s: zip central directory [%llu, +%llu) outside the file (%zu bytes)", file,
                        (unsigned long long)eo.cd_off, (unsigned long long)eo.cd_size, len);
    if (eo.count > WM_ZIP_MAX_ENTRIES || eo.count > eo.cd_size / 46)
        return wm__errf(err, WM_ERR_FORMAT, "%s: zip claims %llu entries in a %llu-byte directory", file,
                        (unsigned long long)eo.count, (unsigned long long)eo.cd_size);
    z->e = calloc(eo.count ? eo.count : 1, sizeof *z->e);
    if (!z->e) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
    wm_status st = read_central(z, &eo, err);
    if (st == WM_OK && z->n > 1) {
        qsort(z->e, (size_t)z->n, sizeof *z->e, cmp_entry);
        for (int i = 1; i < z->n && st == WM_OK; i++)
            if (!strcmp(z->e[i].name, z->e[i - 1].name))
                st = wm__errf(err, WM_ERR_FORMAT, "%s: zip entry '%s' appears twice", file, z->e[i].name);
    }
    if (st != WM_OK) wm__zip_free(z);
    return st;
}

void wm__zip_free(wm_zip *z)
{
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    z->e = NULL;
    z->n = 0;
}

const wm_zip_entry *wm__zip_find(const wm_zip *z, const char *name)
{
    int lo = 0, hi = z->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(z->e[mid].name, name);
        if (c == 0) return &z->e[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

wm_status wm__zip_data(const wm_zip *z, const wm_zip_entry *e, const uint8_t **data, wm_error *err)
{
    if (e->method != 0)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: zip entry '%s' is compressed (method %d); only stored entries are supported",
                        z->file, e->name, e->method);
    if (e->flags & 1) return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: zip entry '%s' is encrypted", z->file, e->name);
    if (e->csize != e->size)
        return wm__errf(err, WM_ERR_FORMAT, "%s: zip entry '%s': stored but sizes differ", z->file, e->name);
    uint64_t off = e->local_off;
    if (z->len - off < 30 || rd(z->base + off, 4) != 0x04034b50)
        return wm__errf(err, WM_ERR_FORMAT, "%s: zip entry '%s': bad local header", z->file, e->name);
    uint64_t nl = rd(z->base + off + 26, 2), xl = rd(z->base + off + 28, 2);
    size_t nlen = strlen(e->name);
    if (nl != nlen || z->len - off - 30 < nl || memcmp(z->base + off + 30, e->name, nlen) != 0)
        return wm__errf(err, WM_ERR_FORMAT, "%s: zip entry '%s': local header names a different file", z->file, e->name);
    uint64_t doff = off + 30 + nl + xl;
    if (doff > z->len || e->size > z->len - doff)
        return wm__errf(err, WM_ERR_FORMAT, "%s: zip entry '%s': data [%llu, +%llu) past the end of the file (%zu bytes)",
                        z->file, e->name, (unsigned long long)doff, (unsigned long long)e->size, z->len);
    *data = z->base + doff;
    return WM_OK;
}
