/* PyTorch .pt checkpoints through the zip reader and the restricted unpickler.
 *
 * Usage: test_pt [DIR]  (default tests/io/data, the committed fixtures; CTest also runs it on fixtures
 * freshly written by make_pt_fixtures.py when torch is installed). Checks the "generator" state dict
 * with "model." stripped, values of f32/bf16/f16/i64/f64 tensors, a view with a storage offset, a
 * parameter, protocol 4 (FRAME/MEMOIZE/SHORT_BINUNICODE), an OrderedDict root, and the rejections:
 * os.system global (named), non-contiguous tensor, compressed entry, truncated archive. */
#include "testing.h"
#include "wm/io/checkpoint.h"

#include <stdio.h>
#include <string.h>

static const char *g_dir = "tests/io/data";

static wm_checkpoint *open_fx(const char *name, wm_error *err)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    wm_checkpoint *ck = NULL;
    if (wm_checkpoint_open(p, &ck, err) != WM_OK) return NULL;
    return ck;
}

static void check_small(const char *name)
{
    wm_error err = {0};
    wm_checkpoint *ck = open_fx(name, &err);
    CHECK_MSG(ck != NULL, "%s: %s", name, err.msg);
    if (!ck) return;
    CHECK_MSG(wm_checkpoint_count(ck) == 7, "%s: %d tensors", name, wm_checkpoint_count(ck));
    float v[24];
    int64_t s23[2] = {2, 3};
    CHECK(wm_checkpoint_read_f32(ck, "a.weight", 2, s23, v, &err) == WM_OK && v[0] == 0 && v[5] == 5);
    CHECK(wm_checkpoint_read_f32(ck, "b", 0, NULL, v, &err) == WM_OK && v[0] == 0 && v[1] == 0.5f && v[2] == 1.0f);
    const wm_ckpt_entry *b = wm_checkpoint_find(ck, "b");
    CHECK(b && b->dtype == WM_BF16 && b->ndim == 1 && b->shape[0] == 3);
    const wm_ckpt_entry *c = wm_checkpoint_find(ck, "c");
    CHECK(c && c->dtype == WM_F16);
    CHECK(wm_checkpoint_read_f32(ck, "c", 0, NULL, v, &err) == WM_OK && v[3] == 3.0f);
    const wm_ckpt_entry *r = wm_checkpoint_find(ck, "row2");
    CHECK(r && r->ndim == 1 && r->shape[0] == 6 && r->nbytes == 24);
    CHECK(wm_checkpoint_read_f32(ck, "row2", 0, NULL, v, &err) == WM_OK && v[0] == 12 && v[5] == 17);
    const wm_ckpt_entry *idx = wm_checkpoint_find(ck, "idx");
    CHECK(idx && idx->dtype == WM_I64 && ((const int64_t *)idx->data)[2] == 2);
    const wm_ckpt_entry *sc = wm_checkpoint_find(ck, "scalar");
    CHECK(sc && sc->ndim == 0 && sc->dtype == WM_F64);
    CHECK(wm_checkpoint_read_f32(ck, "scalar", 0, NULL, v, &err) == WM_OK && v[0] == 7.25f);
    const wm_ckpt_entry *np = wm_checkpoint_find(ck, "not_prefixed");
    CHECK(np && np->ndim == 5 && np->shape[1] == 2);
    CHECK(wm_checkpoint_find(ck, "model.b") == NULL);
    wm_checkpoint_close(ck);
}

static void check_rejected(const char *name, wm_status code, const char *needle)
{
    wm_error err = {0};
    wm_checkpoint *ck = open_fx(name, &err);
    CHECK_MSG(ck == NULL && err.code == code && strstr(err.msg, needle) && strstr(err.msg, name),
              "%s: code %d, message '%s' (want code %d containing '%s')", name, err.code, err.msg, code, needle);
    printf("%-16s -> %s\n", name, err.msg);
    wm_checkpoint_close(ck);
}

int main(int argc, char **argv)
{
    if (argc > 1) g_dir = argv[1];
    check_small("small.pt");
    check_small("small_p4.pt");
    wm_error err = {0};
    wm_checkpoint *ck = open_fx("linear.pt", &err);
    CHECK_MSG(ck && wm_checkpoint_count(ck) == 2, "linear.pt: %s", err.msg);
    if (ck) {
        const wm_ckpt_entry *w = wm_checkpoint_find(ck, "weight");
        CHECK(w && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3 && wm_checkpoint_find(ck, "bias"));
        wm_checkpoint_close(ck);
    }
    check_rejected("evil_global.pt", WM_ERR_FORMAT, "'os.system'");
    check_rejected("noncontig.pt", WM_ERR_UNSUPPORTED, "'w': not contiguous");
    check_rejected("compressed.pt", WM_ERR_UNSUPPORTED, "data.pkl' is compressed");
    check_rejected("truncated.pt", WM_ERR_FORMAT, "truncated");
    TEST_MAIN_END();
}
