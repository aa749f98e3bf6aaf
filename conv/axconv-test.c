/* axconv-test: approximate convolution against its exact reference, on tensors or random data.
 * Subcommands: conv (this file); the network validation and benchmark commands build on it. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axmul.h"
#include "lib/rng.h"
#include "lib/tool.h"

#define errorf axmul__tool_error
#include "conv/bench.h"
#include "conv/netcmd.h"

#define PROG "axconv-test"

enum { EXIT_CHECK = 1, EXIT_USAGE = 2 };

static void usage_main(FILE *f)
{
    fprintf(f, "Usage: " PROG " COMMAND [OPTIONS]\n"
               "Approximate (lookup-table) convolution checked against its exact reference.\n"
               "\n"
               "Commands:\n"
               "  conv     one convolution: approximate vs exact, error figures, heatmap\n"
               "  bench    speed on standard shapes vs the exact float convolution\n"
               "  net      a whole network on real data, one or many tables\n"
               "  train    train the LeNet-5 (float) on Fashion-MNIST or MNIST\n"
               "  calibrate  store activation ranges in a model\n"
               "\n"
               "'" PROG " COMMAND --help' describes a command. Exit status: 0 ok, 1 a check\n"
               "failed, 2 usage or I/O error.\n");
}

static void usage_conv(FILE *f)
{
    fprintf(f, "Usage: " PROG " conv --input X.npy --filter W.npy [OPTIONS]\n"
               "       " PROG " conv --shape N,H,W,C --kernel KH,KW,CO [--seed S] [OPTIONS]\n"
               "Runs the fake-quantized LUT convolution (input NHWC float32, filter HWIO float32)\n"
               "and the reference (float convolution of the fake-quantized tensors, i.e. the same\n"
               "convolution with exact multiplication) and reports how far apart they are.\n"
               "\n"
               "  -i, --input X.npy         input, shape (N, H, W, C), '<f4'\n"
               "  -w, --filter W.npy        filter, shape (KH, KW, C/groups, CO), '<f4'\n"
               "      --shape N,H,W,C       random input instead (uniform in [-1, 1))\n"
               "      --kernel KH,KW,CO     random filter instead (uniform in [-1, 1))\n"
               "      --seed S              seed of the random tensors (default 1)\n"
               "  -m, --mtab T.bin          multiplier table (default: exact)\n"
               "      --signed / --unsigned table signedness (default: from the name, mul8s_)\n"
               "  -s, --stride S|SH,SW      stride (default 1)\n"
               "  -p, --padding P           same (default), valid, or T,B,L,R\n"
               "  -d, --dilation D|DH,DW    dilation (default 1)\n"
               "  -g, --groups G            groups (default 1; C for depthwise)\n"
               "      --input-range MIN,MAX quantization range of the input (default: min/max)\n"
               "      --filter-range MIN,MAX  of the filter (default: min/max)\n"
               "      --per-channel         per-output-channel filter ranges\n"
               "  -b, --backend B           auto (default), cpu or cuda\n"
               "      --threads N           CPU threads (default: all)\n"
               "      --path P              CPU kernel: auto, portable, avx2, avx512bw, vbmi\n"
               "  -o, --output Y.npy        write the approximate output\n"
               "      --heatmap DIFF.png    |approx - ref| of the first image, channels tiled\n"
               "  -f, --format F            text (default) or json\n"
               "  -h, --help                show this help\n");
}

/* ---------------------------------------------------------------- parsing helpers */

static int parse_ints(const char *s, int *v, int maxn, int *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        if (*n == maxn)
            return -1;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < INT32_MIN || x > INT32_MAX)
            return -1;
        v[(*n)++] = (int)x;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return *n ? 0 : -1;
}

static int parse_range(const char *s, axmul_range *r)
{
    char *end;
    errno = 0;
    double a = strtod(s, &end);
    if (errno || end == s || *end != ',')
        return -1;
    const char *q = end + 1;
    double b = strtod(q, &end);
    if (errno || end == q || *end)
        return -1;
    r->min = (float)a;
    r->max = (float)b;
    return 0;
}

/* "A" or "A,B" into *a and *b (one value serves both). 0, or -1 for a bad value. */
static int int_pair(const char *arg, int *a, int *b)
{
    int v[2], n;
    if (parse_ints(arg, v, 2, &n) != 0)
        return -1;
    *a = v[0];
    *b = n == 2 ? v[1] : v[0];
    return 0;
}

