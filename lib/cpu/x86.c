/* axmul: x86 LUT-MAC kernels, compiled with per-function target attributes so that the library
 * itself needs no -m flags and runs anywhere; the CPU backend calls them only after cpuid says the
 * instructions exist.
 *
 * VBMI: the column T[.][w] of one weight is 256 16-bit entries = a 256-byte plane of low bytes
 * and one of high bytes, four zmm registers each. vpermi2b looks up 64 activation bytes in a
 * 128-entry half of a plane; bit 7 of the index picks the half (vpmovb2m + blend). Low and high
 * bytes are summed separately (whole 16-bit words and odd bytes alone, flushed into 32 bits every
 * 256 taps), and entry = low + 256 * high is formed only at the flush.
 *
 * AVX-512BW without VBMI (Skylake-SP, Cascade Lake): the same in 16-bit lanes, vpermi2w over the
 * column's entries as four 64-entry pairs of registers, bits 6 and 7 of the index picking the
 * pair (three blends); 32 lookups per step instead of 64.
 *
 * AVX2: the scalar kernel of lib/cpu/pairs.h (two channels' entries per load), its columns
 * interleaved with AVX2; hardware gathers (vpgatherdd) were slower than scalar loads on every CPU
 * measured (bench/lut_micro.c, doc/performance.md). */
#include "config.h"

#include <string.h>

#include "lib/cpu/cpu.h"
#include "lib/cpu/pairs.h"

#ifdef AXMUL__HAVE_X86_KERNELS
#include <immintrin.h>

_Static_assert(AXMUL__CHUNK % 64 == 0, "the VBMI kernel works on 64-pixel vectors");
#define NV (AXMUL__CHUNK / 64)

/* One 64-pixel vector: look up both planes, then add each plane's bytes to 16-bit accumulators
 * as whole words (even + 256 * odd, wrapping) and as odd bytes alone (the even sums follow at the
 * flush, which saves an AND per plane). A 16-bit lane takes 257 bytes of 255
 * before it could overflow, so the caller flushes every 256 taps. */
#define VBMI_STEP(v)                                                                               \
    do {                                                                                           \
        __m512i idx = _mm512_loadu_si512(row + 64 * (v));                                          \
        __mmask64 up = _mm512_movepi8_mask(idx);                                                   \
        __m512i lo = _mm512_mask_blend_epi8(up, _mm512_permutex2var_epi8(l0, idx, l1),             \
                                            _mm512_permutex2var_epi8(l2, idx, l3));                \
        __m512i hi = _mm512_mask_blend_epi8(up, _mm512_permutex2var_epi8(h0, idx, h1),             \
                                            _mm512_permutex2var_epi8(h2, idx, h3));                \
        s[v][0] = _mm512_add_epi16(s[v][0], lo);                                                   \
        s[v][1] = _mm512_add_epi16(s[v][1], _mm512_srli_epi16(lo, 8));                             \
        s[v][2] = _mm512_add_epi16(s[v][2], hi);                                                   \
        s[v][3] = _mm512_add_epi16(s[v][3], _mm512_srli_epi16(hi, 8));                             \
    } while (0)

/* The live 64-pixel vectors (nv of them) of one activation row (row: A's row of the current
 * tap); nv is the same for every tap, so the branches predict perfectly. */
#define VBMI_ROW()                                                                                 \
    do {                                                                                           \
        VBMI_STEP(0);                                                                              \
        if (NV > 1 && nv > 1)                                                                      \
            VBMI_STEP(1);                                                                          \
        if (NV > 2 && nv > 2)                                                                      \
            VBMI_STEP(2);                                                                          \
        if (NV > 3 && nv > 3)                                                                      \
            VBMI_STEP(3);                                                                          \
    } while (0)

/* Loads the column of a weight code (pl: its 512 bytes of planes) into l0..l3 (low bytes) and
 * h0..h3 (high bytes). */
