/* Autotune result store (tune_cache.h): a sorted-free linear table (a few dozen GEMM shapes), parsed
 * defensively from a bounded text file and saved by write-temporary-then-rename. */
#define _POSIX_C_SOURCE 200809L
#include "wm/core/tune_cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char key[WM_TUNE_KEY_MAX + 1];
    unsigned char blob[WM_TUNE_BLOB_MAX];
    int n;
} tune_entry;

struct wm_tune_cache {
    char *path;    /* NULL: memory only */
    int readonly;  /* the file failed to load: never overwrite it */
    tune_entry *e;
    int n, cap;
};

wm_tune_cache *wm_tune_cache_new(const char *path)
{
    wm_tune_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (path && path[0]) {
        c->path = strdup(path);
        if (!c->path) { free(c); return NULL; }
    }
    return c;
}

void wm_tune_cache_free(wm_tune_cache *c)
{
    if (!c) return;
    free(c->path);
    free(c->e);
    free(c);
}

int wm_tune_cache_count(const wm_tune_cache *c) { return c ? c->n : 0; }

static int key_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
           ch == '.' || ch == ':' || ch == '=' || ch == '+' || ch == '-';
}

static int key_ok(const char *k, size_t n)
{
    if (n == 0 || n > WM_TUNE_KEY_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!key_char((unsigned char)k[i])) return 0;
    return 1;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int find(const wm_tune_cache *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].key, key)) return i;
    return -1;
}

/* Insert or replace without saving; 0 when the table is full or out of memory. */
static int set(wm_tune_cache *c, const char *key, size_t kn, const unsigned char *blob, int n)
{
    char k[WM_TUNE_KEY_MAX + 1];
    memcpy(k, key, kn);
    k[kn] = 0;
    int i = find(c, k);
    if (i < 0) {
        if (c->n >= WM_TUNE_MAX_ENTRIES) return 0;
        if (c->n == c->cap) {
            int nc = c->cap ? 2 * c->cap : 32;
            tune_entry *ne = realloc(c->e, (size_t)nc * sizeof *ne);
            if (!ne) return 0;
            c->e = ne, c->cap = nc;
        }
        i = c->n++;
        memcpy(c->e[i].key, k, kn + 1);
    }
    memcpy(c->e[i].blob, blob, (size_t)n);
    c->e[i].n = n;
    return 1;
}

/* One non-comment line (without its newline) into tmp entries; 0 with *why on a malformed line. */
static int parse_line(const char *s, size_t len, char *key, size_t *kn, unsigned char *blob, int *n, const char **why)
{
    const char *sp = memchr(s, ' ', len);
    if (!sp) { *why = "expected '<key> <hex>'"; return 0; }
    *kn = (size_t)(sp - s);
    if (!key_ok(s, *kn)) { *why = "bad key (1-200 characters of A-Z a-z 0-9 _ . : = + -)"; return 0; }
    memcpy(key, s, *kn);
    const char *h = sp + 1;
    size_t hn = len - *kn - 1;
    if (hn == 0 || hn % 2 || hn / 2 > WM_TUNE_BLOB_MAX) { *why = "blob must be 1-256 bytes of hex"; return 0; }
    for (size_t i = 0; i < hn / 2; i++) {
        int a = hexval((unsigned char)h[2 * i]), b = hexval((unsigned char)h[2 * i + 1]);
        if (a < 0 || b < 0) { *why = "non-hex character in the blob"; return 0; }
        blob[i] = (unsigned char)(a * 16 + b);
    }
    *n = (int)(hn / 2);
    return 1;
}

