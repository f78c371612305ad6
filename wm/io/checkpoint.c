/* Checkpoint container dispatch and the accessors common to every format.
 *
 * wm_checkpoint_open() decides the container from the path (file suffix, or the contents of a
 * directory), lets the matching reader append entries, then sorts the table by name and rejects
 * duplicates, so lookups are a binary search and every later consumer sees one flat namespace.
 * Tensor bytes stay in read-only mappings; wm_checkpoint_read_f32() converts on request, which keeps
 * opening a 10 GB file O(header) and lets the model loader choose its own compute dtype.
 */
#include "wm/io/ck_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

wm_checkpoint *wm__ck_new(const char *path)
{
    wm_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) return NULL;
    ck->path = xstrdup(path ? path : "(memory)");
    if (!ck->path) { free(ck); return NULL; }
    return ck;
}

static int add_shard(wm_checkpoint *ck, const char *path, const void *base, size_t len, int mapped)
{
    if (ck->nshards >= WM_CK_MAX_SHARDS) return -1;
    if (ck->nshards == ck->shards_cap) {
        int cap = ck->shards_cap ? ck->shards_cap * 2 : 4;
        wm_ck_shard *s = realloc(ck->shards, (size_t)cap * sizeof *s);
        if (!s) return -1;
        ck->shards = s;
        ck->shards_cap = cap;
    }
    wm_ck_shard *s = &ck->shards[ck->nshards];
    s->path = xstrdup(path);
    if (!s->path) return -1;
    s->base = base;
    s->len = len;
    s->mapped = mapped;
    return ck->nshards++;
}

int wm__ck_add_mem_shard(wm_checkpoint *ck, const char *label, const void *buf, size_t len)
{
    return add_shard(ck, label ? label : "(memory)", buf, len, 0);
}

int wm__ck_map_file(wm_checkpoint *ck, const char *path, wm_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { wm__errf(err, WM_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        wm__errf(err, WM_ERR_IO, "%s: not a regular file", path);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    void *base = NULL;
    if (len > 0) {
        base = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            close(fd);
            wm__errf(err, WM_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
            return -1;
        }
    }
    close(fd);
    int idx = add_shard(ck, path, base, len, len > 0);
    if (idx < 0) {
        if (base) munmap(base, len);
        wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: too many shards or out of memory", path);
    }
    return idx;
}

wm_status wm__ck_add_entry(wm_checkpoint *ck, const char *name, wm_dtype dt, int ndim, const int64_t *shape,
                           const void *data, size_t nbytes, int shard, wm_error *err)
{
    if (ck->n >= WM_CK_MAX_TENSORS)
        return wm__errf(err, WM_ERR_LIMIT, "%s: more than %d tensors", ck->path, WM_CK_MAX_TENSORS);
    if (ck->n == ck->cap) {
        int cap = ck->cap ? ck->cap * 2 : 64;
        wm_ckpt_entry *e = realloc(ck->entries, (size_t)cap * sizeof *e);
        if (!e) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", ck->path);
        ck->entries = e;
        ck->cap = cap;
    }
    wm_ckpt_entry *e = &ck->entries[ck->n];
    memset(e, 0, sizeof *e);
    e->name = xstrdup(name);
    if (!e->name) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", ck->path);
    e->dtype = dt;
    e->ndim = ndim;
    for (int i = 0; i < WM_MAX_DIMS; i++) e->shape[i] = i < ndim ? shape[i] : 1;
    e->data = data;
    e->nbytes = nbytes;
    e->shard = shard;
    ck->n++;
    return WM_OK;
}

wm_status wm__ck_add_meta(wm_checkpoint *ck, const char *key, const char *value, wm_error *err)
{
    char **m = realloc(ck->meta, (size_t)(ck->nmeta + 1) * 2 * sizeof *m);
    if (!m) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", ck->path);
    ck->meta = m;
    m[2 * ck->nmeta] = xstrdup(key);
    m[2 * ck->nmeta + 1] = xstrdup(value);
    ck->nmeta++;
    if (!m[2 * ck->nmeta - 2] || !m[2 * ck->nmeta - 1])
        return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", ck->path);
    return WM_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const wm_ckpt_entry *)a)->name, ((const wm_ckpt_entry *)b)->name);
}

wm_status wm__ck_finish(wm_checkpoint *ck, wm_error *err)
{
    if (ck->n > 1) qsort(ck->entries, (size_t)ck->n, sizeof *ck->entries, cmp_entry);
    for (int i = 1; i < ck->n; i++) {
        const wm_ckpt_entry *a = &ck->entries[i - 1], *b = &ck->entries[i];
        if (strcmp(a->name, b->name) == 0)
            return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s' appears twice (in %s and %s)", ck->path, a->name,
                            ck->shards[a->shard].path, ck->shards[b->shard].path);
    }
    return WM_OK;
}

int64_t wm__shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (__builtin_mul_overflow(n, shape[i], &n)) return -1;
    }
    if (n > (int64_t)(SIZE_MAX / 16)) return -1;  /* numel * element size must fit size_t */
    return n;
}

