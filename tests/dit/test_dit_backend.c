/* The DiT through its backend-agnostic placement (weights/caches/arena on the backend's device, host
 * tables staged and uploaded), on the CPU backend:
 *   1. golden weights placed with wm_dit_weights_load_on + a staged forward give bit-identical v to the
 *      plain host path, and match the golden v (both variants);
 *   2. random weights (the benchmark initializer) are deterministic per seed; a forward with GEMM weights
 *      rounded to bf16 values (the CUDA weight precision) stays within 5e-2 relative L2 of fp32 and differs
 *      from it (the rounding reached the GEMMs);
 *   3. the benchmark driver streams 10 chunks: the arena high-water mark stops growing once the window is
 *      full (chunk 2), stays within the planned arena, and the host heap does not grow per chunk; the
 *      block hook (CUDA-graph capture/replay) sees two phases per forward with keys that repeat from
 *      chunk 2 on with the same arena offset, and skipping the blocks changes v;
 *   4. the stream's caption cache: a forward with a cached prompt equals the uncached forward bit for bit,
 *      and a changed caption or mask is recomputed (matches a fresh stream, differs from the old prompt).
 */
#include "dit_golden.h"
#include "wm/core/dtype.h"
#include "wm/dit/bench.h"

#include <malloc.h>
#include <math.h>

static wm_backend *be;
static wm_dit_config cfg;
static int T;

static float *forward(const wm_dit_weights *w, const wm_checkpoint *in, wm_dit_variant var, int staged, int64_t *nv)
{
    float *x = g_read(in, "x", NULL), *ts = g_read(in, "timestep", NULL), *y = g_read(in, "y", NULL);
    float *mk = g_read(in, "mask", NULL), *cam = g_read(in, "camera_conditions", NULL);
    float *plk = g_read(in, "chunk_plucker", NULL);
    uint8_t mask[512];
    for (int i = 0; i < cfg.caption_length; i++) mask[i] = mk[i] != 0;
    wm_dit_inputs inp = {x, ts, y, mask, cfg.caption_length, cam, plk, T};
    wm_dit_run run = {0};
    run.variant = var;
    wm_arena stage = {0}, ar;
    if (staged) {
        CHECK(wm_arena_init(&stage, NULL, wm_dit_stage_bytes(&cfg, T, cfg.caption_length)) == WM_OK);
        run.stage = &stage;
    }
    size_t bytes = 0;
    CHECK(wm_dit_plan(be, w, &run, T, cfg.caption_length, &bytes) == WM_OK);
    CHECK(wm_arena_init(&ar, be, bytes) == WM_OK);
    *nv = (int64_t)cfg.out_channels * T * cfg.latent_h * cfg.latent_w;
    float *v = malloc((size_t)*nv * 4);
    wm_status st = wm_dit_forward(be, w, &run, &inp, &ar, v);
    CHECK_MSG(st == WM_OK, "forward: %s", be->err.msg);
    if (staged) CHECK(stage.peak > 0 && stage.peak <= stage.cap);
    wm_arena_free(&ar);
    wm_arena_free(&stage);
    free(x); free(ts); free(y); free(mk); free(cam); free(plk);
    return v;
}

static void test_golden_placed(void)
{
    wm_checkpoint *wck = g_open("weights.safetensors"), *in = g_open("inputs.safetensors");
    CHECK(wck && in);
    if (!wck || !in) return;
    wm_error err = {0};
    wm_dit_weights *wh = NULL, *wd = NULL;
    wm_dit_weights_params p = {be, 0};
    CHECK_MSG(wm_dit_weights_load(wck, &cfg, &wh, &err) == WM_OK, "%s", err.msg);
    CHECK_MSG(wm_dit_weights_load_on(wck, &cfg, &p, &wd, &err) == WM_OK, "%s", err.msg);
    CHECK(wd && wd->be == be && wd->mem[0] && wd->mem[1] && wd->x_w.dtype == wm_dit_act_dtype(be));
    const char *files[2] = {"out_bidirectional.safetensors", "out_chunk_causal.safetensors"};
    wm_dit_variant vars[2] = {WM_DIT_BIDIRECTIONAL, WM_DIT_CHUNK_CAUSAL};
    for (int k = 0; k < 2 && wh && wd; k++) {
        int64_t n = 0;
        float *a = forward(wh, in, vars[k], 0, &n), *b = forward(wd, in, vars[k], 1, &n);
        CHECK_MSG(!memcmp(a, b, (size_t)n * 4), "%s: staged/placed forward not bit-identical", files[k]);
        wm_checkpoint *out = g_open(files[k]);
        float *ref = out ? g_read(out, "v", NULL) : NULL;
        CHECK(ref && g_close(files[k], b, ref, n));
        free(a); free(b); free(ref);
        wm_checkpoint_close(out);
    }
    wm_dit_weights_free(wh);
    wm_dit_weights_free(wd);
    wm_checkpoint_close(wck);
    wm_checkpoint_close(in);
}

