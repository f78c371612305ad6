/* SANA-WM prompt procedure and prompt cache against the reference (tools/reference/gemma2.py
 * encode_prompt) on the small model: CHI text byte-identical, len(tokens(CHI)), y (300, C) and mask for
 * prompts with CHI (short, multi-space + newline, empty, over-long), the negative prompt without CHI;
 * the over-long prompt is an error by default and matches the reference's truncation when allowed.
 * Cache: one encode per (prompt, chi), hits after the encoder is freed, misses then fail cleanly, LRU
 * eviction with a capacity. Tolerance as the encoder test: 1e-4 max|ref| + 1e-4 |ref|.
 */
#include "testing.h"
#include "wm/io/checkpoint.h"
#include "wm/text/text_encoder.h"

#include <stdlib.h>
#include <string.h>

#define GOLDEN "tests/golden/text/"

static wm_backend *be;
static wm_checkpoint *gold;

static float max_abs(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) if (fabsf(x[i]) > m) m = fabsf(x[i]);
    return m;
}

/* golden bytes as a NUL-terminated string ([0] encodes the empty string) */
static char *golden_text(const char *name)
{
    const wm_ckpt_entry *e = wm_checkpoint_find(gold, name);
    char *s = calloc(e->nbytes + 1, 1);
    memcpy(s, e->data, e->nbytes);
    return s;
}

static void compare(const char *label, const wm_text_embedding *emb, const char *yname, const char *mname)
{
    wm_tensor y;
    wm_error err = {0};
    CHECK(wm_checkpoint_load_f32(gold, yname, &y, &err) == WM_OK);
    const wm_ckpt_entry *m = wm_checkpoint_find(gold, mname);
    size_t n = (size_t)emb->n_tokens * emb->channels;
    CHECK(emb->n_tokens == 300 && wm_tensor_numel(&y) == (int64_t)n && m && m->nbytes == 300);
    if (wm_tensor_numel(&y) == (int64_t)n) CHECK(t_allclose(label, emb->y, y.data, n, 1e-4f * max_abs(y.data, n), 1e-4f));
    CHECK_MSG(m && !memcmp(emb->mask, m->data, 300), "%s: mask differs", label);
    wm_tensor_free(&y);
}

static void check_ids(const wm_text_encoder *enc, const char *text, const char *idname)
{
    const wm_ckpt_entry *ref = wm_checkpoint_find(gold, idname);
    int32_t *ids = NULL;
    int n = 0;
    wm_error err = {0};
    CHECK(wm_tokenizer_encode(wm_text_encoder_tokenizer(enc), text, strlen(text), 1, &ids, &n, &err) == WM_OK);
    int L = (int)ref->shape[0], ok = 1;
    for (int i = 0; i < L; i++) {
        int64_t v; /* safetensors data need not be 8-byte aligned */
        memcpy(&v, (const char *)ref->data + 8 * i, 8);
        ok &= v == (i < n ? ids[i] : 0);
    }
    CHECK_MSG(ok, "%s: padded ids differ from the reference", idname);
    free(ids);
}

static void test_procedure(void)
{
    wm_text_params p = {.tokenizer = GOLDEN};
    wm_text_encoder *enc = NULL, *trunc = NULL;
    wm_error err = {0};
    CHECK_MSG(wm_text_encoder_load(be, GOLDEN "gemma_small", &p, &enc, &err) == WM_OK, "load: %s", err.msg);
    if (!enc) return;
    char *chi = golden_text("chi_text");
    CHECK_MSG(!strcmp(chi, wm_text_chi_default()), "C CHI differs from the reference CHI");
    CHECK(wm_text_encoder_chi_tokens(enc) == atoi(wm_checkpoint_metadata(gold, "n_chi_tokens")));
    char name[64], yn[64], mn[64], in[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "cond%d_text", i);
        char *prompt = golden_text(name);
        wm_text_embedding emb;
        wm_status st = wm_text_encode(enc, prompt, 1, &emb, &err);
        CHECK_MSG(st == WM_OK, "prompt %d: %s", i, err.msg);
        snprintf(yn, sizeof yn, "cond%d_y", i);
        snprintf(mn, sizeof mn, "cond%d_mask", i);
        snprintf(in, sizeof in, "cond%d_ids", i);
        if (st == WM_OK) compare(yn, &emb, yn, mn);
        CHECK(!emb.truncated || st != WM_OK);
        size_t cl = strlen(chi);
        char *full = malloc(cl + strlen(prompt) + 1);
        memcpy(full, chi, cl);
        strcpy(full + cl, prompt);
        check_ids(enc, full, in);
        free(full);
        free(prompt);
        wm_text_embedding_free(&emb);
    }
    wm_text_embedding neg;
    CHECK(wm_text_encode(enc, "", 0, &neg, &err) == WM_OK);
    compare("uncond", &neg, "uncond_y", "uncond_mask");
    CHECK(neg.mask[0] == 1 && neg.mask[1] == 0 && neg.n_input_tokens == 1);
    wm_text_embedding_free(&neg);
    /* over-long prompt: an error naming the limit by default, the reference's truncation when allowed */
    char *longp = golden_text("cond3_text");
    wm_text_embedding emb;
    CHECK(wm_text_encode(enc, longp, 1, &emb, &err) == WM_ERR_LIMIT && strstr(err.msg, "too long") && !emb.y);
    CHECK(wm_text_encode(enc, "bad \xc3\x28 utf8", 1, &emb, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "UTF-8"));
    p.allow_truncate = 1;
    p.weights = 1;
    CHECK(wm_text_encoder_load(be, GOLDEN "gemma_small", &p, &trunc, &err) == WM_OK);
    if (trunc && wm_text_encode(trunc, longp, 1, &emb, &err) == WM_OK) {
        CHECK(emb.truncated == 1);
        compare("cond3 (truncated)", &emb, "cond3_y", "cond3_mask");
        wm_text_embedding_free(&emb);
    } else {
        CHECK_MSG(0, "truncating encoder: %s", err.msg);
    }
    free(longp);
    free(chi);
    wm_text_encoder_free(trunc);
    wm_text_encoder_free(enc);
}

