/* `wm bench vae`: the LTX-2 video VAE at the real config (wm_vae_config_default(), the spec §1.5 values
 * that the shipped config.json holds: 128 latent channels, encoder 256/512/1024/2048, decoder
 * 256/512/1024 with 5 ResNets per level, causal decoder with reflect padding) on CUDA in bf16 with random
 * weights: one steady-state streaming decode chunk (3 latent frames -> 24 pixel frames; chunk 0 is
 * decoded first so every temporal cache is warm), one image encode, memory, and the decoder's conv FLOPs
 * per chunk (wm_vae_decode_flops) as TFLOP/s beside the card's measured bf16 GEMM ceiling.
 *
 * Random weights without a checkpoint: wm__vae_shapes() builds the module tree with shapes only (the
 * loader's counting pass); this file then carves every conv out of one device allocation and fills it
 * on the device (wm__cuda_fill_normal, std 1/sqrt(fan_in) so activations stay finite) -- a few GB of
 * fp32 safetensors would otherwise have to be written and read back. Timing follows cmd_bench_dit.c:
 * host clock around each call bracketed by stream syncs (one call is tens of ms, so sync overhead is
 * negligible), p50/p95 over --iters.
 * The 3-D convolutions run on the VAE's conv engine (cuDNN channels-last by default; --conv old or
 * WM_CUDA_CONV3D=old selects the channels-first kernel); the path and its scratch are printed. The first
 * call of each conv shape picks its cuDNN algorithm (a timed search): chunk 0 and the warm-up chunk do
 * that, so the timed chunks see cached plans and no allocation.
 */
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/vae_conv.h"
#include "wm/cli/bench.h"
#include "wm/vae/vae_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma weak wm__cuda_mem_info
#pragma weak wm__cuda_fill_normal
#pragma weak wm__vae_conv_engine_create
#pragma weak wm__vae_conv_engine_free
#pragma weak wm__vae_conv_engine_plan
#pragma weak wm__vae_conv_engine_reserve
#pragma weak wm__vae_conv3d_engine
#pragma weak wm__vae_conv_engine_path
#pragma weak wm__cuda_prof_mark
#pragma weak wm__cuda_prof_collect

static const char *conv_paths[5] = {"cudnn", "igemm", "old", "best", "cudnn"}; /* [4]: WM_VAE_FUSE=0 */

typedef struct {
    wm_vae *v;
    char *base;
    size_t off;
    uint64_t seed;
} wfill;

static wm_status fill_conv(wfill *f, vae_conv *cv)
{
    wm_tensor *ts[2] = {&cv->w, &cv->b};
    float fan_in = (float)(cv->w.shape[1] * cv->w.shape[2] * cv->w.shape[3] * cv->w.shape[4]);
    for (int i = 0; i < 2; i++) {
        ts[i]->data = f->base + f->off;
        f->off += (wm_tensor_nbytes(ts[i]) + 255) & ~(size_t)255;
        if (f->off > f->v->mem_bytes) return WM_ERR_OUT_OF_MEMORY;
        WM_TRY(wm__cuda_fill_normal(f->v->be, ts[i], f->seed++, i ? 0.01f : 1.0f / sqrtf(fan_in)));
    }
    return WM_OK;
}

static wm_status fill_res(wfill *f, vae_resnet *r, int n)
{
    for (int i = 0; i < n; i++) {
        WM_TRY(fill_conv(f, &r[i].conv1));
        WM_TRY(fill_conv(f, &r[i].conv2));
    }
    return WM_OK;
}

