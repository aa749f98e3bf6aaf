/* axmul: pooling layers: average and max pooling over windows (valid, Keras' strides defaulting
 * to the pool size; padded: "same" or explicit, ceil_mode, count_include_pad) and over the whole
 * image (global average and max pooling). Each output is its taps combined in row-major (pixel)
 * order from 0 (then divided by their count) or -inf, whatever the thread count. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/model_io.h"
#include "lib/net/net.h"

/* The taps of window (oy, ox) that lie in the image: rows i in [*i0, *i1), columns j in
 * [*j0, *j1) of the kernel; the window's top-left pixel (which may lie in the padding) in *y0,
 * *x0; returns the average's divisor. */
static int window_taps(const axmul__pool_win *p, int h, int w, int oy, int ox, int count_pad,
                       int *y0, int *x0, int *i0, int *i1, int *j0, int *j1)
{
    *y0 = oy * p->sh - p->pt;
    *x0 = ox * p->sw - p->pl;
    *i0 = 0, *i1 = p->kh, *j0 = 0, *j1 = p->kw;
    while (*i0 < *i1 && *y0 + *i0 * p->dh < 0)
        ++*i0;
    while (*i1 > *i0 && *y0 + (*i1 - 1) * p->dh >= h)
        --*i1;
    while (*j0 < *j1 && *x0 + *j0 * p->dw < 0)
        ++*j0;
    while (*j1 > *j0 && *x0 + (*j1 - 1) * p->dw >= w)
        --*j1;
    int taps = (*i1 - *i0) * (*j1 - *j0);
    if (count_pad) { /* the window clipped to the padded input, not beyond (ceil_mode) */
        const int ye = *y0 + p->kh > h + p->pb ? h + p->pb : *y0 + p->kh;
        const int xe = *x0 + p->kw > w + p->pr ? w + p->pr : *x0 + p->kw;
        taps = (ye - *y0) * (xe - *x0);
    }
    return taps ? taps : 1;
}

/* Channels innermost (NHWC): the loops over channels vectorize. */
void axmul__window_same(int64_t in, int64_t ek, int64_t s, int lower, int64_t *begin, int64_t *end)
{
    const int64_t out = (in + s - 1) / s;
    int64_t total = (out - 1) * s + ek - in;
    total = total > 0 ? total : 0;
    *begin = lower ? total - total / 2 : total / 2;
    *end = total - *begin;
}

int64_t axmul__window_out(int64_t in, int64_t ek, int64_t s, int64_t begin, int64_t end,
                          int ceil_mode)
{
    const int64_t span = in + begin + end - ek;
    if (span < 0)
        return -1;
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + begin)
        out--; /* the last window would start in the end padding */
    return out;
}

void axmul__pool_forward(const float *x, int n, int h, int w, int c, const axmul__pool_win *p,
                         int is_max, int count_pad, int nt, float *y)
{
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt)                                                           \
    schedule(static) if ((size_t)n * h * w * c >= AXMUL__PAR_MIN)
#endif
    for (int img = 0; img < n; img++) {
        const float *xi = x + (size_t)img * h * w * c;
        float *yi = y + (size_t)img * p->oh * p->ow * c;
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++) {
                float *acc = yi + ((size_t)oy * p->ow + ox) * c;
                int y0, x0, i0, i1, j0, j1;
                const int div =
                    window_taps(p, h, w, oy, ox, count_pad, &y0, &x0, &i0, &i1, &j0, &j1);
                for (int ch = 0; ch < c; ch++)
                    acc[ch] = is_max ? -INFINITY : 0.0f;
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) {
                        const float *v =
                            xi + ((size_t)(y0 + i * p->dh) * w + (size_t)(x0 + j * p->dw)) * c;
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
                    const float taps = (float)div;
#ifdef _OPENMP
#pragma omp simd
#endif
                    for (int ch = 0; ch < c; ch++)
                        acc[ch] /= taps;
                }
            }
    }
}

