/* axmul: ONNX models as axmul_model (lib/net/net.h): the public model functions for a model read
 * from a .onnx file, whose layers are the graph's nodes. Image data sets (N, H, W, C bytes
 * scaled to floats) enter an image model's (N, C, H, W) input in NHWC as they are: the runtime
 * keeps that layout through the convolutions and converts where an operator needs ONNX's own. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/engine/engine.h"
#include "lib/net/net.h"
#include "lib/net/onnx/runtime.h"

struct axmul__ox {
    axmul__onnx *g;
    int image;     /* the one input is (N, C, H, W) float with C, H, W fixed */
    int (*hwc)[3]; /* per node: its first output's h, w, c for one image */
    int classes;   /* the first output's elements per image */
};

void axmul__ox_free(struct axmul__ox *ox)
{
    if (!ox)
        return;
    axmul__onnx_free(ox->g);
    free(ox->hwc);
    free(ox);
}

/* The batch of n images x as the image input (a view). */
static axmul__tensor image_tensor(const axmul_model *m, const float *x, int n)
{
    axmul__tensor t = {AXMUL__DT_FLOAT, {4, {n, m->in_c, m->in_h, m->in_w}}, 1, (void *)x, 0};
    return t;
}

/* An image model's per-node shapes for one image, and its classes. */
static axmul_status image_shapes(axmul_model *m)
{
    struct axmul__ox *ox = m->ox;
    axmul__onnx *g = ox->g;
    axmul__shape *sh = calloc((size_t)g->nnodes + 1, sizeof *sh);
    ox->hwc = calloc((size_t)g->nnodes + 1, sizeof *ox->hwc);
    if (!sh || !ox->hwc) {
        free(sh);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    /* one image, or the batch the model declares */
    const int64_t n0 = g->v[g->inputs[0]].decl.d[0];
    const int batch = n0 > 0 && n0 < 65536 ? (int)n0 : 1;
    const axmul__tensor in = image_tensor(m, NULL, batch);
    axmul_status s = axmul__onnx_shapes(g, &in, sh);
    for (int i = 0; i < g->nnodes && s == AXMUL_OK; i++) {
        const axmul__shape *a = &sh[i];
        if (a->rank == 4 && a->d[0] == batch) {
            ox->hwc[i][0] = (int)a->d[2];
            ox->hwc[i][1] = (int)a->d[3];
            ox->hwc[i][2] = (int)a->d[1];
        } else {
            int64_t cnt = axmul__shape_count(a) / batch;
            ox->hwc[i][0] = ox->hwc[i][1] = 1;
            ox->hwc[i][2] = cnt > INT32_MAX ? INT32_MAX : (int)cnt;
        }
    }
    if (s == AXMUL_OK) { /* the first output, from the plan just made */
        const axmul__shape *o = &g->cache->val[g->outputs[0]].sh;
        const int64_t cnt = axmul__shape_count(o) / batch;
        ox->classes = cnt > INT32_MAX ? INT32_MAX : (int)cnt;
    }
    free(sh);
    return s;
}

axmul_status axmul__ox_load(const char *path, axmul_model **out)
{
    axmul__onnx *g;
    axmul_status s = axmul__onnx_load(path, &g);
    if (s != AXMUL_OK)
        return s;
    axmul_model *m = calloc(1, sizeof *m);
    struct axmul__ox *ox = calloc(1, sizeof *ox);
    if (!m || !ox) {
        free(m);
        free(ox);
        axmul__onnx_free(g);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    ox->g = g;
    m->ox = ox;
    m->nl = g->nnodes;
    const char *base = strrchr(path, '/');
    snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : path);
    char *dot = strstr(m->name, ".onnx");
    if (dot)
        *dot = 0;
    const axmul__value *v = g->ninputs == 1 ? &g->v[g->inputs[0]] : NULL;
    if (v && (v->dt == AXMUL__DT_FLOAT || !v->dt) && v->decl_known && v->decl.rank == 4 &&
        v->decl.d[1] > 0 && v->decl.d[2] > 0 && v->decl.d[3] > 0 && v->decl.d[1] <= 65536 &&
        v->decl.d[2] <= 65536 && v->decl.d[3] <= 65536) {
        ox->image = 1;
        m->in_c = (int)v->decl.d[1];
        m->in_h = (int)v->decl.d[2];
        m->in_w = (int)v->decl.d[3];
        if ((s = image_shapes(m)) != AXMUL_OK) {
            axmul_model_free(m);
            return s;
        }
    }
    *out = m;
    return AXMUL_OK;
}

const char *axmul__ox_layer_type(const axmul_model *m, int i)
{
    return m->ox->g->nodes[i].op;
}

const char *axmul__ox_layer_name(const axmul_model *m, int i)
{
    return m->ox->g->nodes[i].name;
}

int axmul__ox_layer_approx(const axmul_model *m, int i)
{
    return m->ox->g->nodes[i].approx;
}

void axmul__ox_layer_output_shape(const axmul_model *m, int i, int *h, int *w, int *c)
{
    const struct axmul__ox *ox = m->ox;
    *h = ox->hwc ? ox->hwc[i][0] : 0;
    *w = ox->hwc ? ox->hwc[i][1] : 0;
    *c = ox->hwc ? ox->hwc[i][2] : 0;
}

int axmul__ox_classes(const axmul_model *m)
{
    return m->ox->classes;
}

/* Whether operand k of node n has the model's own quantization (a DequantizeLinear feeds it). */
static int has_qdq(const axmul__onnx *g, const axmul__node *n, int k)
{
    const int v = k < n->nin ? n->in[k] : -1, p = v >= 0 ? g->v[v].producer : -1;
    return p >= 0 && g->nodes[p].kind == AXMUL__OP_DequantizeLinear;
}

int axmul__ox_calibrated(const axmul_model *m)
{
    const axmul__onnx *g = m->ox->g;
    for (int i = 0; i < g->nnodes; i++) {
        const axmul__node *n = &g->nodes[i];
        for (int k = 0; n->approx && k < (n->approx == AXMUL_APPROX_MATMUL ? 2 : 1); k++)
            if (!n->has_range[k] && !has_qdq(g, n, k))
                return 0;
    }
    return 1;
}

int axmul__ox_num_io(const axmul_model *m, int outputs)
{
    return outputs ? m->ox->g->noutputs : m->ox->g->ninputs;
}

const char *axmul__ox_io_name(const axmul_model *m, int outputs, int k)
{
    const axmul__onnx *g = m->ox->g;
    return g->v[outputs ? g->outputs[k] : g->inputs[k]].name;
}

axmul_status axmul__ox_save(const axmul_model *m, const char *path)
{
    return axmul__onnx_save(m->ox->g, path);
}

static void release_outputs(const axmul__onnx *g, axmul__tensor *out)
{
    for (int k = 0; k < g->noutputs; k++)
        axmul__tensor_release(&out[k]);
    free(out);
}

axmul_status axmul__ox_predict(const axmul_model *m, const axmul_net_options *o, const float *x,
                               int n, uint8_t *pred, float *scores)
{
    const struct axmul__ox *ox = m->ox;
    axmul__onnx *g = ox->g;
    if (!ox->image)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: the model's input is not one batch of images (N, C, H, W) of "
                           "fixed C, H and W: run it on arrays (axconv-test run)",
                           g->path);
    axmul__tensor *out = calloc((size_t)g->noutputs, sizeof *out);
    if (!out)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    const axmul__tensor in = image_tensor(m, x, n);
    axmul_status s = axmul__onnx_forward(g, o, &in, out, NULL);
    if (s != AXMUL_OK) {
        free(out);
        return s;
    }
    const int classes = ox->classes;
    const float *z = out[0].data;
    if (out[0].dt != AXMUL__DT_FLOAT || out[0].sh.rank < 1 || out[0].sh.d[0] != n ||
        axmul__shape_count(&out[0].sh) != (int64_t)n * classes) {
        release_outputs(g, out);
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: output %s is not one float row of %d scores per image", g->path,
                           g->v[g->outputs[0]].name, classes);
    }
    for (int r = 0; r < n && pred; r++) {
        const float *zr = z + (size_t)r * classes;
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (zr[c] > zr[best])
                best = c;
        pred[r] = (uint8_t)(best > 255 ? 255 : best);
    }
    if (scores)
        memcpy(scores, z, sizeof *scores * (size_t)n * (size_t)classes);
    release_outputs(g, out);
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- arrays */

