/* axmul: the exact float convolution, im2col + SGEMM (OpenBLAS): the float layers of networks,
 * training's gradients (col2im), and axmul_conv2d_float, the baseline an ML framework would run. */
#include "config.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "axmul_conv.h"
#include "lib/core/internal.h"
#include "lib/engine/engine.h"

void axmul__im2col(const axmul__conv_plan *p, const float *x_img, int g, float *col)
{
    const int cin = p->cin_g;
    const size_t k = (size_t)p->kh * p->kw * cin;
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
            float *dst = col + ((size_t)oy * p->ow + ox) * k;
            for (int i = 0; i < p->kh; i++) {
                const int iy = axmul__in_y(p, oy, i);
                for (int j = 0; j < p->kw; j++) {
                    const int ix = axmul__in_x(p, ox, j);
                    float *t = dst + ((size_t)i * p->kw + j) * cin;
                    if (!axmul__in_image(p, iy, ix))
                        memset(t, 0, sizeof(float) * (size_t)cin);
                    else
                        memcpy(t, x_img + ((size_t)iy * p->w + ix) * p->c + (size_t)g * cin,
                               sizeof(float) * (size_t)cin);
                }
            }
        }
}

void axmul__col2im_add(const axmul__conv_plan *p, const float *col, int g, float *dx_img)
{
    const int cin = p->cin_g;
    const size_t k = (size_t)p->kh * p->kw * cin;
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
            const float *src = col + ((size_t)oy * p->ow + ox) * k;
            for (int i = 0; i < p->kh; i++) {
                const int iy = axmul__in_y(p, oy, i);
                for (int j = 0; j < p->kw; j++) {
                    const int ix = axmul__in_x(p, ox, j);
                    if (!axmul__in_image(p, iy, ix))
                        continue;
                    const float *t = src + ((size_t)i * p->kw + j) * cin;
                    float *d = dx_img + ((size_t)iy * p->w + ix) * p->c + (size_t)g * cin;
                    for (int c = 0; c < cin; c++)
                        d[c] += t[c];
                }
            }
        }
}

void axmul__conv_float(const axmul__conv_plan *p, const float *x, const float *w, float *y,
                       float *col)
{
    const int cout = p->cout_g, P = p->oh * p->ow, K = p->kh * p->kw * p->cin_g;
    const size_t in_img = (size_t)p->h * p->w * p->c, out_img = (size_t)P * p->co;
    for (int img = 0; img < p->n; img++)
        for (int g = 0; g < p->groups; g++) {
            axmul__im2col(p, x + (size_t)img * in_img, g, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, cout, K, 1.0f, col, K,
                        w + (size_t)g * cout, p->co, 0.0f,
                        y + (size_t)img * out_img + (size_t)g * cout, p->co);
        }
}

axmul_status axmul_conv2d_float(const axmul_conv_desc *d, const float *x, const float *w, float *y)
{
    axmul_error_clear();
    if (!d || !x || !w || !y)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: NULL descriptor or tensor");
    axmul__conv_plan p;
    axmul_status st = axmul__conv_geometry(d, &p, NULL);
    if (st != AXMUL_OK)
        return st;
    if (p.groups == 1 && axmul__plan_pointwise(&p)) {
        /* pointwise (dense, 1x1): one SGEMM over all pixels, as a framework would do */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p.n * p.oh * p.ow, p.co, p.c, 1.0f,
                    x, p.c, w, p.co, 0.0f, y, p.co);
        axmul__add_channel_bias(y, (size_t)p.n * p.oh * p.ow, p.co, d->bias, d->threads);
        return AXMUL_OK;
    }
    size_t ncol;
    if (!axmul__mul_size((size_t)p.oh * p.ow, (size_t)p.kh * p.kw * p.cin_g, &ncol) ||
        ncol > AXMUL__MAX_ELEMS)
        return axmul__fail(AXMUL_ERR_OVERFLOW,
                           "conv: one image's im2col has more than %zu elements", AXMUL__MAX_ELEMS);
    float *col = malloc(ncol * sizeof *col);
    if (!col)
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory (%zu floats of im2col)", ncol);
    axmul__conv_float(&p, x, w, y, col);
    free(col);
    axmul__add_channel_bias(y, (size_t)p.n * p.oh * p.ow, p.co, d->bias, d->threads);
    return AXMUL_OK;
}

void axmul__add_channel_bias(float *y, size_t npix, int co, const float *bias, int threads)
{
    if (!bias)
        return;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads > 0 ? threads : omp_get_max_threads())                \
    schedule(static) if (npix * (size_t)co >= 65536)
#endif
    for (size_t p = 0; p < npix; p++) {
        float *yp = y + p * (size_t)co;
        for (int o = 0; o < co; o++)
            yp[o] += bias[o];
    }
}
