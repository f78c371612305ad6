/* The autotune cache (wm/core/tune_cache.h): entries survive a save/load round trip, replacing a key
 * keeps one entry, malformed files are rejected with the file and line named and are never
 * overwritten afterwards, bad keys and blobs are refused, and saving leaves no temporary file behind. */
#include "testing.h"
#include "wm/core/tune_cache.h"

#include <dirent.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    fputs(text, fp);
    fclose(fp);
}

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

static int tmp_files_in(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/wm_tune_cache_XXXXXX";
    if (!mkdtemp(dir)) { printf("mkdtemp failed\n"); return 1; }
    char path[256];
    snprintf(path, sizeof path, "%s/gemm.txt", dir);
    wm_error err = {0};
    const unsigned char a[4] = {0xde, 0xad, 0xbe, 0xef}, b[2] = {0x00, 0x7f};
    unsigned char got[WM_TUNE_BLOB_MAX];

    /* missing file: empty, no error; puts save */
    wm_tune_cache *c = wm_tune_cache_new(path);
    CHECK(c != NULL);
    CHECK(wm_tune_cache_load(c, &err) == WM_OK);
    CHECK(wm_tune_cache_count(c) == 0);
    CHECK(wm_tune_cache_put(c, "gemm.v1:n2640.m2240.k2240", a, sizeof a, &err) == WM_OK);
    CHECK(wm_tune_cache_put(c, "gemm.v1:n2640.m13440.k2240", b, sizeof b, &err) == WM_OK);
    CHECK(wm_tune_cache_put(c, "gemm.v1:n2640.m2240.k2240", b, sizeof b, &err) == WM_OK); /* replace */
    CHECK(wm_tune_cache_count(c) == 2);
    CHECK(tmp_files_in(dir) == 0);
    wm_tune_cache_free(c);

    /* round trip */
    c = wm_tune_cache_new(path);
    CHECK(wm_tune_cache_load(c, &err) == WM_OK);
    CHECK(wm_tune_cache_count(c) == 2);
    CHECK(wm_tune_cache_get(c, "gemm.v1:n2640.m2240.k2240", got, sizeof got) == 2 && !memcmp(got, b, 2));
    CHECK(wm_tune_cache_get(c, "gemm.v1:n2640.m13440.k2240", got, sizeof got) == 2 && !memcmp(got, b, 2));
    CHECK(wm_tune_cache_get(c, "absent", got, sizeof got) == -1);
    CHECK(wm_tune_cache_get(c, "gemm.v1:n2640.m2240.k2240", got, 1) == -1); /* does not fit */
    /* invalid keys and blobs are refused, nothing stored */
    CHECK(wm_tune_cache_put(c, "has space", a, 4, &err) == WM_ERR_INVALID_ARG);
    CHECK(wm_tune_cache_put(c, "", a, 4, &err) == WM_ERR_INVALID_ARG);
    CHECK(wm_tune_cache_put(c, "k", a, 0, &err) == WM_ERR_INVALID_ARG);
    CHECK(wm_tune_cache_put(c, "k", got, WM_TUNE_BLOB_MAX + 1, &err) == WM_ERR_INVALID_ARG);
    CHECK(wm_tune_cache_count(c) == 2);
    wm_tune_cache_free(c);

    /* malformed files: error names file and line; the file is kept as it was even after a put */
    static const char *bad[] = {
        "k 0\n",                       /* odd hex length */
        "# ok\nk zz\n",                /* non-hex, line 2 */
        "k\n",                         /* no blob */
        "bad/key 00\n",                /* key character */
        "k 00 11\n",                   /* second space in the blob */
    };
    static const int bad_line[] = {1, 2, 1, 1, 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i]);
        long before = file_size(path);
        c = wm_tune_cache_new(path);
        wm_error e2 = {0};
        CHECK_MSG(wm_tune_cache_load(c, &e2) == WM_ERR_FORMAT, "bad file %zu accepted", i);
        char want[300];
        snprintf(want, sizeof want, "%s:%d:", path, bad_line[i]);
        CHECK_MSG(strstr(e2.msg, want) != NULL, "message '%s' does not name %s", e2.msg, want);
        CHECK(wm_tune_cache_count(c) == 0);
        CHECK(wm_tune_cache_put(c, "k2", a, 4, &e2) == WM_OK); /* kept in memory ... */
        CHECK(wm_tune_cache_get(c, "k2", got, sizeof got) == 4);
        CHECK(file_size(path) == before); /* ... but the bad file is not overwritten */
        wm_tune_cache_free(c);
    }
    /* CRLF line ends and comments are fine; memory parse with a long line is refused */
    write_file(path, "# comment\r\nk1 0a0B\r\n\r\n");
    c = wm_tune_cache_new(path);
    CHECK(wm_tune_cache_load(c, &err) == WM_OK);
    CHECK(wm_tune_cache_get(c, "k1", got, sizeof got) == 2 && got[0] == 0x0a && got[1] == 0x0b);
    wm_tune_cache_free(c);
    char longline[2 * WM_TUNE_BLOB_MAX + 16];
    memset(longline, 'a', sizeof longline);
    longline[1] = ' ';
    c = wm_tune_cache_new(NULL);
    CHECK(wm_tune_cache_load_mem(c, longline, sizeof longline, "mem", &err) == WM_ERR_FORMAT);
    wm_tune_cache_free(c);

    remove(path);
    rmdir(dir);
    TEST_MAIN_END();
}
