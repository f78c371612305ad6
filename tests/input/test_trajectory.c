/* test_trajectory.c -- trajectory files: JSON, the .npy pair, the action DSL, and a bad-file corpus.
 *
 * The DSL golden poses come from tests/input/ref_dsl_rollout.py (a float64 numpy rendition of the
 * reference camera_control.py); every malformed input must fail with a message naming the entry or
 * field, and never crash (run under ASan in the sanitizer CI job).
 */
#include "input/npy.h"
#include "input/trajectory.h"
#include "testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); return; }
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_dsl_golden(void)
{
    /* ref_dsl_rollout.py 'wd-20,none-10,il-15,k-30,sj-12' */
    static const struct { int i; float m[16]; } gold[] = {
        {29, {9.61250305e-01f, 0.00000000e+00f, 2.75677025e-01f, 9.57507417e-02f, 0.00000000e+00f, 1.00000000e+00f, 0.00000000e+00f, 0.00000000e+00f, -2.75677025e-01f, 0.00000000e+00f, 9.61250305e-01f, 6.57692611e-01f, 0.00000000e+00f, 0.00000000e+00f, 0.00000000e+00f, 1.00000000e+00f}},
        {58, {9.59689975e-01f, 5.88609139e-03f, 2.80999064e-01f, 4.59395140e-01f, 0.00000000e+00f, 9.99780655e-01f, -2.09424198e-02f, 0.00000000e+00f, -2.81060696e-01f, 2.00982299e-02f, 9.59479511e-01f, 5.65137029e-01f, 0.00000000e+00f, 0.00000000e+00f, 0.00000000e+00f, 1.00000000e+00f}},
        {87, {9.59689975e-01f, -4.39675823e-02f, 2.77600378e-01f, 8.71703178e-02f, 0.00000000e+00f, 9.87688363e-01f, 1.56434461e-01f, 0.00000000e+00f, -2.81060696e-01f, -1.50128588e-01f, 9.47874606e-01f, 3.61548483e-01f, 0.00000000e+00f, 0.00000000e+00f, 0.00000000e+00f, 1.00000000e+00f}},
    };
    wm_trajectory t;
    wm_error err = {0};
    CHECK(wm_trajectory_from_dsl(" wd-20, none-10，il-15,k-30,sj-12", NULL, &t, &err) == WM_OK);
    CHECK(t.n_frames == 88);
    for (size_t g = 0; g < sizeof gold / sizeof gold[0] && t.n_frames == 88; g++) {
        char label[64];
        snprintf(label, sizeof label, "dsl pose %d vs reference", gold[g].i);
        CHECK(t_allclose(label, t.poses[gold[g].i].c2w, gold[g].m, 16, 2e-6f, 1e-5f));
    }
    CHECK(t.n_frames > 0 && t.poses[0].c2w[0] == 1 && t.poses[0].c2w[11] == 0);
    wm_trajectory_free(&t);

    uint32_t *keys;
    int n;
    CHECK(wm_dsl_parse("WS-2,none-1,l-1", &keys, &n, &err) == WM_OK && n == 4);
    if (n == 4) CHECK(keys[0] == (WM_KEY_FORWARD | WM_KEY_BACK) && keys[2] == 0 && keys[3] == WM_KEY_STRAFE_RIGHT);
    free(keys);

    static const struct { const char *dsl, *want; } bad[] = {
        {"", "empty"}, {"w", "segment 1"}, {"w-", "missing frame count"}, {"w-0", "non-positive"},
        {"w-3,x-2", "unknown key 'x'"}, {"w-3,,a-1", "segment 2"}, {"w-1e3", "not a number"},
        {"w--3", "unknown key '-'"}, {"w-99999999999999999999", "more than"}, {"w-3,a-2-", "segment 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        wm_status st = wm_trajectory_from_dsl(bad[i].dsl, NULL, &t, &err);
        CHECK_MSG(st != WM_OK && strstr(err.msg, bad[i].want), "dsl '%s': st %d msg '%s'", bad[i].dsl, st, err.msg);
    }
}

static void test_json_roundtrip(void)
{
    wm_trajectory a, b;
    wm_error err = {0};
    CHECK(wm_trajectory_from_dsl("wd-10,il-5", NULL, &a, &err) == WM_OK);
    const char *p = tmp_path("t.json");
    CHECK(wm_trajectory_save_json(p, &a, &err) == WM_OK);
    CHECK(wm_trajectory_load(p, NULL, NULL, &b, &err) == WM_OK);
    CHECK(b.n_frames == a.n_frames && b.width == 1280 && b.height == 704 && b.fps == 16);
    for (int i = 0; i < a.n_frames && i < b.n_frames; i++)
        CHECK(memcmp(&a.poses[i], &b.poses[i], sizeof(wm_pose)) == 0); /* 9 digits: exact float */
    wm_trajectory_free(&a);
    wm_trajectory_free(&b);

    /* "K" form and flat c2w accepted. */
    const char *k = "{\"frames\":[{\"c2w\":[1,0,0,0,0,1,0,0,0,0,1,2,0,0,0,1],\"K\":[[500,0,320],[0,510,240],[0,0,1]]}]}";
    write_file(tmp_path("k.json"), k, strlen(k));
    CHECK(wm_trajectory_load_json(tmp_path("k.json"), &b, &err) == WM_OK);
    CHECK(b.n_frames == 1 && b.poses[0].fy == 510 && b.poses[0].cx == 320 && b.poses[0].c2w[11] == 2);
    wm_trajectory_free(&b);
}

static void test_npy_pair(void)
{
    wm_trajectory a, b;
    wm_error err = {0};
    CHECK(wm_trajectory_from_dsl("w-5,d-4", NULL, &a, &err) == WM_OK);
    CHECK(wm_trajectory_save_npy(tmp_path("c.npy"), tmp_path("K.npy"), &a, &err) == WM_OK);
    CHECK(wm_trajectory_load(tmp_path("c.npy"), tmp_path("K.npy"), NULL, &b, &err) == WM_OK);
    CHECK(b.n_frames == 10);
    for (int i = 0; i < a.n_frames && i < b.n_frames; i++) CHECK(memcmp(&a.poses[i], &b.poses[i], sizeof(wm_pose)) == 0);
    wm_trajectory_free(&b);

    /* Single (3,3) K broadcast; (4,) vector; (F',4) shorter -> linear resample. */
    float K33[9] = {400, 0, 100, 0, 410, 90, 0, 0, 1};
    int64_t s33[2] = {3, 3};
    CHECK(wm_npy_write(tmp_path("k33.npy"), K33, 2, s33, &err) == WM_OK);
    CHECK(wm_trajectory_load_npy(tmp_path("c.npy"), tmp_path("k33.npy"), NULL, &b, &err) == WM_OK);
    CHECK(b.n_frames == 10 && b.poses[9].fx == 400 && b.poses[9].fy == 410 && b.poses[9].cy == 90);
    wm_trajectory_free(&b);
    float K2[8] = {100, 100, 50, 50, 200, 300, 60, 70};
    int64_t s2[2] = {2, 4};
    CHECK(wm_npy_write(tmp_path("k24.npy"), K2, 2, s2, &err) == WM_OK);
    CHECK(wm_trajectory_load_npy(tmp_path("c.npy"), tmp_path("k24.npy"), NULL, &b, &err) == WM_OK);
    if (b.n_frames == 10) {
        CHECK(b.poses[0].fx == 100 && b.poses[9].fx == 200 && b.poses[9].fy == 300);
        CHECK(fabsf(b.poses[3].fx - (100 + 100 * 3.0f / 9)) < 1e-3f);
    }
    wm_trajectory_free(&b);
    wm_trajectory_free(&a);

    /* A hand-made '<f8', format 2.0 file with a (1,4,4) identity: exercised without numpy. */
    char hdr[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4, 4), }";
    size_t hl = strlen(hdr);
    uint8_t buf[512];
    memcpy(buf, "\x93NUMPY\x02\x00", 8);
    buf[8] = (uint8_t)hl; buf[9] = buf[10] = buf[11] = 0;
    memcpy(buf + 12, hdr, hl);
    double I[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0.5, 0, 0, 0, 1};
    memcpy(buf + 12 + hl, I, sizeof I);
    write_file(tmp_path("f8.npy"), buf, 12 + hl + sizeof I);
    CHECK(wm_trajectory_load_npy(tmp_path("f8.npy"), NULL, NULL, &b, &err) == WM_OK);
    CHECK(b.n_frames == 1 && b.poses[0].c2w[11] == 0.5f && b.poses[0].fx > 1000);
    wm_trajectory_free(&b);
}

