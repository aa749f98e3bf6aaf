/* axmul: approximate 8x8 multiplier toolkit — umbrella header.
 *
 * Tables (axmul_table.h), error metrics and packing diagnosis (axmul_metrics.h), images
 * (axmul_image.h), NumPy .npy files (axmul_npy.h), the fake-quantized LUT convolution engine
 * (axmul_conv.h), and datasets, models, inference and training (axmul_net.h). Every fallible
 * function returns an axmul_status and writes results through out-parameters; axmul_error_detail()
 * says what went wrong and with which file. */
#ifndef AXMUL_H
#define AXMUL_H

#include "axmul_status.h"
#include "axmul_table.h"
#include "axmul_metrics.h"
#include "axmul_image.h"
#include "axmul_npy.h"
#include "axmul_conv.h"
#include "axmul_net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Package version, e.g. "0.1.0". */
AXMUL_API const char *axmul_version(void);

/* sizeof of the public structure called name ("axmul_conv_desc", "axmul_dense_desc",
 * "axmul_conv_info", "axmul_metrics", "axmul_packing_report", "axmul_net_options",
 * "axmul_range", "axmul_qparams"), 0 for another name: for bindings that mirror the layouts
 * (python/axmul) and check them against the library they load. */
AXMUL_API size_t axmul_struct_size(const char *name);

#ifdef __cplusplus
}
#endif
#endif
