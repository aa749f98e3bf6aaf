/* How fast can this core look up a 256 x 256 table of 16-bit products? The inner loop of the LUT
 * convolution (lib/cpu) on one thread, one chunk of AXMUL__CHUNK pixels x K taps x CO output
 * channels as the driver hands it to a kernel, with the schemes a CPU without AVX-512 can use:
 *
 *   scalar-mem    the portable kernel: per tap and pixel, acc[p] += col[a] with acc in memory
 *   scalar-t4     four taps per pass: the accumulator loaded and stored once per four lookups
 *   scalar-t4c2   the same for two channels at once, each activation byte read once for both
 *   scalar-t8     eight taps per pass, eight activation bytes per 64-bit load
 *   scalar-reg    register blocking: NC channels x NP pixels of accumulators kept in registers,
 *                 one activation byte feeding NC lookups (NC loads of table entries per byte)
 *   scratch-tTcC  T taps x C channels per pass, the pass's columns copied side by side so that
 *                 every lookup is one base register plus a constant displacement
 *   pair-tTcC     the same with two channels' columns interleaved into 64-bit entries: one
 *                 load and one add serve two lookups (lib/cpu/pairs.h, the portable and avx2
 *                 kernels since 2026-12-03)
 *   gather        AVX2 vpgatherdd of 8 entries, one channel at a time (the avx2 kernel until
 *                 2026-12-03)
 *   gather-nc     AVX2 gathers, NC channels sharing each widened index vector
 *   pshufb        AVX2 byte shuffles of 16-entry tables: each byte plane of a column as 16
 *                 tables picked by the index's low nibble, the 16 results merged by a tree of
 *                 15 byte blends on the high nibble's bits (no byte permute wider than 16
 *                 entries before AVX-512 VBMI)
 *   rows          AVX2 row tables (the avx2 path on layers of many pixels since 2026-12-04):
 *                 one 32-byte load of 16 channels' entries per tap, rows built once (untimed)
 *
 * Prints G lookups/s for each (median of 5 repetitions) and checks that every scheme gives the
 * portable kernel's sums (exit 1 if one does not; tests/test_lut_micro.sh runs it small). Build: cc
 * -O2 -fno-tree-vectorize -o lut_micro bench/lut_micro.c (the scalar schemes as written; add -mavx2
 * on x86 for the gather and pshufb ones, and the vectorizer's own versions of the scalar loops).
 * Usage: lut_micro [K] [CO] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define CHUNK 256

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* ---------------------------------------------------------------- schemes */

static void scalar_mem(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                       uint32_t *acc)
{
    for (int o = 0; o < co; o++) {
        uint32_t *ac = acc + (size_t)o * CHUNK;
        memset(ac, 0, sizeof(uint32_t) * CHUNK);
        for (int tap = 0; tap < k; tap++) {
            const uint16_t *col = tt + (size_t)w[(size_t)o * k + tap] * 256;
            const uint8_t *row = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++)
                ac[q] += col[row[q]];
        }
    }
}

/* Four taps per pass over the pixels: the accumulator is loaded and stored once per four lookups,
 * the four columns (2 KiB) stay in L1. */
static void scalar_t4(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                      uint32_t *acc)
{
    for (int o = 0; o < co; o++) {
        uint32_t *ac = acc + (size_t)o * CHUNK;
        const uint8_t *wr = w + (size_t)o * k;
        memset(ac, 0, sizeof(uint32_t) * CHUNK);
        int tap = 0;
        for (; tap + 4 <= k; tap += 4) {
            const uint16_t *c0 = tt + (size_t)wr[tap] * 256, *c1 = tt + (size_t)wr[tap + 1] * 256,
                           *c2 = tt + (size_t)wr[tap + 2] * 256,
                           *c3 = tt + (size_t)wr[tap + 3] * 256;
            const uint8_t *r0 = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++)
                ac[q] += (uint32_t)c0[r0[q]] + c1[r0[CHUNK + q]] + c2[r0[2 * CHUNK + q]] +
                         c3[r0[3 * CHUNK + q]];
        }
        for (; tap < k; tap++) {
            const uint16_t *col = tt + (size_t)wr[tap] * 256;
            const uint8_t *row = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++)
                ac[q] += col[row[q]];
        }
    }
}