#define VBMI_COLUMN(pl)                                                                            \
    do {                                                                                           \
        l0 = _mm512_loadu_si512(pl);                                                               \
        l1 = _mm512_loadu_si512((pl) + 64);                                                        \
        l2 = _mm512_loadu_si512((pl) + 128);                                                       \
        l3 = _mm512_loadu_si512((pl) + 192);                                                       \
        h0 = _mm512_loadu_si512((pl) + 256);                                                       \
        h1 = _mm512_loadu_si512((pl) + 320);                                                       \
        h2 = _mm512_loadu_si512((pl) + 384);                                                       \
        h3 = _mm512_loadu_si512((pl) + 448);                                                       \
    } while (0)

/* Adds the 16-bit plane sums of a block of taps to the 32-bit totals: word i of s[v][0..1]
 * holds pixel 64v + 2i (even bytes) and 64v + 2i + 1 (odd bytes); entry = low + 256 * high. */
static inline __attribute__((always_inline, target("avx512f,avx512bw"))) void
vbmi_flush(__m512i s[NV][4], int nv, uint32_t *acc)
{
    for (int v = 0; v < nv; v++) {
        uint16_t t[4][32];
        /* s[v][0] and s[v][2] hold whole words (even + 256 * odd, wrapped): the even sums are
         * what is left after taking 256 * odd away, modulo 2^16 (they are below 2^16) */
        _mm512_storeu_si512(t[0], _mm512_sub_epi16(s[v][0], _mm512_slli_epi16(s[v][1], 8)));
        _mm512_storeu_si512(t[1], s[v][1]);
        _mm512_storeu_si512(t[2], _mm512_sub_epi16(s[v][2], _mm512_slli_epi16(s[v][3], 8)));
        _mm512_storeu_si512(t[3], s[v][3]);
        uint32_t *out = acc + 64 * v;
        for (int i = 0; i < 32; i++) {
            out[2 * i] += (uint32_t)t[0][i] + ((uint32_t)t[2][i] << 8);
            out[2 * i + 1] += (uint32_t)t[1][i] + ((uint32_t)t[3][i] << 8);
        }
    }
}

static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vbmi"))) void
vbmi_one(const uint8_t *A, int ntaps, const uint8_t *wrow, const axmul__lut *lut, int np,
         uint32_t *acc)
{
    const int nv = (np + 63) / 64;
    for (int p = 0; p < 64 * nv; p++)
        acc[p] = 0;
    for (int t0 = 0; t0 < ntaps; t0 += 256) {
        int t1 = ntaps - t0 < 256 ? ntaps : t0 + 256;
        __m512i s[NV][4];
        for (int v = 0; v < NV; v++)
            for (int k = 0; k < 4; k++)
                s[v][k] = _mm512_setzero_si512();
        for (int tap = t0; tap < t1; tap++) {
            /* the column is loaded once and serves AXMUL__CHUNK pixels */
            __m512i l0, l1, l2, l3, h0, h1, h2, h3;
            VBMI_COLUMN(lut->planes + (size_t)wrow[tap] * 512);
            const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
            VBMI_ROW();
        }
        vbmi_flush(s, nv, acc);
    }
}

/* The channels one after another: the vector kernels hold one column in registers (VBMI: 512
 * bytes in eight registers), so they gain nothing from sharing activation loads. */
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void
axmul__lut_kernel_vbmi(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                       const axmul__lut *lut, int np, uint32_t *acc)
{
    for (int c = 0; c < nch; c++)
        vbmi_one(A, ntaps, w[c], lut, np, acc + (size_t)c * AXMUL__CHUNK);
}

/* AVX-512BW: one 32-pixel vector (pixels 32v..32v+31 in word lanes): zero-extended indices,
 * four vpermi2w over the column c0..c7 (entries 32k..32k+31 in ck), blends by bits 6 and 7, then
 * the entries' whole words (wrapping) and high bytes are summed, as in the VBMI kernel. */
