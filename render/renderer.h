/* renderer.h -- show video frames with a HUD through Vulkan, in a GLFW window or off-screen.
 *
 * One renderer draws into either a window's swapchain (two frames in flight, FIFO vsync, resize and
 * minimise handled, OUT_OF_DATE/SUBOPTIMAL recreate the swapchain) or an off-screen image of a fixed
 * size that is read back after each draw (`wm explore --headless`, tests). Both use the same pipeline
 * and shaders, so what a headless run writes is what the window would show. Rendering fails soft: a
 * failed draw leaves the last good image on screen and returns the error for the caller to log.
 */
#ifndef WM_RENDER_RENDERER_H
#define WM_RENDER_RENDERER_H

#include "render/hud.h"
#include "wm/core/log.h"

#include <stdint.h>

typedef struct wm_render_params {
    int validate;          /* 1: enable VK_LAYER_KHRONOS_validation when installed */
} wm_render_params;

typedef struct wm_renderer wm_renderer;
struct GLFWwindow;

/* What to draw besides the frame: HUD rows (NULL = HUD off) and the chunk marker. */
typedef struct wm_overlay {
    char (*rows)[WM_HUD_COLS + 1];   /* WM_HUD_ROWS rows, or NULL */
    float chunk_progress;            /* (0, 1] position of the shown frame in its chunk */
    int boundary;                    /* 1: the shown frame starts a chunk */
} wm_overlay;

wm_status wm_renderer_open_window(struct GLFWwindow *win, const wm_render_params *p, wm_renderer **out, wm_error *err);
wm_status wm_renderer_open_offscreen(int width, int height, const wm_render_params *p, wm_renderer **out, wm_error *err);
void wm_renderer_free(wm_renderer *r);
const char *wm_renderer_device_name(const wm_renderer *r);

/* Set the video frame to show (RGB8, copied; the last one stays until replaced). */
wm_status wm_renderer_set_frame(wm_renderer *r, const uint8_t *rgb, int width, int height, wm_error *err);

/* Draw the current frame. Window: fb_w x fb_h is the framebuffer size (glfwGetFramebufferSize); a
 * zero size (minimised) draws nothing and sets *shown = 0; otherwise the image is presented.
 * Off-screen: fb size is ignored, the draw completes before returning and is read back. */
wm_status wm_renderer_draw(wm_renderer *r, int fb_w, int fb_h, const wm_overlay *ov, int *shown, wm_error *err);

/* Ask for the next draw to be read back (windows; off-screen always reads back). */
void wm_renderer_request_capture(wm_renderer *r);
/* Latest read-back image as RGB8 (owned by the renderer, valid until the next draw); 0 if none. */
int wm_renderer_capture(const wm_renderer *r, const uint8_t **rgb, int *width, int *height);

/* Number of images presented so far. */
uint64_t wm_renderer_presented(const wm_renderer *r);

#endif
