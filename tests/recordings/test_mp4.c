/* test_mp4.c -- MP4 recording: frame count, size and duration read back through libavformat; decoded
 * pixels close to the source (lossy codec); a writer killed with SIGKILL mid-run leaves a readable
 * file; encoding the same frames twice gives identical decoded frames (what replay relies on).
 */
#include "recordings/mp4.h"
#include "testing.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { W = 160, H = 96, FPS = 16 };

/* A moving gradient with a square: smooth content the codec keeps close. */
static void make_frame(int i, uint8_t *rgb)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + ((size_t)y * W + x) * 3;
            p[0] = (uint8_t)(x + 2 * i);
            p[1] = (uint8_t)(y * 2);
            p[2] = (uint8_t)(128 + 60 * ((x / 20 + y / 20 + i / 8) & 1));
        }
}

typedef struct { double sum_abs; long n; uint64_t hash; int frames; } cmp_ctx;

static int on_frame(void *user, int index, const uint8_t *rgb, int w, int h)
{
    cmp_ctx *c = user;
    static uint8_t ref[W * H * 3];
    if (w != W || h != H) return 1;
    make_frame(index, ref);
    for (int i = 0; i < W * H * 3; i++) c->sum_abs += abs((int)rgb[i] - ref[i]);
    c->n += W * H * 3;
    for (int i = 0; i < W * H * 3; i++) c->hash = (c->hash ^ rgb[i]) * 0x100000001b3ULL;
    c->frames++;
    return 0;
}

static int write_file(const char *path, int n, int kill_after, int fd_ready)
{
    wm_mp4_params p = {.width = W, .height = H, .fps = FPS, .no_part_name = kill_after > 0};
    wm_mp4 *m;
    wm_error err = {0};
    if (wm_mp4_open(path, &p, &m, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
    uint8_t *rgb = malloc(W * H * 3);
    for (int i = 0; i < n; i++) {
        make_frame(i, rgb);
        if (wm_mp4_write_rgb(m, rgb, &err) != WM_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
        if (kill_after > 0 && i + 1 == kill_after) {
            if (write(fd_ready, "r", 1) != 1) return 1;
            for (;;) pause(); /* wait to be killed mid-recording */
        }
    }
    free(rgb);
    return wm_mp4_close(m, &err) == WM_OK ? 0 : 1;
}

int main(void)
{
    char dir[] = "/tmp/wm_test_mp4_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char a[512], b[512], k[512], part[600];
    snprintf(a, sizeof a, "%s/a.mp4", dir);
    snprintf(b, sizeof b, "%s/b.mp4", dir);
    snprintf(k, sizeof k, "%s/killed.mp4", dir);
    snprintf(part, sizeof part, "%s.part", a);

    CHECK(write_file(a, 40, 0, -1) == 0);
    CHECK(access(a, R_OK) == 0 && access(part, F_OK) != 0); /* renamed into place */
    wm_mp4_info info;
    wm_error err = {0};
    cmp_ctx ca = {0}, cb = {0};
    CHECK(wm_mp4_read(a, &info, on_frame, &ca, &err) == WM_OK);
    printf("a.mp4: %s %dx%d frames=%d duration=%.3f fps=%.2f mean_abs=%.2f\n", info.codec, info.width, info.height,
           info.n_frames, info.duration_s, info.fps, ca.n ? ca.sum_abs / ca.n : -1);
    CHECK(!strcmp(info.codec, "h264") && info.width == W && info.height == H);
    CHECK(info.n_frames == 40 && ca.frames == 40);
    CHECK(fabs(info.duration_s - 40.0 / FPS) < 1e-3);
    CHECK(fabs(info.fps - FPS) < 1e-6);
    CHECK(ca.n && ca.sum_abs / ca.n < 3.0);

    /* Same frames twice -> identical decoded frames. */
    CHECK(write_file(b, 40, 0, -1) == 0);
    CHECK(wm_mp4_read(b, &info, on_frame, &cb, &err) == WM_OK);
    CHECK(cb.frames == 40 && cb.hash == ca.hash);

    /* Killed mid-run: a child writes 40 of 200 frames, signals, and gets SIGKILL. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) { close(fds[0]); _exit(write_file(k, 200, 40, fds[1])); }
    close(fds[1]);
    char c;
    CHECK(read(fds[0], &c, 1) == 1);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    cmp_ctx ck = {0};
    memset(&err, 0, sizeof err);
    wm_status st = wm_mp4_read(k, &info, on_frame, &ck, &err);
    printf("killed.mp4: st=%d frames=%d decoded=%d duration=%.3f %s\n", st, info.n_frames, ck.frames, info.duration_s, err.msg);
    /* Fragments close at each keyframe (every 16 frames): frames 0..31 are complete on disk. */
    CHECK(st == WM_OK && info.n_frames >= 32 && ck.frames >= 32 && info.n_frames <= 40);
    CHECK(ck.n && ck.sum_abs / ck.n < 3.0);

    /* Bad arguments and inputs. */
    wm_mp4 *m;
    wm_mp4_params odd = {.width = 161, .height = 96};
    CHECK(wm_mp4_open(a, &odd, &m, &err) == WM_ERR_INVALID_ARG);
    CHECK(wm_mp4_read("/nonexistent/x.mp4", &info, NULL, NULL, &err) == WM_ERR_IO);
    char junk[512];
    snprintf(junk, sizeof junk, "%s/junk.mp4", dir);
    FILE *f = fopen(junk, "w");
    fputs("not a video", f);
    fclose(f);
    CHECK(wm_mp4_read(junk, &info, NULL, NULL, &err) != WM_OK);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    TEST_MAIN_END();
}
