/* axmul: training of small CNNs: mini-batch back-propagation with softmax cross-entropy and Adam
 * (Kingma and Ba, "Adam: A method for stochastic optimization", ICLR 2015), with Keras' default
 * constants (beta1 0.9, beta2 0.999, epsilon 1e-7). Convolutions are im2col + SGEMM; every
 * reduction runs in a fixed order, so a run is bit-reproducible for one seed, thread count and
 * machine. Graphs (a layer's "input", "add") back-propagate by summing the gradients that reach
 * an output; batch normalization is frozen (its inference scale and offset, not trained). */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv/net_internal.h"
#include "internal.h"
#include "lib/rng.h"

void axmul_train_options_init(axmul_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 64;
    o->lr = 1e-3f;
    o->seed = 1;
    o->approx = AXMUL_APPROX_CONV; /* (no table: none) */
}

typedef struct {
    float *m, *v; /* Adam moments */
} adam_t;

static void adam_step(float *w, adam_t *a, const float *g, size_t n, float lr, int t)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < n; i++) {
        a->m[i] = b1 * a->m[i] + (1.0f - b1) * g[i];
        a->v[i] = b2 * a->v[i] + (1.0f - b2) * g[i] * g[i];
        float mh = a->m[i] / c1, vh = a->v[i] / c2;
        w[i] -= lr * mh / (sqrtf(vh) + eps);
    }
}

static int has_params(const axmul__layer *l)
{
    return l->kind == AXMUL__L_CONV || l->kind == AXMUL__L_DENSE;
}

/* The plain convolution of the LeNet-5 trainer: one SGEMM over the whole batch. */
static int conv_simple(const axmul__layer *l)
{
    return l->sh == 1 && l->sw == 1 && l->dh == 1 && l->dw == 1 && l->groups == 1;
}

/* col2im: adds the columns' gradients of group g back onto one image's input gradient. */
static void col2im_add(const axmul__layer *l, const float *col, float *dx, int g)
{
    int pt, pl;
    axmul__layer_pads(l, &pt, &pl);
    const int cin = l->ic / l->groups;
    const size_t k = (size_t)l->kh * l->kw * cin;
    for (int oy = 0; oy < l->oh; oy++)
        for (int ox = 0; ox < l->ow; ox++) {
            const float *src = col + ((size_t)oy * l->ow + ox) * k;
            for (int i = 0; i < l->kh; i++) {
                int iy = oy * l->sh - pt + i * l->dh;
                if (iy < 0 || iy >= l->ih)
                    continue;
                for (int j = 0; j < l->kw; j++) {
                    int ix = ox * l->sw - pl + j * l->dw;
                    if (ix < 0 || ix >= l->iw)
                        continue;
                    const float *t = src + ((size_t)i * l->kw + j) * cin;
                    float *d = dx + ((size_t)iy * l->iw + ix) * l->ic + (size_t)g * cin;
                    for (int c = 0; c < cin; c++)
                        d[c] += t[c];
                }
            }
        }
}

/* Buffers of one batch: every layer's output and the loss gradient with respect to it, the
 * parameter gradients, im2col scratch. */
typedef struct {
    int B;
    float **act;  /* nl + 1: the network input, then layer i's output at i + 1 */
    float **grad; /* nl + 1: d loss / d act (grad[0]: none, the input needs none) */
    float **wg, **bg;
    float *col, *dcol;
    uint8_t *lab;
} batch_t;

static size_t act_size(const axmul_model *m, int j)
{
    if (j == 0)
        return (size_t)m->in_h * m->in_w * m->in_c;
    const axmul__layer *l = &m->L[j - 1];
    return (size_t)l->oh * l->ow * l->oc;
}

static void batch_free(batch_t *w, const axmul_model *m)
{
    for (int j = 0; j <= m->nl; j++) {
        if (w->act)
            free(w->act[j]);
        if (w->grad)
            free(w->grad[j]);
    }
    for (int i = 0; i < m->nl; i++) {
        if (w->wg)
            free(w->wg[i]);
        if (w->bg)
            free(w->bg[i]);
    }
    free(w->act);
    free(w->grad);
    free(w->wg);
    free(w->bg);
    free(w->col);
    free(w->dcol);
    free(w->lab);
}

