/* The CPU backend always works; asking for CUDA in a program without CUDA (or on a machine without a
 * GPU, as in CI) fails cleanly with WM_ERR_NO_DEVICE and a message, never a crash. */
#include "testing.h"
#include "kernels/ops.h"

#include <string.h>

int main(void)
{
    wm_backend *be = NULL;
    wm_error err = {0};
    CHECK(wm_backend_create(WM_BACKEND_CPU, NULL, &be, &err) == WM_OK && be);
    CHECK(strcmp(wm_backend_name(be), "cpu") == 0);
    void *p = NULL;
    CHECK(wm_backend_malloc(be, 1000, &p) == WM_OK && p);
    char host[16] = "hello";
    CHECK(wm_backend_upload(be, p, host, 6) == WM_OK);
    char back[16] = {0};
    CHECK(wm_backend_download(be, back, p, 6) == WM_OK && strcmp(back, "hello") == 0);
    wm_backend_mfree(be, p);
    CHECK(wm_backend_sync(be) == WM_OK);
    wm_backend_free(be);

    wm_backend *cu = NULL;
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, NULL, &cu, &err);
    CHECK(st == WM_ERR_NO_DEVICE && cu == NULL);
    CHECK(strlen(err.msg) > 0);
    printf("cuda: %s (%s)\n", wm_status_str(st), err.msg);
    TEST_MAIN_END();
}
