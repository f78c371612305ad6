/* Unit tests of the DiT ops (kernels/ops_dit.def) on the CPU backend against obvious scalar loops in
 * double, on random inputs at odd sizes (frames, chunks, heads, grid) so index mistakes show up.
 * Tolerance: |got - ref| <= 1e-5 + 1e-4 |ref| per element (fp32 op vs double loop). */
#include "kernels/ops.h"
#include "testing.h"

#include <string.h>

static t_rng rng = {0x9e3779b97f4a7c15ULL};
static wm_backend *be;

static wm_tensor mk(int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, float scale)
{
    int64_t sh[4] = {d0, d1, d2, d3};
    wm_tensor t;
    WM_ASSERT(wm_tensor_alloc(WM_F32, ndim, sh, &t) == WM_OK);
    if (scale != 0) t_fill_normal(&rng, t.data, (size_t)wm_tensor_numel(&t), scale);
    return t;
}
static float *F(wm_tensor *t) { return t->data; }
static int close_(const char *l, wm_tensor *got, const double *ref)
{
    size_t n = (size_t)wm_tensor_numel(got);
    float *r = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) r[i] = (float)ref[i];
    int ok = t_allclose(l, got->data, r, n, 1e-5f, 1e-4f);
    free(r);
    return ok;
}
static double *dz(size_t n) { return calloc(n, sizeof(double)); }

static void test_short_conv_and_shift(void)
{
    int T = 7, S = 5, C = 6, K = 4, bounds[3] = {0, 4, 7};
    wm_tensor x = mk(2, T * S, C, 0, 0, 1), w = mk(2, C, K, 0, 0, 1), tail = mk(2, (K - 1) * S, C, 0, 0, 1);
    wm_tensor y = mk(2, T * S, C, 0, 0, 0);
    for (int withtail = 0; withtail < 2; withtail++) {
        CHECK(wm_short_conv_t(be, &x, &w, withtail ? &tail : NULL, bounds, 2, &y) == WM_OK);
        double *ref = dz((size_t)T * S * C);
        for (int t = 0; t < T; t++) {
            int ce = t < 4 ? 4 : 7;
            for (int s = 0; s < S; s++)
                for (int c = 0; c < C; c++) {
                    double a = 0;
                    for (int j = 0; j < K; j++) {
                        int tf = t - 3 + j, tb = t + 3 - j;
                        if (tf >= 0) a += F(&w)[c * K + j] * F(&x)[(tf * S + s) * C + c];
                        else if (withtail) a += F(&w)[c * K + j] * F(&tail)[((3 + tf) * S + s) * C + c];
                        if (tb < ce) a += F(&w)[c * K + j] * F(&x)[(tb * S + s) * C + c];
                    }
                    ref[(t * S + s) * C + c] = a - F(&w)[c * K + 3] * F(&x)[(t * S + s) * C + c];
                }
        }
        CHECK(close_(withtail ? "short_conv_t tail" : "short_conv_t", &y, ref));
        free(ref);
    }
    wm_tensor cat = mk(2, T * S, 3 * C, 0, 0, 0), tl = mk(2, S, C, 0, 0, 1);
    CHECK(wm_temporal_shift_cat(be, &x, &tl, bounds, 2, &cat) == WM_OK);
    double *ref = dz((size_t)T * S * 3 * C);
    for (int t = 0; t < T; t++)
        for (int s = 0; s < S; s++)
            for (int c = 0; c < C; c++) {
                double *o = ref + (t * S + s) * 3 * C;
                o[c] = t > 0 ? F(&x)[((t - 1) * S + s) * C + c] : F(&tl)[s * C + c];
                o[C + c] = F(&x)[(t * S + s) * C + c];
                o[2 * C + c] = (t != 3 && t != 6) ? F(&x)[((t + 1) * S + s) * C + c] : 0;
            }
    CHECK(close_("temporal_shift_cat", &cat, ref));
    free(ref);
    wm_tensor_free(&x); wm_tensor_free(&w); wm_tensor_free(&tail); wm_tensor_free(&y);
    wm_tensor_free(&cat); wm_tensor_free(&tl);
}

