/* Scalar conversions between fp32 and the storage dtypes. f16 handles subnormals, infinities and NaN
 * exactly (IEEE binary16, round to nearest even) because checkpoints may contain any of them. */
#include "wm/core/dtype.h"

#include <math.h>

static const struct { const char *name; size_t size; } k_dtypes[WM_DTYPE_COUNT] = {
    [WM_F32] = {"F32", 4},   [WM_BF16] = {"BF16", 2}, [WM_F16] = {"F16", 2}, [WM_F8E4M3] = {"F8_E4M3", 1},
    [WM_F64] = {"F64", 8},   [WM_I64] = {"I64", 8},   [WM_I32] = {"I32", 4}, [WM_I16] = {"I16", 2},
    [WM_I8] = {"I8", 1},     [WM_U8] = {"U8", 1},     [WM_BOOL] = {"BOOL", 1},
};

size_t wm_dtype_size(wm_dtype t) { return (unsigned)t < WM_DTYPE_COUNT ? k_dtypes[t].size : 0; }

const char *wm_dtype_name(wm_dtype t) { return (unsigned)t < WM_DTYPE_COUNT ? k_dtypes[t].name : "?"; }

int wm_dtype_from_name(const char *name, wm_dtype *out)
{
    for (int i = 0; i < WM_DTYPE_COUNT; i++) {
        if (strcmp(name, k_dtypes[i].name) == 0) {
            *out = (wm_dtype)i;
            return 0;
        }
    }
    return -1;
}

int wm_dtype_is_float(wm_dtype t)
{
    return t == WM_F32 || t == WM_BF16 || t == WM_F16 || t == WM_F8E4M3 || t == WM_F64;
}

float wm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: value = man * 2^-24 */
            float f = ldexpf((float)man, -24);
            return sign ? -f : f;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t wm_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t au = u & 0x7fffffffu;
    if (au > 0x7f800000u) return sign | 0x7e00;          /* NaN */
    if (au >= 0x477ff000u) return sign | 0x7c00;         /* rounds to >= 65520: inf */
    if (au < 0x38800000u) {                               /* below 2^-14: subnormal or zero */
        float a;
        memcpy(&a, &au, 4);
        float scaled = a * 16777216.0f;                   /* 2^24: units of the smallest subnormal */
        uint32_t m = (uint32_t)nearbyintf(scaled);        /* default rounding: to nearest even */
        return sign | (uint16_t)m;
    }
    uint32_t mant_odd = (au >> 13) & 1u;
    au += 0xc8000fffu + mant_odd;                         /* rebias exponent (-112<<23) and round */
    return sign | (uint16_t)(au >> 13);
}

float wm_f8e4m3_to_f32(uint8_t v)
{
    int sign = v >> 7, exp = (v >> 3) & 0xf, man = v & 7;
    float f;
    if (exp == 15 && man == 7) return NAN;                /* E4M3FN: no infinities, one NaN pattern */
    if (exp == 0) f = ldexpf((float)man, -9);
    else f = ldexpf(1.0f + man / 8.0f, exp - 7);
    return sign ? -f : f;
}

int wm_convert_to_f32(wm_dtype t, const void *src, float *dst, size_t n)
{
    switch (t) {
    case WM_F32: memcpy(dst, src, n * 4); return 0;
    case WM_BF16: for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, (const char *)src + 2 * i, 2); dst[i] = wm_bf16_to_f32(h); } return 0;
    case WM_F16: for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, (const char *)src + 2 * i, 2); dst[i] = wm_f16_to_f32(h); } return 0;
    case WM_F8E4M3: for (size_t i = 0; i < n; i++) dst[i] = wm_f8e4m3_to_f32(((const uint8_t *)src)[i]); return 0;
    case WM_F64: for (size_t i = 0; i < n; i++) { double d; memcpy(&d, (const char *)src + 8 * i, 8); dst[i] = (float)d; } return 0;
    default: return -1;
    }
}

int wm_convert_from_f32(wm_dtype t, const float *src, void *dst, size_t n)
{
    switch (t) {
    case WM_F32: memcpy(dst, src, n * 4); return 0;
    case WM_BF16: for (size_t i = 0; i < n; i++) { uint16_t h = wm_f32_to_bf16(src[i]); memcpy((char *)dst + 2 * i, &h, 2); } return 0;
    case WM_F16: for (size_t i = 0; i < n; i++) { uint16_t h = wm_f32_to_f16(src[i]); memcpy((char *)dst + 2 * i, &h, 2); } return 0;
    default: return -1;
    }
}
