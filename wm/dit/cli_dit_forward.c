/* `wm dit-forward`: one DiT forward from safetensors files, for parity checks against any other
 * implementation (spec §2-§4; file names per the official forward's arguments).
 *
 * The architecture is inferred from the checkpoint's names and shapes (wm_dit_config_from_checkpoint,
 * after an optional config.yaml), the latent grid and frame count from `x`. Inputs: x (B,Cin,T,H,W),
 * timestep (B,1,T) per frame [or (B,T) / (B,) per sample], y (B,1,L,Cc) [or (B,L,Cc)], mask (B,L)
 * (optional), and camera_conditions (B,T,20) + chunk_plucker (B,48,T,H,W), or c2w_raw (F,4,4) +
 * intrinsics_raw (F,4) in pixels + the image size (image_hw (2,) in the file or --image-hw H,W), from
 * which both are built (spec §4.1-§4.7). Writes v (B,Cout,T,H,W) and with --dump-blocks every block's
 * output blocks.{i}.out (B,N,C), atomically. Exit: 0 ok, 1 runtime failure, 2 bad arguments/input.
 * --backend cuda runs the same forward on the GPU (weights/arena on the device in its dtypes, tables
 * staged): the whole-model parity check of a device backend against the golden vectors; dumped block
 * outputs are downloaded and widened to fp32.
 */
#include "wm/cli/cli.h"
#include "wm/core/backend.h"
#include "wm/core/dtype.h"
#include "wm/dit/camera.h"
#include "wm/dit/model.h"
#include "wm/io/dit_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *weights, *inputs, *out, *config;
    wm_dit_variant variant;
    int dump, threads, image_h, image_w;
    wm_backend_kind backend;
} fwd_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: wm dit-forward --weights W --inputs I --out O [--variant bidirectional|chunk-causal]\n"
               "                      [--config config.yaml] [--dump-blocks] [--image-hw H,W] [--threads N]\n"
               "                      [--backend cpu|cuda]\n"
               "  --weights   DiT checkpoint (.safetensors / index.json / model.pt; f32, bf16 or f16)\n"
               "  --inputs    safetensors with x, timestep, y, [mask], and camera_conditions + chunk_plucker\n"
               "              or c2w_raw (F,4,4) + intrinsics_raw (F,4, pixels) + image_hw (or --image-hw)\n"
               "  --out       output safetensors: v (B,Cout,T,H,W) [+ blocks.{i}.out (B,N,C)]\n");
}

static int parse(int argc, char **argv, fwd_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) { usage(stdout); return 1; }
        if (!strcmp(s, "--dump-blocks")) { a->dump = 1; continue; }
        if (!v) break;
        i++;
        if (!strcmp(s, "--weights")) a->weights = v;
        else if (!strcmp(s, "--inputs")) a->inputs = v;
        else if (!strcmp(s, "--out")) a->out = v;
        else if (!strcmp(s, "--config")) a->config = v;
        else if (!strcmp(s, "--threads")) a->threads = atoi(v);
        else if (!strcmp(s, "--backend")) {
            if (!strcmp(v, "cpu")) a->backend = WM_BACKEND_CPU;
            else if (!strcmp(v, "cuda")) a->backend = WM_BACKEND_CUDA;
            else { fprintf(stderr, "wm dit-forward: unknown backend '%s' (cpu or cuda)\n", v); return -1; }
        }
        else if (!strcmp(s, "--image-hw")) {
            if (sscanf(v, "%d,%d", &a->image_h, &a->image_w) != 2 || a->image_h < 1 || a->image_w < 1) return -1;
        } else if (!strcmp(s, "--variant")) {
            if (!strcmp(v, "bidirectional")) a->variant = WM_DIT_BIDIRECTIONAL;
            else if (!strcmp(v, "chunk-causal")) a->variant = WM_DIT_CHUNK_CAUSAL;
            else { fprintf(stderr, "wm dit-forward: unknown variant '%s'\n", v); return -1; }
        } else { fprintf(stderr, "wm dit-forward: unknown option '%s'\n", s); return -1; }
    }
    if (!a->weights || !a->inputs || !a->out) { fprintf(stderr, "wm dit-forward: --weights, --inputs, --out are required\n"); return -1; }
    return 0;
}

