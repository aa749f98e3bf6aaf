/* axconv-test bench: speed of the LUT convolution engine on standard shapes, next to the exact
 * float convolution of the same shape (axmul_conv2d_float) in the same program, with a
 * bit-exactness check against the reference kernel and the engine's memory use.
 *
 * Every shape runs in its own child process, so that its peak memory (wait4's ru_maxrss) belongs
 * to it alone and no thread pool outlives a fork. CUDA does not survive a fork either: the parent
 * never initialises it (even the availability probe runs in a child).
 *
 * With the CUDA backend the table also gives the time in the LUT kernels alone and the exact fp32
 * convolution of cuDNN (data on the device, fastest algorithm, no TF32) when built with it. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "axmul.h"
#include "conv/bench.h"
#include "lib/core/rng.h"
#include "lib/tool/tool.h"

typedef struct {
    const char *name;
    int dense;
    int n, h, w, c, kh, kw, co, groups, stride;
    axmul_padding pad;
    const axmul_conv_desc *geo; /* a layer given on the command line: its whole geometry */
} shape_t;

/* The shapes of the issue: ResNet-like 3x3 and 1x1 layers, a MobileNet depthwise layer, the
 * LeNet-5 dense and conv layers. */
static const shape_t full_shapes[] = {
    {"conv3x3 56x56x64->64 b1", 0, 1, 56, 56, 64, 3, 3, 64, 1, 1, AXMUL_PADDING_SAME, NULL},
    {"conv3x3 56x56x64->64 b8", 0, 8, 56, 56, 64, 3, 3, 64, 1, 1, AXMUL_PADDING_SAME, NULL},
    {"conv1x1 28x28x256->128 b8", 0, 8, 28, 28, 256, 1, 1, 128, 1, 1, AXMUL_PADDING_SAME, NULL},
    {"depthwise3x3 112x112x32 b1", 0, 1, 112, 112, 32, 3, 3, 32, 32, 1, AXMUL_PADDING_SAME, NULL},
    {"dense 1936->120 b256", 1, 256, 1, 1, 1936, 1, 1, 120, 1, 1, AXMUL_PADDING_VALID, NULL},
    {"lenet conv1 28x28x1->6 b256", 0, 256, 28, 28, 1, 3, 3, 6, 1, 1, AXMUL_PADDING_VALID, NULL},
    {"lenet conv2 13x13x6->16 b256", 0, 256, 13, 13, 6, 3, 3, 16, 1, 1, AXMUL_PADDING_VALID, NULL},
};

/* The CUDA backend's target shape (issue: >= 2 T LUT-MAC/s on an H100), then the others. */
static const shape_t cuda_first_shape = {
    "conv3x3 56x56x64->64 b32", 0, 32, 56, 56, 64, 3, 3, 64, 1, 1, AXMUL_PADDING_SAME, NULL};

/* Small versions for the test suite (same code paths, seconds instead of minutes). */
static const shape_t quick_shapes[] = {
    {"conv3x3 14x14x16->16 b2", 0, 2, 14, 14, 16, 3, 3, 16, 1, 1, AXMUL_PADDING_SAME, NULL},
    {"depthwise3x3 20x20x8 b1", 0, 1, 20, 20, 8, 3, 3, 8, 8, 1, AXMUL_PADDING_SAME, NULL},
    {"dense 100->10 b16", 1, 16, 1, 1, 100, 1, 1, 10, 1, 1, AXMUL_PADDING_VALID, NULL},
};

typedef struct {
    double seconds, gmacs, float_seconds, float_gmacs, ratio;
    double kernel_seconds; /* CUDA: median time in the LUT kernels */
    double cudnn_seconds;  /* CUDA: median exact cuDNN time, 0 when unavailable */
    double cudnn_rel_err;  /* its largest difference from the CPU float result, relative */
    char cudnn_note[160];  /* why there is no cuDNN figure */
    double macs;
    long peak_rss_kb, base_rss_kb;
    double bound_mb;
    int ref_ok;
    char path[16];
    char error[200];
} result_t;

