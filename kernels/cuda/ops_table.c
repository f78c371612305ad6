/* The CUDA op table. Unlike the CPU table (which must be complete, as every op's oracle), this one lists
 * the ops that have a CUDA implementation; a slot left out stays NULL and wm_<op>() on a CUDA backend
 * answers WM_ERR_UNSUPPORTED naming the op, instead of crashing. Add an op here when its kernel and its
 * parity test (tests/kernels/) exist. */
#include "kernels/ops.h"

const struct wm_ops wm__ops_cuda = {
    /* ops_common.def */
    .matmul = wm_matmul_cuda,
    .rmsnorm = wm_rmsnorm_cuda,
    .layernorm_modulate = wm_layernorm_modulate_cuda,
    .activate = wm_activate_cuda,
    .gated_add = wm_gated_add_cuda,
    .mul = wm_mul_cuda,
    .attention = wm_attention_cuda,
    .convert = wm_convert_cuda,
};