void wm_checkpoint_close(wm_checkpoint *ck)
{
    if (!ck) return;
    for (int i = 0; i < ck->n; i++) free((char *)ck->entries[i].name);
    free(ck->entries);
    for (int i = 0; i < ck->nshards; i++) {
        if (ck->shards[i].mapped) munmap((void *)ck->shards[i].base, ck->shards[i].len);
        free(ck->shards[i].path);
    }
    free(ck->shards);
    for (int i = 0; i < 2 * ck->nmeta; i++) free(ck->meta[i]);
    free(ck->meta);
    free(ck->path);
    free(ck);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Pick the checkpoint file inside a directory: an index (it describes all shards) first, else the only
 * .safetensors file, else a .pt/.pth file. Several candidates of one kind are ambiguous. */
static wm_status pick_in_dir(const char *dir, char *out, size_t outlen, wm_error *err)
{
    static const char *const kinds[] = {".safetensors.index.json", ".safetensors", ".pt", ".pth"};
    for (int k = 0; k < 4; k++) {
        DIR *d = opendir(dir);
        if (!d) return wm__errf(err, WM_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
        int found = 0;
        char first[256] = "";
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!has_suffix(de->d_name, kinds[k])) continue;
            if (found++ == 0) snprintf(first, sizeof first, "%s", de->d_name);
        }
        closedir(d);
        if (found > 1)
            return wm__errf(err, WM_ERR_INVALID_ARG, "%s: %d files end in %s; name the one to open", dir, found,
                            kinds[k]);
        if (found == 1) {
            if ((size_t)snprintf(out, outlen, "%s/%s", dir, first) >= outlen)
                return wm__errf(err, WM_ERR_INVALID_ARG, "%s: path too long", dir);
            return WM_OK;
        }
    }
    return wm__errf(err, WM_ERR_NOT_FOUND, "%s: no .safetensors, .safetensors.index.json, .pt or .pth file", dir);
}

static wm_status open_file(const char *path, wm_checkpoint *ck, wm_error *err)
{
    if (has_suffix(path, ".json")) return wm__st_index_open(ck, path, err);
    int shard = wm__ck_map_file(ck, path, err);
    if (shard < 0) return err ? err->code : WM_ERR_IO;
    /* Content decides between the two binary formats: a zip starts with "PK\3\4". */
    const uint8_t *b = ck->shards[shard].base;
    if (ck->shards[shard].len >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4)
        return wm__pt_parse(ck, shard, err);
    if (has_suffix(path, ".pt") || has_suffix(path, ".pth"))
        return wm__errf(err, WM_ERR_FORMAT, "%s: not a PyTorch zip archive (legacy torch.save format is unsupported)",
                        path);
    return wm__safetensors_parse(ck, shard, err);
}

wm_status wm_checkpoint_open(const char *path, wm_checkpoint **out, wm_error *err)
{
    *out = NULL;
    if (!path) return wm__errf(err, WM_ERR_INVALID_ARG, "checkpoint path is NULL");
    struct stat st;
    if (stat(path, &st) != 0) return wm__errf(err, WM_ERR_IO, "%s: %s", path, strerror(errno));
    char picked[4096];
    const char *file = path;
    if (S_ISDIR(st.st_mode)) {
        WM_TRY(pick_in_dir(path, picked, sizeof picked, err));
        file = picked;
    }
    wm_checkpoint *ck = wm__ck_new(file);
    if (!ck) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
    wm_status st2 = open_file(file, ck, err);
    if (st2 == WM_OK) st2 = wm__ck_finish(ck, err);
    if (st2 != WM_OK) { wm_checkpoint_close(ck); return st2; }
    *out = ck;
    return WM_OK;
}

static wm_status open_mem(const void *buf, size_t len, const char *label, int pt, wm_checkpoint **out,
                          wm_error *err)
{
    *out = NULL;
    wm_checkpoint *ck = wm__ck_new(label);
    if (!ck) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    int shard = wm__ck_add_mem_shard(ck, ck->path, buf, len);
    wm_status st = shard < 0 ? wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory")
                 : pt        ? wm__pt_parse(ck, shard, err)
                             : wm__safetensors_parse(ck, shard, err);
    if (st == WM_OK) st = wm__ck_finish(ck, err);
    if (st != WM_OK) { wm_checkpoint_close(ck); return st; }
    *out = ck;
    return WM_OK;
}

wm_status wm_checkpoint_open_safetensors_mem(const void *buf, size_t len, const char *label, wm_checkpoint **out,
                                             wm_error *err)
{
    return open_mem(buf, len, label, 0, out, err);
}

wm_status wm_checkpoint_open_pt_mem(const void *buf, size_t len, const char *label, wm_checkpoint **out,
                                    wm_error *err)
{
    return open_mem(buf, len, label, 1, out, err);
}

int wm_checkpoint_count(const wm_checkpoint *ck) { return ck ? ck->n : 0; }

const wm_ckpt_entry *wm_checkpoint_entry(const wm_checkpoint *ck, int i)
{
    return ck && i >= 0 && i < ck->n ? &ck->entries[i] : NULL;
}

