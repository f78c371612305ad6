/* The CPU op table: the fp32 reference of every op in kernels/ops_*.def. It must be complete (each op's
 * reference is the oracle for its CUDA version), so it is generated from the op lists: a missing
 * wm_<op>_cpu is a link error, not a silent gap. */
#include "kernels/ops.h"

#define WM__OP_CPU(name, params, args) .name = wm_##name##_cpu,
const struct wm_ops wm__ops_cpu = {WM_OPS_ALL(WM__OP_CPU)};
#undef WM__OP_CPU
