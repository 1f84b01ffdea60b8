// The element-wise loops of the gradient codecs, in C so that the compiler vectorises them and uses the
// CPU's half-precision conversion instructions (F16C) where present, chosen at run time.
#ifndef CODEC_KERNELS_H
#define CODEC_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Byte-shuffles `count` elements of `width` bytes: all first bytes, then all second bytes, ... (the
/// layout zstd compresses best for floating-point data). `unshuffle` inverts it. Buffers must not overlap.
void codec_shuffle(const void *input, void *output, size_t count, size_t width);
void codec_unshuffle(const void *input, void *output, size_t count, size_t width);

/// Float to bfloat16, rounding to nearest even; NaNs stay NaNs (quiet). And back (exact).
void codec_f32_to_bf16(const float *input, uint16_t *output, size_t count);
void codec_bf16_to_f32(const uint16_t *input, float *output, size_t count);

/// `input[i] * 2^exponent` to IEEE half, rounding to nearest even. And back: `half * 2^-exponent`.
void codec_f32_to_f16_scaled(const float *input, uint16_t *output, size_t count, int exponent);
void codec_f16_to_f32_scaled(const uint16_t *input, float *output, size_t count, int exponent);

/// The largest |x| over `input`, ignoring NaNs (0 for an empty input; +inf if any element is infinite).
float codec_max_abs(const float *input, size_t count);

/// The `k` (≤ count) elements of largest magnitude, by the order of |x|'s bit pattern (NaN above +inf),
/// ties broken by lower index: their indices, ascending, in `indices`. `scratch` holds `count` keys.
void codec_top_k(const float *input, size_t count, size_t k, uint32_t *indices, uint64_t *scratch);

/// Whether the half-precision conversions use the F16C instructions on this CPU.
int codec_has_f16c(void);

#ifdef __cplusplus
}
#endif
#endif
