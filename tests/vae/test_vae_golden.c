/* LTX-2 VAE on the CPU vs the PyTorch reference (tests/golden/vae, tools/golden/gen_vae_golden.py).
 *
 * Loads the small-width config and bf16 weights through the normal loader, then checks:
 *  - causal decode of 3 latent frames, per stage (conv_in, mid_block, up_blocks.i) and the pixels;
 *  - chunk streaming: per-frame calls and a 1+2 split give pixels bit-identical to one call;
 *  - non-causal whole-clip decode (the bidirectional config's mode);
 *  - uint8 conversion of the reference pixels equals the reference's uint8 frames exactly;
 *  - encode of one image (uint8 -> [-1,1] conversion included), per stage, normalised latent;
 *  - decoder FLOP count equals the reference's formula, at the golden and the real size.
 * Tolerance (fp32 vs the float64 reference): |c - ref| <= 1e-4 * max|ref| + 1e-4 |ref| per tensor.
 */
#include "wm/io/checkpoint.h"
#include "wm/vae/preprocess.h"
#include "wm/vae/vae.h"
#include "kernels/ops.h"
#include "testing.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>

#define GOLDEN "tests/golden/vae/"

static wm_checkpoint *gold;  /* the file whose stages the observer compares against */

/* Golden tensor `name` as fp32 with the leading batch axis dropped; shape must have ndim dims. */
static wm_tensor load(wm_checkpoint *ck, const char *name)
{
    wm_tensor t = {0};
    wm_error err = {0};
    if (wm_checkpoint_load_f32(ck, name, &t, &err) != WM_OK) {
        fprintf(stderr, "golden: %s\n", err.msg);
        return t;
    }
    if (t.ndim == 5 && t.shape[0] == 1) {
        memmove(t.shape, t.shape + 1, 4 * sizeof(int64_t));
        t.ndim = 4;
    }
    return t;
}

static int compare(const char *label, const wm_tensor *got, const wm_tensor *ref)
{
    if (!ref->data || wm_tensor_numel(got) != wm_tensor_numel(ref)) {
        fprintf(stderr, "%s: shape mismatch or missing reference\n", label);
        return 0;
    }
    float mx = 0;
    for (int64_t i = 0; i < wm_tensor_numel(ref); i++) mx = fmaxf(mx, fabsf(((float *)ref->data)[i]));
    return t_allclose(label, got->data, ref->data, (size_t)wm_tensor_numel(ref), 1e-4f * mx, 1e-4f);
}

static int n_stages;
static void on_stage(void *user, const char *name, const wm_tensor *t)
{
    (void)user;
    if (!wm_checkpoint_find(gold, name)) return; /* stages the golden file does not store */
    wm_tensor ref = load(gold, name);
    CHECK(compare(name, t, &ref));
    n_stages++;
    wm_tensor_free(&ref);
}

static wm_tensor frames(const wm_tensor *z, int64_t t0, int64_t n)
{
    int64_t s[4] = {z->shape[0], n, z->shape[2], z->shape[3]}, hw = z->shape[2] * z->shape[3];
    wm_tensor o;
    wm_tensor_alloc(WM_F32, 4, s, &o);
    for (int64_t c = 0; c < s[0]; c++)
        memcpy((float *)o.data + c * n * hw, (float *)z->data + (c * z->shape[1] + t0) * hw, sizeof(float) * n * hw);
    return o;
}

/* Decode z in calls of the given frame counts; returns all pixels concatenated along T. */
static wm_tensor decode_split(wm_vae_decoder *d, const wm_tensor *z, const int *split, int n, const wm_vae_config *c)
{
    int64_t total = 0, t0 = 0, H = z->shape[2] * 32, W = z->shape[3] * 32;
    wm_vae_decoder_reset(d);
    int64_t ps[4] = {c->out_channels, 8 * (z->shape[1] - 1) + 1, H, W};
    wm_tensor all;
    wm_tensor_alloc(WM_F32, 4, ps, &all);
    wm_error err = {0};
    for (int i = 0; i < n; i++) {
        wm_tensor zc = frames(z, t0, split[i]), px;
        int64_t nf = wm_vae_decoder_out_frames(d, split[i]), s[4] = {ps[0], nf, H, W};
        wm_tensor_alloc(WM_F32, 4, s, &px);
        CHECK_MSG(wm_vae_decoder_decode(d, &zc, &px, &err) == WM_OK, "decode: %s", err.msg);
        for (int64_t ch = 0; ch < ps[0] && total + nf <= ps[1]; ch++)
            memcpy((float *)all.data + (ch * ps[1] + total) * H * W, (float *)px.data + ch * nf * H * W,
                   sizeof(float) * nf * H * W);
        total += nf, t0 += split[i];
        wm_tensor_free(&zc), wm_tensor_free(&px);
    }
    CHECK(total == ps[1]);
    return all;
}

