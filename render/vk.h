/* vk.h -- internal Vulkan plumbing of render/: device, swapchain, per-frame resources, pipeline.
 *
 * Small modules of free functions over plain structs (conventions rule 12): device.c (instance,
 * physical/logical device, queue, debug labels, memory), swapchain.c (create/recreate, status),
 * frame.c (pipeline, frames in flight, draw), upload.c (staging -> texture). Every Vulkan call's
 * result is checked with WM_VK_TRY, which RETURNS a status (also in release builds): a lost surface or
 * an out-of-date swapchain is an event to handle, never an abort.
 */
#ifndef WM_RENDER_VK_H
#define WM_RENDER_VK_H

#include "render/hud.h"
#include "wm/core/log.h"

#include <vulkan/vulkan.h>

#define WM_FRAMES_IN_FLIGHT 2   /* CPU records frame N+1 while the GPU renders N (vkcube FRAME_LAG) */
#define WM_MAX_SWAP_IMAGES 8

const char *wm__vk_result_str(VkResult r);

#define WM_VK_TRY(err, call)                                                                       \
    do {                                                                                           \
        VkResult wm__r = (call);                                                                   \
        if (wm__r != VK_SUCCESS)                                                                   \
            return wm__errf((err), WM_ERR_VULKAN, "%s: %s failed: %s", __func__, #call,            \
                            wm__vk_result_str(wm__r));                                             \
    } while (0)

typedef struct wm_vk_device {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice dev;
    uint32_t qfam;
    VkQueue queue;
    VkPhysicalDeviceMemoryProperties mem;
    int debug_utils;                    /* VK_EXT_debug_utils enabled: objects get labels */
    char gpu_name[256];
} wm_vk_device;

/* Instance with the given extra extensions (window system ones from GLFW) and, when validate and the
 * layer is present, VK_LAYER_KHRONOS_validation + debug messenger (missing layer: a warning). */
wm_status wm_vk_instance_init(wm_vk_device *d, int validate, const char *const *exts, uint32_t n_exts, wm_error *err);
/* Physical + logical device; surface != NULL requires present support and the swapchain extension. */
wm_status wm_vk_device_init(wm_vk_device *d, VkSurfaceKHR surface, wm_error *err);
void wm_vk_device_free(wm_vk_device *d);
void wm_vk_label(const wm_vk_device *d, VkObjectType type, uint64_t handle, const char *name);
wm_status wm_vk_alloc(const wm_vk_device *d, VkMemoryRequirements req, VkMemoryPropertyFlags flags, VkDeviceMemory *mem,
                      wm_error *err);
wm_status wm_vk_buffer(const wm_vk_device *d, VkDeviceSize size, VkBufferUsageFlags usage, VkBuffer *buf,
                       VkDeviceMemory *mem, void **mapped, wm_error *err);

typedef enum wm_swapchain_status {
    WM_SWAPCHAIN_READY = 0,     /* usable as is */
    WM_SWAPCHAIN_RESIZED,       /* was (re)created: size changed */
    WM_SWAPCHAIN_NOT_READY      /* zero-size window (minimised): do not draw, wait */
} wm_swapchain_status;

typedef struct wm_vk_swapchain {
    VkSwapchainKHR sc;
    VkFormat format;
    VkExtent2D extent;
    uint32_t n;
    VkImage img[WM_MAX_SWAP_IMAGES];
    VkImageView view[WM_MAX_SWAP_IMAGES];
    VkFramebuffer fb[WM_MAX_SWAP_IMAGES];
    VkSemaphore rendered[WM_MAX_SWAP_IMAGES]; /* per image: present waits on the image's own semaphore */
} wm_vk_swapchain;

/* Make the swapchain match a fb_w x fb_h framebuffer (creates, recreates or keeps it). */
wm_status wm_vk_swapchain_update(const wm_vk_device *d, VkSurfaceKHR surface, VkRenderPass rp, wm_vk_swapchain *s,
                                 int fb_w, int fb_h, int force, wm_swapchain_status *status, wm_error *err);
void wm_vk_swapchain_free(const wm_vk_device *d, wm_vk_swapchain *s);
wm_status wm_vk_pick_format(const wm_vk_device *d, VkSurfaceKHR surface, VkSurfaceFormatKHR *out, wm_error *err);

/* Per frame in flight: command buffer, sync, the video texture + staging buffer, HUD uniform. */
typedef struct wm_vk_frame {
    VkCommandBuffer cmd;
    VkFence done;
    VkSemaphore acquired;
    VkBuffer staging; VkDeviceMemory staging_mem; void *staging_map;
    VkImage tex; VkDeviceMemory tex_mem; VkImageView tex_view; int tex_w, tex_h; int tex_fresh;
    VkBuffer ubo; VkDeviceMemory ubo_mem; void *ubo_map;
    VkDescriptorSet set;
    VkSampler sampler;                 /* the pipeline's, for descriptor writes */
} wm_vk_frame;

typedef struct wm_vk_pipeline {
    VkRenderPass pass;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipe;
    VkSampler sampler;
    VkDescriptorPool pool;
    VkCommandPool cmd_pool;
} wm_vk_pipeline;

wm_status wm_vk_pipeline_init(const wm_vk_device *d, VkFormat color, VkImageLayout final_layout, wm_vk_pipeline *p,
                              wm_error *err);
void wm_vk_pipeline_free(const wm_vk_device *d, wm_vk_pipeline *p);
wm_status wm_vk_frame_init(const wm_vk_device *d, const wm_vk_pipeline *p, wm_vk_frame *f, int index, wm_error *err);
void wm_vk_frame_free(const wm_vk_device *d, wm_vk_frame *f);

/* upload.c: make the frame's texture vid_w x vid_h, copy RGB8 into staging (as RGBA) and record the
 * buffer -> image copy with its layout transitions into f->cmd. */
wm_status wm_vk_upload_record(const wm_vk_device *d, wm_vk_frame *f, const uint8_t *rgb, int vid_w, int vid_h, wm_error *err);

/* frame.c: record the render pass drawing into framebuffer fb of size ext with uniform u. */
void wm_vk_record_draw(const wm_vk_pipeline *p, wm_vk_frame *f, VkFramebuffer fb, VkExtent2D ext, const wm_hud_uniform *u);
/* Record a copy of `img` (in layout `from`, returned to `from`) into buffer dst (ext.w*ext.h*4 bytes). */
void wm_vk_record_readback(VkCommandBuffer cmd, VkImage img, VkImageLayout from, VkExtent2D ext, VkBuffer dst);

#endif
