#include "codec_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

// MARK: Byte shuffle

template <size_t W> static void shuffle_fixed(const uint8_t *in, uint8_t *out, size_t count) {
    for (size_t i = 0; i < count; i++)
        for (size_t b = 0; b < W; b++) out[b * count + i] = in[i * W + b];
}

template <size_t W> static void unshuffle_fixed(const uint8_t *in, uint8_t *out, size_t count) {
    for (size_t i = 0; i < count; i++)
        for (size_t b = 0; b < W; b++) out[i * W + b] = in[b * count + i];
}

extern "C" void codec_shuffle(const void *input, void *output, size_t count, size_t width) {
    auto in = static_cast<const uint8_t *>(input);
    auto out = static_cast<uint8_t *>(output);
    switch (width) {
    case 2: shuffle_fixed<2>(in, out, count); break;
    case 4: shuffle_fixed<4>(in, out, count); break;
    default:
        for (size_t i = 0; i < count; i++)
            for (size_t b = 0; b < width; b++) out[b * count + i] = in[i * width + b];
    }
}

extern "C" void codec_unshuffle(const void *input, void *output, size_t count, size_t width) {
    auto in = static_cast<const uint8_t *>(input);
    auto out = static_cast<uint8_t *>(output);
    switch (width) {
    case 2: unshuffle_fixed<2>(in, out, count); break;
    case 4: unshuffle_fixed<4>(in, out, count); break;
    default:
        for (size_t i = 0; i < count; i++)
            for (size_t b = 0; b < width; b++) out[i * width + b] = in[b * count + i];
    }
}

// MARK: bfloat16

extern "C" void codec_f32_to_bf16(const float *input, uint16_t *output, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        std::memcpy(&bits, &input[i], 4);
        uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        bool nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
        output[i] = nan ? uint16_t((bits >> 16) | 0x0040u) : uint16_t(rounded >> 16);
    }
}

extern "C" void codec_bf16_to_f32(const uint16_t *input, float *output, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = uint32_t(input[i]) << 16;
        std::memcpy(&output[i], &bits, 4);
    }
}

// MARK: IEEE half, scaled by a power of two

template <bool F16C> __attribute__((always_inline)) static inline void to_f16(const float *in, uint16_t *out, size_t count, float scale) {
    for (size_t i = 0; i < count; i++) {
        _Float16 h = static_cast<_Float16>(in[i] * scale);
        std::memcpy(&out[i], &h, 2);
    }
}

template <bool F16C> __attribute__((always_inline)) static inline void from_f16(const uint16_t *in, float *out, size_t count, float scale) {
    for (size_t i = 0; i < count; i++) {
        _Float16 h;
        std::memcpy(&h, &in[i], 2);
        out[i] = static_cast<float>(h) * scale;
    }
}

__attribute__((target("avx2,f16c"))) static void to_f16_f16c(const float *in, uint16_t *out, size_t n, float s) {
    to_f16<true>(in, out, n, s);
}
__attribute__((target("avx2,f16c"))) static void from_f16_f16c(const uint16_t *in, float *out, size_t n, float s) {
    from_f16<true>(in, out, n, s);
}

extern "C" int codec_has_f16c(void) {
#if defined(__x86_64__)
    static const int has = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
    return has;
#else
    return 0;
#endif
}

// The products with 2^±exponent are exact (no rounding) as long as they stay normal, which the caller's
// choice of exponent ensures for the largest element; smaller elements may flush to half subnormals.
extern "C" void codec_f32_to_f16_scaled(const float *input, uint16_t *output, size_t count, int exponent) {
    float scale = std::ldexp(1.0f, exponent);
    if (codec_has_f16c()) to_f16_f16c(input, output, count, scale);
    else to_f16<false>(input, output, count, scale);
}

extern "C" void codec_f16_to_f32_scaled(const uint16_t *input, float *output, size_t count, int exponent) {
    float scale = std::ldexp(1.0f, -exponent);
    if (codec_has_f16c()) from_f16_f16c(input, output, count, scale);
    else from_f16<false>(input, output, count, scale);
}

// MARK: Magnitudes and top-k

extern "C" float codec_max_abs(const float *input, size_t count) {
    float m = 0;
    for (size_t i = 0; i < count; i++) {
        float a = std::fabs(input[i]);
        m = a > m ? a : m;  // false for NaN: NaNs are ignored
    }
    return m;
}

extern "C" void codec_top_k(const float *input, size_t count, size_t k, uint32_t *indices, uint64_t *scratch) {
    if (k == 0) return;
    // Key: magnitude bits high, bitwise-inverted index low, so larger keys are larger magnitudes and, among
    // equal magnitudes, lower indices. All keys are distinct, so the selection is unique.
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        std::memcpy(&bits, &input[i], 4);
        scratch[i] = (uint64_t(bits & 0x7FFFFFFFu) << 32) | uint64_t(~uint32_t(i));
    }
    std::nth_element(scratch, scratch + (k - 1), scratch + count, std::greater<uint64_t>());
    for (size_t j = 0; j < k; j++) indices[j] = ~uint32_t(scratch[j]);
    std::sort(indices, indices + k);
}
