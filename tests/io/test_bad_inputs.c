/* Bad-input corpus for every untrusted parser in wm/io, as ordinary tests.
 *
 * Each case is a small hand-made image (safetensors header/data, a pickle inside a minimal stored zip,
 * or a zip with a broken directory) opened through the in-memory entry points or from a file. Every one
 * must fail with a non-OK status and a message naming the file (the label) and the offending entry;
 * none may crash (run this test under -DWM_SANITIZE=ON too). A few valid variants are included so the
 * builders themselves are known to produce acceptable files.
 */
#include "testing.h"
#include "wm/io/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- byte buffer */
typedef struct buf { uint8_t *p; size_t n, cap; } buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_le(buf *b, uint64_t v, int n) { for (int i = 0; i < n; i++) { uint8_t c = (uint8_t)(v >> (8 * i)); put(b, &c, 1); } }
static void put_s(buf *b, const char *s) { put(b, s, strlen(s)); }

/* ---------------------------------------------------------------- safetensors cases */
static buf st_image(const char *header, size_t data_len, int64_t hlen_override)
{
    buf b = {0};
    put_le(&b, hlen_override >= 0 ? (uint64_t)hlen_override : strlen(header), 8);
    put_s(&b, header);
    for (size_t i = 0; i < data_len; i++) put(&b, "\0", 1);
    return b;
}

static void st_case(const char *label, const char *header, size_t data_len, int64_t hlen, const char *n1, const char *n2)
{
    buf b = st_image(header, data_len, hlen);
    wm_checkpoint *ck = NULL;
    wm_error err = {0};
    wm_status st = wm_checkpoint_open_safetensors_mem(b.p, b.n, label, &ck, &err);
    CHECK_MSG(st != WM_OK && !ck && strstr(err.msg, label) && strstr(err.msg, n1) && (!n2 || strstr(err.msg, n2)),
              "%s: status %d, message '%s' (want '%s'%s%s)", label, st, err.msg, n1, n2 ? " and " : "", n2 ? n2 : "");
    printf("%-28s %s\n", label, err.msg);
    wm_checkpoint_close(ck);
    free(b.p);
}

