/* axmul: the CPU convolution driver. Activations of a chunk of AXMUL__CHUNK output pixels are
 * gathered tap-major (A[tap][pixel]: an im2col, transposed and cut into chunks so that no
 * full-size im2col ever exists), and for every AXMUL__KCH output channels the selected inner
 * kernel (lib/cpu/paths.h) sums the table entries T[A[tap][p]][w[tap]] over the taps. All kernels
 * give the same integers, and the integers become floats in one place (axmul__conv_out), so every
 * path is bit-identical. */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lib/core/internal.h"
#include "lib/cpu/cpu.h"
#include "lib/engine/backend.h"
#include "lib/engine/engine.h"

typedef struct {
    const axmul__conv_setup *s;
    int pointwise;     /* 1x1 kernel, stride 1, no padding: output pixel = input pixel */
    const uint8_t *qp; /* quantized input codes, planar: [n][c][h][w], or [c][n*h*w] when
                          pointwise */
    const uint8_t *wq; /* [co][k] codes */
    const int64_t *sum_qw;
    axmul__lut lut;
    axmul__lut_kernel kernel;
    float *y;
    /* row tables (cpu.h), or rows NULL: block b of group g at R + rows_block(p, g, b, ...) */
    axmul__rows_kernel rows;
    const uint16_t *R;
} job_t;

/* Block b (AXMUL__ROWS_NB output channels) of group g's row tables: its nw live channels, its
 * width *nb (nw rounded up to 16) and where it starts in R, in entries. Every block but a group's
 * last is full, so a group takes cout_g rounded up to 16 channels of rows. */
static size_t rows_block(const axmul__conv_plan *p, int g, int b, int *nw, int *nb)
{
    const int c0 = b * AXMUL__ROWS_NB;
    *nw = p->cout_g - c0 < AXMUL__ROWS_NB ? p->cout_g - c0 : AXMUL__ROWS_NB;
    *nb = (*nw + 15) & ~15;
    const size_t tap_rows = (size_t)p->k * 256;
    return ((size_t)g * (size_t)((p->cout_g + 15) & ~15) + (size_t)c0) * tap_rows;
}

/* Pointwise layers (dense layers and 1x1 convolutions) are a plain GEMM: the input is
 * channel-major over all pixels, so each row of A is one copy. */
static void gather_pointwise(const job_t *J, int g, int64_t p0, int np, uint8_t *A, int as)
{
    const axmul__conv_plan *p = &J->s->p;
    const size_t npix = (size_t)p->n * p->h * p->w;
    const uint8_t *src = J->qp + (size_t)g * p->cin_g * npix + (size_t)p0;
    for (int ci = 0; ci < p->cin_g; ci++, src += npix)
        memcpy(A + (size_t)ci * as, src, (size_t)np);
}

static void sum_activations(const axmul__conv_plan *p, int np, const uint8_t *A, double *sqa,
                            int as);

/* Copies n bytes in whole 64-byte blocks: inline vector moves instead of a libc call per run
 * (a chunk has thousands of short runs). Reads and writes up to 63 bytes past n: both buffers
 * have AXMUL__SLACK bytes after their end, and the gather writes A in address order, so what
 * spills into the next row is overwritten later. */
#define AXMUL__SLACK 64
static inline void copy_blocks(uint8_t *dst, const uint8_t *src, int n)
{
    for (int t = 0; t < n; t += 64)
        memcpy(dst + t, src + t, 64);
}

/* A run of consecutive output pixels of one output row, inside a chunk. */
typedef struct {
    int q, len, n, oy, ox;
} pixel_run;

/* Fills A[tap * as + q] for pixels [p0, p0 + np) of group g (np <= as: rows of AXMUL__CHUNK
 * pixels, or of AXMUL__ROWS_PIXELS for the row kernels). Pixels of one output row are
 * consecutive, so for stride 1 every (tap, channel) row is one copy from the planar input plus
 * zero-point padding at the borders. */