/* A small random config forward (bidirectional, 5 frames) through the bench driver's setup. */
static void test_random_bf16(void)
{
    wm_error err = {0};
    wm_dit_weights *a = NULL, *b = NULL, *r = NULL;
    wm_dit_weights_params p = {be, 0}, pr = {be, 1};
    CHECK(wm_dit_weights_random(&cfg, 7, &p, &a, &err) == WM_OK);
    CHECK(wm_dit_weights_random(&cfg, 7, &p, &b, &err) == WM_OK);
    CHECK(wm_dit_weights_random(&cfg, 7, &pr, &r, &err) == WM_OK);
    if (!a || !b || !r) return;
    CHECK(a->mem_bytes[0] == b->mem_bytes[0] && a->mem_bytes[1] == b->mem_bytes[1]);
    for (int i = 0; i < cfg.depth; i++) { /* every tensor of every block, as the free walk once did */
        const wm_tensor *ta = (const wm_tensor *)&a->blocks[i], *tb = (const wm_tensor *)&b->blocks[i];
        for (size_t j = 0; j < sizeof(wm_dit_block_weights) / sizeof(wm_tensor); j++)
            if (ta[j].data) CHECK(!memcmp(ta[j].data, tb[j].data, wm_tensor_nbytes(&ta[j])));
    }
    const float *qa = a->blocks[0].qkv.data, *qr = r->blocks[0].qkv.data;
    CHECK(qr[0] == wm_round_bf16(qa[0]) && qr[5] == wm_round_bf16(qa[5]) && qa[0] != qr[0]);
    int Tf = 5, S = cfg.latent_h * cfg.latent_w, L = cfg.caption_length;
    size_t nx = (size_t)cfg.in_channels * Tf * S, np = (size_t)cfg.plucker_channels * Tf * S;
    float *x = malloc(nx * 4), *plk = malloc(np * 4), *y = malloc((size_t)L * cfg.caption_channels * 4);
    float ts[5] = {0, 500, 500, 500, 500}, cam[5 * 20] = {0};
    t_rng rng = {3};
    t_fill_normal(&rng, x, nx, 1.0f), t_fill_normal(&rng, plk, np, 1.0f);
    t_fill_normal(&rng, y, (size_t)L * cfg.caption_channels, 1.0f);
    for (int f = 0; f < Tf; f++) {
        float *c = cam + f * 20;
        c[0] = c[5] = c[10] = c[15] = 1, c[11] = 0.1f * f, c[16] = c[17] = 6, c[18] = 3, c[19] = 2;
    }
    wm_dit_inputs in = {x, ts, y, NULL, L, cam, plk, Tf};
    wm_dit_run run = {0};
    size_t bytes = 0;
    CHECK(wm_dit_plan(be, a, &run, Tf, L, &bytes) == WM_OK);
    wm_arena ar;
    CHECK(wm_arena_init(&ar, be, bytes) == WM_OK);
    size_t nv = (size_t)cfg.out_channels * Tf * S;
    float *va = malloc(nv * 4), *vr = malloc(nv * 4);
    CHECK(wm_dit_forward(be, a, &run, &in, &ar, va) == WM_OK);
    CHECK(wm_dit_forward(be, r, &run, &in, &ar, vr) == WM_OK);
    double e2 = 0, s2 = 0;
    int finite = 1;
    for (size_t i = 0; i < nv; i++) {
        finite &= isfinite(va[i]) && isfinite(vr[i]);
        e2 += ((double)va[i] - vr[i]) * ((double)va[i] - vr[i]), s2 += (double)va[i] * va[i];
    }
    double rel = sqrt(e2 / (s2 > 0 ? s2 : 1));
    printf("random weights, bf16-rounded GEMM weights vs fp32: rel_l2 %.2e (|v| rms %.3g)\n", rel, sqrt(s2 / nv));
    CHECK(finite && s2 > 0 && rel > 1e-6 && rel < 5e-2);
    wm_arena_free(&ar);
    free(x), free(plk), free(y), free(va), free(vr);
    wm_dit_weights_free(a), wm_dit_weights_free(b), wm_dit_weights_free(r);
}

typedef struct {
    int calls[2], n_fwd;
    wm_dit_blocks_key keys[64];
    int skip;
} hook_log;

