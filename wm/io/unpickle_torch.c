/* The torch-specific half of the restricted unpickler: the whitelist of globals, what REDUCE and
 * BINPERSID mean for them, and the walk from the unpickled root to the state dict's tensors.
 *
 * Whitelist (anything else is rejected by its dotted name): collections.OrderedDict (called with no
 * arguments), torch._utils._rebuild_tensor_v2 (storage, offset, size, stride, requires_grad, hooks
 * [, metadata]), torch._utils._rebuild_parameter (tensor, requires_grad, hooks), the typed storage
 * classes torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage (only as the type in
 * a persistent id), and torch dtype objects (torch.float32 ...), which are inert values.
 * Tensors must be contiguous row-major views inside their storage; everything is checked here where
 * the tensor's name is known, so errors name it.
 */
#include "wm/io/pk_vm.h"

#include <stdlib.h>
#include <string.h>

static const struct { const char *name; wm_dtype dt; } k_storages[] = {
    {"FloatStorage", WM_F32}, {"DoubleStorage", WM_F64}, {"HalfStorage", WM_F16}, {"BFloat16Storage", WM_BF16},
    {"LongStorage", WM_I64},  {"IntStorage", WM_I32},    {"ShortStorage", WM_I16}, {"CharStorage", WM_I8},
    {"ByteStorage", WM_U8},   {"BoolStorage", WM_BOOL},
};
static const struct { const char *name; wm_dtype dt; } k_dtypes[] = {
    {"float32", WM_F32}, {"float", WM_F32}, {"float64", WM_F64}, {"double", WM_F64}, {"float16", WM_F16},
    {"half", WM_F16}, {"bfloat16", WM_BF16}, {"int64", WM_I64}, {"long", WM_I64}, {"int32", WM_I32},
    {"int", WM_I32}, {"int16", WM_I16}, {"short", WM_I16}, {"int8", WM_I8}, {"uint8", WM_U8}, {"bool", WM_BOOL},
};

static pk_global lookup(const char *module, const char *name, wm_dtype *dt)
{
    if (!strcmp(module, "collections") && !strcmp(name, "OrderedDict")) return G_ODICT;
    if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2")) return G_REBUILD_V2;
    if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_parameter")) return G_REBUILD_PARAM;
    if (strcmp(module, "torch") != 0) return 0;
    for (size_t i = 0; i < sizeof k_storages / sizeof k_storages[0]; i++)
        if (!strcmp(name, k_storages[i].name)) { *dt = k_storages[i].dt; return G_STORAGE; }
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (!strcmp(name, k_dtypes[i].name)) { *dt = k_dtypes[i].dt; return G_DTYPE; }
    return 0;
}

wm_status pk_resolve_global(pk_vm *vm, const char *module, const char *name, pk_obj **out)
{
    wm_dtype dt = WM_F32;
    pk_global g = lookup(module, name, &dt);
    if (!g)
        return pk_fail(vm, WM_ERR_FORMAT, "global '%s.%s' is not allowed (only tensor rebuild functions, storages, "
                       "dtypes and OrderedDict)", module, name);
    pk_obj *o = pk_new(vm, PK_GLOBAL);
    if (!o) return vm->err->code;
    size_t n = strlen(module) + strlen(name) + 2;
    o->s = malloc(n);
    if (!o->s) return pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(o->s, n, "%s.%s", module, name);
    o->slen = n - 1;
    o->gid = g;
    o->dt = dt;
    *out = o;
    return WM_OK;
}

wm_status pk_reduce(pk_vm *vm, pk_obj *fn, pk_obj *args, pk_obj **out)
{
    if (fn->type != PK_GLOBAL) return pk_fail(vm, WM_ERR_FORMAT, "REDUCE on a %s", pk_type_name(fn->type));
    if (args->type != PK_TUPLE) return pk_fail(vm, WM_ERR_FORMAT, "REDUCE of %s with %s arguments", fn->s, pk_type_name(args->type));
    switch (fn->gid) {
    case G_ODICT:
        if (args->n != 0) return pk_fail(vm, WM_ERR_UNSUPPORTED, "collections.OrderedDict called with arguments");
        *out = pk_new(vm, PK_DICT);
        return *out ? WM_OK : vm->err->code;
    case G_REBUILD_V2: {
        if (args->n != 6 && args->n != 7)
            return pk_fail(vm, WM_ERR_FORMAT, "_rebuild_tensor_v2 with %zu arguments", args->n);
        pk_obj *t = pk_new(vm, PK_TENSOR);
        if (!t) return vm->err->code;
        for (int i = 0; i < 4; i++)   /* storage, offset, size, stride: validated with the tensor's name */
            if (pk_append(vm, t, args->v[i]) != 0) return vm->err->code;
        *out = t;
        return WM_OK;
    }
    case G_REBUILD_PARAM:
        if (args->n != 3 || args->v[0]->type != PK_TENSOR)
            return pk_fail(vm, WM_ERR_FORMAT, "_rebuild_parameter expects (tensor, requires_grad, hooks)");
        *out = args->v[0];
        return WM_OK;
    default:
        return pk_fail(vm, WM_ERR_FORMAT, "global '%s' is not callable", fn->s);
    }
}

