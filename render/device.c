/* device.c -- Vulkan instance, device, queue, memory helpers and object labels.
 *
 * One queue family that does graphics (and presents, when there is a surface) is enough for a
 * full-screen blit; discrete GPUs are preferred over integrated over CPU (lavapipe) ones, so a
 * desktop uses its GPU while CI (VK_ICD_FILENAMES pinned to lavapipe) gets the software device.
 * The validation layer is only requested when present (enabling a missing layer makes
 * vkCreateInstance fail with VK_ERROR_LAYER_NOT_PRESENT, deps-probe pitfall 7).
 */
#include "render/vk.h"

#include <stdlib.h>
#include <string.h>

const char *wm__vk_result_str(VkResult r)
{
    switch (r) {
#define R(x) case x: return #x;
        R(VK_SUCCESS) R(VK_NOT_READY) R(VK_TIMEOUT) R(VK_INCOMPLETE) R(VK_SUBOPTIMAL_KHR)
        R(VK_ERROR_OUT_OF_HOST_MEMORY) R(VK_ERROR_OUT_OF_DEVICE_MEMORY) R(VK_ERROR_INITIALIZATION_FAILED)
        R(VK_ERROR_DEVICE_LOST) R(VK_ERROR_MEMORY_MAP_FAILED) R(VK_ERROR_LAYER_NOT_PRESENT)
        R(VK_ERROR_EXTENSION_NOT_PRESENT) R(VK_ERROR_FEATURE_NOT_PRESENT) R(VK_ERROR_INCOMPATIBLE_DRIVER)
        R(VK_ERROR_FORMAT_NOT_SUPPORTED) R(VK_ERROR_SURFACE_LOST_KHR) R(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR)
        R(VK_ERROR_OUT_OF_DATE_KHR)
#undef R
    default: return "VkResult (other)";
    }
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT sev, VkDebugUtilsMessageTypeFlagsEXT type,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type; (void)user;
    wm__log(sev >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? WM_LOG_ERROR : WM_LOG_WARN, "vulkan: %s", data->pMessage);
    return VK_FALSE;
}

static int has_layer(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkLayerProperties *p = calloc(n, sizeof *p);
    int found = 0;
    if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

wm_status wm_vk_instance_init(wm_vk_device *d, int validate, const char *const *exts, uint32_t n_exts, wm_error *err)
{
    memset(d, 0, sizeof *d);
    const char *layer = "VK_LAYER_KHRONOS_validation";
    int use_layer = validate && has_layer(layer);
    if (validate && !use_layer) wm__log(WM_LOG_WARN, "--validate: %s is not installed (apt install vulkan-validationlayers)", layer);
    const char *all[16];
    uint32_t n = 0;
    for (uint32_t i = 0; i < n_exts && n < 15; i++) all[n++] = exts[i];
    if (use_layer) all[n++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "wm",
                             .pEngineName = "wm", .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app,
                               .enabledExtensionCount = n, .ppEnabledExtensionNames = all,
                               .enabledLayerCount = use_layer ? 1u : 0u, .ppEnabledLayerNames = &layer};
    VkResult r = vkCreateInstance(&ci, NULL, &d->instance);
    if (r != VK_SUCCESS)
        return wm__errf(err, r == VK_ERROR_INCOMPATIBLE_DRIVER ? WM_ERR_NO_DISPLAY : WM_ERR_VULKAN,
                        "vkCreateInstance failed: %s (no Vulkan driver? CI pins lavapipe with VK_ICD_FILENAMES)",
                        wm__vk_result_str(r));
    if (use_layer) {
        d->debug_utils = 1;
        PFN_vkCreateDebugUtilsMessengerEXT mk =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(d->instance, "vkCreateDebugUtilsMessengerEXT");
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = debug_cb};
        if (mk) mk(d->instance, &mi, NULL, &d->messenger);
    }
    return WM_OK;
}

static int device_score(VkPhysicalDevice pd, VkSurfaceKHR surface, uint32_t *qfam)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties q[16];
    if (n > 16) n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) continue;
        VkBool32 present = VK_TRUE;
        if (surface && vkGetPhysicalDeviceSurfaceSupportKHR(pd, i, surface, &present) != VK_SUCCESS) present = VK_FALSE;
        if (!present) continue;
        *qfam = i;
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pd, &p);
        return p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 4 : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 3
             : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 1 : 2;
    }
    return 0;
}

