/* prompt.c -- the session's text conditioning: prompt text through the model's Gemma-2 encoder and
 * per-prompt cache (wm/text), a precomputed embedding file from `wm encode-text`, or the zero embedding.
 *
 * The zero embedding (y = 0, every token valid) is the fallback when a model has no text encoder and
 * no prompt is given: cross-attention then sees the y_embedder's constant output, which is finite and
 * prompt-free. It is logged at WARN because the released model was never trained on it.
 */
#include "wm/session/session_internal.h"

#include "wm/io/checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

wm_status wm_session_set_embedding(wm_session *s, const float *y, const uint8_t *mask, int L, wm_error *err)
{
    if (!y || L != s->L)
        return wm__errf(err, WM_ERR_SHAPE, "prompt embedding: %d tokens, the DiT takes %d", L, s->L);
    for (size_t i = 0; i < (size_t)s->L * s->Cy; i++)
        if (!isfinite(y[i])) return wm__errf(err, WM_ERR_INVALID_ARG, "prompt embedding: non-finite value at %zu", i);
    memcpy(s->y, y, (size_t)s->L * s->Cy * 4);
    for (int i = 0; i < s->L; i++) s->mask[i] = mask ? mask[i] != 0 : 1;
    s->has_y = 1;
    return WM_OK;
}

/* The mask as floats: integer masks (encode-text writes I64, like HF's attention_mask) or float ones. */
static wm_status read_mask(const wm_checkpoint *ck, const wm_ckpt_entry *e, int64_t n, float *out, wm_error *err)
{
    int sz = e->dtype == WM_I64 ? 8 : e->dtype == WM_I32 ? 4 : e->dtype == WM_U8 || e->dtype == WM_BOOL || e->dtype == WM_I8 ? 1 : 0;
    if (!sz) return wm_checkpoint_read_f32(ck, e->name, 0, NULL, out, err);
    if (e->nbytes != (size_t)n * (size_t)sz) return wm__errf(err, WM_ERR_SHAPE, "%s: mask has %zu bytes", wm_checkpoint_path(ck), e->nbytes);
    const unsigned char *d = e->data;
    for (int64_t i = 0; i < n; i++) {
        int nz = 0;
        for (int b = 0; b < sz; b++) nz |= d[i * sz + b];
        out[i] = nz ? 1.0f : 0.0f;
    }
    return WM_OK;
}

static wm_status load_embedding(wm_session *s, const char *path, wm_error *err)
{
    wm_checkpoint *ck = NULL;
    WM_TRY(wm_checkpoint_open(path, &ck, err));
    const wm_ckpt_entry *ey = wm_checkpoint_find(ck, "y"), *em = wm_checkpoint_find(ck, "mask");
    wm_status st = WM_OK;
    int64_t ny = 1, nm = 1;
    if (!ey || !em) st = wm__errf(err, WM_ERR_NOT_FOUND, "%s: needs tensors y and mask (wm encode-text)", path);
    for (int i = 0; st == WM_OK && i < ey->ndim; i++) ny *= ey->shape[i];
    for (int i = 0; st == WM_OK && i < em->ndim; i++) nm *= em->shape[i];
    if (st == WM_OK && (ey->ndim < 1 || ey->shape[ey->ndim - 1] != s->Cy || nm != s->L || ny != (int64_t)s->L * s->Cy))
        st = wm__errf(err, WM_ERR_SHAPE, "%s: y must hold (%d, %d) and mask %d values for this DiT", path, s->L, s->Cy, s->L);
    float *y = st == WM_OK ? malloc((size_t)ny * 4) : NULL, *m = st == WM_OK ? malloc((size_t)nm * 4) : NULL;
    uint8_t *mk = st == WM_OK ? malloc((size_t)nm) : NULL;
    if (st == WM_OK && (!y || !m || !mk)) st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (st == WM_OK) st = wm_checkpoint_read_f32(ck, "y", 0, NULL, y, err);
    if (st == WM_OK) st = read_mask(ck, em, nm, m, err);
    for (int64_t i = 0; st == WM_OK && i < nm; i++) mk[i] = m[i] != 0.0f;
    if (st == WM_OK) st = wm_session_set_embedding(s, y, mk, s->L, err);
    free(y), free(m), free(mk);
    wm_checkpoint_close(ck);
    return st;
}

wm_status wm_session_set_prompt(wm_session *s, const char *prompt, wm_error *err)
{
    if (prompt && prompt[0] == '@') return load_embedding(s, prompt + 1, err);
    wm_model *m = s->m;
    if (!m->text) {
        if (prompt && prompt[0])
            return wm__errf(err, WM_ERR_UNSUPPORTED, "prompt \"%.40s\": the model has no text encoder (give text_encoder/, "
                            "or an embedding as \"@file.safetensors\" from wm encode-text)", prompt);
        wm__log(WM_LOG_WARN, "no text encoder and no prompt embedding: using the zero prompt embedding");
        memset(s->y, 0, (size_t)s->L * s->Cy * 4);
        memset(s->mask, 1, (size_t)s->L);
        s->has_y = 1;
        return WM_OK;
    }
    const wm_text_embedding *e = NULL;
    WM_TRY(wm_prompt_cache_get(m->prompts, m->text, prompt ? prompt : "", 1, &e, err));
    if (e->channels != s->Cy)
        return wm__errf(err, WM_ERR_SHAPE, "text encoder: hidden size %d but the DiT's caption channels are %d", e->channels, s->Cy);
    return wm_session_set_embedding(s, e->y, e->mask, e->n_tokens, err);
}

wm_status wm__session_default_prompt(wm_session *s, wm_error *err) { return wm_session_set_prompt(s, NULL, err); }