void axmul__pool_backward(const float *x, int n, int h, int w, int c, const axmul__pool_win *p,
                          int is_max, int count_pad, const float *g, float *dx)
{
    for (int r = 0; r < n; r++) {
        const size_t base = (size_t)r * h * w * c;
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++) {
                int y0, x0, i0, i1, j0, j1;
                const int div =
                    window_taps(p, h, w, oy, ox, count_pad, &y0, &x0, &i0, &i1, &j0, &j1);
                for (int ch = 0; ch < c; ch++) {
                    const float gv = g[(((size_t)r * p->oh + oy) * p->ow + ox) * c + ch];
                    size_t arg = (size_t)-1;
                    float best = -INFINITY;
                    for (int i = i0; i < i1; i++)
                        for (int j = j0; j < j1; j++) {
                            const size_t idx =
                                base +
                                ((size_t)(y0 + i * p->dh) * w + (size_t)(x0 + j * p->dw)) * c + ch;
                            if (!is_max)
                                dx[idx] += gv / (float)div;
                            else if (arg == (size_t)-1 || x[idx] > best) {
                                best = x[idx];
                                arg = idx;
                            }
                        }
                    if (is_max && arg != (size_t)-1)
                        dx[arg] += gv;
                }
            }
    }
}

/* ---------------------------------------------------------------- windowed pooling layers */

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
    /* padding: "valid" (default), "same" (TensorFlow's: the odd pixel at the end), p, [ph, pw]
     * (PyTorch's symmetric) or [t, b, l, r] */
    json_t *p = json_object_get(jl, "padding");
    const char *pstr = json_string_value(p);
    l->padding = AXMUL_PADDING_VALID;
    if (pstr && strcmp(pstr, "same") == 0)
        l->padding = AXMUL_PADDING_SAME;
    else if (p && !(pstr && strcmp(pstr, "valid") == 0)) {
        const size_t np = json_is_array(p) ? json_array_size(p) : 1;
        int v[4];
        if ((!json_is_integer(p) && np != 2 && np != 4) ||
            (s = axmul__json_ints(p, v,
                                  np == 4   ? 4
                                  : np == 2 ? 2
                                            : 1,
                                  0, "padding", ps->path, ps->index)))
            return s ? s
                     : axmul__fail(AXMUL_ERR_FORMAT,
                                   "%s: layer %d (%s): \"padding\" must be \"valid\", \"same\", "
                                   "p, [ph, pw] or [t, b, l, r]",
                                   ps->path, ps->index, l->name);
        if (np == 4)
            memcpy(l->pad, v, sizeof l->pad);
        else {
            l->pad[0] = l->pad[1] = v[0];
            l->pad[2] = l->pad[3] = np == 2 ? v[1] : v[0];
        }
        l->padding = AXMUL_PADDING_EXPLICIT;
    }
    json_t *cm = json_object_get(jl, "ceil_mode"), *cp = json_object_get(jl, "count_include_pad");
    if ((cm && !json_is_boolean(cm)) || (cp && !json_is_boolean(cp)))
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d (%s): \"ceil_mode\" and \"count_include_pad\" are true "
                           "or false",
                           ps->path, ps->index, l->name);
    l->ceil_mode = cm && json_is_true(cm);
    /* PyTorch counts explicit padding in averages by default, TensorFlow's "same" does not */
    l->count_pad = cp ? json_is_true(cp) : l->padding == AXMUL_PADDING_EXPLICIT;
    if (cp && l->kind == AXMUL__L_MAXPOOL)
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d (%s): \"count_include_pad\" is an average pool's",
                           ps->path, ps->index, l->name);
    return AXMUL_OK;
}