/* Every weight of the tree, then the (latent) normalisation vectors (fp32, kept near 1 and 0). */
static wm_status fill_all(wfill *f)
{
    wm_vae *v = f->v;
    WM_TRY(fill_conv(f, &v->enc_in));
    for (int i = 0; i < v->cfg.n_enc_blocks; i++) {
        WM_TRY(fill_res(f, v->down[i].res, v->down[i].n_res));
        if (v->down[i].scale) WM_TRY(fill_conv(f, &v->down[i].conv));
    }
    WM_TRY(fill_res(f, v->enc_mid, v->n_enc_mid));
    WM_TRY(fill_conv(f, &v->enc_out));
    WM_TRY(fill_conv(f, &v->dec_in));
    WM_TRY(fill_res(f, v->dec_mid, v->n_dec_mid));
    for (int i = 0; i < v->cfg.n_dec_blocks; i++) {
        if (v->up[i].scale) WM_TRY(fill_conv(f, &v->up[i].conv));
        WM_TRY(fill_res(f, v->up[i].res, v->up[i].n_res));
    }
    WM_TRY(fill_conv(f, &v->dec_out));
    wm_tensor *nv[4] = {&v->dec_mul, &v->dec_add, &v->enc_mul, &v->enc_add};
    for (int i = 0; i < 4; i++) {
        nv[i]->data = f->base + f->off;
        f->off += (wm_tensor_nbytes(nv[i]) + 255) & ~(size_t)255;
        if (f->off > v->mem_bytes) return WM_ERR_OUT_OF_MEMORY;
        WM_TRY(wm__cuda_fill_normal(v->be, nv[i], f->seed++, 0.1f));
    }
    return WM_OK;
}

/* A random-weight model: shapes from the config, one allocation (weights + 64 KB of slack for the
 * norm vectors), filled on the device. */
static wm_status vae_random(wm_backend *be, wm_vae **out, wm_error *err)
{
    wm_vae_config cfg = wm_vae_config_default();
    wm_vae_load_params lp = {WM_BF16, WM_BF16};
    size_t wbytes = 0;
    WM_TRY(wm__vae_shapes(&cfg, &lp, be, out, &wbytes, err));
    wm_vae *v = *out;
    v->mem_bytes = wbytes + ((size_t)64 << 10);
    wm_status st = wm_backend_malloc(be, v->mem_bytes, &v->mem);
    wfill f = {v, v->mem, 0, 7};
    if (st == WM_OK) st = fill_all(&f);
    if (st != WM_OK) {
        wm__errf(err, st, "bench vae: random weights: %s", be->err.msg);
        wm_vae_free(v);
        *out = NULL;
    }
    return st;
}

typedef struct {
    wm_backend *be;
    wm_vae *vae;
    wm_vae_decoder *dec;
    wm_tensor z0, z, px0, px, x, lat;
    int lh, lw, frames, iters, no_compare;
    size_t used0;
} vb;

static wm_status dev_tensor(vb *b, int64_t c, int64_t t, int64_t h, int64_t w, float scale, uint64_t seed,
                            wm_tensor *out)
{
    int64_t s[4] = {c, t, h, w};
    *out = wm_tensor_view(WM_F32, WM_DEVICE_CUDA, NULL, 4, s);
    WM_TRY(wm_backend_malloc(b->be, wm_tensor_nbytes(out), &out->data));
    return wm__cuda_fill_normal(b->be, out, seed, scale);
}

static wm_status setup(vb *b, wm_error *err)
{
    WM_TRY(vae_random(b->be, &b->vae, err));
    wm_vae_decoder_params dp = {.lat_h = b->lh, .lat_w = b->lw, .max_frames = b->frames + 1};
    WM_TRY(wm_vae_decoder_create(b->vae, &dp, &b->dec, err));
    int64_t H = 32 * b->lh, W = 32 * b->lw;
    WM_TRY(dev_tensor(b, 128, b->frames + 1, b->lh, b->lw, 1.0f, 101, &b->z0)); /* chunk 0: sink + chunk */
    WM_TRY(dev_tensor(b, 128, b->frames, b->lh, b->lw, 1.0f, 102, &b->z));
    WM_TRY(dev_tensor(b, 3, 8 * b->frames + 1, H, W, 0.0f, 103, &b->px0));
    WM_TRY(dev_tensor(b, 3, 8 * b->frames, H, W, 0.0f, 104, &b->px));
    WM_TRY(dev_tensor(b, 3, 1, H, W, 0.5f, 105, &b->x));
    return dev_tensor(b, 128, 1, b->lh, b->lw, 0.0f, 106, &b->lat);
}

