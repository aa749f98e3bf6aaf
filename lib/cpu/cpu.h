/* axmul: internal interface of the CPU backend (lib/cpu): the inner LUT-MAC kernels, one per
 * instruction set and all with the same contract, the choice among them (select.c, from the one
 * list in lib/cpu/paths.h) and the cache of prepared tables (cache.c). The driver (driver.c)
 * cuts a convolution into chunks and runs the chosen kernel on them. */
#ifndef AXMUL_CPU_CPU_H
#define AXMUL_CPU_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_conv.h"
#include "axmul_table.h"
#include "lib/engine/plan.h"

/* Output pixels per chunk: one row of activations is AXMUL__CHUNK bytes (a multiple of 64, the
 * width of an AVX-512 byte vector). */
#define AXMUL__CHUNK 256

/* Taps summed in one call: the sums are uint32 and 32768 * 65535 < 2^32. */
#define AXMUL__TAP_BLOCK 32768

/* Table prepared once per table (cache.c). Signed tables are stored offset by 32768
 * (axmul__store_entry) so that every kernel sums unsigned 16-bit values:
 *   tt[w * 256 + a]           = entry (a, w), "column-major": the column of weight w is
 *                               contiguous (portable and AVX2 kernels)
 *   planes[w * 512 + a]       = low byte of entry (a, w)
 *   planes[w * 512 + 256 + a] = high byte of entry (a, w)   (VBMI kernel: byte permutes) */
typedef struct {
    const uint16_t *tt;
    const uint8_t *planes;
} axmul__lut;

/* Output channels per kernel call: they share each activation byte, so that one load of it
 * feeds up to AXMUL__KCH lookups (the load ports are what limits a scalar kernel,
 * doc/performance.md). */
#define AXMUL__KCH 4

/* For every channel c < nch (1 <= nch <= AXMUL__KCH) and live pixel p < np
 * (1 <= np <= AXMUL__CHUNK):
 *   acc[c * AXMUL__CHUNK + p] = sum over tap < ntaps of entry(A[tap * AXMUL__CHUNK + p], w[c][tap])
 * A kernel may also fill each channel's acc up to the end of its vector width, so A's bytes up to
 * AXMUL__CHUNK must be valid indices. ntaps <= AXMUL__TAP_BLOCK. */
typedef void (*axmul__lut_kernel)(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                                  const axmul__lut *lut, int np, uint32_t *acc);

/* Row tables: for layers of many pixels the driver expands, once per call, each block of up to
 * AXMUL__ROWS_NB output channels into rows indexed by the activation code, so that one vector
 * load brings a tap's entries for all the block's channels (the CUDA expanded kernel's idea,
 * doc/performance.md). Block layout, nb (a multiple of 16) entries per row:
 *   R[((size_t)tap * 256 + a) * nb + c] = entry(a, w[c][tap])    (0 for padding channels)
 * The driver uses them on layers of at least the path's rows_min output pixels (lib/cpu/paths.h:
 * AXMUL__ROWS_MIN_PIXELS or more) and AXMUL__ROWS_MIN_CHANNELS output channels per group, where
 * building the rows (256 entries per tap and channel) costs little next to the lookups they
 * save, and whose rows take at most AXMUL__ROWS_MAX_BYTES. */
#define AXMUL__ROWS_NB 64
#define AXMUL__ROWS_MIN_PIXELS 1024
#define AXMUL__ROWS_MIN_CHANNELS 16
#define AXMUL__ROWS_MAX_BYTES ((size_t)64 << 20)

/* Pixels per call of a row kernel: each stage of rows is read once per call, so the rows of a
 * layer pass through the cache once per AXMUL__ROWS_PIXELS pixels (512 / AXMUL__ROWS_PIXELS bytes
 * per lookup; at 256 pixels that traffic made dense layers slower than the chunk kernel). */
#define AXMUL__ROWS_PIXELS 1024

/* For every channel c < nb (nb a multiple of 16, 16 <= nb <= AXMUL__ROWS_NB) and pixel p < np
 * (np <= as, rows of as pixels, as a multiple of 16):
 *   acc[c * as + p] = sum over tap < ntaps of R[(tap * 256 + A[tap * as + p]) * nb + c]
 * exactly (ntaps <= AXMUL__TAP_BLOCK). wh: scratch of as * 2 * nb uint16_t; R, wh and acc
 * 32-byte aligned. */
