/* axmul: convolution engine front end: validation, quantization (TensorFlow FakeQuant
 * semantics), dispatch to the kernels. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_conv.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#include "conv/conv_internal.h"
#include "internal.h"
#include "cuda/conv_kernel.h"
#ifdef HAVE_CUDA
#include <pthread.h>

#include "cuda/cuda_probe.h"
#endif

/* Largest element count of any one tensor: int32 indexing in every kernel (documented in
 * doc/semantics.md). */
#define AXMUL_MAX_ELEMS ((size_t)INT32_MAX)

/* ---------------------------------------------------------------- quantization */

axmul_status axmul_qparams_from_range(axmul_range r, int is_signed, const char *what,
                                      axmul_qparams *out)
{
    if (!what)
        what = "tensor";
    memset(out, 0, sizeof *out);
    out->is_signed = is_signed ? 1 : 0;
    if (!isfinite(r.min) || !isfinite(r.max))
        return axmul__fail(AXMUL_ERR_RANGE, "%s range [%g, %g] is not finite", what, r.min, r.max);
    if (r.min > r.max)
        return axmul__fail(AXMUL_ERR_RANGE, "%s range [%g, %g] is inverted (min > max)", what,
                           r.min, r.max);
    if (r.min == r.max) {
        if (r.min != 0.0f)
            return axmul__fail(AXMUL_ERR_RANGE,
                               "%s range [%g, %g] has zero width (widen it to include 0)", what,
                               r.min, r.max);
        out->degenerate = 1; /* TensorFlow: min == max == 0 quantizes everything to 0 */
        return AXMUL_OK;
    }
    if (is_signed) {
        /* Symmetric int8: the larger of the two half-range scales, so that both ends fit. */
        float s = fmaxf(-r.min / 128.0f, r.max / 127.0f);
        out->scale = s;
        out->zero_point = 0;
        out->nudged_min = -128.0f * s;
        out->nudged_max = 127.0f * s;
        return AXMUL_OK;
    }
    /* TensorFlow's Nudge() for quant_min = 0, quant_max = 255, in float32. */
    float scale = (r.max - r.min) / 255.0f;
    float zp_from_min = 0.0f - r.min / scale;
    int32_t zp;
    if (zp_from_min < 0.0f)
        zp = 0;
    else if (zp_from_min > 255.0f)
        zp = 255;
    else
        zp = (int32_t)roundf(zp_from_min); /* half away from zero, as std::round */
    out->scale = scale;
    out->zero_point = zp;
    out->nudged_min = (0.0f - (float)zp) * scale;
    out->nudged_max = (255.0f - (float)zp) * scale;
    return AXMUL_OK;
}

int32_t axmul_quantize(float x, const axmul_qparams *q)
{
    if (q->degenerate || x != x)
        return q->is_signed ? 0 : q->zero_point;
    if (q->is_signed) {
        float qf = floorf(x * (1.0f / q->scale) + 0.5f);
        if (qf < -128.0f)
            return -128;
        if (qf > 127.0f)
            return 127;
        return (int32_t)qf;
    }
    float c = x < q->nudged_min ? q->nudged_min : (x > q->nudged_max ? q->nudged_max : x);
    float shifted = c - q->nudged_min;
    float inv = 1.0f / q->scale;
    float qf = floorf(shifted * inv + 0.5f);
    /* float rounding can reach 256 at the top of the range: the table has no such row */
    if (qf > 255.0f)
        return 255;
    if (qf < 0.0f)
        return 0;
    return (int32_t)qf;
}

float axmul_dequantize(int32_t q, const axmul_qparams *qp)
{
    if (qp->degenerate)
        return 0.0f;
    if (qp->is_signed)
        return (float)q * qp->scale;
    return (float)q * qp->scale + qp->nudged_min;
}

void axmul__range_include_zero(axmul_range *r)
{
    if (r->min == r->max) { /* a constant tensor: widen to include 0 */
        if (r->min > 0)
            r->min = 0;
        else
            r->max = 0;
    }
}

