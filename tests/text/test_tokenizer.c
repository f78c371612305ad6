/* Tokenizer against the reference table (tests/golden/text/tok_table.tsv, >= 2,000 strings whose ids
 * come from the sentencepiece library; tools/golden/gen_text_golden.py), through both file formats:
 * tokenizer.json (the HF form Sana reads) and tokenizer.model (SentencePiece protobuf). Also checks the
 * <bos> template, the directory lookup, and that bad input gives clear errors: invalid UTF-8 with its
 * byte offset, over-long input, missing and malformed tokenizer files. Runs from the repository root.
 */
#include "testing.h"
#include "wm/text/tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOLDEN "tests/golden/text/"

typedef struct row { char *text; size_t len; int32_t *ids; int n; } row;

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static int load_table(const char *path, row **rows_out)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t cap = 4096, n = 0, lcap = 1 << 16;
    row *rows = malloc(cap * sizeof *rows);
    char *line = malloc(lcap);
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        row r = {0};
        size_t hl = (size_t)(tab - line);
        r.text = malloc(hl / 2 + 1);
        if (!(hl == 1 && line[0] == '-'))
            for (size_t i = 0; i + 1 < hl; i += 2) r.text[r.len++] = (char)(hexval(line[i]) * 16 + hexval(line[i + 1]));
        r.ids = malloc(sizeof(int32_t) * ((size_t)got / 2 + 1));
        for (char *p = tab + 1; *p && *p != '\n';) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p) break;
            r.ids[r.n++] = (int32_t)v;
            p = e;
        }
        if (n == cap) rows = realloc(rows, (cap *= 2) * sizeof *rows);
        rows[n++] = r;
    }
    free(line);
    fclose(f);
    *rows_out = rows;
    return (int)n;
}

static int check_table(const char *label, const wm_tokenizer *t, const row *rows, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int32_t *ids;
        int m;
        wm_error err = {0};
        wm_status st = wm_tokenizer_encode(t, rows[i].text, rows[i].len, 0, &ids, &m, &err);
        int ok = st == WM_OK && m == rows[i].n && !memcmp(ids, rows[i].ids, sizeof(int32_t) * (size_t)m);
        if (!ok && bad++ < 5) {
            fprintf(stderr, "%s: row %d (%zu bytes) differs: st=%d n=%d ref n=%d (%s)\n  got:", label, i, rows[i].len,
                    st, m, rows[i].n, err.msg);
            for (int k = 0; k < m && k < 24; k++) fprintf(stderr, " %d", ids[k]);
            fprintf(stderr, "\n  ref:");
            for (int k = 0; k < rows[i].n && k < 24; k++) fprintf(stderr, " %d", rows[i].ids[k]);
            fprintf(stderr, "\n");
        }
        if (st == WM_OK) free(ids);
    }
    printf("%-28s %d strings, %d mismatches\n", label, n, bad);
    return bad == 0;
}

static void check_special(const wm_tokenizer *t)
{
    int32_t *ids;
    int n;
    wm_error err = {0};
    CHECK(wm_tokenizer_bos(t) == 2 && wm_tokenizer_pad(t) == 0);
    CHECK(wm_tokenizer_encode(t, "", 0, 1, &ids, &n, &err) == WM_OK && n == 1 && ids[0] == 2);
    free(ids);
    CHECK(wm_tokenizer_encode(t, "", 0, 0, &ids, &n, &err) == WM_OK && n == 0);
    free(ids);
    const char *s = "<start_of_turn>user";
    CHECK(wm_tokenizer_encode(t, s, strlen(s), 1, &ids, &n, &err) == WM_OK && n >= 3 && ids[0] == 2 &&
          ids[1] == wm_tokenizer_find(t, "<start_of_turn>"));
    free(ids);
}

static void check_bad_input(const wm_tokenizer *t)
{
    static const char *bad[] = {"abc\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82",
                                "\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids = NULL;
        int n = 0;
        wm_error err = {0};
        wm_status st = wm_tokenizer_encode(t, bad[i], strlen(bad[i]), 1, &ids, &n, &err);
        CHECK_MSG(st == WM_ERR_INVALID_ARG && strstr(err.msg, "UTF-8") && !ids, "invalid UTF-8 case %zu: %d '%s'", i,
                  st, err.msg);
    }
    size_t big = WM_TOKENIZER_MAX_INPUT + 1;
    char *s = malloc(big);
    memset(s, 'a', big);
    int32_t *ids = NULL;
    int n;
    wm_error err = {0};
    CHECK(wm_tokenizer_encode(t, s, big, 1, &ids, &n, &err) == WM_ERR_LIMIT && strstr(err.msg, "bytes"));
    /* a long but accepted input: 64 KiB of mixed text tokenises without trouble */
    for (size_t i = 0; i < 65536; i++) s[i] = "ab cd\n9\t"[i % 8];
    CHECK(wm_tokenizer_encode(t, s, 65536, 1, &ids, &n, &err) == WM_OK && n > 10000);
    free(ids);
    free(s);
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (f) { fputs(content, f); fclose(f); }
}