static wm_status hook(void *u, int phase, const wm_dit_blocks_key *k, int *skip)
{
    hook_log *h = u;
    h->calls[phase]++;
    if (phase == 0 && h->n_fwd < 64) h->keys[h->n_fwd++] = *k;
    if (phase == 0) *skip = h->skip;
    return WM_OK;
}

static void check_hook(const hook_log *h, int chunks)
{
    CHECK(h->n_fwd == 2 * chunks && h->calls[0] == 2 * chunks && h->calls[1] == 2 * chunks);
    for (int i = 0; i < h->n_fwd && i < 64; i++) {
        const wm_dit_blocks_key *k = &h->keys[i], *r = &h->keys[i - 2 >= 4 ? i - 2 : i];
        int c = i / 2;
        CHECK(k->save == (i % 2) && k->window == (c < 2 ? c : 2) && k->frames == (c ? 3 : 4));
        CHECK(k->sink_frames == (c >= 1 ? 4 : 0) && k->prev_frames == (c >= 2 ? 3 : 0) && k->text_len == 8);
        CHECK(k->text_cached == (i > 0)); /* the prompt's K/V are computed by the first forward only */
        CHECK(k->text_keys == 5); /* 5 valid caption tokens of 8: the cross-attention reads 5 keys */
        CHECK(!memcmp(k, r, sizeof *k)); /* steady state: equal keys, equal arena offsets */
        CHECK(wm_dit_blocks_key_equal(k, r) && (i < 2 || !wm_dit_blocks_key_equal(k, &h->keys[i ^ 1])));
    }
}

static void test_bench_stream(void)
{
    wm_error err = {0};
    wm_dit_bench *b = NULL;
    wm_dit_bench_params p = {0};
    hook_log hl = {0};
    p.variant = WM_DIT_STREAMING, p.seed = 11, p.n_steps = 1, p.text_len = 8; /* 2 forwards a chunk: short test */
    p.valid_text = 5;
    p.blocks_hook = hook, p.blocks_user = &hl;
    CHECK_MSG(wm_dit_bench_create(be, &cfg, &p, &b, &err) == WM_OK, "%s", err.msg);
    if (!b) return;
    wm_dit_bench_info info;
    size_t peak2 = 0, heap1 = 0;
    for (int c = 0; c < 10; c++) {
        wm_status st = wm_dit_bench_step(b);
        CHECK_MSG(st == WM_OK, "chunk %d: %s", c, be->err.msg);
        wm_dit_bench_get_info(b, &info);
        size_t heap = mallinfo2().uordblks;
        if (c == 1) heap1 = heap;
        if (c == 2) peak2 = info.arena_peak;
        if (c > 1) CHECK_MSG(heap == heap1, "chunk %d: host heap grew by %zd bytes", c, (ssize_t)(heap - heap1));
        if (c > 2) CHECK_MSG(info.arena_peak == peak2, "chunk %d: arena high-water mark grew", c);
        CHECK(info.arena_peak <= info.arena_bytes);
        const wm_dit_stream *ds = wm_dit_bench_stream(b); /* the chunk's tables stayed cached on the device */
        CHECK(ds->tab_frames == info.frames && ds->tab_frame0 + info.frames == (c == 0 ? 4 : 4 + 3 * c));
    }
    CHECK(info.steps_done == 10 && info.forwards_per_step == 2 && info.frames == cfg.chunk_size);
    CHECK(wm_dit_bench_stream(b)->n_saved == 10);
    check_hook(&hl, 10);
    printf("bench stream: 10 chunks, weights %zu B, caches %zu B, arena %zu B (peak %zu), stage %zu B\n",
           info.weight_bytes, info.cache_bytes, info.arena_bytes, info.arena_peak, info.stage_bytes);
    wm_dit_bench_free(b);
    p.variant = WM_DIT_BIDIRECTIONAL, p.frames = 4;
    CHECK(wm_dit_bench_create(be, &cfg, &p, &b, &err) == WM_OK);
    if (!b) return;
    size_t nv = (size_t)cfg.out_channels * 4 * cfg.latent_h * cfg.latent_w;
    float *v0 = malloc(nv * 4);
    memset(&hl, 0, sizeof hl);
    CHECK(wm_dit_bench_step(b) == WM_OK && wm_dit_bench_step(b) == WM_OK);
    memcpy(v0, wm_dit_bench_velocity(b), nv * 4);
    CHECK(hl.calls[0] == 2 && hl.calls[1] == 2 && !memcmp(&hl.keys[0], &hl.keys[1], sizeof hl.keys[0]));
    hl.skip = 1; /* the caller "ran the blocks": here nothing ran, so v must change */
    CHECK(wm_dit_bench_step(b) == WM_OK && hl.calls[0] == 3 && hl.calls[1] == 2);
    CHECK(memcmp(v0, wm_dit_bench_velocity(b), nv * 4) != 0);
    free(v0);
    wm_dit_bench_free(b);
}