wm_status wm_vk_device_init(wm_vk_device *d, VkSurfaceKHR surface, wm_error *err)
{
    uint32_t n = 0;
    WM_VK_TRY(err, vkEnumeratePhysicalDevices(d->instance, &n, NULL));
    if (n == 0) return wm__errf(err, WM_ERR_VULKAN, "no Vulkan physical device");
    VkPhysicalDevice pds[16];
    if (n > 16) n = 16;
    WM_VK_TRY(err, vkEnumeratePhysicalDevices(d->instance, &n, pds));
    int best = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t qf = 0;
        int s = device_score(pds[i], surface, &qf);
        if (s > best) { best = s; d->phys = pds[i]; d->qfam = qf; }
    }
    if (!best) return wm__errf(err, WM_ERR_VULKAN, "no Vulkan device with a graphics%s queue", surface ? "+present" : "");
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(d->phys, &props);
    snprintf(d->gpu_name, sizeof d->gpu_name, "%s", props.deviceName);
    vkGetPhysicalDeviceMemoryProperties(d->phys, &d->mem);
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = d->qfam,
                                  .queueCount = 1, .pQueuePriorities = &prio};
    const char *ext = VK_KHR_SWAPCHAIN_EXTENSION_NAME;
    VkDeviceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi,
                             .enabledExtensionCount = surface ? 1u : 0u, .ppEnabledExtensionNames = &ext};
    WM_VK_TRY(err, vkCreateDevice(d->phys, &ci, NULL, &d->dev));
    vkGetDeviceQueue(d->dev, d->qfam, 0, &d->queue);
    wm__log(WM_LOG_INFO, "vulkan device: %s", d->gpu_name);
    return WM_OK;
}

void wm_vk_device_free(wm_vk_device *d)
{
    if (d->dev) vkDestroyDevice(d->dev, NULL);
    if (d->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT rm =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(d->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (rm) rm(d->instance, d->messenger, NULL);
    }
    if (d->instance) vkDestroyInstance(d->instance, NULL);
    memset(d, 0, sizeof *d);
}

void wm_vk_label(const wm_vk_device *d, VkObjectType type, uint64_t handle, const char *name)
{
    if (!d->debug_utils) return;
    PFN_vkSetDebugUtilsObjectNameEXT fn = (PFN_vkSetDebugUtilsObjectNameEXT)vkGetDeviceProcAddr(d->dev, "vkSetDebugUtilsObjectNameEXT");
    if (!fn) return;
    VkDebugUtilsObjectNameInfoEXT ni = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT, .objectType = type,
                                        .objectHandle = handle, .pObjectName = name};
    fn(d->dev, &ni);
}

wm_status wm_vk_alloc(const wm_vk_device *d, VkMemoryRequirements req, VkMemoryPropertyFlags flags, VkDeviceMemory *mem,
                      wm_error *err)
{
    for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++) {
        if (!(req.memoryTypeBits & (1u << i)) || (d->mem.memoryTypes[i].propertyFlags & flags) != flags) continue;
        VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = i};
        WM_VK_TRY(err, vkAllocateMemory(d->dev, &ai, NULL, mem));
        return WM_OK;
    }
    return wm__errf(err, WM_ERR_VULKAN, "no Vulkan memory type with flags 0x%x", (unsigned)flags);
}

wm_status wm_vk_buffer(const wm_vk_device *d, VkDeviceSize size, VkBufferUsageFlags usage, VkBuffer *buf,
                       VkDeviceMemory *mem, void **mapped, wm_error *err)
{
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size, .usage = usage,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    WM_VK_TRY(err, vkCreateBuffer(d->dev, &bi, NULL, buf));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d->dev, *buf, &req);
    WM_TRY(wm_vk_alloc(d, req, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, mem, err));
    WM_VK_TRY(err, vkBindBufferMemory(d->dev, *buf, *mem, 0));
    WM_VK_TRY(err, vkMapMemory(d->dev, *mem, 0, VK_WHOLE_SIZE, 0, mapped));
    return WM_OK;
}
