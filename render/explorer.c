/* explorer.c -- the live explorer loop and its generator thread (see explorer.h).
 *
 * Pacing: video tick k is due at t0 + k/fps. At each due tick the UI samples input, pops the frames
 * that are due (normally one; after a hitch several, showing the newest and counting the rest as
 * dropped) and draws. When the ring runs dry the schedule restarts from the next frame that arrives,
 * so a slow generator gives a steady but stalled picture rather than a burst. FIFO present blocks
 * at most one refresh, which keeps the loop at display rate between ticks.
 */
#define GLFW_INCLUDE_VULKAN
#include "render/explorer.h"
#include "input/keymap.h"
#include "recordings/recorder.h"
#include "render/renderer.h"
#include "render/ring.h"
#include "wm/world/image.h"

#include <GLFW/glfw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EV_CAP 512

typedef struct explorer {
    const wm_explore_opts *o;
    wm_world *world;
    wm_world_params wp;
    wm_ring ring;
    wm_recorder *rec;
    pthread_mutex_t mu;                 /* guards the fields below */
    double gen_fps, chunk_ms;
    int64_t generated;
    wm_status gen_status;
    char gen_err[WM_ERRMSG_MAX];
    int gen_done;
    wm_input_event ev[EV_CAP];
    int64_t ev_frame[EV_CAP];
    int n_ev;
} explorer;

/* ---------------------------------------------------------------- generator thread */

static void gen_fail(explorer *e, wm_status st, const char *msg)
{
    pthread_mutex_lock(&e->mu);
    e->gen_status = st;
    snprintf(e->gen_err, sizeof e->gen_err, "%s", msg);
    pthread_mutex_unlock(&e->mu);
}

static wm_status gen_publish(explorer *e, const wm_frames *f, double ms, const double *input_t, const wm_action *acts)
{
    wm_error err = {0};
    if (e->rec) {
        pthread_mutex_lock(&e->mu);
        for (int i = 0; i < e->n_ev; i++)
            wm_recorder_add_event(e->rec, e->ev[i].t, e->ev_frame[i], e->ev[i].device, e->ev[i].name, e->ev[i].value);
        e->n_ev = 0;
        pthread_mutex_unlock(&e->mu);
        for (int i = 0; i < f->n; i++)
            if (wm_recorder_add_frame_action(e->rec, f, i, NULL, acts ? &acts[i] : NULL, &err) != WM_OK) { gen_fail(e, err.code, err.msg); return err.code; }
        wm_recorder_flush(e->rec);
    }
    size_t fb = (size_t)f->width * f->height * 3;
    for (int i = 0; i < f->n; i++) {
        int64_t idx = f->first_frame + i;
        int in_chunk = f->chunk_index == 0 ? 0 : (int)((idx - 1) % e->wp.frames_per_chunk);
        wm_ring_push(&e->ring, f->rgb + fb * i, &f->poses[i], idx, f->chunk_index, in_chunk, input_t ? input_t[i] : 0);
    }
    pthread_mutex_lock(&e->mu);
    e->generated += f->n;
    e->chunk_ms = ms;
    if (ms > 0 && f->chunk_index > 0) e->gen_fps = 1000.0 * f->n / ms;
    pthread_mutex_unlock(&e->mu);
    return WM_OK;
}

/* One chunk's actions: those sampled since the last chunk (most recent fpc), padded with the last. */
static int gen_actions(explorer *e, wm_action *acts, double *ts, wm_action *last, double *last_t)
{
    int fpc = e->wp.frames_per_chunk;
    int k = wm_ring_take_actions(&e->ring, acts, ts, fpc);
    for (int i = 0; i < fpc; i++) {
        if (i < k) { *last = acts[i]; *last_t = ts[i]; }
        else { acts[i] = *last; ts[i] = *last_t; }
        acts[i].n_frames = 1;
    }
    return fpc;
}

/* How many frames may still be queued when the next chunk starts: enough to cover the last chunk's
 * generation time with 50% margin plus two ticks, so the screen does not run dry, and no more, so input
 * reaches the screen as early as the chunk structure allows. Before the first timing: one chunk.
 * A generator slower than real time gets the whole ring (it cannot keep up either way). */
static int gen_lead_frames(const explorer *e)
{
    int fpc = e->wp.frames_per_chunk, most = e->ring.cap - fpc;
    if (e->chunk_ms <= 0) return fpc < most ? fpc : most;
    double lead = 1.5 * e->chunk_ms * e->wp.fps / 1000.0 + 2.0;
    return lead >= most ? most : (int)lead;
}

