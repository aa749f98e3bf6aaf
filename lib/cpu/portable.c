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

/* ---------------------------------------------------------------- row tables (cpu.h) */

/* A transposition of 256 x nb entries per tap. With SSE2 (every x86-64 CPU) in 8 x 8 blocks of
 * unpacks, 8 entries per store: one entry per store cost a fifth of a 3x3 56x56x64 layer's time
 * at batch 1 (the layer builds 9.4 M entries for 115 M lookups). */
#if defined(__SSE2__)
static void rows_build_tap(const uint16_t *const *col, int nw, int nb, uint16_t *rt)
{
    const uint16_t *src[8];
    static const uint16_t zeros[256];
    for (int c0 = 0; c0 < nb; c0 += 8) {
        for (int j = 0; j < 8; j++)
            src[j] = c0 + j < nw ? col[c0 + j] : zeros;
        for (int a = 0; a < 256; a += 8) {
            __m128i r[8], u[8], v[8];
            for (int j = 0; j < 8; j++)
                r[j] = _mm_loadu_si128((const __m128i *)(const void *)(src[j] + a));
            for (int j = 0; j < 4; j++) {
                u[2 * j] = _mm_unpacklo_epi16(r[2 * j], r[2 * j + 1]);
                u[2 * j + 1] = _mm_unpackhi_epi16(r[2 * j], r[2 * j + 1]);
            }
            /* u[0] = (c0 c1) x a0..3, u[1] = (c0 c1) x a4..7, u[2] = (c2 c3) x a0..3, ... */
            for (int j = 0; j < 2; j++) {
                v[4 * j] = _mm_unpacklo_epi32(u[4 * j], u[4 * j + 2]);
                v[4 * j + 1] = _mm_unpackhi_epi32(u[4 * j], u[4 * j + 2]);
                v[4 * j + 2] = _mm_unpacklo_epi32(u[4 * j + 1], u[4 * j + 3]);
                v[4 * j + 3] = _mm_unpackhi_epi32(u[4 * j + 1], u[4 * j + 3]);
            }
            /* v[0] = c0..3 x a0,a1; v[1] = a2,a3; v[2] = a4,a5; v[3] = a6,a7; v[4..7]: c4..7 */
            for (int j = 0; j < 4; j++) {
                __m128i *d0 = (__m128i *)(void *)(rt + (size_t)(a + 2 * j) * nb + c0);
                __m128i *d1 = (__m128i *)(void *)(rt + (size_t)(a + 2 * j + 1) * nb + c0);
                _mm_storeu_si128(d0, _mm_unpacklo_epi64(v[j], v[4 + j]));
                _mm_storeu_si128(d1, _mm_unpackhi_epi64(v[j], v[4 + j]));
            }
        }
    }
}
#else
static void rows_build_tap(const uint16_t *const *col, int nw, int nb, uint16_t *rt)
{
    for (int a = 0; a < 256; a++)
        for (int c = 0; c < nb; c++)
            rt[(size_t)a * nb + c] = c < nw ? col[c][a] : 0;
}
#endif

void axmul__rows_build(const uint16_t *tt, const uint8_t *const *w, int nw, int nb, int ntaps,
                       uint16_t *R)
{
    const uint16_t *col[AXMUL__ROWS_NB];
    for (int tap = 0; tap < ntaps; tap++) {
        for (int c = 0; c < nw; c++)
            col[c] = tt + (size_t)w[c][tap] * 256;
        rows_build_tap(col, nw, nb, R + (size_t)tap * 256 * nb);
    }
}

void axmul__rows_kernel_ref(const uint8_t *A, int as, int ntaps, const uint16_t *R, int nb, int np,
                            uint16_t *wh, uint32_t *acc)
{
    (void)wh;
    for (int c = 0; c < nb; c++)
        for (int q = 0; q < np; q++) {
            uint32_t s = 0;
            for (int tap = 0; tap < ntaps; tap++)
                s += R[((size_t)tap * 256 + A[(size_t)tap * as + q]) * nb + c];
            acc[(size_t)c * as + q] = s;
        }
}

/* ---------------------------------------------------------------- depthwise kernels */

/* The output value of channel o from its sum of entries and of codes (cpu.h's contract). */
static inline float dw_value(const axmul__dw_args *a, int o, int64_t lut_sum, int64_t sum_qa)
{
    const float v =
        axmul__conv_out(a->oscale[o], axmul__zp_correct(lut_sum, a->base[o], a->zw[o], sum_qa));
    return a->bias ? v + a->bias[o] : v;
}

void axmul__dw_kernel_ref(const axmul__dw_args *a, int64_t row)
{
    const axmul__conv_plan *p = a->p;
    const int n = (int)(row / p->oh), oy = (int)(row % p->oh), c = p->c;
    for (int ox = 0; ox < p->ow; ox++)
        for (int o = 0; o < c; o++) {
            int64_t lut_sum = 0, sum_qa = 0;
            for (int i = 0; i < p->kh; i++)
                for (int j = 0; j < p->kw; j++) {
                    const int iy = axmul__in_y(p, oy, i), ix = axmul__in_x(p, ox, j);
                    const int code =
                        axmul__in_image(p, iy, ix)
                            ? a->qx[(((size_t)n * p->h + (size_t)iy) * p->w + (size_t)ix) * c + o]
                            : p->zx;
                    lut_sum += a->tt[(size_t)a->wq[(size_t)o * p->k + i * p->kw + j] * 256 + code];
                    sum_qa += code;
                }
            a->y[((size_t)row * p->ow + ox) * c + o] = dw_value(a, o, lut_sum, sum_qa);
        }
}

void axmul__dw_pairs_build(const uint16_t *tt, const uint8_t *wq, int co, uint32_t *P)
{
    for (int o = 0; o < co; o++)
        for (int i = 0; i < 3; i++) {
            const uint16_t *c0 = tt + (size_t)wq[(size_t)o * 9 + (size_t)i * 3] * 256;
            const uint16_t *c1 = tt + (size_t)wq[(size_t)o * 9 + (size_t)i * 3 + 1] * 256;
            uint32_t *d = P + ((size_t)o * 3 + (size_t)i) * 256;
            for (int a = 0; a < 256; a++)
                d[a] = (uint32_t)c0[a] | (uint32_t)c1[a] << 16;
        }
}

/* The row kernels sum in 16-bit lanes, 16 per AVX2 add, exactly:
 * over a segment of at most 256 taps a pixel's sums of entries v are kept as W = sum(v) modulo
 * 2^16 and H = sum(v >> 8) (at most 256 * 255, no overflow); the low bytes' sum L = sum(v & 255)
 * is below 2^16 too, and W = L + 256 H modulo 2^16, so L = W - 256 H modulo 2^16 and the
 * segment's sum is L + 256 H. The segments' sums go to the 32-bit acc. Per pixel and segment
 * the accumulators wh[p][0..nb) (W) and wh[p][nb..2nb) (H) stay in memory between stages of
 * AXMUL__ROWS_STAGE taps, each stage reading the rows of its taps for all pixels of the chunk
 * while they are in cache. */
void axmul__rows_flush(const uint16_t *wh, int nb, int np, int as, uint32_t *acc)
{
    for (int c = 0; c < nb; c++) {
        uint32_t *ac = acc + (size_t)c * as;
        for (int q = 0; q < np; q++) {
            const uint16_t *w = wh + (size_t)q * 2 * nb;
            const uint32_t h = w[nb + c];
            const uint16_t lo = (uint16_t)(w[c] - (uint16_t)(h << 8));
            ac[q] += lo + (h << 8);
        }
    }
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
