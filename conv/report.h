/* axconv-test net --report: an HTML page with images (internal to the tool). */
#ifndef AXMUL_REPORT_H
#define AXMUL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "axmul.h"

typedef struct axmul__report axmul__report;

/* Starts a report for dir, written into a folder beside it that axmul__report_end swaps in
 * whole (its images go to img/). setup: the layer-wise
 * assignment of a run that has one (shown on the page), or NULL. classes: number of classes of
 * the model (confusion matrices). Returns NULL after printing an error. */
axmul__report *axmul__report_begin(const char *dir, const char *model, const char *dataset,
                                   const char *setup, int images, int classes, double float_acc);

/* One table's results. layer_names/snr: the conv2d/dense layers and their output SNR (dB,
 * +inf when identical); sample_diff[k]/sample_exact[k]: that layer's outputs for the first test
 * image (approximate and exact) with sample_h/w/c[k] the layer's output shape; pred/labels: the
 * n predictions and labels. Returns 0, or -1 after printing an error. */
typedef struct {
    const char *path;
    const axmul_table *table;
    double accuracy, exact_accuracy, agreement, seconds;
    int nlayers;
    const char *const *layer_names;
    const double *snr;
    const float *const *sample_approx, *const *sample_exact;
    const int *sample_h, *sample_w, *sample_c;
    const uint8_t *pred, *labels;
    int n;
} axmul__report_row;

int axmul__report_add(axmul__report *r, const axmul__report_row *row);

/* With keep: writes the Pareto plot and index.html and puts the report in place of dir (an
 * earlier report there is replaced whole); without (a failed or interrupted run), discards it
 * and leaves dir as it was. Frees r. Returns 0 or -1 after printing an error. */
int axmul__report_end(axmul__report *r, int keep);

#endif
