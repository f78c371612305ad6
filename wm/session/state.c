/* state.c -- the session's generator state as one flat blob, for world snapshots and branching.
 *
 * Snapshot = copy of the state buffers (no recomputation): a header that identifies the geometry, the
 * scalar state (seed, next chunk = RNG counter, raw frame-0 pose, flags), the first-frame latent, the
 * prompt embedding, then the DiT stream's state blob (wm_dit_stream_state_save: counters + every cache
 * tensor) and the VAE decoder's state blob (wm_vae_decoder_state_save: conv caches + flags). Each area
 * owns its layout and checks its own header (magic, version, fingerprint), so a change inside wm/dit or
 * wm/vae can only make an old snapshot fail to load, never load garbage. Loading also checks this header
 * against the target session, so a blob only goes into a session of the same model config and frame
 * size. Sizes are fixed at create, so a snapshot costs one copy of resident state.
 */
#include "wm/session/session_internal.h"

#include <string.h>

#define MAGIC 0x32535357u /* "WSS2": DiT/VAE parts are now area-owned blobs */

typedef struct blob_head {
    uint32_t magic;
    int32_t Ci, n0, S, L, Cy, depth, H, W;
    uint64_t dit_bytes, vae_bytes, total;
    /* scalar state */
    int32_t has_y, has_reset, last_index, last_frame0, last_n, pad;
    uint64_t seed;
    int64_t chunk;
    wm_pose pose0;
} blob_head;

static size_t fixed_bytes(const wm_session *s)
{
    return sizeof(blob_head) + (size_t)s->Ci * s->S * 4 + (size_t)s->L * s->Cy * 4 + (size_t)s->L;
}

size_t wm_session_state_bytes(const wm_session *s)
{
    size_t v = wm_vae_decoder_state_bytes(s->dec);
    return v ? fixed_bytes(s) + wm_dit_stream_state_bytes(s->stream) + v : 0;
}

static void head_fill(const wm_session *s, blob_head *h)
{
    memset(h, 0, sizeof *h);
    h->magic = MAGIC;
    h->Ci = s->Ci, h->n0 = s->n0, h->S = s->S, h->L = s->L, h->Cy = s->Cy, h->depth = s->cfg->depth;
    h->H = s->H, h->W = s->W;
    h->dit_bytes = wm_dit_stream_state_bytes(s->stream), h->vae_bytes = wm_vae_decoder_state_bytes(s->dec);
    h->total = fixed_bytes(s) + h->dit_bytes + h->vae_bytes;
}

/* Copy the host part: dir 0 = session -> blob, 1 = blob -> session. Returns the end of the host part. */
static char *copy_host(wm_session *s, char *p, int dir)
{
#define MOVE(ptr, n) do { if (dir) memcpy((ptr), p, (n)); else memcpy(p, (ptr), (n)); p += (n); } while (0)
    MOVE(s->z0, (size_t)s->Ci * s->S * 4);
    MOVE(s->y, (size_t)s->L * s->Cy * 4);
    MOVE(s->mask, (size_t)s->L);
#undef MOVE
    return p;
}

wm_status wm_session_state_save(const wm_session *s, void *blob, size_t bytes, wm_error *err)
{
    blob_head h;
    head_fill(s, &h);
    if (!h.vae_bytes)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "session snapshot: the VAE decoder has no stream state");
    if (bytes != h.total) return wm__errf(err, WM_ERR_INVALID_ARG, "session snapshot: blob of %zu bytes, need %llu", bytes,
                                          (unsigned long long)h.total);
    h.has_y = s->has_y, h.has_reset = s->has_reset, h.last_index = s->last_index, h.last_frame0 = s->last_frame0;
    h.last_n = s->last_n, h.seed = s->seed, h.chunk = s->chunk, h.pose0 = s->pose0;
    memcpy(blob, &h, sizeof h);
    char *p = copy_host((wm_session *)s, (char *)blob + sizeof h, 0);
    WM_TRY(wm_dit_stream_state_save(s->stream, p, h.dit_bytes, err));
    return wm_vae_decoder_state_save(s->dec, p + h.dit_bytes, h.vae_bytes, err);
}

wm_status wm_session_state_load(wm_session *s, const void *blob, size_t bytes, wm_error *err)
{
    blob_head want, h;
    head_fill(s, &want);
    if (!want.vae_bytes)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "session restore: the VAE decoder has no stream state");
    if (!blob || bytes < sizeof h) return wm__errf(err, WM_ERR_INVALID_ARG, "session restore: blob too small");
    memcpy(&h, blob, sizeof h);
    if (h.magic != MAGIC || h.Ci != want.Ci || h.n0 != want.n0 || h.S != want.S || h.L != want.L || h.Cy != want.Cy ||
        h.depth != want.depth || h.H != want.H || h.W != want.W || h.dit_bytes != want.dit_bytes ||
        h.vae_bytes != want.vae_bytes || h.total != bytes || bytes != want.total)
        return wm__errf(err, WM_ERR_INVALID_ARG, "session restore: the snapshot is of another model or frame size");
    /* Each area blob checks its own header before touching anything. If the VAE part fails after the DiT
     * part loaded, the session is half restored: the error tells the caller to reset or reload. */
    const char *p = (const char *)blob + fixed_bytes(s);
    WM_TRY(wm_dit_stream_state_load(s->stream, p, h.dit_bytes, err));
    WM_TRY(wm_vae_decoder_state_load(s->dec, p + h.dit_bytes, h.vae_bytes, err));
    copy_host(s, (char *)(uintptr_t)blob + sizeof h, 1);
    s->has_y = h.has_y, s->has_reset = h.has_reset, s->last_index = h.last_index, s->last_frame0 = h.last_frame0;
    s->last_n = h.last_n, s->seed = h.seed, s->chunk = h.chunk, s->pose0 = h.pose0;
    return WM_OK;
}
