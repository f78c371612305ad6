/* Loading the DiT weights by official names (see weights.h). Each tensor is read with its exact stored
 * shape (so a checkpoint of another size fails on the first mismatching key, naming it) and then viewed
 * in the 2-D layout the ops take; only t_conv needs a real re-layout. The same walk over the keys runs
 * twice: a planning pass that only records shapes and per-family bytes, then the load pass that carves
 * each family's one device allocation, reads (or generates) one tensor at a time into a host scratch,
 * converts it to the family dtype in small chunks and uploads it. */
#include "wm/dit/weights.h"

#include "wm/core/backend.h"
#include "wm/core/dtype.h"
#include "wm/dit/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FAM_MAT = 0, FAM_VEC = 1 }; /* GEMM weights/biases (activation dtype), fp32 small weights */
#define CONV_CHUNK ((int64_t)1 << 18) /* elements converted per upload */

typedef struct {
    const wm_checkpoint *ck;
    wm_error *err;
    char name[160];
    int load;             /* 0: planning pass (headers, bytes), 1: read/generate + upload */
    int random;           /* generate instead of reading ck */
    uint64_t seed, idx;   /* random: seed and tensor counter */
    wm_backend *be;       /* NULL: host memory */
    wm_device dev;
    wm_dtype dt[2];
    int round_bf16;
    char *base[2];
    size_t off[2], bytes[2];
    int64_t max_numel;
    float *h, *h2;        /* host scratch: one tensor, the t_conv re-layout / the Plücker fold */
    float *plk_h;         /* plucker_embedder weight (C, 48) and bias (C), kept for the fold */
    void *cb;             /* conversion chunk */
} ld_ctx;

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    float *h;
    uint64_t key;
    float off, half; /* value = off + half * U(-1, 1) */
} rnd_job;

static void rnd_fill(void *ctx, int64_t b, int64_t e)
{
    const rnd_job *j = ctx;
    for (int64_t i = b; i < e; i++) {
        double u = (double)(mix64(j->key + (uint64_t)i) >> 11) * (1.0 / 9007199254740992.0);
        j->h[i] = j->off + j->half * (float)(2.0 * u - 1.0);
    }
}

/* Random value law by tensor name: (offset, standard deviation). */
static void rnd_law(const char *name, int ndim, const int64_t *s, float *off, float *sd)
{
    int64_t fan = 1;
    for (int i = 1; i < ndim; i++) fan *= s[i];
    *off = 0.0f;
    if (strstr(name, "norm")) { *off = 1.0f; *sd = 0.1f; }
    else if (strstr(name, ".bias") && !strstr(name, "dt_bias")) *sd = 0.02f;
    else if (strstr(name, "scale_shift_table")) *sd = 0.1f;
    else if (strstr(name, "A_log") || strstr(name, "dt_bias") || strstr(name, "conv_k")) *sd = 0.3f;
    else if (strstr(name, "depth_conv")) *sd = 0.2f;
    else *sd = 0.5f / sqrtf((float)(fan > 0 ? fan : 1));
}

/* Read (or generate) the tensor c->name with stored shape (ndim, s) into the host scratch c->h. */
static wm_status rd(ld_ctx *c, int ndim, const int64_t *s)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= s[i];
    if (n > c->max_numel) c->max_numel = n;
    if (!c->load) return WM_OK;
    if (c->random) {
        float o, sd;
        rnd_law(c->name, ndim, s, &o, &sd);
        rnd_job j = {c->h, mix64(c->seed ^ mix64(++c->idx)), o, sd * 1.7320508f};
        if (c->be && c->be->pool) wm_threadpool_run(c->be->pool, n, 1 << 16, rnd_fill, &j);
        else rnd_fill(&j, 0, n);
        return WM_OK;
    }
    wm_status st = wm_checkpoint_read_f32(c->ck, c->name, ndim, s, c->h, c->err);
    if (st != WM_OK && !wm_checkpoint_find(c->ck, c->name))
        wm__errf(c->err, st, "%s: missing DiT weight '%s'", wm_checkpoint_path(c->ck), c->name);
    return st;
}