/* Steady-state chunks (after chunk 0 and one warm-up chunk), then image encodes; p50/p95 in ms. */
static wm_status measure(vb *b, double dec[2], double enc[2], size_t *used_peak, wm_error *err)
{
    double t[256];
    size_t used = 0, total = 0;
    WM_TRY(wm_vae_decoder_decode(b->dec, &b->z0, &b->px0, err));
    WM_TRY(wm_vae_decoder_decode(b->dec, &b->z, &b->px, err));
    WM_TRY(wm_backend_sync(b->be));
    for (int i = 0; i < b->iters; i++) {
        double t0 = wm_bench_now_ms();
        WM_TRY(wm_vae_decoder_decode(b->dec, &b->z, &b->px, err));
        WM_TRY(wm_backend_sync(b->be));
        t[i] = wm_bench_now_ms() - t0;
    }
    WM_TRY(wm__cuda_mem_info(b->be, &used, &total));
    *used_peak = used;
    dec[1] = wm_bench_percentile(t, b->iters, 0.95);
    dec[0] = wm_bench_percentile(t, b->iters, 0.5);
    WM_TRY(wm_vae_encode(b->vae, &b->x, &b->lat, NULL, NULL, err)); /* warm-up */
    WM_TRY(wm_backend_sync(b->be));
    for (int i = 0; i < b->iters; i++) {
        double t0 = wm_bench_now_ms();
        WM_TRY(wm_vae_encode(b->vae, &b->x, &b->lat, NULL, NULL, err));
        WM_TRY(wm_backend_sync(b->be));
        t[i] = wm_bench_now_ms() - t0;
    }
    enc[1] = wm_bench_percentile(t, b->iters, 0.95);
    enc[0] = wm_bench_percentile(t, b->iters, 0.5);
    return WM_OK;
}

static wm_status run(vb *b, wm_error *err)
{
    double ceil = 0, dec[2], enc[2];
    size_t used_dec = 0;
    printf("%-28s %6s %6s %6s %9s %8s\n", "shape", "N", "K", "M", "ms", "TFLOP/s");
    WM_TRY(wm_bench_gemm_ceiling(b->be, &ceil));
    WM_TRY(setup(b, err));
    WM_TRY(measure(b, dec, enc, &used_dec, err));
    const wm_vae_config *c = wm_vae_get_config(b->vae);
    double fl = wm_vae_decode_flops(c, b->lh, b->lw, b->frames, 0);
    double efl = wm_vae_encode_flops(c, 1, 32 * b->lh, 32 * b->lw);
    double tf = fl / (dec[0] * 1e-3) / 1e12, etf = efl / (enc[0] * 1e-3) / 1e12;
    printf("VAE (LTX-2 config, bf16 weights + activations, random): weights %.2f GB, decoder arena + caches %.2f GB\n",
           b->vae->mem_bytes / 1e9, wm_vae_decoder_memory(b->dec) / 1e9);
    printf("3-D convs: %s; conv scratch %.2f GB\n", wm_vae_conv_path(b->vae), wm_vae_conv_scratch_bytes(b->vae) / 1e9);
    printf("decode chunk (%d latent -> %d frames at %dx%d, caches warm), %d iters: p50 %.1f ms  p95 %.1f ms\n",
           b->frames, 8 * b->frames, 32 * b->lh, 32 * b->lw, b->iters, dec[0], dec[1]);
    printf("  decoder convs %.2f TFLOP/chunk -> %.0f TFLOP/s = %.0f%% of the measured GEMM ceiling %.0f TFLOP/s\n",
           fl / 1e12, tf, 100.0 * tf / ceil, ceil);
    printf("encode one image %dx%d, %d iters: p50 %.1f ms  p95 %.1f ms (%.2f TFLOP -> %.0f TFLOP/s)\n", 32 * b->lh,
           32 * b->lw, b->iters, enc[0], enc[1], efl / 1e12, etf);
    printf("GPU memory in use: before %.2f GB (context), after the decode chunks %.2f GB (the encoder's scratch is "
           "allocated per call and not included)\n", b->used0 / 1e9, used_dec / 1e9);
    return WM_OK;
}

