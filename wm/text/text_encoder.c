/* SANA-WM prompt procedure on top of the tokenizer and the Gemma-2 encoder (see text_encoder.h).
 *
 * The CHI is tokenised once at load (its length fixes L = n_chi + max_length - 2, and the encoder's
 * activation buffers are sized for L). Encoding a prompt builds the padded id/mask rows exactly as HF's
 * tokenizer(..., max_length=L, padding="max_length", truncation=True) does with right padding, runs
 * Gemma over all L positions (pads included: with right padding and a causal mask they never influence
 * real tokens, and their rows are what the reference returns too), then selects rows.
 */
#include "wm/text/text_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct wm_text_encoder {
    wm_tokenizer *tok;
    wm_gemma *gemma;
    char *chi;
    int n_chi;          /* tokens of CHI with <bos> */
    int max_length, allow_truncate;
};

static int has_file(const char *dir, const char *name)
{
    char p[1200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static wm_status init(wm_text_encoder *e, wm_backend *be, const char *model, const wm_text_params *p, wm_error *err)
{
    char gdir[1100];
    struct stat st0;
    if (stat(model, &st0) != 0 || !S_ISDIR(st0.st_mode))
        return wm__errf(err, WM_ERR_NOT_FOUND, "%s: no such model directory", model);
    /* a checkpoint root keeps the encoder in text_encoder/; a Gemma repository is the folder itself */
    if (has_file(model, "text_encoder/config.json")) snprintf(gdir, sizeof gdir, "%s/text_encoder", model);
    else snprintf(gdir, sizeof gdir, "%s", model);
    wm_status st = wm_tokenizer_load(p && p->tokenizer ? p->tokenizer : model, &e->tok, err);
    if (st == WM_ERR_NOT_FOUND && !(p && p->tokenizer) && strcmp(gdir, model))
        st = wm_tokenizer_load(gdir, &e->tok, err);
    if (st != WM_OK) return st;
    e->max_length = p && p->max_length > 0 ? p->max_length : 300;
    e->allow_truncate = p ? p->allow_truncate : 0;
    e->chi = strdup(p && p->chi ? p->chi : wm_text_chi_default());
    if (!e->chi) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    int32_t *ids = NULL;
    WM_TRY(wm_tokenizer_encode(e->tok, e->chi, strlen(e->chi), 1, &ids, &e->n_chi, err));
    free(ids);
    if (wm_tokenizer_pad(e->tok) < 0)
        return wm__errf(err, WM_ERR_FORMAT, "%s: no <pad> token", wm_tokenizer_source(e->tok));
    int L = e->n_chi + e->max_length - 2;
    wm_gemma_params gp = {.weights = p ? p->weights : 0, .fp32 = p ? p->fp32 : 0, .max_tokens = L > e->max_length ? L : e->max_length};
    WM_TRY(wm_gemma_load(be, gdir, &gp, &e->gemma, err));
    if (wm_tokenizer_vocab_size(e->tok) > wm_gemma_get_config(e->gemma)->vocab_size)
        return wm__errf(err, WM_ERR_SHAPE, "%s: tokenizer has %d ids but the encoder's vocabulary is %d",
                        wm_tokenizer_source(e->tok), wm_tokenizer_vocab_size(e->tok),
                        wm_gemma_get_config(e->gemma)->vocab_size);
    return WM_OK;
}

wm_status wm_text_encoder_load(wm_backend *be, const char *model, const wm_text_params *p, wm_text_encoder **out,
                               wm_error *err)
{
    *out = NULL;
    if (!be || !model) return wm__errf(err, WM_ERR_INVALID_ARG, "text encoder: backend and model are required");
    wm_text_encoder *e = calloc(1, sizeof *e);
    if (!e) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    wm_status st = init(e, be, model, p, err);
    if (st != WM_OK) { wm_text_encoder_free(e); return st; }
    *out = e;
    return WM_OK;
}

void wm_text_encoder_free(wm_text_encoder *e)
{
    if (!e) return;
    wm_gemma_free(e->gemma);
    wm_tokenizer_free(e->tok);
    free(e->chi);
    free(e);
}

const wm_tokenizer *wm_text_encoder_tokenizer(const wm_text_encoder *e) { return e->tok; }
int wm_text_encoder_chi_tokens(const wm_text_encoder *e) { return e->n_chi; }

void wm_text_embedding_free(wm_text_embedding *emb)
{
    if (!emb) return;
    free(emb->y);
    free(emb->mask);
    emb->y = NULL;
    emb->mask = NULL;
}

/* ids/mask (L) of text: <bos> + tokens, truncated to L and right-padded. */
static wm_status tokenize_padded(wm_text_encoder *e, const char *text, size_t len, int L, int32_t *ids,
                                 uint8_t *mask, int *n_input, wm_error *err)
{
    int32_t *tok = NULL;
    int n = 0;
    WM_TRY(wm_tokenizer_encode(e->tok, text, len, 1, &tok, &n, err));
    *n_input = n;
    if (n > L && !e->allow_truncate) {
        free(tok);
        return wm__errf(err, WM_ERR_LIMIT, "prompt too long: %d tokens where at most %d fit (%d with the CHI "
                        "prefix); shorten it or allow truncation (--truncate) to cut it as SANA-WM does", n, L,
                        L > e->max_length ? L - e->n_chi + 1 : L);
    }
    int keep = n < L ? n : L;
    for (int i = 0; i < L; i++) {
        ids[i] = i < keep ? tok[i] : wm_tokenizer_pad(e->tok);
        mask[i] = i < keep;
    }
    free(tok);
    return WM_OK;
}

wm_status wm_text_encode(wm_text_encoder *e, const char *prompt, int use_chi, wm_text_embedding *out, wm_error *err)
{
    memset(out, 0, sizeof *out);
    if (!prompt) return wm__errf(err, WM_ERR_INVALID_ARG, "prompt is NULL");
    if (!e->chi[0]) use_chi = 0; /* the reference: no chi_prompt -> plain max_length encoding */
    size_t plen = strlen(prompt), clen = use_chi ? strlen(e->chi) : 0, ok = wm_utf8_valid_prefix(prompt, plen);
    if (ok != plen) return wm__errf(err, WM_ERR_INVALID_ARG, "prompt is not valid UTF-8 (byte %zu)", ok);
    int M = e->max_length, L = use_chi ? e->n_chi + M - 2 : M, C = wm_gemma_get_config(e->gemma)->hidden;
    char *text = malloc(clen + plen + 1);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)L);
    uint8_t *mask = malloc((size_t)L);
    float *h = malloc(sizeof(float) * (size_t)L * C);
    out->y = malloc(sizeof(float) * (size_t)M * C);
    out->mask = malloc((size_t)M);
    wm_status st = text && ids && mask && h && out->y && out->mask ? WM_OK
                                                                     : wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == WM_OK) {
        memcpy(text, e->chi, clen);
        memcpy(text + clen, prompt, plen + 1);
        st = tokenize_padded(e, text, clen + plen, L, ids, mask, &out->n_input_tokens, err);
    }
    if (st == WM_OK) st = wm_gemma_forward(e->gemma, ids, mask, L, h, NULL, err);
    if (st == WM_OK) {
        /* rows kept: 0 (<bos>) and the last M - 1; without CHI L == M and this is every row */
        for (int r = 0; r < M; r++) {
            int src = r == 0 ? 0 : L - M + r;
            memcpy(out->y + (size_t)r * C, h + (size_t)src * C, sizeof(float) * (size_t)C);
            out->mask[r] = mask[src];
        }
        out->n_tokens = M;
        out->channels = C;
        out->truncated = out->n_input_tokens > L;
    }
    free(text); free(ids); free(mask); free(h);
    if (st != WM_OK) wm_text_embedding_free(out);
    return st;
}
