/* wire.c -- encoding/decoding primitives and blocking whole-buffer socket I/O (see wire.h).
 *
 * Values are assembled byte by byte (not memcpy of host integers) so the format is little-endian on
 * any host; floats travel as their IEEE-754 bit patterns.
 */
#include "wm/serve/wire.h"
#include "wm/serve/protocol.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

int wm_rd_bytes(wm_rd *r, void *dst, size_t n)
{
    if (!r->ok || n > r->n - r->pos) { r->ok = 0; return 0; }
    if (dst) memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return 1;
}

uint32_t wm_rd_u32(wm_rd *r)
{
    uint8_t b[4];
    if (!wm_rd_bytes(r, b, 4)) return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t wm_rd_u64(wm_rd *r)
{
    uint64_t lo = wm_rd_u32(r), hi = wm_rd_u32(r);
    return lo | hi << 32;
}

float wm_rd_f32(wm_rd *r)
{
    uint32_t u = wm_rd_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

const uint8_t *wm_rd_blob(wm_rd *r, uint32_t max, uint32_t *len)
{
    uint32_t n = wm_rd_u32(r);
    *len = 0;
    if (!r->ok || n > max) { r->ok = 0; return NULL; }
    const uint8_t *p = r->p + r->pos;
    if (!wm_rd_bytes(r, NULL, n)) return NULL;
    *len = n;
    return p;
}

void wm_wr_bytes(wm_wr *w, const void *src, size_t n)
{
    if (!w->ok || n > w->cap - w->pos) { w->ok = 0; return; }
    memcpy(w->p + w->pos, src, n);
    w->pos += n;
}

void wm_wr_u16(wm_wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    wm_wr_bytes(w, b, 2);
}

void wm_wr_u32(wm_wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    wm_wr_bytes(w, b, 4);
}

void wm_wr_u64(wm_wr *w, uint64_t v)
{
    wm_wr_u32(w, (uint32_t)v);
    wm_wr_u32(w, (uint32_t)(v >> 32));
}

void wm_wr_f32(wm_wr *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    wm_wr_u32(w, u);
}

void wm_wr_f64(wm_wr *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    wm_wr_u64(w, u);
}

void wm_wire_header(uint8_t out[16], uint16_t type, uint32_t length, uint32_t request_id)
{
    wm_wr w = wm_wr_init(out, 16);
    wm_wr_bytes(&w, WM_PROTO_MAGIC, 4);
    wm_wr_u16(&w, WM_PROTO_VERSION);
    wm_wr_u16(&w, type);
    wm_wr_u32(&w, length);
    wm_wr_u32(&w, request_id);
}

wm_msg_header wm_wire_parse_header(const uint8_t in[16])
{
    wm_msg_header h;
    h.magic_ok = memcmp(in, WM_PROTO_MAGIC, 4) == 0;
    h.version = (uint16_t)(in[4] | in[5] << 8);
    h.type = (uint16_t)(in[6] | in[7] << 8);
    wm_rd r = wm_rd_init(in + 8, 8);
    h.length = wm_rd_u32(&r);
    h.request_id = wm_rd_u32(&r);
    return h;
}

int wm_wire_recv_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = recv(fd, p, n, 0);
        if (got > 0) { p += got; n -= (size_t)got; continue; }
        if (got == 0) return -1;
        if (errno == EINTR) continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? -2 : -1;
    }
    return 0;
}

int wm_wire_send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
        if (put > 0) { p += put; n -= (size_t)put; continue; }
        if (put < 0 && errno == EINTR) continue;
        return (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? -2 : -1;
    }
    return 0;
}
