/* hud.c -- formats the HUD rows and packs the present shader's uniform block (see hud.h).
 *
 * Text is packed one byte per cell, 0 meaning "no cell" (the video shows through) so rows of
 * different lengths only darken the background behind their own text. The HUD scales with the
 * target height (2x font pixels from 640 lines) so it stays readable on large windows.
 */
#include "render/hud.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void wm_hud_compose(const wm_hud_stats *s, char rows[WM_HUD_ROWS][WM_HUD_COLS + 1])
{
    memset(rows, 0, (size_t)WM_HUD_ROWS * (WM_HUD_COLS + 1));
    const float *m = s->pose.c2w;
    int k = 0;
    snprintf(rows[k++], WM_HUD_COLS + 1, " WM %s SEED %llu %dx%d%s ", s->source ? s->source : "?",
             (unsigned long long)s->seed, s->width, s->height, s->recording ? "  REC" : "");
    char lag[24] = "";
    if (s->input_lag_ms >= 0) snprintf(lag, sizeof lag, "  LAG %.0f MS", s->input_lag_ms);
    snprintf(rows[k++], WM_HUD_COLS + 1, " GEN %.1f FPS  CHUNK %.0f MS  BUFFER %d/%d%s ", s->gen_fps, s->chunk_ms,
             s->buf_depth, s->buf_cap, lag);
    snprintf(rows[k++], WM_HUD_COLS + 1, " POS X %+.2f Y %+.2f Z %+.2f ", m[3], m[7], m[11]);
    snprintf(rows[k++], WM_HUD_COLS + 1, " YAW %+.1f PITCH %+.1f ", s->yaw_deg, s->pitch_deg);
    snprintf(rows[k++], WM_HUD_COLS + 1, " KEYS %.48s ", s->keys[0] ? s->keys : "-");
    snprintf(rows[k++], WM_HUD_COLS + 1, " FRAME %lld  CHUNK %lld [%d/%d]  DROPPED %lld ", (long long)s->frame_index,
             (long long)s->chunk_index, s->frame_in_chunk + 1, s->frames_per_chunk, (long long)s->dropped);
    snprintf(rows[k++], WM_HUD_COLS + 1, " H HUD  F11 FULLSCREEN  TAB MOUSE%s  ESC QUIT ", s->mouse_captured ? " ON" : "");
}

void wm_letterbox(int fb_w, int fb_h, int vid_w, int vid_h, float rect[4])
{
    if (vid_w <= 0 || vid_h <= 0 || fb_w <= 0 || fb_h <= 0) { rect[0] = rect[1] = rect[2] = rect[3] = 0; return; }
    /* Integer math so a target of exactly the video size maps texel centres onto pixel centres. */
    long w = fb_w, h = (long)fb_w * vid_h / vid_w;
    if (h > fb_h) { h = fb_h; w = (long)fb_h * vid_w / vid_h; }
    long x0 = (fb_w - w) / 2, y0 = (fb_h - h) / 2;
    rect[0] = (float)x0; rect[1] = (float)y0; rect[2] = (float)(x0 + w); rect[3] = (float)(y0 + h);
}

void wm_hud_pack(wm_hud_uniform *u, int fb_w, int fb_h, int vid_w, int vid_h, int enabled,
                 char rows[WM_HUD_ROWS][WM_HUD_COLS + 1], float chunk_progress, int boundary)
{
    memset(u, 0, sizeof *u);
    wm_letterbox(fb_w, fb_h, vid_w, vid_h, u->video_rect);
    float scale = floorf((float)fb_h / 320.0f); /* 2x font pixels from 640 lines up */
    if (scale < 1) scale = 1;
    u->hud_box[0] = u->video_rect[0] + 6 * scale;
    u->hud_box[1] = u->video_rect[1] + 6 * scale;
    u->hud_box[2] = scale;
    u->hud_box[3] = enabled ? 1.0f : 0.0f;
    u->marker[0] = chunk_progress;
    u->marker[1] = boundary ? 1.0f : 0.0f;
    u->hud_color[0] = 1.0f; u->hud_color[1] = 0.95f; u->hud_color[2] = 0.7f;
    u->hud_color[3] = 0.45f; /* background keeps 45% of the video brightness */
    uint8_t font[WM_HUD_GLYPHS][8];
    wm__font_build(font);
    memcpy(u->font, font, sizeof font); /* little-endian: byte i of the table is byte i%4 of word i/4 */
    if (!enabled || !rows) return;
    uint8_t cells[WM_HUD_COLS * WM_HUD_ROWS];
    memset(cells, 0, sizeof cells);
    for (int r = 0; r < WM_HUD_ROWS; r++)
        for (int c = 0; c < WM_HUD_COLS && rows[r][c]; c++) cells[r * WM_HUD_COLS + c] = (uint8_t)(32 + wm__font_glyph(rows[r][c]));
    memcpy(u->text, cells, sizeof cells);
}
