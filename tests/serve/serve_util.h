/* serve_util.h -- a minimal C client for the agent protocol, for the server tests: an in-process server
 * on its own thread, loopback connections with receive timeouts (a hang fails, never blocks CI), and
 * request builders. Header-only statics: one test executable includes it. */
#ifndef WM_TESTS_SERVE_UTIL_H
#define WM_TESTS_SERVE_UTIL_H

#include "testing.h"
#include "wm/serve/protocol.h"
#include "wm/serve/server.h"
#include "wm/serve/wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define W 48
#define H 32
#define FPC 4

typedef struct { wm_server *s; pthread_t th; } srv_t;

static void *run_srv(void *arg) { wm_server_run(((srv_t *)arg)->s); return NULL; }

static int start(srv_t *t, wm_server_params p)
{
    wm_error err = {0};
    if (wm_server_create(&p, &t->s, &err) != WM_OK) { fprintf(stderr, "server: %s\n", err.msg); return 0; }
    pthread_create(&t->th, NULL, run_srv, t);
    return 1;
}

static void stop(srv_t *t)
{
    wm_server_stop(t->s);
    pthread_join(t->th, NULL);
    wm_server_free(t->s);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0}; /* generous for valgrind; a hang fails instead of blocking CI */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1; /* header and payload go out in two sends: without this, Nagle + delayed ACK cost 40 ms each */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
    return fd;
}

static int send_req(int fd, uint16_t type, const void *payload, uint32_t n)
{
    uint8_t h[16];
    wm_wire_header(h, type, n, 7);
    return wm_wire_send_all(fd, h, 16) == 0 && (n == 0 || wm_wire_send_all(fd, payload, n) == 0);
}

/* Reply type (payload in *out, malloc'ed), or -1 when the connection closed. */
static int recv_reply(int fd, uint8_t **out, uint32_t *n)
{
    uint8_t h[16];
    *out = NULL;
    *n = 0;
    if (wm_wire_recv_all(fd, h, 16) != 0) return -1;
    wm_msg_header mh = wm_wire_parse_header(h);
    if (!mh.magic_ok || mh.length > (64u << 20)) return -1;
    *out = malloc(mh.length ? mh.length : 1);
    if (mh.length && wm_wire_recv_all(fd, *out, mh.length) != 0) { free(*out); *out = NULL; return -1; }
    *n = mh.length;
    return mh.type;
}

/* Send and receive; returns the reply type and, for ERROR, stores the status code. */
static int call(int fd, uint16_t type, const void *payload, uint32_t n, uint8_t **out, uint32_t *on, uint32_t *code)
{
    *out = NULL; /* a refused connection fails the send: the caller still frees *out */
    *on = 0;
    if (!send_req(fd, type, payload, n)) return -1;
    int t = recv_reply(fd, out, on);
    if (t == WM_MSG_ERROR && code && *on >= 4) { wm_rd r = wm_rd_init(*out, *on); *code = wm_rd_u32(&r); }
    return t;
}

static int call_simple(int fd, uint16_t type, const void *payload, uint32_t n, uint32_t *code)
{
    uint8_t *b = NULL;
    uint32_t bn = 0;
    int t = call(fd, type, payload, n, &b, &bn, code);
    free(b);
    return t;
}

static int open_world(int fd, int w, int h, int fpc, uint32_t *code)
{
    uint8_t buf[64];
    wm_wr o = wm_wr_init(buf, sizeof buf);
    wm_wr_u32(&o, WM_SOURCE_PROCEDURAL); wm_wr_u32(&o, (uint32_t)w); wm_wr_u32(&o, (uint32_t)h);
    wm_wr_u32(&o, 0); wm_wr_u32(&o, (uint32_t)fpc); wm_wr_u64(&o, 0); wm_wr_f32(&o, 0); wm_wr_u32(&o, 1);
    wm_wr_u32(&o, 0);
    return call_simple(fd, WM_MSG_OPEN, buf, (uint32_t)o.pos, code);
}

static uint32_t reset_payload(uint8_t *buf, uint64_t seed)
{
    wm_wr o = wm_wr_init(buf, 128);
    wm_wr_u64(&o, seed); wm_wr_u32(&o, 0);
    for (int i = 0; i < 20; i++) wm_wr_f32(&o, 0);
    wm_wr_u32(&o, 0); wm_wr_u32(&o, 0);
    return (uint32_t)o.pos;
}

static uint32_t action_payload(uint8_t *buf, uint32_t keys)
{
    wm_wr o = wm_wr_init(buf, 64);
    wm_wr_u32(&o, 1); wm_wr_u32(&o, keys);
    for (int i = 0; i < 5; i++) wm_wr_f32(&o, 0);
    wm_wr_u32(&o, 0);
    return (uint32_t)o.pos;
}

/* RGB bytes of a FRAMES payload, after checking its size. */
static const uint8_t *frames_rgb(const uint8_t *b, uint32_t n, int expect_frames, int64_t *chunk)
{
    wm_rd r = wm_rd_init(b, n);
    *chunk = (int64_t)wm_rd_u64(&r);
    wm_rd_u64(&r);
    uint32_t nf = wm_rd_u32(&r), w = wm_rd_u32(&r), h = wm_rd_u32(&r);
    size_t head = WM_PROTO_FRAMES_PREFIX + (size_t)nf * WM_PROTO_POSE_BYTES;
    if ((int)nf != expect_frames || n != head + (size_t)nf * w * h * 3) return NULL;
    return b + head;
}

#endif
