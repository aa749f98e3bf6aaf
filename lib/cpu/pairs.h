/* axmul: the scalar LUT kernel of CPUs without byte permutes (lib/cpu/cpu.h's contract), as
 * always-inline functions that the portable kernel (portable.c) and the AVX2 one (x86.c) compile
 * with their own instruction sets: they differ only in how the columns are interleaved.
 *
 * Four taps per pass over the pixels, and channels in pairs (bench/lut_micro.c measures the
 * schemes, doc/performance.md). A scalar kernel is bound by its loads: a lookup is one load of a
 * table entry, so what else a pass loads must be shared. Each activation byte feeds every
 * channel of the call, each accumulator is loaded and stored once per four taps, and two
 * channels' entries come in one load: the pass's columns are first interleaved into 64-bit
 * entries, P[t][x] = entry(x, w0[t]) | entry(x, w1[t]) << 32, at a constant displacement from one
 * base register (x86-64 has too few registers for sixteen column pointers), and one 64-bit add
 * sums both channels in separate 32-bit lanes: a call sums at most AXMUL__TAP_BLOCK entries of
 * 65535 per pixel, below 2^32, so the low lane never carries into the high one. Four channels
 * take 14 loads per 16 lookups (4 activation bytes, 8 entry pairs, 2 accumulator pairs), plus the
 * interleaving (2 KiB per pair of columns, vectorized, per 512 lookups). The lookup loop stays
 * scalar: the vectorizers' emulated or hardware gathers are slower than these loads. */
#ifndef AXMUL_CPU_PAIRS_H
#define AXMUL_CPU_PAIRS_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "lib/cpu/cpu.h"

#if defined(__clang__)
#define AXMUL__NO_VECTORIZE _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define AXMUL__NO_VECTORIZE
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define AXMUL__SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define AXMUL__SCALAR
#endif
#define AXMUL__PASS_TAPS 4

typedef void (*axmul__interleave_fn)(uint64_t *restrict d, const uint16_t *restrict a,
                                     const uint16_t *restrict b);

/* One channel: the four columns' pointers fit in registers, nothing to copy. */
static inline __attribute__((always_inline)) void axmul__pairs_one(const uint8_t *A, int ntaps,
                                                                   const uint8_t *w,
                                                                   const uint16_t *tt, int np,
                                                                   uint32_t *acc)
{
    memset(acc, 0, sizeof(uint32_t) * (size_t)np);
    int tap = 0;
    for (; tap + AXMUL__PASS_TAPS <= ntaps; tap += AXMUL__PASS_TAPS) {
        const uint16_t *c0 = tt + (size_t)w[tap] * 256, *c1 = tt + (size_t)w[tap + 1] * 256,
                       *c2 = tt + (size_t)w[tap + 2] * 256, *c3 = tt + (size_t)w[tap + 3] * 256;
        const uint8_t *r0 = A + (size_t)tap * AXMUL__CHUNK, *r1 = r0 + AXMUL__CHUNK,
                      *r2 = r1 + AXMUL__CHUNK, *r3 = r2 + AXMUL__CHUNK;
#if defined(__GNUC__)
        /* the column pointers in registers: compilers otherwise add the column offset to the
         * table base inside the loop, one more instruction per lookup */
        __asm__("" : "+r"(c0), "+r"(c1), "+r"(c2), "+r"(c3));
#endif
        AXMUL__NO_VECTORIZE
        for (int q = 0; q < np; q++)
            acc[q] += (uint32_t)c0[r0[q]] + c1[r1[q]] + c2[r2[q]] + c3[r3[q]];
    }
    for (; tap < ntaps; tap++) {
        const uint16_t *col = tt + (size_t)w[tap] * 256;
        const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
        AXMUL__NO_VECTORIZE
        for (int q = 0; q < np; q++)
            acc[q] += col[row[q]];
    }
}