static void gather(const job_t *J, int g, int64_t p0, int np, uint8_t *A, double *sqa, int as)
{
    const axmul__conv_plan *p = &J->s->p;
    const uint8_t zx = (uint8_t)p->zx;
    const int cin = p->cin_g;
    if (J->pointwise) {
        gather_pointwise(J, g, p0, np, A, as);
    } else {
        pixel_run runs[AXMUL__ROWS_PIXELS];
        int nruns = 0;
        int ox = (int)(p0 % p->ow);
        int64_t r = p0 / p->ow;
        int oy = (int)(r % p->oh), n = (int)(r / p->oh);
        for (int q = 0; q < np;) {
            int len = np - q < p->ow - ox ? np - q : p->ow - ox;
            runs[nruns++] = (pixel_run){q, len, n, oy, ox};
            q += len;
            ox += len;
            if (ox == p->ow) {
                ox = 0;
                if (++oy == p->oh) {
                    oy = 0;
                    n++;
                }
            }
        }
        /* rows in address order (tap = (i * kw + j) * cin + ci): see copy_blocks */
        uint8_t *dst = A;
        for (int i = 0; i < p->kh; i++)
            for (int j = 0; j < p->kw; j++)
                for (int ci = 0; ci < cin; ci++, dst += as) {
                    const size_t plane = ((size_t)g * cin + ci) * p->h;
                    for (int k = 0; k < nruns; k++) {
                        const pixel_run *u = &runs[k];
                        uint8_t *d = dst + u->q;
                        const int iy = axmul__in_y(p, u->oy, i);
                        if (iy < 0 || iy >= p->h) {
                            memset(d, zx, (size_t)u->len);
                            continue;
                        }
                        const uint8_t *row =
                            J->qp + ((size_t)u->n * p->c * p->h + plane + (size_t)iy) * p->w;
                        const int ix0 = axmul__in_x(p, u->ox, j);
                        if (p->sw == 1) {
                            int lo = ix0 < 0 ? -ix0 : 0, hi = p->w - ix0;
                            lo = lo > u->len ? u->len : lo;
                            hi = hi > u->len ? u->len : (hi < lo ? lo : hi);
                            copy_blocks(d + lo, row + ix0 + lo, hi - lo);
                            for (int t = 0; t < lo; t++)
                                d[t] = zx;
                            for (int t = hi; t < u->len; t++)
                                d[t] = zx;
                        } else {
                            for (int t = 0, ix = ix0; t < u->len; t++, ix += p->sw)
                                d[t] = ix >= 0 && ix < p->w ? row[ix] : zx;
                        }
                    }
                }
    }
    /* The kernels read whole rows: past the live pixels of a partial chunk the bytes must be
     * defined (any value is a valid index; their sums are dropped). */
    if (np < as)
        for (int tap = 0; tap < p->k; tap++)
            memset(A + (size_t)tap * as + np, 0, (size_t)(as - np));
    if (!p->is_signed) /* symmetric quantization: no zero-point corrections need sum(qa) */
        sum_activations(p, np, A, sqa, as);
}

/* sum(qa) per pixel. 16-bit partial sums over blocks of 256 taps (at most 65,280) vectorize
 * to one widening add per 32 pixels; the totals are doubles, as convert_channel uses them, and
 * exact (below 2^39). */
static void sum_activations(const axmul__conv_plan *p, int np, const uint8_t *A, double *sqa,
                            int as)
{
    /* Whole rows (the bytes past np are defined, see gather) so that every loop has a constant
     * trip count and vectorizes, the widening into sqa included: for grouped and depthwise layers
     * (9-36 taps) that widening was a fifth of the gather. */
    (void)np;
    uint16_t part[AXMUL__ROWS_PIXELS];
    for (int t0 = 0; t0 < p->k; t0 += 256) {
        int t1 = p->k - t0 < 256 ? p->k : t0 + 256;
        const uint8_t *row = A + (size_t)t0 * as;
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int q = 0; q < as; q++)
            part[q] = row[q];
        for (int tap = t0 + 1; tap < t1; tap++) {
            row = A + (size_t)tap * as;
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < as; q++)
                part[q] = (uint16_t)(part[q] + row[q]);
        }
        if (t0 == 0) {
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < as; q++)
                sqa[q] = part[q];
        } else {
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < as; q++)
                sqa[q] += part[q];
        }
    }
}

