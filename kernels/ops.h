/* ops.h -- every compute op of wm, declared once.
 *
 * Each op is one line in an ops_*.def list: X(name, (parameters), (argument names)). From that line
 * this header generates
 *   - the public entry point   wm_status wm_<name>(wm_backend *be, ...)   (dispatches on be->ops),
 *   - the CPU reference         wm_status wm_<name>_cpu(wm_backend *be, ...)   (kernels/cpu/<name>.c),
 *   - the CUDA implementation   wm_status wm_<name>_cuda(wm_backend *be, ...)  (kernels/cuda/<name>.cu),
 *   - a slot in struct wm_ops.
 * The CPU table must fill every slot (the reference is the oracle for tests); the CUDA table fills the
 * ops it has, and an op it lacks returns WM_ERR_UNSUPPORTED naming the op. Ops are grouped by who
 * introduced them (common, DiT, VAE, text) only to keep each list short; any model may call any op.
 *
 * Conventions for all ops: tensors are contiguous row-major; "rows" are all dims but the last;
 * activations are (tokens, channels) = (N, C) with token order frame-major (f, row, col); shapes are
 * checked and violations return WM_ERR_SHAPE / WM_ERR_DTYPE with the op name in be->err. CPU ops take
 * fp32; CUDA ops take bf16 or fp32 as each op documents. Outputs may not alias inputs unless stated.
 */
#ifndef WM_KERNELS_OPS_H
#define WM_KERNELS_OPS_H

#include "wm/core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fused activations for epilogues and elementwise ops. */
typedef enum wm_act { WM_ACT_NONE = 0, WM_ACT_SILU, WM_ACT_GELU_TANH, WM_ACT_RELU } wm_act;

#define WM_OPS_ALL(X)                                                                              \
    WM_OPS_COMMON(X)                                                                               \
    WM_OPS_DIT(X)                                                                                  \
    WM_OPS_VAE(X)                                                                                  \
    WM_OPS_TEXT(X)

#include "kernels/ops_common.def"
#include "kernels/ops_dit.def"
#include "kernels/ops_text.def"
#include "kernels/ops_vae.def"

#define WM__OP_SLOT(name, params, args) wm_status(*name) params;
struct wm_ops {
    WM_OPS_ALL(WM__OP_SLOT)
};
#undef WM__OP_SLOT

#define WM__OP_PROTO(name, params, args)                                                           \
    wm_status wm_##name params;                                                                    \
    wm_status wm_##name##_cpu params;                                                              \
    wm_status wm_##name##_cuda params;
WM_OPS_ALL(WM__OP_PROTO)
#undef WM__OP_PROTO

/* Op ids (WM_OP_<name>, in list order) for observers (wm_backend.op_observer) and their names. */
#define WM__OP_ID(name, params, args) WM_OP_##name,
typedef enum wm_op_id { WM_OPS_ALL(WM__OP_ID) WM_OP_COUNT } wm_op_id;
#undef WM__OP_ID
const char *wm_op_name(int op_id); /* "matmul"; "?" out of range */

extern const struct wm_ops wm__ops_cpu;
extern const struct wm_ops wm__ops_cuda;

/* Shared argument checks for op implementations: record a message in be->err and return the code. */
wm_status wm__op_check(wm_backend *be, const char *op, int cond, wm_status code, const char *what);
#define WM_OP_CHECK(be, cond, code, what)                                                          \
    do {                                                                                           \
        if (!(cond)) return wm__op_check((be), __func__, 0, (code), (what));                       \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
