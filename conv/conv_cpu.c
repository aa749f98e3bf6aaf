/* axmul: CPU convolution driver. Activations of a chunk of AXMUL__CHUNK output pixels are
 * gathered tap-major (A[tap][pixel]: an im2col, transposed and cut into chunks so that no
 * full-size im2col ever exists), and for every output channel an inner kernel sums the table
 * entries T[A[tap][p]][w[tap]] over the taps. The kernel is chosen at run time (cpuid, and a
 * timing between the last two): VBMI byte permutes, AVX-512BW word permutes, AVX2 gathers or
 * portable C; all give the same integers, and
 * the integers become floats in one place (axmul__conv_out), so every path is bit-identical. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    int needs_planes;
} kernel_info;

static int cpu_has(const char *what)
{
#ifdef AXMUL__HAVE_X86_KERNELS
    __builtin_cpu_init();
    if (strcmp(what, "vbmi") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vbmi");
    if (strcmp(what, "avx512bw") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (strcmp(what, "avx2") == 0)
        return __builtin_cpu_supports("avx2");
#endif
    return strcmp(what, "portable") == 0;
}

static kernel_info kernel_by_name(const char *name)
{
#ifdef AXMUL__HAVE_X86_KERNELS
    if (strcmp(name, "vbmi") == 0)
        return (kernel_info){"vbmi", axmul__lut_kernel_vbmi, 1};
    if (strcmp(name, "avx512bw") == 0)
        return (kernel_info){"avx512bw", axmul__lut_kernel_avx512bw, 0};
    if (strcmp(name, "avx2") == 0)
        return (kernel_info){"avx2", axmul__lut_kernel_avx2, 0};
#endif
    (void)name;
    return (kernel_info){"portable", axmul__lut_kernel_portable, 0};
}

/* Forced path (NULL: best available). Set by axmul_set_cpu_path or AXMUL_CPU_PATH; not meant
 * to be changed while convolutions run on other threads. An AXMUL_CPU_PATH that names no usable
 * path is kept as an error (env_status, env_value) that every CPU convolution reports: ignoring
 * it would let a mistyped value benchmark another path than the one the user asked for. */
static const char *forced_path;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static axmul_status env_status = AXMUL_OK;
static char env_value[48];

static const char *valid_name(const char *name)
{
    static const char *const names[] = {"portable", "avx2", "avx512bw", "vbmi"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return names[i];
    return NULL;
}

static void read_env(void)
{
    const char *e = getenv("AXMUL_CPU_PATH");
    if (!e || !*e || strcmp(e, "auto") == 0)
        return;
    const char *v = valid_name(e);
    if (v && cpu_has(v)) {
        forced_path = v;
        return;
    }
    env_status = v ? AXMUL_ERR_UNSUPPORTED : AXMUL_ERR_INVALID_ARGUMENT;
    /* printable and bounded: the value is echoed in error messages */
    size_t i = 0;
    for (; e[i] && i + 4 < sizeof env_value; i++)
        env_value[i] = e[i] >= 0x20 && e[i] < 0x7f ? e[i] : '?';
    if (e[i]) {
        memcpy(env_value + i, "...", 3);
        i += 3;
    }
    env_value[i] = 0;
}

axmul_status axmul_set_cpu_path(const char *name)
{
    axmul_error_clear();
    pthread_once(&env_once, read_env); /* so that the environment cannot override this later */
    if (!name || strcmp(name, "auto") == 0) {
        forced_path = NULL;
        env_status = AXMUL_OK;
        return AXMUL_OK;
    }
    const char *v = valid_name(name);
    if (!v)
        return axmul__fail(
            AXMUL_ERR_INVALID_ARGUMENT,
            "unknown CPU path '%s' (expected auto, portable, avx2, avx512bw or vbmi)", name);
    if (!cpu_has(v))
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "CPU path '%s' needs instructions this CPU (or build) does not have", v);
    forced_path = v;
    env_status = AXMUL_OK;
    return AXMUL_OK;
}

