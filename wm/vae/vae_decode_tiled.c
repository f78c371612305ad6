/* Tiled whole-clip decode, as the bidirectional pipeline decodes (diffusers enable_tiling() plus
 * frame-wise decoding: `_temporal_tiled_decode` over `tiled_decode`; spec §1.5).
 *
 * Temporal: latent tiles of tile_frames/8 + 1 frames start every stride_frames/8; each is decoded
 * (spatially tiled if needed), tiles after the first drop their last pixel frame, and each tile is
 * blended IN PLACE with the previous (already blended) tile over tile_frames - stride_frames pixel
 * frames; the first tile keeps stride_frames + 1 frames, later ones stride_frames. Spatial: latent tiles
 * of tile/32 every stride/32, stopping before a tile that would lie inside the previous overlap; each
 * tile is blended in place with its upper then left neighbour over tile - stride pixels; all but the
 * last row/column keep `stride` pixels. Only one previous temporal tile is kept, so memory is two tiles.
 * Tiles run through an ordinary decoder (created per tile size; this is an offline path) on the
 * backend; cutting, blending and assembly happen on the host.
 */
#include "wm/vae/vae_internal.h"

#include <stdlib.h>
#include <string.h>

/* Host z (C,T,h,w) -> host pixels (Co, F, h*sr, w*sr), one decoder call (causal per config). */
static wm_status decode_whole(wm_vae *v, const wm_tensor *z, float *out, wm_error *err)
{
    wm_backend *be = v->be;
    const wm_vae_config *c = &v->cfg;
    int sr = wm_vae_spatial_ratio(c);
    wm_vae_decoder_params p = {.lat_h = (int)z->shape[2], .lat_w = (int)z->shape[3], .max_frames = (int)z->shape[1],
                               .non_causal = !c->decoder_causal};
    wm_vae_decoder *d = NULL;
    WM_TRY(wm_vae_decoder_create(v, &p, &d, err));
    int64_t ps[4] = {c->out_channels, wm_vae_decoder_out_frames(d, z->shape[1]), z->shape[2] * sr, z->shape[3] * sr};
    wm_tensor zd = *z, pd = wm_tensor_view(WM_F32, be->device, out, 4, ps);
    zd.owned = 0;
    wm_status st = WM_OK;
    if (be->device != WM_DEVICE_CPU) {
        zd.device = be->device, zd.data = pd.data = NULL;
        st = wm_backend_malloc(be, wm_tensor_nbytes(z), &zd.data);
        if (st == WM_OK) st = wm_backend_malloc(be, wm_tensor_nbytes(&pd), &pd.data);
        if (st == WM_OK) st = wm_backend_upload(be, zd.data, z->data, wm_tensor_nbytes(z));
    }
    if (st == WM_OK) st = wm_vae_decoder_decode(d, &zd, &pd, err);
    if (st == WM_OK && pd.data != out) st = wm_backend_download(be, out, pd.data, wm_tensor_nbytes(&pd));
    if (be->device != WM_DEVICE_CPU) {
        if (zd.data) wm_backend_mfree(be, zd.data);
        if (pd.data) wm_backend_mfree(be, pd.data);
    }
    wm_vae_decoder_free(d);
    return st;
}

/* Host sub-block z[:, t0:t0+nt, i0:i0+nh, j0:j0+nw] as a new tensor. */
static wm_status cut(const wm_tensor *z, int64_t t0, int64_t nt, int64_t i0, int64_t nh, int64_t j0, int64_t nw,
                     wm_tensor *o)
{
    int64_t s[4] = {z->shape[0], nt, nh, nw}, T = z->shape[1], H = z->shape[2], W = z->shape[3];
    WM_TRY(wm_tensor_alloc(WM_F32, 4, s, o));
    for (int64_t c = 0; c < s[0]; c++)
        for (int64_t t = 0; t < nt; t++)
            for (int64_t r = 0; r < nh; r++)
                memcpy((float *)o->data + ((c * nt + t) * nh + r) * nw,
                       (const float *)z->data + ((c * T + t0 + t) * H + i0 + r) * W + j0, sizeof(float) * nw);
    return WM_OK;
}