const wm_ckpt_entry *wm_checkpoint_find(const wm_checkpoint *ck, const char *name)
{
    if (!ck || !name) return NULL;
    int lo = 0, hi = ck->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(ck->entries[mid].name, name);
        if (c == 0) return &ck->entries[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

const char *wm_checkpoint_path(const wm_checkpoint *ck) { return ck ? ck->path : NULL; }

const char *wm_checkpoint_metadata(const wm_checkpoint *ck, const char *key)
{
    if (!ck || !key) return NULL;
    for (int i = 0; i < ck->nmeta; i++)
        if (strcmp(ck->meta[2 * i], key) == 0) return ck->meta[2 * i + 1];
    return NULL;
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, ")");
}

static wm_status check_entry(const wm_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                             const wm_ckpt_entry **out, wm_error *err)
{
    const wm_ckpt_entry *e = wm_checkpoint_find(ck, name);
    if (!e) return wm__errf(err, WM_ERR_NOT_FOUND, "%s: tensor '%s' not found", ck ? ck->path : "?", name);
    if (ndim > 0) {
        int same = ndim == e->ndim;
        for (int i = 0; same && i < ndim; i++) same = shape[i] == e->shape[i];
        if (!same) {
            char want[128], have[128];
            shape_str(ndim, shape, want, sizeof want);
            shape_str(e->ndim, e->shape, have, sizeof have);
            return wm__errf(err, WM_ERR_SHAPE, "%s: tensor '%s': shape %s, expected %s", ck->path, name, have, want);
        }
    }
    if (!wm_dtype_is_float(e->dtype))
        return wm__errf(err, WM_ERR_DTYPE, "%s: tensor '%s': dtype %s is not a float type", ck->path, name,
                        wm_dtype_name(e->dtype));
    *out = e;
    return WM_OK;
}

wm_status wm_checkpoint_read_f32(const wm_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                                 float *dst, wm_error *err)
{
    const wm_ckpt_entry *e;
    WM_TRY(check_entry(ck, name, ndim, shape, &e, err));
    wm_convert_to_f32(e->dtype, e->data, dst, e->nbytes / wm_dtype_size(e->dtype));
    return WM_OK;
}

wm_status wm_checkpoint_read_as(const wm_checkpoint *ck, const char *name, wm_dtype dst_dtype, int ndim,
                                const int64_t *shape, void *dst, wm_error *err)
{
    if (dst_dtype != WM_F32 && dst_dtype != WM_BF16 && dst_dtype != WM_F16)
        return wm__errf(err, WM_ERR_DTYPE, "%s: tensor '%s': cannot convert to %s", ck ? ck->path : "?", name,
                        wm_dtype_name(dst_dtype));
    const wm_ckpt_entry *e;
    WM_TRY(check_entry(ck, name, ndim, shape, &e, err));
    size_t n = e->nbytes / wm_dtype_size(e->dtype), es = wm_dtype_size(e->dtype), ds = wm_dtype_size(dst_dtype);
    if (e->dtype == dst_dtype) { memcpy(dst, e->data, e->nbytes); return WM_OK; }
    if (dst_dtype == WM_F32) { wm_convert_to_f32(e->dtype, e->data, dst, n); return WM_OK; }
    float tmp[1024];   /* convert through fp32 in blocks: no allocation, any size */
    for (size_t i = 0; i < n; i += 1024) {
        size_t m = n - i < 1024 ? n - i : 1024;
        wm_convert_to_f32(e->dtype, (const uint8_t *)e->data + i * es, tmp, m);
        wm_convert_from_f32(dst_dtype, tmp, (uint8_t *)dst + i * ds, m);
    }
    return WM_OK;
}

wm_status wm_checkpoint_load_f32(const wm_checkpoint *ck, const char *name, wm_tensor *out, wm_error *err)
{
    const wm_ckpt_entry *e = wm_checkpoint_find(ck, name);
    if (!e) return wm__errf(err, WM_ERR_NOT_FOUND, "%s: tensor '%s' not found", ck ? ck->path : "?", name);
    if (!wm_dtype_is_float(e->dtype))
        return wm__errf(err, WM_ERR_DTYPE, "%s: tensor '%s': dtype %s is not a float type", ck->path, name,
                        wm_dtype_name(e->dtype));
    int64_t one = 1;
    wm_status st = wm_tensor_alloc(WM_F32, e->ndim ? e->ndim : 1, e->ndim ? e->shape : &one, out);
    if (st != WM_OK) return wm__errf(err, st, "%s: tensor '%s': cannot allocate", ck->path, name);
    st = wm_checkpoint_read_f32(ck, name, 0, NULL, (float *)out->data, err);
    if (st != WM_OK) wm_tensor_free(out);
    return st;
}

wm_st_item wm_st_item_from_tensor(const char *name, const wm_tensor *t)
{
    wm_st_item it;
    memset(&it, 0, sizeof it);
    it.name = name;
    it.dtype = t->dtype;
    it.ndim = t->ndim;
    for (int i = 0; i < t->ndim && i < WM_MAX_DIMS; i++) it.shape[i] = t->shape[i];
    it.data = t->data;
    return it;
}
