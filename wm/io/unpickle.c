/* Restricted unpickler: the opcode interpreter (see unpickle.h for the contract).
 *
 * A straight loop over the opcodes of protocols 2-5 that torch.save emits for dicts of tensors.
 * Every read is bounds-checked against the buffer, every container and the stack, mark stack, memo and
 * object count are capped, and pops never cross the innermost MARK. Opcodes that would build arbitrary
 * objects (INST, OBJ, NEWOBJ, EXT*) or read text-protocol values are not implemented and fail with the
 * opcode and its offset. The torch meaning of GLOBAL/REDUCE/BINPERSID lives in unpickle_torch.c.
 */
#include "wm/io/pk_vm.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

wm_status pk_fail(pk_vm *vm, wm_status code, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return wm__errf(vm->err, code, "%s: %s (pickle byte %zu)", vm->where, msg, (size_t)(vm->p - vm->start));
}

const char *pk_type_name(pk_type t)
{
    static const char *const names[] = {"None", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict",
                                        "global", "storage", "tensor"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

pk_obj *pk_new(pk_vm *vm, pk_type t)
{
    if (vm->nall >= WM_PK_MAX_OBJECTS) { pk_fail(vm, WM_ERR_LIMIT, "more than %d objects", WM_PK_MAX_OBJECTS); return NULL; }
    if (vm->nall == vm->allcap) {
        size_t cap = vm->allcap ? vm->allcap * 2 : 256;
        pk_obj **a = realloc(vm->all, cap * sizeof *a);
        if (!a) { pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory"); return NULL; }
        vm->all = a;
        vm->allcap = cap;
    }
    pk_obj *o = calloc(1, sizeof *o);
    if (!o) { pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory"); return NULL; }
    o->type = t;
    vm->all[vm->nall++] = o;
    return o;
}

int pk_append(pk_vm *vm, pk_obj *seq, pk_obj *item)
{
    if (seq->n == seq->cap) {
        size_t cap = seq->cap ? seq->cap * 2 : 4;
        pk_obj **v = realloc(seq->v, cap * sizeof *v);
        if (!v) { pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory"); return -1; }
        seq->v = v;
        seq->cap = cap;
    }
    seq->v[seq->n++] = item;
    return 0;
}

static void vm_free(pk_vm *vm)
{
    for (size_t i = 0; i < vm->nall; i++) { free(vm->all[i]->s); free(vm->all[i]->v); free(vm->all[i]); }
    free(vm->all);
    free(vm->stack);
    free(vm->marks);
    free(vm->memo);
}

/* ---------------------------------------------------------------- stack, marks, memo */
static size_t fence(const pk_vm *vm) { return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0; }

static wm_status push(pk_vm *vm, pk_obj *o)
{
    if (!o) return vm->err->code ? vm->err->code : WM_ERR_OUT_OF_MEMORY;
    if (vm->sp >= WM_PK_MAX_STACK) return pk_fail(vm, WM_ERR_LIMIT, "stack deeper than %d", WM_PK_MAX_STACK);
    if (vm->sp == vm->scap) {
        size_t cap = vm->scap ? vm->scap * 2 : 64;
        pk_obj **s = realloc(vm->stack, cap * sizeof *s);
        if (!s) return pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory");
        vm->stack = s;
        vm->scap = cap;
    }
    vm->stack[vm->sp++] = o;
    return WM_OK;
}

static wm_status pop(pk_vm *vm, pk_obj **o)
{
    if (vm->sp <= fence(vm)) return pk_fail(vm, WM_ERR_FORMAT, "stack underflow");
    *o = vm->stack[--vm->sp];
    return WM_OK;
}

static wm_status top(pk_vm *vm, pk_obj **o)
{
    if (vm->sp <= fence(vm)) return pk_fail(vm, WM_ERR_FORMAT, "stack underflow");
    *o = vm->stack[vm->sp - 1];
    return WM_OK;
}

static wm_status push_mark(pk_vm *vm)
{
    if (vm->nmarks >= WM_PK_MAX_STACK) return pk_fail(vm, WM_ERR_LIMIT, "too many marks");
    if (vm->nmarks == vm->mcap) {
        size_t cap = vm->mcap ? vm->mcap * 2 : 16;
        size_t *m = realloc(vm->marks, cap * sizeof *m);
        if (!m) return pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory");
        vm->marks = m;
        vm->mcap = cap;
    }
    vm->marks[vm->nmarks++] = vm->sp;
    return WM_OK;
}

static wm_status pop_mark(pk_vm *vm, size_t *k)
{
    if (!vm->nmarks) return pk_fail(vm, WM_ERR_FORMAT, "no MARK on the stack");
    *k = vm->marks[--vm->nmarks];
    return WM_OK;
}

static wm_status memo_put(pk_vm *vm, uint64_t idx)
{
    pk_obj *o;
    WM_TRY(top(vm, &o));
    if (idx >= WM_PK_MAX_MEMO) return pk_fail(vm, WM_ERR_LIMIT, "memo index %llu over the limit", (unsigned long long)idx);
    if (idx >= vm->memo_cap) {
        size_t cap = vm->memo_cap ? vm->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        pk_obj **m = realloc(vm->memo, cap * sizeof *m);
        if (!m) return pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory");
        memset(m + vm->memo_cap, 0, (cap - vm->memo_cap) * sizeof *m);
        vm->memo = m;
        vm->memo_cap = cap;
    }
    vm->memo[idx] = o;
    if (idx + 1 > vm->memo_len) vm->memo_len = (size_t)idx + 1;
    return WM_OK;
}

static wm_status memo_get(pk_vm *vm, uint64_t idx)
{
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return pk_fail(vm, WM_ERR_FORMAT, "memo entry %llu is not defined", (unsigned long long)idx);
    return push(vm, vm->memo[idx]);
}

/* ---------------------------------------------------------------- reading the byte stream */
static wm_status need(pk_vm *vm, uint64_t n)
{
    if ((uint64_t)(vm->end - vm->p) < n) return pk_fail(vm, WM_ERR_FORMAT, "truncated pickle (needs %llu more bytes)",
                                                       (unsigned long long)n);
    return WM_OK;
}

static uint64_t rd_le(pk_vm *vm, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | vm->p[i];
    vm->p += n;
    return v;
}

static wm_status read_uint(pk_vm *vm, int n, uint64_t *v)
{
    WM_TRY(need(vm, (uint64_t)n));
    *v = rd_le(vm, n);
    return WM_OK;
}

static wm_status push_int(pk_vm *vm, int64_t v)
{
    pk_obj *o = pk_new(vm, PK_INT);
    if (o) o->i = v;
    return push(vm, o);
}

/* LONG1/LONG4: little-endian two's complement of n bytes; we only need values that fit int64. */
static wm_status op_long(pk_vm *vm, int lenbytes)
{
    uint64_t n;
    WM_TRY(read_uint(vm, lenbytes, &n));
    if (n > 8) return pk_fail(vm, WM_ERR_UNSUPPORTED, "integer of %llu bytes is too large", (unsigned long long)n);
    WM_TRY(need(vm, n));
    uint64_t v = n ? rd_le(vm, (int)n) : 0;
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    return push_int(vm, (int64_t)v);
}

static wm_status op_string(pk_vm *vm, int lenbytes, pk_type t)
{
    uint64_t n;
    WM_TRY(read_uint(vm, lenbytes, &n));
    if (n > WM_PK_MAX_STRING) return pk_fail(vm, WM_ERR_LIMIT, "string of %llu bytes over the limit", (unsigned long long)n);
    WM_TRY(need(vm, n));
    if (t == PK_STR && memchr(vm->p, 0, n)) return pk_fail(vm, WM_ERR_FORMAT, "string contains a NUL byte");
    pk_obj *o = pk_new(vm, t);
    if (!o) return vm->err->code;
    o->s = malloc(n + 1);
    if (!o->s) return pk_fail(vm, WM_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(o->s, vm->p, n);
    o->s[n] = 0;
    o->slen = n;
    vm->p += n;
    return push(vm, o);
}

static wm_status op_binfloat(pk_vm *vm)
{
    WM_TRY(need(vm, 8));
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = (u << 8) | vm->p[i];   /* big-endian */
    vm->p += 8;
    pk_obj *o = pk_new(vm, PK_FLOAT);
    if (o) memcpy(&o->f, &u, 8);
    return push(vm, o);
}

/* GLOBAL: "module\nname\n" as text lines. */
static wm_status read_line(pk_vm *vm, char *buf, size_t cap)
{
    const uint8_t *nl = memchr(vm->p, '\n', (size_t)(vm->end - vm->p));
    if (!nl) return pk_fail(vm, WM_ERR_FORMAT, "truncated GLOBAL");
    size_t n = (size_t)(nl - vm->p);
    if (n >= cap || memchr(vm->p, 0, n)) return pk_fail(vm, WM_ERR_FORMAT, "GLOBAL name too long or invalid");
    memcpy(buf, vm->p, n);
    buf[n] = 0;
    vm->p = nl + 1;
    return WM_OK;
}

static wm_status op_global(pk_vm *vm, int stack_form)
{
    char module[256], name[256];
    if (stack_form) {
        pk_obj *m, *n;
        WM_TRY(pop(vm, &n));
        WM_TRY(pop(vm, &m));
        if (m->type != PK_STR || n->type != PK_STR || m->slen >= sizeof module || n->slen >= sizeof name)
            return pk_fail(vm, WM_ERR_FORMAT, "STACK_GLOBAL needs two short strings");
        memcpy(module, m->s, m->slen + 1);
        memcpy(name, n->s, n->slen + 1);
    } else {
        WM_TRY(read_line(vm, module, sizeof module));
        WM_TRY(read_line(vm, name, sizeof name));
    }
    pk_obj *g;
    WM_TRY(pk_resolve_global(vm, module, name, &g));
    return push(vm, g);
}

/* ---------------------------------------------------------------- containers */
static wm_status op_tuple_n(pk_vm *vm, size_t n)
{
    if (vm->sp - fence(vm) < n) return pk_fail(vm, WM_ERR_FORMAT, "stack underflow building a tuple");
    pk_obj *t = pk_new(vm, PK_TUPLE);
    if (!t) return vm->err->code;
    for (size_t i = vm->sp - n; i < vm->sp; i++)
        if (pk_append(vm, t, vm->stack[i]) != 0) return vm->err->code;
    vm->sp -= n;
    return push(vm, t);
}

static wm_status op_tuple_mark(pk_vm *vm)
{
    size_t k = 0;
    WM_TRY(pop_mark(vm, &k));
    pk_obj *t = pk_new(vm, PK_TUPLE);
    if (!t) return vm->err->code;
    for (size_t i = k; i < vm->sp; i++)
        if (pk_append(vm, t, vm->stack[i]) != 0) return vm->err->code;
    vm->sp = k;
    return push(vm, t);
}

/* SETITEMS / APPENDS: items above the innermost mark go into the container just below it. */
static wm_status op_fill(pk_vm *vm, pk_type want)
{
    size_t k = 0;
    WM_TRY(pop_mark(vm, &k));
    if (k == 0 || k <= fence(vm)) return pk_fail(vm, WM_ERR_FORMAT, "no container below MARK");
    pk_obj *c = vm->stack[k - 1];
    if (c->type != want)
        return pk_fail(vm, WM_ERR_FORMAT, "%s target is a %s", want == PK_DICT ? "SETITEMS" : "APPENDS", pk_type_name(c->type));
    if (want == PK_DICT && (vm->sp - k) % 2) return pk_fail(vm, WM_ERR_FORMAT, "SETITEMS with an odd number of items");
    for (size_t i = k; i < vm->sp; i++)
        if (pk_append(vm, c, vm->stack[i]) != 0) return vm->err->code;
    vm->sp = k;
    return WM_OK;
}

static wm_status op_setitem(pk_vm *vm)
{
    pk_obj *k, *v, *d;
    WM_TRY(pop(vm, &v));
    WM_TRY(pop(vm, &k));
    WM_TRY(top(vm, &d));
    if (d->type != PK_DICT) return pk_fail(vm, WM_ERR_FORMAT, "SETITEM target is a %s", pk_type_name(d->type));
    return pk_append(vm, d, k) || pk_append(vm, d, v) ? vm->err->code : WM_OK;
}

static wm_status op_append(pk_vm *vm)
{
    pk_obj *v, *l;
    WM_TRY(pop(vm, &v));
    WM_TRY(top(vm, &l));
    if (l->type != PK_LIST) return pk_fail(vm, WM_ERR_FORMAT, "APPEND target is a %s", pk_type_name(l->type));
    return pk_append(vm, l, v) ? vm->err->code : WM_OK;
}

static wm_status op_reduce(pk_vm *vm)
{
    pk_obj *args, *fn, *res;
    WM_TRY(pop(vm, &args));
    WM_TRY(pop(vm, &fn));
    WM_TRY(pk_reduce(vm, fn, args, &res));
    return push(vm, res);
}

static wm_status op_persid(pk_vm *vm)
{
    pk_obj *pid, *res;
    WM_TRY(pop(vm, &pid));
    WM_TRY(pk_persistent_load(vm, pid, &res));
    return push(vm, res);
}

/* BUILD sets state on an object; our whitelisted objects carry none that matters, so the state is
 * dropped (never applied through setattr-like logic). */
static wm_status op_build(pk_vm *vm)
{
    pk_obj *state, *obj;
    WM_TRY(pop(vm, &state));
    return top(vm, &obj);
}

static wm_status op_pop(pk_vm *vm)
{
    if (vm->nmarks && vm->sp == fence(vm)) { size_t k = 0; return pop_mark(vm, &k); }
    pk_obj *o;
    return pop(vm, &o);
}

/* ---------------------------------------------------------------- the interpreter loop */
static wm_status step(pk_vm *vm, int op, pk_obj **result)
{
    uint64_t n;
    switch (op) {
    case 0x80: WM_TRY(read_uint(vm, 1, &n));
        return n <= 5 ? WM_OK : pk_fail(vm, WM_ERR_UNSUPPORTED, "pickle protocol %llu", (unsigned long long)n);
    case 0x95: return read_uint(vm, 8, &n);                       /* FRAME: length only, data follows inline */
    case '}': return push(vm, pk_new(vm, PK_DICT));
    case ']': return push(vm, pk_new(vm, PK_LIST));
    case ')': return push(vm, pk_new(vm, PK_TUPLE));
    case '(': return push_mark(vm);
    case 'N': return push(vm, pk_new(vm, PK_NONE));
    case 0x88: case 0x89: {
        pk_obj *o = pk_new(vm, PK_BOOL);
        if (o) o->i = op == 0x88;
        return push(vm, o);
    }
    case 'J': WM_TRY(read_uint(vm, 4, &n)); return push_int(vm, (int32_t)(uint32_t)n);
    case 'K': WM_TRY(read_uint(vm, 1, &n)); return push_int(vm, (int64_t)n);
    case 'M': WM_TRY(read_uint(vm, 2, &n)); return push_int(vm, (int64_t)n);
    case 0x8a: return op_long(vm, 1);
    case 0x8b: return op_long(vm, 4);
    case 'G': return op_binfloat(vm);
    case 'X': return op_string(vm, 4, PK_STR);
    case 0x8c: return op_string(vm, 1, PK_STR);
    case 0x8d: return op_string(vm, 8, PK_STR);
    case 'U': return op_string(vm, 1, PK_STR);                  /* SHORT_BINSTRING */
    case 'T': return op_string(vm, 4, PK_STR);                  /* BINSTRING */
    case 'C': return op_string(vm, 1, PK_BYTES);
    case 'B': return op_string(vm, 4, PK_BYTES);
    case 0x8e: return op_string(vm, 8, PK_BYTES);
    case 0x85: return op_tuple_n(vm, 1);
    case 0x86: return op_tuple_n(vm, 2);
    case 0x87: return op_tuple_n(vm, 3);
    case 't': return op_tuple_mark(vm);
    case 's': return op_setitem(vm);
    case 'u': return op_fill(vm, PK_DICT);
    case 'a': return op_append(vm);
    case 'e': return op_fill(vm, PK_LIST);
    case 'q': WM_TRY(read_uint(vm, 1, &n)); return memo_put(vm, n);
    case 'r': WM_TRY(read_uint(vm, 4, &n)); return memo_put(vm, n);
    case 0x94: return memo_put(vm, vm->memo_len);
    case 'h': WM_TRY(read_uint(vm, 1, &n)); return memo_get(vm, n);
    case 'j': WM_TRY(read_uint(vm, 4, &n)); return memo_get(vm, n);
    case 'c': return op_global(vm, 0);
    case 0x93: return op_global(vm, 1);
    case 'R': return op_reduce(vm);
    case 'b': return op_build(vm);
    case 'Q': return op_persid(vm);
    case '0': return op_pop(vm);
    case '1': { size_t k = 0; WM_TRY(pop_mark(vm, &k)); vm->sp = k; return WM_OK; }
    case '2': { pk_obj *o; WM_TRY(top(vm, &o)); return push(vm, o); }
    case '.': return pop(vm, result);
    default:
        vm->p--;
        return pk_fail(vm, WM_ERR_UNSUPPORTED, "unsupported pickle opcode 0x%02x", op);
    }
}

wm_status wm__unpickle_state_dict(const uint8_t *buf, size_t len, const char *where, wm_pk_tensor_fn fn, void *ctx,
                                  wm_error *err)
{
    wm_error local = {0};
    if (!err) err = &local;
    err->code = WM_OK;
    pk_vm vm = {.start = buf, .p = buf, .end = buf + len, .where = where, .err = err};
    pk_obj *result = NULL;
    wm_status st = WM_OK;
    while (st == WM_OK && !result) {
        if (vm.p >= vm.end) { st = pk_fail(&vm, WM_ERR_FORMAT, "truncated pickle (no STOP)"); break; }
        int op = *vm.p++;
        st = step(&vm, op, &result);
    }
    if (st == WM_OK) st = pk_extract_state_dict(&vm, result, fn, ctx);
    vm_free(&vm);
    return st;
}
