/* Gemma-2 encoder: load and forward (see gemma.h for the design).
 *
 * Forward, per decoder layer i (x is the residual stream, (T, C)):
 *     a = norm_in(x); q, k, v = a Wq^T, a Wk^T, a Wv^T; rotate-half RoPE on q and k
 *     att = attention_gqa(q, k, v; causal, key mask, soft-cap, window if i is even)
 *     x += norm_post_attn(att Wo^T)
 *     a = norm_pre_ffn(x); x += norm_post_ffn((gelu_tanh(a Wg^T) * a Wu^T) Wd^T)
 * then out = norm_final(x). Every step is an op of kernels/ops.h, so the same code drives CPU and CUDA.
 * By default q/k/v come from ONE GEMM against the row-stacked [Wq; Wk; Wv] (split and rotated by
 * qkv_rope_split) and gate/up from one GEMM against [Wg; Wu] (combined by gelu_mul): at ~300 tokens the
 * separate GEMMs are too small to fill an H100 (a 300 x 1024 output is ~24 tiles for 132 SMs), so
 * fewer, wider GEMMs and fewer launches are faster. unfused = 1 (or WM_TEXT_UNFUSED=1) keeps the
 * separate-GEMM forward; both read the same weights (the separate matrices are views of the stacked ones).
 */
#include "wm/text/gemma_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static wm_status alloc_act(wm_gemma *g, wm_dtype dt, int64_t rows, int64_t cols, wm_tensor *t, wm_error *err)
{
    void *p = NULL;
    size_t bytes = (size_t)(rows * cols) * wm_dtype_size(dt);
    wm_status st = wm_backend_malloc(g->be, bytes, &p);
    if (st != WM_OK) return wm__errf(err, st, "gemma: cannot allocate %zu bytes of activations", bytes);
    *t = wm_tensor_view4(dt, g->be->device, p, 2, rows, cols, 0, 0);
    return WM_OK;
}

/* Rotate-half RoPE tables for positions 0..max_tokens-1 (angle pos * theta^(-2i/D), in double, rounded
 * once to fp32), uploaded once: forward() uses their first T rows, as positions do not depend on T. */
static wm_status rope_tables(wm_gemma *g, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    int64_t T = g->max_tokens, half = c->head_dim / 2;
    float *cs = malloc(sizeof(float) * (size_t)(2 * T * half)), *sn = cs ? cs + T * half : NULL;
    if (!cs) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            double ang = (double)t * pow((double)c->rope_theta, -2.0 * (double)i / c->head_dim);
            cs[t * half + i] = (float)cos(ang);
            sn[t * half + i] = (float)sin(ang);
        }
    wm_status st = wm_backend_upload(g->be, g->cos.data, cs, sizeof(float) * (size_t)(T * half));
    if (st == WM_OK) st = wm_backend_upload(g->be, g->sin.data, sn, sizeof(float) * (size_t)(T * half));
    free(cs);
    return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: upload failed: %s", g->be->err.msg);
}

