/* Gemma-2 weights: checkpoint key resolution, shape checks and conversion into backend tensors.
 *
 * A layer "slot" holds the 11 tensors of one decoder layer in the backend's storage dtype (fp32 on the
 * CPU, bf16 on CUDA; the four norm weights always fp32 and already turned into 1 + w). Resident mode
 * keeps one slot per layer filled at load; streamed mode keeps one slot and refills it before each
 * layer runs, which trades ~0.1 s of conversion per layer for 10 GB less memory on the CPU.
 */
#include "wm/text/gemma_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const wm_ckpt_entry *wm__gemma_find(const wm_gemma *g, const char *key, char *full, size_t cap)
{
    /* Gemma2ForCausalLM files use "model.layers...", Sana's text_encoder (a Gemma2Model) "layers..." */
    const char *prefixes[2] = {"", "model."};
    for (int i = 0; i < 2; i++) {
        snprintf(full, cap, "%s%s", prefixes[i], key);
        const wm_ckpt_entry *e = wm_checkpoint_find(g->ck, full);
        if (e) return e;
    }
    snprintf(full, cap, "%s", key);
    return NULL;
}

/* Read `key` with the expected 1-D or 2-D shape as fp32 into host scratch. */
static wm_status read_host(wm_gemma *g, const char *key, int64_t rows, int64_t cols, wm_error *err)
{
    char full[256];
    const wm_ckpt_entry *e = wm__gemma_find(g, key, full, sizeof full);
    if (!e) return wm__errf(err, WM_ERR_NOT_FOUND, "%s: tensor '%s' not found (also tried 'model.%s')",
                            wm_checkpoint_path(g->ck), key, key);
    size_t n = (size_t)(rows * (cols > 0 ? cols : 1));
    if (n > g->host_cap) {
        float *p = realloc(g->host, n * sizeof(float));
        if (!p) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory reading '%s'", key);
        g->host = p;
        g->host_cap = n;
    }
    int64_t shape[2] = {rows, cols};
    return wm_checkpoint_read_f32(g->ck, full, cols > 0 ? 2 : 1, shape, g->host, err);
}

/* Host fp32 scratch -> tensor t (already allocated in backend memory with its dtype). */
static wm_status store(wm_gemma *g, wm_tensor *t, wm_error *err)
{
    size_t n = (size_t)wm_tensor_numel(t);
    if (t->dtype == WM_F32) {
        wm_status st = wm_backend_upload(g->be, t->data, g->host, n * sizeof(float));
        return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: upload failed: %s", g->be->err.msg);
    }
    uint16_t *tmp = malloc(n * sizeof(uint16_t));
    if (!tmp) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "gemma: out of memory");
    wm_convert_from_f32(t->dtype, g->host, tmp, n);
    wm_status st = wm_backend_upload(g->be, t->data, tmp, n * sizeof(uint16_t));
    free(tmp);
    return st == WM_OK ? WM_OK : wm__errf(err, st, "gemma: upload failed: %s", g->be->err.msg);
}

wm_status wm__gemma_alloc(wm_gemma *g, wm_dtype dt, int64_t rows, int64_t cols, wm_tensor *t, wm_error *err)
{
    void *p = NULL;
    size_t bytes = (size_t)(rows * cols) * wm_dtype_size(dt);
    wm_status st = wm_backend_malloc(g->be, bytes, &p);
    if (st != WM_OK) return wm__errf(err, st, "gemma: cannot allocate %zu bytes on %s", bytes, wm_backend_name(g->be));
    *t = wm_tensor_view4(dt, g->be->device, p, cols > 1 ? 2 : 1, cols > 1 ? rows : rows * cols, cols, 0, 0);
    return WM_OK;
}

static wm_status load_norm(wm_gemma *g, const char *key, wm_tensor *t, wm_error *err)
{
    WM_TRY(read_host(g, key, g->cfg.hidden, 0, err));
    for (int i = 0; i < g->cfg.hidden; i++) g->host[i] += 1.0f; /* Gemma's RMSNorm scales by (1 + w) */
    return store(g, t, err);
}

static wm_status load_matrix(wm_gemma *g, const char *key, wm_tensor *t, wm_error *err)
{
    WM_TRY(read_host(g, key, t->shape[0], t->shape[1], err));
    return store(g, t, err);
}

wm_status wm__gemma_slot_alloc(wm_gemma *g, gemma_layer *s, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    int64_t C = c->hidden, Q = (int64_t)c->n_heads * c->head_dim, K = (int64_t)c->n_kv_heads * c->head_dim;
    wm_tensor *norms[4] = {&s->in_norm, &s->post_attn, &s->pre_ffn, &s->post_ffn};
    for (int i = 0; i < 4; i++) WM_TRY(wm__gemma_alloc(g, WM_F32, C, 1, norms[i], err));
    WM_TRY(wm__gemma_alloc(g, g->wdt, Q + 2 * K, C, &s->qkv, err));
    WM_TRY(wm__gemma_alloc(g, g->wdt, 2 * (int64_t)c->ffn, C, &s->gu, err));
    size_t es = wm_dtype_size(g->wdt);
    char *qkv = s->qkv.data, *gu = s->gu.data;
    s->q = wm_tensor_view4(g->wdt, g->be->device, qkv, 2, Q, C, 0, 0); /* row blocks of the fused weights */
    s->k = wm_tensor_view4(g->wdt, g->be->device, qkv + (size_t)(Q * C) * es, 2, K, C, 0, 0);
    s->v = wm_tensor_view4(g->wdt, g->be->device, qkv + (size_t)((Q + K) * C) * es, 2, K, C, 0, 0);
    s->gate = wm_tensor_view4(g->wdt, g->be->device, gu, 2, c->ffn, C, 0, 0);
    s->up = wm_tensor_view4(g->wdt, g->be->device, gu + (size_t)c->ffn * (size_t)C * es, 2, c->ffn, C, 0, 0);
    WM_TRY(wm__gemma_alloc(g, g->wdt, C, Q, &s->o, err));
    return wm__gemma_alloc(g, g->wdt, C, c->ffn, &s->down, err);
}

