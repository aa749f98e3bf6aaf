/* axmul: the plain C CPU kernels, for any CPU: the reference LUT-MAC kernel, the portable one
 * (blocked over taps and channels) and the bulk quantizer. */
#include "config.h"

#include "lib/cpu/cpu.h"
#include "lib/cpu/pairs.h"

void axmul__lut_kernel_ref(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                           const axmul__lut *lut, int np, uint32_t *acc)
{
    for (int c = 0; c < nch; c++)
        for (int q = 0; q < np; q++) {
            uint32_t s = 0;
            for (int tap = 0; tap < ntaps; tap++)
                s += lut->tt[(size_t)w[c][tap] * 256 + A[(size_t)tap * AXMUL__CHUNK + q]];
            acc[(size_t)c * AXMUL__CHUNK + q] = s;
        }
}

/* The interleaving costs as much as the lookups it serves unless it is done in few instructions
 * (8 bytes written per 2 lookups): on x86-64, SSE2 (which every x86-64 CPU has) unpacks 8 entries
 * of each column in 8 instructions; elsewhere the loop is left to the vectorizer (aarch64's zip
 * instructions do the same). */
#if defined(__SSE2__)
#include <emmintrin.h>
static void interleave(uint64_t *restrict d, const uint16_t *restrict a, const uint16_t *restrict b)
{
    const __m128i z = _mm_setzero_si128();
    for (int x = 0; x < 256; x += 8) {
        const __m128i va = _mm_loadu_si128((const __m128i *)(const void *)(a + x));
        const __m128i vb = _mm_loadu_si128((const __m128i *)(const void *)(b + x));
        const __m128i al = _mm_unpacklo_epi16(va, z), ah = _mm_unpackhi_epi16(va, z);
        const __m128i bl = _mm_unpacklo_epi16(vb, z), bh = _mm_unpackhi_epi16(vb, z);
        __m128i *o = (__m128i *)(void *)(d + x);
        _mm_store_si128(o, _mm_unpacklo_epi32(al, bl));
        _mm_store_si128(o + 1, _mm_unpackhi_epi32(al, bl));
        _mm_store_si128(o + 2, _mm_unpacklo_epi32(ah, bh));
        _mm_store_si128(o + 3, _mm_unpackhi_epi32(ah, bh));
    }
}
#else
/* out of line: the kernel that calls it is compiled without the vectorizer */
static __attribute__((noinline)) void interleave(uint64_t *restrict d, const uint16_t *restrict a,
                                                 const uint16_t *restrict b)
{
    for (int x = 0; x < 256; x++)
        d[x] = (uint64_t)a[x] | (uint64_t)b[x] << 32;
}
#endif

AXMUL__SCALAR void axmul__lut_kernel_portable(const uint8_t *A, int ntaps, const uint8_t *const *w,
                                              int nch, const axmul__lut *lut, int np, uint32_t *acc)
{
    axmul__pairs_kernel(A, ntaps, w, nch, lut->tt, np, acc, interleave);
}

void axmul__quantize_portable(const float *x, size_t n, float nmin, float nmax, float inv,
                              int is_signed, uint8_t *out)
{
    /* Without branches, so that the loops vectorize (SSE2, NEON). floor without libm: truncation,
     * corrected for negative non-integers; v is first clamped to [-129, 128], where truncation
     * cannot overflow and every code outside -128..127 still clamps to the same end. */
    if (is_signed) {
#ifdef _OPENMP
#pragma omp simd
#endif
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * inv + 0.5f;
            v = v < -129.0f ? -129.0f : (v > 128.0f ? 128.0f : v);
            int32_t q = (int32_t)v;
            q -= (float)q > v;
            q = q < -128 ? -128 : (q > 127 ? 127 : q);
            out[i] = (uint8_t)q;
        }
    } else {
#ifdef _OPENMP
#pragma omp simd
#endif
        for (size_t i = 0; i < n; i++) {
            float c = x[i] < nmin ? nmin : (x[i] > nmax ? nmax : x[i]);
            float v = (c - nmin) * inv + 0.5f; /* >= 0.5: truncation is floor */
            int32_t q = (int32_t)v;
            out[i] = (uint8_t)(q > 255 ? 255 : q);
        }
    }
}
