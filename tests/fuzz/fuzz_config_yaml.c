/* libFuzzer harness: the config.yaml reader (libyaml document + our typed field table) on arbitrary
 * text. Whatever is accepted must leave a config the rest of the program can use: positive sizes,
 * heads dividing the width, depth within bounds. Built only with -DWM_FUZZ=ON and clang.
 */
#include "wm/io/dit_io.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_dit_config c = wm_dit_config_default();
    wm_error err = {0};
    if (wm_dit_config_from_yaml_mem((const char *)data, size, "fuzz.yaml", &c, &err) != WM_OK) return 0;
    if (c.hidden_size <= 0 || c.num_heads <= 0 || c.hidden_size % c.num_heads || c.depth <= 0 ||
        c.depth > WM_DIT_MAX_DEPTH || c.mlp_hidden <= 0)
        abort();
    return 0;
}
