/* frame.c -- the one graphics pipeline, frames in flight, and command recording.
 *
 * The pipeline draws a full-screen triangle whose fragment shader shows the letterboxed frame and
 * the HUD (shaders/present.frag). Shaders are compiled by glslc at build time and embedded as
 * uint32 arrays (present_vert_spv / present_frag_spv, generated headers), so the binary needs no
 * shader files at run time. The same pipeline serves the window (final layout PRESENT_SRC) and the
 * off-screen target (final layout TRANSFER_SRC for readback).
 */
#include "render/vk.h"

#include <string.h>

#include "present.frag.spv.h"
#include "present.vert.spv.h"

static wm_status shader(const wm_vk_device *d, const uint32_t *code, size_t bytes, VkShaderModule *m, wm_error *err)
{
    VkShaderModuleCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = bytes, .pCode = code};
    WM_VK_TRY(err, vkCreateShaderModule(d->dev, &ci, NULL, m));
    return WM_OK;
}

static wm_status make_pass(const wm_vk_device *d, VkFormat color, VkImageLayout final_layout, wm_vk_pipeline *p, wm_error *err)
{
    VkAttachmentDescription att = {.format = color, .samples = VK_SAMPLE_COUNT_1_BIT, .loadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
                                   .storeOp = VK_ATTACHMENT_STORE_OP_STORE, .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
                                   .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
                                   .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED, .finalLayout = final_layout};
    VkAttachmentReference ref = {0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub = {.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS, .colorAttachmentCount = 1, .pColorAttachments = &ref};
    /* The acquire semaphore is waited at COLOR_ATTACHMENT_OUTPUT: make the layout transition wait too. */
    VkSubpassDependency dep = {.srcSubpass = VK_SUBPASS_EXTERNAL, .dstSubpass = 0,
                               .srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                               .dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                               .dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT};
    VkRenderPassCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO, .attachmentCount = 1, .pAttachments = &att,
                                 .subpassCount = 1, .pSubpasses = &sub, .dependencyCount = 1, .pDependencies = &dep};
    WM_VK_TRY(err, vkCreateRenderPass(d->dev, &ci, NULL, &p->pass));
    wm_vk_label(d, VK_OBJECT_TYPE_RENDER_PASS, (uint64_t)p->pass, "present pass");
    return WM_OK;
}

static wm_status make_layouts(const wm_vk_device *d, wm_vk_pipeline *p, wm_error *err)
{
    VkDescriptorSetLayoutBinding b[2] = {
        {0, VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 1, VK_SHADER_STAGE_FRAGMENT_BIT, NULL},
        {1, VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, 1, VK_SHADER_STAGE_FRAGMENT_BIT, NULL}};
    VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = 2, .pBindings = b};
    WM_VK_TRY(err, vkCreateDescriptorSetLayout(d->dev, &li, NULL, &p->set_layout));
    VkPipelineLayoutCreateInfo pl = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &p->set_layout};
    WM_VK_TRY(err, vkCreatePipelineLayout(d->dev, &pl, NULL, &p->layout));
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, WM_FRAMES_IN_FLIGHT},
                                     {VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, WM_FRAMES_IN_FLIGHT}};
    VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = WM_FRAMES_IN_FLIGHT,
                                     .poolSizeCount = 2, .pPoolSizes = sizes};
    WM_VK_TRY(err, vkCreateDescriptorPool(d->dev, &pi, NULL, &p->pool));
    /* Linear filtering for scaled windows; at 1:1 the letterbox maps texel centres to pixel centres,
     * so the image is reproduced exactly. */
    VkSamplerCreateInfo si = {.sType = VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO, .magFilter = VK_FILTER_LINEAR,
                              .minFilter = VK_FILTER_LINEAR, .addressModeU = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE,
                              .addressModeV = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE,
                              .addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE, .maxLod = 0};
    WM_VK_TRY(err, vkCreateSampler(d->dev, &si, NULL, &p->sampler));
    VkCommandPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, .queueFamilyIndex = d->qfam};
    WM_VK_TRY(err, vkCreateCommandPool(d->dev, &ci, NULL, &p->cmd_pool));
    return WM_OK;
}

