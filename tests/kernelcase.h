/* axmul tests: one CPU LUT kernel (lib/cpu/cpu.h's contract) against the reference kernel on
 * every shape class the driver hands it: pixel counts that leave partial vectors of every width
 * (1-256), tap counts around the unroll and flush boundaries (1-8, 255-257, 511-513), one to
 * AXMUL__KCH channels, and the largest sum a call can make (AXMUL__TAP_BLOCK taps of 0xFFFF).
 * Plain C without Check, so that tests/kernel_cross.c can run it on another architecture under
 * qemu as check_cpu runs it here. */
#ifndef AXMUL_TESTS_KERNELCASE_H
#define AXMUL_TESTS_KERNELCASE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cpu/cpu.h"
#include "lib/cpu/paths.h"
#include "lib/core/rng.h"

/* Every path of the one list, with whether this CPU (and build) runs it. */
#define KC_RUNS(name, kernel, quantize, rows, rows_min, dw, planes, runs, timed)                   \
    static inline int kc_runs_##name(void)                                                         \
    {                                                                                              \
        return (kernel) != NULL && (runs) != 0;                                                    \
    }
AXMUL__CPU_PATHS(KC_RUNS)
#undef KC_RUNS
typedef struct {
    const char *name;
    axmul__lut_kernel fn;
    axmul__rows_kernel rows;
    int rows_min;
    axmul__dw_kernel dw;
    int (*runs)(void);
} kc_path;
#define KC_ROW(name, kernel, quantize, rows, rows_min, dw, planes, runs, timed)                    \
    {#name, kernel, rows, rows_min, dw, kc_runs_##name},
static const kc_path kc_paths[] = {AXMUL__CPU_PATHS(KC_ROW)};
#undef KC_ROW
enum { KC_NPATHS = (int)(sizeof kc_paths / sizeof kc_paths[0]) };

/* A table in both prepared layouts (cpu.h): column-major entries and byte planes. */
typedef struct {
    uint16_t *tt;
    uint8_t *planes;
} kc_table;

static inline int kc_table_make(kc_table *t, uint64_t *s, int all_max)
{
    t->tt = calloc(256 * 256, sizeof *t->tt);
    t->planes = malloc(2 * 256 * 256);
    if (!t->tt || !t->planes)
        return -1;
    for (int w = 0; w < 256; w++)
        for (int a = 0; a < 256; a++) {
            const uint16_t e = all_max ? 0xFFFF : (uint16_t)axmul__splitmix64(s);
            t->tt[w * 256 + a] = e;
            t->planes[w * 512 + a] = (uint8_t)e;
            t->planes[w * 512 + 256 + a] = (uint8_t)(e >> 8);
        }
    return 0;
}

static inline void kc_table_free(kc_table *t)
{
    free(t->tt);
    free(t->planes);
}

/* The kernel against axmul__lut_kernel_ref on one case: 0 when the live sums agree and nothing
 * past the nch rows was written, else 1 with the case in why. */
static inline int kc_one(axmul__lut_kernel fn, const kc_table *t, uint64_t *s, int ntaps, int np,
                         int nch, char *why, size_t whylen)
{
    enum { CANARY = 64 };
    const size_t nacc = (size_t)AXMUL__KCH * AXMUL__CHUNK + CANARY;
    uint8_t *A = malloc((size_t)ntaps * AXMUL__CHUNK);
    uint8_t *w = malloc((size_t)AXMUL__KCH * (size_t)ntaps);
    uint32_t *got = malloc(nacc * sizeof *got), *want = malloc(nacc * sizeof *want);
    int bad = 0;
    if (!A || !w || !got || !want) {
        snprintf(why, whylen, "out of memory");
        bad = 1;
        goto out;
    }
    for (size_t i = 0; i < (size_t)ntaps * AXMUL__CHUNK; i++)
        A[i] = (uint8_t)axmul__splitmix64(s);
    for (size_t i = 0; i < (size_t)AXMUL__KCH * (size_t)ntaps; i++)
        w[i] = (uint8_t)axmul__splitmix64(s);
    const uint8_t *rows[AXMUL__KCH];
    for (int c = 0; c < AXMUL__KCH; c++)
        rows[c] = w + (size_t)c * (size_t)ntaps;
    for (size_t i = 0; i < nacc; i++)
        got[i] = want[i] = 0xA5A5A5A5u; /* stale sums must be overwritten */
    const axmul__lut lut = {t->tt, t->planes};
    axmul__lut_kernel_ref(A, ntaps, rows, nch, &lut, np, want);
    fn(A, ntaps, rows, nch, &lut, np, got);
    for (int c = 0; c < nch && !bad; c++)
        for (int q = 0; q < np; q++) {
            const size_t i = (size_t)c * AXMUL__CHUNK + (size_t)q;
            if (got[i] != want[i]) {
                snprintf(why, whylen,
                         "%d taps, %d pixels, %d channels: channel %d pixel %d sums %u, "
                         "reference %u",
                         ntaps, np, nch, c, q, got[i], want[i]);
                bad = 1;
                break;
            }
        }
    for (size_t i = (size_t)nch * AXMUL__CHUNK; i < nacc && !bad; i++)
        if (got[i] != 0xA5A5A5A5u) {
            snprintf(why, whylen, "%d taps, %d pixels, %d channels: wrote acc[%zu], past its rows",
                     ntaps, np, nch, i);
            bad = 1;
        }
out:
    free(A);
    free(w);
    free(got);
    free(want);
    return bad;
}

/* Every shape class for one kernel; returns the number of failed cases (each printed to stderr
 * with the kernel's name). full: also the largest sums (AXMUL__TAP_BLOCK taps). */
static inline int kc_run(const char *name, axmul__lut_kernel fn, uint64_t seed, int full)
{
    static const int taps[] = {1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 511, 513};
    static const int pix[] = {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129, 255, 256};
    uint64_t s = seed;
    kc_table t;
    int failed = 0;
    char why[256];
    if (kc_table_make(&t, &s, 0) != 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    for (size_t i = 0; i < sizeof taps / sizeof taps[0]; i++)
        for (size_t j = 0; j < sizeof pix / sizeof pix[0]; j++)
            for (int nch = 1; nch <= AXMUL__KCH; nch++)
                if (kc_one(fn, &t, &s, taps[i], pix[j], nch, why, sizeof why)) {
                    fprintf(stderr, "%s: %s\n", name, why);
                    failed++;
                }
    kc_table_free(&t);
    if (full) {
        /* the largest sum of one call: 32768 * 65535 < 2^32, and 16-bit partial sums that
         * overflow unless flushed */
        if (kc_table_make(&t, &s, 1) != 0) {
            fprintf(stderr, "%s: out of memory\n", name);
            return failed + 1;
        }
        if (kc_one(fn, &t, &s, AXMUL__TAP_BLOCK, AXMUL__CHUNK, AXMUL__KCH, why, sizeof why)) {
            fprintf(stderr, "%s: all entries 0xFFFF: %s\n", name, why);
            failed++;
        }
        kc_table_free(&t);
    }
    return failed;
}

/* A row-table kernel (cpu.h) on one case: the rows that axmul__rows_build makes of random codes
 * against the columns they come from (padding channels 0), then the kernel's sums against its
 * plain C twin's (axmul__rows_kernel_ref); nothing past the nb rows of acc written. 0 or 1 as
 * kc_one. */
static inline int kc_rows_one(axmul__rows_kernel fn, const kc_table *t, uint64_t *s, int ntaps,
                              int np, int as, int nb, int nw, char *why, size_t whylen)
{
    enum { CANARY = 64 };
    const size_t nacc = (size_t)nb * (size_t)as + CANARY;
    const size_t nr = (size_t)ntaps * 256 * (size_t)nb;
    uint8_t *A = malloc((size_t)ntaps * (size_t)as), *w = malloc((size_t)nb * (size_t)ntaps);
    uint16_t *R = aligned_alloc(64, (nr * sizeof *R + 63) & ~(size_t)63);
    uint16_t *wh = aligned_alloc(64, sizeof *wh * (size_t)as * 2 * AXMUL__ROWS_NB);
    uint32_t *got = aligned_alloc(64, (nacc * sizeof *got + 63) & ~(size_t)63);
    uint32_t *want = malloc(nacc * sizeof *want);
    int bad = 0;
    if (!A || !w || !R || !wh || !got || !want) {
        snprintf(why, whylen, "out of memory");
        bad = 1;
        goto out;
    }
    for (size_t i = 0; i < (size_t)ntaps * (size_t)as; i++)
        A[i] = (uint8_t)axmul__splitmix64(s);
    for (size_t i = 0; i < (size_t)nb * (size_t)ntaps; i++)
        w[i] = (uint8_t)axmul__splitmix64(s);
    const uint8_t *rows[AXMUL__ROWS_NB];
    for (int c = 0; c < nw; c++)
        rows[c] = w + (size_t)c * (size_t)ntaps;
    for (size_t i = 0; i < nr; i++)
        R[i] = 0xA5A5; /* every entry is written */
    axmul__rows_build(t->tt, rows, nw, nb, ntaps, R);
    for (int tap = 0; tap < ntaps && !bad; tap++)
        for (int a = 0; a < 256 && !bad; a++)
            for (int c = 0; c < nb; c++) {
                const uint16_t e = R[((size_t)tap * 256 + (size_t)a) * (size_t)nb + (size_t)c];
                const uint16_t col = c < nw ? t->tt[(size_t)rows[c][tap] * 256 + (size_t)a] : 0;
                if (e != col) {
                    snprintf(why, whylen,
                             "rows of %d channels (%d live), %d taps: tap %d code %d "
                             "channel %d is %u, column %u",
                             nb, nw, ntaps, tap, a, c, e, col);
                    bad = 1;
                    break;
                }
            }
    for (size_t i = 0; i < nacc; i++)
        got[i] = 0xA5A5A5A5u;
    if (!bad) { /* the rows equal the columns (above): the plain C twin's sums are the columns' */
        axmul__rows_kernel_ref(A, as, ntaps, R, nb, np, NULL, want);
        fn(A, as, ntaps, R, nb, np, wh, got);
    }
    for (int c = 0; c < nb && !bad; c++)
        for (int q = 0; q < np; q++) {
            const size_t i = (size_t)c * (size_t)as + (size_t)q;
            if (got[i] != want[i]) {
                snprintf(why, whylen,
                         "rows: %d taps, %d pixels, %d channels (%d live): channel %d pixel %d "
                         "sums %u, reference %u",
                         ntaps, np, nb, nw, c, q, got[i], want[i]);
                bad = 1;
                break;
            }
        }
    for (size_t i = (size_t)nb * (size_t)as; i < nacc && !bad; i++)
        if (got[i] != 0xA5A5A5A5u) {
            snprintf(why, whylen, "rows: %d taps, %d pixels, %d channels: wrote acc[%zu]", ntaps,
                     np, nb, i);
            bad = 1;
        }
out:
    free(A);
    free(w);
    free(R);
    free(wh);
    free(got);
    free(want);
    return bad;
}

/* Every shape class of a row-table kernel: tap counts around its stages and 256-tap segments,
 * partial chunks, blocks of 16 to 64 channels with padding channels, and entries of 0xFFFF over
 * several segments (the 16-bit sums' worst case). Returns the number of failed cases. */
static inline int kc_rows_run(const char *name, axmul__rows_kernel fn, uint64_t seed)
{
    static const int taps[] = {1, 7, 8, 9, 255, 256, 257, 513, 600};
    /* pixels and row length: a chunk's, and the driver's tasks of AXMUL__ROWS_PIXELS */
    static const int pix[][2] = {{1, AXMUL__CHUNK},
                                 {17, AXMUL__CHUNK},
                                 {256, AXMUL__CHUNK},
                                 {100, AXMUL__ROWS_PIXELS},
                                 {1000, AXMUL__ROWS_PIXELS}};
    static const int blocks[][2] = {{16, 16}, {16, 11}, {32, 32}, {48, 40}, {64, 64}, {64, 57}};
    uint64_t s = seed;
    kc_table t;
    int failed = 0;
    char why[320];
    if (kc_table_make(&t, &s, 0) != 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    for (size_t i = 0; i < sizeof taps / sizeof taps[0]; i++)
        for (size_t j = 0; j < sizeof pix / sizeof pix[0]; j++)
            for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
                if (kc_rows_one(fn, &t, &s, taps[i], pix[j][0], pix[j][1], blocks[b][0],
                                blocks[b][1], why, sizeof why)) {
                    fprintf(stderr, "%s: %s\n", name, why);
                    failed++;
                }
    kc_table_free(&t);
    if (kc_table_make(&t, &s, 1) != 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return failed + 1;
    }
    if (kc_rows_one(fn, &t, &s, 1000, AXMUL__ROWS_PIXELS, AXMUL__ROWS_PIXELS, 64, 64, why,
                    sizeof why)) {
        fprintf(stderr, "%s: all entries 0xFFFF: %s\n", name, why);
        failed++;
    }
    kc_table_free(&t);
    return failed;
}

#endif
