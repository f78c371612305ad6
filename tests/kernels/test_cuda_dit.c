/* Parity of the DiT CUDA ops (kernels/ops_dit.def) against the fp32 CPU references.
 *
 * Two configurations per op: a small odd one (5x6 latent grid, 4 frames, 2 heads, chunk bounds that
 * split the frames unevenly, streaming tails) and the real stage-1 shape (22x40 grid = 880 tokens per
 * frame, a 3-frame chunk, 20 heads x 112 = 2240 channels, MLP 6720). bf16 activations where the model
 * keeps them bf16, fp32 where the spec asks (GDN P/A/states, gates). Tolerance: bf16 outputs 1e-2
 * elementwise (relative to each element, plus 1e-2 of the output RMS as absolute floor) and 5e-3
 * relative L2; fp32 outputs of fp32 math 1e-4; the Gram sums from bf16 tensor cores 1e-2. Outputs are
 * poisoned (NaN) before each run. Exit 77 without a GPU. Usage: test_cuda_dit [--quick].
 */
#include "cuda_parity.h"

typedef cp_tensor tp;

static cp_ctx C_;
static cp_ctx *c = &C_;

/* Random input (or poisoned output when scale < 0) of dtype dt and shape (d0, d1[, d2, d3]). */
static tp mk(wm_dtype dt, float scale, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t sh[4] = {d0, d1, d2, d3};
    return cp_tensor_make(c, dt, dt, scale, ndim, sh);
}
#define OUT(dt, ...) mk(dt, -1.0f, __VA_ARGS__)
static void upd(tp *t) { cp_tensor_upload(c, t); }
static void rel(tp *t) { cp_tensor_free(c, t); }

static void cmp(const char *label, tp *o, float tol)
{
    size_t n = (size_t)wm_tensor_numel(&o->ht);
    float *got = cp_read(c, &o->dt);
    float rms = cp_rms(o->h, n);
    CHECK(cp_compare(label, got, o->h, n, tol * rms + 1e-6f, tol, tol >= 1e-2f ? 5e-3 : tol));
    free(got);
}

typedef struct { int T, gh, gw, H, D, M; int nb; int bounds[5]; const char *name; wm_dtype act; } cfg;

