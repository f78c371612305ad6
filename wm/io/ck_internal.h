/* Internal layout of a wm_checkpoint, shared by the container readers (safetensors, sharded index,
 * PyTorch zip) and the generic accessors in checkpoint.c.
 *
 * A checkpoint is a flat, name-sorted table of entries pointing into read-only mappings ("shards").
 * Each container reader only has to append entries and shards; checkpoint.c sorts the table, rejects
 * duplicate names and owns all the memory. A shard may also be caller memory (the in-memory parse
 * entry points used by the fuzzers), in which case it is not unmapped at close.
 */
#ifndef WM_IO_CK_INTERNAL_H
#define WM_IO_CK_INTERNAL_H

#include "wm/io/checkpoint.h"

#include <stddef.h>
#include <stdint.h>

/* Bounds on untrusted headers: generous for the 2.66B model, small enough to refuse absurd inputs. */
#define WM_ST_MAX_HEADER   (100u << 20)   /* safetensors JSON header, bytes */
#define WM_CK_MAX_TENSORS  (1 << 20)      /* entries per checkpoint */
#define WM_CK_MAX_SHARDS   4096

typedef struct wm_ck_shard {
    char *path;        /* as opened (for messages) */
    const uint8_t *base;
    size_t len;
    int mapped;        /* 1: munmap at close; 0: caller memory */
} wm_ck_shard;

struct wm_checkpoint {
    char *path;
    wm_ckpt_entry *entries;
    int n, cap;
    wm_ck_shard *shards;
    int nshards, shards_cap;
    char **meta;       /* key0, value0, key1, value1, ... (owned strings) */
    int nmeta;
};

wm_checkpoint *wm__ck_new(const char *path);
/* Map a whole file read-only as a new shard; returns the shard index or -1 (err set). */
int wm__ck_map_file(wm_checkpoint *ck, const char *path, wm_error *err);
/* Register caller memory as a shard (not unmapped at close). */
int wm__ck_add_mem_shard(wm_checkpoint *ck, const char *label, const void *buf, size_t len);
/* Append an entry (name copied). Returns WM_OK or WM_ERR_OUT_OF_MEMORY / WM_ERR_LIMIT. */
wm_status wm__ck_add_entry(wm_checkpoint *ck, const char *name, wm_dtype dt, int ndim, const int64_t *shape,
                           const void *data, size_t nbytes, int shard, wm_error *err);
wm_status wm__ck_add_meta(wm_checkpoint *ck, const char *key, const char *value, wm_error *err);
/* Sort entries by name and reject duplicates (message names both shards). */
wm_status wm__ck_finish(wm_checkpoint *ck, wm_error *err);

/* numel of a shape with overflow checks; -1 on negative dims or overflow of int64/size_t bytes. */
int64_t wm__shape_numel(int ndim, const int64_t *shape);

/* Container readers (each appends to ck; label names the file in messages). */
wm_status wm__safetensors_parse(wm_checkpoint *ck, int shard, wm_error *err);
wm_status wm__st_index_open(wm_checkpoint *ck, const char *index_path, wm_error *err);
wm_status wm__pt_parse(wm_checkpoint *ck, int shard, wm_error *err);

#endif
