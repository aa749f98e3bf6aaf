/* axmul: the CUDA backend's job, a call prepared on the host for the device kernels: the C
 * interface between cuda/host.c and cuda/conv.cu (compiled by cc and nvcc). */
#ifndef AXMUL_CUDA_JOB_H
#define AXMUL_CUDA_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "lib/engine/plan.h"
#ifndef __CUDACC__
#include "lib/engine/engine.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Everything the device needs, prepared on the host exactly as for the CPU engine. */
typedef struct axmul__cuda_job {
    const axmul__conv_plan *p;
    const uint8_t *qx;     /* quantized input codes, NHWC, n*h*w*c bytes */
    const uint8_t *wt;     /* quantized filter codes, tile-major (axmul__cuda_weight_tiles) */
    const int64_t *sum_qw; /* co entries */
    const int32_t *zw;     /* co entries */
    const float *oscale;   /* co entries: s_x * s_w[o] */
    const uint16_t *tt;    /* column-major table (axmul__prepared_colmajor), 65,536 entries; the
                              device copy is reused while the entries are the same */
    float *y;              /* output, NHWC */
    double kernel_seconds; /* out: time in the convolution kernels (CUDA events) */
    const char *kernel;    /* out: the kernel that ran, "cuda-cached" (read-only cache),
                              "cuda-expanded" or "cuda-shared" (table in shared memory) */
    void *hold_;           /* host bookkeeping: the prepared table's cache reference */
    size_t work_bytes;     /* host bytes allocated for the job (peak, by axmul__cuda_job_make) */
} axmul__cuda_job;

/* Runs the convolution on device 0 (cuda/conv.cu). Returns 0, or -1 with the CUDA error text in
 * msg. Images are streamed in chunks so that device memory stays bounded whatever the batch.
 * Thread-safe: calls are serialised (they share the device and its cached table). */
int axmul__cuda_launch(axmul__cuda_job *job, char *msg, size_t msg_len);

#ifndef __CUDACC__
/* The host side (cuda/host.c): quantizes x and w exactly as the CPU engine (on threads threads,
 * 0: all), lays out the filter codes for the kernel (axmul__cuda_weight_tiles), and takes the
 * column-major table from the CPU backend's cache. y is only stored in the job. Free with
 * axmul__cuda_job_free (also after a failure, and on a zeroed job). */
axmul_status axmul__cuda_job_make(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                  const float *w, float *y, int threads, axmul__cuda_job *job);
void axmul__cuda_job_free(axmul__cuda_job *job);
#endif

#ifdef __cplusplus
}
#endif
#endif
