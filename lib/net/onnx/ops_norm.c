/* axmul: ONNX's normalizations and reductions: BatchNormalization (inference: one scale and
 * offset per channel, in either layout, as the model.json layer computes it), LayerNormalization,
 * Softmax and LogSoftmax (both opset conventions), the reductions (ReduceMean, ReduceSum, ...)
 * and ArgMax/ArgMin. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/net/onnx/ops.h"

/* ---------------------------------------------------------------- BatchNormalization */

static axmul_status bn_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    const axmul__tensor *x = in[0];
    axmul_status s;
    if (c->node->nin != 5)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "%d inputs (5 expected)", c->node->nin);
    if ((s = axmul__onnx_need_float(c, x, "the input")) != AXMUL_OK)
        return s;
    for (int k = 1; k < c->node->nout; k++)
        if (c->node->out[k] >= 0)
            return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                    "training outputs (running mean and variance)");
    if (axmul__onnx_attr_int(c->node, "training_mode", 0) ||
        !axmul__onnx_attr_int(c->node, "spatial", 1))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "training_mode = 1, or spatial = 0");
    if (x->sh.rank < 2)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "input of rank %d", x->sh.rank);
    const int64_t C = x->sh.d[1];
    for (int k = 1; k < 5; k++) {
        if (!in[k] || in[k]->dt != AXMUL__DT_FLOAT || axmul__shape_count(&in[k]->sh) != C)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "input %d must be %lld floats", k,
                                    (long long)C);
    }
    out->dt = AXMUL__DT_FLOAT;
    out->sh = x->sh;
    out->nhwc = x->nhwc;
    return AXMUL_OK;
}

static axmul_status bn_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                           axmul__tensor *out)
{
    const axmul__tensor *x = in[0];
    const int64_t C = x->sh.d[1], total = axmul__shape_count(&x->sh);
    const float eps = axmul__onnx_attr_float(c->node, "epsilon", 1e-5f);
    const float *g = in[1]->data, *b = in[2]->data, *mu = in[3]->data, *var = in[4]->data;
    float *a = malloc(sizeof *a * (size_t)(2 * C + 1));
    if (!a)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    float *o = a + C;
    for (int64_t ch = 0; ch < C; ch++) {
        const float v = var[ch] + eps;
        if (!(v > 0)) {
            free(a);
            return axmul__onnx_fail(c, AXMUL_ERR_RANGE,
                                    "variance + epsilon of channel %lld is not positive",
                                    (long long)ch);
        }
        a[ch] = g[ch] / sqrtf(v);
        o[ch] = b[ch] - mu[ch] * a[ch];
    }
    const float *xv = x->data;
    float *y = out->data;
    if (x->nhwc && x->sh.rank == 4) {
        for (int64_t k = 0; k < total; k += C)
            for (int64_t ch = 0; ch < C; ch++)
                y[k + ch] = xv[k + ch] * a[ch] + o[ch];
    } else {
        int64_t inner = 1;
        for (int d = 2; d < x->sh.rank; d++)
            inner *= x->sh.d[d];
        for (int64_t k = 0, blk = 0; k < total; k += inner, blk++) {
            const int64_t ch = blk % C;
            for (int64_t i = 0; i < inner; i++)
                y[k + i] = xv[k + i] * a[ch] + o[ch];
        }
    }
    free(a);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_BatchNormalization = {"BatchNormalization", AXMUL__LAYOUT_ANY,
                                                       bn_shape, bn_run};

/* ---------------------------------------------------------------- LayerNormalization */

static axmul_status ln_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    const axmul__tensor *x = in[0], *sc = axmul__onnx_in(c, in, 1), *b = axmul__onnx_in(c, in, 2);
    int axis;
    axmul_status s;
    if ((s = axmul__onnx_need_float(c, x, "the input")) ||
        (s = axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", -1), x->sh.rank, "axis",
                              &axis)))
        return s;
    int64_t norm = 1;
    for (int d = axis; d < x->sh.rank; d++)
        norm *= x->sh.d[d];
    if (!sc || sc->dt != AXMUL__DT_FLOAT || axmul__shape_count(&sc->sh) != norm ||
        (b && (b->dt != AXMUL__DT_FLOAT || axmul__shape_count(&b->sh) != norm)))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "Scale and B must have the %lld elements of the normalized shape",
                                (long long)norm);
    for (int k = 0; k < c->node->nout && k < 3; k++) {
        out[k].dt = AXMUL__DT_FLOAT;
        out[k].sh = x->sh;
        out[k].nhwc = 0;
        for (int d = axis; k && d < x->sh.rank; d++) /* Mean, InvStdDev: reduced dims kept */
            out[k].sh.d[d] = 1;
    }
    return AXMUL_OK;
}