/* Four taps per pass for two channels at once: each activation byte read once for two lookups
 * (1.5 loads per lookup instead of 2). */
static void scalar_t4c2(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                        uint32_t *acc)
{
    for (int o = 0; o < co; o += 2) {
        uint32_t *a0 = acc + (size_t)o * CHUNK, *a1 = a0 + CHUNK;
        const uint8_t *w0 = w + (size_t)o * k, *w1 = w0 + k;
        memset(a0, 0, sizeof(uint32_t) * 2 * CHUNK);
        int tap = 0;
        for (; tap + 4 <= k; tap += 4) {
            const uint16_t *c0 = tt + (size_t)w0[tap] * 256, *c1 = tt + (size_t)w0[tap + 1] * 256,
                           *c2 = tt + (size_t)w0[tap + 2] * 256,
                           *c3 = tt + (size_t)w0[tap + 3] * 256;
            const uint16_t *d0 = tt + (size_t)w1[tap] * 256, *d1 = tt + (size_t)w1[tap + 1] * 256,
                           *d2 = tt + (size_t)w1[tap + 2] * 256,
                           *d3 = tt + (size_t)w1[tap + 3] * 256;
            const uint8_t *r0 = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++) {
                const unsigned x0 = r0[q], x1 = r0[CHUNK + q], x2 = r0[2 * CHUNK + q],
                               x3 = r0[3 * CHUNK + q];
                a0[q] += (uint32_t)c0[x0] + c1[x1] + c2[x2] + c3[x3];
                a1[q] += (uint32_t)d0[x0] + d1[x1] + d2[x2] + d3[x3];
            }
        }
        for (; tap < k; tap++) {
            const uint16_t *c0 = tt + (size_t)w0[tap] * 256, *d0 = tt + (size_t)w1[tap] * 256;
            const uint8_t *row = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++) {
                a0[q] += c0[row[q]];
                a1[q] += d0[row[q]];
            }
        }
    }
}

/* Eight taps per pass, the activation bytes of 8 pixels read 8 at a time (one 64-bit load per
 * tap, the bytes taken out by shifts). */
static void scalar_t8(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                      uint32_t *acc)
{
    for (int o = 0; o < co; o++) {
        uint32_t *ac = acc + (size_t)o * CHUNK;
        const uint8_t *wr = w + (size_t)o * k;
        memset(ac, 0, sizeof(uint32_t) * CHUNK);
        int tap = 0;
        for (; tap + 8 <= k; tap += 8) {
            const uint16_t *c[8];
            for (int t = 0; t < 8; t++)
                c[t] = tt + (size_t)wr[tap + t] * 256;
            const uint8_t *r0 = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q += 8) {
                uint32_t s8[8] = {0};
                for (int t = 0; t < 8; t++) {
                    uint64_t v;
                    memcpy(&v, r0 + (size_t)t * CHUNK + q, 8);
                    for (int j = 0; j < 8; j++)
                        s8[j] += c[t][(v >> (8 * j)) & 255];
                }
                for (int j = 0; j < 8; j++)
                    ac[q + j] += s8[j];
            }
        }
        for (; tap < k; tap++) {
            const uint16_t *col = tt + (size_t)wr[tap] * 256;
            const uint8_t *row = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++)
                ac[q] += col[row[q]];
        }
    }
}

