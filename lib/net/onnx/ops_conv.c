/* axmul: ONNX's convolutions. Conv (2-D: pads, auto_pad, strides, dilations, group, bias) runs
 * on the engine in NHWC: the LUT convolution of axmul_conv2d where the node has a table, else the
 * float convolution of the model.json layers (im2col + SGEMM); its OIHW weights are laid out
 * HWIO once per plan. ConvInteger and QLinearConv, whose operands are codes already, run a
 * direct loop with exact 64-bit sums, through the table where one is given (its signedness must
 * be the codes'), with padded taps holding the input zero point as in the engine. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/engine/engine.h"
#include "lib/net/onnx/ops.h"

/* The geometry of a Conv-like node: input (N, C, H, W), weights (M, C / group, kh, kw). xi, wi:
 * the inputs holding them (0, 1 for Conv and ConvInteger; 0, 3 for QLinearConv). */
typedef struct {
    int64_t n, c, h, w, m, group;
    axmul__onnx_window win;
} conv_geom;

static axmul_status conv_geometry(const axmul__onnx_ctx *c, const axmul__tensor *x,
                                  const axmul__tensor *w, conv_geom *g)
{
    if (!x || !w || x->sh.rank != 4 || w->sh.rank != 4)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "input and weights of rank %d and %d (only 2-D convolutions)",
                                x ? x->sh.rank : 0, w ? w->sh.rank : 0);
    g->n = x->sh.d[0];
    g->c = x->sh.d[1];
    g->h = x->sh.d[2];
    g->w = x->sh.d[3];
    g->m = w->sh.d[0];
    g->group = axmul__onnx_attr_int(c->node, "group", 1);
    if (g->group < 1 || g->c % g->group || g->m % g->group || w->sh.d[1] != g->c / g->group)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE,
                                "weights %lldx%lldx%lldx%lld for %lld input channels in %lld "
                                "groups",
                                (long long)w->sh.d[0], (long long)w->sh.d[1],
                                (long long)w->sh.d[2], (long long)w->sh.d[3], (long long)g->c,
                                (long long)g->group);
    size_t nk;
    const int64_t *k = axmul__onnx_attr_ints(c->node, "kernel_shape", &nk);
    if (k && (nk != 2 || k[0] != w->sh.d[2] || k[1] != w->sh.d[3]))
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "kernel_shape differs from the weights");
    if (g->n > INT32_MAX || g->c > INT32_MAX || g->h > INT32_MAX || g->w > INT32_MAX ||
        g->m > INT32_MAX)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "dimensions beyond 2^31");
    return axmul__onnx_window_of(c, g->h, g->w, w->sh.d[2], w->sh.d[3], 0, &g->win);
}

/* ---------------------------------------------------------------- Conv */

static axmul_status conv_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    conv_geom g;
    axmul_status s;
    if ((s = conv_geometry(c, in[0], axmul__onnx_in(c, in, 1), &g)) ||
        (s = axmul__onnx_need_float(c, in[0], "the input")) ||
        (s = axmul__onnx_need_float(c, in[1], "the weights")))
        return s;
    const axmul__tensor *b = axmul__onnx_in(c, in, 2);
    if (b && (b->dt != AXMUL__DT_FLOAT || axmul__shape_count(&b->sh) != g.m))
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "the bias must be %lld floats",
                                (long long)g.m);
    out->dt = AXMUL__DT_FLOAT;
    out->sh = (axmul__shape){4, {g.n, g.m, g.win.oh, g.win.ow}};
    out->nhwc = 1;
    return AXMUL_OK;
}

/* OIHW (ONNX) weights as HWIO (the engine's). */
static void to_hwio(const float *w, int64_t m, int64_t ci, int64_t kh, int64_t kw, float *o)
{
    for (int64_t a = 0; a < m; a++)
        for (int64_t b = 0; b < ci; b++)
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++)
                    o[((i * kw + j) * ci + b) * m + a] = w[((a * ci + b) * kh + i) * kw + j];
}

/* The HWIO weights: prepared once for constant weights (the step's state), else into *tmp. */
static axmul_status hwio_weights(const axmul__onnx_ctx *c, const axmul__tensor *w, float **tmp,
                                 const float **out)
{
    const int64_t nw = axmul__shape_count(&w->sh);
    const int cached = (c->in_const >> 1 & 1) && c->state;
    float *p = cached ? *c->state : NULL;
    *tmp = NULL;
    if (!p) {
        if (!(p = malloc(sizeof *p * (size_t)(nw ? nw : 1))))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        to_hwio(w->data, w->sh.d[0], w->sh.d[1], w->sh.d[2], w->sh.d[3], p);
        if (cached)
            *c->state = p;
        else
            *tmp = p;
    }
    *out = p;
    return AXMUL_OK;
}

