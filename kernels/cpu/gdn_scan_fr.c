/* gdn_scan_fr: the forward and the reverse gdn_scan of one (P, A, g), in that order. The reference is
 * literally the two scans, so the fused model forward stays bit-identical to the two-call one. */
#include "kernels/ops.h"

wm_status wm_gdn_scan_fr_cpu(wm_backend *be, const wm_tensor *P, const wm_tensor *A, const wm_tensor *g,
                             const wm_tensor *init, const int *bounds, int n_chunks, wm_tensor *states,
                             wm_tensor *final_state, wm_tensor *rstates)
{
    WM_OP_CHECK(be, rstates && states && rstates->data != states->data, WM_ERR_INVALID_ARG,
                "rstates must be a tensor of its own");
    WM_TRY(wm_gdn_scan_cpu(be, P, A, g, init, 0, bounds, n_chunks, states, final_state));
    return wm_gdn_scan_cpu(be, P, A, g, NULL, 1, bounds, n_chunks, rstates, NULL);
}
