/* axmul: training of small CNNs: mini-batch back-propagation with softmax cross-entropy and Adam
 * (Kingma and Ba, "Adam: A method for stochastic optimization", ICLR 2015), with Keras' default
 * constants (beta1 0.9, beta2 0.999, epsilon 1e-7). Convolutions are im2col + SGEMM; every
 * reduction runs in a fixed order, so a run is bit-reproducible for one seed, thread count and
 * machine. Graphs (a layer's "input", "add") back-propagate by summing the gradients that reach
 * an output; batch normalization is frozen (its inference scale and offset, not trained). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/core/rng.h"
#include "lib/net/net.h"

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
            c *= axmul__layer_batched_im2col(l) ? (size_t)B : 1; /* one image at a time otherwise */
            colmax = c > colmax ? c : colmax;
        }
        if (axmul__layer_params(l))
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

/* The inputs of layer i in the batch's activations: its source (the previous layer's output, or
 * the layer its "input" names), or an add's or concat's operands; with their gradients (NULL for
 * the network input, which needs none). */
static void layer_io(const batch_t *w, const axmul__layer *l, int i,
                     const float *in[AXMUL__MAX_MERGE], float *dx[AXMUL__MAX_MERGE])
{
    for (int k = 0; k < AXMUL__MAX_MERGE; k++) {
        in[k] = NULL;
        dx[k] = NULL;
    }
    if (l->ops->merge) {
        for (int k = 0; k < l->nadd; k++) {
            in[k] = w->act[l->add[k] + 1];
            dx[k] = w->grad[l->add[k] + 1];
        }
        return;
    }
    const int src = l->src ? l->src : i;
    in[0] = w->act[src];
    dx[0] = src > 0 ? w->grad[src] : NULL;
}

/* Forward pass of layer i on the batch's first nb images (w->act): the kind's forward
 * operation, with the inference LUT layer where the options give the layer a table. */
static axmul_status layer_forward(axmul_model *m, const axmul_train_options *o, batch_t *w, int i,
                                  int nb)
{
    const axmul__layer *l = &m->L[i];
    const float *in[AXMUL__MAX_MERGE];
    float *dx[AXMUL__MAX_MERGE];
    layer_io(w, l, i, in, dx);
    const axmul__fwd f = {m,
                          NULL,
                          o,
                          i,
                          nb,
                          o->threads > 0 ? o->threads : 1,
                          axmul__layer_table(m, i, o->table, o->approx, o->layer_tables),
                          w->col};
    return l->ops->forward(&f, l, in, w->act[i + 1]);
}

/* Backward pass of layer i: its parameter gradients (w->wg, w->bg) from the gradient of its
 * output, and that gradient through the layer added onto its inputs'. */
static void layer_backward(const axmul_model *m, batch_t *w, int i, int nb)
{
    const axmul__layer *l = &m->L[i];
    const float *in[AXMUL__MAX_MERGE];
    float *dx[AXMUL__MAX_MERGE];
    layer_io(w, l, i, in, dx);
    const axmul__bwd b = {nb, w->col, w->dcol, w->wg[i], w->bg[i]};
    l->ops->backward(&b, l, in, w->act[i + 1], w->grad[i + 1], dx);
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
        if (axmul__layer_params(l) && !l->b) {
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
            if (axmul__layer_params(&m->L[i])) {
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
    if (m->ox)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: an ONNX model trains as its layer model: convert it with "
                           "axmul_model_to_layers (axconv-test train --from does)",
                           m->name);
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
        if (!axmul__layer_params(l))
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
                if (axmul__layer_params(&m->L[i])) {
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
