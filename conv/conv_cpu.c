/* axmul: CPU convolution driver. Activations of a chunk of AXMUL__CHUNK output pixels are
 * gathered tap-major (A[tap][pixel]: an im2col, transposed and cut into chunks so that no
 * full-size im2col ever exists), and for every output channel an inner kernel sums the table
 * entries T[A[tap][p]][w[tap]] over the taps. The kernel is chosen at run time (cpuid): VBMI byte
 * permutes, AVX2 gathers or portable C; all give the same integers, and the integers become floats
 * in one place (axmul__conv_out), so every path is bit-identical. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "conv/conv_internal.h"
#include "conv/lut_kernels.h"
#include "internal.h"

/* ---------------------------------------------------------------- kernel selection */

typedef struct {
    const char *name;
    axmul__lut_kernel fn;
    axmul__lut_kernel_sorted sorted; /* NULL: the natural tap order only */
    int needs_planes;
} kernel_info;

static int cpu_has(const char *what)
{
#ifdef AXMUL__HAVE_X86_KERNELS
    __builtin_cpu_init();
    if (strcmp(what, "vbmi") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vbmi");
    if (strcmp(what, "avx2") == 0)
        return __builtin_cpu_supports("avx2");
#endif
    return strcmp(what, "portable") == 0;
}

static kernel_info kernel_by_name(const char *name)
{
#ifdef AXMUL__HAVE_X86_KERNELS
    if (strcmp(name, "vbmi") == 0)
        return (kernel_info){"vbmi", axmul__lut_kernel_vbmi, axmul__lut_kernel_vbmi_sorted, 1};
    if (strcmp(name, "avx2") == 0)
        return (kernel_info){"avx2", axmul__lut_kernel_avx2, NULL, 0};
#endif
    (void)name;
    return (kernel_info){"portable", axmul__lut_kernel_portable, NULL, 0};
}

/* Forced path (NULL: best available). Set by axmul_set_cpu_path or AXMUL_CPU_PATH; not meant
 * to be changed while convolutions run on other threads. */
static const char *forced_path;
static int env_read;

static const char *valid_name(const char *name)
{
    static const char *const names[] = {"portable", "avx2", "vbmi"};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0)
            return names[i];
    return NULL;
}

axmul_status axmul_set_cpu_path(const char *name)
{
    axmul_error_clear();
    env_read = 1; /* an explicit choice wins over the environment */
    if (!name || strcmp(name, "auto") == 0) {
        forced_path = NULL;
        return AXMUL_OK;
    }
    const char *v = valid_name(name);
    if (!v)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                           "unknown CPU path '%s' (expected auto, portable, avx2 or vbmi)", name);
    if (!cpu_has(v))
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "CPU path '%s' needs instructions this CPU (or build) does not have", v);
    forced_path = v;
    return AXMUL_OK;
}

static kernel_info select_kernel(void)
{
    if (!env_read) {
        env_read = 1;
        const char *e = getenv("AXMUL_CPU_PATH");
        if (e && *e && strcmp(e, "auto") != 0) {
            const char *v = valid_name(e);
            if (v && cpu_has(v))
                forced_path = v;
        }
    }
    if (forced_path)
        return kernel_by_name(forced_path);
    if (cpu_has("vbmi"))
        return kernel_by_name("vbmi");
    if (cpu_has("avx2"))
        return kernel_by_name("avx2");
    return kernel_by_name("portable");
}

const char *axmul_cpu_path(void)
{
    return select_kernel().name;
}

/* ---------------------------------------------------------------- portable kernel */

void axmul__lut_kernel_portable(const uint8_t *A, int ntaps, const uint8_t *wrow,
                                const axmul__lut *lut, uint32_t *acc)
{
    memset(acc, 0, sizeof(uint32_t) * AXMUL__CHUNK);
    for (int tap = 0; tap < ntaps; tap++) {
        const uint16_t *col = lut->tt + (size_t)wrow[tap] * 256;
        const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
        for (int q = 0; q < AXMUL__CHUNK; q++)
            acc[q] += col[row[q]];
    }
}

/* ---------------------------------------------------------------- quantization */

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

/* Bulk quantization with the fastest code this CPU runs; identical codes on every path. */
void axmul__quantize_bulk(const float *x, size_t n, const axmul_qparams *q, uint8_t *out)
{
    if (q->degenerate) {
        memset(out, 0, n);
        return;
    }
    float inv = 1.0f / q->scale;
#ifdef AXMUL__HAVE_X86_KERNELS
    static int avx512 = -1;
    if (avx512 < 0) {
        __builtin_cpu_init();
        avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    }
    if (avx512) {
        axmul__quantize_avx512(x, n, q->nudged_min, q->nudged_max, inv, q->is_signed, out);
        return;
    }
#endif
    axmul__quantize_portable(x, n, q->nudged_min, q->nudged_max, inv, q->is_signed, out);
}

