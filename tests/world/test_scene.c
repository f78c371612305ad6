/* Renderer sanity for the procedural world: projective geometry of a known box (it covers exactly the
 * pixels its front face projects to, and grows by the expected ratio when the camera moves closer),
 * determinism across thread counts, and different seeds giving different worlds. */
#include "scenes/scene.h"
#include "testing.h"

#include <string.h>

#define W 320
#define H 192

static void identity_pose(wm_pose *p, float z)
{
    memset(p, 0, sizeof *p);
    p->c2w[0] = p->c2w[5] = p->c2w[10] = p->c2w[15] = 1;
    p->c2w[11] = z;
    wm_scene_intrinsics(W, H, 60, p);
}

/* Pure red albedo without fog renders with g = b = 0 exactly; ground and sky never do. */
static int is_box(const uint8_t *px) { return px[0] > 0 && px[1] == 0 && px[2] == 0; }

/* Box x in [-0.5, 0.5], front face at z = 4.5, from the ground (y = 1.6) to y = -1.6. Checks every
 * pixel whose centre is more than 1 px away from the projected face outline. */
static void check_box_projection(const uint8_t *img, const wm_pose *p, float cam_z, int *width_px)
{
    float d = 4.5f - cam_z;
    float u0 = p->cx - p->fx * 0.5f / d, u1 = p->cx + p->fx * 0.5f / d;
    float v0 = p->cy - p->fy * 1.6f / d, v1 = p->cy + p->fy * 1.6f / d;
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float u = (float)x + 0.5f, v = (float)y + 0.5f;
            int inside = u > u0 + 1 && u < u1 - 1 && v > v0 + 1 && v < v1 - 1;
            int outside = u < u0 - 1 || u > u1 + 1 || v < v0 - 1 || v > v1 + 1;
            int b = is_box(img + ((size_t)y * W + x) * 3);
            if ((inside && !b) || (outside && b)) bad++;
        }
    CHECK_MSG(bad == 0, "box at distance %.1f: %d pixels disagree with the projection", (double)d, bad);
    int row = H / 2, n = 0;
    for (int x = 0; x < W; x++) n += is_box(img + ((size_t)row * W + x) * 3);
    *width_px = n;
    float expect = u1 - u0;
    CHECK_MSG(fabsf((float)n - expect) <= 2.0f, "box width %d px, expected %.1f", n, (double)expect);
}

static void test_box(void)
{
    wm_scene_params sp = {0};
    sp.seed = 3; sp.no_objects = 1; sp.no_fog = 1;
    wm_scene *s = NULL;
    CHECK(wm_scene_create(&sp, &s) == WM_OK);
    const float red[3] = {1, 0, 0};
    CHECK(wm_scene_add_box(s, -0.5f, 0.5f, 4.5f, 5.5f, 3.2f, red) == WM_OK);
    CHECK(wm_scene_add_box(s, 3.0f, 5.0f, 0, 1, 1, red) == WM_ERR_INVALID_ARG); /* straddles cells */
    static uint8_t img[W * H * 3];
    wm_pose p;
    int w_far = 0, w_near = 0;
    identity_pose(&p, 0);
    wm_scene_render(s, NULL, &p, W, H, img);
    check_box_projection(img, &p, 0, &w_far);
    identity_pose(&p, 1.0f); /* one metre closer: the face grows by 4.5 / 3.5 */
    wm_scene_render(s, NULL, &p, W, H, img);
    check_box_projection(img, &p, 1.0f, &w_near);
    CHECK_MSG(w_near > w_far, "moving forward must grow the box (%d -> %d px)", w_far, w_near);
    float ratio = (float)w_near / (float)w_far;
    CHECK_MSG(fabsf(ratio - 4.5f / 3.5f) < 0.05f, "growth ratio %.3f, expected %.3f", (double)ratio, 4.5 / 3.5);
    /* Sky above, ground below the horizon: they must differ. */
    CHECK(memcmp(img + 3 * (W / 8), img + ((size_t)(H - 1) * W + W / 8) * 3, 3) != 0);
    wm_scene_free(s);
}

static uint64_t digest(const uint8_t *img, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ img[i]) * 1099511628211ull;
    return h;
}

static void test_determinism_and_seeds(void)
{
    static uint8_t a[W * H * 3], b[W * H * 3];
    wm_pose p;
    identity_pose(&p, 0);
    p.c2w[3] = 37.0f; p.c2w[11] = -120.0f; /* far from the spawn: the world is unbounded */
    wm_threadpool *pool = NULL;
    CHECK(wm_threadpool_create(3, &pool) == WM_OK);
    uint64_t d[3];
    for (int seed = 0; seed < 3; seed++) {
        wm_scene_params sp = {0};
        sp.seed = (uint64_t)seed * 1000 + 1;
        wm_scene *s = NULL;
        CHECK(wm_scene_create(&sp, &s) == WM_OK);
        wm_scene_render(s, NULL, &p, W, H, a);
        wm_scene_render(s, pool, &p, W, H, b);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "seed %d: threaded render differs from single-threaded", seed);
        d[seed] = digest(a, sizeof a);
        wm_scene_free(s);
    }
    CHECK(d[0] != d[1] && d[1] != d[2] && d[0] != d[2]);
    wm_threadpool_free(pool);
}

int main(void)
{
    test_box();
    test_determinism_and_seeds();
    TEST_MAIN_END();
}
