/* test_sidecar.c -- SHA-256 against FIPS 180-4 vectors; sidecar progressive log, atomic finalization,
 * read-back as metadata and as a trajectory; an abandoned (crashed) sidecar leaves only the .part log.
 */
#include "input/trajectory.h"
#include "recordings/hash.h"
#include "recordings/sidecar.h"
#include "testing.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void sha_hex(const char *msg, size_t n, char hex[65])
{
    wm_sha256 s;
    uint8_t d[32];
    wm_sha256_init(&s);
    /* Feed in uneven pieces to exercise the block buffering. */
    for (size_t i = 0; i < n;) {
        size_t take = (i % 7) + 1;
        if (take > n - i) take = n - i;
        wm_sha256_update(&s, msg + i, take);
        i += take;
    }
    wm_sha256_final(&s, d);
    wm_sha256_hex(d, hex);
}

static void test_sha256(void)
{
    char h[65];
    sha_hex("", 0, h);
    CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    sha_hex("abc", 3, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(m2, strlen(m2), h);
    CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    char *mil = malloc(1000000);
    memset(mil, 'a', 1000000);
    sha_hex(mil, 1000000, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    free(mil);
    CHECK(wm_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
}

static void test_sidecar(const char *dir)
{
    char path[512], part[600];
    snprintf(path, sizeof path, "%s/rec.json", dir);
    snprintf(part, sizeof part, "%s.part", path);
    wm_sidecar_info info = {.source = "procedural", .seed = 1234567890123ULL, .prompt = "a \"quoted\" prompt\n",
                            .width = 4, .height = 2, .fps = 16, .frames_per_chunk = 3, .video_path = "rec.mp4"};
    wm_sidecar *s;
    wm_error err = {0};
    CHECK(wm_sidecar_open(path, &info, &s, &err) == WM_OK);
    wm_trajectory t;
    CHECK(wm_trajectory_from_dsl("w-3,d-3", NULL, &t, &err) == WM_OK);
    uint8_t rgb[4 * 2 * 3];
    for (int i = 0; i < t.n_frames; i++) {
        memset(rgb, i, sizeof rgb);
        wm_action act;
        memset(&act, 0, sizeof act);
        act.keys = WM_KEY_FORWARD;
        act.yaw = 0.5f;
        CHECK(wm_sidecar_add_frame(s, i, i == 0 ? 0 : (i - 1) / 3 + 1, &t.poses[i], rgb, i ? &act : NULL) == WM_OK);
        if (i == 2) CHECK(wm_sidecar_add_event(s, 0.125, 2, "key", "W", 1) == WM_OK);
    }
    CHECK(wm_sidecar_add_event(s, 0.5, 6, "pad", "left_y", -1) == WM_OK);
    wm_sidecar_flush(s);
    CHECK(access(part, R_OK) == 0 && access(path, F_OK) != 0); /* progressive log only */
    CHECK(wm_sidecar_close(s, &err) == WM_OK);
    CHECK(access(path, R_OK) == 0 && access(part, F_OK) != 0);

    wm_sidecar_meta m;
    CHECK(wm_sidecar_read_meta(path, &m, &err) == WM_OK);
    CHECK(m.seed == 1234567890123ULL && !strcmp(m.source, "procedural") && !strcmp(m.prompt, "a \"quoted\" prompt\n"));
    CHECK(m.width == 4 && m.height == 2 && m.frames_per_chunk == 3 && m.n_frames == 7);
    memset(rgb, 5, sizeof rgb);
    CHECK(m.n_frames == 7 && m.rgb_fnv[5] == wm_fnv1a64(rgb, sizeof rgb));
    wm_sidecar_meta_free(&m);

    wm_trajectory back;
    CHECK(wm_trajectory_load_json(path, &back, &err) == WM_OK);
    CHECK(back.n_frames == t.n_frames);
    for (int i = 0; i < t.n_frames && i < back.n_frames; i++) CHECK(memcmp(&back.poses[i], &t.poses[i], sizeof(wm_pose)) == 0);
    wm_trajectory_free(&back);
    FILE *sf = fopen(path, "r");
    char txt[8192];
    size_t tn = sf ? fread(txt, 1, sizeof txt - 1, sf) : 0;
    txt[tn] = 0;
    if (sf) fclose(sf);
    CHECK(strstr(txt, "\"action\":{\"keys\":1,\"axes\":[0,0,0,0.5,0]}") != NULL);

    /* Crash: abandoned sidecar keeps the .part log and leaves no final file. */
    char path2[512];
    snprintf(path2, sizeof path2, "%s/crash.json", dir);
    CHECK(wm_sidecar_open(path2, &info, &s, &err) == WM_OK);
    CHECK(wm_sidecar_add_frame(s, 0, 0, &t.poses[0], NULL, NULL) == WM_OK);
    wm_sidecar_flush(s);
    wm_sidecar_abandon(s);
    snprintf(part, sizeof part, "%s.part", path2);
    CHECK(access(part, R_OK) == 0 && access(path2, F_OK) != 0);
    CHECK(wm_sidecar_read_meta(part, &m, &err) != WM_OK); /* a log is not a finished sidecar */
    wm_trajectory_free(&t);

    /* Not a sidecar. */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    FILE *f = fopen(bad, "w");
    fputs("{\"frames\":[]}", f);
    fclose(f);
    memset(&err, 0, sizeof err);
    CHECK(wm_sidecar_read_meta(bad, &m, &err) == WM_ERR_FORMAT && strstr(err.msg, "bad.json"));
}

int main(void)
{
    char dir[] = "/tmp/wm_test_sidecar_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_sha256();
    test_sidecar(dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    TEST_MAIN_END();
}