static axmul_status from_npy(const axmul__onnx *g, int k, const axmul_npy *a, axmul__tensor *t)
{
    const axmul__value *v = &g->v[g->inputs[k]];
    static const axmul__dtype map[] = {
        [AXMUL_DTYPE_F32] = AXMUL__DT_FLOAT, [AXMUL_DTYPE_I8] = AXMUL__DT_INT8,
        [AXMUL_DTYPE_U8] = AXMUL__DT_UINT8,  [AXMUL_DTYPE_I32] = AXMUL__DT_INT32,
        [AXMUL_DTYPE_I64] = AXMUL__DT_INT64, [AXMUL_DTYPE_BOOL] = AXMUL__DT_BOOL};
    const axmul_dtype dt = axmul_npy_dtype(a);
    memset(t, 0, sizeof *t);
    t->sh.rank = axmul_npy_ndim(a);
    for (int d = 0; d < t->sh.rank; d++)
        t->sh.d[d] = (int64_t)axmul_npy_shape(a)[d];
    if (dt == AXMUL_DTYPE_F64 && (v->dt == AXMUL__DT_FLOAT || !v->dt)) { /* numpy's default */
        t->dt = AXMUL__DT_FLOAT;
        axmul_status s = axmul__tensor_alloc(t, v->name);
        if (s != AXMUL_OK)
            return s;
        const double *src = axmul_npy_data(a);
        for (size_t e = 0; e < axmul_npy_count(a); e++)
            ((float *)t->data)[e] = (float)src[e];
        return AXMUL_OK;
    }
    if ((size_t)dt >= sizeof map / sizeof map[0] || !map[dt])
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: input %s: an array of an element type ONNX models here do not "
                           "take (float32, int8, uint8, int32, int64, bool)",
                           g->path, v->name);
    t->dt = map[dt];
    t->data = (void *)axmul_npy_data(a);
    return AXMUL_OK;
}

