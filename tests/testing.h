/* testing.h -- the tiny test harness every C test uses.
 *
 * A test is an executable: CHECK() records failures without stopping, TEST_MAIN_END() prints
 * "N passed, M failed" (a closing line CI can read) and returns the exit code. Tolerance checks follow the
 * project rule |got - ref| <= atol + rtol*|ref| per element, report max abs/rel error, and fail on any NaN
 * or Inf in either tensor. Random inputs come from a seeded xorshift generator so failures reproduce.
 */
#ifndef WM_TESTS_TESTING_H
#define WM_TESTS_TESTING_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int t_passed, t_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) t_passed++;                                                                      \
        else { t_failed++; fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); }       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond) t_passed++;                                                                      \
        else { t_failed++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                   \
               fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); }                                \
    } while (0)

#define TEST_MAIN_END()                                                                            \
    do {                                                                                           \
        printf("%d passed, %d failed\n", t_passed, t_failed);                                      \
        return t_failed ? 1 : 0;                                                                   \
    } while (0)

/* xorshift64*: deterministic per seed, independent of libc. */
typedef struct { uint64_t s; } t_rng;
static inline uint64_t t_rng_u64(t_rng *r)
{
    r->s ^= r->s >> 12; r->s ^= r->s << 25; r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}
static inline float t_rng_uniform(t_rng *r) { return (float)((t_rng_u64(r) >> 40) * (1.0 / 16777216.0)); }
static inline float t_rng_normal(t_rng *r)
{
    float u1 = t_rng_uniform(r) + 1e-7f, u2 = t_rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}
static inline void t_fill_normal(t_rng *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = t_rng_normal(r) * scale;
}

/* Compare got against ref; prints a one-line report with the label. Returns 1 if within tolerance. */
static inline int t_allclose(const char *label, const float *got, const float *ref, size_t n, float atol, float rtol)
{
    double max_abs = 0, max_rel = 0, err2 = 0, ref2 = 0;
    size_t bad = 0, first_bad = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i], d = fabs(g - r);
        if (!isfinite(g) || !isfinite(r)) { bad++; if (first_bad == (size_t)-1) first_bad = i; continue; }
        if (d > atol + rtol * fabs(r)) { bad++; if (first_bad == (size_t)-1) first_bad = i; }
        if (d > max_abs) max_abs = d;
        if (fabs(r) > 1e-6 && d / fabs(r) > max_rel) max_rel = d / fabs(r);
        err2 += d * d; ref2 += r * r;
    }
    int ok = bad == 0;
    printf("%-40s n=%zu max_abs=%.3e max_rel=%.3e rel_l2=%.3e %s\n", label, n, max_abs, max_rel,
           ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2), ok ? "ok" : "FAIL");
    if (!ok) fprintf(stderr, "  %zu elements out of tolerance (atol %g rtol %g); first at %zu: got %g ref %g\n",
                     bad, atol, rtol, first_bad, (double)got[first_bad], (double)ref[first_bad]);
    return ok;
}

#endif
