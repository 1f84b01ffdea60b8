#ifndef CISAL_SHIM_H
#define CISAL_SHIM_H
// Intel ISA-L's CRC functions (Debian's libisal-dev): crc32_iscsi is CRC-32C (Castagnoli), the checksum of
// TensorBoard's record framing, with SSE4.2/PCLMUL/AVX-512 kernels chosen at run time.
#include <isa-l/crc.h>
#endif
