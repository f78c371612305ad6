/* safetensors reader: validates the JSON header of one file (a mapping or caller memory) and exposes
 * its tensors as entries pointing into the data section.
 *
 * Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, ...,
 * "__metadata__": {str: str}}, then the data section; offsets are relative to the data section.
 * Nothing is trusted: N is bounded and must lie inside the file, the JSON is parsed by jansson with
 * duplicate keys rejected, every tensor's [begin, end) must lie in the data section, ranges must not
 * overlap, the dtype must be known and numel x dtype size must equal end - begin (with overflow-checked
 * products). Every message names the file and the entry.
 */
#include "wm/io/ck_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t begin, end; const char *name; } st_range;

static int cmp_range(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static wm_status parse_metadata(wm_checkpoint *ck, const char *file, json_t *meta, wm_error *err)
{
    if (!json_is_object(meta)) return wm__errf(err, WM_ERR_FORMAT, "%s: __metadata__ is not an object", file);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return wm__errf(err, WM_ERR_FORMAT, "%s: __metadata__ entry '%s' is not a string", file, k);
        WM_TRY(wm__ck_add_meta(ck, k, json_string_value(v), err));
    }
    return WM_OK;
}

static wm_status get_u64(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return WM_ERR_FORMAT;
    *out = (uint64_t)json_integer_value(v);
    return WM_OK;
}

/* One tensor record: fills the range and appends the entry. */
static wm_status parse_tensor(wm_checkpoint *ck, int shard, const char *file, const char *name, json_t *rec,
                              const uint8_t *data, uint64_t dlen, st_range *range, wm_error *err)
{
    if (!json_is_object(rec)) return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': record is not an object", file, name);
    json_t *jd = json_object_get(rec, "dtype"), *js = json_object_get(rec, "shape"),
           *jo = json_object_get(rec, "data_offsets");
    if (!json_is_string(jd)) return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': missing or non-string dtype", file, name);
    wm_dtype dt;
    if (wm_dtype_from_name(json_string_value(jd), &dt) != 0)
        return wm__errf(err, WM_ERR_DTYPE, "%s: tensor '%s': unknown dtype '%s'", file, name, json_string_value(jd));
    if (!json_is_array(js)) return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': missing or non-array shape", file, name);
    size_t ndim = json_array_size(js);
    if (ndim > WM_MAX_DIMS)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d supported)", file, name,
                        ndim, WM_MAX_DIMS);
    int64_t shape[WM_MAX_DIMS];
    for (size_t i = 0; i < ndim; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", file, name, i);
        shape[i] = (int64_t)json_integer_value(d);
    }
    int64_t numel = wm__shape_numel((int)ndim, shape);
    if (numel < 0) return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': shape product overflows", file, name);
    uint64_t b, e;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || get_u64(json_array_get(jo, 0), &b) != WM_OK ||
        get_u64(json_array_get(jo, 1), &e) != WM_OK)
        return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': data_offsets is not [begin, end]", file, name);
    if (b > e) return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': data_offsets begin %llu > end %llu", file, name,
                               (unsigned long long)b, (unsigned long long)e);
    if (e > dlen)
        return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu) past the data section (%llu bytes)",
                        file, name, (unsigned long long)b, (unsigned long long)e, (unsigned long long)dlen);
    uint64_t want = (uint64_t)numel * wm_dtype_size(dt);
    if (want != e - b)
        return wm__errf(err, WM_ERR_SHAPE, "%s: tensor '%s': %s x %lld elements = %llu bytes but data_offsets span %llu",
                        file, name, wm_dtype_name(dt), (long long)numel, (unsigned long long)want,
                        (unsigned long long)(e - b));
    range->begin = b;
    range->end = e;
    range->name = name;
    return wm__ck_add_entry(ck, name, dt, (int)ndim, shape, data + b, (size_t)(e - b), shard, err);
}

static wm_status check_overlaps(const char *file, st_range *r, size_t n, wm_error *err)
{
    qsort(r, n, sizeof *r, cmp_range);
    for (size_t i = 1; i < n; i++) {
        /* Empty tensors occupy no bytes and cannot overlap anything. */
        if (r[i].begin == r[i].end || r[i - 1].begin == r[i - 1].end) continue;
        if (r[i].begin < r[i - 1].end)
            return wm__errf(err, WM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap (bytes [%llu, %llu) and [%llu, %llu))",
                            file, r[i - 1].name, r[i].name, (unsigned long long)r[i - 1].begin,
                            (unsigned long long)r[i - 1].end, (unsigned long long)r[i].begin,
                            (unsigned long long)r[i].end);
    }
    return WM_OK;
}

static wm_status parse_root(wm_checkpoint *ck, int shard, const char *file, json_t *root, const uint8_t *data,
                            uint64_t dlen, wm_error *err)
{
    if (!json_is_object(root)) return wm__errf(err, WM_ERR_FORMAT, "%s: header is not a JSON object", file);
    size_t n = json_object_size(root);
    if (n > WM_CK_MAX_TENSORS) return wm__errf(err, WM_ERR_LIMIT, "%s: header lists %zu entries (limit %d)", file, n, WM_CK_MAX_TENSORS);
    st_range *ranges = calloc(n ? n : 1, sizeof *ranges);
    if (!ranges) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
    size_t nr = 0;
    wm_status st = WM_OK;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (strcmp(k, "__metadata__") == 0) st = parse_metadata(ck, file, v, err);
        else st = parse_tensor(ck, shard, file, k, v, data, dlen, &ranges[nr++], err);
        if (st != WM_OK) break;
    }
    if (st == WM_OK) st = check_overlaps(file, ranges, nr, err);
    free(ranges);
    return st;
}

wm_status wm__safetensors_parse(wm_checkpoint *ck, int shard, wm_error *err)
{
    const wm_ck_shard *s = &ck->shards[shard];
    const char *file = s->path;
    if (s->len < 8)
        return wm__errf(err, WM_ERR_FORMAT, "%s: file too short (%zu bytes) for a safetensors header", file, s->len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | s->base[i];
    if (hlen > WM_ST_MAX_HEADER)
        return wm__errf(err, WM_ERR_LIMIT, "%s: header length %llu exceeds the %u-byte limit", file,
                        (unsigned long long)hlen, WM_ST_MAX_HEADER);
    if (hlen > s->len - 8)
        return wm__errf(err, WM_ERR_FORMAT, "%s: header length %llu past the end of the file (%zu bytes)", file,
                        (unsigned long long)hlen, s->len);
    if (hlen < 2) return wm__errf(err, WM_ERR_FORMAT, "%s: header length %llu too small for JSON", file, (unsigned long long)hlen);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)s->base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return wm__errf(err, WM_ERR_FORMAT, "%s: header is not valid JSON: %s (header line %d, column %d)", file,
                        jerr.text, jerr.line, jerr.column);
    wm_status st = parse_root(ck, shard, file, root, s->base + 8 + hlen, s->len - 8 - hlen, err);
    json_decref(root);
    return st;
}
