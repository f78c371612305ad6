/* Checkpoints: read-only access to named tensors in the official file formats.
 *
 * One interface over three containers (spec §6.1): a single .safetensors file (memory-mapped), a
 * sharded set described by *.safetensors.index.json, and the streaming checkpoint's model.pt (PyTorch
 * zip + pickle, read by a restricted unpickler that never executes code; the state dict is taken from
 * the "generator" entry when present, and a leading "model." is stripped from keys). Every header is
 * validated before any tensor is exposed (offsets inside the file, no overlaps, dtype x shape == byte
 * size), and every failure names the file and the offending entry in err->msg.
 * Tensor data stays in the mapping; wm_checkpoint_read_f32() converts to fp32 on request.
 */
#ifndef WM_IO_CHECKPOINT_H
#define WM_IO_CHECKPOINT_H

#include "wm/core/log.h"
#include "wm/core/tensor.h"

typedef struct wm_ckpt_entry {
    const char *name;       /* key as the model sees it (prefixes like "model." already stripped) */
    wm_dtype dtype;
    int ndim;
    int64_t shape[WM_MAX_DIMS];
    const void *data;       /* inside the mapping; valid until wm_checkpoint_close */
    size_t nbytes;
    int shard;              /* index of the file it came from */
} wm_ckpt_entry;

typedef struct wm_checkpoint wm_checkpoint;

/* path: a .safetensors file, a *.safetensors.index.json, a .pt/.pth file, or a directory holding one
 * of those (first match in that order). */
wm_status wm_checkpoint_open(const char *path, wm_checkpoint **out, wm_error *err);
void wm_checkpoint_close(wm_checkpoint *ck);

int wm_checkpoint_count(const wm_checkpoint *ck);
const wm_ckpt_entry *wm_checkpoint_entry(const wm_checkpoint *ck, int i);   /* sorted by name */
const wm_ckpt_entry *wm_checkpoint_find(const wm_checkpoint *ck, const char *name); /* NULL if absent */
const char *wm_checkpoint_path(const wm_checkpoint *ck);
/* The safetensors "__metadata__" value for key, or NULL. */
const char *wm_checkpoint_metadata(const wm_checkpoint *ck, const char *key);

/* Copy tensor `name` into dst as fp32, converting from F32/BF16/F16/F8E4M3/F64. If ndim > 0 the stored
 * shape must equal (ndim, shape) exactly; else any shape is accepted. dst must hold numel floats.
 * Errors name the file and the tensor (WM_ERR_NOT_FOUND, WM_ERR_SHAPE, WM_ERR_DTYPE). */
wm_status wm_checkpoint_read_f32(const wm_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                                 float *dst, wm_error *err);
/* Like wm_checkpoint_read_f32, but into dst of type dst_dtype (F32, BF16 or F16): the load-time cast to the
 * compute dtype. Same-dtype reads are a plain copy (bit-exact); others round to nearest even via fp32. */
wm_status wm_checkpoint_read_as(const wm_checkpoint *ck, const char *name, wm_dtype dst_dtype, int ndim,
                                const int64_t *shape, void *dst, wm_error *err);
/* Allocate a host fp32 tensor with the stored shape and read `name` into it (caller wm_tensor_free). */
wm_status wm_checkpoint_load_f32(const wm_checkpoint *ck, const char *name, wm_tensor *out, wm_error *err);

/* In-memory variants (fuzzers, tests): parse a whole .safetensors file image or a PyTorch zip image held
 * in buf. buf must stay valid until wm_checkpoint_close; label names it in error messages. */
wm_status wm_checkpoint_open_safetensors_mem(const void *buf, size_t len, const char *label, wm_checkpoint **out,
                                             wm_error *err);
wm_status wm_checkpoint_open_pt_mem(const void *buf, size_t len, const char *label, wm_checkpoint **out,
                                    wm_error *err);

/* ---------------------------------------------------------------- writing safetensors */
typedef struct wm_st_item {
    const char *name;
    wm_dtype dtype;          /* dtype of data as given (also what is stored) */
    int ndim;
    int64_t shape[WM_MAX_DIMS];
    const void *data;
} wm_st_item;

/* Write a .safetensors file atomically (temp file + rename): a crash never leaves a partial file under
 * the final name. metadata: NULL or pairs {key0, value0, key1, value1, ..., NULL}. */
wm_status wm_safetensors_write(const char *path, const wm_st_item *items, int n, const char *const *metadata,
                               wm_error *err);
/* Convenience: item from a host tensor. */
wm_st_item wm_st_item_from_tensor(const char *name, const wm_tensor *t);

#endif