static axmul_status to_npy(const axmul__tensor *t, const char *name, axmul_npy **out)
{
    size_t shape[AXMUL_NPY_MAX_DIMS];
    axmul_dtype dt;
    switch (t->dt) {
    case AXMUL__DT_FLOAT:
        dt = AXMUL_DTYPE_F32;
        break;
    case AXMUL__DT_INT8:
        dt = AXMUL_DTYPE_I8;
        break;
    case AXMUL__DT_UINT8:
        dt = AXMUL_DTYPE_U8;
        break;
    case AXMUL__DT_INT32:
        dt = AXMUL_DTYPE_I32;
        break;
    case AXMUL__DT_INT64:
        dt = AXMUL_DTYPE_I64;
        break;
    default:
        dt = AXMUL_DTYPE_BOOL;
    }
    for (int d = 0; d < t->sh.rank; d++)
        shape[d] = (size_t)t->sh.d[d];
    axmul_status s = axmul_npy_create(dt, shape, t->sh.rank, name, out);
    if (s == AXMUL_OK)
        memcpy(axmul_npy_data_mut(*out), t->data,
               (size_t)axmul__shape_count(&t->sh) * axmul__dt_size(t->dt));
    return s;
}

axmul_status axmul__ox_run(const axmul_model *m, const axmul_net_options *o,
                           const axmul_npy *const *inputs, axmul_npy **outputs)
{
    axmul__onnx *g = m->ox->g;
    axmul__tensor *in = calloc((size_t)g->ninputs + 1, sizeof *in);
    axmul__tensor *out = calloc((size_t)g->noutputs + 1, sizeof *out);
    axmul_status s = in && out ? AXMUL_OK : axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < g->ninputs && s == AXMUL_OK; k++)
        s = from_npy(g, k, inputs[k], &in[k]);
    if (s == AXMUL_OK && (s = axmul__onnx_forward(g, o, in, out, NULL)) == AXMUL_OK) {
        int k = 0;
        for (; k < g->noutputs && s == AXMUL_OK; k++)
            s = to_npy(&out[k], g->v[g->outputs[k]].name, &outputs[k]);
        while (s != AXMUL_OK && k-- > 0) {
            axmul_npy_free(outputs[k]);
            outputs[k] = NULL;
        }
        for (k = 0; k < g->noutputs; k++)
            axmul__tensor_release(&out[k]);
    }
    for (int k = 0; in && k < g->ninputs; k++)
        axmul__tensor_release(&in[k]);
    free(in);
    free(out);
    return s;
}

