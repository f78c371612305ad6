/* First-frame preprocessing vs Pillow, and VAE config parsing.
 *
 * tests/golden/vae/preprocess.safetensors holds images resized by PIL 9.4 Image.resize(LANCZOS) to
 * the cover size of 64x96 (upscale, downscale, identity, extreme aspect) plus the crop and the
 * adjusted intrinsics from the reference formulas. The C resampler must be byte-exact; geometry and
 * intrinsics exact to 1e-12. Config: defaults give 32x/8x ratios and the real FLOP count; malformed or
 * unsupported configs fail with a message naming the key.
 */
#include "wm/io/checkpoint.h"
#include "wm/vae/preprocess.h"
#include "wm/vae/vae.h"
#include "testing.h"

#include <string.h>

static const uint8_t *u8(wm_checkpoint *ck, const char *name, size_t n)
{
    const wm_ckpt_entry *e = wm_checkpoint_find(ck, name);
    return e && e->nbytes == n ? e->data : NULL;
}

static void test_pil(void)
{
    wm_error err = {0};
    wm_checkpoint *ck = NULL;
    CHECK_MSG(wm_checkpoint_open("tests/golden/vae/preprocess.safetensors", &ck, &err) == WM_OK, "%s", err.msg);
    if (!ck) return;
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "case%d.src", i);
        const wm_ckpt_entry *src = wm_checkpoint_find(ck, name);
        if (!src) break;
        int h0 = (int)src->shape[0], w0 = (int)src->shape[1];
        wm_cover_crop g = wm_cover_crop_geometry(h0, w0, 64, 96);
        int64_t geo[4];
        snprintf(name, sizeof name, "case%d.geometry", i);
        const wm_ckpt_entry *ge = wm_checkpoint_find(ck, name);
        if (ge) memcpy(geo, ge->data, sizeof geo);
        CHECK_MSG(ge && geo[0] == g.rh && geo[1] == g.rw && geo[2] == g.top && geo[3] == g.left,
                  "case %d geometry %dx%d+%d+%d", i, g.rh, g.rw, g.top, g.left);
        uint8_t *res = malloc((size_t)g.rh * g.rw * 3), crop[64 * 96 * 3];
        CHECK(wm_resize_lanczos_u8(src->data, h0, w0, 3, res, g.rh, g.rw, &err) == WM_OK);
        snprintf(name, sizeof name, "case%d.resized", i);
        const uint8_t *want = u8(ck, name, (size_t)g.rh * g.rw * 3);
        size_t diff = 0;
        for (size_t k = 0; want && k < (size_t)g.rh * g.rw * 3; k++) diff += res[k] != want[k];
        CHECK_MSG(want && diff == 0, "case %d: %zu bytes differ from PIL", i, diff);
        CHECK(wm_image_cover_crop(src->data, h0, w0, crop, 64, 96, &err) == WM_OK);
        snprintf(name, sizeof name, "case%d.cropped", i);
        want = u8(ck, name, sizeof crop);
        CHECK(want && !memcmp(crop, want, sizeof crop));
        double kin[4], kout[4], kref[4];
        snprintf(name, sizeof name, "case%d.intrinsics_in", i);
        ge = wm_checkpoint_find(ck, name);
        if (ge) memcpy(kin, ge->data, sizeof kin);
        snprintf(name, sizeof name, "case%d.intrinsics_out", i);
        const wm_ckpt_entry *ke = wm_checkpoint_find(ck, name);
        if (ke) memcpy(kref, ke->data, sizeof kref);
        wm_cover_crop_intrinsics(h0, w0, 64, 96, kin, kout);
        for (int j = 0; ge && ke && j < 4; j++) CHECK(fabs(kout[j] - kref[j]) < 1e-12);
        printf("preprocess case %d: %dx%d -> %dx%d crop +%d+%d: %s\n", i, h0, w0, g.rh, g.rw, g.top, g.left,
               diff ? "FAIL" : "PIL-exact");
        free(res);
    }
    wm_checkpoint_close(ck);
    /* The real target: 720p-ish source -> 704 x 1280. */
    wm_cover_crop g = wm_cover_crop_geometry(720, 1280, 704, 1280);
    CHECK(g.rh == 720 && g.rw == 1280 && g.top == 8 && g.left == 0);
    uint8_t px[3] = {1, 2, 3};
    CHECK(wm_resize_lanczos_u8(px, 0, 1, 3, px, 1, 1, &err) == WM_ERR_INVALID_ARG);
}

static void test_config(void)
{
    wm_vae_config c = wm_vae_config_default(), p;
    wm_error err = {0};
    CHECK(wm_vae_spatial_ratio(&c) == 32 && wm_vae_temporal_ratio(&c) == 8);
    /* The shipped bidirectional config.json (decoder_causal false) parses to the same geometry. */
    const char *real = "{\"_class_name\": \"AutoencoderKLLTX2Video\", \"block_out_channels\": [256, 512, 1024, 2048],"
                       "\"decoder_block_out_channels\": [256, 512, 1024], \"decoder_causal\": false,"
                       "\"decoder_inject_noise\": [false, false, false, false], \"downsample_type\": [\"spatial\","
                       "\"temporal\", \"spatiotemporal\", \"spatiotemporal\"], \"latent_channels\": 128,"
                       "\"layers_per_block\": [4, 6, 6, 2, 2], \"decoder_layers_per_block\": [5, 5, 5, 5],"
                       "\"spatio_temporal_scaling\": [true, true, true, true], \"upsample_residual\": [true, true, true],"
                       "\"upsample_factor\": [2, 2, 2], \"timestep_conditioning\": false, \"patch_size\": 4,"
                       "\"decoder_spatial_padding_mode\": \"reflect\", \"encoder_spatial_padding_mode\": \"zeros\"}";
    CHECK_MSG(wm_vae_config_parse(real, "real", &p, &err) == WM_OK, "%s", err.msg);
    CHECK(!p.decoder_causal && p.decoder_reflect && !p.encoder_reflect && p.layers_per_block[1] == 6);
    CHECK(wm_vae_decode_flops(&p, 22, 40, 3, 0) == wm_vae_decode_flops(&c, 22, 40, 3, 0));
    struct { const char *json, *key; } bad[] = {
        {"[1]", "not a JSON object"},
        {"{\"timestep_conditioning\": true}", "timestep_conditioning"},
        {"{\"decoder_inject_noise\": true}", "decoder_inject_noise"},
        {"{\"decoder_spatial_padding_mode\": \"circular\"}", "decoder_spatial_padding_mode"},
        {"{\"downsample_type\": [\"conv\", \"temporal\", \"spatial\", \"spatial\"]}", "downsample_type"},
        {"{\"layers_per_block\": [1, 2]}", "layers_per_block"},
        {"{\"decoder_block_out_channels\": [256, 384, 1024]}", "conv_in"},
        {"{\"upsample_type\": [\"spatial\", \"temporal\", \"spatial\"]}", "upsample_type"},
        {"{\"patch_size_t\": 2}", "patch_size_t"},
        {"{\"latent_channels\": \"x\"}", "latent_channels"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        wm_status st = wm_vae_config_parse(bad[i].json, "cfg", &p, &err);
        CHECK_MSG(st != WM_OK && strstr(err.msg, bad[i].key), "config %zu: status %d msg '%s'", i, st, err.msg);
    }
    CHECK(wm_vae_config_load("/nonexistent/config.json", &p, &err) == WM_ERR_IO);
}

int main(void)
{
    test_pil();
    test_config();
    TEST_MAIN_END();
}