static void test_cache(void)
{
    wm_text_params p = {.tokenizer = GOLDEN};
    wm_text_encoder *enc = NULL;
    wm_error err = {0};
    wm_prompt_cache *c = NULL;
    CHECK(wm_text_encoder_load(be, GOLDEN "gemma_small", &p, &enc, &err) == WM_OK);
    CHECK(wm_prompt_cache_create(0, &c) == WM_OK);
    const wm_text_embedding *a = NULL, *b = NULL, *n = NULL, *again = NULL;
    CHECK(wm_prompt_cache_get(c, enc, "A cat walking in a forest.", 1, &a, &err) == WM_OK);
    CHECK(wm_prompt_cache_get(c, enc, "A cat walking in a forest.", 1, &b, &err) == WM_OK && a == b);
    CHECK(wm_prompt_cache_get(c, enc, "", 0, &n, &err) == WM_OK && n != a);
    CHECK(wm_prompt_cache_encodes(c) == 2 && wm_prompt_cache_count(c) == 2);
    compare("cache cond0", a, "cond0_y", "cond0_mask");
    /* the same text with and without CHI are different entries */
    CHECK(wm_prompt_cache_get(c, enc, "", 1, &b, &err) == WM_OK && b != n && wm_prompt_cache_encodes(c) == 3);
    wm_text_encoder_free(enc); /* the world frees the encoder after setup */
    CHECK(wm_prompt_cache_get(c, NULL, "A cat walking in a forest.", 1, &again, &err) == WM_OK && again == a);
    CHECK(wm_prompt_cache_get(c, NULL, "something new", 1, &again, &err) == WM_ERR_STATE && strstr(err.msg, "freed"));
    CHECK(wm_prompt_cache_encodes(c) == 3);
    wm_prompt_cache_free(c);
    /* capacity 1: a second prompt evicts the first, which is then encoded again */
    CHECK(wm_text_encoder_load(be, GOLDEN "gemma_small", &p, &enc, &err) == WM_OK);
    CHECK(wm_prompt_cache_create(1, &c) == WM_OK);
    CHECK(wm_prompt_cache_get(c, enc, "one", 1, &a, &err) == WM_OK);
    CHECK(wm_prompt_cache_get(c, enc, "two", 1, &b, &err) == WM_OK && wm_prompt_cache_count(c) == 1);
    CHECK(wm_prompt_cache_get(c, enc, "one", 1, &a, &err) == WM_OK && wm_prompt_cache_encodes(c) == 3);
    wm_prompt_cache_free(c);
    wm_text_encoder_free(enc);
}

/* CHI from an official config.yaml equals the compiled-in one; no chi_prompt = no CHI, as the reference. */
static void test_chi_yaml(void)
{
    char *chi = NULL;
    wm_error err = {0};
    CHECK(wm_text_chi_from_yaml(GOLDEN "sana_wm_text_config.yaml", &chi, &err) == WM_OK);
    CHECK_MSG(chi && !strcmp(chi, wm_text_chi_default()), "CHI from the YAML differs from wm/text/chi.c");
    free(chi);
    char dir[] = "/tmp/wm_chi_XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs("model:\n  depth: 20\ntext_encoder:\n  model_max_length: 300\n", f);
    fclose(f);
    CHECK(wm_text_chi_from_yaml(path, &chi, &err) == WM_ERR_NOT_FOUND && !chi);
    f = fopen(path, "w");
    fputs("text_encoder:\n  chi_prompt: [a, b\n", f);
    fclose(f);
    CHECK(wm_text_chi_from_yaml(path, &chi, &err) == WM_ERR_FORMAT && strstr(err.msg, "c.yaml"));
    remove(path);
    remove(dir);
    /* an empty CHI encodes positive prompts exactly like negative ones */
    wm_text_params p = {.tokenizer = GOLDEN, .chi = ""};
    wm_text_encoder *enc = NULL;
    CHECK(wm_text_encoder_load(be, GOLDEN "gemma_small", &p, &enc, &err) == WM_OK);
    wm_text_embedding a, b;
    if (enc && wm_text_encode(enc, "A cat walking in a forest.", 1, &a, &err) == WM_OK &&
        wm_text_encode(enc, "A cat walking in a forest.", 0, &b, &err) == WM_OK) {
        CHECK(!memcmp(a.y, b.y, sizeof(float) * 300 * 64) && !memcmp(a.mask, b.mask, 300) && a.mask[5] == 1);
        wm_text_embedding_free(&a);
        wm_text_embedding_free(&b);
    } else {
        CHECK_MSG(0, "empty CHI: %s", err.msg);
    }
    wm_text_encoder_free(enc);
}

int main(void)
{
    wm_error err = {0};
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
    if (wm_checkpoint_open(GOLDEN "prompt_golden.safetensors", &gold, &err) != WM_OK) {
        fprintf(stderr, "%s (run from the repository root)\n", err.msg);
        return 1;
    }
    test_procedure();
    test_cache();
    test_chi_yaml();
    wm_checkpoint_close(gold);
    wm_backend_free(be);
    TEST_MAIN_END();
}
