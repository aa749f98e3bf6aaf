/* axmul: what the ONNX operators' kernels (ops_*.c) share: errors that name the node, attribute
 * and input helpers, axes, broadcasting, and the LUT layers' operand ranges. */
#ifndef AXMUL_NET_ONNX_OPS_H
#define AXMUL_NET_ONNX_OPS_H

#include "lib/core/internal.h"
#include "lib/net/net.h" /* axmul__pool_win */
#include "lib/net/onnx/onnx.h"

/* ERR status with "FILE: node NAME (OP): " before the message. */
axmul_status axmul__onnx_fail(const axmul__onnx_ctx *c, axmul_status s, const char *fmt, ...)
    AXMUL__PRINTF(3, 4);

/* The ints of attribute name (a list, or one int), *n of them; NULL (and *n = 0) when absent. */
const int64_t *axmul__onnx_attr_ints(const axmul__node *n, const char *name, size_t *count);
/* The string attribute name, or dflt. */
const char *axmul__onnx_attr_str(const axmul__node *n, const char *name, const char *dflt);

/* bytes of scratch memory kept by the step across runs (a pointer of the step's; NULL when out
 * of memory, and malloc'ed memory to free into *own when the step keeps none). */
void *axmul__onnx_scratch(const axmul__onnx_ctx *c, size_t bytes, void **own);

/* in[k] when the node has it (not omitted), else NULL. */
const axmul__tensor *axmul__onnx_in(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                    int k);

/* ERR_UNSUPPORTED naming input k (what) unless it is a constant of the plan with data. */
axmul_status axmul__onnx_need_const(const axmul__onnx_ctx *c, const axmul__tensor *const *in, int k,
                                    const char *what);

/* ERR_SHAPE/ERR_UNSUPPORTED unless t is float (what names it). */
axmul_status axmul__onnx_need_float(const axmul__onnx_ctx *c, const axmul__tensor *t,
                                    const char *what);

/* axis in [-rank, rank - 1] to [0, rank - 1] (ERR_INVALID_ARGUMENT naming attr otherwise). */
axmul_status axmul__onnx_axis(const axmul__onnx_ctx *c, int64_t axis, int rank, const char *attr,
                              int *out);

/* The multidirectional (numpy) broadcast of shapes a and b into out. */
axmul_status axmul__onnx_broadcast(const axmul__onnx_ctx *c, const axmul__shape *a,
                                   const axmul__shape *b, axmul__shape *out);

/* The element strides of t read as a tensor of out's shape (its dims right-aligned, broadcast
 * dims stride 0), in t's own storage layout (NHWC or plain). */
void axmul__onnx_strides(const axmul__tensor *t, const axmul__shape *out, int64_t *st);

/* Row-major strides of s. */
void axmul__onnx_plain_strides(const axmul__shape *s, int64_t *st);

/* out (plain) from in: element i of out, at index (i_0, ..., i_r-1), is in's element at
 * base + sum_k i_k * st[k]. */
void axmul__onnx_copy_strided(const axmul__tensor *in, int64_t base, const int64_t *st,
                              axmul__tensor *out);

/* The values of a constant 1-D integer input k (what), at most max of them, into v (*n). */
axmul_status axmul__onnx_const_ints(const axmul__onnx_ctx *c, const axmul__tensor *const *in, int k,
                                    const char *what, int64_t *v, int *n, int max);

/* The loop order of a tensor's storage: 0, 1, ..., rank - 1, or 0, 2, 3, 1 for NHWC. */
void axmul__onnx_storage_order(const axmul__tensor *t, int *order);

/* A float tensor's elements (any layout: the storage as is). */
static inline float *axmul__onnx_f(const axmul__tensor *t)
{
    return (float *)t->data;
}

/* The value of element k of t (plain layout) written into element k of o, converting the type
 * (the elementwise kernels' generic path for the integer tensors of shape computations). */
void axmul__onnx_set_real(axmul__tensor *o, int64_t k, double v);

/* The sliding window of a 2-D Conv or pool over an H x W input (kernel kh x kw): strides,
 * dilations, the padding of pads or auto_pad (SAME_UPPER: the odd pixel at the end, as
 * TensorFlow's SAME; SAME_LOWER: at the start; VALID), and the output size (ceil_mode: rounded
 * up, with no window starting in the end padding). */
typedef axmul__pool_win axmul__onnx_window;

axmul_status axmul__onnx_window_of(const axmul__onnx_ctx *c, int64_t h, int64_t w, int64_t kh,
                                   int64_t kw, int ceil_mode, axmul__onnx_window *win);

/* ---------------------------------------------------------------- LUT layers */

/* The quantization ranges of a LUT layer's two operands, into d: the activation's (operand 0)
 * from the model's QDQ parameters, else per batch (o->batch_ranges: left unset, the engine
 * takes the data's), else the node's calibrated range, else ERR_RANGE; the weights' from the
 * QDQ parameters (per tensor or per channel) else the data's, per tensor or per channel as o
 * says. For a product of two activations (b_activation), operand 1 as operand 0. */
typedef struct {
    int a_set, b_set;
    axmul_range a, b;
    int per_channel;
    const axmul_range *channels; /* NULL: from the weights */
} axmul__onnx_ranges;

axmul_status axmul__onnx_lut_ranges(const axmul__onnx_ctx *c, int b_activation,
                                    axmul__onnx_ranges *r);

/* The histogram hook of a LUT layer (o->act_hist, wt_hist): the codes its operands quantize
 * to with ranges r (weights w: rows x cols floats, the output channels along cols). */
axmul_status axmul__onnx_lut_histograms(const axmul__onnx_ctx *c, const axmul__onnx_ranges *r,
                                        const float *a, size_t na, const float *w, size_t rows,
                                        size_t cols);

/* ---------------------------------------------------------------- integer layers */

/* The code of a uint8/int8 tensor's element k. */
int32_t axmul__onnx_code(const axmul__tensor *t, int64_t k);

/* A zero point: the scalar's, or element k of one per channel (row, column); 0 when absent. */
int32_t axmul__onnx_zero_point(const axmul__tensor *z, int64_t k);

/* ERR_UNSUPPORTED naming the node unless codes of types a x b suit the node's table (an
 * unsigned table takes uint8 codes, a signed one int8); OK without a table. */
axmul_status axmul__onnx_table_codes(const axmul__onnx_ctx *c, axmul__dtype a, axmul__dtype b);

/* (a - za) * (b - zb) for codes a, b with zero points za, zb; with a table, its entry for (a, b)
 * corrected by the zero points as the engine does (T[a][b] - zb*a - za*b + za*zb). */
int64_t axmul__onnx_code_product(const axmul_table *t, int32_t a, int32_t b, int32_t za,
                                 int32_t zb);

#endif
