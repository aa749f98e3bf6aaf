/* axconv-test bench (internal to the tool). */
#ifndef AXMUL_BENCH_H
#define AXMUL_BENCH_H

#include <stdio.h>

#include "axmul.h"

/* Runs the benchmark shapes with table t and prints one line (or JSON object) per shape.
 * backend: CPU or CUDA (the float baseline runs on the CPU; with CUDA also cuDNN's when built with
 * it, and the kernel time); threads 0 = default; repeat =
 * timed runs per shape (median reported); quick = small shapes; layer: when not NULL, the one
 * layer to time instead (its geometry fields; validated by the caller). Returns the number of
 * shapes that failed or whose reference check failed, -1 on a system error. */
int axmul__bench(const axmul_table *t, axmul_backend backend, int threads, int repeat, int quick,
                 const axmul_conv_desc *layer, int json, FILE *out);

/* Whether the CUDA backend can run, probed in a child process so that this process never
 * initialises CUDA (which does not survive the fork of every benchmark shape); on 0, why holds
 * the reason. */
int axmul__bench_cuda_usable(char *why, size_t why_len);

/* Exact fp32 convolution of d (HWIO filter w) with cuDNN, data on the device, the fastest
 * algorithm cuDNN finds, TF32 off: the median time of `repeat` forward calls (CUDA events) in
 * *seconds and the output in y (n*oh*ow*co floats, NHWC). Returns 0, or -1 with the reason in why
 * (built without cuDNN, asymmetric padding, CUDA or cuDNN errors). */
int axmul__cudnn_conv_seconds(const axmul_conv_desc *d, int oh, int ow, const float *x,
                              const float *w, float *y, int repeat, double *seconds, char *why,
                              size_t why_len);

#endif
