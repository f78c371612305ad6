/* PSNR/SSIM on cases with known answers (identical images, constant images where SSIM reduces to the
 * luminance term, a brute-force 2-D window reference, monotonic response to noise) and the PNG/PPM
 * frame codec (bit-exact round trips, corrupt/truncated/foreign files rejected with an error). */
#include "testing.h"
#include "wm/world/image.h"
#include "wm/world/metrics.h"

#include <string.h>
#include <unistd.h>

/* SSIM straight from the definition: 11x11 Gaussian window (sigma 1.5) summed in 2-D per pixel. */
static double ssim_ref(const uint8_t *a, const uint8_t *b, int w, int h)
{
    double g[11], s = 0, total = 0;
    for (int i = 0; i < 11; i++) s += g[i] = exp(-0.5 * (i - 5) * (i - 5) / 2.25);
    for (int i = 0; i < 11; i++) g[i] /= s;
    const double C1 = 6.5025, C2 = 58.5225;
    for (int c = 0; c < 3; c++)
        for (int y = 5; y < h - 5; y++)
            for (int x = 5; x < w - 5; x++) {
                double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                for (int j = -5; j <= 5; j++)
                    for (int i = -5; i <= 5; i++) {
                        double wt = g[j + 5] * g[i + 5];
                        double p = a[((y + j) * w + x + i) * 3 + c], q = b[((y + j) * w + x + i) * 3 + c];
                        mx += wt * p; my += wt * q; xx += wt * p * p; yy += wt * q * q; xy += wt * p * q;
                    }
                double vx = xx - mx * mx, vy = yy - my * my, cv = xy - mx * my;
                total += (2 * mx * my + C1) * (2 * cv + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
            }
    return total / (3.0 * (w - 10) * (h - 10));
}

static void test_metrics(void)
{
    enum { W = 23, H = 19, N = W * H * 3 };
    static uint8_t a[N], b[N], c[N];
    memset(a, 100, N);
    memset(b, 110, N);
    CHECK(isinf(wm_psnr_rgb8(a, a, W, H)));
    CHECK(fabs(wm_ssim_rgb8(a, a, W, H) - 1.0) < 1e-12);
    double psnr = wm_psnr_rgb8(a, b, W, H); /* MSE 100 */
    CHECK_MSG(fabs(psnr - 10 * log10(65025.0 / 100.0)) < 1e-9, "psnr %.6f", psnr);
    double ssim = wm_ssim_rgb8(a, b, W, H), expect = (2 * 100 * 110 + 6.5025) / (100 * 100 + 110 * 110 + 6.5025);
    CHECK_MSG(fabs(ssim - expect) < 1e-9, "ssim of constants %.9f expected %.9f", ssim, expect);
    t_rng r = {42};
    for (int i = 0; i < N; i++) a[i] = (uint8_t)(t_rng_u64(&r) >> 56);
    for (int i = 0; i < N; i++) {
        int v = a[i] + (int)(t_rng_normal(&r) * 20);
        b[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        v = a[i] + (int)(t_rng_normal(&r) * 5);
        c[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    double s_ab = wm_ssim_rgb8(a, b, W, H), ref = ssim_ref(a, b, W, H);
    CHECK_MSG(fabs(s_ab - ref) < 1e-9, "separable ssim %.12f vs 2-D reference %.12f", s_ab, ref);
    CHECK(fabs(s_ab - wm_ssim_rgb8(b, a, W, H)) < 1e-12);
    double s_ac = wm_ssim_rgb8(a, c, W, H);
    CHECK_MSG(s_ac > s_ab && s_ab > 0 && s_ac < 1, "less noise must score higher: %.4f vs %.4f", s_ac, s_ab);
    CHECK(wm_psnr_rgb8(a, c, W, H) > wm_psnr_rgb8(a, b, W, H));
    CHECK(isnan(wm_ssim_rgb8(a, b, 10, 10)));
}

static void roundtrip(const char *path, const uint8_t *img, int w, int h)
{
    wm_error err = {0};
    CHECK_MSG(wm_image_write(path, w, h, img, &err) == WM_OK, "%s: %s", path, err.msg);
    uint8_t *back = NULL;
    int bw = 0, bh = 0;
    CHECK_MSG(wm_image_read(path, &bw, &bh, &back, &err) == WM_OK, "%s: %s", path, err.msg);
    CHECK(bw == w && bh == h && back && memcmp(back, img, (size_t)w * h * 3) == 0);
    free(back);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);
}

static void test_images(void)
{
    enum { W = 37, H = 29 };
    static uint8_t img[W * H * 3];
    t_rng r = {7};
    for (int i = 0; i < W * H * 3; i++) img[i] = (uint8_t)(i % 97 < 50 ? (int)(t_rng_u64(&r) >> 56) : i / 31);
    char dir[] = "/tmp/wm_test_images_XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.ppm", dir);
    roundtrip(path, img, W, H);
    wm_error err = {0};
    uint8_t *back = NULL;
    int w, h;
    if (wm_image_have_png()) {
        snprintf(path, sizeof path, "%s/a.png", dir);
        roundtrip(path, img, W, H);
        /* Flip one byte inside IDAT: the CRC must catch it. */
        FILE *f = fopen(path, "r+b");
        fseek(f, 50, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 50, SEEK_SET);
        fputc(ch ^ 0x5a, f);
        fclose(f);
        CHECK(wm_image_read(path, &w, &h, &back, &err) == WM_ERR_FORMAT && back == NULL);
        CHECK(strstr(err.msg, "a.png") != NULL);
        CHECK(truncate(path, 40) == 0);
        CHECK(wm_image_read(path, &w, &h, &back, &err) != WM_OK && back == NULL);
    }
    snprintf(path, sizeof path, "%s/junk.ppm", dir);
    FILE *f = fopen(path, "wb");
    fputs("P6\n99999999 2\n255\n", f);
    fclose(f);
    CHECK(wm_image_read(path, &w, &h, &back, &err) == WM_ERR_FORMAT);
    f = fopen(path, "wb");
    fputs("hello", f);
    fclose(f);
    CHECK(wm_image_read(path, &w, &h, &back, &err) == WM_ERR_FORMAT);
    remove(path);
    snprintf(path, sizeof path, "%s/missing.png", dir);
    CHECK(wm_image_read(path, &w, &h, &back, &err) == WM_ERR_IO);
    snprintf(path, sizeof path, "%s/a.bmp", dir);
    CHECK(wm_image_write(path, W, H, img, &err) == WM_ERR_UNSUPPORTED);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    CHECK(system(path) == 0);
}

int main(void)
{
    test_metrics();
    test_images();
    TEST_MAIN_END();
}
