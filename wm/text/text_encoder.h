/* SANA-WM's text conditioning: prompt -> (300, 2304) Gemma-2 embeddings + mask, and a per-prompt cache.
 *
 * The procedure (sana_wm_spec.md §1.7; NVlabs/Sana inference_sana_wm.py _encode_prompts), with
 * max_length = 300:
 *   positive prompt: text = CHI + prompt, L = len(tokens(CHI)) + 300 - 2 (tokens(CHI) counts <bos>),
 *                    tokenise with <bos>, truncate to L, right-pad with <pad> (mask 0) to L, run Gemma,
 *                    keep row 0 (<bos>) and the last 299 rows -> y (300, C), mask the same rows;
 *   negative prompt: no CHI, L = 300, keep all rows (default negative prompt "").
 * The prompt is used verbatim (no strip, no lower-casing: SANA-WM does neither). CHI is the
 * complex-human-instruction text of configs/sana_wm/sana_wm_1600m_720p.yaml (chi.c). A prompt that
 * does not fit is an error unless allow_truncate is set (then it is cut as the reference cuts it).
 */
#ifndef WM_TEXT_TEXT_ENCODER_H
#define WM_TEXT_TEXT_ENCODER_H

#include "wm/core/backend.h"
#include "wm/text/gemma.h"
#include "wm/text/tokenizer.h"

/* The SANA-WM complex human instruction (8 lines joined by "\n", last line "User Prompt: "). */
const char *wm_text_chi_default(void);

/* The CHI of an official Sana / SANA-WM config.yaml (text_encoder.chi_prompt lines joined by "\n"),
 * malloc'd into *chi. WM_ERR_NOT_FOUND if the file has no such list, WM_ERR_IO if it cannot be opened,
 * WM_ERR_FORMAT for bad YAML. */
wm_status wm_text_chi_from_yaml(const char *path, char **chi, wm_error *err);

typedef struct wm_text_params {
    const char *tokenizer;   /* tokenizer file or folder; NULL = look in the model folder (and tokenizer/) */
    const char *chi;         /* NULL = wm_text_chi_default(); "" = no CHI (positive prompts as negative ones) */
    int max_length;          /* tokens kept per prompt, default 300 */
    int weights;             /* wm_gemma_params.weights: 0 auto, 1 resident, 2 streamed */
    int allow_truncate;      /* 1 = cut an over-long prompt like the reference; 0 (default) = WM_ERR_LIMIT */
    int fp32;                /* wm_gemma_params.fp32: 1 = fp32 on CUDA too (parity tests) */
} wm_text_params;

/* One encoder serves one thread at a time (it owns the activation buffers); loading and freeing are
 * independent per instance. */
typedef struct wm_text_encoder wm_text_encoder;

/* model: a Gemma-2 folder (config.json + weights), or a checkpoint root with text_encoder/ (and
 * tokenizer/) inside. */
wm_status wm_text_encoder_load(wm_backend *be, const char *model, const wm_text_params *p, wm_text_encoder **out,
                               wm_error *err);
void wm_text_encoder_free(wm_text_encoder *e);
const wm_tokenizer *wm_text_encoder_tokenizer(const wm_text_encoder *e);
int wm_text_encoder_chi_tokens(const wm_text_encoder *e);  /* len(tokens(CHI)) with <bos> */

typedef struct wm_text_embedding {
    int n_tokens;            /* max_length (300) */
    int channels;            /* hidden size (2304) */
    float *y;                /* (n_tokens, channels) host fp32 */
    uint8_t *mask;           /* (n_tokens) 1 = real token */
    int n_input_tokens;      /* tokens of the (CHI +) prompt before padding/truncation, <bos> included */
    int truncated;           /* 1 if tokens were cut */
} wm_text_embedding;

/* Encode one prompt (use_chi = 1 for the positive prompt, 0 for the negative one). out is filled with
 * malloc'd arrays (wm_text_embedding_free). Errors: invalid UTF-8 / over-long prompt (WM_ERR_INVALID_ARG,
 * WM_ERR_LIMIT) with a message, backend errors from the encoder. */
wm_status wm_text_encode(wm_text_encoder *e, const char *prompt, int use_chi, wm_text_embedding *out, wm_error *err);
void wm_text_embedding_free(wm_text_embedding *emb);

/* ------------------------------------------------------------------ per-prompt cache
 * Encodes each (prompt, use_chi) once; later lookups return the stored embedding, so a world encodes its
 * prompts at setup and can free the encoder (and its 5 GB of weights) before generation starts. Not
 * thread-safe; one cache per world/session. */
typedef struct wm_prompt_cache wm_prompt_cache;

/* capacity: entries kept (oldest evicted beyond it); 0 = unlimited. */
wm_status wm_prompt_cache_create(int capacity, wm_prompt_cache **out);
void wm_prompt_cache_free(wm_prompt_cache *c);
/* The embedding of (prompt, use_chi): cached, or encoded with enc and stored. enc may be NULL once the
 * encoder is freed; a miss then fails with WM_ERR_STATE. *out stays valid until the entry is evicted or
 * the cache freed. */
wm_status wm_prompt_cache_get(wm_prompt_cache *c, wm_text_encoder *enc, const char *prompt, int use_chi,
                              const wm_text_embedding **out, wm_error *err);
int wm_prompt_cache_count(const wm_prompt_cache *c);
/* Number of encoder runs the cache performed (hits do not count). */
int wm_prompt_cache_encodes(const wm_prompt_cache *c);

#endif
