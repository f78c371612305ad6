/* Sharded safetensors: *.safetensors.index.json {"metadata": {...}, "weight_map": {tensor: shard file}}.
 *
 * Each distinct shard named in weight_map is mapped and parsed once. Shard names are paths relative to
 * the index's directory and may not escape it (no absolute paths, no ".." components), so an index can
 * never make us open arbitrary files. After parsing, the shards must agree with the index: every
 * listed tensor is in the shard the index names, and no shard carries a tensor the index does not list
 * (duplicates across shards are caught by the common duplicate check in checkpoint.c).
 */
#include "wm/io/ck_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int safe_relpath(const char *p)
{
    if (!*p || p[0] == '/') return 0;
    const char *c = p;
    while (*c) {
        const char *slash = strchr(c, '/');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.') || (n == 1 && c[0] == '.')) return 0;
        if (!slash) break;
        c = slash + 1;
    }
    return strlen(p) < 1024;
}

/* Shard index (in ck->shards) for a file name, mapping and parsing it the first time it is seen. */
static int shard_for(wm_checkpoint *ck, const char *dir, const char *name, const char *index, wm_error *err)
{
    char path[2048];
    snprintf(path, sizeof path, "%s%s", dir, name);
    for (int i = 0; i < ck->nshards; i++)
        if (strcmp(ck->shards[i].path, path) == 0) return i;
    if (!safe_relpath(name)) {
        wm__errf(err, WM_ERR_FORMAT, "%s: shard name '%s' is not a plain path inside the index directory", index, name);
        return -1;
    }
    int s = wm__ck_map_file(ck, path, err);
    if (s < 0) return -1;
    if (wm__safetensors_parse(ck, s, err) != WM_OK) return -1;
    return s;
}

/* No shard may carry a tensor the index does not list. */
static wm_status check_unlisted(const wm_checkpoint *ck, json_t *wmap, const char *index, wm_error *err)
{
    for (int i = 0; i < ck->n; i++) {
        const wm_ckpt_entry *e = &ck->entries[i];
        if (!json_object_get(wmap, e->name))
            return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s' in shard %s is not listed in weight_map", index,
                            e->name, ck->shards[e->shard].path);
    }
    return WM_OK;
}

static wm_status load_shards(wm_checkpoint *ck, json_t *wmap, const char *dir, const char *index, wm_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(wmap, k, v) {
        if (!json_is_string(v))
            return wm__errf(err, WM_ERR_FORMAT, "%s: weight_map entry '%s' is not a string", index, k);
        if (shard_for(ck, dir, json_string_value(v), index, err) < 0) return err ? err->code : WM_ERR_FORMAT;
    }
    WM_TRY(wm__ck_finish(ck, err));
    /* Every listed tensor is present in the shard the index names. */
    json_object_foreach(wmap, k, v) {
        const wm_ckpt_entry *e = wm_checkpoint_find(ck, k);
        char path[2048];
        snprintf(path, sizeof path, "%s%s", dir, json_string_value(v));
        if (!e || strcmp(ck->shards[e->shard].path, path) != 0)
            return wm__errf(err, WM_ERR_FORMAT, "%s: weight_map says tensor '%s' is in %s, but it is not there", index,
                            k, json_string_value(v));
    }
    return check_unlisted(ck, wmap, index, err);
}

wm_status wm__st_index_open(wm_checkpoint *ck, const char *index, wm_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return wm__errf(err, WM_ERR_FORMAT, "%s: not valid JSON: %s (line %d, column %d)", index, jerr.text, jerr.line,
                        jerr.column);
    wm_status st = WM_OK;
    json_t *wmap = json_object_get(root, "weight_map");
    json_t *meta = json_object_get(root, "metadata");
    if (!json_is_object(root) || !json_is_object(wmap) || json_object_size(wmap) == 0) {
        st = wm__errf(err, WM_ERR_FORMAT, "%s: no weight_map object", index);
    } else {
        char dir[1024] = "";
        const char *slash = strrchr(index, '/');
        if (slash) snprintf(dir, sizeof dir, "%.*s/", (int)(slash - index), index);
        if (json_is_object(meta)) {
            const char *k;
            json_t *v;
            json_object_foreach(meta, k, v) {
                if (json_is_string(v) && st == WM_OK) st = wm__ck_add_meta(ck, k, json_string_value(v), err);
            }
        }
        if (st == WM_OK) st = load_shards(ck, wmap, dir, index, err);
    }
    json_decref(root);
    return st;
}
