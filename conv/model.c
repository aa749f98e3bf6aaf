/* axmul: model directories: model.json (parsed with jansson) + one .npy per tensor. The format
 * is described in doc/models.md. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "axmul_npy.h"
#include "conv/net_internal.h"
#include "internal.h"
#include "lib/rng.h"

void axmul_model_free(axmul_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nl; i++) {
        free(m->L[i].w);
        free(m->L[i].b);
        for (int k = 0; k < 4; k++)
            free(m->L[i].bn[k]);
    }
    free(m->L);
    free(m);
}

static const char *kind_name(axmul__layer_kind k)
{
    static const char *const names[] = {"conv2d", "dense",         "avgpool",       "maxpool",
                                        "relu",   "flatten",       "softmax",       "batchnorm",
                                        "relu6",  "globalavgpool", "globalmaxpool", "add"};
    return names[k];
}

int axmul_model_num_layers(const axmul_model *m)
{
    return m->nl;
}

const char *axmul_model_layer_type(const axmul_model *m, int i)
{
    return kind_name(m->L[i].kind);
}

const char *axmul_model_layer_name(const axmul_model *m, int i)
{
    return m->L[i].name;
}

void axmul_model_input_shape(const axmul_model *m, int *h, int *w, int *c)
{
    *h = m->in_h;
    *w = m->in_w;
    *c = m->in_c;
}

size_t axmul_model_layer_output_size(const axmul_model *m, int i)
{
    return (size_t)m->L[i].oh * m->L[i].ow * m->L[i].oc;
}

void axmul_model_layer_output_shape(const axmul_model *m, int i, int *h, int *w, int *c)
{
    *h = m->L[i].oh;
    *w = m->L[i].ow;
    *c = m->L[i].oc;
}

int axmul_model_classes(const axmul_model *m)
{
    const axmul__layer *l = &m->L[m->nl - 1];
    return l->oh * l->ow * l->oc;
}

int axmul_model_calibrated(const axmul_model *m)
{
    for (int i = 0; i < m->nl; i++)
        if ((m->L[i].kind == AXMUL__L_CONV || m->L[i].kind == AXMUL__L_DENSE) && !m->L[i].has_range)
            return 0;
    return 1;
}

size_t axmul__model_max_act(const axmul_model *m)
{
    size_t mx = (size_t)m->in_h * m->in_w * m->in_c;
    for (int i = 0; i < m->nl; i++) {
        size_t s = (size_t)m->L[i].oh * m->L[i].ow * m->L[i].oc;
        mx = s > mx ? s : mx;
    }
    return mx;
}

void axmul__layer_conv_desc(const axmul__layer *l, int n, int h, int w, int c, axmul_conv_desc *d)
{
    const int conv = l->kind == AXMUL__L_CONV;
    axmul_conv_desc_init(d);
    d->n = n;
    d->h = h;
    d->w = w;
    d->c = c;
    d->kh = conv ? l->kh : 1;
    d->kw = conv ? l->kw : 1;
    d->co = l->units;
    d->stride_h = l->sh;
    d->stride_w = l->sw;
    d->dilation_h = l->dh;
    d->dilation_w = l->dw;
    d->padding = conv ? l->padding : AXMUL_PADDING_VALID;
    d->pad_top = l->pad[0];
    d->pad_bottom = l->pad[1];
    d->pad_left = l->pad[2];
    d->pad_right = l->pad[3];
    d->groups = conv ? l->groups : 1;
}

axmul_status axmul__model_resolve(axmul_model *m, const char *name)
{
    int h = m->in_h, w = m->in_w, c = m->in_c;
    if (h < 1 || w < 1 || c < 1 || h > 65536 || w > 65536 || c > 65536)
        return axmul__fail(AXMUL_ERR_SHAPE, "%s: input shape %dx%dx%d is invalid", name, h, w, c);
    if (m->nl < 1)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: the model has no layers", name);
    for (int i = 0; i < m->nl; i++) {
        axmul__layer *l = &m->L[i];
        if (l->src) {
            const axmul__layer *p = &m->L[l->src - 1];
            h = p->oh;
            w = p->ow;
            c = p->oc;
        }
        if (l->kind == AXMUL__L_ADD) {
            const axmul__layer *p = &m->L[l->add[0]], *q = &m->L[l->add[1]];
            if (p->oh != q->oh || p->ow != q->ow || p->oc != q->oc)
                return axmul__fail(
                    AXMUL_ERR_SHAPE, "%s: layer %d (%s) adds %s (%dx%dx%d) and %s (%dx%dx%d)", name,
                    i, l->name, p->name, p->oh, p->ow, p->oc, q->name, q->oh, q->ow, q->oc);
            h = p->oh;
            w = p->ow;
            c = p->oc;
        }
        l->ih = h;
        l->iw = w;
        l->ic = c;
        switch (l->kind) {
        case AXMUL__L_CONV: {
            if (l->groups == -1) /* depthwise: one group per input channel */
                l->groups = c;
            axmul_conv_desc d;
            axmul__layer_conv_desc(l, 1, h, w, c, &d);
            int oh, ow;
            if (axmul_conv_output_shape(&d, &oh, &ow) != AXMUL_OK) {
                char why[512]; /* the detail buffer is about to be rewritten */
                snprintf(why, sizeof why, "%s", axmul_error_detail());
                return axmul__fail(AXMUL_ERR_SHAPE, "%s: layer %d (%s) on a %dx%dx%d input: %s",
                                   name, i, l->name, h, w, c, why);
            }
            size_t want = (size_t)l->kh * l->kw * (size_t)(c / l->groups) * l->units;
            if (l->nw != want)
                return axmul__fail(AXMUL_ERR_SHAPE,
                                   "%s: layer %d (%s): %s has %zu elements, the layer needs "
                                   "(%d, %d, %d, %d) = %zu",
                                   name, i, l->name, l->wfile, l->nw, l->kh, l->kw, c / l->groups,
                                   l->units, want);
            h = oh;
            w = ow;
            c = l->units;
            break;
        }
        case AXMUL__L_DENSE:
            if (h != 1 || w != 1)
                return axmul__fail(AXMUL_ERR_SHAPE,
                                   "%s: layer %d (%s): dense needs a flat input, got %dx%dx%d "
                                   "(add a flatten layer)",
                                   name, i, l->name, h, w, c);
            if (l->nw != (size_t)c * l->units)
                return axmul__fail(AXMUL_ERR_SHAPE,
                                   "%s: layer %d (%s): %s has %zu elements, the layer needs "
                                   "(%d, %d) = %zu",
                                   name, i, l->name, l->wfile, l->nw, c, l->units,
                                   (size_t)c * l->units);
            c = l->units;
            break;
        case AXMUL__L_AVGPOOL:
        case AXMUL__L_MAXPOOL:
            if (l->kh < 1 || l->kw < 1 || l->sh < 1 || l->sw < 1 || l->kh > h || l->kw > w)
                return axmul__fail(AXMUL_ERR_SHAPE,
                                   "%s: layer %d (%s): pool %dx%d stride %d,%d does not fit a "
                                   "%dx%d input",
                                   name, i, l->name, l->kh, l->kw, l->sh, l->sw, h, w);
            h = (h - l->kh) / l->sh + 1;
            w = (w - l->kw) / l->sw + 1;
            break;
        case AXMUL__L_FLATTEN:
            c = h * w * c;
            h = w = 1;
            break;
        case AXMUL__L_GLOBALAVG:
        case AXMUL__L_GLOBALMAX:
            h = w = 1;
            break;
        case AXMUL__L_BATCHNORM:
            for (int k = 0; k < 4; k++)
                if (l->nbn[k] != (size_t)c)
                    return axmul__fail(AXMUL_ERR_SHAPE,
                                       "%s: layer %d (%s): %s has %zu elements, the input has %d "
                                       "channels",
                                       name, i, l->name, l->bnfile[k], l->nbn[k], c);
            break;
        case AXMUL__L_RELU:
        case AXMUL__L_RELU6:
        case AXMUL__L_SOFTMAX:
        case AXMUL__L_ADD:
            break;
        }
        if ((l->kind == AXMUL__L_CONV || l->kind == AXMUL__L_DENSE) && l->b &&
            l->nb != (size_t)l->units)
            return axmul__fail(AXMUL_ERR_SHAPE,
                               "%s: layer %d (%s): %s has %zu elements, the layer has %d outputs",
                               name, i, l->name, l->bfile, l->nb, l->units);
        if (l->kind == AXMUL__L_SOFTMAX && i != m->nl - 1)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: softmax must be the last layer",
                               name, i);
        l->oh = h;
        l->ow = w;
        l->oc = c;
    }
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- loading */