static wm_status up(ld_ctx *c, void *dst, const void *src, size_t bytes)
{
    if (c->be) return wm_backend_upload(c->be, dst, src, bytes);
    memcpy(dst, src, bytes);
    return WM_OK;
}

/* Host fp32 src -> dst in its dtype (bf16, or fp32 rounded to bf16 values for GEMM weights when asked). */
static wm_status store(ld_ctx *c, const wm_tensor *dst, int fam, const float *src)
{
    int64_t n = wm_tensor_numel(dst);
    int bf = dst->dtype == WM_BF16, rnd = !bf && c->round_bf16 && fam == FAM_MAT;
    if (!bf && !rnd) return up(c, dst->data, src, (size_t)n * sizeof(float));
    for (int64_t o = 0; o < n; o += CONV_CHUNK) {
        int64_t m = n - o < CONV_CHUNK ? n - o : CONV_CHUNK;
        if (bf) {
            uint16_t *b = c->cb;
            for (int64_t j = 0; j < m; j++) b[j] = wm_f32_to_bf16(src[o + j]);
            WM_TRY(up(c, (uint16_t *)dst->data + o, b, (size_t)m * 2));
        } else {
            float *b = c->cb;
            for (int64_t j = 0; j < m; j++) b[j] = wm_round_bf16(src[o + j]);
            WM_TRY(up(c, (float *)dst->data + o, b, (size_t)m * 4));
        }
    }
    return WM_OK;
}

/* Place a (rows, cols) tensor of family fam (cols 0: 1-D of rows) from host src. */
static wm_status put(ld_ctx *c, wm_tensor *dst, int fam, int64_t rows, int64_t cols, const float *src)
{
    int64_t sh[2] = {rows, cols};
    *dst = wm_tensor_view(c->dt[fam], c->dev, NULL, cols ? 2 : 1, sh);
    size_t nb = (wm_tensor_nbytes(dst) + 255) & ~(size_t)255;
    if (!c->load) {
        c->bytes[fam] += nb;
        return WM_OK;
    }
    dst->data = c->base[fam] + c->off[fam];
    c->off[fam] += nb;
    return store(c, dst, fam, src);
}

/* Read key `name` with stored shape (ndim, s) viewed as (rows, cols) (cols 0: 1-D of rows elements). */
static wm_status ld(ld_ctx *c, wm_tensor *dst, int fam, int ndim, const int64_t *s, int64_t rows, int64_t cols)
{
    WM_TRY(rd(c, ndim, s));
    return put(c, dst, fam, rows, cols, c->h);
}

#define NAME(...) snprintf(c->name, sizeof c->name, __VA_ARGS__)
#define S1(a) ((const int64_t[]){a})
#define S2(a, b) ((const int64_t[]){a, b})
#define S3(a, b, d) ((const int64_t[]){a, b, d})
#define S4(a, b, d, e) ((const int64_t[]){a, b, d, e})
#define S5(a, b, d, e, f) ((const int64_t[]){a, b, d, e, f})

/* Linear "<pre>.weight" (o, i) and optional "<pre>.bias" (o). */
static wm_status ld_lin(ld_ctx *c, const char *pre, int64_t o, int64_t i, wm_tensor *w, wm_tensor *b)
{
    NAME("%s.weight", pre);
    WM_TRY(ld(c, w, FAM_MAT, 2, S2(o, i), o, i));
    if (!b) return WM_OK;
    NAME("%s.bias", pre);
    return ld(c, b, FAM_MAT, 1, S1(o), o, 0);
}

/* Carve a (rows, cols) tensor of family fam without filling it (load pass) / count its bytes (plan). */
static void carve(ld_ctx *c, wm_tensor *dst, int fam, int64_t rows, int64_t cols)
{
    int64_t sh[2] = {rows, cols};
    *dst = wm_tensor_view(c->dt[fam], c->dev, NULL, cols ? 2 : 1, sh);
    size_t nb = (wm_tensor_nbytes(dst) + 255) & ~(size_t)255;
    if (!c->load) {
        c->bytes[fam] += nb;
        return;
    }
    dst->data = c->base[fam] + c->off[fam];
    c->off[fam] += nb;
}