/* The constant part of output channel o's sum over its taps: the stored offset of signed entries
 * (one per tap), or the zero-point corrections of unsigned layers (sum_qw: the channel's sum of
 * weight codes). The chunk kernels' conversion and the depthwise kernels take it from here. */
static int64_t channel_base(const axmul__conv_setup *s, int o, int64_t sum_qw)
{
    const axmul__conv_plan *p = &s->p;
    return axmul__unstore(0, p->is_signed, p->k) + axmul__zp_base(p->k, p->zx, s->zw[o], sum_qw);
}

/* The output values of channel o for the chunk's pixels, from its LUT sums (acc32, or acc64 when
 * the taps took several kernel calls), into v[0..np). In doubles: every term and partial sum is an
 * integer below 2^53 (k < 2^31 taps, entries < 2^16, codes < 2^8, so |sum| < 2^50), so the
 * arithmetic is exact and converting the exact double to float rounds once, as the 64-bit integer
 * conversion of axmul__conv_out does: the same bits, in a loop that vectorizes (x86-64 has no
 * vector conversion from 64-bit integers before AVX-512), which matters where a pixel has few taps
 * (depthwise layers, first layers: 9). */
static void convert_channel(const job_t *J, int o, int np, const double *sqa, const uint32_t *acc32,
                            const int64_t *acc64, float *restrict v)
{
    const axmul__conv_plan *p = &J->s->p;
    const float sc = J->s->oscale[o]; /* not 0: run_chunk writes those channels itself */
    const int64_t zw = J->s->zw[o];   /* 0 when signed */
    const int64_t base = channel_base(J->s, o, J->sum_qw[o]);
    if (acc64) { /* more than AXMUL__TAP_BLOCK taps: the lookups outweigh this loop */
        for (int q = 0; q < np; q++)
            v[q] = axmul__conv_out(
                sc, axmul__zp_correct(acc64[q], base, zw, p->is_signed ? 0 : (int64_t)sqa[q]));
    } else {
        /* uint32 as int32 plus 2^31: the conversion that SSE2 and AVX have */
        const double dbase = (double)base + 2147483648.0, dzw = (double)zw;
        if (p->is_signed) { /* no sum(qa): the symmetric scheme has no zero points */
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < np; q++)
                v[q] = sc * (float)((double)(int32_t)(acc32[q] ^ 0x80000000u) + dbase);
        } else {
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < np; q++)
                v[q] =
                    sc * (float)((double)(int32_t)(acc32[q] ^ 0x80000000u) + dbase - dzw * sqa[q]);
        }
    }
    if (J->s->bias) { /* after the conversion, as a separate addition would be */
        const float bias = J->s->bias[o];
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int q = 0; q < np; q++)
            v[q] += bias;
    }
}

/* Stores nch converted channels os[] (rows of v) into the NHWC output. The channels of one call
 * are usually adjacent, so each pixel's stores are: unrolled, with branches that go the same way
 * for every pixel (a loop of two to four stores per pixel cost a mispredicted exit per pixel). */
static void store_channels(const job_t *J, const int *os, int nch, int64_t p0, int np,
                           const float *v, int vs)
{
    const size_t co = (size_t)J->s->p.co;
    float *y = J->y + (size_t)p0 * co;
    const float *v0 = v, *v1 = v0 + vs, *v2 = v1 + vs, *v3 = v2 + vs;
    int adjacent = 1;
    for (int c = 1; c < nch; c++)
        adjacent &= os[c] == os[0] + c;
    if (!adjacent) {
        for (int c = 0; c < nch; c++)
            for (int q = 0; q < np; q++)
                y[(size_t)q * co + os[c]] = v[(size_t)c * vs + q];
        return;
    }
    float *yq = y + os[0];
    for (int q = 0; q < np; q++, yq += co) {
        yq[0] = v0[q];
        if (nch > 1)
            yq[1] = v1[q];
        if (nch > 2)
            yq[2] = v2[q];
        if (nch > 3)
            yq[3] = v3[q];
    }
}

