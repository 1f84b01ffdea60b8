#ifndef PNG_DECODE_H
#define PNG_DECODE_H
#include <stddef.h>
#include <stdint.h>

/// Decodes a PNG held in memory to 8-bit RGB, as Pillow's `Image.open(f).convert("RGB")` does: palettes
/// expanded, grey replicated, bit depths below 8 expanded, 16-bit samples reduced to their high byte, alpha
/// and transparency dropped, gamma ignored. On success returns 0 and a malloc'd buffer of height · width · 3
/// bytes in *pixels (free it with free); on failure returns -1 and a message in error.
int png_decode_rgb(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t **pixels, uint32_t *width,
                   uint32_t *height, char *error, size_t error_size);

#endif
