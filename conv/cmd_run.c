/* axconv-test run: one forward pass of a model (an ONNX file, or a model folder) on .npy arrays,
 * its outputs written as .npy: float by default, with tables the Conv/Gemm/MatMul nodes
 * approximated. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul.h"
#include "conv/netopts.h"
#include "conv/options.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

#define MAX_IO 64

typedef struct {
    const char *model;
    const char *in[MAX_IO], *out[MAX_IO];
    int nin, nout;
    long threads;
    int batch_ranges;
} run_args;

static int run_inner(int argc, char **argv, axmul__tabopts *T);

int axmul__cmd_run(int argc, char **argv)
{
    axmul__tabopts T = {.L = {.kinds = AXMUL_APPROX_ALL}};
    int rc = run_inner(argc, argv, &T);
    axmul__tabopts_free(&T);
    return rc;
}

static void usage(void)
{
    printf("Usage: " PROG " run --model M.onnx|DIR --input X.npy [--input ...]\n"
           "                 [--output Y.npy ...] [--mtab T.bin] [--approx LIST]\n"
           "                 [--layer-mtab NODE=T.bin] [--per-channel] [--batch-ranges]\n"
           "                 [--threads N]\n"
           "One forward pass of the model on the arrays given (one --input per model input, in\n"
           "its order, or NAME=X.npy), each output written to its --output (in order; without\n"
           "one, only described). Float by default; with --mtab the Conv, Gemm and MatMul\n"
           "nodes that --approx selects (conv, dense, all (default), matmul: MatMul between\n"
           "two activations, or node names) read the table, with the ranges that calibrate\n"
           "stored (or the model's own, QDQ) or, --batch-ranges, those of these arrays.\n");
}

static int parse(int argc, char **argv, axmul__tabopts *T, run_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 't'},
        {"batch-ranges", no_argument, NULL, 'b'}, AXMUL__TABOPTS_LONG,
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "m:i:o:t:bT:a:L:ph", opts)) != -1) {
        int tab = axmul__tabopts_option(T, c, optarg, "run");
        if (tab < 0)
            return AXMUL__EXIT_USAGE;
        switch (tab ? 0 : c) {
        case 0:
            break;
        case 'm':
            a->model = optarg;
            break;
        case 'i':
        case 'o':
            if ((c == 'i' ? a->nin : a->nout) == MAX_IO) {
                errorf("at most %d --%s options", MAX_IO, c == 'i' ? "input" : "output");
                return AXMUL__EXIT_USAGE;
            }
            if (c == 'i')
                a->in[a->nin++] = optarg;
            else
                a->out[a->nout++] = optarg;
            break;
        case 't':
            if (axmul__tool_parse_long(optarg, 1, 1024, &a->threads)) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return AXMUL__EXIT_USAGE;
            }
            break;
        case 'b':
            a->batch_ranges = 1;
            break;
        case 'h':
            usage();
            return -1;
        default:
            fprintf(stderr, "Try '" PROG " run --help' for more information.\n");
            return AXMUL__EXIT_USAGE;
        }
    }
    if (optind < argc) {
        errorf("unexpected argument '%s'", argv[optind]);
        return AXMUL__EXIT_USAGE;
    }
    if (!a->model || a->nin == 0) {
        errorf("--model and --input are required");
        return AXMUL__EXIT_USAGE;
    }
    return axmul__tabopts_check(T) != 0 ? AXMUL__EXIT_USAGE : 0;
}

/* The arrays in the model's input order: --input NAME=FILE by name, plain FILEs in order. */
static int load_inputs(const axmul_model *m, const run_args *a, axmul_npy **x)
{
    const int n = axmul_model_num_inputs(m);
    int next = 0;
    for (int k = 0; k < a->nin; k++) {
        const char *arg = a->in[k], *eq = strchr(arg, '='), *file = arg;
        int slot = -1;
        if (eq && !strstr(arg, ".npy=") && eq != arg) {
            for (int j = 0; j < n && slot < 0; j++)
                if (strlen(axmul_model_input_name(m, j)) == (size_t)(eq - arg) &&
                    strncmp(axmul_model_input_name(m, j), arg, (size_t)(eq - arg)) == 0)
                    slot = j;
            if (slot < 0) {
                errorf("--input %s: the model has no input called %.*s", arg, (int)(eq - arg), arg);
                return -1;
            }
            file = eq + 1;
        } else {
            while (next < n && x[next])
                next++;
            slot = next;
        }
        if (slot >= n) {
            errorf("--input %s: the model has %d input%s", arg, n, n == 1 ? "" : "s");
            return -1;
        }
        if (x[slot]) {
            errorf("--input %s: input %s is given twice", arg, axmul_model_input_name(m, slot));
            return -1;
        }
        if (axmul_npy_load(file, &x[slot]) != AXMUL_OK) {
            errorf("--input %s", axmul_error_detail());
            return -1;
        }
    }
    for (int j = 0; j < n; j++)
        if (!x[j]) {
            errorf("input %s of %s has no --input", axmul_model_input_name(m, j), a->model);
            return -1;
        }
    return 0;
}