static axmul_status batch_init(batch_t *w, const axmul_model *m, int B)
{
    memset(w, 0, sizeof *w);
    w->B = B;
    w->act = calloc((size_t)m->nl + 1, sizeof *w->act);
    w->grad = calloc((size_t)m->nl + 1, sizeof *w->grad);
    w->wg = calloc((size_t)m->nl, sizeof *w->wg);
    w->bg = calloc((size_t)m->nl, sizeof *w->bg);
    w->lab = malloc((size_t)B);
    size_t colmax = 1;
    int ok = w->act && w->grad && w->wg && w->bg && w->lab;
    for (int j = 0; ok && j <= m->nl; j++)
        ok = (w->act[j] = malloc(sizeof(float) * (size_t)B * act_size(m, j))) != NULL &&
             (j == 0 || (w->grad[j] = malloc(sizeof(float) * (size_t)B * act_size(m, j))));
    for (int i = 0; ok && i < m->nl; i++) {
        const axmul__layer *l = &m->L[i];
        if (l->kind == AXMUL__L_CONV) {
            size_t c = (size_t)l->oh * l->ow * l->kh * l->kw * (l->ic / l->groups);
            c *= conv_simple(l) ? (size_t)B : 1; /* one image at a time otherwise */
            colmax = c > colmax ? c : colmax;
        }
        if (has_params(l))
            ok = (w->wg[i] = malloc(sizeof(float) * l->nw)) &&
                 (w->bg[i] = malloc(sizeof(float) * (size_t)l->units));
    }
    ok = ok && (w->col = malloc(sizeof(float) * colmax)) &&
         (w->dcol = malloc(sizeof(float) * colmax));
    if (!ok) {
        batch_free(w, m);
        return axmul__fail(AXMUL_ERR_NOMEM, "training: out of memory");
    }
    return AXMUL_OK;
}

static void pool_backward(const axmul__layer *l, const float *a, const float *g, int nb, float *dx)
{
    for (int r = 0; r < nb; r++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++)
                for (int c = 0; c < l->ic; c++) {
                    size_t base = (size_t)r * l->ih * l->iw * l->ic;
                    float gv = g[(((size_t)r * l->oh + oy) * l->ow + ox) * l->ic + c];
                    size_t arg = 0;
                    float best = -INFINITY;
                    for (int pi = 0; pi < l->kh; pi++)
                        for (int pj = 0; pj < l->kw; pj++) {
                            size_t idx =
                                base +
                                ((size_t)(oy * l->sh + pi) * l->iw + (ox * l->sw + pj)) * l->ic + c;
                            if (l->kind == AXMUL__L_AVGPOOL)
                                dx[idx] += gv / (float)(l->kh * l->kw);
                            else if (a[idx] > best) {
                                best = a[idx];
                                arg = idx;
                            }
                        }
                    if (l->kind == AXMUL__L_MAXPOOL)
                        dx[arg] += gv;
                }
}

