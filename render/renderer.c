/* renderer.c -- window/off-screen rendering on top of device/swapchain/frame/upload (renderer.h).
 *
 * Per draw (window): wait the frame slot's fence, acquire an image (OUT_OF_DATE -> recreate and try
 * on the next draw), record upload + pass (+ readback when a capture is pending), submit, present
 * (OUT_OF_DATE/SUBOPTIMAL -> recreate before the next draw). The fence is reset only after a
 * successful acquire, so an early return never leaves a slot waiting on a fence nothing will signal.
 */
#define GLFW_INCLUDE_VULKAN
#include "render/renderer.h"
#include "render/vk.h"

#include <GLFW/glfw3.h>
#include <stdlib.h>
#include <string.h>

struct wm_renderer {
    wm_vk_device dev;
    VkSurfaceKHR surface;
    wm_vk_swapchain sc;
    int need_recreate;
    wm_vk_pipeline pipe;
    wm_vk_frame frames[WM_FRAMES_IN_FLIGHT];
    int cur;
    /* off-screen target */
    int offscreen;
    VkImage off_img; VkDeviceMemory off_mem; VkImageView off_view; VkFramebuffer off_fb; VkExtent2D off_ext;
    /* read-back */
    int capture_pending, capture_ready;
    VkBuffer rb; VkDeviceMemory rb_mem; void *rb_map; size_t rb_size;
    uint8_t *cap_rgb; int cap_w, cap_h; VkFormat target_format;
    /* current video frame */
    uint8_t *rgb; int vid_w, vid_h;
    uint64_t presented;
};

const char *wm_renderer_device_name(const wm_renderer *r) { return r->dev.gpu_name; }
uint64_t wm_renderer_presented(const wm_renderer *r) { return r->presented; }
void wm_renderer_request_capture(wm_renderer *r) { r->capture_pending = 1; }

int wm_renderer_capture(const wm_renderer *r, const uint8_t **rgb, int *w, int *h)
{
    if (!r->capture_ready) return 0;
    *rgb = r->cap_rgb; *w = r->cap_w; *h = r->cap_h;
    return 1;
}

wm_status wm_renderer_set_frame(wm_renderer *r, const uint8_t *rgb, int w, int h, wm_error *err)
{
    if (w <= 0 || h <= 0 || !rgb) return wm__errf(err, WM_ERR_INVALID_ARG, "renderer: empty frame");
    if (w != r->vid_w || h != r->vid_h) {
        uint8_t *n = realloc(r->rgb, (size_t)w * h * 3);
        if (!n) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "renderer: out of memory");
        r->rgb = n; r->vid_w = w; r->vid_h = h;
    }
    memcpy(r->rgb, rgb, (size_t)w * h * 3);
    return WM_OK;
}

static wm_status init_common(wm_renderer *r, VkFormat color, VkImageLayout final_layout, wm_error *err)
{
    WM_TRY(wm_vk_pipeline_init(&r->dev, color, final_layout, &r->pipe, err));
    for (int i = 0; i < WM_FRAMES_IN_FLIGHT; i++) WM_TRY(wm_vk_frame_init(&r->dev, &r->pipe, &r->frames[i], i, err));
    r->target_format = color;
    return WM_OK;
}

wm_status wm_renderer_open_window(struct GLFWwindow *win, const wm_render_params *p, wm_renderer **out, wm_error *err)
{
    *out = NULL;
    wm_renderer *r = calloc(1, sizeof *r);
    if (!r) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "renderer: out of memory");
    uint32_t n = 0;
    const char **exts = glfwGetRequiredInstanceExtensions(&n);
    wm_status st;
    if (!exts) { st = wm__errf(err, WM_ERR_VULKAN, "GLFW: Vulkan is not available for windows"); goto fail; }
    if ((st = wm_vk_instance_init(&r->dev, p && p->validate, exts, n, err)) != WM_OK) goto fail;
    VkResult vr = glfwCreateWindowSurface(r->dev.instance, win, NULL, &r->surface);
    if (vr != VK_SUCCESS) { st = wm__errf(err, WM_ERR_VULKAN, "glfwCreateWindowSurface: %s", wm__vk_result_str(vr)); goto fail; }
    if ((st = wm_vk_device_init(&r->dev, r->surface, err)) != WM_OK) goto fail;
    VkSurfaceFormatKHR fmt;
    if ((st = wm_vk_pick_format(&r->dev, r->surface, &fmt, err)) != WM_OK) goto fail;
    if ((st = init_common(r, fmt.format, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR, err)) != WM_OK) goto fail;
    r->need_recreate = 1;
    *out = r;
    return WM_OK;