static wm_status alloc_activations(wm_gemma *g, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    int64_t T = g->max_tokens, Q = (int64_t)c->n_heads * c->head_dim, K = (int64_t)c->n_kv_heads * c->head_dim;
    g->stage = malloc(sizeof(float) * (size_t)(T * c->hidden));
    g->stage16 = malloc(sizeof(uint16_t) * (size_t)(T * c->hidden));
    g->hids = malloc(sizeof(int32_t) * (size_t)T);
    if (!g->stage || !g->stage16 || !g->hids) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    WM_TRY(alloc_act(g, g->adt, T, c->hidden, &g->x, err));
    WM_TRY(alloc_act(g, g->adt, T, c->hidden, &g->a, err));
    WM_TRY(alloc_act(g, g->adt, T, Q, &g->q, err));
    WM_TRY(alloc_act(g, g->adt, T, K, &g->k, err));
    WM_TRY(alloc_act(g, g->adt, T, K, &g->v, err));
    WM_TRY(alloc_act(g, g->adt, T, Q, &g->att, err));
    WM_TRY(alloc_act(g, g->adt, T, c->ffn, &g->f1, err));
    WM_TRY(alloc_act(g, g->adt, T, Q + 2 * K, &g->qkv_out, err));
    WM_TRY(alloc_act(g, g->adt, T, 2 * (int64_t)c->ffn, &g->gu_out, err));
    g->f2 = wm_tensor_view4(g->adt, g->be->device, g->gu_out.data, 2, T, c->ffn, 0, 0); /* separate-GEMM path */
    WM_TRY(alloc_act(g, WM_F32, T, c->head_dim / 2, &g->cos, err));
    WM_TRY(alloc_act(g, WM_F32, T, c->head_dim / 2, &g->sin, err));
    WM_TRY(alloc_act(g, WM_U8, T, 1, &g->mask, err));
    WM_TRY(alloc_act(g, WM_I32, T, 1, &g->ids_dev, err));
    if (g->adt != WM_F32) WM_TRY(alloc_act(g, WM_F32, T, c->hidden, &g->outf, err));
    if (g->embed) { /* the checkpoint's dtype when the activations use it (a plain copy), else fp32 */
        wm_dtype et = g->embed->dtype == g->adt ? g->adt : WM_F32;
        WM_TRY(alloc_act(g, et, T, c->hidden, &g->erows, err));
    }
    return rope_tables(g, err);
}

static wm_status resolve_config(const char *dir, char *path, size_t cap, wm_error *err)
{
    struct stat st;
    snprintf(path, cap, "%s/config.json", dir);
    if (stat(path, &st) != 0) return wm__errf(err, WM_ERR_NOT_FOUND, "%s: no config.json (a Gemma-2 text encoder "
                                              "folder holds config.json and model*.safetensors)", dir);
    return WM_OK;
}

/* WM_TEXT_UNFUSED=1 in the environment selects the separate-GEMM forward (read once, here). */
static int want_unfused(const wm_gemma_params *p)
{
    const char *e = getenv("WM_TEXT_UNFUSED");
    return (p && p->unfused) || (e && !strcmp(e, "1"));
}

static wm_status gemma_init(wm_gemma *g, const char *dir, const wm_gemma_params *p, wm_error *err)
{
    char cfg_path[1100];
    WM_TRY(resolve_config(dir, cfg_path, sizeof cfg_path, err));
    WM_TRY(wm_gemma_config_load(cfg_path, &g->cfg, err));
    WM_TRY(wm_checkpoint_open(dir, &g->ck, err));
    int cuda = g->be->kind == WM_BACKEND_CUDA && !(p && p->fp32);
    g->wdt = cuda ? WM_BF16 : WM_F32;
    g->adt = cuda ? WM_BF16 : WM_F32;
    g->streamed = p && p->weights ? p->weights == 2 : !cuda;
    g->unfused = want_unfused(p);
    g->max_tokens = p && p->max_tokens > 0 ? p->max_tokens : 1024;
    WM_TRY(wm__gemma_load_globals(g, err));
    g->n_slots = g->streamed ? 1 : g->cfg.n_layers;
    g->slots = calloc((size_t)g->n_slots, sizeof(gemma_layer));
    if (!g->slots) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    for (int i = 0; i < g->n_slots; i++) {
        g->slots[i].loaded_layer = -1;
        WM_TRY(wm__gemma_slot_alloc(g, &g->slots[i], err));
        if (!g->streamed) WM_TRY(wm__gemma_slot_load(g, &g->slots[i], i, err));
    }
    /* In streamed mode still check now that every layer's tensors exist with the right shapes and dtypes,
     * so a truncated checkpoint fails at load rather than halfway through the first prompt. */
    for (int i = 0; g->streamed && i < g->cfg.n_layers; i++) WM_TRY(wm__gemma_check_layer(g, i, err));
    return alloc_activations(g, err);
}