/* NP channel pairs (w[2j], w[2j + 1]) at once; acc rows as the kernel contract has them.
 * interleave(d, a, b) writes d[x] = a[x] | (uint64_t)b[x] << 32 for x < 256 (d 16-byte
 * aligned). */
static inline __attribute__((always_inline)) void
axmul__pairs_block(const uint8_t *A, int ntaps, const uint8_t *const *w, const uint16_t *tt, int np,
                   uint32_t *acc, const int NP, axmul__interleave_fn interleave)
{
    _Alignas(64) uint64_t pbuf[AXMUL__PASS_TAPS * (AXMUL__KCH / 2) * 256];
    _Alignas(64) uint64_t sbuf[(AXMUL__KCH / 2) * AXMUL__CHUNK];
    uint64_t *const P = pbuf, *const S = sbuf;
    memset(S, 0, sizeof(uint64_t) * (size_t)NP * AXMUL__CHUNK);
    int tap = 0;
    for (; tap + AXMUL__PASS_TAPS <= ntaps; tap += AXMUL__PASS_TAPS) {
        for (int t = 0; t < AXMUL__PASS_TAPS; t++)
            for (int j = 0; j < NP; j++)
                interleave(P + (size_t)(t * NP + j) * 256, tt + (size_t)w[2 * j][tap + t] * 256,
                           tt + (size_t)w[2 * j + 1][tap + t] * 256);
        const uint8_t *r = A + (size_t)tap * AXMUL__CHUNK;
        AXMUL__NO_VECTORIZE
        for (int q = 0; q < np; q++) {
            /* size_t: the byte is zero-extended once, and indexes without another extension */
            const size_t x0 = r[q], x1 = r[AXMUL__CHUNK + q], x2 = r[2 * AXMUL__CHUNK + q],
                         x3 = r[3 * AXMUL__CHUNK + q];
#pragma GCC unroll 2
            for (int j = 0; j < NP; j++)
                S[(size_t)j * AXMUL__CHUNK + q] +=
                    (P + (size_t)j * 256)[x0] + (P + (size_t)(NP + j) * 256)[x1] +
                    (P + (size_t)(2 * NP + j) * 256)[x2] + (P + (size_t)(3 * NP + j) * 256)[x3];
        }
    }
    for (int j = 0; j < NP; j++) {
        uint32_t *a0 = acc + (size_t)(2 * j) * AXMUL__CHUNK, *a1 = a0 + AXMUL__CHUNK;
        const uint64_t *sj = S + (size_t)j * AXMUL__CHUNK;
        for (int q = 0; q < np; q++) {
            a0[q] = (uint32_t)sj[q];
            a1[q] = (uint32_t)(sj[q] >> 32);
        }
        for (int t = tap; t < ntaps; t++) {
            const uint16_t *c0 = tt + (size_t)w[2 * j][t] * 256,
                           *c1 = tt + (size_t)w[2 * j + 1][t] * 256;
            const uint8_t *row = A + (size_t)t * AXMUL__CHUNK;
            AXMUL__NO_VECTORIZE
            for (int q = 0; q < np; q++) {
                a0[q] += c0[row[q]];
                a1[q] += c1[row[q]];
            }
        }
    }
}

/* The whole kernel: four channels as two pairs, two as one, and an odd one alone. */
static inline __attribute__((always_inline)) void
axmul__pairs_kernel(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                    const uint16_t *tt, int np, uint32_t *acc, axmul__interleave_fn interleave)
{
    _Static_assert(AXMUL__KCH == 4, "two pairs serve a whole call");
    assert(nch >= 1 && nch <= AXMUL__KCH);
    if (nch >= 4)
        axmul__pairs_block(A, ntaps, w, tt, np, acc, 2, interleave);
    else if (nch >= 2)
        axmul__pairs_block(A, ntaps, w, tt, np, acc, 1, interleave);
    if (nch == 1 || nch == 3)
        axmul__pairs_one(A, ntaps, w[nch - 1], tt, np, acc + (size_t)(nch - 1) * AXMUL__CHUNK);
}

#endif
