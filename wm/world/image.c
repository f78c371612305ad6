/* image.c -- PNG (zlib) and PPM reading/writing of RGB8 frames; see image.h for the why.
 *
 * PNG writing uses filter type 1 (Sub) on every row: on rendered frames it compresses about as well
 * as adaptive filtering for a fraction of the time, and zlib level 4 keeps a 640x352 frame near 10 ms.
 * Reading supports what any encoder writes for 8-bit non-interlaced gray/RGB/RGBA, all five filters.
 */
#include "wm/world/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef WM_HAVE_ZLIB
#include <zlib.h>
#endif

#define MAX_FILE_BYTES ((size_t)1 << 30)

int wm_image_have_png(void)
{
#ifdef WM_HAVE_ZLIB
    return 1;
#else
    return 0;
#endif
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static wm_status read_file(const char *path, uint8_t **data, size_t *size, wm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return wm__errf(err, WM_ERR_IO, "%s: cannot open", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            if (cap > MAX_FILE_BYTES) { free(buf); fclose(f); return wm__errf(err, WM_ERR_LIMIT, "%s: larger than 1 GiB", path); }
            uint8_t *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path); }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return wm__errf(err, WM_ERR_IO, "%s: read error", path); }
    *data = buf;
    *size = n;
    return WM_OK;
}

/* Write through a temporary name and rename, so a partial file never carries the final name. */
static wm_status write_file(const char *path, const uint8_t *a, size_t na, const uint8_t *b, size_t nb, wm_error *err)
{
    size_t len = strlen(path) + 5;
    char *tmp = malloc(len);
    if (!tmp) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        wm__errf(err, WM_ERR_IO, "%s: cannot create", tmp);
        free(tmp);
        return WM_ERR_IO;
    }
    int ok = fwrite(a, 1, na, f) == na && (nb == 0 || fwrite(b, 1, nb, f) == nb);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return wm__errf(err, WM_ERR_IO, "%s: write failed", path);
    }
    free(tmp);
    return WM_OK;
}

static wm_status ppm_write(const char *path, int w, int h, const uint8_t *rgb, wm_error *err)
{
    char hdr[64];
    int n = snprintf(hdr, sizeof hdr, "P6\n%d %d\n255\n", w, h);
    return write_file(path, (const uint8_t *)hdr, (size_t)n, rgb, (size_t)w * (size_t)h * 3, err);
}