/* Without AVX-512 the choice is between AVX2 gathers and the portable loop, and which is faster
 * depends on the microarchitecture rather than on the instruction set: gathers are slow on AMD
 * Zen (on this project's Zen 5: 1.7-1.9 against 2.8 GMAC/s per core, doc/performance.md) and on
 * Intel CPUs with the Gather Data Sampling ("Downfall") microcode mitigation, fast on others. So
 * the first selection times both kernels on one synthetic chunk (about 0.2 ms, best of 7
 * interleaved runs) and keeps the faster; both give the same integers. */
static pthread_once_t calib_once = PTHREAD_ONCE_INIT;
static const char *calibrated = "portable";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void calibrate(void)
{
#ifdef AXMUL__HAVE_X86_KERNELS
    enum { TAPS = 64 };
    if (!cpu_has("avx2"))
        return;
    /* + 32 entries after the last column: the AVX2 kernel's 32-bit gathers read one past */
    uint16_t *tt = calloc(AXMUL_TABLE_ENTRIES + 32, sizeof *tt);
    uint8_t *A = malloc((size_t)TAPS * AXMUL__CHUNK);
    uint32_t *acc = malloc(AXMUL__CHUNK * sizeof *acc);
    if (!tt || !A || !acc)
        goto out;
    uint8_t wrow[TAPS];
    uint32_t r = 0x9e3779b9u; /* scattered codes, as real activations and weights are */
    for (size_t i = 0; i < (size_t)TAPS * AXMUL__CHUNK; i++) {
        r = r * 1664525u + 1013904223u;
        A[i] = (uint8_t)(r >> 24);
    }
    for (int i = 0; i < TAPS; i++) {
        r = r * 1664525u + 1013904223u;
        wrow[i] = (uint8_t)(r >> 24);
    }
    const axmul__lut lut = {tt, NULL};
    const axmul__lut_kernel fn[2] = {axmul__lut_kernel_avx2, axmul__lut_kernel_portable};
    double best[2] = {1e30, 1e30};
    for (int run = 0; run < 7; run++)
        for (int k = 0; k < 2; k++) {
            const double t0 = now_s();
            fn[k](A, TAPS, wrow, &lut, AXMUL__CHUNK, acc);
            const double t = now_s() - t0;
            best[k] = t < best[k] ? t : best[k];
        }
    calibrated = best[0] < best[1] ? "avx2" : "portable";
out:
    free(tt);
    free(A);
    free(acc);
#endif
}

const char *axmul__cpu_calibrated(void)
{
    pthread_once(&calib_once, calibrate);
    return calibrated;
}

static axmul_status select_kernel(kernel_info *ki)
{
    pthread_once(&env_once, read_env);
    if (env_status == AXMUL_ERR_INVALID_ARGUMENT)
        return axmul__fail(env_status,
                           "AXMUL_CPU_PATH=%s: unknown CPU path (expected auto, portable, avx2, "
                           "avx512bw or vbmi)",
                           env_value);
    if (env_status != AXMUL_OK)
        return axmul__fail(
            env_status, "AXMUL_CPU_PATH=%s: needs instructions this CPU (or build) does not have",
            env_value);
    if (forced_path)
        *ki = kernel_by_name(forced_path);
    else if (cpu_has("vbmi"))
        *ki = kernel_by_name("vbmi");
    else if (cpu_has("avx512bw"))
        *ki = kernel_by_name("avx512bw");
    else
        *ki = kernel_by_name(axmul__cpu_calibrated());
    return AXMUL_OK;
}

axmul_status axmul_cpu_path(const char **name)
{
    axmul_error_clear();
    kernel_info ki;
    axmul_status s = select_kernel(&ki);
    *name = s == AXMUL_OK ? ki.name : NULL;
    return s;
}

/* ---------------------------------------------------------------- portable kernel */

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
    if (cpu_has("avx512bw")) { /* cpuid bits cached by the compiler's runtime: cheap, race-free */
        axmul__quantize_avx512(x, n, q->nudged_min, q->nudged_max, inv, q->is_signed, out);
        return;
    }
#endif
    axmul__quantize_portable(x, n, q->nudged_min, q->nudged_max, inv, q->is_signed, out);
}

