/* axmul: the inner LUT-MAC kernels of the CPU convolution, one per instruction set, all with the
 * same contract so that the driver (conv_cpu.c) and the tests treat them alike. */
#ifndef AXMUL_LUT_KERNELS_H
#define AXMUL_LUT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Output pixels per chunk: one row of activations is AXMUL__CHUNK bytes (a multiple of 64, the
 * width of an AVX-512 byte vector). */
#define AXMUL__CHUNK 256

/* Taps summed in one call: the sums are uint32 and 32768 * 65535 < 2^32. */
#define AXMUL__TAP_BLOCK 32768

/* Table prepared once per convolution. Signed tables are stored offset by 32768 (entry XOR
 * 0x8000) so that every kernel sums unsigned 16-bit values; the driver subtracts 32768 per tap.
 *   tt[w * 256 + a]           = entry (a, w), "column-major": the column of weight w is
 *                               contiguous (portable and AVX2 kernels)
 *   planes[w * 512 + a]       = low byte of entry (a, w)
 *   planes[w * 512 + 256 + a] = high byte of entry (a, w)   (VBMI kernel: byte permutes) */
typedef struct {
    const uint16_t *tt;
    const uint8_t *planes;
} axmul__lut;

/* acc[p] = sum over tap < ntaps of entry(A[tap * AXMUL__CHUNK + p], wrow[tap]) for every live
 * pixel p < np (1 <= np <= AXMUL__CHUNK); a kernel may also fill acc up to the end of its
 * vector width, so A's bytes up to AXMUL__CHUNK must be valid indices. ntaps <= AXMUL__TAP_BLOCK.
 */
typedef void (*axmul__lut_kernel)(const uint8_t *A, int ntaps, const uint8_t *wrow,
                                  const axmul__lut *lut, int np, uint32_t *acc);

void axmul__lut_kernel_portable(const uint8_t *A, int ntaps, const uint8_t *wrow,
                                const axmul__lut *lut, int np, uint32_t *acc);
/* Quantizes n floats to table indices exactly as axmul_quantize does (finite inputs; the caller
 * handles degenerate ranges): unsigned codes 0..255, signed codes -128..127 stored as bytes. */
void axmul__quantize_portable(const float *x, size_t n, float nmin, float nmax, float inv,
                              int is_signed, uint8_t *out);

#if defined(__x86_64__) || defined(__i386__)
#define AXMUL__HAVE_X86_KERNELS 1
void axmul__quantize_avx512(const float *x, size_t n, float nmin, float nmax, float inv,
                            int is_signed, uint8_t *out);
void axmul__lut_kernel_avx512bw(const uint8_t *A, int ntaps, const uint8_t *wrow,
                                const axmul__lut *lut, int np, uint32_t *acc);
void axmul__lut_kernel_avx2(const uint8_t *A, int ntaps, const uint8_t *wrow, const axmul__lut *lut,
                            int np, uint32_t *acc);
void axmul__lut_kernel_vbmi(const uint8_t *A, int ntaps, const uint8_t *wrow, const axmul__lut *lut,
                            int np, uint32_t *acc);
#endif

#endif
