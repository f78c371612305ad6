/* Every status code has a non-empty message, and messages are unique (so a message identifies a code). */
#include "testing.h"
#include "wm/wm.h"

#include <string.h>

int main(void)
{
    for (int i = 0; i < WM_STATUS_COUNT; i++) {
        const char *s = wm_status_str((wm_status)i);
        CHECK_MSG(s && s[0], "status %d has no message", i);
        for (int j = 0; j < i; j++) CHECK_MSG(strcmp(s, wm_status_str((wm_status)j)) != 0, "codes %d and %d share '%s'", i, j, s);
    }
    CHECK(strcmp(wm_status_str(WM_OK), "ok") == 0);
    CHECK(strcmp(wm_status_str((wm_status)9999), "unknown status") == 0);
    CHECK(strcmp(wm_status_str((wm_status)-1), "unknown status") == 0);
    TEST_MAIN_END();
}
