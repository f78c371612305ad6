/* wire.h -- little-endian encoding, a bounds-checked payload reader, and whole-message socket I/O.
 *
 * Every read from an untrusted payload goes through wm_rd_*: each returns 0 once the payload is
 * exhausted and then keeps failing, so a handler decodes all fields and checks `r.ok` once at the end
 * (no field is ever read past the received bytes). Writers append to a caller-sized buffer the same
 * way. Socket helpers loop over partial reads/writes and report timeouts and disconnects distinctly.
 */
#ifndef WM_SERVE_WIRE_H
#define WM_SERVE_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct wm_rd { const uint8_t *p; size_t n, pos; int ok; } wm_rd;
typedef struct wm_wr { uint8_t *p; size_t cap, pos; int ok; } wm_wr;

static inline wm_rd wm_rd_init(const uint8_t *p, size_t n) { wm_rd r = {p, n, 0, 1}; return r; }
int wm_rd_bytes(wm_rd *r, void *dst, size_t n);
uint32_t wm_rd_u32(wm_rd *r);
uint64_t wm_rd_u64(wm_rd *r);
float wm_rd_f32(wm_rd *r);
/* A u32 length then that many bytes, returned as a pointer into the payload (not NUL-terminated);
 * fails if longer than max. */
const uint8_t *wm_rd_blob(wm_rd *r, uint32_t max, uint32_t *len);
/* 1 if every field decoded and nothing is left over. */
static inline int wm_rd_done(const wm_rd *r) { return r->ok && r->pos == r->n; }

static inline wm_wr wm_wr_init(uint8_t *p, size_t cap) { wm_wr w = {p, cap, 0, 1}; return w; }
void wm_wr_bytes(wm_wr *w, const void *src, size_t n);
void wm_wr_u16(wm_wr *w, uint16_t v);
void wm_wr_u32(wm_wr *w, uint32_t v);
void wm_wr_u64(wm_wr *w, uint64_t v);
void wm_wr_f32(wm_wr *w, float v);
void wm_wr_f64(wm_wr *w, double v);

/* Header helpers. */
void wm_wire_header(uint8_t out[16], uint16_t type, uint32_t length, uint32_t request_id);
typedef struct wm_msg_header { uint16_t version, type; uint32_t length, request_id; int magic_ok; } wm_msg_header;
wm_msg_header wm_wire_parse_header(const uint8_t in[16]);

/* Socket I/O: 0 = done, -1 = peer closed or error, -2 = timeout (SO_RCVTIMEO/SO_SNDTIMEO). Sends use
 * MSG_NOSIGNAL so a vanished peer is an error, not SIGPIPE. */
int wm_wire_recv_all(int fd, void *buf, size_t n);
int wm_wire_send_all(int fd, const void *buf, size_t n);

#endif
