/* session.c -- one connection: read a request, act on the connection's world, reply; repeat.
 *
 * Error policy: a request whose framing is broken (bad magic or version, length above the bound,
 * a truncated read) gets an ERROR reply and the connection is closed, because the byte stream can no
 * longer be trusted; a well-framed request with a bad payload or a failing world call gets an ERROR
 * reply and the connection continues. Nothing a client sends can stop the server: every failure ends
 * at most this connection, and its world and snapshots are freed on the way out (also after a
 * disconnect in the middle of a step: the reply fails to send and the loop ends).
 */
#include "wm/serve/protocol.h"
#include "wm/serve/server_internal.h"
#include "wm/serve/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TEXT 4096

typedef struct sess {
    wm_conn *c;
    wm_server *s;
    int authed;
    wm_world *world;
    wm_snapshot **snaps;       /* max_snapshots slots; id = slot + 1 */
    uint32_t req;              /* request id being answered */
    uint8_t *buf;              /* request payload */
    size_t cap;
} sess;

enum { KEEP = 0, DROP = -1 };

static int send_msg(sess *x, uint16_t type, const void *payload, uint32_t n)
{
    uint8_t h[16];
    wm_wire_header(h, type, n, x->req);
    if (wm_wire_send_all(x->c->fd, h, 16) != 0) return DROP;
    return (n && wm_wire_send_all(x->c->fd, payload, n) != 0) ? DROP : KEEP;
}

static int send_error(sess *x, wm_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int send_error(sess *x, wm_status code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n >= (int)sizeof msg) n = (int)sizeof msg - 1;
    uint8_t out[8 + sizeof msg];
    wm_wr w = wm_wr_init(out, sizeof out);
    wm_wr_u32(&w, (uint32_t)code);
    wm_wr_u32(&w, (uint32_t)n);
    wm_wr_bytes(&w, msg, (size_t)n);
    return send_msg(x, WM_MSG_ERROR, out, (uint32_t)w.pos);
}

