/* cli_serve.c -- `wm serve`: run the agent server until SIGINT/SIGTERM.
 *
 * The token can come from --token, --token-file or the WM_SERVE_TOKEN environment variable; the
 * latter two keep it out of `ps` output. --port 0 picks a free port and --port-file writes the port
 * that was bound (scripts and tests start the server that way without racing for a fixed port).
 */
#include "wm/cli/cli.h"
#include "wm/serve/server.h"
#include "wm/world/cli_common.h"

#include <signal.h>
#include <string.h>

static wm_server *g_server; /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    if (g_server) wm_server_stop(g_server);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: wm serve [--bind ADDR] [--port N] [--token T | --token-file F] [--port-file F]\n"
               "                [--max-clients N] [--max-worlds N] [--idle-timeout S] [--max-message BYTES]\n"
               "                [--threads N] [--model PATH]\n"
               "Serves worlds to agents over TCP (protocol: docs/agent-protocol.md; Python client:\n"
               "tools/agent/wm_client.py). Binds 127.0.0.1:7878 by default; a non-loopback --bind needs a token\n"
               "(also read from $WM_SERVE_TOKEN). --port 0 picks a free port; --port-file writes it.\n"
               "Defaults: 16 clients, 4 worlds, 300 s idle timeout, 8 MiB requests, all CPUs per world.\n");
}

static int read_token_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "wm serve: %s: cannot open token file\n", path); return 0; }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = 0;
    if (!n) { fprintf(stderr, "wm serve: %s: empty token file\n", path); return 0; }
    return 1;
}

static int parse(int argc, char **argv, wm_server_params *p, const char **port_file, char *tok, size_t tok_cap)
{
    int v;
    p->port = 7878;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *a;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); return 0; }
        if (!(a = cli_value("serve", argc, argv, &i))) return 2;
        if (!strcmp(o, "--bind")) p->bind_addr = a;
        else if (!strcmp(o, "--port")) { if (!cli_int("serve", o, a, 0, 65535, &p->port)) return 2; }
        else if (!strcmp(o, "--token")) p->token = a;
        else if (!strcmp(o, "--token-file")) { if (!read_token_file(a, tok, tok_cap)) return 2; p->token = tok; }
        else if (!strcmp(o, "--port-file")) *port_file = a;
        else if (!strcmp(o, "--model")) p->model_path = a;
        else if (!strcmp(o, "--max-clients")) { if (!cli_int("serve", o, a, 1, 4096, &p->max_clients)) return 2; }
        else if (!strcmp(o, "--max-worlds")) { if (!cli_int("serve", o, a, 1, 1024, &p->max_worlds)) return 2; }
        else if (!strcmp(o, "--idle-timeout")) { if (!cli_int("serve", o, a, 1, 86400, &p->idle_timeout_s)) return 2; }
        else if (!strcmp(o, "--threads")) { if (!cli_int("serve", o, a, 0, 256, &p->world_threads)) return 2; }
        else if (!strcmp(o, "--max-message")) { if (!cli_int("serve", o, a, 1024, 1 << 30, &v)) return 2; p->max_message = (uint32_t)v; }
        else { fprintf(stderr, "wm serve: unknown option '%s'\n", o); usage(stderr); return 2; }
    }
    if (!p->token && getenv("WM_SERVE_TOKEN") && getenv("WM_SERVE_TOKEN")[0]) p->token = getenv("WM_SERVE_TOKEN");
    return -1;
}

int wm_cmd_serve(int argc, char **argv)
{
    wm_server_params p = wm_server_default_params();
    const char *port_file = NULL;
    char tok[512];
    int rc = parse(argc, argv, &p, &port_file, tok, sizeof tok);
    if (rc >= 0) return rc;
    wm_error err = {0};
    if (wm_server_create(&p, &g_server, &err) != WM_OK) {
        fprintf(stderr, "wm serve: %s\n", err.msg);
        return err.code == WM_ERR_INVALID_ARG ? 2 : 1;
    }
    if (port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        int ok = f && fprintf(f, "%d\n", wm_server_port(g_server)) > 0;
        if (f) ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, port_file) != 0) fprintf(stderr, "wm serve: %s: cannot write the port file\n", port_file);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "wm serve: listening on %s:%d (%s)\n", p.bind_addr, wm_server_port(g_server),
            p.token ? "token required" : "no token, loopback only");
    wm_status st = wm_server_run(g_server);
    wm_server_stats s;
    wm_server_get_stats(g_server, &s);
    wm_server_free(g_server);
    g_server = NULL;
    fprintf(stderr, "wm serve: stopped after %llu connections (%llu refused, %llu protocol errors)\n",
            (unsigned long long)s.accepted, (unsigned long long)s.refused, (unsigned long long)s.protocol_errors);
    return st == WM_OK ? 0 : 1;
}
