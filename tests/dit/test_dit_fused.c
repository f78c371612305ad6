/* The fused DiT ops against the unfused op sequences they replace, on the CPU backend, BIT-EXACT (the
 * CPU references compute the same fp32 expressions in the same order), and the whole DiT forward with
 * the fused path (default) against the unfused one (wm_dit_weights.unfused = 1): bit-identical v for
 * the bidirectional and chunk-causal golden forwards, and both within the golden tolerance.
 *   dit_qk_prep: every combination the forward uses (GDN main q/k with y_pre = x, camera q in place,
 *     camera k with a separate y_pre, v / attention output without norm (conj), softmax main / camera)
 *     vs rmsnorm -> activate -> convert -> ucpe_apply -> rope_apply, at odd sizes (37 tokens, 3 heads of
 *     16) and the golden width (224 = 2 x 112); bad arguments refused;
 *   matmul_add vs matmul + gated_add (out of place, in place, with / without bias);
 *   mul_silu vs activate(SiLU) + mul;
 *   depthwise3x3_silu_glu vs activate(SiLU) + depthwise3x3_glu;
 *   matmul_batched vs one matmul per batch; gated_add_ln_mod vs gated_add + layernorm_modulate.
 */
#include "dit_golden.h"
#include "kernels/ops.h"

#include <math.h>
#include <string.h>

static t_rng rng = {0x51ed2701c3a5e9b7ULL};
static wm_backend *be;

static wm_tensor mk2(int64_t r, int64_t c, float scale)
{
    int64_t sh[2] = {r, c};
    wm_tensor t;
    WM_ASSERT(wm_tensor_alloc(WM_F32, 2, sh, &t) == WM_OK);
    if (scale != 0) t_fill_normal(&rng, t.data, (size_t)wm_tensor_numel(&t), scale);
    else memset(t.data, 0, wm_tensor_nbytes(&t));
    return t;
}

static wm_tensor dup(const wm_tensor *a)
{
    wm_tensor t = mk2(wm_tensor_rows(a), wm_tensor_cols(a), 0);
    memcpy(t.data, a->data, wm_tensor_nbytes(a));
    return t;
}

static int same(const char *l, const wm_tensor *a, const wm_tensor *b)
{
    int ok = !memcmp(a->data, b->data, wm_tensor_nbytes(a));
    if (!ok) fprintf(stderr, "  %s: fused and unfused results differ\n", l);
    return ok;
}

typedef struct {
    const char *name;
    int norm, relu, ucpe, tr, cam, conj, pre; /* pre: 0 none, 1 y_pre = x, 2 separate y_pre */
    int inplace;                               /* y = x */
} qk_case;

/* Unfused sequence exactly as wm/dit ran it before the fusion (on copies). */
static void qk_unfused(const qk_case *k, wm_tensor *x, const wm_tensor *w, const wm_tensor *M, const wm_tensor *cs,
                       const wm_tensor *sn, int H, wm_tensor *y, wm_tensor *yp)
{
    int64_t D = wm_tensor_cols(x) / H;
    if (k->norm) CHECK(wm_rmsnorm(be, x, w, 1e-6f, x) == WM_OK);
    if (k->relu) CHECK(wm_activate(be, x, WM_ACT_RELU) == WM_OK);
    if (k->pre == 2) CHECK(wm_convert(be, x, yp) == WM_OK);
    const wm_tensor *src = x;
    if (k->ucpe) { CHECK(wm_ucpe_apply(be, x, M, H, k->tr, y) == WM_OK); src = y; }
    CHECK(wm_rope_apply(be, src, cs, sn, H, k->cam ? (int)D / 2 : 0, k->conj, y) == WM_OK);
}

