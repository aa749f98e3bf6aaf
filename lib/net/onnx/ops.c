/* axmul: the ONNX kernels' shared helpers (lib/net/onnx/ops.h): errors naming the node,
 * attributes, axes, broadcasting and strides, and the operand ranges and histograms of the LUT
 * layers (Conv, Gemm, MatMul with a table). */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/engine/engine.h"
#include "lib/net/onnx/ops.h"

axmul_status axmul__onnx_fail(const axmul__onnx_ctx *c, axmul_status s, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return axmul__fail(s, "%s: node %s (%s): %s", c->g->path, c->node->name, c->node->op, msg);
}

const int64_t *axmul__onnx_attr_ints(const axmul__node *n, const char *name, size_t *count)
{
    const axmul__attr *a = axmul__onnx_attr(n, name);
    *count = 0;
    if (!a)
        return NULL;
    if (a->type == 7) { /* INTS */
        *count = a->nints;
        return a->ints;
    }
    if (a->type == 2) { /* INT */
        *count = 1;
        return &a->i;
    }
    return NULL;
}

const char *axmul__onnx_attr_str(const axmul__node *n, const char *name, const char *dflt)
{
    const axmul__attr *a = axmul__onnx_attr(n, name);
    return a && a->type == 3 && a->s ? a->s : dflt;
}

void *axmul__onnx_scratch(const axmul__onnx_ctx *c, size_t bytes, void **own)
{
    *own = NULL;
    if (!c->scratch)
        return *own = malloc(bytes ? bytes : 1);
    if (*c->scratch_size < bytes) {
        free(*c->scratch);
        *c->scratch = malloc(bytes);
        *c->scratch_size = *c->scratch ? bytes : 0;
    }
    return *c->scratch;
}

const axmul__tensor *axmul__onnx_in(const axmul__onnx_ctx *c, const axmul__tensor *const *in, int k)
{
    return k < c->node->nin && c->node->in[k] >= 0 ? in[k] : NULL;
}

axmul_status axmul__onnx_need_const(const axmul__onnx_ctx *c, const axmul__tensor *const *in, int k,
                                    const char *what)
{
    const axmul__tensor *t = axmul__onnx_in(c, in, k);
    if (!t || !(c->in_const >> k & 1) || !t->data)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "input %d (%s) must be a constant (an initializer, or computed "
                                "from constants and input shapes)",
                                k, what);
    return AXMUL_OK;
}

axmul_status axmul__onnx_need_float(const axmul__onnx_ctx *c, const axmul__tensor *t,
                                    const char *what)
{
    if (t->dt != AXMUL__DT_FLOAT)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "%s is %s (only float is supported)",
                                what, axmul__dt_name(t->dt));
    return AXMUL_OK;
}

axmul_status axmul__onnx_axis(const axmul__onnx_ctx *c, int64_t axis, int rank, const char *attr,
                              int *out)
{
    const int64_t r = rank > 0 ? rank : 1;
    if (axis < -r || axis >= r)
        return axmul__onnx_fail(c, AXMUL_ERR_INVALID_ARGUMENT,
                                "%s = %lld is out of range for rank %d", attr, (long long)axis,
                                rank);
    *out = (int)(axis < 0 ? axis + r : axis);
    return AXMUL_OK;
}

axmul_status axmul__onnx_broadcast(const axmul__onnx_ctx *c, const axmul__shape *a,
                                   const axmul__shape *b, axmul__shape *out)
{
    axmul__shape o;
    o.rank = a->rank > b->rank ? a->rank : b->rank;
    for (int k = 0; k < o.rank; k++) {
        const int ka = k - (o.rank - a->rank), kb = k - (o.rank - b->rank);
        const int64_t da = ka >= 0 ? a->d[ka] : 1, db = kb >= 0 ? b->d[kb] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "shapes %s and %s do not broadcast",
                                    axmul__shape_text(a, sa, sizeof sa),
                                    axmul__shape_text(b, sb, sizeof sb));
        }
        o.d[k] = da == 1 ? db : da;
    }
    *out = o;
    return AXMUL_OK;
}