static axmul_status ln_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                           axmul__tensor *out)
{
    const axmul__tensor *x = in[0], *b = axmul__onnx_in(c, in, 2);
    int axis;
    axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", -1), x->sh.rank, "axis", &axis);
    const float eps = axmul__onnx_attr_float(c->node, "epsilon", 1e-5f);
    int64_t norm = 1;
    for (int d = axis; d < x->sh.rank; d++)
        norm *= x->sh.d[d];
    const int64_t rows = norm ? axmul__shape_count(&x->sh) / norm : 0;
    const float *sc = in[1]->data, *bb = b ? b->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * norm;
        float *yr = (float *)out->data + r * norm;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < norm; i++)
            sum += xr[i];
        const double mean = sum / (double)norm;
        for (int64_t i = 0; i < norm; i++)
            sq += (xr[i] - mean) * (xr[i] - mean);
        const float inv = (float)(1.0 / sqrt(sq / (double)norm + eps)), m = (float)mean;
        for (int64_t i = 0; i < norm; i++)
            yr[i] = (xr[i] - m) * inv * sc[i] + (bb ? bb[i] : 0.0f);
        if (c->node->nout > 1 && c->node->out[1] >= 0)
            ((float *)out[1].data)[r] = m;
        if (c->node->nout > 2 && c->node->out[2] >= 0)
            ((float *)out[2].data)[r] = inv;
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_LayerNormalization = {"LayerNormalization", AXMUL__LAYOUT_PLAIN,
                                                       ln_shape, ln_run};

/* ---------------------------------------------------------------- Softmax */

/* The rows of the softmax: before opset 13 the input is flattened to 2-D at axis (default 1);
 * from 13 on it runs along the one axis (default -1). */
static axmul_status softmax_geometry(const axmul__onnx_ctx *c, const axmul__tensor *x,
                                     int64_t *outer, int64_t *len, int64_t *inner)
{
    const int old = c->g->opset < 13;
    int axis;
    axmul_status s = axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", old ? 1 : -1),
                                      x->sh.rank, "axis", &axis);
    if (s != AXMUL_OK)
        return s;
    *outer = *len = *inner = 1;
    for (int d = 0; d < x->sh.rank; d++) {
        if (d < axis)
            *outer *= x->sh.d[d];
        else if (d == axis || old)
            *len *= x->sh.d[d];
        else
            *inner *= x->sh.d[d];
    }
    return AXMUL_OK;
}