static void check_bad_files(void)
{
    wm_tokenizer *t = NULL;
    wm_error err = {0};
    char dir[] = "/tmp/wm_tok_XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    CHECK(wm_tokenizer_load(dir, &t, &err) == WM_ERR_NOT_FOUND && strstr(err.msg, "tokenizer.json") && !t);
    CHECK(wm_tokenizer_load("/nonexistent/tokenizer.json", &t, &err) == WM_ERR_NOT_FOUND);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [");
    CHECK(wm_tokenizer_load(dir, &t, &err) == WM_ERR_FORMAT && strstr(err.msg, "tokenizer.json"));
    write_file(path, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
    CHECK(wm_tokenizer_load(dir, &t, &err) == WM_ERR_UNSUPPORTED && strstr(err.msg, "Unigram"));
    write_file(path, "{\"normalizer\": {\"type\": \"NFKC\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
                     "\"merges\": []}}");
    CHECK(wm_tokenizer_load(dir, &t, &err) == WM_ERR_UNSUPPORTED && strstr(err.msg, "NFKC"));
    write_file(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}");
    CHECK(wm_tokenizer_load(dir, &t, &err) == WM_ERR_FORMAT && strstr(err.msg, "merges[0]"));
    unlink(path);
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    write_file(path, "this is not a protobuf at all");
    CHECK(wm_tokenizer_load(dir, &t, &err) == WM_ERR_FORMAT && strstr(err.msg, "tokenizer.model"));
    unlink(path);
    rmdir(dir);
}

/* Older tokenizers versions (the 2024 Gemma-2 files) store merges as "a b" strings, newer ones as
 * [a, b] pairs; the golden file has pairs, so rewrite it with strings and run the table again. */
static void check_string_merges(const row *rows, int n)
{
    json_error_t je;
    json_t *root = json_load_file(GOLDEN "tokenizer.json", 0, &je), *m, *merges, *strs = json_array();
    size_t i;
    CHECK(root != NULL);
    if (!root) return;
    merges = json_object_get(json_object_get(root, "model"), "merges");
    json_array_foreach(merges, i, m) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s %s", json_string_value(json_array_get(m, 0)), json_string_value(json_array_get(m, 1)));
        json_array_append_new(strs, json_string(buf));
    }
    json_object_set_new(json_object_get(root, "model"), "merges", strs);
    char dir[] = "/tmp/wm_tokm_XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    CHECK(json_dump_file(root, path, 0) == 0);
    json_decref(root);
    wm_tokenizer *t = NULL;
    wm_error err = {0};
    CHECK_MSG(wm_tokenizer_load(dir, &t, &err) == WM_OK, "string merges: %s", err.msg);
    if (t) CHECK(check_table("tokenizer.json (\"a b\" merges)", t, rows, n));
    wm_tokenizer_free(t);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    row *rows = NULL;
    int n = load_table(GOLDEN "tok_table.tsv", &rows);
    CHECK_MSG(n >= 2000, "table has %d rows (need >= 2000; run from the repository root)", n);
    const char *files[2] = {GOLDEN "tokenizer.json", GOLDEN "tokenizer.model"};
    for (int k = 0; k < 2; k++) {
        wm_tokenizer *t = NULL;
        wm_error err = {0};
        wm_status st = wm_tokenizer_load(files[k], &t, &err);
        CHECK_MSG(st == WM_OK, "load %s: %s", files[k], err.msg);
        if (st != WM_OK) continue;
        CHECK(check_table(files[k], t, rows, n));
        check_special(t);
        if (k == 0) check_bad_input(t);
        wm_tokenizer_free(t);
    }
    /* a directory resolves to tokenizer.json */
    wm_tokenizer *t = NULL;
    wm_error err = {0};
    CHECK(wm_tokenizer_load(GOLDEN, &t, &err) == WM_OK && t && strstr(wm_tokenizer_source(t), "tokenizer.json"));
    wm_tokenizer_free(t);
    check_bad_files();
    check_string_merges(rows, n);
    for (int i = 0; i < n; i++) { free(rows[i].text); free(rows[i].ids); }
    free(rows);
    TEST_MAIN_END();
}