/* A channel whose output scale is 0: axmul__conv_out is 0 whatever the sum, no lookups. */
static void zero_channel(const job_t *J, int o, int64_t p0, int np)
{
    const size_t co = (size_t)J->s->p.co;
    float *yo = J->y + (size_t)p0 * co + o;
    const float bias = J->s->bias ? J->s->bias[o] : 0.0f;
    for (int q = 0; q < np; q++)
        yo[(size_t)q * co] = J->s->bias ? 0.0f + bias : 0.0f;
}

/* Row-table blocks [b0, b1) of group g for np <= AXMUL__ROWS_PIXELS pixels (A's rows of that
 * many): the row kernel sums all of a block's channels at once (acc32 holds AXMUL__ROWS_NB rows
 * of AXMUL__ROWS_PIXELS), which are converted and stored AXMUL__KCH at a time (v holds
 * AXMUL__KCH such rows). */
static void run_chunk_rows(const job_t *J, int g, int b0, int b1, int64_t p0, int np,
                           const uint8_t *A, const double *sqa, uint32_t *acc32, uint16_t *wh,
                           float *v)
{
    enum { AS = AXMUL__ROWS_PIXELS };
    const axmul__conv_plan *p = &J->s->p;
    for (int b = b0; b < b1; b++) {
        const int c0 = b * AXMUL__ROWS_NB;
        int nw, nb;
        const size_t at = rows_block(p, g, b, &nw, &nb);
        J->rows(A, AS, p->k, J->R + at, nb, np, wh, acc32);
        for (int c = 0; c < nw;) {
            int os[AXMUL__KCH], cs[AXMUL__KCH], nch = 0;
            for (; c < nw && nch < AXMUL__KCH; c++) {
                const int o = g * p->cout_g + c0 + c;
                if (J->s->oscale[o] == 0.0f) {
                    zero_channel(J, o, p0, np);
                    continue;
                }
                cs[nch] = c;
                os[nch++] = o;
            }
            for (int i = 0; i < nch; i++)
                convert_channel(J, os[i], np, sqa, acc32 + (size_t)cs[i] * AS, NULL,
                                v + (size_t)i * AS);
            if (nch)
                store_channels(J, os, nch, p0, np, v, AS);
        }
    }
}

/* Output channels [oo0, oo1) of group g for one chunk, AXMUL__KCH channels per kernel call
 * (acc32, acc64 and v hold AXMUL__KCH rows of AXMUL__CHUNK). */
static void run_chunk(const job_t *J, int g, int oo0, int oo1, int64_t p0, int np, const uint8_t *A,
                      const double *sqa, uint32_t *acc32, int64_t *acc64, float *v)
{
    const axmul__conv_plan *p = &J->s->p;
    const int multi = p->k > AXMUL__TAP_BLOCK; /* several kernel calls: 64-bit totals */
    for (int oo = oo0; oo < oo1;) {
        int os[AXMUL__KCH], nch = 0;
        for (; oo < oo1 && nch < AXMUL__KCH; oo++) {
            const int o = g * p->cout_g + oo;
            if (J->s->oscale[o] != 0.0f)
                os[nch++] = o;
            else
                zero_channel(J, o, p0, np);
        }
        if (nch == 0)
            continue;
        if (multi)
            for (size_t q = 0; q < (size_t)nch * AXMUL__CHUNK; q++)
                acc64[q] = 0;
        for (int t0 = 0; t0 < p->k; t0 += AXMUL__TAP_BLOCK) {
            const int nt = p->k - t0 < AXMUL__TAP_BLOCK ? p->k - t0 : AXMUL__TAP_BLOCK;
            const uint8_t *w[AXMUL__KCH];
            for (int c = 0; c < nch; c++)
                w[c] = J->wq + (size_t)os[c] * p->k + t0;
            J->kernel(A + (size_t)t0 * AXMUL__CHUNK, nt, w, nch, &J->lut, np, acc32);
            if (multi)
                for (int c = 0; c < nch; c++)
                    for (int q = 0; q < np; q++)
                        acc64[(size_t)c * AXMUL__CHUNK + q] += acc32[(size_t)c * AXMUL__CHUNK + q];
        }
        for (int c = 0; c < nch; c++)
            convert_channel(J, os[c], np, sqa, acc32 + (size_t)c * AXMUL__CHUNK,
                            multi ? acc64 + (size_t)c * AXMUL__CHUNK : NULL,
                            v + (size_t)c * AXMUL__CHUNK);
        store_channels(J, os, nch, p0, np, v, AXMUL__CHUNK);
    }
}