static void test_rope_ucpe(void)
{
    int N = 9, H = 2, D = 16, C = H * D, P = 4;
    wm_tensor x = mk(2, N, C, 0, 0, 1), cs = mk(2, N, P, 0, 0, 1), sn = mk(2, N, P, 0, 0, 1);
    wm_tensor y = mk(2, N, C, 0, 0, 0), m = mk(3, N, 4, 4, 0, 1);
    for (int conj = 0; conj < 2; conj++) {
        CHECK(wm_rope_apply(be, &x, &cs, &sn, H, 6, conj, &y) == WM_OK);
        double *ref = dz((size_t)N * C);
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < C; i++) ref[n * C + i] = F(&x)[n * C + i];
            for (int h = 0; h < H; h++)
                for (int i = 0; i < P; i++) {
                    int d = h * D + 6 + 2 * i;
                    double c = F(&cs)[n * P + i], s = (conj ? -1 : 1) * F(&sn)[n * P + i];
                    double a = F(&x)[n * C + d], b = F(&x)[n * C + d + 1];
                    ref[n * C + d] = a * c - b * s;
                    ref[n * C + d + 1] = a * s + b * c;
                }
        }
        CHECK(close_(conj ? "rope_apply conj" : "rope_apply", &y, ref));
        free(ref);
    }
    for (int tr = 0; tr < 2; tr++) {
        CHECK(wm_ucpe_apply(be, &x, &m, H, tr, &y) == WM_OK);
        double *ref = dz((size_t)N * C);
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++) {
                    int g = d / 4, i = d % 4;
                    if (d >= D / 2) { ref[n * C + h * D + d] = F(&x)[n * C + h * D + d]; continue; }
                    double a = 0;
                    for (int j = 0; j < 4; j++)
                        a += F(&m)[n * 16 + (tr ? j * 4 + i : i * 4 + j)] * F(&x)[n * C + h * D + 4 * g + j];
                    ref[n * C + h * D + d] = a;
                }
        CHECK(close_(tr ? "ucpe_apply transpose" : "ucpe_apply", &y, ref));
        free(ref);
    }
    wm_tensor_free(&x); wm_tensor_free(&cs); wm_tensor_free(&sn); wm_tensor_free(&y); wm_tensor_free(&m);
}

