/* depthwise3x3_silu_glu reference: the GLUMBConv spatial part on SiLU(x), i.e. depthwise3x3_glu with the
 * inverted conv's SiLU applied to every input value as it is read (zero padding stays zero: the conv
 * pads SiLU's output). It runs depthwise3x3_glu.c's loop (wm__depthwise3x3_glu_ref) with SiLU by the
 * expression the matmul epilogue uses, so [matmul(NONE) -> this] is bit-identical to [matmul(SILU) ->
 * depthwise3x3_glu] (tests/dit/test_dit_fused.c).
 */
#include "cpu_common.h"

wm_status wm_depthwise3x3_silu_glu_cpu(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                       int n_frames, int grid_h, int grid_w, wm_tensor *y)
{
    return wm__depthwise3x3_glu_ref(be, "wm_depthwise3x3_silu_glu_cpu", x, w, b, n_frames, grid_h, grid_w, y, 1);
}
