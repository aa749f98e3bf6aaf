/* axmul: the CPU backend's quantization of whole tensors (identical codes to axmul_quantize, the
 * reference, on every path): bulk, threaded, and the filter's layout for the kernels. */
#include "config.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "axmul_conv.h"
#include "lib/cpu/cpu.h"
#include "lib/engine/backend.h"

static void bulk(axmul__quantize_fn f, const float *x, size_t n, const axmul_qparams *q,
                 uint8_t *out)
{
    if (q->degenerate) {
        memset(out, 0, n);
        return;
    }
    f(x, n, q->nudged_min, q->nudged_max, 1.0f / q->scale, q->is_signed, out);
}

void axmul__quantize_threads(const float *x, size_t n, const axmul_qparams *q, uint8_t *out,
                             int nthreads)
{
    axmul__quantize_threads_with(axmul__cpu_best_quantizer(), x, n, q, out, nthreads);
}

void axmul__quantize_threads_with(axmul__quantize_fn f, const float *x, size_t n,
                                  const axmul_qparams *q, uint8_t *out, int nthreads)
{
    const size_t block = 4096; /* 16 KiB of floats: a thread's share stays in L1 */
    const int64_t nblocks = (int64_t)((n + block - 1) / block);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads > 0 ? nthreads : omp_get_max_threads())              \
    schedule(static) if (nblocks > 16)
#endif
    for (int64_t b = 0; b < nblocks; b++) {
        size_t i0 = (size_t)b * block, len = n - i0 < block ? n - i0 : block;
        bulk(f, x + i0, len, q, out + i0);
    }
    (void)nthreads;
}

void axmul__conv_quantize_filter(const axmul__conv_setup *s, const float *w, uint8_t *wq,
                                 int64_t *sum_qw, int threads)
{
    const axmul__conv_plan *p = &s->p;
    const int co = p->co, nblk = (co + 15) / 16;
    const axmul__quantize_fn f = axmul__cpu_best_quantizer(); /* once, not per run */
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
                    bulk(f, run[j], (size_t)n, q, dst);
                for (int t = 0; t < n; t++)
                    sum[j] += p->is_signed ? (int8_t)dst[t] : dst[t];
            }
        }
        for (int j = 0; j < no; j++)
            sum_qw[o0 + j] = sum[j];
    }
}
