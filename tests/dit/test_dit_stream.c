/* Streaming DiT against the reference (GOLDEN.md out_streaming): the distilled 4-step sampler with the
 * t = 0 save pass over chunks [0,4), [4,7), [7,10) — every step's input, timesteps and velocity, the
 * block outputs of each chunk's first step, the clean chunk, the save-pass velocity and every cache
 * slot written — and the consistency of streaming with the chunk-causal full-sequence forward:
 *   agree:   a streaming forward of chunk c (after save passes of the clean chunks 0..c-1) equals the
 *            chunk-causal forward of [clean chunks 0..c-1 at t = 0 | chunk c] on chunk c's tokens,
 *            for every c whose softmax window holds all earlier chunks (c <= 2);
 *   differ (documented exceptions, each checked to differ):
 *     1. softmax window eviction: chunk 3 of a 13-frame video attends {0, 2} in streaming, {0..3} in
 *        the teacher;
 *     2. June-release camera conv (cam_conv_cache = 0): streaming restarts conv_k_cam at every chunk,
 *        the teacher's camera conv crosses chunks.
 *   (GOLDEN.md exception 2, teacher-sampler latents vs streaming latents, is a sampler property and
 *   follows from the schedules; exception 3, chunk 0 = a 4-frame bidirectional forward, is checked.) */
#include "dit_golden.h"
#include "wm/dit/camera.h"
#include "wm/dit/sampler.h"

static wm_backend *be;
static wm_dit_config cfg;
static int S, C, H, D;

/* Compare recorded `rname` with golden `gname` after a layout permutation. */
enum { L_SAME, L_TAIL, L_TT, L_HEADS };
static int check_perm(g_rec *r, const char *rname, const wm_checkpoint *ck, const char *gname, int lay)
{
    g_rec_item *it = g_find(r, rname);
    int64_t n = 0;
    float *ref = g_read(ck, gname, &n);
    if (!it || !ref || it->n != n) {
        fprintf(stderr, "FAIL %s: %s\n", gname, !it ? "not recorded" : !ref ? "no golden" : "size differs");
        free(ref);
        return 0;
    }
    float *g = malloc((size_t)n * 4);
    const float *m = it->data;
    int64_t rows = it->rows;
    for (int64_t i = 0; i < n; i++) g[i] = m[i];
    if (lay == L_TAIL) /* mine (K-1, S, C) -> (S, K-1, C) */
        for (int64_t j = 0; j < rows / S; j++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t c = 0; c < C; c++) g[(s * (rows / S) + j) * C + c] = m[(j * S + s) * C + c];
    if (lay == L_TT) g_tr(m, rows, C, g); /* (S, C) -> (C, S) */
    if (lay == L_HEADS)                   /* (Nc, H*D) -> (H, Nc, D) */
        for (int64_t t = 0; t < rows; t++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t d = 0; d < D; d++) g[(h * rows + t) * D + d] = m[t * C + h * D + d];
    int ok = g_close(gname, g, ref, n);
    free(g);
    free(ref);
    return ok;
}

