#include "float_mode.h"

#include <xmmintrin.h>

// libgomp's entry point for `#pragma omp parallel`, called directly: this file is compiled without
// -fopenmp (clang's would bring LLVM's runtime, whose threads are not oneDNN's).
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

static void flush(void *unused) {
    (void)unused;
    _mm_setcsr(_mm_getcsr() | 0x8040);
}

void float_mode_flush_denormals(int threads) {
    flush(0);
    GOMP_parallel(flush, 0, (unsigned)threads, 0);
}

int float_mode_flushes_denormals(void) { return (_mm_getcsr() & 0x8040) == 0x8040; }