static axmul_status json_ints(json_t *v, int *out, int n, int dflt, const char *what,
                              const char *path, int layer)
{
    char where[32] = ""; /* layer -1: a model-level field */
    if (layer >= 0)
        snprintf(where, sizeof where, "layer %d: ", layer);
    if (!v) {
        for (int i = 0; i < n; i++)
            out[i] = dflt;
        return AXMUL_OK;
    }
    int scalar = json_is_integer(v);
    if (!scalar && (!json_is_array(v) || (int)json_array_size(v) != n))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: %s'%s' must be an integer or a list of %d", path,
                           where, what, n);
    for (int i = 0; i < n; i++) {
        json_t *e = scalar ? v : json_array_get(v, (size_t)i);
        /* range-checked before the cast: 4294967299 must not become 3 */
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1 << 20)
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: %s'%s' holds a non-integer or out-of-range value (allowed: "
                               "0 .. %d)",
                               path, where, what, 1 << 20);
        out[i] = (int)json_integer_value(e);
    }
    return AXMUL_OK;
}

static axmul_status load_tensor(const char *dir, const char *file, const char *path, int layer,
                                float **data, size_t *count)
{
    if (strchr(file, '/') || strcmp(file, "..") == 0 || !*file)
        return axmul__fail(
            AXMUL_ERR_FORMAT,
            "%s: layer %d: tensor file '%s' must be a plain name in the model folder", path, layer,
            file);
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", dir, file);
    axmul_npy *a;
    axmul_status s = axmul_npy_load(full, &a);
    if (s != AXMUL_OK)
        return s;
    const float *f;
    if ((s = axmul_npy_f32(a, &f)) != AXMUL_OK) {
        axmul_npy_free(a);
        return s;
    }
    size_t n = axmul_npy_count(a);
    float *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy) {
        axmul_npy_free(a);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", full);
    }
    memcpy(copy, f, n * sizeof *copy);
    axmul_npy_free(a);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(copy[i])) {
            free(copy);
            return axmul__fail(AXMUL_ERR_NONFINITE, "%s: element %zu is not finite", full, i);
        }
    *data = copy;
    *count = n;
    return AXMUL_OK;
}

