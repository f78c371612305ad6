/* Tokenizer robustness: untrusted files and arbitrary text.
 *
 *  - 400 mutated copies of the golden tokenizer.model (byte flips, truncation, length-field damage) and
 *    200 of tokenizer.json (flips, truncation): each load either fails with a message or yields a
 *    tokenizer that still encodes; never a crash (run under WM_SANITIZE for the memory checks);
 *  - hand-made tokenizer.json files with bad ids, unknown merge tokens, empty added tokens, wrong types;
 *  - round trip: 3,000 random UTF-8 strings (random code points from many scripts, whitespace runs,
 *    special-token text; no literal U+2581, which Gemma's decoder turns into a space by design) encode to
 *    ids whose pieces (U+2581 -> space, <0xXX> -> byte) give back exactly the input, through both file
 *    formats, and both formats give the same ids. This covers inputs far
 *    beyond the golden table: a lost or duplicated byte anywhere would break the round trip.
 */
#include "testing.h"
#include "wm/text/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOLDEN "tests/golden/text/"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*len + 1);
    if (fread(b, 1, *len, f) != *len) { free(b); b = NULL; }
    fclose(f);
    return b;
}

static void write_all(const char *path, const char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(b, 1, len, f); fclose(f); }
}

static int try_load(const char *path)
{
    wm_tokenizer *t = NULL;
    wm_error err = {0};
    wm_status st = wm_tokenizer_load(path, &t, &err);
    if (st != WM_OK) return err.msg[0] != 0 ? 0 : -1; /* an error must say something */
    int32_t *ids;
    int n;
    const char *s = "Hello  world\n<start_of_turn>日本 🚀 123";
    st = wm_tokenizer_encode(t, s, strlen(s), 1, &ids, &n, &err);
    if (st == WM_OK) free(ids);
    wm_tokenizer_free(t);
    return 1;
}

static void mutate_file(const char *src, const char *dst, int iters, t_rng *r)
{
    size_t len;
    char *orig = read_all(src, &len);
    CHECK(orig != NULL);
    if (!orig) return;
    char *b = malloc(len);
    int loaded = 0, failed = 0, silent = 0;
    for (int it = 0; it < iters; it++) {
        memcpy(b, orig, len);
        size_t n = len;
        int k = 1 + (int)(t_rng_u64(r) % 4);
        for (int j = 0; j < k; j++) {
            size_t pos = (size_t)(t_rng_u64(r) % n);
            switch (t_rng_u64(r) % 3) {
            case 0: b[pos] ^= (char)(1 << (t_rng_u64(r) % 8)); break;
            case 1: b[pos] = (char)(t_rng_u64(r) & 0xff); break;
            default: n = pos + 1; break; /* truncate */
            }
        }
        write_all(dst, b, n);
        int res = try_load(dst);
        if (res > 0) loaded++; else if (res == 0) failed++; else silent++;
    }
    printf("%-28s %d mutants: %d loaded, %d rejected with a message, %d silent\n", src, iters, loaded, failed, silent);
    CHECK(silent == 0);
    free(b);
    free(orig);
}

static void bad_json_files(const char *dir)
{
    static const char *cases[] = {
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 99999999}, \"merges\": []}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a c\"]}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a  a\"]}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1, \"content\": \"\"}]}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": {\"id\": 1}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": [\"a\"], \"merges\": []}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"<unk>\"}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"Replace\", "
        "\"pattern\": {\"Regex\": \" +\"}, \"content\": \"x\"}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"post_processor\": {\"type\": "
        "\"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<x>\"}}], \"special_tokens\": {}}}",
        "[1, 2, 3]",
        "",
    };
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_all(path, cases[i], strlen(cases[i]));
        wm_tokenizer *t = NULL;
        wm_error err = {0};
        wm_status st = wm_tokenizer_load(dir, &t, &err);
        CHECK_MSG(st != WM_OK && !t && strstr(err.msg, "tokenizer.json"), "bad tokenizer.json case %zu loaded (%d)", i, st);
    }
    unlink(path);
}