/* NC = 4 channels x NP = 4 pixels: 16 accumulators; per tap 4 column pointers, 4 bytes. */
static void scalar_reg(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                       uint32_t *acc)
{
    for (int o = 0; o < co; o += 4)
        for (int q = 0; q < CHUNK; q += 4) {
            uint32_t s[4][4] = {{0}};
            const uint8_t *w0 = w + (size_t)o * k;
            for (int tap = 0; tap < k; tap++) {
                const uint8_t *row = A + (size_t)tap * CHUNK + q;
                const uint16_t *c0 = tt + (size_t)w0[tap] * 256,
                               *c1 = tt + (size_t)w0[k + tap] * 256,
                               *c2 = tt + (size_t)w0[2 * k + tap] * 256,
                               *c3 = tt + (size_t)w0[3 * k + tap] * 256;
                for (int j = 0; j < 4; j++) {
                    const unsigned a = row[j];
                    s[0][j] += c0[a];
                    s[1][j] += c1[a];
                    s[2][j] += c2[a];
                    s[3][j] += c3[a];
                }
            }
            for (int c = 0; c < 4; c++)
                for (int j = 0; j < 4; j++)
                    acc[(size_t)(o + c) * CHUNK + q + j] = s[c][j];
        }
}

/* The activation bytes of pixel q for T taps, zero-extended once. */
static inline __attribute__((always_inline)) void pixel_bytes(size_t *x, const uint8_t *r0, int q,
                                                              const int T)
{
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        x[t] = r0[(size_t)t * CHUNK + q];
}

/* T taps x C channels per pass, the T * C columns of the pass copied next to each other into a
 * scratch buffer first: every lookup then addresses one base register plus a constant
 * displacement (x86 has too few registers for 16 column pointers), and one activation byte feeds
 * C lookups. Loads per lookup: 1 + 1/C + 1/T, plus the copy (T * C * 512 bytes per pass). */
static inline __attribute__((always_inline)) void scratch_tc(const uint8_t *A, int k,
                                                             const uint8_t *w, const uint16_t *tt,
                                                             int co, uint32_t *acc, const int T,
                                                             const int C)
{
    static _Alignas(64) uint16_t Sbuf[8 * 8 * 256];
    uint16_t *const S = Sbuf;
    for (int o = 0; o < co; o += C) {
        uint32_t *ac = acc + (size_t)o * CHUNK;
        const uint8_t *wr = w + (size_t)o * k;
        memset(ac, 0, sizeof(uint32_t) * CHUNK * (size_t)C);
        int tap = 0;
        for (; tap + T <= k; tap += T) {
            for (int c = 0; c < C; c++)
                for (int t = 0; t < T; t++)
                    memcpy(S + (size_t)(c * T + t) * 256,
                           tt + (size_t)wr[(size_t)c * k + tap + t] * 256, 512);
            const uint8_t *r0 = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++) {
                size_t x[8];
                pixel_bytes(x, r0, q, T);
#pragma GCC unroll 8
                for (int c = 0; c < C; c++) {
                    uint32_t s = 0;
#pragma GCC unroll 8
                    for (int t = 0; t < T; t++)
                        s += (S + (c * T + t) * 256)[x[t]];
                    ac[(size_t)c * CHUNK + q] += s;
                }
            }
        }
        for (; tap < k; tap++)
            for (int c = 0; c < C; c++) {
                const uint16_t *col = tt + (size_t)wr[(size_t)c * k + tap] * 256;
                const uint8_t *row = A + (size_t)tap * CHUNK;
                for (int q = 0; q < CHUNK; q++)
                    ac[(size_t)c * CHUNK + q] += col[row[q]];
            }
    }
}

/* One scheme function per (kind, T, C), from the inline template kind##_tc. */
#define INSTANCE(kind, T, C)                                                                       \
    static void kind##_t##T##c##C(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt,   \
                                  int co, uint32_t *acc)                                           \
    {                                                                                              \
        kind##_tc(A, k, w, tt, co, acc, T, C);                                                     \
    }
#define SCRATCH(T, C) INSTANCE(scratch, T, C)
SCRATCH(4, 2)
SCRATCH(4, 4)
SCRATCH(8, 2)
SCRATCH(2, 4)
SCRATCH(8, 4)
SCRATCH(4, 8)

/* Channel pairs in one load: the pass's columns are interleaved into 64-bit entries, the entry
 * of channel 2j in the low 32 bits and of 2j+1 in the high ones, so that one load of
 * P[t][j][x] fetches two lookups and one 64-bit add sums them in separate lanes (a call sums at
 * most 32768 entries of 65535 per pixel: the low lane never carries into the high one). Loads per
 * lookup: (T + T * C / 2 + C / 2) / (T * C), plus the interleaving copy. */