static void t_small_ops(const cfg *g)
{
    int64_t S = g->gh * g->gw, N = g->T * S, C = (int64_t)g->H * g->D;
    wm_dtype a = g->act;
    char l[128];
    float tol = a == WM_BF16 ? 1e-2f : 1e-4f;
    { /* timestep embed: fractional timesteps truncate */
        tp t = mk(WM_F32, 1.0f, 1, g->T, 0, 0, 0), o = OUT(WM_F32, 2, g->T, 256, 0, 0);
        for (int i = 0; i < g->T; i++) t.h[i] = 998.26f - 331.7f * i;
        upd(&t);
        CP_OK(c->cpu, wm_dit_timestep_embed(c->cpu, &t.ht, &o.ht));
        CP_OK(c->gpu, wm_dit_timestep_embed(c->gpu, &t.dt, &o.dt));
        snprintf(l, sizeof l, "%s timestep_embed", g->name);
        cmp(l, &o, 1e-5f);
        rel(&t); rel(&o);
    }
    { /* adaLN tables: (T, 6C) and the final layer's (T, C) form */
        tp t = mk(WM_F32, 1.0f, 2, g->T, 6 * C, 0, 0), s = mk(WM_F32, 1.0f, 2, 6, C, 0, 0);
        tp o = OUT(WM_F32, 3, 6, g->T, C, 0), t1 = mk(WM_F32, 1.0f, 2, g->T, C, 0, 0), o1 = OUT(WM_F32, 3, 6, g->T, C, 0);
        CP_OK(c->cpu, wm_dit_adaln_table(c->cpu, &t.ht, &s.ht, &o.ht));
        CP_OK(c->gpu, wm_dit_adaln_table(c->gpu, &t.dt, &s.dt, &o.dt));
        CP_OK(c->cpu, wm_dit_adaln_table(c->cpu, &t1.ht, &s.ht, &o1.ht));
        CP_OK(c->gpu, wm_dit_adaln_table(c->gpu, &t1.dt, &s.dt, &o1.dt));
        snprintf(l, sizeof l, "%s adaln_table", g->name);
        cmp(l, &o, 1e-6f);
        cmp(l, &o1, 1e-6f);
        rel(&t); rel(&s); rel(&o); rel(&t1); rel(&o1);
    }
    { /* transpose, frame mean */
        tp x = mk(a, 1.0f, 2, N, C, 0, 0), y = OUT(a, 2, C, N, 0, 0), m = OUT(a, 2, g->T, C, 0, 0);
        CP_OK(c->cpu, wm_transpose2d(c->cpu, &x.ht, &y.ht));
        CP_OK(c->gpu, wm_transpose2d(c->gpu, &x.dt, &y.dt));
        CP_OK(c->cpu, wm_frame_mean(c->cpu, &x.ht, g->T, &m.ht));
        CP_OK(c->gpu, wm_frame_mean(c->gpu, &x.dt, g->T, &m.dt));
        snprintf(l, sizeof l, "%s transpose2d", g->name);
        cmp(l, &y, 1e-6f);
        snprintf(l, sizeof l, "%s frame_mean", g->name);
        cmp(l, &m, tol);
        rel(&x); rel(&y); rel(&m);
    }
    { /* gates: beta in place, g from frame-pooled logits */
        tp b = mk(WM_F32, 2.0f, 2, N, g->H, 0, 0), av = mk(WM_F32, 2.0f, 2, g->T, g->H, 0, 0);
        tp al = mk(WM_F32, 1.0f, 1, g->H, 0, 0, 0), db = mk(WM_F32, 1.0f, 1, g->H, 0, 0, 0), gg = OUT(WM_F32, 2, g->T, g->H, 0, 0);
        CP_OK(c->cpu, wm_gdn_gates(c->cpu, &b.ht, &av.ht, &al.ht, &db.ht, &gg.ht));
        CP_OK(c->gpu, wm_gdn_gates(c->gpu, &b.dt, &av.dt, &al.dt, &db.dt, &gg.dt));
        snprintf(l, sizeof l, "%s gdn_gates beta/g", g->name);
        cmp(l, &b, 1e-5f);
        cmp(l, &gg, 1e-5f);
        rel(&b); rel(&av); rel(&al); rel(&db); rel(&gg);
    }
    { /* head renorm, cfg combine, frame axpy */
        tp p = mk(a, 1.0f, 2, N, C, 0, 0), q = mk(a, 1.5f, 2, N, C, 0, 0), y = OUT(a, 2, N, C, 0, 0);
        CP_OK(c->cpu, wm_head_renorm(c->cpu, &p.ht, &q.ht, g->H, 1e-6f, &y.ht));
        CP_OK(c->gpu, wm_head_renorm(c->gpu, &p.dt, &q.dt, g->H, 1e-6f, &y.dt));
        snprintf(l, sizeof l, "%s head_renorm", g->name);
        cmp(l, &y, tol);
        CP_OK(c->cpu, wm_cfg_combine(c->cpu, &p.ht, &q.ht, 4.5f, &y.ht));
        CP_OK(c->gpu, wm_cfg_combine(c->gpu, &p.dt, &q.dt, 4.5f, &y.dt));
        snprintf(l, sizeof l, "%s cfg_combine", g->name);
        cmp(l, &y, tol);
        tp x3 = mk(WM_F32, 1.0f, 3, 16, g->T, S, 0), v3 = mk(WM_F32, 1.0f, 3, 16, g->T, S, 0), dt = mk(WM_F32, 0.1f, 1, g->T, 0, 0, 0);
        dt.h[0] = 0.0f; /* a frame with dt = 0 (the conditioned first frame) must stay bit-identical */
        upd(&dt);
        CP_OK(c->cpu, wm_frame_axpy(c->cpu, &x3.ht, &v3.ht, &dt.ht));
        CP_OK(c->gpu, wm_frame_axpy(c->gpu, &x3.dt, &v3.dt, &dt.dt));
        snprintf(l, sizeof l, "%s frame_axpy", g->name);
        cmp(l, &x3, 1e-6f);
        rel(&p); rel(&q); rel(&y); rel(&x3); rel(&v3); rel(&dt);
    }
}

