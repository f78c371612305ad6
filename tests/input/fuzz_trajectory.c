/* fuzz_trajectory.c -- libFuzzer harness for the untrusted trajectory parsers: the .npy parser
 * (in memory), the action DSL, and the JSON trajectory loader (through a temp file, as users load
 * it). Build with -DWM_FUZZ=ON and clang; run: ./fuzz_trajectory -max_total_time=60 corpus/ */
#include "input/npy.h"
#include "input/trajectory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_error err;
    wm_npy a;
    if (wm_npy_parse(data, size, "fuzz.npy", &a, &err) == WM_OK) wm_npy_free(&a);

    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    wm_trajectory t;
    if (size < 4096 && wm_trajectory_from_dsl(s, NULL, &t, &err) == WM_OK) wm_trajectory_free(&t);
    free(s);

    char path[64];
    snprintf(path, sizeof path, "/tmp/wm_fuzz_%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if (wm_trajectory_load_json(path, &t, &err) == WM_OK) wm_trajectory_free(&t);
    remove(path);
    return 0;
}
