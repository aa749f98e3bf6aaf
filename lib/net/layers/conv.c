/* axmul: the layers with weights, conv2d (and depthwise, its alias) and dense: model.json fields,
 * shapes, and their forward passes, the LUT layer of the engine (axmul_conv2d) where a table is
 * given and im2col + SGEMM in float elsewhere, and backward passes for training. */
#include "config.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "axmul_npy.h"
#include "lib/core/internal.h"
#include "lib/net/model_io.h"
#include "lib/net/net.h"

/* ---------------------------------------------------------------- model.json */

static axmul_status conv_parse(const axmul__parse *ps, json_t *jl, const char *type,
                               axmul__layer *l)
{
    const char *path = ps->path;
    const int i = ps->index;
    int k[2], st[2], dl[2];
    axmul_status s;
    if ((s = axmul__json_ints(json_object_get(jl, "kernel_size"), k, 2, -1, "kernel_size", path,
                              i)) ||
        (s = axmul__json_ints(json_object_get(jl, "strides"), st, 2, 1, "strides", path, i)) ||
        (s = axmul__json_ints(json_object_get(jl, "dilation"), dl, 2, 1, "dilation", path, i)))
        return s;
    if (k[0] < 1 || k[1] < 1)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"kernel_size\" missing or < 1", path,
                           i);
    l->kh = k[0];
    l->kw = k[1];
    l->sh = st[0];
    l->sw = st[1];
    l->dh = dl[0];
    l->dw = dl[1];
    json_t *g = json_object_get(jl, "groups");
    if (g && (!json_is_integer(g) || json_integer_value(g) < 1 || json_integer_value(g) > 1 << 20))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"groups\" must be >= 1", path, i);
    l->groups = g ? (int)json_integer_value(g) : 1;
    if (strcmp(type, "depthwise") == 0) /* groups = input channels: set by conv_resolve */
        l->groups = -1;
    json_t *f = json_object_get(jl, "filters");
    if (!json_is_integer(f) || json_integer_value(f) < 1 || json_integer_value(f) > 1 << 20)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"filters\" must be an integer >= 1",
                           path, i);
    l->units = (int)json_integer_value(f);
    json_t *p = json_object_get(jl, "padding");
    const char *pstr = json_string_value(p);
    if (!p || (pstr && strcmp(pstr, "valid") == 0))
        l->padding = AXMUL_PADDING_VALID;
    else if (pstr && strcmp(pstr, "same") == 0)
        l->padding = AXMUL_PADDING_SAME;
    else if (json_is_array(p)) {
        if ((s = axmul__json_ints(p, l->pad, 4, 0, "padding", path, i)))
            return s;
        l->padding = AXMUL_PADDING_EXPLICIT;
    } else
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d: \"padding\" must be \"same\", \"valid\" or [t, b, l, r]",
                           path, i);
    return AXMUL_OK;
}

static axmul_status dense_parse(const axmul__parse *ps, json_t *jl, const char *type,
                                axmul__layer *l)
{
    (void)type;
    json_t *u = json_object_get(jl, "units");
    if (!json_is_integer(u) || json_integer_value(u) < 1 || json_integer_value(u) > 1 << 24)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"units\" must be an integer >= 1",
                           ps->path, ps->index);
    l->units = (int)json_integer_value(u);
    return AXMUL_OK;
}

static axmul_status conv_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    const axmul__layer *l = &m->L[i];
    (void)dir;
    json_object_set_new(jl, "filters", json_integer(l->units));
    json_object_set_new(jl, "kernel_size", json_pack("[i, i]", l->kh, l->kw));
    json_object_set_new(jl, "strides", json_pack("[i, i]", l->sh, l->sw));
    json_object_set_new(jl, "dilation", json_pack("[i, i]", l->dh, l->dw));
    json_object_set_new(jl, "groups", json_integer(l->groups));
    if (l->padding == AXMUL_PADDING_EXPLICIT)
        json_object_set_new(jl, "padding",
                            json_pack("[i, i, i, i]", l->pad[0], l->pad[1], l->pad[2], l->pad[3]));
    else
        json_object_set_new(jl, "padding",
                            json_string(l->padding == AXMUL_PADDING_SAME ? "same" : "valid"));
    return AXMUL_OK;
}

static axmul_status dense_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    (void)dir;
    json_object_set_new(jl, "units", json_integer(m->L[i].units));
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- shapes */