static void copy_text(char *dst, const uint8_t *src, uint32_t n)
{
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int on_hello(sess *x, wm_rd *r)
{
    uint32_t n;
    const uint8_t *tok = wm_rd_blob(r, MAX_TEXT, &n);
    if (!wm_rd_done(r)) return send_error(x, WM_ERR_PROTOCOL, "HELLO: malformed payload");
    const char *want = x->s->token;
    if (want && want[0]) {
        size_t wl = strlen(want);
        unsigned diff = (unsigned)(wl ^ n);
        for (size_t i = 0; i < wl; i++) diff |= (unsigned)(want[i] ^ (i < n ? tok[i] : 0)); /* no early exit */
        if (diff) { send_error(x, WM_ERR_INVALID_ARG, "HELLO: wrong token"); return DROP; }
    }
    x->authed = 1;
    static const char ver[] = "wm 0.1.0";
    uint8_t out[64];
    wm_wr w = wm_wr_init(out, sizeof out);
    wm_wr_u32(&w, WM_PROTO_VERSION);
    wm_wr_u32(&w, x->s->p.max_message);
    wm_wr_u32(&w, (uint32_t)x->s->p.max_worlds);
    wm_wr_u32(&w, (uint32_t)(sizeof ver - 1));
    wm_wr_bytes(&w, ver, sizeof ver - 1);
    return send_msg(x, WM_MSG_HELLO_OK, out, (uint32_t)w.pos);
}

static void free_world(sess *x)
{
    if (!x->world) return;
    wm_world_free(x->world);
    x->world = NULL;
    wm__serve_world_release(x->s);
}

static int on_open(sess *x, wm_rd *r)
{
    wm_world_params p = wm_world_default_params();
    memset(&p, 0, sizeof p);
    p.source = (wm_source)wm_rd_u32(r);
    p.width = (int)wm_rd_u32(r); p.height = (int)wm_rd_u32(r);
    p.fps = (int)wm_rd_u32(r); p.frames_per_chunk = (int)wm_rd_u32(r);
    p.seed = wm_rd_u64(r);
    p.hfov_deg = wm_rd_f32(r);
    uint32_t threads = wm_rd_u32(r), n;
    const uint8_t *prompt = wm_rd_blob(r, MAX_TEXT, &n);
    if (!wm_rd_done(r)) return send_error(x, WM_ERR_PROTOCOL, "OPEN: malformed payload");
    if (x->world) return send_error(x, WM_ERR_STATE, "OPEN: this connection has a world already (CLOSE it first)");
    char text[MAX_TEXT + 1];
    if (prompt) { copy_text(text, prompt, n); p.prompt = text; }
    p.model_path = x->s->model_path;
    int maxt = x->s->p.world_threads;
    p.n_threads = (maxt > 0 && (threads == 0 || (int)threads > maxt)) ? maxt : (int)(threads > 256 ? 256 : threads);
    uint64_t w = p.width ? (uint64_t)p.width : 1280, h = p.height ? (uint64_t)p.height : 704;
    uint64_t f = p.frames_per_chunk ? (uint64_t)p.frames_per_chunk : 24;
    if (p.width > 8192 || p.height > 8192 || f > 256 || w * h * 3 * f > x->s->p.max_chunk_bytes)
        return send_error(x, WM_ERR_LIMIT, "OPEN: %llu frames of %llux%llu exceed this server's chunk limit (%llu bytes)",
                          (unsigned long long)f, (unsigned long long)h, (unsigned long long)w,
                          (unsigned long long)x->s->p.max_chunk_bytes);
    if (!wm__serve_world_acquire(x->s)) return send_error(x, WM_ERR_LIMIT, "OPEN: server has %d worlds open already", x->s->p.max_worlds);
    wm_status st = wm_world_open(&p, &x->world);
    if (st != WM_OK) {
        wm__serve_world_release(x->s);
        x->world = NULL;
        return send_error(x, st, "OPEN: %s%s", wm_status_str(st),
                          st == WM_ERR_UNSUPPORTED ? " (the requested source is not available in this build)" : "");
    }
    wm_world_get_params(x->world, &p);
    uint8_t out[28];
    wm_wr o = wm_wr_init(out, sizeof out);
    wm_wr_u32(&o, (uint32_t)p.source); wm_wr_u32(&o, (uint32_t)p.width); wm_wr_u32(&o, (uint32_t)p.height);
    wm_wr_u32(&o, (uint32_t)p.fps); wm_wr_u32(&o, (uint32_t)p.frames_per_chunk); wm_wr_f32(&o, p.hfov_deg);
    wm_wr_u32(&o, (uint32_t)p.n_threads);
    return send_msg(x, WM_MSG_OPENED, out, (uint32_t)o.pos);
}

static void rd_pose(wm_rd *r, wm_pose *p)
{
    for (int i = 0; i < 16; i++) p->c2w[i] = wm_rd_f32(r);
    p->fx = wm_rd_f32(r); p->fy = wm_rd_f32(r); p->cx = wm_rd_f32(r); p->cy = wm_rd_f32(r);
}

static void wr_pose(wm_wr *w, const wm_pose *p)
{
    for (int i = 0; i < 16; i++) wm_wr_f32(w, p->c2w[i]);
    wm_wr_f32(w, p->fx); wm_wr_f32(w, p->fy); wm_wr_f32(w, p->cx); wm_wr_f32(w, p->cy);
}

/* FRAMES: prefix and poses in one small buffer, then the pixels straight from the world's buffer. */
static int send_frames(sess *x, const wm_frames *f)
{
    size_t pix = (size_t)f->n * (size_t)f->width * (size_t)f->height * 3;
    size_t head = WM_PROTO_FRAMES_PREFIX + (size_t)f->n * WM_PROTO_POSE_BYTES;
    uint8_t *b = malloc(16 + head);
    if (!b) return send_error(x, WM_ERR_OUT_OF_MEMORY, "FRAMES: out of memory");
    wm_wire_header(b, WM_MSG_FRAMES, (uint32_t)(head + pix), x->req);
    wm_wr w = wm_wr_init(b + 16, head);
    wm_wr_u64(&w, (uint64_t)f->chunk_index); wm_wr_u64(&w, (uint64_t)f->first_frame);
    wm_wr_u32(&w, (uint32_t)f->n); wm_wr_u32(&w, (uint32_t)f->width); wm_wr_u32(&w, (uint32_t)f->height);
    wm_wr_f64(&w, f->ms_generate); wm_wr_f64(&w, f->ms_total);
    for (int i = 0; i < f->n; i++) wr_pose(&w, &f->poses[i]);
    int rc = wm_wire_send_all(x->c->fd, b, 16 + head) == 0 && wm_wire_send_all(x->c->fd, f->rgb, pix) == 0 ? KEEP : DROP;
    free(b);
    return rc;
}

static int world_failed(sess *x, const char *what, wm_status st)
{
    return send_error(x, st, "%s: %s", what, wm_world_last_error(x->world));
}

static int need_world(sess *x, const char *what)
{
    if (x->world) return 1;
    send_error(x, WM_ERR_STATE, "%s: no world open on this connection (send OPEN first)", what);
    return 0;
}

/* The start image travels as file bytes; the world API takes a path, so it goes through a private
 * temporary file that is removed right after the reset. */
static int on_reset(sess *x, wm_rd *r)
{
    wm_reset_params rp = wm_reset_default_params();
    wm_pose pose;
    rp.seed = wm_rd_u64(r);
    uint32_t has_pose = wm_rd_u32(r), n_prompt, n_image;
    rd_pose(r, &pose);
    const uint8_t *prompt = wm_rd_blob(r, MAX_TEXT, &n_prompt);
    const uint8_t *image = wm_rd_blob(r, x->s->p.max_message, &n_image);
    if (!wm_rd_done(r) || has_pose > 1) return send_error(x, WM_ERR_PROTOCOL, "RESET: malformed payload");
    if (!need_world(x, "RESET")) return KEEP;
    char text[MAX_TEXT + 1], path[] = "/tmp/wm-serve-start-XXXXXX";
    if (n_prompt) { copy_text(text, prompt, n_prompt); rp.prompt = text; }
    if (has_pose) rp.start_pose = &pose;
    int fd = -1;
    if (n_image) {
        fd = mkstemp(path);
        int ok = fd >= 0 && write(fd, image, n_image) == (ssize_t)n_image;
        if (!ok) { if (fd >= 0) { close(fd); unlink(path); } return send_error(x, WM_ERR_IO, "RESET: cannot store the start image"); }
        rp.image_path = path;
    }
    wm_frames f;
    wm_status st = wm_world_reset(x->world, &rp, &f);
    if (fd >= 0) { close(fd); unlink(path); }
    return st == WM_OK ? send_frames(x, &f) : world_failed(x, "RESET", st);
}

static int on_step_actions(sess *x, wm_rd *r)
{
    uint32_t n = wm_rd_u32(r);
    if (!r->ok || n > 256 || r->n - r->pos != (size_t)n * WM_PROTO_ACTION_BYTES)
        return send_error(x, WM_ERR_PROTOCOL, "STEP_ACTIONS: malformed payload (count %u)", n);
    wm_action a[256];
    for (uint32_t i = 0; i < n; i++) {
        a[i].keys = wm_rd_u32(r);
        a[i].move_x = wm_rd_f32(r); a[i].move_y = wm_rd_f32(r); a[i].move_z = wm_rd_f32(r);
        a[i].yaw = wm_rd_f32(r); a[i].pitch = wm_rd_f32(r);
        a[i].n_frames = (int)wm_rd_u32(r);
    }
    if (!need_world(x, "STEP_ACTIONS")) return KEEP;
    wm_frames f;
    wm_status st = wm_world_step_actions(x->world, a, (int)n, &f);
    return st == WM_OK ? send_frames(x, &f) : world_failed(x, "STEP_ACTIONS", st);
}

static int on_step_poses(sess *x, wm_rd *r)
{
    uint32_t n = wm_rd_u32(r);
    if (!r->ok || n > 256 || r->n - r->pos != (size_t)n * WM_PROTO_POSE_BYTES)
        return send_error(x, WM_ERR_PROTOCOL, "STEP_POSES: malformed payload (count %u)", n);
    wm_pose p[256];
    for (uint32_t i = 0; i < n; i++) rd_pose(r, &p[i]);
    if (!need_world(x, "STEP_POSES")) return KEEP;
    wm_frames f;
    wm_status st = wm_world_step_poses(x->world, p, (int)n, &f);
    return st == WM_OK ? send_frames(x, &f) : world_failed(x, "STEP_POSES", st);
}

static int send_u32(sess *x, uint16_t type, uint32_t v)
{
    uint8_t out[4];
    wm_wr w = wm_wr_init(out, 4);
    wm_wr_u32(&w, v);
    return send_msg(x, type, out, 4);
}

static int on_snapshot(sess *x, wm_rd *r)
{
    if (!wm_rd_done(r)) return send_error(x, WM_ERR_PROTOCOL, "SNAPSHOT: unexpected payload");
    if (!need_world(x, "SNAPSHOT")) return KEEP;
    int slot = -1;
    for (int i = 0; i < x->s->p.max_snapshots && slot < 0; i++)
        if (!x->snaps[i]) slot = i;
    if (slot < 0) return send_error(x, WM_ERR_LIMIT, "SNAPSHOT: %d snapshots held already (free some)", x->s->p.max_snapshots);
    wm_status st = wm_world_snapshot(x->world, &x->snaps[slot]);
    return st == WM_OK ? send_u32(x, WM_MSG_SNAPSHOT_ID, (uint32_t)slot + 1) : world_failed(x, "SNAPSHOT", st);
}

/* Snapshot slot of an id, or -1 (with an ERROR sent). */
static int snap_slot(sess *x, wm_rd *r, const char *what)
{
    uint32_t id = wm_rd_u32(r);
    if (!wm_rd_done(r)) { send_error(x, WM_ERR_PROTOCOL, "%s: malformed payload", what); return -1; }
    if (id == 0 || id > (uint32_t)x->s->p.max_snapshots || !x->snaps[id - 1]) {
        send_error(x, WM_ERR_NOT_FOUND, "%s: no snapshot %u on this connection", what, id);
        return -1;
    }
    return (int)id - 1;
}

static int on_restore(sess *x, wm_rd *r)
{
    int slot = snap_slot(x, r, "RESTORE");
    if (slot < 0 || !need_world(x, "RESTORE")) return KEEP;
    wm_status st = wm_world_restore(x->world, x->snaps[slot]);
    return st == WM_OK ? send_msg(x, WM_MSG_OK, NULL, 0) : world_failed(x, "RESTORE", st);
}

static int on_snapshot_free(sess *x, wm_rd *r)
{
    int slot = snap_slot(x, r, "SNAPSHOT_FREE");
    if (slot < 0) return KEEP;
    wm_snapshot_free(x->snaps[slot]);
    x->snaps[slot] = NULL;
    return send_msg(x, WM_MSG_OK, NULL, 0);
}

static int on_close(sess *x, wm_rd *r)
{
    if (!wm_rd_done(r)) return send_error(x, WM_ERR_PROTOCOL, "CLOSE: unexpected payload");
    free_world(x);
    return send_msg(x, WM_MSG_OK, NULL, 0);
}

static int dispatch(sess *x, uint16_t type, wm_rd *r)
{
    if (!x->authed && type != WM_MSG_HELLO) {
        send_error(x, WM_ERR_PROTOCOL, "this server needs a token: send HELLO with it first");
        return DROP;
    }
    switch (type) {
    case WM_MSG_HELLO: return on_hello(x, r);
    case WM_MSG_OPEN: return on_open(x, r);
    case WM_MSG_RESET: return on_reset(x, r);
    case WM_MSG_STEP_ACTIONS: return on_step_actions(x, r);
    case WM_MSG_STEP_POSES: return on_step_poses(x, r);
    case WM_MSG_SNAPSHOT: return on_snapshot(x, r);
    case WM_MSG_RESTORE: return on_restore(x, r);
    case WM_MSG_SNAPSHOT_FREE: return on_snapshot_free(x, r);
    case WM_MSG_CLOSE: return on_close(x, r);
    default:
        wm__serve_count_protocol_error(x->s);
        return send_error(x, WM_ERR_PROTOCOL, "unknown message type %u", type);
    }
}

/* Read one request into x->buf; returns its type, or -1 when the connection must end. */
static int read_request(sess *x, uint32_t *len)
{
    uint8_t h[16];
    int rc = wm_wire_recv_all(x->c->fd, h, 16);
    if (rc == -2) { send_error(x, WM_ERR_LIMIT, "idle for %d s: closing", x->s->p.idle_timeout_s); return -1; }
    if (rc != 0) return -1;
    wm_msg_header mh = wm_wire_parse_header(h);
    x->req = mh.request_id;
    if (!mh.magic_ok || mh.version != WM_PROTO_VERSION) {
        wm__serve_count_protocol_error(x->s);
        send_error(x, WM_ERR_PROTOCOL, "bad header: expected magic WMAP version %d", WM_PROTO_VERSION);
        return -1;
    }
    if (mh.length > x->s->p.max_message) {
        wm__serve_count_protocol_error(x->s);
        send_error(x, WM_ERR_LIMIT, "message of %u bytes exceeds the limit of %u", mh.length, x->s->p.max_message);
        return -1;
    }
    if (mh.length > x->cap) {
        uint8_t *nb = realloc(x->buf, mh.length);
        if (!nb) { send_error(x, WM_ERR_OUT_OF_MEMORY, "out of memory for a %u-byte message", mh.length); return -1; }
        x->buf = nb;
        x->cap = mh.length;
    }
    if (mh.length && wm_wire_recv_all(x->c->fd, x->buf, mh.length) != 0) return -1;
    *len = mh.length;
    return mh.type;
}

/* Closing a socket with unread input makes the kernel send a reset, which can destroy the ERROR reply
 * still in flight to a client that sent garbage. So: stop sending, drain what the peer sent (bounded
 * in bytes and time), then shut down. A peer that already left costs nothing here. */
static void linger_close(int fd)
{
    shutdown(fd, SHUT_WR);
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char sink[4096];
    for (int i = 0; i < 256 && recv(fd, sink, sizeof sink, 0) > 0; i++) {}
    shutdown(fd, SHUT_RDWR);
}

void *wm__serve_conn_main(void *arg)
{
    wm_conn *c = arg;
    sess x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.s = c->srv;
    x.authed = !(x.s->token && x.s->token[0]);
    x.snaps = calloc((size_t)x.s->p.max_snapshots, sizeof *x.snaps);
    for (int type; x.snaps;) {
        uint32_t len = 0;
        if ((type = read_request(&x, &len)) < 0) break;
        wm_rd r = wm_rd_init(x.buf, len);
        if (dispatch(&x, (uint16_t)type, &r) == DROP) break;
    }
    free_world(&x);
    for (int i = 0; x.snaps && i < x.s->p.max_snapshots; i++) wm_snapshot_free(x.snaps[i]);
    free(x.snaps);
    free(x.buf);
    linger_close(c->fd); /* the fd itself is closed by the reaper after join (no reuse race) */
    pthread_mutex_lock(&x.s->mu);
    x.s->stats.clients--;
    c->done = 1;
    pthread_mutex_unlock(&x.s->mu);
    return NULL;
}
