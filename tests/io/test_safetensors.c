/* safetensors writer -> reader round trips: every dtype bit-exact, fp32 conversion of the float
 * dtypes, metadata, empty and scalar tensors, and a sharded index whose shards are read back through
 * *.safetensors.index.json (plus its consistency checks: a key in the wrong shard, an unlisted tensor,
 * a shard path escaping the directory). Files go to a fresh temporary directory. */
#include "testing.h"
#include "wm/io/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ & 3];
    snprintf(b, 512, "%s/%s", g_dir, name);
    return b;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_all_dtypes(void)
{
    wm_st_item items[WM_DTYPE_COUNT + 2];
    uint8_t *bufs[WM_DTYPE_COUNT];
    t_rng r = {42};
    for (int d = 0; d < WM_DTYPE_COUNT; d++) {
        wm_st_item *it = &items[d];
        memset(it, 0, sizeof *it);
        static char names[WM_DTYPE_COUNT][32];
        snprintf(names[d], 32, "t.%s", wm_dtype_name((wm_dtype)d));
        it->name = names[d];
        it->dtype = (wm_dtype)d;
        it->ndim = 3;
        it->shape[0] = 2; it->shape[1] = 3; it->shape[2] = d + 1;
        size_t nb = 6 * (size_t)(d + 1) * wm_dtype_size((wm_dtype)d);
        bufs[d] = malloc(nb);
        for (size_t i = 0; i < nb; i++) bufs[d][i] = (uint8_t)t_rng_u64(&r);
        if (d == WM_BOOL) for (size_t i = 0; i < nb; i++) bufs[d][i] &= 1;
        it->data = bufs[d];
    }
    float one = 1.5f;
    items[WM_DTYPE_COUNT] = (wm_st_item){.name = "scalar", .dtype = WM_F32, .ndim = 0, .data = &one};
    items[WM_DTYPE_COUNT + 1] = (wm_st_item){.name = "empty", .dtype = WM_F32, .ndim = 2, .shape = {0, 7}, .data = NULL};
    const char *meta[] = {"format", "pt", "note", "round trip", NULL};
    wm_error err = {0};
    const char *p = tmp_path("all.safetensors");
    CHECK_MSG(wm_safetensors_write(p, items, WM_DTYPE_COUNT + 2, meta, &err) == WM_OK, "write: %s", err.msg);
    wm_checkpoint *ck = NULL;
    CHECK_MSG(wm_checkpoint_open(p, &ck, &err) == WM_OK, "open: %s", err.msg);
    if (!ck) return;
    CHECK(wm_checkpoint_count(ck) == WM_DTYPE_COUNT + 2);
    for (int d = 0; d < WM_DTYPE_COUNT; d++) {
        const wm_ckpt_entry *e = wm_checkpoint_find(ck, items[d].name);
        CHECK_MSG(e && e->dtype == (wm_dtype)d && e->ndim == 3 && e->shape[2] == d + 1, "entry %s", items[d].name);
        if (e) CHECK_MSG(e->nbytes == 6 * (size_t)(d + 1) * wm_dtype_size((wm_dtype)d) &&
                         memcmp(e->data, bufs[d], e->nbytes) == 0, "bytes of %s", items[d].name);
    }
    const wm_ckpt_entry *s = wm_checkpoint_find(ck, "scalar");
    CHECK(s && s->ndim == 0 && s->nbytes == 4);
    const wm_ckpt_entry *em = wm_checkpoint_find(ck, "empty");
    CHECK(em && em->ndim == 2 && em->shape[0] == 0 && em->nbytes == 0);
    CHECK(wm_checkpoint_metadata(ck, "note") && !strcmp(wm_checkpoint_metadata(ck, "note"), "round trip"));
    CHECK(wm_checkpoint_metadata(ck, "absent") == NULL);
    for (int i = 1; i < wm_checkpoint_count(ck); i++)
        CHECK(strcmp(wm_checkpoint_entry(ck, i - 1)->name, wm_checkpoint_entry(ck, i)->name) < 0);
    wm_checkpoint_close(ck);
    for (int d = 0; d < WM_DTYPE_COUNT; d++) free(bufs[d]);
}