static result_t *mmap_result(void)
{
    void *p =
        mmap(NULL, sizeof(result_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap_result(result_t *r)
{
    munmap(r, sizeof *r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long current_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void run_shape(const shape_t *sh, const axmul_table *t, axmul_backend backend, int threads,
                      int repeat, double warm_s, result_t *r)
{
    axmul_conv_desc d;
    axmul_conv_desc_init(&d);
    if (sh->geo) {
        d = *sh->geo;
    } else {
        d.n = sh->n;
        d.h = sh->h;
        d.w = sh->w;
        d.c = sh->c;
        d.kh = sh->kh;
        d.kw = sh->kw;
        d.co = sh->co;
        d.groups = sh->groups;
        d.stride_h = d.stride_w = sh->stride;
        d.padding = sh->pad;
    }
    d.threads = threads;
    d.backend = backend;
    int oh, ow;
    if (axmul_conv_output_shape(&d, &oh, &ow) != AXMUL_OK) {
        snprintf(r->error, sizeof r->error, "%s", axmul_error_detail());
        return;
    }
    size_t nx = (size_t)d.n * d.h * d.w * d.c, nw = (size_t)d.kh * d.kw * (d.c / d.groups) * d.co;
    size_t ny = (size_t)d.n * oh * ow * d.co, per_img = (size_t)oh * ow * d.co;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *y = malloc(ny * sizeof *y);
    float *yr = malloc(per_img * sizeof *yr);
    if (!x || !w || !y || !yr) {
        snprintf(r->error, sizeof r->error, "out of memory");
        return;
    }
    uint64_t s = 42;
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)((double)(axmul__splitmix64(&s) >> 11) * 0x1p-53); /* post-ReLU-like [0, 1) */
    for (size_t i = 0; i < nw; i++)
        w[i] = (float)((double)(axmul__splitmix64(&s) >> 11) * 0x1p-52 - 1.0);
    /* Explicit (calibrated) ranges, so that the one-image reference check quantizes alike. */
    d.input_range_set = d.filter_range_set = 1;
    axmul_range_of(x, nx, "input", &d.input_range);
    axmul_range_of(w, nw, "filter", &d.filter_range);

    long base = current_rss_kb();
    double *ts = malloc(sizeof(double) * (size_t)repeat),
           *tf = malloc(sizeof(double) * (size_t)repeat),
           *tk = malloc(sizeof(double) * (size_t)repeat);
    axmul_conv_info info;
    /* Warm-up for warm_s seconds: besides caches and the prepared table, a BLAS library with its
     * own thread pool (OpenBLAS) keeps a spinning thread per core for about 0.1 s after it
     * starts, which would steal a core from the first timings. */
    double w0 = axmul__tool_now();
    do {
        if (axmul_conv2d(&d, t, x, w, y, &info) != AXMUL_OK) {
            snprintf(r->error, sizeof r->error, "%s", axmul_error_detail());
            return;
        }
    } while (axmul__tool_now() - w0 < warm_s);
    for (int i = 0; i < repeat; i++) {
        double t0 = axmul__tool_now();
        axmul_conv2d(&d, t, x, w, y, &info);
        ts[i] = axmul__tool_now() - t0;
        tk[i] = info.device_seconds;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss_kb = ru.ru_maxrss;
    r->base_rss_kb = base;
    snprintf(r->path, sizeof r->path, "%s", info.path);
    r->macs = (double)info.macs;

    /* bit-exactness on a subset: the first image through the reference kernel */
    axmul_conv_desc d1 = d;
    d1.n = 1;
    r->ref_ok = axmul_conv2d_ref(&d1, t, x, w, yr, NULL) == AXMUL_OK &&
                memcmp(yr, y, per_img * sizeof *yr) == 0;

#ifdef _OPENMP
    if (threads > 0)
        omp_set_num_threads(threads);
#endif
#ifdef HAVE_OPENBLAS
    if (threads > 0)
        openblas_set_num_threads(threads);
#endif
    /* the exact float baseline: axmul_conv2d_float (im2col + SGEMM, tested against a direct
     * loop in tests/check_conv.c) */
    w0 = axmul__tool_now();
    do
        if (axmul_conv2d_float(&d, x, w, y) != AXMUL_OK) {
            snprintf(r->error, sizeof r->error, "%s", axmul_error_detail());
            return;
        }
    while (axmul__tool_now() - w0 < warm_s);
    for (int i = 0; i < repeat; i++) {
        double t0 = axmul__tool_now();
        axmul_conv2d_float(&d, x, w, y);
        tf[i] = axmul__tool_now() - t0;
    }
    qsort(ts, (size_t)repeat, sizeof *ts, cmp_double);
    qsort(tf, (size_t)repeat, sizeof *tf, cmp_double);
    qsort(tk, (size_t)repeat, sizeof *tk, cmp_double);
    r->kernel_seconds = tk[repeat / 2];
    if (backend == AXMUL_BACKEND_CUDA) {
        /* y holds the CPU float result now: the yardstick for the cuDNN output */
        float *yc = malloc(ny * sizeof *yc);
        double sec = 0.0;
        if (!yc)
            snprintf(r->cudnn_note, sizeof r->cudnn_note, "out of memory");
        else if (axmul__cudnn_conv_seconds(&d, oh, ow, x, w, yc, repeat, &sec, r->cudnn_note,
                                           sizeof r->cudnn_note) == 0) {
            double mx = 0.0, md = 0.0;
            for (size_t i = 0; i < ny; i++) {
                mx = fmax(mx, fabs(y[i]));
                md = fmax(md, fabs((double)yc[i] - y[i]));
            }
            r->cudnn_rel_err = mx > 0 ? md / mx : md;
            r->cudnn_seconds = sec;
        }
        free(yc);
    }
    r->seconds = ts[repeat / 2];
    r->float_seconds = tf[repeat / 2];
    r->gmacs = r->macs / r->seconds / 1e9;
    r->float_gmacs = r->macs / r->float_seconds / 1e9;
    r->ratio = r->seconds / r->float_seconds;
    /* The engine's own memory beyond the caller's tensors (doc/performance.md): the call's
     * workspace as the library reports it, plus one prepared table (384 KiB) in its cache. */
    r->bound_mb = ((double)info.work_bytes + 3 * 131072.0) / 1048576.0;
    free(x);
    free(w);
    free(y);
    free(yr);
    free(ts);
    free(tf);
    free(tk);
}

int axmul__bench_cuda_usable(char *why, size_t why_len)
{
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return 0;
    }
    if (pid == 0) {
        close(fd[0]);
        int ok = axmul_cuda_available() == AXMUL_OK;
        if (!ok) {
            const char *m = axmul_error_detail();
            ssize_t wr = write(fd[1], m, strlen(m));
            (void)wr;
        }
        _exit(ok ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < why_len && (k = read(fd[0], why + got, why_len - 1 - got)) != 0) {
        if (k < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)k;
    }
    why[got] = 0;
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (!why[0])
        snprintf(why, why_len, "the CUDA probe process died (status %d)", status);
    return 0;
}

/* A name for a layer given on the command line, in the style of the standard shapes. */
static void layer_name(const axmul_conv_desc *d, char *buf, size_t len)
{
    size_t k = 0;
#define AXMUL__ADD(...)                                                                            \
    do {                                                                                           \
        int w_ = snprintf(buf + k, len - k, __VA_ARGS__);                                          \
        k += w_ > 0 && (size_t)w_ < len - k ? (size_t)w_ : 0;                                      \
    } while (0)
    AXMUL__ADD("%s%dx%d %dx%dx%d->%d b%d",
               d->groups == d->c && d->co == d->c && d->c > 1 ? "depthwise" : "conv", d->kh, d->kw,
               d->h, d->w, d->c, d->co, d->n);
    if (d->groups > 1 && !(d->groups == d->c && d->co == d->c))
        AXMUL__ADD(" g%d", d->groups);
    if (d->stride_h != 1 || d->stride_w != 1)
        AXMUL__ADD(d->stride_h == d->stride_w ? " s%d" : " s%d,%d", d->stride_h, d->stride_w);
    if (d->dilation_h != 1 || d->dilation_w != 1)
        AXMUL__ADD(d->dilation_h == d->dilation_w ? " d%d" : " d%d,%d", d->dilation_h,
                   d->dilation_w);
    if (d->padding == AXMUL_PADDING_VALID)
        AXMUL__ADD(" valid");
    else if (d->padding == AXMUL_PADDING_EXPLICIT)
        AXMUL__ADD(" pad %d,%d,%d,%d", d->pad_top, d->pad_bottom, d->pad_left, d->pad_right);
#undef AXMUL__ADD
}

int axmul__bench(const axmul_table *t, axmul_backend backend, int threads, int repeat, int quick,
                 const axmul_conv_desc *layer, int json, FILE *out)
{
    const int cuda = backend == AXMUL_BACKEND_CUDA;
    shape_t list[1 + sizeof full_shapes / sizeof full_shapes[0]];
    size_t nshapes = 0;
    char layer_text[160];
    if (layer) {
        layer_name(layer, layer_text, sizeof layer_text);
        shape_t one = {0};
        one.name = layer_text;
        one.geo = layer;
        list[nshapes++] = one;
    } else if (quick) {
        for (size_t i = 0; i < sizeof quick_shapes / sizeof quick_shapes[0]; i++)
            list[nshapes++] = quick_shapes[i];
    } else {
        if (cuda)
            list[nshapes++] = cuda_first_shape;
        for (size_t i = 0; i < sizeof full_shapes / sizeof full_shapes[0]; i++)
            list[nshapes++] = full_shapes[i];
    }
    const shape_t *shapes = list;
    int failures = 0;
    if (json)
        fprintf(out, "[\n");
    else if (cuda)
        fprintf(out, "%-30s %-13s %9s %10s %12s %12s %9s %11s %9s\n", "shape", "path", "GMAC/s",
                "ms", "kernel GMAC/s", "cuDNN GMAC/s", "vs cuDNN", "ref check", "peak MB");
    else
        fprintf(out, "%-30s %-8s %9s %10s %12s %9s %8s %11s %9s\n", "shape", "path", "GMAC/s", "ms",
                "float GMAC/s", "float ms", "ratio", "ref check", "peak MB");
    for (size_t i = 0; i < nshapes; i++) {
        result_t *r = mmap_result();
        if (!r)
            return -1;
        memset(r, 0, sizeof *r);
        fflush(out);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            run_shape(&shapes[i], t, backend, threads, repeat, quick ? 0.0 : 0.3, r);
            _exit(0);
        }
        int status;
        struct rusage ru;
        while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            snprintf(r->error, sizeof r->error, "benchmark child died (status %d)", status);
        }
        if (r->error[0] || !r->ref_ok)
            failures++;
        if (json) {
            fprintf(out,
                    "%s  {\"shape\": \"%s\", \"path\": \"%s\", \"macs\": %.0f, \"seconds\": %.6g, "
                    "\"gmacs\": %.4g, \"float_seconds\": %.6g, \"float_gmacs\": %.4g, "
                    "\"ratio_vs_float\": %.4g, \"ref_check\": %s, \"peak_rss_mb\": %.1f, "
                    "\"engine_bound_mb\": %.2f, \"threads\": %d",
                    i ? ",\n" : "", shapes[i].name, r->path, r->macs, r->seconds, r->gmacs,
                    r->float_seconds, r->float_gmacs, r->ratio, r->ref_ok ? "true" : "false",
                    r->peak_rss_kb / 1024.0, r->bound_mb, threads);
            if (cuda) {
                fprintf(out, ", \"kernel_seconds\": %.6g, \"kernel_gmacs\": %.4g",
                        r->kernel_seconds,
                        r->kernel_seconds > 0 ? r->macs / r->kernel_seconds / 1e9 : 0.0);
                if (r->cudnn_seconds > 0)
                    fprintf(out,
                            ", \"cudnn_seconds\": %.6g, \"cudnn_gmacs\": %.4g, "
                            "\"kernel_vs_cudnn\": %.4g, \"cudnn_rel_diff\": %.3g",
                            r->cudnn_seconds, r->macs / r->cudnn_seconds / 1e9,
                            r->kernel_seconds / r->cudnn_seconds, r->cudnn_rel_err);
                else
                    fprintf(out, ", \"cudnn\": \"%s\"", r->cudnn_note);
            }
            if (r->error[0])
                fprintf(out, ", \"error\": \"%s\"", r->error);
            fprintf(out, "}");
        } else if (r->error[0]) {
            fprintf(out, "%-30s error: %s\n", shapes[i].name, r->error);
        } else if (cuda) {
            char kg[32] = "-", cg[32] = "n/a", vs[32] = "n/a";
            if (r->kernel_seconds > 0)
                snprintf(kg, sizeof kg, "%.1f", r->macs / r->kernel_seconds / 1e9);
            if (r->cudnn_seconds > 0) {
                snprintf(cg, sizeof cg, "%.1f", r->macs / r->cudnn_seconds / 1e9);
                snprintf(vs, sizeof vs, "%.2fx", r->kernel_seconds / r->cudnn_seconds);
            }
            fprintf(out, "%-30s %-13s %9.2f %10.3f %12s %12s %9s %11s %9.1f\n", shapes[i].name,
                    r->path, r->gmacs, r->seconds * 1e3, kg, cg, vs,
                    r->ref_ok ? "bit-exact" : "MISMATCH", r->peak_rss_kb / 1024.0);
            if (r->cudnn_seconds <= 0 && r->cudnn_note[0])
                fprintf(out, "%-30s (no cuDNN figure: %s)\n", "", r->cudnn_note);
        } else {
            fprintf(out, "%-30s %-8s %9.2f %10.3f %12.2f %9.3f %7.2fx %11s %9.1f\n", shapes[i].name,
                    r->path, r->gmacs, r->seconds * 1e3, r->float_gmacs, r->float_seconds * 1e3,
                    r->ratio, r->ref_ok ? "bit-exact" : "MISMATCH", r->peak_rss_kb / 1024.0);
        }
        unmap_result(r);
    }
    if (json)
        fprintf(out, "\n]\n");
    return failures;
}