static void describe(const char *name, const axmul_npy *y, const char *file)
{
    static const char *types[] = {"float32", "float64", "int8",  "uint8",  "int16", "uint16",
                                  "int32",   "uint32",  "int64", "uint64", "bool"};
    char shape[256] = "";
    size_t at = 0;
    for (int d = 0; d < axmul_npy_ndim(y) && at < sizeof shape; d++) {
        int w =
            snprintf(shape + at, sizeof shape - at, "%s%zu", d ? "x" : "", axmul_npy_shape(y)[d]);
        at += w > 0 ? (size_t)w : 0;
    }
    printf("output %s: %s %s%s%s\n", name, axmul_npy_ndim(y) ? shape : "scalar",
           types[axmul_npy_dtype(y)], file ? " -> " : "", file ? file : "");
}

static int run_inner(int argc, char **argv, axmul__tabopts *T)
{
    run_args a = {0};
    int rc = parse(argc, argv, T, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    axmul_model *m;
    if (axmul_model_load(a.model, &m) != AXMUL_OK) {
        errorf("--model %s", axmul_error_detail());
        return AXMUL__EXIT_USAGE;
    }
    const int ni = axmul_model_num_inputs(m), no = axmul_model_num_outputs(m);
    axmul_npy **x = calloc((size_t)ni + 1, sizeof *x), **y = calloc((size_t)no + 1, sizeof *y);
    rc = AXMUL__EXIT_USAGE;
    if (!x || !y) {
        errorf("out of memory");
        goto out;
    }
    for (int k = 0; k < a.nout; k++) {
        const char *ins[MAX_IO + 2];
        int n = 0;
        for (int j = 0; j < a.nin; j++) { /* NAME=FILE or FILE */
            const char *eq = strchr(a.in[j], '=');
            ins[n++] = eq && !strstr(a.in[j], ".npy=") ? eq + 1 : a.in[j];
        }
        ins[n++] = a.model;
        if (axmul__tool_refuse_overwrite("--output", a.out[k], ins, (size_t)n) != 0)
            goto out;
    }
    if (a.nout > no) {
        errorf("%d --output options for the %d output%s of %s", a.nout, no, no == 1 ? "" : "s",
               a.model);
        goto out;
    }
    if (load_inputs(m, &a, x) != 0 || axmul__tabopts_resolve(T, m, a.model) != 0)
        goto out;
    axmul_net_options o;
    axmul_net_options_init(&o);
    o.threads = (int)a.threads;
    o.per_channel = T->per_channel;
    o.layer_tables = T->lt;
    o.batch_ranges = a.batch_ranges;
    o.approx = 0; /* the tables: per node, from the table options */
    if (axmul_model_run(m, &o, (const axmul_npy *const *)x, y) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    for (int k = 0; k < no; k++) {
        const char *file = k < a.nout ? a.out[k] : NULL;
        if (file && axmul_npy_save(file, y[k]) != AXMUL_OK) {
            errorf("--output %s", axmul_error_detail());
            goto out;
        }
        describe(axmul_model_output_name(m, k), y[k], file);
    }
    rc = 0;
out:
    for (int k = 0; x && k < ni; k++)
        axmul_npy_free(x[k]);
    for (int k = 0; y && k < no; k++)
        axmul_npy_free(y[k]);
    free(x);
    free(y);
    axmul_model_free(m);
    return rc;
}
