// oneDNN 2.6 ships no pkg-config file: the module map names the header and links `dnnl`.
// Argument ids that are defined through other macros are re-exported as plain constants, and the
// OpenMP runtime that Debian's oneDNN is built on is reached through its two thread-count calls.
#ifndef CDNNL_SHIM_H
#define CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>

static const int CDNNL_ARG_SRC = DNNL_ARG_SRC;
static const int CDNNL_ARG_DST = DNNL_ARG_DST;
static const int CDNNL_ARG_FROM = DNNL_ARG_FROM;
static const int CDNNL_ARG_TO = DNNL_ARG_TO;
static const int CDNNL_ARG_WEIGHTS = DNNL_ARG_WEIGHTS;
static const int CDNNL_ARG_BIAS = DNNL_ARG_BIAS;
static const int CDNNL_ARG_WORKSPACE = DNNL_ARG_WORKSPACE;
static const int CDNNL_ARG_DIFF_SRC = DNNL_ARG_DIFF_SRC;
static const int CDNNL_ARG_DIFF_DST = DNNL_ARG_DIFF_DST;
static const int CDNNL_ARG_DIFF_WEIGHTS = DNNL_ARG_DIFF_WEIGHTS;
static const int CDNNL_ARG_DIFF_BIAS = DNNL_ARG_DIFF_BIAS;
static const int CDNNL_ARG_SCRATCHPAD = DNNL_ARG_SCRATCHPAD;

// From libgomp, which libdnnl is linked against (OpenMP runtime).
extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);

#endif
