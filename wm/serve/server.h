/* server.h -- `wm serve`: worlds over TCP for agents in other processes (protocol.h, docs/agent-protocol.md).
 *
 * Threading: one accept loop (wm_server_run, poll() on the listening socket and a wake pipe) and one
 * thread per connection doing blocking reads with SO_RCVTIMEO as the idle timeout. A connection owns at
 * most one world and its snapshots; when the connection ends for any reason (close, disconnect,
 * timeout, protocol error, server stop) the thread frees them. A poll loop multiplexing all clients was
 * rejected: a step renders for tens of milliseconds to seconds and would stall every other client,
 * while threads let the OS share the cores, and the client count is bounded anyway.
 * Security: binds to 127.0.0.1 by default; any other address requires a token, which clients present
 * in HELLO before anything else. Every request is bounded (max_message) before it is read.
 */
#ifndef WM_SERVE_SERVER_H
#define WM_SERVE_SERVER_H

#include "wm/core/log.h"

#include <stdint.h>

typedef struct wm_server wm_server;

typedef struct wm_server_params {
    const char *bind_addr;     /* IPv4 address or "localhost", default "127.0.0.1" */
    int port;                  /* TCP port, 0 = any free port (wm_server_port tells which); default 0 */
    const char *token;         /* shared secret; required when bind_addr is not loopback; default NULL */
    int max_clients;           /* concurrent connections, default 16; more are refused with an error */
    int max_worlds;            /* concurrent open worlds, default 4 */
    int idle_timeout_s;        /* close a connection silent this long, default 300 s */
    uint32_t max_message;      /* bound on a request payload, default 8 MiB (a start image fits) */
    int world_threads;         /* render threads per world, 0 = all CPUs */
    int max_snapshots;         /* snapshots held per connection, default 64 */
    uint64_t max_chunk_bytes;  /* bound on one world's frames per chunk (n*H*W*3), default 256 MiB */
    const char *model_path;    /* checkpoint for worlds opened with the model source; default NULL */
} wm_server_params;

wm_server_params wm_server_default_params(void);

/* Bind and listen (nothing is accepted until wm_server_run). err gets the reason on failure. */
wm_status wm_server_create(const wm_server_params *p, wm_server **out, wm_error *err);
int wm_server_port(const wm_server *s);
/* Accept connections until wm_server_stop. Returns WM_OK after a stop. */
wm_status wm_server_run(wm_server *s);
/* Ask the accept loop to return; async-signal-safe (one write to a pipe). */
void wm_server_stop(wm_server *s);
/* Disconnect every client, join their threads and free everything. Call after wm_server_run returned. */
void wm_server_free(wm_server *s);

/* Counters for tests and logs. */
typedef struct wm_server_stats { int clients, worlds; uint64_t accepted, refused, protocol_errors; } wm_server_stats;
void wm_server_get_stats(wm_server *s, wm_server_stats *out);

#endif