wm_status wm_gemma_load(wm_backend *be, const char *dir, const wm_gemma_params *p, wm_gemma **out, wm_error *err)
{
    *out = NULL;
    if (!be || !dir) return wm__errf(err, WM_ERR_INVALID_ARG, "gemma: backend and directory are required");
    wm_gemma *g = calloc(1, sizeof *g);
    if (!g) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    g->be = be;
    wm_status st = gemma_init(g, dir, p, err);
    if (st != WM_OK) { wm_gemma_free(g); return st; }
    *out = g;
    return WM_OK;
}

static wm_status random_init(wm_gemma *g, const wm_gemma_config *cfg, const wm_gemma_params *p, wm_error *err)
{
    g->cfg = *cfg;
    if (cfg->hidden <= 0 || cfg->n_layers <= 0 || cfg->n_heads <= 0 || cfg->n_kv_heads <= 0 || cfg->head_dim <= 1 ||
        cfg->ffn <= 0 || cfg->vocab_size <= 0 || cfg->n_heads % cfg->n_kv_heads || cfg->head_dim % 2)
        return wm__errf(err, WM_ERR_INVALID_ARG, "gemma: inconsistent config for a random encoder");
    int cuda = g->be->kind == WM_BACKEND_CUDA && !(p && p->fp32);
    g->wdt = g->adt = cuda ? WM_BF16 : WM_F32;
    g->unfused = want_unfused(p);
    g->max_tokens = p && p->max_tokens > 0 ? p->max_tokens : 1024;
    g->n_slots = cfg->n_layers;
    g->slots = calloc((size_t)g->n_slots, sizeof(gemma_layer));
    if (!g->slots) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    WM_TRY(wm__gemma_alloc(g, WM_F32, cfg->hidden, 1, &g->final_norm, err));
    for (int i = 0; i < g->n_slots; i++) WM_TRY(wm__gemma_slot_alloc(g, &g->slots[i], err));
    WM_TRY(wm__gemma_fill_random(g, err));
    WM_TRY(wm__gemma_random_table(g, err));
    return alloc_activations(g, err);
}

wm_status wm_gemma_init_random(wm_backend *be, const wm_gemma_config *cfg, const wm_gemma_params *p, uint64_t seed,
                               wm_gemma **out, wm_error *err)
{
    *out = NULL;
    if (!be || !cfg) return wm__errf(err, WM_ERR_INVALID_ARG, "gemma: backend and config are required");
    wm_gemma *g = calloc(1, sizeof *g);
    if (!g) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    g->be = be;
    g->seed = seed;
    wm_status st = random_init(g, cfg, p, err);
    if (st != WM_OK) { wm_gemma_free(g); return st; }
    *out = g;
    return WM_OK;
}

void wm_gemma_free(wm_gemma *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_slots; i++) wm__gemma_slot_free(g, &g->slots[i]);
    free(g->slots);
    wm_tensor *acts[17] = {&g->x, &g->a, &g->q, &g->k, &g->v, &g->att, &g->f1, &g->qkv_out, &g->gu_out, &g->cos,
                           &g->sin, &g->mask, &g->final_norm, &g->erows, &g->rtable, &g->ids_dev, &g->outf};
    for (int i = 0; i < 17; i++) if (acts[i]->data) wm_backend_mfree(g->be, acts[i]->data);
    wm_checkpoint_close(g->ck);
    free(g->host);
    free(g->stage);
    free(g->stage16);
    free(g->hids);
    free(g);
}

const wm_gemma_config *wm_gemma_get_config(const wm_gemma *g) { return &g->cfg; }

void wm_gemma_set_unfused(wm_gemma *g, int unfused) { g->unfused = unfused != 0; }

void wm_gemma_set_profiler(wm_gemma *g, wm_gemma_mark_fn fn, void *ctx)
{
    g->prof = fn;
    g->prof_ctx = ctx;
}

const char *wm_gemma_stage_name(int stage)
{
    static const char *names[WM_GEMMA_N_STAGES] = {"inputs (host + upload)", "norms (+ fused adds)", "q/k/v GEMM(s)",
                                                   "rope (+ q/k/v split)", "attention_gqa", "o GEMM",
                                                   "gate/up GEMM(s)", "gelu * up", "down GEMM",
                                                   "residual adds (separate)", "final norm + download"};
    return stage >= 0 && stage < WM_GEMMA_N_STAGES ? names[stage] : "?";
}

