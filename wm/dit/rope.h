/* 3-D RoPE tables (spec §2.7) and the camera half-RoPE slice (spec §4.4), per token.
 *
 * Axis sub-dims: h = w = 2*floor(D/6), t = D - 2h; angle = p * theta^(-2i/d_axis). The main table has
 * D/2 pairs [t | h | w]; the camera table the FIRST half of each axis's frequencies of the same full-head
 * tables ([t10 | h9 | w9] for D = 112), D/4 pairs. Frames are absolute indices frame0 .. frame0+T-1
 * (streaming chunks keep their absolute positions). Angles in double, cos/sin stored fp32.
 */
#ifndef WM_DIT_ROPE_H
#define WM_DIT_ROPE_H

/* Pairs per token: D/2 (cam = 0) or t/4 + h/4 + w/4 (cam = 1). */
int wm_dit_rope_pairs(int head_dim, int cam);
/* cos, sin: (T*H*W, pairs) */
void wm_dit_rope_tables(int head_dim, double theta, int frame0, int T, int grid_h, int grid_w, int cam,
                        float *cos_out, float *sin_out);

#endif
