/* axmul: the CPU kernel paths, the one list that names them (AXMUL_CPU_PATH, axmul_set_cpu_path,
 * axmul_conv_info.path, the error messages) and says how each is chosen. A new path (an ISA's
 * kernel in its own file, lib/cpu/cpu.h's contract) is one row here.
 *
 *   X(name, kernel, quantize, rows, rows_min, dw, planes, runs, timed)
 *     name    the path's name, a C identifier
 *     kernel  its LUT kernel, or NULL in a build without it (another architecture)
 *     quantize  its bulk quantizer (cpu.h), built wherever the kernel is
 *     rows    its row-table kernel (cpu.h) for layers of many pixels, or NULL: none. The AVX2
 *             one serves the AVX-512BW path too (faster than its word permutes on those
 *             layers); 128-bit vectors (SSE2 in plain C) were no faster than the pair kernel,
 *             and VBMI's byte permutes are faster than rows (doc/performance.md)
 *     rows_min  the fewest output pixels of a layer that its rows serve: AVX-512BW's word
 *             permutes beat the rows on a 3x3 56x56 layer at batch 1 (3136 pixels)
 *     dw      its direct depthwise kernel (cpu.h), or NULL: the chunk kernel serves depthwise
 *             layers. The AVX2 one (hardware gathers) serves the AVX-512 paths too, faster there
 *             than their permutes (one channel per group: a permuted column serves one lookup
 *             per pixel); scalar C was slower than the portable chunk kernel
 *             (doc/performance.md)
 *     planes  1: it reads the table's byte planes; 0: the column-major entries
 *     runs    an expression: this CPU has the instructions (checked only when kernel is built)
 *     timed   1: among the paths of this kind that run, "auto" takes whichever a timing of one
 *             synthetic chunk finds fastest (select.c says why); 0: "auto" takes the
 *             last such path that runs, before any timed one
 *
 * Rows run from the most portable to the most specialised. NEON is timed against the portable
 * kernel: table instructions cost very differently on different aarch64 cores, and none was
 * measured (doc/performance.md). */
#ifndef AXMUL_CPU_PATHS_H
#define AXMUL_CPU_PATHS_H

#include "lib/cpu/cpu.h"

#ifdef AXMUL__HAVE_X86_KERNELS
#define AXMUL__X86(fn) fn
#define AXMUL__X86_HAS(feature) __builtin_cpu_supports(feature)
#else
#define AXMUL__X86(fn) NULL
#define AXMUL__X86_HAS(feature) 0
#endif

#ifdef AXMUL__HAVE_ARM_KERNELS
#define AXMUL__ARM(fn) fn
#else
#define AXMUL__ARM(fn) NULL
#endif

/* clang-format off */
#define AXMUL__CPU_PATHS(X)                                                                        \
    X(portable, axmul__lut_kernel_portable, axmul__quantize_portable, NULL, 0, NULL, 0, 1, 1)      \
    X(neon, AXMUL__ARM(axmul__lut_kernel_neon), axmul__quantize_portable, NULL, 0, NULL, 1, 1, 1)  \
    X(avx2, AXMUL__X86(axmul__lut_kernel_avx2), AXMUL__X86(axmul__quantize_avx2),                  \
      AXMUL__X86(axmul__rows_kernel_avx2), AXMUL__ROWS_MIN_PIXELS,                                 \
      AXMUL__X86(axmul__dw_kernel_avx2), 0, AXMUL__X86_HAS("avx2"), 1)                             \
    X(avx512bw, AXMUL__X86(axmul__lut_kernel_avx512bw), AXMUL__X86(axmul__quantize_avx512),        \
      AXMUL__X86(axmul__rows_kernel_avx2), 4 * AXMUL__ROWS_MIN_PIXELS,                             \
      AXMUL__X86(axmul__dw_kernel_avx2), 0,                                                        \
      AXMUL__X86_HAS("avx512f") && AXMUL__X86_HAS("avx512bw"), 0)                                  \
    X(vbmi, AXMUL__X86(axmul__lut_kernel_vbmi), AXMUL__X86(axmul__quantize_avx512), NULL, 0,       \
      AXMUL__X86(axmul__dw_kernel_avx2), 1,                                                        \
      AXMUL__X86_HAS("avx512f") && AXMUL__X86_HAS("avx512bw") && AXMUL__X86_HAS("avx512vbmi"), 0)
/* clang-format on */

#endif
