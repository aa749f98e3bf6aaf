/* axconv-test bench: the command line of the benchmark (conv/bench.c runs it). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "axmul.h"
#include "conv/bench.h"
#include "conv/options.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

static void usage_bench(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " bench [--backend cpu|cuda] [--path auto|vbmi|avx512bw|avx2|neon|portable]\n"
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

int axmul__cmd_bench(int argc, char **argv)
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
            if (axmul__opt_layer(c == 3 ? 'p' : c, optarg, &layer, shape, &nshape, kern, &nkern) <
                0)
                return AXMUL__EXIT_USAGE;
            geo_given |= c > 2;
            break;
        case 'b':
            if (strcmp(optarg, "cuda") == 0) {
                char why[512];
                if (!axmul__bench_cuda_usable(why, sizeof why)) {
                    errorf("--backend cuda: %s", why);
                    return AXMUL__EXIT_USAGE;
                }
                backend = AXMUL_BACKEND_CUDA;
            } else if (strcmp(optarg, "cpu") != 0) {
                errorf("--backend '%s': expected cpu or cuda", optarg);
                return AXMUL__EXIT_USAGE;
            }
            break;
        case 'p':
            if (axmul_set_cpu_path(optarg) != AXMUL_OK) {
                errorf("--path %s", axmul_error_detail());
                return AXMUL__EXIT_USAGE;
            }
            break;
        case 't':
            if (axmul__opt_ints(optarg, v, 1, &n) != 0 || v[0] < 1 || v[0] > 1024) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return AXMUL__EXIT_USAGE;
            }
            threads = v[0];
            break;
        case 'r':
            if (axmul__opt_ints(optarg, v, 1, &n) != 0 || v[0] < 1 || v[0] > 1000) {
                errorf("--repeat '%s': expected 1..1000", optarg);
                return AXMUL__EXIT_USAGE;
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
                return AXMUL__EXIT_USAGE;
            }
            break;
        case 'h':
            usage_bench(stdout);
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " bench --help' for more information.\n");
            return AXMUL__EXIT_USAGE;
        }
    }
    if (optind != argc) {
        errorf("unexpected argument '%s'", argv[optind]);
        return AXMUL__EXIT_USAGE;
    }
    if ((nshape || geo_given) && !nkern) {
        errorf("--shape and the layer options need --kernel KH,KW,CO");
        return AXMUL__EXIT_USAGE;
    }
    if (nkern && !nshape) {
        errorf("--kernel needs --shape N,H,W,C");
        return AXMUL__EXIT_USAGE;
    }
    if (nshape && quick) {
        errorf("--quick and --shape: choose one (--quick runs small standard shapes)");
        return AXMUL__EXIT_USAGE;
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
            return AXMUL__EXIT_USAGE;
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
            return AXMUL__EXIT_USAGE;
        }
    }
    axmul_table *t;
    axmul_status st = mtab ? axmul_table_load(mtab, axmul_name_is_signed(mtab), &t)
                           : axmul_table_create_exact(0, &t);
    if (st != AXMUL_OK) {
        errorf("--mtab %s", axmul_error_detail());
        return AXMUL__EXIT_USAGE;
    }
    const char *cpu_path;
    if (axmul_cpu_path(&cpu_path) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        axmul_table_free(t);
        return AXMUL__EXIT_USAGE;
    }
    if (!json)
        printf("table %s, backend %s, CPU path %s, threads %s\n",
               mtab ? mtab : "exact (mul8u_1JFF)", backend == AXMUL_BACKEND_CUDA ? "cuda" : "cpu",
               cpu_path, threads ? "as given" : "all");
    int r = axmul__bench(t, backend, threads, repeat, quick, nshape ? &layer : NULL, json, stdout);
    axmul_table_free(t);
    if (r < 0) {
        errorf("benchmark: %s", strerror(errno));
        return AXMUL__EXIT_USAGE;
    }
    return r ? AXMUL__EXIT_CHECK : 0;
}
