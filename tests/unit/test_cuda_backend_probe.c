/* The real CUDA backend (linked whole, as the `wm` CLI does) on whatever machine runs the test: with a
 * GPU it must come up and move bytes both ways; without one (CI: no driver, cudart answers
 * cudaErrorInsufficientDriver) it must fail with WM_ERR_NO_DEVICE and a message, never crash or exit. */
#include "testing.h"
#include "kernels/ops.h"

#include <string.h>

int main(void)
{
    wm_backend *be = NULL;
    wm_error err = {0};
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, NULL, &be, &err);
    if (st != WM_OK) {
        printf("no GPU: %s (%s)\n", wm_status_str(st), err.msg);
        CHECK(st == WM_ERR_NO_DEVICE);
        CHECK(be == NULL);
        CHECK(strstr(err.msg, "CUDA") != NULL);
        /* A second attempt behaves the same (no half-initialised global state). */
        wm_error err2 = {0};
        CHECK(wm_backend_create(WM_BACKEND_CUDA, NULL, &be, &err2) == WM_ERR_NO_DEVICE);
        /* The CPU backend still works in the same process. */
        wm_backend *cpu = NULL;
        CHECK(wm_backend_create(WM_BACKEND_CPU, NULL, &cpu, &err) == WM_OK);
        wm_backend_free(cpu);
        TEST_MAIN_END();
    }
    printf("GPU: %s\n", wm_backend_name(be));
    void *d = NULL;
    CHECK(wm_backend_malloc(be, 4096, &d) == WM_OK);
    char in[64], out[64] = {0};
    for (int i = 0; i < 64; i++) in[i] = (char)(i * 7 + 1);
    CHECK(wm_backend_upload(be, d, in, 64) == WM_OK);
    CHECK(wm_backend_download(be, out, d, 64) == WM_OK && wm_backend_sync(be) == WM_OK);
    CHECK(memcmp(in, out, 64) == 0);
    wm_backend_mfree(be, d);
    wm_backend_free(be);
    TEST_MAIN_END();
}