static void test_stream_golden(const wm_dit_weights *w, const wm_checkpoint *in)
{
    wm_checkpoint *out = g_open("out_streaming.safetensors");
    CHECK(out != NULL);
    if (!out) return;
    int64_t nx;
    float *x = g_read(in, "stream.noise", &nx), *z0 = g_read(in, "stream.z0", NULL), *y = g_read(in, "stream.y", NULL);
    float *mk = g_read(in, "stream.mask", NULL), *cam = g_read(in, "stream.camera_conditions", NULL);
    float *plk = g_read(in, "stream.chunk_plucker", NULL);
    int T = (int)(nx / (cfg.in_channels * S));
    for (int c = 0; c < cfg.in_channels; c++) memcpy(x + (size_t)c * T * S, z0 + (size_t)c * S, (size_t)S * 4);
    uint8_t mask[64];
    for (int i = 0; i < cfg.caption_length; i++) mask[i] = mk[i] != 0;
    wm_dit_cond cond = {y, NULL, mask, NULL, cfg.caption_length, cam, plk, 1.0f};
    g_rec rec = {0};
    wm_dit_sampler_cb cb = {g_record, &rec, 1, NULL, NULL};
    wm_dit_stream *st = NULL;
    float *x2 = malloc((size_t)nx * 4);
    if (x2) memcpy(x2, x, (size_t)nx * 4);
    CHECK(wm_dit_stream_create(&cfg, 1 + cfg.chunk_size, cfg.chunk_size, &st) == WM_OK);
    wm_status s = wm_dit_sample_streaming(be, w, st, x, T, &cond, NULL, 0, &cb);
    CHECK_MSG(s == WM_OK, "streaming sampler: %s", be->err.msg);
    /* The same rollout with the stream on the backend and nothing recorded: chunks after the first keep
     * their latents on the backend across the forwards (the GPU path; here the CPU backend's memory):
     * the same ops in the same order, so the latents match the host loop bit for bit. */
    wm_dit_stream *sd = NULL;
    CHECK(x2 && wm_dit_stream_create_on(be, &cfg, 1 + cfg.chunk_size, cfg.chunk_size, &sd) == WM_OK);
    CHECK(sd && sd->lat.data != NULL);
    if (x2 && sd) {
        s = wm_dit_sample_streaming(be, w, sd, x2, T, &cond, NULL, 0, NULL);
        CHECK_MSG(s == WM_OK, "streaming sampler, device-resident chunks: %s", be->err.msg);
        CHECK_MSG(!memcmp(x2, x, (size_t)nx * 4), "device-resident chunks differ from the host loop");
        /* Its save passes skip the velocity, so the last block stops once its K/V are stored (kv_only):
         * every cache slot must still equal the full save pass's, byte for byte. */
        int same = 1;
        for (int i = 0; i < cfg.depth; i++) {
            const wm_tensor *a = (const wm_tensor *)&st->blocks[i], *b = (const wm_tensor *)&sd->blocks[i];
            for (size_t j = 0; j < sizeof(wm_dit_block_cache) / sizeof(wm_tensor); j++) {
                if (!a[j].data) continue;
                size_t nb = wm_tensor_nbytes(&a[j]);
                if (!b[j].data || wm_tensor_nbytes(&b[j]) != nb || memcmp(a[j].data, b[j].data, nb)) {
                    fprintf(stderr, "FAIL cache slot %zu of block %d differs after trimmed save passes\n", j, i);
                    same = 0;
                }
            }
        }
        CHECK(same);
    }
    wm_dit_stream_free(sd);
    free(x2);
    char a[128], b[128];
    int bounds[8], nc = wm_dit_stream_bounds(T, cfg.chunk_size, bounds, 7);
    CHECK(nc == 3);
    for (int c = 0; c < nc; c++) {
        for (int k = 0; k < 4; k++) {
            const char *nm[3] = {"x_in", "timestep", "v"};
            for (int j = 0; j < 3; j++) {
                snprintf(a, sizeof a, "chunk%d.step%d.%s", c, k, nm[j]);
                CHECK(g_check(&rec, a, out, a, 0));
            }
        }
        for (int i = 0; i < cfg.depth; i++) {
            snprintf(a, sizeof a, "chunk%d.step0.blocks.%d.out", c, i);
            CHECK(g_check(&rec, a, out, a, 0));
        }
        snprintf(a, sizeof a, "chunk%d.x0", c);
        CHECK(g_check(&rec, a, out, a, 0));
        snprintf(a, sizeof a, "chunk%d.save.v", c);
        CHECK(g_check(&rec, a, out, a, 0));
        for (int i = 0; i < cfg.depth; i++) {
            static const char *gdn[6] = {"M", "z", "Mc", "kctail", "ktail", "ttail"};
            static const int gslot[6] = {0, 1, 2, 3, 4, 9}, glay[6] = {L_SAME, L_SAME, L_SAME, L_TAIL, L_TAIL, L_TT};
            static const char *sm[5] = {"K", "V", "Kc", "Vc", "ttail"};
            static const int sslot[5] = {0, 1, 2, 3, 9}, slay[5] = {L_HEADS, L_HEADS, L_HEADS, L_HEADS, L_TT};
            int n = cfg.is_softmax[i] ? 5 : 6;
            for (int j = 0; j < n; j++) {
                snprintf(a, sizeof a, "chunk%d.save.blocks.%d.%s", c, i, cfg.is_softmax[i] ? sm[j] : gdn[j]);
                snprintf(b, sizeof b, "chunk%d.save.blocks.%d.slot%d", c, i, cfg.is_softmax[i] ? sslot[j] : gslot[j]);
                CHECK(check_perm(&rec, a, out, b, cfg.is_softmax[i] ? slay[j] : glay[j]));
            }
        }
    }
    int64_t nl;
    float *lat = g_read(out, "latents", &nl);
    CHECK(lat && nl == nx && g_close("latents", x, lat, nl));
    free(lat);
    g_rec_clear(&rec);
    wm_dit_stream_free(st);
    free(x); free(z0); free(y); free(mk); free(cam); free(plk);
    wm_checkpoint_close(out);
}

/* ---------------------------------------------------------------- streaming vs chunk-causal */

