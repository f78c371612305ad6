/* Parity of the GDN Gram/scan/readout kernels and the token convs on CUDA against the fp32 CPU
 * references, for BOTH kernel generations: a CUDA backend created normally (gdn_fast.cu, dit_conv.cu) and one created
 * with WM_CUDA_GDN=old WM_CUDA_CONV=old (gdn.cu, dit_token.cu), so either can be made the default.
 *
 * Shapes: the real stage-1 streaming shape (3 frames x 880 tokens, 20 heads x 112, C = 2240, MLP 6720,
 * 22x40 grid) and odd ones that hit every edge of the new kernels: token counts that are not multiples
 * of the 64-token tile or even (S = 7, 30, 201; S = 1 leaves one CTA of a Gram cluster empty), chunk
 * bounds with size-1 chunks, 11-frame sequences, head dims 16/64/112/128 of the tensor-core scan, Dv = 1
 * (vector scan), Dv = 24 and grid width 65 (shapes the new kernels decline: the fallback must answer),
 * channel counts that leave a partial 32-channel block, grids tall enough to split into row blocks,
 * 1..8 columns per thread of the depthwise column-group kernel (and its SiLU variant against the
 * depthwise3x3_silu_glu reference), bf16 and unaligned short-conv taps; the camera-embedded readout
 * (gdn_output_ucpe) in both UCPE orientations and RoPE signs.
 * Tolerances: Gram sums (bf16 tensor cores, beta*k rounded to bf16) |err| <= 4.1e-3 x sum_s |beta k_i v_j|
 * per element (the a-priori bound, see gram_bound) and relative L2 5e-3; readout (bf16 out, fp32 state split hi + lo) 1e-2 + 1e-2 x RMS; scan (fp32 state,
 * 3xTF32 products) 1e-4 elementwise and relative L2; bf16 conv outputs 1e-2 + 1e-2 x RMS, relative L2
 * 5e-3; the shift/concat bit-exact. Outputs are poisoned (NaN)
 * before every run; NaN fails. Exit 77 without a GPU. Usage: test_cuda_gdn [--quick] (odd shapes only).
 */
#include "cuda_parity.h"

#include <stdlib.h>

typedef cp_tensor tp;

static cp_ctx C_;
static cp_ctx *c = &C_;
static const char *gen = "new"; /* kernel generation of c->gpu, for the labels */

/* Random input (or poisoned output when scale < 0) of dtype dt and shape (d0, d1[, d2, d3]). */
static tp mk(wm_dtype dt, float scale, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t sh[4] = {d0, d1, d2, d3};
    return cp_tensor_make(c, dt, dt, scale, ndim, sh);
}
#define OUT(dt, ...) mk(dt, -1.0f, __VA_ARGS__)
static void upd(tp *t) { cp_tensor_upload(c, t); }
static void rel(tp *t) { cp_tensor_free(c, t); }

/* Elementwise tol*|ref| + tol*RMS(ref), relative L2 <= l2. */
static void cmp(const char *what, tp *o, float tol, double l2)
{
    char l[160];
    snprintf(l, sizeof l, "[%s] %s", gen, what);
    size_t n = (size_t)wm_tensor_numel(&o->ht);
    float *got = cp_read(c, &o->dt);
    float rms = cp_rms(o->h, n);
    CHECK(cp_compare(l, got, o->h, n, tol * rms + 1e-7f, tol, l2));
    free(got);
}

/* ---------------------------------------------------------------- Gram */

/* The kernels' contract rounds beta*k to bf16 (8 significant bits, |round(x) - x| <= 2^-8 |x|) and
 * multiplies by the exact bf16 k or v with fp32 accumulation, so each element obeys
 *   |got - ref| <= 2^-8 sum_s |beta_s k_si v_sj| + (fp32 sums, <= S 2^-24 of the same)
 * = 4.1e-3 x ab, ab = the Gram of |k|, |v| (ab = ref for P: every term is >= 0). A bound of
 * 1e-2 x (|ref| + RMS) is not implied by that: an element of A whose 30 terms cancel while one term is
 * large (|k| ~ 1.3, |v| ~ 4) can carry ~2^-8 x 6 = 0.02 of rounding against RMS ~0.9 (a NumPy
 * emulation of exact sums with bf16(beta*k) reaches 0.0092 x RMS beyond |ref| x 1e-2 at S = 30 and 0.012
 * at S = 7 in most seeds; the old kernel failed it at S = 30 with max_abs 1.0e-2, rel. L2 1.7e-3, the same
 * as the new kernel's). Dropping one token of S breaks this bound at every element for S < 256 and
 * moves the relative L2 by ~1/sqrt(S) >> 5e-3 for any S. */