/* Next header token of a PPM (skipping whitespace and # comments); -1 when malformed. */
static long ppm_token(const uint8_t *d, size_t n, size_t *pos)
{
    size_t i = *pos;
    for (;;) {
        while (i < n && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t')) i++;
        if (i < n && d[i] == '#') { while (i < n && d[i] != '\n') i++; continue; }
        break;
    }
    long v = 0;
    size_t start = i;
    while (i < n && d[i] >= '0' && d[i] <= '9' && v < 1000000) v = v * 10 + (d[i++] - '0');
    if (i == start || v >= 1000000) return -1;
    *pos = i;
    return v;
}

static wm_status ppm_decode(const char *path, const uint8_t *d, size_t n, int *w, int *h, uint8_t **rgb, wm_error *err)
{
    size_t pos = 2;
    long W = ppm_token(d, n, &pos), H = ppm_token(d, n, &pos), maxv = ppm_token(d, n, &pos);
    if (W < 1 || H < 1 || W > WM_IMAGE_MAX_SIDE || H > WM_IMAGE_MAX_SIDE || maxv != 255 || pos >= n)
        return wm__errf(err, WM_ERR_FORMAT, "%s: PPM header invalid or unsupported (need P6, maxval 255, sides <= %d)",
                        path, WM_IMAGE_MAX_SIDE);
    pos++; /* single whitespace after maxval */
    size_t need = (size_t)W * (size_t)H * 3;
    if (n - pos < need) return wm__errf(err, WM_ERR_FORMAT, "%s: PPM pixel data truncated", path);
    *rgb = malloc(need);
    if (!*rgb) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    memcpy(*rgb, d + pos, need);
    *w = (int)W;
    *h = (int)H;
    return WM_OK;
}

#ifdef WM_HAVE_ZLIB
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Append one chunk (length, type, data, CRC over type+data) at out + *pos. */
static void put_chunk(uint8_t *out, size_t *pos, const char *type, const uint8_t *data, uint32_t len)
{
    uint8_t *p = out + *pos;
    put32(p, len);
    memcpy(p + 4, type, 4);
    if (len) memcpy(p + 8, data, len);
    put32(p + 8 + len, (uint32_t)crc32(0, p + 4, len + 4));
    *pos += 12 + len;
}

static wm_status png_write(const char *path, int w, int h, const uint8_t *rgb, wm_error *err)
{
    size_t stride = (size_t)w * 3, raw_n = (stride + 1) * (size_t)h;
    uint8_t *raw = malloc(raw_n);
    uLongf zn = compressBound((uLong)raw_n);
    uint8_t *out = malloc(zn + 128);
    if (!raw || !out) { free(raw); free(out); return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path); }
    for (int y = 0; y < h; y++) {
        uint8_t *r = raw + (size_t)y * (stride + 1);
        const uint8_t *s = rgb + (size_t)y * stride;
        r[0] = 1; /* Sub */
        for (size_t i = 0; i < stride; i++) r[1 + i] = (uint8_t)(s[i] - (i >= 3 ? s[i - 3] : 0));
    }
    uint8_t ihdr[13] = {0};
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8; ihdr[9] = 2; /* 8-bit RGB, deflate, no interlace */
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    size_t pos = 8;
    put_chunk(out, &pos, "IHDR", ihdr, 13);
    uint8_t *z = malloc(zn);
    int zr = z ? compress2(z, &zn, raw, (uLong)raw_n, 4) : Z_MEM_ERROR;
    free(raw);
    if (zr != Z_OK) { free(z); free(out); return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: deflate failed (%d)", path, zr); }
    put_chunk(out, &pos, "IDAT", z, (uint32_t)zn);
    free(z);
    put_chunk(out, &pos, "IEND", NULL, 0);
    wm_status st = write_file(path, out, pos, NULL, 0, err);
    free(out);
    return st;
}

static uint8_t paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Undo the per-row filters in place; raw rows are (1 + stride) bytes. */
static int unfilter(uint8_t *raw, size_t stride, int h, int bpp)
{
    for (int y = 0; y < h; y++) {
        uint8_t *r = raw + (size_t)y * (stride + 1), *cur = r + 1;
        const uint8_t *up = y ? raw + (size_t)(y - 1) * (stride + 1) + 1 : NULL;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)bpp ? cur[i - bpp] : 0, b = up ? up[i] : 0;
            int c = (up && i >= (size_t)bpp) ? up[i - bpp] : 0;
            switch (r[0]) {
            case 0: break;
            case 1: cur[i] = (uint8_t)(cur[i] + a); break;
            case 2: cur[i] = (uint8_t)(cur[i] + b); break;
            case 3: cur[i] = (uint8_t)(cur[i] + ((a + b) >> 1)); break;
            case 4: cur[i] = (uint8_t)(cur[i] + paeth(a, b, c)); break;
            default: return 0;
            }
        }
    }
    return 1;
}

/* Collect IHDR fields and the concatenated IDAT payload, checking every length and CRC. */
static wm_status png_chunks(const char *path, const uint8_t *d, size_t n, uint8_t ihdr[13], uint8_t **idat,
                            size_t *idat_n, wm_error *err)
{
    size_t pos = 8, total = 0;
    int have_ihdr = 0;
    *idat = NULL;
    while (pos + 12 <= n) {
        uint32_t len = get32(d + pos);
        const uint8_t *type = d + pos + 4;
        if (len > n - pos - 12) return wm__errf(err, WM_ERR_FORMAT, "%s: PNG chunk at byte %zu runs past the end", path, pos);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* let a fuzzer reach the decoder behind the CRC */
        if ((uint32_t)crc32(0, type, len + 4) != get32(d + pos + 8 + len))
#else
        if (0)
#endif
            return wm__errf(err, WM_ERR_FORMAT, "%s: PNG chunk '%.4s' at byte %zu: bad CRC", path, (const char *)type, pos);
        if (!memcmp(type, "IHDR", 4) && len == 13) { memcpy(ihdr, d + pos + 8, 13); have_ihdr = 1; }
        if (!memcmp(type, "IDAT", 4)) {
            uint8_t *nb = realloc(*idat, total + len + 1);
            if (!nb) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
            *idat = nb;
            memcpy(nb + total, d + pos + 8, len);
            total += len;
        }
        if (!memcmp(type, "IEND", 4)) break;
        pos += 12 + (size_t)len;
    }
    *idat_n = total;
    if (!have_ihdr || !*idat) return wm__errf(err, WM_ERR_FORMAT, "%s: PNG without IHDR or IDAT", path);
    return WM_OK;
}

