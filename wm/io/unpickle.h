/* Restricted unpickler for PyTorch state dicts (internal to wm/io).
 *
 * Interprets a pickle as data only: it implements the opcodes torch.save emits for nested dicts of
 * tensors and resolves GLOBAL/STACK_GLOBAL against a fixed whitelist (OrderedDict, the tensor/parameter
 * rebuild functions, the typed storage classes, torch dtypes). REDUCE is evaluated by us for those few
 * callables; nothing is ever imported or executed. Any other global is an error naming it.
 */
#ifndef WM_IO_UNPICKLE_H
#define WM_IO_UNPICKLE_H

#include "wm/core/log.h"
#include "wm/core/tensor.h"

#include <stddef.h>
#include <stdint.h>

/* Bounds on untrusted pickles. */
#define WM_PK_MAX_STACK   (1 << 20)
#define WM_PK_MAX_MEMO    (1 << 20)
#define WM_PK_MAX_OBJECTS (1 << 22)
#define WM_PK_MAX_STRING  (1 << 20)

/* One tensor of the state dict, as _rebuild_tensor_v2 described it. */
typedef struct wm_pk_tensor {
    const char *name;          /* dict key, "model." already stripped */
    const char *storage_key;   /* archive entry data/<storage_key> */
    wm_dtype dtype;
    int64_t storage_numel;     /* elements of the storage */
    int64_t offset;            /* storage_offset, elements */
    int ndim;
    int64_t shape[WM_MAX_DIMS], stride[WM_MAX_DIMS];
} wm_pk_tensor;

typedef wm_status (*wm_pk_tensor_fn)(void *ctx, const wm_pk_tensor *t, wm_error *err);

/* Unpickle buf and call fn for every tensor of the state dict: the dict under "generator" if the root
 * has one, else the root dict. where names the pickle in messages (e.g. "model.pt: archive/data.pkl"). */
wm_status wm__unpickle_state_dict(const uint8_t *buf, size_t len, const char *where, wm_pk_tensor_fn fn, void *ctx,
                                  wm_error *err);

#endif
