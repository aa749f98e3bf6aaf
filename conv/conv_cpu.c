/* axmul: portable CPU kernel. Work is organised the way the SIMD kernels need it: activations of
 * a chunk of output pixels are gathered tap-major (A[tap][pixel], an im2col transposed and cut
 * into chunks so that no full-size im2col ever exists), and for each weight the 256-entry table
 * column T[.][w] is applied to a whole row of activations. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "conv/conv_internal.h"
#include "internal.h"

/* Output pixels per chunk: a row of A is CHUNK bytes. */
#define CHUNK 128
/* Taps summed in 32-bit before spilling to 64-bit: 32768 * 65535 < 2^32 (unsigned) and
 * 32768 * 32768 <= 2^31 (signed), so no K can overflow. */
#define TAP_BLOCK 32768

typedef struct {
    const axmul__conv_setup *s;
    const uint8_t *qx;   /* quantized input codes, NHWC */
    const uint8_t *wq;   /* [co][k] codes */
    const int64_t *sum_qw;
    const uint16_t *tt;  /* transposed table: tt[b * 256 + a] */
    float *y;
} job_t;

/* Gathers A[tap][p] for pixels [p0, p0 + np) of group g and their code sums. */
static void gather(const job_t *J, int g, int64_t p0, int np, uint8_t *A, int64_t *sqa)
{
    const axmul__conv_plan *p = &J->s->p;
    const uint8_t zx = (uint8_t)p->zx;
    for (int q = 0; q < np; q++) {
        int64_t pix = p0 + q;
        int ox = (int)(pix % p->ow);
        int64_t r = pix / p->ow;
        int oy = (int)(r % p->oh);
        int n = (int)(r / p->oh);
        int64_t sum = 0;
        int tap = 0;
        for (int i = 0; i < p->kh; i++) {
            int iy = oy * p->sh - p->pad_top + i * p->dh;
            for (int j = 0; j < p->kw; j++) {
                int ix = ox * p->sw - p->pad_left + j * p->dw;
                if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w) {
                    for (int ci = 0; ci < p->cin_g; ci++, tap++)
                        A[(size_t)tap * CHUNK + q] = zx;
                    sum += (int64_t)zx * p->cin_g;
                } else {
                    const uint8_t *src = J->qx + (((size_t)n * p->h + iy) * p->w + ix) * p->c +
                                         (size_t)g * p->cin_g;
                    for (int ci = 0; ci < p->cin_g; ci++, tap++) {
                        A[(size_t)tap * CHUNK + q] = src[ci];
                        sum += p->is_signed ? (int8_t)src[ci] : src[ci];
                    }
                }
            }
        }
        sqa[q] = sum;
    }
}

static void chunk_unsigned(const job_t *J, int g, int np, const uint8_t *A, const int64_t *sqa,
                           int64_t p0, uint32_t *acc32, int64_t *acc64)
{
    const axmul__conv_plan *p = &J->s->p;
    for (int oo = 0; oo < p->cout_g; oo++) {
        int o = g * p->cout_g + oo;
        const uint8_t *wrow = J->wq + (size_t)o * p->k;
        memset(acc64, 0, sizeof(int64_t) * CHUNK);
        for (int t0 = 0; t0 < p->k; t0 += TAP_BLOCK) {
            int t1 = t0 + TAP_BLOCK < p->k ? t0 + TAP_BLOCK : p->k;
            memset(acc32, 0, sizeof(uint32_t) * CHUNK);
            for (int tap = t0; tap < t1; tap++) {
                const uint16_t *col = J->tt + (size_t)wrow[tap] * 256;
                const uint8_t *arow = A + (size_t)tap * CHUNK;
                for (int q = 0; q < np; q++)
                    acc32[q] += col[arow[q]];
            }
            for (int q = 0; q < np; q++)
                acc64[q] += acc32[q];
        }
        int64_t zw = J->s->zw[o], zx = p->zx;
        int64_t corr = (int64_t)p->k * zx * zw - zx * J->sum_qw[o];
        float sc = J->s->oscale[o];
        for (int q = 0; q < np; q++)
            J->y[(size_t)(p0 + q) * p->co + o] = axmul__conv_out(sc, acc64[q] - zw * sqa[q] + corr);
    }
}

