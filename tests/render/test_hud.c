/* test_hud.c -- HUD text and uniform packing (no Vulkan): font glyphs present for every character
 * the HUD prints, letterbox geometry, the text grid matches the composed rows. */
#include "render/hud.h"
#include "testing.h"

#include <string.h>

int main(void)
{
    uint8_t font[WM_HUD_GLYPHS][8];
    wm__font_build(font);
    const char *need = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:-+/%()[]=_|<>#?!'*x@";
    for (const char *c = need; *c; c++) {
        uint8_t g = wm__font_glyph(*c);
        int ink = 0;
        for (int y = 0; y < 8; y++) ink += font[g][y] != 0;
        CHECK_MSG(g == (uint8_t)(*c - 32) && ink > 0, "glyph '%c'", *c);
        for (int y = 0; y < 8; y++) CHECK((font[g][y] & 0x81) == 0); /* blank side columns */
        CHECK(font[g][7] == 0);                                        /* blank bottom row */
    }
    CHECK(wm__font_glyph('w') == 'W' - 32 && wm__font_glyph('~') == '?' - 32);

    float r[4];
    wm_letterbox(640, 352, 640, 352, r);
    CHECK(r[0] == 0 && r[1] == 0 && r[2] == 640 && r[3] == 352);
    wm_letterbox(1280, 1024, 640, 352, r); /* wider video: bars top and bottom */
    CHECK(r[0] == 0 && r[2] == 1280 && r[3] - r[1] == 704 && r[1] == 160);
    wm_letterbox(100, 352, 640, 352, r);
    CHECK(r[2] - r[0] == 100 && r[3] - r[1] == 55);

    wm_hud_stats s;
    memset(&s, 0, sizeof s);
    s.source = "procedural"; s.seed = 42; s.width = 640; s.height = 352; s.gen_fps = 31.5; s.chunk_ms = 250;
    s.buf_depth = 12; s.buf_cap = 48; s.pose.c2w[3] = 1.25f; s.pose.c2w[11] = -3.5f; s.yaw_deg = 30;
    strcpy(s.keys, "fwd fast"); s.frame_index = 100; s.chunk_index = 5; s.frame_in_chunk = 3; s.frames_per_chunk = 24;
    char rows[WM_HUD_ROWS][WM_HUD_COLS + 1];
    wm_hud_compose(&s, rows);
    CHECK(strstr(rows[0], "procedural") && strstr(rows[0], "SEED 42"));
    CHECK(strstr(rows[1], "GEN 31.5 FPS") && strstr(rows[1], "BUFFER 12/48") && strstr(rows[1], "LAG 0 MS"));
    CHECK(strstr(rows[2], "X +1.25") && strstr(rows[2], "Z -3.50"));
    CHECK(strstr(rows[3], "YAW +30.0"));
    CHECK(strstr(rows[4], "fwd fast"));
    CHECK(strstr(rows[5], "CHUNK 5 [4/24]"));
    s.input_lag_ms = -1; /* n/a (trajectory-driven): not shown */
    wm_hud_compose(&s, rows);
    CHECK(!strstr(rows[1], "LAG"));
    s.input_lag_ms = 1500;
    wm_hud_compose(&s, rows);
    CHECK(strstr(rows[1], "LAG 1500 MS") != NULL);
    static wm_hud_uniform u;
    wm_hud_pack(&u, 640, 352, 640, 352, 1, rows, 0.25f, 1);
    CHECK(sizeof(wm_hud_uniform) == 64 + 4 * (WM_HUD_FONT_WORDS + WM_HUD_TEXT_WORDS));
    const uint8_t *cells = (const uint8_t *)u.text;
    CHECK(cells[1] == 'W' && cells[2] == 'M');                 /* " WM ..." uppercase glyphs */
    CHECK(cells[WM_HUD_COLS * 7] == 0);                        /* unused row stays transparent */
    CHECK(u.hud_box[3] == 1 && u.marker[0] == 0.25f && u.marker[1] == 1);
    wm_hud_pack(&u, 640, 352, 640, 352, 0, rows, 0, 0);
    CHECK(u.hud_box[3] == 0 && cells[1] == 0);
    TEST_MAIN_END();
}
