/* `wm vae decode|encode`: the LTX-2 VAE from the command line.
 *
 *   wm vae decode VAE_DIR LATENTS.safetensors OUT_DIR [--tensor NAME] [--chunk N] [--non-causal] [--tiled]
 *                 [--drop-first] [--threads N]
 *   wm vae encode VAE_DIR IMAGE.ppm OUT.safetensors [--size HxW] [--intrinsics fx,fy,cx,cy] [--no-tiling]
 *                 [--threads N]
 *   wm vae info [VAE_DIR] [--lat HxW] [--chunk N]
 *
 * decode streams the latents through the causal decoder N latent frames per call (as the world model
 * does chunk by chunk) and writes frame_%05d.ppm files (each written to a temp name, then renamed);
 * --tiled decodes the whole clip tiled as the bidirectional pipeline does.
 * encode applies the spec §1.4 preprocessing (resize-to-cover with PIL-exact Lanczos, centre crop to
 * 704x1280 by default), encodes spatially tiled as the official pipeline does (512-px tiles every 448 px;
 * --no-tiling for one whole-frame encode) and writes the normalised latent (1, C, 1, H/32, W/32) as
 * "latents".
 * Images are binary PPM (P6, maxval 255) so the CLI needs no image library: `ffmpeg -i a.png a.ppm`.
 * info prints the geometry, FLOPs and planned memory of a config (default: the real LTX-2 config)
 * without reading any weights. Runs on the CPU backend. Exit 0 ok, 1 runtime failure, 2 bad arguments or unreadable input.
 */
#include "wm/cli/cli.h"
#include "wm/io/checkpoint.h"
#include "wm/vae/preprocess.h"
#include "wm/vae/vae.h"
#include "kernels/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wm vae decode VAE_DIR LATENTS.safetensors OUT_DIR [--tensor NAME] [--chunk N] [--non-causal] [--tiled]\n"
            "                     [--drop-first] [--threads N]\n"
            "       wm vae encode VAE_DIR IMAGE.ppm OUT.safetensors [--size HxW] [--intrinsics fx,fy,cx,cy]\n"
            "                     [--no-tiling] [--threads N]\n"
            "       wm vae info [VAE_DIR] [--lat HxW] [--chunk N]   (FLOPs and memory; default: real config)\n"
            "  VAE_DIR       config.json + weights (diffusion_pytorch_model.safetensors or any .safetensors)\n"
            "  LATENTS       normalised latents (C,T,h,w) or (1,C,T,h,w); --tensor picks one (default: latents,\n"
            "                else the only tensor)\n"
            "  --chunk N     latent frames per decoder call (default 3; any N gives the same pixels)\n"
            "  --non-causal  one whole-clip non-causal decode (bidirectional VAE config)\n"
            "  --tiled       whole-clip decode tiled as the bidirectional pipeline (512-px tiles, 96-frame tiles)\n"
            "  --drop-first  do not write pixel frame 0 (the streaming pipeline drops the first-frame sink)\n"
            "  --size HxW    encode target size (default 704x1280)\n"
            "  --lat HxW     info: latent grid (default 22x40)\n"
            "  --intrinsics  source-image pinhole intrinsics to adjust for the resize and crop (printed)\n"
            "  --no-tiling   encode the whole frame at once (default: 512-px tiles every 448 px, as official)\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Binary PPM (P6, maxval 255), parsed with bounds. Returns malloc'd RGB or NULL with a message. */
static uint8_t *read_ppm(const char *path, int *h, int *w)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "wm vae: %s: cannot open: %s\n", path, strerror(errno)); return NULL; }
    int v[3], c = 0;
    char magic[3] = {0};
    if (fread(magic, 1, 2, f) != 2 || strcmp(magic, "P6")) goto bad;
    for (int i = 0; i < 3; i++) {
        while ((c = fgetc(f)) == '#' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
            if (c == '#') while ((c = fgetc(f)) != '\n' && c != EOF) {}
        if (c == EOF) goto bad;
        ungetc(c, f);
        if (fscanf(f, "%9d", &v[i]) != 1) goto bad;
    }
    c = fgetc(f);
    if (v[0] < 1 || v[1] < 1 || v[0] > 16384 || v[1] > 16384 || v[2] != 255 || (c != ' ' && c != '\n' && c != '\r' && c != '\t'))
        goto bad;
    *w = v[0], *h = v[1];
    uint8_t *px = malloc((size_t)*w * *h * 3);
    if (px && fread(px, 1, (size_t)*w * *h * 3, f) == (size_t)*w * *h * 3) { fclose(f); return px; }
    free(px);
bad:
    fprintf(stderr, "wm vae: %s: not a binary PPM (P6, maxval 255, at most 16384x16384) or truncated\n", path);
    fclose(f);
    return NULL;
}

