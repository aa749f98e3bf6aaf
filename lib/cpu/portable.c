/* axmul: the portable CPU kernels, plain C for any CPU: the LUT-MAC kernel (one column lookup
 * per tap and pixel) and the bulk quantizer. */
#include "config.h"

#include <string.h>

#include "lib/cpu/cpu.h"

void axmul__lut_kernel_portable(const uint8_t *A, int ntaps, const uint8_t *wrow,
                                const axmul__lut *lut, int np, uint32_t *acc)
{
    memset(acc, 0, sizeof(uint32_t) * (size_t)np);
    for (int tap = 0; tap < ntaps; tap++) {
        const uint16_t *col = lut->tt + (size_t)wrow[tap] * 256;
        const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
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