#define BW_STEP(v)                                                                                 \
    do {                                                                                           \
        const __m512i idx = _mm512_cvtepu8_epi16(                                                  \
            _mm256_loadu_si256((const __m256i *)(const void *)(row + 32 * (v))));                  \
        const __mmask32 b6 = _mm512_test_epi16_mask(idx, bit6);                                    \
        const __mmask32 b7 = _mm512_test_epi16_mask(idx, bit7);                                    \
        const __m512i e0 = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(c0, idx, c1),     \
                                                   _mm512_permutex2var_epi16(c2, idx, c3));        \
        const __m512i e1 = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(c4, idx, c5),     \
                                                   _mm512_permutex2var_epi16(c6, idx, c7));        \
        const __m512i e = _mm512_mask_blend_epi16(b7, e0, e1);                                     \
        s[v][0] = _mm512_add_epi16(s[v][0], e);                                                    \
        s[v][1] = _mm512_add_epi16(s[v][1], _mm512_srli_epi16(e, 8));                              \
    } while (0)

#define NW (AXMUL__CHUNK / 32)

static inline __attribute__((always_inline, target("avx512f,avx512bw"))) void
bw_one(const uint8_t *A, int ntaps, const uint8_t *wrow, const axmul__lut *lut, int np,
       uint32_t *acc)
{
    const __m512i bit6 = _mm512_set1_epi16(0x40), bit7 = _mm512_set1_epi16(0x80);
    const int nv = (np + 31) / 32;
    for (int p = 0; p < 32 * nv; p++)
        acc[p] = 0;
    for (int t0 = 0; t0 < ntaps; t0 += 256) {
        int t1 = ntaps - t0 < 256 ? ntaps : t0 + 256;
        __m512i s[NW][2];
        for (int v = 0; v < NW; v++)
            s[v][0] = s[v][1] = _mm512_setzero_si512();
        for (int tap = t0; tap < t1; tap++) {
            const uint16_t *col = lut->tt + (size_t)wrow[tap] * 256;
            const __m512i c0 = _mm512_loadu_si512(col), c1 = _mm512_loadu_si512(col + 32);
            const __m512i c2 = _mm512_loadu_si512(col + 64), c3 = _mm512_loadu_si512(col + 96);
            const __m512i c4 = _mm512_loadu_si512(col + 128), c5 = _mm512_loadu_si512(col + 160);
            const __m512i c6 = _mm512_loadu_si512(col + 192), c7 = _mm512_loadu_si512(col + 224);
            const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
            for (int v = 0; v < NW; v++)
                if (v < nv)
                    BW_STEP(v);
        }
        /* word i of s[v][0] holds lo + 256 * hi of pixel 32v + i, wrapped; s[v][1] the high
         * bytes: the low-byte sums are what is left after taking 256 * high away (mod 2^16) */
        for (int v = 0; v < nv; v++) {
            const __m512i lo = _mm512_sub_epi16(s[v][0], _mm512_slli_epi16(s[v][1], 8));
            /* the half index of an extract must be a literal (clang refuses a loop counter) */
            const __m256i lh[2] = {_mm512_extracti64x4_epi64(lo, 0),
                                   _mm512_extracti64x4_epi64(lo, 1)};
            const __m256i hh[2] = {_mm512_extracti64x4_epi64(s[v][1], 0),
                                   _mm512_extracti64x4_epi64(s[v][1], 1)};
            for (int h = 0; h < 2; h++) {
                const __m512i l32 = _mm512_cvtepu16_epi32(lh[h]);
                const __m512i h32 = _mm512_cvtepu16_epi32(hh[h]);
                uint32_t *out = acc + 32 * v + 16 * h;
                _mm512_storeu_si512(
                    out, _mm512_add_epi32(_mm512_loadu_si512(out),
                                          _mm512_add_epi32(l32, _mm512_slli_epi32(h32, 8))));
            }
        }
    }
}