static axmul_status conv_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    const int h = l->ih, w = l->iw, c = l->ic;
    if (l->groups == -1) /* depthwise: one group per input channel */
        l->groups = c;
    axmul_conv_desc d;
    axmul__layer_conv_desc(l, 1, h, w, c, &d);
    if (axmul__conv_geometry(&d, &l->plan, NULL) != AXMUL_OK) {
        char why[512]; /* the detail buffer is about to be rewritten */
        snprintf(why, sizeof why, "%s", axmul_error_detail());
        return axmul__fail(AXMUL_ERR_SHAPE, "%s: layer %d (%s) on a %dx%dx%d input: %s", path, i,
                           l->name, h, w, c, why);
    }
    const size_t want = (size_t)l->kh * l->kw * (size_t)(c / l->groups) * l->units;
    if (l->nw != want)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: layer %d (%s): %s has %zu elements, the layer needs "
                           "(%d, %d, %d, %d) = %zu",
                           path, i, l->name, l->wfile, l->nw, l->kh, l->kw, c / l->groups, l->units,
                           want);
    l->oh = l->plan.oh;
    l->ow = l->plan.ow;
    l->oc = l->units;
    return AXMUL_OK;
}

static axmul_status dense_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    const int h = l->ih, w = l->iw, c = l->ic;
    if (h != 1 || w != 1)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: layer %d (%s): dense needs a flat input, got %dx%dx%d "
                           "(add a flatten layer)",
                           path, i, l->name, h, w, c);
    if (l->nw != (size_t)c * l->units)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: layer %d (%s): %s has %zu elements, the layer needs "
                           "(%d, %d) = %zu",
                           path, i, l->name, l->wfile, l->nw, c, l->units, (size_t)c * l->units);
    l->oh = l->ow = 1;
    l->oc = l->units;
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- forward */

static void hist_codes(const float *x, size_t n, const axmul_qparams *q, uint64_t *h)
{
    for (size_t i = 0; i < n; i++)
        h[(uint8_t)axmul_quantize(x[i], q)]++;
}

/* Histograms of the operand codes an approximated layer feeds into the table. */
static axmul_status layer_histograms(const axmul__layer *l, const axmul_conv_desc *d,
                                     const float *x, size_t nx, int is_signed, uint64_t *ah,
                                     uint64_t *wh)
{
    axmul_range r = d->input_range;
    axmul_status s;
    if (!d->input_range_set && (s = axmul_range_of(x, nx, l->name, &r)) != AXMUL_OK)
        return s;
    axmul_qparams q;
    if ((s = axmul_qparams_from_range(r, is_signed, l->name, &q)) != AXMUL_OK)
        return s;
    hist_codes(x, nx, &q, ah);
    if (!d->per_channel) {
        axmul_range wr;
        if ((s = axmul_range_of(l->w, l->nw, l->wfile, &wr)) != AXMUL_OK ||
            (s = axmul_qparams_from_range(wr, is_signed, l->name, &q)) != AXMUL_OK)
            return s;
        hist_codes(l->w, l->nw, &q, wh);
    } else {
        size_t per = l->nw / (size_t)l->units;
        for (int o = 0; o < l->units; o++) {
            axmul_range wr = axmul__channel_range(l->w, per, l->units, o);
            if ((s = axmul_qparams_from_range(wr, is_signed, l->name, &q)) != AXMUL_OK)
                return s;
            for (size_t i = 0; i < per; i++)
                wh[(uint8_t)axmul_quantize(l->w[i * l->units + o], &q)]++;
        }
    }
    return AXMUL_OK;
}

/* The LUT layer: in inference with the options' ranges (calibrated or per batch), in training
 * with per-batch ranges (those of the approximate network that the training changes:
 * calibrated ranges of the old weights would clip it). */
static axmul_status lut_forward(const axmul__fwd *f, const axmul__layer *l, const float *a,
                                float *y)
{
    const size_t nin = (size_t)f->n * l->ih * l->iw * l->ic;
    axmul_conv_desc d;
    axmul__layer_conv_desc(l, f->n, l->ih, l->iw, l->ic, &d);
    d.input_name = l->name;
    d.filter_name = l->wfile;
    d.bias = l->b; /* added by the engine as it writes the outputs */
    axmul_status s;
    if (f->to) {
        d.per_channel = f->to->per_channel;
        d.backend = AXMUL_BACKEND_AUTO;
        d.threads = f->to->threads;
    } else {
        const axmul_net_options *o = f->o;
        d.per_channel = o->per_channel;
        d.backend = o->backend;
        d.threads = o->threads;
        if (!o->batch_ranges) {
            if (!l->has_range)
                return axmul__fail(AXMUL_ERR_RANGE,
                                   "layer %s has no calibrated input range (run "
                                   "'axconv-test calibrate', or use per-batch ranges)",
                                   l->name);
            d.input_range_set = 1;
            d.input_range = l->in_range;
        }
        if (o->act_hist && (s = layer_histograms(l, &d, a, nin, axmul_table_is_signed(f->table),
                                                 o->act_hist + 256 * (size_t)f->i,
                                                 o->wt_hist + 256 * (size_t)f->i)) != AXMUL_OK)
            return s;
    }
    return axmul_conv2d(&d, f->table, a, l->w, y, NULL);
}