/* The batch norm tensors' keys in model.json, in axmul__layer.bn order. */
static const char *const bn_keys[4] = {"gamma", "beta", "moving_mean", "moving_variance"};

/* A batchnorm layer: its four tensors and epsilon (Keras' BatchNormalization weights in
 * get_weights() order; PyTorch's BatchNorm2d weight, bias, running_mean, running_var, eps),
 * reduced to one scale and offset per channel (the form of TensorFlow's fused inference). */
static axmul_status parse_batchnorm(json_t *jl, int i, const char *dir, const char *path,
                                    axmul__layer *l)
{
    axmul_status s;
    for (int k = 0; k < 4; k++) {
        const char *f = json_string_value(json_object_get(jl, bn_keys[k]));
        if (!f)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d (%s): \"%s\" file missing", path, i,
                               l->name, bn_keys[k]);
        snprintf(l->bnfile[k], sizeof l->bnfile[k], "%s", f);
        if ((s = load_tensor(dir, f, path, i, &l->bn[k], &l->nbn[k])))
            return s;
    }
    json_t *e = json_object_get(jl, "epsilon");
    if (e && !json_is_number(e))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d (%s): \"epsilon\" must be a number",
                           path, i, l->name);
    l->eps = e ? (float)json_number_value(e) : 1e-3f; /* Keras' default */
    const size_t c = l->nbn[0];
    for (int k = 1; k < 4; k++)
        if (l->nbn[k] != c)
            return axmul__fail(AXMUL_ERR_SHAPE,
                               "%s: layer %d (%s): %s has %zu elements but %s has %zu", path, i,
                               l->name, l->bnfile[k], l->nbn[k], l->bnfile[0], c);
    l->w = malloc((c ? c : 1) * sizeof *l->w);
    l->b = malloc((c ? c : 1) * sizeof *l->b);
    if (!l->w || !l->b)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    l->nw = l->nb = c;
    for (size_t ch = 0; ch < c; ch++) {
        const float v = l->bn[3][ch] + l->eps;
        if (!(v > 0) || !isfinite(v))
            return axmul__fail(AXMUL_ERR_RANGE,
                               "%s: layer %d (%s): %s: variance %g + epsilon %g of channel %zu "
                               "is not positive",
                               path, i, l->name, l->bnfile[3], (double)l->bn[3][ch], (double)l->eps,
                               ch);
        l->w[ch] = l->bn[0][ch] / sqrtf(v);
        l->b[ch] = l->bn[1][ch] - l->bn[2][ch] * l->w[ch];
    }
    return AXMUL_OK;
}