static int write_ppm(const char *path, const uint8_t *rgb, int h, int w)
{
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) { fprintf(stderr, "wm vae: %s: cannot create: %s\n", tmp, strerror(errno)); return -1; }
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    int ok = fwrite(rgb, 1, (size_t)w * h * 3, f) == (size_t)w * h * 3;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) { fprintf(stderr, "wm vae: %s: write failed\n", path); remove(tmp); return -1; }
    return 0;
}

typedef struct {
    const char *a[3];
    int na, chunk, non_causal, drop_first, threads, th, tw, has_k, no_tiling, lh, lw, tiled;
    const char *tensor;
    double k[4];
} args;

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->chunk = 3, a->th = 704, a->tw = 1280, a->lh = 22, a->lw = 40;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) return 1;
        else if (!strcmp(s, "--non-causal")) a->non_causal = 1;
        else if (!strcmp(s, "--drop-first")) a->drop_first = 1;
        else if (!strcmp(s, "--no-tiling")) a->no_tiling = 1;
        else if (!strcmp(s, "--tiled")) a->tiled = 1;
        else if (!strcmp(s, "--tensor") && next) a->tensor = argv[++i];
        else if (!strcmp(s, "--chunk") && next) { a->chunk = atoi(argv[++i]); if (a->chunk < 1) return -1; }
        else if (!strcmp(s, "--threads") && next) a->threads = atoi(argv[++i]);
        else if (!strcmp(s, "--size") && next) { if (sscanf(argv[++i], "%dx%d", &a->th, &a->tw) != 2) return -1; }
        else if (!strcmp(s, "--lat") && next) {
            if (sscanf(argv[++i], "%dx%d", &a->lh, &a->lw) != 2 || a->lh < 1 || a->lw < 1) return -1;
        }
        else if (!strcmp(s, "--intrinsics") && next) {
            if (sscanf(argv[++i], "%lf,%lf,%lf,%lf", &a->k[0], &a->k[1], &a->k[2], &a->k[3]) != 4) return -1;
            a->has_k = 1;
        } else if (s[0] == '-' || a->na == 3) return -1;
        else a->a[a->na++] = s;
    }
    int want = !strcmp(argv[1], "info") ? a->na <= 1 : a->na == 3;
    return want && a->th > 0 && a->tw > 0 ? 0 : -1;
}

/* Latents (C,T,h,w) fp32 from a safetensors file. */
static int read_latents(const char *path, const char *name, wm_tensor *z)
{
    wm_error err = {0};
    wm_checkpoint *ck = NULL;
    if (wm_checkpoint_open(path, &ck, &err) != WM_OK) { fprintf(stderr, "wm vae: %s\n", err.msg); return -1; }
    if (!name) name = wm_checkpoint_find(ck, "latents") ? "latents"
                      : wm_checkpoint_count(ck) == 1 ? wm_checkpoint_entry(ck, 0)->name : NULL;
    int rc = -1;
    if (!name) fprintf(stderr, "wm vae: %s: several tensors and none named 'latents': pass --tensor\n", path);
    else if (wm_checkpoint_load_f32(ck, name, z, &err) != WM_OK) fprintf(stderr, "wm vae: %s\n", err.msg);
    else if (z->ndim == 5 && z->shape[0] == 1) memmove(z->shape, z->shape + 1, 4 * sizeof(int64_t)), z->ndim = 4, rc = 0;
    else if (z->ndim == 4) rc = 0;
    else fprintf(stderr, "wm vae: %s: '%s' must be (C,T,h,w) or (1,C,T,h,w)\n", path, name);
    wm_checkpoint_close(ck);
    return rc;
}

static wm_tensor slice_frames(const wm_tensor *z, int64_t t0, int64_t n)
{
    int64_t s[4] = {z->shape[0], n, z->shape[2], z->shape[3]}, hw = z->shape[2] * z->shape[3];
    wm_tensor o = wm_tensor_view(WM_F32, WM_DEVICE_CPU, NULL, 4, s);
    if (wm_tensor_alloc(WM_F32, 4, s, &o) != WM_OK) return o;
    for (int64_t c = 0; c < s[0]; c++)
        memcpy((float *)o.data + c * n * hw, (float *)z->data + (c * z->shape[1] + t0) * hw, sizeof(float) * n * hw);
    return o;
}

