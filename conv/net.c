/* axmul: inference of small CNNs with approximate (LUT) conv2d/dense layers, and calibration of
 * their activation ranges. Layers that are not approximated run in float32 (im2col + SGEMM). */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "conv/conv_internal.h"
#include "conv/net_internal.h"
#include "internal.h"

struct axmul_net_workspace {
    float *a, *b, *col;
    size_t na, ncol;
};

axmul_status axmul_net_workspace_create(axmul_net_workspace **out)
{
    axmul_error_clear();
    if (!out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_net_workspace_create: out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? AXMUL_OK : axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
}

void axmul_net_workspace_free(axmul_net_workspace *w)
{
    if (!w)
        return;
    free(w->a);
    free(w->b);
    free(w->col);
    free(w);
}

/* Makes sure the workspace holds buffers of at least na and ncol floats. */
static int ws_reserve(axmul_net_workspace *w, size_t na, size_t ncol)
{
    if (na > w->na) {
        free(w->a);
        free(w->b);
        w->a = malloc(na * sizeof(float));
        w->b = malloc(na * sizeof(float));
        w->na = w->a && w->b ? na : 0;
        if (!w->na)
            return -1;
    }
    if (ncol > w->ncol) {
        free(w->col);
        w->col = malloc(ncol * sizeof(float));
        w->ncol = w->col ? ncol : 0;
        if (!w->ncol)
            return -1;
    }
    return 0;
}

void axmul_net_options_init(axmul_net_options *o)
{
    memset(o, 0, sizeof *o);
    o->approx = AXMUL_APPROX_CONV;
    o->backend = AXMUL_BACKEND_AUTO;
}

/* TensorFlow's SAME padding (top/left part) for one dimension. */
static int same_pad(int in, int out, int k, int s, int d)
{
    int total = (out - 1) * s + (k - 1) * d + 1 - in;
    return total > 0 ? total / 2 : 0;
}

void axmul__layer_pads(const axmul__layer *l, int *pt, int *pl)
{
    if (l->padding == AXMUL_PADDING_SAME) {
        *pt = same_pad(l->ih, l->oh, l->kh, l->sh, l->dh);
        *pl = same_pad(l->iw, l->ow, l->kw, l->sw, l->dw);
    } else if (l->padding == AXMUL_PADDING_EXPLICIT) {
        *pt = l->pad[0];
        *pl = l->pad[2];
    } else {
        *pt = *pl = 0;
    }
}

void axmul__im2col(const axmul__layer *l, const float *x, float *col, int g)
{
    int pt, pl, cin = l->ic / l->groups;
    axmul__layer_pads(l, &pt, &pl);
    size_t k = (size_t)l->kh * l->kw * cin;
    for (int oy = 0; oy < l->oh; oy++)
        for (int ox = 0; ox < l->ow; ox++) {
            float *dst = col + ((size_t)oy * l->ow + ox) * k;
            for (int i = 0; i < l->kh; i++) {
                int iy = oy * l->sh - pt + i * l->dh;
                for (int j = 0; j < l->kw; j++) {
                    int ix = ox * l->sw - pl + j * l->dw;
                    float *t = dst + ((size_t)i * l->kw + j) * cin;
                    if (iy < 0 || iy >= l->ih || ix < 0 || ix >= l->iw)
                        memset(t, 0, sizeof(float) * (size_t)cin);
                    else
                        memcpy(t, x + ((size_t)iy * l->iw + ix) * l->ic + (size_t)g * cin,
                               sizeof(float) * (size_t)cin);
                }
            }
        }
}

void axmul__conv_float(const axmul__layer *l, const float *x, int n, float *y, float *col)
{
    int cin = l->ic / l->groups, cout = l->units / l->groups;
    int P = l->oh * l->ow, K = l->kh * l->kw * cin;
    size_t in_img = (size_t)l->ih * l->iw * l->ic, out_img = (size_t)P * l->units;
    for (int img = 0; img < n; img++)
        for (int g = 0; g < l->groups; g++) {
            axmul__im2col(l, x + (size_t)img * in_img, col, g);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, cout, K, 1.0f, col, K,
                        l->w + (size_t)g * cout, l->units, 0.0f,
                        y + (size_t)img * out_img + (size_t)g * cout, l->units);
        }
    if (l->b)
        for (size_t p = 0; p < (size_t)n * P; p++)
            for (int o = 0; o < l->units; o++)
                y[p * l->units + o] += l->b[o];
}