__attribute__((noinline, optimize("tree-vectorize"))) static void
interleave(uint64_t *restrict d, const uint16_t *restrict a, const uint16_t *restrict b)
{
    for (int x = 0; x < 256; x++)
        d[x] = (uint64_t)a[x] | (uint64_t)b[x] << 32;
}

static inline __attribute__((always_inline)) void pair_tc(const uint8_t *A, int k, const uint8_t *w,
                                                          const uint16_t *tt, int co, uint32_t *acc,
                                                          const int T, const int C)
{
    static _Alignas(64) uint64_t Pbuf[8 * 4 * 256];
    static _Alignas(64) uint64_t Sum[4 * CHUNK];
    uint64_t *const P = Pbuf;
    for (int o = 0; o < co; o += C) {
        const uint8_t *wr = w + (size_t)o * k;
        memset(Sum, 0, sizeof Sum);
        int tap = 0;
        for (; tap + T <= k; tap += T) {
            for (int j = 0; j < C / 2; j++)
                for (int t = 0; t < T; t++) {
                    const uint16_t *a = tt + (size_t)wr[(size_t)(2 * j) * k + tap + t] * 256;
                    const uint16_t *b = tt + (size_t)wr[(size_t)(2 * j + 1) * k + tap + t] * 256;
                    interleave(P + (size_t)(t * (C / 2) + j) * 256, a, b);
                }
            const uint8_t *r0 = A + (size_t)tap * CHUNK;
            for (int q = 0; q < CHUNK; q++) {
                size_t x[8];
                pixel_bytes(x, r0, q, T);
#pragma GCC unroll 4
                for (int j = 0; j < C / 2; j++) {
                    uint64_t s = 0;
#pragma GCC unroll 8
                    for (int t = 0; t < T; t++)
                        s += (P + (t * (C / 2) + j) * 256)[x[t]];
                    Sum[(size_t)j * CHUNK + q] += s;
                }
            }
        }
        for (int j = 0; j < C / 2; j++)
            for (int q = 0; q < CHUNK; q++) {
                acc[(size_t)(o + 2 * j) * CHUNK + q] = (uint32_t)Sum[(size_t)j * CHUNK + q];
                acc[(size_t)(o + 2 * j + 1) * CHUNK + q] =
                    (uint32_t)(Sum[(size_t)j * CHUNK + q] >> 32);
            }
        for (; tap < k; tap++)
            for (int c = 0; c < C; c++) {
                const uint16_t *col = tt + (size_t)wr[(size_t)c * k + tap] * 256;
                const uint8_t *row = A + (size_t)tap * CHUNK;
                for (int q = 0; q < CHUNK; q++)
                    acc[(size_t)(o + c) * CHUNK + q] += col[row[q]];
            }
    }
}

#define PAIR(T, C) INSTANCE(pair, T, C)
PAIR(4, 2)
PAIR(4, 4)
PAIR(8, 2)
PAIR(8, 4)
PAIR(2, 8)

#if defined(__AVX2__)
static void gather1(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                    uint32_t *acc)
{
    const __m256i low16 = _mm256_set1_epi32(0xffff);
    for (int o = 0; o < co; o++)
        for (int p = 0; p < CHUNK; p += 16) {
            __m256i s0 = _mm256_setzero_si256(), s1 = s0;
            for (int tap = 0; tap < k; tap++) {
                const int *col =
                    (const int *)(const void *)(tt + (size_t)w[(size_t)o * k + tap] * 256);
                const uint8_t *row = A + (size_t)tap * CHUNK + p;
                __m256i i0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)row));
                __m256i i1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 8)));
                s0 = _mm256_add_epi32(s0,
                                      _mm256_and_si256(_mm256_i32gather_epi32(col, i0, 2), low16));
                s1 = _mm256_add_epi32(s1,
                                      _mm256_and_si256(_mm256_i32gather_epi32(col, i1, 2), low16));
            }
            _mm256_storeu_si256((__m256i *)(acc + (size_t)o * CHUNK + p), s0);
            _mm256_storeu_si256((__m256i *)(acc + (size_t)o * CHUNK + p + 8), s1);
        }
}

