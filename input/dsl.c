/* dsl.c -- the action DSL of spec §4.9: "w-80,jw-40,none-8" -> per-frame held keys -> poses.
 *
 * Grammar as the reference's parse_action_string: whitespace is removed and the full-width comma
 * U+FF0C counts as ',', segments are "<keys>-<frames>" split at the LAST '-', keys are letters from
 * "wasdijkl" (case-insensitive, repeated letters allowed) or the word "none", frames is a positive
 * decimal. Errors name the 1-based segment and its text. The rollout starts at the identity and
 * returns n+1 poses, pose 0 being the start, like action_string_to_c2w.
 */
#include "input/trajectory.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint32_t letter_key(char c)
{
    switch (tolower((unsigned char)c)) {
    case 'w': return WM_KEY_FORWARD;
    case 's': return WM_KEY_BACK;
    case 'a': return WM_KEY_YAW_LEFT;
    case 'd': return WM_KEY_YAW_RIGHT;
    case 'i': return WM_KEY_PITCH_UP;
    case 'k': return WM_KEY_PITCH_DOWN;
    case 'j': return WM_KEY_STRAFE_LEFT;
    case 'l': return WM_KEY_STRAFE_RIGHT;
    default: return 0;
    }
}

/* Copy dsl without whitespace, mapping U+FF0C (EF BC 8C) to ','. */
static char *clean(const char *dsl)
{
    size_t n = strlen(dsl), k = 0;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)dsl[i];
        if (isspace(c)) continue;
        if (c == 0xEF && i + 2 < n && (unsigned char)dsl[i + 1] == 0xBC && (unsigned char)dsl[i + 2] == 0x8C) {
            s[k++] = ',';
            i += 2;
            continue;
        }
        s[k++] = (char)c;
    }
    s[k] = 0;
    return s;
}

static wm_status parse_segment(const char *seg, int idx, uint32_t *keys, long *frames, wm_error *err)
{
    const char *dash = strrchr(seg, '-');
    if (!*seg || !dash) return wm__errf(err, WM_ERR_FORMAT, "action segment %d '%s': expected '<keys>-<frames>'", idx, seg);
    const char *d = dash + 1;
    long n = 0;
    if (!*d) return wm__errf(err, WM_ERR_FORMAT, "action segment %d '%s': missing frame count", idx, seg);
    for (; *d; d++) {
        if (!isdigit((unsigned char)*d)) return wm__errf(err, WM_ERR_FORMAT, "action segment %d '%s': frame count is not a number", idx, seg);
        n = n * 10 + (*d - '0');
        if (n > WM_TRAJ_MAX_FRAMES) return wm__errf(err, WM_ERR_LIMIT, "action segment %d '%s': more than %d frames", idx, seg, WM_TRAJ_MAX_FRAMES);
    }
    if (n <= 0) return wm__errf(err, WM_ERR_FORMAT, "action segment %d '%s': non-positive frame count", idx, seg);
    size_t klen = (size_t)(dash - seg);
    uint32_t k = 0;
    if (!(klen == 4 && strncasecmp(seg, "none", 4) == 0)) {
        for (size_t i = 0; i < klen; i++) {
            uint32_t b = letter_key(seg[i]);
            if (!b) return wm__errf(err, WM_ERR_FORMAT, "action segment %d '%s': unknown key '%c' (allowed: adijklsw)", idx, seg, seg[i]);
            k |= b;
        }
    }
    *keys = k;
    *frames = n;
    return WM_OK;
}

wm_status wm_dsl_parse(const char *dsl, uint32_t **keys_out, int *n_out, wm_error *err)
{
    *keys_out = NULL;
    *n_out = 0;
    char *s = clean(dsl);
    if (!s) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "action string: out of memory");
    wm_status st = WM_OK;
    uint32_t *keys = NULL;
    long total = 0, cap = 0;
    if (!*s) { st = wm__errf(err, WM_ERR_FORMAT, "action string is empty"); goto done; }
    int idx = 0;
    for (char *seg = s, *next; seg; seg = next) {
        next = strchr(seg, ',');
        if (next) *next++ = 0;
        uint32_t k = 0;
        long n = 0;
        if ((st = parse_segment(seg, ++idx, &k, &n, err)) != WM_OK) goto done;
        if (total + n > WM_TRAJ_MAX_FRAMES) { st = wm__errf(err, WM_ERR_LIMIT, "action string: more than %d frames", WM_TRAJ_MAX_FRAMES); goto done; }
        if (total + n > cap) {
            cap = (total + n) * 2;
            uint32_t *nk = realloc(keys, (size_t)cap * sizeof *keys);
            if (!nk) { st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "action string: out of memory"); goto done; }
            keys = nk;
        }
        for (long i = 0; i < n; i++) keys[total++] = k;
    }
done:
    free(s);
    if (st != WM_OK) { free(keys); return st; }
    *keys_out = keys;
    *n_out = (int)total;
    return WM_OK;
}

wm_status wm_trajectory_from_dsl(const char *dsl, const wm_camera_params *cam, wm_trajectory *out, wm_error *err)
{
    memset(out, 0, sizeof *out);
    uint32_t *keys = NULL;
    int n = 0;
    WM_TRY(wm_dsl_parse(dsl, &keys, &n, err));
    if (n + 1 > WM_TRAJ_MAX_FRAMES) { free(keys); return wm__errf(err, WM_ERR_LIMIT, "action string: too many frames"); }
    out->poses = calloc((size_t)n + 1, sizeof *out->poses);
    if (!out->poses) { free(keys); return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "action string: out of memory"); }
    out->n_frames = n + 1;
    wm_camera_state s;
    wm_camera_reset(&s, cam, NULL);
    out->fps = s.p.fps;
    out->width = s.p.width;
    out->height = s.p.height;
    wm_camera_pose(&s, &out->poses[0]);
    for (int i = 0; i < n; i++) {
        wm_action a;
        memset(&a, 0, sizeof a);
        a.keys = keys[i];
        wm_camera_step(&s, &a, &out->poses[i + 1]);
    }
    free(keys);
    return WM_OK;
}