void axmul__onnx_strides(const axmul__tensor *t, const axmul__shape *out, int64_t *st)
{
    int64_t own[AXMUL__ONNX_MAX_RANK];
    const axmul__shape *s = &t->sh;
    if (t->nhwc && s->rank == 4) { /* logical (N, C, H, W) stored N, H, W, C */
        own[1] = 1;
        own[3] = s->d[1];
        own[2] = s->d[3] * s->d[1];
        own[0] = s->d[2] * own[2];
    } else {
        int64_t m = 1;
        for (int k = s->rank - 1; k >= 0; k--) {
            own[k] = m;
            m *= s->d[k];
        }
    }
    for (int k = 0; k < out->rank; k++) {
        const int kt = k - (out->rank - s->rank);
        st[k] = kt < 0 || s->d[kt] == 1 ? 0 : own[kt];
    }
}

void axmul__onnx_storage_order(const axmul__tensor *t, int *order)
{
    for (int k = 0; k < t->sh.rank; k++)
        order[k] = k;
    if (t->nhwc && t->sh.rank == 4) {
        order[1] = 2;
        order[2] = 3;
        order[3] = 1;
    }
}

void axmul__onnx_set_real(axmul__tensor *o, int64_t k, double v)
{
    if (o->dt != AXMUL__DT_FLOAT && isnan(v))
        v = 0;
    switch (o->dt) {
    case AXMUL__DT_FLOAT:
        ((float *)o->data)[k] = (float)v;
        break;
    case AXMUL__DT_INT64:
        ((int64_t *)o->data)[k] = v >= 0x1p63 ? INT64_MAX : v < -0x1p63 ? INT64_MIN : (int64_t)v;
        break;
    case AXMUL__DT_INT32:
        ((int32_t *)o->data)[k] = v > INT32_MAX   ? INT32_MAX
                                  : v < INT32_MIN ? INT32_MIN
                                                  : (int32_t)v;
        break;
    case AXMUL__DT_INT8: /* (out-of-range values saturate rather than wrap) */
        ((int8_t *)o->data)[k] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
        break;
    case AXMUL__DT_UINT8:
        ((uint8_t *)o->data)[k] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
        break;
    case AXMUL__DT_BOOL:
        ((uint8_t *)o->data)[k] = v != 0;
        break;
    }
}

/* ---------------------------------------------------------------- strides, constants */

/* Row-major strides of s. */
void axmul__onnx_plain_strides(const axmul__shape *s, int64_t *st)
{
    int64_t m = 1;
    for (int k = s->rank - 1; k >= 0; k--) {
        st[k] = m;
        m *= s->d[k];
    }
}

/* out (plain) from in: element i of out, at index (i_0, ..., i_r-1), is in's element at
 * base + sum_k i_k * st[k]. */
void axmul__onnx_copy_strided(const axmul__tensor *in, int64_t base, const int64_t *st,
                              axmul__tensor *out)
{
    const size_t es = axmul__dt_size(out->dt);
    const int r = out->sh.rank;
    const int64_t total = axmul__shape_count(&out->sh);
    const uint8_t *src = in->data;
    uint8_t *dst = out->data;
    if (total == 0)
        return;
    if (r == 0) {
        memcpy(dst, src + base * (int64_t)es, es);
        return;
    }
    const int64_t len = out->sh.d[r - 1], inner = st[r - 1];
    int64_t idx[AXMUL__ONNX_MAX_RANK] = {0}, off = base;
    for (int64_t done = 0; done < total; done += len) {
        if (inner == 1)
            memcpy(dst + done * (int64_t)es, src + off * (int64_t)es, (size_t)len * es);
        else
            for (int64_t i = 0; i < len; i++)
                memcpy(dst + (done + i) * (int64_t)es, src + (off + i * inner) * (int64_t)es, es);
        for (int q = r - 2; q >= 0; q--) {
            off += st[q];
            if (++idx[q] < out->sh.d[q])
                break;
            off -= st[q] * out->sh.d[q];
            idx[q] = 0;
        }
    }
}