void wm__gemma_slot_free(wm_gemma *g, gemma_layer *s)
{
    wm_tensor *all[8] = {&s->in_norm, &s->post_attn, &s->pre_ffn, &s->post_ffn, &s->qkv, &s->gu, &s->o, &s->down};
    for (int i = 0; i < 8; i++) {
        if (all[i]->data) wm_backend_mfree(g->be, all[i]->data);
        all[i]->data = NULL;
    }
}

wm_status wm__gemma_slot_load(wm_gemma *g, gemma_layer *s, int layer, wm_error *err)
{
    char key[128];
#define LKEY(suffix) (snprintf(key, sizeof key, "layers.%d.%s", layer, suffix), key)
    WM_TRY(load_norm(g, LKEY("input_layernorm.weight"), &s->in_norm, err));
    WM_TRY(load_norm(g, LKEY("post_attention_layernorm.weight"), &s->post_attn, err));
    WM_TRY(load_norm(g, LKEY("pre_feedforward_layernorm.weight"), &s->pre_ffn, err));
    WM_TRY(load_norm(g, LKEY("post_feedforward_layernorm.weight"), &s->post_ffn, err));
    WM_TRY(load_matrix(g, LKEY("self_attn.q_proj.weight"), &s->q, err));
    WM_TRY(load_matrix(g, LKEY("self_attn.k_proj.weight"), &s->k, err));
    WM_TRY(load_matrix(g, LKEY("self_attn.v_proj.weight"), &s->v, err));
    WM_TRY(load_matrix(g, LKEY("self_attn.o_proj.weight"), &s->o, err));
    WM_TRY(load_matrix(g, LKEY("mlp.gate_proj.weight"), &s->gate, err));
    WM_TRY(load_matrix(g, LKEY("mlp.up_proj.weight"), &s->up, err));
    WM_TRY(load_matrix(g, LKEY("mlp.down_proj.weight"), &s->down, err));
#undef LKEY
    s->loaded_layer = layer;
    return WM_OK;
}

wm_status wm__gemma_load_globals(wm_gemma *g, wm_error *err)
{
    char full[256];
    const wm_gemma_config *c = &g->cfg;
    g->embed = wm__gemma_find(g, "embed_tokens.weight", full, sizeof full);
    if (!g->embed)
        return wm__errf(err, WM_ERR_NOT_FOUND, "%s: tensor 'embed_tokens.weight' not found (also tried "
                        "'model.embed_tokens.weight')", wm_checkpoint_path(g->ck));
    if (g->embed->ndim != 2 || g->embed->shape[0] != c->vocab_size || g->embed->shape[1] != c->hidden)
        return wm__errf(err, WM_ERR_SHAPE, "%s: '%s' is not (%d, %d)", wm_checkpoint_path(g->ck), full,
                        c->vocab_size, c->hidden);
    if (!wm_dtype_is_float(g->embed->dtype) || g->embed->dtype == WM_F8E4M3)
        return wm__errf(err, WM_ERR_DTYPE, "%s: '%s' has dtype %s", wm_checkpoint_path(g->ck), full,
                        wm_dtype_name(g->embed->dtype));
    WM_TRY(wm__gemma_alloc(g, WM_F32, c->hidden, 1, &g->final_norm, err));
    return load_norm(g, "norm.weight", &g->final_norm, err);
}

wm_status wm__gemma_check_layer(wm_gemma *g, int layer, wm_error *err)
{
    const wm_gemma_config *c = &g->cfg;
    int64_t C = c->hidden, Q = (int64_t)c->n_heads * c->head_dim, K = (int64_t)c->n_kv_heads * c->head_dim;
    static const char *names[11] = {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                                    "post_feedforward_layernorm", "self_attn.q_proj", "self_attn.k_proj",
                                    "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                    "mlp.down_proj"};
    int64_t shapes[11][2] = {{C, 0}, {C, 0}, {C, 0}, {C, 0}, {Q, C}, {K, C}, {K, C}, {C, Q}, {c->ffn, C},
                             {c->ffn, C}, {C, c->ffn}};
    for (int i = 0; i < 11; i++) {
        char key[128], full[256];
        snprintf(key, sizeof key, "layers.%d.%s.weight", layer, names[i]);
        const wm_ckpt_entry *e = wm__gemma_find(g, key, full, sizeof full);
        if (!e) return wm__errf(err, WM_ERR_NOT_FOUND, "%s: tensor '%s' not found", wm_checkpoint_path(g->ck), key);
        int nd = shapes[i][1] ? 2 : 1;
        if (e->ndim != nd || e->shape[0] != shapes[i][0] || (nd == 2 && e->shape[1] != shapes[i][1]))
            return wm__errf(err, WM_ERR_SHAPE, "%s: tensor '%s' has the wrong shape for this config.json",
                            wm_checkpoint_path(g->ck), full);
        if (!wm_dtype_is_float(e->dtype))
            return wm__errf(err, WM_ERR_DTYPE, "%s: tensor '%s' is %s", wm_checkpoint_path(g->ck), full,
                            wm_dtype_name(e->dtype));
    }
    return WM_OK;
}
