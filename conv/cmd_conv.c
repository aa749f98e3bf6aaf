/* axconv-test conv: one fake-quantized LUT convolution against its reference, the float
 * convolution of the fake-quantized tensors (what an exact multiplier gives), on .npy tensors or
 * random ones: error figures, the output, a difference heatmap. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul.h"
#include "conv/options.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

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
               "      --path P              CPU kernel: auto, portable, neon, avx2,\n"
               "                            avx512bw, vbmi\n"
               "  -o, --output Y.npy        write the approximate output\n"
               "      --heatmap DIFF.png    |approx - ref| of the first image, channels tiled\n"
               "  -f, --format F            text (default) or json\n"
               "  -h, --help                show this help\n");
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

/* The command line of conv. */
typedef struct {
    const char *in_path, *w_path, *mtab, *out_path, *hm_path, *cpu_path;
    int shape[4], nshape, kern[3], nkern, force_signed, json, seed_given;
    uint64_t seed;
    axmul_conv_desc d;
} conv_opts;

/* Parses the options into *o: 0 to go on, 1 after --help, -1 after a usage error (printed). */
static int conv_parse(int argc, char **argv, conv_opts *o)
{
    memset(o, 0, sizeof *o);
    o->force_signed = -1;
    o->seed = 1;
    axmul_conv_desc_init(&o->d);
    axmul_conv_desc *d = &o->d;
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
            o->in_path = optarg;
            break;
        case 'w':
            o->w_path = optarg;
            break;
        case 3: {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end) {
                errorf("--seed '%s': expected an unsigned integer", optarg);
                return -1;
            }
            o->seed_given = 1;
            break;
        }
        case 'm':
            o->mtab = optarg;
            break;
        case 4:
            o->force_signed = 1;
            break;
        case 5:
            o->force_signed = 0;
            break;
        case 1:
        case 2:
        case 's':
        case 'd':
        case 'p':
        case 'g':
            if (axmul__opt_layer(c, optarg, d, o->shape, &o->nshape, o->kern, &o->nkern) < 0)
                return -1;
            break;
        case 6:
            if (axmul__opt_range(optarg, &d->input_range) != 0) {
                errorf("--input-range '%s': expected MIN,MAX", optarg);
                return -1;
            }
            d->input_range_set = 1;
            break;
        case 7:
            if (axmul__opt_range(optarg, &d->filter_range) != 0) {
                errorf("--filter-range '%s': expected MIN,MAX", optarg);
                return -1;
            }
            d->filter_range_set = 1;
            break;
        case 8:
            d->per_channel = 1;
            break;
        case 'b':
            if (axmul__opt_backend("--backend", optarg, &d->backend) != 0)
                return -1;
            break;
        case 9:
            if (axmul__opt_ints(optarg, v, 1, &n) != 0 || v[0] < 1 || v[0] > 1024) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return -1;
            }
            d->threads = v[0];
            break;
        case 10:
            o->cpu_path = optarg;
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 11:
            o->hm_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                o->json = 1;
            else if (strcmp(optarg, "text") == 0)
                o->json = 0;
            else {
                errorf("--format '%s': expected text or json", optarg);
                return -1;
            }
            break;
        case 'h':
            usage_conv(stdout);
            return 1;
        default:
            fprintf(stderr, "Try '" PROG " conv --help' for more information.\n");
            return -1;
        }
    }
    if (optind != argc) {
        errorf("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (d->per_channel && d->filter_range_set) {
        errorf("--per-channel and --filter-range exclude each other");
        return -1;
    }
    const char *ins[3] = {o->in_path, o->w_path, o->mtab};
    if (axmul__tool_refuse_overwrite("--output", o->out_path, ins, 3) != 0 ||
        axmul__tool_refuse_overwrite("--heatmap", o->hm_path, ins, 3) != 0)
        return -1;
    if ((o->in_path != NULL) == (o->nshape != 0)) {
        errorf(o->in_path ? "--input and --shape exclude each other"
                          : "give --input X.npy or "
                            "--shape N,H,W,C");
        return -1;
    }
    if ((o->w_path != NULL) == (o->nkern != 0)) {
        errorf(o->w_path ? "--filter and --kernel exclude each other"
                         : "give --filter W.npy or "
                           "--kernel KH,KW,CO");
        return -1;
    }
    if (o->cpu_path && axmul_set_cpu_path(o->cpu_path) != AXMUL_OK) {
        errorf("--path %s", axmul_error_detail());
        return -1;
    }
    return 0;
}