static axmul_status conv_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    conv_geom g;
    conv_geometry(c, in[0], in[1], &g);
    const axmul__tensor *b = axmul__onnx_in(c, in, 2);
    float *tmp = NULL;
    const float *w = NULL;
    axmul_status s = hwio_weights(c, in[1], &tmp, &w);
    if (s != AXMUL_OK)
        return s;
    axmul_conv_desc d;
    axmul_conv_desc_init(&d);
    d.n = (int)g.n;
    d.h = (int)g.h;
    d.w = (int)g.w;
    d.c = (int)g.c;
    d.kh = g.win.kh;
    d.kw = g.win.kw;
    d.co = (int)g.m;
    d.stride_h = g.win.sh;
    d.stride_w = g.win.sw;
    d.dilation_h = g.win.dh;
    d.dilation_w = g.win.dw;
    d.padding = AXMUL_PADDING_EXPLICIT;
    d.pad_top = g.win.pt;
    d.pad_bottom = g.win.pb;
    d.pad_left = g.win.pl;
    d.pad_right = g.win.pr;
    d.groups = (int)g.group;
    d.bias = b ? b->data : NULL;
    d.input_name = c->node->name;
    d.filter_name = c->node->name;
    const float *x = in[0]->data;
    if (c->table) {
        axmul__onnx_ranges r;
        const size_t nx = (size_t)axmul__shape_count(&in[0]->sh);
        if ((s = axmul__onnx_lut_ranges(c, 0, &r)) ||
            (s = axmul__onnx_lut_histograms(c, &r, x, nx, w,
                                            (size_t)(axmul__shape_count(&in[1]->sh) / g.m),
                                            (size_t)g.m))) {
            free(tmp);
            return s;
        }
        d.input_range_set = r.a_set;
        d.input_range = r.a;
        d.filter_range_set = r.b_set;
        d.filter_range = r.b;
        d.per_channel = r.per_channel;
        d.channel_ranges = r.channels;
        d.backend = c->o ? c->o->backend : AXMUL_BACKEND_AUTO;
        d.threads = c->o ? c->o->threads : 0;
        s = axmul_conv2d(&d, c->table, x, w, out->data, NULL);
        free(tmp);
        return s;
    }
    axmul__conv_plan p;
    if ((s = axmul__conv_geometry(&d, &p, NULL)) != AXMUL_OK) {
        free(tmp);
        return axmul__onnx_fail(c, s, "%s", axmul_error_detail());
    }
    const size_t ncol = (size_t)p.oh * p.ow * d.kh * d.kw * (size_t)(d.c / d.groups);
    void *own;
    float *col = axmul__onnx_scratch(c, sizeof *col * (ncol ? ncol : 1), &own);
    if (!col) {
        free(tmp);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    axmul__conv_float(&p, x, w, out->data, col);
    axmul__add_channel_bias(out->data, (size_t)g.n * p.oh * p.ow, d.co, d.bias, c->nt);
    free(own);
    free(tmp);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Conv = {"Conv", AXMUL__LAYOUT_NHWC, conv_shape, conv_run};

/* ---------------------------------------------------------------- integer convolutions */

axmul_status axmul__onnx_table_codes(const axmul__onnx_ctx *c, axmul__dtype a, axmul__dtype b)
{
    if (!c->table)
        return AXMUL_OK;
    const int sg = axmul_table_is_signed(c->table);
    const axmul__dtype want = sg ? AXMUL__DT_INT8 : AXMUL__DT_UINT8;
    if (a != want || b != want)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "codes of types %s x %s with a%s table (%s x %s needed)",
                                axmul__dt_name(a), axmul__dt_name(b), sg ? " signed" : "n unsigned",
                                axmul__dt_name(want), axmul__dt_name(want));
    return AXMUL_OK;
}

int64_t axmul__onnx_code_product(const axmul_table *t, int32_t a, int32_t b, int32_t za,
                                 int32_t zb)
{
    if (!t)
        return (int64_t)(a - za) * (b - zb);
    return (int64_t)axmul_table_product(t, (uint8_t)a, (uint8_t)b) - (int64_t)zb * a -
           (int64_t)za * b + (int64_t)za * zb;
}

/* acc[n][m][oy][ox] = sum over taps of the corrected products of the codes of x and w, padded
 * taps holding x's zero point. */
static void int_conv(const axmul__onnx_ctx *c, const conv_geom *g, const axmul__tensor *x,
                     const axmul__tensor *zx, const axmul__tensor *w, const axmul__tensor *zw,
                     int64_t *acc)
{
    const axmul__onnx_window *v = &g->win;
    const int64_t cin = g->c / g->group, mg = g->m / g->group;
    const int32_t za = axmul__onnx_zero_point(zx, 0);
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t m = 0; m < g->m; m++) {
            const int64_t gi = m / mg;
            const int32_t zb = axmul__onnx_zero_point(zw, m);
            for (int oy = 0; oy < v->oh; oy++)
                for (int ox = 0; ox < v->ow; ox++) {
                    int64_t s = 0;
                    for (int64_t ci = 0; ci < cin; ci++)
                        for (int i = 0; i < v->kh; i++)
                            for (int j = 0; j < v->kw; j++) {
                                const int iy = oy * v->sh - v->pt + i * v->dh;
                                const int ix = ox * v->sw - v->pl + j * v->dw;
                                const int32_t wb = axmul__onnx_code(w, ((m * cin + ci) * v->kh + i) * v->kw + j);
                                const int32_t xa =
                                    iy < 0 || iy >= g->h || ix < 0 || ix >= g->w
                                        ? za
                                        : axmul__onnx_code(x, ((n * g->c + gi * cin + ci) * g->h + iy) * g->w + ix);
                                s += axmul__onnx_code_product(c->table, xa, wb, za, zb);
                            }
                    acc[((n * g->m + m) * v->oh + oy) * v->ow + ox] = s;
                }
        }
}