static axmul_status parse_layer(json_t *jl, int i, const char *dir, const char *path,
                                axmul__layer *l)
{
    if (!json_is_object(jl))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d is not an object", path, i);
    const char *type = json_string_value(json_object_get(jl, "type"));
    if (!type)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d has no \"type\"", path, i);
    /* an unnamed layer is named after its type and position, so that saved tensor files of two
     * unnamed layers never share a name */
    const char *name = json_string_value(json_object_get(jl, "name"));
    if (name)
        snprintf(l->name, sizeof l->name, "%s", name);
    else
        snprintf(l->name, sizeof l->name, "%.40s_%d", type, i);
    l->sh = l->sw = l->dh = l->dw = l->groups = 1;
    int depthwise = strcmp(type, "depthwise") == 0;
    axmul_status s;
    if (strcmp(type, "conv2d") == 0 || depthwise) {
        l->kind = AXMUL__L_CONV;
        int k[2], st[2], dl[2];
        if ((s = json_ints(json_object_get(jl, "kernel_size"), k, 2, -1, "kernel_size", path, i)) ||
            (s = json_ints(json_object_get(jl, "strides"), st, 2, 1, "strides", path, i)) ||
            (s = json_ints(json_object_get(jl, "dilation"), dl, 2, 1, "dilation", path, i)))
            return s;
        if (k[0] < 1 || k[1] < 1)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"kernel_size\" missing or < 1",
                               path, i);
        l->kh = k[0];
        l->kw = k[1];
        l->sh = st[0];
        l->sw = st[1];
        l->dh = dl[0];
        l->dw = dl[1];
        json_t *g = json_object_get(jl, "groups");
        if (g &&
            (!json_is_integer(g) || json_integer_value(g) < 1 || json_integer_value(g) > 1 << 20))
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"groups\" must be >= 1", path, i);
        l->groups = g ? (int)json_integer_value(g) : 1;
        if (depthwise) /* groups = input channels: set by axmul__model_resolve */
            l->groups = -1;
        json_t *f = json_object_get(jl, "filters");
        if (!json_is_integer(f) || json_integer_value(f) < 1 || json_integer_value(f) > 1 << 20)
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: layer %d: \"filters\" must be an integer >= 1", path, i);
        l->units = (int)json_integer_value(f);
        json_t *p = json_object_get(jl, "padding");
        const char *ps = json_string_value(p);
        if (!p || (ps && strcmp(ps, "valid") == 0))
            l->padding = AXMUL_PADDING_VALID;
        else if (ps && strcmp(ps, "same") == 0)
            l->padding = AXMUL_PADDING_SAME;
        else if (json_is_array(p)) {
            if ((s = json_ints(p, l->pad, 4, 0, "padding", path, i)))
                return s;
            l->padding = AXMUL_PADDING_EXPLICIT;
        } else
            return axmul__fail(
                AXMUL_ERR_FORMAT,
                "%s: layer %d: \"padding\" must be \"same\", \"valid\" or [t, b, l, r]", path, i);
    } else if (strcmp(type, "dense") == 0) {
        l->kind = AXMUL__L_DENSE;
        json_t *u = json_object_get(jl, "units");
        if (!json_is_integer(u) || json_integer_value(u) < 1 || json_integer_value(u) > 1 << 24)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"units\" must be an integer >= 1",
                               path, i);
        l->units = (int)json_integer_value(u);
    } else if (strcmp(type, "avgpool") == 0 || strcmp(type, "maxpool") == 0) {
        l->kind = type[0] == 'a' ? AXMUL__L_AVGPOOL : AXMUL__L_MAXPOOL;
        int k[2], st[2];
        if ((s = json_ints(json_object_get(jl, "pool_size"), k, 2, 2, "pool_size", path, i)))
            return s;
        if ((s = json_ints(json_object_get(jl, "strides"), st, 2, -1, "strides", path, i)))
            return s;
        l->kh = k[0];
        l->kw = k[1];
        l->sh = st[0] < 0 ? k[0] : st[0]; /* Keras: strides default to the pool size */
        l->sw = st[1] < 0 ? k[1] : st[1];
    } else if (strcmp(type, "relu") == 0) {
        l->kind = AXMUL__L_RELU;
    } else if (strcmp(type, "relu6") == 0) {
        l->kind = AXMUL__L_RELU6;
    } else if (strcmp(type, "flatten") == 0) {
        l->kind = AXMUL__L_FLATTEN;
    } else if (strcmp(type, "softmax") == 0) {
        l->kind = AXMUL__L_SOFTMAX;
    } else if (strcmp(type, "globalavgpool") == 0) {
        l->kind = AXMUL__L_GLOBALAVG;
    } else if (strcmp(type, "globalmaxpool") == 0) {
        l->kind = AXMUL__L_GLOBALMAX;
    } else if (strcmp(type, "batchnorm") == 0) {
        l->kind = AXMUL__L_BATCHNORM;
        if ((s = parse_batchnorm(jl, i, dir, path, l)))
            return s;
    } else if (strcmp(type, "add") == 0) {
        l->kind = AXMUL__L_ADD;
        json_t *in = json_object_get(jl, "inputs");
        if (!json_is_array(in) || json_array_size(in) != 2 ||
            !json_is_string(json_array_get(in, 0)) || !json_is_string(json_array_get(in, 1)))
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: layer %d (%s): \"inputs\" must name two earlier layers", path,
                               i, l->name);
        for (int k = 0; k < 2; k++)
            snprintf(l->add_name[k], sizeof l->add_name[k], "%s",
                     json_string_value(json_array_get(in, (size_t)k)));
    } else {
        return axmul__fail(
            AXMUL_ERR_FORMAT,
            "%s: layer %d: unknown layer type '%s' (known: conv2d, depthwise, dense, "
            "avgpool, maxpool, globalavgpool, globalmaxpool, batchnorm, relu, relu6, flatten, "
            "softmax, add)",
            path, i, type);
    }
    json_t *src = json_object_get(jl, "input");
    if (src && (!json_is_string(src) || l->kind == AXMUL__L_ADD))
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d (%s): \"input\" must name an earlier layer (add layers "
                           "take \"inputs\")",
                           path, i, l->name);
    if (src)
        snprintf(l->src_name, sizeof l->src_name, "%s", json_string_value(src));
    if (l->kind == AXMUL__L_CONV || l->kind == AXMUL__L_DENSE) {
        const char *wf = json_string_value(json_object_get(jl, "weights"));
        if (!wf)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d (%s): \"weights\" file missing",
                               path, i, l->name);
        snprintf(l->wfile, sizeof l->wfile, "%s", wf);
        if ((s = load_tensor(dir, wf, path, i, &l->w, &l->nw)))
            return s;
        json_t *bj = json_object_get(jl, "bias");
        if (bj && !json_is_null(bj)) {
            const char *bf = json_string_value(bj);
            if (!bf)
                return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"bias\" must be a file name",
                                   path, i);
            snprintf(l->bfile, sizeof l->bfile, "%s", bf);
            if ((s = load_tensor(dir, bf, path, i, &l->b, &l->nb)))
                return s;
        }
        json_t *r = json_object_get(jl, "input_range");
        if (r && !json_is_null(r)) {
            if (!json_is_array(r) || json_array_size(r) != 2 ||
                !json_is_number(json_array_get(r, 0)) || !json_is_number(json_array_get(r, 1)))
                return axmul__fail(AXMUL_ERR_FORMAT,
                                   "%s: layer %d: \"input_range\" must be [min, max]", path, i);
            l->in_range.min = (float)json_number_value(json_array_get(r, 0));
            l->in_range.max = (float)json_number_value(json_array_get(r, 1));
            axmul_qparams q;
            if (axmul_qparams_from_range(l->in_range, 0, l->name, &q) != AXMUL_OK) {
                char why[512];
                snprintf(why, sizeof why, "%s", axmul_error_detail());
                return axmul__fail(AXMUL_ERR_RANGE, "%s: layer %d: %s", path, i, why);
            }
            l->has_range = 1;
        }
    }
    return AXMUL_OK;
}