axmul_range axmul__channel_range(const float *w, size_t per, int co, int o)
{
    /* HWIO: channel o is every co-th element */
    axmul_range r = {w[o], w[o]};
    for (size_t i = 0; i < per; i++) {
        float v = w[i * (size_t)co + (size_t)o];
        r.min = v < r.min ? v : r.min;
        r.max = v > r.max ? v : r.max;
    }
    axmul__range_include_zero(&r);
    return r;
}

static axmul_status check_finite(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return axmul__fail(AXMUL_ERR_NONFINITE, "%s: element %zu is %s", what, i,
                               x[i] != x[i] ? "NaN" : (x[i] > 0 ? "+Inf" : "-Inf"));
    return AXMUL_OK;
}

/* Finiteness and min/max in one parallel pass over a large tensor (min and max do not depend on
 * the order of the reduction, so the result is the same on any thread count). */
static axmul_status scan_tensor(const float *x, size_t n, const char *what, int threads,
                                axmul_range *range)
{
    /* Non-finite values are found from their exponent bits, so that the loop has no branch and
     * vectorizes; the first one is named by check_finite afterwards. */
    unsigned bad = 0;
    float lo = n ? x[0] : 0.0f, hi = lo;
#ifdef _OPENMP
    int nt = threads > 0 ? threads : omp_get_max_threads();
    /* clang-format off */
#pragma omp parallel for simd num_threads(nt) reduction(min : lo) reduction(max : hi) \
    reduction(| : bad) schedule(static) if (n > 65536)
    /* clang-format on */
#endif
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    (void)threads;
    if (bad)
        return check_finite(x, n, what); /* names the first bad element */
    range->min = lo;
    range->max = hi;
    axmul__range_include_zero(range);
    return AXMUL_OK;
}

axmul_status axmul_range_of(const float *x, size_t n, const char *what, axmul_range *out)
{
    if (!what)
        what = "tensor";
    if (n == 0)
        return axmul__fail(AXMUL_ERR_SHAPE, "%s is empty", what);
    return scan_tensor(x, n, what, 0, out);
}

/* ---------------------------------------------------------------- descriptors */

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
        n > AXMUL_MAX_ELEMS)
        return axmul__fail(AXMUL_ERR_OVERFLOW,
                           "%s has more than %zu elements (the engine's per-tensor limit)", what,
                           AXMUL_MAX_ELEMS);
    *out = n;
    return AXMUL_OK;
}

/* Resolves padding and output size; fills the geometry part of a plan. */
static axmul_status geometry(const axmul_conv_desc *d, axmul__conv_plan *p)
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
    return AXMUL_OK;
}

axmul_status axmul_conv_output_shape(const axmul_conv_desc *d, int *oh, int *ow)
{
    axmul_error_clear();
    axmul__conv_plan p;
    axmul_status s = geometry(d, &p);
    if (s == AXMUL_OK) {
        if (oh)
            *oh = p.oh;
        if (ow)
            *ow = p.ow;
    }
    return s;
}

void axmul__conv_setup_free(axmul__conv_setup *s)
{
    free(s->wq);
    free(s->zw);
    free(s->sw);
    free(s->oscale);
    memset(s, 0, sizeof *s);
}