static void *gen_main(void *arg)
{
    explorer *e = arg;
    const wm_explore_opts *o = e->o;
    int fpc = e->wp.frames_per_chunk;
    wm_action *acts = calloc((size_t)fpc, sizeof *acts), last;
    double *ts = calloc((size_t)fpc, sizeof *ts), last_t = 0;
    wm_pose *pad = calloc((size_t)fpc, sizeof *pad);
    memset(&last, 0, sizeof last);
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = o->seed;
    rp.prompt = o->prompt;
    rp.image_path = o->image_path;
    rp.start_pose = o->traj ? &o->traj->poses[0] : NULL;
    wm_frames f;
    wm_status st = acts && ts && pad ? wm_world_reset(e->world, &rp, &f) : WM_ERR_OUT_OF_MEMORY;
    if (st != WM_OK) { gen_fail(e, st, wm_world_last_error(e->world)); goto done; }
    if (gen_publish(e, &f, f.ms_total, NULL, NULL) != WM_OK) goto done;
    int64_t next = 1;
    while (wm_ring_wait_ready(&e->ring, fpc, gen_lead_frames(e))) {
        const double *input_t = NULL;
        if (o->traj) {
            if (next >= o->traj->n_frames) break;
            int n = (int)(o->traj->n_frames - next < fpc ? o->traj->n_frames - next : fpc);
            const wm_pose *poses = &o->traj->poses[next];
            next += n;
            if (n < fpc && e->wp.source == WM_SOURCE_MODEL) { /* whole chunks only: hold the last pose */
                for (int i = 0; i < fpc; i++) pad[i] = poses[i < n ? i : n - 1];
                poses = pad;
                n = fpc;
            }
            st = wm_world_step_poses(e->world, poses, n, &f);
        } else {
            st = wm_world_step_actions(e->world, acts, gen_actions(e, acts, ts, &last, &last_t), &f);
            input_t = ts;
        }
        if (st != WM_OK) { gen_fail(e, st, wm_world_last_error(e->world)); break; }
        if (gen_publish(e, &f, f.ms_total, input_t, input_t ? acts : NULL) != WM_OK) break;
    }
done:
    free(acts);
    free(ts);
    free(pad);
    pthread_mutex_lock(&e->mu);
    e->gen_done = 1;
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---------------------------------------------------------------- UI thread */

typedef struct ui {
    GLFWwindow *win;
    wm_renderer *r;
    wm_glfw_input in;
    wm_ring_slot shown;
    int have_frame, hud, fullscreen;
    int win_x, win_y, win_w, win_h;
    wm_action held;
    double shown_at;             /* when the shown frame was first drawn */
} ui;

static void toggle_fullscreen(ui *u)
{
    GLFWmonitor *mon = glfwGetPrimaryMonitor();
    if (!u->fullscreen && mon) {
        glfwGetWindowPos(u->win, &u->win_x, &u->win_y);
        glfwGetWindowSize(u->win, &u->win_w, &u->win_h);
        const GLFWvidmode *vm = glfwGetVideoMode(mon);
        glfwSetWindowMonitor(u->win, mon, 0, 0, vm->width, vm->height, vm->refreshRate);
        u->fullscreen = 1;
    } else if (u->fullscreen) {
        glfwSetWindowMonitor(u->win, NULL, u->win_x, u->win_y, u->win_w, u->win_h, 0);
        u->fullscreen = 0;
    }
}

static void hud_rows(explorer *e, ui *u, char rows[WM_HUD_ROWS][WM_HUD_COLS + 1], int64_t dropped)
{
    wm_hud_stats s;
    memset(&s, 0, sizeof s);
    s.source = e->wp.source == WM_SOURCE_MODEL ? "model" : "procedural";
    s.seed = e->o->seed;
    s.width = e->wp.width;
    s.height = e->wp.height;
    pthread_mutex_lock(&e->mu);
    s.gen_fps = e->gen_fps;
    s.chunk_ms = e->chunk_ms;
    pthread_mutex_unlock(&e->mu);
    s.input_lag_ms = u->shown.input_t > 0 ? 1000.0 * u->shown_at - 1000.0 * u->shown.input_t : -1;
    s.buf_depth = wm_ring_depth(&e->ring);
    s.buf_cap = e->ring.cap;
    s.pose = u->shown.pose;
    wm_camera_state cs;
    wm_camera_reset(&cs, NULL, &u->shown.pose);
    wm_camera_angles(&cs, &s.yaw_deg, &s.pitch_deg);
    wm_action_describe(&u->held, s.keys, sizeof s.keys);
    s.frame_index = u->shown.frame_index;
    s.chunk_index = u->shown.chunk_index;
    s.frame_in_chunk = u->shown.frame_in_chunk;
    s.frames_per_chunk = e->wp.frames_per_chunk;
    s.dropped = dropped;
    s.mouse_captured = u->in.mouse_captured;
    s.recording = e->rec != NULL;
    wm_hud_compose(&s, rows);
}

/* Queue this tick's input for the generator and its events for the recording. */
static void ui_sample(explorer *e, ui *u, int64_t tick)
{
    if (e->o->on_tick) e->o->on_tick(e->o->user, tick, &u->in);
    u->held = wm_glfw_input_sample(&u->in);
    wm_ring_put_action(&e->ring, &u->held, glfwGetTime());
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < u->in.n_events && e->n_ev < EV_CAP; i++) {
        e->ev[e->n_ev] = u->in.events[i];
        e->ev_frame[e->n_ev++] = u->shown.frame_index;
    }
    pthread_mutex_unlock(&e->mu);
    u->in.n_events = 0;
}