/* The earlier layer called name, for layer i's reference (what: "input" or "inputs"); -1 and
 * a failure when there is none, or more than one. */
static int find_layer(const axmul_model *m, int i, const char *name, const char *what,
                      const char *path, axmul_status *s)
{
    int found = -1, count = 0;
    for (int j = 0; j < m->nl; j++)
        if (strcmp(m->L[j].name, name) == 0) {
            count++;
            if (j < i && found < 0)
                found = j;
        }
    if (found >= 0 && count == 1)
        return found;
    *s = axmul__fail(AXMUL_ERR_FORMAT,
                     count > 1 ? "%s: layer %d (%s): %s '%s' names %d layers (names a later "
                                 "layer reads must be unique)"
                               : "%s: layer %d (%s): %s '%s' is not an earlier layer",
                     path, i, m->L[i].name, what, name, count);
    return -1;
}

/* Resolves the graph's names ("input", an add's "inputs") to layer indices and marks the
 * layers whose outputs are read out of order. */
static axmul_status link_layers(axmul_model *m, const char *path)
{
    axmul_status s = AXMUL_OK;
    for (int i = 0; i < m->nl; i++) {
        axmul__layer *l = &m->L[i];
        if (l->src_name[0]) {
            int j = find_layer(m, i, l->src_name, "input", path, &s);
            if (j < 0)
                return s;
            l->src = j + 1;
            m->L[j].saved = 1;
        }
        if (l->kind == AXMUL__L_ADD)
            for (int k = 0; k < 2; k++) {
                int j = find_layer(m, i, l->add_name[k], "inputs", path, &s);
                if (j < 0)
                    return s;
                l->add[k] = j;
                m->L[j].saved = 1;
            }
    }
    return AXMUL_OK;
}

