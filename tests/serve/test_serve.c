/* The agent server end to end over loopback TCP, with the server running in this process so valgrind
 * (CTest test_serve_valgrind) sees every allocation: a full episode whose frames equal the world API's,
 * snapshot branching, garbage / oversized / truncated / malformed / unknown messages (error replies, the
 * server keeps serving), a client dropping mid-step (its world is freed), world and client limits, the
 * token handshake, the idle timeout, and many concurrent clients. Every wait is bounded. */
#include "serve_util.h"

/* Frames the world API gives for the same episode, to compare with what the server sends. */
static uint8_t *direct_chunk(uint64_t seed)
{
    wm_world_params p = wm_world_default_params();
    p.width = W; p.height = H; p.frames_per_chunk = FPC; p.n_threads = 1;
    wm_world *w = NULL;
    if (wm_world_open(&p, &w) != WM_OK) return NULL;
    wm_reset_params rp = wm_reset_default_params();
    rp.seed = seed;
    wm_frames f;
    wm_action a = {0};
    a.keys = WM_KEY_FORWARD;
    uint8_t *out = malloc((size_t)FPC * W * H * 3);
    if (wm_world_reset(w, &rp, &f) != WM_OK || wm_world_step_actions(w, &a, 1, &f) != WM_OK) { free(out); out = NULL; }
    else memcpy(out, f.rgb, (size_t)FPC * W * H * 3);
    wm_world_free(w);
    return out;
}

static void test_episode(int port)
{
    int fd = dial(port);
    CHECK(fd >= 0);
    if (fd < 0) return;
    uint32_t code = 0, n;
    uint8_t buf[256], *b;
    int64_t chunk = -1;
    CHECK(call_simple(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, 0), &code) == WM_MSG_ERROR && code == WM_ERR_STATE);
    CHECK(open_world(fd, W, H, FPC, &code) == WM_MSG_OPENED);
    CHECK(open_world(fd, W, H, FPC, &code) == WM_MSG_ERROR && code == WM_ERR_STATE); /* one world per connection */
    CHECK(call(fd, WM_MSG_RESET, buf, reset_payload(buf, 21), &b, &n, NULL) == WM_MSG_FRAMES);
    CHECK(b && frames_rgb(b, n, 1, &chunk) && chunk == 0);
    free(b);
    CHECK(call(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, WM_KEY_FORWARD), &b, &n, NULL) == WM_MSG_FRAMES);
    uint8_t *direct = direct_chunk(21);
    const uint8_t *rgb = b ? frames_rgb(b, n, FPC, &chunk) : NULL;
    CHECK_MSG(rgb && direct && chunk == 1 && memcmp(rgb, direct, (size_t)FPC * W * H * 3) == 0,
              "server frames must equal the world API's frames");
    free(b);
    free(direct);
    /* Branching: snapshot, step, restore, step again -> the same frames. */
    CHECK(call(fd, WM_MSG_SNAPSHOT, NULL, 0, &b, &n, NULL) == WM_MSG_SNAPSHOT_ID && n == 4);
    uint32_t id = b ? (uint32_t)b[0] : 0;
    free(b);
    uint8_t *first = NULL, *again = NULL;
    uint32_t n1 = 0, n2 = 0;
    CHECK(call(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, WM_KEY_YAW_LEFT), &first, &n1, NULL) == WM_MSG_FRAMES);
    CHECK(call_simple(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, WM_KEY_STRAFE_RIGHT), NULL) == WM_MSG_FRAMES);
    uint8_t idb[4] = {(uint8_t)id, 0, 0, 0};
    CHECK(call_simple(fd, WM_MSG_RESTORE, idb, 4, NULL) == WM_MSG_OK);
    CHECK(call(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, WM_KEY_YAW_LEFT), &again, &n2, NULL) == WM_MSG_FRAMES);
    /* Everything but the timings (bytes 28..43) must match: indices, poses, pixels. */
    CHECK_MSG(first && again && n1 == n2 && memcmp(first, again, 28) == 0 &&
              memcmp(first + WM_PROTO_FRAMES_PREFIX, again + WM_PROTO_FRAMES_PREFIX, n1 - WM_PROTO_FRAMES_PREFIX) == 0,
              "restore must reproduce the branch");
    free(first);
    free(again);
    CHECK(call_simple(fd, WM_MSG_SNAPSHOT_FREE, idb, 4, NULL) == WM_MSG_OK);
    CHECK(call_simple(fd, WM_MSG_RESTORE, idb, 4, &code) == WM_MSG_ERROR && code == WM_ERR_NOT_FOUND);
    /* A bad action is an error reply; the connection and world survive it. */
    wm_wr o = wm_wr_init(buf, sizeof buf);
    wm_wr_u32(&o, 1); wm_wr_u32(&o, 0); wm_wr_f32(&o, 7.0f);
    for (int i = 0; i < 4; i++) wm_wr_f32(&o, 0);
    wm_wr_u32(&o, 0);
    CHECK(call(fd, WM_MSG_STEP_ACTIONS, buf, (uint32_t)o.pos, &b, &n, &code) == WM_MSG_ERROR && code == WM_ERR_INVALID_ARG);
    CHECK(b && n > 8 && memmem(b, n, "axis", 4) != NULL);
    free(b);
    CHECK(call_simple(fd, WM_MSG_SNAPSHOT, NULL, 0, NULL) == WM_MSG_SNAPSHOT_ID); /* left for the cleanup */
    CHECK(call_simple(fd, WM_MSG_CLOSE, NULL, 0, NULL) == WM_MSG_OK);
    CHECK(call_simple(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, 0), &code) == WM_MSG_ERROR && code == WM_ERR_STATE);
    close(fd);
}