/* Input tensor `name` as fp32 (numel must equal want when want > 0); NULL + message if bad. */
static float *input_f32(const wm_checkpoint *ck, const char *name, int64_t want, int optional, int64_t *n)
{
    const wm_ckpt_entry *e = wm_checkpoint_find(ck, name);
    if (!e) {
        if (!optional) fprintf(stderr, "wm dit-forward: %s: missing input '%s'\n", wm_checkpoint_path(ck), name);
        return NULL;
    }
    int64_t c = 1;
    for (int i = 0; i < e->ndim; i++) c *= e->shape[i];
    if (want > 0 && c != want) {
        fprintf(stderr, "wm dit-forward: input '%s' has %lld elements, expected %lld\n", name, (long long)c, (long long)want);
        return NULL;
    }
    float *d = malloc((size_t)(c ? c : 1) * sizeof(float));
    wm_error err = {0};
    int ok = d != NULL;
    if (ok && (e->dtype == WM_I64 || e->dtype == WM_I32 || e->dtype == WM_BOOL || e->dtype == WM_U8)) {
        size_t es = wm_dtype_size(e->dtype);
        for (int64_t i = 0; i < c; i++) {
            int64_t v = 0;
            memcpy(&v, (const char *)e->data + es * i, es); /* little-endian */
            if (e->dtype == WM_I32) v = (int32_t)v;
            d[i] = (float)v;
        }
    } else if (ok && wm_checkpoint_read_f32(ck, name, 0, NULL, d, &err) != WM_OK) {
        fprintf(stderr, "wm dit-forward: %s\n", err.msg);
        ok = 0;
    }
    if (!ok) { free(d); return NULL; }
    if (n) *n = c;
    return d;
}

typedef struct {
    float *x, *ts, *y, *mask, *cam, *plk;
    int B, T, L, H, W;
    int ts_frames; /* 1: timestep per frame; 0: per sample */
} fwd_in;

static void fwd_in_free(fwd_in *f)
{
    free(f->x), free(f->ts), free(f->y), free(f->mask), free(f->cam), free(f->plk);
}

/* camera_conditions + chunk_plucker for one video from c2w_raw / intrinsics_raw (F,4) or (F,3,3). */
static int camera_from_raw(const wm_checkpoint *ck, const wm_dit_config *c, fwd_args *a, fwd_in *f)
{
    int64_t nc = 0, ni = 0;
    float *c2w = input_f32(ck, "c2w_raw", 0, 0, &nc), *intr = input_f32(ck, "intrinsics_raw", 0, 0, &ni);
    int ok = c2w && intr && nc % 16 == 0 && nc > 0 && (ni == nc / 4 || ni == nc / 16 * 9);
    if (c2w && intr && !ok) fprintf(stderr, "wm dit-forward: c2w_raw (F,4,4) and intrinsics_raw (F,4) disagree\n");
    int F = (int)(nc / 16);
    if (ok && ni == (int64_t)F * 9) /* K matrices -> fx, fy, cx, cy */
        for (int i = 0; i < F; i++) {
            float k[9];
            memcpy(k, intr + 9 * i, sizeof k);
            intr[4 * i] = k[0], intr[4 * i + 1] = k[4], intr[4 * i + 2] = k[2], intr[4 * i + 3] = k[5];
        }
    if (ok && !a->image_h) {
        float *hw = input_f32(ck, "image_hw", 2, 0, NULL);
        if (hw) a->image_h = (int)hw[0], a->image_w = (int)hw[1];
        free(hw);
        if (!hw) fprintf(stderr, "wm dit-forward: raw cameras need image_hw in the inputs or --image-hw\n");
        ok = hw != NULL;
    }
    size_t S = (size_t)f->H * f->W, per_cam = (size_t)f->T * 20, per_plk = (size_t)c->plucker_channels * f->T * S;
    if (ok) {
        f->cam = malloc(per_cam * f->B * 4), f->plk = malloc(per_plk * f->B * 4);
        ok = f->cam && f->plk && c->plucker_channels == 6 * c->vae_stride_t &&
             wm_dit_camera_from_raw(c2w, intr, F, a->image_h, a->image_w, f->H, f->W, c->vae_stride_t, f->T, f->cam,
                                    f->plk) == WM_OK;
        for (int b = 1; ok && b < f->B; b++) {
            memcpy(f->cam + b * per_cam, f->cam, per_cam * 4);
            memcpy(f->plk + b * per_plk, f->plk, per_plk * 4);
        }
    }
    free(c2w), free(intr);
    return ok ? 0 : 2;
}

