/* A persistent key -> small binary blob store for autotune results (the CUDA backend keeps the cuBLASLt
 * algorithm each GEMM shape settled on, so a machine searches once, not at every start).
 *
 * File format (text, one entry per line, '#' lines are comments):
 *     <key> <hex bytes>
 * key: 1..WM_TUNE_KEY_MAX characters of [A-Za-z0-9_.:=+-]; blob: 1..WM_TUNE_BLOB_MAX bytes as lowercase
 * or uppercase hex. The file is untrusted input: it is read with bounds on its size, line length and
 * entry count, and any malformed line rejects the whole file with an error naming the file and line
 * (the caller then runs without it and does not overwrite it). Saves write a temporary file next to the
 * target and rename it over, so a crash never leaves a partial cache that looks complete.
 */
#ifndef WM_CORE_TUNE_CACHE_H
#define WM_CORE_TUNE_CACHE_H

#include "wm/core/log.h"
#include <stddef.h>

#define WM_TUNE_KEY_MAX 200
#define WM_TUNE_BLOB_MAX 256
#define WM_TUNE_MAX_ENTRIES 4096
#define WM_TUNE_FILE_MAX (4u << 20)

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wm_tune_cache wm_tune_cache;

/* An empty cache that saves to path (NULL: in memory only). NULL on out of memory. */
wm_tune_cache *wm_tune_cache_new(const char *path);
void wm_tune_cache_free(wm_tune_cache *c);

/* Read the cache's file into it. A missing file is not an error (nothing to read). On a malformed or
 * oversized file: an error naming it, the entries stay as they were, and later puts stop saving (the
 * file is left for a person to look at). */
wm_status wm_tune_cache_load(wm_tune_cache *c, wm_error *err);

/* The same from len bytes of memory (name: for messages); the fuzz harness's entry point. */
wm_status wm_tune_cache_load_mem(wm_tune_cache *c, const char *buf, size_t len, const char *name, wm_error *err);

/* Copy the blob stored under key into buf (at most cap bytes): its length, or -1 when absent or larger
 * than cap. */
int wm_tune_cache_get(const wm_tune_cache *c, const char *key, void *buf, size_t cap);

/* Store (or replace) key -> blob and, when the cache has a file and loading it did not fail, save the
 * whole cache atomically. Invalid key/blob or a full cache: WM_ERR_INVALID_ARG, nothing stored. */
wm_status wm_tune_cache_put(wm_tune_cache *c, const char *key, const void *blob, size_t n, wm_error *err);

/* Number of entries (tests, logs). */
int wm_tune_cache_count(const wm_tune_cache *c);

#ifdef __cplusplus
}
#endif

#endif
