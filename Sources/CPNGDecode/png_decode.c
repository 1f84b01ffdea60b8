#include "png_decode.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char *error;
    size_t error_size;
};

static void on_error(png_structp png, png_const_charp message) {
    struct reader *r = (struct reader *)png_get_error_ptr(png);
    snprintf(r->error, r->error_size, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void on_read(png_structp png, png_bytep out, png_size_t count) {
    struct reader *r = (struct reader *)png_get_io_ptr(png);
    if (count > r->size - r->offset) png_error(png, "truncated: the file ends inside the image data");
    memcpy(out, r->data + r->offset, count);
    r->offset += count;
}

int png_decode_rgb(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t **pixels, uint32_t *width,
                   uint32_t *height, char *error, size_t error_size) {
    struct reader r = {data, size, 0, error, error_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
    if (!png) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile buffer = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        if (!info) snprintf(error, error_size, "out of memory");
        free(buffer);
        free(rows);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        return -1;
    }
    png_set_read_fn(png, &r, on_read);
    // Refuse absurd sizes before allocating (ImageNet's largest image is a few thousand pixels a side).
    png_set_user_limits(png, 1 << 15, 1 << 15);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((uint64_t)w * h > max_pixels) {
        char why[128];
        snprintf(why, sizeof why, "%u × %u pixels, more than the %llu accepted", (unsigned)w, (unsigned)h,
                 (unsigned long long)max_pixels);
        png_error(png, why);
    }
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if (type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row size after conversion to RGB");
    buffer = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!buffer || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buffer + (size_t)y * w * 3;
    png_read_image(png, rows);
    // Through IEND: the chunks after the image are read and their CRCs checked, so a file cut after its
    // last IDAT is refused as truncated.
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *pixels = buffer;
    *width = w;
    *height = h;
    return 0;
}