static void test_decode(wm_vae *vae)
{
    wm_error err = {0};
    const wm_vae_config *c = wm_vae_get_config(vae);
    CHECK(wm_checkpoint_open(GOLDEN "decode.safetensors", &gold, &err) == WM_OK);
    if (!gold) return;
    wm_tensor z = load(gold, "z"), ref = load(gold, "pixels");
    wm_vae_decoder_params p = {.lat_h = 2, .lat_w = 3, .max_frames = 3, .on_stage = on_stage};
    wm_vae_decoder *d = NULL;
    CHECK_MSG(wm_vae_decoder_create(vae, &p, &d, &err) == WM_OK, "%s", err.msg);
    if (!d) return;
    const int whole[1] = {3}, per_frame[3] = {1, 1, 1}, split12[2] = {1, 2};
    n_stages = 0;
    wm_tensor px = decode_split(d, &z, whole, 1, c);
    CHECK_MSG(n_stages == 5, "compared %d decoder stages", n_stages);
    CHECK(compare("decode pixels (causal, 3 latent frames)", &px, &ref));
    wm_vae_decoder_free(d);
    p.on_stage = NULL, d = NULL;
    CHECK(wm_vae_decoder_create(vae, &p, &d, &err) == WM_OK);
    wm_tensor a = decode_split(d, &z, per_frame, 3, c), b = decode_split(d, &z, split12, 2, c);
    int same_a = !memcmp(a.data, px.data, wm_tensor_nbytes(&px)), same_b = !memcmp(b.data, px.data, wm_tensor_nbytes(&px));
    CHECK_MSG(same_a && same_b, "streaming decode differs from one call (per-frame %d, 1+2 %d)", same_a, same_b);
    printf("streaming decode: per-frame and 1+2 chunks == one call: %s\n", same_a && same_b ? "bit-exact" : "FAIL");
    wm_vae_decoder_free(d);
    /* Non-causal whole-clip decode of the first 2 latent frames. */
    p.non_causal = 1, p.max_frames = 2, d = NULL;
    CHECK(wm_vae_decoder_create(vae, &p, &d, &err) == WM_OK);
    wm_tensor z2 = frames(&z, 0, 2), nref = load(gold, "noncausal.pixels");
    const int two[1] = {2};
    wm_tensor nc = decode_split(d, &z2, two, 1, c);
    CHECK(compare("decode pixels (non-causal, 2 latent frames)", &nc, &nref));
    wm_vae_decoder_free(d);
    /* Tiled bidirectional-pipeline decode (scaled-down tiles), spatial and temporal, non-causal. The
     * untiled decode of the same latents differs by O(1), so wrong tiling/blend order fails. */
    const char *tnames[2][2] = {{"tiled_s.z", "tiled_s.pixels"}, {"tiled_t.z", "tiled_t.pixels"}};
    wm_vae_tiling tl = {64, 32, 16, 8};
    wm_vae_config *mc = (wm_vae_config *)c, keep = *mc;
    mc->decoder_causal = 0; /* the bidirectional pipeline's decoder */
    for (int k = 0; k < 2; k++) {
        wm_tensor tz = load(gold, tnames[k][0]), tref = load(gold, tnames[k][1]), tp;
        wm_tensor_alloc(WM_F32, 4, tref.shape, &tp);
        CHECK_MSG(wm_vae_decode_tiled(vae, &tz, &tp, &tl, &err) == WM_OK, "%s", err.msg);
        CHECK(compare(k ? "decode tiled temporal (T 3, 16/8 frames)" : "decode tiled spatial (3x3, 64/32 px)", &tp, &tref));
        wm_tensor_free(&tz), wm_tensor_free(&tref), wm_tensor_free(&tp);
    }
    *mc = keep;
    /* uint8 of the reference pixels == reference uint8; report how many of ours differ. */
    const wm_ckpt_entry *u8e = wm_checkpoint_find(gold, "u8");
    wm_tensor u8;
    int64_t us[4] = {ref.shape[1], ref.shape[2], ref.shape[3], ref.shape[0]};
    wm_tensor_alloc(WM_U8, 4, us, &u8);
    wm_backend *be = NULL;
    wm_backend_create(WM_BACKEND_CPU, NULL, &be, &err);
    CHECK(u8e && u8e->nbytes == wm_tensor_nbytes(&u8) && wm_vae_to_uint8(be, &ref, &u8) == WM_OK &&
          !memcmp(u8.data, u8e->data, u8e->nbytes));
    CHECK(wm_vae_to_uint8(be, &px, &u8) == WM_OK);
    size_t diff = 0;
    for (size_t i = 0; u8e && i < u8e->nbytes; i++) diff += ((uint8_t *)u8.data)[i] != ((const uint8_t *)u8e->data)[i];
    printf("uint8 frames from C pixels: %zu of %zu bytes differ from the reference (truncation boundary)\n", diff,
           u8e ? u8e->nbytes : 0);
    CHECK(u8e && diff * 1000 < u8e->nbytes);
    wm_backend_free(be);
    wm_tensor_free(&z), wm_tensor_free(&ref), wm_tensor_free(&px), wm_tensor_free(&a), wm_tensor_free(&b);
    wm_tensor_free(&z2), wm_tensor_free(&nref), wm_tensor_free(&nc), wm_tensor_free(&u8);
    wm_checkpoint_close(gold);
    gold = NULL;
}

