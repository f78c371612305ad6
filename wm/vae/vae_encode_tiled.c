/* Spatially tiled encode, as the official pipeline runs the first-frame encode (diffusers
 * AutoencoderKLLTX2Video.tiled_encode after enable_tiling(); spec §1.5).
 *
 * Tiles of `tile` px start every `stride` px (512/448: rows at 0 and 448, columns at 0, 448 and 896 for
 * 704x1280; edge tiles are smaller). Each tile is encoded on its own to the raw conv_out moments; then,
 * in row-major order and IN PLACE, a tile is blended with its already blended upper neighbour over
 * e = (tile - stride)/32 latent rows (row k: upper[-e+k]*(1-k/e) + cur[k]*(k/e)), then likewise with
 * its already blended left neighbour over e columns, and its first stride/32 rows and columns are kept.
 * The in-place order matters: diffusers blends the tensors it later reads as neighbours. The blend is
 * linear, so blending the raw moments then taking the mean equals blending the means. Tiles are cut
 * and blended on the host (one image per session), only the encoder runs on the backend.
 */
#include "wm/vae/vae_internal.h"
#include "kernels/ops.h"

#include <stdlib.h>
#include <string.h>

/* Encode host tile x (3,T,th,tw) to host raw moments, moving data through the backend if needed. */
static wm_status encode_tile(wm_vae *v, const wm_tensor *x, wm_tensor *raw, wm_error *err)
{
    wm_backend *be = v->be;
    if (be->device == WM_DEVICE_CPU) return wm__vae_encode_run(v, x, NULL, raw, NULL, NULL, err);
    wm_tensor xd = *x, rd = *raw;
    xd.data = rd.data = NULL, xd.owned = rd.owned = 0;
    xd.device = rd.device = be->device;
    rd.dtype = v->act_dtype; /* conv_out writes activations; widened to fp32 on the host below */
    wm_status st = wm_backend_malloc(be, wm_tensor_nbytes(x), &xd.data);
    if (st == WM_OK) st = wm_backend_malloc(be, wm_tensor_nbytes(&rd), &rd.data);
    if (st == WM_OK) st = wm_backend_upload(be, xd.data, x->data, wm_tensor_nbytes(x));
    if (st == WM_OK) st = wm__vae_encode_run(v, &xd, NULL, &rd, NULL, NULL, err);
    if (st == WM_OK) st = wm_backend_download(be, raw->data, rd.data, wm_tensor_nbytes(&rd));
    if (st == WM_OK && rd.dtype == WM_BF16) /* in place, back to front: bf16 i sits below float i */
        for (int64_t i = wm_tensor_numel(raw) - 1; i >= 0; i--)
            ((float *)raw->data)[i] = wm_bf16_to_f32(((uint16_t *)raw->data)[i]);
    if (xd.data) wm_backend_mfree(be, xd.data);
    if (rd.data) wm_backend_mfree(be, rd.data);
    return st;
}

void wm__vae_blend(const wm__vae_tile *a, wm__vae_tile *cur, int64_t planes, int64_t ext, int cols)
{
    int64_t na = cols ? a->w : a->h, nc = cols ? cur->w : cur->h, e = ext;
    if (na < e) e = na;
    if (nc < e) e = nc;
    for (int64_t k = 0; k < e; k++) {
        float wa = (float)(1.0 - (double)k / e), wc = (float)((double)k / e);
        for (int64_t p = 0; p < planes; p++) {
            const float *ap = a->d + p * a->h * a->w;
            float *cp = cur->d + p * cur->h * cur->w;
            if (cols)
                for (int64_t r = 0; r < cur->h; r++)
                    cp[r * cur->w + k] = ap[r * a->w + na - e + k] * wa + cp[r * cur->w + k] * wc;
            else
                for (int64_t q = 0; q < cur->w; q++)
                    cp[k * cur->w + q] = ap[(na - e + k) * a->w + q] * wa + cp[k * cur->w + q] * wc;
        }
    }
}

/* Cut tile (i0, j0, th, tw) of host x into a new host tensor. */
static wm_status cut(const wm_tensor *x, int64_t i0, int64_t j0, int64_t th, int64_t tw, wm_tensor *t)
{
    int64_t s[4] = {x->shape[0], x->shape[1], th, tw}, W = x->shape[3], H = x->shape[2];
    WM_TRY(wm_tensor_alloc(WM_F32, 4, s, t));
    for (int64_t p = 0; p < s[0] * s[1]; p++)
        for (int64_t r = 0; r < th; r++)
            memcpy((float *)t->data + (p * th + r) * tw, (const float *)x->data + (p * H + i0 + r) * W + j0,
                   sizeof(float) * tw);
    return WM_OK;
}