static axmul_status int_conv_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                   axmul__tensor *out, int xi, int wi)
{
    conv_geom g;
    const axmul__tensor *x = axmul__onnx_in(c, in, xi), *w = axmul__onnx_in(c, in, wi);
    axmul_status s = conv_geometry(c, x, w, &g);
    if (s != AXMUL_OK)
        return s;
    if ((x->dt != AXMUL__DT_UINT8 && x->dt != AXMUL__DT_INT8) ||
        (w->dt != AXMUL__DT_UINT8 && w->dt != AXMUL__DT_INT8))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "codes of types %s and %s",
                                axmul__dt_name(x->dt), axmul__dt_name(w->dt));
    out->sh = (axmul__shape){4, {g.n, g.m, g.win.oh, g.win.ow}};
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status convint_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                  axmul__tensor *out)
{
    out->dt = AXMUL__DT_INT32;
    return int_conv_shape(c, in, out, 0, 1);
}

static axmul_status convint_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    conv_geom g;
    conv_geometry(c, in[0], in[1], &g);
    axmul_status s = axmul__onnx_table_codes(c, in[0]->dt, in[1]->dt);
    if (s != AXMUL_OK)
        return s;
    const int64_t n = axmul__shape_count(&out->sh);
    int64_t *acc = malloc(sizeof *acc * (size_t)(n ? n : 1));
    if (!acc)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    int_conv(c, &g, in[0], axmul__onnx_in(c, in, 2), in[1], axmul__onnx_in(c, in, 3), acc);
    for (int64_t k = 0; k < n; k++)
        ((int32_t *)out->data)[k] = (int32_t)acc[k]; /* (ONNX's int32: wraps as it would) */
    free(acc);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_ConvInteger = {"ConvInteger", AXMUL__LAYOUT_PLAIN, convint_shape,
                                                convint_run};

/* QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B. */
static axmul_status qlconv_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    if (c->node->nin < 8)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "%d inputs (8 or 9 expected)", c->node->nin);
    for (int k = 1; k < 8; k++)
        if (!axmul__onnx_in(c, in, k))
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "input %d is missing", k);
    if (in[1]->dt != AXMUL__DT_FLOAT || in[4]->dt != AXMUL__DT_FLOAT ||
        in[6]->dt != AXMUL__DT_FLOAT)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "scales must be float");
    out->dt = in[7]->dt;
    if (out->dt != AXMUL__DT_UINT8 && out->dt != AXMUL__DT_INT8)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "output codes of type %s",
                                axmul__dt_name(out->dt));
    return int_conv_shape(c, in, out, 0, 3);
}

static axmul_status qlconv_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    conv_geom g;
    conv_geometry(c, in[0], in[3], &g);
    axmul_status s = axmul__onnx_table_codes(c, in[0]->dt, in[3]->dt);
    if (s != AXMUL_OK)
        return s;
    const int64_t n = axmul__shape_count(&out->sh), per = (int64_t)g.win.oh * g.win.ow;
    int64_t *acc = malloc(sizeof *acc * (size_t)(n ? n : 1));
    if (!acc)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    int_conv(c, &g, in[0], in[2], in[3], in[5], acc);
    const axmul__tensor *b = axmul__onnx_in(c, in, 8);
    const float xs = *(const float *)in[1]->data, ys = *(const float *)in[6]->data;
    const int32_t yz = axmul__onnx_zero_point(in[7], 0);
    const int64_t nws = axmul__shape_count(&in[4]->sh);
    const int lo = out->dt == AXMUL__DT_UINT8 ? 0 : -128, hi = out->dt == AXMUL__DT_UINT8 ? 255 : 127;
    for (int64_t k = 0; k < n; k++) {
        const int64_t m = (k / per) % g.m;
        const float ws = ((const float *)in[4]->data)[nws > 1 ? m : 0];
        const float mult = xs * ws / ys; /* float32, then the int sum times it in double */
        const int64_t a = acc[k] + (b ? axmul__tensor_int(b, m) : 0);
        double q = nearbyint((double)a * mult) + yz;
        q = q < lo ? lo : q > hi ? hi : q;
        axmul__onnx_set_real(out, k, q);
    }
    free(acc);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_QLinearConv = {"QLinearConv", AXMUL__LAYOUT_PLAIN, qlconv_shape,
                                                qlconv_run};
