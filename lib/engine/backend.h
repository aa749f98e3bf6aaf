/* axmul: the contract between the convolution engine and its backends. The engine validates and
 * resolves a call (axmul__conv_setup, lib/engine/engine.h) and hands it to the backend the
 * descriptor asks for; each backend implements its part of this header and includes nothing of
 * the other (the CUDA backend's host side uses the CPU backend's quantization and table cache
 * through the declarations here). */
#ifndef AXMUL_ENGINE_BACKEND_H
#define AXMUL_ENGINE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_conv.h"
#include "lib/engine/engine.h"

/* ---------------------------------------------------------------- the CPU backend (lib/cpu) */

/* The CPU convolution: chunked im2col + the LUT kernel of the selected path (lib/cpu/paths.h).
 * threads: 0 = OpenMP's default. *path receives the kernel's name, *work_bytes the size of the
 * call's one workspace block. Fails only for an unusable AXMUL_CPU_PATH or out of memory. */
axmul_status axmul__cpu_conv(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                             const float *w, float *y, int threads, const char **path,
                             size_t *work_bytes);

/* Quantizes n floats to table indices (identical to axmul_quantize, the reference) with the
 * fastest code the CPU runs, on nthreads threads (0: all) in blocks of 4096. */
void axmul__quantize_threads(const float *x, size_t n, const axmul_qparams *q, uint8_t *out,
                             int nthreads);

/* Quantizes the filter into wq[o * k + tap] table indices, tap = (i * kw + j) * cin_g + ci, and
 * returns the per-channel sums of the codes in sum_qw (co entries). */
void axmul__conv_quantize_filter(const axmul__conv_setup *s, const float *w, uint8_t *wq,
                                 int64_t *sum_qw, int threads);

/* The column-major form of t from the CPU backend's cache of prepared tables: tt[b * 256 + a] =
 * axmul__store_entry(entry (a, b)). Valid until axmul__prepared_release(*hold); NULL when out
 * of memory. */
const uint16_t *axmul__prepared_colmajor(const axmul_table *t, int is_signed, void **hold);
void axmul__prepared_release(void *hold);

/* ---------------------------------------------------------------- the CUDA backend (cuda/) */

/* Whether the CUDA backend can run here: OK, ERR_NOT_BUILT (configured without CUDA) or
 * ERR_NO_DEVICE, with the detail set. The device probe runs once per process. */
axmul_status axmul__cuda_status(void);

/* The CUDA convolution: host quantization as on the CPU (threads threads), then the device
 * kernels. *kernel_seconds: time in the kernels; *work_bytes: host memory of the call; *kernel:
 * the kernel's name. ERR_NOT_BUILT without CUDA, ERR_CUDA with the runtime's message. */
axmul_status axmul__cuda_conv2d(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                const float *w, float *y, int threads, double *kernel_seconds,
                                size_t *work_bytes, const char **kernel);

#endif
