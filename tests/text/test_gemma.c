/* Gemma-2 encoder on the CPU against the PyTorch reference (tools/reference/gemma2.py, float64) at a
 * small config (hidden 64, 3 layers, 4/2 heads of 16, sliding window 8 so both layer kinds differ,
 * soft-cap 5 so the cap matters, query_pre_attn_scalar 24 != head_dim): every layer's input, the
 * residual stream after the last layer and last_hidden_state, with padding in the sequence.
 * Tolerance per tensor: |c - ref| <= 1e-4 max|ref| + 1e-4 |ref|. Both weight modes (resident,
 * streamed), both key layouts ("model." prefixed bf16 as shipped; unprefixed fp32 re-saved here), and
 * the load/forward errors (missing config, missing tensor, bad token id, too many tokens).
 */
#include "gemma_golden.h"
#include "testing.h"
#include "wm/io/checkpoint.h"
#include "wm/text/gemma.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static wm_backend *be;

static float max_abs(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) if (fabsf(x[i]) > m) m = fabsf(x[i]);
    return m;
}

static int close_to(const char *label, const float *got, const float *ref, size_t n)
{
    return t_allclose(label, got, ref, n, 1e-4f * max_abs(ref, n), 1e-4f);
}


static void run_and_compare(const char *label, const char *dir, int weights, const golden *g)
{
    wm_gemma *m = NULL;
    wm_error err = {0};
    wm_gemma_params p = {.weights = weights, .max_tokens = 32};
    wm_status st = wm_gemma_load(be, dir, &p, &m, &err);
    CHECK_MSG(st == WM_OK, "%s: load: %s", label, err.msg);
    if (st != WM_OK) return;
    size_t TC = (size_t)g->T * g->C;
    float *out = malloc(TC * sizeof(float)), *layers = malloc(TC * (size_t)g->L * sizeof(float));
    st = wm_gemma_forward(m, g->ids, g->mask, g->T, out, layers, &err);
    CHECK_MSG(st == WM_OK, "%s: forward: %s", label, err.msg);
    char name[128];
    for (int l = 0; l < g->L && st == WM_OK; l++) {
        snprintf(name, sizeof name, "%s layer_in[%d]", label, l);
        CHECK(close_to(name, layers + (size_t)l * TC, g->layers + (size_t)l * TC, TC));
    }
    snprintf(name, sizeof name, "%s last_hidden_state", label);
    if (st == WM_OK) CHECK(close_to(name, out, g->out, TC));
    /* a second forward reuses the buffers and gives the same result */
    float *again = malloc(TC * sizeof(float));
    CHECK(wm_gemma_forward(m, g->ids, g->mask, g->T, again, NULL, &err) == WM_OK && !memcmp(again, out, TC * 4));
    int32_t bad_ids[2] = {1, 999999};
    uint8_t mask2[2] = {1, 1};
    CHECK(wm_gemma_forward(m, bad_ids, mask2, 2, out, NULL, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "999999"));
    CHECK(wm_gemma_forward(m, g->ids, g->mask, 33, out, NULL, &err) == WM_ERR_LIMIT);
    free(again); free(out); free(layers);
    wm_gemma_free(m);
}

/* Re-save the golden weights without "model." in fp32, optionally dropping one tensor. */
static void write_variant(const char *dir, const char *drop)
{
    wm_checkpoint *ck = NULL;
    wm_error err = {0};
    CHECK(wm_checkpoint_open(GOLDEN "gemma_small/model.safetensors", &ck, &err) == WM_OK);
    int n = wm_checkpoint_count(ck), k = 0;
    wm_st_item *items = calloc((size_t)n, sizeof *items);
    wm_tensor *ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) {
        const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
        const char *name = strncmp(e->name, "model.", 6) ? e->name : e->name + 6;
        if (drop && !strcmp(name, drop)) continue;
        CHECK(wm_checkpoint_load_f32(ck, e->name, &ts[k], &err) == WM_OK);
        items[k] = wm_st_item_from_tensor(name, &ts[k]);
        k++;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(wm_safetensors_write(path, items, k, NULL, &err) == WM_OK);
    for (int i = 0; i < k; i++) wm_tensor_free(&ts[i]);
    free(items); free(ts);
    wm_checkpoint_close(ck);
    snprintf(path, sizeof path, "cp " GOLDEN "gemma_small/config.json %s/", dir);
    CHECK(system(path) == 0);
}