/* The float layers between the LUT convolutions (pooling, bias, ReLU) run on the same threads:
 * left serial, they were a third of a LeNet-5 sweep's time on 2 cores while the other core
 * waited. Each output element is computed by one thread in the same order whatever the thread
 * count, so the results do not depend on it. Small tensors stay on one thread. */
#define AXMUL__PAR_MIN 65536 /* elements */

/* Channels innermost (NHWC): the loops over channels vectorize. Each output is still the taps
 * combined in row-major order from 0 (average) or -inf (max), as one element at a time would. */
void axmul__pool(const axmul__layer *l, const float *x, int n, float *y, int nt)
{
    const int c = l->ic, is_max = l->kind == AXMUL__L_MAXPOOL;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt)                                                           \
    schedule(static) if ((size_t)n * l->ih * l->iw * c >= AXMUL__PAR_MIN)
#endif
    for (int img = 0; img < n; img++) {
        const float *xi = x + (size_t)img * l->ih * l->iw * c;
        float *yi = y + (size_t)img * l->oh * l->ow * c;
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                float *acc = yi + ((size_t)oy * l->ow + ox) * c;
                for (int ch = 0; ch < c; ch++)
                    acc[ch] = is_max ? -INFINITY : 0.0f;
                for (int i = 0; i < l->kh; i++)
                    for (int j = 0; j < l->kw; j++) {
                        const float *v =
                            xi + ((size_t)(oy * l->sh + i) * l->iw + (ox * l->sw + j)) * c;
                        if (is_max) {
#ifdef _OPENMP
#pragma omp simd
#endif
                            for (int ch = 0; ch < c; ch++)
                                acc[ch] = v[ch] > acc[ch] ? v[ch] : acc[ch];
                        } else {
#ifdef _OPENMP
#pragma omp simd
#endif
                            for (int ch = 0; ch < c; ch++)
                                acc[ch] += v[ch];
                        }
                    }
                if (!is_max) {
                    const float taps = (float)(l->kh * l->kw);
#ifdef _OPENMP
#pragma omp simd
#endif
                    for (int ch = 0; ch < c; ch++)
                        acc[ch] /= taps;
                }
            }
    }
}

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

/* Mean or max of each channel over an image's pixels, summed in pixel order. */
void axmul__global_pool(const axmul__layer *l, const float *x, int n, float *y)
{
    const int c = l->ic;
    const size_t pix = (size_t)l->ih * l->iw;
    const int is_max = l->kind == AXMUL__L_GLOBALMAX;
    for (int img = 0; img < n; img++) {
        const float *xi = x + (size_t)img * pix * c;
        float *yi = y + (size_t)img * c;
        for (int ch = 0; ch < c; ch++)
            yi[ch] = is_max ? -INFINITY : 0.0f;
        for (size_t p = 0; p < pix; p++)
            for (int ch = 0; ch < c; ch++)
                yi[ch] = is_max ? (xi[p * c + ch] > yi[ch] ? xi[p * c + ch] : yi[ch])
                                : yi[ch] + xi[p * c + ch];
        if (!is_max)
            for (int ch = 0; ch < c; ch++)
                yi[ch] /= (float)pix;
    }
}

/* y[r][c] += bias[c] for rows r < rows (see AXMUL__PAR_MIN). */
void axmul__add_bias(float *y, size_t rows, int units, const float *bias, int nt)
{
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (rows * units >= AXMUL__PAR_MIN)
#endif
    for (size_t r = 0; r < rows; r++) {
        float *yr = y + r * (size_t)units;
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int c = 0; c < units; c++)
            yr[c] += bias[c];
    }
}

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
        if (layer_tables[i] && m->L[i].kind != AXMUL__L_CONV && m->L[i].kind != AXMUL__L_DENSE)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "layer %s is of type %s: only conv2d and dense layers take a table",
                               m->L[i].name, axmul_model_layer_type(m, i));
    return AXMUL_OK;
}

