/* recorder.c -- MP4 + sidecar pair behind one handle (see recorder.h). */
#include "recordings/recorder.h"
#ifdef WM_HAVE_FFMPEG
#include "recordings/mp4.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wm_recorder {
    wm_sidecar *sc;
#ifdef WM_HAVE_FFMPEG
    wm_mp4 *mp4;
#endif
    char sidecar_path[2048];
};

void wm_recorder_default_sidecar(const char *mp4, char *out, size_t cap)
{
    size_t n = strlen(mp4);
    if (n > 4 && strcasecmp(mp4 + n - 4, ".mp4") == 0) snprintf(out, cap, "%.*s.json", (int)(n - 4), mp4);
    else snprintf(out, cap, "%s.json", mp4);
}

const char *wm_recorder_sidecar_path(const wm_recorder *r) { return r->sidecar_path; }

wm_status wm_recorder_open(const wm_recorder_params *p, wm_recorder **out, wm_error *err)
{
    *out = NULL;
    wm_recorder *r = calloc(1, sizeof *r);
    if (!r) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "recorder: out of memory");
    if (p->sidecar_path) snprintf(r->sidecar_path, sizeof r->sidecar_path, "%s", p->sidecar_path);
    else if (p->mp4_path) wm_recorder_default_sidecar(p->mp4_path, r->sidecar_path, sizeof r->sidecar_path);
    else { free(r); return wm__errf(err, WM_ERR_INVALID_ARG, "recorder: no output path"); }
    wm_sidecar_info info = p->info;
    if (p->mp4_path) {
        const char *slash = strrchr(p->mp4_path, '/');
        info.video_path = slash ? slash + 1 : p->mp4_path; /* relative to the sidecar's folder */
#ifdef WM_HAVE_FFMPEG
        wm_mp4_params mp = {.width = info.width, .height = info.height, .fps = info.fps > 0 ? (int)(info.fps + 0.5f) : 16};
        wm_status st = wm_mp4_open(p->mp4_path, &mp, &r->mp4, err);
        if (st != WM_OK) { free(r); return st; }
#else
        free(r);
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: this build has no MP4 support (FFmpeg libraries not found)", p->mp4_path);
#endif
    }
    wm_status st = wm_sidecar_open(r->sidecar_path, &info, &r->sc, err);
    if (st != WM_OK) {
#ifdef WM_HAVE_FFMPEG
        wm_mp4_abandon(r->mp4);
#endif
        free(r);
        return st;
    }
    *out = r;
    return WM_OK;
}

wm_status wm_recorder_add_frame(wm_recorder *r, const wm_frames *f, int i, const uint8_t *shown, wm_error *err)
{
    return wm_recorder_add_frame_action(r, f, i, shown, NULL, err);
}

wm_status wm_recorder_add_frame_action(wm_recorder *r, const wm_frames *f, int i, const uint8_t *shown, const wm_action *a,
                                       wm_error *err)
{
    const uint8_t *rgb = f->rgb + (size_t)i * f->width * f->height * 3;
    wm_status st = wm_sidecar_add_frame(r->sc, f->first_frame + i, f->chunk_index, &f->poses[i], rgb, a);
    if (st != WM_OK) return wm__errf(err, st, "%s: write failed", r->sidecar_path);
#ifdef WM_HAVE_FFMPEG
    if (r->mp4) WM_TRY(wm_mp4_write_rgb(r->mp4, shown ? shown : rgb, err));
#else
    (void)shown;
#endif
    return WM_OK;
}

wm_status wm_recorder_add_event(wm_recorder *r, double t_s, int64_t frame, const char *device, const char *name, int value)
{
    return wm_sidecar_add_event(r->sc, t_s, frame, device, name, value);
}

void wm_recorder_flush(wm_recorder *r) { wm_sidecar_flush(r->sc); }

wm_status wm_recorder_close(wm_recorder *r, wm_error *err)
{
    if (!r) return WM_OK;
    wm_status st = WM_OK;
#ifdef WM_HAVE_FFMPEG
    st = wm_mp4_close(r->mp4, err);
#endif
    wm_status st2 = wm_sidecar_close(r->sc, st == WM_OK ? err : NULL);
    free(r);
    return st != WM_OK ? st : st2;
}

void wm_recorder_abandon(wm_recorder *r)
{
    if (!r) return;
#ifdef WM_HAVE_FFMPEG
    wm_mp4_abandon(r->mp4);
#endif
    wm_sidecar_abandon(r->sc);
    free(r);
}