typedef struct {
    const wm_dit_weights *w;
    float *x, *cam, *plk, *y;
    uint8_t mask[64];
    int T;
} seq;

static wm_status fwd(const wm_dit_weights *w, wm_dit_run *run, seq *q, int f0, int n, const float *t, float *v)
{
    int Ci = cfg.in_channels, P = cfg.plucker_channels;
    float *xb = malloc((size_t)Ci * n * S * 4), *pb = malloc((size_t)P * n * S * 4);
    for (int c = 0; c < Ci; c++) memcpy(xb + (size_t)c * n * S, q->x + ((size_t)c * q->T + f0) * S, (size_t)n * S * 4);
    for (int c = 0; c < P; c++) memcpy(pb + (size_t)c * n * S, q->plk + ((size_t)c * q->T + f0) * S, (size_t)n * S * 4);
    wm_dit_inputs in = {xb, t, q->y, q->mask, cfg.caption_length, q->cam + (size_t)f0 * 20, pb, n};
    size_t bytes;
    wm_status st = wm_dit_plan(be, w, run, n, cfg.caption_length, &bytes);
    wm_arena ar = {0};
    if (st == WM_OK) st = wm_arena_init(&ar, NULL, bytes);
    if (st == WM_OK) st = wm_dit_forward(be, w, run, &in, &ar, v);
    wm_arena_free(&ar);
    free(xb), free(pb);
    return st;
}

/* max |a - b| / max |b| over frames [f0, f0+n) of a (Co, n) chunk vs (Co, T) full velocity */
static double chunk_diff(const float *vc, const float *vf, int f0, int n, int T)
{
    double md = 0, mr = 0;
    for (int c = 0; c < cfg.out_channels; c++)
        for (int i = 0; i < n * S; i++) {
            double a = vc[(size_t)c * n * S + i], b = vf[((size_t)c * T + f0) * S + i];
            if (fabs(a - b) > md) md = fabs(a - b);
            if (fabs(b) > mr) mr = fabs(b);
        }
    return md / mr;
}

/* Streaming chunk by chunk (save passes of clean chunks at t = 0, then chunk `last` at t = 500) vs one
 * chunk-causal forward of the whole sequence. Returns the relative difference on each chunk. */
static int stream_vs_teacher(const wm_dit_weights *w, seq *q, double *diff, int ndiff)
{
    int bounds[16], nc = wm_dit_stream_bounds(q->T, cfg.chunk_size, bounds, 15);
    float *t = calloc((size_t)q->T, 4), *vf = malloc((size_t)cfg.out_channels * q->T * S * 4);
    float *vc = malloc((size_t)cfg.out_channels * q->T * S * 4);
    for (int f = bounds[nc - 1]; f < q->T; f++) t[f] = 500.0f;
    wm_dit_run tr = {0};
    tr.variant = WM_DIT_CHUNK_CAUSAL;
    CHECK(fwd(w, &tr, q, 0, q->T, t, vf) == WM_OK);
    wm_dit_stream *st = NULL;
    CHECK(wm_dit_stream_create(&w->cfg, 1 + cfg.chunk_size, cfg.chunk_size, &st) == WM_OK);
    wm_dit_stream_reset(st);
    for (int c = 0; c < nc && c < ndiff; c++) {
        wm_dit_run sr = {0};
        sr.variant = WM_DIT_STREAMING, sr.stream = st, sr.frame0 = bounds[c], sr.save = c < nc - 1;
        int n = bounds[c + 1] - bounds[c];
        CHECK(fwd(w, &sr, q, bounds[c], n, t + bounds[c], vc) == WM_OK);
        diff[c] = chunk_diff(vc, vf, bounds[c], n, q->T);
    }
    wm_dit_stream_free(st);
    free(t), free(vf), free(vc);
    return nc;
}