/* One more steady chunk with device events around every conv: ms in the convs (engine: pack + conv +
 * unpack) and in everything else (norms, shuffles, residual adds, cache pushes). */
static wm_status profile_chunk(vb *b, double *conv_ms, double *other_ms, double *cat_ms, wm_error *err)
{
    double ms[WM_PROF_CATS] = {0};
    *conv_ms = *other_ms = 0;
    if (!wm__cuda_prof_mark || !wm__cuda_prof_collect) return WM_OK;
    b->vae->prof = 1;
    wm_status st = wm__cuda_prof_mark(b->be, 1);
    if (st == WM_OK) st = wm_vae_decoder_decode(b->dec, &b->z, &b->px, err);
    if (st == WM_OK) st = wm__cuda_prof_mark(b->be, -1);
    if (st == WM_OK) st = wm__cuda_prof_collect(b->be, ms);
    b->vae->prof = 0;
    *conv_ms = ms[0];
    for (int i = 1; i < WM_VAE_PROF_CATS; i++) *other_ms += ms[i], cat_ms[i] = ms[i];
    return st;
}

/* Decode-chunk p50 of every conv path (a fresh random model per path, WM_CUDA_CONV3D set before it is
 * created): the same chunk as the headline, 3 timed iterations after chunk 0 and one warm-up chunk. */
static wm_status compare_paths(vb *b, wm_error *err)
{
    const wm_vae_config *c = wm_vae_get_config(b->vae);
    double fl = wm_vae_decode_flops(c, b->lh, b->lw, b->frames, 0), t[8];
    char saved[64] = "";
    const char *env = getenv("WM_CUDA_CONV3D");
    if (env) snprintf(saved, sizeof saved, "%s", env);
    wm_status st = WM_OK;
    for (int k = 0; k < 5 && st == WM_OK; k++) {
        wm_vae_decoder_free(b->dec), wm_vae_free(b->vae);
        b->dec = NULL, b->vae = NULL;
        setenv("WM_CUDA_CONV3D", conv_paths[k], 1);
        if (k == 4) setenv("WM_VAE_FUSE", "0", 1); /* the cuDNN path with separate norm / residual ops */
        st = vae_random(b->be, &b->vae, err);
        if (k == 4) unsetenv("WM_VAE_FUSE");
        wm_vae_decoder_params dp = {.lat_h = b->lh, .lat_w = b->lw, .max_frames = b->frames + 1};
        if (st == WM_OK) st = wm_vae_decoder_create(b->vae, &dp, &b->dec, err);
        if (st == WM_OK) st = wm_vae_decoder_decode(b->dec, &b->z0, &b->px0, err);
        if (st == WM_OK) st = wm_vae_decoder_decode(b->dec, &b->z, &b->px, err);
        if (st == WM_OK) st = wm_backend_sync(b->be);
        for (int i = 0; i < 3 && st == WM_OK; i++) {
            double t0 = wm_bench_now_ms();
            st = wm_vae_decoder_decode(b->dec, &b->z, &b->px, err);
            if (st == WM_OK) st = wm_backend_sync(b->be);
            t[i] = wm_bench_now_ms() - t0;
        }
        double cm = 0, om = 0, cat[WM_VAE_PROF_CATS] = {0};
        if (st == WM_OK) st = profile_chunk(b, &cm, &om, cat, err);
        if (st != WM_OK) break;
        double p50 = wm_bench_percentile(t, 3, 0.5);
        printf("  decode chunk with --conv %-5s%s: p50 %8.1f ms = %5.0f TFLOP/s (events: convs %.1f ms = %.0f TFLOP/s, "
               "rest %.1f ms)  [%s]\n", conv_paths[k], k == 4 ? " unfused" : "", p50, fl / (p50 * 1e-3) / 1e12, cm, cm > 0 ? fl / (cm * 1e-3) / 1e12 : 0.0,
               om, wm_vae_conv_path(b->vae));
        printf("      rest = rmsnorm %.1f + depth_to_space %.1f + cache push %.1f + residual add %.1f + other %.1f ms\n",
               cat[2], cat[3], cat[4], cat[5], cat[1]);
    }
    if (saved[0]) setenv("WM_CUDA_CONV3D", saved, 1);
    else unsetenv("WM_CUDA_CONV3D");
    return st;
}

