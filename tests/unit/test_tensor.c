/* Tensor views, reshape, slicing, host allocation, and the dtype conversions that checkpoints rely on
 * (bf16/f16 round-to-nearest-even, f16 subnormals/inf/NaN, fp8 e4m3). */
#include "testing.h"
#include "wm/core/tensor.h"

#include <string.h>

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void test_views(void)
{
    int64_t shape[3] = {2, 3, 4};
    wm_tensor t;
    CHECK(wm_tensor_alloc(WM_F32, 3, shape, &t) == WM_OK);
    CHECK(wm_tensor_numel(&t) == 24 && wm_tensor_nbytes(&t) == 96);
    CHECK(wm_tensor_rows(&t) == 6 && wm_tensor_cols(&t) == 4);
    float *p = t.data;
    for (int i = 0; i < 24; i++) CHECK(p[i] == 0.0f); /* zeroed */
    for (int i = 0; i < 24; i++) p[i] = (float)i;
    wm_tensor s = wm_tensor_slice0(&t, 1, 1);
    CHECK(s.shape[0] == 1 && ((float *)s.data)[0] == 12.0f && !s.owned);
    int64_t flat[2] = {6, 4}, bad[2] = {5, 5};
    wm_tensor r;
    CHECK(wm_tensor_reshape(&t, 2, flat, &r) == WM_OK && r.shape[0] == 6 && r.data == t.data);
    CHECK(wm_tensor_reshape(&t, 2, bad, &r) == WM_ERR_SHAPE);
    char buf[64];
    CHECK(strcmp(wm_tensor_desc(&t, buf, sizeof buf), "F32[2,3,4]") == 0);
    int64_t neg[1] = {-1};
    wm_tensor n;
    CHECK(wm_tensor_alloc(WM_F32, 1, neg, &n) == WM_ERR_SHAPE);
    wm_tensor_free(&t);
    CHECK(t.data == NULL);
}

static void test_bf16(void)
{
    CHECK(wm_f32_to_bf16(1.0f) == 0x3f80);
    /* 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even mantissa (1.0). */
    CHECK(wm_f32_to_bf16(from_bits(0x3f808000u)) == 0x3f80);
    /* 1 + 3*2^-8 is halfway too, and rounds up to the even neighbour 0x3f82. */
    CHECK(wm_f32_to_bf16(from_bits(0x3f818000u)) == 0x3f82);
    CHECK(wm_f32_to_bf16(from_bits(0x3f808001u)) == 0x3f81); /* above halfway rounds up */
    CHECK((wm_f32_to_bf16(NAN) & 0x7fc0) == 0x7fc0);            /* stays NaN */
    CHECK(wm_bf16_to_f32(0xc040) == -3.0f);
    CHECK(bits(wm_round_bf16(3.14159f)) == 0x40490000u);
}

static void test_f16(void)
{
    CHECK(wm_f32_to_f16(1.0f) == 0x3c00 && wm_f16_to_f32(0x3c00) == 1.0f);
    CHECK(wm_f32_to_f16(-2.5f) == 0xc100);
    CHECK(wm_f32_to_f16(65504.0f) == 0x7bff);           /* largest finite */
    CHECK(wm_f32_to_f16(65520.0f) == 0x7c00);           /* rounds to inf */
    CHECK(wm_f32_to_f16(INFINITY) == 0x7c00 && isinf(wm_f16_to_f32(0x7c00)));
    CHECK(isnan(wm_f16_to_f32(wm_f32_to_f16(NAN))));
    CHECK(wm_f16_to_f32(0x0001) == ldexpf(1.0f, -24));  /* smallest subnormal */
    CHECK(wm_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001);
    CHECK(wm_f32_to_f16(ldexpf(3.0f, -25)) == 0x0002);  /* 1.5 ulp: tie to even (2) */
    CHECK(wm_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00); /* halfway: even */
    /* Round trip of every finite f16 value. */
    int ok = 1;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        if (wm_f32_to_f16(wm_f16_to_f32((uint16_t)h)) != h) { ok = 0; break; }
    }
    CHECK(ok);
}

static void test_f8_and_convert(void)
{
    CHECK(wm_f8e4m3_to_f32(0x38) == 1.0f);   /* exp 7, mantissa 0 */
    CHECK(wm_f8e4m3_to_f32(0x7e) == 448.0f); /* largest finite */
    CHECK(isnan(wm_f8e4m3_to_f32(0x7f)));
    CHECK(wm_f8e4m3_to_f32(0x01) == ldexpf(1.0f, -9));
    float src[3] = {1.5f, -0.25f, 1000.0f}, back[3];
    uint16_t b[3];
    CHECK(wm_convert_from_f32(WM_BF16, src, b, 3) == 0);
    CHECK(wm_convert_to_f32(WM_BF16, b, back, 3) == 0);
    CHECK(back[0] == 1.5f && back[1] == -0.25f && back[2] == 1000.0f);
    CHECK(wm_convert_to_f32(WM_I32, b, back, 1) == -1);
    wm_dtype t;
    CHECK(wm_dtype_from_name("BF16", &t) == 0 && t == WM_BF16);
    CHECK(wm_dtype_from_name("F8_E4M3", &t) == 0 && t == WM_F8E4M3);
    CHECK(wm_dtype_from_name("Q4", &t) == -1);
    CHECK(wm_dtype_size(WM_F64) == 8 && wm_dtype_size((wm_dtype)99) == 0);
}

int main(void)
{
    test_views();
    test_bf16();
    test_f16();
    test_f8_and_convert();
    TEST_MAIN_END();
}
