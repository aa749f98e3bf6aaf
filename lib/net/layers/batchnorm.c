/* axmul: batch normalization for inference, y = (x - mean) / sqrt(variance + epsilon) * gamma +
 * beta per channel, reduced at load to one float32 scale and offset per channel (the form of
 * TensorFlow's fused inference). Training keeps it frozen (its input's gradient only). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_npy.h"
#include "lib/core/internal.h"
#include "lib/net/model_io.h"
#include "lib/net/net.h"

/* The tensors' keys in model.json, in axmul__layer.bn order: Keras' BatchNormalization weights
 * in get_weights() order; PyTorch's BatchNorm2d weight, bias, running_mean, running_var. */
static const char *const bn_keys[4] = {"gamma", "beta", "moving_mean", "moving_variance"};

static axmul_status bn_parse(const axmul__parse *ps, json_t *jl, const char *type, axmul__layer *l)
{
    const char *path = ps->path;
    const int i = ps->index;
    axmul_status s;
    (void)type;
    for (int k = 0; k < 4; k++) {
        const char *f = json_string_value(json_object_get(jl, bn_keys[k]));
        if (!f)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d (%s): \"%s\" file missing", path, i,
                               l->name, bn_keys[k]);
        snprintf(l->bnfile[k], sizeof l->bnfile[k], "%s", f);
        if ((s = axmul__load_tensor(ps, f, &l->bn[k], &l->nbn[k])))
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
        if (!isfinite(l->w[ch]) || !isfinite(l->b[ch])) /* else every output would be inf/NaN */
            return axmul__fail(AXMUL_ERR_RANGE,
                               "%s: layer %d (%s): channel %zu folds to a scale of %g and a shift "
                               "of %g (gamma %g, variance %g + epsilon %g): not finite in float",
                               path, i, l->name, ch, (double)l->w[ch], (double)l->b[ch],
                               (double)l->bn[0][ch], (double)l->bn[3][ch], (double)l->eps);
    }
    return AXMUL_OK;
}

static axmul_status bn_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    const axmul__layer *l = &m->L[i];
    axmul_status s = AXMUL_OK;
    for (int k = 0; k < 4 && s == AXMUL_OK; k++) {
        char f[160];
        size_t shape[1] = {l->nbn[k]};
        snprintf(f, sizeof f, "%s_%s.npy", l->name, bn_keys[k]);
        json_object_set_new(jl, bn_keys[k], json_string(f));
        s = axmul__save_tensor(dir, f, l->bn[k], shape, 1);
    }
    json_object_set_new(jl, "epsilon", json_real((double)l->eps));
    return s;
}

static axmul_status bn_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    for (int k = 0; k < 4; k++)
        if (l->nbn[k] != (size_t)l->ic)
            return axmul__fail(AXMUL_ERR_SHAPE,
                               "%s: layer %d (%s): %s has %zu elements, the input has %d "
                               "channels",
                               path, i, l->name, l->bnfile[k], l->nbn[k], l->ic);
    l->oh = l->ih;
    l->ow = l->iw;
    l->oc = l->ic;
    return AXMUL_OK;
}

/* Per channel, the last and fastest index. */
static axmul_status bn_forward(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                               float *y)
{
    const float *x = in[0];
    const size_t pix = (size_t)f->n * l->ih * l->iw, nin = pix * (size_t)l->ic;
    const int nt = f->nt;
    (void)nt, (void)nin;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nin >= AXMUL__PAR_MIN)
#endif
    for (size_t p = 0; p < pix; p++) {
        const float *v = x + p * (size_t)l->ic;
        float *o = y + p * (size_t)l->ic;
        for (int c = 0; c < l->ic; c++)
            o[c] = v[c] * l->w[c] + l->b[c];
    }
    return AXMUL_OK;
}

static void bn_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                        const float *y, const float *g, float *const *dx)
{
    const size_t n = (size_t)b->n * l->ih * l->iw * l->ic;
    (void)in, (void)y;
    for (size_t k = 0; dx[0] && k < n; k++)
        dx[0][k] += g[k] * l->w[k % (size_t)l->ic];
}

/* clang-format off */
const axmul__layer_ops axmul__layer_batchnorm = {
    .type = "batchnorm", .in_place = 1, .parse = bn_parse, .resolve = bn_resolve, .save = bn_save,
    .forward = bn_forward, .backward = bn_backward,
    .keys = "gamma beta moving_mean moving_variance epsilon"};
/* clang-format on */
