/* axmul: ONNX's operators that make or cut tensors: Pad (constant, edge, reflect; in either
 * layout), Tile, Split, Range, Size and CastLike. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/net/onnx/ops.h"

/* ---------------------------------------------------------------- Pad */

/* Pads (begin then end per dim, negative ones crop), mode and the constant, from attributes
 * before opset 11 and from inputs after (axes from opset 18). */
static axmul_status pad_params(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               int64_t *pads, int *mode, double *value)
{
    const int r = in[0]->sh.rank;
    int64_t p[2 * AXMUL__ONNX_MAX_RANK], ax[AXMUL__ONNX_MAX_RANK];
    int np = 0, na = -1;
    axmul_status s;
    const char *m = axmul__onnx_attr_str(c->node, "mode", "constant");
    *mode = strcmp(m, "constant") == 0 ? 0 : strcmp(m, "edge") == 0 ? 1 : strcmp(m, "reflect") == 0 ? 2 : -1;
    if (*mode < 0)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "mode %s", m);
    *value = 0;
    if (c->g->opset < 11) {
        size_t n;
        const int64_t *a = axmul__onnx_attr_ints(c->node, "pads", &n);
        if (n > 2 * AXMUL__ONNX_MAX_RANK)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "%zu pads", n);
        if (n) /* (an absent or empty list: NULL) */
            memcpy(p, a, n * sizeof *p);
        np = (int)n;
        *value = axmul__onnx_attr_float(c->node, "value", 0.0f);
    } else {
        if ((s = axmul__onnx_const_ints(c, in, 1, "pads", p, &np, 2 * AXMUL__ONNX_MAX_RANK)) != AXMUL_OK)
            return s;
        const axmul__tensor *cv = axmul__onnx_in(c, in, 2); /* (read when it has data) */
        if (cv && cv->data && axmul__shape_count(&cv->sh) > 0)
            *value = axmul__tensor_real(cv, 0);
        if (axmul__onnx_in(c, in, 3) &&
            (s = axmul__onnx_const_ints(c, in, 3, "axes", ax, &na, AXMUL__ONNX_MAX_RANK)) != AXMUL_OK)
            return s;
    }
    const int n = na >= 0 ? na : r;
    if (np != 2 * n)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "%d pads for %d axes", np, n);
    memset(pads, 0, sizeof *pads * 2 * AXMUL__ONNX_MAX_RANK);
    for (int k = 0; k < n; k++) {
        int a = k;
        if (na >= 0 && (s = axmul__onnx_axis(c, ax[k], r, "axes", &a)) != AXMUL_OK)
            return s;
        pads[a] = p[k];
        pads[r + a] = p[n + k];
    }
    return AXMUL_OK;
}

static axmul_status pad_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    int64_t pads[2 * AXMUL__ONNX_MAX_RANK];
    int mode;
    double v;
    axmul_status s = pad_params(c, in, pads, &mode, &v);
    if (s != AXMUL_OK)
        return s;
    const int r = in[0]->sh.rank;
    out->dt = in[0]->dt;
    out->sh = in[0]->sh;
    out->nhwc = in[0]->nhwc && r == 4;
    for (int k = 0; k < r; k++) {
        if (pads[k] > INT32_MAX || pads[k] < -INT32_MAX || pads[r + k] > INT32_MAX ||
            pads[r + k] < -INT32_MAX)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "pads of dimension %d too large", k);
        out->sh.d[k] += pads[k] + pads[r + k];
        if (out->sh.d[k] < 0 || (mode && in[0]->sh.d[k] == 0 && out->sh.d[k] > 0) ||
            (mode == 2 && (pads[k] >= in[0]->sh.d[k] || pads[r + k] >= in[0]->sh.d[k])))
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "pads do not fit dimension %d", k);
    }
    return AXMUL_OK;
}

/* Index i of a padded dimension of n elements in the input: itself, or by mode (0: outside,
 * -1; 1: the edge; 2: reflected). */
static int64_t pad_index(int64_t i, int64_t n, int mode)
{
    if (i >= 0 && i < n)
        return i;
    if (mode == 0)
        return -1;
    if (mode == 1)
        return i < 0 ? 0 : n - 1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}

/* In either layout: the output is walked in its storage order (the input's layout), each run
 * along the innermost stored dimension copied in one piece where it lies inside the input. */
