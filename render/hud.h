/* hud.h -- HUD text composition and the uniform block the present shader reads (pure CPU, tested
 * without Vulkan).
 *
 * The HUD is a WM_HUD_COLS x WM_HUD_ROWS character grid drawn by the fragment shader from an embedded
 * 5x7 bitmap font (render/font.c); this module formats the statistics into that grid and packs grid +
 * font + layout into wm_hud_uniform, whose layout matches the std140 block in shaders/present.frag.
 */
#ifndef WM_RENDER_HUD_H
#define WM_RENDER_HUD_H

#include "render/shaders/shared.h"
#include "wm/wm.h"
#include <stdint.h>

/* What the HUD shows. */
typedef struct wm_hud_stats {
    const char *source;        /* "procedural" / "model" */
    uint64_t seed;
    int width, height;         /* video size */
    double gen_fps;            /* frames generated per second (moving average) */
    double chunk_ms;           /* wall time of the last chunk */
    double input_lag_ms;       /* input sampled -> frame following it shown; < 0 = n/a */
    int buf_depth, buf_cap;    /* frames waiting in the ring / capacity */
    wm_pose pose;              /* pose of the displayed frame */
    float yaw_deg, pitch_deg;
    char keys[64];             /* held controls, from wm_action_describe */
    int64_t frame_index;       /* displayed video frame */
    int64_t chunk_index;       /* chunk of the displayed frame */
    int frame_in_chunk, frames_per_chunk;
    int64_t dropped;           /* frames skipped because the display fell behind */
    int mouse_captured;
    int recording;             /* 1 while writing an MP4 */
} wm_hud_stats;

/* std140 layout of `uniform Hud` in present.frag. */
typedef struct wm_hud_uniform {
    float video_rect[4];
    float hud_box[4];
    float marker[4];
    float hud_color[4];
    uint32_t font[WM_HUD_FONT_WORDS];
    uint32_t text[WM_HUD_TEXT_WORDS];
} wm_hud_uniform;

/* Format the stats into text rows (NUL-terminated, at most WM_HUD_COLS chars each). */
void wm_hud_compose(const wm_hud_stats *s, char rows[WM_HUD_ROWS][WM_HUD_COLS + 1]);

/* Fill the uniform: font table, text grid (rows may be NULL when disabled), letterboxed video rect
 * for a fb_w x fb_h target, HUD scale, chunk marker. */
void wm_hud_pack(wm_hud_uniform *u, int fb_w, int fb_h, int vid_w, int vid_h, int enabled,
                 char rows[WM_HUD_ROWS][WM_HUD_COLS + 1], float chunk_progress, int boundary);

/* Largest rectangle of the video's aspect centred in the target: x0, y0, x1, y1 (integers). */
void wm_letterbox(int fb_w, int fb_h, int vid_w, int vid_h, float rect[4]);

/* Font internals (render/font.c). */
void wm__font_build(uint8_t table[WM_HUD_GLYPHS][8]);
uint8_t wm__font_glyph(char c);

#endif