/* The forward pass. observe (calibration): per layer, min/max of each conv/dense input; the pass
 * ends once layer stop's input is observed (stop >= num_layers: the whole network). */
static axmul_status forward(const axmul_model *m, const axmul_net_options *o, const float *x, int n,
                            uint8_t *pred, float *scores, axmul_range *observe, int *observed,
                            int stop)
{
    size_t act = axmul__model_max_act(m);
    size_t col_n = 0;
    for (int i = 0; i < m->nl; i++) {
        const axmul__layer *l = &m->L[i];
        if (l->kind == AXMUL__L_CONV) {
            size_t c = (size_t)l->oh * l->ow * l->kh * l->kw * (l->ic / l->groups);
            col_n = c > col_n ? c : col_n;
        }
    }
    axmul_net_workspace local = {0}, *ws = o->workspace ? o->workspace : &local;
    size_t need;
    if (!axmul__mul_size((size_t)n, act, &need) || need > ((size_t)1 << 32) ||
        !axmul__mul_size(need, sizeof(float), &need))
        return axmul__fail(AXMUL_ERR_OVERFLOW,
                           "model: a batch of %d images needs more than 2^32 activations (use a "
                           "smaller --batch)",
                           n);
    if (ws_reserve(ws, (size_t)n * act, col_n ? col_n : 1) != 0) {
        if (ws == &local) {
            free(local.a);
            free(local.b);
            free(local.col);
        }
        return axmul__fail(AXMUL_ERR_NOMEM, "model: out of memory for a batch of %d images", n);
    }
    float *a = ws->a, *b = ws->b, *col = ws->col;
    /* outputs that later layers read out of order (residual blocks) */
    float **saved = calloc((size_t)m->nl, sizeof *saved);
    axmul_status s = saved ? AXMUL_OK : axmul__fail(AXMUL_ERR_NOMEM, "model: out of memory");
    for (int i = 0; i < m->nl && s == AXMUL_OK; i++)
        if (m->L[i].saved &&
            !(saved[i] = malloc((size_t)n * axmul_model_layer_output_size(m, i) * sizeof(float))))
            s = axmul__fail(AXMUL_ERR_NOMEM, "model: out of memory for a batch of %d images", n);
    memcpy(a, x, (size_t)n * m->in_h * m->in_w * m->in_c * sizeof(float));
    int nt = o->threads > 0 ? o->threads : 1;
#ifdef _OPENMP
    if (o->threads <= 0)
        nt = omp_get_max_threads();
#endif
    if (s == AXMUL_OK)
        s = axmul__check_layer_tables(m, o->layer_tables);
    for (int i = 0; i < m->nl && s == AXMUL_OK; i++) {
        const axmul__layer *l = &m->L[i];
        size_t nin = (size_t)n * l->ih * l->iw * l->ic, nout = (size_t)n * l->oh * l->ow * l->oc;
        int param = l->kind == AXMUL__L_CONV || l->kind == AXMUL__L_DENSE;
        int inplace = 0; /* the layer rewrote a: no buffer swap */
        if (l->src)      /* an input out of order: a saved output */
            memcpy(a, saved[l->src - 1], nin * sizeof(float));
        if (param && observe) {
            axmul_range r;
            if ((s = axmul_range_of(a, nin, l->name, &r)) != AXMUL_OK)
                break;
            if (!observed[i] || r.min < observe[i].min)
                observe[i].min = r.min;
            if (!observed[i] || r.max > observe[i].max)
                observe[i].max = r.max;
            observed[i] = 1;
        }
        if (i == stop)
            break;
        const axmul_table *table = axmul__layer_table(m, i, o->table, o->approx, o->layer_tables);
        const int approx = table != NULL;
        switch (l->kind) {
        case AXMUL__L_CONV:
        case AXMUL__L_DENSE:
            if (approx) {
                axmul_conv_desc d;
                axmul__layer_conv_desc(l, n, l->ih, l->iw, l->ic, &d);
                d.per_channel = o->per_channel;
                d.backend = o->backend;
                d.threads = o->threads;
                d.input_name = l->name;
                d.filter_name = l->wfile;
                if (!o->batch_ranges) {
                    if (!l->has_range) {
                        s = axmul__fail(AXMUL_ERR_RANGE,
                                        "layer %s has no calibrated input range (run "
                                        "'axconv-test calibrate', or use per-batch ranges)",
                                        l->name);
                        break;
                    }
                    d.input_range_set = 1;
                    d.input_range = l->in_range;
                }
                if (o->act_hist &&
                    (s = layer_histograms(l, &d, a, nin, axmul_table_is_signed(table),
                                          o->act_hist + 256 * (size_t)i,
                                          o->wt_hist + 256 * (size_t)i)) != AXMUL_OK)
                    break;
                if ((s = axmul_conv2d(&d, table, a, l->w, b, NULL)) != AXMUL_OK)
                    break;
                if (l->b)
                    axmul__add_bias(b, nout / (size_t)l->units, l->units, l->b, nt);
            } else if (l->kind == AXMUL__L_CONV) {
                axmul__conv_float(l, a, n, b, col);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, l->units, l->ic, 1.0f, a,
                            l->ic, l->w, l->units, 0.0f, b, l->units);
                if (l->b)
                    axmul__add_bias(b, (size_t)n, l->units, l->b, nt);
            }
            if (o->layer_output)
                o->layer_output(o->ctx, i, b, nout);
            break;
        case AXMUL__L_AVGPOOL:
        case AXMUL__L_MAXPOOL:
            axmul__pool(l, a, n, b, nt);
            break;
        case AXMUL__L_RELU: /* in place: no buffer swap */
#ifdef _OPENMP
#pragma omp parallel for simd num_threads(nt) schedule(static) if (nin >= AXMUL__PAR_MIN)
#endif
            for (size_t k = 0; k < nin; k++)
                a[k] = a[k] > 0 ? a[k] : 0.0f;
            inplace = 1;
            break;
        case AXMUL__L_RELU6:
#ifdef _OPENMP
#pragma omp parallel for simd num_threads(nt) schedule(static) if (nin >= AXMUL__PAR_MIN)
#endif
            for (size_t k = 0; k < nin; k++)
                a[k] = a[k] > 0 ? (a[k] < 6.0f ? a[k] : 6.0f) : 0.0f;
            inplace = 1;
            break;
        case AXMUL__L_BATCHNORM: { /* in place, per channel (the last, fastest index) */
            const size_t pix = nin / (size_t)l->ic;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nin >= AXMUL__PAR_MIN)
#endif
            for (size_t p = 0; p < pix; p++) {
                float *v = a + p * (size_t)l->ic;
                for (int c = 0; c < l->ic; c++)
                    v[c] = v[c] * l->w[c] + l->b[c];
            }
            inplace = 1;
            break;
        }
        case AXMUL__L_GLOBALAVG:
        case AXMUL__L_GLOBALMAX:
            axmul__global_pool(l, a, n, b);
            break;
        case AXMUL__L_FLATTEN: /* NHWC is already flat per image */
            inplace = 1;
            break;
        case AXMUL__L_ADD: {
            const float *x0 = saved[l->add[0]], *x1 = saved[l->add[1]];
#ifdef _OPENMP
#pragma omp parallel for simd num_threads(nt) schedule(static) if (nout >= AXMUL__PAR_MIN)
#endif
            for (size_t k = 0; k < nout; k++)
                b[k] = x0[k] + x1[k];
            break;
        }
        case AXMUL__L_SOFTMAX:
            for (int r = 0; r < n; r++) {
                const float *z = a + (size_t)r * l->ic;
                float *p = b + (size_t)r * l->ic, mx = z[0], sum = 0;
                for (int c = 1; c < l->ic; c++)
                    mx = z[c] > mx ? z[c] : mx;
                for (int c = 0; c < l->ic; c++)
                    sum += p[c] = expf(z[c] - mx);
                for (int c = 0; c < l->ic; c++)
                    p[c] /= sum;
            }
            break;
        }
        if (!inplace) {
            float *t = a;
            a = b;
            b = t;
        }
        if (l->saved && s == AXMUL_OK)
            memcpy(saved[i], a, nout * sizeof(float));
    }
    if (s == AXMUL_OK && stop >= m->nl) {
        int classes = axmul_model_classes(m);
        for (int r = 0; r < n; r++) {
            const float *z = a + (size_t)r * classes;
            int best = 0;
            for (int c = 1; c < classes; c++)
                if (z[c] > z[best])
                    best = c;
            if (pred)
                pred[r] = (uint8_t)best;
        }
        if (scores)
            memcpy(scores, a, (size_t)n * classes * sizeof(float));
    }
    for (int i = 0; saved && i < m->nl; i++)
        free(saved[i]);
    free(saved);
    if (ws == &local) {
        free(local.a);
        free(local.b);
        free(local.col);
    }
    return s;
}