/* The ints of a constant 1-D integer input k (what), at most AXMUL__ONNX_MAX_RANK of them
 * unless big. */
axmul_status axmul__onnx_const_ints(const axmul__onnx_ctx *c, const axmul__tensor *const *in, int k,
                                    const char *what, int64_t *v, int *n, int max)
{
    axmul_status s = axmul__onnx_need_const(c, in, k, what);
    if (s != AXMUL_OK)
        return s;
    const axmul__tensor *t = in[k];
    const int64_t cnt = axmul__shape_count(&t->sh);
    if (t->dt == AXMUL__DT_FLOAT || t->sh.rank > 1 || cnt > max)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "input %s: a 1-D integer tensor of at most %d values expected",
                                what, max);
    for (int64_t i = 0; i < cnt; i++)
        v[i] = axmul__tensor_int(t, i);
    *n = (int)cnt;
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- windows */

static axmul_status pair_attr(const axmul__onnx_ctx *c, const char *name, int n, int dflt,
                              int64_t lo, int64_t *v)
{
    size_t cnt;
    const int64_t *a = axmul__onnx_attr_ints(c->node, name, &cnt);
    for (int k = 0; k < n; k++)
        v[k] = dflt;
    if (!a)
        return AXMUL_OK;
    if ((int)cnt != n)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "%s has %zu values (only 2-D windows are supported)", name, cnt);
    for (int k = 0; k < n; k++) {
        if (a[k] < lo || a[k] > 1 << 20)
            return axmul__onnx_fail(c, AXMUL_ERR_INVALID_ARGUMENT, "%s[%d] = %lld", name, k,
                                    (long long)a[k]);
        v[k] = a[k];
    }
    return AXMUL_OK;
}

axmul_status axmul__onnx_window_of(const axmul__onnx_ctx *c, int64_t h, int64_t w, int64_t kh,
                                   int64_t kw, int ceil_mode, axmul__onnx_window *win)
{
    int64_t st[2], dl[2], pd[4];
    axmul_status s;
    if ((s = pair_attr(c, "strides", 2, 1, 1, st)) ||
        (s = pair_attr(c, "dilations", 2, 1, 1, dl)) || (s = pair_attr(c, "pads", 4, 0, 0, pd)))
        return s;
    if (kh < 1 || kw < 1 || kh > 1 << 16 || kw > 1 << 16)
        return axmul__onnx_fail(c, AXMUL_ERR_INVALID_ARGUMENT, "kernel %lldx%lld", (long long)kh,
                                (long long)kw);
    const char *ap = axmul__onnx_attr_str(c->node, "auto_pad", "NOTSET");
    const int64_t in[2] = {h, w}, k[2] = {kh, kw};
    int64_t out[2];
    for (int a = 0; a < 2; a++) {
        const int64_t ek = (k[a] - 1) * dl[a] + 1;
        if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0)
            axmul__window_same(in[a], ek, st[a], ap[5] == 'L', &pd[a], &pd[a + 2]);
        else if (strcmp(ap, "VALID") == 0)
            pd[a] = pd[a + 2] = 0;
        else if (strcmp(ap, "NOTSET") != 0)
            return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "auto_pad = %s", ap);
        out[a] = axmul__window_out(in[a], ek, st[a], pd[a], pd[a + 2], ceil_mode);
        if (out[a] < 0)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE,
                                    "a %lldx%lld input is smaller than the window", (long long)h,
                                    (long long)w);
    }
    if (out[0] > 1 << 20 || out[1] > 1 << 20 || pd[0] >= ((k[0] - 1) * dl[0] + 1) + (1 << 20))
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "window too large");
    *win = (axmul__onnx_window){(int)kh,    (int)kw,    (int)st[0],  (int)st[1],
                                (int)dl[0], (int)dl[1], (int)pd[0],  (int)pd[2],
                                (int)pd[1], (int)pd[3], (int)out[0], (int)out[1]};
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- LUT layers */