/* Carves 64-byte aligned pieces out of one allocation: one block per call (instead of a dozen)
 * is what keeps malloc from returning the memory to the system and faulting it in again on
 * every call, and aligned rows keep the kernels' 64-byte loads within one cache line. */
typedef struct {
    size_t used;
    int overflow;
} layout;

static size_t piece(layout *l, size_t count, size_t size)
{
    size_t at = l->used;
    if (size && count > (SIZE_MAX - 64 - at) / size) {
        l->overflow = 1;
        return 0;
    }
    l->used = at + ((count * size + 63) & ~(size_t)63);
    return at;
}

/* The row tables live in their own mapping, not in malloc's heap: a program that convolves again
 * and again (the benchmark) saw glibc's heap grow to five times their size (its mmap threshold
 * rises past a freed block of their size, and later blocks no longer fit the freed space). One
 * mapping of at most AXMUL__ROWS_KEEP_BYTES is kept for the next call, which would otherwise
 * fault its pages in again (a sixth of a 1x1 28x28x256->128 layer's time at batch 8): taken and
 * returned with atomic exchanges, so that concurrent calls and a child of fork() never wait (a
 * call that finds it taken maps its own). The first 64 bytes of a mapping hold its size. */
#define AXMUL__ROWS_KEEP_BYTES ((size_t)64 << 20)
static _Atomic(uint8_t *) rows_kept;

static uint16_t *rows_alloc(size_t bytes)
{
    uint8_t *m = atomic_exchange(&rows_kept, NULL);
    if (m && *(size_t *)(void *)m < bytes + 64) {
        munmap(m, *(size_t *)(void *)m);
        m = NULL;
    }
    if (!m) {
        void *n =
            mmap(NULL, bytes + 64, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (n == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        madvise(n, bytes + 64, MADV_HUGEPAGE);
#endif
        m = n;
        *(size_t *)(void *)m = bytes + 64;
    }
    return (uint16_t *)(void *)(m + 64);
}

static void rows_free(uint16_t *R)
{
    if (!R)
        return;
    uint8_t *m = (uint8_t *)R - 64;
    if (*(size_t *)(void *)m > AXMUL__ROWS_KEEP_BYTES) {
        munmap(m, *(size_t *)(void *)m);
        return;
    }
    uint8_t *old = atomic_exchange(&rows_kept, m);
    if (old)
        munmap(old, *(size_t *)(void *)old);
}

/* AXMUL_CPU_ROWS=0: no row tables, 1 (or unset): where they serve (doc/axconv-test.1); any
 * other value is an error, not a silent default. */
static axmul_status rows_setting(int *off)
{
    const char *e = getenv("AXMUL_CPU_ROWS");
    *off = e && strcmp(e, "0") == 0;
    if (e && strcmp(e, "0") != 0 && strcmp(e, "1") != 0)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "AXMUL_CPU_ROWS=%s: expected 0 or 1", e);
    return AXMUL_OK;
}

/* Every block's rows, in pieces of 64 taps spread over the threads (a layer has few blocks). */
static void build_rows(const job_t *J, uint16_t *R, int nblk, int nthreads)
{
    const axmul__conv_plan *p = &J->s->p;
    enum { TAPS = 64 };
    const int nt = (p->k + TAPS - 1) / TAPS;
    const int64_t ntasks = (int64_t)p->groups * nblk * nt;
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1)
#endif
    for (int64_t task = 0; task < ntasks; task++) {
        const int gb = (int)(task / nt), t0 = (int)(task % nt) * TAPS;
        const int g = gb / nblk, b = gb % nblk, c0 = b * AXMUL__ROWS_NB;
        const int ntaps = p->k - t0 < TAPS ? p->k - t0 : TAPS;
        int nw, nb;
        const size_t at = rows_block(p, g, b, &nw, &nb);
        const uint8_t *w[AXMUL__ROWS_NB];
        for (int c = 0; c < nw; c++)
            w[c] = J->wq + (size_t)(g * p->cout_g + c0 + c) * p->k + t0;
        axmul__rows_build(J->lut.tt, w, nw, nb, ntaps, R + at + (size_t)t0 * 256 * nb);
    }
}