/* Linear layers "<pre[k]>" (o, i) + bias read into row views of one (n o, i) weight and one (n o) bias
 * already carved: the checkpoint names stay, the forward runs one batched GEMM over them. Keys are read
 * in the same order as n ld_lin calls (the random initializer's stream is unchanged). */
static wm_status ld_lin_into(ld_ctx *c, int n, const char *const *pre, int64_t o, int64_t i, const wm_tensor *all_w,
                             const wm_tensor *all_b, wm_tensor **w, wm_tensor **b)
{
    for (int k = 0; k < n; k++) {
        *w[k] = wm_tensor_slice0(all_w, k * o, o);
        *b[k] = wm_tensor_slice0(all_b, k * o, o);
        NAME("%s.weight", pre[k]);
        WM_TRY(rd(c, 2, S2(o, i)));
        if (c->load) WM_TRY(store(c, w[k], FAM_MAT, c->h));
        NAME("%s.bias", pre[k]);
        WM_TRY(rd(c, 1, S1(o)));
        if (c->load) WM_TRY(store(c, b[k], FAM_MAT, c->h));
    }
    return WM_OK;
}

static wm_status ld_vec(ld_ctx *c, const char *name, int64_t n, wm_tensor *t)
{
    NAME("%s", name);
    return ld(c, t, FAM_VEC, 1, S1(n), n, 0);
}

static wm_status ld_bias(ld_ctx *c, const char *name, int64_t n, wm_tensor *t)
{
    NAME("%s", name);
    return ld(c, t, FAM_MAT, 1, S1(n), n, 0);
}

/* dst = the vector just read (still in c->h) times the GDN key scale (spec §3.1 step 5). */
static wm_status put_scaled(ld_ctx *c, wm_tensor *dst, int64_t n, double ks)
{
    if (c->load)
        for (int64_t j = 0; j < n; j++) c->h[j] = (float)(c->h[j] * ks);
    return put(c, dst, FAM_VEC, n, 0, c->h);
}

static wm_status ld_globals(ld_ctx *c, const wm_dit_config *g, wm_dit_weights *w)
{
    int64_t C = g->hidden_size;
    NAME("x_embedder.proj.weight");
    WM_TRY(ld(c, &w->x_w, FAM_MAT, 5, S5(C, g->in_channels, 1, 1, 1), C, g->in_channels));
    WM_TRY(ld_bias(c, "x_embedder.proj.bias", C, &w->x_b));
    int64_t Pc = g->plucker_channels;
    NAME("plucker_embedder.proj.weight");
    WM_TRY(ld(c, &w->plk_w, FAM_MAT, 5, S5(C, Pc, 1, 1, 1), C, Pc));
    if (c->load) memcpy(c->plk_h, c->h, (size_t)(C * Pc) * sizeof(float));
    WM_TRY(ld_bias(c, "plucker_embedder.proj.bias", C, &w->plk_b));
    if (c->load) memcpy(c->plk_h + C * Pc, c->h, (size_t)C * sizeof(float));
    WM_TRY(ld_lin(c, "t_embedder.mlp.0", C, g->freq_dim, &w->t0_w, &w->t0_b));
    WM_TRY(ld_lin(c, "t_embedder.mlp.2", C, C, &w->t2_w, &w->t2_b));
    WM_TRY(ld_lin(c, "t_block.1", 6 * C, C, &w->tb_w, &w->tb_b));
    WM_TRY(ld_lin(c, "y_embedder.y_proj.fc1", C, g->caption_channels, &w->y1_w, &w->y1_b));
    WM_TRY(ld_lin(c, "y_embedder.y_proj.fc2", C, C, &w->y2_w, &w->y2_b));
    WM_TRY(ld_vec(c, "attention_y_norm.weight", C, &w->y_norm));
    WM_TRY(ld_lin(c, "final_layer.linear", g->out_channels, C, &w->fin_w, &w->fin_b));
    NAME("final_layer.scale_shift_table");
    return ld(c, &w->fin_sst, FAM_VEC, 2, S2(2, C), 2, C);
}