static void t_token_ops(const cfg *g)
{
    int64_t S = g->gh * g->gw, N = g->T * S, C = (int64_t)g->H * g->D;
    wm_dtype a = g->act;
    char l[128];
    float tol = a == WM_BF16 ? 1e-2f : 1e-4f;
    for (int use_tail = 0; use_tail < 2; use_tail++) { /* short conv, K = 4 */
        tp x = mk(a, 1.0f, 2, N, C, 0, 0), w = mk(WM_F32, 0.5f, 2, C, 4, 0, 0), tl = mk(a, 1.0f, 2, 3 * S, C, 0, 0);
        tp y = OUT(a, 2, N, C, 0, 0);
        CP_OK(c->cpu, wm_short_conv_t(c->cpu, &x.ht, &w.ht, use_tail ? &tl.ht : NULL, g->bounds, g->nb, &y.ht));
        CP_OK(c->gpu, wm_short_conv_t(c->gpu, &x.dt, &w.dt, use_tail ? &tl.dt : NULL, g->bounds, g->nb, &y.dt));
        snprintf(l, sizeof l, "%s short_conv_t tail%d", g->name, use_tail);
        cmp(l, &y, tol);
        tp cat = OUT(a, 2, N, 3 * C, 0, 0), t1 = mk(a, 1.0f, 2, S, C, 0, 0);
        CP_OK(c->cpu, wm_temporal_shift_cat(c->cpu, &x.ht, use_tail ? &t1.ht : NULL, g->bounds, g->nb, &cat.ht));
        CP_OK(c->gpu, wm_temporal_shift_cat(c->gpu, &x.dt, use_tail ? &t1.dt : NULL, g->bounds, g->nb, &cat.dt));
        snprintf(l, sizeof l, "%s temporal_shift_cat tail%d", g->name, use_tail);
        cmp(l, &cat, 1e-6f);
        rel(&x); rel(&w); rel(&tl); rel(&y); rel(&cat); rel(&t1);
    }
    { /* depthwise 3x3 + GLU */
        tp x = mk(a, 1.0f, 2, N, 2 * g->M, 0, 0), w = mk(WM_F32, 0.3f, 2, 2 * g->M, 9, 0, 0), b = mk(WM_F32, 0.3f, 1, 2 * g->M, 0, 0, 0);
        tp y = OUT(a, 2, N, g->M, 0, 0);
        CP_OK(c->cpu, wm_depthwise3x3_glu(c->cpu, &x.ht, &w.ht, &b.ht, g->T, g->gh, g->gw, &y.ht));
        CP_OK(c->gpu, wm_depthwise3x3_glu(c->gpu, &x.dt, &w.dt, &b.dt, g->T, g->gh, g->gw, &y.dt));
        snprintf(l, sizeof l, "%s depthwise3x3_glu", g->name);
        cmp(l, &y, tol);
        rel(&x); rel(&w); rel(&b); rel(&y);
    }
    for (int mode = 0; mode < 2; mode++) { /* RoPE full head (+angle), camera half (-angle) in place */
        int P = mode ? g->D / 4 : g->D / 2, off = mode ? g->D / 2 : 0;
        tp x = mk(a, 1.0f, 2, N, C, 0, 0), cs = mk(WM_F32, 1.0f, 2, N, P, 0, 0), sn = mk(WM_F32, 1.0f, 2, N, P, 0, 0);
        tp y = OUT(a, 2, N, C, 0, 0);
        CP_OK(c->cpu, wm_rope_apply(c->cpu, &x.ht, &cs.ht, &sn.ht, g->H, off, mode, &y.ht));
        CP_OK(c->gpu, wm_rope_apply(c->gpu, &x.dt, &cs.dt, &sn.dt, g->H, off, mode, mode ? &x.dt : &y.dt));
        snprintf(l, sizeof l, "%s rope_apply off%d conj%d%s", g->name, off, mode, mode ? " in-place" : "");
        if (mode) { wm_tensor t = y.dt; y.dt = x.dt; x.dt = t; } /* compare the in-place result */
        cmp(l, &y, tol);
        rel(&x); rel(&cs); rel(&sn); rel(&y);
    }
    for (int tr = 0; tr < 2; tr++) { /* UCPE, then the camera beta discount on (pre, post) */
        tp x = mk(a, 1.0f, 2, N, C, 0, 0), m = mk(WM_F32, 0.7f, 2, N, 16, 0, 0), y = OUT(a, 2, N, C, 0, 0);
        CP_OK(c->cpu, wm_ucpe_apply(c->cpu, &x.ht, &m.ht, g->H, tr, &y.ht));
        CP_OK(c->gpu, wm_ucpe_apply(c->gpu, &x.dt, &m.dt, g->H, tr, &y.dt));
        snprintf(l, sizeof l, "%s ucpe_apply tr%d", g->name, tr);
        cmp(l, &y, tol);
        tp b = mk(WM_F32, 1.0f, 2, N, g->H, 0, 0), bc = OUT(WM_F32, 2, N, g->H, 0, 0);
        if (a == WM_BF16) /* both sides read the CPU's post-UCPE keys, rounded as the device stores them */
            for (int64_t i = 0; i < N * C; i++) y.h[i] = wm_round_bf16(y.h[i]);
        upd(&y);
        CP_OK(c->cpu, wm_gdn_cam_beta(c->cpu, &x.ht, &y.ht, &b.ht, g->T, &bc.ht));
        CP_OK(c->gpu, wm_gdn_cam_beta(c->gpu, &x.dt, &y.dt, &b.dt, g->T, &bc.dt));
        snprintf(l, sizeof l, "%s gdn_cam_beta", g->name);
        cmp(l, &bc, 1e-4f);
        rel(&x); rel(&m); rel(&y); rel(&b); rel(&bc);
    }
}

