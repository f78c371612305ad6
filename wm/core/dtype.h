/* Element types and scalar conversions.
 *
 * Compute on the CPU reference path is fp32; bf16/f16 exist for storage (checkpoints, GPU weights and
 * activations). Conversions round to nearest even, as PyTorch does, so a tensor converted here equals
 * torch's .to(dtype) bit for bit. FP8 (E4M3) has a code so files and buffers can carry it later.
 */
#ifndef WM_CORE_DTYPE_H
#define WM_CORE_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum wm_dtype {
    WM_F32 = 0,
    WM_BF16,
    WM_F16,
    WM_F8E4M3,
    WM_F64,
    WM_I64,
    WM_I32,
    WM_I16,
    WM_I8,
    WM_U8,
    WM_BOOL,
    WM_DTYPE_COUNT
} wm_dtype;

size_t wm_dtype_size(wm_dtype t);
const char *wm_dtype_name(wm_dtype t);          /* safetensors spelling: "F32", "BF16", ... */
int wm_dtype_from_name(const char *name, wm_dtype *out); /* 0 on success, -1 for unknown */
int wm_dtype_is_float(wm_dtype t);

static inline float wm_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t wm_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                           /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float wm_f16_to_f32(uint16_t h);
uint16_t wm_f32_to_f16(float f);
float wm_f8e4m3_to_f32(uint8_t v);

/* Round an fp32 value through bf16 and back (emulates a bf16 store). */
static inline float wm_round_bf16(float f) { return wm_bf16_to_f32(wm_f32_to_bf16(f)); }

/* Convert n elements of a float dtype (F32/BF16/F16/F8E4M3/F64) to fp32. Returns -1 for a dtype that
 * is not a float. */
int wm_convert_to_f32(wm_dtype src_type, const void *src, float *dst, size_t n);
/* Convert n fp32 values to F32/BF16/F16. Returns -1 for other targets. */
int wm_convert_from_f32(wm_dtype dst_type, const float *src, void *dst, size_t n);

#endif
