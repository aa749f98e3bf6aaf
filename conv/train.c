/* axmul: float training of small CNNs: mini-batch back-propagation with softmax cross-entropy and
 * Adam (Kingma and Ba, "Adam: A method for stochastic optimization", ICLR 2015), with Keras'
 * default constants (beta1 0.9, beta2 0.999, epsilon 1e-7). Convolutions are batched im2col +
 * SGEMM; every reduction runs in a fixed order, so a run is bit-reproducible for one seed, thread
 * count and machine. */
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

/* The table of layer i in approximation-aware training, or NULL (float). */
static const axmul_table *layer_table(const axmul_train_options *o, const axmul__layer *l, int i)
{
    if (o->layer_tables && o->layer_tables[i])
        return o->layer_tables[i];
    int bit = l->kind == AXMUL__L_CONV    ? AXMUL_APPROX_CONV
              : l->kind == AXMUL__L_DENSE ? AXMUL_APPROX_DENSE
                                          : 0;
    return o->approx & bit ? o->table : NULL;
}

typedef struct {
    float *m, *v, *g; /* Adam moments and the batch gradient */
} adam_t;

static void adam_step(float *w, adam_t *a, size_t n, float lr, int t)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < n; i++) {
        a->m[i] = b1 * a->m[i] + (1.0f - b1) * a->g[i];
        a->v[i] = b2 * a->v[i] + (1.0f - b2) * a->g[i] * a->g[i];
        float mh = a->m[i] / c1, vh = a->v[i] / c2;
        w[i] -= lr * mh / (sqrtf(vh) + eps);
    }
}

/* col2im: adds the columns' gradients back onto the input image gradient. */
static void col2im_add(const axmul__layer *l, const float *col, float *dx)
{
    int pt = 0, pl = 0;
    if (l->padding == AXMUL_PADDING_SAME) {
        int th = (l->oh - 1) + l->kh - l->ih, tw = (l->ow - 1) + l->kw - l->iw;
        pt = th > 0 ? th / 2 : 0;
        pl = tw > 0 ? tw / 2 : 0;
    } else if (l->padding == AXMUL_PADDING_EXPLICIT) {
        pt = l->pad[0];
        pl = l->pad[2];
    }
    int cin = l->ic;
    size_t k = (size_t)l->kh * l->kw * cin;
    for (int oy = 0; oy < l->oh; oy++)
        for (int ox = 0; ox < l->ow; ox++) {
            const float *src = col + ((size_t)oy * l->ow + ox) * k;
            for (int i = 0; i < l->kh; i++) {
                int iy = oy - pt + i;
                if (iy < 0 || iy >= l->ih)
                    continue;
                for (int j = 0; j < l->kw; j++) {
                    int ix = ox - pl + j;
                    if (ix < 0 || ix >= l->iw)
                        continue;
                    const float *t = src + ((size_t)i * l->kw + j) * cin;
                    float *d = dx + ((size_t)iy * l->iw + ix) * cin;
                    for (int c = 0; c < cin; c++)
                        d[c] += t[c];
                }
            }
        }
}