/* Float dtypes convert to fp32 exactly as the scalar conversions in wm/core/dtype.h do. */
static void test_read_f32(void)
{
    enum { N = 37 };
    float ref[N];
    uint16_t bf[N], hf[N];
    t_rng r = {7};
    t_fill_normal(&r, ref, N, 3.0f);
    for (int i = 0; i < N; i++) { bf[i] = wm_f32_to_bf16(ref[i]); hf[i] = wm_f32_to_f16(ref[i]); }
    wm_st_item items[3] = {
        {.name = "a.f32", .dtype = WM_F32, .ndim = 1, .shape = {N}, .data = ref},
        {.name = "a.bf16", .dtype = WM_BF16, .ndim = 1, .shape = {N}, .data = bf},
        {.name = "a.f16", .dtype = WM_F16, .ndim = 1, .shape = {N}, .data = hf},
    };
    wm_error err = {0};
    const char *p = tmp_path("conv.safetensors");
    CHECK(wm_safetensors_write(p, items, 3, NULL, &err) == WM_OK);
    wm_checkpoint *ck = NULL;
    CHECK_MSG(wm_checkpoint_open(p, &ck, &err) == WM_OK, "%s", err.msg);
    if (!ck) return;
    float got[N], want[N];
    int64_t shape[1] = {N};
    CHECK(wm_checkpoint_read_f32(ck, "a.f32", 1, shape, got, &err) == WM_OK && !memcmp(got, ref, sizeof ref));
    for (int i = 0; i < N; i++) want[i] = wm_bf16_to_f32(bf[i]);
    CHECK(wm_checkpoint_read_f32(ck, "a.bf16", 1, shape, got, &err) == WM_OK && !memcmp(got, want, sizeof want));
    for (int i = 0; i < N; i++) want[i] = wm_f16_to_f32(hf[i]);
    CHECK(wm_checkpoint_read_f32(ck, "a.f16", 0, NULL, got, &err) == WM_OK && !memcmp(got, want, sizeof want));
    int64_t bad[2] = {N, 1};
    CHECK(wm_checkpoint_read_f32(ck, "a.f32", 2, bad, got, &err) == WM_ERR_SHAPE && strstr(err.msg, "a.f32"));
    CHECK(wm_checkpoint_read_f32(ck, "nope", 0, NULL, got, &err) == WM_ERR_NOT_FOUND && strstr(err.msg, "nope"));
    /* Load-time cast to the compute dtype: same dtype is a copy, others round via fp32. */
    uint16_t h16[N];
    CHECK(wm_checkpoint_read_as(ck, "a.bf16", WM_BF16, 1, shape, h16, &err) == WM_OK && !memcmp(h16, bf, sizeof bf));
    CHECK(wm_checkpoint_read_as(ck, "a.f32", WM_BF16, 1, shape, h16, &err) == WM_OK && !memcmp(h16, bf, sizeof bf));
    CHECK(wm_checkpoint_read_as(ck, "a.f32", WM_F16, 0, NULL, h16, &err) == WM_OK && !memcmp(h16, hf, sizeof hf));
    CHECK(wm_checkpoint_read_as(ck, "a.f16", WM_F32, 0, NULL, got, &err) == WM_OK && got[5] == wm_f16_to_f32(hf[5]));
    CHECK(wm_checkpoint_read_as(ck, "a.f32", WM_I64, 0, NULL, got, &err) == WM_ERR_DTYPE && strstr(err.msg, "a.f32"));
    wm_tensor t;
    CHECK(wm_checkpoint_load_f32(ck, "a.bf16", &t, &err) == WM_OK && t.ndim == 1 && t.shape[0] == N);
    if (t.data) { CHECK(((float *)t.data)[3] == wm_bf16_to_f32(bf[3])); wm_tensor_free(&t); }
    wm_checkpoint_close(ck);
}