__attribute__((target("avx512f,avx512bw"))) void
axmul__lut_kernel_avx512bw(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                           const axmul__lut *lut, int np, uint32_t *acc)
{
    for (int c = 0; c < nch; c++)
        bw_one(A, ntaps, w[c], lut, np, acc + (size_t)c * AXMUL__CHUNK);
}

__attribute__((target("avx512f,avx512bw"))) void axmul__quantize_avx512(const float *x, size_t n,
                                                                        float nmin, float nmax,
                                                                        float inv, int is_signed,
                                                                        uint8_t *out)
{
    /* The same float32 operations in the same order as axmul_quantize (mul, then add: no FMA),
     * so the codes are identical; floor is a truncation where the value is non-negative. */
    const __m512 vmin = _mm512_set1_ps(nmin), vmax = _mm512_set1_ps(nmax);
    const __m512 vinv = _mm512_set1_ps(inv), half = _mm512_set1_ps(0.5f);
    size_t i = 0;
    if (is_signed) {
        const __m512 lo = _mm512_set1_ps(-129.0f), hi = _mm512_set1_ps(128.0f);
        const __m512i qlo = _mm512_set1_epi32(-128), qhi = _mm512_set1_epi32(127);
        for (; i + 16 <= n; i += 16) {
            __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv), half);
            v = _mm512_max_ps(_mm512_min_ps(v, hi), lo);
            v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            __m512i q = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(v), qhi), qlo);
            _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtepi32_epi8(q));
        }
    } else {
        const __m512i q255 = _mm512_set1_epi32(255);
        for (; i + 16 <= n; i += 16) {
            __m512 c = _mm512_max_ps(_mm512_min_ps(_mm512_loadu_ps(x + i), vmax), vmin);
            __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(c, vmin), vinv), half);
            __m512i q = _mm512_min_epi32(_mm512_cvttps_epi32(v), q255);
            _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtepi32_epi8(q));
        }
    }
    axmul__quantize_portable(x + i, n - i, nmin, nmax, inv, is_signed, out + i);
}

/* axmul__quantize_avx512's operations on 8 floats at a time: the quantizer of CPUs without
 * AVX-512, where the scalar one was a tenth of a depthwise layer's time. */
__attribute__((target("avx2"))) void axmul__quantize_avx2(const float *x, size_t n, float nmin,
                                                          float nmax, float inv, int is_signed,
                                                          uint8_t *out)
{
    const __m256 vmin = _mm256_set1_ps(nmin), vmax = _mm256_set1_ps(nmax);
    const __m256 vinv = _mm256_set1_ps(inv), half = _mm256_set1_ps(0.5f);
    /* the two packs work within 128-bit lanes: dwords 0-7 of the result hold the codes of
     * x[0..3], x[8..11], x[16..19], x[24..27], x[4..7], ... */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    if (is_signed) {
        const __m256 lo = _mm256_set1_ps(-129.0f), hi = _mm256_set1_ps(128.0f);
        const __m256i qlo = _mm256_set1_epi32(-128), qhi = _mm256_set1_epi32(127);
        for (; i + 32 <= n; i += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), vinv), half);
                v = _mm256_floor_ps(_mm256_max_ps(_mm256_min_ps(v, hi), lo));
                q[k] = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(v), qhi), qlo);
            }
            const __m256i b =
                _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(void *)(out + i),
                                _mm256_permutevar8x32_epi32(b, order));
        }
    } else {
        const __m256i q255 = _mm256_set1_epi32(255);
        for (; i + 32 <= n; i += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 c = _mm256_max_ps(_mm256_min_ps(_mm256_loadu_ps(x + i + 8 * k), vmax), vmin);
                __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(c, vmin), vinv), half);
                q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(v), q255);
            }
            const __m256i b =
                _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(void *)(out + i),
                                _mm256_permutevar8x32_epi32(b, order));
        }
    }
    axmul__quantize_portable(x + i, n - i, nmin, nmax, inv, is_signed, out + i);
}