/* Broken framing gets an ERROR and a close; broken payloads get an ERROR and the connection goes on. */
static void test_bad_input(int port)
{
    uint8_t junk[64], *b;
    uint32_t code = 0, n;
    t_rng r = {3};
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)t_rng_u64(&r);
    int fd = dial(port);
    CHECK(wm_wire_send_all(fd, junk, sizeof junk) == 0);
    CHECK(recv_reply(fd, &b, &n) == WM_MSG_ERROR);
    free(b);
    CHECK(recv_reply(fd, &b, &n) == -1); /* closed */
    close(fd);

    fd = dial(port);
    uint8_t h[16];
    wm_wire_header(h, WM_MSG_OPEN, 0xFFFFFFF0u, 1); /* 4 GiB announced: refused before reading it */
    CHECK(wm_wire_send_all(fd, h, 16) == 0);
    CHECK(recv_reply(fd, &b, &n) == WM_MSG_ERROR && n >= 4 && b[0] == WM_ERR_LIMIT);
    free(b);
    CHECK(recv_reply(fd, &b, &n) == -1);
    close(fd);

    fd = dial(port);
    h[4] = 9; /* wrong version */
    wm_wire_header(h, WM_MSG_CLOSE, 0, 1);
    h[4] = 9;
    CHECK(wm_wire_send_all(fd, h, 16) == 0);
    CHECK(recv_reply(fd, &b, &n) == WM_MSG_ERROR);
    free(b);
    close(fd);

    fd = dial(port);
    CHECK(call_simple(fd, 999, NULL, 0, &code) == WM_MSG_ERROR && code == WM_ERR_PROTOCOL);
    uint8_t bad[10] = {3, 0, 0, 0};                /* claims 3 actions, carries 6 bytes */
    CHECK(call_simple(fd, WM_MSG_STEP_ACTIONS, bad, sizeof bad, &code) == WM_MSG_ERROR && code == WM_ERR_PROTOCOL);
    uint8_t big_blob[40] = {0};                    /* OPEN whose prompt length runs past the payload */
    memset(big_blob + 36, 0xff, 4);
    CHECK(call_simple(fd, WM_MSG_OPEN, big_blob, sizeof big_blob, &code) == WM_MSG_ERROR && code == WM_ERR_PROTOCOL);
    CHECK(open_world(fd, 99999, H, FPC, &code) == WM_MSG_ERROR && code == WM_ERR_LIMIT);
    CHECK(open_world(fd, W, H, FPC, &code) == WM_MSG_OPENED); /* still serving this connection */
    close(fd);

    fd = dial(port);                               /* truncated message, then gone */
    wm_wire_header(h, WM_MSG_STEP_POSES, 100, 1);
    CHECK(wm_wire_send_all(fd, h, 16) == 0 && wm_wire_send_all(fd, junk, 10) == 0);
    close(fd);
}

static int wait_idle(wm_server *s)
{
    wm_server_stats st;
    for (int i = 0; i < 600; i++) { /* up to 30 s (valgrind) */
        wm_server_get_stats(s, &st);
        if (st.worlds == 0 && st.clients == 0) return 1;
        usleep(50000);
    }
    return 0;
}

static void test_drop_mid_step(srv_t *t, int port)
{
    int fd = dial(port);
    uint8_t buf[256];
    CHECK(open_world(fd, 128, 72, 24, NULL) == WM_MSG_OPENED);
    CHECK(call_simple(fd, WM_MSG_RESET, buf, reset_payload(buf, 4), NULL) == WM_MSG_FRAMES);
    CHECK(send_req(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, WM_KEY_FORWARD)));
    close(fd);                                     /* gone while the server renders the chunk */
    CHECK_MSG(wait_idle(t->s), "the dropped client's world must be freed");
}