static wm_status png_decode(const char *path, const uint8_t *d, size_t n, int *w, int *h, uint8_t **rgb, wm_error *err)
{
    uint8_t ihdr[13] = {0}, *idat = NULL;
    size_t idat_n = 0;
    wm_status st = png_chunks(path, d, n, ihdr, &idat, &idat_n, err);
    if (st != WM_OK) { free(idat); return st; }
    uint32_t W = get32(ihdr), H = get32(ihdr + 4);
    int ct = ihdr[9], bpp = ct == 2 ? 3 : ct == 6 ? 4 : ct == 0 ? 1 : 0;
    if (W < 1 || H < 1 || W > WM_IMAGE_MAX_SIDE || H > WM_IMAGE_MAX_SIDE || ihdr[8] != 8 || !bpp || ihdr[12] != 0) {
        free(idat);
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: PNG %ux%u depth %d colour type %d interlace %d: only 8-bit "
                        "gray/RGB/RGBA, non-interlaced, sides <= %d", path, W, H, ihdr[8], ct, ihdr[12], WM_IMAGE_MAX_SIDE);
    }
    size_t stride = (size_t)W * (size_t)bpp;
    uLongf raw_n = (uLongf)((stride + 1) * H);
    uint8_t *raw = malloc(raw_n), *out = malloc((size_t)W * H * 3);
    uLongf got = raw_n;
    int zr = raw && out ? uncompress(raw, &got, idat, (uLong)idat_n) : Z_MEM_ERROR;
    free(idat);
    if (zr != Z_OK || got != raw_n || !unfilter(raw, stride, (int)H, bpp)) {
        free(raw); free(out);
        return wm__errf(err, WM_ERR_FORMAT, "%s: PNG image data corrupt (zlib %d, %lu of %lu bytes)", path, zr,
                        (unsigned long)got, (unsigned long)raw_n);
    }
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++) {
            const uint8_t *s = raw + y * (stride + 1) + 1 + x * (size_t)bpp;
            uint8_t *o = out + (y * W + x) * 3;
            o[0] = s[0]; o[1] = bpp == 1 ? s[0] : s[1]; o[2] = bpp == 1 ? s[0] : s[2];
        }
    free(raw);
    *w = (int)W; *h = (int)H; *rgb = out;
    return WM_OK;
}
#endif

wm_status wm_image_write(const char *path, int width, int height, const uint8_t *rgb, wm_error *err)
{
    if (width < 1 || height < 1 || width > WM_IMAGE_MAX_SIDE || height > WM_IMAGE_MAX_SIDE)
        return wm__errf(err, WM_ERR_INVALID_ARG, "%s: image size %dx%d out of range", path, width, height);
    if (ends_with(path, ".ppm")) return ppm_write(path, width, height, rgb, err);
#ifdef WM_HAVE_ZLIB
    if (ends_with(path, ".png")) return png_write(path, width, height, rgb, err);
#endif
    return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: unsupported image extension (this build writes%s .ppm)", path,
                    wm_image_have_png() ? " .png and" : "");
}

wm_status wm_image_read(const char *path, int *width, int *height, uint8_t **rgb, wm_error *err)
{
    uint8_t *d = NULL;
    size_t n = 0;
    *rgb = NULL;
    WM_TRY(read_file(path, &d, &n, err));
    wm_status st = wm_image_decode(path, d, n, width, height, rgb, err);
    free(d);
    return st;
}

wm_status wm_image_decode(const char *path, const uint8_t *d, size_t n, int *width, int *height, uint8_t **rgb,
                          wm_error *err)
{
    wm_status st;
    *rgb = NULL;
    if (n >= 2 && d[0] == 'P' && d[1] == '6') {
        st = ppm_decode(path, d, n, width, height, rgb, err);
    } else if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) {
#ifdef WM_HAVE_ZLIB
        st = png_decode(path, d, n, width, height, rgb, err);
#else
        st = wm__errf(err, WM_ERR_UNSUPPORTED, "%s: PNG support not built (no zlib)", path);
#endif
    } else {
        st = wm__errf(err, WM_ERR_FORMAT, "%s: neither PNG nor binary PPM (P6)", path);
    }
    return st;
}