fail:
    wm_renderer_free(r);
    return st;
}

static wm_status make_offscreen_target(wm_renderer *r, int w, int h, wm_error *err)
{
    const wm_vk_device *d = &r->dev;
    VkImageCreateInfo ii = {.sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, .imageType = VK_IMAGE_TYPE_2D,
                            .format = VK_FORMAT_B8G8R8A8_UNORM, .extent = {(uint32_t)w, (uint32_t)h, 1}, .mipLevels = 1,
                            .arrayLayers = 1, .samples = VK_SAMPLE_COUNT_1_BIT, .tiling = VK_IMAGE_TILING_OPTIMAL,
                            .usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                            .sharingMode = VK_SHARING_MODE_EXCLUSIVE, .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED};
    WM_VK_TRY(err, vkCreateImage(d->dev, &ii, NULL, &r->off_img));
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(d->dev, r->off_img, &req);
    WM_TRY(wm_vk_alloc(d, req, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &r->off_mem, err));
    WM_VK_TRY(err, vkBindImageMemory(d->dev, r->off_img, r->off_mem, 0));
    VkImageViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO, .image = r->off_img, .viewType = VK_IMAGE_VIEW_TYPE_2D,
                                .format = VK_FORMAT_B8G8R8A8_UNORM, .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    WM_VK_TRY(err, vkCreateImageView(d->dev, &vi, NULL, &r->off_view));
    VkFramebufferCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO, .renderPass = r->pipe.pass, .attachmentCount = 1,
                                  .pAttachments = &r->off_view, .width = (uint32_t)w, .height = (uint32_t)h, .layers = 1};
    WM_VK_TRY(err, vkCreateFramebuffer(d->dev, &fi, NULL, &r->off_fb));
    wm_vk_label(d, VK_OBJECT_TYPE_IMAGE, (uint64_t)r->off_img, "off-screen target");
    r->off_ext = (VkExtent2D){(uint32_t)w, (uint32_t)h};
    return WM_OK;
}

wm_status wm_renderer_open_offscreen(int w, int h, const wm_render_params *p, wm_renderer **out, wm_error *err)
{
    *out = NULL;
    if (w <= 0 || h <= 0 || w > 8192 || h > 8192) return wm__errf(err, WM_ERR_INVALID_ARG, "off-screen size %dx%d", w, h);
    wm_renderer *r = calloc(1, sizeof *r);
    if (!r) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "renderer: out of memory");
    r->offscreen = 1;
    wm_status st;
    if ((st = wm_vk_instance_init(&r->dev, p && p->validate, NULL, 0, err)) != WM_OK) goto fail;
    if ((st = wm_vk_device_init(&r->dev, VK_NULL_HANDLE, err)) != WM_OK) goto fail;
    if ((st = init_common(r, VK_FORMAT_B8G8R8A8_UNORM, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, err)) != WM_OK) goto fail;
    if ((st = make_offscreen_target(r, w, h, err)) != WM_OK) goto fail;
    *out = r;
    return WM_OK;
fail:
    wm_renderer_free(r);
    return st;
}

void wm_renderer_free(wm_renderer *r)
{
    if (!r) return;
    wm_vk_device *d = &r->dev;
    if (d->dev) {
        vkDeviceWaitIdle(d->dev);
        for (int i = 0; i < WM_FRAMES_IN_FLIGHT; i++) wm_vk_frame_free(d, &r->frames[i]);
        wm_vk_swapchain_free(d, &r->sc);
        if (r->off_fb) vkDestroyFramebuffer(d->dev, r->off_fb, NULL);
        if (r->off_view) vkDestroyImageView(d->dev, r->off_view, NULL);
        if (r->off_img) vkDestroyImage(d->dev, r->off_img, NULL);
        if (r->off_mem) vkFreeMemory(d->dev, r->off_mem, NULL);
        if (r->rb) vkDestroyBuffer(d->dev, r->rb, NULL);
        if (r->rb_mem) vkFreeMemory(d->dev, r->rb_mem, NULL);
        wm_vk_pipeline_free(d, &r->pipe);
    }
    if (r->surface) vkDestroySurfaceKHR(d->instance, r->surface, NULL);
    wm_vk_device_free(d);
    free(r->cap_rgb);
    free(r->rgb);
    free(r);
}