static axmul_status pad_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                            axmul__tensor *out)
{
    int64_t pads[2 * AXMUL__ONNX_MAX_RANK], st[AXMUL__ONNX_MAX_RANK], idx[AXMUL__ONNX_MAX_RANK] = {0};
    int ord[AXMUL__ONNX_MAX_RANK], mode;
    double v;
    pad_params(c, in, pads, &mode, &v);
    const axmul__shape *x = &in[0]->sh;
    const int r = x->rank;
    const size_t es = axmul__dt_size(out->dt);
    const int64_t total = axmul__shape_count(&out->sh);
    if (total == 0)
        return AXMUL_OK;
    axmul__onnx_strides(in[0], x, st); /* (dims of 1 read at index 0: their stride is unused) */
    axmul__onnx_storage_order(out, ord);
    const uint8_t *src = in[0]->data;
    uint8_t *dst = out->data;
    int zero = 1;
    for (int d = 0; d < 2 * r; d++)
        zero &= pads[d] == 0;
    if (r == 0 || zero) { /* (exporters write zero pads before pooling; in place, or aliased) */
        if (dst != src)
            memcpy(dst, src, (size_t)total * es);
        return AXMUL_OK;
    }
    const int id = ord[r - 1];
    const int64_t len = out->sh.d[id], n_in = x->d[id], b = pads[id];
    axmul__tensor one = *out;
    for (int64_t e = 0; e < total; e += len) {
        int64_t off = 0;
        int outside = 0;
        for (int q = 0; q < r - 1; q++) {
            const int d = ord[q];
            const int64_t i = pad_index(idx[d] - pads[d], x->d[d], mode);
            outside |= i < 0;
            off += (i < 0 ? 0 : i) * st[d];
        }
        /* the part of the run inside the input: out indices [b, b + n_in) clipped */
        const int64_t lo = b > 0 ? b : 0, hi = b + n_in < len ? b + n_in : len;
        for (int64_t i = 0; i < len; i++) {
            if (!outside && i == lo && hi > lo && (st[id] == 1 || hi - lo == 1)) {
                memcpy(dst + (e + lo) * (int64_t)es, src + (off + (lo - b) * st[id]) * (int64_t)es,
                       (size_t)(hi - lo) * es);
                i = hi - 1;
                continue;
            }
            const int64_t j = pad_index(i - b, n_in, mode);
            if (outside || j < 0)
                axmul__onnx_set_real(&one, e + i, v);
            else
                memcpy(dst + (e + i) * (int64_t)es, src + (off + j * st[id]) * (int64_t)es, es);
        }
        for (int q = r - 2; q >= 0; q--) {
            const int d = ord[q];
            if (++idx[d] < out->sh.d[d])
                break;
            idx[d] = 0;
        }
    }
    (void)c;
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Pad = {"Pad", AXMUL__LAYOUT_ANY, pad_shape, pad_run};

/* ---------------------------------------------------------------- Tile */

static axmul_status tile_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    int64_t rep[AXMUL__ONNX_MAX_RANK];
    int n;
    axmul_status s = axmul__onnx_const_ints(c, in, 1, "repeats", rep, &n, AXMUL__ONNX_MAX_RANK);
    if (s != AXMUL_OK)
        return s;
    if (n != in[0]->sh.rank)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "%d repeats for rank %d", n, in[0]->sh.rank);
    out->dt = in[0]->dt;
    out->sh = in[0]->sh;
    out->nhwc = 0;
    for (int k = 0; k < n; k++) {
        if (rep[k] < 0 || (rep[k] && out->sh.d[k] > INT32_MAX / rep[k]))
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "repeats[%d] = %lld", k,
                                    (long long)rep[k]);
        out->sh.d[k] *= rep[k];
    }
    return AXMUL_OK;
}

static axmul_status tile_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    const axmul__shape *x = &in[0]->sh;
    const int r = x->rank;
    const size_t es = axmul__dt_size(out->dt);
    int64_t st[AXMUL__ONNX_MAX_RANK], idx[AXMUL__ONNX_MAX_RANK] = {0};
    const int64_t total = axmul__shape_count(&out->sh);
    (void)c;
    axmul__onnx_plain_strides(x, st);
    for (int64_t e = 0; e < total; e++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++)
            off += (idx[d] % x->d[d]) * st[d];
        memcpy((uint8_t *)out->data + e * (int64_t)es,
               (const uint8_t *)in[0]->data + off * (int64_t)es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < out->sh.d[d])
                break;
            idx[d] = 0;
        }
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Tile = {"Tile", AXMUL__LAYOUT_PLAIN, tile_shape, tile_run};

/* ---------------------------------------------------------------- Split */

/* The sizes of the parts along axis: the split attribute (before opset 13) or input, else equal
 * parts (the last smaller from opset 18, num_outputs). */
