/* Status strings and the version string. The table is generated from status.def so that adding a code
 * in one place adds its message too. */
#include "wm/wm.h"

static const char *const k_status_str[] = {
#define X(name, msg) msg,
#include "wm/core/status.def"
#undef X
};

const char *wm_status_str(wm_status st)
{
    if ((int)st < 0 || st >= WM_STATUS_COUNT) return "unknown status";
    return k_status_str[st];
}

const char *wm_version(void) { return "0.1.0"; }