wm_status wm_tune_cache_load_mem(wm_tune_cache *c, const char *buf, size_t len, const char *name, wm_error *err)
{
    if (!c || (!buf && len)) return wm__errf(err, WM_ERR_INVALID_ARG, "tune cache: NULL");
    if (!name) name = "(memory)";
    if (len > WM_TUNE_FILE_MAX) {
        c->readonly = 1;
        return wm__errf(err, WM_ERR_LIMIT, "%s: tune cache larger than %u bytes", name, WM_TUNE_FILE_MAX);
    }
    /* parse everything into a scratch table first: a bad line anywhere leaves c unchanged */
    wm_tune_cache tmp = {0};
    wm_status st = WM_OK;
    size_t pos = 0;
    int line = 0;
    while (st == WM_OK && pos < len) {
        line++;
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - s) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll && s[ll - 1] == '\r') ll--;
        if (ll == 0 || s[0] == '#') continue;
        char key[WM_TUNE_KEY_MAX + 1];
        unsigned char blob[WM_TUNE_BLOB_MAX];
        size_t kn = 0;
        int n = 0;
        const char *why = NULL;
        if (ll > WM_TUNE_KEY_MAX + 1 + 2 * WM_TUNE_BLOB_MAX) why = "line too long";
        else if (!parse_line(s, ll, key, &kn, blob, &n, &why)) (void)0;
        else if (!set(&tmp, key, kn, blob, n)) why = "too many entries";
        if (why) st = wm__errf(err, WM_ERR_FORMAT, "%s:%d: %s", name, line, why);
    }
    for (int i = 0; st == WM_OK && i < tmp.n; i++)
        if (!set(c, tmp.e[i].key, strlen(tmp.e[i].key), tmp.e[i].blob, tmp.e[i].n))
            st = wm__errf(err, WM_ERR_LIMIT, "%s: too many entries", name);
    free(tmp.e);
    if (st != WM_OK) c->readonly = 1;
    return st;
}

wm_status wm_tune_cache_load(wm_tune_cache *c, wm_error *err)
{
    if (!c) return wm__errf(err, WM_ERR_INVALID_ARG, "tune cache: NULL");
    if (!c->path) return WM_OK;
    FILE *fp = fopen(c->path, "rb");
    if (!fp) {
        if (errno == ENOENT) return WM_OK;
        c->readonly = 1;
        return wm__errf(err, WM_ERR_IO, "%s: cannot open tune cache: %s", c->path, strerror(errno));
    }
    char *buf = malloc(WM_TUNE_FILE_MAX + 1);
    if (!buf) {
        fclose(fp);
        c->readonly = 1;
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
    }
    size_t len = fread(buf, 1, WM_TUNE_FILE_MAX + 1, fp);
    int rd_err = ferror(fp);
    fclose(fp);
    wm_status st;
    if (rd_err) {
        c->readonly = 1;
        st = wm__errf(err, WM_ERR_IO, "%s: read error", c->path);
    } else {
        st = wm_tune_cache_load_mem(c, buf, len, c->path, err);
    }
    free(buf);
    return st;
}

static wm_status save(const wm_tune_cache *c, wm_error *err)
{
    size_t pl = strlen(c->path);
    char *tmp = malloc(pl + 32);
    if (!tmp) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
    snprintf(tmp, pl + 32, "%s.tmp.%ld", c->path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        wm_status st = wm__errf(err, WM_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    int ok = fprintf(fp, "# wm tune cache: <key> <hex blob> (regenerated when deleted)\n") > 0;
    for (int i = 0; i < c->n && ok; i++) {
        ok = fprintf(fp, "%s ", c->e[i].key) > 0;
        for (int j = 0; j < c->e[i].n && ok; j++) ok = fprintf(fp, "%02x", c->e[i].blob[j]) == 2;
        ok = ok && fputc('\n', fp) != EOF;
    }
    ok = (fflush(fp) == 0) & ok;
    ok = (fclose(fp) == 0) & ok;
    if (!ok || rename(tmp, c->path) != 0) {
        wm_status st = wm__errf(err, WM_ERR_IO, "%s: cannot save tune cache: %s", c->path, strerror(errno));
        remove(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return WM_OK;
}

int wm_tune_cache_get(const wm_tune_cache *c, const char *key, void *buf, size_t cap)
{
    if (!c || !key) return -1;
    int i = find(c, key);
    if (i < 0 || (size_t)c->e[i].n > cap) return -1;
    memcpy(buf, c->e[i].blob, (size_t)c->e[i].n);
    return c->e[i].n;
}

wm_status wm_tune_cache_put(wm_tune_cache *c, const char *key, const void *blob, size_t n, wm_error *err)
{
    if (!c || !key || !blob || !key_ok(key, strlen(key)) || n == 0 || n > WM_TUNE_BLOB_MAX)
        return wm__errf(err, WM_ERR_INVALID_ARG, "tune cache: invalid key or blob");
    if (!set(c, key, strlen(key), (const unsigned char *)blob, (int)n))
        return wm__errf(err, WM_ERR_LIMIT, "tune cache: more than %d entries", WM_TUNE_MAX_ENTRIES);
    if (!c->path || c->readonly) return WM_OK;
    return save(c, err);
}
