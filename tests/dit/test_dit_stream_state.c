/* DiT stream state (wm_dit_stream_state_*) on the golden small DiT, CPU backend (caches on the backend,
 * so the device path of download/upload runs).
 *
 * Runs the distilled chunks of the golden streaming input (T frames: sink chunk of 1 + chunk_size, then
 * chunk_size): save after chunk 1, run chunk 2, WIPE the stream (wm_dit_stream_zero: caches and counters
 * zero), load, rerun chunk 2 -> latents bit-identical to the first run of chunk 2. The wipe proves the
 * blob carries every cache and counter the chunk reads. Failure paths: a stream of other capacities
 * refuses the blob (WM_ERR_INVALID_ARG + message), so do a truncated buffer, a corrupted magic and a
 * wrong-size save buffer; a failed load leaves the stream as it was.
 */
#include "dit_golden.h"
#include "wm/dit/sampler.h"

static wm_backend *be;
static wm_dit_config cfg;

typedef struct inputs {
    float *noise, *z0, *y, *cam, *plk;
    uint8_t mask[256];
    int T, S;
} inputs;

/* Chunk k of the golden input (bounds from wm_dit_stream_bounds) -> x (in_ch, n, S) clean latents. */
static wm_status run_chunk(const wm_dit_weights *w, wm_dit_stream *st, wm_arena *ar, const inputs *in,
                           const int *bounds, int k, float *x, float *plk)
{
    int f0 = bounds[k], n = bounds[k + 1] - f0, S = in->S;
    for (int c = 0; c < cfg.in_channels; c++)
        memcpy(x + (size_t)c * n * S, in->noise + ((size_t)c * in->T + f0) * S, (size_t)n * S * 4);
    for (int c = 0; c < cfg.plucker_channels; c++)
        memcpy(plk + (size_t)c * n * S, in->plk + ((size_t)c * in->T + f0) * S, (size_t)n * S * 4);
    wm_dit_chunk ck = {x, in->z0, n, f0, k, in->y, in->mask, cfg.caption_length, in->cam + (size_t)f0 * 20, plk,
                       NULL, 0};
    wm_arena_reset(ar);
    return wm_dit_stream_chunk(be, w, st, ar, &ck, NULL);
}