static void test_encode(wm_vae *vae)
{
    wm_error err = {0};
    CHECK(wm_checkpoint_open(GOLDEN "encode.safetensors", &gold, &err) == WM_OK);
    if (!gold) return;
    wm_tensor x = load(gold, "x"), ref = load(gold, "latent"), xi = x, lat;
    const wm_ckpt_entry *img = wm_checkpoint_find(gold, "image");
    CHECK(img && img->nbytes == (size_t)wm_tensor_numel(&x));
    wm_tensor_alloc(WM_F32, 4, x.shape, &xi);
    if (img) wm_image_to_unit(img->data, (int)x.shape[2], (int)x.shape[3], xi.data);
    CHECK_MSG(!memcmp(xi.data, x.data, wm_tensor_nbytes(&x)), "uint8 -> [-1,1] differs from ToTensor()*2-1");
    wm_tensor_alloc(WM_F32, 4, ref.shape, &lat);
    n_stages = 0;
    CHECK_MSG(wm_vae_encode(vae, &xi, &lat, on_stage, NULL, &err) == WM_OK, "%s", err.msg);
    CHECK_MSG(n_stages == 8, "compared %d encoder stages", n_stages);
    CHECK(compare("encode latent (normalised mode)", &lat, &ref));
    /* 9-frame clip -> 2 latent frames: temporal downsamplers with T > 1. */
    const wm_ckpt_entry *clip = wm_checkpoint_find(gold, "clip.image");
    wm_tensor cref = load(gold, "clip.latent"), cx, clat;
    int64_t cs[4] = {3, 9, 64, 96};
    wm_tensor_alloc(WM_F32, 4, cs, &cx);
    wm_tensor_alloc(WM_F32, 4, cref.shape, &clat);
    CHECK(clip && clip->nbytes == (size_t)wm_tensor_numel(&cx));
    for (int64_t i = 0; clip && i < wm_tensor_numel(&cx); i++) {
        int64_t c = i / (9 * 64 * 96), tp = i % (9 * 64 * 96);
        ((float *)cx.data)[i] = (float)((const uint8_t *)clip->data)[tp * 3 + c] / 255.0f * 2.0f - 1.0f;
    }
    CHECK_MSG(wm_vae_encode(vae, &cx, &clat, NULL, NULL, &err) == WM_OK, "%s", err.msg);
    CHECK(compare("encode 9-frame clip -> 2 latent frames", &clat, &cref));
    wm_tensor_free(&cref), wm_tensor_free(&cx), wm_tensor_free(&clat);
    /* Tiled encode (128-px tiles every 64 px on 192 x 256) vs the reference; the untiled latent of the
     * same image differs by O(1), so this fails if the tiling or the in-place blend order is wrong. */
    const wm_ckpt_entry *big = wm_checkpoint_find(gold, "tiled.image");
    wm_tensor tref = load(gold, "tiled.latent"), uref = load(gold, "tiled.untiled_latent"), bx, tl;
    int64_t bxs[4] = {3, 1, 192, 256};
    wm_tensor_alloc(WM_F32, 4, bxs, &bx);
    wm_tensor_alloc(WM_F32, 4, tref.shape, &tl);
    CHECK(big && big->nbytes == (size_t)wm_tensor_numel(&bx));
    if (big) wm_image_to_unit(big->data, 192, 256, bx.data);
    CHECK_MSG(wm_vae_encode_tiled(vae, &bx, &tl, 128, 64, &err) == WM_OK, "%s", err.msg);
    CHECK(compare("encode tiled 192x256 (tile 128, stride 64)", &tl, &tref));
    CHECK_MSG(wm_vae_encode_tiled(vae, &bx, &tl, 512, 448, &err) == WM_OK, "%s", err.msg); /* one tile */
    CHECK(compare("encode tiled, image within one tile = untiled", &tl, &uref));
    CHECK(wm_vae_encode_tiled(vae, &bx, &tl, 100, 64, &err) == WM_ERR_INVALID_ARG);
    wm_tensor_free(&tref), wm_tensor_free(&uref), wm_tensor_free(&bx), wm_tensor_free(&tl);
    wm_tensor bad;
    int64_t bs[4] = {3, 2, 64, 96};
    wm_tensor_alloc(WM_F32, 4, bs, &bad);
    CHECK(wm_vae_encode(vae, &bad, &lat, NULL, NULL, &err) == WM_ERR_SHAPE);
    wm_tensor_free(&bad), wm_tensor_free(&x), wm_tensor_free(&xi), wm_tensor_free(&ref), wm_tensor_free(&lat);
    wm_checkpoint_close(gold);
    gold = NULL;
}