static void t_gdn(const cfg *g)
{
    int64_t S = g->gh * g->gw, N = g->T * S, C = (int64_t)g->H * g->D, D = g->D, H = g->H, T = g->T;
    wm_dtype a = g->act;
    char l[128];
    /* Gram: post-ReLU keys (non-negative), as in the model; numerator (v) and denominator (v = NULL) forms */
    tp k = mk(a, 0.3f, 2, N, C, 0, 0), v = mk(a, 1.0f, 2, N, C, 0, 0), b = mk(WM_F32, 1.0f, 2, N, H, 0, 0);
    for (int64_t i = 0; i < N * C; i++) k.h[i] = fabsf(k.h[i]);
    for (int64_t i = 0; i < N * H; i++) b.h[i] = 1.0f / (1.0f + expf(-b.h[i]));
    upd(&k); upd(&b);
    tp P = OUT(WM_F32, 4, T, H, D, D), A = OUT(WM_F32, 4, T, H, D, D), P1 = OUT(WM_F32, 4, T, H, D, D);
    tp A1 = OUT(WM_F32, 4, T, H, D, 1);
    CP_OK(c->cpu, wm_gdn_gram(c->cpu, &k.ht, &v.ht, &b.ht, (int)T, &P.ht, &A.ht));
    CP_OK(c->gpu, wm_gdn_gram(c->gpu, &k.dt, &v.dt, &b.dt, (int)T, &P.dt, &A.dt));
    CP_OK(c->cpu, wm_gdn_gram(c->cpu, &k.ht, NULL, &b.ht, (int)T, &P1.ht, &A1.ht));
    CP_OK(c->gpu, wm_gdn_gram(c->gpu, &k.dt, NULL, &b.dt, (int)T, &P1.dt, &A1.dt));
    snprintf(l, sizeof l, "%s gdn_gram P, A (k v)", g->name);
    cmp(l, &P, 1e-2f);
    cmp(l, &A, 1e-2f);
    snprintf(l, sizeof l, "%s gdn_gram P, b (k only)", g->name);
    cmp(l, &P1, 1e-2f);
    cmp(l, &A1, 1e-2f);
    /* Scan on fp32 inputs: contractive P (scaled), g in (0.5, 1), an init state that is also the final. */
    tp Ps = mk(WM_F32, 0.02f, 4, T, H, D, D), As = mk(WM_F32, 1.0f, 4, T, H, D, D), gg = mk(WM_F32, 1.0f, 2, T, H, 0, 0);
    for (int64_t i = 0; i < T * H; i++) gg.h[i] = 0.5f + 0.5f / (1.0f + expf(-gg.h[i]));
    upd(&gg);
    tp init = mk(WM_F32, 1.0f, 3, H, D, D, 0), Mf = OUT(WM_F32, 4, T, H, D, D), Mr = OUT(WM_F32, 4, T, H, D, D);
    tp ini_c = mk(WM_F32, 0.0f, 3, H, D, D, 0);
    memcpy(ini_c.h, init.h, (size_t)(H * D * D) * sizeof(float));
    CP_OK(c->cpu, wm_gdn_scan(c->cpu, &Ps.ht, &As.ht, &gg.ht, &init.ht, 0, g->bounds, g->nb, &Mf.ht, &init.ht));
    CP_OK(c->gpu, wm_gdn_scan(c->gpu, &Ps.dt, &As.dt, &gg.dt, &init.dt, 0, g->bounds, g->nb, &Mf.dt, &init.dt));
    CP_OK(c->cpu, wm_gdn_scan(c->cpu, &Ps.ht, &As.ht, &gg.ht, NULL, 1, g->bounds, g->nb, &Mr.ht, NULL));
    CP_OK(c->gpu, wm_gdn_scan(c->gpu, &Ps.dt, &As.dt, &gg.dt, NULL, 1, g->bounds, g->nb, &Mr.dt, NULL));
    snprintf(l, sizeof l, "%s gdn_scan fwd (init=final)", g->name);
    cmp(l, &Mf, 1e-4f);
    cmp(l, &init, 1e-4f);
    snprintf(l, sizeof l, "%s gdn_scan rev (chunked)", g->name);
    cmp(l, &Mr, 1e-4f);
    /* Readout with the division (main branch) and without (camera branch). */
    tp q = mk(a, 0.3f, 2, N, C, 0, 0), qd = mk(a, 0.3f, 2, N, C, 0, 0), zf = mk(WM_F32, 1.0f, 4, T, H, D, 1);
    tp zr = mk(WM_F32, 1.0f, 4, T, H, D, 1), o = OUT(a, 2, N, C, 0, 0), o2 = OUT(a, 2, N, C, 0, 0);
    for (int64_t i = 0; i < N * C; i++) qd.h[i] = fabsf(qd.h[i]);
    for (int64_t i = 0; i < T * H * D; i++) { zf.h[i] = fabsf(zf.h[i]) + 0.1f; zr.h[i] = fabsf(zr.h[i]); }
    upd(&qd); upd(&zf); upd(&zr);
    CP_OK(c->cpu, wm_gdn_output(c->cpu, &q.ht, &Mf.ht, &Mr.ht, &qd.ht, &zf.ht, &zr.ht, 1e-8f, &o.ht));
    CP_OK(c->cpu, wm_gdn_output(c->cpu, &q.ht, &Mf.ht, &Mr.ht, NULL, NULL, NULL, 0.0f, &o2.ht));
    upd(&Mf); upd(&Mr); /* both sides read the CPU states (fp32: exact) */
    CP_OK(c->gpu, wm_gdn_output(c->gpu, &q.dt, &Mf.dt, &Mr.dt, &qd.dt, &zf.dt, &zr.dt, 1e-8f, &o.dt));
    CP_OK(c->gpu, wm_gdn_output(c->gpu, &q.dt, &Mf.dt, &Mr.dt, NULL, NULL, NULL, 0.0f, &o2.dt));
    snprintf(l, sizeof l, "%s gdn_output num/den", g->name);
    cmp(l, &o, a == WM_BF16 ? 1e-2f : 1e-4f);
    snprintf(l, sizeof l, "%s gdn_output num", g->name);
    cmp(l, &o2, a == WM_BF16 ? 1e-2f : 1e-4f);
    tp *all[] = {&k, &v, &b, &P, &A, &P1, &A1, &Ps, &As, &gg, &init, &Mf, &Mr, &ini_c, &q, &qd, &zf, &zr, &o, &o2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rel(all[i]);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int rc = cp_init(c, 0x5eed0002);
    if (rc) return rc;
    const cfg cfgs[] = {
        {4, 5, 6, 2, 112, 24, 2, {0, 1, 4}, "small-bf16", WM_BF16},
        {4, 5, 6, 2, 16, 12, 2, {0, 3, 4}, "small-f32-d16", WM_F32},
        {3, 22, 40, 20, 112, 6720, 1, {0, 3}, "real-bf16", WM_BF16},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        if (quick && i == 2) break;
        t_small_ops(&cfgs[i]);
        t_token_ops(&cfgs[i]);
        t_gdn(&cfgs[i]);
    }
    cp_fini(c);
    TEST_MAIN_END();
}