void axmul__table_colmajor(const axmul_table *t, int is_signed, uint16_t *tt)
{
    const uint16_t *tv = axmul_table_data(t);
    const uint16_t flip = is_signed ? 0x8000 : 0;
    for (int b = 0; b < 256; b++)
        for (int a = 0; a < 256; a++)
            tt[b * 256 + a] = (uint16_t)(tv[a * 256 + b] ^ flip);
}

/* ---------------------------------------------------------------- driver */

typedef struct {
    const axmul__conv_setup *s;
    int pointwise;        /* 1x1 kernel, stride 1, no padding: output pixel = input pixel */
    const uint8_t *qx;    /* quantized input codes, NHWC (pointwise only) */
    const uint8_t *qp;    /* quantized input codes, planar: [n][c][h][w] (otherwise) */
    const uint8_t *wq;    /* [co][k] codes */
    const int32_t *order; /* [co][k] taps sorted by weight code, or order[o*k] = -1: natural */
    axmul__lut_kernel_sorted sorted;
    const int64_t *sum_qw;
    axmul__lut lut;
    axmul__lut_kernel kernel;
    float *y;
} job_t;

/* Fills A[tap][q] for pixels [p0, p0 + np) of group g. Pixels of one output row are consecutive,
 * so for stride 1 every (tap, channel) row is one memcpy from the planar input plus zero-point
 * padding at the borders. */
/* Pointwise layers (dense layers and 1x1 convolutions) are a plain GEMM: A is the transpose of
 * np consecutive NHWC pixels' channel bytes. */
static void gather_pointwise(const job_t *J, int g, int64_t p0, int np, uint8_t *A)
{
    const axmul__conv_plan *p = &J->s->p;
    const int cin = p->cin_g;
    const uint8_t *src = J->qx + (size_t)p0 * p->c + (size_t)g * cin;
    for (int q0 = 0; q0 < np; q0 += 16) {
        int q1 = q0 + 16 < np ? q0 + 16 : np;
        for (int ci = 0; ci < cin; ci++) {
            uint8_t *dst = A + (size_t)ci * AXMUL__CHUNK;
            for (int q = q0; q < q1; q++)
                dst[q] = src[(size_t)q * p->c + ci];
        }
    }
}

static void sum_activations(const axmul__conv_plan *p, int np, const uint8_t *A, int64_t *sqa);