static void test_flops(const wm_vae_config *c)
{
    json_t *j = json_load_file(GOLDEN "flops.json", 0, NULL);
    json_t *g = json_object_get(j, "golden_3frames"), *r = json_object_get(j, "real_22x40_3frames");
    wm_vae_config real = wm_vae_config_default();
    CHECK(g && r);
    CHECK(wm_vae_decode_flops(c, 2, 3, 3, 1) == json_number_value(json_object_get(g, "True")));
    CHECK(wm_vae_decode_flops(c, 2, 3, 3, 0) == json_number_value(json_object_get(g, "False")));
    CHECK(wm_vae_decode_flops(&real, 22, 40, 3, 1) == json_number_value(json_object_get(r, "True")));
    CHECK(wm_vae_decode_flops(&real, 22, 40, 3, 0) == json_number_value(json_object_get(r, "False")));
    printf("decoder FLOPs per 3-frame chunk at 22x40: %.4g (first call %.4g); encode 704x1280: %.4g\n",
           wm_vae_decode_flops(&real, 22, 40, 3, 0), wm_vae_decode_flops(&real, 22, 40, 3, 1),
           wm_vae_encode_flops(&real, 1, 704, 1280));
    json_decref(j);
}

/* The planner agrees with what a real decoder reserves; then the real config's figures. */
static void test_plan(wm_vae *vae)
{
    wm_error err = {0};
    wm_vae_decoder_params p = {.lat_h = 2, .lat_w = 3, .max_frames = 3};
    wm_vae_plan_info pi;
    wm_vae_decoder *d = NULL;
    CHECK(wm_vae_plan(wm_vae_get_config(vae), NULL, &p, &pi, &err) == WM_OK);
    CHECK(wm_vae_decoder_create(vae, &p, &d, &err) == WM_OK);
    CHECK(d && wm_vae_decoder_memory(d) == pi.decoder_arena_bytes + pi.decoder_cache_bytes);
    wm_vae_decoder_free(d);
    wm_vae_config real = wm_vae_config_default();
    wm_vae_load_params bf = {WM_BF16, WM_BF16};
    for (int k = 0; k < 2; k++) {
        p = (wm_vae_decoder_params){.lat_h = 22, .lat_w = 40, .max_frames = 4};
        CHECK(wm_vae_plan(&real, k ? &bf : NULL, &p, &pi, &err) == WM_OK);
        printf("real config, %s, up to 4 latent frames per call: weights %.0f MiB, decoder arena %.0f MiB, "
               "caches %.0f MiB\n", k ? "bf16" : "fp32", pi.weight_bytes / 1048576.0,
               pi.decoder_arena_bytes / 1048576.0, pi.decoder_cache_bytes / 1048576.0);
    }
    CHECK(pi.weight_bytes > 2000000000u && pi.weight_bytes < 2600000000u); /* 1.22 B parameters in bf16 */
}

/* Mutilated checkpoints: a missing tensor, a mis-shaped one, a zero latents_std -> clean errors naming
 * the tensor, no VAE returned. */