static axmul_status conv_forward(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                                 float *y)
{
    const float *a = in[0];
    const int n = f->n;
    const size_t P = (size_t)l->oh * l->ow, K = (size_t)l->kh * l->kw * l->ic;
    if (f->table)
        return lut_forward(f, l, a, y);
    if (f->to && axmul__layer_batched_im2col(l)) {
        /* training's simple convolutions: one SGEMM over the whole batch */
        for (int r = 0; r < n; r++)
            axmul__im2col(&l->plan, a + (size_t)r * l->ih * l->iw * l->ic, 0, f->col + r * P * K);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(n * P), l->units, (int)K, 1.0f,
                    f->col, (int)K, l->w, l->units, 0.0f, y, l->units);
    } else {
        axmul__conv_plan p = l->plan;
        p.n = n;
        axmul__conv_float(&p, a, l->w, y, f->col);
    }
    axmul__add_channel_bias(y, (size_t)n * P, l->units, l->b, f->nt);
    return AXMUL_OK;
}

static axmul_status dense_forward(const axmul__fwd *f, const axmul__layer *l,
                                  const float *const *in, float *y)
{
    if (f->table)
        return lut_forward(f, l, in[0], y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, f->n, l->units, l->ic, 1.0f, in[0],
                l->ic, l->w, l->units, 0.0f, y, l->units);
    axmul__add_channel_bias(y, (size_t)f->n, l->units, l->b, f->nt);
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- backward */

static void conv_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                          const float *y, const float *g, float *const *dx_in)
{
    const float *a = in[0];
    float *dx = dx_in[0];
    const int nb = b->n;
    const size_t P = (size_t)l->oh * l->ow, K = (size_t)l->kh * l->kw * l->ic;
    const size_t in_img = (size_t)l->ih * l->iw * l->ic;
    (void)y;
    memset(b->bg, 0, sizeof(float) * (size_t)l->units);
    for (size_t p = 0; p < (size_t)nb * P; p++)
        for (int c = 0; c < l->units; c++)
            b->bg[c] += g[p * l->units + c];
    if (axmul__layer_batched_im2col(l)) {
        for (int r = 0; r < nb; r++) /* the forward's columns were overwritten since */
            axmul__im2col(&l->plan, a + (size_t)r * in_img, 0, b->col + (size_t)r * P * K);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, l->units, (int)(nb * P), 1.0f,
                    b->col, (int)K, g, l->units, 0.0f, b->wg, l->units);
        if (!dx)
            return;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nb * P), (int)K, l->units, 1.0f,
                    g, l->units, l->w, l->units, 0.0f, b->dcol, (int)K);
        for (int r = 0; r < nb; r++)
            axmul__col2im_add(&l->plan, b->dcol + (size_t)r * P * K, 0, dx + (size_t)r * in_img);
        return;
    }
    /* groups, strides, dilations: image by image, group by group (group g reads input channels
     * g*cin.. and writes output channels g*cout..) */
    memset(b->wg, 0, sizeof(float) * l->nw);
    const int cin = l->ic / l->groups, cout = l->units / l->groups;
    const int Kg = l->kh * l->kw * cin;
    for (int r = 0; r < nb; r++)
        for (int gi = 0; gi < l->groups; gi++) {
            const float *gr = g + (size_t)r * P * l->units + (size_t)gi * cout;
            axmul__im2col(&l->plan, a + (size_t)r * in_img, gi, b->col);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kg, cout, (int)P, 1.0f, b->col, Kg,
                        gr, l->units, 1.0f, b->wg + (size_t)gi * cout, l->units);
            if (!dx)
                continue;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, Kg, cout, 1.0f, gr,
                        l->units, l->w + (size_t)gi * cout, l->units, 0.0f, b->dcol, Kg);
            axmul__col2im_add(&l->plan, b->dcol, gi, dx + (size_t)r * in_img);
        }
}

static void dense_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                           const float *y, const float *g, float *const *dx)
{
    const int nb = b->n;
    (void)y;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->ic, l->units, nb, 1.0f, in[0], l->ic, g,
                l->units, 0.0f, b->wg, l->units);
    memset(b->bg, 0, sizeof(float) * (size_t)l->units);
    for (int r = 0; r < nb; r++)
        for (int c = 0; c < l->units; c++)
            b->bg[c] += g[(size_t)r * l->units + c];
    if (dx[0])
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, l->ic, l->units, 1.0f, g, l->units,
                    l->w, l->units, 1.0f, dx[0], l->ic);
}

/* clang-format off */
const axmul__layer_ops axmul__layer_conv2d = {
    .type = "conv2d", .alias = "depthwise", .params = 1, .parse = conv_parse,
    .resolve = conv_resolve, .save = conv_save, .forward = conv_forward, .backward = conv_backward,
    .keys = "filters kernel_size strides padding dilation groups"};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_dense = {
    .type = "dense", .params = 1, .parse = dense_parse, .resolve = dense_resolve,
    .save = dense_save, .forward = dense_forward, .backward = dense_backward, .keys = "units"};
/* clang-format on */
