/* axmul: internal interface of the convolution engine (lib/engine): a validated and resolved call
 * (geometry, quantization parameters), the float convolution (im2col + SGEMM) that networks and
 * training share, and the range helpers. Backends and networks include this; the engine includes
 * nothing of theirs (the contract with the backends is lib/engine/backend.h). */
#ifndef AXMUL_ENGINE_ENGINE_H
#define AXMUL_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_conv.h"
#include "lib/engine/plan.h"

/* Largest element count of any one tensor: int32 indexing in every kernel (documented in
 * doc/semantics.md). */
#define AXMUL__MAX_ELEMS ((size_t)INT32_MAX)

/* Everything a kernel needs after validation: geometry, input quantization, and per-output-
 * channel filter zero points and scales (co entries each; equal when per-tensor). */
typedef struct {
    axmul__conv_plan p;
    axmul_qparams xq;
    axmul_qparams *wq; /* co entries */
    int32_t *zw;       /* co entries */
    float *sw;         /* co entries */
    float *oscale;     /* co entries: sx * sw[o], the float factor applied to acc */
    const float *bias; /* the descriptor's: co entries added after the conversion, or NULL */
} axmul__conv_setup;

/* y[p * co + o] += bias[o] for the npix pixels of y (nothing when bias is NULL), on threads
 * threads (0: all): the bias of a backend that cannot add it as it writes. */
void axmul__add_channel_bias(float *y, size_t npix, int co, const float *bias, int threads);

/* ---------------------------------------------------------------- geometry (desc.c) */

/* Validates d's shape fields (errors name the field) and resolves the padding (TensorFlow's
 * SAME: the odd pixel at the bottom/right) and the output size into the geometry part of *p;
 * quantization fields are zeroed. pads, when not NULL, receives top, bottom, left, right. */
axmul_status axmul__conv_geometry(const axmul_conv_desc *d, axmul__conv_plan *p, int pads[4]);

/* ---------------------------------------------------------------- quantization (quant.c) */

/* Widens a range computed from a constant tensor (min == max) to include 0. */
void axmul__range_include_zero(axmul_range *r);

/* Min/max of output channel o of an HWIO filter with co channels and per elements per channel,
 * widened to include 0 when constant: the per-channel weight range. */
axmul_range axmul__channel_range(const float *w, size_t per, int co, int o);

/* Finiteness (ERR_NONFINITE naming what and the first bad element) and min/max of n floats in
 * one pass on threads threads (0: all), widened to include 0 when constant. */
axmul_status axmul__scan_tensor(const float *x, size_t n, const char *what, int threads,
                                axmul_range *range);

/* Validates, checks finiteness, resolves ranges. On success the caller frees with
 * axmul__conv_setup_free. */
axmul_status axmul__conv_setup_make(const axmul_conv_desc *d, const axmul_table *t, const float *x,
                                    const float *w, axmul__conv_setup *s);
void axmul__conv_setup_free(axmul__conv_setup *s);

/* ---------------------------------------------------------------- dispatch (dispatch.c) */

/* Fills info (NULL: nothing) with what a run of s did: the backend, the kernel's name (a static
 * string), the kernel time on a device, the working memory, the quantization and the lookups. */
void axmul__conv_info_fill(axmul_conv_info *info, const axmul__conv_setup *s, axmul_backend b,
                           const char *path, double device_seconds, size_t work_bytes);

/* ---------------------------------------------------------------- float convolution (float.c) */

/* im2col of one image (h x w x c, NHWC) for the input channels of group g: col[(oy * ow + ox) *
 * kh*kw*cin_g + (i * kw + j) * cin_g + ci], zeros in the padding. */
void axmul__im2col(const axmul__conv_plan *p, const float *x_img, int g, float *col);

/* The transpose of axmul__im2col: adds each column entry onto the input position it was taken
 * from (padding dropped), for input gradients in training. */
void axmul__col2im_add(const axmul__conv_plan *p, const float *col, int g, float *dx_img);

/* Exact float convolution of p->n images (HWIO filter w, no bias): per image and group an
 * im2col into col (oh * ow * kh * kw * cin_g floats) and one SGEMM. Each output is one SGEMM dot
 * product, so the result of an image does not depend on its batch. */
void axmul__conv_float(const axmul__conv_plan *p, const float *x, const float *w, float *y,
                       float *col);

#endif