/* Spatially tiled decode of host z (C,T,h,w) into host out (Co, F, H, W), F = frames for T. */
static wm_status spatial(wm_vae *v, const wm_tensor *z, const wm_vae_tiling *tl, float *out, int64_t F, wm_error *err)
{
    const wm_vae_config *c = &v->cfg;
    int sr = wm_vae_spatial_ratio(c);
    int64_t h = z->shape[2], w = z->shape[3], lt = tl->tile_px / sr, ls = tl->stride_px / sr, H = h * sr, W = w * sr;
    int64_t ext = tl->tile_px - tl->stride_px, planes = (int64_t)c->out_channels * F;
    if (h <= lt && w <= lt) return decode_whole(v, z, out, err);
    int64_t rs = h - (lt - ls) > 1 ? h - (lt - ls) : 1, cs = w - (lt - ls) > 1 ? w - (lt - ls) : 1;
    int ni = (int)((rs + ls - 1) / ls), nj = (int)((cs + ls - 1) / ls);
    wm__vae_tile *t = calloc((size_t)ni * nj, sizeof *t);
    wm_status st = t ? WM_OK : wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE tiled decode: no memory");
    for (int i = 0; st == WM_OK && i < ni; i++)
        for (int j = 0; st == WM_OK && j < nj; j++) {
            int64_t i0 = i * ls, j0 = j * ls, th = h - i0 < lt ? h - i0 : lt, tw = w - j0 < lt ? w - j0 : lt;
            wm__vae_tile *cur = &t[i * nj + j];
            wm_tensor zt;
            st = cut(z, 0, z->shape[1], i0, th, j0, tw, &zt);
            cur->h = th * sr, cur->w = tw * sr;
            if (st == WM_OK && !(cur->d = malloc(sizeof(float) * (size_t)(planes * cur->h * cur->w))))
                st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE tiled decode: no memory");
            if (st == WM_OK) st = decode_whole(v, &zt, cur->d, err);
            wm_tensor_free(&zt);
            if (st != WM_OK) break;
            if (i > 0) wm__vae_blend(&t[(i - 1) * nj + j], cur, planes, ext, 0);
            if (j > 0) wm__vae_blend(&t[i * nj + j - 1], cur, planes, ext, 1);
            int64_t re = i < ni - 1 ? tl->stride_px : cur->h, ce = j < nj - 1 ? tl->stride_px : cur->w;
            for (int64_t p = 0; p < planes; p++)
                for (int64_t r = 0; r < re && i * tl->stride_px + r < H; r++)
                    for (int64_t q = 0; q < ce && j * tl->stride_px + q < W; q++)
                        out[(p * H + i * tl->stride_px + r) * W + j * tl->stride_px + q] = cur->d[(p * cur->h + r) * cur->w + q];
        }
    for (int k = 0; t && k < ni * nj; k++) free(t[k].d);
    free(t);
    return st;
}

/* Copy frames [0, n) of a (C, F, HW) block into out (C, Fo, HW) at frame offset f0. */
static void put_frames(const float *src, int64_t C, int64_t F, int64_t HW, int64_t n, float *out, int64_t Fo, int64_t f0)
{
    for (int64_t c = 0; c < C; c++)
        memcpy(out + (c * Fo + f0) * HW, src + c * F * HW, sizeof(float) * (size_t)(n * HW));
}