/* Rows [0, T) of a max_tokens activation buffer, as a (T, cols) tensor. */
static wm_tensor rows(const wm_tensor *t, int T)
{
    return wm_tensor_view4(t->dtype, t->device, t->data, 2, T, t->shape[1], 0, 0);
}

/* n <= max_tokens * hidden elements of src -> host fp32 */
static wm_status download_f32(wm_gemma *g, const wm_tensor *src, float *dst, size_t n)
{
    if (src->dtype == WM_F32) return wm_backend_download(g->be, dst, src->data, n * sizeof(float));
    wm_status st = wm_backend_download(g->be, g->stage16, src->data, n * sizeof(uint16_t));
    if (st == WM_OK) wm_convert_to_f32(src->dtype, g->stage16, dst, n);
    return st;
}

/* Host side of the embedding: the prompt's rows gathered from the checkpoint mapping into erows (one
 * upload; a plain copy when the checkpoint holds the activation dtype), or ids mod R for the random
 * encoder's table; ids and mask uploaded. Returns the table embed_rows reads. */
static wm_status stage_embedding(wm_gemma *g, const int32_t *ids, int T, wm_tensor *table, wm_error *err)
{
    int64_t C = g->cfg.hidden;
    wm_status st = WM_OK;
    if (g->embed) {
        size_t esz = wm_dtype_size(g->embed->dtype), row = (size_t)C * esz;
        for (int t = 0; t < T; t++) {
            const char *src = (const char *)g->embed->data + (size_t)ids[t] * row;
            if (g->erows.dtype == g->embed->dtype) memcpy((char *)g->stage + (size_t)t * row, src, row);
            else wm_convert_to_f32(g->embed->dtype, src, g->stage + (size_t)t * C, (size_t)C);
            g->hids[t] = t;
        }
        *table = rows(&g->erows, T);
        st = wm_backend_upload(g->be, g->erows.data, g->stage, wm_tensor_nbytes(table));
    } else {
        int64_t R = wm_tensor_rows(&g->rtable);
        for (int t = 0; t < T; t++) g->hids[t] = (int32_t)(ids[t] % R);
        *table = g->rtable;
    }
    if (st == WM_OK) st = wm_backend_upload(g->be, g->ids_dev.data, g->hids, sizeof(int32_t) * (size_t)T);
    return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: upload failed: %s", g->be->err.msg);
}

/* x(T, C) = embed[ids] * sqrt(C) on the backend (embed_rows op); the mask uploaded too. HF multiplies by
 * a normaliser tensor of the activation dtype: sqrt(C) is rounded to it and the product rounded once. */
static wm_status prepare_inputs(wm_gemma *g, const int32_t *ids, const uint8_t *mask, int T, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= c->vocab_size)
            return wm__errf(err, WM_ERR_INVALID_ARG, "gemma: token id %d at position %d outside [0, %d)", (int)ids[t],
                            t, c->vocab_size);
    wm_tensor table;
    WM_TRY(stage_embedding(g, ids, T, &table, err));
    wm_status st = wm_backend_upload(g->be, g->mask.data, mask, (size_t)T);
    if (st != WM_OK) return wm__errf(err, st, "gemma: upload failed: %s", g->be->err.msg);
    float norm = g->adt == WM_F32 ? sqrtf((float)c->hidden) : wm_round_bf16(sqrtf((float)c->hidden));
    wm_tensor x = rows(&g->x, T), idt = wm_tensor_view4(WM_I32, g->ids_dev.device, g->ids_dev.data, 1, T, 0, 0, 0);
    st = wm_embed_rows(g->be, &table, &idt, norm, &x);
    return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: embedding: %s", g->be->err.msg);
}

#define OP(call)                                                                                   \
    do {                                                                                           \
        wm_status op_st = (call);                                                                  \
        if (op_st != WM_OK) return wm__errf(err, op_st, "gemma layer %d: %s", li, g->be->err.msg); \
    } while (0)