static wm_status ld_attn(ld_ctx *c, const wm_dit_config *g, int i, wm_dit_block_weights *b)
{
    int64_t C = g->hidden_size, H = g->num_heads, K = g->conv_kernel_size;
    char p[96];
#define P(suffix) (snprintf(p, sizeof p, "blocks.%d.attn.%s", i, suffix), p)
    WM_TRY(ld_lin(c, P("qkv"), 3 * C, C, &b->qkv, NULL));
    WM_TRY(ld_vec(c, P("q_norm.weight"), C, &b->q_norm));
    double ks = 1.0 / sqrt((double)(C / H) * g->latent_h * g->latent_w);
    WM_TRY(ld_vec(c, P("k_norm.weight"), C, &b->k_norm));
    if (!g->is_softmax[i]) WM_TRY(put_scaled(c, &b->k_norm_s, C, ks));
    WM_TRY(ld_lin(c, P("beta_proj"), H, C, &b->beta_w, &b->beta_b));
    WM_TRY(ld_lin(c, P("gate_proj"), H, C, &b->gate_w, &b->gate_b));
    WM_TRY(ld_vec(c, P("A_log"), H, &b->A_log));
    WM_TRY(ld_vec(c, P("dt_bias"), H, &b->dt_bias));
    /* output_gate is read here (key order) into rows 0..C of the (4C, C) buffer the camera q|k|v fill next */
    carve(c, &b->gqkvc_w, FAM_MAT, 4 * C, C);
    carve(c, &b->gqkvc_b, FAM_MAT, 4 * C, 0);
    {
        const char *const pg[1] = {P("output_gate")};
        wm_tensor *wg[1] = {&b->og_w}, *bg[1] = {&b->og_b};
        WM_TRY(ld_lin_into(c, 1, pg, C, C, &b->gqkvc_w, &b->gqkvc_b, wg, bg));
    }
    WM_TRY(ld_lin(c, P("proj"), C, C, &b->proj_w, &b->proj_b));
    {
        char pq[96], pk[96], pv[96];
        snprintf(pq, sizeof pq, "blocks.%d.attn.q_proj_cam", i);
        snprintf(pk, sizeof pk, "blocks.%d.attn.k_proj_cam", i);
        snprintf(pv, sizeof pv, "blocks.%d.attn.v_proj_cam", i);
        const char *const pre[3] = {pq, pk, pv};
        wm_tensor *ws[3] = {&b->qc_w, &b->kc_w, &b->vc_w}, *bs[3] = {&b->qc_b, &b->kc_b, &b->vc_b};
        b->qkvc_w = wm_tensor_slice0(&b->gqkvc_w, C, 3 * C);
        b->qkvc_b = wm_tensor_slice0(&b->gqkvc_b, C, 3 * C);
        WM_TRY(ld_lin_into(c, 3, pre, C, C, &b->qkvc_w, &b->qkvc_b, ws, bs));
    }
    WM_TRY(ld_lin(c, P("out_proj_cam"), C, C, &b->oc_w, &b->oc_b));
    WM_TRY(ld_vec(c, P("q_norm_cam.weight"), C, &b->q_norm_cam));
    WM_TRY(ld_vec(c, P("k_norm_cam.weight"), C, &b->k_norm_cam));
    if (!g->is_softmax[i]) {
        WM_TRY(put_scaled(c, &b->k_norm_cam_s, C, ks));
        NAME("blocks.%d.attn.conv_k.weight", i);
        WM_TRY(ld(c, &b->conv_k, FAM_VEC, 3, S3(C, 1, K), C, K));
        NAME("blocks.%d.attn.conv_k_cam.weight", i);
        WM_TRY(ld(c, &b->conv_k_cam, FAM_VEC, 3, S3(C, 1, K), C, K));
    }
#undef P
    return WM_OK;
}