static wm_status ensure_readback(wm_renderer *r, VkExtent2D ext, wm_error *err)
{
    size_t need = (size_t)ext.width * ext.height * 4;
    if (r->rb && r->rb_size >= need) return WM_OK;
    vkDeviceWaitIdle(r->dev.dev);
    if (r->rb) vkDestroyBuffer(r->dev.dev, r->rb, NULL);
    if (r->rb_mem) vkFreeMemory(r->dev.dev, r->rb_mem, NULL);
    r->rb = VK_NULL_HANDLE; r->rb_mem = VK_NULL_HANDLE;
    WM_TRY(wm_vk_buffer(&r->dev, need, VK_BUFFER_USAGE_TRANSFER_DST_BIT, &r->rb, &r->rb_mem, &r->rb_map, err));
    r->rb_size = need;
    uint8_t *n = realloc(r->cap_rgb, (size_t)ext.width * ext.height * 3);
    if (!n) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "renderer: out of memory");
    r->cap_rgb = n;
    return WM_OK;
}

/* BGRA/RGBA target bytes -> RGB8. */
static void finish_capture(wm_renderer *r, VkExtent2D ext)
{
    const uint8_t *s = r->rb_map;
    int bgra = r->target_format == VK_FORMAT_B8G8R8A8_UNORM || r->target_format == VK_FORMAT_B8G8R8A8_SRGB;
    size_t n = (size_t)ext.width * ext.height;
    for (size_t i = 0; i < n; i++) {
        r->cap_rgb[3 * i] = s[4 * i + (bgra ? 2 : 0)];
        r->cap_rgb[3 * i + 1] = s[4 * i + 1];
        r->cap_rgb[3 * i + 2] = s[4 * i + (bgra ? 0 : 2)];
    }
    r->cap_w = (int)ext.width;
    r->cap_h = (int)ext.height;
    r->capture_ready = 1;
}

/* Record upload + draw (+ readback) for target image img / framebuffer fb into the slot's buffer. */
static wm_status record(wm_renderer *r, wm_vk_frame *f, VkImage img, VkFramebuffer fb, VkExtent2D ext, VkImageLayout final_layout,
                        const wm_overlay *ov, int readback, wm_error *err)
{
    WM_VK_TRY(err, vkResetCommandBuffer(f->cmd, 0));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    WM_VK_TRY(err, vkBeginCommandBuffer(f->cmd, &bi));
    int vw = r->rgb ? r->vid_w : 16, vh = r->rgb ? r->vid_h : 16;
    WM_TRY(wm_vk_upload_record(&r->dev, f, r->rgb, vw, vh, err));
    wm_hud_uniform u;
    wm_hud_pack(&u, (int)ext.width, (int)ext.height, vw, vh, ov && ov->rows, ov ? ov->rows : NULL,
                ov ? ov->chunk_progress : 0, ov ? ov->boundary : 0);
    wm_vk_record_draw(&r->pipe, f, fb, ext, &u);
    if (readback) {
        WM_TRY(ensure_readback(r, ext, err));
        wm_vk_record_readback(f->cmd, img, final_layout, ext, r->rb);
    }
    WM_VK_TRY(err, vkEndCommandBuffer(f->cmd));
    return WM_OK;
}

static wm_status draw_offscreen(wm_renderer *r, const wm_overlay *ov, int *shown, wm_error *err)
{
    wm_vk_frame *f = &r->frames[r->cur];
    WM_VK_TRY(err, vkWaitForFences(r->dev.dev, 1, &f->done, VK_TRUE, UINT64_MAX));
    WM_VK_TRY(err, vkResetFences(r->dev.dev, 1, &f->done));
    wm_status st = record(r, f, r->off_img, r->off_fb, r->off_ext, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, ov, 1, err);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = st == WM_OK ? 1u : 0u, .pCommandBuffers = &f->cmd};
    /* Submit even after a failed record (with no command buffer) so the fence is signalled again. */
    WM_VK_TRY(err, vkQueueSubmit(r->dev.queue, 1, &si, f->done));
    WM_TRY(st);
    WM_VK_TRY(err, vkWaitForFences(r->dev.dev, 1, &f->done, VK_TRUE, UINT64_MAX));
    finish_capture(r, r->off_ext);
    r->cur = (r->cur + 1) % WM_FRAMES_IN_FLIGHT;
    r->presented++;
    *shown = 1;
    return WM_OK;
}