/* Piece text of ids, with U+2581 -> ' ' and <0xXX> -> byte (Gemma's decoder, minus nothing). */
static size_t decode(const wm_tokenizer *t, const int32_t *ids, int n, char *out)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        int len;
        const char *p = wm_tokenizer_piece(t, ids[i], &len);
        if (len == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>') {
            out[o++] = (char)strtol(p + 3, NULL, 16);
            continue;
        }
        for (int k = 0; k < len;) {
            if (k + 3 <= len && !memcmp(p + k, "\xe2\x96\x81", 3)) { out[o++] = ' '; k += 3; }
            else out[o++] = p[k++];
        }
    }
    return o;
}

static size_t put_cp(char *s, uint32_t c)
{
    if (c < 0x80) { s[0] = (char)c; return 1; }
    if (c < 0x800) { s[0] = (char)(0xC0 | c >> 6); s[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) { s[0] = (char)(0xE0 | c >> 12); s[1] = (char)(0x80 | (c >> 6 & 63)); s[2] = (char)(0x80 | (c & 63)); return 3; }
    s[0] = (char)(0xF0 | c >> 18); s[1] = (char)(0x80 | (c >> 12 & 63)); s[2] = (char)(0x80 | (c >> 6 & 63));
    s[3] = (char)(0x80 | (c & 63));
    return 4;
}

static size_t random_text(t_rng *r, char *s)
{
    static const uint32_t lo[] = {0x20, 0x61, 0xA0, 0x400, 0x3040, 0x4E00, 0xAC00, 0x1F300, 0x2500, 0x9, 0x10000};
    static const uint32_t hi[] = {0x7E, 0x7A, 0x24F, 0x4FF, 0x30FF, 0x9FFF, 0xD7A3, 0x1FAFF, 0x2580, 0xD, 0x10FFFF};
    static const char *frag[] = {" ", "  ", "\n", "\n\n", "\t", "<bos>", "<start_of_turn>", "<end_of_turn>", "<unk>",
                                 "12345", "the ", "walking "};
    size_t n = 0;
    int parts = 1 + (int)(t_rng_u64(r) % 40);
    for (int i = 0; i < parts; i++) {
        if (t_rng_u64(r) % 4 == 0) {
            const char *f = frag[t_rng_u64(r) % (sizeof frag / sizeof frag[0])];
            memcpy(s + n, f, strlen(f));
            n += strlen(f);
            continue;
        }
        int k = (int)(t_rng_u64(r) % 11);
        uint32_t c = lo[k] + (uint32_t)(t_rng_u64(r) % (hi[k] - lo[k] + 1));
        if (c >= 0xD800 && c <= 0xDFFF) c = 0x41;
        n += put_cp(s + n, c);
    }
    return n;
}

static void round_trip(void)
{
    wm_tokenizer *tj = NULL, *tm = NULL;
    wm_error err = {0};
    CHECK(wm_tokenizer_load(GOLDEN "tokenizer.json", &tj, &err) == WM_OK);
    CHECK(wm_tokenizer_load(GOLDEN "tokenizer.model", &tm, &err) == WM_OK);
    if (!tj || !tm) return;
    t_rng r = {2024};
    char text[1024], back[4096];
    int bad_rt = 0, bad_same = 0;
    for (int it = 0; it < 3000; it++) {
        size_t n = random_text(&r, text);
        int32_t *a = NULL, *b = NULL;
        int na = 0, nb = 0;
        CHECK(wm_tokenizer_encode(tj, text, n, 0, &a, &na, &err) == WM_OK);
        CHECK(wm_tokenizer_encode(tm, text, n, 0, &b, &nb, &err) == WM_OK);
        size_t m = a ? decode(tj, a, na, back) : 0;
        if (m != n || memcmp(back, text, n)) bad_rt++;
        if (na != nb || (a && b && memcmp(a, b, sizeof(int32_t) * (size_t)na))) bad_same++;
        free(a);
        free(b);
    }
    printf("round trip: 3000 random strings, %d not reproduced, %d json/model disagreements\n", bad_rt, bad_same);
    CHECK(bad_rt == 0 && bad_same == 0);
    wm_tokenizer_free(tj);
    wm_tokenizer_free(tm);
}

int main(void)
{
    char dir[] = "/tmp/wm_tokr_XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL);
    t_rng r = {99};
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    mutate_file(GOLDEN "tokenizer.model", path, 400, &r);
    unlink(path);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    mutate_file(GOLDEN "tokenizer.json", path, 200, &r);
    unlink(path);
    bad_json_files(dir);
    rmdir(dir);
    round_trip();
    TEST_MAIN_END();
}
