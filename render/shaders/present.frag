#version 450
#extension GL_GOOGLE_include_directive : require
// One pass draws everything: the letterboxed video frame, then (when enabled) the HUD text from the
// embedded font and the chunk progress bar. Doing the HUD per pixel from a character grid avoids
// vertex buffers and a second pipeline; the HUD is small so the per-pixel cost is negligible.
#include "shared.h"

layout(set = 0, binding = 0) uniform sampler2D u_frame;
layout(std140, set = 0, binding = 1) uniform Hud {
    vec4 video_rect;   // x0, y0, x1, y1 in framebuffer pixels
    vec4 hud_box;      // x0, y0, pixel scale, enabled
    vec4 marker;       // chunk progress (0..1], boundary flash 0/1, unused, unused
    vec4 hud_color;    // text rgb, background darkening
    uvec4 font[WM_HUD_FONT_WORDS / 4];
    uvec4 text[WM_HUD_TEXT_WORDS / 4];
} u;

layout(location = 0) out vec4 o_color;

uint byte_at_font(uint i) { uint w = u.font[i >> 4][(i >> 2) & 3u]; return (w >> ((i & 3u) * 8u)) & 0xffu; }
uint byte_at_text(uint i) { uint w = u.text[i >> 4][(i >> 2) & 3u]; return (w >> ((i & 3u) * 8u)) & 0xffu; }

void main()
{
    vec2 p = gl_FragCoord.xy;
    vec4 r = u.video_rect;
    vec3 c = vec3(0.0);
    bool in_video = p.x >= r.x && p.y >= r.y && p.x < r.z && p.y < r.w;
    if (in_video) c = texture(u_frame, (p - r.xy) / (r.zw - r.xy)).rgb;
    if (u.hud_box.w > 0.5) {
        // Chunk progress bar along the bottom of the video; it flashes at a chunk boundary.
        if (in_video && p.y >= r.w - 4.0 && (p.x - r.x) < u.marker.x * (r.z - r.x))
            c = u.marker.y > 0.5 ? vec3(1.0, 0.85, 0.1) : vec3(0.2, 0.7, 1.0);
        vec2 q = (p - u.hud_box.xy) / u.hud_box.z;   // in font pixels
        ivec2 cell = ivec2(floor(q / 8.0));
        if (q.x >= 0.0 && q.y >= 0.0 && cell.x < WM_HUD_COLS && cell.y < WM_HUD_ROWS) {
            uint ch = byte_at_text(uint(cell.y * WM_HUD_COLS + cell.x));
            if (ch != 0u) {
                c *= u.hud_color.w;
                ivec2 f = ivec2(floor(q)) - cell * 8;
                uint bits = byte_at_font((ch - 32u) * 8u + uint(f.y));
                if (((bits >> (7u - uint(f.x))) & 1u) != 0u) c = u.hud_color.rgb;
            }
        }
    }
    o_color = vec4(c, 1.0);
}