static void test_state(const wm_dit_weights *w, const inputs *in)
{
    wm_error err = {0};
    int bounds[8], nc = wm_dit_stream_bounds(in->T, cfg.chunk_size, bounds, 7);
    CHECK(nc >= 3);
    if (nc < 3) return;
    wm_dit_stream *st = NULL;
    CHECK(wm_dit_stream_create_on(be, &cfg, 1 + cfg.chunk_size, cfg.chunk_size, &st) == WM_OK);
    size_t ab = 0;
    CHECK(st && wm_dit_stream_plan(be, w, st, cfg.caption_length, &ab) == WM_OK);
    wm_arena ar;
    CHECK(wm_arena_init(&ar, be, ab) == WM_OK);
    size_t xn = (size_t)cfg.in_channels * (1 + cfg.chunk_size) * in->S;
    float *x = malloc(xn * 4), *x2 = malloc(xn * 4);
    float *plk = malloc((size_t)cfg.plucker_channels * (1 + cfg.chunk_size) * in->S * 4);
    for (int k = 0; k < 2; k++) CHECK_MSG(run_chunk(w, st, &ar, in, bounds, k, x, plk) == WM_OK, "%s", be->err.msg);
    size_t n = wm_dit_stream_state_bytes(st);
    char *blob = malloc(n);
    CHECK_MSG(wm_dit_stream_state_save(st, blob, n, &err) == WM_OK, "%s", err.msg);
    CHECK(run_chunk(w, st, &ar, in, bounds, 2, x, plk) == WM_OK);
    CHECK(wm_dit_stream_zero(st) == WM_OK && st->n_saved == 0);
    CHECK_MSG(wm_dit_stream_state_load(st, blob, n, &err) == WM_OK, "%s", err.msg);
    CHECK(st->n_saved == 2);
    CHECK(run_chunk(w, st, &ar, in, bounds, 2, x2, plk) == WM_OK);
    size_t cn = (size_t)cfg.in_channels * (bounds[3] - bounds[2]) * in->S;
    int same = !memcmp(x, x2, cn * 4);
    CHECK_MSG(same, "chunk 2 after save/wipe/load differs from the first run");
    printf("save after chunk 1, chunk 2, wipe, load, chunk 2 again: %s (%zu state bytes)\n",
           same ? "bit-identical" : "FAIL", n);
    /* Failure paths; the stream keeps its state (n_saved 3) after each refused load. */
    CHECK(wm_dit_stream_state_save(st, blob, n - 1, &err) == WM_ERR_INVALID_ARG);
    err.msg[0] = 0;
    CHECK(wm_dit_stream_state_load(st, blob, n - 1, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "truncated"));
    CHECK(wm_dit_stream_state_load(st, blob, 4, &err) == WM_ERR_INVALID_ARG && err.msg[0]);
    blob[0] ^= 0x5a;
    CHECK(wm_dit_stream_state_load(st, blob, n, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "magic"));
    blob[0] ^= 0x5a;
    CHECK(st->n_saved == 3);
    wm_dit_stream *o = NULL;
    CHECK(wm_dit_stream_create_on(be, &cfg, 2 + cfg.chunk_size, cfg.chunk_size, &o) == WM_OK);
    if (o) {
        size_t m = wm_dit_stream_state_bytes(o);
        char *big = calloc(1, m > n ? m : n);
        memcpy(big, blob, n);
        err.msg[0] = 0;
        CHECK(wm_dit_stream_state_load(o, big, n, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "another config"));
        CHECK(wm_dit_stream_state_load(o, big, m, &err) == WM_ERR_INVALID_ARG && o->n_saved == 0);
        printf("foreign capacity refused: %s\n", err.msg);
        free(big);
        wm_dit_stream_free(o);
    }
    free(blob), free(x), free(x2), free(plk);
    wm_arena_free(&ar);
    wm_dit_stream_free(st);
}

int main(void)
{
    if (g_load_config(&cfg, NULL, NULL)) { printf("golden files absent: skipped\n"); return 77; }
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_error err = {0};
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) return 1;
    wm_checkpoint *wck = g_open("weights.safetensors"), *ick = g_open("inputs.safetensors");
    if (!wck || !ick) return 1;
    wm_dit_weights *w = NULL;
    CHECK_MSG(wm_dit_weights_load(wck, &cfg, &w, &err) == WM_OK, "%s", err.msg);
    inputs in = {0};
    int64_t nx = 0;
    in.S = cfg.latent_h * cfg.latent_w;
    in.noise = g_read(ick, "stream.noise", &nx), in.z0 = g_read(ick, "stream.z0", NULL);
    in.y = g_read(ick, "stream.y", NULL), in.cam = g_read(ick, "stream.camera_conditions", NULL);
    in.plk = g_read(ick, "stream.chunk_plucker", NULL);
    float *mk = g_read(ick, "stream.mask", NULL);
    in.T = (int)(nx / ((int64_t)cfg.in_channels * in.S));
    CHECK(in.noise && in.z0 && in.y && in.cam && in.plk && mk && cfg.caption_length <= 256);
    if (w && in.noise && in.z0 && in.y && in.cam && in.plk && mk && cfg.caption_length <= 256) {
        for (int i = 0; i < cfg.caption_length; i++) in.mask[i] = mk[i] != 0;
        test_state(w, &in);
    }
    free(in.noise), free(in.z0), free(in.y), free(in.cam), free(in.plk), free(mk);
    wm_dit_weights_free(w);
    wm_checkpoint_close(wck);
    wm_checkpoint_close(ick);
    wm_backend_free(be);
    TEST_MAIN_END();
}