static int load_inputs(const wm_checkpoint *ck, wm_dit_config *c, fwd_args *a, fwd_in *f)
{
    memset(f, 0, sizeof *f);
    const wm_ckpt_entry *e = wm_checkpoint_find(ck, "x");
    if (!e || e->ndim != 5 || e->shape[1] != c->in_channels) {
        fprintf(stderr, "wm dit-forward: %s: need x (B,%d,T,H,W)\n", wm_checkpoint_path(ck), c->in_channels);
        return 2;
    }
    f->B = (int)e->shape[0], f->T = (int)e->shape[2], f->H = (int)e->shape[3], f->W = (int)e->shape[4];
    c->latent_h = f->H, c->latent_w = f->W;
    int64_t N = (int64_t)f->T * f->H * f->W, n = 0;
    if (!(f->x = input_f32(ck, "x", 0, 0, NULL))) return 2;
    if (!(f->ts = input_f32(ck, "timestep", 0, 0, &n))) return 2;
    f->ts_frames = n == (int64_t)f->B * f->T;
    if (!f->ts_frames && n != f->B) { fprintf(stderr, "wm dit-forward: timestep must be (B,1,T) or (B,)\n"); return 2; }
    if (!(f->y = input_f32(ck, "y", 0, 0, &n))) return 2;
    if (n % ((int64_t)f->B * c->caption_channels)) {
        fprintf(stderr, "wm dit-forward: y must be (B,1,L,%d)\n", c->caption_channels);
        return 2;
    }
    f->L = (int)(n / ((int64_t)f->B * c->caption_channels));
    if (f->L < 1) return 2;
    f->mask = input_f32(ck, "mask", (int64_t)f->B * f->L, 1, NULL);
    if (!f->mask && wm_checkpoint_find(ck, "mask")) return 2;
    if (wm_checkpoint_find(ck, "camera_conditions")) {
        f->cam = input_f32(ck, "camera_conditions", (int64_t)f->B * f->T * 20, 0, NULL);
        f->plk = input_f32(ck, "chunk_plucker", (int64_t)f->B * c->plucker_channels * N, 0, NULL);
        return f->cam && f->plk ? 0 : 2;
    }
    return camera_from_raw(ck, c, a, f);
}

typedef struct {
    float **blocks; /* per block (B, N, C) */
    int b;
    int64_t NC;
    wm_backend *be;
    void *host;     /* download scratch for device tensors (NC fp32) */
    int failed;
} dump_ctx;

static void dump_rec(void *u, const char *name, const wm_tensor *t)
{
    dump_ctx *d = u;
    int i = -1, end = 0;
    if (sscanf(name, "blocks.%d.out%n", &i, &end) != 1 || name[end] != 0 || wm_tensor_numel(t) != d->NC) return;
    float *dst = d->blocks[i] + d->b * d->NC;
    const void *src = t->data;
    if (t->device != WM_DEVICE_CPU) {
        if (wm_backend_download(d->be, d->host, t->data, wm_tensor_nbytes(t)) != WM_OK) { d->failed = 1; return; }
        src = d->host;
    }
    if (wm_convert_to_f32(t->dtype, src, dst, (size_t)d->NC) != 0) d->failed = 1;
}

/* Forward every batch element; v (B, Cout, T, H, W). */
static int run_all(wm_backend *be, const wm_dit_weights *w, const fwd_args *a, const fwd_in *f, float *v, dump_ctx *d)
{
    const wm_dit_config *c = &w->cfg;
    int64_t S = (int64_t)f->H * f->W, N = f->T * S;
    wm_dit_run run = {0};
    run.variant = a->variant;
    if (a->dump) run.record = dump_rec, run.record_user = d;
    size_t bytes = 0;
    wm_arena ar = {0}, stage = {0};
    run.stage = &stage;
    if (wm_dit_plan(be, w, &run, f->T, f->L, &bytes) != WM_OK || wm_arena_init(&ar, be, bytes) != WM_OK ||
        wm_arena_init(&stage, NULL, wm_dit_stage_bytes(c, f->T, f->L)) != WM_OK) {
        fprintf(stderr, "wm dit-forward: %s\n", be->err.msg[0] ? be->err.msg : "out of memory");
        wm_arena_free(&ar);
        return 1;
    }
    float *ts = malloc((size_t)f->T * 4);
    uint8_t *mask = malloc((size_t)f->L);
    int rc = ts && mask ? 0 : 1;
    for (int b = 0; rc == 0 && b < f->B; b++) {
        for (int t = 0; t < f->T; t++) ts[t] = f->ts[f->ts_frames ? b * f->T + t : b];
        for (int l = 0; l < f->L; l++) mask[l] = f->mask ? f->mask[b * f->L + l] != 0 : 1;
        wm_dit_inputs in = {f->x + (size_t)b * c->in_channels * N, ts, f->y + (size_t)b * f->L * c->caption_channels,
                            mask, f->L, f->cam + (size_t)b * f->T * 20, f->plk + (size_t)b * c->plucker_channels * N, f->T};
        d->b = b;
        if (wm_dit_forward(be, w, &run, &in, &ar, v + (size_t)b * c->out_channels * N) != WM_OK) {
            fprintf(stderr, "wm dit-forward: forward failed: %s\n", be->err.msg);
            rc = 1;
        } else if (d->failed) {
            fprintf(stderr, "wm dit-forward: block dump failed: %s\n", be->err.msg);
            rc = 1;
        }
    }
    free(ts), free(mask);
    wm_arena_free(&ar);
    wm_arena_free(&stage);
    return rc;
}