/* a profiling mark (stage s) before the op */
#define OPS(s, call)                                                                               \
    do {                                                                                           \
        if (g->prof) OP(g->prof(g->prof_ctx, (s)));                                               \
        OP(call);                                                                                  \
    } while (0)

/* Attention half of layer li through the residual add; a = norm_in(x) on entry, a = norm_pre_ffn(x) on
 * exit. */
static wm_status attention_block(wm_gemma *g, const gemma_layer *w, int li, int T, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    wm_backend *be = g->be;
    wm_tensor x = rows(&g->x, T), a = rows(&g->a, T), q = rows(&g->q, T), k = rows(&g->k, T), v = rows(&g->v, T);
    wm_tensor att = rows(&g->att, T), cs = rows(&g->cos, T), sn = rows(&g->sin, T), qkv = rows(&g->qkv_out, T);
    wm_tensor mask = wm_tensor_view4(WM_U8, g->mask.device, g->mask.data, 1, T, 0, 0, 0);
    int window = li % 2 == 0 ? c->sliding_window : 0; /* Gemma-2: even layers are the sliding ones */
    if (g->unfused) {
        OPS(WM_GEMMA_QKV, wm_matmul(be, &a, &w->q, NULL, WM_ACT_NONE, &q)); /* (T, H*D) */
        OP(wm_matmul(be, &a, &w->k, NULL, WM_ACT_NONE, &k));                 /* (T, Hkv*D) */
        OP(wm_matmul(be, &a, &w->v, NULL, WM_ACT_NONE, &v));
        OPS(WM_GEMMA_ROPE, wm_rope_half(be, &q, &cs, &sn, c->n_heads, &q));
        OP(wm_rope_half(be, &k, &cs, &sn, c->n_kv_heads, &k));
    } else {
        OPS(WM_GEMMA_QKV, wm_matmul(be, &a, &w->qkv, NULL, WM_ACT_NONE, &qkv)); /* (T, (H + 2 Hkv) D) */
        OPS(WM_GEMMA_ROPE, wm_qkv_rope_split(be, &qkv, &cs, &sn, c->n_heads, c->n_kv_heads, &q, &k, &v));
    }
    OPS(WM_GEMMA_ATTENTION, wm_attention_gqa(be, &q, &k, &v, &mask, c->n_heads, c->n_kv_heads, c->query_scale,
                                             c->attn_softcap, window, &att)); /* (T, H*D) */
    OPS(WM_GEMMA_OPROJ, wm_matmul(be, &att, &w->o, NULL, WM_ACT_NONE, &a)); /* (T, C) */
    if (g->unfused) {
        OPS(WM_GEMMA_NORMS, wm_rmsnorm(be, &a, &w->post_attn, c->eps, &a));
        OPS(WM_GEMMA_RESIDUAL, wm_gated_add(be, &x, &a, NULL, T));           /* x += a */
        OPS(WM_GEMMA_NORMS, wm_rmsnorm(be, &x, &w->pre_ffn, c->eps, &a));
    } else { /* x += norm_post_attn(a); a = norm_pre_ffn(x) */
        OPS(WM_GEMMA_NORMS, wm_norm_add_norm(be, &x, &a, &w->post_attn, &w->pre_ffn, c->eps, &a));
    }
    return WM_OK;
}

/* Where last_hidden_state goes: the fp32 buffer (bf16 activations) or a. */
static wm_tensor out_rows(const wm_gemma *g, int T) { return rows(g->outf.data ? &g->outf : &g->a, T); }

/* The norm applied to x after layer li: the next layer's input norm, or the final norm after the last
 * layer; NULL when that weight is not loaded (streamed mode keeps one layer at a time). */
static const wm_tensor *next_norm(const wm_gemma *g, int li)
{
    if (li + 1 == g->cfg.n_layers) return &g->final_norm;
    return g->streamed ? NULL : &g->slots[li + 1].in_norm;
}

/* Layer li on x. *a_ready: on entry, a already holds norm_in(x) (the previous layer's fused step); on
 * exit, a holds next_norm(x) (fused path) or not. */