typedef struct {
    const float *pp, *plk; /* plucker_proj weight (C, C); plucker_embedder weight (C, P) then bias (C) */
    float *fw, *fb;        /* (C, P) and (C) */
    int64_t C, P;
} fold_job;

static void fold_rows(void *ctx, int64_t r0, int64_t r1)
{
    const fold_job *j = ctx;
    const float *pb = j->plk + j->C * j->P;
    for (int64_t o = r0; o < r1; o++) {
        float *w = j->fw + o * j->P, b = 0.0f;
        for (int64_t q = 0; q < j->P; q++) w[q] = 0.0f;
        for (int64_t k = 0; k < j->C; k++) {
            const float a = j->pp[o * j->C + k], *e = j->plk + k * j->P;
            for (int64_t q = 0; q < j->P; q++) w[q] += a * e[q];
            b += a * pb[k];
        }
        j->fb[o] = b;
    }
}

/* plucker_proj, and its fold with plucker_embedder for the fused forward (WM_DIT_UNFUSE_PLK): both are
 * linear in the 48-channel Plücker tokens u, so pp(plk_w u + plk_b) + pp_b = (pp_w plk_w) u + (pp_w plk_b
 * + pp_b): one 48-wide GEMM per block instead of a C x C one on the embedding (spec §4.7). Folded in fp32
 * from the checkpoint values, then stored like any GEMM weight. */
static wm_status ld_plucker_proj(ld_ctx *c, const wm_dit_config *g, int i, wm_dit_block_weights *b)
{
    int64_t C = g->hidden_size, Pc = g->plucker_channels;
    fold_job j = {c->h, c->plk_h, c->h2, c->h2 + C * Pc, C, Pc};
    NAME("blocks.%d.plucker_proj.weight", i);
    WM_TRY(rd(c, 2, S2(C, C)));
    if (c->load) {
        if (c->be && c->be->pool) wm_threadpool_run(c->be->pool, C, 16, fold_rows, &j);
        else fold_rows(&j, 0, C);
    }
    WM_TRY(put(c, &b->pp_w, FAM_MAT, C, C, c->h));
    NAME("blocks.%d.plucker_proj.bias", i);
    WM_TRY(rd(c, 1, S1(C)));
    if (c->load)
        for (int64_t o = 0; o < C; o++) j.fb[o] += c->h[o];
    WM_TRY(put(c, &b->pp_b, FAM_MAT, C, 0, c->h));
    WM_TRY(put(c, &b->pk_w, FAM_MAT, C, Pc, j.fw));
    return put(c, &b->pk_b, FAM_MAT, C, 0, j.fb);
}