static int write_out(const fwd_args *a, const wm_dit_config *c, const fwd_in *f, const float *v, dump_ctx *d)
{
    int n = 1 + (a->dump ? c->depth : 0);
    wm_st_item *it = calloc((size_t)n, sizeof *it);
    char (*names)[32] = calloc((size_t)n, 32);
    if (!it || !names) { free(it), free(names); return 1; }
    it[0] = (wm_st_item){"v", WM_F32, 5, {f->B, c->out_channels, f->T, f->H, f->W}, v};
    for (int i = 1; i < n; i++) {
        snprintf(names[i], 32, "blocks.%d.out", i - 1);
        it[i] = (wm_st_item){names[i], WM_F32, 3, {f->B, (int64_t)f->T * f->H * f->W, c->hidden_size}, d->blocks[i - 1]};
    }
    wm_error err = {0};
    const char *meta[] = {"variant", a->variant == WM_DIT_CHUNK_CAUSAL ? "chunk-causal" : "bidirectional", NULL};
    int rc = wm_safetensors_write(a->out, it, n, meta, &err) == WM_OK ? 0 : 1;
    if (rc) fprintf(stderr, "wm dit-forward: %s\n", err.msg);
    free(it), free(names);
    return rc;
}

static int forward_files(wm_backend *be, fwd_args *a, const wm_checkpoint *wck, const wm_checkpoint *ick)
{
    wm_error err = {0};
    wm_dit_config cfg = wm_dit_config_default();
    if (a->config && wm_dit_config_from_yaml(a->config, &cfg, &err) != WM_OK) {
        fprintf(stderr, "wm dit-forward: %s\n", err.msg);
        return 2;
    }
    if (wm_dit_config_from_checkpoint(wck, &cfg, &err) != WM_OK) {
        fprintf(stderr, "wm dit-forward: %s\n", err.msg);
        return 2;
    }
    fwd_in f;
    int rc = load_inputs(ick, &cfg, a, &f);
    wm_dit_weights *w = NULL;
    wm_dit_weights_params wp = {be, 0};
    if (rc == 0 && wm_dit_weights_load_on(wck, &cfg, &wp, &w, &err) != WM_OK) {
        fprintf(stderr, "wm dit-forward: %s\n", err.msg);
        rc = 2;
    }
    int64_t NC = (int64_t)f.T * f.H * f.W * cfg.hidden_size;
    dump_ctx d = {calloc((size_t)cfg.depth, sizeof(float *)), 0, NC, be, NULL, 0};
    float *v = rc ? NULL : malloc((size_t)f.B * cfg.out_channels * f.T * f.H * f.W * 4);
    if (rc == 0 && a->dump && !(d.host = malloc((size_t)NC * 4))) rc = 1;
    if (rc == 0 && (!v || !d.blocks)) rc = 1;
    for (int i = 0; rc == 0 && a->dump && i < cfg.depth; i++)
        if (!(d.blocks[i] = calloc((size_t)(f.B * NC), 4))) rc = 1;
    if (rc == 0) rc = run_all(be, w, a, &f, v, &d);
    if (rc == 0) rc = write_out(a, &cfg, &f, v, &d);
    if (rc == 0)
        printf("wm dit-forward: %s, %d blocks (C %d, %d heads), B %d T %d %dx%d, L %d -> %s\n",
               a->variant == WM_DIT_CHUNK_CAUSAL ? "chunk-causal" : "bidirectional", cfg.depth, cfg.hidden_size,
               cfg.num_heads, f.B, f.T, f.H, f.W, f.L, a->out);
    for (int i = 0; d.blocks && i < cfg.depth; i++) free(d.blocks[i]);
    free(d.blocks), free(d.host), free(v);
    fwd_in_free(&f);
    wm_dit_weights_free(w);
    return rc;
}

int wm_cmd_dit_forward(int argc, char **argv)
{
    fwd_args a;
    int p = parse(argc, argv, &a);
    if (p) {
        if (p < 0) usage(stderr);
        return p > 0 ? 0 : 2;
    }
    wm_error err = {0};
    wm_checkpoint *wck = NULL, *ick = NULL;
    if (wm_checkpoint_open(a.weights, &wck, &err) != WM_OK || wm_checkpoint_open(a.inputs, &ick, &err) != WM_OK) {
        fprintf(stderr, "wm dit-forward: %s\n", err.msg);
        wm_checkpoint_close(wck);
        return 2;
    }
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = a.threads;
    wm_backend *be = NULL;
    int rc = 1;
    if (wm_backend_create(a.backend, &bp, &be, &err) != WM_OK) fprintf(stderr, "wm dit-forward: %s\n", err.msg);
    else rc = forward_files(be, &a, wck, ick);
    wm_backend_free(be);
    wm_checkpoint_close(wck);
    wm_checkpoint_close(ick);
    return rc;
}
