#ifndef FLOAT_MODE_H
#define FLOAT_MODE_H

/// Sets flush-to-zero and denormals-are-zero (MXCSR bits 15 and 6) on the calling thread and on every thread
/// of its OpenMP team (libgomp's, the runtime oneDNN's kernels run on), as torch.set_flush_denormal(True)
/// does: denormal floats, which gradients of natural images reach, otherwise cost x86 cores ~100× per
/// operation.
void float_mode_flush_denormals(int threads);

/// Whether the calling thread flushes denormals.
int float_mode_flushes_denormals(void);

#endif