void axmul__quantize_threads(const float *x, size_t n, const axmul_qparams *q, uint8_t *out,
                             int nthreads)
{
    const size_t block = 4096; /* 16 KiB of floats: a thread's share stays in L1 */
    const int64_t nblocks = (int64_t)((n + block - 1) / block);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads > 0 ? nthreads : omp_get_max_threads())              \
    schedule(static) if (nblocks > 16)
#endif
    for (int64_t b = 0; b < nblocks; b++) {
        size_t i0 = (size_t)b * block, len = n - i0 < block ? n - i0 : block;
        axmul__quantize_bulk(x + i0, len, q, out + i0);
    }
    (void)nthreads;
}

static void table_colmajor(const axmul_table *t, int is_signed, uint16_t *tt)
{
    const uint16_t *tv = axmul_table_data(t);
    const uint16_t flip = is_signed ? 0x8000 : 0;
    for (int b = 0; b < 256; b++)
        for (int a = 0; a < 256; a++)
            tt[b * 256 + a] = (uint16_t)(tv[a * 256 + b] ^ flip);
}

/* ---------------------------------------------------------------- prepared tables */

/* Rearranging a table for the kernels (column-major entries and byte planes) costs as much as a
 * small convolution and touches 256 KiB of fresh memory; networks and sweeps run the engine many
 * times with one table. So the last few prepared tables are kept, recognised by their contents:
 * a table's entries may change between calls (axmul_table_data_mut), so its address is no key. */
#define PREP_SLOTS 4

typedef struct {
    _Alignas(64) uint8_t planes[2 * AXMUL_TABLE_ENTRIES]; /* 64-byte aligned column loads */
    uint16_t tt[AXMUL_TABLE_ENTRIES + 32]; /* +32: the AVX2 gathers read past the last entry */
    uint16_t key[AXMUL_TABLE_ENTRIES];     /* the entries as given */
    int is_signed;
    int refs; /* holders, the cache counting as one */
} prepared;

static pthread_mutex_t prep_lock = PTHREAD_MUTEX_INITIALIZER;
static prepared *prep_cache[PREP_SLOTS]; /* most recently used first */
static int prep_count;

static void prep_release_locked(prepared *e)
{
    if (--e->refs == 0)
        free(e);
}

static void prep_release(prepared *e)
{
    pthread_mutex_lock(&prep_lock);
    prep_release_locked(e);
    pthread_mutex_unlock(&prep_lock);
}

/* Frees the cache at exit so that leak checkers see a clean heap. */
__attribute__((destructor)) static void prep_cleanup(void)
{
    pthread_mutex_lock(&prep_lock);
    for (int i = 0; i < prep_count; i++)
        prep_release_locked(prep_cache[i]);
    prep_count = 0;
    pthread_mutex_unlock(&prep_lock);
}

/* A process that forks while another thread holds the lock would leave its child with a lock
 * that nobody releases: take it around fork() (the benchmark forks a worker per shape, and
 * callers such as Python multiprocessing fork too). */
static void prep_fork_prepare(void)
{
    pthread_mutex_lock(&prep_lock);
}

static void prep_fork_after(void)
{
    pthread_mutex_unlock(&prep_lock);
}

static pthread_once_t prep_once = PTHREAD_ONCE_INIT;

static void prep_register_fork(void)
{
    pthread_atfork(prep_fork_prepare, prep_fork_after, prep_fork_after);
}

