/* Internal logging and error-message helpers.
 *
 * wm__log() goes through the callback set by wm_log_set(). Errors that carry detail (a file name, a
 * tensor name, a byte offset) are formatted into a caller-owned buffer with wm__errf() so the handle
 * that failed can report them; the library never prints errors by itself on behalf of a handle.
 */
#ifndef WM_CORE_LOG_H
#define WM_CORE_LOG_H

#include "wm/wm.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define WM_ERRMSG_MAX 512

/* A small error record: code + message. Embedded in handles and passed to loaders. */
typedef struct wm_error {
    wm_status code;
    char msg[WM_ERRMSG_MAX];
} wm_error;

void wm__log(wm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record an error (if err != NULL) and return its code, so call sites read
 *     return wm__errf(err, WM_ERR_FORMAT, "%s: tensor '%s': offsets past end", path, name); */
wm_status wm__errf(wm_error *err, wm_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Programmer errors only (never bad input): always on, also with NDEBUG, reports file and line. */
#define WM_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "wm: assertion failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Propagate a non-OK status. */
#define WM_TRY(expr)                                                                               \
    do {                                                                                           \
        wm_status wm__st = (expr);                                                                 \
        if (wm__st != WM_OK) return wm__st;                                                        \
    } while (0)

#endif