axmul_status axmul_model_load(const char *dir, axmul_model **out)
{
    axmul_error_clear();
    if (!dir || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_load: NULL argument");
    *out = NULL;
    char path[4096];
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        return axmul__fail(axmul__status_from_errno(e), "%s: %s", dir, strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: a model is a folder holding model.json", dir);
    snprintf(path, sizeof path, "%s/model.json", dir);
    uint8_t *text;
    size_t len;
    axmul_status s = axmul__read_file(path, (size_t)16 << 20, &text, &len);
    if (s != AXMUL_OK)
        return s;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                           jerr.text);
    axmul_model *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(root);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    const char *fmt = json_string_value(json_object_get(root, "format"));
    json_t *layers = json_object_get(root, "layers");
    int in[3];
    if (!json_is_object(root) || !fmt || strcmp(fmt, "axmul-model") != 0) {
        s = axmul__fail(AXMUL_ERR_FORMAT,
                        "%s: not an axmul model (\"format\": \"axmul-model\" missing)", path);
        goto fail;
    }
    if (json_integer_value(json_object_get(root, "version")) != 1) {
        s = axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: unsupported model format version (expected 1)",
                        path);
        goto fail;
    }
    if ((s = json_ints(json_object_get(root, "input_shape"), in, 3, -1, "input_shape", path, -1)))
        goto fail;
    m->in_h = in[0];
    m->in_w = in[1];
    m->in_c = in[2];
    const char *nm = json_string_value(json_object_get(root, "name"));
    snprintf(m->name, sizeof m->name, "%s", nm ? nm : "model");
    if (!json_is_array(layers) || json_array_size(layers) == 0 ||
        json_array_size(layers) > AXMUL_MODEL_MAX_LAYERS) {
        s = axmul__fail(AXMUL_ERR_FORMAT,
                        "%s: \"layers\" must be a non-empty list of at most %d layers", path,
                        AXMUL_MODEL_MAX_LAYERS);
        goto fail;
    }
    m->nl = (int)json_array_size(layers);
    m->L = calloc((size_t)m->nl, sizeof *m->L);
    if (!m->L) {
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < m->nl; i++)
        if ((s = parse_layer(json_array_get(layers, (size_t)i), i, dir, path, &m->L[i])))
            goto fail;
    /* a layer's name names its tensor files when the model is saved (calibrate) */
    for (int i = 0; i < m->nl; i++)
        for (int j = 0; j < i && m->L[i].w; j++)
            if (m->L[j].w && strcmp(m->L[i].name, m->L[j].name) == 0) {
                s = axmul__fail(
                    AXMUL_ERR_FORMAT,
                    "%s: layers %d and %d are both named '%s' (the name of a layer with "
                    "tensors must be unique: it names their files)",
                    path, j, i, m->L[i].name);
                goto fail;
            }
    if ((s = link_layers(m, path)))
        goto fail;
    if ((s = axmul__model_resolve(m, path)))
        goto fail;
    json_decref(root);
    *out = m;
    return AXMUL_OK;
fail:
    json_decref(root);
    axmul_model_free(m);
    return s;
}

/* ---------------------------------------------------------------- saving */

static json_t *pair(int a, int b)
{
    return json_pack("[i, i]", a, b);
}