/* The scalar kernel of lib/cpu/pairs.h with the columns interleaved in 256-bit steps (8
 * entries of each column): with SSE2 the interleaving is a third of the portable kernel's time
 * (doc/performance.md). */
static inline __attribute__((always_inline, target("avx2"))) void
interleave_avx2(uint64_t *restrict d, const uint16_t *restrict a, const uint16_t *restrict b)
{
    for (int x = 0; x < 256; x += 8) {
        const __m256i va = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(a + x)));
        const __m256i vb = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(b + x)));
        /* per 128-bit lane: (a0 b0 a1 b1) (a4 b4 a5 b5) and (a2 b2 a3 b3) (a6 b6 a7 b7) */
        const __m256i lo = _mm256_unpacklo_epi32(va, vb), hi = _mm256_unpackhi_epi32(va, vb);
        __m256i *o = (__m256i *)(void *)(d + x);
        _mm256_store_si256(o, _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_store_si256(o + 1, _mm256_permute2x128_si256(lo, hi, 0x31));
    }
}

AXMUL__SCALAR __attribute__((target("avx2"))) void
axmul__lut_kernel_avx2(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                       const axmul__lut *lut, int np, uint32_t *acc)
{
    axmul__pairs_kernel(A, ntaps, w, nch, lut->tt, np, acc, interleave_avx2);
}

/* The row-table kernel (cpu.h, portable.c for the 16-bit sums): per pixel the W and H sums of
 * NT tiles of 16 channels stay in 2 NT registers over a stage's taps, each tap one activation
 * byte feeding NT 32-byte row loads, a shift and two adds each: 16 lookups per 3 vector
 * instructions (measured 14-24 G lookups/s on one core against 5-7 for the pair kernel,
 * doc/performance.md). */
static inline __attribute__((always_inline, target("avx2"))) void
rows_stage_avx2(const uint8_t *A, int as, const uint16_t *R, int nb, int st, int sn, int np,
                uint16_t *wh, const int NT)
{
    for (int q = 0; q < np; q++) {
        uint16_t *W = wh + (size_t)q * 2 * nb, *H = W + nb;
        __m256i w[4], h[4];
#pragma GCC unroll 4
        for (int i = 0; i < NT; i++) {
            w[i] = _mm256_load_si256((const __m256i *)(void *)(W + 16 * i));
            h[i] = _mm256_load_si256((const __m256i *)(void *)(H + 16 * i));
        }
        const uint8_t *a = A + (size_t)st * as + q;
        const uint16_t *rt = R + (size_t)st * 256 * nb;
        for (int t = 0; t < sn; t++, a += as, rt += (size_t)256 * nb) {
            const uint16_t *r = rt + (size_t)*a * nb;
#pragma GCC unroll 4
            for (int i = 0; i < NT; i++) {
                const __m256i v = _mm256_load_si256((const __m256i *)(const void *)(r + 16 * i));
                w[i] = _mm256_add_epi16(w[i], v);
                h[i] = _mm256_add_epi16(h[i], _mm256_srli_epi16(v, 8));
            }
        }
#pragma GCC unroll 4
        for (int i = 0; i < NT; i++) {
            _mm256_store_si256((__m256i *)(void *)(W + 16 * i), w[i]);
            _mm256_store_si256((__m256i *)(void *)(H + 16 * i), h[i]);
        }
    }
}

