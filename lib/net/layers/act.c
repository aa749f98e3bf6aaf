/* axmul: elementwise activations, ReLU and ReLU6 (min(max(x, 0), 6)), and the softmax of a
 * network's last layer (in training the loss applies it to the logits, so the layer passes them
 * through). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/net.h"

static axmul_status same_shape(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    (void)path;
    l->oh = l->ih;
    l->ow = l->iw;
    l->oc = l->ic;
    return AXMUL_OK;
}

static axmul_status relu_forward(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                                 float *y)
{
    const float *x = in[0];
    const size_t n = (size_t)f->n * l->ih * l->iw * l->ic;
    const int nt = f->nt;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for simd num_threads(nt) schedule(static) if (n >= AXMUL__PAR_MIN)
#endif
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] > 0 ? x[k] : 0.0f;
    return AXMUL_OK;
}

static void relu_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                          const float *y, const float *g, float *const *dx)
{
    const size_t n = (size_t)b->n * l->ih * l->iw * l->ic;
    (void)in;
    for (size_t k = 0; dx[0] && k < n; k++)
        dx[0][k] += y[k] > 0 ? g[k] : 0.0f;
}

static axmul_status relu6_forward(const axmul__fwd *f, const axmul__layer *l,
                                  const float *const *in, float *y)
{
    const float *x = in[0];
    const size_t n = (size_t)f->n * l->ih * l->iw * l->ic;
    const int nt = f->nt;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for simd num_threads(nt) schedule(static) if (n >= AXMUL__PAR_MIN)
#endif
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] > 0 ? (x[k] < 6.0f ? x[k] : 6.0f) : 0.0f;
    return AXMUL_OK;
}

static void relu6_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                           const float *y, const float *g, float *const *dx)
{
    const size_t n = (size_t)b->n * l->ih * l->iw * l->ic;
    (void)in;
    for (size_t k = 0; dx[0] && k < n; k++)
        dx[0][k] += y[k] > 0 && y[k] < 6.0f ? g[k] : 0.0f;
}

/* ---------------------------------------------------------------- softmax */

static axmul_status softmax_resolve(axmul_model *m, int i, const char *path)
{
    if (i != m->nl - 1)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: softmax must be the last layer", path,
                           i);
    return same_shape(m, i, path);
}

static axmul_status softmax_forward(const axmul__fwd *f, const axmul__layer *l,
                                    const float *const *in, float *y)
{
    const float *x = in[0];
    if (f->to) { /* the loss applies the softmax to the logits */
        memcpy(y, x, (size_t)f->n * l->ic * sizeof(float));
        return AXMUL_OK;
    }
    for (int r = 0; r < f->n; r++) {
        const float *z = x + (size_t)r * l->ic;
        float *p = y + (size_t)r * l->ic, mx = z[0], sum = 0;
        for (int c = 1; c < l->ic; c++)
            mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < l->ic; c++)
            sum += p[c] = expf(z[c] - mx);
        for (int c = 0; c < l->ic; c++)
            p[c] /= sum;
    }
    return AXMUL_OK;
}

/* The identity's backward pass (softmax in training, flatten). */
void axmul__pass_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                          const float *y, const float *g, float *const *dx)
{
    const size_t n = (size_t)b->n * l->ih * l->iw * l->ic;
    (void)in, (void)y;
    for (size_t k = 0; dx[0] && k < n; k++)
        dx[0][k] += g[k];
}

const axmul__layer_ops axmul__layer_relu = {
    "relu", NULL, 0, 1, NULL, same_shape, NULL, relu_forward, relu_backward,
};

const axmul__layer_ops axmul__layer_relu6 = {
    "relu6", NULL, 0, 1, NULL, same_shape, NULL, relu6_forward, relu6_backward,
};

const axmul__layer_ops axmul__layer_softmax = {
    "softmax", NULL, 0, 0, NULL, softmax_resolve, NULL, softmax_forward, axmul__pass_backward,
};