/* Pixels (3, F, H, W) -> uint8 PPM files frame_%05d.ppm, numbering from *index. */
static int write_frames(wm_backend *be, const wm_tensor *px, const args *a, int64_t *index)
{
    int64_t nf = px->shape[1], H = px->shape[2], W = px->shape[3], us[4] = {nf, H, W, 3};
    wm_tensor u8 = {0};
    int rc = -1;
    if (wm_tensor_alloc(WM_U8, 4, us, &u8)) fprintf(stderr, "wm vae: no memory for %lld frames\n", (long long)nf);
    else if (wm_vae_to_uint8(be, px, &u8) != WM_OK) fprintf(stderr, "wm vae: %s\n", be->err.msg);
    else {
        rc = 0;
        for (int64_t f = 0; f < nf && rc == 0; f++, (*index)++) {
            if (a->drop_first && *index == 0) continue;
            char path[4200];
            snprintf(path, sizeof path, "%s/frame_%05lld.ppm", a->a[2], (long long)*index);
            rc = write_ppm(path, (uint8_t *)u8.data + f * H * W * 3, (int)H, (int)W);
        }
    }
    wm_tensor_free(&u8);
    return rc;
}

/* Decode one call's frames and write them as PPMs; *index counts pixel frames of the whole stream. */
static int decode_call(wm_vae_decoder *d, wm_backend *be, const wm_tensor *zc, const args *a, int64_t *index,
                       const wm_vae_config *cfg)
{
    wm_error err = {0};
    int sr = wm_vae_spatial_ratio(cfg);
    int64_t nf = wm_vae_decoder_out_frames(d, zc->shape[1]), H = zc->shape[2] * sr, W = zc->shape[3] * sr;
    int64_t ps[4] = {cfg->out_channels, nf, H, W};
    wm_tensor px = {0};
    int rc = -1;
    if (wm_tensor_alloc(WM_F32, 4, ps, &px)) fprintf(stderr, "wm vae: no memory for %lld frames\n", (long long)nf);
    else if (wm_vae_decoder_decode(d, zc, &px, &err) != WM_OK) fprintf(stderr, "wm vae: decode: %s\n", err.msg);
    else rc = write_frames(be, &px, a, index);
    wm_tensor_free(&px);
    return rc;
}

static int decode_tiled(const args *a, wm_backend *be, wm_vae *vae, wm_tensor *z)
{
    int sr = wm_vae_spatial_ratio(wm_vae_get_config(vae)), tr = wm_vae_temporal_ratio(wm_vae_get_config(vae));
    int64_t ps[4] = {3, (z->shape[1] - 1) * tr + 1, z->shape[2] * sr, z->shape[3] * sr}, index = 0;
    wm_tensor px = {0};
    wm_error err = {0};
    double t0 = now_s();
    int rc = 1;
    if (wm_tensor_alloc(WM_F32, 4, ps, &px)) fprintf(stderr, "wm vae: no memory for %lld frames\n", (long long)ps[1]);
    else if (wm_vae_decode_tiled(vae, z, &px, NULL, &err) != WM_OK) fprintf(stderr, "wm vae: decode: %s\n", err.msg);
    else if (write_frames(be, &px, a, &index) == 0) {
        printf("decoded %lld latent frames (tiled) -> %lld frames in %s (%.2f s)\n", (long long)z->shape[1],
               (long long)(index - a->drop_first), a->a[2], now_s() - t0);
        rc = 0;
    }
    wm_tensor_free(&px), wm_tensor_free(z);
    return rc;
}

