/* axmul: C interface of the CUDA device probe (internal; compiled by both cc and nvcc). */
#ifndef AXMUL_CUDA_PROBE_H
#define AXMUL_CUDA_PROBE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices in *count; returns 0, or -1 with the runtime's error text in msg (a
 * machine without a driver lands here). */
int axmul__cuda_probe(int *count, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif
#endif
