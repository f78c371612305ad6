/* `wm encode-text --model DIR "prompt" -o emb.safetensors`: SANA-WM's text conditioning for one prompt.
 *
 * Writes y (1, 1, 300, C) F32 and mask (1, 300) F32 (0/1; F32 so wm_checkpoint_read_f32 — e.g. the session's
 * "@file" prompts — reads it directly, where HF would hold int64) exactly as
 * SANA-WM's _encode_prompts returns them for the positive prompt (CHI prefix; --no-chi encodes without it,
 * as for the negative prompt), plus, with --negative TEXT, neg_y / neg_mask for that negative prompt.
 * The file is written atomically (temp + rename) with the prompt and settings in its metadata. --time
 * prints load / encode wall times. --device picks the backend: cpu (default; fp32, the reference's
 * numbers to ~1e-4; layer weights streamed), cuda (bf16 weights and activations like HF's bf16 text
 * encoder, ~5 ms per prompt on an H100/H200, ~5 GB of device memory; --fp32 keeps fp32 there) or auto
 * (cuda when a GPU is usable, else cpu).
 * Exit status: 0 written, 1 encoding failed, 2 bad arguments or unreadable model.
 */
#include "wm/cli/cli.h"
#include "wm/io/checkpoint.h"
#include "wm/text/text_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: wm encode-text --model DIR \"prompt\" -o emb.safetensors [options]\n"
               "  --model DIR       Gemma-2 folder (config.json + weights [+ tokenizer]) or a checkpoint root\n"
               "                    with text_encoder/ and tokenizer/ inside\n"
               "  --tokenizer PATH  tokenizer.json / tokenizer.model (or its folder) if not in DIR\n"
               "  --config YAML     take the CHI from this official config.yaml (text_encoder.chi_prompt;\n"
               "                    none there = no CHI, as the reference); default: SANA-WM's CHI\n"
               "  -o, --out FILE    output .safetensors: y (1,1,300,C) F32, mask (1,300) F32 (0/1)\n"
               "  --no-chi          encode without the complex-human-instruction prefix (negative prompt)\n"
               "  --negative TEXT   also encode TEXT without CHI into neg_y / neg_mask (SANA-WM default \"\")\n"
               "  --truncate        cut an over-long prompt as SANA-WM does instead of failing\n"
               "  --threads N       CPU threads (default: all)\n"
               "  --resident        keep all layer weights in memory (default on CPU: stream them per layer)\n"
               "  --device D        cpu (default), cuda or auto (cuda when a GPU is usable, else cpu)\n"
               "  --fp32            on cuda: fp32 weights and activations instead of bf16\n"
               "  --time            print load and encode times\n");
}

