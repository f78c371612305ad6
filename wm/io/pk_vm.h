/* Object model and machine state of the restricted unpickler (internal to unpickle*.c).
 *
 * Objects are plain tagged records owned by the machine (freed all at once at the end), so shared
 * references created by the memo, and even cycles, need no reference counting. Dicts are pair lists:
 * SETITEM appends in O(1) and duplicate keys surface later as duplicate tensor names.
 */
#ifndef WM_IO_PK_VM_H
#define WM_IO_PK_VM_H

#include "wm/io/unpickle.h"

typedef enum pk_type {
    PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_BYTES, PK_TUPLE, PK_LIST, PK_DICT, PK_GLOBAL, PK_STORAGE, PK_TENSOR
} pk_type;

typedef enum pk_global { G_ODICT = 1, G_REBUILD_V2, G_REBUILD_PARAM, G_STORAGE, G_DTYPE } pk_global;

typedef struct pk_obj {
    pk_type type;
    int64_t i;                 /* INT, BOOL; STORAGE: numel */
    double f;
    char *s;                   /* STR, BYTES; GLOBAL: "module.name"; STORAGE: key */
    size_t slen;
    struct pk_obj **v;         /* TUPLE, LIST, DICT (k0, v0, k1, v1, ...); TENSOR: storage, offset, size, stride */
    size_t n, cap;
    pk_global gid;             /* GLOBAL */
    wm_dtype dt;               /* GLOBAL storage/dtype, STORAGE */
} pk_obj;

typedef struct pk_vm {
    const uint8_t *start, *p, *end;
    const char *where;
    wm_error *err;
    pk_obj **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pk_obj **memo;
    size_t memo_cap, memo_len;
    pk_obj **all;
    size_t nall, allcap;
} pk_vm;

/* Record an error at the current position; returns the code. */
wm_status pk_fail(pk_vm *vm, wm_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
pk_obj *pk_new(pk_vm *vm, pk_type t);
int pk_append(pk_vm *vm, pk_obj *seq, pk_obj *item);
const char *pk_type_name(pk_type t);

/* torch-specific parts (unpickle_torch.c). */
wm_status pk_resolve_global(pk_vm *vm, const char *module, const char *name, pk_obj **out);
wm_status pk_reduce(pk_vm *vm, pk_obj *callable, pk_obj *args, pk_obj **out);
wm_status pk_persistent_load(pk_vm *vm, pk_obj *pid, pk_obj **out);
wm_status pk_extract_state_dict(pk_vm *vm, pk_obj *root, wm_pk_tensor_fn fn, void *ctx);

#endif