static wm_status make_pipeline(const wm_vk_device *d, wm_vk_pipeline *p, wm_error *err)
{
    VkShaderModule vs = VK_NULL_HANDLE, fs = VK_NULL_HANDLE;
    wm_status st = shader(d, present_vert_spv, sizeof present_vert_spv, &vs, err);
    if (st == WM_OK) st = shader(d, present_frag_spv, sizeof present_frag_spv, &fs, err);
    if (st != WM_OK) goto done;
    VkPipelineShaderStageCreateInfo stages[2] = {
        {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_VERTEX_BIT, .module = vs, .pName = "main"},
        {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_FRAGMENT_BIT, .module = fs, .pName = "main"}};
    VkPipelineVertexInputStateCreateInfo vin = {.sType = VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
    VkPipelineInputAssemblyStateCreateInfo ia = {.sType = VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
                                                 .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST};
    VkPipelineViewportStateCreateInfo vp = {.sType = VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO, .viewportCount = 1, .scissorCount = 1};
    VkPipelineRasterizationStateCreateInfo rs = {.sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO,
                                                 .polygonMode = VK_POLYGON_MODE_FILL, .cullMode = VK_CULL_MODE_NONE, .lineWidth = 1.0f};
    VkPipelineMultisampleStateCreateInfo ms = {.sType = VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO,
                                               .rasterizationSamples = VK_SAMPLE_COUNT_1_BIT};
    VkPipelineColorBlendAttachmentState cba = {.colorWriteMask = 0xf};
    VkPipelineColorBlendStateCreateInfo cb = {.sType = VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO, .attachmentCount = 1, .pAttachments = &cba};
    VkDynamicState dyn[2] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo ds = {.sType = VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO, .dynamicStateCount = 2, .pDynamicStates = dyn};
    VkGraphicsPipelineCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO, .stageCount = 2, .pStages = stages,
                                       .pVertexInputState = &vin, .pInputAssemblyState = &ia, .pViewportState = &vp,
                                       .pRasterizationState = &rs, .pMultisampleState = &ms, .pColorBlendState = &cb,
                                       .pDynamicState = &ds, .layout = p->layout, .renderPass = p->pass};
    VkResult r = vkCreateGraphicsPipelines(d->dev, VK_NULL_HANDLE, 1, &ci, NULL, &p->pipe);
    if (r != VK_SUCCESS) st = wm__errf(err, WM_ERR_VULKAN, "vkCreateGraphicsPipelines: %s", wm__vk_result_str(r));
    else wm_vk_label(d, VK_OBJECT_TYPE_PIPELINE, (uint64_t)p->pipe, "present pipeline");
done:
    if (vs) vkDestroyShaderModule(d->dev, vs, NULL);
    if (fs) vkDestroyShaderModule(d->dev, fs, NULL);
    return st;
}

wm_status wm_vk_pipeline_init(const wm_vk_device *d, VkFormat color, VkImageLayout final_layout, wm_vk_pipeline *p, wm_error *err)
{
    memset(p, 0, sizeof *p);
    WM_TRY(make_pass(d, color, final_layout, p, err));
    WM_TRY(make_layouts(d, p, err));
    return make_pipeline(d, p, err);
}

void wm_vk_pipeline_free(const wm_vk_device *d, wm_vk_pipeline *p)
{
    if (!d->dev) return;
    if (p->pipe) vkDestroyPipeline(d->dev, p->pipe, NULL);
    if (p->layout) vkDestroyPipelineLayout(d->dev, p->layout, NULL);
    if (p->set_layout) vkDestroyDescriptorSetLayout(d->dev, p->set_layout, NULL);
    if (p->pool) vkDestroyDescriptorPool(d->dev, p->pool, NULL);
    if (p->sampler) vkDestroySampler(d->dev, p->sampler, NULL);
    if (p->cmd_pool) vkDestroyCommandPool(d->dev, p->cmd_pool, NULL);
    if (p->pass) vkDestroyRenderPass(d->dev, p->pass, NULL);
    memset(p, 0, sizeof *p);
}