static axmul_status split_sizes(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                int *axis, int64_t *sz)
{
    const int n = c->node->nout;
    axmul_status s = axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 0), in[0]->sh.rank,
                                      "axis", axis);
    if (s != AXMUL_OK)
        return s;
    const int64_t dim = in[0]->sh.d[*axis];
    int got = 0;
    if (c->g->opset < 13) {
        size_t cnt;
        const int64_t *a = axmul__onnx_attr_ints(c->node, "split", &cnt);
        if (a) {
            if ((int)cnt != n)
                return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "%zu sizes for %d outputs", cnt, n);
            if (cnt) /* (an absent or empty list: NULL) */
                memcpy(sz, a, cnt * sizeof *sz);
            got = 1;
        }
    } else if (axmul__onnx_in(c, in, 1)) {
        int cnt;
        if ((s = axmul__onnx_const_ints(c, in, 1, "split", sz, &cnt, 64)) != AXMUL_OK)
            return s;
        if (cnt != n)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "%d sizes for %d outputs", cnt, n);
        got = 1;
    }
    if (!got) {
        const int64_t part = (dim + n - 1) / n;
        for (int k = 0; k < n; k++)
            sz[k] = k < n - 1 ? part : dim - part * (n - 1);
    }
    int64_t sum = 0;
    for (int k = 0; k < n; k++) {
        if (sz[k] < 0 || sz[k] > INT32_MAX)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "split size %lld", (long long)sz[k]);
        sum += sz[k];
    }
    if (sum != dim)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "split sizes sum to %lld, the axis has %lld",
                                (long long)sum, (long long)dim);
    return AXMUL_OK;
}

static axmul_status split_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    int64_t sz[64];
    int axis;
    if (c->node->nout > 64 || c->node->nout < 1)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "%d outputs", c->node->nout);
    axmul_status s = split_sizes(c, in, &axis, sz);
    for (int k = 0; k < c->node->nout && s == AXMUL_OK; k++) {
        out[k].dt = in[0]->dt;
        out[k].sh = in[0]->sh;
        out[k].sh.d[axis] = sz[k];
        out[k].nhwc = 0;
    }
    return s;
}

static axmul_status split_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    int64_t sz[64], outer = 1, inner = 1;
    int axis;
    split_sizes(c, in, &axis, sz);
    for (int d = 0; d < axis; d++)
        outer *= in[0]->sh.d[d];
    for (int d = axis + 1; d < in[0]->sh.rank; d++)
        inner *= in[0]->sh.d[d];
    const size_t es = axmul__dt_size(in[0]->dt);
    const size_t row = (size_t)(in[0]->sh.d[axis] * inner) * es;
    size_t at = 0;
    for (int k = 0; k < c->node->nout; k++) {
        const size_t blk = (size_t)(sz[k] * inner) * es;
        for (int64_t o = 0; o < outer && c->node->out[k] >= 0; o++)
            memcpy((uint8_t *)out[k].data + (size_t)o * blk,
                   (const uint8_t *)in[0]->data + (size_t)o * row + at, blk);
        at += blk;
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Split = {"Split", AXMUL__LAYOUT_PLAIN, split_shape, split_run};

/* ---------------------------------------------------------------- Range */

static axmul_status range_params(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 double *v, int64_t *n)
{
    axmul_status s;
    for (int k = 0; k < 3; k++) {
        if ((s = axmul__onnx_need_const(c, in, k, k == 0 ? "start" : k == 1 ? "limit" : "delta")))
            return s;
        if (axmul__shape_count(&in[k]->sh) != 1 || in[k]->dt != in[0]->dt)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "start, limit, delta: scalars of a type");
        v[k] = axmul__tensor_real(in[k], 0);
    }
    if (v[2] == 0)
        return axmul__onnx_fail(c, AXMUL_ERR_INVALID_ARGUMENT, "delta is 0");
    const double cnt = ceil((v[1] - v[0]) / v[2]);
    if (!(cnt < (double)INT32_MAX))
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "too many elements");
    *n = cnt > 0 ? (int64_t)cnt : 0;
    return AXMUL_OK;
}

static axmul_status range_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    double v[3];
    int64_t n;
    axmul_status s = range_params(c, in, v, &n);
    out->dt = in[0]->dt;
    out->sh = (axmul__shape){1, {n}};
    out->nhwc = 0;
    return s;
}

static axmul_status range_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    double v[3];
    int64_t n;
    range_params(c, in, v, &n);
    for (int64_t k = 0; k < n; k++) {
        if (out->dt == AXMUL__DT_FLOAT) /* float32 steps, as the reference adds them */
            ((float *)out->data)[k] = (float)v[0] + (float)k * (float)v[2];
        else if (out->dt == AXMUL__DT_INT64)
            ((int64_t *)out->data)[k] = axmul__tensor_int(in[0], 0) + k * axmul__tensor_int(in[2], 0);
        else
            axmul__onnx_set_real(out, k, v[0] + (double)k * v[2]);
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Range = {"Range", AXMUL__LAYOUT_PLAIN, range_shape, range_run};

/* ---------------------------------------------------------------- Size */

static axmul_status size_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    (void)c;
    (void)in;
    out->dt = AXMUL__DT_INT64;
    out->sh.rank = 0;
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status size_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    (void)c;
    *(int64_t *)out->data = axmul__shape_count(&in[0]->sh);
    return AXMUL_OK;
}

/* (reads the shape only, as Shape) */
const axmul__onnx_op axmul__onnx_Size = {"Size", AXMUL__LAYOUT_ANY, size_shape, size_run};
