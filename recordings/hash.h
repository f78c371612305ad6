/* hash.h -- content hashes for recordings: SHA-256 (model identity) and FNV-1a 64 (per-frame pixels).
 *
 * SHA-256 identifies the model file a recording was made with (sidecar "model.sha256"), so a replay
 * can refuse or warn on a different checkpoint; a small FIPS 180-4 implementation avoids pulling in a
 * crypto library for one digest. FNV-1a 64 fingerprints every frame's RGB bytes in the sidecar: cheap
 * enough for 16 fps at any size, and enough to prove a replay is frame-identical (not a security hash).
 */
#ifndef WM_RECORDINGS_HASH_H
#define WM_RECORDINGS_HASH_H

#include "wm/core/log.h"
#include <stddef.h>
#include <stdint.h>

typedef struct wm_sha256 {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    uint8_t buf[64];
    size_t nbuf;
} wm_sha256;

void wm_sha256_init(wm_sha256 *s);
void wm_sha256_update(wm_sha256 *s, const void *data, size_t n);
void wm_sha256_final(wm_sha256 *s, uint8_t digest[32]);
/* Digest as 64 lowercase hex chars + NUL. */
void wm_sha256_hex(const uint8_t digest[32], char hex[65]);
/* Hash a whole file; WM_ERR_IO naming the file on failure. */
wm_status wm_sha256_file(const char *path, char hex[65], wm_error *err);

uint64_t wm_fnv1a64(const void *data, size_t n);

#endif
