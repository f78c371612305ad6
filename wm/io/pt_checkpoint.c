/* PyTorch model.pt reader: ZIP archive + restricted unpickler -> checkpoint entries.
 *
 * torch.save writes <prefix>/data.pkl (the object graph) and one stored entry <prefix>/data/<key> per
 * storage. We locate the single data.pkl, let the restricted unpickler walk the state dict ("generator"
 * if present, "model." stripped), and point every tensor at its bytes inside the mapped archive:
 * storage entry + storage_offset x element size. A storage entry must hold exactly the element count
 * the pickle declares, so a tensor can never reach outside its storage. No data is copied.
 */
#include "wm/io/ck_internal.h"
#include "wm/io/unpickle.h"
#include "wm/io/zip.h"

#include <stdio.h>
#include <string.h>

typedef struct pt_ctx {
    wm_checkpoint *ck;
    int shard;
    const wm_zip *zip;
    char prefix[256];    /* "archive/" (with the slash) or "" */
} pt_ctx;

static wm_status add_tensor(void *vctx, const wm_pk_tensor *t, wm_error *err)
{
    pt_ctx *c = vctx;
    const char *file = c->ck->shards[c->shard].path;
    char ename[512];
    snprintf(ename, sizeof ename, "%sdata/%s", c->prefix, t->storage_key);
    const wm_zip_entry *ze = wm__zip_find(c->zip, ename);
    if (!ze) return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': storage entry '%s' missing", file, t->name, ename);
    const uint8_t *data;
    WM_TRY(wm__zip_data(c->zip, ze, &data, err));
    size_t es = wm_dtype_size(t->dtype);
    uint64_t want;
    if (__builtin_mul_overflow((uint64_t)t->storage_numel, (uint64_t)es, &want) || ze->size != want)
        return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': storage '%s' holds %llu bytes, pickle declares %lld x %s",
                        file, t->name, ename, (unsigned long long)ze->size, (long long)t->storage_numel,
                        wm_dtype_name(t->dtype));
    int64_t numel = wm__shape_numel(t->ndim, t->shape);
    if (numel < 0) return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': invalid shape", file, t->name);
    return wm__ck_add_entry(c->ck, t->name, t->dtype, t->ndim, t->shape, data + (size_t)t->offset * es,
                            (size_t)numel * es, c->shard, err);
}

static wm_status find_pickle(const wm_zip *z, const char *file, const wm_zip_entry **out, char *prefix, size_t cap,
                             wm_error *err)
{
    *out = NULL;
    for (int i = 0; i < z->n; i++) {
        const char *n = z->e[i].name, *slash = strchr(n, '/');
        int top = strcmp(n, "data.pkl") == 0;
        int nested = slash && strcmp(slash, "/data.pkl") == 0 && (size_t)(slash - n) + 2 < cap;
        if (!top && !nested) continue;
        if (*out) return wm__errf(err, WM_ERR_FORMAT, "%s: archive holds two pickles ('%s' and '%s')", file, (*out)->name, n);
        *out = &z->e[i];
        snprintf(prefix, cap, "%.*s", top ? 0 : (int)(slash - n + 1), n);
    }
    if (!*out) return wm__errf(err, WM_ERR_FORMAT, "%s: zip archive has no data.pkl (not a torch.save file)", file);
    return WM_OK;
}

wm_status wm__pt_parse(wm_checkpoint *ck, int shard, wm_error *err)
{
    const wm_ck_shard *s = &ck->shards[shard];
    wm_zip z;
    WM_TRY(wm__zip_open(&z, s->base, s->len, s->path, err));
    pt_ctx c = {.ck = ck, .shard = shard, .zip = &z};
    const wm_zip_entry *pe;
    const uint8_t *pkl;
    wm_status st = find_pickle(&z, s->path, &pe, c.prefix, sizeof c.prefix, err);
    if (st == WM_OK) st = wm__zip_data(&z, pe, &pkl, err);
    if (st == WM_OK) {
        char where[600];
        snprintf(where, sizeof where, "%s: %s", s->path, pe->name);
        st = wm__unpickle_state_dict(pkl, (size_t)pe->size, where, add_tensor, &c, err);
    }
    wm__zip_free(&z);
    return st;
}
