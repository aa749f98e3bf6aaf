/* axmul: convolution and dense descriptors: defaults, validation, and the geometry of a call
 * (TensorFlow's padding rules, the output size), resolved once here for every kernel. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "axmul_conv.h"
#include "lib/core/internal.h"
#include "lib/engine/engine.h"

void axmul_conv_desc_init(axmul_conv_desc *d)
{
    memset(d, 0, sizeof *d);
    d->stride_h = d->stride_w = 1;
    d->dilation_h = d->dilation_w = 1;
    d->padding = AXMUL_PADDING_SAME;
    d->groups = 1;
    d->backend = AXMUL_BACKEND_AUTO;
}

void axmul_dense_desc_init(axmul_dense_desc *d)
{
    memset(d, 0, sizeof *d);
    d->backend = AXMUL_BACKEND_AUTO;
}

static axmul_status elems(const char *what, size_t a, size_t b, size_t c, size_t dd, size_t *out)
{
    size_t n;
    if (!axmul__mul_size(a, b, &n) || !axmul__mul_size(n, c, &n) || !axmul__mul_size(n, dd, &n) ||
        n > AXMUL__MAX_ELEMS)
        return axmul__fail(AXMUL_ERR_OVERFLOW,
                           "%s has more than %zu elements (the engine's per-tensor limit)", what,
                           AXMUL__MAX_ELEMS);
    *out = n;
    return AXMUL_OK;
}

axmul_status axmul__conv_geometry(const axmul_conv_desc *d, axmul__conv_plan *p, int pads[4])
{
    if (!d)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv descriptor is NULL");
    struct {
        const char *name;
        int v;
    } pos[] = {{"batch size n", d->n},
               {"input height", d->h},
               {"input width", d->w},
               {"input channels", d->c},
               {"kernel height", d->kh},
               {"kernel width", d->kw},
               {"output channels", d->co},
               {"stride height", d->stride_h},
               {"stride width", d->stride_w},
               {"dilation height", d->dilation_h},
               {"dilation width", d->dilation_w},
               {"groups", d->groups}};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v < 1)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "%s must be >= 1 (got %d)", pos[i].name,
                               pos[i].v);
    if (d->c % d->groups != 0 || d->co % d->groups != 0)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "groups = %d must divide both input channels (%d) and output channels "
                           "(%d)",
                           d->groups, d->c, d->co);
    size_t dummy;
    axmul_status s = elems("input", (size_t)d->n, (size_t)d->h, (size_t)d->w, (size_t)d->c, &dummy);
    if (s == AXMUL_OK)
        s = elems("filter", (size_t)d->kh, (size_t)d->kw, (size_t)(d->c / d->groups), (size_t)d->co,
                  &dummy);
    if (s != AXMUL_OK)
        return s;
    int64_t ekh = (int64_t)(d->kh - 1) * d->dilation_h + 1;
    int64_t ekw = (int64_t)(d->kw - 1) * d->dilation_w + 1;
    int64_t oh, ow, pt = 0, pl = 0, pb = 0, pr = 0;
    switch (d->padding) {
    case AXMUL_PADDING_SAME: {
        oh = (d->h + d->stride_h - 1) / d->stride_h;
        ow = (d->w + d->stride_w - 1) / d->stride_w;
        int64_t th = (oh - 1) * d->stride_h + ekh - d->h;
        int64_t tw = (ow - 1) * d->stride_w + ekw - d->w;
        if (th < 0)
            th = 0;
        if (tw < 0)
            tw = 0;
        pt = th / 2; /* TensorFlow puts the odd pixel at the end */
        pl = tw / 2;
        pb = th - pt;
        pr = tw - pl;
        break;
    }
    case AXMUL_PADDING_VALID:
        break;
    case AXMUL_PADDING_EXPLICIT:
        if (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "padding must not be negative (got %d,%d,%d,%d)", d->pad_top,
                               d->pad_bottom, d->pad_left, d->pad_right);
        pt = d->pad_top;
        pb = d->pad_bottom;
        pl = d->pad_left;
        pr = d->pad_right;
        break;
    default:
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "unknown padding kind %d", (int)d->padding);
    }
    if (d->padding != AXMUL_PADDING_SAME) {
        int64_t ph = d->h + pt + pb, pw = d->w + pl + pr;
        if (ekh > ph || ekw > pw)
            return axmul__fail(AXMUL_ERR_SHAPE,
                               "kernel %lldx%lld (with dilation) is larger than the padded input "
                               "%lldx%lld",
                               (long long)ekh, (long long)ekw, (long long)ph, (long long)pw);
        oh = (ph - ekh) / d->stride_h + 1;
        ow = (pw - ekw) / d->stride_w + 1;
    }
    if (oh > INT32_MAX || ow > INT32_MAX)
        return axmul__fail(AXMUL_ERR_OVERFLOW, "output size too large");
    s = elems("output", (size_t)d->n, (size_t)oh, (size_t)ow, (size_t)d->co, &dummy);
    if (s != AXMUL_OK)
        return s;
    int64_t k = (int64_t)d->kh * d->kw * (d->c / d->groups);
    memset(p, 0, sizeof *p);
    p->n = d->n;
    p->h = d->h;
    p->w = d->w;
    p->c = d->c;
    p->kh = d->kh;
    p->kw = d->kw;
    p->co = d->co;
    p->oh = (int32_t)oh;
    p->ow = (int32_t)ow;
    p->sh = d->stride_h;
    p->sw = d->stride_w;
    p->dh = d->dilation_h;
    p->dw = d->dilation_w;
    p->pad_top = (int32_t)pt;
    p->pad_left = (int32_t)pl;
    p->groups = d->groups;
    p->cin_g = d->c / d->groups;
    p->cout_g = d->co / d->groups;
    p->k = (int32_t)k;
    if (pads) {
        pads[0] = (int)pt;
        pads[1] = (int)pb;
        pads[2] = (int)pl;
        pads[3] = (int)pr;
    }
    return AXMUL_OK;
}

axmul_status axmul_conv_output_shape(const axmul_conv_desc *d, int *oh, int *ow)
{
    axmul_error_clear();
    axmul__conv_plan p;
    axmul_status s = axmul__conv_geometry(d, &p, NULL);
    if (s == AXMUL_OK) {
        if (oh)
            *oh = p.oh;
        if (ow)
            *ow = p.ow;
    }
    return s;
}

axmul_status axmul_conv_padding(const axmul_conv_desc *d, int pad[4])
{
    axmul_error_clear();
    axmul__conv_plan p;
    int pads[4];
    axmul_status s = axmul__conv_geometry(d, &p, pads);
    if (s == AXMUL_OK && pad)
        memcpy(pad, pads, sizeof pads);
    return s;
}