static void gather(const job_t *J, int g, int64_t p0, int np, uint8_t *A, int64_t *sqa)
{
    const axmul__conv_plan *p = &J->s->p;
    const uint8_t zx = (uint8_t)p->zx;
    const int cin = p->cin_g;
    if (J->pointwise) {
        gather_pointwise(J, g, p0, np, A);
        if (!p->is_signed)
            sum_activations(p, np, A, sqa);
        return;
    }
    int ox = (int)(p0 % p->ow);
    int64_t r = p0 / p->ow;
    int oy = (int)(r % p->oh);
    int n = (int)(r / p->oh);
    for (int q = 0; q < np;) {
        int len = np - q < p->ow - ox ? np - q : p->ow - ox;
        for (int i = 0; i < p->kh; i++) {
            int iy = oy * p->sh - p->pad_top + i * p->dh;
            int in_rows = iy >= 0 && iy < p->h;
            for (int j = 0; j < p->kw; j++) {
                int ix0 = ox * p->sw - p->pad_left + j * p->dw;
                uint8_t *dst = A + (size_t)((i * p->kw + j) * cin) * AXMUL__CHUNK + q;
                const uint8_t *plane = J->qp + ((size_t)n * p->c + (size_t)g * cin) * p->h * p->w +
                                       (size_t)(in_rows ? iy : 0) * p->w;
                for (int ci = 0; ci < cin;
                     ci++, dst += AXMUL__CHUNK, plane += (size_t)p->h * p->w) {
                    if (!in_rows) {
                        memset(dst, zx, (size_t)len);
                    } else if (p->sw == 1) {
                        int lo = ix0 < 0 ? -ix0 : 0, hi = p->w - ix0;
                        lo = lo > len ? len : lo;
                        hi = hi > len ? len : (hi < lo ? lo : hi);
                        memset(dst, zx, (size_t)lo);
                        memcpy(dst + lo, plane + ix0 + lo, (size_t)(hi - lo));
                        memset(dst + hi, zx, (size_t)(len - hi));
                    } else {
                        for (int t = 0, ix = ix0; t < len; t++, ix += p->sw)
                            dst[t] = ix >= 0 && ix < p->w ? plane[ix] : zx;
                    }
                }
            }
        }
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
    if (!p->is_signed) /* symmetric quantization: no zero-point corrections need sum(qa) */
        sum_activations(p, np, A, sqa);
}

/* sum(qa) per pixel; 32-bit partial sums stay exact for 2^24 taps of 255. */
static void sum_activations(const axmul__conv_plan *p, int np, const uint8_t *A, int64_t *sqa)
{
    uint32_t part[AXMUL__CHUNK];
    for (int q = 0; q < np; q++)
        sqa[q] = 0;
    for (int t0 = 0; t0 < p->k; t0 += 1 << 24) {
        int t1 = p->k - t0 < (1 << 24) ? p->k : t0 + (1 << 24);
        memset(part, 0, sizeof part);
        for (int tap = t0; tap < t1; tap++) {
            const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
            for (int q = 0; q < AXMUL__CHUNK; q++)
                part[q] += row[q];
        }
        for (int q = 0; q < np; q++)
            sqa[q] += part[q];
    }
}

static void run_chunk(const job_t *J, int g, int oo0, int oo1, int64_t p0, int np, const uint8_t *A,
                      const int64_t *sqa, uint32_t *acc32, int64_t *acc64)
{
    const axmul__conv_plan *p = &J->s->p;
    const int64_t offset = p->is_signed ? 32768 : 0; /* signed entries are stored + 32768 */
    for (int oo = oo0; oo < oo1; oo++) {
        int o = g * p->cout_g + oo;
        const uint8_t *wrow = J->wq + (size_t)o * p->k;
        const int32_t *ord = J->order ? J->order + (size_t)o * p->k : NULL;
        if (ord && ord[0] < 0)
            ord = NULL;
        for (int q = 0; q < np; q++)
            acc64[q] = 0;
        for (int t0 = 0; t0 < p->k; t0 += AXMUL__TAP_BLOCK) {
            int nt = p->k - t0 < AXMUL__TAP_BLOCK ? p->k - t0 : AXMUL__TAP_BLOCK;
            if (ord)
                J->sorted(A, nt, ord + t0, wrow, &J->lut, acc32);
            else
                J->kernel(A + (size_t)t0 * AXMUL__CHUNK, nt, wrow + t0, &J->lut, acc32);
            for (int q = 0; q < np; q++)
                acc64[q] += (int64_t)acc32[q] - offset * nt;
        }
        float sc = J->s->oscale[o];
        float *yo = J->y + (size_t)p0 * p->co + o;
        if (p->is_signed) {
            for (int q = 0; q < np; q++)
                yo[(size_t)q * p->co] = axmul__conv_out(sc, acc64[q]);
        } else {
            int64_t zw = J->s->zw[o], zx = p->zx;
            int64_t corr = (int64_t)p->k * zx * zw - zx * J->sum_qw[o];
            for (int q = 0; q < np; q++)
                yo[(size_t)q * p->co] = axmul__conv_out(sc, acc64[q] - zw * sqa[q] + corr);
        }
    }
}

axmul_status axmul__conv_cpu(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                             const float *w, float *y, int threads, const char **path)
{
    const axmul__conv_plan *p = &s->p;
    kernel_info ki = select_kernel();
    size_t nx = (size_t)p->n * p->h * p->w * p->c;
    const int pointwise = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pad_top == 0 &&
                          p->pad_left == 0 && p->oh == p->h && p->ow == p->w;
    uint8_t *qx = malloc(nx ? nx : 1), *qp = pointwise ? NULL : malloc(nx ? nx : 1);
    uint8_t *wq = malloc((size_t)p->co * p->k);
    int64_t *sum_qw = malloc(sizeof(int64_t) * (size_t)p->co);
    /* +16 entries: the AVX2 gathers read 2 bytes past the entry they want */
    uint16_t *tt = malloc(sizeof(uint16_t) * (AXMUL_TABLE_ENTRIES + 16));
    uint8_t *planes = ki.needs_planes ? malloc(2 * AXMUL_TABLE_ENTRIES) : NULL;
    if (!qx || (!pointwise && !qp) || !wq || !sum_qw || !tt || (ki.needs_planes && !planes)) {
        free(qx);
        free(qp);
        free(wq);
        free(sum_qw);
        free(tt);
        free(planes);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory");
    }
    int nthreads = threads > 0 ? threads : 0;
#ifdef _OPENMP
    if (nthreads == 0)
        nthreads = omp_get_max_threads();
#endif
    const uint16_t *tv = axmul_table_data(t);
    const uint16_t flip = p->is_signed ? 0x8000 : 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int b = 0; b < 256; b++) {
        for (int a = 0; a < 256; a++)
            tt[b * 256 + a] = (uint16_t)(tv[a * 256 + b] ^ flip);
        if (planes)
            for (int a = 0; a < 256; a++) {
                planes[b * 512 + a] = (uint8_t)(tt[b * 256 + a] & 0xff);
                planes[b * 512 + 256 + a] = (uint8_t)(tt[b * 256 + a] >> 8);
            }
    }
    memset(tt + AXMUL_TABLE_ENTRIES, 0, 16 * sizeof(uint16_t));
    /* Quantize (NHWC), then, unless the layer is pointwise, transpose each image to planar
     * [c][h][w] so that the gather copies whole output-row runs. */
    const size_t hw = (size_t)p->h * p->w, block = 4096;
    const int64_t nblocks = (int64_t)((nx + block - 1) / block);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int64_t b = 0; b < nblocks; b++) {
        size_t i0 = (size_t)b * block, len = nx - i0 < block ? nx - i0 : block;
        axmul__quantize_bulk(x + i0, len, &s->xq, qx + i0);
    }
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int64_t img = 0; img < (pointwise ? 0 : (int64_t)p->n); img++) {
        const uint8_t *src = qx + (size_t)img * hw * p->c;
        uint8_t *dst = qp + (size_t)img * hw * p->c;
        for (size_t pix0 = 0; pix0 < hw; pix0 += 64)
            for (int ch = 0; ch < p->c; ch++) {
                size_t pend = pix0 + 64 < hw ? pix0 + 64 : hw;
                for (size_t pix = pix0; pix < pend; pix++)
                    dst[(size_t)ch * hw + pix] = src[pix * p->c + ch];
            }
    }
    axmul__conv_quantize_filter(s, w, wq, sum_qw, nthreads);
    /* Per output channel, the taps sorted by weight code (counting sort) when codes repeat
     * enough (trained weights cluster around the zero point) for shared column loads to pay
     * for the scattered row accesses; else the natural order (-1). */
    int32_t *order = ki.sorted ? malloc(sizeof(int32_t) * (size_t)p->co * p->k) : NULL;
    if (order) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
        for (int o = 0; o < p->co; o++) {
            const uint8_t *wr = wq + (size_t)o * p->k;
            int32_t *ord = order + (size_t)o * p->k;
            int32_t start[257] = {0};
            int distinct = 0;
            for (int tp = 0; tp < p->k; tp++)
                distinct += start[wr[tp] + 1]++ == 0;
            if ((int64_t)distinct * 4 > p->k) {
                ord[0] = -1;
                continue;
            }
            for (int c = 0; c < 256; c++)
                start[c + 1] += start[c];
            for (int tp = 0; tp < p->k; tp++)
                ord[start[wr[tp]]++] = tp;
        }
    }

    job_t J = {s, pointwise, qx, qp, wq, order, ki.sorted, sum_qw, {tt, planes}, ki.fn, y};
    int64_t npix = (int64_t)p->n * p->oh * p->ow;
    int64_t nchunks = (npix + AXMUL__CHUNK - 1) / AXMUL__CHUNK;
    /* With few chunks (batch 1) the threads would idle: split each chunk's output channels into
     * parts as well, at the price of gathering the chunk once per part. */
    int osplit = 1;
    while (nchunks * osplit < 8 * (int64_t)nthreads && osplit * 2 <= p->cout_g)
        osplit *= 2;
    int64_t ntasks = nchunks * osplit;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
    {
        /* A's dead columns (past the live pixels of the last chunk) must still be valid
         * table indices: calloc. */
        uint8_t *A = calloc((size_t)p->k, AXMUL__CHUNK);
        int64_t *sqa = malloc(sizeof(int64_t) * AXMUL__CHUNK);
        uint32_t *acc32 = malloc(sizeof(uint32_t) * AXMUL__CHUNK);
        int64_t *acc64 = malloc(sizeof(int64_t) * AXMUL__CHUNK);
        int ok = A && sqa && acc32 && acc64;
        if (!ok) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t task = 0; task < ntasks; task++) {
            if (!ok)
                continue;
            int64_t ch = task / osplit;
            int part = (int)(task % osplit);
            int oo0 = (int)((int64_t)p->cout_g * part / osplit);
            int oo1 = (int)((int64_t)p->cout_g * (part + 1) / osplit);
            int64_t p0 = ch * AXMUL__CHUNK;
            int np = (int)(npix - p0 < AXMUL__CHUNK ? npix - p0 : AXMUL__CHUNK);
            for (int g = 0; g < p->groups; g++) {
                gather(&J, g, p0, np, A, sqa);
                run_chunk(&J, g, oo0, oo1, p0, np, A, sqa, acc32, acc64);
            }
        }
        free(A);
        free(sqa);
        free(acc32);
        free(acc64);
    }
    free(qx);
    free(qp);
    free(wq);
    free(order);
    free(sum_qw);
    free(tt);
    free(planes);
    if (failed)
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory for per-thread buffers");
    if (path)
        *path = ki.name;
    return AXMUL_OK;
}