/* The layer options that conv and bench share (c as getopt returns it): --shape (1) and
 * --kernel (2) into shape and kern with their counts, --stride, --padding ('p'), --dilation,
 * --groups into d. 1: c was one of them; 0: another option; -1: a bad value (message printed). */
static int layer_option(int c, const char *arg, axmul_conv_desc *d, int shape[4], int *nshape,
                        int kern[3], int *nkern)
{
    int v[4], n;
    switch (c) {
    case 1:
        if (parse_ints(arg, shape, 4, nshape) != 0 || *nshape != 4) {
            errorf("--shape '%s': expected N,H,W,C", arg);
            return -1;
        }
        return 1;
    case 2:
        if (parse_ints(arg, kern, 3, nkern) != 0 || *nkern != 3) {
            errorf("--kernel '%s': expected KH,KW,CO", arg);
            return -1;
        }
        return 1;
    case 's':
        if (int_pair(arg, &d->stride_h, &d->stride_w) != 0) {
            errorf("--stride '%s': expected S or SH,SW", arg);
            return -1;
        }
        return 1;
    case 'd':
        if (int_pair(arg, &d->dilation_h, &d->dilation_w) != 0) {
            errorf("--dilation '%s': expected D or DH,DW", arg);
            return -1;
        }
        return 1;
    case 'p':
        if (strcmp(arg, "same") == 0)
            d->padding = AXMUL_PADDING_SAME;
        else if (strcmp(arg, "valid") == 0)
            d->padding = AXMUL_PADDING_VALID;
        else if (parse_ints(arg, v, 4, &n) == 0 && n == 4) {
            d->padding = AXMUL_PADDING_EXPLICIT;
            d->pad_top = v[0];
            d->pad_bottom = v[1];
            d->pad_left = v[2];
            d->pad_right = v[3];
        } else {
            errorf("--padding '%s': expected same, valid or T,B,L,R", arg);
            return -1;
        }
        return 1;
    case 'g':
        if (parse_ints(arg, v, 1, &n) != 0) {
            errorf("--groups '%s': expected an integer", arg);
            return -1;
        }
        d->groups = v[0];
        return 1;
    }
    return 0;
}

static void fill_random(float *v, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((double)(axmul__splitmix64(state) >> 11) * 0x1p-53 * 2.0 - 1.0);
}

static void print_json_str(const char *s)
{
    axmul__tool_buf b = {0};
    axmul__tool_json_str(&b, s);
    fputs(b.s, stdout);
    free(b.s);
}

static const char *backend_name(axmul_backend b)
{
    return b == AXMUL_BACKEND_CUDA ? "cuda" : b == AXMUL_BACKEND_CPU ? "cpu" : "auto";
}

/* Loads a float32 array of exactly `ndim` dimensions; returns a malloc'd copy. */
static float *load_f32(const char *path, const char *what, int ndim, size_t shape[4])
{
    axmul_npy *a;
    if (axmul_npy_load(path, &a) != AXMUL_OK) {
        errorf("%s %s", what, axmul_error_detail());
        return NULL;
    }
    const float *d;
    if (axmul_npy_f32(a, &d) != AXMUL_OK) {
        errorf("%s %s", what, axmul_error_detail());
        axmul_npy_free(a);
        return NULL;
    }
    if (axmul_npy_ndim(a) != ndim) {
        errorf("%s %s: %d dimensions, expected %d (%s)", what, path, axmul_npy_ndim(a), ndim,
               ndim == 4 && what[2] == 'i' ? "N, H, W, C" : "KH, KW, C/groups, CO");
        axmul_npy_free(a);
        return NULL;
    }
    size_t n = axmul_npy_count(a);
    for (int i = 0; i < ndim; i++) {
        shape[i] = axmul_npy_shape(a)[i];
        if (shape[i] == 0 || shape[i] > INT32_MAX) {
            errorf("%s %s: dimension %d is %zu", what, path, i, shape[i]);
            axmul_npy_free(a);
            return NULL;
        }
    }
    float *copy = malloc(n * sizeof *copy);
    if (!copy) {
        errorf("%s %s: out of memory", what, path);
        axmul_npy_free(a);
        return NULL;
    }
    memcpy(copy, d, n * sizeof *copy);
    axmul_npy_free(a);
    return copy;
}

