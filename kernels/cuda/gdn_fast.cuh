/* gdn_fast.cuh -- the second-generation GDN kernels (gdn_fast.cu), reached from the op entry points in
 * gdn.cu. Each launcher checks whether its fast path applies (dtypes, head dims, alignment) and sets
 * *done = 0 when it does not, so the caller runs the previous kernels unchanged; WM_CUDA_GDN=old at
 * backend creation (wm_cuda_ctx.gdn_old) skips them entirely. Shape/dtype validation stays in gdn.cu.
 */
#ifndef WM_KERNELS_CUDA_GDN_FAST_CUH
#define WM_KERNELS_CUDA_GDN_FAST_CUH

#include "cuda_common.cuh"
#include "cam_emb.cuh"

/* Chunk bounds travel by value as a kernel argument: no host-to-device copy, so the scan can be captured
 * into a CUDA graph, and 512 chunks (25 minutes of video in the chunk-causal teacher) fit in 2 KB. */
#define WM_MAX_SCAN_CHUNKS 512
typedef struct { int b[WM_MAX_SCAN_CHUNKS + 1]; } scan_bounds;

/* Per-kernel shared-memory opt-in of the fast kernels, cached in the backend (wm_cuda_ctx.gdn_smem). */
enum { WM_GSM_GRAM14, WM_GSM_GRAM7, WM_GSM_SCAN_TC16, WM_GSM_SCAN_TC64, WM_GSM_SCAN_TC112, WM_GSM_SCAN_TC128,
       WM_GSM_SCAN_VEC, WM_GSM_OUT, WM_GSM_OUTE };
wm_status wm__gdn_smem_optin(wm_backend *be, const void *func, int slot, size_t bytes);

/* P, A fp32 (T,H,D,D) / (T,H,D,Dv); k, v bf16 (N, H*D); beta (N, H). */
wm_status wm__gdn_gram_fast(wm_backend *be, const wm_tensor *k, const wm_tensor *v, const wm_tensor *beta,
                            int n_frames, wm_tensor *P, wm_tensor *A, int *done);
/* Validated arguments of wm_gdn_scan; sb holds the bounds (reverse, or both directions). rstates != NULL
 * (gdn_scan_fr, reverse == 0): the reverse scan into rstates runs in the same launch (grid z / y = 2). */
wm_status wm__gdn_scan_fast(wm_backend *be, const wm_tensor *P, const wm_tensor *A, const wm_tensor *g,
                            const wm_tensor *init, int reverse, const scan_bounds *sb, int n_chunks,
                            wm_tensor *states, wm_tensor *final_state, wm_tensor *rstates, int *done);
/* Validated arguments of wm_gdn_output (tensor-core path: D = Dv = 112, bf16 q/qd/out); emb
 * (gdn_output_ucpe, no denominator): the output through the camera embedding, else NULL. */
wm_status wm__gdn_output_fast(wm_backend *be, const wm_tensor *q, const wm_tensor *Mf, const wm_tensor *Mr,
                              const wm_tensor *qd, const wm_tensor *zf, const wm_tensor *zr, float eps,
                              const cam_emb_args *emb, wm_tensor *out, int *done);

/* dit_conv.cu: depthwise 3x3 + GLU on the column-group kernel; silu = 1 applies SiLU to every input value
 * as it is read (the depthwise3x3_silu_glu op of dit_fused.cu can call this first). *done = 0 when the
 * shape is declined (the caller runs its own kernel). */
extern "C" wm_status wm__dw_glu_cols(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                     int n_frames, int grid_h, int grid_w, wm_tensor *y, int silu, int *done);
/* The CUDA argument checks of depthwise3x3_glu and depthwise3x3_silu_glu: device float tensors, the shared
 * shape contract (kernels/dit_shapes.c), x/y and w/b of one dtype each. */
extern "C" wm_status wm__dw_glu_check(wm_backend *be, const wm_tensor *x, const wm_tensor *w, const wm_tensor *b,
                                      int n_frames, int grid_h, int grid_w, const wm_tensor *y);

#endif