static wm_status draw_window(wm_renderer *r, int fb_w, int fb_h, const wm_overlay *ov, int *shown, wm_error *err)
{
    wm_swapchain_status ss;
    WM_TRY(wm_vk_swapchain_update(&r->dev, r->surface, r->pipe.pass, &r->sc, fb_w, fb_h, r->need_recreate, &ss, err));
    if (ss == WM_SWAPCHAIN_NOT_READY) return WM_OK; /* minimised: nothing to draw into */
    r->need_recreate = 0;
    wm_vk_frame *f = &r->frames[r->cur];
    WM_VK_TRY(err, vkWaitForFences(r->dev.dev, 1, &f->done, VK_TRUE, UINT64_MAX));
    uint32_t img;
    VkResult ar = vkAcquireNextImageKHR(r->dev.dev, r->sc.sc, UINT64_MAX, f->acquired, VK_NULL_HANDLE, &img);
    if (ar == VK_ERROR_OUT_OF_DATE_KHR) { r->need_recreate = 1; return WM_OK; }
    if (ar == VK_SUBOPTIMAL_KHR) r->need_recreate = 1;
    else if (ar != VK_SUCCESS) return wm__errf(err, WM_ERR_VULKAN, "vkAcquireNextImageKHR: %s", wm__vk_result_str(ar));
    WM_VK_TRY(err, vkResetFences(r->dev.dev, 1, &f->done));
    int readback = r->capture_pending;
    wm_status st = record(r, f, r->sc.img[img], r->sc.fb[img], r->sc.extent, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR, ov, readback, err);
    VkPipelineStageFlags wait = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .waitSemaphoreCount = 1, .pWaitSemaphores = &f->acquired,
                       .pWaitDstStageMask = &wait, .commandBufferCount = 1, .pCommandBuffers = &f->cmd,
                       .signalSemaphoreCount = 1, .pSignalSemaphores = &r->sc.rendered[img]};
    if (st != WM_OK) {
        /* Keep the acquire semaphore and fence consistent; the image is not presented this time. */
        si.commandBufferCount = 0; si.signalSemaphoreCount = 0;
        vkQueueSubmit(r->dev.queue, 1, &si, f->done);
        r->need_recreate = 1;
        return st;
    }
    WM_VK_TRY(err, vkQueueSubmit(r->dev.queue, 1, &si, f->done));
    VkPresentInfoKHR pi = {.sType = VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, .waitSemaphoreCount = 1, .pWaitSemaphores = &r->sc.rendered[img],
                           .swapchainCount = 1, .pSwapchains = &r->sc.sc, .pImageIndices = &img};
    VkResult pr = vkQueuePresentKHR(r->dev.queue, &pi);
    if (pr == VK_ERROR_OUT_OF_DATE_KHR || pr == VK_SUBOPTIMAL_KHR) r->need_recreate = 1;
    else if (pr != VK_SUCCESS) return wm__errf(err, WM_ERR_VULKAN, "vkQueuePresentKHR: %s", wm__vk_result_str(pr));
    if (readback) {
        WM_VK_TRY(err, vkWaitForFences(r->dev.dev, 1, &f->done, VK_TRUE, UINT64_MAX));
        finish_capture(r, r->sc.extent);
        r->capture_pending = 0;
    }
    r->cur = (r->cur + 1) % WM_FRAMES_IN_FLIGHT;
    r->presented++;
    *shown = 1;
    return WM_OK;
}

wm_status wm_renderer_draw(wm_renderer *r, int fb_w, int fb_h, const wm_overlay *ov, int *shown, wm_error *err)
{
    *shown = 0;
    return r->offscreen ? draw_offscreen(r, ov, shown, err) : draw_window(r, fb_w, fb_h, ov, shown, err);
}