/* The prepared form of t, held until prep_release; NULL when out of memory. */
static prepared *prep_acquire(const axmul_table *t, int is_signed, int nthreads)
{
    const uint16_t *tv = axmul_table_data(t);
    pthread_once(&prep_once, prep_register_fork);
    pthread_mutex_lock(&prep_lock);
    for (int i = 0; i < prep_count; i++) {
        prepared *e = prep_cache[i];
        if (e->is_signed == is_signed && memcmp(e->key, tv, sizeof e->key) == 0) {
            e->refs++;
            memmove(prep_cache + 1, prep_cache, sizeof *prep_cache * (size_t)i);
            prep_cache[0] = e;
            pthread_mutex_unlock(&prep_lock);
            return e;
        }
    }
    pthread_mutex_unlock(&prep_lock);

    prepared *e = aligned_alloc(64, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->key, tv, sizeof e->key);
    e->is_signed = is_signed;
    e->refs = 2; /* the caller and the cache */
    table_colmajor(t, is_signed, e->tt);
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int b = 0; b < 256; b++)
        for (int a = 0; a < 256; a++) {
            e->planes[b * 512 + a] = (uint8_t)(e->tt[b * 256 + a] & 0xff);
            e->planes[b * 512 + 256 + a] = (uint8_t)(e->tt[b * 256 + a] >> 8);
        }
    memset(e->tt + AXMUL_TABLE_ENTRIES, 0, 32 * sizeof(uint16_t));

    pthread_mutex_lock(&prep_lock);
    if (prep_count == PREP_SLOTS)
        prep_release_locked(prep_cache[--prep_count]);
    memmove(prep_cache + 1, prep_cache, sizeof *prep_cache * (size_t)prep_count);
    prep_cache[0] = e;
    prep_count++;
    pthread_mutex_unlock(&prep_lock);
    return e;
}

const uint16_t *axmul__prepared_colmajor(const axmul_table *t, int is_signed, void **hold)
{
    prepared *e = prep_acquire(t, is_signed, 1);
    *hold = e;
    return e ? e->tt : NULL;
}

void axmul__prepared_release(void *hold)
{
    if (hold)
        prep_release(hold);
}

/* ---------------------------------------------------------------- driver */

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
} job_t;

/* Pointwise layers (dense layers and 1x1 convolutions) are a plain GEMM: the input is
 * channel-major over all pixels, so each row of A is one copy. */
static void gather_pointwise(const job_t *J, int g, int64_t p0, int np, uint8_t *A)
{
    const axmul__conv_plan *p = &J->s->p;
    const size_t npix = (size_t)p->n * p->h * p->w;
    const uint8_t *src = J->qp + (size_t)g * p->cin_g * npix + (size_t)p0;
    for (int ci = 0; ci < p->cin_g; ci++, src += npix)
        memcpy(A + (size_t)ci * AXMUL__CHUNK, src, (size_t)np);
}

static void sum_activations(const axmul__conv_plan *p, int np, const uint8_t *A, int64_t *sqa);

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

/* Fills A[tap][q] for pixels [p0, p0 + np) of group g. Pixels of one output row are consecutive,
 * so for stride 1 every (tap, channel) row is one copy from the planar input plus zero-point
 * padding at the borders. */
static void gather(const job_t *J, int g, int64_t p0, int np, uint8_t *A, int64_t *sqa)
{
    const axmul__conv_plan *p = &J->s->p;
    const uint8_t zx = (uint8_t)p->zx;
    const int cin = p->cin_g;
    if (J->pointwise) {
        gather_pointwise(J, g, p0, np, A);
    } else {
        pixel_run runs[AXMUL__CHUNK];
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
                for (int ci = 0; ci < cin; ci++, dst += AXMUL__CHUNK) {
                    const size_t plane = ((size_t)g * cin + ci) * p->h;
                    for (int k = 0; k < nruns; k++) {
                        const pixel_run *u = &runs[k];
                        uint8_t *d = dst + u->q;
                        const int iy = u->oy * p->sh - p->pad_top + i * p->dh;
                        if (iy < 0 || iy >= p->h) {
                            memset(d, zx, (size_t)u->len);
                            continue;
                        }
                        const uint8_t *row =
                            J->qp + ((size_t)u->n * p->c * p->h + plane + (size_t)iy) * p->w;
                        const int ix0 = u->ox * p->sw - p->pad_left + j * p->dw;
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
    if (np < AXMUL__CHUNK)
        for (int tap = 0; tap < p->k; tap++)
            memset(A + (size_t)tap * AXMUL__CHUNK + np, 0, (size_t)(AXMUL__CHUNK - np));
    if (!p->is_signed) /* symmetric quantization: no zero-point corrections need sum(qa) */
        sum_activations(p, np, A, sqa);
}

/* sum(qa) per pixel. 16-bit partial sums over blocks of 256 taps (at most 65,280) vectorize
 * to one widening add per 32 pixels; the 64-bit totals never overflow. */
static void sum_activations(const axmul__conv_plan *p, int np, const uint8_t *A, int64_t *sqa)
{
    /* Whole rows (the bytes past np are defined, see gather) so that every loop has a constant
     * trip count and vectorizes, the widening into sqa included: for grouped and depthwise layers
     * (9-36 taps) that widening was a fifth of the gather. */
    (void)np;
    uint16_t part[AXMUL__CHUNK];
    for (int t0 = 0; t0 < p->k; t0 += 256) {
        int t1 = p->k - t0 < 256 ? p->k : t0 + 256;
        const uint8_t *row = A + (size_t)t0 * AXMUL__CHUNK;
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int q = 0; q < AXMUL__CHUNK; q++)
            part[q] = row[q];
        for (int tap = t0 + 1; tap < t1; tap++) {
            row = A + (size_t)tap * AXMUL__CHUNK;
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < AXMUL__CHUNK; q++)
                part[q] = (uint16_t)(part[q] + row[q]);
        }
        if (t0 == 0) {
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < AXMUL__CHUNK; q++)
                sqa[q] = part[q];
        } else {
#ifdef _OPENMP
#pragma omp simd
#endif
            for (int q = 0; q < AXMUL__CHUNK; q++)
                sqa[q] += part[q];
        }
    }
}

