/* axmul: the portable CPU kernels, plain C for any CPU: the LUT-MAC kernel (one column lookup
 * per tap and pixel) and the bulk quantizer. */
#include "config.h"

#include <string.h>

#include "lib/cpu/cpu.h"

/* Four taps per pass over the pixels: each pixel's accumulator is loaded and stored once per
 * four lookups instead of once per lookup, and the four columns (2 KiB) stay in L1; the loads
 * left are one activation byte and one table entry per lookup, the limit of a core's load ports
 * (bench/lut_micro.c measures the schemes; doc/performance.md). The loop stays scalar: the
 * vectorizers' emulated or hardware gathers are slower than these loads. */
#if defined(__clang__)
#define AXMUL__NO_VECTORIZE _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define AXMUL__NO_VECTORIZE
#endif
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize")))
#endif
void axmul__lut_kernel_portable(const uint8_t *A, int ntaps, const uint8_t *wrow,
                                const axmul__lut *lut, int np, uint32_t *acc)
{
    memset(acc, 0, sizeof(uint32_t) * (size_t)np);
    int tap = 0;
    for (; tap + 4 <= ntaps; tap += 4) {
        const uint16_t *c0 = lut->tt + (size_t)wrow[tap] * 256;
        const uint16_t *c1 = lut->tt + (size_t)wrow[tap + 1] * 256;
        const uint16_t *c2 = lut->tt + (size_t)wrow[tap + 2] * 256;
        const uint16_t *c3 = lut->tt + (size_t)wrow[tap + 3] * 256;
        const uint8_t *r0 = A + (size_t)tap * AXMUL__CHUNK, *r1 = r0 + AXMUL__CHUNK,
                      *r2 = r1 + AXMUL__CHUNK, *r3 = r2 + AXMUL__CHUNK;
        AXMUL__NO_VECTORIZE
        for (int q = 0; q < np; q++)
            acc[q] += (uint32_t)c0[r0[q]] + c1[r1[q]] + c2[r2[q]] + c3[r3[q]];
    }
    for (; tap < ntaps; tap++) {
        const uint16_t *col = lut->tt + (size_t)wrow[tap] * 256;
        const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
        AXMUL__NO_VECTORIZE
        for (int q = 0; q < np; q++)
            acc[q] += col[row[q]];
    }
}

void axmul__quantize_portable(const float *x, size_t n, float nmin, float nmax, float inv,
                              int is_signed, uint8_t *out)
{
    /* floor without libm: truncation, corrected for negative non-integers */
    if (is_signed) {
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * inv + 0.5f;
            int32_t q;
            if (!(v > -129.0f))
                q = -128;
            else if (v >= 128.0f)
                q = 127;
            else {
                q = (int32_t)v;
                if ((float)q > v)
                    q--;
                q = q < -128 ? -128 : q;
            }
            out[i] = (uint8_t)q;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float c = x[i] < nmin ? nmin : (x[i] > nmax ? nmax : x[i]);
            float v = (c - nmin) * inv + 0.5f; /* >= 0.5: truncation is floor */
            int32_t q = (int32_t)v;
            out[i] = (uint8_t)(q > 255 ? 255 : q);
        }
    }
}