static void test_safetensors(void)
{
    const char *f32a = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    char h[512];
    snprintf(h, sizeof h, "%s}", f32a);
    buf ok = st_image(h, 8, -1);
    wm_checkpoint *ck = NULL;
    wm_error err = {0};
    CHECK_MSG(wm_checkpoint_open_safetensors_mem(ok.p, ok.n, "ok.safetensors", &ck, &err) == WM_OK, "%s", err.msg);
    wm_checkpoint_close(ck);
    free(ok.p);

    st_case("empty_header.safetensors", "", 0, 0, "header length 0", "too small");
    buf tiny = {0};
    put_s(&tiny, "\x05\0\0");
    CHECK(wm_checkpoint_open_safetensors_mem(tiny.p, tiny.n, "tiny.safetensors", &ck, &err) == WM_ERR_FORMAT &&
          strstr(err.msg, "tiny.safetensors") && strstr(err.msg, "too short"));
    free(tiny.p);
    st_case("hlen_past_eof.safetensors", "{}", 0, 1000, "header length 1000", "past the end");
    st_case("hlen_huge.safetensors", "{}", 0, (int64_t)1 << 40, "header length", "limit");
    st_case("not_json.safetensors", "{abc", 0, -1, "not valid JSON", NULL);
    st_case("array_root.safetensors", "[1, 2]", 0, -1, "not a JSON object", NULL);
    st_case("overlap.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1, "'a' and 'b' overlap", NULL);
    st_case("out_of_range.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, -1,
            "'a'", "past the data section");
    st_case("begin_gt_end.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, -1,
            "'a'", "begin 8 > end 0");
    st_case("unknown_dtype.safetensors", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
            "'a'", "unknown dtype 'F33'");
    st_case("size_mismatch.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1,
            "'w'", "12 bytes");
    st_case("negative_dim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1,
            "'w'", "shape[0]");
    st_case("overflow_dim.safetensors",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}", 8, -1, "'w'",
            "overflows");
    st_case("six_dims.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, -1,
            "'w'", "6 dimensions");
    st_case("duplicate_key.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, -1, "duplicate", "a");
    st_case("no_offsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, -1, "'w'", "data_offsets");
    st_case("no_dtype.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1, "'w'", "dtype");
    st_case("record_not_object.safetensors", "{\"w\":[1]}", 8, -1, "'w'", "not an object");
    st_case("meta_not_string.safetensors", "{\"__metadata__\":{\"x\":1}}", 0, -1, "__metadata__ entry 'x'", NULL);
    st_case("nul_in_key.safetensors", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
            "not valid JSON", NULL);
}

/* A real file cut short: the last tensor now reaches past the data section. */
static void test_truncated_file(void)
{
    static float v[64];
    wm_st_item items[2] = {{.name = "first", .dtype = WM_F32, .ndim = 1, .shape = {64}, .data = v},
                           {.name = "second", .dtype = WM_F32, .ndim = 2, .shape = {8, 8}, .data = v}};
    char path[] = "/tmp/wm_bad_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    wm_error err = {0};
    CHECK(wm_safetensors_write(path, items, 2, NULL, &err) == WM_OK);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    CHECK(truncate(path, len - 10) == 0);
    wm_checkpoint *ck = NULL;
    CHECK_MSG(wm_checkpoint_open(path, &ck, &err) == WM_ERR_FORMAT && strstr(err.msg, path) &&
              strstr(err.msg, "'second'") && strstr(err.msg, "past the data section"), "truncated: %s", err.msg);
    CHECK(truncate(path, 20) == 0);
    CHECK_MSG(wm_checkpoint_open(path, &ck, &err) == WM_ERR_FORMAT && strstr(err.msg, "past the end"), "%s", err.msg);
    printf("%-28s %s\n", "truncated file", err.msg);
    CHECK(truncate(path, 0) == 0);
    CHECK_MSG(wm_checkpoint_open(path, &ck, &err) == WM_ERR_FORMAT && strstr(err.msg, "too short"), "%s", err.msg);
    printf("%-28s %s\n", "empty file", err.msg);
    unlink(path);
}

/* ---------------------------------------------------------------- minimal stored zip */
typedef struct zfile { const char *name; const void *data; size_t len; int method; } zfile;

/* A stored zip; with zip64 set, every size/offset field is saturated and the real values live in
 * ZIP64 extra fields and the ZIP64 end-of-directory record (as in a multi-GB torch.save file). */
static buf make_zip_ex(const zfile *f, int n, int zip64)
{
    buf z = {0}, cd = {0};
    const uint64_t sat = 0xffffffffu;
    for (int i = 0; i < n; i++) {
        size_t off = z.n, nl = strlen(f[i].name);
        put_le(&z, 0x04034b50, 4); put_le(&z, 20, 2); put_le(&z, 0, 2); put_le(&z, (uint64_t)f[i].method, 2);
        put_le(&z, 0, 4); put_le(&z, 0, 4); put_le(&z, f[i].len, 4); put_le(&z, f[i].len, 4);
        put_le(&z, nl, 2); put_le(&z, 0, 2); put(&z, f[i].name, nl); put(&z, f[i].data, f[i].len);
        put_le(&cd, 0x02014b50, 4); put_le(&cd, 45, 2); put_le(&cd, 45, 2); put_le(&cd, 0, 2);
        put_le(&cd, (uint64_t)f[i].method, 2); put_le(&cd, 0, 4); put_le(&cd, 0, 4);
        put_le(&cd, zip64 ? sat : f[i].len, 4); put_le(&cd, zip64 ? sat : f[i].len, 4);
        put_le(&cd, nl, 2); put_le(&cd, zip64 ? 28 : 0, 2); put_le(&cd, 0, 2); put_le(&cd, 0, 2);
        put_le(&cd, 0, 2); put_le(&cd, 0, 4); put_le(&cd, zip64 ? sat : off, 4); put(&cd, f[i].name, nl);
        if (zip64) { put_le(&cd, 1, 2); put_le(&cd, 24, 2); put_le(&cd, f[i].len, 8); put_le(&cd, f[i].len, 8); put_le(&cd, off, 8); }
    }
    size_t cd_off = z.n;
    put(&z, cd.p, cd.n);
    if (zip64) {
        size_t rec = z.n;
        put_le(&z, 0x06064b50, 4); put_le(&z, 44, 8); put_le(&z, 45, 2); put_le(&z, 45, 2); put_le(&z, 0, 4);
        put_le(&z, 0, 4); put_le(&z, (uint64_t)n, 8); put_le(&z, (uint64_t)n, 8); put_le(&z, cd.n, 8); put_le(&z, cd_off, 8);
        put_le(&z, 0x07064b50, 4); put_le(&z, 0, 4); put_le(&z, rec, 8); put_le(&z, 1, 4);
    }
    put_le(&z, 0x06054b50, 4); put_le(&z, 0, 2); put_le(&z, 0, 2);
    put_le(&z, zip64 ? 0xffff : (uint64_t)n, 2); put_le(&z, zip64 ? 0xffff : (uint64_t)n, 2);
    put_le(&z, zip64 ? sat : cd.n, 4); put_le(&z, zip64 ? sat : cd_off, 4); put_le(&z, 0, 2);
    free(cd.p);
    return z;
}

static buf make_zip(const zfile *f, int n) { return make_zip_ex(f, n, 0); }

/* ---------------------------------------------------------------- pickle builder */
static void p_str(buf *b, const char *s) { put_s(b, "X"); put_le(b, strlen(s), 4); put_s(b, s); }
static void p_int(buf *b, int v) { put_s(b, "J"); put_le(b, (uint64_t)(uint32_t)v, 4); }
static void p_tuple(buf *b, const int *v, int n) { put_s(b, "("); for (int i = 0; i < n; i++) p_int(b, v[i]); put_s(b, "t"); }

/* {"generator": {name: tensor(storage "0" of numel floats, offset, size, stride)}} */
static buf tensor_pickle(const char *name, const char *storage_type, int numel, int offset, const int *size,
                         const int *stride, int nd)
{
    buf b = {0};
    put_s(&b, "\x80\x02}(");
    p_str(&b, "generator");
    put_s(&b, "}(");
    p_str(&b, name);
    put_s(&b, "ctorch._utils\n_rebuild_tensor_v2\n((");
    p_str(&b, "storage");
    put_s(&b, "ctorch\n"); put_s(&b, storage_type); put_s(&b, "\n");
    p_str(&b, "0"); p_str(&b, "cpu"); p_int(&b, numel);
    put_s(&b, "tQ");
    p_int(&b, offset);
    p_tuple(&b, size, nd);
    p_tuple(&b, stride, nd);
    put_s(&b, "\x89" "ccollections\nOrderedDict\n)Rt" "Ru" "u.");
    return b;
}

static wm_status open_pt(const void *pkl, size_t pkl_len, const void *storage, size_t st_len, int method,
                         const char *label, wm_error *err, wm_checkpoint **out)
{
    zfile f[2] = {{"archive/data.pkl", pkl, pkl_len, method}, {"archive/data/0", storage, st_len, 0}};
    buf z = make_zip(f, storage ? 2 : 1);
    wm_checkpoint *ck = NULL;
    wm_status st = wm_checkpoint_open_pt_mem(z.p, z.n, label, &ck, err);
    if (out && st == WM_OK) { *out = ck; ck = NULL; }
    wm_checkpoint_close(ck);
    free(z.p);   /* only reached by callers that closed the checkpoint first (out == NULL) or never use data */
    return st;
}

static void pk_case(const char *label, const void *pkl, size_t len, const void *st, size_t stlen, const char *n1,
                    const char *n2)
{
    wm_error err = {0};
    wm_status s = open_pt(pkl, len, st, stlen, 0, label, &err, NULL);
    CHECK_MSG(s != WM_OK && strstr(err.msg, label) && strstr(err.msg, n1) && (!n2 || strstr(err.msg, n2)),
              "%s: status %d, message '%s' (want '%s')", label, s, err.msg, n1);
    printf("%-28s %s\n", label, err.msg);
}

static void test_pickles(void)
{
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int s23[2] = {2, 3}, c23[2] = {3, 1}, t23[2] = {1, 2};
    buf good = tensor_pickle("model.w", "FloatStorage", 8, 2, s23, c23, 2);
    wm_error err = {0};
    zfile f[2] = {{"archive/data.pkl", good.p, good.n, 0}, {"archive/data/0", data, sizeof data, 0}};
    buf z = make_zip(f, 2);
    wm_checkpoint *ck = NULL;
    CHECK_MSG(wm_checkpoint_open_pt_mem(z.p, z.n, "good.pt", &ck, &err) == WM_OK, "good.pt: %s", err.msg);
    if (ck) {
        float v[6];
        CHECK(wm_checkpoint_read_f32(ck, "w", 0, NULL, v, &err) == WM_OK && v[0] == 3 && v[5] == 8);
        wm_checkpoint_close(ck);
    }
    free(z.p);

    buf nc = tensor_pickle("model.w", "FloatStorage", 8, 0, s23, t23, 2);
    pk_case("noncontig.pt", nc.p, nc.n, data, sizeof data, "'w'", "not contiguous");
    buf oob = tensor_pickle("model.w", "FloatStorage", 8, 4, s23, c23, 2);
    pk_case("offset_oob.pt", oob.p, oob.n, data, sizeof data, "'w'", "outside its storage");
    buf big = tensor_pickle("model.w", "FloatStorage", 16, 0, s23, c23, 2);
    pk_case("storage_size.pt", big.p, big.n, data, sizeof data, "'w'", "holds 32 bytes");
    pk_case("storage_missing.pt", good.p, good.n, NULL, 0, "'w'", "archive/data/0' missing");
    buf evst = tensor_pickle("model.w", "UntypedStorage", 8, 0, s23, c23, 2);
    pk_case("untyped_storage.pt", evst.p, evst.n, data, sizeof data, "'torch.UntypedStorage'", "not allowed");
    pk_case("truncated_pickle.pt", good.p, good.n / 2, data, sizeof data, "truncated", NULL);
    static const struct { const char *label, *pkl; size_t len; const char *n1, *n2; } raw[] = {
        {"os_system.pt", "\x80\x02" "cos\nsystem\nX\x04\0\0\0trueq\x00\x85R.", 0, "'os.system'", "not allowed"},
        {"stack_global.pt", "\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93.", 0, "'builtins.eval'", "not allowed"},
        {"reduce_storage.pt", "\x80\x02" "ctorch\nFloatStorage\n)R.", 0, "'torch.FloatStorage'", "not callable"},
        {"underflow.pt", "\x80\x02.", 0, "stack underflow", NULL},
        {"memo_undefined.pt", "\x80\x02h\x05.", 0, "memo entry 5", NULL},
        {"memo_huge.pt", "\x80\x02}r\xff\xff\xff\x7f.", 0, "memo index", NULL},
        {"inst_opcode.pt", "\x80\x02(iposix\nsystem\n.", 0, "opcode 0x69", NULL},
        {"long_too_big.pt", "\x80\x02\x8a\x09\1\1\1\1\1\1\1\1\1.", 0, "9 bytes", NULL},
        {"no_stop.pt", "\x80\x02}", 0, "no STOP", NULL},
        {"list_root.pt", "\x80\x02].", 0, "not a dict", NULL},
        {"no_tensors.pt", "\x80\x02}.", 0, "no tensors", NULL},
        {"setitems_no_dict.pt", "\x80\x02](K\1K\2u.", 0, "SETITEMS target is a list", NULL},
        {"protocol9.pt", "\x80\x09}.", 0, "protocol 9", NULL},
        {"tuple_below_mark.pt", "\x80\x02}(\x85.", 0, "stack underflow", NULL},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        size_t len = raw[i].len ? raw[i].len : strlen(raw[i].pkl);
        pk_case(raw[i].label, raw[i].pkl, len, NULL, 0, raw[i].n1, raw[i].n2);
    }
    /* Too many marks: the mark stack is bounded. */
    size_t n = (1u << 20) + 16;
    char *marks = malloc(n + 3);
    memcpy(marks, "\x80\x02", 2);
    memset(marks + 2, '(', n);
    marks[n + 2] = '.';
    pk_case("deep_marks.pt", marks, n + 3, NULL, 0, "too many marks", NULL);
    free(marks);
    free(good.p); free(nc.p); free(oob.p); free(big.p); free(evst.p);
}

static void test_zips(void)
{
    float data[2] = {0};
    buf good = tensor_pickle("model.w", "FloatStorage", 2, 0, (int[]){2}, (int[]){1}, 1);
    wm_error err = {0};
    CHECK(open_pt(good.p, good.n, data, sizeof data, 8, "deflated.pt", &err, NULL) == WM_ERR_UNSUPPORTED &&
          strstr(err.msg, "deflated.pt") && strstr(err.msg, "'archive/data.pkl' is compressed"));
    printf("%-28s %s\n", "deflated.pt", err.msg);
    zfile f[2] = {{"archive/data.pkl", good.p, good.n, 0}, {"archive/data/0", data, sizeof data, 0}};
    buf z = make_zip(f, 2);
    wm_checkpoint *ck = NULL;
    static const struct { const char *label; size_t cut; } cuts[] = {{"zip_cut_tail.pt", 30}, {"zip_cut_half.pt", 0}};
    for (int i = 0; i < 2; i++) {
        size_t len = cuts[i].cut ? z.n - cuts[i].cut : z.n / 2;
        CHECK_MSG(wm_checkpoint_open_pt_mem(z.p, len, cuts[i].label, &ck, &err) == WM_ERR_FORMAT &&
                  strstr(err.msg, cuts[i].label), "%s: %s", cuts[i].label, err.msg);
        printf("%-28s %s\n", cuts[i].label, err.msg);
    }
    /* Central directory offset beyond the file. */
    buf bad = {0};
    put(&bad, z.p, z.n);
    bad.p[bad.n - 6] = 0xff; bad.p[bad.n - 5] = 0xff;
    CHECK(wm_checkpoint_open_pt_mem(bad.p, bad.n, "cd_offset.pt", &ck, &err) == WM_ERR_FORMAT &&
          strstr(err.msg, "outside the file"));
    printf("%-28s %s\n", "cd_offset.pt", err.msg);
    /* Local header renamed: the central directory and local header disagree. */
    memcpy(bad.p, z.p, z.n);
    bad.p[30] = 'X';
    CHECK(wm_checkpoint_open_pt_mem(bad.p, bad.n, "local_name.pt", &ck, &err) == WM_ERR_FORMAT &&
          strstr(err.msg, "'archive/data.pkl'") && strstr(err.msg, "different file"));
    printf("%-28s %s\n", "local_name.pt", err.msg);
    /* Two pickles, and no pickle at all. */
    zfile two[2] = {{"a/data.pkl", good.p, good.n, 0}, {"b/data.pkl", good.p, good.n, 0}};
    buf z2 = make_zip(two, 2);
    CHECK(wm_checkpoint_open_pt_mem(z2.p, z2.n, "two.pt", &ck, &err) == WM_ERR_FORMAT && strstr(err.msg, "two pickles"));
    zfile none[1] = {{"archive/other", data, sizeof data, 0}};
    buf z3 = make_zip(none, 1);
    CHECK(wm_checkpoint_open_pt_mem(z3.p, z3.n, "nopkl.pt", &ck, &err) == WM_ERR_FORMAT && strstr(err.msg, "no data.pkl"));
    CHECK(wm_checkpoint_open_pt_mem("PK\3\4", 4, "four.pt", &ck, &err) == WM_ERR_FORMAT && strstr(err.msg, "four.pt"));
    /* ZIP64: the same archive with saturated 32-bit fields reads back; a broken locator is named. */
    buf z64 = make_zip_ex(f, 2, 1);
    CHECK_MSG(wm_checkpoint_open_pt_mem(z64.p, z64.n, "zip64.pt", &ck, &err) == WM_OK, "zip64.pt: %s", err.msg);
    if (ck) { CHECK(wm_checkpoint_count(ck) == 1 && wm_checkpoint_find(ck, "w")); wm_checkpoint_close(ck); }
    z64.p[z64.n - 22 - 20] = 'X';   /* locator signature */
    CHECK(wm_checkpoint_open_pt_mem(z64.p, z64.n, "zip64_bad.pt", &ck, &err) == WM_ERR_FORMAT &&
          strstr(err.msg, "zip64_bad.pt") && strstr(err.msg, "zip64"));
    printf("%-28s %s\n", "zip64_bad.pt", err.msg);
    z64.p[z64.n - 22 - 20] = 'P';
    z64.p[z64.n - 22 - 20 + 8] = 0xff;   /* locator points past the file */
    CHECK(wm_checkpoint_open_pt_mem(z64.p, z64.n, "zip64_off.pt", &ck, &err) == WM_ERR_FORMAT && strstr(err.msg, "zip64"));
    free(good.p); free(z.p); free(bad.p); free(z2.p); free(z3.p); free(z64.p);
}

int main(void)
{
    test_safetensors();
    test_truncated_file();
    test_pickles();
    test_zips();
    TEST_MAIN_END();
}