axmul_status axmul_model_train(axmul_model *m, const float *x, const uint8_t *labels, int n,
                               const axmul_train_options *o)
{
    axmul_error_clear();
    if (!m || !x || !labels || n < 1 || !o || o->epochs < 1 || o->batch < 1 || !(o->lr > 0))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_train: bad argument");
    for (int i = 0; i < m->nl; i++) {
        const axmul__layer *l = &m->L[i];
        if (l->kind == AXMUL__L_CONV &&
            (l->sh != 1 || l->sw != 1 || l->dh != 1 || l->dw != 1 || l->groups != 1))
            return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                               "training supports conv2d with stride 1, dilation 1 and 1 group "
                               "(layer %s)",
                               l->name);
        if (l->kind == AXMUL__L_SOFTMAX && i != m->nl - 1)
            return axmul__fail(AXMUL_ERR_UNSUPPORTED, "softmax must be the last layer");
        /* the layers the backward pass knows, so that a new kind is refused until it does */
        const int trainable = l->kind == AXMUL__L_CONV || l->kind == AXMUL__L_DENSE ||
                              l->kind == AXMUL__L_AVGPOOL || l->kind == AXMUL__L_MAXPOOL ||
                              l->kind == AXMUL__L_RELU || l->kind == AXMUL__L_FLATTEN ||
                              l->kind == AXMUL__L_SOFTMAX;
        if (o->layer_tables && o->layer_tables[i] && l->kind != AXMUL__L_CONV &&
            l->kind != AXMUL__L_DENSE)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "layer %s is of type %s: only conv2d and dense layers take a table",
                               l->name, axmul_model_layer_type(m, i));
        if (!trainable || l->src)
            return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                               "training supports chains of conv2d, dense, avgpool, maxpool, "
                               "relu, flatten and softmax layers (layer %s is %s%s)",
                               l->name, axmul_model_layer_type(m, i),
                               l->src ? " with an \"input\"" : "");
    }
    const int classes = axmul_model_classes(m);
    for (int i = 0; i < n; i++) /* a label indexes the output row */
        if (labels[i] >= classes)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "label %d of image %d is not a class of the model (0..%d)",
                               labels[i], i, classes - 1);
    const int B = o->batch < n ? o->batch : n;
    const size_t in_per = (size_t)m->in_h * m->in_w * m->in_c;
    axmul_status st = AXMUL_OK;

    /* activations of every layer for one batch, their gradients, im2col scratch, Adam state */
    float **act = calloc((size_t)m->nl + 1, sizeof *act);
    adam_t *aw = calloc((size_t)m->nl, sizeof *aw), *ab = calloc((size_t)m->nl, sizeof *ab);
    size_t maxact = axmul__model_max_act(m), colmax = 1;
    int *order = malloc(sizeof(int) * (size_t)n);
    float *g = malloc(sizeof(float) * (size_t)B * maxact);
    float *dg = malloc(sizeof(float) * (size_t)B * maxact);
    int ok = act && aw && ab && order && g && dg;
    for (int i = 0; ok && i <= m->nl; i++) {
        size_t sz = i == 0 ? in_per : (size_t)m->L[i - 1].oh * m->L[i - 1].ow * m->L[i - 1].oc;
        ok = (act[i] = malloc(sizeof(float) * (size_t)B * sz)) != NULL;
    }
    for (int i = 0; ok && i < m->nl; i++) {
        axmul__layer *l = &m->L[i];
        if (l->kind == AXMUL__L_CONV) {
            size_t c = (size_t)B * l->oh * l->ow * l->kh * l->kw * l->ic;
            colmax = c > colmax ? c : colmax;
        }
        if (l->kind != AXMUL__L_CONV && l->kind != AXMUL__L_DENSE)
            continue;
        if (!l->b) {
            l->b = calloc((size_t)l->units, sizeof(float));
            l->nb = (size_t)l->units;
        }
        aw[i].m = calloc(l->nw, sizeof(float));
        aw[i].v = calloc(l->nw, sizeof(float));
        aw[i].g = calloc(l->nw, sizeof(float));
        ab[i].m = calloc(l->nb, sizeof(float));
        ab[i].v = calloc(l->nb, sizeof(float));
        ab[i].g = calloc(l->nb, sizeof(float));
        ok = l->b && aw[i].m && aw[i].v && aw[i].g && ab[i].m && ab[i].v && ab[i].g;
    }
    float *col = ok ? malloc(sizeof(float) * colmax) : NULL;
    float *dcol = ok ? malloc(sizeof(float) * colmax) : NULL;
    if (!ok || !col || !dcol) {
        st = axmul__fail(AXMUL_ERR_NOMEM, "training: out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    uint64_t rng = o->seed;
    int step = 0;
    int nbatches = (n + B - 1) / B;
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
            for (int r = 0; r < nb; r++)
                memcpy(act[0] + (size_t)r * in_per, x + (size_t)order[b0 + r] * in_per,
                       sizeof(float) * in_per);
            /* forward */
            for (int i = 0; i < m->nl; i++) {
                axmul__layer *l = &m->L[i];
                const float *a = act[i];
                float *y = act[i + 1];
                size_t nin = (size_t)nb * l->ih * l->iw * l->ic;
                size_t P = (size_t)l->oh * l->ow, K = (size_t)l->kh * l->kw * l->ic;
                const axmul_table *t = layer_table(o, l, i);
                /* The inference LUT layer, its input quantized to the batch's min/max: the
                 * ranges of the approximate network that the training changes (calibrated
                 * ranges of the old weights would clip it). Bias added below as in float. */
                if (t) {
                    axmul_conv_desc d;
                    axmul__layer_conv_desc(l, nb, l->ih, l->iw, l->ic, &d);
                    d.per_channel = o->per_channel;
                    d.backend = AXMUL_BACKEND_AUTO;
                    d.threads = o->threads;
                    d.input_name = l->name;
                    d.filter_name = l->wfile;
                    if ((st = axmul_conv2d(&d, t, a, l->w, y, NULL)) != AXMUL_OK)
                        goto out;
                }
                switch (l->kind) {
                case AXMUL__L_CONV:
                    for (int r = 0; r < nb && !t; r++)
                        axmul__im2col(l, a + (size_t)r * l->ih * l->iw * l->ic,
                                      col + (size_t)r * P * K, 0);
                    if (!t)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nb * P),
                                    l->units, (int)K, 1.0f, col, (int)K, l->w, l->units, 0.0f, y,
                                    l->units);
                    for (size_t p = 0; p < (size_t)nb * P; p++)
                        for (int c = 0; c < l->units; c++)
                            y[p * l->units + c] += l->b[c];
                    break;
                case AXMUL__L_DENSE:
                    if (!t)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, l->units, l->ic,
                                    1.0f, a, l->ic, l->w, l->units, 0.0f, y, l->units);
                    for (int r = 0; r < nb; r++)
                        for (int c = 0; c < l->units; c++)
                            y[(size_t)r * l->units + c] += l->b[c];
                    break;
                case AXMUL__L_RELU:
                    for (size_t k = 0; k < nin; k++)
                        y[k] = a[k] > 0 ? a[k] : 0.0f;
                    break;
                case AXMUL__L_FLATTEN:
                case AXMUL__L_SOFTMAX: /* the loss applies the softmax to the logits */
                    memcpy(y, a, nin * sizeof(float));
                    break;
                default: /* not trainable: refused above */
                    break;
                case AXMUL__L_AVGPOOL:
                case AXMUL__L_MAXPOOL:
                    for (int r = 0; r < nb; r++)
                        for (int oy = 0; oy < l->oh; oy++)
                            for (int ox = 0; ox < l->ow; ox++)
                                for (int c = 0; c < l->ic; c++) {
                                    const float *xi = a + (size_t)r * l->ih * l->iw * l->ic;
                                    float acc = l->kind == AXMUL__L_MAXPOOL ? -INFINITY : 0.0f;
                                    for (int pi = 0; pi < l->kh; pi++)
                                        for (int pj = 0; pj < l->kw; pj++) {
                                            float v = xi[((size_t)(oy * l->sh + pi) * l->iw +
                                                          (ox * l->sw + pj)) *
                                                             l->ic +
                                                         c];
                                            acc = l->kind == AXMUL__L_MAXPOOL ? (v > acc ? v : acc)
                                                                              : acc + v;
                                        }
                                    if (l->kind == AXMUL__L_AVGPOOL)
                                        acc /= (float)(l->kh * l->kw);
                                    y[(((size_t)r * l->oh + oy) * l->ow + ox) * l->ic + c] = acc;
                                }
                    break;
                }
            }
            /* softmax cross-entropy on the logits: gradient (p - onehot) / nb */
            const float *z = act[m->nl];
            for (int r = 0; r < nb; r++) {
                const float *zr = z + (size_t)r * classes;
                float *gr = g + (size_t)r * classes;
                float mx = zr[0], sum = 0;
                int best = 0;
                for (int c = 1; c < classes; c++) {
                    mx = zr[c] > mx ? zr[c] : mx;
                    best = zr[c] > zr[best] ? c : best;
                }
                for (int c = 0; c < classes; c++)
                    sum += gr[c] = expf(zr[c] - mx);
                int lab = labels[order[b0 + r]];
                for (int c = 0; c < classes; c++)
                    gr[c] = (gr[c] / sum - (c == lab ? 1.0f : 0.0f)) / (float)nb;
                loss_sum += -(double)(zr[lab] - mx - logf(sum));
                correct += best == lab;
            }
            seen += nb;
            /* backward: g holds d(loss)/d(output of layer i) */
            for (int i = m->nl - 1; i >= 0; i--) {
                axmul__layer *l = &m->L[i];
                const float *a = act[i], *y = act[i + 1];
                size_t nin = (size_t)nb * l->ih * l->iw * l->ic;
                size_t P = (size_t)l->oh * l->ow, K = (size_t)l->kh * l->kw * l->ic;
                int need_dx = i > 0;
                switch (l->kind) {
                case AXMUL__L_CONV:
                    for (int r = 0; r < nb;
                         r++) /* the forward's columns were overwritten by later layers */
                        axmul__im2col(l, a + (size_t)r * l->ih * l->iw * l->ic,
                                      col + (size_t)r * P * K, 0);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, l->units,
                                (int)(nb * P), 1.0f, col, (int)K, g, l->units, 0.0f, aw[i].g,
                                l->units);
                    memset(ab[i].g, 0, sizeof(float) * (size_t)l->units);
                    for (size_t p = 0; p < (size_t)nb * P; p++)
                        for (int c = 0; c < l->units; c++)
                            ab[i].g[c] += g[p * l->units + c];
                    if (need_dx) {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nb * P), (int)K,
                                    l->units, 1.0f, g, l->units, l->w, l->units, 0.0f, dcol,
                                    (int)K);
                        memset(dg, 0, nin * sizeof(float));
                        for (int r = 0; r < nb; r++)
                            col2im_add(l, dcol + (size_t)r * P * K,
                                       dg + (size_t)r * l->ih * l->iw * l->ic);
                    }
                    break;
                case AXMUL__L_DENSE:
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->ic, l->units, nb, 1.0f,
                                a, l->ic, g, l->units, 0.0f, aw[i].g, l->units);
                    memset(ab[i].g, 0, sizeof(float) * (size_t)l->units);
                    for (int r = 0; r < nb; r++)
                        for (int c = 0; c < l->units; c++)
                            ab[i].g[c] += g[(size_t)r * l->units + c];
                    if (need_dx)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, l->ic, l->units,
                                    1.0f, g, l->units, l->w, l->units, 0.0f, dg, l->ic);
                    break;
                case AXMUL__L_RELU:
                    for (size_t k = 0; k < nin; k++)
                        dg[k] = y[k] > 0 ? g[k] : 0.0f;
                    break;
                case AXMUL__L_FLATTEN:
                case AXMUL__L_SOFTMAX:
                    memcpy(dg, g, nin * sizeof(float));
                    break;
                default: /* not trainable: refused above */
                    break;
                case AXMUL__L_AVGPOOL:
                case AXMUL__L_MAXPOOL:
                    memset(dg, 0, nin * sizeof(float));
                    for (int r = 0; r < nb; r++)
                        for (int oy = 0; oy < l->oh; oy++)
                            for (int ox = 0; ox < l->ow; ox++)
                                for (int c = 0; c < l->ic; c++) {
                                    size_t base = (size_t)r * l->ih * l->iw * l->ic;
                                    float gv =
                                        g[(((size_t)r * l->oh + oy) * l->ow + ox) * l->ic + c];
                                    size_t arg = 0;
                                    float best = -INFINITY;
                                    for (int pi = 0; pi < l->kh; pi++)
                                        for (int pj = 0; pj < l->kw; pj++) {
                                            size_t idx = base +
                                                         ((size_t)(oy * l->sh + pi) * l->iw +
                                                          (ox * l->sw + pj)) *
                                                             l->ic +
                                                         c;
                                            if (l->kind == AXMUL__L_AVGPOOL)
                                                dg[idx] += gv / (float)(l->kh * l->kw);
                                            else if (a[idx] > best) {
                                                best = a[idx];
                                                arg = idx;
                                            }
                                        }
                                    if (l->kind == AXMUL__L_MAXPOOL)
                                        dg[arg] += gv;
                                }
                    break;
                }
                float *t = g;
                g = dg;
                dg = t;
            }
            step++;
            for (int i = 0; i < m->nl; i++)
                if (m->L[i].kind == AXMUL__L_CONV || m->L[i].kind == AXMUL__L_DENSE) {
                    adam_step(m->L[i].w, &aw[i], m->L[i].nw, o->lr, step);
                    adam_step(m->L[i].b, &ab[i], m->L[i].nb, o->lr, step);
                }
            if (o->progress)
                o->progress(o->ctx, ep, bi + 1, nbatches, loss_sum / (double)seen,
                            (double)correct / (double)seen);
        }
    }
    for (int i = 0; i < m->nl; i++) /* the ranges belong to the old weights */
        m->L[i].has_range = 0;
out:
    for (int i = 0; act && i <= m->nl; i++)
        free(act[i]);
    for (int i = 0; aw && ab && i < m->nl; i++) {
        free(aw[i].m);
        free(aw[i].v);
        free(aw[i].g);
        free(ab[i].m);
        free(ab[i].v);
        free(ab[i].g);
    }
    free(act);
    free(aw);
    free(ab);
    free(order);
    free(g);
    free(dg);
    free(col);
    free(dcol);
    return st;
}