axmul_status axmul_model_save(const axmul_model *m, const char *dir)
{
    axmul_error_clear();
    if (!m || !dir)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_save: NULL argument");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        int e = errno;
        return axmul__fail(axmul__status_from_errno(e), "%s: cannot create folder: %s", dir,
                           strerror(e));
    }
    json_t *root = json_object(), *layers = json_array();
    json_object_set_new(root, "format", json_string("axmul-model"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "name", json_string(m->name));
    json_object_set_new(root, "input_shape", json_pack("[i, i, i]", m->in_h, m->in_w, m->in_c));
    axmul_status s = AXMUL_OK;
    char path[4096];
    for (int i = 0; i < m->nl && s == AXMUL_OK; i++) {
        const axmul__layer *l = &m->L[i];
        json_t *jl = json_object();
        json_object_set_new(jl, "type", json_string(kind_name(l->kind)));
        json_object_set_new(jl, "name", json_string(l->name));
        if (l->src)
            json_object_set_new(jl, "input", json_string(m->L[l->src - 1].name));
        if (l->kind == AXMUL__L_ADD)
            json_object_set_new(jl, "inputs",
                                json_pack("[s, s]", m->L[l->add[0]].name, m->L[l->add[1]].name));
        if (l->kind == AXMUL__L_CONV) {
            json_object_set_new(jl, "filters", json_integer(l->units));
            json_object_set_new(jl, "kernel_size", pair(l->kh, l->kw));
            json_object_set_new(jl, "strides", pair(l->sh, l->sw));
            json_object_set_new(jl, "dilation", pair(l->dh, l->dw));
            json_object_set_new(jl, "groups", json_integer(l->groups));
            if (l->padding == AXMUL_PADDING_EXPLICIT)
                json_object_set_new(
                    jl, "padding",
                    json_pack("[i, i, i, i]", l->pad[0], l->pad[1], l->pad[2], l->pad[3]));
            else
                json_object_set_new(
                    jl, "padding",
                    json_string(l->padding == AXMUL_PADDING_SAME ? "same" : "valid"));
        } else if (l->kind == AXMUL__L_DENSE) {
            json_object_set_new(jl, "units", json_integer(l->units));
        } else if (l->kind == AXMUL__L_AVGPOOL || l->kind == AXMUL__L_MAXPOOL) {
            json_object_set_new(jl, "pool_size", pair(l->kh, l->kw));
            json_object_set_new(jl, "strides", pair(l->sh, l->sw));
        } else if (l->kind == AXMUL__L_BATCHNORM) {
            for (int k = 0; k < 4 && s == AXMUL_OK; k++) {
                char f[160];
                size_t shape[1] = {l->nbn[k]};
                snprintf(f, sizeof f, "%s_%s.npy", l->name, bn_keys[k]);
                json_object_set_new(jl, bn_keys[k], json_string(f));
                snprintf(path, sizeof path, "%s/%s", dir, f);
                s = axmul_npy_save_f32(path, l->bn[k], shape, 1);
            }
            json_object_set_new(jl, "epsilon", json_real((double)l->eps));
        }
        if (l->kind == AXMUL__L_CONV || l->kind == AXMUL__L_DENSE) {
            char wf[160], bf[160];
            snprintf(wf, sizeof wf, "%s_weights.npy", l->name);
            snprintf(bf, sizeof bf, "%s_bias.npy", l->name);
            json_object_set_new(jl, "weights", json_string(wf));
            json_object_set_new(jl, "bias", json_string(bf));
            size_t ws[4], bs[1] = {(size_t)l->units};
            int nd;
            if (l->kind == AXMUL__L_CONV) {
                ws[0] = (size_t)l->kh;
                ws[1] = (size_t)l->kw;
                ws[2] = (size_t)(l->ic / l->groups);
                ws[3] = (size_t)l->units;
                nd = 4;
            } else {
                ws[0] = (size_t)l->ic;
                ws[1] = (size_t)l->units;
                nd = 2;
            }
            snprintf(path, sizeof path, "%s/%s", dir, wf);
            s = axmul_npy_save_f32(path, l->w, ws, nd);
            float *zero = NULL;
            if (s == AXMUL_OK) {
                const float *b = l->b;
                if (!b)
                    b = zero = calloc((size_t)l->units, sizeof(float));
                snprintf(path, sizeof path, "%s/%s", dir, bf);
                s = b ? axmul_npy_save_f32(path, b, bs, 1)
                      : axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
                free(zero);
            }
            if (l->has_range)
                json_object_set_new(
                    jl, "input_range",
                    json_pack("[f, f]", (double)l->in_range.min, (double)l->in_range.max));
        }
        json_array_append_new(layers, jl);
    }
    json_object_set_new(root, "layers", layers);
    if (s == AXMUL_OK) {
        /* floats as the shortest text that reads back to the same float32 */
        char *text =
            json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        if (!text) {
            s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        } else {
            snprintf(path, sizeof path, "%s/model.json", dir);
            size_t tl = strlen(text);
            char *withnl = malloc(tl + 2);
            if (withnl) {
                memcpy(withnl, text, tl);
                withnl[tl] = '\n';
                s = axmul_file_write_atomic(path, withnl, tl + 1);
                free(withnl);
            } else
                s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
            free(text);
        }
    }
    json_decref(root);
    return s;
}