static int cmd_decode(const args *a, wm_backend *be, wm_vae *vae)
{
    const wm_vae_config *cfg = wm_vae_get_config(vae);
    wm_tensor z = {0};
    if (read_latents(a->a[1], a->tensor, &z)) return 2;
    if (z.shape[0] != cfg->latent_channels) {
        fprintf(stderr, "wm vae: %s: %lld latent channels, the VAE has %d\n", a->a[1], (long long)z.shape[0],
                cfg->latent_channels);
        wm_tensor_free(&z);
        return 2;
    }
    if (mkdir(a->a[2], 0755) && errno != EEXIST) {
        fprintf(stderr, "wm vae: %s: cannot create: %s\n", a->a[2], strerror(errno));
        wm_tensor_free(&z);
        return 2;
    }
    if (cfg->out_channels != 3) {
        fprintf(stderr, "wm vae: only 3-channel output can be written as PPM\n");
        wm_tensor_free(&z);
        return 2;
    }
    int64_t T = z.shape[1], chunk = a->non_causal ? T : a->chunk, index = 0;
    if (a->tiled) return decode_tiled(a, be, vae, &z);
    wm_vae_decoder_params p = {.lat_h = (int)z.shape[2], .lat_w = (int)z.shape[3], .max_frames = (int)chunk,
                               .non_causal = a->non_causal};
    wm_vae_decoder *d = NULL;
    wm_error err = {0};
    int rc = 0;
    double t0 = now_s(), flops = 0;
    if (wm_vae_decoder_create(vae, &p, &d, &err) != WM_OK) { fprintf(stderr, "wm vae: %s\n", err.msg); rc = 1; }
    for (int64_t t = 0; rc == 0 && t < T; t += chunk) {
        int64_t n = T - t < chunk ? T - t : chunk;
        flops += wm_vae_decode_flops(cfg, p.lat_h, p.lat_w, (int)n, t == 0);
        wm_tensor zc = slice_frames(&z, t, n);
        rc = zc.data ? decode_call(d, be, &zc, a, &index, cfg) : -1;
        wm_tensor_free(&zc);
        if (rc) rc = 1;
    }
    double dt = now_s() - t0;
    if (rc == 0)
        printf("decoded %lld latent frames -> %lld frames in %s (%.2f s, %.1f GFLOP, %.2f GFLOP/s, %.1f MiB scratch)\n",
               (long long)T, (long long)(index - a->drop_first), a->a[2], dt, flops * 1e-9, flops * 1e-9 / dt,
               wm_vae_decoder_memory(d) / 1048576.0);
    wm_vae_decoder_free(d);
    wm_tensor_free(&z);
    return rc;
}

static int cmd_encode(const args *a, wm_vae *vae)
{
    const wm_vae_config *cfg = wm_vae_get_config(vae);
    int h0 = 0, w0 = 0, sr = wm_vae_spatial_ratio(cfg), rc = 1;
    if (a->th % sr || a->tw % sr) { fprintf(stderr, "wm vae: --size must be a multiple of %d\n", sr); return 2; }
    uint8_t *src = read_ppm(a->a[1], &h0, &w0), *crop = malloc((size_t)a->th * a->tw * 3);
    wm_error err = {0};
    int64_t xs[4] = {3, 1, a->th, a->tw}, ls[5] = {1, cfg->latent_channels, 1, a->th / sr, a->tw / sr};
    wm_tensor x = {0}, lat = {0};
    if (!src || !crop) { free(src), free(crop); return 2; }
    if (wm_image_cover_crop(src, h0, w0, crop, a->th, a->tw, &err) != WM_OK ||
        wm_tensor_alloc(WM_F32, 4, xs, &x) != WM_OK || wm_tensor_alloc(WM_F32, 4, ls + 1, &lat) != WM_OK) {
        fprintf(stderr, "wm vae: %s\n", err.msg[0] ? err.msg : "no memory");
        goto done;
    }
    wm_image_to_unit(crop, a->th, a->tw, x.data);
    double t0 = now_s();
    wm_status st = a->no_tiling ? wm_vae_encode(vae, &x, &lat, NULL, NULL, &err)
                                : wm_vae_encode_tiled(vae, &x, &lat, 0, 0, &err);
    if (st != WM_OK) { fprintf(stderr, "wm vae: encode: %s\n", err.msg); goto done; }
    wm_st_item item = {"latents", WM_F32, 5, {ls[0], ls[1], ls[2], ls[3], ls[4]}, lat.data};
    if (wm_safetensors_write(a->a[2], &item, 1, NULL, &err) != WM_OK) { fprintf(stderr, "wm vae: %s\n", err.msg); goto done; }
    wm_cover_crop g = wm_cover_crop_geometry(h0, w0, a->th, a->tw);
    printf("encoded %dx%d (resized %dx%d, crop +%d+%d) -> latents (1,%d,1,%d,%d) in %s (%.2f s)\n", h0, w0, g.rh, g.rw,
           g.top, g.left, cfg->latent_channels, a->th / sr, a->tw / sr, a->a[2], now_s() - t0);
    if (a->has_k) {
        double k[4];
        wm_cover_crop_intrinsics(h0, w0, a->th, a->tw, a->k, k);
        printf("intrinsics fx,fy,cx,cy: %.6f,%.6f,%.6f,%.6f\n", k[0], k[1], k[2], k[3]);
    }
    rc = 0;
done:
    free(src), free(crop);
    wm_tensor_free(&x), wm_tensor_free(&lat);
    return rc;
}