static wm_status ld_block(ld_ctx *c, const wm_dit_config *g, int i, wm_dit_block_weights *b)
{
    int64_t C = g->hidden_size, M = g->mlp_hidden;
    char p[96];
#define P(suffix) (snprintf(p, sizeof p, "blocks.%d.%s", i, suffix), p)
    NAME("blocks.%d.scale_shift_table", i);
    WM_TRY(ld(c, &b->sst, FAM_VEC, 2, S2(6, C), 6, C));
    WM_TRY(ld_attn(c, g, i, b));
    WM_TRY(ld_plucker_proj(c, g, i, b));
    WM_TRY(ld_lin(c, P("cross_attn.q_linear"), C, C, &b->ca_q_w, &b->ca_q_b));
    WM_TRY(ld_lin(c, P("cross_attn.kv_linear"), 2 * C, C, &b->ca_kv_w, &b->ca_kv_b));
    WM_TRY(ld_vec(c, P("cross_attn.q_norm.weight"), C, &b->ca_q_norm));
    WM_TRY(ld_vec(c, P("cross_attn.k_norm.weight"), C, &b->ca_k_norm));
    WM_TRY(ld_lin(c, P("cross_attn.proj"), C, C, &b->ca_proj_w, &b->ca_proj_b));
    NAME("blocks.%d.mlp.inverted_conv.conv.weight", i);
    WM_TRY(ld(c, &b->inv_w, FAM_MAT, 4, S4(2 * M, C, 1, 1), 2 * M, C));
    WM_TRY(ld_bias(c, P("mlp.inverted_conv.conv.bias"), 2 * M, &b->inv_b));
    NAME("blocks.%d.mlp.depth_conv.conv.weight", i);
    WM_TRY(ld(c, &b->dw_w, FAM_VEC, 4, S4(2 * M, 1, 3, 3), 2 * M, 9));
    WM_TRY(ld_vec(c, P("mlp.depth_conv.conv.bias"), 2 * M, &b->dw_b));
    NAME("blocks.%d.mlp.point_conv.conv.weight", i);
    WM_TRY(ld(c, &b->pt_w, FAM_MAT, 4, S4(C, M, 1, 1), C, M));
#undef P
    int64_t kt = g->t_conv_kernel;
    NAME("blocks.%d.mlp.t_conv.weight", i);
    if (kt != 3) return wm__errf(c->err, WM_ERR_UNSUPPORTED, "%s: t_conv kernel %d (only 3)", c->name, (int)kt);
    WM_TRY(rd(c, 4, S4(C, C, 3, 1)));
    if (c->load) { /* (C, C, 3) -> (C, 3C): column block j = the tap applied to frame t-1+j */
        const float *r = c->h;
        float *o = c->h2;
        for (int64_t oc = 0; oc < C; oc++)
            for (int64_t ic = 0; ic < C; ic++)
                for (int64_t j = 0; j < 3; j++) o[oc * 3 * C + j * C + ic] = r[(oc * C + ic) * 3 + j];
    }
    return put(c, &b->tconv_w, FAM_MAT, C, 3 * C, c->h2);
}

static wm_status walk(ld_ctx *c, const wm_dit_config *cfg, wm_dit_weights *w)
{
    c->off[0] = c->off[1] = 0;
    c->idx = 0;
    WM_TRY(ld_globals(c, cfg, w));
    for (int i = 0; i < cfg->depth; i++) WM_TRY(ld_block(c, cfg, i, &w->blocks[i]));
    return WM_OK;
}

/* Second pass: family allocations + host scratch, then the walk that reads and uploads. */
static wm_status load_pass(ld_ctx *c, const wm_dit_config *cfg, wm_dit_weights *w)
{
    for (int f = 0; f < 2; f++) {
        size_t nb = c->bytes[f] ? c->bytes[f] : 256;
        if (c->be) WM_TRY(wm_backend_malloc(c->be, nb, &w->mem[f]));
        else if (!(w->mem[f] = aligned_alloc(256, nb))) return wm__errf(c->err, WM_ERR_OUT_OF_MEMORY, "DiT weights: out of memory");
        w->mem_bytes[f] = nb;
        c->base[f] = w->mem[f];
    }
    int64_t C = cfg->hidden_size;
    int64_t Pc = cfg->plucker_channels, h2n = 3 * C * C > C * (Pc + 1) ? 3 * C * C : C * (Pc + 1);
    c->h = malloc((size_t)c->max_numel * sizeof(float));
    c->h2 = malloc((size_t)h2n * sizeof(float));
    c->cb = malloc((size_t)CONV_CHUNK * sizeof(float));
    c->plk_h = malloc((size_t)(C * (Pc + 1)) * sizeof(float));
    wm_status st = c->h && c->h2 && c->cb && c->plk_h ? WM_OK
                                                       : wm__errf(c->err, WM_ERR_OUT_OF_MEMORY, "DiT weights: no host scratch");
    c->load = 1;
    if (st == WM_OK) st = walk(c, cfg, w);
    free(c->h), free(c->h2), free(c->cb), free(c->plk_h);
    if (st == WM_OK && c->be) st = wm_backend_sync(c->be);
    return st;
}