static void qk_case_run(const qk_case *k, int64_t N, int H, int64_t D)
{
    int64_t C = H * D, P = k->cam ? D / 4 : D / 2;
    wm_tensor x = mk2(N, C, 1.5f), w = mk2(1, C, 0.3f), M = mk2(N, 16, 0.6f);
    wm_tensor cs = mk2(N, P, 1.0f), sn = mk2(N, P, 1.0f);
    for (int64_t i = 0; i < C; i++) ((float *)w.data)[i] += 1.0f;
    for (int64_t i = 0; i < N * P; i++) { /* a real rotation: cos^2 + sin^2 = 1 */
        float a = ((float *)cs.data)[i] * 3.0f;
        ((float *)cs.data)[i] = cosf(a), ((float *)sn.data)[i] = sinf(a);
    }
    wm_tensor xu = dup(&x), yu = mk2(N, C, 0), pu = mk2(N, C, 0);
    wm_tensor xf = dup(&x), yf = mk2(N, C, 7.0f), pf = mk2(N, C, 7.0f); /* fused outputs start as garbage */
    wm_tensor *yU = k->inplace ? &xu : &yu, *yF = k->inplace ? &xf : &yf;
    wm_tensor *pU = k->pre == 1 ? &xu : k->pre == 2 ? &pu : NULL, *pF = k->pre == 1 ? &xf : k->pre == 2 ? &pf : NULL;
    qk_unfused(k, &xu, &w, &M, &cs, &sn, H, yU, pU);
    wm_status st = wm_dit_qk_prep(be, &xf, k->norm ? &w : NULL, 1e-6f, k->relu, k->ucpe ? &M : NULL, k->tr, &cs, &sn,
                                  H, k->cam ? (int)D / 2 : 0, k->conj, yF, pF);
    CHECK_MSG(st == WM_OK, "%s: %s", k->name, be->err.msg);
    char l[128];
    snprintf(l, sizeof l, "%s N=%lld H=%d D=%lld y", k->name, (long long)N, H, (long long)D);
    CHECK(same(l, yU, yF));
    if (pU) {
        snprintf(l, sizeof l, "%s N=%lld H=%d D=%lld y_pre", k->name, (long long)N, H, (long long)D);
        CHECK(same(l, pU, pF));
    }
    float *yv = yF->data;
    double s = 0;
    for (int64_t i = 0; i < N * C; i++) s += fabs(yv[i]);
    CHECK_MSG(s > 0.1 * (double)(N * C), "%s: output looks empty", k->name); /* the op really wrote y */
    wm_tensor *all[] = {&x, &w, &M, &cs, &sn, &xu, &yu, &pu, &xf, &yf, &pf};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
}

