/* test_render.c -- the Vulkan renderer on lavapipe: off-screen draws reproduce the source frame
 * exactly at 1:1 (B8G8R8A8_UNORM target, read back and swizzled), the HUD changes only its own
 * region, and (with a display) a GLFW window presents frames whose read-back swapchain image matches
 * the source, survives resizes and a fullscreen round trip. Exit 77 when no Vulkan device exists;
 * the window part is skipped without DISPLAY.
 */
#define GLFW_INCLUDE_VULKAN
#include "render/renderer.h"
#include "testing.h"

#include <GLFW/glfw3.h>
#include <stdlib.h>
#include <string.h>

enum { W = 160, H = 96 };

static void make_frame(uint8_t *rgb, int seed)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + ((size_t)y * W + x) * 3;
            p[0] = (uint8_t)(x * 255 / (W - 1));
            p[1] = (uint8_t)(y * 255 / (H - 1));
            p[2] = (uint8_t)((x ^ y ^ seed) & 0xff);
        }
}

/* Max abs difference over a region [x0,x1)x[y0,y1) of two RGB images of width w. */
static int max_diff(const uint8_t *a, const uint8_t *b, int w, int x0, int y0, int x1, int y1)
{
    int m = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            for (int c = 0; c < 3; c++) {
                int d = abs((int)a[((size_t)y * w + x) * 3 + c] - (int)b[((size_t)y * w + x) * 3 + c]);
                if (d > m) m = d;
            }
    return m;
}

static int test_offscreen(void)
{
    wm_renderer *r;
    wm_error err = {0};
    wm_status st = wm_renderer_open_offscreen(W, H, NULL, &r, &err);
    if (st != WM_OK) { printf("skip: no Vulkan device (%s)\n", err.msg); return 77; }
    printf("device: %s\n", wm_renderer_device_name(r));
    static uint8_t src[W * H * 3];
    make_frame(src, 7);
    CHECK(wm_renderer_set_frame(r, src, W, H, &err) == WM_OK);
    int shown = 0;
    CHECK(wm_renderer_draw(r, 0, 0, NULL, &shown, &err) == WM_OK && shown);
    const uint8_t *cap;
    int cw, ch;
    CHECK(wm_renderer_capture(r, &cap, &cw, &ch) && cw == W && ch == H);
    int d = max_diff(cap, src, W, 0, 0, W, H);
    printf("off-screen 1:1 max diff %d\n", d);
    CHECK(d <= 1);

    /* HUD on: text region changes, the right half of the frame (no HUD cells there) does not. */
    char rows[WM_HUD_ROWS][WM_HUD_COLS + 1];
    memset(rows, 0, sizeof rows);
    strcpy(rows[0], "HUD 123");
    wm_overlay ov = {.rows = rows, .chunk_progress = 0.5f, .boundary = 1};
    CHECK(wm_renderer_draw(r, 0, 0, &ov, &shown, &err) == WM_OK);
    CHECK(wm_renderer_capture(r, &cap, &cw, &ch));
    CHECK(max_diff(cap, src, W, 0, 0, 60, 16) > 50);      /* text drawn */
    CHECK(max_diff(cap, src, W, 100, 20, W, H - 8) <= 1);  /* untouched area */
    /* Progress bar: bottom rows, left half yellow (boundary flash), right half untouched. */
    const uint8_t *px = cap + ((size_t)(H - 2) * W + 10) * 3;
    CHECK(px[0] > 200 && px[1] > 180 && px[2] < 60);
    CHECK(max_diff(cap, src, W, W / 2 + 2, H - 4, W, H) <= 1);

    /* A second frame replaces the first (two frames in flight alternate slots). */
    make_frame(src, 99);
    CHECK(wm_renderer_set_frame(r, src, W, H, &err) == WM_OK);
    for (int i = 0; i < 3; i++) CHECK(wm_renderer_draw(r, 0, 0, NULL, &shown, &err) == WM_OK);
    CHECK(wm_renderer_capture(r, &cap, &cw, &ch) && max_diff(cap, src, W, 0, 0, W, H) <= 1);
    wm_renderer_free(r);
    return 0;
}