/* The whole GDN readout by the definition of spec §3.4 (explicit per-frame matrices, double). */
static void test_gdn(void)
{
    int T = 5, S = 3, H = 2, D = 4, C = H * D, bounds[3] = {0, 2, 5};
    wm_tensor k = mk(2, T * S, C, 0, 0, 0.5f), v = mk(2, T * S, C, 0, 0, 1), q = mk(2, T * S, C, 0, 0, 1);
    wm_tensor beta = mk(2, T * S, H, 0, 0, 1), a = mk(2, T, H, 0, 0, 1), al = mk(1, H, 0, 0, 0, 0.5f);
    wm_tensor db = mk(1, H, 0, 0, 0, 0.5f), g = mk(2, T, H, 0, 0, 0), init = mk(3, H, D, D, 0, 0.3f);
    wm_tensor betaref = mk(2, T * S, H, 0, 0, 0);
    memcpy(betaref.data, beta.data, sizeof(float) * T * S * H);
    CHECK(wm_gdn_gates(be, &beta, &a, &al, &db, &g) == WM_OK);
    double *rb = dz((size_t)T * S * H), *rg = dz((size_t)T * H);
    for (int i = 0; i < T * S * H; i++) rb[i] = 1 / (1 + exp(-F(&betaref)[i]));
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            rg[t * H + h] = exp(-exp(F(&al)[h]) * log(1 + exp(F(&a)[t * H + h] + F(&db)[h])));
    CHECK(close_("gdn_gates beta", &beta, rb));
    CHECK(close_("gdn_gates g", &g, rg));

    wm_tensor P = mk(4, T, H, D, D, 0), A = mk(4, T, H, D, D, 0), Mf = mk(4, T, H, D, D, 0), Mr = mk(4, T, H, D, D, 0);
    wm_tensor Pd = mk(4, T, H, D, D, 0), b = mk(4, T, H, D, 1, 0), zf = mk(4, T, H, D, 1, 0), zr = mk(4, T, H, D, 1, 0);
    wm_tensor out = mk(2, T * S, C, 0, 0, 0), fin = mk(3, H, D, D, 0, 0);
    CHECK(wm_gdn_gram(be, &k, &v, &beta, T, &P, &A) == WM_OK);
    CHECK(wm_gdn_gram(be, &k, NULL, &beta, T, &Pd, &b) == WM_OK);
    CHECK(wm_gdn_scan(be, &P, &A, &g, &init, 0, bounds, 2, &Mf, &fin) == WM_OK);
    CHECK(wm_gdn_scan(be, &P, &A, &g, &init, 1, bounds, 2, &Mr, NULL) == WM_OK);
    CHECK(wm_gdn_scan(be, &Pd, &b, &g, NULL, 0, bounds, 2, &zf, NULL) == WM_OK);
    CHECK(wm_gdn_scan(be, &Pd, &b, &g, NULL, 1, bounds, 2, &zr, NULL) == WM_OK);
    CHECK(wm_gdn_output(be, &q, &Mf, &Mr, &q, &zf, &zr, 1e-3f, &out) == WM_OK);
    double *ref = dz((size_t)T * S * C), *rfin = dz((size_t)H * D * D);
    for (int h = 0; h < H; h++) {
        /* per-frame P, A, b in double from the definition */
        double Pm[5][4][4] = {{{0}}}, Am[5][4][4] = {{{0}}}, bv[5][4] = {{0}}, M[5][4][4], R[5][4][4], z[5][4], y[5][4];
        for (int t = 0; t < T; t++)
            for (int s = 0; s < S; s++) {
                int n = t * S + s;
                double bt = rb[n * H + h];
                for (int i = 0; i < D; i++) {
                    bv[t][i] += bt * F(&k)[n * C + h * D + i];
                    for (int j = 0; j < D; j++) {
                        Pm[t][i][j] += bt * F(&k)[n * C + h * D + i] * F(&k)[n * C + h * D + j];
                        Am[t][i][j] += bt * F(&k)[n * C + h * D + i] * F(&v)[n * C + h * D + j];
                    }
                }
            }
        for (int t = 0; t < T; t++) { /* forward */
            for (int i = 0; i < D; i++) {
                double zp = 0;
                for (int l = 0; l < D; l++) zp += (t ? (l == i) - Pm[t][i][l] : 0) * (t ? z[t - 1][l] : 0);
                z[t][i] = rg[t * H + h] * zp + bv[t][i];
                for (int j = 0; j < D; j++) {
                    double s = 0;
                    for (int l = 0; l < D; l++)
                        s += ((l == i) - Pm[t][i][l]) * (t ? M[t - 1][l][j] : F(&init)[(h * D + l) * D + j]);
                    M[t][i][j] = rg[t * H + h] * s + Am[t][i][j];
                }
            }
        }
        for (int t = T - 1; t >= 0; t--) { /* reverse, chunks [0,2) [2,5) */
            int last = (t == 1 || t == 4);
            for (int i = 0; i < D; i++) {
                double zp = 0;
                if (!last)
                    for (int l = 0; l < D; l++) zp += ((l == i) - Pm[t + 1][i][l]) * y[t + 1][l];
                y[t][i] = last ? 0 : rg[(t + 1) * H + h] * zp + bv[t + 1][i];
                for (int j = 0; j < D; j++) {
                    double s = 0;
                    if (!last)
                        for (int l = 0; l < D; l++) s += ((l == i) - Pm[t + 1][i][l]) * R[t + 1][l][j];
                    R[t][i][j] = last ? 0 : rg[(t + 1) * H + h] * s + Am[t + 1][i][j];
                }
            }
        }
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) rfin[(h * D + i) * D + j] = M[T - 1][i][j];
        for (int t = 0; t < T; t++)
            for (int s = 0; s < S; s++) {
                int n = t * S + s;
                const float *qq = F(&q) + n * C + h * D;
                double den = 1e-3;
                for (int i = 0; i < D; i++) den += qq[i] * (z[t][i] + y[t][i]);
                for (int j = 0; j < D; j++) {
                    double num = 0;
                    for (int i = 0; i < D; i++) num += (M[t][i][j] + R[t][i][j]) * qq[i];
                    ref[n * C + h * D + j] = num / den;
                }
            }
    }
    CHECK(close_("gdn gram+scan+output", &out, ref));
    CHECK(close_("gdn_scan final state", &fin, rfin));
    /* numerator only */
    CHECK(wm_gdn_output(be, &q, &Mf, &Mr, NULL, NULL, NULL, 0, &out) == WM_OK);
    wm_tensor num = mk(2, T * S, C, 0, 0, 0);
    for (int n = 0; n < T * S; n++)
        for (int h = 0; h < H; h++)
            for (int j = 0; j < D; j++) {
                double s = 0;
                for (int i = 0; i < D; i++)
                    s += F(&q)[n * C + h * D + i] * ((double)F(&Mf)[(((n / S) * H + h) * D + i) * D + j] +
                                                    F(&Mr)[(((n / S) * H + h) * D + i) * D + j]);
                ref[n * C + h * D + j] = s;
            }
    CHECK(close_("gdn_output numerator only", &out, ref));
    /* camera beta */
    wm_tensor kq = mk(2, T * S, C, 0, 0, 1), bc = mk(2, T * S, H, 0, 0, 0);
    CHECK(wm_gdn_cam_beta(be, &k, &kq, &beta, T, &bc) == WM_OK);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            double m = 0;
            for (int s = 0; s < S; s++) {
                double na = 0, nb = 0;
                for (int i = 0; i < D; i++) {
                    na += pow(F(&k)[(t * S + s) * C + h * D + i], 2);
                    nb += pow(F(&kq)[(t * S + s) * C + h * D + i], 2);
                }
                m += nb / na / S;
            }
            for (int s = 0; s < S; s++) ref[(t * S + s) * H + h] = rb[(t * S + s) * H + h] / (m > 1 ? m : 1);
        }
    CHECK(close_("gdn_cam_beta", &bc, ref));
    free(ref); free(rfin); free(rb); free(rg);
    wm_tensor *all[] = {&k, &v, &q, &beta, &a, &al, &db, &g, &init, &betaref, &P, &A, &Mf, &Mr, &Pd, &b, &zf, &zr,
                        &out, &fin, &num, &kq, &bc};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
}