/* The input and filter (files, or random from the seed) into *x and *w, the shapes into o->d.
 * 0, or -1 after an error. */
static int conv_tensors(conv_opts *o, float **x, float **w)
{
    axmul_conv_desc *d = &o->d;
    uint64_t rng = o->seed;
    size_t xs[4], ws[4];
    if (o->in_path) {
        d->input_name = o->in_path;
        if (!(*x = axmul__load_f32(o->in_path, "--input", 4, xs)))
            return -1;
    } else {
        for (int i = 0; i < 4; i++) {
            if (o->shape[i] < 1) {
                errorf("--shape: every dimension must be >= 1");
                return -1;
            }
            xs[i] = (size_t)o->shape[i];
        }
        size_t nx = xs[0] * xs[1] * xs[2] * xs[3];
        if (nx > ((size_t)1 << 30)) {
            errorf("--shape: %zu elements is more than this tool generates", nx);
            return -1;
        }
        if (!(*x = malloc(nx * sizeof **x))) {
            errorf("--shape: out of memory");
            return -1;
        }
        axmul__fill_random(*x, nx, &rng);
    }
    if (xs[0] > INT32_MAX || xs[1] > INT32_MAX || xs[2] > INT32_MAX || xs[3] > INT32_MAX) {
        errorf("input shape too large");
        return -1;
    }
    d->n = (int)xs[0];
    d->h = (int)xs[1];
    d->w = (int)xs[2];
    d->c = (int)xs[3];
    if (o->w_path) {
        d->filter_name = o->w_path;
        if (!(*w = axmul__load_f32(o->w_path, "--filter", 4, ws)))
            return -1;
        d->kh = (int)ws[0];
        d->kw = (int)ws[1];
        d->co = (int)ws[3];
        if (d->groups < 1 || (size_t)d->groups * ws[2] != xs[3]) {
            errorf("--filter %s: %zu input channels per group x %d groups != the input's %zu "
                   "channels",
                   o->w_path, ws[2], d->groups, xs[3]);
            return -1;
        }
    } else {
        const int *kern = o->kern;
        if (kern[0] < 1 || kern[1] < 1 || kern[2] < 1 || d->groups < 1 || d->c % d->groups) {
            errorf("--kernel %d,%d,%d with %d groups does not fit %d input channels", kern[0],
                   kern[1], kern[2], d->groups, d->c);
            return -1;
        }
        d->kh = kern[0];
        d->kw = kern[1];
        d->co = kern[2];
        size_t nw = (size_t)d->kh * d->kw * (size_t)(d->c / d->groups) * d->co;
        if (nw > ((size_t)1 << 30) || !(*w = malloc(nw * sizeof **w))) {
            errorf("--kernel: too large");
            return -1;
        }
        axmul__fill_random(*w, nw, &rng);
    }
    return d->per_channel && d->co < 1 ? -1 : 0;
}

/* What one run measured. */
typedef struct {
    axmul__tool_errstats e;
    axmul_conv_info info;
    double secs, hm_max;
    int oh, ow, is_signed;
} conv_result;

