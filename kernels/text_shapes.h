/* Shape contracts of the text (Gemma-2) ops that both backends share (kernels/ops_text.def).
 *
 * The CPU reference and the CUDA kernels of an op must accept exactly the same calls, so each contract
 * is written once here and called by both implementations; what differs per backend (accepted dtypes,
 * the kernels' own limits such as the largest head dim) stays in the backend's file. Each function
 * records a message naming the op in be->err (WM_OP_CHECK uses __func__) and returns the status.
 */
#ifndef WM_KERNELS_TEXT_SHAPES_H
#define WM_KERNELS_TEXT_SHAPES_H

#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x, y (N, H*D) with D even; cos, sin N*D/2 elements each; in place only with one dtype. */
wm_status wm_rope_half_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *cos, const wm_tensor *sin,
                             int n_heads, const wm_tensor *y);
/* q, o (N, H*D); k, v (N, Hkv*D); H a multiple of Hkv; key_mask NULL or N uint8/bool; o aliases none. */
wm_status wm_attention_gqa_shape(wm_backend *be, const wm_tensor *q, const wm_tensor *k, const wm_tensor *v,
                                 const wm_tensor *key_mask, int n_heads, int n_kv_heads, const wm_tensor *o);
/* table (R, C), ids (T) int32, x (T, C); x aliases neither. */
wm_status wm_embed_rows_shape(wm_backend *be, const wm_tensor *table, const wm_tensor *ids, const wm_tensor *x);
/* qkv (N, (H + 2 Hkv) D) with D even; q (N, H*D); k, v (N, Hkv*D); cos, sin N*D/2 each; no aliasing. */
wm_status wm_qkv_rope_split_shape(wm_backend *be, const wm_tensor *qkv, const wm_tensor *cos, const wm_tensor *sin,
                                  int n_heads, int n_kv_heads, const wm_tensor *q, const wm_tensor *k,
                                  const wm_tensor *v);
/* gu (N, 2F), f (N, F); f does not alias gu. */
wm_status wm_gelu_mul_shape(wm_backend *be, const wm_tensor *gu, const wm_tensor *f);
/* x, a, y (N, C); w1, w2 C elements each; x aliases neither a nor y (y may alias a). */
wm_status wm_norm_add_norm_shape(wm_backend *be, const wm_tensor *x, const wm_tensor *a, const wm_tensor *w1,
                                 const wm_tensor *w2, const wm_tensor *y);

#ifdef __cplusplus
}
#endif
#endif