static void test_writer_rejects(void)
{
    float x = 0;
    wm_st_item dup[2] = {{.name = "x", .dtype = WM_F32, .ndim = 1, .shape = {1}, .data = &x},
                         {.name = "x", .dtype = WM_F32, .ndim = 1, .shape = {1}, .data = &x}};
    wm_error err = {0};
    const char *p = tmp_path("dup.safetensors");
    CHECK(wm_safetensors_write(p, dup, 2, NULL, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "duplicate"));
    CHECK(access(p, F_OK) != 0); /* nothing left under the final name */
}

static void write_shard(const char *name, const char *const *keys, int n)
{
    static float v[4] = {1, 2, 3, 4};
    wm_st_item items[8];
    for (int i = 0; i < n; i++) items[i] = (wm_st_item){.name = keys[i], .dtype = WM_F32, .ndim = 2, .shape = {2, 2}, .data = v};
    wm_error err = {0};
    CHECK_MSG(wm_safetensors_write(tmp_path(name), items, n, NULL, &err) == WM_OK, "%s", err.msg);
}

static wm_status open_index(const char *json, wm_error *err, int *count)
{
    const char *ip = tmp_path("model.safetensors.index.json");
    write_text(ip, json);
    wm_checkpoint *ck = NULL;
    wm_status st = wm_checkpoint_open(ip, &ck, err);
    *count = ck ? wm_checkpoint_count(ck) : -1;
    wm_checkpoint_close(ck);
    return st;
}

static void test_sharded(void)
{
    const char *k1[] = {"a.weight", "b.weight"}, *k2[] = {"c.weight"}, *k3[] = {"c.weight", "d"};
    write_shard("model-00001-of-00002.safetensors", k1, 2);
    write_shard("model-00002-of-00002.safetensors", k2, 1);
    write_shard("other.safetensors", k3, 2);
    wm_error err = {0};
    int n = 0;
    CHECK_MSG(open_index("{\"metadata\": {\"total_size\": 48}, \"weight_map\": {"
                         "\"a.weight\": \"model-00001-of-00002.safetensors\","
                         "\"b.weight\": \"model-00001-of-00002.safetensors\","
                         "\"c.weight\": \"model-00002-of-00002.safetensors\"}}", &err, &n) == WM_OK && n == 3,
              "sharded open: %s", err.msg);
    /* The directory holds an index: opening the directory picks it. */
    wm_checkpoint *ck = NULL;
    CHECK_MSG(wm_checkpoint_open(g_dir, &ck, &err) == WM_OK && wm_checkpoint_count(ck) == 3, "dir open: %s", err.msg);
    if (ck) {
        const wm_ckpt_entry *c = wm_checkpoint_find(ck, "c.weight");
        CHECK(c && ((const float *)c->data)[3] == 4.0f && c->shard == 1);
        wm_checkpoint_close(ck);
    }
    CHECK(open_index("{\"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\","
                     "\"b.weight\": \"model-00002-of-00002.safetensors\", \"c.weight\": \"model-00002-of-00002.safetensors\"}}",
                     &err, &n) == WM_ERR_FORMAT && strstr(err.msg, "'b.weight'"));
    CHECK(open_index("{\"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\"}}", &err, &n) == WM_ERR_FORMAT &&
          strstr(err.msg, "'b.weight'") && strstr(err.msg, "not listed"));
    CHECK(open_index("{\"weight_map\": {\"a.weight\": \"../x.safetensors\"}}", &err, &n) == WM_ERR_FORMAT &&
          strstr(err.msg, "../x.safetensors"));
    CHECK(open_index("{\"weight_map\": {\"a.weight\": \"/etc/passwd\"}}", &err, &n) == WM_ERR_FORMAT);
    CHECK(open_index("{\"weight_map\": {\"c.weight\": \"model-00002-of-00002.safetensors\", \"d\": \"other.safetensors\"}}",
                     &err, &n) == WM_ERR_FORMAT && strstr(err.msg, "'c.weight'") && strstr(err.msg, "twice"));
    printf("sharded: last error: %s\n", err.msg);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/wm_test_st_XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_all_dtypes();
    test_read_f32();
    test_writer_rejects();
    test_sharded();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    TEST_MAIN_END();
}
