/* Internal state of wm_gemma shared by gemma.c (load, forward) and gemma_weights.c (weight slots). */
#ifndef WM_TEXT_GEMMA_INTERNAL_H
#define WM_TEXT_GEMMA_INTERNAL_H

#include "kernels/ops.h"
#include "wm/io/checkpoint.h"
#include "wm/text/gemma.h"

typedef struct gemma_layer {
    wm_tensor in_norm, post_attn, pre_ffn, post_ffn;    /* (C) fp32, holding 1 + w */
    wm_tensor q, k, v, o, gate, up, down;                /* Linear weights (out, in), storage dtype */
    /* q, k, v are row blocks of one allocation qkv (H*D + 2 Hkv*D, C), gate and up of gu (2F, C), so one
     * GEMM computes all three projections (or both MLP inputs); the views serve the separate-GEMM path */
    wm_tensor qkv, gu;
    int loaded_layer;                                    /* which layer the slot holds, -1 = none */
} gemma_layer;

struct wm_gemma {
    wm_backend *be;
    wm_checkpoint *ck;
    wm_gemma_config cfg;
    wm_dtype wdt, adt;            /* weight storage and activation dtypes of the backend */
    int streamed, max_tokens;
    int unfused;                  /* 1: separate q/k/v and gate/up GEMMs (wm_gemma_params.unfused) */
    uint64_t seed;                /* random-weight encoders (no checkpoint): weights and embedding rows */
    const wm_ckpt_entry *embed;   /* stays in the checkpoint mapping */
    wm_tensor final_norm;
    gemma_layer *slots;           /* n_layers slots (resident) or 1 (streamed) */
    int n_slots;
    float *host;                  /* conversion scratch */
    size_t host_cap;
    float *stage;                 /* (max_tokens, hidden) fp32 host staging for inputs and outputs */
    uint16_t *stage16;            /* the same as bf16, for uploads/downloads of bf16 activations */
    wm_gemma_mark_fn prof;        /* profiling marks (wm_gemma_set_profiler), NULL = off */
    void *prof_ctx;
    /* activations, sized for max_tokens */
    wm_tensor x, a, q, k, v, att, f1, f2, cos, sin, mask;
    wm_tensor qkv_out, gu_out;    /* fused GEMM outputs (T, H*D + 2 Hkv*D), (T, 2F); f2 is gu_out's start */
    wm_tensor outf;               /* (T, C) fp32 last_hidden_state written by the final norm (bf16 activations
                                   * only; downloaded as is, no host conversion) */
    /* embedding lookup on the backend (embed_rows op): the prompt's rows gathered from the mapping
     * (erows, (max_tokens, C): the checkpoint's dtype when it is the activation dtype, else fp32) with
     * ids 0..T-1, or the random encoder's table rtable (R, C) fp32 with ids mod R; ids_dev (max_tokens)
     * int32, hids its host staging */
    wm_tensor erows, rtable, ids_dev;
    int32_t *hids;
};

/* A backend tensor (rows, cols); cols == 1 gives a 1-D tensor of rows elements. */
wm_status wm__gemma_alloc(wm_gemma *g, wm_dtype dt, int64_t rows, int64_t cols, wm_tensor *t, wm_error *err);
void wm__gemma_random_fill(float *dst, size_t n, uint64_t seed, uint64_t stream, float sigma);
wm_status wm__gemma_fill_random(wm_gemma *g, wm_error *err);
/* The random encoder's embedding table: min(vocab, 4096) rows, row r = stream 2^40 + r of the seed;
 * token id uses row id mod R. */
wm_status wm__gemma_random_table(wm_gemma *g, wm_error *err);
const wm_ckpt_entry *wm__gemma_find(const wm_gemma *g, const char *key, char *full, size_t cap);
wm_status wm__gemma_slot_alloc(wm_gemma *g, gemma_layer *s, wm_error *err);
void wm__gemma_slot_free(wm_gemma *g, gemma_layer *s);
wm_status wm__gemma_slot_load(wm_gemma *g, gemma_layer *s, int layer, wm_error *err);
wm_status wm__gemma_load_globals(wm_gemma *g, wm_error *err);
/* Every tensor of layer i present with its expected shape and a float dtype (no conversion). */
wm_status wm__gemma_check_layer(wm_gemma *g, int layer, wm_error *err);

#endif