static void run_chunk(const job_t *J, int g, int oo0, int oo1, int64_t p0, int np, const uint8_t *A,
                      const int64_t *sqa, uint32_t *acc32, int64_t *acc64)
{
    const axmul__conv_plan *p = &J->s->p;
    const size_t co = (size_t)p->co;
    for (int oo = oo0; oo < oo1; oo++) {
        const int o = g * p->cout_g + oo;
        const float sc = J->s->oscale[o];
        float *yo = J->y + (size_t)p0 * co + o;
        if (sc == 0.0f) { /* axmul__conv_out is 0 whatever the sum */
            for (int q = 0; q < np; q++)
                yo[(size_t)q * co] = 0.0f;
            continue;
        }
        const uint8_t *wrow = J->wq + (size_t)o * p->k;
        /* The constant part of the sum: signed entries are stored + 32768 (one per tap);
         * unsigned layers have their zero-point corrections. */
        const int64_t zx = p->zx, zw = p->is_signed ? 0 : J->s->zw[o];
        const int64_t base =
            p->is_signed ? -32768 * (int64_t)p->k : (int64_t)p->k * zx * zw - zx * J->sum_qw[o];
        const uint32_t *acc = acc32;
        if (p->k > AXMUL__TAP_BLOCK) { /* several blocks: 64-bit totals */
            for (int q = 0; q < np; q++)
                acc64[q] = 0;
        }
        for (int t0 = 0; t0 < p->k; t0 += AXMUL__TAP_BLOCK) {
            int nt = p->k - t0 < AXMUL__TAP_BLOCK ? p->k - t0 : AXMUL__TAP_BLOCK;
            J->kernel(A + (size_t)t0 * AXMUL__CHUNK, nt, wrow + t0, &J->lut, np, acc32);
            if (p->k > AXMUL__TAP_BLOCK)
                for (int q = 0; q < np; q++)
                    acc64[q] += acc32[q];
        }
        /* sc * (float)sum is axmul__conv_out for sc != 0, written out so that the loops have no
         * branch */
        if (p->k > AXMUL__TAP_BLOCK) {
            for (int q = 0; q < np; q++)
                yo[(size_t)q * co] =
                    sc * (float)(acc64[q] + base - (p->is_signed ? 0 : zw * sqa[q]));
        } else if (p->is_signed) { /* no sum(qa): the symmetric scheme has no zero points */
            for (int q = 0; q < np; q++)
                yo[(size_t)q * co] = sc * (float)((int64_t)acc[q] + base);
        } else {
            for (int q = 0; q < np; q++)
                yo[(size_t)q * co] = sc * (float)((int64_t)acc[q] + base - zw * sqa[q]);
        }
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

axmul_status axmul__conv_cpu(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                             const float *w, float *y, int threads, const char **path,
                             size_t *work_bytes)
{
    const axmul__conv_plan *p = &s->p;
    kernel_info ki;
    const axmul_status sel = select_kernel(&ki);
    if (sel != AXMUL_OK)
        return sel;
    size_t nx = (size_t)p->n * p->h * p->w * p->c;
    const int pointwise = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pad_top == 0 &&
                          p->pad_left == 0 && p->oh == p->h && p->ow == p->w;
    int nthreads = threads > 0 ? threads : 1;
#ifdef _OPENMP
    if (threads <= 0)
        nthreads = omp_get_max_threads();
#endif
    const size_t co = (size_t)p->co, k = (size_t)p->k;
    layout l = {0, 0};
    const size_t o_qx = piece(&l, nx, 1), o_qp = piece(&l, nx + AXMUL__SLACK, 1);
    const size_t o_wq = piece(&l, co * k, 1), o_sum = piece(&l, co, sizeof(int64_t));
    /* per thread: A[k][AXMUL__CHUNK], sum(qa), 32- and 64-bit accumulators */
    layout lt = {0, 0};
    const size_t o_a = piece(&lt, k * AXMUL__CHUNK + AXMUL__SLACK, 1),
                 o_sqa = piece(&lt, AXMUL__CHUNK, 8);
    const size_t o_acc32 = piece(&lt, AXMUL__CHUNK, 4), o_acc64 = piece(&lt, AXMUL__CHUNK, 8);
    const size_t o_threads = piece(&l, (size_t)nthreads, lt.used);
    if (l.overflow || lt.overflow)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "conv: working memory size overflows");
    *work_bytes = l.used;
    uint8_t *ws = aligned_alloc(64, l.used);
    prepared *tab = ws ? prep_acquire(t, p->is_signed, nthreads) : NULL;
    if (!tab) {
        free(ws);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory (%zu bytes of working memory)",
                           l.used);
    }
    uint8_t *qx = ws + o_qx, *qp = ws + o_qp, *wq = ws + o_wq;
    int64_t *sum_qw = (int64_t *)(void *)(ws + o_sum);

    /* Quantize (NHWC), then transpose to planar: each image to [c][h][w], so that the gather
     * copies whole output-row runs, or for pointwise layers the whole batch to [c][n*h*w]. */
    axmul__quantize_threads(x, nx, &s->xq, qx, nthreads);
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

    job_t J = {s, pointwise, qp, wq, sum_qw, {tab->tt, tab->planes}, ki.fn, y};
    int64_t npix = (int64_t)p->n * p->oh * p->ow;
    int64_t nchunks = (npix + AXMUL__CHUNK - 1) / AXMUL__CHUNK;
    /* With fewer than two chunks per thread (dense layers, tiny batches) threads would idle: split
     * each chunk's output channels into parts as well, at the price of gathering the chunk once
     * per part; parts keep at least 8 channels so that the gather stays small next to the
     * lookups. Two or more chunks per thread balance well enough under dynamic scheduling (the
     * last chunk is often partial and cheap), and a duplicated gather costs more than that. */
    int osplit = 1;
    while (nthreads > 1 && nchunks * osplit < 2 * (int64_t)nthreads && osplit * 16 <= p->cout_g)
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
        int64_t *sqa = (int64_t *)(void *)(mine + o_sqa);
        uint32_t *acc32 = (uint32_t *)(void *)(mine + o_acc32);
        int64_t *acc64 = (int64_t *)(void *)(mine + o_acc64);
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
            int64_t p0 = ch * AXMUL__CHUNK;
            int np = (int)(npix - p0 < AXMUL__CHUNK ? npix - p0 : AXMUL__CHUNK);
            for (int g = 0; g < p->groups; g++) {
                gather(&J, g, p0, np, A, sqa);
                run_chunk(&J, g, oo0, oo1, p0, np, A, sqa, acc32, acc64);
            }
        }
    }
    prep_release(tab);
    free(ws);
    if (path)
        *path = ki.name;
    return AXMUL_OK;
}
