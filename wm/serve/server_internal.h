/* server_internal.h -- the server and connection records shared by server.c (accept loop, lifetime)
 * and session.c (one connection's message loop). */
#ifndef WM_SERVE_SERVER_INTERNAL_H
#define WM_SERVE_SERVER_INTERNAL_H

#include "wm/serve/server.h"

#include <pthread.h>

typedef struct wm_conn {
    struct wm_server *srv;
    int fd;
    pthread_t thread;
    int done;                  /* set by the thread when it has released everything but this record */
    struct wm_conn *next;
} wm_conn;

struct wm_server {
    wm_server_params p;
    char *token, *model_path;  /* copies */
    int listen_fd, wake[2], port;
    pthread_mutex_t mu;        /* guards conns, counters */
    wm_conn *conns;
    wm_server_stats stats;
};

/* session.c: the thread body of one connection. */
void *wm__serve_conn_main(void *arg);
/* Reserve / release one world slot; 0 when the server is at max_worlds. */
int wm__serve_world_acquire(struct wm_server *s);
void wm__serve_world_release(struct wm_server *s);
void wm__serve_count_protocol_error(struct wm_server *s);

#endif