static void test_small_ops(void)
{
    int T = 3, gh = 4, gw = 5, M = 6, S = gh * gw, C = 7;
    wm_tensor x = mk(2, T * S, 2 * M, 0, 0, 1), w = mk(2, 2 * M, 9, 0, 0, 1), b = mk(1, 2 * M, 0, 0, 0, 1);
    wm_tensor y = mk(2, T * S, M, 0, 0, 0);
    CHECK(wm_depthwise3x3_glu(be, &x, &w, &b, T, gh, gw, &y) == WM_OK);
    double *ref = dz((size_t)T * S * 2 * M * 3);
    for (int f = 0; f < T; f++)
        for (int r = 0; r < gh; r++)
            for (int c = 0; c < gw; c++)
                for (int ch = 0; ch < M; ch++) {
                    double v2[2];
                    for (int half = 0; half < 2; half++) {
                        int cc = ch + half * M;
                        double s = F(&b)[cc];
                        for (int ky = -1; ky <= 1; ky++)
                            for (int kx = -1; kx <= 1; kx++)
                                if (r + ky >= 0 && r + ky < gh && c + kx >= 0 && c + kx < gw)
                                    s += F(&w)[cc * 9 + (ky + 1) * 3 + kx + 1] *
                                         F(&x)[((f * gh + r + ky) * gw + c + kx) * 2 * M + cc];
                        v2[half] = s;
                    }
                    ref[((f * gh + r) * gw + c) * M + ch] = v2[0] * v2[1] / (1 + exp(-v2[1]));
                }
    CHECK(close_("depthwise3x3_glu", &y, ref));
    wm_tensor xm = mk(2, T * S, C, 0, 0, 1), ym = mk(2, T, C, 0, 0, 0);
    CHECK(wm_frame_mean(be, &xm, T, &ym) == WM_OK);
    for (int f = 0; f < T; f++)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int i = 0; i < S; i++) s += F(&xm)[(f * S + i) * C + c];
            ref[f * C + c] = s / S;
        }
    CHECK(close_("frame_mean", &ym, ref));
    wm_tensor xt = mk(2, C, T * S, 0, 0, 0);
    CHECK(wm_transpose2d(be, &xm, &xt) == WM_OK);
    for (int n = 0; n < T * S; n++)
        for (int c = 0; c < C; c++) ref[c * T * S + n] = F(&xm)[n * C + c];
    CHECK(close_("transpose2d", &xt, ref));
    wm_tensor tt = mk(1, T, 0, 0, 0, 0), te = mk(2, T, 8, 0, 0, 0);
    F(&tt)[0] = 0; F(&tt)[1] = 500.9f; F(&tt)[2] = 998.26f;
    CHECK(wm_dit_timestep_embed(be, &tt, &te) == WM_OK);
    for (int f = 0; f < T; f++)
        for (int i = 0; i < 4; i++) {
            double tv = floor(F(&tt)[f]), a = tv * exp(-log(10000.0) * i / 4);
            ref[f * 8 + i] = cos(a);
            ref[f * 8 + 4 + i] = sin(a);
        }
    CHECK(close_("dit_timestep_embed (truncating)", &te, ref));
    wm_tensor t6 = mk(2, T, 3 * C, 0, 0, 1), sst = mk(2, 3, C, 0, 0, 1), tab = mk(3, 3, T, C, 0, 0);
    CHECK(wm_dit_adaln_table(be, &t6, &sst, &tab) == WM_OK);
    for (int k = 0; k < 3; k++)
        for (int f = 0; f < T; f++)
            for (int c = 0; c < C; c++) ref[(k * T + f) * C + c] = (double)F(&sst)[k * C + c] + F(&t6)[f * 3 * C + k * C + c];
    CHECK(close_("dit_adaln_table", &tab, ref));
    wm_tensor lat = mk(3, C, T, S, 0, 1), vel = mk(3, C, T, S, 0, 1), dt = mk(1, T, 0, 0, 0, 0);
    F(&dt)[0] = 0; F(&dt)[1] = -0.25f; F(&dt)[2] = -0.5f;
    for (int i = 0; i < C * T * S; i++) ref[i] = F(&lat)[i] + F(&dt)[(i / S) % T] * (double)F(&vel)[i];
    CHECK(wm_frame_axpy(be, &lat, &vel, &dt) == WM_OK);
    CHECK(close_("frame_axpy", &lat, ref));
    /* cfg_combine and head_renorm (first-release post-UCPE renorm switch) */
    wm_tensor vu = mk(2, T * S, C, 0, 0, 1), vc = mk(2, T * S, C, 0, 0, 1), vo = mk(2, T * S, C, 0, 0, 0);
    CHECK(wm_cfg_combine(be, &vu, &vc, 5.0f, &vo) == WM_OK);
    for (int i = 0; i < T * S * C; i++) ref[i] = F(&vu)[i] + 5.0 * ((double)F(&vc)[i] - F(&vu)[i]);
    CHECK(close_("cfg_combine", &vo, ref));
    wm_tensor pre = mk(2, 5, 16, 0, 0, 1), post = mk(2, 5, 16, 0, 0, 1.5f), rn = mk(2, 5, 16, 0, 0, 0);
    CHECK(wm_head_renorm(be, &pre, &post, 2, 1e-6f, &rn) == WM_OK);
    for (int n = 0; n < 5; n++)
        for (int h = 0; h < 2; h++) {
            double sa = 0, sb = 0;
            for (int d = 0; d < 8; d++) {
                sa += pow(F(&pre)[n * 16 + h * 8 + d], 2);
                sb += pow(F(&post)[n * 16 + h * 8 + d], 2);
            }
            double r = sqrt(sa / 8 + 1e-6) / sqrt(sb / 8 + 1e-6);
            for (int d = 0; d < 8; d++) ref[n * 16 + h * 8 + d] = F(&post)[n * 16 + h * 8 + d] * (r < 1 ? r : 1);
        }
    CHECK(close_("head_renorm", &rn, ref));
    free(ref);
    wm_tensor *all[] = {&x, &w, &b, &y, &xm, &ym, &xt, &tt, &te, &t6, &sst, &tab, &lat, &vel, &dt, &vu, &vc, &vo,
                        &pre, &post, &rn};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
}

int main(void)
{
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_error err = {0};
    if (wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
    test_short_conv_and_shift();
    test_rope_ucpe();
    test_gdn();
    test_small_ops();
    /* a bad shape is refused with the op name in the message */
    wm_tensor a = mk(2, 4, 3, 0, 0, 1), o = mk(2, 5, 3, 0, 0, 0);
    CHECK(wm_frame_mean(be, &a, 3, &o) == WM_ERR_SHAPE);
    CHECK(strstr(be->err.msg, "frame_mean") != NULL);
    wm_tensor_free(&a); wm_tensor_free(&o);
    wm_backend_free(be);
    TEST_MAIN_END();
}