static wm_status run_layer(wm_gemma *g, const gemma_layer *w, int li, int T, int *a_ready, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    wm_backend *be = g->be;
    wm_tensor x = rows(&g->x, T), a = rows(&g->a, T), f1 = rows(&g->f1, T), f2 = rows(&g->f2, T),
              gu = rows(&g->gu_out, T);
    if (!*a_ready) OPS(WM_GEMMA_NORMS, wm_rmsnorm(be, &x, &w->in_norm, c->eps, &a)); /* (T, C) */
    WM_TRY(attention_block(g, w, li, T, err));
    if (g->unfused) {
        OPS(WM_GEMMA_GATE_UP, wm_matmul(be, &a, &w->gate, NULL, WM_ACT_GELU_TANH, &f1)); /* (T, F) */
        OP(wm_matmul(be, &a, &w->up, NULL, WM_ACT_NONE, &f2));
        OPS(WM_GEMMA_GELU_MUL, wm_mul(be, &f1, &f2, &f1));
    } else {
        OPS(WM_GEMMA_GATE_UP, wm_matmul(be, &a, &w->gu, NULL, WM_ACT_NONE, &gu)); /* (T, 2F) */
        OPS(WM_GEMMA_GELU_MUL, wm_gelu_mul(be, &gu, &f1));                       /* (T, F) */
    }
    OPS(WM_GEMMA_DOWN, wm_matmul(be, &f1, &w->down, NULL, WM_ACT_NONE, &a)); /* (T, C) */
    const wm_tensor *nn = g->unfused ? NULL : next_norm(g, li);
    *a_ready = nn != NULL;
    if (nn) { /* x += norm_post_ffn(a); a = next_norm(x) (the output buffer after the last layer) */
        wm_tensor y = li + 1 == c->n_layers ? out_rows(g, T) : a;
        OPS(WM_GEMMA_NORMS, wm_norm_add_norm(be, &x, &a, &w->post_ffn, nn, c->eps, &y));
    } else {
        OPS(WM_GEMMA_NORMS, wm_rmsnorm(be, &a, &w->post_ffn, c->eps, &a));
        OPS(WM_GEMMA_RESIDUAL, wm_gated_add(be, &x, &a, NULL, T));
    }
    return WM_OK;
}

wm_status wm_gemma_forward(wm_gemma *g, const int32_t *ids, const uint8_t *mask, int T, float *out, float *layers,
                           wm_error *err)
{
    if (T <= 0 || T > g->max_tokens)
        return wm__errf(err, WM_ERR_LIMIT, "gemma: %d tokens; this encoder was set up for 1..%d", T, g->max_tokens);
    const wm_gemma_config *c = &g->cfg;
    size_t TC = (size_t)T * c->hidden;
    int li = -1, a_ready = 0;
    if (g->prof) OP(g->prof(g->prof_ctx, WM_GEMMA_INPUTS));
    WM_TRY(prepare_inputs(g, ids, mask, T, err));
    for (li = 0; li < c->n_layers; li++) {
        gemma_layer *w = &g->slots[g->streamed ? 0 : li];
        if (w->loaded_layer != li) WM_TRY(wm__gemma_slot_load(g, w, li, err));
        if (layers) WM_TRY(download_f32(g, &g->x, layers + (size_t)li * TC, TC));
        WM_TRY(run_layer(g, w, li, T, &a_ready, err));
    }
    if (layers) WM_TRY(download_f32(g, &g->x, layers + (size_t)c->n_layers * TC, TC));
    wm_tensor x = rows(&g->x, T), o = out_rows(g, T);
    li = c->n_layers;
    if (g->prof) OP(g->prof(g->prof_ctx, WM_GEMMA_OUTPUT));
    if (!a_ready) OP(wm_rmsnorm(g->be, &x, &g->final_norm, c->eps, &o)); /* else the last layer applied it */
    wm_status st = download_f32(g, &o, out, TC);
    return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: download failed: %s", g->be->err.msg);
}