axmul_status axmul__onnx_lut_ranges(const axmul__onnx_ctx *c, int b_activation,
                                    axmul__onnx_ranges *r)
{
    const axmul__node *n = c->node;
    const axmul_net_options *o = c->o;
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 1 + b_activation; k++) {
        axmul_range *dst = k ? &r->b : &r->a;
        int *set = k ? &r->b_set : &r->a_set;
        if (c->qdq[k]) {
            *dst = *c->qdq[k];
            *set = 1;
        } else if (o && o->batch_ranges) {
            *set = 0;
        } else if (n->has_range[k]) {
            *dst = n->range[k];
            *set = 1;
        } else
            return axmul__fail(AXMUL_ERR_RANGE,
                               "%s: node %s (%s) has no calibrated range for %s (run "
                               "'axconv-test calibrate', or use per-batch ranges)",
                               c->g->path, n->name, n->op, k ? "its second input" : "its input");
    }
    if (!b_activation) {
        if (c->qdq[1]) {
            r->b = *c->qdq[1];
            r->b_set = 1;
        }
        if (c->qdq_channels) {
            r->per_channel = 1;
            r->channels = c->qdq_channels;
            r->b_set = 0;
        } else if (!c->qdq[1])
            r->per_channel = o && o->per_channel;
    }
    return AXMUL_OK;
}

static axmul_status hist(const float *x, size_t n, axmul_range rg, int is_signed, const char *what,
                         uint64_t *h)
{
    axmul_qparams q;
    axmul_status s = axmul_qparams_from_range(rg, is_signed, what, &q);
    for (size_t i = 0; i < n && s == AXMUL_OK; i++)
        h[(uint8_t)axmul_quantize(x[i], &q)]++;
    return s;
}

axmul_status axmul__onnx_lut_histograms(const axmul__onnx_ctx *c, const axmul__onnx_ranges *r,
                                        const float *a, size_t na, const float *w, size_t rows,
                                        size_t cols)
{
    const axmul_net_options *o = c->o;
    if (!o || !o->act_hist || !o->wt_hist)
        return AXMUL_OK;
    const int sg = axmul_table_is_signed(c->table);
    uint64_t *ah = o->act_hist + 256 * (size_t)c->index, *wh = o->wt_hist + 256 * (size_t)c->index;
    axmul_range rg = r->a;
    axmul_status s;
    if (!r->a_set && (s = axmul_range_of(a, na, c->node->name, &rg)) != AXMUL_OK)
        return s;
    if ((s = hist(a, na, rg, sg, c->node->name, ah)) != AXMUL_OK)
        return s;
    if (!r->per_channel) {
        rg = r->b;
        if (!r->b_set && (s = axmul_range_of(w, rows * cols, c->node->name, &rg)) != AXMUL_OK)
            return s;
        return hist(w, rows * cols, rg, sg, c->node->name, wh);
    }
    for (size_t ch = 0; ch < cols; ch++) {
        axmul_range cr =
            r->channels ? r->channels[ch] : axmul__channel_range(w, rows, (int)cols, (int)ch);
        axmul_qparams q;
        if ((s = axmul_qparams_from_range(cr, sg, c->node->name, &q)) != AXMUL_OK)
            return s;
        for (size_t i = 0; i < rows; i++)
            wh[(uint8_t)axmul_quantize(w[i * cols + ch], &q)]++;
    }
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- integer layers */

int32_t axmul__onnx_code(const axmul__tensor *t, int64_t k)
{
    return t->dt == AXMUL__DT_INT8 ? ((const int8_t *)t->data)[k] : ((const uint8_t *)t->data)[k];
}

int32_t axmul__onnx_zero_point(const axmul__tensor *z, int64_t k)
{
    if (!z)
        return 0;
    return (int32_t)axmul__tensor_int(z, axmul__shape_count(&z->sh) > 1 ? k : 0);
}