/* ---------------------------------------------------------------- LeNet-5 */

/* Glorot (Xavier) uniform initialisation, Keras' default: U(-a, a), a = sqrt(6 / (fan_in +
 * fan_out)) (Glorot and Bengio, AISTATS 2010). */
static axmul_status glorot(axmul__layer *l, size_t n, int fan_in, int fan_out, uint64_t *rng)
{
    l->w = malloc(n * sizeof(float));
    l->b = calloc((size_t)l->units, sizeof(float));
    if (!l->w || !l->b)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    l->nw = n;
    l->nb = (size_t)l->units;
    double a = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < n; i++)
        l->w[i] = (float)(((double)(axmul__splitmix64(rng) >> 11) * 0x1p-53 * 2.0 - 1.0) * a);
    return AXMUL_OK;
}

axmul_status axmul_model_create_lenet5(uint64_t seed, axmul_model **out)
{
    axmul_error_clear();
    axmul_model *m = calloc(1, sizeof *m);
    if (!m)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    snprintf(m->name, sizeof m->name, "lenet5");
    m->in_h = m->in_w = 28;
    m->in_c = 1;
    m->nl = 11;
    m->L = calloc((size_t)m->nl, sizeof *m->L);
    if (!m->L) {
        free(m);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    axmul__layer *L = m->L;
    const axmul__layer_kind kinds[] = {AXMUL__L_CONV,  AXMUL__L_RELU, AXMUL__L_AVGPOOL,
                                       AXMUL__L_CONV,  AXMUL__L_RELU, AXMUL__L_FLATTEN,
                                       AXMUL__L_DENSE, AXMUL__L_RELU, AXMUL__L_DENSE,
                                       AXMUL__L_RELU,  AXMUL__L_DENSE};
    const char *names[] = {"conv1", "relu1", "pool1", "conv2", "relu2", "flatten",
                           "fc1",   "relu3", "fc2",   "relu4", "fc3"};
    for (int i = 0; i < m->nl; i++) {
        L[i].kind = kinds[i];
        snprintf(L[i].name, sizeof L[i].name, "%s", names[i]);
        L[i].sh = L[i].sw = L[i].dh = L[i].dw = L[i].groups = 1;
        L[i].padding = AXMUL_PADDING_VALID;
    }
    L[0].kh = L[0].kw = 3;
    L[0].units = 6;
    L[2].kh = L[2].kw = L[2].sh = L[2].sw = 2;
    L[3].kh = L[3].kw = 3;
    L[3].units = 16;
    L[6].units = 120;
    L[8].units = 84;
    L[10].units = 10;
    /* a trailing softmax layer: append */
    axmul__layer *nl = realloc(m->L, (size_t)(m->nl + 1) * sizeof *nl);
    if (!nl) {
        axmul_model_free(m);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    m->L = L = nl;
    memset(&L[m->nl], 0, sizeof L[0]);
    L[m->nl].kind = AXMUL__L_SOFTMAX;
    snprintf(L[m->nl].name, sizeof L[0].name, "softmax");
    m->nl++;
    uint64_t rng = seed;
    axmul_status s;
    if ((s = glorot(&L[0], 3 * 3 * 1 * 6, 9, 54, &rng)) ||
        (s = glorot(&L[3], 3 * 3 * 6 * 16, 54, 144, &rng)) ||
        (s = glorot(&L[6], 1936 * 120, 1936, 120, &rng)) ||
        (s = glorot(&L[8], 120 * 84, 120, 84, &rng)) ||
        (s = glorot(&L[10], 84 * 10, 84, 10, &rng)) || (s = axmul__model_resolve(m, "lenet5"))) {
        axmul_model_free(m);
        return s;
    }
    *out = m;
    return AXMUL_OK;
}