/* Bad-file corpus: (file name, contents, expected substring of the error). */
static void test_bad_corpus(void)
{
    static const struct { const char *name, *body, *want; } js[] = {
        {"b1.json", "{\"frames\": [", "b1.json:1:"},
        {"b2.json", "{\"nope\": 1}", "missing \"frames\""},
        {"b3.json", "{\"frames\": []}", "0 frames"},
        {"b4.json", "{\"frames\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,0]], \"intrinsics\":[1,1,0,0]}]}", "frames[0].c2w: expected an array of 4"},
        {"b5.json", "{\"frames\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,\"x\"],[0,0,0,1]], \"intrinsics\":[1,1,0,0]}]}", "frames[0].c2w[2][3]: expected a number"},
        {"b6.json", "{\"frames\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}", "missing \"intrinsics\""},
        {"b7.json", "{\"frames\": [{\"c2w\": [[2,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], \"intrinsics\":[1,1,0,0]}]}", "not orthonormal"},
        {"b8.json", "{\"frames\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], \"intrinsics\":[0,1,0,0]}]}", "fx, fy > 0"},
        {"b9.json", "{\"frames\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,1,1]], \"intrinsics\":[1,1,0,0]}]}", "bottom row"},
        {"b10.json", "{\"frames\": [1], \"frames\": [2]}", "duplicate"},
        {"b11.json", "{\"frames\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], \"intrinsics\":[1,1,0,0]}, 7]}", "frames[1]: expected an object"},
        {"b12.json", "", "b12.json:"},
    };
    wm_error err;
    wm_trajectory t;
    for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
        write_file(tmp_path(js[i].name), js[i].body, strlen(js[i].body));
        memset(&err, 0, sizeof err);
        wm_status st = wm_trajectory_load(tmp_path(js[i].name), NULL, NULL, &t, &err);
        CHECK_MSG(st != WM_OK && strstr(err.msg, js[i].want) && t.poses == NULL, "%s: st %d msg '%s'", js[i].name, st, err.msg);
    }
    /* .npy: truncations of a valid file at every length, plus targeted header corruptions. */
    wm_trajectory a;
    CHECK(wm_trajectory_from_dsl("w-3", NULL, &a, &err) == WM_OK);
    CHECK(wm_trajectory_save_npy(tmp_path("ok.npy"), NULL, &a, &err) == WM_OK);
    wm_trajectory_free(&a);
    FILE *f = fopen(tmp_path("ok.npy"), "rb");
    uint8_t good[1024];
    size_t n = f ? fread(good, 1, sizeof good, f) : 0;
    if (f) fclose(f);
    CHECK(n == 128 + 4 * 64);
    int truncated_fail = 0;
    for (size_t len = 0; len < n; len++) {
        wm_npy arr;
        if (wm_npy_parse(good, len, "trunc.npy", &arr, &err) != WM_OK) truncated_fail++;
        else wm_npy_free(&arr);
    }
    CHECK(truncated_fail == (int)n);
    static const struct { const char *from, *to, *want; } np[] = {
        {"<f4", "<i4", "dtype '<i4'"}, {"<f4", ">f4", "dtype '>f4'"}, {"False", "True ", "fortran_order True"},
        {"(4, 4, 4,)", "(4, 4, 5,)", "data is"}, {"(4, 4, 4,)", "(8, 8,   )", "c2w shape"},
        {"(4, 4, 4,)", "(4,4,4,4,4)", "malformed"}, {"'shape'", "'shapx'", "unknown key"},
        {"(4, 4, 4,)", "(4, 4, 4 ]", "malformed"}, {"{'descr'", "['descr'", "not a dict"},
    };
    for (size_t i = 0; i < sizeof np / sizeof np[0]; i++) {
        uint8_t b[1024];
        memcpy(b, good, n);
        char *h = (char *)b + 10;
        char *at = strstr(h, np[i].from);
        CHECK_MSG(at != NULL, "corpus %zu: '%s' not in header", i, np[i].from);
        if (!at) continue;
        memcpy(at, np[i].to, strlen(np[i].to));
        char name[32];
        snprintf(name, sizeof name, "bad%zu.npy", i);
        write_file(tmp_path(name), b, n);
        memset(&err, 0, sizeof err);
        wm_status st = wm_trajectory_load(tmp_path(name), NULL, NULL, &t, &err);
        CHECK_MSG(st != WM_OK && strstr(err.msg, np[i].want), "%s: st %d msg '%s'", name, st, err.msg);
    }
    memset(&err, 0, sizeof err);
    CHECK(wm_trajectory_load_npy(tmp_path("missing.npy"), NULL, NULL, &t, &err) == WM_ERR_IO && strstr(err.msg, "missing.npy"));
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/wm_test_traj_XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_dsl_golden();
    test_json_roundtrip();
    test_npy_pair();
    test_bad_corpus();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", g_dir);
    TEST_MAIN_END();
}
