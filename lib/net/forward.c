/* axmul: inference of networks with approximate (LUT) conv2d/dense layers, layer by layer
 * through each kind's forward operation (lib/net/layers), and calibration of their activation
 * ranges. Layers without a table run in float32. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lib/core/internal.h"
#include "lib/net/net.h"

struct axmul_net_workspace {
    float *a, *b, *col;
    size_t na, ncol;
};

/* Frees a workspace's buffers (not the workspace): the forward pass's own, when the caller
 * gave none. */
static void ws_release(axmul_net_workspace *w)
{
    free(w->a);
    free(w->b);
    free(w->col);
    w->a = w->b = w->col = NULL;
    w->na = w->ncol = 0;
}

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
    ws_release(w);
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

/* The layers' inputs for the forward pass: in[0] the current activations a, or an add's or
 * concat's operands (saved outputs). */
static void layer_inputs(const axmul__layer *l, const float *a, float *const *saved,
                         const float *in[AXMUL__MAX_MERGE])
{
    for (int k = 0; k < AXMUL__MAX_MERGE; k++)
        in[k] = l->ops->merge ? (k < l->nadd ? saved[l->add[k]] : NULL) : (k ? NULL : a);
}

/* Min/max of the input of a conv2d/dense layer into observe[i] (calibration). */
static axmul_status observe_input(const axmul__layer *l, const float *a, size_t nin,
                                  axmul_range *observe, int *observed, int i)
{
    axmul_range r;
    axmul_status s = axmul_range_of(a, nin, l->name, &r);
    if (s != AXMUL_OK)
        return s;
    if (!observed[i] || r.min < observe[i].min)
        observe[i].min = r.min;
    if (!observed[i] || r.max > observe[i].max)
        observe[i].max = r.max;
    observed[i] = 1;
    return AXMUL_OK;
}

/* The predicted class (first largest score) and scores of each image of the last layer's
 * output z. */
static void predictions(const axmul_model *m, const float *z, int n, uint8_t *pred, float *scores)
{
    const int classes = axmul_model_classes(m);
    for (int r = 0; r < n && pred; r++) {
        const float *zr = z + (size_t)r * classes;
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (zr[c] > zr[best])
                best = c;
        pred[r] = (uint8_t)best;
    }
    if (scores)
        memcpy(scores, z, (size_t)n * classes * sizeof(float));
}

/* The forward pass. observe (calibration): per layer, min/max of each conv/dense input; the pass
 * ends once layer stop's input is observed (stop >= num_layers: the whole network). Layers that
 * may run in place do (no buffer swap); the others write the second buffer. */
static axmul_status forward(const axmul_model *m, const axmul_net_options *o, const float *x, int n,
                            uint8_t *pred, float *scores, axmul_range *observe, int *observed,
                            int stop)
{
    const size_t act = axmul__model_max_act(m), col_n = axmul__model_col_size(m);
    axmul_net_workspace local = {0}, *ws = o->workspace ? o->workspace : &local;
    size_t need;
    if (!axmul__mul_size((size_t)n, act, &need) || need > ((size_t)1 << 32) ||
        !axmul__mul_size(need, sizeof(float), &need))
        return axmul__fail(AXMUL_ERR_OVERFLOW,
                           "model: a batch of %d images needs more than 2^32 activations (use a "
                           "smaller --batch)",
                           n);
    if (ws_reserve(ws, (size_t)n * act, col_n ? col_n : 1) != 0) {
        ws_release(&local);
        return axmul__fail(AXMUL_ERR_NOMEM, "model: out of memory for a batch of %d images", n);
    }
    float *a = ws->a, *b = ws->b;
    /* outputs that later layers read out of order (residual blocks) */
    float **saved = calloc((size_t)m->nl, sizeof *saved);
    axmul_status s = saved ? AXMUL_OK : axmul__fail(AXMUL_ERR_NOMEM, "model: out of memory");
    for (int i = 0; i < m->nl && s == AXMUL_OK; i++)
        if (m->L[i].saved &&
            !(saved[i] = malloc((size_t)n * axmul_model_layer_output_size(m, i) * sizeof(float))))
            s = axmul__fail(AXMUL_ERR_NOMEM, "model: out of memory for a batch of %d images", n);
    memcpy(a, x, (size_t)n * m->in_h * m->in_w * m->in_c * sizeof(float));
    axmul__fwd f = {m, o, NULL, 0, n, o->threads > 0 ? o->threads : 1, NULL, ws->col};
#ifdef _OPENMP
    if (o->threads <= 0)
        f.nt = omp_get_max_threads();
#endif
    if (s == AXMUL_OK)
        s = axmul__check_layer_tables(m, o->layer_tables);
    for (int i = 0; i < m->nl && s == AXMUL_OK; i++) {
        const axmul__layer *l = &m->L[i];
        const size_t nin = (size_t)n * l->ih * l->iw * l->ic;
        const size_t nout = (size_t)n * l->oh * l->ow * l->oc;
        if (l->src) /* an input out of order: a saved output */
            memcpy(a, saved[l->src - 1], nin * sizeof(float));
        if (l->ops->params && observe &&
            (s = observe_input(l, a, nin, observe, observed, i)) != AXMUL_OK)
            break;
        if (i == stop)
            break;
        f.i = i;
        f.table = axmul__layer_table(m, i, o->table, o->approx, o->layer_tables);
        const float *in[AXMUL__MAX_MERGE];
        layer_inputs(l, a, saved, in);
        float *y = l->ops->in_place ? a : b;
        if ((s = l->ops->forward(&f, l, in, y)) != AXMUL_OK)
            break;
        if (l->ops->params && o->layer_output)
            o->layer_output(o->ctx, i, y, nout);
        if (y == b) {
            b = a;
            a = y;
        }
        if (l->saved)
            memcpy(saved[i], a, nout * sizeof(float));
    }
    if (s == AXMUL_OK && stop >= m->nl)
        predictions(m, a, n, pred, scores);
    for (int i = 0; saved && i < m->nl; i++)
        free(saved[i]);
    free(saved);
    ws_release(&local);
    return s;
}