wm_status wm_vk_frame_init(const wm_vk_device *d, const wm_vk_pipeline *p, wm_vk_frame *f, int index, wm_error *err)
{
    memset(f, 0, sizeof *f);
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = p->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    WM_VK_TRY(err, vkAllocateCommandBuffers(d->dev, &ai, &f->cmd));
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, .flags = VK_FENCE_CREATE_SIGNALED_BIT};
    WM_VK_TRY(err, vkCreateFence(d->dev, &fi, NULL, &f->done));
    VkSemaphoreCreateInfo si = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    WM_VK_TRY(err, vkCreateSemaphore(d->dev, &si, NULL, &f->acquired));
    WM_TRY(wm_vk_buffer(d, sizeof(wm_hud_uniform), VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT, &f->ubo, &f->ubo_mem, &f->ubo_map, err));
    VkDescriptorSetAllocateInfo di = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorPool = p->pool,
                                      .descriptorSetCount = 1, .pSetLayouts = &p->set_layout};
    WM_VK_TRY(err, vkAllocateDescriptorSets(d->dev, &di, &f->set));
    f->sampler = p->sampler;
    char name[32];
    snprintf(name, sizeof name, "frame %d command buffer", index);
    wm_vk_label(d, VK_OBJECT_TYPE_COMMAND_BUFFER, (uint64_t)f->cmd, name);
    return WM_OK;
}

void wm_vk_frame_free(const wm_vk_device *d, wm_vk_frame *f)
{
    if (!d->dev) return;
    if (f->tex_view) vkDestroyImageView(d->dev, f->tex_view, NULL);
    if (f->tex) vkDestroyImage(d->dev, f->tex, NULL);
    if (f->tex_mem) vkFreeMemory(d->dev, f->tex_mem, NULL);
    if (f->staging) vkDestroyBuffer(d->dev, f->staging, NULL);
    if (f->staging_mem) vkFreeMemory(d->dev, f->staging_mem, NULL);
    if (f->ubo) vkDestroyBuffer(d->dev, f->ubo, NULL);
    if (f->ubo_mem) vkFreeMemory(d->dev, f->ubo_mem, NULL);
    if (f->done) vkDestroyFence(d->dev, f->done, NULL);
    if (f->acquired) vkDestroySemaphore(d->dev, f->acquired, NULL);
    memset(f, 0, sizeof *f);
}

void wm_vk_record_draw(const wm_vk_pipeline *p, wm_vk_frame *f, VkFramebuffer fb, VkExtent2D ext, const wm_hud_uniform *u)
{
    memcpy(f->ubo_map, u, sizeof *u);
    VkRenderPassBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO, .renderPass = p->pass, .framebuffer = fb,
                                .renderArea = {{0, 0}, ext}};
    vkCmdBeginRenderPass(f->cmd, &bi, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(f->cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, p->pipe);
    VkViewport vp = {0, 0, (float)ext.width, (float)ext.height, 0, 1};
    VkRect2D sc = {{0, 0}, ext};
    vkCmdSetViewport(f->cmd, 0, 1, &vp);
    vkCmdSetScissor(f->cmd, 0, 1, &sc);
    vkCmdBindDescriptorSets(f->cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, p->layout, 0, 1, &f->set, 0, NULL);
    vkCmdDraw(f->cmd, 3, 1, 0, 0);
    vkCmdEndRenderPass(f->cmd);
}

static void barrier(VkCommandBuffer cmd, VkImage img, VkImageLayout from, VkImageLayout to, VkAccessFlags src, VkAccessFlags dst,
                    VkPipelineStageFlags ss, VkPipelineStageFlags ds)
{
    VkImageMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, .srcAccessMask = src, .dstAccessMask = dst,
                              .oldLayout = from, .newLayout = to, .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                              .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED, .image = img,
                              .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    vkCmdPipelineBarrier(cmd, ss, ds, 0, 0, NULL, 0, NULL, 1, &b);
}

void wm_vk_record_readback(VkCommandBuffer cmd, VkImage img, VkImageLayout from, VkExtent2D ext, VkBuffer dst)
{
    if (from != VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL)
        barrier(cmd, img, from, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    else
        barrier(cmd, img, from, from, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT,
                VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkBufferImageCopy c = {.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1}, .imageExtent = {ext.width, ext.height, 1}};
    vkCmdCopyImageToBuffer(cmd, img, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, dst, 1, &c);
    VkBufferMemoryBarrier hb = {.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                .dstAccessMask = VK_ACCESS_HOST_READ_BIT, .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                                .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED, .buffer = dst, .size = VK_WHOLE_SIZE};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, NULL, 1, &hb, 0, NULL);
    if (from != VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL)
        barrier(cmd, img, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, from, VK_ACCESS_TRANSFER_READ_BIT, 0,
                VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT);
}
