/* vae_state.c -- ADAPTER: save/load the causal VAE decoder's stream state (per-conv 2-frame caches,
 * "fresh" flags, upsampler trim flags) for session snapshots.
 *
 * wm/vae keeps struct wm_vae_decoder private to vae_decode.c and has no state API yet, so this file
 * mirrors that struct's layout (vae_decode.c as of commit 729bc44) and checks the mirror against the
 * public wm_vae_decoder_memory() and the model's slot counts before touching anything: if the layout
 * changes, snapshots fail with WM_ERR_UNSUPPORTED instead of copying garbage. To be replaced by
 * wm_vae_decoder_state_{bytes,save,load} in wm/vae (requested from the VAE owner). The cache block lives
 * on the VAE backend's device: it moves with wm_backend_download/upload (memcpy on the CPU).
 */
#include "wm/session/session_internal.h"

#include "wm/vae/vae_internal.h"

#include <string.h>

typedef struct mirror {
    wm_vae *vae;
    wm_vae_decoder_params p;
    int causal, stream;
    wm_arena arena;
    wm_tensor caches[WM_VAE_MAX_SLOTS];
    int fresh[WM_VAE_MAX_SLOTS];
    int trimmed[WM_VAE_MAX_BLOCKS];
    void *cache_mem;
    size_t cache_bytes;
} mirror;

/* 0 when the mirror does not describe d. */
static int mirror_ok(const wm_vae_decoder *d)
{
    const mirror *m = (const mirror *)(const void *)d;
    return m->vae && m->stream && m->causal && m->vae->n_slots <= WM_VAE_MAX_SLOTS &&
           m->vae->n_trims <= WM_VAE_MAX_BLOCKS && m->arena.cap + m->cache_bytes == wm_vae_decoder_memory(d) &&
           m->vae->be && m->cache_mem;
}

size_t wm__vae_state_bytes(const wm_vae_decoder *d)
{
    if (!mirror_ok(d)) return 0;
    const mirror *m = (const mirror *)(const void *)d;
    return m->cache_bytes + sizeof m->fresh + sizeof m->trimmed;
}

wm_status wm__vae_state_save(const wm_vae_decoder *d, void *dst)
{
    const mirror *m = (const mirror *)(const void *)d;
    char *p = dst;
    if (wm_backend_download(m->vae->be, p, m->cache_mem, m->cache_bytes) != WM_OK) return WM_ERR_IO;
    p += m->cache_bytes;
    memcpy(p, m->fresh, sizeof m->fresh), p += sizeof m->fresh;
    memcpy(p, m->trimmed, sizeof m->trimmed);
    return WM_OK;
}

wm_status wm__vae_state_load(wm_vae_decoder *d, const void *src)
{
    mirror *m = (mirror *)(void *)d;
    const char *p = src;
    if (wm_backend_upload(m->vae->be, m->cache_mem, p, m->cache_bytes) != WM_OK) return WM_ERR_IO;
    p += m->cache_bytes;
    memcpy(m->fresh, p, sizeof m->fresh), p += sizeof m->fresh;
    memcpy(m->trimmed, p, sizeof m->trimmed);
    return WM_OK;
}
