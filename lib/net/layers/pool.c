/* axmul: pooling layers: average and max pooling over windows (valid, Keras' strides defaulting
 * to the pool size) and over the whole image (global average and max pooling). Each output is
 * its taps combined in row-major (pixel) order from 0 (then divided by their count) or -inf,
 * whatever the thread count. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/model_io.h"
#include "lib/net/net.h"

static axmul_status pool_parse(const axmul__parse *ps, json_t *jl, const char *type,
                               axmul__layer *l)
{
    int k[2], st[2];
    axmul_status s;
    (void)type;
    if ((s = axmul__json_ints(json_object_get(jl, "pool_size"), k, 2, 2, "pool_size", ps->path,
                              ps->index)) ||
        (s = axmul__json_ints(json_object_get(jl, "strides"), st, 2, -1, "strides", ps->path,
                              ps->index)))
        return s;
    l->kh = k[0];
    l->kw = k[1];
    l->sh = st[0] < 0 ? k[0] : st[0]; /* Keras: strides default to the pool size */
    l->sw = st[1] < 0 ? k[1] : st[1];
    return AXMUL_OK;
}

static axmul_status pool_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    const axmul__layer *l = &m->L[i];
    (void)dir;
    json_object_set_new(jl, "pool_size", json_pack("[i, i]", l->kh, l->kw));
    json_object_set_new(jl, "strides", json_pack("[i, i]", l->sh, l->sw));
    return AXMUL_OK;
}

static axmul_status pool_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    const int h = l->ih, w = l->iw;
    if (l->kh < 1 || l->kw < 1 || l->sh < 1 || l->sw < 1 || l->kh > h || l->kw > w)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: layer %d (%s): pool %dx%d stride %d,%d does not fit a "
                           "%dx%d input",
                           path, i, l->name, l->kh, l->kw, l->sh, l->sw, h, w);
    l->oh = (h - l->kh) / l->sh + 1;
    l->ow = (w - l->kw) / l->sw + 1;
    l->oc = l->ic;
    return AXMUL_OK;
}

/* Channels innermost (NHWC): the loops over channels vectorize. */
static axmul_status pool_forward(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                                 float *y)
{
    const float *x = in[0];
    const int c = l->ic, is_max = l->kind == AXMUL__L_MAXPOOL, n = f->n, nt = f->nt;
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
    return AXMUL_OK;
}

static void pool_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                          const float *y, const float *g, float *const *dx_in)
{
    const float *a = in[0];
    float *dx = dx_in[0];
    (void)y;
    if (!dx)
        return;
    for (int r = 0; r < b->n; r++)
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

/* ---------------------------------------------------------------- global pooling */

static axmul_status global_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    (void)path;
    l->oh = l->ow = 1;
    l->oc = l->ic;
    return AXMUL_OK;
}

/* Mean or max of each channel over an image's pixels, summed in pixel order. */
static axmul_status global_forward(const axmul__fwd *f, const axmul__layer *l,
                                   const float *const *in, float *y)
{
    const float *x = in[0];
    const int c = l->ic;
    const size_t pix = (size_t)l->ih * l->iw;
    const int is_max = l->kind == AXMUL__L_GLOBALMAX;
    for (int img = 0; img < f->n; img++) {
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
    return AXMUL_OK;
}

static void global_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                            const float *y, const float *g, float *const *dx_in)
{
    const float *a = in[0];
    float *dx = dx_in[0];
    const size_t pix = (size_t)l->ih * l->iw;
    (void)y;
    for (int r = 0; dx && r < b->n; r++)
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
}

const axmul__layer_ops axmul__layer_avgpool = {
    "avgpool", NULL, 0, 0, pool_parse, pool_resolve, pool_save, pool_forward, pool_backward,
};

const axmul__layer_ops axmul__layer_maxpool = {
    "maxpool", NULL, 0, 0, pool_parse, pool_resolve, pool_save, pool_forward, pool_backward,
};

const axmul__layer_ops axmul__layer_globalavgpool = {
    "globalavgpool", NULL, 0, 0, NULL, global_resolve, NULL, global_forward, global_backward,
};

const axmul__layer_ops axmul__layer_globalmaxpool = {
    "globalmaxpool", NULL, 0, 0, NULL, global_resolve, NULL, global_forward, global_backward,
};