axmul_status axmul__conv_setup_make(const axmul_conv_desc *d, const axmul_table *t, const float *x,
                                    const float *w, axmul__conv_setup *s)
{
    memset(s, 0, sizeof *s);
    if (!t || !x || !w)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: NULL table or tensor");
    axmul_status st = geometry(d, &s->p);
    if (st != AXMUL_OK)
        return st;
    const char *xname = d->input_name ? d->input_name : "input";
    const char *wname = d->filter_name ? d->filter_name : "filter";
    size_t nx = (size_t)d->n * d->h * d->w * d->c;
    size_t nw = (size_t)d->kh * d->kw * s->p.cin_g * d->co;
    axmul_range xr, data_r, w_r;
    if ((st = scan_tensor(x, nx, xname, d->threads, &data_r)) != AXMUL_OK ||
        (st = scan_tensor(w, nw, wname, d->threads, &w_r)) != AXMUL_OK)
        return st;
    int sgn = axmul_table_is_signed(t);
    s->p.is_signed = sgn;
    xr = d->input_range_set ? d->input_range : data_r;
    char what[300];
    snprintf(what, sizeof what, "%s", xname);
    if ((st = axmul_qparams_from_range(xr, sgn, what, &s->xq)) != AXMUL_OK)
        return st;
    s->p.zx = s->xq.is_signed ? 0 : s->xq.zero_point;
    s->p.sx = s->xq.degenerate ? 0.0f : s->xq.scale;
    s->p.degenerate = s->xq.degenerate;

    int co = d->co;
    s->wq = calloc((size_t)co, sizeof *s->wq);
    s->zw = calloc((size_t)co, sizeof *s->zw);
    s->sw = calloc((size_t)co, sizeof *s->sw);
    s->oscale = calloc((size_t)co, sizeof *s->oscale);
    if (!s->wq || !s->zw || !s->sw || !s->oscale) {
        axmul__conv_setup_free(s);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory");
    }
    if (!d->per_channel) {
        axmul_range wr = d->filter_range_set ? d->filter_range : w_r;
        snprintf(what, sizeof what, "%s", wname);
        if ((st = axmul_qparams_from_range(wr, sgn, what, &s->wq[0])) != AXMUL_OK)
            goto fail;
        for (int o = 1; o < co; o++)
            s->wq[o] = s->wq[0];
    } else {
        size_t per = nw / (size_t)co;
        for (int o = 0; o < co; o++) {
            axmul_range wr;
            snprintf(what, sizeof what, "%s channel %d", wname, o);
            if (d->channel_ranges) {
                wr = d->channel_ranges[o];
            } else {
                wr = axmul__channel_range(w, per, co, o);
            }
            if ((st = axmul_qparams_from_range(wr, sgn, what, &s->wq[o])) != AXMUL_OK)
                goto fail;
        }
    }
    for (int o = 0; o < co; o++) {
        s->zw[o] = s->wq[o].is_signed ? 0 : s->wq[o].zero_point;
        s->sw[o] = s->wq[o].degenerate ? 0.0f : s->wq[o].scale;
        s->oscale[o] = s->p.sx * s->sw[o];
    }
    return AXMUL_OK;
fail:
    axmul__conv_setup_free(s);
    return st;
}

void axmul__conv_quantize_filter(const axmul__conv_setup *s, const float *w, uint8_t *wq,
                                 int64_t *sum_qw, int threads)
{
    const axmul__conv_plan *p = &s->p;
    const int co = p->co, nblk = (co + 15) / 16;
    (void)threads;
    /* HWIO: tap t of output channel o is w[t * co + o]. Blocks of 16 channels x 256 taps are
     * transposed into contiguous runs (reading each cache line of w once), which the bulk
     * quantizer (identical codes to axmul_quantize) then takes. */
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads > 0 ? threads : omp_get_max_threads()) schedule(static)
#endif
    for (int bl = 0; bl < nblk; bl++) {
        const int o0 = bl * 16, no = co - o0 < 16 ? co - o0 : 16;
        int64_t sum[16] = {0};
        for (int t0 = 0; t0 < p->k; t0 += 256) {
            const int n = p->k - t0 < 256 ? p->k - t0 : 256;
            float run[16][256];
            for (int t = 0; t < n; t++)
                for (int j = 0; j < no; j++)
                    run[j][t] = w[(size_t)(t0 + t) * co + o0 + j];
            for (int j = 0; j < no; j++) {
                const axmul_qparams *q = &s->wq[o0 + j];
                uint8_t *dst = wq + (size_t)(o0 + j) * p->k + t0;
                if (q->degenerate) /* every code is the zero point (0 when signed) */
                    memset(dst, (uint8_t)axmul_quantize(0.0f, q), (size_t)n);
                else
                    axmul__quantize_bulk(run[j], (size_t)n, q, dst);
                for (int t = 0; t < n; t++)
                    sum[j] += p->is_signed ? (int8_t)dst[t] : dst[t];
            }
        }
        for (int j = 0; j < no; j++)
            sum_qw[o0 + j] = sum[j];
    }
}