__attribute__((target("avx2"))) void axmul__rows_kernel_avx2(const uint8_t *A, int as, int ntaps,
                                                             const uint16_t *R, int nb, int np,
                                                             uint16_t *wh, uint32_t *acc)
{
    for (int c = 0; c < nb; c++)
        memset(acc + (size_t)c * as, 0, sizeof *acc * (size_t)np);
    for (int t0 = 0; t0 < ntaps; t0 += 256) {
        const int t1 = ntaps - t0 < 256 ? ntaps : t0 + 256;
        memset(wh, 0, sizeof *wh * (size_t)np * 2 * nb);
        for (int st = t0; st < t1; st += AXMUL__ROWS_STAGE) {
            const int sn = t1 - st < AXMUL__ROWS_STAGE ? t1 - st : AXMUL__ROWS_STAGE;
            switch (nb / 16) {
            case 1:
                rows_stage_avx2(A, as, R, nb, st, sn, np, wh, 1);
                break;
            case 2:
                rows_stage_avx2(A, as, R, nb, st, sn, np, wh, 2);
                break;
            case 3:
                rows_stage_avx2(A, as, R, nb, st, sn, np, wh, 3);
                break;
            default:
                rows_stage_avx2(A, as, R, nb, st, sn, np, wh, 4);
                break;
            }
        }
        axmul__rows_flush(wh, nb, np, as, acc);
    }
}

/* One block of 8 output channels of a depthwise kernel: its per-channel constants (lanes past c
 * masked off) and the conversion and store of 8 outputs from their sums of entries and codes. */
typedef struct {
    __m256 sc, live, bias;
    __m256i base, zw, m;
    int nl;
    int has_bias;
} dw_block_avx2;

static inline __attribute__((always_inline, target("avx2"))) dw_block_avx2
dw_block_load_avx2(const axmul__dw_args *a, int c0)
{
    dw_block_avx2 b;
    b.nl = a->p->c - c0 < 8 ? a->p->c - c0 : 8;
    b.m = _mm256_cmpgt_epi32(_mm256_set1_epi32(b.nl), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    b.sc = _mm256_maskload_ps(a->oscale + c0, b.m);
    b.live = _mm256_cmp_ps(b.sc, _mm256_setzero_ps(), _CMP_NEQ_UQ);
    b.base = _mm256_maskload_epi32((const int *)(const void *)(a->base + c0), b.m);
    b.zw = _mm256_maskload_epi32((const int *)(const void *)(a->zw + c0), b.m);
    b.has_bias = a->bias != NULL;
    b.bias = b.has_bias ? _mm256_maskload_ps(a->bias + c0, b.m) : _mm256_setzero_ps();
    return b;
}

static inline __attribute__((always_inline, target("avx2"))) void
dw_block_store_avx2(const dw_block_avx2 *b, __m256i acc, __m256i sqa, float *dst)
{
    const __m256i sum =
        _mm256_sub_epi32(_mm256_add_epi32(acc, b->base), _mm256_mullo_epi32(b->zw, sqa));
    __m256 v = _mm256_and_ps(_mm256_mul_ps(b->sc, _mm256_cvtepi32_ps(sum)), b->live);
    if (b->has_bias)
        v = _mm256_add_ps(v, b->bias);
    if (b->nl == 8)
        _mm256_storeu_ps(dst, v);
    else
        _mm256_maskstore_ps(dst, b->m, v);
}

/* The 8 codes of a block of channels at one input pixel (at: the pixel's first one). */
static inline __attribute__((always_inline, target("avx2"))) __m256i
dw_codes_avx2(const uint8_t *at)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)at));
}

/* The input row that each of the kh filter rows reads for output row `row` (NULL: padding);
 * returns whether all of them lie inside the image. */
static inline int dw_input_rows(const axmul__dw_args *a, int64_t row, int kh, const uint8_t **rows)
{
    const axmul__conv_plan *p = a->p;
    const int n = (int)(row / p->oh), oy = (int)(row % p->oh);
    int all = 1;
    for (int i = 0; i < kh; i++) {
        const int iy = axmul__in_y(p, oy, i);
        rows[i] =
            iy >= 0 && iy < p->h ? a->qx + ((size_t)n * p->h + (size_t)iy) * p->w * p->c : NULL;
        all &= rows[i] != NULL;
    }
    return all;
}

