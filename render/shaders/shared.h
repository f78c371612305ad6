/* shared.h -- constants shared by the C renderer and the GLSL shaders (included by both), so the
 * HUD grid and font table sizes can never disagree between host and shader. */
#ifndef WM_RENDER_SHARED_H
#define WM_RENDER_SHARED_H

#define WM_HUD_COLS 64        /* characters per HUD row */
#define WM_HUD_ROWS 8         /* HUD rows */
#define WM_HUD_GLYPHS 96      /* ASCII 32..127 */
#define WM_HUD_FONT_WORDS (WM_HUD_GLYPHS * 8 / 4)          /* 8 bytes per glyph, 4 per uint */
#define WM_HUD_TEXT_WORDS (WM_HUD_COLS * WM_HUD_ROWS / 4)  /* 1 byte per cell */

#endif
