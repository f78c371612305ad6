/* Gemma-2 text encoder (Gemma2Model: last_hidden_state after the final norm), on any wm backend.
 *
 * Sana conditions on the last hidden state of Gemma-2-2B-it; spec: sana_initializers_spec.md §3.1,
 * settled details in docs/text.md. The forward is written once against kernels/ops.h (matmul, rmsnorm
 * + the Gemma ops of ops_text.def: embed_rows, qkv_rope_split, attention_gqa, gelu_mul, norm_add_norm;
 * the separate-GEMM form also gated_add, mul, rope_half), so CPU and CUDA share it. Choices:
 *   - (1 + w) norms: the norm weights are stored as 1 + w in fp32 at load, so the common rmsnorm op
 *     serves (HF computes (1 + w.float()) in fp32 too);
 *   - the embedding table (590 M of the 2.6 B parameters) never leaves the checkpoint mapping: the rows
 *     of the prompt's ids are gathered on the host, uploaded, and scaled by sqrt(hidden) (rounded to the
 *     compute dtype) on the backend;
 *   - q/k/v and gate/up weights are stacked so each layer runs one GEMM for each group (gemma.c);
 *   - layer weights are either resident (converted once at load; the CUDA default) or streamed (each
 *     layer converted just before it runs, one layer of fp32 scratch; the CPU default, so the real
 *     model encodes on a CPU with ~0.5 GB instead of 10 GB).
 * Keys: the official names with or without a "model." prefix; BF16, F16 or F32 tensors.
 */
#ifndef WM_TEXT_GEMMA_H
#define WM_TEXT_GEMMA_H

#include "wm/core/backend.h"

typedef struct wm_gemma_config {
    int vocab_size;          /* 256000 */
    int hidden;              /* 2304 */
    int n_layers;            /* 26 */
    int n_heads;             /* 8 */
    int n_kv_heads;          /* 4 */
    int head_dim;            /* 256 */
    int ffn;                 /* 9216 (intermediate_size) */
    int sliding_window;      /* 4096, applied on even layers; 0 = none */
    float eps;               /* rms_norm_eps, 1e-6 */
    float rope_theta;        /* 10000 */
    float query_scale;       /* query_pre_attn_scalar^-0.5 = 1/16 */
    float attn_softcap;      /* attn_logit_softcapping, 50; 0 = off */
} wm_gemma_config;

/* The Gemma-2-2B values (also the defaults for keys a config.json leaves out). */
wm_gemma_config wm_gemma_config_2b(void);
/* Read a HF config.json (Gemma2Config keys). Errors name the file and key. */
wm_status wm_gemma_config_load(const char *path, wm_gemma_config *cfg, wm_error *err);

typedef struct wm_gemma_params {
    int weights;             /* 0 = auto (stream on CPU, resident on CUDA), 1 = resident, 2 = streamed */
    int max_tokens;          /* longest sequence forward() accepts; 0 = 1024 */
    int fp32;                /* 1 = fp32 weights and activations on CUDA too (parity tests); 0 = backend default
                              * (bf16 on CUDA, fp32 on the CPU) */
    int unfused;             /* 1 = separate q/k/v and gate/up GEMMs + rope_half + mul (the previous forward);
                              * 0 = one q/k/v GEMM + qkv_rope_split and one gate/up GEMM + gelu_mul, unless
                              * the environment has WM_TEXT_UNFUSED=1 (read once when the encoder is made) */
} wm_gemma_params;

typedef struct wm_gemma wm_gemma;

/* dir: a folder with config.json and the weights (model.safetensors, a sharded index, ...), e.g. a
 * checkpoint's text_encoder/ folder or the gemma-2-2b-it repository. The encoder keeps the checkpoint
 * mapped until wm_gemma_free. */
wm_status wm_gemma_load(wm_backend *be, const char *dir, const wm_gemma_params *p, wm_gemma **out, wm_error *err);
/* An encoder with random resident weights and a synthesised embedding (no checkpoint), for benchmarks
 * and memory planning at the real config (gemma_random.c). */
wm_status wm_gemma_init_random(wm_backend *be, const wm_gemma_config *cfg, const wm_gemma_params *p, uint64_t seed,
                               wm_gemma **out, wm_error *err);
void wm_gemma_free(wm_gemma *g);
const wm_gemma_config *wm_gemma_get_config(const wm_gemma *g);

/* ids, mask (T) on the host (mask 1 = real token, 0 = padding); out (T, hidden) host fp32 =
 * last_hidden_state. layers: NULL or host (n_layers + 1, T, hidden) receiving the input of every layer
 * and the residual stream after the last one (before the final norm), for golden tests.
 * Positions are 0..T-1 whatever the mask (right padding keeps real tokens first). */
wm_status wm_gemma_forward(wm_gemma *g, const int32_t *ids, const uint8_t *mask, int T, float *out, float *layers,
                           wm_error *err);

/* Profiling (wm bench text): with a mark function set, forward calls fn(ctx, stage) before each group of
 * ops, so a benchmark can put device events there and charge the time to the stages. NULL = off. */
typedef enum wm_gemma_stage {
    WM_GEMMA_INPUTS, WM_GEMMA_NORMS, WM_GEMMA_QKV, WM_GEMMA_ROPE, WM_GEMMA_ATTENTION, WM_GEMMA_OPROJ,
    WM_GEMMA_GATE_UP, WM_GEMMA_GELU_MUL, WM_GEMMA_DOWN, WM_GEMMA_RESIDUAL, WM_GEMMA_OUTPUT, WM_GEMMA_N_STAGES
} wm_gemma_stage;
typedef wm_status (*wm_gemma_mark_fn)(void *ctx, int stage);
void wm_gemma_set_profiler(wm_gemma *g, wm_gemma_mark_fn fn, void *ctx);
/* Switch between the fused and the separate-GEMM forward on a live encoder (benchmarks compare both). */
void wm_gemma_set_unfused(wm_gemma *g, int unfused);
/* Stage names ("inputs", "norms", ...) for reports. */
const char *wm_gemma_stage_name(int stage);

#endif
