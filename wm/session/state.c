/* state.c -- the session's generator state as one flat blob, for world snapshots and branching.
 *
 * Snapshot = copy of the state buffers (no recomputation): a header that identifies the geometry, the
 * scalar state (seed, next chunk = RNG counter, raw frame-0 pose, flags), the first-frame latent, the
 * prompt embedding, the DiT stream counters and every cache tensor (GDN states, conv tails, softmax
 * sink + previous-chunk K/V, FFN t_conv tails), then the VAE decoder's caches. Loading checks the
 * header against the target session, so a blob only goes into a session of the same model config and
 * frame size. Sizes are fixed at create, so a snapshot costs one memcpy of resident state.
 */
#include "wm/session/session_internal.h"

#include <string.h>

#define MAGIC 0x31535357u /* "WSS1" */

typedef struct blob_head {
    uint32_t magic;
    int32_t Ci, n0, S, L, Cy, depth, H, W;
    uint64_t dit_bytes, vae_bytes, total;
    /* scalar state */
    int32_t has_y, has_reset, last_index, last_frame0, last_n;
    int32_t n_saved, sink_frames, prev_frames;
    uint64_t seed;
    int64_t chunk;
    wm_pose pose0;
} blob_head;

#define N_CACHE_TENSORS (sizeof(wm_dit_block_cache) / sizeof(wm_tensor))

static size_t dit_bytes(const wm_session *s)
{
    size_t n = 0;
    for (int i = 0; i < s->cfg->depth; i++) {
        const wm_tensor *t = (const wm_tensor *)&s->stream->blocks[i];
        for (size_t j = 0; j < N_CACHE_TENSORS; j++)
            if (t[j].data) n += wm_tensor_nbytes(&t[j]);
    }
    return n;
}

static size_t fixed_bytes(const wm_session *s)
{
    return sizeof(blob_head) + (size_t)s->Ci * s->S * 4 + (size_t)s->L * s->Cy * 4 + (size_t)s->L;
}

size_t wm_session_state_bytes(const wm_session *s)
{
    size_t v = wm__vae_state_bytes(s->dec);
    return v ? fixed_bytes(s) + dit_bytes(s) + v : 0;
}

static void head_fill(const wm_session *s, blob_head *h)
{
    memset(h, 0, sizeof *h);
    h->magic = MAGIC;
    h->Ci = s->Ci, h->n0 = s->n0, h->S = s->S, h->L = s->L, h->Cy = s->Cy, h->depth = s->cfg->depth;
    h->H = s->H, h->W = s->W;
    h->dit_bytes = dit_bytes(s), h->vae_bytes = wm__vae_state_bytes(s->dec);
    h->total = fixed_bytes(s) + h->dit_bytes + h->vae_bytes;
}

/* Copy the variable part: dir 0 = session -> blob, 1 = blob -> session. Cache tensors live on the model
 * backend's device: they move with download/upload (memcpy on the CPU backend). */
static wm_status copy_body(wm_session *s, char *p, int dir, wm_error *err)
{
#define MOVE(ptr, n) do { if (dir) memcpy((ptr), p, (n)); else memcpy(p, (ptr), (n)); p += (n); } while (0)
    MOVE(s->z0, (size_t)s->Ci * s->S * 4);
    MOVE(s->y, (size_t)s->L * s->Cy * 4);
    MOVE(s->mask, (size_t)s->L);
#undef MOVE
    wm_backend *be = s->m->be;
    for (int i = 0; i < s->cfg->depth; i++) {
        wm_tensor *t = (wm_tensor *)&s->stream->blocks[i];
        for (size_t j = 0; j < N_CACHE_TENSORS; j++) {
            if (!t[j].data) continue;
            size_t n = wm_tensor_nbytes(&t[j]);
            wm_status st = dir ? wm_backend_upload(be, t[j].data, p, n) : wm_backend_download(be, p, t[j].data, n);
            if (st != WM_OK) return wm__errf(err, st, "session state: DiT cache copy: %s", be->err.msg);
            p += n;
        }
    }
    wm_status st = dir ? wm__vae_state_load(s->dec, p) : wm__vae_state_save(s->dec, p);
    if (st != WM_OK) return wm__errf(err, st, "session state: VAE cache copy: %s", be->err.msg);
    return WM_OK;
}

wm_status wm_session_state_save(const wm_session *s, void *blob, size_t bytes, wm_error *err)
{
    blob_head h;
    head_fill(s, &h);
    if (!h.vae_bytes)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "session snapshot: the VAE decoder state cannot be read in this build");
    if (bytes != h.total) return wm__errf(err, WM_ERR_INVALID_ARG, "session snapshot: blob of %zu bytes, need %llu", bytes,
                                          (unsigned long long)h.total);
    h.has_y = s->has_y, h.has_reset = s->has_reset, h.last_index = s->last_index, h.last_frame0 = s->last_frame0;
    h.last_n = s->last_n, h.n_saved = s->stream->n_saved, h.sink_frames = s->stream->sink_frames;
    h.prev_frames = s->stream->prev_frames, h.seed = s->seed, h.chunk = s->chunk, h.pose0 = s->pose0;
    memcpy(blob, &h, sizeof h);
    return copy_body((wm_session *)s, (char *)blob + sizeof h, 0, err);
}

wm_status wm_session_state_load(wm_session *s, const void *blob, size_t bytes, wm_error *err)
{
    blob_head want, h;
    head_fill(s, &want);
    if (!want.vae_bytes)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "session restore: the VAE decoder state cannot be written in this build");
    if (!blob || bytes < sizeof h) return wm__errf(err, WM_ERR_INVALID_ARG, "session restore: blob too small");
    memcpy(&h, blob, sizeof h);
    if (h.magic != MAGIC || h.Ci != want.Ci || h.n0 != want.n0 || h.S != want.S || h.L != want.L || h.Cy != want.Cy ||
        h.depth != want.depth || h.H != want.H || h.W != want.W || h.dit_bytes != want.dit_bytes ||
        h.vae_bytes != want.vae_bytes || h.total != bytes || bytes != want.total)
        return wm__errf(err, WM_ERR_INVALID_ARG, "session restore: the snapshot is of another model or frame size");
    WM_TRY(copy_body(s, (char *)(uintptr_t)blob + sizeof h, 1, err));
    s->has_y = h.has_y, s->has_reset = h.has_reset, s->last_index = h.last_index, s->last_frame0 = h.last_frame0;
    s->last_n = h.last_n, s->stream->n_saved = h.n_saved, s->stream->sink_frames = h.sink_frames;
    s->stream->prev_frames = h.prev_frames, s->seed = h.seed, s->chunk = h.chunk, s->pose0 = h.pose0;
    return WM_OK;
}