/* 4 channels share the widened indices of 8 pixels. */
static void gather4(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                    uint32_t *acc)
{
    const __m256i low16 = _mm256_set1_epi32(0xffff);
    for (int o = 0; o < co; o += 4)
        for (int p = 0; p < CHUNK; p += 8) {
            __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
            const uint8_t *w0 = w + (size_t)o * k;
            for (int tap = 0; tap < k; tap++) {
                const uint8_t *row = A + (size_t)tap * CHUNK + p;
                __m256i i0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)row));
#define G(s, c)                                                                                    \
    s = _mm256_add_epi32(                                                                          \
        s, _mm256_and_si256(                                                                       \
               _mm256_i32gather_epi32(                                                             \
                   (const int *)(const void *)(tt + (size_t)w0[(c)*k + tap] * 256), i0, 2),        \
               low16))
                G(s0, 0);
                G(s1, 1);
                G(s2, 2);
                G(s3, 3);
#undef G
            }
            _mm256_storeu_si256((__m256i *)(acc + (size_t)o * CHUNK + p), s0);
            _mm256_storeu_si256((__m256i *)(acc + (size_t)(o + 1) * CHUNK + p), s1);
            _mm256_storeu_si256((__m256i *)(acc + (size_t)(o + 2) * CHUNK + p), s2);
            _mm256_storeu_si256((__m256i *)(acc + (size_t)(o + 3) * CHUNK + p), s3);
        }
}

/* The byte planes of every column as 16 tables of 16 entries (entries 16h..16h+15), each in both
 * 128-bit lanes, since vpshufb looks up within a lane: 1 KiB per weight code. */
static _Alignas(32) uint8_t nibble_tables[256][2][16][32];

/* Per 32 lookups and tap: one index load, 32 table loads and shuffles, 30 blends, 3 shifts and
 * 8 widening adds; 16-bit sums flushed every 256 taps (a byte sum stays below 2^16). */
static void pshufb_nibble(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                          uint32_t *acc)
{
    for (int wc = 0; wc < 256; wc++)
        for (int x = 0; x < 256; x++)
            for (int pl = 0; pl < 2; pl++) {
                const uint8_t b = (uint8_t)(tt[wc * 256 + x] >> (8 * pl));
                nibble_tables[wc][pl][x >> 4][x & 15] =
                    nibble_tables[wc][pl][x >> 4][16 + (x & 15)] = b;
            }
    const __m256i low4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    for (int o = 0; o < co; o++)
        for (int p = 0; p < CHUNK; p += 32) {
            uint32_t *out = acc + (size_t)o * CHUNK + p;
            memset(out, 0, 32 * sizeof *out);
            for (int t0 = 0; t0 < k; t0 += 256) {
                const int t1 = k - t0 < 256 ? k : t0 + 256;
                __m256i s[4] = {zero, zero, zero, zero};
                for (int tap = t0; tap < t1; tap++) {
                    const __m256i idx = _mm256_loadu_si256(
                        (const __m256i *)(const void *)(A + (size_t)tap * CHUNK + p));
                    const __m256i nib = _mm256_and_si256(idx, low4);
                    /* bits 4, 5, 6 of each index moved to bit 7, where vpblendvb reads them */
                    const __m256i m4 = _mm256_slli_epi16(idx, 3), m5 = _mm256_slli_epi16(idx, 2),
                                  m6 = _mm256_slli_epi16(idx, 1);
                    for (int pl = 0; pl < 2; pl++) {
                        const __m256i *T = (const __m256i *)(const void *)
                            nibble_tables[w[(size_t)o * k + tap]][pl];
                        __m256i r[8];
                        for (int j = 0; j < 8; j++)
                            r[j] = _mm256_blendv_epi8(
                                _mm256_shuffle_epi8(_mm256_load_si256(T + 2 * j), nib),
                                _mm256_shuffle_epi8(_mm256_load_si256(T + 2 * j + 1), nib), m4);
                        for (int j = 0; j < 4; j++)
                            r[j] = _mm256_blendv_epi8(r[2 * j], r[2 * j + 1], m5);
                        for (int j = 0; j < 2; j++)
                            r[j] = _mm256_blendv_epi8(r[2 * j], r[2 * j + 1], m6);
                        const __m256i e = _mm256_blendv_epi8(r[0], r[1], idx);
                        s[2 * pl] = _mm256_add_epi16(s[2 * pl], _mm256_unpacklo_epi8(e, zero));
                        s[2 * pl + 1] =
                            _mm256_add_epi16(s[2 * pl + 1], _mm256_unpackhi_epi8(e, zero));
                    }
                }
                /* word i of lane L of s[2 pl + H] is pixel 16 L + 8 H + i */
                uint16_t u[4][16];
                for (int v = 0; v < 4; v++)
                    _mm256_storeu_si256((__m256i *)(void *)u[v], s[v]);
                for (int L = 0; L < 2; L++)
                    for (int H = 0; H < 2; H++)
                        for (int i = 0; i < 8; i++)
                            out[16 * L + 8 * H + i] +=
                                (uint32_t)u[H][8 * L + i] + ((uint32_t)u[2 + H][8 * L + i] << 8);
            }
        }
}