/* One 3x3x3 conv per decoder level at the steady-state chunk's shape (C -> C channels, causal with a
 * left cache, reflect), per path: where the time goes and which path wins at which width. */
static wm_status bench_levels(vb *b, wm_error *err)
{
    int64_t lv[4][4] = {{1024, b->frames, b->lh, b->lw}, {512, 2 * b->frames, 2 * b->lh, 2 * b->lw},
                        {256, 4 * b->frames, 4 * b->lh, 4 * b->lw}, {128, 8 * b->frames, 8 * b->lh, 8 * b->lw}};
    printf("  one conv per level (C->C, 3x3x3, causal + cache, reflect), ms and TFLOP/s:\n");
    for (int l = 0; l < 4; l++) {
        int64_t C = lv[l][0], T = lv[l][1], H = lv[l][2], W = lv[l][3];
        int64_t xs[4] = {C, T, H, W}, ls[4] = {C, 2, H, W}, ws[5] = {C, C, 3, 3, 3}, bs[1] = {C};
        wm_tensor x = wm_tensor_view(WM_BF16, WM_DEVICE_CUDA, NULL, 4, xs), y = x;
        wm_tensor lt = wm_tensor_view(WM_BF16, WM_DEVICE_CUDA, NULL, 4, ls);
        wm_tensor w = wm_tensor_view(WM_BF16, WM_DEVICE_CUDA, NULL, 5, ws), bi = wm_tensor_view(WM_BF16, WM_DEVICE_CUDA, NULL, 1, bs);
        wm_tensor *ts[5] = {&x, &y, &lt, &w, &bi};
        wm_status st = WM_OK;
        for (int i = 0; i < 5 && st == WM_OK; i++) {
            st = wm_backend_malloc(b->be, wm_tensor_nbytes(ts[i]), &ts[i]->data);
            if (st == WM_OK) st = wm__cuda_fill_normal(b->be, ts[i], 300 + i, i == 3 ? 0.02f : 1.0f);
        }
        double fl = 2.0 * C * C * 27 * T * H * W;
        printf("    %4lld ch x %2lld frames %3lldx%-3lld:", (long long)C, (long long)T, (long long)H, (long long)W);
        for (int k = 0; k < 3 && st == WM_OK; k++) {
            wm_vae_conv_engine *e = NULL;
            st = wm__vae_conv_engine_create(b->be, k == 0 ? WM_VAE_CONV_CUDNN : k == 1 ? WM_VAE_CONV_IGEMM : WM_VAE_CONV_OLD, &e);
            if (st == WM_OK && k == 0 && wm__vae_conv_engine_path(e) != WM_VAE_CONV_CUDNN) {
                printf("  cudnn -");
                wm__vae_conv_engine_free(e);
                continue;
            }
            if (st == WM_OK) st = wm__vae_conv_engine_plan(e, &x, &w, 1, &y);
            if (st == WM_OK) st = wm__vae_conv_engine_reserve(e);
            if (st == WM_OK) st = wm__vae_conv3d_engine(e, &x, &lt, &w, &bi, 1, 1, &y); /* algorithm pick, warm-up */
            if (st == WM_OK) st = wm_backend_sync(b->be);
            double t0 = wm_bench_now_ms();
            for (int r = 0; r < 3 && st == WM_OK; r++) st = wm__vae_conv3d_engine(e, &x, &lt, &w, &bi, 1, 1, &y);
            if (st == WM_OK) st = wm_backend_sync(b->be);
            double ms = (wm_bench_now_ms() - t0) / 3;
            if (st == WM_OK) printf("  %s %7.2f ms %4.0f", conv_paths[k], ms, fl / (ms * 1e-3) / 1e12);
            wm__vae_conv_engine_free(e);
        }
        printf("\n");
        for (int i = 0; i < 5; i++)
            if (ts[i]->data) wm_backend_mfree(b->be, ts[i]->data);
        if (st != WM_OK) return wm__errf(err, st, "bench vae: level conv: %s", b->be->err.msg);
    }
    return WM_OK;
}

