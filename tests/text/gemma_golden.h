/* gemma_golden.h -- the small Gemma-2 golden case (tests/golden/text/gemma_golden.safetensors, made by
 * tools/golden/gen_text_golden.py): token ids and mask of one padded sequence, every layer's input and the
 * last_hidden_state of the float64 reference. Shared by the CPU test (test_gemma) and the CUDA test
 * (test_text_cuda) so both read the file the same way. Header-only; tests run from the repository root.
 */
#ifndef WM_TESTS_GEMMA_GOLDEN_H
#define WM_TESTS_GEMMA_GOLDEN_H

#include "wm/io/checkpoint.h"

#include <stdio.h>
#include <string.h>

#define GOLDEN "tests/golden/text/"

typedef struct golden { int T, L, C; int32_t ids[64]; uint8_t mask[64]; float *layers, *out; } golden;

/* 0 on success (layers/out malloc'd fp32), -1 with a message. */
static int load_golden(golden *g)
{
    wm_checkpoint *ck = NULL;
    wm_error err = {0};
    if (wm_checkpoint_open(GOLDEN "gemma_golden.safetensors", &ck, &err) != WM_OK) {
        fprintf(stderr, "%s (run from the repository root)\n", err.msg);
        return -1;
    }
    const wm_ckpt_entry *ids = wm_checkpoint_find(ck, "ids"), *mask = wm_checkpoint_find(ck, "mask"),
                        *layers = wm_checkpoint_find(ck, "layers");
    int ok = ids && mask && layers && ids->shape[0] <= 64;
    if (ok) {
        g->T = (int)ids->shape[0];
        g->L = (int)layers->shape[0];
        g->C = (int)layers->shape[2];
        for (int t = 0; t < g->T; t++) {
            int64_t v; /* safetensors data need not be 8-byte aligned */
            memcpy(&v, (const char *)ids->data + 8 * t, 8);
            g->ids[t] = (int32_t)v;
            g->mask[t] = ((const uint8_t *)mask->data)[t];
        }
    }
    wm_tensor tl = {0}, to = {0};
    ok = ok && wm_checkpoint_load_f32(ck, "layers", &tl, &err) == WM_OK &&
         wm_checkpoint_load_f32(ck, "out", &to, &err) == WM_OK;
    g->layers = tl.data;
    g->out = to.data;
    wm_checkpoint_close(ck);
    if (!ok) fprintf(stderr, "gemma_golden.safetensors: missing or malformed ids/mask/layers/out (%s)\n", err.msg);
    return ok ? 0 : -1;
}

#endif