/* Geometry, FLOPs and memory of a config, from config.json alone. */
static int cmd_info(const args *a)
{
    wm_vae_config cfg = wm_vae_config_default();
    wm_error err = {0};
    char path[4200];
    if (a->na == 1) {
        snprintf(path, sizeof path, "%s/config.json", a->a[0]);
        if (wm_vae_config_load(path, &cfg, &err) != WM_OK) { fprintf(stderr, "wm vae: %s\n", err.msg); return 2; }
    }
    int sr = wm_vae_spatial_ratio(&cfg), tr = wm_vae_temporal_ratio(&cfg);
    printf("config: %s; latent %d channels, %dx spatial, %dx temporal; decoder %s, %s padding\n",
           a->na ? a->a[0] : "LTX-2 default", cfg.latent_channels, sr, tr, cfg.decoder_causal ? "causal" : "non-causal",
           cfg.decoder_reflect ? "reflect" : "zeros");
    printf("decode %d latent frames at %dx%d -> %d frames of %dx%d: %.4g FLOP (first call of a stream: %.4g)\n",
           a->chunk, a->lh, a->lw, a->chunk * tr, a->lh * sr, a->lw * sr,
           wm_vae_decode_flops(&cfg, a->lh, a->lw, a->chunk, 0), wm_vae_decode_flops(&cfg, a->lh, a->lw, a->chunk, 1));
    printf("encode one %dx%d image: %.4g FLOP\n", a->lh * sr, a->lw * sr,
           wm_vae_encode_flops(&cfg, 1, a->lh * sr, a->lw * sr));
    for (int k = 0; k < 2; k++) {
        wm_vae_load_params lp = {k ? WM_BF16 : WM_F32, k ? WM_BF16 : WM_F32};
        wm_vae_decoder_params p = {.lat_h = a->lh, .lat_w = a->lw, .max_frames = a->chunk, .non_causal = !cfg.decoder_causal};
        wm_vae_plan_info pi;
        if (wm_vae_plan(&cfg, &lp, &p, &pi, &err) != WM_OK) { fprintf(stderr, "wm vae: %s\n", err.msg); return 1; }
        printf("%s: weights %.1f MiB, decoder arena %.1f MiB, stream caches %.1f MiB", k ? "bf16" : "fp32",
               pi.weight_bytes / 1048576.0, pi.decoder_arena_bytes / 1048576.0, pi.decoder_cache_bytes / 1048576.0);
        if (k) printf(", CUDA conv scratch %.1f MiB", pi.conv_scratch_bytes / 1048576.0);
        printf("\n");
    }
    return 0;
}

int wm_cmd_vae(int argc, char **argv)
{
    args a;
    int pr = argc >= 2 ? parse(argc, argv, &a) : -1;
    int is_dec = argc >= 2 && !strcmp(argv[1], "decode"), is_enc = argc >= 2 && !strcmp(argv[1], "encode");
    if (pr == 1 || (argc == 2 && !strcmp(argv[1], "--help"))) { usage(stdout); return 0; }
    if (pr == 0 && !strcmp(argv[1], "info")) return cmd_info(&a);
    if (pr < 0 || (!is_dec && !is_enc)) { usage(stderr); return 2; }
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = a.threads;
    wm_backend *be = NULL;
    wm_vae *vae = NULL;
    wm_error err = {0};
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) { fprintf(stderr, "wm vae: %s\n", err.msg); return 1; }
    int rc;
    if (wm_vae_load(a.a[0], be, NULL, &vae, &err) != WM_OK) { fprintf(stderr, "wm vae: %s\n", err.msg); rc = 2; }
    else rc = is_dec ? cmd_decode(&a, be, vae) : cmd_encode(&a, vae);
    wm_vae_free(vae);
    wm_backend_free(be);
    return rc;
}