/* Forward pass of layer i on the batch's first nb images (w->act). */
static axmul_status layer_forward(axmul_model *m, const axmul_train_options *o, batch_t *w, int i,
                                  int nb)
{
    axmul__layer *l = &m->L[i];
    const float *a = w->act[l->src ? l->src : i];
    float *y = w->act[i + 1];
    const size_t nin = (size_t)nb * l->ih * l->iw * l->ic,
                 nout = (size_t)nb * l->oh * l->ow * l->oc;
    const size_t P = (size_t)l->oh * l->ow, K = (size_t)l->kh * l->kw * l->ic;
    const axmul_table *t = axmul__layer_table(m, i, o->table, o->approx, o->layer_tables);
    const int nt = o->threads > 0 ? o->threads : 1;
    /* The inference LUT layer, its input quantized to the batch's min/max: the ranges of the
     * approximate network that the training changes (calibrated ranges of the old weights would
     * clip it). Bias added below as in float. */
    if (t) {
        axmul_conv_desc d;
        axmul__layer_conv_desc(l, nb, l->ih, l->iw, l->ic, &d);
        d.per_channel = o->per_channel;
        d.backend = AXMUL_BACKEND_AUTO;
        d.threads = o->threads;
        d.input_name = l->name;
        d.filter_name = l->wfile;
        axmul_status st = axmul_conv2d(&d, t, a, l->w, y, NULL);
        if (st != AXMUL_OK)
            return st;
    }
    switch (l->kind) {
    case AXMUL__L_CONV:
        if (!t && !conv_simple(l)) { /* groups, strides, dilations: image by image, with bias */
            axmul__conv_float(l, a, nb, y, w->col);
            break;
        }
        if (!t) {
            for (int r = 0; r < nb; r++)
                axmul__im2col(l, a + (size_t)r * l->ih * l->iw * l->ic, w->col + (size_t)r * P * K,
                              0);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nb * P), l->units, (int)K,
                        1.0f, w->col, (int)K, l->w, l->units, 0.0f, y, l->units);
        }
        if (l->b)
            axmul__add_bias(y, (size_t)nb * P, l->units, l->b, nt);
        break;
    case AXMUL__L_DENSE:
        if (!t)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, l->units, l->ic, 1.0f, a,
                        l->ic, l->w, l->units, 0.0f, y, l->units);
        if (l->b)
            axmul__add_bias(y, (size_t)nb, l->units, l->b, nt);
        break;
    case AXMUL__L_RELU:
        for (size_t k = 0; k < nin; k++)
            y[k] = a[k] > 0 ? a[k] : 0.0f;
        break;
    case AXMUL__L_RELU6:
        for (size_t k = 0; k < nin; k++)
            y[k] = a[k] > 0 ? (a[k] < 6.0f ? a[k] : 6.0f) : 0.0f;
        break;
    case AXMUL__L_BATCHNORM:
        for (size_t k = 0; k < nin; k++)
            y[k] = a[k] * l->w[k % (size_t)l->ic] + l->b[k % (size_t)l->ic];
        break;
    case AXMUL__L_GLOBALAVG:
    case AXMUL__L_GLOBALMAX:
        axmul__global_pool(l, a, nb, y);
        break;
    case AXMUL__L_ADD: {
        const float *x0 = w->act[l->add[0] + 1], *x1 = w->act[l->add[1] + 1];
        for (size_t k = 0; k < nout; k++)
            y[k] = x0[k] + x1[k];
        break;
    }
    case AXMUL__L_FLATTEN:
    case AXMUL__L_SOFTMAX: /* the loss applies the softmax to the logits */
        memcpy(y, a, nin * sizeof(float));
        break;
    case AXMUL__L_AVGPOOL:
    case AXMUL__L_MAXPOOL:
        axmul__pool(l, a, nb, y, nt);
        break;
    }
    return AXMUL_OK;
}

/* Backward pass of layer i: its parameter gradients (w->wg, w->bg) from the gradient of its
 * output, and that gradient through the layer added onto its input's (none for the network
 * input). The straight-through estimator: an approximated layer back-propagates as the float
 * layer with the float weights. */
