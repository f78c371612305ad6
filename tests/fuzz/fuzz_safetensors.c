/* libFuzzer harness: the safetensors header parser on arbitrary bytes.
 *
 * The input is a whole file image. Whatever the parser accepts must be internally consistent: every
 * entry's bytes lie inside the input, and converting every float tensor to fp32 touches only those
 * bytes (ASan checks it). Built only with -DWM_FUZZ=ON and clang (tests/fuzz/CMakeLists.txt).
 */
#include "wm/io/checkpoint.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_checkpoint *ck = NULL;
    wm_error err = {0};
    if (wm_checkpoint_open_safetensors_mem(data, size, "fuzz.safetensors", &ck, &err) != WM_OK) return 0;
    for (int i = 0; i < wm_checkpoint_count(ck); i++) {
        const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
        const uint8_t *p = e->data;
        if (e->nbytes && (p < data || p + e->nbytes > data + size)) abort();  /* entry outside the input */
        if (!wm_dtype_is_float(e->dtype) || wm_dtype_size(e->dtype) == 0) continue;
        size_t n = e->nbytes / wm_dtype_size(e->dtype);
        float *dst = malloc((n ? n : 1) * sizeof *dst);
        if (!dst) continue;
        if (wm_checkpoint_read_f32(ck, e->name, 0, NULL, dst, &err) != WM_OK) abort();
        free(dst);
    }
    wm_checkpoint_close(ck);
    return 0;
}