/* Row tables (lib/cpu/cpu.h, the avx2 path's kernel on layers of many pixels): per tap, for every
 * activation code, the CO channels' entries side by side, so that a pixel's tap is one 32-byte
 * load per 16 channels, a shift and two 16-bit adds (exact over 256 taps: W = sum mod 2^16,
 * H = sum of high bytes, L = W - 256 H). The rows are built on the first call and kept, as the
 * engine builds them once per layer (9.4 M entries here, about 1 ms on one core); but a call of
 * 256 pixels reads all of them (18.9 MB for 576 taps x 64 channels: 2 bytes per lookup), which is
 * why the engine gives the row kernel 1024 pixels per call. CO <= 64. */
static void rows_prebuilt(const uint8_t *A, int k, const uint8_t *w, const uint16_t *tt, int co,
                          uint32_t *acc)
{
    static uint16_t *R;
    static uint16_t wh[CHUNK][128] __attribute__((aligned(32)));
    const int nb = (co + 15) & ~15;
    if (co > 64)
        return; /* the sums stay wrong: reported as different */
    if (!R) {
        R = aligned_alloc(64, (size_t)k * 256 * nb * sizeof *R);
        if (!R)
            return;
        for (int t = 0; t < k; t++)
            for (int a = 0; a < 256; a++)
                for (int c = 0; c < nb; c++)
                    R[((size_t)t * 256 + a) * nb + c] =
                        c < co ? tt[(size_t)w[(size_t)c * k + t] * 256 + a] : 0;
    }
    memset(acc, 0, sizeof *acc * CHUNK * (size_t)co);
    for (int t0 = 0; t0 < k; t0 += 256) {
        const int t1 = k - t0 < 256 ? k : t0 + 256;
        memset(wh, 0, sizeof wh);
        for (int st = t0; st < t1; st += 8) {
            const int se = t1 - st < 8 ? t1 : st + 8;
            for (int q = 0; q < CHUNK; q++) {
                __m256i W[4], H[4];
                for (int i = 0; i < nb / 16; i++) {
                    W[i] = _mm256_load_si256((const __m256i *)(const void *)&wh[q][16 * i]);
                    H[i] = _mm256_load_si256((const __m256i *)(const void *)&wh[q][64 + 16 * i]);
                }
                for (int t = st; t < se; t++) {
                    const uint16_t *r = R + ((size_t)t * 256 + A[(size_t)t * CHUNK + q]) * nb;
                    for (int i = 0; i < nb / 16; i++) {
                        const __m256i v =
                            _mm256_load_si256((const __m256i *)(const void *)(r + 16 * i));
                        W[i] = _mm256_add_epi16(W[i], v);
                        H[i] = _mm256_add_epi16(H[i], _mm256_srli_epi16(v, 8));
                    }
                }
                for (int i = 0; i < nb / 16; i++) {
                    _mm256_store_si256((__m256i *)(void *)&wh[q][16 * i], W[i]);
                    _mm256_store_si256((__m256i *)(void *)&wh[q][64 + 16 * i], H[i]);
                }
            }
        }
        for (int q = 0; q < CHUNK; q++)
            for (int c = 0; c < co; c++) {
                const uint32_t h = wh[q][64 + c];
                acc[(size_t)c * CHUNK + q] += (uint16_t)(wh[q][c] - (uint16_t)(h << 8)) + (h << 8);
            }
    }
}
#endif

