/* axconv-test calibrate: stores each conv2d/dense layer's input range in a model, from the
 * float network or from the network with tables. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "axmul.h"
#include "conv/netopts.h"
#include "conv/options.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

static int cmd_calibrate_inner(int argc, char **argv, axmul__tabopts *T);

int axmul__cmd_calibrate(int argc, char **argv)
{
    axmul__tabopts T = {.L = {.kinds = AXMUL_APPROX_CONV}};
    int rc = cmd_calibrate_inner(argc, argv, &T);
    axmul__tabopts_free(&T);
    return rc;
}

static int cmd_calibrate_inner(int argc, char **argv, axmul__tabopts *T)
{
    const char *dataset = "fashion-mnist", *model = NULL;
    long limit = 10000, threads = 0;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"dataset", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        AXMUL__TABOPTS_LONG,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "m:d:n:t:T:a:L:ph", opts)) != -1) {
        int tab = axmul__tabopts_option(T, c, optarg, "calibration");
        if (tab < 0)
            return AXMUL__EXIT_USAGE;
        switch (tab ? 0 : c) {
        case 0: /* a table option */
            break;
        case 'm':
            model = optarg;
            break;
        case 'd':
            dataset = optarg;
            break;
        case 'n':
            if (axmul__tool_parse_long(optarg, 1, 100000000, &limit)) {
                errorf("--limit '%s': expected a positive count", optarg);
                return AXMUL__EXIT_USAGE;
            }
            break;
        case 't':
            if (axmul__tool_parse_long(optarg, 1, 1024, &threads)) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return AXMUL__EXIT_USAGE;
            }
            break;
        case 'h':
            printf("Usage: " PROG " calibrate --model DIR|M.onnx [--dataset SPEC] [--limit N]\n"
                   "                       [--mtab T.bin] [--approx conv|dense|all|matmul|LAYER,...]\n"
                   "                       [--layer-mtab LAYER=T.bin] [--per-channel]\n"
                   "Sets each conv2d/dense layer's input range to the min/max seen by the float\n"
                   "network on the first N training images (default 10000) and rewrites\n"
                   "DIR/model.json. Calibrated ranges make a test image's result independent of\n"
                   "its batch-mates. With tables (as for net), the approximated layers' ranges\n"
                   "are those of the network with the tables, layer after layer: for a model\n"
                   "fine-tuned for a multiplier (train --from --mtab does this itself). An ONNX\n"
                   "model (M.onnx) is rewritten with the ranges in its metadata.\n");
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " calibrate --help' for more information.\n");
            return AXMUL__EXIT_USAGE;
        }
    }
    if (!model) {
        errorf("--model DIR is required");
        return AXMUL__EXIT_USAGE;
    }
    if (axmul__tabopts_check(T) != 0)
        return AXMUL__EXIT_USAGE;
    axmul_model *m;
    if (axmul_model_load(model, &m) != AXMUL_OK) {
        errorf("--model %s", axmul_error_detail());
        return AXMUL__EXIT_USAGE;
    }
    axmul_dataset *d = NULL;
    float *x = NULL;
    int n = 0, rc = AXMUL__EXIT_USAGE;
    if (axmul_dataset_load(dataset, 1, &d) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    if (axmul__check_input_shape(d, m, "--model", model, dataset) != 0)
        goto out;
    if (axmul__tabopts_resolve(T, m, model) != 0)
        goto out;
    if (!(x = axmul__dataset_floats(d, limit, &n))) {
        errorf("out of memory");
        goto out;
    }
    axmul_net_options o;
    axmul_net_options_init(&o);
    o.threads = (int)threads;
    o.per_channel = T->per_channel;
    o.layer_tables = T->lt;
    if ((T->lt ? axmul_model_calibrate_network(m, &o, x, n, 1000)
               : axmul_model_calibrate(m, x, n, 1000, (int)threads)) != AXMUL_OK ||
        axmul_model_save(m, model) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    printf("calibrated %s on %d training images of %s%s%s\n", model, n, dataset,
           T->lt ? " in the network with " : "", T->lt ? T->assignment : "");
    rc = 0;
out:
    free(x);
    axmul_dataset_free(d);
    axmul_model_free(m);
    return rc;
}