/* The depthwise kernel (cpu.h): 8 channels per vector, their codes one 8-byte load at each tap
 * (NHWC), looked up with one vpgatherdd in the column-major entries (index w * 256 + code, scale
 * 2, the low 16 bits of each dword); the sums of entries and of codes in 32-bit lanes, converted
 * and stored 8 outputs at a time (the last block's lanes past c masked: their weight code 0 and
 * whatever codes they read are valid indices). KH, KW: the filter's size where it is a
 * compile-time constant (3x3: the tap offsets stay in registers), else 0 and read from the plan.
 * (Layers of one input channel, a broadcast code per tap, ran slower this way than through the
 * chunk kernels: LeNet's first layer has 6 outputs per pixel and 9 taps.) */
static inline __attribute__((always_inline, target("avx2"))) void
dw_row_avx2(const axmul__dw_args *a, int64_t row, const int KH, const int KW)
{
    const axmul__conv_plan *p = a->p;
    const int kh = KH ? KH : p->kh, kw = KW ? KW : p->kw;
    const int c = p->c, k = p->k;
    const uint8_t *rows[AXMUL__DW_MAX_TAPS];
    const int all_rows = dw_input_rows(a, row, kh, rows);
    int lo = 0, hi = p->ow; /* output columns whose taps all lie inside the image's columns */
    while (lo < hi && axmul__in_x(p, lo, 0) < 0)
        lo++;
    while (hi > lo && axmul__in_x(p, hi - 1, kw - 1) >= p->w)
        hi--;
    if (!all_rows)
        lo = hi = 0;
    float *yr = a->y + (size_t)row * p->ow * c;
    const int *tab = (const int *)(const void *)a->tt;
    const __m256i zx = _mm256_set1_epi32(p->zx), low16 = _mm256_set1_epi32(0xffff);
    const size_t jstep = (size_t)p->dw * c;
    __m256i woff[AXMUL__DW_MAX_TAPS];
    for (int c0 = 0; c0 < c; c0 += 8) {
        const dw_block_avx2 b = dw_block_load_avx2(a, c0);
        for (int t = 0; t < k; t++) {
            int32_t wo[8] = {0};
            for (int l = 0; l < b.nl; l++)
                wo[l] = (int32_t)a->wq[(size_t)(c0 + l) * k + t] * 256;
            woff[t] = _mm256_loadu_si256((const __m256i *)(const void *)wo);
        }
        for (int ox = 0; ox < p->ow; ox++) {
            __m256i acc = _mm256_setzero_si256(), sqa = _mm256_setzero_si256();
            const int ix0 = axmul__in_x(p, ox, 0);
            if (ox >= lo && ox < hi) { /* every tap inside the image */
                const size_t at = (size_t)ix0 * c + (size_t)c0;
                for (int i = 0; i < kh; i++) {
                    const uint8_t *r = rows[i] + at;
                    for (int j = 0; j < kw; j++, r += jstep) {
                        const __m256i code = dw_codes_avx2(r);
                        const __m256i e = _mm256_i32gather_epi32(
                            tab, _mm256_add_epi32(woff[i * kw + j], code), 2);
                        acc = _mm256_add_epi32(acc, _mm256_and_si256(e, low16));
                        sqa = _mm256_add_epi32(sqa, code);
                    }
                }
            } else {
                for (int i = 0, t = 0; i < kh; i++)
                    for (int j = 0, ix = ix0; j < kw; j++, t++, ix += p->dw) {
                        const __m256i code = rows[i] && ix >= 0 && ix < p->w
                                                 ? dw_codes_avx2(rows[i] + (size_t)ix * c + c0)
                                                 : zx;
                        const __m256i e =
                            _mm256_i32gather_epi32(tab, _mm256_add_epi32(woff[t], code), 2);
                        acc = _mm256_add_epi32(acc, _mm256_and_si256(e, low16));
                        sqa = _mm256_add_epi32(sqa, code);
                    }
            }
            dw_block_store_avx2(&b, acc, sqa, yr + (size_t)ox * c + c0);
        }
    }
}