static void cmp_bound(const char *what, tp *o, const float *ab, double l2)
{
    char l[160];
    snprintf(l, sizeof l, "[%s] %s", gen, what);
    size_t n = (size_t)wm_tensor_numel(&o->ht), bad = 0, first = 0;
    float *got = cp_read(c, &o->dt);
    double e2 = 0, r2 = 0, worst = 0, max_abs = 0;
    for (size_t i = 0; i < n; i++) r2 += (double)o->h[i] * o->h[i];
    const double floor_ = 1e-6 * sqrt(r2 / (n ? n : 1)) + 1e-7;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - o->h[i]), bound = 4.1e-3 * fabs((double)ab[i]) + floor_;
        if (!(d <= bound)) { if (!bad++) first = i; }
        if (d > max_abs) max_abs = d;
        if (d / bound > worst) worst = d / bound;
        e2 += d * d;
    }
    double rl2 = r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
    int ok = !bad && rl2 <= l2;
    printf("%-40s n=%zu max_abs=%.3e err/bound=%.3f rel_l2=%.3e %s\n", l, n, max_abs, worst, rl2, ok ? "ok" : "FAIL");
    if (bad) fprintf(stderr, "  %s: %zu elements above the bound; first at %zu: got %g ref %g bound %g\n", l, bad, first,
                     (double)got[first], (double)o->h[first], 4.1e-3 * fabs((double)ab[first]) + floor_);
    CHECK(ok);
    free(got);
}

