/* swapchain.c -- swapchain creation and recreation, returning READY / RESIZED / NOT_READY.
 *
 * Format: B8G8R8A8_UNORM when offered (lavapipe lists B8G8R8A8_SRGB first): frames from the world
 * are already sRGB-encoded bytes, so an UNORM target shows them unchanged and a read-back screenshot
 * equals the source pixels (deps-probe pitfall 6). Present mode FIFO: vsync, always available.
 * Recreation waits for the device to go idle and then destroys the old objects: resizes are rare, so
 * the simplest correct scheme beats a deferred-destruction queue here.
 */
#include "render/vk.h"

#include <string.h>

wm_status wm_vk_pick_format(const wm_vk_device *d, VkSurfaceKHR surface, VkSurfaceFormatKHR *out, wm_error *err)
{
    uint32_t n = 0;
    WM_VK_TRY(err, vkGetPhysicalDeviceSurfaceFormatsKHR(d->phys, surface, &n, NULL));
    VkSurfaceFormatKHR f[64];
    if (n > 64) n = 64;
    WM_VK_TRY(err, vkGetPhysicalDeviceSurfaceFormatsKHR(d->phys, surface, &n, f));
    if (n == 0) return wm__errf(err, WM_ERR_VULKAN, "surface offers no formats");
    *out = f[0];
    for (uint32_t i = 0; i < n; i++)
        if (f[i].format == VK_FORMAT_B8G8R8A8_UNORM) { *out = f[i]; return WM_OK; }
    for (uint32_t i = 0; i < n; i++)
        if (f[i].format == VK_FORMAT_R8G8B8A8_UNORM) { *out = f[i]; return WM_OK; }
    wm__log(WM_LOG_WARN, "no UNORM swapchain format; colours may be re-encoded");
    return WM_OK;
}

static void destroy_views(const wm_vk_device *d, wm_vk_swapchain *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->fb[i]) vkDestroyFramebuffer(d->dev, s->fb[i], NULL);
        if (s->view[i]) vkDestroyImageView(d->dev, s->view[i], NULL);
        if (s->rendered[i]) vkDestroySemaphore(d->dev, s->rendered[i], NULL);
        s->fb[i] = VK_NULL_HANDLE; s->view[i] = VK_NULL_HANDLE; s->rendered[i] = VK_NULL_HANDLE;
    }
}

static wm_status create_views(const wm_vk_device *d, VkRenderPass rp, wm_vk_swapchain *s, wm_error *err)
{
    uint32_t n = 0;
    WM_VK_TRY(err, vkGetSwapchainImagesKHR(d->dev, s->sc, &n, NULL));
    if (n > WM_MAX_SWAP_IMAGES) n = WM_MAX_SWAP_IMAGES;
    WM_VK_TRY(err, vkGetSwapchainImagesKHR(d->dev, s->sc, &n, s->img));
    s->n = n;
    for (uint32_t i = 0; i < n; i++) {
        VkImageViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO, .image = s->img[i],
                                    .viewType = VK_IMAGE_VIEW_TYPE_2D, .format = s->format,
                                    .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
        WM_VK_TRY(err, vkCreateImageView(d->dev, &vi, NULL, &s->view[i]));
        VkFramebufferCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO, .renderPass = rp, .attachmentCount = 1,
                                      .pAttachments = &s->view[i], .width = s->extent.width, .height = s->extent.height, .layers = 1};
        WM_VK_TRY(err, vkCreateFramebuffer(d->dev, &fi, NULL, &s->fb[i]));
        VkSemaphoreCreateInfo si = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        WM_VK_TRY(err, vkCreateSemaphore(d->dev, &si, NULL, &s->rendered[i]));
        wm_vk_label(d, VK_OBJECT_TYPE_IMAGE, (uint64_t)s->img[i], "swapchain image");
    }
    return WM_OK;
}

wm_status wm_vk_swapchain_update(const wm_vk_device *d, VkSurfaceKHR surface, VkRenderPass rp, wm_vk_swapchain *s,
                                 int fb_w, int fb_h, int force, wm_swapchain_status *status, wm_error *err)
{
    *status = WM_SWAPCHAIN_READY;
    VkSurfaceCapabilitiesKHR caps;
    VkResult r = vkGetPhysicalDeviceSurfaceCapabilitiesKHR(d->phys, surface, &caps);
    if (r == VK_ERROR_SURFACE_LOST_KHR) return wm__errf(err, WM_ERR_VULKAN, "surface lost");
    if (r != VK_SUCCESS) return wm__errf(err, WM_ERR_VULKAN, "surface capabilities: %s", wm__vk_result_str(r));
    VkExtent2D ext = caps.currentExtent;
    if (ext.width == 0xFFFFFFFFu) { ext.width = (uint32_t)fb_w; ext.height = (uint32_t)fb_h; }
    if (ext.width == 0 || ext.height == 0 || fb_w <= 0 || fb_h <= 0) { *status = WM_SWAPCHAIN_NOT_READY; return WM_OK; }
    if (s->sc && !force && ext.width == s->extent.width && ext.height == s->extent.height) return WM_OK;

    vkDeviceWaitIdle(d->dev);
    destroy_views(d, s);
    VkSurfaceFormatKHR fmt;
    WM_TRY(wm_vk_pick_format(d, surface, &fmt, err));
    uint32_t count = caps.minImageCount + 1;
    if (caps.maxImageCount && count > caps.maxImageCount) count = caps.maxImageCount;
    if (count > WM_MAX_SWAP_IMAGES) count = WM_MAX_SWAP_IMAGES;
    VkSwapchainKHR old = s->sc;
    VkSwapchainCreateInfoKHR ci = {
        .sType = VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR, .surface = surface, .minImageCount = count,
        .imageFormat = fmt.format, .imageColorSpace = fmt.colorSpace, .imageExtent = ext, .imageArrayLayers = 1,
        /* TRANSFER_SRC: screenshots read the presented image back. */
        .imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT |
                      (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT),
        .imageSharingMode = VK_SHARING_MODE_EXCLUSIVE, .preTransform = caps.currentTransform,
        .compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR, .presentMode = VK_PRESENT_MODE_FIFO_KHR, .clipped = VK_TRUE,
        .oldSwapchain = old};
    if (!(caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR))
        ci.compositeAlpha = VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR;
    VkResult cr = vkCreateSwapchainKHR(d->dev, &ci, NULL, &s->sc);
    if (old) vkDestroySwapchainKHR(d->dev, old, NULL);
    if (cr != VK_SUCCESS) {
        s->sc = VK_NULL_HANDLE;
        return wm__errf(err, WM_ERR_VULKAN, "vkCreateSwapchainKHR: %s", wm__vk_result_str(cr));
    }
    s->format = fmt.format;
    s->extent = ext;
    WM_TRY(create_views(d, rp, s, err));
    *status = WM_SWAPCHAIN_RESIZED;
    return WM_OK;
}

void wm_vk_swapchain_free(const wm_vk_device *d, wm_vk_swapchain *s)
{
    destroy_views(d, s);
    if (s->sc) vkDestroySwapchainKHR(d->dev, s->sc, NULL);
    memset(s, 0, sizeof *s);
}
