/* libFuzzer harness: the restricted unpickler, alone and inside the PyTorch zip reader.
 *
 * Inputs starting with "PK" go through the whole model.pt path (zip directory, local headers, pickle,
 * storage lookup); anything else is fed to the unpickler directly, so mutations of the pickle bytes are
 * not wasted on zip structure. Accepted tensors must point inside the input. Built only with
 * -DWM_FUZZ=ON and clang.
 */
#include "wm/io/checkpoint.h"
#include "wm/io/unpickle.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wm_status check_tensor(void *ctx, const wm_pk_tensor *t, wm_error *err)
{
    (void)ctx; (void)err;
    if (!t->name || !t->storage_key || t->ndim < 0 || t->ndim > WM_MAX_DIMS || t->offset < 0) abort();
    return WM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_error err = {0};
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        wm_checkpoint *ck = NULL;
        if (wm_checkpoint_open_pt_mem(data, size, "fuzz.pt", &ck, &err) != WM_OK) return 0;
        for (int i = 0; i < wm_checkpoint_count(ck); i++) {
            const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
            const uint8_t *p = e->data;
            if (e->nbytes && (p < data || p + e->nbytes > data + size)) abort();
            volatile uint8_t sink = 0;
            for (size_t j = 0; j < e->nbytes; j++) sink ^= p[j];
            (void)sink;
        }
        wm_checkpoint_close(ck);
        return 0;
    }
    wm__unpickle_state_dict(data, size, "fuzz.pkl", check_tensor, NULL, &err);
    return 0;
}