static wm_status ui_draw(explorer *e, ui *u, int64_t dropped, int capture, wm_error *err)
{
    char rows[WM_HUD_ROWS][WM_HUD_COLS + 1];
    wm_overlay ov = {0};
    if (u->hud) {
        hud_rows(e, u, rows, dropped);
        ov.rows = rows;
        ov.chunk_progress = u->shown.chunk_index == 0 ? 1.0f : (float)(u->shown.frame_in_chunk + 1) / e->wp.frames_per_chunk;
        ov.boundary = u->shown.frame_in_chunk == 0;
    }
    if (capture) wm_renderer_request_capture(u->r);
    int fw, fh, shown;
    glfwGetFramebufferSize(u->win, &fw, &fh);
    return wm_renderer_draw(u->r, fw, fh, &ov, &shown, err);
}

static int max_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > m) m = d;
    }
    return m;
}

static wm_status ui_screenshot(explorer *e, ui *u, wm_explore_result *res, wm_error *err)
{
    WM_TRY(ui_draw(e, u, res->dropped, 1, err));
    const uint8_t *cap;
    int cw, ch;
    if (!wm_renderer_capture(u->r, &cap, &cw, &ch)) return wm__errf(err, WM_ERR_VULKAN, "screenshot: no read-back");
    if (u->have_frame && cw == e->wp.width && ch == e->wp.height)
        res->capture_max_diff = max_abs_diff(cap, u->shown.rgb, (size_t)cw * ch * 3);
    return e->o->screenshot ? wm_image_write(e->o->screenshot, cw, ch, cap, err) : WM_OK;
}

static int gen_finished(explorer *e, wm_status *st, char *msg)
{
    pthread_mutex_lock(&e->mu);
    int done = e->gen_done;
    *st = e->gen_status;
    snprintf(msg, WM_ERRMSG_MAX, "%s", e->gen_err);
    pthread_mutex_unlock(&e->mu);
    return done;
}

static wm_status ui_loop(explorer *e, ui *u, wm_explore_result *res, wm_error *err)
{
    const double dt = 1.0 / e->wp.fps;
    double next = glfwGetTime();
    int64_t tick = 0;
    char gmsg[WM_ERRMSG_MAX];
    wm_status gst;
    while (!glfwWindowShouldClose(u->win) && !u->in.quit) {
        double now = glfwGetTime();
        if (now < next) {
            glfwWaitEventsTimeout(next - now);
            continue;
        }
        glfwPollEvents();
        ui_sample(e, u, tick++);
        /* Frames due by now: normally 1; more only if the UI fell behind. */
        int due = 1 + (int)floor((now - next) / dt);
        int got = wm_ring_pop(&e->ring, due, &u->shown);
        if (got > 0) { res->frames_shown += got; res->dropped += got - 1; u->have_frame = 1; u->shown_at = now; }
        /* Advance past every tick consumed (advancing by one would leave the clock behind and drop a
         * frame on every following tick); an empty ring or a long hitch restarts the schedule. */
        next = (got == 0 || now - next > 0.25) ? now + dt : next + due * dt;
        if (u->have_frame) WM_TRY(wm_renderer_set_frame(u->r, u->shown.rgb, e->wp.width, e->wp.height, err));
        if (u->in.toggle_hud) { u->hud = !u->hud; u->in.toggle_hud = 0; }
        if (u->in.toggle_fullscreen) { toggle_fullscreen(u); u->in.toggle_fullscreen = 0; }
        wm_status st = ui_draw(e, u, res->dropped, 0, err);
        if (st != WM_OK) wm__log(WM_LOG_WARN, "draw failed (last frame stays): %s", err->msg); /* fail soft */
        if (e->o->max_frames > 0 && res->frames_shown >= e->o->max_frames) break;
        if (gen_finished(e, &gst, gmsg)) {
            if (gst != WM_OK) return wm__errf(err, gst, "generator: %s", gmsg);
            if (got == 0 && wm_ring_depth(&e->ring) == 0 && e->o->traj) break; /* trajectory played out */
        }
    }
    res->last_pose = u->shown.pose;
    return u->have_frame ? ui_screenshot(e, u, res, err) : WM_OK;
}

