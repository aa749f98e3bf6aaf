/* axmul: the model: its layers' registry (lib/net/net.h), accessors, the resolution of every
 * layer's shapes, the selection of each layer's table, and the project's LeNet-5. Model files
 * are read and written by model_load.c and model_save.c. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/core/rng.h"
#include "lib/net/net.h"

/* ---------------------------------------------------------------- the registry */

static const axmul__layer_ops *const kind_ops[AXMUL__L_COUNT] = {
#define AXMUL__LAYER_OPS_PTR(kind, type) &axmul__layer_##type,
    AXMUL__LAYER_KINDS(AXMUL__LAYER_OPS_PTR)
#undef AXMUL__LAYER_OPS_PTR
};

const axmul__layer_ops *axmul__layer_ops_of(axmul__layer_kind kind)
{
    return kind_ops[kind];
}

axmul__layer_kind axmul__layer_kind_of(const char *type)
{
    for (int k = 0; k < AXMUL__L_COUNT; k++)
        if (strcmp(type, kind_ops[k]->type) == 0 ||
            (kind_ops[k]->alias && strcmp(type, kind_ops[k]->alias) == 0))
            return (axmul__layer_kind)k;
    return AXMUL__L_COUNT;
}

const char *axmul__layer_types(void)
{
    static char text[512];
    if (!text[0]) { /* (the same text whichever thread writes it first) */
        char t[sizeof text];
        size_t n = 0;
        for (int k = 0; k < AXMUL__L_COUNT; k++) {
            const char *names[2] = {kind_ops[k]->type, kind_ops[k]->alias};
            for (int a = 0; a < 2 && names[a]; a++) {
                int w = snprintf(t + n, sizeof t - n, "%s%s", n ? ", " : "", names[a]);
                n += w > 0 && (size_t)w < sizeof t - n ? (size_t)w : 0;
            }
        }
        memcpy(text, t, sizeof text);
    }
    return text;
}

void axmul__layer_set_kind(axmul__layer *l, axmul__layer_kind kind)
{
    l->kind = kind;
    l->ops = kind_ops[kind];
}

int axmul__layer_params(const axmul__layer *l)
{
    return l->ops->params;
}

/* ---------------------------------------------------------------- accessors */

void axmul_model_free(axmul_model *m)
{
    if (!m)
        return;
#ifdef HAVE_ONNX
    axmul__ox_free(m->ox);
#endif
    for (int i = 0; m->L && i < m->nl; i++) {
        free(m->L[i].w);
        free(m->L[i].b);
        for (int k = 0; k < 4; k++)
            free(m->L[i].bn[k]);
    }
    free(m->L);
    free(m);
}

int axmul_model_num_layers(const axmul_model *m)
{
    return m->nl;
}

const char *axmul_model_layer_type(const axmul_model *m, int i)
{
    AXMUL__IF_ONNX(m, axmul__ox_layer_type(m, i));
    return m->L[i].ops->type;
}

const char *axmul_model_layer_name(const axmul_model *m, int i)
{
    AXMUL__IF_ONNX(m, axmul__ox_layer_name(m, i));
    return m->L[i].name;
}

int axmul_model_layer_approx(const axmul_model *m, int i)
{
    AXMUL__IF_ONNX(m, axmul__ox_layer_approx(m, i));
    return m->L[i].kind == AXMUL__L_CONV    ? AXMUL_APPROX_CONV
           : m->L[i].kind == AXMUL__L_DENSE ? AXMUL_APPROX_DENSE
                                            : 0;
}

int axmul_model_is_onnx(const axmul_model *m)
{
    return m->ox != NULL;
}

axmul_status axmul_model_to_layers(const axmul_model *m, axmul_model **out)
{
    axmul_error_clear();
    if (!m || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_to_layers: NULL argument");
    *out = NULL;
    AXMUL__IF_ONNX(m, axmul__ox_layers(m, out));
    return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                       "axmul_model_to_layers: model %s is a model of layers already", m->name);
}

int axmul_model_num_inputs(const axmul_model *m)
{
    AXMUL__IF_ONNX(m, axmul__ox_num_io(m, 0));
    return 1;
}

int axmul_model_num_outputs(const axmul_model *m)
{
    AXMUL__IF_ONNX(m, axmul__ox_num_io(m, 1));
    return 1;
}