static axmul_status softmax_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                  axmul__tensor *out)
{
    int64_t a, b, d;
    axmul_status s;
    if ((s = axmul__onnx_need_float(c, in[0], "the input")) ||
        (s = softmax_geometry(c, in[0], &a, &b, &d)))
        return s;
    out->dt = AXMUL__DT_FLOAT;
    out->sh = in[0]->sh;
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status softmax_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    int64_t outer, len, inner;
    softmax_geometry(c, in[0], &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *z = (const float *)in[0]->data + o * len * inner + i;
            float *p = (float *)out->data + o * len * inner + i;
            float mx = z[0], sum = 0;
            for (int64_t k = 1; k < len; k++)
                mx = z[k * inner] > mx ? z[k * inner] : mx;
            for (int64_t k = 0; k < len; k++)
                sum += p[k * inner] = expf(z[k * inner] - mx);
            if (c->node->kind == AXMUL__OP_LogSoftmax) {
                const float ls = logf(sum);
                for (int64_t k = 0; k < len; k++)
                    p[k * inner] = z[k * inner] - mx - ls;
            } else
                for (int64_t k = 0; k < len; k++)
                    p[k * inner] /= sum;
        }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Softmax = {"Softmax", AXMUL__LAYOUT_PLAIN, softmax_shape,
                                            softmax_run};
const axmul__onnx_op axmul__onnx_LogSoftmax = {"LogSoftmax", AXMUL__LAYOUT_PLAIN, softmax_shape,
                                               softmax_run};

/* ---------------------------------------------------------------- ReduceMean */

/* Which axes are reduced (red[d]); axes from the attribute, or from input 1 from opset 18
 * (ReduceSum: 13). */
static axmul_status reduce_axes(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                int *red, int *all)
{
    const int r = in[0]->sh.rank;
    int64_t ax[AXMUL__ONNX_MAX_RANK];
    size_t n = 0;
    axmul_status s;
    memset(red, 0, sizeof *red * AXMUL__ONNX_MAX_RANK);
    const int from_input = c->g->opset >= (c->node->kind == AXMUL__OP_ReduceSum ? 13 : 18);
    if (!from_input) {
        const int64_t *a = axmul__onnx_attr_ints(c->node, "axes", &n);
        if (n > AXMUL__ONNX_MAX_RANK)
            return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "%zu axes", n);
        if (n) /* (an absent or empty list: NULL) */
            memcpy(ax, a, n * sizeof *ax);
    } else if (axmul__onnx_in(c, in, 1)) {
        if ((s = axmul__onnx_need_const(c, in, 1, "axes")) != AXMUL_OK)
            return s;
        n = (size_t)axmul__shape_count(&in[1]->sh);
        if (n > AXMUL__ONNX_MAX_RANK)
            return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "%zu axes", n);
        for (size_t k = 0; k < n; k++)
            ax[k] = axmul__tensor_int(in[1], (int64_t)k);
    }
    *all = n == 0;
    if (n == 0 && axmul__onnx_attr_int(c->node, "noop_with_empty_axes", 0))
        return AXMUL_OK;
    for (int d = 0; d < r && n == 0; d++)
        red[d] = 1;
    for (size_t k = 0; k < n; k++) {
        int a;
        if ((s = axmul__onnx_axis(c, ax[k], r, "axes", &a)) != AXMUL_OK)
            return s;
        red[a] = 1;
    }
    return AXMUL_OK;
}

static axmul_status reduce_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    int red[AXMUL__ONNX_MAX_RANK], all;
    axmul_status s;
    if ((s = axmul__onnx_need_float(c, in[0], "the input")) ||
        (s = reduce_axes(c, in, red, &all)))
        return s;
    const int keep = (int)axmul__onnx_attr_int(c->node, "keepdims", 1);
    out->dt = AXMUL__DT_FLOAT;
    out->sh.rank = 0;
    for (int d = 0; d < in[0]->sh.rank; d++)
        if (!red[d])
            out->sh.d[out->sh.rank++] = in[0]->sh.d[d];
        else if (keep)
            out->sh.d[out->sh.rank++] = 1;
    out->nhwc = 0;
    return AXMUL_OK;
}

static double reduce_init(int kind)
{
    return kind == AXMUL__OP_ReduceMax   ? -INFINITY
           : kind == AXMUL__OP_ReduceMin ? INFINITY
           : kind == AXMUL__OP_ReduceProd ? 1.0
                                          : 0.0;
}

static double reduce_add(int kind, double acc, double v)
{
    switch (kind) {
    case AXMUL__OP_ReduceMax:
        return v > acc || isnan(v) ? v : acc;
    case AXMUL__OP_ReduceMin:
        return v < acc || isnan(v) ? v : acc;
    case AXMUL__OP_ReduceProd:
        return acc * v;
    case AXMUL__OP_ReduceL1:
        return acc + fabs(v);
    case AXMUL__OP_ReduceL2:
    case AXMUL__OP_ReduceSumSquare:
        return acc + v * v;
    case AXMUL__OP_ReduceLogSumExp:
        return acc + exp(v);
    default: /* Mean, Sum, LogSum */
        return acc + v;
    }
}

static double reduce_end(int kind, double acc, double per)
{
    switch (kind) {
    case AXMUL__OP_ReduceMean:
        return acc / per;
    case AXMUL__OP_ReduceL2:
        return sqrt(acc);
    case AXMUL__OP_ReduceLogSum:
    case AXMUL__OP_ReduceLogSumExp:
        return log(acc);
    default:
        return acc;
    }
}