static wm_status ui_open(explorer *e, ui *u, wm_error *err)
{
    if (!glfwInit()) return wm__errf(err, WM_ERR_NO_DISPLAY, "cannot open a window (no display?): use --headless -o out.mp4");
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    int w = e->o->win_w, h = e->o->win_h;
    if (w <= 0 || h <= 0) {
        int s = e->wp.width < 800 ? 2 : 1;
        w = e->wp.width * s;
        h = e->wp.height * s;
    }
    GLFWmonitor *mon = e->o->fullscreen ? glfwGetPrimaryMonitor() : NULL;
    const GLFWvidmode *vm = mon ? glfwGetVideoMode(mon) : NULL;
    u->win = glfwCreateWindow(vm ? vm->width : w, vm ? vm->height : h, "wm explore", mon, NULL);
    if (!u->win) return wm__errf(err, WM_ERR_NO_DISPLAY, "glfwCreateWindow failed");
    u->fullscreen = mon != NULL;
    u->win_x = u->win_y = 40; u->win_w = w; u->win_h = h;
    wm_glfw_input_attach(&u->in, u->win);
    wm_render_params rp = {.validate = e->o->validate};
    WM_TRY(wm_renderer_open_window(u->win, &rp, &u->r, err));
    u->shown.rgb = calloc((size_t)e->wp.width * e->wp.height, 3);
    if (!u->shown.rgb) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "explore: out of memory");
    u->hud = !e->o->no_hud;
    return WM_OK;
}

static void ui_close(ui *u)
{
    wm_renderer_free(u->r);
    if (u->win) glfwDestroyWindow(u->win);
    glfwTerminate();
    free(u->shown.rgb);
}

static wm_status open_recording(explorer *e, wm_error *err)
{
    if (!e->o->record_mp4) return WM_OK;
    wm_recorder_params rp = {.mp4_path = e->o->record_mp4};
    rp.info.source = e->wp.source == WM_SOURCE_MODEL ? "model" : "procedural";
    rp.info.seed = e->o->seed;
    rp.info.prompt = e->o->prompt;
    rp.info.model_path = e->wp.source == WM_SOURCE_MODEL ? e->wp.model_path : NULL;
    rp.info.model_sha256 = e->o->model_sha256;
    rp.info.image_path = e->o->image_path;
    rp.info.image_sha256 = e->o->image_sha256;
    rp.info.embedding_path = e->o->embedding_path;
    rp.info.embedding_sha256 = e->o->embedding_sha256;
    rp.info.width = e->wp.width;
    rp.info.height = e->wp.height;
    rp.info.fps = (float)e->wp.fps;
    rp.info.frames_per_chunk = e->wp.frames_per_chunk;
    return wm_recorder_open(&rp, &e->rec, err);
}

wm_status wm_explore_run(const wm_explore_opts *o, wm_explore_result *res, wm_error *err)
{
    memset(res, 0, sizeof *res);
    res->capture_max_diff = -1;
    explorer e;
    memset(&e, 0, sizeof e);
    e.o = o;
    ui u;
    memset(&u, 0, sizeof u);
    double t0 = 0;
    wm_status st = wm_world_open(&o->world, &e.world);
    if (st != WM_OK) return wm__errf(err, st, "cannot open the world (%s)", wm_status_str(st));
    wm_world_get_params(e.world, &e.wp);
    pthread_mutex_init(&e.mu, NULL);
    int ring_ok = 0, thread_ok = 0;
    pthread_t gen;
    /* Two chunks of buffer: the next chunk can be generated while one is shown, and input latency
     * stays within about two chunks. */
    if ((st = wm_ring_init(&e.ring, 2 * e.wp.frames_per_chunk + 1, e.wp.width, e.wp.height)) != WM_OK) {
        st = wm__errf(err, st, "explore: out of memory");
        goto done;
    }
    ring_ok = 1;
    if ((st = ui_open(&e, &u, err)) != WM_OK) goto done;
    if ((st = open_recording(&e, err)) != WM_OK) goto done;
    t0 = glfwGetTime();
    if (pthread_create(&gen, NULL, gen_main, &e) != 0) { st = wm__errf(err, WM_ERR_STATE, "cannot start the generator thread"); goto done; }
    thread_ok = 1;
    st = ui_loop(&e, &u, res, err);
done:
    if (ring_ok) wm_ring_quit(&e.ring);
    if (thread_ok) pthread_join(gen, NULL);
    if (e.rec && st == WM_OK) st = wm_recorder_close(e.rec, err);
    else wm_recorder_abandon(e.rec); /* failed run: keep only the .part files */
    res->frames_generated = e.generated;
    res->seconds = u.win ? glfwGetTime() - t0 : 0;
    ui_close(&u);
    if (ring_ok) wm_ring_free(&e.ring);
    pthread_mutex_destroy(&e.mu);
    wm_world_free(e.world);
    return st;
}
