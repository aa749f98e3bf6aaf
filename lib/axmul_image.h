/* axmul: PNG images of table errors and tensors. */
#ifndef AXMUL_IMAGE_H
#define AXMUL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_status.h"
#include "axmul_table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes an 8-bit RGB PNG (rgb: height rows of width*3 bytes) atomically. Optional text chunks:
 * n_text key/value pairs (keys <= 79 Latin-1 characters), NULL when n_text is 0. */
AXMUL_API axmul_status axmul_png_write_rgb(const char *path, unsigned width, unsigned height,
                                           const uint8_t *rgb, const char *const *keys,
                                           const char *const *values, size_t n_text);

/* Diverging colour map: v in [-1, 1] -> blue (-1), white (0), red (+1); clamped. */
AXMUL_API void axmul_color_diverging(double v, uint8_t rgb[3]);

/* Sequential colour map: v in [0, 1] -> black, purple, orange, light yellow (magma-like). */
AXMUL_API void axmul_color_sequential(double v, uint8_t rgb[3]);

/* Error heatmap of a table: a 256x256 image (times scale in each direction, scale 1..16) of
 * e = T[a][b] - P with a on the vertical axis (top row = smallest a) and b on the horizontal
 * (left = smallest b). Signed tables show operands in -128..127 order. Colours: diverging map
 * centred at 0, saturating at +-*out_limit = max |e| (1 when the table is exact); the limit is
 * also stored in the PNG's text chunks. ref NULL means the exact product. */
AXMUL_API axmul_status axmul_heatmap_table_error(const axmul_table *t, const axmul_table *ref,
                                                 unsigned scale, const char *path,
                                                 double *out_limit);

/* Histogram of e over all operand pairs as a bar chart (width x height pixels, bins = width
 * columns spanning min_error..max_error, log-scaled counts); text chunks state the range. */
AXMUL_API axmul_status axmul_histogram_table_error(const axmul_table *t, const axmul_table *ref,
                                                   unsigned width, unsigned height,
                                                   const char *path);

#ifdef __cplusplus
}
#endif
#endif