/* Random-weight encoder (benchmarks): deterministic per seed, finite, seed-dependent, config checked. */
static void test_random(void)
{
    wm_gemma_config c = wm_gemma_config_2b();
    c.vocab_size = 1000; c.hidden = 96; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.head_dim = 32; c.ffn = 200;
    wm_gemma_params p = {.max_tokens = 40};
    wm_gemma *a = NULL, *b = NULL;
    wm_error err = {0};
    CHECK(wm_gemma_init_random(be, &c, &p, 1, &a, &err) == WM_OK);
    CHECK(wm_gemma_init_random(be, &c, &p, 2, &b, &err) == WM_OK);
    int32_t ids[40];
    uint8_t mask[40];
    for (int i = 0; i < 40; i++) { ids[i] = (i * 37) % 1000; mask[i] = i < 30; }
    float *y1 = malloc(40 * 96 * 4), *y2 = malloc(40 * 96 * 4), *y3 = malloc(40 * 96 * 4);
    CHECK(a && b && wm_gemma_forward(a, ids, mask, 40, y1, NULL, &err) == WM_OK);
    CHECK(a && wm_gemma_forward(a, ids, mask, 40, y2, NULL, &err) == WM_OK && !memcmp(y1, y2, 40 * 96 * 4));
    CHECK(b && wm_gemma_forward(b, ids, mask, 40, y3, NULL, &err) == WM_OK && memcmp(y1, y3, 40 * 96 * 4));
    int finite = 1;
    for (int i = 0; i < 40 * 96; i++) finite &= isfinite(y1[i]) && fabsf(y1[i]) < 100;
    CHECK(finite);
    wm_gemma_free(a);
    wm_gemma_free(b);
    c.n_kv_heads = 3;
    CHECK(wm_gemma_init_random(be, &c, &p, 1, &a, &err) == WM_ERR_INVALID_ARG && !a);
    free(y1); free(y2); free(y3);
}

int main(void)
{
    wm_error err = {0};
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
    golden g = {0};
    if (load_golden(&g) != 0) { fprintf(stderr, "run from the repository root\n"); return 1; }
    CHECK(g.L == 4 && g.C == 64 && g.T == 24);
    run_and_compare("bf16 prefixed resident", GOLDEN "gemma_small", 1, &g);
    run_and_compare("bf16 prefixed streamed", GOLDEN "gemma_small", 2, &g);
    char dir[] = "/tmp/wm_gemma_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_variant(dir, NULL);
    run_and_compare("fp32 unprefixed", dir, 0, &g);
    /* a checkpoint missing one tensor fails at load, naming it (both modes) */
    write_variant(dir, "layers.2.mlp.up_proj.weight");
    for (int mode = 1; mode <= 2; mode++) {
        wm_gemma *m = NULL;
        wm_gemma_params p = {.weights = mode};
        CHECK(wm_gemma_load(be, dir, &p, &m, &err) == WM_ERR_NOT_FOUND && strstr(err.msg, "layers.2.mlp.up_proj") && !m);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    wm_gemma *m = NULL;
    CHECK(wm_gemma_load(be, "/nonexistent_dir", NULL, &m, &err) == WM_ERR_NOT_FOUND && strstr(err.msg, "config.json"));
    test_random();
    free(g.layers);
    free(g.out);
    wm_backend_free(be);
    TEST_MAIN_END();
}