static int safe_key(const pk_obj *s)
{
    if (s->type != PK_STR || s->slen == 0 || s->slen > 64 || s->s[0] == '.') return 0;
    for (size_t i = 0; i < s->slen; i++) {
        char c = s->s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* ('storage', StorageType, key, location, numel) -> a storage reference (data/<key> in the archive). */
wm_status pk_persistent_load(pk_vm *vm, pk_obj *pid, pk_obj **out)
{
    if (pid->type != PK_TUPLE || pid->n != 5 || pid->v[0]->type != PK_STR || strcmp(pid->v[0]->s, "storage") != 0)
        return pk_fail(vm, WM_ERR_FORMAT, "persistent id is not a ('storage', type, key, location, numel) tuple");
    pk_obj *type = pid->v[1], *key = pid->v[2], *numel = pid->v[4];
    if (type->type != PK_GLOBAL || type->gid != G_STORAGE)
        return pk_fail(vm, WM_ERR_FORMAT, "persistent id names %s instead of a storage type",
                       type->type == PK_GLOBAL ? type->s : pk_type_name(type->type));
    if (!safe_key(key)) return pk_fail(vm, WM_ERR_FORMAT, "storage key is not a short plain name");
    if (numel->type != PK_INT || numel->i < 0) return pk_fail(vm, WM_ERR_FORMAT, "storage size is not a non-negative int");
    pk_obj *s = pk_new(vm, PK_STORAGE);
    if (!s) return vm->err->code;
    s->s = malloc(key->slen + 1);
    if (!s->s) return pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(s->s, key->s, key->slen + 1);
    s->slen = key->slen;
    s->dt = type->dt;
    s->i = numel->i;
    *out = s;
    return WM_OK;
}

static int int_tuple(const pk_obj *t, int64_t *vals, int max)
{
    if (t->type != PK_TUPLE || t->n > (size_t)max) return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i]->type != PK_INT) return -1;
        vals[i] = t->v[i]->i;
    }
    return (int)t->n;
}

static wm_status tensor_from(pk_vm *vm, const char *name, const pk_obj *t, wm_pk_tensor *out)
{
    const pk_obj *st = t->v[0], *off = t->v[1];
    if (st->type != PK_STORAGE) return pk_fail(vm, WM_ERR_FORMAT, "tensor '%s': first argument is not a storage", name);
    if (off->type != PK_INT || off->i < 0) return pk_fail(vm, WM_ERR_FORMAT, "tensor '%s': bad storage offset", name);
    int nd = int_tuple(t->v[2], out->shape, WM_MAX_DIMS), ns = int_tuple(t->v[3], out->stride, WM_MAX_DIMS);
    if (nd < 0) return pk_fail(vm, WM_ERR_UNSUPPORTED, "tensor '%s': size is not a tuple of at most %d ints", name, WM_MAX_DIMS);
    if (ns != nd) return pk_fail(vm, WM_ERR_FORMAT, "tensor '%s': stride does not match size", name);
    int64_t numel = 1, expect = 1;
    for (int d = nd - 1; d >= 0; d--) {
        if (out->shape[d] < 0 || __builtin_mul_overflow(numel, out->shape[d], &numel))
            return pk_fail(vm, WM_ERR_FORMAT, "tensor '%s': invalid size", name);
        if (out->shape[d] != 1 && out->stride[d] != expect)
            return pk_fail(vm, WM_ERR_UNSUPPORTED, "tensor '%s': not contiguous (stride %lld in dim %d, expected %lld)", name,
                           (long long)out->stride[d], d, (long long)expect);
        expect *= out->shape[d];
    }
    int64_t last;
    if (__builtin_add_overflow(off->i, numel, &last) || last > st->i)
        return pk_fail(vm, WM_ERR_FORMAT, "tensor '%s': elements [%lld, +%lld) outside its storage of %lld", name,
                       (long long)off->i, (long long)numel, (long long)st->i);
    out->name = name;
    out->storage_key = st->s;
    out->dtype = st->dt;
    out->storage_numel = st->i;
    out->offset = off->i;
    out->ndim = nd;
    return WM_OK;
}

static const pk_obj *dict_get(const pk_obj *d, const char *key)
{
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (d->v[i]->type == PK_STR && !strcmp(d->v[i]->s, key)) return d->v[i + 1];
    return NULL;
}

wm_status pk_extract_state_dict(pk_vm *vm, pk_obj *root, wm_pk_tensor_fn fn, void *ctx)
{
    if (root->type != PK_DICT) return pk_fail(vm, WM_ERR_FORMAT, "top-level object is a %s, not a dict", pk_type_name(root->type));
    const pk_obj *sd = dict_get(root, "generator");
    if (!sd || sd->type != PK_DICT) sd = root;
    int ntensors = 0;
    for (size_t i = 0; i + 1 < sd->n; i += 2) {
        const pk_obj *k = sd->v[i], *v = sd->v[i + 1];
        if (k->type != PK_STR) return pk_fail(vm, WM_ERR_FORMAT, "state dict key %zu is a %s, not a string", i / 2, pk_type_name(k->type));
        if (v->type != PK_TENSOR) {
            wm__log(WM_LOG_DEBUG, "%s: skipping non-tensor entry '%s' (%s)", vm->where, k->s, pk_type_name(v->type));
            continue;
        }
        const char *name = strncmp(k->s, "model.", 6) == 0 ? k->s + 6 : k->s;
        wm_pk_tensor t;
        memset(&t, 0, sizeof t);
        WM_TRY(tensor_from(vm, name, v, &t));
        WM_TRY(fn(ctx, &t, vm->err));
        ntensors++;
    }
    if (!ntensors) return pk_fail(vm, WM_ERR_FORMAT, "no tensors in the state dict");
    return WM_OK;
}