/* Whether the direct kernels (cpu.h) serve the layer: depthwise, few enough taps for their
 * 32-bit sums. */
static int depthwise_direct(const axmul__conv_plan *p)
{
    return p->groups == p->c && p->cin_g == 1 && p->cout_g == 1 && p->k <= AXMUL__DW_MAX_TAPS;
}

/* A depthwise layer through the path's direct kernel: the input quantized in place
 * (NHWC, no planar copy and no gather), the filter's codes and each channel's constant part of
 * the sum, then output rows spread over the threads. */
static axmul_status conv_depthwise(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                   const float *w, float *y, int nthreads,
                                   const axmul__cpu_kernel *ki, size_t *work_bytes)
{
    const axmul__conv_plan *p = &s->p;
    const size_t nx = (size_t)p->n * p->h * p->w * p->c, co = (size_t)p->co, k = (size_t)p->k;
    layout l = {0, 0};
    const size_t o_qx = piece(&l, nx + 8, 1), o_wq = piece(&l, co * k, 1); /* cpu.h: qx */
    const size_t o_sum = piece(&l, co, sizeof(int64_t)), o_base = piece(&l, co, sizeof(int32_t));
    const size_t o_zw = piece(&l, co, sizeof(int32_t));
    const int pairs = axmul__dw_pairs_fit(p);
    const size_t o_pairs = piece(&l, pairs ? co * 3 * 256 : 0, sizeof(uint32_t));
    if (l.overflow)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: working memory size overflows");
    *work_bytes = l.used;
    uint8_t *ws = aligned_alloc(64, l.used);
    axmul__prepared *tab = ws ? axmul__prepared_get(t, p->is_signed, nthreads) : NULL;
    if (!tab) {
        free(ws);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory (%zu bytes of working memory)",
                           l.used);
    }
    uint8_t *qx = ws + o_qx, *wq = ws + o_wq;
    int64_t *sum_qw = (int64_t *)(void *)(ws + o_sum);
    int32_t *base = (int32_t *)(void *)(ws + o_base), *zw = (int32_t *)(void *)(ws + o_zw);
    axmul__quantize_threads_with(ki->quantize, x, nx, &s->xq, qx, nthreads);
    axmul__conv_quantize_filter(s, w, wq, sum_qw, nthreads);
    for (size_t o = 0; o < co; o++) {
        zw[o] = s->zw[o];
        base[o] = (int32_t)channel_base(s, (int)o, sum_qw[o]);
    }
    const uint16_t *tt = axmul__prepared_lut(tab).tt;
    uint32_t *P = pairs ? (uint32_t *)(void *)(ws + o_pairs) : NULL;
    if (P)
        axmul__dw_pairs_build(tt, wq, p->co, P);
    const axmul__dw_args a = {p, qx, wq, tt, s->oscale, base, zw, s->bias, P, y};
    const int64_t nrows = (int64_t)p->n * p->oh;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1)
#endif
    for (int64_t r = 0; r < nrows; r++)
        ki->dw(&a, r);
    axmul__prepared_put(tab);
    free(ws);
    return AXMUL_OK;
}

