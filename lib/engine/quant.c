/* axmul: quantization with TensorFlow's FakeQuant semantics (doc/semantics.md): parameters from
 * a range, codes and their values, tensor ranges, and the resolution of a call's quantization
 * (axmul__conv_setup). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "axmul_conv.h"
#include "lib/core/internal.h"
#include "lib/engine/engine.h"

axmul_status axmul_qparams_from_range(axmul_range r, int is_signed, const char *what,
                                      axmul_qparams *out)
{
    if (!what)
        what = "tensor";
    memset(out, 0, sizeof *out);
    out->is_signed = is_signed ? 1 : 0;
    if (!isfinite(r.min) || !isfinite(r.max))
        return axmul__fail(AXMUL_ERR_RANGE, "%s range [%g, %g] is not finite", what, r.min, r.max);
    if (r.min > r.max)
        return axmul__fail(AXMUL_ERR_RANGE, "%s range [%g, %g] is inverted (min > max)", what,
                           r.min, r.max);
    if (r.min == r.max) {
        if (r.min != 0.0f)
            return axmul__fail(AXMUL_ERR_RANGE,
                               "%s range [%g, %g] has zero width (widen it to include 0)", what,
                               r.min, r.max);
        out->degenerate = 1; /* TensorFlow: min == max == 0 quantizes everything to 0 */
        return AXMUL_OK;
    }
    /* a range whose scale is not a normal float (too narrow: it underflows; too wide: the width
     * overflows) has no usable quantization */
    const float width = is_signed ? fmaxf(-r.min / 128.0f, r.max / 127.0f) : (r.max - r.min) / 255.0f;
    if (!isnormal(width) || !isnormal(1.0f / width))
        return axmul__fail(AXMUL_ERR_RANGE,
                           "%s range [%g, %g] is too %s to quantize (a scale of %g)", what, r.min,
                           r.max, isfinite(width) && width < 1.0f ? "narrow" : "wide", width);
    if (is_signed) {
        /* Symmetric int8: the larger of the two half-range scales, so that both ends fit. */
        float s = fmaxf(-r.min / 128.0f, r.max / 127.0f);
        out->scale = s;
        out->zero_point = 0;
        out->nudged_min = -128.0f * s;
        out->nudged_max = 127.0f * s;
        return AXMUL_OK;
    }
    /* TensorFlow's Nudge() for quant_min = 0, quant_max = 255, in float32. */
    float scale = (r.max - r.min) / 255.0f;
    float zp_from_min = 0.0f - r.min / scale;
    int32_t zp;
    if (zp_from_min < 0.0f)
        zp = 0;
    else if (zp_from_min > 255.0f)
        zp = 255;
    else
        zp = (int32_t)roundf(zp_from_min); /* half away from zero, as std::round */
    out->scale = scale;
    out->zero_point = zp;
    out->nudged_min = (0.0f - (float)zp) * scale;
    out->nudged_max = (255.0f - (float)zp) * scale;
    return AXMUL_OK;
}

int32_t axmul_quantize(float x, const axmul_qparams *q)
{
    if (q->degenerate || x != x)
        return q->is_signed ? 0 : q->zero_point;
    if (q->is_signed) {
        float qf = floorf(x * (1.0f / q->scale) + 0.5f);
        if (qf < -128.0f)
            return -128;
        if (qf > 127.0f)
            return 127;
        return (int32_t)qf;
    }
    float c = x < q->nudged_min ? q->nudged_min : (x > q->nudged_max ? q->nudged_max : x);
    float shifted = c - q->nudged_min;
    float inv = 1.0f / q->scale;
    float qf = floorf(shifted * inv + 0.5f);
    /* float rounding can reach 256 at the top of the range: the table has no such row */
    if (qf > 255.0f)
        return 255;
    if (qf < 0.0f)
        return 0;
    return (int32_t)qf;
}

float axmul_dequantize(int32_t q, const axmul_qparams *qp)
{
    if (qp->degenerate)
        return 0.0f;
    if (qp->is_signed)
        return (float)q * qp->scale;
    return (float)q * qp->scale + qp->nudged_min;
}

void axmul__range_include_zero(axmul_range *r)
{
    if (r->min == r->max) { /* a constant tensor: widen to include 0 */
        if (r->min > 0)
            r->min = 0;
        else
            r->max = 0;
    }
}

axmul_range axmul__channel_range(const float *w, size_t per, int co, int o)
{
    /* HWIO: channel o is every co-th element */
    axmul_range r = {w[o], w[o]};
    for (size_t i = 0; i < per; i++) {
        float v = w[i * (size_t)co + (size_t)o];
        r.min = v < r.min ? v : r.min;
        r.max = v > r.max ? v : r.max;
    }
    axmul__range_include_zero(&r);
    return r;
}

static axmul_status check_finite(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return axmul__fail(AXMUL_ERR_NONFINITE, "%s: element %zu is %s", what, i,
                               x[i] != x[i] ? "NaN" : (x[i] > 0 ? "+Inf" : "-Inf"));
    return AXMUL_OK;
}