axmul_status axmul_model_predict(const axmul_model *m, const axmul_net_options *o, const float *x,
                                 int n, uint8_t *pred, float *scores)
{
    axmul_error_clear();
    if (!m || !o || !x || n < 1)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_predict: bad argument");
    return forward(m, o, x, n, pred, scores, NULL, NULL, m->nl);
}

/* Min/max of the inputs of the conv/dense layers over the n images in batches, in the network
 * of o (its ranges: batch or the model's), stopping after layer stop's input; into the layers
 * that want (NULL: all). */
static axmul_status observe_ranges(axmul_model *m, const axmul_net_options *o, const float *x,
                                   int n, int batch, int stop, const int *want)
{
    axmul_range *obs = calloc((size_t)m->nl, sizeof *obs);
    int *seen = calloc((size_t)m->nl, sizeof *seen);
    if (!obs || !seen) {
        free(obs);
        free(seen);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    size_t per = (size_t)m->in_h * m->in_w * m->in_c;
    axmul_status s = AXMUL_OK;
    for (int i0 = 0; i0 < n && s == AXMUL_OK; i0 += batch) {
        int nb = n - i0 < batch ? n - i0 : batch;
        s = forward(m, o, x + (size_t)i0 * per, nb, NULL, NULL, obs, seen, stop);
    }
    if (s == AXMUL_OK)
        for (int i = 0; i < m->nl; i++)
            if (seen[i] && (!want || want[i])) {
                m->L[i].in_range = obs[i];
                axmul__range_include_zero(&m->L[i].in_range);
                m->L[i].has_range = 1;
            }
    free(obs);
    free(seen);
    return s;
}

axmul_status axmul_model_calibrate(axmul_model *m, const float *x, int n, int batch, int threads)
{
    axmul_error_clear();
    if (!m || !x || n < 1)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_calibrate: bad argument");
    axmul_net_options o;
    axmul_net_options_init(&o);
    o.threads = threads;
    return observe_ranges(m, &o, x, n, batch < 1 ? 1000 : batch, m->nl, NULL);
}

axmul_status axmul_model_calibrate_network(axmul_model *m, const axmul_net_options *o,
                                           const float *x, int n, int batch)
{
    axmul_error_clear();
    if (!m || !o || !x || n < 1)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                           "axmul_model_calibrate_network: bad argument");
    batch = batch < 1 ? 1000 : batch;
    axmul_status s = axmul_model_calibrate(m, x, n, batch, o->threads);
    axmul_net_options q = *o;
    q.batch_ranges = 0; /* the layers before each one: their new ranges */
    q.layer_output = NULL;
    q.act_hist = q.wt_hist = NULL;
    int *want = calloc((size_t)m->nl, sizeof *want);
    if (s == AXMUL_OK && !want)
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < m->nl && s == AXMUL_OK; k++) {
        if (!axmul__layer_table(m, k, o->table, o->approx, o->layer_tables))
            continue; /* a float layer: the float network's range */
        want[k] = 1;
        s = observe_ranges(m, &q, x, n, batch, k, want);
        want[k] = 0;
    }
    free(want);
    return s;
}