typedef void (*scheme)(const uint8_t *, int, const uint8_t *, const uint16_t *, int, uint32_t *);

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const int k = argc > 1 ? atoi(argv[1]) : 576, co = argc > 2 ? atoi(argv[2]) : 64;
    if (k < 1 || co < 4 || co % 4) {
        fprintf(stderr, "usage: lut_micro [K] [CO, a multiple of 4]\n");
        return 2;
    }
    uint8_t *A = malloc((size_t)k * CHUNK + 64), *w = malloc((size_t)k * co);
    uint16_t *tt = malloc((256 * 256 + 32) * sizeof *tt);
    uint32_t *ref = malloc(sizeof *ref * CHUNK * co), *acc = malloc(sizeof *acc * CHUNK * co);
    if (!A || !w || !tt || !ref || !acc)
        return 1;
    for (size_t i = 0; i < (size_t)k * CHUNK + 64; i++)
        A[i] = (uint8_t)next();
    for (size_t i = 0; i < (size_t)k * co; i++)
        w[i] = (uint8_t)next();
    for (int i = 0; i < 256 * 256 + 32; i++)
        tt[i] = (uint16_t)next();
    scalar_mem(A, k, w, tt, co, ref);
    struct {
        const char *name;
        scheme fn;
    } s[] = {
        {"scalar-mem", scalar_mem},
        {"scalar-t4", scalar_t4},
        {"scalar-t4c2", scalar_t4c2},
        {"scalar-t8", scalar_t8},
        {"scalar-reg", scalar_reg},
        {"scratch-t4c2", scratch_t4c2},
        {"scratch-t4c4", scratch_t4c4},
        {"scratch-t8c2", scratch_t8c2},
        {"scratch-t2c4", scratch_t2c4},
        {"scratch-t8c4", scratch_t8c4},
        {"scratch-t4c8", scratch_t4c8},
        {"pair-t4c2", pair_t4c2},
        {"pair-t4c4", pair_t4c4},
        {"pair-t8c2", pair_t8c2},
        {"pair-t8c4", pair_t8c4},
        {"pair-t2c8", pair_t2c8},
#if defined(__AVX2__)
        {"gather", gather1},
        {"gather-nc", gather4},
        {"pshufb", pshufb_nibble},
        {"rows", rows_prebuilt},
#endif
    };
    const double lookups = (double)k * CHUNK * co;
    printf("one thread, %d taps x %d pixels x %d channels per call (%.1f M lookups)\n", k, CHUNK,
           co, lookups / 1e6);
    int bad = 0;
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        double t[5];
        for (int r = 0; r < 5; r++) {
            const double t0 = now();
            s[i].fn(A, k, w, tt, co, acc);
            t[r] = now() - t0;
        }
        qsort(t, 5, sizeof t[0], cmp);
        const int same = memcmp(acc, ref, sizeof *acc * CHUNK * co) == 0;
        bad |= !same;
        printf("%-11s %6.2f G lookups/s  %s\n", s[i].name, lookups / t[2] / 1e9,
               same ? "" : "(DIFFERENT SUMS)");
    }
    free(A);
    free(w);
    free(tt);
    free(ref);
    free(acc);
    return bad;
}