static void test_window(void)
{
    if (!getenv("DISPLAY")) { printf("window part skipped: no DISPLAY\n"); return; }
    if (!glfwInit()) { printf("window part skipped: glfwInit failed\n"); return; }
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    GLFWwindow *win = glfwCreateWindow(W, H, "wm test", NULL, NULL);
    CHECK(win != NULL);
    if (!win) { glfwTerminate(); return; }
    wm_renderer *r;
    wm_error err = {0};
    CHECK(wm_renderer_open_window(win, NULL, &r, &err) == WM_OK);
    if (!r) { fprintf(stderr, "%s\n", err.msg); glfwDestroyWindow(win); glfwTerminate(); return; }
    static uint8_t src[W * H * 3];
    make_frame(src, 3);
    CHECK(wm_renderer_set_frame(r, src, W, H, &err) == WM_OK);
    int shown = 0, fw, fh;
    for (int i = 0; i < 6; i++) {
        glfwPollEvents();
        glfwGetFramebufferSize(win, &fw, &fh);
        if (i == 5) wm_renderer_request_capture(r);
        CHECK(wm_renderer_draw(r, fw, fh, NULL, &shown, &err) == WM_OK);
    }
    CHECK(wm_renderer_presented(r) >= 5);
    const uint8_t *cap;
    int cw, ch;
    CHECK(wm_renderer_capture(r, &cap, &cw, &ch));
    printf("window %dx%d capture %dx%d\n", fw, fh, cw, ch);
    if (cw == W && ch == H) {
        int d = max_diff(cap, src, W, 0, 0, W, H);
        printf("swapchain read-back max diff %d\n", d);
        CHECK(d <= 1);
    } else CHECK(cw == W && ch == H);

    /* Resize to 2x: swapchain recreated, the frame fills the window scaled (centre pixel matches). */
    glfwSetWindowSize(win, 2 * W, 2 * H);
    for (int i = 0; i < 20; i++) {
        glfwPollEvents();
        glfwGetFramebufferSize(win, &fw, &fh);
        if (i == 19) wm_renderer_request_capture(r);
        CHECK(wm_renderer_draw(r, fw, fh, NULL, &shown, &err) == WM_OK);
    }
    CHECK(wm_renderer_capture(r, &cap, &cw, &ch) && cw == fw && ch == fh);
    printf("after resize: fb %dx%d capture %dx%d\n", fw, fh, cw, ch);
    if (cw == 2 * W && ch == 2 * H) {
        const uint8_t *c = cap + ((size_t)(2 * 40 + 1) * cw + 2 * 50 + 1) * 3, *s = src + ((size_t)40 * W + 50) * 3;
        CHECK(abs(c[0] - s[0]) <= 3 && abs(c[1] - s[1]) <= 3);
    }
    /* Fullscreen round trip (F11 path in the explorer). */
    GLFWmonitor *mon = glfwGetPrimaryMonitor();
    if (mon) {
        const GLFWvidmode *vm = glfwGetVideoMode(mon);
        glfwSetWindowMonitor(win, mon, 0, 0, vm->width, vm->height, vm->refreshRate);
        for (int i = 0; i < 4; i++) {
            glfwPollEvents();
            glfwGetFramebufferSize(win, &fw, &fh);
            CHECK(wm_renderer_draw(r, fw, fh, NULL, &shown, &err) == WM_OK);
        }
        printf("fullscreen fb %dx%d\n", fw, fh);
        glfwSetWindowMonitor(win, NULL, 10, 10, W, H, 0);
        for (int i = 0; i < 4; i++) {
            glfwPollEvents();
            glfwGetFramebufferSize(win, &fw, &fh);
            CHECK(wm_renderer_draw(r, fw, fh, NULL, &shown, &err) == WM_OK);
        }
    }
    /* A zero-size framebuffer (minimised) draws nothing and is not an error. */
    CHECK(wm_renderer_draw(r, 0, 0, NULL, &shown, &err) == WM_OK && shown == 0);
    wm_renderer_free(r);
    glfwDestroyWindow(win);
    glfwTerminate();
}

int main(void)
{
    int rc = test_offscreen();
    if (rc == 77) return 77;
    test_window();
    TEST_MAIN_END();
}