/* 3x3 filters read along a row with stride 1 and dilation 1: the input code at column x is tap
 * j = 0, 1 and 2 of outputs x + pl, x + pl - 1 and x + pl - 2. One gather in the pair table
 * (cpu.h: the entries of taps 0 and 1 in one dword) and one in the columns (tap 2) look up all
 * three, and the outputs' sums slide along the row in registers: 6 gathers per output instead of
 * 9 (a stand-alone loop: 7.5 against 5.5 G lookups/s on one core, doc/performance.md). */
static inline __attribute__((always_inline, target("avx2"))) void
dw_row_pairs_avx2(const axmul__dw_args *a, int64_t row)
{
    const axmul__conv_plan *p = a->p;
    const int c = p->c, pl = p->pad_left;
    const uint8_t *rows[3];
    dw_input_rows(a, row, 3, rows);
    float *yr = a->y + (size_t)row * p->ow * c;
    const int *tab = (const int *)(const void *)a->tt, *pairs = (const int *)(const void *)a->pairs;
    const __m256i zx = _mm256_set1_epi32(p->zx), low16 = _mm256_set1_epi32(0xffff);
    for (int c0 = 0; c0 < c; c0 += 8) {
        const dw_block_avx2 b = dw_block_load_avx2(a, c0);
        __m256i poff[3], soff[3];
        for (int i = 0; i < 3; i++) {
            int32_t po[8] = {0}, so[8] = {0};
            for (int l = 0; l < b.nl; l++) {
                po[l] = ((c0 + l) * 3 + i) * 256;
                so[l] = (int32_t)a->wq[(size_t)(c0 + l) * 9 + (size_t)i * 3 + 2] * 256;
            }
            poff[i] = _mm256_loadu_si256((const __m256i *)(const void *)po);
            soff[i] = _mm256_loadu_si256((const __m256i *)(const void *)so);
        }
        /* a0: taps 0 of the output that completes at the next column; a1: taps 0 and 1 of the one
         * that completes at this column; q0, q1 the same for the sums of codes */
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, q0 = a0, q1 = a0;
        for (int x = -pl; x <= p->ow - 1 - pl + 2; x++) {
            __m256i t0 = _mm256_setzero_si256(), t1 = t0, t2 = t0, q = t0;
            const int inside = x >= 0 && x < p->w;
            for (int i = 0; i < 3; i++) {
                const __m256i code =
                    rows[i] && inside ? dw_codes_avx2(rows[i] + (size_t)x * c + c0) : zx;
                const __m256i g = _mm256_i32gather_epi32(pairs, _mm256_add_epi32(poff[i], code), 4);
                const __m256i e = _mm256_i32gather_epi32(tab, _mm256_add_epi32(soff[i], code), 2);
                t0 = _mm256_add_epi32(t0, _mm256_and_si256(g, low16));
                t1 = _mm256_add_epi32(t1, _mm256_srli_epi32(g, 16));
                t2 = _mm256_add_epi32(t2, _mm256_and_si256(e, low16));
                q = _mm256_add_epi32(q, code);
            }
            const int ox = x + pl - 2;
            if (ox >= 0)
                dw_block_store_avx2(&b, _mm256_add_epi32(a1, t2), _mm256_add_epi32(q1, q),
                                    yr + (size_t)ox * c + c0);
            a1 = _mm256_add_epi32(a0, t1);
            a0 = t0;
            q1 = _mm256_add_epi32(q0, q);
            q0 = q;
        }
    }
}

__attribute__((target("avx2"))) void axmul__dw_kernel_avx2(const axmul__dw_args *a, int64_t row)
{
    if (a->pairs)
        dw_row_pairs_avx2(a, row);
    else if (a->p->kh == 3 && a->p->kw == 3)
        dw_row_avx2(a, row, 3, 3);
    else
        dw_row_avx2(a, row, 0, 0);
}
#endif