static axmul_status pool_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    const axmul__layer *l = &m->L[i];
    (void)dir;
    json_object_set_new(jl, "pool_size", json_pack("[i, i]", l->kh, l->kw));
    json_object_set_new(jl, "strides", json_pack("[i, i]", l->sh, l->sw));
    if (l->padding == AXMUL_PADDING_EXPLICIT)
        json_object_set_new(jl, "padding",
                            json_pack("[i, i, i, i]", l->pad[0], l->pad[1], l->pad[2], l->pad[3]));
    else if (l->padding == AXMUL_PADDING_SAME)
        json_object_set_new(jl, "padding", json_string("same"));
    if (l->ceil_mode)
        json_object_set_new(jl, "ceil_mode", json_true());
    if (l->kind == AXMUL__L_AVGPOOL && l->count_pad != (l->padding == AXMUL_PADDING_EXPLICIT))
        json_object_set_new(jl, "count_include_pad", json_boolean(l->count_pad));
    return AXMUL_OK;
}

static axmul_status pool_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    const int h = l->ih, w = l->iw;
    axmul__pool_win *p = &l->pool;
    memset(p, 0, sizeof *p);
    p->kh = l->kh, p->kw = l->kw, p->sh = l->sh, p->sw = l->sw, p->dh = p->dw = 1;
    if (l->padding == AXMUL_PADDING_SAME && l->sh >= 1 && l->sw >= 1) {
        int64_t t, b, lf, r;
        axmul__window_same(h, l->kh, l->sh, 0, &t, &b);
        axmul__window_same(w, l->kw, l->sw, 0, &lf, &r);
        p->pt = (int)t, p->pb = (int)b, p->pl = (int)lf, p->pr = (int)r;
    } else if (l->padding == AXMUL_PADDING_EXPLICIT) {
        p->pt = l->pad[0], p->pb = l->pad[1], p->pl = l->pad[2], p->pr = l->pad[3];
    }
    const int H = h + p->pt + p->pb, W = w + p->pl + p->pr;
    if (l->kh < 1 || l->kw < 1 || l->sh < 1 || l->sw < 1 || l->kh > H || l->kw > W ||
        p->pt >= l->kh || p->pb >= l->kh || p->pl >= l->kw || p->pr >= l->kw)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: layer %d (%s): pool %dx%d stride %d,%d padding %d,%d,%d,%d does "
                           "not fit a %dx%d input (padding must be smaller than the window)",
                           path, i, l->name, l->kh, l->kw, l->sh, l->sw, p->pt, p->pb, p->pl, p->pr,
                           h, w);
    p->oh = (int)axmul__window_out(h, l->kh, l->sh, p->pt, p->pb, l->ceil_mode);
    p->ow = (int)axmul__window_out(w, l->kw, l->sw, p->pl, p->pr, l->ceil_mode);
    l->oh = p->oh;
    l->ow = p->ow;
    l->oc = l->ic;
    return AXMUL_OK;
}

static axmul_status pool_forward(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                                 float *y)
{
    axmul__pool_forward(in[0], f->n, l->ih, l->iw, l->ic, &l->pool, l->kind == AXMUL__L_MAXPOOL,
                        l->count_pad, f->nt, y);
    return AXMUL_OK;
}

static void pool_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                          const float *y, const float *g, float *const *dx)
{
    (void)y;
    if (dx[0])
        axmul__pool_backward(in[0], b->n, l->ih, l->iw, l->ic, &l->pool,
                             l->kind == AXMUL__L_MAXPOOL, l->count_pad, g, dx[0]);
}

/* ---------------------------------------------------------------- adaptive average pooling */

/* PyTorch's AdaptiveAvgPool2d: output o of n covers input rows floor(o * in / n) up to
 * ceil((o + 1) * in / n), so windows differ in size where n does not divide in. */
static void adaptive_span(int o, int n, int in, int *a, int *b)
{
    *a = (int)((long)o * in / n);
    *b = (int)(((long)(o + 1) * in + n - 1) / n);
}