static int parse(vb *b, int argc, char **argv)
{
    int H = 704, W = 1280;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) b->frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) b->iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-compare")) b->no_compare = 1;
        else if (!strcmp(argv[i], "--conv") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "old") && strcmp(v, "cudnn") && strcmp(v, "igemm") && strcmp(v, "best")) {
                fprintf(stderr, "wm bench vae: --conv takes old, cudnn, igemm or best\n");
                return 2;
            }
            setenv("WM_CUDA_CONV3D", v, 1); /* read by the conv engine when the model is created */
        }
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &H, &W) != 2) H = -1;
        } else {
            fprintf(stderr, "wm bench vae: unknown option '%s' (options: --frames N --size HxW --iters N --conv old|cudnn|igemm|best --no-compare)\n", argv[i]);
            return 2;
        }
    }
    if (b->frames < 1 || b->frames > 16 || b->iters < 1 || b->iters > 256 || H < 32 || W < 32 || H % 32 || W % 32) {
        fprintf(stderr, "wm bench vae: need 1 <= --frames <= 16, 1 <= --iters <= 256, --size HxW multiples of 32\n");
        return 2;
    }
    b->lh = H / 32, b->lw = W / 32;
    return 0;
}

int wm_bench_vae(int argc, char **argv)
{
    vb b = {.frames = 3, .iters = 10};
    int rc = parse(&b, argc, argv);
    if (rc) return rc;
    if (!wm__cuda_fill_normal) {
        fprintf(stderr, "wm bench vae: this build has no CUDA backend\n");
        return 1;
    }
    if (wm_bench_open(&b.be) != WM_OK) return 1;
    wm_bench_header(b.be, "vae");
    size_t total = 0;
    if (wm__cuda_mem_info(b.be, &b.used0, &total) != WM_OK) b.used0 = 0;
    wm_error err = {0};
    wm_status st = run(&b, &err);
    if (st == WM_OK && !b.no_compare && wm__vae_conv_engine_create) {
        printf("conv paths (WM_CUDA_CONV3D / --conv):\n");
        st = compare_paths(&b, &err);
        if (st == WM_OK) st = bench_levels(&b, &err);
    }
    if (st != WM_OK) fprintf(stderr, "wm bench vae: %s: %s\n", wm_status_str(st), err.msg[0] ? err.msg : b.be->err.msg);
    wm_tensor *ts[6] = {&b.z0, &b.z, &b.px0, &b.px, &b.x, &b.lat};
    for (int i = 0; i < 6; i++)
        if (ts[i]->data) wm_backend_mfree(b.be, ts[i]->data);
    wm_vae_decoder_free(b.dec);
    wm_vae_free(b.vae);
    wm_backend_free(b.be);
    return st == WM_OK ? 0 : 1;
}