typedef void (*axmul__rows_kernel)(const uint8_t *A, int as, int ntaps, const uint16_t *R, int nb,
                                   int np, uint16_t *wh, uint32_t *acc);

/* Fills one block's rows (layout above) for taps [0, ntaps) from the column-major entries tt: nw
 * live channels whose codes are w[c][tap], padding channels nw..nb-1 with 0. */
void axmul__rows_build(const uint16_t *tt, const uint8_t *const *w, int nw, int nb, int ntaps,
                       uint16_t *R);

/* Depthwise layers (one input and one output channel per group: groups = c = co) have no
 * channels that share an activation, and only kh * kw taps per output: in the chunk kernels'
 * scheme the gather, the conversion and the strided stores of one channel at a time cost more
 * than the lookups (doc/performance.md). A direct kernel reads the quantized input where it lies
 * (NHWC, whole vectors of channels) and writes whole vectors of outputs. Per output channel o the
 * driver passes the output scale, the constant part of the corrected sum (axmul__unstore of 0
 * plus axmul__zp_base) and the weight zero point; with at most AXMUL__DW_MAX_TAPS taps every
 * corrected sum fits in 32 bits (below 2^18 per tap). */
#define AXMUL__DW_MAX_TAPS 256
typedef struct {
    const axmul__conv_plan *p; /* groups = c = co */
    const uint8_t *qx;         /* input codes, NHWC, readable 8 bytes past their end */
    const uint8_t *wq;         /* [co][k] weight codes, tap i * kw + j */
    const uint16_t *tt;        /* column-major stored entries (axmul__lut.tt), readable 2 bytes
                                  past their end (the prepared table's are: cache.c) */
    const float *oscale;       /* [co] */
    const int32_t *base;       /* [co] */
    const int32_t *zw;         /* [co] */
    const float *bias;         /* [co], or NULL */
    const uint32_t *pairs;     /* 3x3 filters, stride and dilation 1 along the row: the pair table
                                  of axmul__dw_pairs_build; NULL otherwise */
    float *y;                  /* NHWC output */
} axmul__dw_args;

/* Whether a depthwise layer takes a pair table: a 3x3 filter, stride 1 and dilation 1 along the
 * row (where taps 0, 1 and 2 of three adjacent outputs read the same input code). */
static inline int axmul__dw_pairs_fit(const axmul__conv_plan *p)
{
    return p->kh == 3 && p->kw == 3 && p->sw == 1 && p->dw == 1;
}

/* portable.c: the pair table of a layer where axmul__dw_pairs_fit: for channel o and filter row
 * i, P[(o * 3 + i) * 256 + a] = entry(a, w[o][i][0]) | entry(a, w[o][i][1]) << 16 (stored
 * entries, from the column-major tt). */
void axmul__dw_pairs_build(const uint16_t *tt, const uint8_t *wq, int co, uint32_t *P);

/* Writes output row oy of image n (row = n * oh + oy), every column and channel:
 *   y = axmul__conv_out(oscale, axmul__zp_correct(sum of entries, base, zw, sum of codes)) + bias
 * over the kh * kw taps (padding reads the code zx), as the chunk kernels' conversion does. */
typedef void (*axmul__dw_kernel)(const axmul__dw_args *a, int64_t row);

/* ---------------------------------------------------------------- kernels, one file per ISA */

/* portable.c: the reference kernel, one lookup per statement, the oracle of the tests (never
 * dispatched: the plain C twin of every other kernel). */
void axmul__lut_kernel_ref(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                           const axmul__lut *lut, int np, uint32_t *acc);
/* portable.c: plain C for any CPU, blocked over four taps and the channels. */
void axmul__lut_kernel_portable(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                                const axmul__lut *lut, int np, uint32_t *acc);
/* portable.c: the row-table kernels' plain C twin, one lookup per statement, the oracle of the
 * tests (wh unused). */
void axmul__rows_kernel_ref(const uint8_t *A, int as, int ntaps, const uint16_t *R, int nb, int np,
                            uint16_t *wh, uint32_t *acc);
/* portable.c: the depthwise kernels' plain C twin, one lookup per statement (the oracle of the
 * tests). */
void axmul__dw_kernel_ref(const axmul__dw_args *a, int64_t row);
/* portable.c: the end of a 256-tap segment of the row-table kernels (portable.c says how):
 * acc[c * as + q] += the segment's sums, from wh's 16-bit W and H of np pixels. */