static void test_bad_weights(const wm_vae_config *cfg, wm_checkpoint *ck, wm_backend *be)
{
    int n = wm_checkpoint_count(ck);
    wm_st_item *items = calloc((size_t)n, sizeof *items);
    char path[128];
    snprintf(path, sizeof path, "/tmp/wm_vae_bad_%d.safetensors", (int)getpid());
    const char *victim = "decoder.up_blocks.1.resnets.0.conv2.conv.weight";
    uint16_t zero_std[64] = {0};
    for (int mode = 0; mode < 3; mode++) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            const wm_ckpt_entry *e = wm_checkpoint_entry(ck, i);
            wm_st_item it = {e->name, e->dtype, e->ndim, {0}, e->data};
            memcpy(it.shape, e->shape, sizeof it.shape);
            if (!strcmp(e->name, victim) && mode == 0) continue;                  /* missing */
            if (!strcmp(e->name, victim) && mode == 1) it.shape[0] /= 2, it.shape[1] *= 2; /* same bytes */
            if (!strcmp(e->name, "latents_std") && mode == 2) it.data = zero_std;
            items[m++] = it;
        }
        wm_error err = {0};
        wm_checkpoint *bad = NULL;
        wm_vae *v = NULL;
        CHECK(wm_safetensors_write(path, items, m, NULL, &err) == WM_OK);
        CHECK(wm_checkpoint_open(path, &bad, &err) == WM_OK);
        wm_status st = bad ? wm_vae_load_checkpoint(cfg, bad, be, NULL, &v, &err) : WM_ERR_IO;
        const char *want = mode == 2 ? "latents_std" : victim;
        CHECK_MSG(st != WM_OK && !v && strstr(err.msg, want), "bad weights %d: status %d '%s'", mode, st, err.msg);
        printf("bad weights case %d -> %s\n", mode, err.msg);
        wm_checkpoint_close(bad);
    }
    remove(path);
    free(items);
}

int main(void)
{
    wm_error err = {0};
    wm_vae_config cfg;
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_backend *be = NULL;
    wm_checkpoint *ck = NULL;
    wm_vae *vae = NULL;
    CHECK_MSG(wm_vae_config_load(GOLDEN "config.json", &cfg, &err) == WM_OK, "%s", err.msg);
    CHECK(wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) == WM_OK);
    CHECK_MSG(wm_checkpoint_open(GOLDEN "weights.safetensors", &ck, &err) == WM_OK, "%s", err.msg);
    if (ck) CHECK_MSG(wm_vae_load_checkpoint(&cfg, ck, be, NULL, &vae, &err) == WM_OK, "%s", err.msg);
    /* bf16 weights load (for the CUDA port); the fp32 CPU ops then refuse them cleanly, naming the op. */
    wm_vae *vb = NULL;
    wm_vae_load_params lp = {.weight_dtype = WM_BF16};
    CHECK(wm_vae_load(GOLDEN, be, &lp, &vb, &err) == WM_OK);
    if (vb) {
        wm_vae_decoder_params dp = {.lat_h = 2, .lat_w = 3, .max_frames = 1};
        wm_vae_decoder *d = NULL;
        int64_t zs[4] = {cfg.latent_channels, 1, 2, 3}, ps[4] = {3, 1, 64, 96};
        wm_tensor z, px;
        wm_tensor_alloc(WM_F32, 4, zs, &z), wm_tensor_alloc(WM_F32, 4, ps, &px);
        CHECK(wm_vae_decoder_create(vb, &dp, &d, &err) == WM_OK);
        CHECK(d && wm_vae_decoder_decode(d, &z, &px, &err) == WM_ERR_DTYPE && strstr(err.msg, "vae_conv3d"));
        wm_vae_decoder_free(d), wm_tensor_free(&z), wm_tensor_free(&px);
    }
    wm_vae_free(vb);
    /* A decoder_causal=false config may not be streamed (upstream refuses too); non-causal is fine. */
    if (vae) {
        wm_vae_config *mc = (wm_vae_config *)wm_vae_get_config(vae), keep = *mc;
        wm_vae_decoder_params dp = {.lat_h = 2, .lat_w = 3};
        wm_vae_decoder *d = NULL;
        mc->decoder_causal = 0;
        CHECK(wm_vae_decoder_create(vae, &dp, &d, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "decoder_causal"));
        dp.non_causal = 1;
        CHECK(wm_vae_decoder_create(vae, &dp, &d, &err) == WM_OK);
        wm_vae_decoder_free(d);
        *mc = keep;
    }
    if (vae) {
        test_decode(vae);
        test_encode(vae);
        test_flops(&cfg);
        test_bad_weights(&cfg, ck, be);
        test_plan(vae);
    }
    wm_vae_free(vae);
    wm_checkpoint_close(ck);
    wm_backend_free(be);
    TEST_MAIN_END();
}
