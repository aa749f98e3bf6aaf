/* axmul: the plain C reference kernel of the LUT convolution (axmul_conv2d_ref), which every fast
 * path is tested against, and the float convolution of the fake-quantized tensors
 * (axmul_conv2d_fakequant_float), the engine's independent check: what an exact multiplier
 * gives. Both are one straightforward loop nest over the shared tap and correction formulas. */
#include "config.h"

#include <stdlib.h>

#include "axmul_conv.h"
#include "lib/core/internal.h"
#include "lib/engine/engine.h"

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
                            int iy = axmul__in_y(p, oy, i), ix = axmul__in_x(p, ox, j);
                            if (!axmul__in_image(p, iy, ix))
                                continue; /* zero padding of the fake-quantized input */
                            const float *xr = xf + (((size_t)n * p->h + iy) * p->w + ix) * p->c +
                                              (size_t)g * p->cin_g;
                            const float *wr = wf + ((size_t)i * p->kw + j) * p->cin_g * p->co + o;
                            for (int ci = 0; ci < p->cin_g; ci++)
                                acc += (double)xr[ci] * (double)wr[(size_t)ci * p->co];
                        }
                    y[(((size_t)n * p->oh + oy) * p->ow + ox) * p->co + o] =
                        s.bias ? (float)acc + s.bias[o] : (float)acc;
                }
    free(xf);
    free(wf);
    axmul__conv_setup_free(&s);
    return AXMUL_OK;
}

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
                                int iy = axmul__in_y(p, oy, i), ix = axmul__in_x(p, ox, j);
                                int32_t qa = p->zx; /* padded tap: the input zero point */
                                if (axmul__in_image(p, iy, ix))
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
                    const int64_t acc = axmul__zp_correct(
                        lut, axmul__zp_base(p->k, p->zx, s.zw[o], sum_qw), s.zw[o], sum_qa);
                    const float v = axmul__conv_out(s.oscale[o], acc);
                    y[(((size_t)n * p->oh + oy) * p->ow + ox) * p->co + o] =
                        s.bias ? v + s.bias[o] : v;
                }
    axmul__conv_info_fill(info, &s, AXMUL_BACKEND_CPU, "ref", 0.0, 0);
    axmul__conv_setup_free(&s);
    return AXMUL_OK;
}
