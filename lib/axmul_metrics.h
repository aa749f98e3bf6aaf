/* axmul: error metrics of multiplier tables and packing diagnosis. */
#ifndef AXMUL_METRICS_H
#define AXMUL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_status.h"
#include "axmul_table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error metrics with the EvoApprox definitions. With P the exact product (int16 product of the
 * int8 operands for signed tables) and e = T[a][b] - P, over all 65,536 operand pairs (or
 * weighted by p(a)p(b) when a distribution is given):
 *   mae = mean |e|, mae_percent = mae / 2^16 * 100 (EvoApprox normalises by 2^16 also for
 *   signed tables), wce = max |e|, wce_percent = wce / 2^16 * 100, ep_percent = share of pairs
 *   with e != 0, mse = mean e^2, mre_percent = mean of |e|/|P| over pairs with P != 0, in percent,
 *   wcre_percent = max of |e|/|P| over those pairs, in percent, mean_error = mean e,
 *   error_std = population standard deviation of e, min_error/max_error signed extremes.
 * Structural facts (always over all pairs, never weighted):
 *   commutative: T[a][b] == T[b][a] everywhere; zero_preserving: T[0][b] == T[a][0] == 0;
 *   monotone_violations: adjacent pairs (in operand value order) where increasing one operand
 *   moves the product against the direction of the exact product (unsigned: it decreases;
 *   signed: it decreases while the other operand is positive or increases while it is
 *   negative), counted for both operands. */
typedef struct axmul_metrics {
    int is_signed;
    int weighted; /* 1 when computed with operand distributions */
    double mae, mae_percent;
    double wce, wce_percent;
    double ep_percent;
    double mse;
    double mre_percent, wcre_percent;
    double mean_error, error_std;
    double min_error, max_error;
    int commutative;
    int zero_preserving;
    long monotone_violations;
} axmul_metrics;

/* Computes the metrics of t against the exact product. dist_a and dist_b are optional 256-entry
 * non-negative weights over table indices 0..255 (operand a and b; for signed tables index i is
 * the operand (int8_t)i); NULL means uniform. They need not be normalised but must be finite,
 * non-negative and not all zero (ERR_INVALID_ARGUMENT otherwise). */
AXMUL_API axmul_status axmul_metrics_compute(const axmul_table *t, const double *dist_a,
                                             const double *dist_b, axmul_metrics *out);

/* Same, but against an arbitrary reference table instead of the exact product: e = T - R and the
 * relative metrics divide by |R|. */
AXMUL_API axmul_status axmul_metrics_compare(const axmul_table *t, const axmul_table *ref,
                                             const double *dist_a, const double *dist_b,
                                             axmul_metrics *out);

/* Reads a 256-entry operand histogram: a .npy file (any integer or float dtype, 256 elements)
 * or a text file with one number per line ('#' comments and blank lines ignored). */
AXMUL_API axmul_status axmul_histogram_load(const char *path, double out[256]);

/* ------------------------------------------------------------ packing diagnosis */

#define AXMUL_PACKING_LIST(X)                                                                      \
    X(IDENTICAL, "identical")                                                                      \
    X(BIG_ENDIAN, "big-endian byte order")                                                         \
    X(TRANSPOSED, "transposed (b-major) order")                                                    \
    X(TRANSPOSED_BIG_ENDIAN, "transposed and big-endian")                                          \
    X(ELEMENT_8BIT, "8-bit entries")                                                               \
    X(ELEMENT_32BIT, "32-bit entries")                                                             \
    X(ELEMENT_64BIT, "64-bit entries")                                                             \
    X(HEADER, "header bytes before the table")                                                     \
    X(TRAILING, "trailing bytes after the table")                                                  \
    X(TRUNCATED, "truncated file")                                                                 \
    X(SIGNEDNESS, "signed/unsigned mix-up")                                                        \
    X(SHIFTED, "whole table shifted")                                                              \
    X(WRONG_SIZE, "wrong size")                                                                    \
    X(DIFFERENT, "different values")

typedef enum axmul_packing {
#define AXMUL__PACKING_ENUM(name, msg) AXMUL_PACKING_##name,
    AXMUL_PACKING_LIST(AXMUL__PACKING_ENUM)
#undef AXMUL__PACKING_ENUM
        AXMUL_PACKING_COUNT
} axmul_packing;

typedef struct axmul_packing_report {
    axmul_packing kind;
    /* For DIFFERENT (and as extra facts elsewhere): first differing pair in table order. */
    int first_a, first_b;    /* table indices 0..255, -1 when not applicable */
    int32_t expected, found; /* values at that pair */
    long differing_entries;  /* entries that differ (131,072-byte files only) */
    long offset;             /* HEADER/TRAILING: byte count; SHIFTED: entries (+/-) */
    char text[512];          /* one-line human diagnosis */
} axmul_packing_report;

/* Short name of a packing kind, e.g. "big-endian byte order". */
AXMUL_API const char *axmul_packing_name(axmul_packing kind);

/* Diagnoses how the raw file bytes relate to the reference table (usually the exact multiplier):
 * identical; byte-swapped; transposed (detectable only when ref is not commutative); 8/32/64-bit
 * entries; header or trailing bytes; a signed/unsigned mix-up (the bytes equal the exact table
 * of the other signedness); an off-by-one shift of the whole table (by one entry or one byte);
 * else the first differing pair. name is used in the text. Never fails on any byte content. */
AXMUL_API axmul_status axmul_packing_diagnose(const uint8_t *bytes, size_t len, const char *name,
                                              const axmul_table *ref, axmul_packing_report *out);

#ifdef __cplusplus
}
#endif
#endif