static void conv_print(const conv_opts *o, const conv_result *r)
{
    const axmul_conv_desc *d = &o->d;
    const size_t ny = r->e.n;
    const double linf_rel = r->e.max_ref > 0 ? r->e.max_diff / r->e.max_ref : r->e.max_diff;
    const double mae = r->e.sum_abs / (double)ny, rmse = sqrt(r->e.sum_sq / (double)ny);
    const double snr = axmul__tool_snr_db(r->e.signal, r->e.sum_sq);
    const double gmacs = r->secs > 0 ? (double)r->info.macs / r->secs / 1e9 : 0;
    const char *table = o->mtab ? o->mtab : "exact";
    if (o->json) {
        axmul__tool_buf b = {0};
        axmul__tool_bprintf(&b, "{\"linf_rel\": %.9g, \"mae\": %.9g, \"rmse\": %.9g, \"snr_db\": ",
                            linf_rel, mae, rmse);
        axmul__tool_json_num(&b, "%.6f", snr);
        axmul__tool_bprintf(
            &b,
            ", \"macs\": %llu, \"seconds\": %.9f, \"gmacs\": %.6f, \"backend\": \"%s\", "
            "\"path\": \"%s\", \"output_shape\": [%d, %d, %d, %d], \"signed\": %s, "
            "\"table\": ",
            (unsigned long long)r->info.macs, r->secs, gmacs, axmul__backend_name(r->info.backend),
            r->info.path, d->n, r->oh, r->ow, d->co, r->is_signed ? "true" : "false");
        axmul__tool_json_str(&b, table);
        if (!o->in_path || !o->w_path)
            axmul__tool_bprintf(&b, ", \"seed\": %llu", (unsigned long long)o->seed);
        axmul__tool_bprintf(&b, "}\n");
        fputs(b.s, stdout);
        free(b.s);
        return;
    }
    printf("table      %s (%s)\n", table, r->is_signed ? "signed" : "unsigned");
    printf("output     %d x %d x %d x %d\n", d->n, r->oh, r->ow, d->co);
    printf("linf_rel   %.6g\n", linf_rel);
    printf("mae        %.6g\n", mae);
    printf("rmse       %.6g\n", rmse);
    if (isfinite(snr))
        printf("snr_db     %.2f\n", snr);
    else
        printf("snr_db     inf (identical)\n");
    printf("macs       %llu\n", (unsigned long long)r->info.macs);
    printf("seconds    %.6f\n", r->secs);
    printf("gmacs      %.3f\n", gmacs);
    printf("backend    %s\n", axmul__backend_name(r->info.backend));
    printf("path       %s\n", r->info.path);
    if (!o->in_path || !o->w_path)
        printf("seed       %llu%s\n", (unsigned long long)o->seed,
               o->seed_given ? "" : " (default)");
    if (o->hm_path)
        printf("heatmap    %s (black 0 .. light yellow %.6g)\n", o->hm_path, r->hm_max);
}

/* The approximate convolution and its reference, the error figures, the output files. 0, or -1
 * after an error. */
static int conv_run(const conv_opts *o, const axmul_table *t, const float *x, const float *w,
                    conv_result *r)
{
    const axmul_conv_desc *d = &o->d;
    if (axmul_conv_output_shape(d, &r->oh, &r->ow) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return -1;
    }
    const size_t ny = (size_t)d->n * r->oh * r->ow * d->co;
    float *y = malloc(ny * sizeof *y), *ref = malloc(ny * sizeof *ref);
    int rc = -1;
    if (!y || !ref) {
        errorf("output of %zu elements: out of memory", ny);
        goto out;
    }
    double t0 = axmul__tool_now();
    axmul_status st = axmul_conv2d(d, t, x, w, y, &r->info);
    r->secs = axmul__tool_now() - t0;
    if (st != AXMUL_OK || axmul_conv2d_fakequant_float(d, r->is_signed, x, w, ref) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    axmul__tool_errstats_add(&r->e, y, ref, ny);
    if (o->out_path) {
        size_t shp[4] = {(size_t)d->n, (size_t)r->oh, (size_t)r->ow, (size_t)d->co};
        if (axmul_npy_save_f32(o->out_path, y, shp, 4) != AXMUL_OK) {
            errorf("--output %s", axmul_error_detail());
            goto out;
        }
    }
    if (o->hm_path && write_diff_heatmap(o->hm_path, y, ref, r->oh, r->ow, d->co, &r->hm_max) != 0)
        goto out;
    rc = 0;
out:
    free(y);
    free(ref);
    return rc;
}

int axmul__cmd_conv(int argc, char **argv)
{
    conv_opts o;
    const int p = conv_parse(argc, argv, &o);
    if (p != 0)
        return p > 0 ? AXMUL__EXIT_OK : AXMUL__EXIT_USAGE;
    int rc = AXMUL__EXIT_USAGE;
    float *x = NULL, *w = NULL;
    axmul_table *t = NULL;
    conv_result r;
    memset(&r, 0, sizeof r);
    if (conv_tensors(&o, &x, &w) != 0)
        goto out;
    r.is_signed =
        o.force_signed >= 0 ? o.force_signed : (o.mtab ? axmul_name_is_signed(o.mtab) : 0);
    if (o.mtab) {
        if (axmul_table_load(o.mtab, r.is_signed, &t) != AXMUL_OK) {
            errorf("--mtab %s", axmul_error_detail());
            goto out;
        }
    } else if (axmul_table_create_exact(r.is_signed, &t) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    if (conv_run(&o, t, x, w, &r) != 0)
        goto out;
    conv_print(&o, &r);
    rc = AXMUL__EXIT_OK;
out:
    free(x);
    free(w);
    axmul_table_free(t);
    return rc;
}