static void layer_backward(const axmul_model *m, batch_t *w, int i, int nb)
{
    const axmul__layer *l = &m->L[i];
    const int src = l->src ? l->src : i;
    const float *a = w->act[src], *y = w->act[i + 1], *g = w->grad[i + 1];
    float *dx = src > 0 ? w->grad[src] : NULL;
    const size_t nin = (size_t)nb * l->ih * l->iw * l->ic,
                 nout = (size_t)nb * l->oh * l->ow * l->oc;
    const size_t P = (size_t)l->oh * l->ow, K = (size_t)l->kh * l->kw * l->ic;
    switch (l->kind) {
    case AXMUL__L_CONV:
        memset(w->bg[i], 0, sizeof(float) * (size_t)l->units);
        for (size_t p = 0; p < (size_t)nb * P; p++)
            for (int c = 0; c < l->units; c++)
                w->bg[i][c] += g[p * l->units + c];
        if (conv_simple(l)) {
            for (int r = 0; r < nb; r++) /* the forward's columns were overwritten since */
                axmul__im2col(l, a + (size_t)r * l->ih * l->iw * l->ic, w->col + (size_t)r * P * K,
                              0);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, l->units, (int)(nb * P),
                        1.0f, w->col, (int)K, g, l->units, 0.0f, w->wg[i], l->units);
            if (!dx)
                break;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nb * P), (int)K, l->units,
                        1.0f, g, l->units, l->w, l->units, 0.0f, w->dcol, (int)K);
            for (int r = 0; r < nb; r++)
                col2im_add(l, w->dcol + (size_t)r * P * K, dx + (size_t)r * l->ih * l->iw * l->ic,
                           0);
            break;
        }
        /* groups, strides, dilations: image by image, group by group (group g reads input
         * channels g*cin.. and writes output channels g*cout..) */
        memset(w->wg[i], 0, sizeof(float) * l->nw);
        {
            const int cin = l->ic / l->groups, cout = l->units / l->groups;
            const int Kg = l->kh * l->kw * cin;
            for (int r = 0; r < nb; r++)
                for (int gi = 0; gi < l->groups; gi++) {
                    const float *gr = g + (size_t)r * P * l->units + (size_t)gi * cout;
                    axmul__im2col(l, a + (size_t)r * l->ih * l->iw * l->ic, w->col, gi);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kg, cout, (int)P, 1.0f,
                                w->col, Kg, gr, l->units, 1.0f, w->wg[i] + (size_t)gi * cout,
                                l->units);
                    if (!dx)
                        continue;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, Kg, cout, 1.0f, gr,
                                l->units, l->w + (size_t)gi * cout, l->units, 0.0f, w->dcol, Kg);
                    col2im_add(l, w->dcol, dx + (size_t)r * l->ih * l->iw * l->ic, gi);
                }
        }
        break;
    case AXMUL__L_DENSE:
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->ic, l->units, nb, 1.0f, a, l->ic, g,
                    l->units, 0.0f, w->wg[i], l->units);
        memset(w->bg[i], 0, sizeof(float) * (size_t)l->units);
        for (int r = 0; r < nb; r++)
            for (int c = 0; c < l->units; c++)
                w->bg[i][c] += g[(size_t)r * l->units + c];
        if (dx)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, l->ic, l->units, 1.0f, g,
                        l->units, l->w, l->units, 1.0f, dx, l->ic);
        break;
    case AXMUL__L_RELU:
        for (size_t k = 0; dx && k < nin; k++)
            dx[k] += y[k] > 0 ? g[k] : 0.0f;
        break;
    case AXMUL__L_RELU6:
        for (size_t k = 0; dx && k < nin; k++)
            dx[k] += y[k] > 0 && y[k] < 6.0f ? g[k] : 0.0f;
        break;
    case AXMUL__L_BATCHNORM: /* frozen: only the input's gradient */
        for (size_t k = 0; dx && k < nin; k++)
            dx[k] += g[k] * l->w[k % (size_t)l->ic];
        break;
    case AXMUL__L_GLOBALAVG:
    case AXMUL__L_GLOBALMAX: {
        const size_t pix = (size_t)l->ih * l->iw;
        for (int r = 0; dx && r < nb; r++)
            for (int c = 0; c < l->ic; c++) {
                const float gv = g[(size_t)r * l->ic + c];
                const float *xr = a + (size_t)r * pix * l->ic;
                float *dr = dx + (size_t)r * pix * l->ic;
                if (l->kind == AXMUL__L_GLOBALAVG) {
                    for (size_t p = 0; p < pix; p++)
                        dr[p * l->ic + c] += gv / (float)pix;
                } else { /* the first maximum in pixel order, as the forward pass keeps it */
                    size_t arg = 0;
                    for (size_t p = 1; p < pix; p++)
                        if (xr[p * l->ic + c] > xr[arg * l->ic + c])
                            arg = p;
                    dr[arg * l->ic + c] += gv;
                }
            }
        break;
    }
    case AXMUL__L_ADD:
        for (int k = 0; k < 2; k++) {
            float *d = w->grad[l->add[k] + 1];
            for (size_t e = 0; e < nout; e++)
                d[e] += g[e];
        }
        break;
    case AXMUL__L_FLATTEN:
    case AXMUL__L_SOFTMAX:
        for (size_t k = 0; dx && k < nin; k++)
            dx[k] += g[k];
        break;
    case AXMUL__L_AVGPOOL:
    case AXMUL__L_MAXPOOL:
        if (dx)
            pool_backward(l, a, g, nb, dx);
        break;
    }
}