/* ---------------------------------------------------------------- calibration */

/* Observes the operands of the table-reading nodes over the images in the network of o (NULL:
 * float), stopping at node stop; sets the ranges of those that want (NULL: all). */
static axmul_status observe_nodes(axmul_model *m, const axmul_net_options *o, const float *x, int n,
                                  int batch, int stop, const char *want)
{
    axmul__onnx *g = m->ox->g;
    axmul_range *obs = calloc(2 * (size_t)g->nnodes + 1, sizeof *obs);
    int *seen = calloc(2 * (size_t)g->nnodes + 1, sizeof *seen);
    axmul_status s = obs && seen ? AXMUL_OK : axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    const axmul__onnx_watch w = {obs, seen, stop};
    const size_t per = (size_t)m->in_h * m->in_w * m->in_c;
    for (int i0 = 0; i0 < n && s == AXMUL_OK; i0 += batch) {
        const int nb = n - i0 < batch ? n - i0 : batch;
        const axmul__tensor in = image_tensor(m, x + (size_t)i0 * per, nb);
        s = axmul__onnx_forward(g, o, &in, NULL, &w);
    }
    for (int i = 0; i < g->nnodes && s == AXMUL_OK; i++)
        for (int k = 0; k < 2; k++)
            if (seen[2 * i + k] && (!want || want[i])) {
                g->nodes[i].range[k] = obs[2 * i + k];
                axmul__range_include_zero(&g->nodes[i].range[k]);
                g->nodes[i].has_range[k] = 1;
            }
    free(obs);
    free(seen);
    return s;
}

axmul_status axmul__ox_calibrate(axmul_model *m, const axmul_net_options *o, const float *x, int n,
                                 int batch, int network)
{
    axmul__onnx *g = m->ox->g;
    if (!m->ox->image)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: calibration runs image data sets, and the model's input is not "
                           "one batch of images (N, C, H, W)",
                           g->path);
    axmul_net_options f;
    axmul_net_options_init(&f);
    f.threads = o ? o->threads : 0;
    f.backend = o ? o->backend : AXMUL_BACKEND_AUTO;
    axmul_status s = observe_nodes(m, &f, x, n, batch, g->nnodes, NULL);
    if (!network || s != AXMUL_OK)
        return s;
    axmul_net_options q = *o;
    q.batch_ranges = 0; /* the nodes before each one: their new ranges */
    q.layer_output = NULL;
    q.act_hist = q.wt_hist = NULL;
    char *want = calloc((size_t)g->nnodes + 1, 1);
    if (!want)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < g->nnodes && s == AXMUL_OK; k++) {
        if (!axmul__onnx_node_table(g, k, o))
            continue; /* a float node: the float network's range */
        want[k] = 1;
        s = observe_nodes(m, &q, x, n, batch, k, want);
        want[k] = 0;
    }
    free(want);
    return s;
}

axmul_status axmul__ox_layers(const axmul_model *m, axmul_model **out)
{
    axmul__onnx *g = m->ox->g;
    if (!m->ox->image)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: the model's input is not one batch of images (N, C, H, W)",
                           g->path);
    pthread_mutex_lock(&g->lock);
    axmul_status s = axmul__ox_to_layers(m, g, out);
    pthread_mutex_unlock(&g->lock);
    return s;
}