/* Encode and blend every tile; keep the first ls rows/cols of each into full (C1, T, h, w). */
static wm_status run_tiles(wm_vae *v, const wm_tensor *x, int tile, int stride, wm__vae_tile *tiles, int ni, int nj,
                           float *full, int64_t C1T, int64_t lh, int64_t lw, wm_error *err)
{
    int sr = wm_vae_spatial_ratio(&v->cfg);
    int64_t H = x->shape[2], W = x->shape[3], ls = stride / sr, ext = (tile - stride) / sr;
    for (int i = 0; i < ni; i++)
        for (int j = 0; j < nj; j++) {
            int64_t i0 = (int64_t)i * stride, j0 = (int64_t)j * stride;
            int64_t th = H - i0 < tile ? H - i0 : tile, tw = W - j0 < tile ? W - j0 : tile;
            wm__vae_tile *cur = &tiles[i * nj + j];
            wm_tensor xt, raw;
            WM_TRY(cut(x, i0, j0, th, tw, &xt));
            int64_t rs[4] = {v->cfg.latent_channels + 1, 1 + (x->shape[1] - 1) / wm_vae_temporal_ratio(&v->cfg),
                             th / sr, tw / sr};
            wm_status st = wm_tensor_alloc(WM_F32, 4, rs, &raw);
            if (st == WM_OK) st = encode_tile(v, &xt, &raw, err);
            wm_tensor_free(&xt);
            if (st != WM_OK) { wm_tensor_free(&raw); return st; }
            cur->d = raw.data, cur->h = rs[2], cur->w = rs[3]; /* ownership moves to tiles[] */
            if (i > 0) wm__vae_blend(&tiles[(i - 1) * nj + j], cur, C1T, ext, 0);
            if (j > 0) wm__vae_blend(&tiles[i * nj + j - 1], cur, C1T, ext, 1);
            for (int64_t p = 0; p < C1T; p++)
                for (int64_t r = 0; r < ls && r < cur->h && i * ls + r < lh; r++)
                    for (int64_t q = 0; q < ls && q < cur->w && j * ls + q < lw; q++)
                        full[(p * lh + i * ls + r) * lw + j * ls + q] = cur->d[(p * cur->h + r) * cur->w + q];
        }
    return WM_OK;
}

wm_status wm_vae_encode_tiled(wm_vae *v, const wm_tensor *x, wm_tensor *latent, int tile, int stride, wm_error *err)
{
    const wm_vae_config *c = &v->cfg;
    int sr = wm_vae_spatial_ratio(c);
    if (!tile) tile = 512, stride = 448;
    if (x->device != WM_DEVICE_CPU || x->dtype != WM_F32 || x->ndim != 4)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE tiled encode: x must be a host fp32 (C,T,H,W) tensor");
    if (tile < sr || stride < sr || tile % sr || stride % sr || stride > tile)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE tiled encode: tile %d / stride %d must be multiples of %d, "
                                                 "stride <= tile", tile, stride, sr);
    if (x->shape[2] <= tile && x->shape[3] <= tile) { /* one tile: a plain encode of the host image */
        if (v->be->device == WM_DEVICE_CPU) return wm_vae_encode(v, x, latent, NULL, NULL, err);
        wm_tensor xd = *x;
        xd.owned = 0;
        wm_status st = wm_backend_malloc(v->be, wm_tensor_nbytes(x), &xd.data);
        if (st == WM_OK) st = wm_backend_upload(v->be, xd.data, x->data, wm_tensor_nbytes(x));
        xd.device = v->be->device;
        if (st == WM_OK) st = wm_vae_encode(v, &xd, latent, NULL, NULL, err);
        if (xd.data != x->data && xd.data) wm_backend_mfree(v->be, xd.data);
        return st;
    }
    int64_t H = x->shape[2], W = x->shape[3], T = 1 + (x->shape[1] - 1) / wm_vae_temporal_ratio(c);
    int64_t lh = H / sr, lw = W / sr, C1T = (c->latent_channels + 1) * T;
    if (H % sr || W % sr || latent->ndim != 4 || latent->shape[0] != c->latent_channels || latent->shape[1] != T ||
        latent->shape[2] != lh || latent->shape[3] != lw)
        return wm__errf(err, WM_ERR_SHAPE, "VAE tiled encode: x (3,T,H,W) with H, W multiples of %d and latent "
                                           "(%d, %lld, H/%d, W/%d)", sr, c->latent_channels, (long long)T, sr, sr);
    int ni = (int)((H + stride - 1) / stride), nj = (int)((W + stride - 1) / stride);
    wm__vae_tile *tiles = calloc((size_t)ni * nj, sizeof *tiles);
    float *full = malloc(sizeof(float) * (size_t)(C1T * lh * lw));
    wm_status st = tiles && full ? WM_OK : wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE tiled encode: no memory");
    if (st == WM_OK) st = run_tiles(v, x, tile, stride, tiles, ni, nj, full, C1T, lh, lw, err);
    /* The mean = the leading latent_channels planes of each frame block: (C1, T, ..) is channel-major. */
    wm_tensor mean = wm_tensor_view4(WM_F32, v->be->device, NULL, 4, c->latent_channels, T, lh, lw);
    if (st == WM_OK && v->be->device == WM_DEVICE_CPU) mean.data = full;
    else if (st == WM_OK) st = wm_backend_malloc(v->be, wm_tensor_nbytes(&mean), &mean.data);
    if (st == WM_OK && mean.data != full) st = wm_backend_upload(v->be, mean.data, full, wm_tensor_nbytes(&mean));
    if (st == WM_OK) st = wm_vae_channel_affine(v->be, &mean, &v->enc_mul, &v->enc_add, latent);
    if (st != WM_OK && err && err->code == WM_OK) *err = v->be->err;
    if (mean.data && mean.data != full) wm_backend_mfree(v->be, mean.data);
    for (int i = 0; tiles && i < ni * nj; i++) free(tiles[i].d);
    free(tiles), free(full);
    return st;
}