/* One batch (w->act[0], w->lab: nb images): forward pass, softmax cross-entropy on the logits
 * (gradient (p - onehot) / nb), backward pass into w->wg, w->bg. Adds the batch's summed loss
 * and correct predictions. */
static axmul_status batch_step(axmul_model *m, const axmul_train_options *o, batch_t *w, int nb,
                               double *loss_sum, long *correct)
{
    for (int i = 0; i < m->nl; i++) {
        axmul_status st = layer_forward(m, o, w, i, nb);
        if (st != AXMUL_OK)
            return st;
    }
    const int classes = axmul_model_classes(m);
    const float *z = w->act[m->nl];
    for (int j = 1; j < m->nl; j++)
        memset(w->grad[j], 0, sizeof(float) * (size_t)nb * act_size(m, j));
    for (int r = 0; r < nb; r++) {
        const float *zr = z + (size_t)r * classes;
        float *gr = w->grad[m->nl] + (size_t)r * classes;
        float mx = zr[0], sum = 0;
        int best = 0;
        for (int c = 1; c < classes; c++) {
            mx = zr[c] > mx ? zr[c] : mx;
            best = zr[c] > zr[best] ? c : best;
        }
        for (int c = 0; c < classes; c++)
            sum += gr[c] = expf(zr[c] - mx);
        const int lab = w->lab[r];
        for (int c = 0; c < classes; c++)
            gr[c] = (gr[c] / sum - (c == lab ? 1.0f : 0.0f)) / (float)nb;
        *loss_sum += -(double)(zr[lab] - mx - logf(sum));
        *correct += best == lab;
    }
    for (int i = m->nl - 1; i >= 0; i--)
        layer_backward(m, w, i, nb);
    return AXMUL_OK;
}

/* Checks what training can do with m and o; gives missing conv/dense biases zeros (trained). */
static axmul_status train_prepare(axmul_model *m, const axmul_train_options *o,
                                  const uint8_t *labels, int n)
{
    axmul_status s = axmul__check_layer_tables(m, o->layer_tables);
    if (s != AXMUL_OK)
        return s;
    for (int i = 0; i < m->nl; i++) {
        axmul__layer *l = &m->L[i];
        if (l->kind == AXMUL__L_SOFTMAX && i != m->nl - 1)
            return axmul__fail(AXMUL_ERR_UNSUPPORTED, "softmax must be the last layer");
        if (has_params(l) && !l->b) {
            if (!(l->b = calloc((size_t)l->units, sizeof(float))))
                return axmul__fail(AXMUL_ERR_NOMEM, "training: out of memory");
            l->nb = (size_t)l->units;
        }
    }
    const int classes = axmul_model_classes(m);
    for (int i = 0; i < n; i++) /* a label indexes the output row */
        if (labels[i] >= classes)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "label %d of image %d is not a class of the model (0..%d)",
                               labels[i], i, classes - 1);
    return AXMUL_OK;
}

