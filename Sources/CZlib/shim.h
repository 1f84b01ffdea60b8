#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>

// inflateInit2 is a macro over inflateInit2_ that Swift cannot import.
static inline int czlib_inflate_init_gzip(z_stream *stream) {
    // 15 + 32: maximum window, detect gzip or zlib headers automatically.
    return inflateInit2(stream, 15 + 32);
}
#endif