static void test_qk_prep(void)
{
    static const qk_case cases[] = {
        {"gdn main q/k (norm relu rope, y_pre=x)", 1, 1, 0, 0, 0, 0, 1, 0},
        {"gdn cam q (norm relu ucpe^T rope, in place)", 1, 1, 1, 1, 1, 0, 0, 1},
        {"gdn cam k (norm relu, y_pre, ucpe rope, in place)", 1, 1, 1, 0, 1, 0, 2, 1},
        {"cam v (ucpe rope)", 0, 0, 1, 0, 1, 0, 0, 1},
        {"cam out (ucpe, conj rope)", 0, 0, 1, 0, 1, 1, 0, 1},
        {"softmax main (norm rope)", 1, 0, 0, 0, 0, 0, 0, 1},
        {"softmax cam q (norm ucpe^T rope)", 1, 0, 1, 1, 1, 0, 0, 1},
        {"out of place, separate y_pre", 1, 1, 1, 0, 1, 0, 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qk_case_run(&cases[i], 37, 3, 16);
        qk_case_run(&cases[i], 24, 2, 112);
    }
    /* refused: y_pre aliasing y, RoPE pairs overlapping the UCPE half, a bad norm weight */
    wm_tensor x = mk2(5, 32, 1), M = mk2(5, 16, 1), cs = mk2(5, 8, 1), sn = mk2(5, 8, 1), w = mk2(1, 31, 1);
    CHECK(wm_dit_qk_prep(be, &x, NULL, 1e-6f, 0, NULL, 0, &cs, &sn, 2, 0, 0, &x, &x) == WM_ERR_INVALID_ARG);
    CHECK(wm_dit_qk_prep(be, &x, NULL, 1e-6f, 0, &M, 0, &cs, &sn, 2, 0, 0, &x, NULL) == WM_ERR_INVALID_ARG);
    CHECK(strstr(be->err.msg, "dit_qk_prep") != NULL);
    CHECK(wm_dit_qk_prep(be, &x, &w, 1e-6f, 0, NULL, 0, NULL, NULL, 2, 0, 0, &x, NULL) == WM_ERR_SHAPE);
    wm_tensor *all[] = {&x, &M, &cs, &sn, &w};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
}

static void test_matmul_add(void)
{
    for (int bias_on = 0; bias_on < 2; bias_on++)
        for (int inplace = 0; inplace < 2; inplace++) {
            int64_t N = 23, K = 37, M = 19;
            wm_tensor x = mk2(N, K, 1), w = mk2(M, K, 0.2f), b = mk2(1, M, 0.5f), r = mk2(N, M, 1);
            wm_tensor t = mk2(N, M, 0), ru = dup(&r), rf = dup(&r), yf = mk2(N, M, 3);
            const wm_tensor *bp = bias_on ? &b : NULL;
            CHECK(wm_matmul(be, &x, &w, bp, WM_ACT_NONE, &t) == WM_OK);
            CHECK(wm_gated_add(be, &ru, &t, NULL, 1) == WM_OK);
            wm_tensor *y = inplace ? &rf : &yf;
            CHECK(wm_matmul_add(be, &x, &w, bp, &rf, y) == WM_OK);
            CHECK(same(inplace ? "matmul_add in place" : "matmul_add", &ru, y));
            if (!inplace) CHECK(same("matmul_add keeps res", &r, &rf));
            CHECK(wm_matmul_add(be, &x, &w, bp, &x, y) != WM_OK); /* res may not alias x (shape or alias) */
            wm_tensor *all[] = {&x, &w, &b, &r, &t, &ru, &rf, &yf};
            for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
        }
}

static void test_matmul_batched(void)
{
    for (int bias_on = 0; bias_on < 2; bias_on++) {
        int64_t N = 11, K = 17, M = 9;
        wm_tensor x = mk2(N, K, 1), w = mk2(3 * M, K, 0.3f), b = mk2(1, 3 * M, 0.5f), y = mk2(3 * N, M, 4);
        wm_tensor r = mk2(3 * N, M, 0);
        for (int j = 0; j < 3; j++) {
            wm_tensor wj = wm_tensor_slice0(&w, j * M, M), rj = wm_tensor_slice0(&r, j * N, N);
            int64_t sh[1] = {M};
            wm_tensor bj = wm_tensor_view(WM_F32, WM_DEVICE_CPU, (float *)b.data + j * M, 1, sh);
            CHECK(wm_matmul(be, &x, &wj, bias_on ? &bj : NULL, WM_ACT_NONE, &rj) == WM_OK);
        }
        int64_t sb[1] = {3 * M};
        wm_tensor b1 = wm_tensor_view(WM_F32, WM_DEVICE_CPU, b.data, 1, sb);
        CHECK(wm_matmul_batched(be, &x, &w, bias_on ? &b1 : NULL, 3, 0, &y) == WM_OK);
        CHECK(same(bias_on ? "matmul_batched bias" : "matmul_batched", &r, &y));
        CHECK(wm_matmul_batched(be, &x, &w, NULL, 2, 0, &y) == WM_ERR_SHAPE); /* 27 rows do not split in 2 */
        /* outputs 15 rows apart: the same numbers, the rows between them untouched */
        wm_tensor ys = mk2(2 * 15 + N, M, 3), keep = mk2(2 * 15 + N, M, 0);
        memcpy(keep.data, ys.data, (size_t)wm_tensor_nbytes(&ys));
        CHECK(wm_matmul_batched(be, &x, &w, bias_on ? &b1 : NULL, 3, 15, &ys) == WM_OK);
        for (int j = 0; j < 3; j++) {
            wm_tensor got = wm_tensor_slice0(&ys, 15 * j, N), want = wm_tensor_slice0(&r, j * N, N);
            CHECK(same("matmul_batched strided", &want, &got));
            if (j < 2) {
                wm_tensor gap = wm_tensor_slice0(&ys, 15 * j + N, 15 - N), was = wm_tensor_slice0(&keep, 15 * j + N, 15 - N);
                CHECK(same("matmul_batched strided gap", &was, &gap));
            }
        }
        CHECK(wm_matmul_batched(be, &x, &w, NULL, 3, 10, &ys) == WM_ERR_SHAPE); /* stride below N */
        wm_tensor_free(&ys);
        wm_tensor_free(&keep);
        wm_tensor *all[] = {&x, &w, &b, &y, &r};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
    }
}

static void test_gadd_ln(void)
{
    int64_t N = 12, C = 20, rpg = 5, G = 3;
    wm_tensor x = mk2(N, C, 1), h = mk2(N, C, 1), g = mk2(G, C, 0.5f), sh = mk2(G, C, 0.3f), sc = mk2(G, C, 0.3f);
    wm_tensor xu = dup(&x), yu = mk2(N, C, 0), yf = mk2(N, C, 6);
    CHECK(wm_gated_add(be, &xu, &h, &g, rpg) == WM_OK);
    CHECK(wm_layernorm_modulate(be, &xu, &sh, &sc, rpg, 1e-6f, &yu) == WM_OK);
    CHECK(wm_gated_add_ln_mod(be, &x, &h, &g, &sh, &sc, rpg, 1e-6f, &yf) == WM_OK);
    CHECK(same("gated_add_ln_mod x", &xu, &x));
    CHECK(same("gated_add_ln_mod y", &yu, &yf));
    CHECK(wm_gated_add_ln_mod(be, &x, &h, &g, &sh, &sc, rpg, 1e-6f, &x) == WM_ERR_INVALID_ARG);
    wm_tensor *all[] = {&x, &h, &g, &sh, &sc, &xu, &yu, &yf};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
}

static void test_mul_silu(void)
{
    wm_tensor a = mk2(13, 29, 1), g = mk2(13, 29, 2), au = dup(&a), gu = dup(&g), y = mk2(13, 29, 5);
    CHECK(wm_activate(be, &gu, WM_ACT_SILU) == WM_OK);
    CHECK(wm_mul(be, &au, &gu, &au) == WM_OK);
    CHECK(wm_mul_silu(be, &a, &g, &y) == WM_OK);
    CHECK(same("mul_silu", &au, &y));
    CHECK(wm_mul_silu(be, &a, &g, &a) == WM_OK); /* in place */
    CHECK(same("mul_silu in place", &au, &a));
    wm_tensor *all[] = {&a, &g, &au, &gu, &y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
}

static void test_dw_silu(void)
{
    int T = 3, gh = 5, gw = 7;
    int64_t N = (int64_t)T * gh * gw, M = 6;
    wm_tensor x = mk2(N, 2 * M, 1.5f), w = mk2(2 * M, 9, 0.4f), b = mk2(1, 2 * M, 0.2f);
    wm_tensor xs = dup(&x), yu = mk2(N, M, 0), yf = mk2(N, M, 9);
    CHECK(wm_activate(be, &xs, WM_ACT_SILU) == WM_OK);
    CHECK(wm_depthwise3x3_glu(be, &xs, &w, &b, T, gh, gw, &yu) == WM_OK);
    CHECK(wm_depthwise3x3_silu_glu(be, &x, &w, &b, T, gh, gw, &yf) == WM_OK);
    CHECK(same("depthwise3x3_silu_glu", &yu, &yf));
    CHECK(wm_depthwise3x3_silu_glu(be, &x, &w, &b, T, gh + 1, gw, &yf) == WM_ERR_SHAPE);
    wm_tensor *all[] = {&x, &w, &b, &xs, &yu, &yf};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
}

/* Relative L2 distance; NaN/inf anywhere gives infinity (never passes). */
static double rel_l2(const float *a, const float *b, int64_t n)
{
    double d = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d / (r > 0 ? r : 1));
}

/* Whole forward: fused (default) vs unfused, bit-identical for every fusion that keeps the fp32
 * expressions; the Plücker fold reassociates (pp_w plk_w) u, so that one is compared within fp32 rounding.
 * All close to the golden v. */
static void test_forward(const wm_dit_config *cfg, int T)
{
    wm_checkpoint *wck = g_open("weights.safetensors"), *in = g_open("inputs.safetensors");
    CHECK(wck && in);
    if (!wck || !in) return;
    wm_error err = {0};
    wm_dit_weights *w = NULL;
    CHECK_MSG(wm_dit_weights_load(wck, cfg, &w, &err) == WM_OK, "%s", err.msg);
    float *x = g_read(in, "x", NULL), *ts = g_read(in, "timestep", NULL), *y = g_read(in, "y", NULL);
    float *mk = g_read(in, "mask", NULL), *cam = g_read(in, "camera_conditions", NULL);
    float *plk = g_read(in, "chunk_plucker", NULL);
    uint8_t mask[512];
    for (int i = 0; i < cfg->caption_length; i++) mask[i] = mk[i] != 0;
    wm_dit_inputs inp = {x, ts, y, mask, cfg->caption_length, cam, plk, T};
    const char *files[2] = {"out_bidirectional.safetensors", "out_chunk_causal.safetensors"};
    wm_dit_variant vars[2] = {WM_DIT_BIDIRECTIONAL, WM_DIT_CHUNK_CAUSAL};
    int64_t nv = (int64_t)cfg->out_channels * T * cfg->latent_h * cfg->latent_w;
    for (int k = 0; k < 2 && w; k++) {
        float *v[3];
        const int modes[3] = {0, WM_DIT_UNFUSE_ALL & ~WM_DIT_UNFUSE_PLK, WM_DIT_UNFUSE_PLK};
        for (int uf = 0; uf < 3; uf++) {
            w->unfused = modes[uf];
            wm_dit_run run = {0};
            run.variant = vars[k];
            size_t bytes = 0;
            wm_arena ar;
            CHECK(wm_dit_plan(be, w, &run, T, cfg->caption_length, &bytes) == WM_OK);
            CHECK(wm_arena_init(&ar, be, bytes) == WM_OK);
            v[uf] = malloc((size_t)nv * 4);
            wm_status st = wm_dit_forward(be, w, &run, &inp, &ar, v[uf]);
            CHECK_MSG(st == WM_OK, "forward: %s", be->err.msg);
            wm_arena_free(&ar);
        }
        CHECK_MSG(!memcmp(v[0], v[1], (size_t)nv * 4), "%s: fused and unfused forwards differ", files[k]);
        double dp = rel_l2(v[0], v[2], nv);
        CHECK_MSG(dp > 0 && dp < 1e-5, "%s: Plücker fold vs embedder + plucker_proj: rel. L2 %.3g (want (0, 1e-5))",
                  files[k], dp);
        wm_checkpoint *out = g_open(files[k]);
        float *ref = out ? g_read(out, "v", NULL) : NULL;
        CHECK(ref && g_close(files[k], v[0], ref, nv));
        free(v[0]); free(v[1]); free(v[2]); free(ref);
        wm_checkpoint_close(out);
    }
    wm_dit_weights_free(w);
    free(x); free(ts); free(y); free(mk); free(cam); free(plk);
    wm_checkpoint_close(wck);
    wm_checkpoint_close(in);
}

int main(void)
{
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_error err = {0};
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
    test_qk_prep();
    test_matmul_add();
    test_mul_silu();
    test_matmul_batched();
    test_gadd_ln();
    test_dw_silu();
    wm_dit_config cfg;
    int T = 0;
    CHECK(g_load_config(&cfg, &T, NULL) == 0);
    if (T > 0) test_forward(&cfg, T);
    wm_backend_free(be);
    TEST_MAIN_END();
}