/* Output strides over the input's dims (0 along the reduced ones). */
static void reduce_strides(const axmul__shape *x, const int *red, int64_t *ost)
{
    int64_t m = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        ost[d] = red[d] ? 0 : m;
        m *= red[d] ? 1 : x->d[d];
    }
}

static axmul_status reduce_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    int red[AXMUL__ONNX_MAX_RANK], all;
    reduce_axes(c, in, red, &all);
    const int kind = c->node->kind;
    const axmul__shape *x = &in[0]->sh;
    const int64_t nout = axmul__shape_count(&out->sh), total = axmul__shape_count(x);
    double *acc = malloc(sizeof *acc * (size_t)(nout ? nout : 1));
    if (!acc)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < nout; k++)
        acc[k] = reduce_init(kind);
    int64_t ost[AXMUL__ONNX_MAX_RANK], idx[AXMUL__ONNX_MAX_RANK] = {0}, o = 0;
    reduce_strides(x, red, ost);
    const float *xv = in[0]->data;
    for (int64_t k = 0; k < total; k++) {
        acc[o] = reduce_add(kind, acc[o], xv[k]);
        for (int d = x->rank - 1; d >= 0; d--) {
            o += ost[d];
            if (++idx[d] < x->d[d])
                break;
            o -= ost[d] * x->d[d];
            idx[d] = 0;
        }
    }
    const double per = nout ? (double)total / (double)nout : 1;
    for (int64_t k = 0; k < nout; k++)
        ((float *)out->data)[k] = (float)reduce_end(kind, acc[k], per);
    free(acc);
    return AXMUL_OK;
}

#define REDUCE_OP(op)                                                                              \
    const axmul__onnx_op axmul__onnx_##op = {#op, AXMUL__LAYOUT_PLAIN, reduce_shape, reduce_run};
REDUCE_OP(ReduceMean)
REDUCE_OP(ReduceSum)
REDUCE_OP(ReduceMax)
REDUCE_OP(ReduceMin)
REDUCE_OP(ReduceProd)
REDUCE_OP(ReduceL1)
REDUCE_OP(ReduceL2)
REDUCE_OP(ReduceSumSquare)
REDUCE_OP(ReduceLogSum)
REDUCE_OP(ReduceLogSumExp)

/* ---------------------------------------------------------------- ArgMax, ArgMin */

static axmul_status arg_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    int axis;
    axmul_status s;
    if ((s = axmul__onnx_need_float(c, in[0], "the input")) ||
        (s = axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 0), in[0]->sh.rank,
                              "axis", &axis)))
        return s;
    const int keep = (int)axmul__onnx_attr_int(c->node, "keepdims", 1);
    out->dt = AXMUL__DT_INT64;
    out->sh.rank = 0;
    for (int d = 0; d < in[0]->sh.rank; d++)
        if (d != axis)
            out->sh.d[out->sh.rank++] = in[0]->sh.d[d];
        else if (keep)
            out->sh.d[out->sh.rank++] = 1;
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status arg_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                            axmul__tensor *out)
{
    int axis;
    axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 0), in[0]->sh.rank, "axis", &axis);
    const int last = (int)axmul__onnx_attr_int(c->node, "select_last_index", 0);
    const int is_max = c->node->kind == AXMUL__OP_ArgMax;
    int64_t outer = 1, inner = 1;
    const int64_t len = in[0]->sh.d[axis];
    for (int d = 0; d < axis; d++)
        outer *= in[0]->sh.d[d];
    for (int d = axis + 1; d < in[0]->sh.rank; d++)
        inner *= in[0]->sh.d[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *z = (const float *)in[0]->data + o * len * inner + i;
            int64_t best = 0;
            for (int64_t k = 1; k < len; k++) {
                const float a = z[k * inner], b = z[best * inner];
                if (is_max ? (a > b || (last && a == b)) : (a < b || (last && a == b)))
                    best = k;
            }
            ((int64_t *)out->data)[o * inner + i] = best;
        }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_ArgMax = {"ArgMax", AXMUL__LAYOUT_PLAIN, arg_shape, arg_run};
const axmul__onnx_op axmul__onnx_ArgMin = {"ArgMin", AXMUL__LAYOUT_PLAIN, arg_shape, arg_run};
