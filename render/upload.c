/* upload.c -- video frame upload: RGB8 -> host-visible staging (RGBA8) -> device-local texture.
 *
 * Each frame in flight owns its texture and staging buffer, so the CPU never writes memory the GPU
 * may still be reading for the other frame (their fences order reuse). RGB8 is expanded to RGBA on
 * the CPU because 3-byte formats are rarely sampleable; at 1280x704 that is 3.6 MB per upload. The
 * texture is (re)created only when the video size changes, after the frame's fence has signalled.
 */
#include "render/vk.h"

#include <string.h>

static void free_texture(const wm_vk_device *d, wm_vk_frame *f)
{
    if (f->tex_view) vkDestroyImageView(d->dev, f->tex_view, NULL);
    if (f->tex) vkDestroyImage(d->dev, f->tex, NULL);
    if (f->tex_mem) vkFreeMemory(d->dev, f->tex_mem, NULL);
    if (f->staging) vkDestroyBuffer(d->dev, f->staging, NULL);
    if (f->staging_mem) vkFreeMemory(d->dev, f->staging_mem, NULL);
    f->tex_view = VK_NULL_HANDLE; f->tex = VK_NULL_HANDLE; f->tex_mem = VK_NULL_HANDLE;
    f->staging = VK_NULL_HANDLE; f->staging_mem = VK_NULL_HANDLE; f->staging_map = NULL;
    f->tex_w = f->tex_h = 0;
}

static wm_status make_texture(const wm_vk_device *d, wm_vk_frame *f, int w, int h, wm_error *err)
{
    free_texture(d, f);
    VkImageCreateInfo ii = {.sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, .imageType = VK_IMAGE_TYPE_2D,
                            .format = VK_FORMAT_R8G8B8A8_UNORM, .extent = {(uint32_t)w, (uint32_t)h, 1}, .mipLevels = 1,
                            .arrayLayers = 1, .samples = VK_SAMPLE_COUNT_1_BIT, .tiling = VK_IMAGE_TILING_OPTIMAL,
                            .usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_SAMPLED_BIT,
                            .sharingMode = VK_SHARING_MODE_EXCLUSIVE, .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED};
    WM_VK_TRY(err, vkCreateImage(d->dev, &ii, NULL, &f->tex));
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(d->dev, f->tex, &req);
    WM_TRY(wm_vk_alloc(d, req, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &f->tex_mem, err));
    WM_VK_TRY(err, vkBindImageMemory(d->dev, f->tex, f->tex_mem, 0));
    VkImageViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO, .image = f->tex, .viewType = VK_IMAGE_VIEW_TYPE_2D,
                                .format = VK_FORMAT_R8G8B8A8_UNORM, .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    WM_VK_TRY(err, vkCreateImageView(d->dev, &vi, NULL, &f->tex_view));
    WM_TRY(wm_vk_buffer(d, (VkDeviceSize)w * h * 4, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, &f->staging, &f->staging_mem,
                        &f->staging_map, err));
    wm_vk_label(d, VK_OBJECT_TYPE_IMAGE, (uint64_t)f->tex, "video frame texture");
    f->tex_w = w;
    f->tex_h = h;
    f->tex_fresh = 1;
    return WM_OK;
}

wm_status wm_vk_upload_record(const wm_vk_device *d, wm_vk_frame *f, const uint8_t *rgb, int w, int h, wm_error *err)
{
    if (w <= 0 || h <= 0) return wm__errf(err, WM_ERR_INVALID_ARG, "upload: empty frame");
    if (f->tex_w != w || f->tex_h != h) {
        WM_TRY(make_texture(d, f, w, h, err));
        VkDescriptorImageInfo img = {.sampler = f->sampler, .imageView = f->tex_view, .imageLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL};
        VkDescriptorBufferInfo buf = {.buffer = f->ubo, .range = sizeof(wm_hud_uniform)};
        VkWriteDescriptorSet wr[2] = {
            {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = f->set, .dstBinding = 0, .descriptorCount = 1,
             .descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, .pImageInfo = &img},
            {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = f->set, .dstBinding = 1, .descriptorCount = 1,
             .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, .pBufferInfo = &buf}};
        vkUpdateDescriptorSets(d->dev, 2, wr, 0, NULL);
    }
    uint8_t *dst = f->staging_map;
    size_t n = (size_t)w * (size_t)h;
    if (rgb) {
        for (size_t i = 0; i < n; i++) {
            dst[4 * i] = rgb[3 * i]; dst[4 * i + 1] = rgb[3 * i + 1]; dst[4 * i + 2] = rgb[3 * i + 2]; dst[4 * i + 3] = 255;
        }
    } else if (f->tex_fresh) {
        memset(dst, 0, n * 4); /* no frame yet: black */
    }
    VkImageMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_READ_BIT,
                              .dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT, .oldLayout = VK_IMAGE_LAYOUT_UNDEFINED,
                              .newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                              .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED, .image = f->tex,
                              .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    vkCmdPipelineBarrier(f->cmd, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, NULL, 0, NULL, 1, &b);
    VkBufferImageCopy c = {.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1}, .imageExtent = {(uint32_t)w, (uint32_t)h, 1}};
    vkCmdCopyBufferToImage(f->cmd, f->staging, f->tex, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &c);
    b.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
    b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
    b.newLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
    vkCmdPipelineBarrier(f->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, NULL, 0, NULL, 1, &b);
    f->tex_fresh = 0;
    return WM_OK;
}
