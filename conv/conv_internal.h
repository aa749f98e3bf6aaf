/* axmul: internal interface of the convolution engine. */
#ifndef AXMUL_CONV_INTERNAL_H
#define AXMUL_CONV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_conv.h"
#include "conv/conv_plan.h"
#include "cuda/conv_cuda.h"

/* Everything a kernel needs after validation: geometry, input quantization, and per-output-
 * channel filter zero points and scales (co entries each; equal when per-tensor). */
typedef struct {
    axmul__conv_plan p;
    axmul_qparams xq;
    axmul_qparams *wq; /* co entries */
    int32_t *zw;       /* co entries */
    float *sw;         /* co entries */
    float *oscale;     /* co entries: sx * sw[o], the float factor applied to acc */
} axmul__conv_setup;

/* Widens a range computed from a constant tensor (min == max) to include 0. */
void axmul__range_include_zero(axmul_range *r);

/* Min/max of output channel o of an HWIO filter with co channels and per elements per channel,
 * widened to include 0 when constant: the per-channel weight range. */
axmul_range axmul__channel_range(const float *w, size_t per, int co, int o);

/* Validates, checks finiteness, resolves ranges. On success the caller frees with
 * axmul__conv_setup_free. */
axmul_status axmul__conv_setup_make(const axmul_conv_desc *d, const axmul_table *t, const float *x,
                                    const float *w, axmul__conv_setup *s);
void axmul__conv_setup_free(axmul__conv_setup *s);

/* Quantizes the filter into wq[o * k + tap] table indices, tap = (i * kw + j) * cin_g + ci, and
 * returns the per-channel sums of the codes in sum_qw (co entries). */
void axmul__conv_quantize_filter(const axmul__conv_setup *s, const float *w, uint8_t *wq,
                                 int64_t *sum_qw, int threads);

/* Quantizes n floats to table indices (identical to axmul_quantize) with the fastest code the
 * CPU runs. */
void axmul__quantize_bulk(const float *x, size_t n, const axmul_qparams *q, uint8_t *out);
/* The same over nthreads threads (0: all), in blocks of 4096. */
void axmul__quantize_threads(const float *x, size_t n, const axmul_qparams *q, uint8_t *out,
                             int nthreads);

/* The column-major form of t from the engine's cache of prepared tables: tt[b * 256 + a] =
 * entry (a, b), signed entries XOR 0x8000 (stored + 32768, summed unsigned, corrected by the
 * caller). Valid until axmul__prepared_release(*hold); NULL when out of memory. */
const uint16_t *axmul__prepared_colmajor(const axmul_table *t, int is_signed, void **hold);
void axmul__prepared_release(void *hold);

/* The host half of the CUDA backend, also used by the test suite's host run of the kernel:
 * quantizes x and w exactly as the CPU engine (on threads threads, 0: all), lays out the filter
 * codes for the kernel, and takes the column-major table from the cache. y is only stored in the
 * job. Free with axmul__cuda_job_free (also after a failure, and on a zeroed job). */
axmul_status axmul__cuda_job_make(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                  const float *w, float *y, int threads, axmul__cuda_job *job);
void axmul__cuda_job_free(axmul__cuda_job *job);

/* The CPU path used without AVX-512: "avx2" or "portable", whichever ran one synthetic chunk
 * faster at the first call (once per process; "portable" without AVX2). */
const char *axmul__cpu_calibrated(void);

/* The CPU engine: chunked im2col + the LUT kernel chosen by cpuid or axmul_set_cpu_path. *path
 * receives the kernel's name, *work_bytes the size of the call's one workspace block. */
axmul_status axmul__conv_cpu(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                             const float *w, float *y, int threads, const char **path,
                             size_t *work_bytes);

#endif