/* Min and max do not depend on the order of the reduction, so the result is the same on any
 * thread count. */
axmul_status axmul__scan_tensor(const float *x, size_t n, const char *what, int threads,
                                axmul_range *range)
{
    /* Non-finite values are found from their exponent bits, so that the loop has no branch and
     * vectorizes; the first one is named by check_finite afterwards. */
    unsigned bad = 0;
    float lo = n ? x[0] : 0.0f, hi = lo;
#ifdef _OPENMP
    int nt = threads > 0 ? threads : omp_get_max_threads();
    /* clang-format off */
#pragma omp parallel for simd num_threads(nt) reduction(min : lo) reduction(max : hi) \
    reduction(| : bad) schedule(static) if (n > 65536)
    /* clang-format on */
#endif
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    (void)threads;
    if (bad)
        return check_finite(x, n, what); /* names the first bad element */
    range->min = lo;
    range->max = hi;
    axmul__range_include_zero(range);
    return AXMUL_OK;
}

axmul_status axmul_range_of(const float *x, size_t n, const char *what, axmul_range *out)
{
    if (!what)
        what = "tensor";
    if (n == 0)
        return axmul__fail(AXMUL_ERR_SHAPE, "%s is empty", what);
    return axmul__scan_tensor(x, n, what, 0, out);
}

/* ---------------------------------------------------------------- resolved calls */

void axmul__conv_setup_free(axmul__conv_setup *s)
{
    free(s->wq);
    free(s->zw);
    free(s->sw);
    free(s->oscale);
    memset(s, 0, sizeof *s);
}

axmul_status axmul__conv_setup_make(const axmul_conv_desc *d, const axmul_table *t, const float *x,
                                    const float *w, axmul__conv_setup *s)
{
    memset(s, 0, sizeof *s);
    if (!t || !x || !w)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: NULL table or tensor");
    axmul_status st = axmul__conv_geometry(d, &s->p, NULL);
    if (st != AXMUL_OK)
        return st;
    s->bias = d->bias;
    const char *xname = d->input_name ? d->input_name : "input";
    const char *wname = d->filter_name ? d->filter_name : "filter";
    size_t nx = (size_t)d->n * d->h * d->w * d->c;
    size_t nw = (size_t)d->kh * d->kw * s->p.cin_g * d->co;
    axmul_range xr, data_r, w_r;
    if ((st = axmul__scan_tensor(x, nx, xname, d->threads, &data_r)) != AXMUL_OK ||
        (st = axmul__scan_tensor(w, nw, wname, d->threads, &w_r)) != AXMUL_OK)
        return st;
    int sgn = axmul_table_is_signed(t);
    s->p.is_signed = sgn;
    xr = d->input_range_set ? d->input_range : data_r;
    char what[300];
    snprintf(what, sizeof what, "%s", xname);
    if ((st = axmul_qparams_from_range(xr, sgn, what, &s->xq)) != AXMUL_OK)
        return st;
    s->p.zx = s->xq.is_signed ? 0 : s->xq.zero_point;
    s->p.sx = s->xq.degenerate ? 0.0f : s->xq.scale;
    s->p.degenerate = s->xq.degenerate;

    int co = d->co;
    s->wq = calloc((size_t)co, sizeof *s->wq);
    s->zw = calloc((size_t)co, sizeof *s->zw);
    s->sw = calloc((size_t)co, sizeof *s->sw);
    s->oscale = calloc((size_t)co, sizeof *s->oscale);
    if (!s->wq || !s->zw || !s->sw || !s->oscale) {
        axmul__conv_setup_free(s);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory");
    }
    if (!d->per_channel) {
        axmul_range wr = d->filter_range_set ? d->filter_range : w_r;
        snprintf(what, sizeof what, "%s", wname);
        if ((st = axmul_qparams_from_range(wr, sgn, what, &s->wq[0])) != AXMUL_OK)
            goto fail;
        for (int o = 1; o < co; o++)
            s->wq[o] = s->wq[0];
    } else {
        size_t per = nw / (size_t)co;
        for (int o = 0; o < co; o++) {
            axmul_range wr;
            snprintf(what, sizeof what, "%s channel %d", wname, o);
            if (d->channel_ranges) {
                wr = d->channel_ranges[o];
            } else {
                wr = axmul__channel_range(w, per, co, o);
            }
            if ((st = axmul_qparams_from_range(wr, sgn, what, &s->wq[o])) != AXMUL_OK)
                goto fail;
        }
    }
    for (int o = 0; o < co; o++) {
        s->zw[o] = s->wq[o].is_signed ? 0 : s->wq[o].zero_point;
        s->sw[o] = s->wq[o].degenerate ? 0.0f : s->wq[o].scale;
        s->oscale[o] = s->p.sx * s->sw[o];
    }
    return AXMUL_OK;
fail:
    axmul__conv_setup_free(s);
    return st;
}