static void chunk_signed(const job_t *J, int g, int np, const uint8_t *A, int64_t p0,
                         int32_t *acc32, int64_t *acc64)
{
    const axmul__conv_plan *p = &J->s->p;
    for (int oo = 0; oo < p->cout_g; oo++) {
        int o = g * p->cout_g + oo;
        const uint8_t *wrow = J->wq + (size_t)o * p->k;
        memset(acc64, 0, sizeof(int64_t) * CHUNK);
        for (int t0 = 0; t0 < p->k; t0 += TAP_BLOCK) {
            int t1 = t0 + TAP_BLOCK < p->k ? t0 + TAP_BLOCK : p->k;
            memset(acc32, 0, sizeof(int32_t) * CHUNK);
            for (int tap = t0; tap < t1; tap++) {
                const int16_t *col = (const int16_t *)(J->tt + (size_t)wrow[tap] * 256);
                const uint8_t *arow = A + (size_t)tap * CHUNK;
                for (int q = 0; q < np; q++)
                    acc32[q] += col[arow[q]];
            }
            for (int q = 0; q < np; q++)
                acc64[q] += acc32[q];
        }
        /* zero points are 0 for symmetric signed quantization: no corrections */
        float sc = J->s->oscale[o];
        for (int q = 0; q < np; q++)
            J->y[(size_t)(p0 + q) * p->co + o] = axmul__conv_out(sc, acc64[q]);
    }
}

axmul_status axmul__conv_cpu_portable(const axmul__conv_setup *s, const axmul_table *t,
                                      const float *x, const float *w, float *y, int threads)
{
    const axmul__conv_plan *p = &s->p;
    size_t nx = (size_t)p->n * p->h * p->w * p->c;
    uint8_t *qx = malloc(nx ? nx : 1);
    uint8_t *wq = malloc((size_t)p->co * p->k);
    int64_t *sum_qw = malloc(sizeof(int64_t) * (size_t)p->co);
    uint16_t *tt = malloc(sizeof(uint16_t) * AXMUL_TABLE_ENTRIES);
    if (!qx || !wq || !sum_qw || !tt) {
        free(qx);
        free(wq);
        free(sum_qw);
        free(tt);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory");
    }
    const uint16_t *tv = axmul_table_data(t);
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++)
            tt[b * 256 + a] = tv[a * 256 + b];
    int nthreads = threads > 0 ? threads : 0;
#ifdef _OPENMP
    if (nthreads == 0)
        nthreads = omp_get_max_threads();
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int64_t i = 0; i < (int64_t)nx; i++)
        qx[i] = (uint8_t)axmul_quantize(x[i], &s->xq);
    axmul__conv_quantize_filter(s, w, wq, sum_qw);

    job_t J = {s, qx, wq, sum_qw, tt, y};
    int64_t npix = (int64_t)p->n * p->oh * p->ow;
    int64_t nchunks = (npix + CHUNK - 1) / CHUNK;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
    {
        uint8_t *A = malloc((size_t)p->k * CHUNK);
        int64_t *sqa = malloc(sizeof(int64_t) * CHUNK);
        uint32_t *acc32 = malloc(sizeof(uint32_t) * CHUNK);
        int64_t *acc64 = malloc(sizeof(int64_t) * CHUNK);
        int ok = A && sqa && acc32 && acc64;
        if (!ok) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t ch = 0; ch < nchunks; ch++) {
            if (!ok)
                continue;
            int64_t p0 = ch * CHUNK;
            int np = (int)(npix - p0 < CHUNK ? npix - p0 : CHUNK);
            for (int g = 0; g < p->groups; g++) {
                gather(&J, g, p0, np, A, sqa);
                if (p->is_signed)
                    chunk_signed(&J, g, np, A, p0, (int32_t *)acc32, acc64);
                else
                    chunk_unsigned(&J, g, np, A, sqa, p0, acc32, acc64);
            }
        }
        free(A);
        free(sqa);
        free(acc32);
        free(acc64);
    }
    free(qx);
    free(wq);
    free(sum_qw);
    free(tt);
    if (failed)
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory for per-thread buffers");
    return AXMUL_OK;
}
