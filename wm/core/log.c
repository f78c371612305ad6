/* The log callback is the one piece of process-global state (see wm.h): a program sets it once at
 * start-up. Reads are not synchronised; setting it while other threads log is the caller's race. */
#include "wm/core/log.h"

#include <string.h>

static wm_log_fn g_log_fn;
static void *g_log_user;
static wm_log_level g_log_min = WM_LOG_WARN;

void wm_log_set(wm_log_fn fn, void *user_data)
{
    g_log_fn = fn;
    g_log_user = user_data;
}

void wm_log_set_level(wm_log_level min_level) { g_log_min = min_level; }

void wm__log(wm_log_level level, const char *fmt, ...)
{
    if (level < g_log_min) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (g_log_fn) {
        g_log_fn(level, buf, g_log_user);
    } else {
        static const char *const names[] = {"debug", "info", "warning", "error"};
        fprintf(stderr, "wm: %s: %s\n", names[level], buf);
    }
}

wm_status wm__errf(wm_error *err, wm_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}