axmul_status axmul__model_gradients(axmul_model *m, const axmul_train_options *o, const float *x,
                                    const uint8_t *labels, int n, double *loss, float **wg,
                                    float **bg)
{
    axmul_error_clear();
    batch_t w;
    axmul_status st = train_prepare(m, o, labels, n);
    if (st != AXMUL_OK || (st = batch_init(&w, m, n)) != AXMUL_OK)
        return st;
    memcpy(w.act[0], x, sizeof(float) * (size_t)n * act_size(m, 0));
    memcpy(w.lab, labels, (size_t)n);
    double sum = 0;
    long correct = 0;
    if ((st = batch_step(m, o, &w, n, &sum, &correct)) == AXMUL_OK) {
        *loss = sum / n;
        for (int i = 0; i < m->nl; i++)
            if (has_params(&m->L[i])) {
                memcpy(wg[i], w.wg[i], sizeof(float) * m->L[i].nw);
                memcpy(bg[i], w.bg[i], sizeof(float) * (size_t)m->L[i].units);
            }
    }
    batch_free(&w, m);
    return st;
}

axmul_status axmul_model_train(axmul_model *m, const float *x, const uint8_t *labels, int n,
                               const axmul_train_options *o)
{
    axmul_error_clear();
    if (!m || !x || !labels || n < 1 || !o || o->epochs < 1 || o->batch < 1 || !(o->lr > 0))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_train: bad argument");
    axmul_status st = train_prepare(m, o, labels, n);
    if (st != AXMUL_OK)
        return st;
    const int B = o->batch < n ? o->batch : n;
    const size_t in_per = act_size(m, 0);
    batch_t w;
    if ((st = batch_init(&w, m, B)) != AXMUL_OK)
        return st;
    adam_t *aw = calloc((size_t)m->nl, sizeof *aw), *ab = calloc((size_t)m->nl, sizeof *ab);
    int *order = malloc(sizeof(int) * (size_t)n);
    int ok = aw && ab && order;
    for (int i = 0; ok && i < m->nl; i++) {
        const axmul__layer *l = &m->L[i];
        if (!has_params(l))
            continue;
        aw[i].m = calloc(l->nw, sizeof(float));
        aw[i].v = calloc(l->nw, sizeof(float));
        ab[i].m = calloc(l->nb, sizeof(float));
        ab[i].v = calloc(l->nb, sizeof(float));
        ok = aw[i].m && aw[i].v && ab[i].m && ab[i].v;
    }
    if (!ok) {
        st = axmul__fail(AXMUL_ERR_NOMEM, "training: out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    uint64_t rng = o->seed;
    int step = 0;
    const int nbatches = (n + B - 1) / B;
    for (int ep = 0; ep < o->epochs; ep++) {
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(axmul__splitmix64(&rng) % (uint64_t)(i + 1));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double loss_sum = 0;
        long correct = 0, seen = 0;
        for (int bi = 0; bi < nbatches; bi++) {
            int b0 = bi * B, nb = n - b0 < B ? n - b0 : B;
            for (int r = 0; r < nb; r++) {
                memcpy(w.act[0] + (size_t)r * in_per, x + (size_t)order[b0 + r] * in_per,
                       sizeof(float) * in_per);
                w.lab[r] = labels[order[b0 + r]];
            }
            if ((st = batch_step(m, o, &w, nb, &loss_sum, &correct)) != AXMUL_OK)
                goto out;
            seen += nb;
            step++;
            for (int i = 0; i < m->nl; i++)
                if (has_params(&m->L[i])) {
                    adam_step(m->L[i].w, &aw[i], w.wg[i], m->L[i].nw, o->lr, step);
                    adam_step(m->L[i].b, &ab[i], w.bg[i], m->L[i].nb, o->lr, step);
                }
            if (o->progress)
                o->progress(o->ctx, ep, bi + 1, nbatches, loss_sum / (double)seen,
                            (double)correct / (double)seen);
        }
    }
    for (int i = 0; i < m->nl; i++) /* the ranges belong to the old weights */
        m->L[i].has_range = 0;
out:
    for (int i = 0; aw && ab && i < m->nl; i++) {
        free(aw[i].m);
        free(aw[i].v);
        free(ab[i].m);
        free(ab[i].v);
    }
    free(aw);
    free(ab);
    free(order);
    batch_free(&w, m);
    return st;
}