/* Chunk-0 streaming forward (no save) with caption y / mask on stream st. */
static void stream_fwd(const wm_dit_weights *w, wm_dit_stream *st, wm_arena *ar, const float *y, const uint8_t *mask,
                       const float *x, const float *plk, const float *cam, float *v)
{
    float ts[4] = {0, 960, 960, 960};
    wm_dit_inputs in = {x, ts, y, mask, cfg.caption_length, cam, plk, 4};
    wm_dit_run run = {0};
    run.variant = WM_DIT_STREAMING, run.stream = st, run.stage = &st->stage;
    CHECK_MSG(wm_dit_forward(be, w, &run, &in, ar, v) == WM_OK, "%s", be->err.msg);
}

static void test_caption_cache(void)
{
    wm_error err = {0};
    wm_dit_weights *w = NULL;
    wm_dit_weights_params p = {be, 0};
    CHECK(wm_dit_weights_random(&cfg, 5, &p, &w, &err) == WM_OK);
    wm_dit_stream *st = NULL, *st2 = NULL;
    CHECK(wm_dit_stream_create_on(be, &cfg, 4, 3, &st) == WM_OK && wm_dit_stream_create_on(be, &cfg, 4, 3, &st2) == WM_OK);
    if (!w || !st || !st2) return;
    int S = cfg.latent_h * cfg.latent_w, L = cfg.caption_length;
    size_t nx = (size_t)cfg.in_channels * 4 * S, np = (size_t)cfg.plucker_channels * 4 * S, ny = (size_t)L * cfg.caption_channels;
    float *x = malloc(nx * 4), *plk = malloc(np * 4), *y1 = malloc(ny * 4), *y2 = malloc(ny * 4), cam[80] = {0};
    float *va = malloc(nx * 4), *vb = malloc(nx * 4), *vc = malloc(nx * 4);
    uint8_t m1[512], m2[512];
    t_rng rng = {9};
    t_fill_normal(&rng, x, nx, 1.0f), t_fill_normal(&rng, plk, np, 1.0f), t_fill_normal(&rng, y1, ny, 1.0f);
    memcpy(y2, y1, ny * 4);
    y2[7] += 0.5f;
    for (int i = 0; i < L; i++) m1[i] = i < L / 2, m2[i] = i < L / 2 + 1;
    for (int f = 0; f < 4; f++) cam[f * 20] = cam[f * 20 + 5] = cam[f * 20 + 10] = cam[f * 20 + 15] = 1, cam[f * 20 + 16] = cam[f * 20 + 17] = 6;
    size_t bytes = 0;
    CHECK(wm_dit_stream_plan(be, w, st, L, &bytes) == WM_OK);
    wm_arena ar;
    CHECK(wm_arena_init(&ar, be, bytes) == WM_OK);
    stream_fwd(w, st, &ar, y1, m1, x, plk, cam, va);  /* fills the cache */
    CHECK(st->cap_valid && st->cap_L == L);
    stream_fwd(w, st, &ar, y1, m1, x, plk, cam, vb);  /* reads it */
    CHECK(!memcmp(va, vb, nx * 4));
    stream_fwd(w, st, &ar, y2, m1, x, plk, cam, vb);  /* caption changed */
    stream_fwd(w, st2, &ar, y2, m1, x, plk, cam, vc); /* fresh stream, same prompt */
    CHECK(!memcmp(vb, vc, nx * 4) && memcmp(va, vb, nx * 4));
    stream_fwd(w, st, &ar, y2, m2, x, plk, cam, vb);  /* mask changed */
    stream_fwd(w, st2, &ar, y2, m2, x, plk, cam, vc);
    CHECK(!memcmp(vb, vc, nx * 4));
    wm_dit_stream_reset(st);
    CHECK(!st->cap_valid);
    wm_arena_free(&ar);
    free(x), free(plk), free(y1), free(y2), free(va), free(vb), free(vc);
    wm_dit_stream_free(st), wm_dit_stream_free(st2), wm_dit_weights_free(w);
}

int main(void)
{
    if (g_load_config(&cfg, &T, NULL)) { printf("golden files absent: skipped\n"); return 77; }
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_error err = {0};
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) return 1;
    test_golden_placed();
    test_random_bf16();
    test_bench_stream();
    test_caption_cache();
    wm_backend_free(be);
    TEST_MAIN_END();
}
