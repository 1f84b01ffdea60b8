#include "codec_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

// MARK: Byte shuffle

#if defined(__x86_64__)
#include <immintrin.h>

// 16 elements at a time: gather each element's bytes together with a byte shuffle, then transpose the
// 4-byte groups across registers, so each store writes 16 bytes of one plane.
__attribute__((target("ssse3"))) static size_t shuffle4_ssse3(const uint8_t *in, uint8_t *out, size_t count) {
    const __m128i gather = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 4 * i)), gather);
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 4 * i + 16)), gather);
        __m128i c = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 4 * i + 32)), gather);
        __m128i d = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 4 * i + 48)), gather);
        __m128i ab0 = _mm_unpacklo_epi32(a, b), cd0 = _mm_unpacklo_epi32(c, d);
        __m128i ab1 = _mm_unpackhi_epi32(a, b), cd1 = _mm_unpackhi_epi32(c, d);
        _mm_storeu_si128((__m128i *)(out + i), _mm_unpacklo_epi64(ab0, cd0));
        _mm_storeu_si128((__m128i *)(out + count + i), _mm_unpackhi_epi64(ab0, cd0));
        _mm_storeu_si128((__m128i *)(out + 2 * count + i), _mm_unpacklo_epi64(ab1, cd1));
        _mm_storeu_si128((__m128i *)(out + 3 * count + i), _mm_unpackhi_epi64(ab1, cd1));
    }
    return i;
}

__attribute__((target("ssse3"))) static size_t unshuffle4_ssse3(const uint8_t *in, uint8_t *out, size_t count) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i p0 = _mm_loadu_si128((const __m128i *)(in + i));
        __m128i p1 = _mm_loadu_si128((const __m128i *)(in + count + i));
        __m128i p2 = _mm_loadu_si128((const __m128i *)(in + 2 * count + i));
        __m128i p3 = _mm_loadu_si128((const __m128i *)(in + 3 * count + i));
        __m128i lo01 = _mm_unpacklo_epi8(p0, p1), lo23 = _mm_unpacklo_epi8(p2, p3);
        __m128i hi01 = _mm_unpackhi_epi8(p0, p1), hi23 = _mm_unpackhi_epi8(p2, p3);
        _mm_storeu_si128((__m128i *)(out + 4 * i), _mm_unpacklo_epi16(lo01, lo23));
        _mm_storeu_si128((__m128i *)(out + 4 * i + 16), _mm_unpackhi_epi16(lo01, lo23));
        _mm_storeu_si128((__m128i *)(out + 4 * i + 32), _mm_unpacklo_epi16(hi01, hi23));
        _mm_storeu_si128((__m128i *)(out + 4 * i + 48), _mm_unpackhi_epi16(hi01, hi23));
    }
    return i;
}

__attribute__((target("ssse3"))) static size_t shuffle2_ssse3(const uint8_t *in, uint8_t *out, size_t count) {
    const __m128i gather = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 2 * i)), gather);
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 2 * i + 16)), gather);
        _mm_storeu_si128((__m128i *)(out + i), _mm_unpacklo_epi64(a, b));
        _mm_storeu_si128((__m128i *)(out + count + i), _mm_unpackhi_epi64(a, b));
    }
    return i;
}

static size_t unshuffle2_sse2(const uint8_t *in, uint8_t *out, size_t count) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i p0 = _mm_loadu_si128((const __m128i *)(in + i));
        __m128i p1 = _mm_loadu_si128((const __m128i *)(in + count + i));
        _mm_storeu_si128((__m128i *)(out + 2 * i), _mm_unpacklo_epi8(p0, p1));
        _mm_storeu_si128((__m128i *)(out + 2 * i + 16), _mm_unpackhi_epi8(p0, p1));
    }
    return i;
}

static int has_ssse3(void) {
    static const int has = __builtin_cpu_supports("ssse3");
    return has;
}
#endif

extern "C" void codec_shuffle(const void *input, void *output, size_t count, size_t width) {
    auto in = static_cast<const uint8_t *>(input);
    auto out = static_cast<uint8_t *>(output);
    size_t done = 0;
#if defined(__x86_64__)
    if (width == 4 && has_ssse3()) done = shuffle4_ssse3(in, out, count);
    if (width == 2 && has_ssse3()) done = shuffle2_ssse3(in, out, count);
#endif
    for (size_t i = done; i < count; i++)
        for (size_t b = 0; b < width; b++) out[b * count + i] = in[i * width + b];
}

extern "C" void codec_unshuffle(const void *input, void *output, size_t count, size_t width) {
    auto in = static_cast<const uint8_t *>(input);
    auto out = static_cast<uint8_t *>(output);
    size_t done = 0;
#if defined(__x86_64__)
    if (width == 4 && has_ssse3()) done = unshuffle4_ssse3(in, out, count);
    if (width == 2) done = unshuffle2_sse2(in, out, count);
#endif
    for (size_t i = done; i < count; i++)
        for (size_t b = 0; b < width; b++) out[i * width + b] = in[b * count + i];
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