static void fill_info(axmul_conv_info *info, const axmul__conv_setup *s, axmul_backend b,
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

/* ---------------------------------------------------------------- backends */

#ifdef HAVE_CUDA
/* The probe runs once (pthread_once: concurrent first calls are common in threaded sweeps): it
 * launches a kernel, so a GPU whose architecture this build has no image for is reported here
 * instead of computing garbage later. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_ok;
static char probe_why[256];

/* A fork() while another thread is inside the probe (the CUDA runtime dlopen()s the driver
 * library there) gives a child whose dynamic loader is caught mid-update, and the child's own
 * probe (glibc lets a child re-run an unfinished pthread_once) crashed in dlopen: seen as a
 * SIGSEGV in tests/check_conv's fork test under load. So fork() waits for a running probe: the
 * lock is held across the probe and taken around fork(), the handlers being registered when the
 * library is loaded, before any thread can probe. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;

static void probe_fork_prepare(void)
{
    pthread_mutex_lock(&probe_lock);
}

static void probe_fork_after(void)
{
    pthread_mutex_unlock(&probe_lock);
}

__attribute__((constructor)) static void probe_register_fork(void)
{
    pthread_atfork(probe_fork_prepare, probe_fork_after, probe_fork_after);
}

static void probe_run(void)
{
    int n = 0;
    char msg[256] = "";
    pthread_mutex_lock(&probe_lock);
    if (axmul__cuda_probe(&n, msg, sizeof msg) != 0 || n == 0)
        snprintf(probe_why, sizeof probe_why, "%s", msg);
    else
        probe_ok = 1;
    pthread_mutex_unlock(&probe_lock);
}
#endif

axmul_status axmul_cuda_available(void)
{
#ifdef HAVE_CUDA
    if (getenv("AXMUL_DISABLE_CUDA") && strcmp(getenv("AXMUL_DISABLE_CUDA"), "0") != 0)
        return axmul__fail(AXMUL_ERR_NO_DEVICE, "CUDA disabled by AXMUL_DISABLE_CUDA");
    pthread_once(&probe_once, probe_run);
    if (!probe_ok)
        return axmul__fail(AXMUL_ERR_NO_DEVICE, "no usable CUDA device: %s", probe_why);
    return AXMUL_OK;
#else
    return axmul__fail(AXMUL_ERR_NOT_BUILT, "this build has no CUDA backend (configure "
                                            "--with-cuda)");
#endif
}

static axmul_status pick_backend(axmul_backend want, axmul_backend *out)
{
    if (want == AXMUL_BACKEND_CPU) {
        *out = AXMUL_BACKEND_CPU;
        return AXMUL_OK;
    }
    if (want == AXMUL_BACKEND_CUDA) {
        axmul_status s = axmul_cuda_available();
        if (s != AXMUL_OK)
            return s;
        *out = AXMUL_BACKEND_CUDA;
        return AXMUL_OK;
    }
    if (want != AXMUL_BACKEND_AUTO)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "unknown backend %d", (int)want);
    *out = axmul_cuda_available() == AXMUL_OK ? AXMUL_BACKEND_CUDA : AXMUL_BACKEND_CPU;
    axmul_error_clear();
    return AXMUL_OK;
}

axmul_status axmul__cuda_job_make(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                  const float *w, float *y, int threads, axmul__cuda_job *job)
{
    const axmul__conv_plan *p = &s->p;
    const size_t nx = (size_t)p->n * p->h * p->w * p->c, nw = (size_t)p->co * p->k;
    const size_t nwt = axmul__cuda_weight_tile_bytes(p);
    memset(job, 0, sizeof *job);
    uint8_t *qx = malloc(nx ? nx : 1), *wq = malloc(nw ? nw : 1), *wt = malloc(nwt + 1);
    int64_t *sum_qw = malloc(sizeof(int64_t) * (size_t)p->co);
    job->work_bytes = nx + nw + nwt + sizeof(int64_t) * (size_t)p->co;
    job->p = p;
    job->qx = qx;
    job->wt = wt;
    job->sum_qw = sum_qw;
    job->zw = s->zw;
    job->oscale = s->oscale;
    job->y = y;
    job->tt = axmul__prepared_colmajor(t, p->is_signed, &job->hold_);
    if (!qx || !wq || !wt || !sum_qw || !job->tt) {
        free(wq);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory");
    }
    axmul__quantize_threads(x, nx, &s->xq, qx, threads);
    axmul__conv_quantize_filter(s, w, wq, sum_qw, threads);
    axmul__cuda_weight_tiles(p, wq, wt);
    free(wq);
    return AXMUL_OK;
}

void axmul__cuda_job_free(axmul__cuda_job *job)
{
    free((void *)job->qx);
    free((void *)job->wt);
    free((void *)job->sum_qw);
    axmul__prepared_release(job->hold_);
    memset(job, 0, sizeof *job);
}

#ifdef HAVE_CUDA
/* The CUDA backend: host preparation as above, then the device kernel (cuda/conv.cu). */
static axmul_status conv_cuda(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                              const float *w, float *y, int threads, double *kernel_seconds,
                              size_t *work, const char **kernel)
{
    axmul__cuda_job job;
    axmul_status st = axmul__cuda_job_make(s, t, x, w, y, threads, &job);
    char msg[512];
    if (st == AXMUL_OK && axmul__cuda_conv(&job, msg, sizeof msg) != 0)
        st = axmul__fail(AXMUL_ERR_CUDA, "CUDA: %s", msg);
    *kernel_seconds = job.kernel_seconds;
    *work = job.work_bytes;
    *kernel = job.kernel;
    axmul__cuda_job_free(&job);
    return st;
}
#endif

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
#ifdef HAVE_CUDA
    if (b == AXMUL_BACKEND_CUDA) {
        double kernel_s = 0.0;
        size_t work = 0;
        st = conv_cuda(&s, t, x, w, y, d->threads, &kernel_s, &work, &path);
        if (st == AXMUL_OK)
            fill_info(info, &s, AXMUL_BACKEND_CUDA, path, kernel_s, work);
        axmul__conv_setup_free(&s);
        return st;
    }
#endif
    size_t work = 0;
    st = axmul__conv_cpu(&s, t, x, w, y, d->threads, &path, &work);
    if (st == AXMUL_OK)
        fill_info(info, &s, AXMUL_BACKEND_CPU, path, 0.0, work);
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

/* ---------------------------------------------------------------- float reference */

axmul_status axmul_conv2d_fakequant_float(const axmul_conv_desc *d, int is_signed, const float *x,
                                          const float *w, float *y)
{
    axmul_error_clear();
    axmul_table *t;
    /* The table only carries the signedness into setup; its entries are not read. */
    axmul_status st = axmul_table_create(is_signed, &t);
    if (st != AXMUL_OK)
        return st;
    axmul__conv_setup s;
    st = axmul__conv_setup_make(d, t, x, w, &s);
    axmul_table_free(t);
    if (st != AXMUL_OK)
        return st;
    const axmul__conv_plan *p = &s.p;
    /* Fake-quantize both tensors once (the values TensorFlow's FakeQuant op would output). */
    size_t nx = (size_t)p->n * p->h * p->w * p->c, nw = (size_t)p->kh * p->kw * p->cin_g * p->co;
    float *xf = malloc(nx * sizeof *xf), *wf = malloc(nw * sizeof *wf);
    if (!xf || !wf) {
        free(xf);
        free(wf);
        axmul__conv_setup_free(&s);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory");
    }
    for (size_t i = 0; i < nx; i++)
        xf[i] = axmul_dequantize(axmul_quantize(x[i], &s.xq), &s.xq);
    for (size_t i = 0; i < nw; i++) {
        int o = (int)(i % (size_t)p->co);
        wf[i] = axmul_dequantize(axmul_quantize(w[i], &s.wq[o]), &s.wq[o]);
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int n = 0; n < p->n; n++)
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++)
                for (int o = 0; o < p->co; o++) {
                    int g = o / p->cout_g;
                    double acc = 0;
                    for (int i = 0; i < p->kh; i++)
                        for (int j = 0; j < p->kw; j++) {
                            int iy = oy * p->sh - p->pad_top + i * p->dh;
                            int ix = ox * p->sw - p->pad_left + j * p->dw;
                            if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                                continue; /* zero padding of the fake-quantized input */
                            const float *xr = xf + (((size_t)n * p->h + iy) * p->w + ix) * p->c +
                                              (size_t)g * p->cin_g;
                            const float *wr = wf + ((size_t)i * p->kw + j) * p->cin_g * p->co + o;
                            for (int ci = 0; ci < p->cin_g; ci++)
                                acc += (double)xr[ci] * (double)wr[(size_t)ci * p->co];
                        }
                    y[(((size_t)n * p->oh + oy) * p->ow + ox) * p->co + o] = (float)acc;
                }
    free(xf);
    free(wf);
    axmul__conv_setup_free(&s);
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- reference kernel */

axmul_status axmul_conv2d_ref(const axmul_conv_desc *d, const axmul_table *t, const float *x,
                              const float *w, float *y, axmul_conv_info *info)
{
    axmul_error_clear();
    if (!d || !y)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: NULL descriptor or output");
    axmul__conv_setup s;
    axmul_status st = axmul__conv_setup_make(d, t, x, w, &s);
    if (st != AXMUL_OK)
        return st;
    const axmul__conv_plan *p = &s.p;
    for (int n = 0; n < p->n; n++)
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++)
                for (int o = 0; o < p->co; o++) {
                    int g = o / p->cout_g;
                    int64_t lut = 0, sum_qa = 0, sum_qw = 0;
                    for (int i = 0; i < p->kh; i++)
                        for (int j = 0; j < p->kw; j++)
                            for (int ci = 0; ci < p->cin_g; ci++) {
                                int iy = oy * p->sh - p->pad_top + i * p->dh;
                                int ix = ox * p->sw - p->pad_left + j * p->dw;
                                int32_t qa = p->zx; /* padded tap: the input zero point */
                                if (iy >= 0 && iy < p->h && ix >= 0 && ix < p->w)
                                    qa = axmul_quantize(
                                        x[(((size_t)n * p->h + iy) * p->w + ix) * p->c +
                                          (size_t)g * p->cin_g + ci],
                                        &s.xq);
                                int32_t qw = axmul_quantize(
                                    w[(((size_t)i * p->kw + j) * p->cin_g + ci) * p->co + o],
                                    &s.wq[o]);
                                lut += axmul_table_product(t, (unsigned)qa & 255u,
                                                           (unsigned)qw & 255u);
                                sum_qa += qa;
                                sum_qw += qw;
                            }
                    int64_t zw = s.zw[o], zx = p->zx;
                    int64_t acc = lut - zw * sum_qa - zx * sum_qw + (int64_t)p->k * zx * zw;
                    y[(((size_t)n * p->oh + oy) * p->ow + ox) * p->co + o] =
                        axmul__conv_out(s.oscale[o], acc);
                }
    fill_info(info, &s, AXMUL_BACKEND_CPU, "ref", 0.0, 0);
    axmul__conv_setup_free(&s);
    return AXMUL_OK;
}
