/* axmul: ONNX's QuantizeLinear and DequantizeLinear (per tensor, or per axis), and what a QDQ
 * model's quantization means for the LUT layers: the range that a DequantizeLinear's codes span,
 * which the engine's quantizer (doc/semantics.md) turns back into the model's own scale and zero
 * point, so that the table reads the codes the model was quantized to. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/net/onnx/ops.h"

static int code_limits(axmul__dtype dt, int32_t *lo, int32_t *hi)
{
    if (dt == AXMUL__DT_UINT8) {
        *lo = 0;
        *hi = 255;
    } else if (dt == AXMUL__DT_INT8) {
        *lo = -128;
        *hi = 127;
    } else if (dt == AXMUL__DT_INT32) {
        *lo = INT32_MIN;
        *hi = INT32_MAX;
    } else
        return 0;
    return 1;
}

/* Checks scale and zero point (inputs 1, 2) against x: scalars, or 1-D along axis. Sets the
 * axis' length (*per: 1 for per tensor) and the element offsets' divisor (*inner). */
static axmul_status qparams_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                  const axmul__tensor *x, int64_t *per, int *axis)
{
    const axmul__tensor *sc = axmul__onnx_in(c, in, 1), *zp = axmul__onnx_in(c, in, 2);
    if (!sc || sc->dt != AXMUL__DT_FLOAT)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "the scale must be float");
    const int64_t ns = axmul__shape_count(&sc->sh);
    *per = 1;
    *axis = 0;
    if (sc->sh.rank > 1 || (zp && axmul__shape_count(&zp->sh) != ns))
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "scale and zero point must be alike, 0-D or 1-D");
    if (sc->sh.rank == 1 && ns != 1) {
        axmul_status s = axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 1), x->sh.rank,
                                          "axis", axis);
        if (s != AXMUL_OK)
            return s;
        if (x->sh.d[*axis] != ns)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "%lld scales for an axis of %lld",
                                    (long long)ns, (long long)x->sh.d[*axis]);
        *per = ns;
    }
    return AXMUL_OK;
}

/* The channel of element k of x along axis (per > 1), in x's layout. */
static int64_t channel_of(const axmul__tensor *x, int axis, int64_t per, int64_t k)
{
    if (per == 1)
        return 0;
    if (x->nhwc && x->sh.rank == 4 && axis == 1)
        return k % per;
    int64_t inner = 1;
    for (int d = axis + 1; d < x->sh.rank; d++)
        inner *= x->sh.d[d];
    return (k / inner) % per;
}

static axmul_status q_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                            axmul__tensor *out)
{
    int64_t per;
    int axis;
    axmul_status s = qparams_shape(c, in, in[0], &per, &axis);
    if (s != AXMUL_OK)
        return s;
    const axmul__tensor *zp = axmul__onnx_in(c, in, 2);
    int32_t lo, hi;
    out->dt = zp ? zp->dt : AXMUL__DT_UINT8;
    if (!code_limits(out->dt, &lo, &hi) || out->dt == AXMUL__DT_INT32)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "codes of type %s (uint8 or int8)",
                                axmul__dt_name(out->dt));
    if ((s = axmul__onnx_need_float(c, in[0], "the input")) != AXMUL_OK)
        return s;
    out->sh = in[0]->sh;
    out->nhwc = in[0]->nhwc;
    return AXMUL_OK;
}

static axmul_status q_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                          axmul__tensor *out)
{
    int64_t per;
    int axis;
    qparams_shape(c, in, in[0], &per, &axis);
    const axmul__tensor *sc = in[1], *zp = axmul__onnx_in(c, in, 2);
    int32_t lo = 0, hi = 255;
    code_limits(out->dt, &lo, &hi);
    const int64_t n = axmul__shape_count(&in[0]->sh);
    const float *x = in[0]->data;
    for (int64_t k = 0; k < n; k++) {
        const int64_t ch = channel_of(in[0], axis, per, k);
        const float s = ((const float *)sc->data)[ch];
        /* ties to even, as ONNX says (the default rounding mode) */
        double q = nearbyintf(x[k] / s) + (double)(zp ? axmul__tensor_int(zp, ch) : 0);
        q = isnan(q) ? 0 : q < lo ? lo : q > hi ? hi : q;
        axmul__onnx_set_real(out, k, q);
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_QuantizeLinear = {"QuantizeLinear", AXMUL__LAYOUT_ANY, q_shape,
                                                   q_run};

static axmul_status dq_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    int64_t per;
    int axis;
    int32_t lo, hi;
    if (!code_limits(in[0]->dt, &lo, &hi))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "codes of type %s",
                                axmul__dt_name(in[0]->dt));
    const axmul__tensor *zp = axmul__onnx_in(c, in, 2);
    if (zp && zp->dt != in[0]->dt)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "zero point of type %s for codes of type %s",
                                axmul__dt_name(zp->dt), axmul__dt_name(in[0]->dt));
    axmul_status s = qparams_shape(c, in, in[0], &per, &axis);
    out->dt = AXMUL__DT_FLOAT;
    out->sh = in[0]->sh;
    out->nhwc = in[0]->nhwc;
    return s;
}

static axmul_status dq_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                           axmul__tensor *out)
{
    int64_t per;
    int axis;
    qparams_shape(c, in, in[0], &per, &axis);
    const axmul__tensor *sc = in[1], *zp = axmul__onnx_in(c, in, 2);
    const int64_t n = axmul__shape_count(&in[0]->sh);
    float *y = out->data;
    for (int64_t k = 0; k < n; k++) {
        const int64_t ch = channel_of(in[0], axis, per, k);
        const int64_t z = zp ? axmul__tensor_int(zp, ch) : 0;
        y[k] = (float)(axmul__tensor_int(in[0], k) - z) * ((const float *)sc->data)[ch];
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_DequantizeLinear = {"DequantizeLinear", AXMUL__LAYOUT_ANY,
                                                     dq_shape, dq_run};

int axmul__onnx_dq_range(const axmul__tensor *x, const axmul__tensor *scale,
                         const axmul__tensor *zp, int64_t axis, axmul_range *r,
                         axmul_range **channels, int64_t *nch)
{
    int32_t lo, hi;
    *channels = NULL;
    *nch = 0;
    if (!code_limits(x->dt, &lo, &hi) || x->dt == AXMUL__DT_INT32 || !scale->data ||
        (zp && !zp->data) || scale->dt != AXMUL__DT_FLOAT)
        return 0;
    const int64_t ns = axmul__shape_count(&scale->sh);
    const float *s = scale->data;
    if (ns == 1) {
        const int64_t z = zp ? axmul__tensor_int(zp, 0) : 0;
        *r = (axmul_range){(float)(lo - z) * s[0], (float)(hi - z) * s[0]};
        return r->min <= r->max && s[0] > 0;
    }
    if (axis < 0)
        axis += x->sh.rank;
    if (axis < 0 || axis >= x->sh.rank || x->sh.d[axis] != ns || ns > INT32_MAX ||
        !(*channels = malloc(sizeof **channels * (size_t)ns)))
        return 0;
    for (int64_t k = 0; k < ns; k++) {
        const int64_t z = zp ? axmul__tensor_int(zp, k) : 0;
        (*channels)[k] = (axmul_range){(float)(lo - z) * s[k], (float)(hi - z) * s[k]};
        if (!(s[k] > 0)) {
            free(*channels);
            *channels = NULL;
            return 0;
        }
    }
    *nch = ns;
    return 1;
}
