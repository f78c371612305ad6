/* server.c -- listening socket, accept loop, connection records and shutdown (see server.h).
 *
 * Finished connection threads are reaped (joined and freed) by the accept loop after every wake-up,
 * and all remaining ones by wm_server_free, which first shuts their sockets down so blocked reads
 * return at once. The connection limit is enforced at accept time with an ERROR reply, so a refused
 * client learns why instead of seeing a silent close.
 */
#include "wm/serve/protocol.h"
#include "wm/serve/server_internal.h"
#include "wm/serve/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

wm_server_params wm_server_default_params(void)
{
    wm_server_params p;
    memset(&p, 0, sizeof p);
    p.bind_addr = "127.0.0.1";
    p.max_clients = 16;
    p.max_worlds = 4;
    p.idle_timeout_s = 300;
    p.max_message = 8u << 20;
    p.max_snapshots = 64;
    p.max_chunk_bytes = 256ull << 20;
    return p;
}

static void resolve(wm_server_params *p)
{
    wm_server_params d = wm_server_default_params();
    if (!p->bind_addr) p->bind_addr = d.bind_addr;
    if (p->max_clients <= 0) p->max_clients = d.max_clients;
    if (p->max_worlds <= 0) p->max_worlds = d.max_worlds;
    if (p->idle_timeout_s <= 0) p->idle_timeout_s = d.idle_timeout_s;
    if (p->max_message == 0) p->max_message = d.max_message;
    if (p->max_snapshots <= 0) p->max_snapshots = d.max_snapshots;
    if (p->max_chunk_bytes == 0) p->max_chunk_bytes = d.max_chunk_bytes;
}

static char *dup_str(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static wm_status listen_on(wm_server *s, wm_error *err)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)s->p.port);
    const char *host = strcmp(s->p.bind_addr, "localhost") ? s->p.bind_addr : "127.0.0.1";
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return wm__errf(err, WM_ERR_INVALID_ARG, "serve: bind address '%s' is not an IPv4 address", s->p.bind_addr);
    int loopback = (ntohl(a.sin_addr.s_addr) >> 24) == 127;
    if (!loopback && (!s->token || !s->token[0]))
        return wm__errf(err, WM_ERR_INVALID_ARG, "serve: binding to %s (not loopback) requires a token", s->p.bind_addr);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0) return wm__errf(err, WM_ERR_IO, "serve: socket: %s", strerror(errno));
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0)
        return wm__errf(err, WM_ERR_IO, "serve: bind %s:%d: %s", s->p.bind_addr, s->p.port, strerror(errno));
    if (listen(s->listen_fd, 64) != 0) return wm__errf(err, WM_ERR_IO, "serve: listen: %s", strerror(errno));
    socklen_t len = sizeof a;
    getsockname(s->listen_fd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    return WM_OK;
}

wm_status wm_server_create(const wm_server_params *params, wm_server **out, wm_error *err)
{
    *out = NULL;
    wm_server *s = calloc(1, sizeof *s);
    if (!s) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "serve: out of memory");
    s->p = params ? *params : wm_server_default_params();
    resolve(&s->p);
    s->listen_fd = s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->token = dup_str(s->p.token);
    s->model_path = dup_str(s->p.model_path);
    s->p.token = s->token;
    s->p.model_path = s->model_path;
    wm_status st = listen_on(s, err);
    if (st == WM_OK && pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        st = wm__errf(err, WM_ERR_IO, "serve: pipe: %s", strerror(errno));
    if (st != WM_OK) { wm_server_free(s); return st; }
    *out = s;
    return WM_OK;
}

int wm_server_port(const wm_server *s) { return s->port; }

void wm_server_stop(wm_server *s)
{
    ssize_t r = write(s->wake[1], "x", 1);
    (void)r;
}

/* Join and free connections whose thread has finished. */
static void reap(wm_server *s, int all)
{
    for (;;) {
        wm_conn *victim = NULL;
        pthread_mutex_lock(&s->mu);
        for (wm_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
            if ((*pp)->done || all) { victim = *pp; *pp = victim->next; break; }
        pthread_mutex_unlock(&s->mu);
        if (!victim) return;
        pthread_join(victim->thread, NULL);
        close(victim->fd);
        free(victim);
    }
}

static void refuse(int fd, const char *why)
{
    uint8_t buf[16 + 8 + 128];
    size_t n = strlen(why) < 128 ? strlen(why) : 128;
    wm_wire_header(buf, WM_MSG_ERROR, (uint32_t)(8 + n), 0);
    wm_wr w = wm_wr_init(buf + 16, 8 + n);
    wm_wr_u32(&w, WM_ERR_LIMIT);
    wm_wr_u32(&w, (uint32_t)n);
    wm_wr_bytes(&w, why, n);
    wm_wire_send_all(fd, buf, 16 + 8 + n);
    close(fd);
}

static void accept_one(wm_server *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    struct timeval rt = {s->p.idle_timeout_s, 0}, st = {60, 0}; /* a client that stops reading for 60 s is gone */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof st);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_mutex_lock(&s->mu);
    int full = s->stats.clients >= s->p.max_clients;
    if (full) s->stats.refused++;
    else { s->stats.clients++; s->stats.accepted++; }
    pthread_mutex_unlock(&s->mu);
    if (full) { refuse(fd, "server full: too many concurrent clients"); return; }
    wm_conn *c = calloc(1, sizeof *c);
    if (c) { c->srv = s; c->fd = fd; }
    if (!c || pthread_create(&c->thread, NULL, wm__serve_conn_main, c) != 0) {
        free(c);
        pthread_mutex_lock(&s->mu);
        s->stats.clients--;
        pthread_mutex_unlock(&s->mu);
        refuse(fd, "server cannot start a thread");
        return;
    }
    pthread_mutex_lock(&s->mu);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->mu);
}

wm_status wm_server_run(wm_server *s)
{
    for (;;) {
        struct pollfd pf[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        int r = poll(pf, 2, 1000); /* the timeout only bounds how long finished threads wait to be reaped */
        if (r < 0 && errno != EINTR) return WM_ERR_IO;
        reap(s, 0);
        if (r > 0 && (pf[1].revents & POLLIN)) {
            char b[16];
            while (read(s->wake[0], b, sizeof b) > 0) {}
            return WM_OK;
        }
        if (r > 0 && (pf[0].revents & POLLIN)) accept_one(s);
    }
}

void wm_server_free(wm_server *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    for (wm_conn *c = s->conns; c; c = c->next) shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    reap(s, 1);
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->wake[0] >= 0) close(s->wake[0]);
    if (s->wake[1] >= 0) close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    free(s->token);
    free(s->model_path);
    free(s);
}

void wm_server_get_stats(wm_server *s, wm_server_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

int wm__serve_world_acquire(wm_server *s)
{
    pthread_mutex_lock(&s->mu);
    int ok = s->stats.worlds < s->p.max_worlds;
    if (ok) s->stats.worlds++;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void wm__serve_world_release(wm_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stats.worlds--;
    pthread_mutex_unlock(&s->mu);
}

void wm__serve_count_protocol_error(wm_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stats.protocol_errors++;
    pthread_mutex_unlock(&s->mu);
}
