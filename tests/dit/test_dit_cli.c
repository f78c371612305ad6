/* `wm dit-forward` end to end (argv[1] = path of the wm binary): golden inputs -> v and every block's
 * output vs the reference (bidirectional, with --dump-blocks), the chunk-causal variant, raw cameras
 * (c2w_raw + intrinsics_raw + image_hw instead of camera_conditions / chunk_plucker), fp32 weights
 * instead of bf16, and exit status 2 with a message for bad arguments and incomplete inputs. */
#include "dit_golden.h"

#include <sys/wait.h>
#include <unistd.h>

static const char *wm_bin;
static char tmp[64];

static int run(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' dit-forward %s > %s/log.txt 2>&1", wm_bin, args, tmp);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int compare_file(const char *got_path, const char *gold_file, const char *name, const char *label)
{
    wm_checkpoint *g = NULL, *r = g_open(gold_file);
    wm_error err = {0};
    if (wm_checkpoint_open(got_path, &g, &err) != WM_OK || !r) {
        fprintf(stderr, "%s\n", err.msg);
        wm_checkpoint_close(r);
        return 0;
    }
    int64_t ng = 0, nr = 0;
    float *a = g_read(g, name, &ng), *b = g_read(r, name, &nr);
    int ok = a && b && ng == nr && g_close(label, a, b, nr);
    free(a), free(b);
    wm_checkpoint_close(g), wm_checkpoint_close(r);
    return ok;
}

/* Copy of a golden file with some tensors dropped (drop: NULL-terminated names), all tensors written
 * as stored except BF16 -> F32 (to_f32 = 1) or -> F16 (to_f32 = 2). */
static int rewrite(const char *src_file, const char *dst, const char *const *drop, int to_f32)
{
    wm_checkpoint *ck = g_open(src_file);
    if (!ck) return 0;
    int n = wm_checkpoint_count(ck), k = 0;
    wm_st_item *it = calloc((size_t)n, sizeof *it);
    float **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
        int skip = 0;
        for (int j = 0; drop && drop[j]; j++) skip |= !strcmp(drop[j], e->name);
        if (skip) continue;
        it[k] = (wm_st_item){e->name, e->dtype, e->ndim, {0}, e->data};
        memcpy(it[k].shape, e->shape, sizeof e->shape);
        if (to_f32 && e->dtype == WM_BF16) {
            int64_t m = 0;
            bufs[i] = g_read(ck, e->name, &m);
            it[k].dtype = WM_F32, it[k].data = bufs[i];
            if (to_f32 == 2) { /* bf16 -> f16 */
                uint16_t *h = malloc((size_t)m * 2);
                for (int64_t j = 0; j < m; j++) h[j] = wm_f32_to_f16(bufs[i][j]);
                free(bufs[i]);
                bufs[i] = (float *)(void *)h;
                it[k].dtype = WM_F16, it[k].data = h;
            }
        }
        k++;
    }
    wm_error err = {0};
    int ok = wm_safetensors_write(dst, it, k, NULL, &err) == WM_OK;
    if (!ok) fprintf(stderr, "%s\n", err.msg);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs), free(it);
    wm_checkpoint_close(ck);
    return ok;
}

int main(int argc, char **argv)
{
    wm_dit_config cfg;
    if (argc < 2) return 2;
    wm_bin = argv[1];
    if (g_load_config(&cfg, NULL, NULL)) { printf("golden files absent: skipped\n"); return 77; }
    snprintf(tmp, sizeof tmp, "/tmp/wm_dit_cli_%d", (int)getpid());
    char cmd[1024], a[4096], o[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmp);
    if (system(cmd) != 0) return 1;
    const char *W = GOLDEN_DIR "weights.safetensors", *I = GOLDEN_DIR "inputs.safetensors";
    snprintf(o, sizeof o, "%s/out.safetensors", tmp);
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s --dump-blocks --threads 2", W, I, o);
    CHECK(run(a) == 0);
    CHECK(compare_file(o, "out_bidirectional.safetensors", "v", "cli bidirectional v"));
    for (int i = 0; i < cfg.depth; i++) {
        char n[64];
        snprintf(n, sizeof n, "blocks.%d.out", i);
        CHECK(compare_file(o, "out_bidirectional.safetensors", n, n));
    }
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s --variant chunk-causal", W, I, o);
    CHECK(run(a) == 0);
    CHECK(compare_file(o, "out_chunk_causal.safetensors", "v", "cli chunk-causal v"));
    /* raw cameras only */
    char ri[256], wf[256];
    snprintf(ri, sizeof ri, "%s/raw_inputs.safetensors", tmp);
    const char *drop[] = {"camera_conditions", "chunk_plucker", NULL};
    CHECK(rewrite("inputs.safetensors", ri, drop, 0));
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s", W, ri, o);
    CHECK(run(a) == 0);
    CHECK(compare_file(o, "out_bidirectional.safetensors", "v", "cli raw cameras v"));
    /* fp32 weights */
    snprintf(wf, sizeof wf, "%s/weights_f32.safetensors", tmp);
    CHECK(rewrite("weights.safetensors", wf, NULL, 1));
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s", wf, I, o);
    CHECK(run(a) == 0);
    CHECK(compare_file(o, "out_bidirectional.safetensors", "v", "cli fp32 weights v"));
    /* fp16 weights (bf16 values rounded to f16: a few tiny weights lose bits, far below tolerance) */
    CHECK(rewrite("weights.safetensors", wf, NULL, 2));
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s", wf, I, o);
    CHECK(run(a) == 0);
    CHECK(compare_file(o, "out_bidirectional.safetensors", "v", "cli fp16 weights v"));
    /* bad arguments and inputs */
    CHECK(run("--weights x") == 2);
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s --backend tpu", W, I, o);
    CHECK(run(a) == 2);
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s --backend cpu --variant chunk-causal", W, I, o);
    CHECK(run(a) == 0);
    CHECK(compare_file(o, "out_chunk_causal.safetensors", "v", "cli --backend cpu v"));
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s --variant sideways", W, I, o);
    CHECK(run(a) == 2);
    const char *drop_x[] = {"x", NULL};
    CHECK(rewrite("inputs.safetensors", ri, drop_x, 0));
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s", W, ri, o);
    CHECK(run(a) == 2);
    const char *drop_w[] = {"blocks.1.mlp.t_conv.weight", NULL};
    CHECK(rewrite("weights.safetensors", wf, drop_w, 0));
    snprintf(a, sizeof a, "--weights %s --inputs %s --out %s", wf, I, o);
    CHECK(run(a) == 2);
    char log[2048] = {0};
    snprintf(cmd, sizeof cmd, "%s/log.txt", tmp);
    FILE *f = fopen(cmd, "r");
    if (f) { size_t r = fread(log, 1, sizeof log - 1, f); log[r] = 0; fclose(f); }
    CHECK_MSG(strstr(log, "blocks.1.mlp.t_conv.weight") != NULL, "missing-key message: %s", log);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    TEST_MAIN_END();
}
