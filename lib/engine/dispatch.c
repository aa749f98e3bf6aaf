/* axmul: the engine's front door: axmul_conv2d and axmul_dense validate and resolve a call
 * (quant.c, desc.c), pick the backend the descriptor asks for and hand the call to it through
 * the contract of lib/engine/backend.h. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "axmul_conv.h"
#include "lib/core/internal.h"
#include "lib/engine/backend.h"
#include "lib/engine/engine.h"

void axmul__conv_info_fill(axmul_conv_info *info, const axmul__conv_setup *s, axmul_backend b,
                           const char *path, double device_seconds, size_t work_bytes)
{
    if (!info)
        return;
    info->backend = b;
    info->device_seconds = device_seconds;
    info->work_bytes = work_bytes;
    info->path = path;
    info->input_q = s->xq;
    info->filter_q = s->wq[0];
    info->macs = (uint64_t)s->p.n * s->p.oh * s->p.ow * s->p.co * (uint64_t)s->p.k;
}

axmul_status axmul_cuda_available(void)
{
    return axmul__cuda_status();
}

static axmul_status pick_backend(axmul_backend want, axmul_backend *out)
{
    if (want == AXMUL_BACKEND_CPU) {
        *out = AXMUL_BACKEND_CPU;
        return AXMUL_OK;
    }
    if (want == AXMUL_BACKEND_CUDA) {
        axmul_status s = axmul__cuda_status();
        if (s != AXMUL_OK)
            return s;
        *out = AXMUL_BACKEND_CUDA;
        return AXMUL_OK;
    }
    if (want != AXMUL_BACKEND_AUTO)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "unknown backend %d", (int)want);
    *out = axmul__cuda_status() == AXMUL_OK ? AXMUL_BACKEND_CUDA : AXMUL_BACKEND_CPU;
    axmul_error_clear();
    return AXMUL_OK;
}

axmul_status axmul_conv2d(const axmul_conv_desc *d, const axmul_table *t, const float *x,
                          const float *w, float *y, axmul_conv_info *info)
{
    axmul_error_clear();
    if (!d || !y)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: NULL descriptor or output");
    axmul_backend b = AXMUL_BACKEND_CPU;
    axmul_status st = pick_backend(d->backend, &b);
    if (st != AXMUL_OK)
        return st;
    axmul__conv_setup s;
    if ((st = axmul__conv_setup_make(d, t, x, w, &s)) != AXMUL_OK)
        return st;
    const char *path = NULL;
    double kernel_s = 0.0;
    size_t work = 0;
    if (b == AXMUL_BACKEND_CUDA)
        st = axmul__cuda_conv2d(&s, t, x, w, y, d->threads, &kernel_s, &work, &path);
    else
        st = axmul__cpu_conv(&s, t, x, w, y, d->threads, &path, &work);
    if (st == AXMUL_OK)
        axmul__conv_info_fill(info, &s, b, path, kernel_s, work);
    axmul__conv_setup_free(&s);
    return st;
}

/* ---------------------------------------------------------------- dense */

static void dense_to_conv(const axmul_dense_desc *dd, axmul_conv_desc *c)
{
    axmul_conv_desc_init(c);
    c->n = dd->n;
    c->h = c->w = 1;
    c->c = dd->in;
    c->kh = c->kw = 1;
    c->co = dd->out;
    c->padding = AXMUL_PADDING_VALID;
    c->input_range_set = dd->input_range_set;
    c->input_range = dd->input_range;
    c->filter_range_set = dd->filter_range_set;
    c->filter_range = dd->filter_range;
    c->per_channel = dd->per_channel;
    c->channel_ranges = dd->channel_ranges;
    c->backend = dd->backend;
    c->threads = dd->threads;
    c->input_name = dd->input_name;
    c->filter_name = dd->filter_name;
    c->bias = dd->bias;
}

axmul_status axmul_dense(const axmul_dense_desc *d, const axmul_table *t, const float *x,
                         const float *w, float *y, axmul_conv_info *info)
{
    if (!d) {
        axmul_error_clear();
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "dense descriptor is NULL");
    }
    axmul_conv_desc c;
    dense_to_conv(d, &c);
    return axmul_conv2d(&c, t, x, w, y, info);
}

axmul_status axmul_dense_ref(const axmul_dense_desc *d, const axmul_table *t, const float *x,
                             const float *w, float *y, axmul_conv_info *info)
{
    if (!d) {
        axmul_error_clear();
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "dense descriptor is NULL");
    }
    axmul_conv_desc c;
    dense_to_conv(d, &c);
    return axmul_conv2d_ref(&c, t, x, w, y, info);
}