void axmul__rows_flush(const uint16_t *wh, int nb, int np, int as, uint32_t *acc);
#define AXMUL__ROWS_STAGE 8 /* taps per stage of the row-table kernels */
/* A bulk quantizer: n floats to table indices exactly as axmul_quantize does (finite inputs; the
 * caller handles degenerate ranges): unsigned codes 0..255, signed codes -128..127 stored as
 * bytes. inv is 1 / scale; nmin, nmax the nudged range. One per path (lib/cpu/paths.h), so that
 * a forced path runs what a CPU of its kind runs. */
typedef void (*axmul__quantize_fn)(const float *x, size_t n, float nmin, float nmax, float inv,
                                   int is_signed, uint8_t *out);
/* axmul__quantize_threads (lib/engine/backend.h) with the quantizer f: the CPU convolution's,
 * that of its path. */
void axmul__quantize_threads_with(axmul__quantize_fn f, const float *x, size_t n,
                                  const axmul_qparams *q, uint8_t *out, int nthreads);
/* portable.c: plain C (vectorizable loops). */
void axmul__quantize_portable(const float *x, size_t n, float nmin, float nmax, float inv,
                              int is_signed, uint8_t *out);

#if defined(__x86_64__) || defined(__i386__)
/* x86.c: per-function target attributes, called only after cpuid says the instructions exist. */
#define AXMUL__HAVE_X86_KERNELS 1
void axmul__quantize_avx512(const float *x, size_t n, float nmin, float nmax, float inv,
                            int is_signed, uint8_t *out);
void axmul__quantize_avx2(const float *x, size_t n, float nmin, float nmax, float inv,
                          int is_signed, uint8_t *out);
void axmul__lut_kernel_avx512bw(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                                const axmul__lut *lut, int np, uint32_t *acc);
void axmul__lut_kernel_avx2(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                            const axmul__lut *lut, int np, uint32_t *acc);
void axmul__rows_kernel_avx2(const uint8_t *A, int as, int ntaps, const uint16_t *R, int nb, int np,
                             uint16_t *wh, uint32_t *acc);
void axmul__dw_kernel_avx2(const axmul__dw_args *a, int64_t row);
void axmul__lut_kernel_vbmi(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                            const axmul__lut *lut, int np, uint32_t *acc);
#endif

#if defined(__aarch64__)
/* arm.c: Advanced SIMD (NEON), which every aarch64 CPU has. */
#define AXMUL__HAVE_ARM_KERNELS 1
void axmul__lut_kernel_neon(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                            const axmul__lut *lut, int np, uint32_t *acc);
#endif

/* ---------------------------------------------------------------- path selection (select.c) */

/* A kernel path of lib/cpu/paths.h. */
typedef struct {
    const char *name;
    axmul__lut_kernel fn;
    axmul__quantize_fn quantize;
    axmul__rows_kernel rows; /* NULL: no row-table kernel */
    int rows_min;            /* the fewest output pixels of a layer that rows serve */
    const char *rows_name;   /* the path whose row kernel rows is (axmul_conv_info.path) */
    axmul__dw_kernel dw;     /* its depthwise kernel */
    int needs_planes;
} axmul__cpu_kernel;

/* The kernel that the next CPU convolution runs: the path forced by axmul_set_cpu_path or
 * AXMUL_CPU_PATH, else the best one this CPU has. Fails (detail naming the variable) for an
 * AXMUL_CPU_PATH that names no usable path. */
axmul_status axmul__cpu_select(axmul__cpu_kernel *k);

/* The timed path that "auto" takes where no untimed path runs (lib/cpu/paths.h): chosen by a
 * timing once per process, a static string. */
const char *axmul__cpu_calibrated(void);

/* The quantizer of the most specialised path this CPU (and build) runs, whichever path is
 * forced: for callers outside the CPU convolution (the CUDA backend's host side). */
axmul__quantize_fn axmul__cpu_best_quantizer(void);

/* ---------------------------------------------------------------- prepared tables (cache.c) */

typedef struct axmul__prepared axmul__prepared;

/* The prepared form of t (column-major entries and byte planes, above), from the cache of the
 * last few tables or made now on nthreads threads; held until axmul__prepared_put. NULL when out
 * of memory. */
axmul__prepared *axmul__prepared_get(const axmul_table *t, int is_signed, int nthreads);
void axmul__prepared_put(axmul__prepared *e);
axmul__lut axmul__prepared_lut(const axmul__prepared *e);

#endif