static axmul_status adaptive_parse(const axmul__parse *ps, json_t *jl, const char *type,
                                   axmul__layer *l)
{
    int o[2];
    (void)type;
    json_t *v = json_object_get(jl, "output_size");
    if (!v)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d (%s): \"output_size\" missing", ps->path,
                           ps->index, l->name);
    axmul_status s = axmul__json_ints(v, o, 2, 1, "output_size", ps->path, ps->index);
    l->kh = o[0]; /* (the output size: kept in the window fields) */
    l->kw = o[1];
    return s;
}

static axmul_status adaptive_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    (void)dir;
    json_object_set_new(jl, "output_size", json_pack("[i, i]", m->L[i].kh, m->L[i].kw));
    return AXMUL_OK;
}

static axmul_status adaptive_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    if (l->kh < 1 || l->kw < 1 || l->kh > l->ih || l->kw > l->iw)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: layer %d (%s): output size %dx%d from a %dx%d input (at most the "
                           "input's size)",
                           path, i, l->name, l->kh, l->kw, l->ih, l->iw);
    l->oh = l->kh;
    l->ow = l->kw;
    l->oc = l->ic;
    return AXMUL_OK;
}

static axmul_status adaptive_forward(const axmul__fwd *f, const axmul__layer *l,
                                     const float *const *in, float *y)
{
    const int c = l->ic;
    for (int img = 0; img < f->n; img++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                int y0, y1, x0, x1;
                adaptive_span(oy, l->oh, l->ih, &y0, &y1);
                adaptive_span(ox, l->ow, l->iw, &x0, &x1);
                float *acc = y + (((size_t)img * l->oh + oy) * l->ow + ox) * c;
                for (int ch = 0; ch < c; ch++)
                    acc[ch] = 0.0f;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++) {
                        const float *v = in[0] + (((size_t)img * l->ih + yy) * l->iw + xx) * c;
                        for (int ch = 0; ch < c; ch++)
                            acc[ch] += v[ch];
                    }
                const float taps = (float)((y1 - y0) * (x1 - x0));
                for (int ch = 0; ch < c; ch++)
                    acc[ch] /= taps;
            }
    return AXMUL_OK;
}

static void adaptive_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                              const float *y, const float *g, float *const *dx)
{
    const int c = l->ic;
    (void)in, (void)y;
    for (int img = 0; dx[0] && img < b->n; img++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                int y0, y1, x0, x1;
                adaptive_span(oy, l->oh, l->ih, &y0, &y1);
                adaptive_span(ox, l->ow, l->iw, &x0, &x1);
                const float *gv = g + (((size_t)img * l->oh + oy) * l->ow + ox) * c;
                const float taps = (float)((y1 - y0) * (x1 - x0));
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++)
                        for (int ch = 0; ch < c; ch++)
                            dx[0][(((size_t)img * l->ih + yy) * l->iw + xx) * c + ch] +=
                                gv[ch] / taps;
            }
}

/* clang-format off */
const axmul__layer_ops axmul__layer_adaptiveavgpool = {
    .type = "adaptiveavgpool", .parse = adaptive_parse, .resolve = adaptive_resolve,
    .save = adaptive_save, .forward = adaptive_forward, .backward = adaptive_backward,
    .keys = "output_size"};
/* clang-format on */

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

#define POOL_KEYS "pool_size strides padding ceil_mode count_include_pad"

/* clang-format off */
const axmul__layer_ops axmul__layer_avgpool = {
    .type = "avgpool", .parse = pool_parse, .resolve = pool_resolve, .save = pool_save,
    .forward = pool_forward, .backward = pool_backward, .keys = POOL_KEYS};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_maxpool = {
    .type = "maxpool", .parse = pool_parse, .resolve = pool_resolve, .save = pool_save,
    .forward = pool_forward, .backward = pool_backward, .keys = POOL_KEYS};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_globalavgpool = {
    .type = "globalavgpool", .resolve = global_resolve, .forward = global_forward,
    .backward = global_backward, .keys = ""};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_globalmaxpool = {
    .type = "globalmaxpool", .resolve = global_resolve, .forward = global_forward,
    .backward = global_backward, .keys = ""};
/* clang-format on */
