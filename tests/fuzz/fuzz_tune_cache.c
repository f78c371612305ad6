/* libFuzzer harness: the autotune cache reader (wm/core/tune_cache.c) on arbitrary bytes. Whatever it
 * accepts must stay usable: a new entry can be stored and read back, and the count stays in bounds.
 * Built only with -DWM_FUZZ=ON and clang.
 */
#include "wm/core/tune_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_tune_cache *c = wm_tune_cache_new(NULL);
    if (!c) return 0;
    wm_error err = {0};
    if (wm_tune_cache_load_mem(c, (const char *)data, size, "fuzz", &err) == WM_OK) {
        if (wm_tune_cache_count(c) < 0 || wm_tune_cache_count(c) > WM_TUNE_MAX_ENTRIES) abort();
        const unsigned char blob[3] = {1, 2, 3};
        unsigned char back[WM_TUNE_BLOB_MAX];
        if (wm_tune_cache_count(c) < WM_TUNE_MAX_ENTRIES) {
            if (wm_tune_cache_put(c, "fuzz.probe", blob, 3, &err) != WM_OK) abort();
            if (wm_tune_cache_get(c, "fuzz.probe", back, sizeof back) != 3 || memcmp(back, blob, 3)) abort();
        }
    }
    wm_tune_cache_free(c);
    return 0;
}
