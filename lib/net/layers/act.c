/* axmul: elementwise activations, ReLU and ReLU6 (min(max(x, 0), 6)), LeakyReLU, sigmoid,
 * SiLU (x * sigmoid(x), also "swish") and hardswish, and the softmax of a
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

/* ---------------------------------------------------------------- smooth activations */

static axmul_status leaky_parse(const axmul__parse *ps, json_t *jl, const char *type,
                                axmul__layer *l)
{
    (void)type;
    json_t *a = json_object_get(jl, "alpha");
    if (a && (!json_is_number(a) || !isfinite(json_number_value(a))))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d (%s): \"alpha\" must be a number",
                           ps->path, ps->index, l->name);
    l->eps = a ? (float)json_number_value(a) : 0.01f; /* PyTorch's default slope */
    return AXMUL_OK;
}

static axmul_status leaky_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    (void)dir;
    json_object_set_new(jl, "alpha", json_real((double)m->L[i].eps));
    return AXMUL_OK;
}

static axmul_status smooth_forward(const axmul__fwd *f, const axmul__layer *l,
                                   const float *const *in, float *y)
{
    const float *x = in[0], alpha = l->eps;
    const size_t n = (size_t)f->n * l->ih * l->iw * l->ic;
    const int nt = f->nt, kind = l->kind;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= AXMUL__PAR_MIN)
#endif
    for (size_t k = 0; k < n; k++)
        y[k] = kind == AXMUL__L_LEAKYRELU ? axmul__leakyreluf(x[k], alpha)
               : kind == AXMUL__L_SIGMOID ? axmul__sigmoidf(x[k])
               : kind == AXMUL__L_SILU    ? x[k] * axmul__sigmoidf(x[k])
                                          : axmul__hardswishf(x[k]);
    return AXMUL_OK;
}

/* The derivatives at the input x (the layers keep their inputs: not run in place). */
static void smooth_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                            const float *y, const float *g, float *const *dx)
{
    const size_t n = (size_t)b->n * l->ih * l->iw * l->ic;
    const float *x = in[0];
    for (size_t k = 0; dx[0] && k < n; k++) {
        float d;
        if (l->kind == AXMUL__L_LEAKYRELU)
            d = x[k] < 0 ? l->eps : 1.0f;
        else if (l->kind == AXMUL__L_SIGMOID)
            d = y[k] * (1.0f - y[k]);
        else if (l->kind == AXMUL__L_SILU) {
            const float s = axmul__sigmoidf(x[k]);
            d = s * (1.0f + x[k] * (1.0f - s));
        } else
            d = x[k] < -3.0f ? 0.0f : x[k] > 3.0f ? 1.0f : (2.0f * x[k] + 3.0f) / 6.0f;
        dx[0][k] += g[k] * d;
    }
}

/* clang-format off */
const axmul__layer_ops axmul__layer_leakyrelu = {
    .type = "leakyrelu", .parse = leaky_parse, .resolve = same_shape, .save = leaky_save,
    .forward = smooth_forward, .backward = smooth_backward, .keys = "alpha"};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_sigmoid = {
    .type = "sigmoid", .resolve = same_shape, .forward = smooth_forward,
    .backward = smooth_backward, .keys = ""};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_silu = {
    .type = "silu", .alias = "swish", .resolve = same_shape, .forward = smooth_forward,
    .backward = smooth_backward, .keys = ""};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_hardswish = {
    .type = "hardswish", .resolve = same_shape, .forward = smooth_forward,
    .backward = smooth_backward, .keys = ""};
/* clang-format on */

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

/* clang-format off */
const axmul__layer_ops axmul__layer_relu = {
    .type = "relu", .in_place = 1, .resolve = same_shape, .forward = relu_forward,
    .backward = relu_backward, .keys = ""};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_relu6 = {
    .type = "relu6", .in_place = 1, .resolve = same_shape, .forward = relu6_forward,
    .backward = relu6_backward, .keys = ""};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_softmax = {
    .type = "softmax", .resolve = softmax_resolve, .forward = softmax_forward,
    .backward = axmul__pass_backward, .keys = ""};
/* clang-format on */
