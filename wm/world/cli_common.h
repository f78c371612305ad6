/* cli_common.h -- small argument helpers shared by `wm dataset`, `wm eval` and `wm serve`.
 *
 * Header-only static functions: each command is its own translation unit linked into the single `wm`
 * executable, and these are too small to deserve a library symbol. Every parser reports the option
 * and the bad value; callers turn a failure into exit code 2 (bad arguments).
 */
#ifndef WM_WORLD_CLI_COMMON_H
#define WM_WORLD_CLI_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "wm %s: %s expects an integer in %ld..%ld, got '%s'\n", cmd, opt, lo, hi, s ? s : "");
        return 0;
    }
    *out = (int)v;
    return 1;
}

static inline int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || s[0] == '-') {
        fprintf(stderr, "wm %s: %s expects an unsigned integer, got '%s'\n", cmd, opt, s ? s : "");
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

static inline int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, float *out)
{
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;
    if (!s || *end || end == s || !(v >= lo && v <= hi)) {
        fprintf(stderr, "wm %s: %s expects a number in %g..%g, got '%s'\n", cmd, opt, lo, hi, s ? s : "");
        return 0;
    }
    *out = (float)v;
    return 1;
}

/* "HxW" (height first, as the spec writes 704x1280). */
static inline int cli_size(const char *cmd, const char *s, int *h, int *w)
{
    int hh = 0, ww = 0;
    char tail = 0;
    if (!s || sscanf(s, "%dx%d%c", &hh, &ww, &tail) != 2 || hh < 16 || ww < 16 || hh > 8192 || ww > 8192) {
        fprintf(stderr, "wm %s: --size expects HxW with sides 16..8192 (e.g. 352x640), got '%s'\n", cmd, s ? s : "");
        return 0;
    }
    *h = hh;
    *w = ww;
    return 1;
}

/* The value after option argv[*i], advancing *i; NULL (with a message) when missing. */
static inline const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "wm %s: %s needs a value\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

#endif
