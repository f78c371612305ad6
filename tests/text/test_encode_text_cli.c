/* `wm encode-text` end to end on the small model: arguments, the written file (y (1,1,300,C) F32 equal
 * to the reference procedure's cond0_y, mask (1,300) F32 0/1 readable by wm_checkpoint_read_f32, neg_y/neg_mask for --negative ""), exit
 * status 2 for bad arguments / missing model, 1 for an invalid prompt with no output file left behind.
 * --device: this test links no CUDA backend, so `--device cuda` fails (1, no file) and `--device auto`
 * falls back to the CPU with the same result; an unknown device is a usage error (2).
 * The command's source is compiled into this test, so no process spawning is needed.
 */
#include "testing.h"
#include "wm/cli/cli.h"
#include "wm/io/checkpoint.h"

#include <string.h>
#include <unistd.h>

#define GOLDEN "tests/golden/text/"

static int run(int argc, const char **argv) { return wm_cmd_encode_text(argc, (char **)argv); }

static float max_abs(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) if (fabsf(x[i]) > m) m = fabsf(x[i]);
    return m;
}

int main(void)
{
    char path[] = "/tmp/wm_enc_XXXXXX.safetensors";
    int fd = mkstemps(path, 12);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    /* the CHI comes from the official config.yaml here; it equals the built-in one, so the reference holds */
    const char *ok[] = {"encode-text", "--model", GOLDEN "gemma_small", "--tokenizer", GOLDEN, "--threads", "2",
                        "A cat walking in a forest.", "-o", path, "--negative", "", "--config",
                        GOLDEN "sana_wm_text_config.yaml"};
    CHECK(run(14, ok) == 0);
    wm_checkpoint *out = NULL, *gold = NULL;
    wm_error err = {0};
    CHECK(wm_checkpoint_open(path, &out, &err) == WM_OK);
    CHECK(wm_checkpoint_open(GOLDEN "prompt_golden.safetensors", &gold, &err) == WM_OK);
    if (out && gold) {
        const wm_ckpt_entry *y = wm_checkpoint_find(out, "y"), *m = wm_checkpoint_find(out, "mask");
        CHECK(y && y->dtype == WM_F32 && y->ndim == 4 && y->shape[0] == 1 && y->shape[1] == 1 && y->shape[2] == 300 &&
              y->shape[3] == 64);
        CHECK(m && m->dtype == WM_F32 && m->ndim == 2 && m->shape[1] == 300);
        wm_tensor gy, ny, gn;
        CHECK(wm_checkpoint_load_f32(gold, "cond0_y", &gy, &err) == WM_OK);
        CHECK(wm_checkpoint_load_f32(gold, "uncond_y", &gn, &err) == WM_OK);
        CHECK(wm_checkpoint_load_f32(out, "neg_y", &ny, &err) == WM_OK);
        size_t n = 300 * 64;
        if (y) CHECK(t_allclose("cli y", y->data, gy.data, n, 1e-4f * max_abs(gy.data, n), 1e-4f));
        CHECK(t_allclose("cli neg_y", ny.data, gn.data, n, 1e-4f * max_abs(gn.data, n), 1e-4f));
        const wm_ckpt_entry *gm = wm_checkpoint_find(gold, "cond0_mask");
        int same = m && gm;
        float mf[300];
        CHECK(wm_checkpoint_read_f32(out, "mask", 2, (int64_t[]){1, 300}, mf, &err) == WM_OK);
        for (int i = 0; same && i < 300; i++) same = mf[i] == (float)((const uint8_t *)gm->data)[i];
        CHECK_MSG(same, "mask differs from the reference");
        CHECK(wm_checkpoint_metadata(out, "prompt") && !strcmp(wm_checkpoint_metadata(out, "prompt"),
                                                               "A cat walking in a forest."));
        wm_tensor_free(&gy); wm_tensor_free(&gn); wm_tensor_free(&ny);
    }
    wm_checkpoint_close(out);
    wm_checkpoint_close(gold);
    unlink(path);
    const char *help[] = {"encode-text", "--help"};
    CHECK(run(2, help) == 0);
    const char *missing[] = {"encode-text", "prompt only"};
    CHECK(run(2, missing) == 2);
    const char *bogus[] = {"encode-text", "--model", "/nonexistent", "p", "-o", path};
    CHECK(run(6, bogus) == 2);
    const char *badopt[] = {"encode-text", "--frobnicate", "--model", GOLDEN "gemma_small", "p", "-o", path};
    CHECK(run(7, badopt) == 2);
    const char *badutf[] = {"encode-text", "--model", GOLDEN "gemma_small", "--tokenizer", GOLDEN, "bad \xff", "-o", path};
    CHECK(run(8, badutf) == 1 && access(path, F_OK) != 0);
    const char *nocuda[] = {"encode-text", "--model", GOLDEN "gemma_small", "--tokenizer", GOLDEN, "p", "-o", path,
                            "--device", "cuda"};
    CHECK(run(10, nocuda) == 1 && access(path, F_OK) != 0);
    const char *baddev[] = {"encode-text", "--model", GOLDEN "gemma_small", "p", "-o", path, "--device", "tpu"};
    CHECK(run(8, baddev) == 2);
    const char *autodev[] = {"encode-text", "--model", GOLDEN "gemma_small", "--tokenizer", GOLDEN, "--threads", "2",
                             "A cat walking in a forest.", "-o", path, "--device", "auto"};
    CHECK(run(12, autodev) == 0);
    if (wm_checkpoint_open(path, &out, &err) == WM_OK && wm_checkpoint_open(GOLDEN "prompt_golden.safetensors", &gold, &err) == WM_OK) {
        wm_tensor gy, y2;
        CHECK(wm_checkpoint_load_f32(gold, "cond0_y", &gy, &err) == WM_OK && wm_checkpoint_load_f32(out, "y", &y2, &err) == WM_OK);
        CHECK(t_allclose("cli y (--device auto -> cpu)", y2.data, gy.data, 300 * 64, 1e-4f * max_abs(gy.data, 300 * 64), 1e-4f));
        wm_tensor_free(&gy); wm_tensor_free(&y2);
        wm_checkpoint_close(gold);
    } else {
        CHECK_MSG(0, "--device auto output: %s", err.msg);
    }
    wm_checkpoint_close(out);
    unlink(path);
    const char *badcfg[] = {"encode-text", "--model", GOLDEN "gemma_small", "--tokenizer", GOLDEN, "p", "-o", path,
                            "--config", "/nonexistent.yaml"};
    CHECK(run(10, badcfg) == 2 && access(path, F_OK) != 0);
    TEST_MAIN_END();
}