static void t_gram(int T, int S, int H, const char *name)
{
    const int64_t D = 112, N = (int64_t)T * S, C = H * D;
    char l[128];
    tp k = mk(WM_BF16, 0.3f, 2, N, C, 0, 0), v = mk(WM_BF16, 1.0f, 2, N, C, 0, 0), b = mk(WM_F32, 1.0f, 2, N, H, 0, 0);
    for (int64_t i = 0; i < N * C; i++) k.h[i] = fabsf(k.h[i]); /* post-ReLU keys, as in the model */
    for (int64_t i = 0; i < N * H; i++) b.h[i] = 1.0f / (1.0f + expf(-b.h[i]));
    upd(&k);
    upd(&b);
    tp P = OUT(WM_F32, 4, T, H, D, D), A = OUT(WM_F32, 4, T, H, D, D), P1 = OUT(WM_F32, 4, T, H, D, D);
    tp A1 = OUT(WM_F32, 4, T, H, D, 1);
    CP_OK(c->cpu, wm_gdn_gram(c->cpu, &k.ht, &v.ht, &b.ht, T, &P.ht, &A.ht));
    CP_OK(c->gpu, wm_gdn_gram(c->gpu, &k.dt, &v.dt, &b.dt, T, &P.dt, &A.dt));
    CP_OK(c->cpu, wm_gdn_gram(c->cpu, &k.ht, NULL, &b.ht, T, &P1.ht, &A1.ht));
    CP_OK(c->gpu, wm_gdn_gram(c->gpu, &k.dt, NULL, &b.dt, T, &P1.dt, &A1.dt));
    /* |v| through the CPU reference: the per-element bound sum_s |beta k v| of A (k, beta >= 0 already) */
    float *vabs = malloc((size_t)(N * C) * sizeof *vabs), *Pab = malloc((size_t)(T * H * D * D) * sizeof *Pab);
    float *Aab = malloc((size_t)(T * H * D * D) * sizeof *Aab);
    WM_ASSERT(vabs && Pab && Aab);
    for (int64_t i = 0; i < N * C; i++) vabs[i] = fabsf(v.h[i]);
    wm_tensor vat = v.ht, pat = P.ht, aat = A.ht;
    vat.data = vabs; pat.data = Pab; aat.data = Aab;
    CP_OK(c->cpu, wm_gdn_gram(c->cpu, &k.ht, &vat, &b.ht, T, &pat, &aat));
    snprintf(l, sizeof l, "%s gdn_gram P (k v)", name);
    cmp_bound(l, &P, Pab, 5e-3);
    snprintf(l, sizeof l, "%s gdn_gram A (k v)", name);
    cmp_bound(l, &A, Aab, 5e-3);
    snprintf(l, sizeof l, "%s gdn_gram P (k only)", name);
    cmp_bound(l, &P1, Pab, 5e-3);
    free(vabs); free(Pab); free(Aab);
    snprintf(l, sizeof l, "%s gdn_gram b (k only)", name);
    cmp(l, &A1, 1e-2f, 5e-3);
    tp *all[] = {&k, &v, &b, &P, &A, &P1, &A1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rel(all[i]);
}

/* Camera-embedding tables of N tokens: random 4x4 matrices, cos/sin of random angles (28 pairs at D = 112). */
static void emb_tables(int64_t N, tp *m, tp *cs, tp *sn)
{
    *m = mk(WM_F32, 0.5f, 2, N, 16, 0, 0);
    *cs = mk(WM_F32, 1.0f, 2, N, 28, 0, 0);
    *sn = mk(WM_F32, 1.0f, 2, N, 28, 0, 0);
    for (int64_t i = 0; i < N * 28; i++) {
        const float a = 3.0f * cs->h[i];
        cs->h[i] = cosf(a);
        sn->h[i] = sinf(a);
    }
    upd(cs);
    upd(sn);
}

/* ---------------------------------------------------------------- scan */

/* Forward from an init state that is also the final state (the streaming save pass), then forward from
 * zero without a final state, then the reverse scan over the chunks. */
static void t_scan(int T, int H, int D, int Dv, int nb, const int *bounds, const char *name)
{
    char l[128];
    tp Ps = mk(WM_F32, 0.02f, 4, T, H, D, D), As = mk(WM_F32, 1.0f, 4, T, H, D, Dv), gg = mk(WM_F32, 1.0f, 2, T, H, 0, 0);
    if (D > 64) /* keep I - P contractive at every head dim: |P| ~ 0.02 sqrt(D) */
        for (int64_t i = 0; i < (int64_t)T * H * D * D; i++) Ps.h[i] *= 0.5f;
    for (int64_t i = 0; i < (int64_t)T * H; i++) gg.h[i] = 0.5f + 0.5f / (1.0f + expf(-gg.h[i]));
    upd(&Ps);
    upd(&gg);
    tp init = mk(WM_F32, 1.0f, 3, H, D, Dv, 0), Mf = OUT(WM_F32, 4, T, H, D, Dv), Mr = OUT(WM_F32, 4, T, H, D, Dv);
    tp M0 = OUT(WM_F32, 4, T, H, D, Dv);
    CP_OK(c->cpu, wm_gdn_scan(c->cpu, &Ps.ht, &As.ht, &gg.ht, &init.ht, 0, bounds, nb, &Mf.ht, &init.ht));
    CP_OK(c->gpu, wm_gdn_scan(c->gpu, &Ps.dt, &As.dt, &gg.dt, &init.dt, 0, bounds, nb, &Mf.dt, &init.dt));
    CP_OK(c->cpu, wm_gdn_scan(c->cpu, &Ps.ht, &As.ht, &gg.ht, NULL, 0, bounds, nb, &M0.ht, NULL));
    CP_OK(c->gpu, wm_gdn_scan(c->gpu, &Ps.dt, &As.dt, &gg.dt, NULL, 0, bounds, nb, &M0.dt, NULL));
    CP_OK(c->cpu, wm_gdn_scan(c->cpu, &Ps.ht, &As.ht, &gg.ht, NULL, 1, bounds, nb, &Mr.ht, NULL));
    CP_OK(c->gpu, wm_gdn_scan(c->gpu, &Ps.dt, &As.dt, &gg.dt, NULL, 1, bounds, nb, &Mr.dt, NULL));
    /* gdn_scan_fr: both directions in one call (one launch on the fast kernels), init = final again */
    tp init2 = mk(WM_F32, 1.0f, 3, H, D, Dv, 0), Ff = OUT(WM_F32, 4, T, H, D, Dv), Fr = OUT(WM_F32, 4, T, H, D, Dv);
    CP_OK(c->cpu, wm_gdn_scan_fr(c->cpu, &Ps.ht, &As.ht, &gg.ht, &init2.ht, bounds, nb, &Ff.ht, &init2.ht, &Fr.ht));
    CP_OK(c->gpu, wm_gdn_scan_fr(c->gpu, &Ps.dt, &As.dt, &gg.dt, &init2.dt, bounds, nb, &Ff.dt, &init2.dt, &Fr.dt));
    struct { tp *t; const char *what; } outs[] = {
        {&Mf, "gdn_scan fwd (init = final) states"}, {&init, "gdn_scan fwd final state"},
        {&M0, "gdn_scan fwd (zero init)"},           {&Mr, "gdn_scan rev (chunked)"},
        {&Ff, "gdn_scan_fr fwd states"},             {&init2, "gdn_scan_fr fwd final state"},
        {&Fr, "gdn_scan_fr rev states"}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        snprintf(l, sizeof l, "%s %s", name, outs[i].what);
        cmp(l, outs[i].t, 1e-4f, 1e-4);
    }
    tp *all[] = {&Ps, &As, &gg, &init, &Mf, &Mr, &M0, &init2, &Ff, &Fr};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rel(all[i]);
}

/* ---------------------------------------------------------------- readout */

/* Main-branch form (numerator / denominator) and camera form (numerator only), D = Dv = 112. */
static void t_out(int T, int S, int H, const char *name)
{
    const int64_t D = 112, N = (int64_t)T * S, C = H * D;
    char l[128];
    tp q = mk(WM_BF16, 0.3f, 2, N, C, 0, 0), qd = mk(WM_BF16, 0.3f, 2, N, C, 0, 0), zf = mk(WM_F32, 1.0f, 4, T, H, D, 1);
    tp zr = mk(WM_F32, 1.0f, 4, T, H, D, 1), Mf = mk(WM_F32, 1.0f, 4, T, H, D, D), Mr = mk(WM_F32, 1.0f, 4, T, H, D, D);
    tp o = OUT(WM_BF16, 2, N, C, 0, 0), o2 = OUT(WM_BF16, 2, N, C, 0, 0);
    for (int64_t i = 0; i < N * C; i++) qd.h[i] = fabsf(qd.h[i]); /* positive denominators, as in the model */
    for (int64_t i = 0; i < (int64_t)T * H * D; i++) { zf.h[i] = fabsf(zf.h[i]) + 0.1f; zr.h[i] = fabsf(zr.h[i]); }
    upd(&qd); upd(&zf); upd(&zr);
    CP_OK(c->cpu, wm_gdn_output(c->cpu, &q.ht, &Mf.ht, &Mr.ht, &qd.ht, &zf.ht, &zr.ht, 1e-8f, &o.ht));
    CP_OK(c->gpu, wm_gdn_output(c->gpu, &q.dt, &Mf.dt, &Mr.dt, &qd.dt, &zf.dt, &zr.dt, 1e-8f, &o.dt));
    CP_OK(c->cpu, wm_gdn_output(c->cpu, &q.ht, &Mf.ht, &Mr.ht, NULL, NULL, NULL, 0.0f, &o2.ht));
    CP_OK(c->gpu, wm_gdn_output(c->gpu, &q.dt, &Mf.dt, &Mr.dt, NULL, NULL, NULL, 0.0f, &o2.dt));
    snprintf(l, sizeof l, "%s gdn_output num/den", name);
    cmp(l, &o, 1e-2f, 5e-3);
    snprintf(l, sizeof l, "%s gdn_output num", name);
    cmp(l, &o2, 1e-2f, 5e-3);
    tp *all[] = {&q, &qd, &zf, &zr, &Mf, &Mr, &o, &o2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rel(all[i]);
}

/* gdn_output_ucpe (the camera readout with its inverse embedding before the store; on the previous
 * generation the readout + dit_qk_prep composition) against the CPU reference. Tolerance 2e-2 x (|ref| +
 * RMS): the readout is rounded to bf16 before the 4x4 mix (as the op sequence rounds it) and again after,
 * so an output whose four mixed inputs cancel keeps their rounding (~2^-9 x |m| x 4 inputs, RMS-sized).
 * At 1e-2 the composition failed on 13-16 of 5.9M elements (both kernel generations); relative L2 stays
 * 5e-3. */
static void t_out_emb(int T, int S, int H, int tr, int conj, const char *name)
{
    const int64_t D = 112, N = (int64_t)T * S, C = H * D;
    char l[160];
    tp q = mk(WM_BF16, 0.3f, 2, N, C, 0, 0), Mf = mk(WM_F32, 1.0f, 4, T, H, D, D), Mr = mk(WM_F32, 1.0f, 4, T, H, D, D);
    tp m, cs, sn;
    emb_tables(N, &m, &cs, &sn);
    tp o = OUT(WM_BF16, 2, N, C, 0, 0);
    CP_OK(c->cpu, wm_gdn_output_ucpe(c->cpu, &q.ht, &Mf.ht, &Mr.ht, &m.ht, tr, &cs.ht, &sn.ht, 56, conj, &o.ht));
    CP_OK(c->gpu, wm_gdn_output_ucpe(c->gpu, &q.dt, &Mf.dt, &Mr.dt, &m.dt, tr, &cs.dt, &sn.dt, 56, conj, &o.dt));
    snprintf(l, sizeof l, "%s gdn_output_ucpe tr%d conj%d", name, tr, conj);
    cmp(l, &o, 2e-2f, 5e-3);
    tp *all[] = {&q, &Mf, &Mr, &m, &cs, &sn, &o};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rel(all[i]);
}

/* ---------------------------------------------------------------- convs */

static void t_dw(int T, int gh, int gw, int M, wm_dtype wdt, const char *name)
{
    char l[128];
    int64_t N = (int64_t)T * gh * gw;
    tp x = mk(WM_BF16, 1.0f, 2, N, 2 * M, 0, 0), w = mk(wdt, 0.3f, 2, 2 * M, 9, 0, 0), b = mk(wdt, 0.3f, 1, 2 * M, 0, 0, 0);
    tp y = OUT(WM_BF16, 2, N, M, 0, 0);
    CP_OK(c->cpu, wm_depthwise3x3_glu(c->cpu, &x.ht, &w.ht, &b.ht, T, gh, gw, &y.ht));
    CP_OK(c->gpu, wm_depthwise3x3_glu(c->gpu, &x.dt, &w.dt, &b.dt, T, gh, gw, &y.dt));
    snprintf(l, sizeof l, "%s depthwise3x3_glu", name);
    cmp(l, &y, 1e-2f, 5e-3);
    rel(&x); rel(&w); rel(&b); rel(&y);
}

/* Short conv taps of dtype wdt; skew = 1 shifts the (C, 4) taps one element into a larger buffer, so the
 * pointer is not 16-byte aligned (the new kernel's scalar tap loads; aligned taps are read as vectors). */
/* The column-group depthwise kernel with SiLU on its input (wm__dw_glu_cols(.., silu = 1), exported by
 * dit_conv.cu for depthwise3x3_silu_glu) against the CPU reference of that op. */
#pragma weak wm__dw_glu_cols /* CUDA library only: a build without CUDA still links (and skips) */
wm_status wm__dw_glu_cols(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b, int n_frames,
                          int grid_h, int grid_w, wm_tensor *y, int silu, int *done);

static void t_dw_silu(int T, int gh, int gw, int M, wm_dtype wdt, const char *name)
{
    char l[128];
    int64_t N = (int64_t)T * gh * gw;
    int done = 0;
    tp x = mk(WM_BF16, 1.0f, 2, N, 2 * M, 0, 0), w = mk(wdt, 0.3f, 2, 2 * M, 9, 0, 0), b = mk(wdt, 0.3f, 1, 2 * M, 0, 0, 0);
    tp y = OUT(WM_BF16, 2, N, M, 0, 0);
    CP_OK(c->cpu, wm_depthwise3x3_silu_glu(c->cpu, &x.ht, &w.ht, &b.ht, T, gh, gw, &y.ht));
    CP_OK(c->gpu, wm__dw_glu_cols(c->gpu, &x.dt, &w.dt, &b.dt, T, gh, gw, &y.dt, 1, &done));
    CHECK_MSG(done, "%s: the column-group kernel declined the shape", name);
    snprintf(l, sizeof l, "%s dw_glu_cols silu", name);
    if (done) cmp(l, &y, 1e-2f, 5e-3);
    rel(&x); rel(&w); rel(&b); rel(&y);
}

static void t_tconv(int S, int64_t C, int nb, const int *bounds, const char *name, wm_dtype wdt, int skew)
{
    char l[128];
    int T = bounds[nb];
    int64_t N = (int64_t)T * S;
    for (int use_tail = 0; use_tail < 2; use_tail++) {
        tp x = mk(WM_BF16, 1.0f, 2, N, C, 0, 0), wb = mk(wdt, 0.5f, 2, C + 1, 4, 0, 0), tl = mk(WM_BF16, 1.0f, 2, 3 * S, C, 0, 0);
        tp y = OUT(WM_BF16, 2, N, C, 0, 0);
        wm_tensor wh = wb.ht, wd = wb.dt; /* (C, 4) views at element offset skew */
        wh.shape[0] = wd.shape[0] = C;
        wh.data = wb.h + skew;
        wd.data = (char *)wb.dt.data + (size_t)skew * wm_dtype_size(wdt);
        CP_OK(c->cpu, wm_short_conv_t(c->cpu, &x.ht, &wh, use_tail ? &tl.ht : NULL, bounds, nb, &y.ht));
        CP_OK(c->gpu, wm_short_conv_t(c->gpu, &x.dt, &wd, use_tail ? &tl.dt : NULL, bounds, nb, &y.dt));
        snprintf(l, sizeof l, "%s%s%s short_conv_t tail%d", name, wdt == WM_BF16 ? " bf16 taps" : "",
                 skew ? " (unaligned taps)" : "", use_tail);
        cmp(l, &y, 1e-2f, 5e-3);
        tp cat = OUT(WM_BF16, 2, N, 3 * C, 0, 0), t1 = mk(WM_BF16, 1.0f, 2, S, C, 0, 0);
        CP_OK(c->cpu, wm_temporal_shift_cat(c->cpu, &x.ht, use_tail ? &t1.ht : NULL, bounds, nb, &cat.ht));
        CP_OK(c->gpu, wm_temporal_shift_cat(c->gpu, &x.dt, use_tail ? &t1.dt : NULL, bounds, nb, &cat.dt));
        snprintf(l, sizeof l, "%s temporal_shift_cat tail%d", name, use_tail);
        cmp(l, &cat, 0.0f, 0.0);
        rel(&x); rel(&wb); rel(&tl); rel(&y); rel(&cat); rel(&t1);
    }
}

static void run_all(int quick)
{
    static const int b1[] = {0, 3}, b4[] = {0, 1, 4}, b11[] = {0, 11}, bmix[] = {0, 1, 3, 4, 5}, b2[] = {0, 2};
    /* Gram: odd token counts, one empty cluster half (S = 1), several tiles with a partial one */
    t_gram(4, 30, 2, "T4 S30 H2");
    t_gram(3, 7, 3, "T3 S7 H3");
    t_gram(2, 1, 2, "T2 S1 H2");
    t_gram(2, 201, 1, "T2 S201 H1");
    /* Scan: every tensor-core head dim, Dv = 1 (vector scan), Dv = 24 (declined by the new kernels) */
    t_scan(4, 2, 112, 112, 2, b4, "T4 D112 chunks{1,3}");
    t_scan(5, 3, 112, 1, 4, bmix, "T5 D112 Dv1 chunks{1,2,1,1}");
    t_scan(11, 2, 16, 16, 1, b11, "T11 D16");
    t_scan(4, 2, 64, 32, 2, b4, "T4 D64 Dv32");
    t_scan(2, 1, 128, 128, 1, b2, "T2 D128");
    t_scan(4, 2, 16, 24, 2, b4, "T4 D16 Dv24 (fallback)");
    t_scan(1, 2, 112, 112, 1, (const int[]){0, 1}, "T1 D112");
    t_scan(11, 2, 112, 1, 1, b11, "T11 D112 Dv1");
    /* Readout: partial token tiles (S = 30, 201), several tiles per frame */
    t_out(4, 30, 2, "T4 S30 H2");
    t_out(2, 201, 3, "T2 S201 H3");
    /* Camera-embedded readout: both UCPE orientations and RoPE signs, partial tiles */
    t_out_emb(4, 30, 2, 0, 1, "T4 S30 H2");
    t_out_emb(2, 201, 3, 1, 0, "T2 S201 H3");
    /* Convs: partial channel block, row-block split (gh > 12), widest grid, declined width */
    t_dw(2, 5, 7, 24, WM_F32, "T2 5x7 M24");
    t_dw(1, 13, 3, 64, WM_BF16, "T1 13x3 M64 (row blocks)");
    t_dw(2, 1, 64, 40, WM_F32, "T2 1x64 M40");
    t_dw(1, 3, 65, 16, WM_F32, "T1 3x65 (fallback)");
    /* the column-group kernel: NC = ceil(gw / 8) columns per thread, padded smem slots when NC is even */
    t_dw(1, 25, 9, 40, WM_BF16, "T1 25x9 M40 (NC 2, 3 row blocks)");
    t_dw(2, 4, 45, 16, WM_F32, "T2 4x45 M16 (NC 6)");
    t_dw(1, 2, 23, 8, WM_BF16, "T1 2x23 M8 (NC 3)");
    if (!strcmp(gen, "new")) { /* the SiLU variant does not depend on the backend's kernel generation */
        t_dw_silu(2, 5, 7, 24, WM_F32, "T2 5x7 M24");
        t_dw_silu(1, 25, 9, 40, WM_BF16, "T1 25x9 M40");
        t_dw_silu(2, 1, 64, 40, WM_F32, "T2 1x64 M40");
    }
    /* short conv: positions not a multiple of the 32-position block, channel vectors not of the 8 */
    t_tconv(30, 48, 2, b4, "S30 C48 chunks{1,3}", WM_F32, 0);
    t_tconv(7, 16, 4, bmix, "S7 C16 chunks{1,2,1,1}", WM_F32, 0);
    t_tconv(5, 24, 1, b11, "S5 C24 T11", WM_F32, 0);
    t_tconv(6, 12, 2, b4, "S6 C12 (fallback)", WM_F32, 0);
    t_tconv(37, 136, 2, b4, "S37 C136 chunks{1,3}", WM_BF16, 0);
    t_tconv(33, 80, 1, b1, "S33 C80", WM_F32, 1);
    t_tconv(33, 80, 1, b1, "S33 C80", WM_BF16, 1);
    if (quick) return;
    /* the real streaming shapes */
    t_gram(3, 880, 20, "real T3 S880 H20");
    t_scan(3, 20, 112, 112, 1, b1, "real T3 H20 D112");
    t_scan(3, 20, 112, 1, 1, b1, "real T3 H20 D112 Dv1");
    t_out(3, 880, 20, "real T3 S880 H20");                  /* 4 blocks per (frame, head): 2, 2, 2, 1 tiles */
    t_out(8, 600, 16, "T8 S600 H16 (blocks of 3 and 2 tiles)"); /* 2 blocks per (frame, head), last tile partial */
    t_out_emb(3, 880, 20, 0, 1, "real T3 S880 H20");
    t_dw(3, 22, 40, 6720, WM_BF16, "real 3x22x40 M6720");
    if (!strcmp(gen, "new")) t_dw_silu(3, 22, 40, 6720, WM_BF16, "real 3x22x40 M6720");
    t_tconv(880, 2240, 1, b1, "real S880 C2240", WM_F32, 0);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    unsetenv("WM_CUDA_GDN"); /* the first backend takes the default (new) kernels */
    unsetenv("WM_CUDA_CONV");
    int rc = cp_init(c, 0x5eed0003);
    if (rc) return rc;
    wm_backend *gnew = c->gpu, *gold = NULL;
    wm_error err = {0};
    setenv("WM_CUDA_GDN", "old", 1);
    setenv("WM_CUDA_CONV", "old", 1);
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, NULL, &gold, &err);
    unsetenv("WM_CUDA_GDN");
    unsetenv("WM_CUDA_CONV");
    CHECK_MSG(st == WM_OK, "second CUDA backend: %s", err.msg);
    run_all(quick);
    if (gold) {
        c->gpu = gold;
        gen = "old";
        run_all(quick);
        wm_backend_free(gold);
    }
    c->gpu = gnew;
    cp_fini(c);
    TEST_MAIN_END();
}