axmul_status axmul__cpu_conv(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                             const float *w, float *y, int threads, const char **path,
                             size_t *work_bytes)
{
    const axmul__conv_plan *p = &s->p;
    axmul__cpu_kernel ki;
    const axmul_status sel = axmul__cpu_select(&ki);
    if (sel != AXMUL_OK)
        return sel;
    int rows_off = 0;
    const axmul_status rs = rows_setting(&rows_off);
    if (rs != AXMUL_OK)
        return rs;
    int nthreads = threads > 0 ? threads : 1;
#ifdef _OPENMP
    if (threads <= 0)
        nthreads = omp_get_max_threads();
#endif
    if (ki.dw && depthwise_direct(p)) {
        if (path)
            *path = ki.name;
        return conv_depthwise(s, t, x, w, y, nthreads, &ki, work_bytes);
    }
    size_t nx = (size_t)p->n * p->h * p->w * p->c;
    const int pointwise = axmul__plan_pointwise(p);
    const size_t co = (size_t)p->co, k = (size_t)p->k;
    const int64_t npix = (int64_t)p->n * p->oh * p->ow;
    /* Row tables (cpu.h) where the path has a row kernel and the layer has the pixels to pay for
     * building them; AXMUL_CPU_ROWS=0 turns them off (for comparisons). Each block's rows are
     * 512 bytes per tap and channel: layers whose rows would pass AXMUL__ROWS_MAX_BYTES keep
     * the chunk kernel. */
    const int nblk = (p->cout_g + AXMUL__ROWS_NB - 1) / AXMUL__ROWS_NB;
    size_t rows_bytes = 0;
    int use_rows = ki.rows && p->k <= AXMUL__TAP_BLOCK && p->cout_g >= AXMUL__ROWS_MIN_CHANNELS &&
                   npix >= ki.rows_min && !rows_off;
    if (use_rows) {
        const size_t per_group = ((size_t)p->cout_g + 15) / 16 * 16 * k * 256 * sizeof(uint16_t);
        use_rows = per_group <= AXMUL__ROWS_MAX_BYTES / (size_t)p->groups;
        rows_bytes = use_rows ? per_group * (size_t)p->groups : 0;
    }
    layout l = {0, 0};
    const size_t o_qx = piece(&l, nx, 1), o_qp = piece(&l, nx + AXMUL__SLACK, 1);
    const size_t o_wq = piece(&l, co * k, 1), o_sum = piece(&l, co, sizeof(int64_t));
    /* per thread: A[k][AXMUL__CHUNK], sum(qa), 32- and 64-bit accumulators and the converted
     * outputs of AXMUL__KCH channels */
    layout lt = {0, 0};
    const size_t as = use_rows ? AXMUL__ROWS_PIXELS : AXMUL__CHUNK; /* pixels per task */
    const size_t o_a = piece(&lt, k * as + AXMUL__SLACK, 1), o_sqa = piece(&lt, as, 8);
    const size_t o_acc32 = piece(&lt, (size_t)(use_rows ? AXMUL__ROWS_NB : AXMUL__KCH) * as, 4);
    const size_t o_acc64 = piece(&lt, use_rows ? 0 : (size_t)AXMUL__KCH * AXMUL__CHUNK, 8),
                 o_v = piece(&lt, (size_t)AXMUL__KCH * as, sizeof(float));
    const size_t o_wh = piece(&lt, use_rows ? as * 2 * AXMUL__ROWS_NB : 0, 2);
    const size_t o_threads = piece(&l, (size_t)nthreads, lt.used);
    if (l.overflow || lt.overflow)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: working memory size overflows");
    *work_bytes = l.used + rows_bytes;
    uint8_t *ws = aligned_alloc(64, l.used);
    uint16_t *R = use_rows ? rows_alloc(rows_bytes) : NULL;
    axmul__prepared *tab =
        ws && (R || !use_rows) ? axmul__prepared_get(t, p->is_signed, nthreads) : NULL;
    if (!tab) {
        free(ws);
        rows_free(R);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory (%zu bytes of working memory)",
                           l.used);
    }
    uint8_t *qx = ws + o_qx, *qp = ws + o_qp, *wq = ws + o_wq;
    int64_t *sum_qw = (int64_t *)(void *)(ws + o_sum);

    /* Quantize (NHWC), then transpose to planar: each image to [c][h][w], so that the gather
     * copies whole output-row runs, or for pointwise layers the whole batch to [c][n*h*w]. */
    axmul__quantize_threads_with(ki.quantize, x, nx, &s->xq, qx, nthreads);
    const size_t hw = pointwise ? nx / (size_t)p->c : (size_t)p->h * p->w;
    const int64_t images = pointwise ? 1 : p->n;
    /* blocks of 256 pixels, so that one image keeps every thread busy */
    const int64_t pblocks = (int64_t)((hw + 255) / 256), ntr = pblocks * images;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int64_t b = 0; b < ntr; b++) {
        const size_t img = (size_t)(b / pblocks), pix0 = (size_t)(b % pblocks) * 256;
        const size_t pend = pix0 + 256 < hw ? pix0 + 256 : hw;
        const uint8_t *src = qx + img * hw * p->c;
        uint8_t *dst = qp + img * hw * p->c;
        for (size_t px = pix0; px < pend; px += 64) {
            size_t pe = px + 64 < pend ? px + 64 : pend;
            for (int ch = 0; ch < p->c; ch++)
                for (size_t pix = px; pix < pe; pix++)
                    dst[(size_t)ch * hw + pix] = src[pix * p->c + ch];
        }
    }
    memset(qp + nx, 0, AXMUL__SLACK);
    axmul__conv_quantize_filter(s, w, wq, sum_qw, nthreads);

    job_t J = {s, pointwise, qp, wq, sum_qw, axmul__prepared_lut(tab), ki.fn, y, NULL, NULL};
    if (use_rows) {
        build_rows(&J, R, nblk, nthreads);
        J.rows = ki.rows;
        J.R = R;
    }
    /* tasks of AXMUL__CHUNK pixels, or of AXMUL__ROWS_PIXELS with row tables */
    int64_t nchunks = (npix + (int64_t)as - 1) / (int64_t)as;
    /* With fewer than two chunks per thread (dense layers, tiny batches) threads would idle: split
     * each chunk's output channels into parts as well, at the price of gathering the chunk once
     * per part; parts keep at least 8 channels so that the gather stays small next to the
     * lookups. Two or more chunks per thread balance well enough under dynamic scheduling (the
     * last chunk is often partial and cheap), and a duplicated gather costs more than that. */
    int osplit = 1;
    while (nthreads > 1 && nchunks * osplit < 2 * (int64_t)nthreads && osplit * 16 <= p->cout_g &&
           (!use_rows || osplit * 2 <= nblk)) /* with row tables: whole blocks per part */
        osplit *= 2;
    int64_t ntasks = nchunks * osplit;
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
    {
        int me = 0;
#ifdef _OPENMP
        me = omp_get_thread_num();
#endif
        uint8_t *mine = ws + o_threads + (size_t)me * lt.used;
        uint8_t *A = mine + o_a;
        double *sqa = (double *)(void *)(mine + o_sqa);
        uint32_t *acc32 = (uint32_t *)(void *)(mine + o_acc32);
        int64_t *acc64 = (int64_t *)(void *)(mine + o_acc64);
        float *v = (float *)(void *)(mine + o_v);
        uint16_t *wh = (uint16_t *)(void *)(mine + o_wh);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t task = 0; task < ntasks; task++) {
            /* parts outermost: tasks that run at the same time are different chunks, so two
             * threads do not write channels of the same output pixels (cache lines of y) */
            int64_t ch = task % nchunks;
            int part = (int)(task / nchunks);
            int oo0 = (int)((int64_t)p->cout_g * part / osplit);
            int oo1 = (int)((int64_t)p->cout_g * (part + 1) / osplit);
            int64_t p0 = ch * (int64_t)as;
            int np = (int)(npix - p0 < (int64_t)as ? npix - p0 : (int64_t)as);
            for (int g = 0; g < p->groups; g++) {
                gather(&J, g, p0, np, A, sqa, (int)as);
                if (J.rows)
                    run_chunk_rows(&J, g, (int)((int64_t)nblk * part / osplit),
                                   (int)((int64_t)nblk * (part + 1) / osplit), p0, np, A, sqa,
                                   acc32, wh, v);
                else
                    run_chunk(&J, g, oo0, oo1, p0, np, A, sqa, acc32, acc64, v);
            }
        }
    }
    axmul__prepared_put(tab);
    free(ws);
    rows_free(R);
    if (path) /* the row kernel's path where it ran ("auto" may pair another's chunk kernel) */
        *path = J.rows ? ki.rows_name : ki.name;
    return AXMUL_OK;
}
