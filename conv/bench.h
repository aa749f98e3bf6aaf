/* axconv-test bench (internal to the tool). */
#ifndef AXMUL_BENCH_H
#define AXMUL_BENCH_H

#include <stdio.h>

#include "axmul.h"

/* Runs the benchmark shapes with table t and prints one line (or JSON object) per shape.
 * backend: CPU or CUDA (the float baseline always runs on the CPU); threads 0 = default; repeat =
 * timed runs per shape (median reported); quick = small shapes. Returns the number of shapes that
 * failed or whose reference check failed, -1 on a system error. */
int axmul__bench(const axmul_table *t, axmul_backend backend, int threads, int repeat, int quick,
                 int json, FILE *out);

#endif