wm_status wm_vae_decode_tiled(wm_vae *v, const wm_tensor *z, wm_tensor *pixels, const wm_vae_tiling *tiling,
                              wm_error *err)
{
    const wm_vae_config *c = &v->cfg;
    int sr = wm_vae_spatial_ratio(c), tr = wm_vae_temporal_ratio(c);
    wm_vae_tiling tl = tiling ? *tiling : (wm_vae_tiling){0};
    if (!tl.tile_px) tl.tile_px = 512, tl.stride_px = 448;
    if (!tl.tile_frames) tl.tile_frames = 96, tl.stride_frames = 64;
    if (tl.tile_px % sr || tl.stride_px % sr || tl.stride_px < sr || tl.stride_px > tl.tile_px ||
        tl.tile_frames % tr || tl.stride_frames % tr || tl.stride_frames < tr || tl.stride_frames > tl.tile_frames)
        return wm__errf(err, WM_ERR_INVALID_ARG, "VAE tiled decode: tiles must be multiples of %d px / %d frames, "
                                                 "0 < stride <= tile", sr, tr);
    int64_t T = z->ndim == 4 ? z->shape[1] : 0, H = z->ndim == 4 ? z->shape[2] * sr : 0, W = z->ndim == 4 ? z->shape[3] * sr : 0;
    int64_t Fo = (T - 1) * tr + 1, C = c->out_channels, HW = H * W;
    if (z->device != WM_DEVICE_CPU || z->dtype != WM_F32 || z->ndim != 4 || z->shape[0] != c->latent_channels ||
        T < 1 || pixels->device != WM_DEVICE_CPU || pixels->dtype != WM_F32 || pixels->ndim != 4 ||
        pixels->shape[0] != C || pixels->shape[1] != Fo || pixels->shape[2] != H || pixels->shape[3] != W)
        return wm__errf(err, WM_ERR_SHAPE, "VAE tiled decode: host fp32 z (%d,T,h,w) and pixels (%lld,%lld,%lld,%lld)",
                        c->latent_channels, (long long)C, (long long)Fo, (long long)H, (long long)W);
    int64_t lt = tl.tile_frames / tr, ls = tl.stride_frames / tr;
    if (T <= lt) return spatial(v, z, &tl, pixels->data, Fo, err);
    wm__vae_tile prev = {0}, cur = {0};
    int64_t f0 = 0;
    wm_status st = WM_OK;
    for (int64_t i = 0; st == WM_OK && i < T; i += ls) {
        int64_t n = T - i < lt + 1 ? T - i : lt + 1, F = (n - 1) * tr + 1;
        wm_tensor zt;
        st = cut(z, i, n, 0, z->shape[2], 0, z->shape[3], &zt);
        cur.d = st == WM_OK ? malloc(sizeof(float) * (size_t)(C * F * HW)) : NULL;
        if (st == WM_OK && !cur.d) st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "VAE tiled decode: no memory");
        if (st == WM_OK) st = spatial(v, &zt, &tl, cur.d, F, err);
        wm_tensor_free(&zt);
        if (st != WM_OK) break;
        if (i > 0) { /* drop the last frame: a (C, F, HW) block viewed as (C, F-1, HW) needs compaction */
            for (int64_t ch = 1; ch < C; ch++)
                memmove(cur.d + ch * (F - 1) * HW, cur.d + ch * F * HW, sizeof(float) * (size_t)((F - 1) * HW));
            F -= 1;
        }
        cur.h = F, cur.w = HW;
        if (i > 0) wm__vae_blend(&prev, &cur, C, tl.tile_frames - tl.stride_frames, 0);
        int64_t keep = i > 0 ? tl.stride_frames : tl.stride_frames + 1;
        if (keep > F) keep = F;
        if (keep > Fo - f0) keep = Fo - f0;
        put_frames(cur.d, C, F, HW, keep, pixels->data, Fo, f0);
        f0 += keep;
        free(prev.d);
        prev = cur, cur.d = NULL;
    }
    free(prev.d), free(cur.d);
    if (st == WM_OK && f0 != Fo) st = wm__errf(err, WM_ERR_SHAPE, "VAE tiled decode: assembled %lld of %lld frames",
                                                (long long)f0, (long long)Fo);
    return st;
}
