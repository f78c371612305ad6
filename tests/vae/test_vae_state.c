/* VAE decoder stream state (wm_vae_decoder_state_*) on the golden small-width model, CPU.
 *
 * Checks that a snapshot captures everything a streaming decode depends on: decode chunks A, B; save;
 * decode C (and D, to move the state further); load; decode C again -> pixels bit-identical to the first
 * C. A control decode of C without the load must differ (else the test could not see a missing cache).
 * Failure paths: a decoder with another latent grid refuses the blob (WM_ERR_INVALID_ARG + message),
 * so do a truncated buffer, a corrupted magic and a wrong-size save buffer; a non-causal decoder has no
 * state (0 bytes). Random latents, fixed seed.
 */
#include "wm/vae/vae.h"
#include "testing.h"

#include <stdlib.h>
#include <string.h>

#define GOLDEN "tests/golden/vae/"

typedef struct run {
    wm_vae_decoder *d;
    int C, h, w;
} run;

/* Decode n random latent frames (seeded) -> freshly allocated host pixels (caller frees). */
static wm_tensor decode(run *r, int n, uint64_t seed)
{
    int64_t zs[4] = {r->C, n, r->h, r->w};
    wm_tensor z, px = {0};
    wm_tensor_alloc(WM_F32, 4, zs, &z);
    t_rng g = {seed};
    t_fill_normal(&g, z.data, (size_t)wm_tensor_numel(&z), 1.0f);
    int64_t ps[4] = {3, wm_vae_decoder_out_frames(r->d, n), (int64_t)r->h * 32, (int64_t)r->w * 32};
    wm_tensor_alloc(WM_F32, 4, ps, &px);
    wm_error err = {0};
    CHECK_MSG(wm_vae_decoder_decode(r->d, &z, &px, &err) == WM_OK, "decode: %s", err.msg);
    wm_tensor_free(&z);
    return px;
}

static int same(const wm_tensor *a, const wm_tensor *b)
{
    return wm_tensor_nbytes(a) == wm_tensor_nbytes(b) && !memcmp(a->data, b->data, wm_tensor_nbytes(a));
}

static void test_roundtrip(wm_vae *vae)
{
    wm_error err = {0};
    wm_vae_decoder_params p = {.lat_h = 2, .lat_w = 3, .max_frames = 2};
    run r = {NULL, wm_vae_get_config(vae)->latent_channels, 2, 3};
    CHECK_MSG(wm_vae_decoder_create(vae, &p, &r.d, &err) == WM_OK, "%s", err.msg);
    if (!r.d) return;
    size_t n = wm_vae_decoder_state_bytes(r.d);
    CHECK(n > 0);
    char *blob = malloc(n);
    wm_tensor a = decode(&r, 1, 1), b = decode(&r, 2, 2);
    CHECK_MSG(wm_vae_decoder_state_save(r.d, blob, n, &err) == WM_OK, "%s", err.msg);
    wm_tensor c1 = decode(&r, 1, 3), dd = decode(&r, 2, 4), ctl = decode(&r, 1, 3);
    CHECK_MSG(!same(&c1, &ctl), "control: C after more chunks equals C after B (caches not exercised)");
    CHECK_MSG(wm_vae_decoder_state_load(r.d, blob, n, &err) == WM_OK, "%s", err.msg);
    wm_tensor c2 = decode(&r, 1, 3);
    CHECK_MSG(same(&c1, &c2), "decode after state load differs from the decode after the save");
    printf("save after A,B; C, D; load; C again: %s (%zu state bytes)\n", same(&c1, &c2) ? "bit-identical" : "FAIL", n);
    /* First-call flags: a state saved before any decode makes the next call a first call again. */
    wm_vae_decoder_reset(r.d);
    CHECK(wm_vae_decoder_state_save(r.d, blob, n, &err) == WM_OK);
    wm_tensor f1 = decode(&r, 1, 5);
    wm_tensor_free(&dd), dd = decode(&r, 1, 6);
    CHECK(wm_vae_decoder_state_load(r.d, blob, n, &err) == WM_OK);
    CHECK(wm_vae_decoder_out_frames(r.d, 1) == 1);
    wm_tensor f2 = decode(&r, 1, 5);
    CHECK_MSG(same(&f1, &f2), "first-call state did not round-trip");
    /* Failure paths: truncated, foreign, wrong-size save buffer; the decoder stays usable. */
    CHECK(wm_vae_decoder_state_save(r.d, blob, n - 1, &err) == WM_ERR_INVALID_ARG);
    CHECK(wm_vae_decoder_state_save(r.d, blob, n, &err) == WM_OK);
    err.msg[0] = 0;
    CHECK(wm_vae_decoder_state_load(r.d, blob, n - 1, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "truncated"));
    CHECK(wm_vae_decoder_state_load(r.d, blob, 8, &err) == WM_ERR_INVALID_ARG && err.msg[0]);
    blob[0] ^= 0x5a;
    CHECK(wm_vae_decoder_state_load(r.d, blob, n, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "magic"));
    blob[0] ^= 0x5a;
    wm_vae_decoder_params q = {.lat_h = 2, .lat_w = 4, .max_frames = 2};
    wm_vae_decoder *o = NULL;
    CHECK(wm_vae_decoder_create(vae, &q, &o, &err) == WM_OK);
    if (o) {
        size_t m = wm_vae_decoder_state_bytes(o);
        char *big = calloc(1, m > n ? m : n);
        memcpy(big, blob, n);
        err.msg[0] = 0;
        CHECK(wm_vae_decoder_state_load(o, big, n, &err) == WM_ERR_INVALID_ARG && strstr(err.msg, "another decoder"));
        CHECK(wm_vae_decoder_state_load(o, big, m, &err) == WM_ERR_INVALID_ARG);
        printf("foreign config refused: %s\n", err.msg);
        free(big);
        wm_vae_decoder_free(o);
    }
    q.non_causal = 1, o = NULL;
    CHECK(wm_vae_decoder_create(vae, &q, &o, &err) == WM_OK);
    CHECK(o && wm_vae_decoder_state_bytes(o) == 0);
    CHECK(o && wm_vae_decoder_state_save(o, blob, n, &err) == WM_ERR_INVALID_ARG);
    wm_vae_decoder_free(o);
    wm_tensor *all[] = {&a, &b, &c1, &c2, &dd, &ctl, &f1, &f2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) wm_tensor_free(all[i]);
    free(blob);
    wm_vae_decoder_free(r.d);
}

int main(void)
{
    wm_error err = {0};
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = 2;
    wm_backend *be = NULL;
    wm_vae *vae = NULL;
    CHECK(wm_backend_create(WM_BACKEND_CPU, &bp, &be, &err) == WM_OK);
    if (be) CHECK_MSG(wm_vae_load(GOLDEN, be, NULL, &vae, &err) == WM_OK, "%s", err.msg);
    if (vae) test_roundtrip(vae);
    wm_vae_free(vae);
    wm_backend_free(be);
    TEST_MAIN_END();
}