static void test_stream_vs_teacher(const wm_dit_weights *w, const wm_checkpoint *in)
{
    /* 13 frames: latents = noise (10 frames) + 3 more; camera from the 73-frame trajectory (the last
     * pose repeats past its end, which is fine for a self-consistency check) */
    int T = 13;
    int64_t nr;
    float *c2w = g_read(in, "stream.c2w_raw", &nr), *intr = g_read(in, "stream.intrinsics_raw", NULL);
    float *hw = g_read(in, "image_hw", NULL), *y = g_read(in, "stream.y", NULL), *mk = g_read(in, "stream.mask", NULL);
    seq q = {w, malloc((size_t)cfg.in_channels * T * S * 4), malloc((size_t)T * 80),
             malloc((size_t)cfg.plucker_channels * T * S * 4), y, {0}, T};
    for (int i = 0; i < cfg.caption_length; i++) q.mask[i] = mk[i] != 0;
    t_rng r = {12345};
    t_fill_normal(&r, q.x, (size_t)cfg.in_channels * T * S, 1.0f);
    CHECK(wm_dit_camera_from_raw(c2w, intr, (int)(nr / 16), (int)hw[0], (int)hw[1], cfg.latent_h, cfg.latent_w,
                                 cfg.vae_stride_t, T, q.cam, q.plk) == WM_OK);
    double d[4] = {0};
    /* T = 10 (chunks 0..2): agree everywhere */
    float *x10 = malloc((size_t)cfg.in_channels * 10 * S * 4), *p10 = malloc((size_t)cfg.plucker_channels * 10 * S * 4);
    for (int c = 0; c < cfg.in_channels; c++) memcpy(x10 + (size_t)c * 10 * S, q.x + (size_t)c * T * S, (size_t)10 * S * 4);
    for (int c = 0; c < cfg.plucker_channels; c++)
        memcpy(p10 + (size_t)c * 10 * S, q.plk + (size_t)c * T * S, (size_t)10 * S * 4);
    seq q10 = q;
    q10.x = x10, q10.plk = p10, q10.T = 10;
    stream_vs_teacher(w, &q10, d, 3);
    for (int c = 0; c < 3; c++) {
        printf("stream vs chunk-causal, T=10, chunk %d: max diff / max|ref| = %.2e (agree)\n", c, d[c]);
        CHECK(d[c] < 1e-5);
    }
    /* chunk 0 of streaming = a bidirectional forward of its 4 frames */
    {
        float t4[4] = {0, 500, 500, 500}, *vb = malloc((size_t)cfg.out_channels * 4 * S * 4);
        float *vs = malloc((size_t)cfg.out_channels * 4 * S * 4);
        wm_dit_run br = {0}, sr = {0};
        wm_dit_stream *st = NULL;
        CHECK(wm_dit_stream_create(&cfg, 4, 3, &st) == WM_OK);
        wm_dit_stream_reset(st);
        sr.variant = WM_DIT_STREAMING, sr.stream = st;
        CHECK(fwd(w, &br, &q10, 0, 4, t4, vb) == WM_OK);
        CHECK(fwd(w, &sr, &q10, 0, 4, t4, vs) == WM_OK);
        double dd = chunk_diff(vs, vb, 0, 4, 4);
        printf("streaming chunk 0 vs 4-frame bidirectional forward: %.2e (agree)\n", dd);
        CHECK(dd < 1e-5);
        wm_dit_stream_free(st);
        free(vb), free(vs);
    }
    /* exception 1: T = 13, chunk 3 sees {0, 2} only in streaming */
    stream_vs_teacher(w, &q, d, 4);
    printf("stream vs chunk-causal, T=13, chunk 2: %.2e (agree), chunk 3: %.2e (exception 1: window eviction)\n",
           d[2], d[3]);
    CHECK(d[2] < 1e-5);
    CHECK(d[3] > 1e-3);
    /* exception 2: the June-release uncached camera conv differs from the teacher from chunk 1 on */
    wm_dit_weights w2 = *w;
    w2.cfg.cam_conv_cache = 0;
    stream_vs_teacher(&w2, &q10, d, 3);
    printf("cam_conv_cache=0: chunk 0 %.2e (agree), chunk 1 %.2e (exception 2: uncached camera conv)\n", d[0], d[1]);
    CHECK(d[0] < 1e-5);
    CHECK(d[1] > 1e-4);
    free(c2w), free(intr), free(hw), free(y), free(mk), free(q.x), free(q.cam), free(q.plk), free(x10), free(p10);
}

int main(void)
{
    if (g_load_config(&cfg, NULL, NULL)) { printf("golden files absent: skipped\n"); return 77; }
    S = cfg.latent_h * cfg.latent_w, C = cfg.hidden_size, H = cfg.num_heads, D = C / H;
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_error err = {0};
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) return 1;
    wm_checkpoint *wck = g_open("weights.safetensors"), *in = g_open("inputs.safetensors");
    if (!wck || !in) return 1;
    wm_dit_weights *w = NULL;
    CHECK_MSG(wm_dit_weights_load(wck, &cfg, &w, &err) == WM_OK, "%s", err.msg);
    if (w) {
        test_stream_golden(w, in);
        test_stream_vs_teacher(w, in);
        wm_dit_weights_free(w);
    }
    wm_checkpoint_close(wck);
    wm_checkpoint_close(in);
    wm_backend_free(be);
    TEST_MAIN_END();
}