typedef struct args {
    const char *model, *tokenizer, *out, *prompt, *negative, *config, *device;
    int no_chi, truncate, threads, resident, time, fp32;
} args;

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(s, "--model") && more) a->model = argv[++i];
        else if (!strcmp(s, "--tokenizer") && more) a->tokenizer = argv[++i];
        else if (!strcmp(s, "--config") && more) a->config = argv[++i];
        else if ((!strcmp(s, "-o") || !strcmp(s, "--out")) && more) a->out = argv[++i];
        else if (!strcmp(s, "--negative") && more) a->negative = argv[++i];
        else if (!strcmp(s, "--threads") && more) a->threads = atoi(argv[++i]);
        else if (!strcmp(s, "--no-chi")) a->no_chi = 1;
        else if (!strcmp(s, "--truncate")) a->truncate = 1;
        else if (!strcmp(s, "--resident")) a->resident = 1;
        else if (!strcmp(s, "--time")) a->time = 1;
        else if (!strcmp(s, "--fp32")) a->fp32 = 1;
        else if (!strcmp(s, "--device") && more) a->device = argv[++i];
        else if (s[0] == '-' && s[1]) { fprintf(stderr, "wm encode-text: unknown or incomplete option '%s'\n", s); return 2; }
        else if (!a->prompt) a->prompt = s;
        else { fprintf(stderr, "wm encode-text: more than one prompt ('%s')\n", s); return 2; }
    }
    if (a->device && strcmp(a->device, "cpu") && strcmp(a->device, "cuda") && strcmp(a->device, "auto")) {
        fprintf(stderr, "wm encode-text: --device must be cpu, cuda or auto (got '%s')\n", a->device);
        return 2;
    }
    if (!a->model || !a->out || !a->prompt) {
        fprintf(stderr, "wm encode-text: --model, -o and a prompt are required\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* items for one embedding: y (1,1,M,C) F32 and mask (1,M) F32 0/1 (maskf is caller storage). */
static void add_items(wm_st_item *items, int *n, const char *yname, const char *mname, const wm_text_embedding *e,
                      float *maskf)
{
    for (int i = 0; i < e->n_tokens; i++) maskf[i] = e->mask[i] ? 1.0f : 0.0f;
    items[*n] = (wm_st_item){.name = yname, .dtype = WM_F32, .ndim = 4,
                             .shape = {1, 1, e->n_tokens, e->channels}, .data = e->y};
    items[*n + 1] = (wm_st_item){.name = mname, .dtype = WM_F32, .ndim = 2, .shape = {1, e->n_tokens}, .data = maskf};
    *n += 2;
}

static int write_out(const args *a, const wm_text_embedding *pos, const wm_text_embedding *neg, wm_error *err)
{
    wm_st_item items[4];
    int n = 0;
    float *m1 = malloc(sizeof(float) * (size_t)pos->n_tokens), *m2 = malloc(sizeof(float) * (size_t)pos->n_tokens);
    if (!m1 || !m2) { free(m1); free(m2); fprintf(stderr, "wm encode-text: out of memory\n"); return 1; }
    add_items(items, &n, "y", "mask", pos, m1);
    if (neg) add_items(items, &n, "neg_y", "neg_mask", neg, m2);
    char ntok[32];
    snprintf(ntok, sizeof ntok, "%d", pos->n_input_tokens);
    const char *meta[] = {"prompt", a->prompt, "chi", a->no_chi ? "false" : "true", "input_tokens", ntok,
                          "negative_prompt", a->negative ? a->negative : "", "encoder", "gemma-2 (wm encode-text)",
                          NULL};
    wm_status st = wm_safetensors_write(a->out, items, n, meta, err);
    free(m1);
    free(m2);
    if (st != WM_OK) { fprintf(stderr, "wm encode-text: %s\n", err->msg); return 1; }
    return 0;
}

/* The backend --device asks for; auto falls back to the CPU when no GPU is usable. */
static wm_status open_backend(const args *a, wm_backend **be, wm_error *err)
{
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = a->threads > 0 ? a->threads : 0;
    const char *d = a->device ? a->device : "cpu";
    if (strcmp(d, "cpu")) {
        wm_status st = wm_backend_create(WM_BACKEND_CUDA, &bp, be, err);
        if (st == WM_OK || strcmp(d, "auto") || st != WM_ERR_NO_DEVICE) return st;
        fprintf(stderr, "wm encode-text: %s; encoding on the CPU\n", err->msg);
    }
    return wm_backend_create(WM_BACKEND_CPU, &bp, be, err);
}

int wm_cmd_encode_text(int argc, char **argv)
{
    args a;
    int rc = parse(argc, argv, &a);
    if (rc >= 0) return rc;
    wm_error err = {0};
    wm_backend *be = NULL;
    if (open_backend(&a, &be, &err) != WM_OK) { fprintf(stderr, "wm encode-text: %s\n", err.msg); return 1; }
    wm_text_params tp = {.tokenizer = a.tokenizer, .allow_truncate = a.truncate, .weights = a.resident ? 1 : 0,
                         .fp32 = a.fp32};
    char *chi = NULL;
    if (a.config) {
        wm_status cst = wm_text_chi_from_yaml(a.config, &chi, &err);
        if (cst == WM_ERR_NOT_FOUND && (chi = strdup("")) != NULL)
            fprintf(stderr, "wm encode-text: %s: no text_encoder.chi_prompt, encoding without CHI\n", a.config);
        else if (cst != WM_OK) { fprintf(stderr, "wm encode-text: %s\n", err.msg); wm_backend_free(be); return 2; }
        tp.chi = chi;
    }
    wm_text_encoder *enc = NULL;
    double t0 = now_s();
    if (wm_text_encoder_load(be, a.model, &tp, &enc, &err) != WM_OK) {
        fprintf(stderr, "wm encode-text: %s\n", err.msg);
        wm_backend_free(be);
        free(chi);
        return 2;
    }
    double t1 = now_s();
    wm_text_embedding pos = {0}, neg = {0};
    rc = 0;
    if (wm_text_encode(enc, a.prompt, !a.no_chi, &pos, &err) != WM_OK) rc = 1;
    double t2 = now_s();
    if (!rc && a.negative && wm_text_encode(enc, a.negative, 0, &neg, &err) != WM_OK) rc = 1;
    if (rc) fprintf(stderr, "wm encode-text: %s\n", err.msg);
    if (!rc && pos.truncated) fprintf(stderr, "wm encode-text: prompt truncated (%d tokens)\n", pos.n_input_tokens);
    if (!rc) rc = write_out(&a, &pos, a.negative ? &neg : NULL, &err);
    if (a.time)
        printf("load %.3f s, encode %.3f s (%d input tokens, %s)\n", t1 - t0, t2 - t1, pos.n_input_tokens,
               wm_backend_name(be));
    if (!rc) printf("wrote %s: y (1,1,%d,%d), mask (1,%d), %d real tokens\n", a.out, pos.n_tokens, pos.channels,
                    pos.n_tokens, pos.n_input_tokens);
    wm_text_embedding_free(&pos);
    wm_text_embedding_free(&neg);
    wm_text_encoder_free(enc);
    wm_backend_free(be);
    free(chi);
    return rc;
}