const char *axmul_model_input_name(const axmul_model *m, int k)
{
    AXMUL__IF_ONNX(m, axmul__ox_io_name(m, 0, k));
    (void)k;
    return "input";
}

const char *axmul_model_output_name(const axmul_model *m, int k)
{
    AXMUL__IF_ONNX(m, axmul__ox_io_name(m, 1, k));
    (void)k;
    return "output";
}

void axmul_model_input_shape(const axmul_model *m, int *h, int *w, int *c)
{
    *h = m->in_h;
    *w = m->in_w;
    *c = m->in_c;
}

size_t axmul_model_layer_output_size(const axmul_model *m, int i)
{
    if (m->ox) {
        int h, w, c;
        axmul_model_layer_output_shape(m, i, &h, &w, &c);
        return (size_t)h * w * c;
    }
    return (size_t)m->L[i].oh * m->L[i].ow * m->L[i].oc;
}

void axmul_model_layer_output_shape(const axmul_model *m, int i, int *h, int *w, int *c)
{
#ifdef HAVE_ONNX
    if (m->ox) {
        axmul__ox_layer_output_shape(m, i, h, w, c);
        return;
    }
#endif
    *h = m->L[i].oh;
    *w = m->L[i].ow;
    *c = m->L[i].oc;
}

int axmul_model_classes(const axmul_model *m)
{
    AXMUL__IF_ONNX(m, axmul__ox_classes(m));
    const axmul__layer *l = &m->L[m->nl - 1];
    return l->oh * l->ow * l->oc;
}

int axmul_model_calibrated(const axmul_model *m)
{
    AXMUL__IF_ONNX(m, axmul__ox_calibrated(m));
    for (int i = 0; i < m->nl; i++)
        if (m->L[i].ops->params && !m->L[i].has_range)
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

size_t axmul__model_col_size(const axmul_model *m)
{
    size_t col_n = 0;
    for (int i = 0; i < m->nl; i++) {
        const axmul__layer *l = &m->L[i];
        if (l->kind == AXMUL__L_CONV) {
            size_t c = (size_t)l->oh * l->ow * l->kh * l->kw * (l->ic / l->groups);
            col_n = c > col_n ? c : col_n;
        }
    }
    return col_n;
}

int axmul__layer_batched_im2col(const axmul__layer *l)
{
    return l->sh == 1 && l->sw == 1 && l->dh == 1 && l->dw == 1 && l->groups == 1;
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

/* ---------------------------------------------------------------- shapes */

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
        l->ih = h;
        l->iw = w;
        l->ic = c;
        axmul_status s = l->ops->resolve(m, i, name);
        if (s != AXMUL_OK)
            return s;
        if (l->ops->params && l->b && l->nb != (size_t)l->units)
            return axmul__fail(AXMUL_ERR_SHAPE,
                               "%s: layer %d (%s): %s has %zu elements, the layer has %d outputs",
                               name, i, l->name, l->bfile, l->nb, l->units);
        h = l->oh;
        w = l->ow;
        c = l->oc;
    }
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- tables */

const axmul_table *axmul__layer_table(const axmul_model *m, int i, const axmul_table *table,
                                      int approx, const axmul_table *const *layer_tables)
{
    const int kind = m->L[i].kind;
    if (kind != AXMUL__L_CONV && kind != AXMUL__L_DENSE)
        return NULL;
    if (layer_tables && layer_tables[i])
        return layer_tables[i];
    return approx & (kind == AXMUL__L_CONV ? AXMUL_APPROX_CONV : AXMUL_APPROX_DENSE) ? table : NULL;
}

axmul_status axmul__check_layer_tables(const axmul_model *m, const axmul_table *const *layer_tables)
{
    for (int i = 0; layer_tables && i < m->nl; i++)
        if (layer_tables[i] && !m->L[i].ops->params)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "layer %s is of type %s: only conv2d and dense layers take a table",
                               m->L[i].name, axmul_model_layer_type(m, i));
    return AXMUL_OK;
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
        axmul__layer_set_kind(&L[i], kinds[i]);
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
    axmul__layer_set_kind(&L[m->nl], AXMUL__L_SOFTMAX);
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