axmul_status axmul_model_predict(const axmul_model *m, const axmul_net_options *o, const float *x,
                                 int n, uint8_t *pred, float *scores)
{
    axmul_error_clear();
    if (!m || !o || !x || n < 1)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_predict: bad argument");
    AXMUL__IF_ONNX(m, axmul__ox_predict(m, o, x, n, pred, scores));
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
    AXMUL__IF_ONNX(m, axmul__ox_calibrate(m, NULL, x, n, batch < 1 ? 1000 : batch, 0));
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
    AXMUL__IF_ONNX(m, axmul__ox_calibrate(m, o, x, n, batch, 1));
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

/* model.json models on arrays: (N, H, W, C) or (N, H, W) float32 images in, (N, classes) out. */
static axmul_status run_images(const axmul_model *m, const axmul_net_options *o, const axmul_npy *a,
                               axmul_npy **out)
{
    const float *x;
    const size_t *sh = axmul_npy_shape(a);
    const int nd = axmul_npy_ndim(a);
    axmul_status s = axmul_npy_f32(a, &x);
    if (s != AXMUL_OK)
        return s;
    if ((nd != 3 && nd != 4) || sh[1] != (size_t)m->in_h || sh[2] != (size_t)m->in_w ||
        (nd == 4 ? sh[3] : 1) != (size_t)m->in_c || sh[0] < 1 || sh[0] > INT32_MAX)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "input: an array of images (N, %d, %d, %d) expected for model %s",
                           m->in_h, m->in_w, m->in_c, m->name);
    const size_t shape[2] = {sh[0], (size_t)axmul_model_classes(m)};
    if ((s = axmul_npy_create(AXMUL_DTYPE_F32, shape, 2, "output", out)) != AXMUL_OK)
        return s;
    if ((s = forward(m, o, x, (int)sh[0], NULL, axmul_npy_data_mut(*out), NULL, NULL, m->nl)) !=
        AXMUL_OK) {
        axmul_npy_free(*out);
        *out = NULL;
    }
    return s;
}

axmul_status axmul_model_run(const axmul_model *m, const axmul_net_options *o,
                             const axmul_npy *const *inputs, axmul_npy **outputs)
{
    axmul_error_clear();
    if (!m || !o || !inputs || !outputs)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_run: NULL argument");
    for (int k = 0; k < axmul_model_num_inputs(m); k++)
        if (!inputs[k])
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_run: input %s missing",
                               axmul_model_input_name(m, k));
    AXMUL__IF_ONNX(m, axmul__ox_run(m, o, inputs, outputs));
    return run_images(m, o, inputs[0], outputs);
}