static wm_status load_impl(const wm_checkpoint *ck, int random, uint64_t seed, const wm_dit_config *cfg,
                           const wm_dit_weights_params *p, wm_dit_weights **out, wm_error *err)
{
    *out = NULL;
    if (cfg->depth <= 0 || cfg->depth > WM_DIT_MAX_DEPTH || cfg->num_heads <= 0 ||
        cfg->hidden_size % cfg->num_heads)
        return wm__errf(err, WM_ERR_INVALID_ARG, "DiT config: bad depth/heads/hidden size");
    wm_dit_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->blocks = calloc((size_t)cfg->depth, sizeof *w->blocks))) {
        free(w);
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "DiT weights: out of memory");
    }
    w->cfg = *cfg;
    ld_ctx c = {0};
    c.ck = ck, c.err = err, c.random = random, c.seed = seed;
    c.be = p ? p->be : NULL;
    c.round_bf16 = p ? p->round_bf16 : 0;
    c.dev = c.be ? c.be->device : WM_DEVICE_CPU;
    c.dt[FAM_MAT] = c.be ? wm_dit_act_dtype(c.be) : WM_F32;
    c.dt[FAM_VEC] = WM_F32;
    w->device = c.dev;
    w->be = c.be;
    w->unfused = wm_dit_unfuse_parse(getenv("WM_DIT_UNFUSED")); /* switch if a fused kernel misbehaves */
    wm_status st = walk(&c, cfg, w); /* plan: shapes and bytes */
    if (st == WM_OK && (ck || random)) st = load_pass(&c, cfg, w);
    if (st != WM_OK) {
        wm_dit_weights_free(w);
        return st;
    }
    *out = w;
    return WM_OK;
}

wm_status wm_dit_weights_load(const wm_checkpoint *ck, const wm_dit_config *cfg, wm_dit_weights **out,
                              wm_error *err)
{
    return load_impl(ck, 0, 0, cfg, NULL, out, err);
}

wm_status wm_dit_weights_load_on(const wm_checkpoint *ck, const wm_dit_config *cfg, const wm_dit_weights_params *p,
                                 wm_dit_weights **out, wm_error *err)
{
    return load_impl(ck, 0, 0, cfg, p, out, err);
}

wm_status wm_dit_weights_random(const wm_dit_config *cfg, uint64_t seed, const wm_dit_weights_params *p,
                                wm_dit_weights **out, wm_error *err)
{
    return load_impl(NULL, 1, seed, cfg, p, out, err);
}

wm_status wm_dit_weights_shapes(const wm_dit_config *cfg, wm_dit_weights **out, wm_error *err)
{
    return load_impl(NULL, 0, 0, cfg, NULL, out, err);
}

int wm_dit_unfuse_parse(const char *s)
{
    static const struct { const char *name; int bit; } tab[] = {
        {"qk", WM_DIT_UNFUSE_QK}, {"add", WM_DIT_UNFUSE_ADD}, {"gate", WM_DIT_UNFUSE_GATE},
        {"dw", WM_DIT_UNFUSE_DW}, {"window", WM_DIT_UNFUSE_WINDOW}, {"qkv", WM_DIT_UNFUSE_QKV}, {"ln", WM_DIT_UNFUSE_LN},
        {"scan", WM_DIT_UNFUSE_SCAN}, {"plk", WM_DIT_UNFUSE_PLK}, {"trim", WM_DIT_UNFUSE_TRIM}, {"batch", WM_DIT_UNFUSE_BATCH},
        {"ucpe", WM_DIT_UNFUSE_UCPE},
        {"all", WM_DIT_UNFUSE_ALL},
        {"1", WM_DIT_UNFUSE_ALL}};
    int bits = 0;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
            if (strlen(tab[i].name) == n && !strncmp(s, tab[i].name, n)) bits |= tab[i].bit;
        s += n + (s[n] == ',');
    }
    return bits;
}

void wm_dit_weights_free(wm_dit_weights *w)
{
    if (!w) return;
    for (int f = 0; f < 2; f++)
        if (w->mem[f]) {
            if (w->be) wm_backend_mfree(w->be, w->mem[f]);
            else free(w->mem[f]);
        }
    free(w->blocks);
    free(w);
}
