/* camera_window.c -- the camera tensors of one streaming chunk (spec §4.2, §4.7) from raw frame 0 and
 * the chunk's own 24 poses, without keeping the pose history.
 *
 * Every pose is made relative to raw frame 0 of the rollout. Latent frame i >= 1 uses raw frame 8i
 * (camera_conditions) and raw frames 8i-7 .. 8i (Plücker); latent frame 0 uses raw frames 0 .. 7.
 * DiT chunk c >= 1 covers latent frames 1+3c .. 3+3c, i.e. raw frames 24c+1 .. 24c+24: exactly the
 * poses of the step. So the window [raw 0, the step's 24 poses] viewed as a 25-frame clip gives, in
 * its latent frames 1..3, the tensors of the chunk's 3 latent frames (for chunk 0 the window IS raw
 * 0..24 and all 4 latent frames are used). The DiT's camera functions run on that window unchanged.
 */
#include "wm/session/session_internal.h"

#include "wm/dit/camera.h"

#include <string.h>

void wm__session_camera(wm_session *s, const wm_pose *poses)
{
    int nw = s->fps + 1, n0 = s->n0, S = s->S, P = s->cfg->plucker_channels;
    for (int i = 0; i < nw; i++) {
        const wm_pose *p = i == 0 ? &s->pose0 : &poses[i - 1];
        memcpy(s->c2w + (size_t)i * 16, p->c2w, 64);
        float *k = s->intr + (size_t)i * 4;
        k[0] = p->fx, k[1] = p->fy, k[2] = p->cx, k[3] = p->cy;
    }
    wm_dit_relative_poses(s->c2w, nw, s->rel);
    wm_dit_latent_intrinsics(s->intr, nw, s->H, s->W, s->h, s->w, s->lintr);
    wm_dit_camera_conditions(s->rel, s->lintr, nw, n0, s->stride, s->cam_w);
    wm_dit_chunk_plucker(s->rel, s->lintr, nw, n0, s->h, s->w, s->stride, s->plk_w);
    int skip = s->chunk == 0 ? 0 : 1, n = n0 - skip;
    memcpy(s->cam, s->cam_w + (size_t)skip * 20, (size_t)n * 20 * 4);
    for (int c = 0; c < P; c++) /* (P, n0, S) -> (P, n, S) */
        memcpy(s->plk + (size_t)c * n * S, s->plk_w + ((size_t)c * n0 + skip) * S, (size_t)n * S * 4);
}