static void *client_thread(void *arg)
{
    int *res = arg, fd = dial(res[0]);
    uint8_t buf[256], *b = NULL;
    uint32_t n;
    int64_t chunk;
    int ok = fd >= 0 && open_world(fd, 32, 24, 3, NULL) == WM_MSG_OPENED &&
             call_simple(fd, WM_MSG_RESET, buf, reset_payload(buf, (uint64_t)res[1]), NULL) == WM_MSG_FRAMES;
    for (int c = 1; ok && c <= 3; c++) {
        ok = call(fd, WM_MSG_STEP_ACTIONS, buf, action_payload(buf, WM_KEY_FORWARD), &b, &n, NULL) == WM_MSG_FRAMES &&
             frames_rgb(b, n, 3, &chunk) && chunk == c;
        uint64_t hsh = 1469598103934665603ull;
        for (uint32_t i = WM_PROTO_FRAMES_PREFIX; b && i < n; i++) hsh = (hsh ^ b[i]) * 1099511628211ull;
        res[3] = (int)(hsh >> 32);
        free(b);
        b = NULL;
    }
    if (fd >= 0) close(fd);
    res[2] = ok;
    return NULL;
}

static void test_concurrent(srv_t *t, int port)
{
    enum { N = 8 };
    pthread_t th[N];
    int res[N][4];
    for (int i = 0; i < N; i++) {
        res[i][0] = port; res[i][1] = i % 4; res[i][2] = 0;
        pthread_create(&th[i], NULL, client_thread, res[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) CHECK_MSG(res[i][2], "client %d failed", i);
    for (int i = 0; i < N / 2; i++) CHECK_MSG(res[i][3] == res[i + N / 2][3], "same seed, same frames (%d)", i);
    CHECK(res[0][3] != res[1][3]);
    CHECK(wait_idle(t->s));
}

static void test_limits_and_token(void)
{
    srv_t t;
    wm_server_params p = wm_server_default_params();
    p.max_worlds = 1; p.max_clients = 2; p.token = "s3cret"; p.idle_timeout_s = 1;
    if (!start(&t, p)) { CHECK(0); return; }
    int port = wm_server_port(t.s);
    uint32_t code = 0;
    uint8_t tok[16] = {6, 0, 0, 0, 's', '3', 'c', 'r', 'e', 't'}, bad[16] = {5, 0, 0, 0, 'w', 'r', 'o', 'n', 'g'};
    int a = dial(port);
    CHECK(open_world(a, W, H, FPC, &code) == WM_MSG_ERROR && code == WM_ERR_PROTOCOL); /* no HELLO: dropped */
    close(a);
    a = dial(port);
    CHECK(call_simple(a, WM_MSG_HELLO, bad, 9, &code) == WM_MSG_ERROR);
    close(a);
    CHECK(wait_idle(t.s)); /* the refused connections must be gone before counting clients */
    a = dial(port);
    int b = dial(port);
    CHECK(call_simple(a, WM_MSG_HELLO, tok, 10, NULL) == WM_MSG_HELLO_OK);
    CHECK(call_simple(b, WM_MSG_HELLO, tok, 10, NULL) == WM_MSG_HELLO_OK);
    CHECK(open_world(a, W, H, FPC, NULL) == WM_MSG_OPENED);
    CHECK(open_world(b, W, H, FPC, &code) == WM_MSG_ERROR && code == WM_ERR_LIMIT); /* max_worlds 1 */
    int c = dial(port);                            /* max_clients 2: refused with a reason */
    uint8_t *m;
    uint32_t n;
    CHECK(recv_reply(c, &m, &n) == WM_MSG_ERROR && n > 8 && memmem(m, n, "full", 4));
    free(m);
    close(c);
    CHECK(call_simple(a, WM_MSG_CLOSE, NULL, 0, NULL) == WM_MSG_OK);
    CHECK(open_world(b, W, H, FPC, NULL) == WM_MSG_OPENED);
    usleep(1500000);                               /* idle timeout: the server says so and closes */
    CHECK(recv_reply(b, &m, &n) == WM_MSG_ERROR && n > 8 && memmem(m, n, "idle", 4));
    free(m);
    close(a);
    close(b);
    CHECK(wait_idle(t.s));
    stop(&t);
    wm_server *s = NULL;
    wm_error err = {0};
    p = wm_server_default_params();
    p.bind_addr = "0.0.0.0";
    CHECK(wm_server_create(&p, &s, &err) == WM_ERR_INVALID_ARG && s == NULL && strstr(err.msg, "token"));
}

/* A random but mostly well-framed message of a random type: half the time with a plausible structure
 * (small OPEN, RESET, random actions or poses), else random bytes. */
static uint32_t random_request(t_rng *r, uint16_t *type, uint8_t *p)
{
    *type = (uint16_t)(1 + t_rng_u64(r) % 10);
    if (t_rng_u64(r) % 20 == 0) *type = (uint16_t)t_rng_u64(r);
    wm_wr o = wm_wr_init(p, 512);
    int structured = t_rng_u64(r) % 2;
    if (structured && *type == WM_MSG_OPEN) {
        wm_wr_u32(&o, (uint32_t)(t_rng_u64(r) % 3));
        wm_wr_u32(&o, 16 + (uint32_t)(t_rng_u64(r) % 32)); wm_wr_u32(&o, 16 + (uint32_t)(t_rng_u64(r) % 32));
        wm_wr_u32(&o, 0); wm_wr_u32(&o, 1 + (uint32_t)(t_rng_u64(r) % 3)); wm_wr_u64(&o, t_rng_u64(r));
        wm_wr_f32(&o, t_rng_uniform(r) * 200); wm_wr_u32(&o, 1); wm_wr_u32(&o, 0);
    } else if (structured && *type == WM_MSG_RESET) {
        return reset_payload(p, t_rng_u64(r) % 5);
    } else if (structured && (*type == WM_MSG_STEP_ACTIONS || *type == WM_MSG_STEP_POSES)) {
        uint32_t n = (uint32_t)(t_rng_u64(r) % 4), fields = *type == WM_MSG_STEP_ACTIONS ? 7 : 20;
        wm_wr_u32(&o, n);
        for (uint32_t i = 0; i < n * fields; i++) {
            if (*type == WM_MSG_STEP_ACTIONS && i % 7 == 0) wm_wr_u32(&o, (uint32_t)t_rng_u64(r) & 0x7ff);
            else if (*type == WM_MSG_STEP_ACTIONS && i % 7 == 6) wm_wr_u32(&o, (uint32_t)(t_rng_u64(r) % 4));
            else wm_wr_f32(&o, (t_rng_uniform(r) - 0.5f) * 3.0f);
        }
    } else {
        uint32_t n = (uint32_t)(t_rng_u64(r) % 300);
        for (uint32_t i = 0; i < n; i++) p[i] = (uint8_t)t_rng_u64(r);
        return n;
    }
    return (uint32_t)o.pos;
}

static void test_random_requests(void)
{
    srv_t t;
    wm_server_params p = wm_server_default_params();
    p.max_chunk_bytes = 48 * 48 * 3 * 3; p.max_message = 4096; p.world_threads = 1;
    if (!start(&t, p)) { CHECK(0); return; }
    int port = wm_server_port(t.s), fd = dial(port), replies = 0;
    t_rng r = {99};
    uint8_t req[512];
    for (int i = 0; i < 300; i++) {
        uint16_t type;
        uint32_t n = random_request(&r, &type, req);
        if (call_simple(fd, type, req, n, NULL) >= 0) { replies++; continue; }
        close(fd);
        fd = dial(port);
    }
    close(fd);
    CHECK_MSG(replies > 250, "every well-framed request gets a reply (%d of 300)", replies);
    fd = dial(port);
    uint8_t buf[256];
    CHECK(open_world(fd, 16, 16, 2, NULL) == WM_MSG_OPENED);
    CHECK(call_simple(fd, WM_MSG_RESET, buf, reset_payload(buf, 1), NULL) == WM_MSG_FRAMES);
    close(fd);
    CHECK(wait_idle(t.s));
    stop(&t);
}

int main(void)
{
    wm_log_set_level(WM_LOG_ERROR);
    srv_t t;
    wm_server_params p = wm_server_default_params();
    p.max_worlds = 8; p.world_threads = 1; p.max_message = 1 << 16;
    if (!start(&t, p)) { CHECK(0); TEST_MAIN_END(); }
    int port = wm_server_port(t.s);
    test_episode(port);
    test_bad_input(port);
    CHECK(wait_idle(t.s));
    test_drop_mid_step(&t, port);
    test_concurrent(&t, port);
    wm_server_stats st;
    wm_server_get_stats(t.s, &st);
    CHECK(st.protocol_errors >= 3 && st.refused == 0);
    stop(&t);
    test_limits_and_token();
    test_random_requests();
    TEST_MAIN_END();
}