/* Heatmap of |approx - ref| for image 0: channels tiled in a near-square grid with 1-pixel
 * grey gaps, magma-like colours from 0 (black) to the largest difference (light yellow). */
static int write_diff_heatmap(const char *path, const float *y, const float *r, int oh, int ow,
                              int co, double *out_max)
{
    int cols = (int)ceil(sqrt((double)co));
    int rows = (co + cols - 1) / cols;
    int scale = 1;
    while ((oh * scale < 64 || ow * scale < 64) && scale < 8)
        scale++;
    int th = oh * scale, tw = ow * scale;
    long W = (long)cols * (tw + 1) + 1, H = (long)rows * (th + 1) + 1;
    if (W > 16384 || H > 16384) {
        errorf("--heatmap %s: image would be %ldx%ld pixels (too large)", path, W, H);
        return -1;
    }
    double mx = 0;
    for (long i = 0; i < (long)oh * ow * co; i++) {
        double d = fabs((double)y[i] - (double)r[i]);
        if (d > mx)
            mx = d;
    }
    uint8_t *rgb = malloc((size_t)W * H * 3);
    if (!rgb) {
        errorf("--heatmap %s: out of memory", path);
        return -1;
    }
    memset(rgb, 128, (size_t)W * H * 3);
    for (int o = 0; o < co; o++) {
        int gx = o % cols, gy = o / cols;
        for (int py = 0; py < th; py++)
            for (int px = 0; px < tw; px++) {
                size_t idx = ((size_t)(py / scale) * ow + (size_t)(px / scale)) * co + (size_t)o;
                double d = fabs((double)y[idx] - (double)r[idx]);
                long X = 1 + (long)gx * (tw + 1) + px, Y = 1 + (long)gy * (th + 1) + py;
                axmul_color_sequential(mx > 0 ? d / mx : 0, rgb + ((size_t)Y * W + X) * 3);
            }
    }
    char scale_text[200], layout[200];
    snprintf(scale_text, sizeof scale_text,
             "|approx - ref| of image 0: black = 0, light yellow = %.9g (linear)", mx);
    snprintf(layout, sizeof layout,
             "%d output channels tiled %d per row, left to right, top to bottom; each tile "
             "%dx%d outputs, %dx enlarged",
             co, cols, oh, ow, scale);
    const char *keys[] = {"Title", "Scale", "Layout", "Software"};
    const char *vals[] = {"axconv-test difference heatmap", scale_text, layout, "axmul"};
    axmul_status s = axmul_png_write_rgb(path, (unsigned)W, (unsigned)H, rgb, keys, vals, 4);
    free(rgb);
    if (s != AXMUL_OK) {
        errorf("--heatmap %s", axmul_error_detail());
        return -1;
    }
    *out_max = mx;
    return 0;
}

/* ---------------------------------------------------------------- conv */

static int cmd_conv(int argc, char **argv)
{
    const char *in_path = NULL, *w_path = NULL, *mtab = NULL, *out_path = NULL, *hm_path = NULL;
    const char *cpu_path = NULL;
    int shape[4], nshape = 0, kern[3], nkern = 0, force_signed = -1, json = 0;
    uint64_t seed = 1;
    int seed_given = 0;
    axmul_conv_desc d;
    axmul_conv_desc_init(&d);
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"filter", required_argument, NULL, 'w'},
        {"shape", required_argument, NULL, 1},
        {"kernel", required_argument, NULL, 2},
        {"seed", required_argument, NULL, 3},
        {"mtab", required_argument, NULL, 'm'},
        {"signed", no_argument, NULL, 4},
        {"unsigned", no_argument, NULL, 5},
        {"stride", required_argument, NULL, 's'},
        {"padding", required_argument, NULL, 'p'},
        {"dilation", required_argument, NULL, 'd'},
        {"groups", required_argument, NULL, 'g'},
        {"input-range", required_argument, NULL, 6},
        {"filter-range", required_argument, NULL, 7},
        {"per-channel", no_argument, NULL, 8},
        {"backend", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 9},
        {"path", required_argument, NULL, 10},
        {"output", required_argument, NULL, 'o'},
        {"heatmap", required_argument, NULL, 11},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, v[4], n;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "i:w:m:s:p:d:g:b:o:f:h", opts)) != -1) {
        switch (c) {
        case 'i':
            in_path = optarg;
            break;
        case 'w':
            w_path = optarg;
            break;
        case 3: {
            char *end;
            errno = 0;
            seed = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end) {
                errorf("--seed '%s': expected an unsigned integer", optarg);
                return EXIT_USAGE;
            }
            seed_given = 1;
            break;
        }
        case 'm':
            mtab = optarg;
            break;
        case 4:
            force_signed = 1;
            break;
        case 5:
            force_signed = 0;
            break;
        case 1:
        case 2:
        case 's':
        case 'd':
        case 'p':
        case 'g':
            if (layer_option(c, optarg, &d, shape, &nshape, kern, &nkern) < 0)
                return EXIT_USAGE;
            break;
        case 6:
            if (parse_range(optarg, &d.input_range) != 0) {
                errorf("--input-range '%s': expected MIN,MAX", optarg);
                return EXIT_USAGE;
            }
            d.input_range_set = 1;
            break;
        case 7:
            if (parse_range(optarg, &d.filter_range) != 0) {
                errorf("--filter-range '%s': expected MIN,MAX", optarg);
                return EXIT_USAGE;
            }
            d.filter_range_set = 1;
            break;
        case 8:
            d.per_channel = 1;
            break;
        case 'b':
            if (strcmp(optarg, "auto") == 0)
                d.backend = AXMUL_BACKEND_AUTO;
            else if (strcmp(optarg, "cpu") == 0)
                d.backend = AXMUL_BACKEND_CPU;
            else if (strcmp(optarg, "cuda") == 0)
                d.backend = AXMUL_BACKEND_CUDA;
            else {
                errorf("--backend '%s': expected auto, cpu or cuda", optarg);
                return EXIT_USAGE;
            }
            break;
        case 9:
            if (parse_ints(optarg, v, 1, &n) != 0 || v[0] < 1 || v[0] > 1024) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return EXIT_USAGE;
            }
            d.threads = v[0];
            break;
        case 10:
            cpu_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 11:
            hm_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "text") == 0)
                json = 0;
            else {
                errorf("--format '%s': expected text or json", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage_conv(stdout);
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " conv --help' for more information.\n");
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        errorf("unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (d.per_channel && d.filter_range_set) {
        errorf("--per-channel and --filter-range exclude each other");
        return EXIT_USAGE;
    }
    if ((in_path != NULL) == (nshape != 0)) {
        errorf(in_path ? "--input and --shape exclude each other"
                       : "give --input X.npy or "
                         "--shape N,H,W,C");
        return EXIT_USAGE;
    }
    if ((w_path != NULL) == (nkern != 0)) {
        errorf(w_path ? "--filter and --kernel exclude each other"
                      : "give --filter W.npy or "
                        "--kernel KH,KW,CO");
        return EXIT_USAGE;
    }
    if (cpu_path && axmul_set_cpu_path(cpu_path) != AXMUL_OK) {
        errorf("--path %s", axmul_error_detail());
        return EXIT_USAGE;
    }

    int rc = EXIT_USAGE;
    float *x = NULL, *w = NULL, *y = NULL, *r = NULL;
    axmul_table *t = NULL;
    uint64_t rng = seed;
    size_t xs[4], ws[4];
    if (in_path) {
        d.input_name = in_path;
        if (!(x = load_f32(in_path, "--input", 4, xs)))
            goto out;
    } else {
        for (int i = 0; i < 4; i++) {
            if (shape[i] < 1) {
                errorf("--shape: every dimension must be >= 1");
                goto out;
            }
            xs[i] = (size_t)shape[i];
        }
        size_t nx = xs[0] * xs[1] * xs[2] * xs[3];
        if (nx > ((size_t)1 << 30)) {
            errorf("--shape: %zu elements is more than this tool generates", nx);
            goto out;
        }
        if (!(x = malloc(nx * sizeof *x))) {
            errorf("--shape: out of memory");
            goto out;
        }
        fill_random(x, nx, &rng);
    }
    if (xs[0] > INT32_MAX || xs[1] > INT32_MAX || xs[2] > INT32_MAX || xs[3] > INT32_MAX) {
        errorf("input shape too large");
        goto out;
    }
    d.n = (int)xs[0];
    d.h = (int)xs[1];
    d.w = (int)xs[2];
    d.c = (int)xs[3];
    if (w_path) {
        d.filter_name = w_path;
        if (!(w = load_f32(w_path, "--filter", 4, ws)))
            goto out;
        d.kh = (int)ws[0];
        d.kw = (int)ws[1];
        d.co = (int)ws[3];
        if (d.groups < 1 || (size_t)d.groups * ws[2] != xs[3]) {
            errorf("--filter %s: %zu input channels per group x %d groups != the input's %zu "
                   "channels",
                   w_path, ws[2], d.groups, xs[3]);
            goto out;
        }
    } else {
        if (kern[0] < 1 || kern[1] < 1 || kern[2] < 1 || d.groups < 1 || d.c % d.groups) {
            errorf("--kernel %d,%d,%d with %d groups does not fit %d input channels", kern[0],
                   kern[1], kern[2], d.groups, d.c);
            goto out;
        }
        d.kh = kern[0];
        d.kw = kern[1];
        d.co = kern[2];
        size_t nw = (size_t)d.kh * d.kw * (size_t)(d.c / d.groups) * d.co;
        if (nw > ((size_t)1 << 30) || !(w = malloc(nw * sizeof *w))) {
            errorf("--kernel: too large");
            goto out;
        }
        fill_random(w, nw, &rng);
    }
    if (d.per_channel && d.co < 1)
        goto out;

    int is_signed = force_signed >= 0 ? force_signed : (mtab ? axmul_name_is_signed(mtab) : 0);
    if (mtab) {
        if (axmul_table_load(mtab, is_signed, &t) != AXMUL_OK) {
            errorf("--mtab %s", axmul_error_detail());
            goto out;
        }
    } else if (axmul_table_create_exact(is_signed, &t) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }

    int oh, ow;
    if (axmul_conv_output_shape(&d, &oh, &ow) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    size_t ny = (size_t)d.n * oh * ow * d.co;
    y = malloc(ny * sizeof *y);
    r = malloc(ny * sizeof *r);
    if (!y || !r) {
        errorf("output of %zu elements: out of memory", ny);
        goto out;
    }
    axmul_conv_info info;
    double t0 = axmul__tool_now();
    axmul_status st = axmul_conv2d(&d, t, x, w, y, &info);
    double secs = axmul__tool_now() - t0;
    if (st != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    if (axmul_conv2d_fakequant_float(&d, is_signed, x, w, r) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    double max_ref = 0, max_diff = 0, sum_abs = 0, sum_sq = 0, sig = 0;
    for (size_t i = 0; i < ny; i++) {
        double diff = (double)y[i] - (double)r[i];
        max_ref = fmax(max_ref, fabs((double)r[i]));
        max_diff = fmax(max_diff, fabs(diff));
        sum_abs += fabs(diff);
        sum_sq += diff * diff;
        sig += (double)r[i] * (double)r[i];
    }
    double linf_rel = max_ref > 0 ? max_diff / max_ref : max_diff;
    double mae = sum_abs / (double)ny, rmse = sqrt(sum_sq / (double)ny);
    double snr = sum_sq > 0 ? 10.0 * log10(sig / sum_sq) : INFINITY;
    double gmacs = secs > 0 ? (double)info.macs / secs / 1e9 : 0;

    if (out_path) {
        size_t shp[4] = {(size_t)d.n, (size_t)oh, (size_t)ow, (size_t)d.co};
        if (axmul_npy_save_f32(out_path, y, shp, 4) != AXMUL_OK) {
            errorf("--output %s", axmul_error_detail());
            goto out;
        }
    }
    double hm_max = 0;
    if (hm_path && write_diff_heatmap(hm_path, y, r, oh, ow, d.co, &hm_max) != 0)
        goto out;

    if (json) {
        printf("{\"linf_rel\": %.9g, \"mae\": %.9g, \"rmse\": %.9g, \"snr_db\": ", linf_rel, mae,
               rmse);
        if (isfinite(snr))
            printf("%.6f", snr);
        else
            printf("null");
        printf(", \"macs\": %llu, \"seconds\": %.9f, \"gmacs\": %.6f, \"backend\": \"%s\", "
               "\"path\": \"%s\", \"output_shape\": [%d, %d, %d, %d], \"signed\": %s, "
               "\"table\": ",
               (unsigned long long)info.macs, secs, gmacs, backend_name(info.backend), info.path,
               d.n, oh, ow, d.co, is_signed ? "true" : "false");
        print_json_str(mtab ? mtab : "exact");
        if (!in_path || !w_path)
            printf(", \"seed\": %llu", (unsigned long long)seed);
        printf("}\n");
    } else {
        printf("table      %s (%s)\n", mtab ? mtab : "exact", is_signed ? "signed" : "unsigned");
        printf("output     %d x %d x %d x %d\n", d.n, oh, ow, d.co);
        printf("linf_rel   %.6g\n", linf_rel);
        printf("mae        %.6g\n", mae);
        printf("rmse       %.6g\n", rmse);
        if (isfinite(snr))
            printf("snr_db     %.2f\n", snr);
        else
            printf("snr_db     inf (identical)\n");
        printf("macs       %llu\n", (unsigned long long)info.macs);
        printf("seconds    %.6f\n", secs);
        printf("gmacs      %.3f\n", gmacs);
        printf("backend    %s\n", backend_name(info.backend));
        printf("path       %s\n", info.path);
        if (!in_path || !w_path)
            printf("seed       %llu%s\n", (unsigned long long)seed, seed_given ? "" : " (default)");
        if (hm_path)
            printf("heatmap    %s (black 0 .. light yellow %.6g)\n", hm_path, hm_max);
    }
    rc = 0;
out:
    free(x);
    free(w);
    free(y);
    free(r);
    axmul_table_free(t);
    return rc;
}

static void usage_bench(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " bench [--backend cpu|cuda] [--path auto|vbmi|avx512bw|avx2|portable]\n"
            "                   [--threads N] [--repeat R] [--mtab T.bin] [--quick]\n"
            "                   [--format text|json]\n"
            "                   [--shape N,H,W,C --kernel KH,KW,CO [--stride S|SH,SW]\n"
            "                    [--padding same|valid|T,B,L,R] [--dilation D|DH,DW]\n"
            "                    [--groups G]]\n"
            "Times the LUT convolution on standard shapes (3x3 56x56x64->64 at batch 1 and 8,\n"
            "1x1 28x28x256->128, depthwise 3x3 112x112x32, dense 1936->120 batch 256, the LeNet\n"
            "conv layers; with --backend cuda first 3x3 56x56x64->64 at batch 32), or the one\n"
            "layer given with --shape and --kernel (options as for 'conv'; a dense layer is\n"
            "N,1,1,C with kernel 1,1,CO), next to the exact float convolution of the same shape\n"
            "(im2col + SGEMM, checked on the first image against a direct loop) in the same\n"
            "program; checks the first image bit for bit against the reference kernel; reports\n"
            "GMAC/s (median of R runs), the time ratio and the peak memory of each shape's\n"
            "process. Exit 1 if a check fails.\n");
}

static int cmd_bench(int argc, char **argv)
{
    int threads = 0, repeat = 5, quick = 0, json = 0, v[1], n;
    int shape[4], nshape = 0, kern[3], nkern = 0, geo_given = 0;
    const char *mtab = NULL;
    axmul_backend backend = AXMUL_BACKEND_CPU;
    axmul_conv_desc layer;
    axmul_conv_desc_init(&layer);
    static const struct option opts[] = {
        {"shape", required_argument, NULL, 1},
        {"kernel", required_argument, NULL, 2},
        {"stride", required_argument, NULL, 's'},
        {"padding", required_argument, NULL, 3}, /* -p is --path here */
        {"dilation", required_argument, NULL, 'd'},
        {"groups", required_argument, NULL, 'g'},
        {"backend", required_argument, NULL, 'b'},
        {"path", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 't'},
        {"repeat", required_argument, NULL, 'r'},
        {"mtab", required_argument, NULL, 'm'},
        {"quick", no_argument, NULL, 'q'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "b:p:t:r:m:qf:s:d:g:h", opts)) != -1) {
        switch (c) {
        case 1:
        case 2:
        case 's':
        case 3:
        case 'd':
        case 'g':
            if (layer_option(c == 3 ? 'p' : c, optarg, &layer, shape, &nshape, kern, &nkern) < 0)
                return EXIT_USAGE;
            geo_given |= c > 2;
            break;
        case 'b':
            if (strcmp(optarg, "cuda") == 0) {
                char why[512];
                if (!axmul__bench_cuda_usable(why, sizeof why)) {
                    errorf("--backend cuda: %s", why);
                    return EXIT_USAGE;
                }
                backend = AXMUL_BACKEND_CUDA;
            } else if (strcmp(optarg, "cpu") != 0) {
                errorf("--backend '%s': expected cpu or cuda", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'p':
            if (axmul_set_cpu_path(optarg) != AXMUL_OK) {
                errorf("--path %s", axmul_error_detail());
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (parse_ints(optarg, v, 1, &n) != 0 || v[0] < 1 || v[0] > 1024) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return EXIT_USAGE;
            }
            threads = v[0];
            break;
        case 'r':
            if (parse_ints(optarg, v, 1, &n) != 0 || v[0] < 1 || v[0] > 1000) {
                errorf("--repeat '%s': expected 1..1000", optarg);
                return EXIT_USAGE;
            }
            repeat = v[0];
            break;
        case 'm':
            mtab = optarg;
            break;
        case 'q':
            quick = 1;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "text") != 0) {
                errorf("--format '%s': expected text or json", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage_bench(stdout);
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " bench --help' for more information.\n");
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        errorf("unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if ((nshape || geo_given) && !nkern) {
        errorf("--shape and the layer options need --kernel KH,KW,CO");
        return EXIT_USAGE;
    }
    if (nkern && !nshape) {
        errorf("--kernel needs --shape N,H,W,C");
        return EXIT_USAGE;
    }
    if (nshape && quick) {
        errorf("--quick and --shape: choose one (--quick runs small standard shapes)");
        return EXIT_USAGE;
    }
    if (nshape) {
        layer.n = shape[0];
        layer.h = shape[1];
        layer.w = shape[2];
        layer.c = shape[3];
        layer.kh = kern[0];
        layer.kw = kern[1];
        layer.co = kern[2];
        int oh, ow;
        if (axmul_conv_output_shape(&layer, &oh, &ow) != AXMUL_OK) {
            errorf("--shape %d,%d,%d,%d --kernel %d,%d,%d: %s", shape[0], shape[1], shape[2],
                   shape[3], kern[0], kern[1], kern[2], axmul_error_detail());
            return EXIT_USAGE;
        }
        /* the benchmark holds the input, filter, output and one image's im2col as floats */
        const double limit = (double)(1 << 30);
        const double nx = (double)layer.n * layer.h * layer.w * layer.c,
                     ny = (double)layer.n * oh * ow * layer.co,
                     ncol = (double)oh * ow * layer.kh * layer.kw * (layer.c / layer.groups),
                     nw = (double)layer.kh * layer.kw * (layer.c / layer.groups) * layer.co;
        if (nx > limit || ny > limit || ncol > limit || nw > limit) {
            errorf("--shape %d,%d,%d,%d --kernel %d,%d,%d: more than 2^30 elements in a tensor "
                   "(input %.0f, output %.0f, filter %.0f, one image's im2col %.0f)",
                   shape[0], shape[1], shape[2], shape[3], kern[0], kern[1], kern[2], nx, ny, nw,
                   ncol);
            return EXIT_USAGE;
        }
    }
    axmul_table *t;
    axmul_status st = mtab ? axmul_table_load(mtab, axmul_name_is_signed(mtab), &t)
                           : axmul_table_create_exact(0, &t);
    if (st != AXMUL_OK) {
        errorf("--mtab %s", axmul_error_detail());
        return EXIT_USAGE;
    }
    const char *cpu_path;
    if (axmul_cpu_path(&cpu_path) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        axmul_table_free(t);
        return EXIT_USAGE;
    }
    if (!json)
        printf("table %s, backend %s, CPU path %s, threads %s\n",
               mtab ? mtab : "exact (mul8u_1JFF)", backend == AXMUL_BACKEND_CUDA ? "cuda" : "cpu",
               cpu_path, threads ? "as given" : "all");
    int r = axmul__bench(t, backend, threads, repeat, quick, nshape ? &layer : NULL, json, stdout);
    axmul_table_free(t);
    if (r < 0) {
        errorf("benchmark: %s", strerror(errno));
        return EXIT_USAGE;
    }
    return r ? EXIT_CHECK : 0;
}

int main(int argc, char **argv)
{
    axmul__tool_set_name(PROG);
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf(PROG " (axmul) %s\n", axmul_version());
        return 0;
    }
    if (strcmp(cmd, "conv") == 0)
        return cmd_conv(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "net") == 0)
        return axmul__cmd_net(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0)
        return axmul__cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "calibrate") == 0)
        return axmul__cmd_calibrate(argc - 1, argv + 1);
    errorf("unknown command '%s'", cmd);
    usage_main(stderr);
    return EXIT_USAGE;
}
