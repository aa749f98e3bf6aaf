/* axconv-test train: trains the project's LeNet-5 in float, or continues training a model
 * (--from), approximation-aware with tables (fine-tuning for a multiplier), then calibrates it
 * and writes the model folder. */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axmul.h"
#include "conv/netopts.h"
#include "conv/options.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

static void usage_train(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " train --out DIR [--dataset fashion-mnist[:DIR]|mnist:DIR|npy:DIR]\n"
            "                   [--from MODEL] [--mtab T.bin] [--approx conv|dense|all|LAYER,...]\n"
            "                   [--layer-mtab LAYER=T.bin] [--per-channel]\n"
            "                   [--epochs E] [--batch B] [--lr L] [--seed S] [--limit N]\n"
            "                   [--calibrate N] [--threads N] [--quiet]\n"
            "Trains the project's LeNet-5 (or continues training the model of --from) with\n"
            "Adam and softmax cross-entropy on mini-batches, bit-reproducible for one seed on\n"
            "one machine; reports the float test accuracy, calibrates the activation ranges on\n"
            "N training images (default 10000) and writes the model folder (model.json + .npy).\n"
            "An ONNX --from model (CNNs of Conv, Gemm, BatchNormalization, pools, ReLU/ReLU6,\n"
            "Add, Flatten) trains as its layer model, written as a folder; its layers are named\n"
            "after the ONNX nodes (/conv1/Conv: conv1_Conv).\n"
            "With --mtab (the layers of --approx, default conv) or --layer-mtab, training is\n"
            "approximation-aware: those layers' forward pass is the quantized LUT layer, their\n"
            "gradients the float layer's (straight-through), and the test accuracy with the\n"
            "tables is reported before and after: fine-tuning for a multiplier, e.g.\n"
            "  train --from models/lenet5-fashion-mnist --mtab T.bin --epochs 2 --lr 1e-4 --out D\n"
            "Defaults: 10 epochs, batch 64, lr 0.001, seed 1, the whole training set.\n");
}

/* Top-1 accuracy of m on n images with options o, or -1 after an error. */
static double test_accuracy(const axmul_model *m, const axmul_net_options *o, const float *x, int n,
                            const uint8_t *labels)
{
    uint8_t *pred = malloc((size_t)n);
    if (!pred || axmul_model_predict(m, o, x, n, pred, NULL) != AXMUL_OK) {
        errorf("%s", pred ? axmul_error_detail() : "out of memory");
        free(pred);
        return -1;
    }
    long ok = 0;
    for (int i = 0; i < n; i++)
        ok += pred[i] == labels[i];
    free(pred);
    return (double)ok / n;
}

static int cmd_train_inner(int argc, char **argv, axmul__tabopts *T);

int axmul__cmd_train(int argc, char **argv)
{
    axmul__tabopts T = {.L = {.kinds = AXMUL_APPROX_CONV}};
    int rc = cmd_train_inner(argc, argv, &T);
    axmul__tabopts_free(&T);
    return rc;
}

static int cmd_train_inner(int argc, char **argv, axmul__tabopts *T)
{
    const char *dataset = "fashion-mnist", *out = NULL, *from = NULL;
    long epochs = 10, batch = 64, limit = 0, calib = 10000, threads = 0, seed = 1;
    double lr = 1e-3;
    int quiet = 0;
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'}, {"out", required_argument, NULL, 'o'},
        {"epochs", required_argument, NULL, 'e'},  {"batch", required_argument, NULL, 'b'},
        {"lr", required_argument, NULL, 'l'},      {"seed", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},   {"calibrate", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'}, {"quiet", no_argument, NULL, 'q'},
        {"from", required_argument, NULL, 'f'},    AXMUL__TABOPTS_LONG,
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "d:o:e:b:l:s:n:c:t:qf:T:a:L:ph", opts)) != -1) {
        int bad = 0, tab = axmul__tabopts_option(T, c, optarg, "training");
        if (tab < 0)
            return AXMUL__EXIT_USAGE;
        switch (tab ? 0 : c) {
        case 0: /* a table option */
            break;
        case 'd':
            dataset = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'e':
            bad = axmul__tool_parse_long(optarg, 1, 10000, &epochs);
            break;
        case 'b':
            bad = axmul__tool_parse_long(optarg, 1, 65536, &batch);
            break;
        case 'l': {
            char *end;
            lr = strtod(optarg, &end);
            bad = end == optarg || *end || !(lr > 0 && lr < 10);
            break;
        }
        case 's':
            bad = axmul__tool_parse_long(optarg, 0, 0x7fffffffL, &seed);
            break;
        case 'n':
            bad = axmul__tool_parse_long(optarg, 1, 100000000, &limit);
            break;
        case 'c':
            bad = axmul__tool_parse_long(optarg, 1, 100000000, &calib);
            break;
        case 't':
            bad = axmul__tool_parse_long(optarg, 1, 1024, &threads);
            break;
        case 'q':
            quiet = 1;
            break;
        case 'f':
            from = optarg;
            break;
        case 'h':
            usage_train(stdout);
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " train --help' for more information.\n");
            return AXMUL__EXIT_USAGE;
        }
        if (bad) {
            const char *name = "?"; /* from the table: argv may hold -e5, -e 5 or --epochs=5 */
            for (const struct option *op = opts; op->name; op++)
                if (op->val == c)
                    name = op->name;
            errorf("--%s '%s': invalid value", name, optarg);
            return AXMUL__EXIT_USAGE;
        }
    }
    if (!out || optind != argc) {
        errorf(out ? "unexpected argument '%s'" : "--out DIR is required", out ? argv[optind] : "");
        return AXMUL__EXIT_USAGE;
    }
    if (axmul__tabopts_check(T) != 0)
        return AXMUL__EXIT_USAGE;
    axmul_dataset *tr = NULL, *te = NULL;
    if (axmul_dataset_load(dataset, 1, &tr) != AXMUL_OK ||
        axmul_dataset_load(dataset, 0, &te) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        axmul_dataset_free(tr);
        return AXMUL__EXIT_USAGE;
    }
    int rc = AXMUL__EXIT_USAGE, n = 0, nt = 0;
    float *x = NULL, *xt = NULL;
    axmul_model *m = NULL;
    const uint8_t *test_labels = axmul_dataset_labels(te);
    if (from ? axmul_model_load(from, &m) : axmul_model_create_lenet5((uint64_t)seed, &m)) {
        errorf(from ? "--from %s" : "%s", axmul_error_detail());
        goto out;
    }
    if (axmul_model_is_onnx(m)) { /* trains as its layer model, written as a model folder */
        axmul_model *lm;
        if (axmul_model_to_layers(m, &lm) != AXMUL_OK) {
            errorf("--from %s", axmul_error_detail());
            goto out;
        }
        axmul_model_free(m);
        m = lm;
    }
    /* the test images too: they go through the same network */
    const axmul_dataset *sets[2] = {tr, te};
    for (int i = 0; i < 2; i++) {
        if (from && axmul__check_input_shape(sets[i], m, "--from", from, dataset) != 0)
            goto out;
        if (!from && (axmul_dataset_rows(sets[i]) != 28 || axmul_dataset_cols(sets[i]) != 28 ||
                      axmul_dataset_channels(sets[i]) != 1)) {
            errorf("%s: %dx%dx%d %s images; the LeNet-5 trainer needs 28x28x1", dataset,
                   axmul_dataset_rows(sets[i]), axmul_dataset_cols(sets[i]),
                   axmul_dataset_channels(sets[i]), i == 0 ? "training" : "test");
            goto out;
        }
    }
    x = axmul__dataset_floats(tr, limit, &n);
    xt = axmul__dataset_floats(te, 0, &nt);
    if (!x || !xt) {
        errorf("out of memory");
        goto out;
    }
    if (axmul__check_labels(tr, (size_t)n, m, dataset) != 0 ||
        axmul__check_labels(te, (size_t)nt, m, dataset) != 0)
        goto out;
    const int nc = calib < n ? (int)calib : n;
    axmul_net_options no; /* the test network: float, then with the tables */
    axmul_net_options_init(&no);
    no.threads = (int)threads;
    no.per_channel = T->per_channel;
    double before = -1;
    const axmul_table **lt = NULL; /* per layer: its table in approximation-aware training */
    if (axmul__tabopts_resolve(T, m, from ? from : "LeNet-5") != 0)
        goto out;
    if ((lt = T->lt)) {
        /* "before": the network as net runs it, with the model's calibrated ranges */
        if (!axmul_model_calibrated(m) &&
            axmul_model_calibrate(m, x, nc, 1000, (int)threads) != AXMUL_OK) {
            errorf("%s", axmul_error_detail());
            goto out;
        }
        no.layer_tables = lt;
        if ((before = test_accuracy(m, &no, xt, nt, test_labels)) < 0)
            goto out;
        no.layer_tables = NULL;
    }
    axmul_train_options o;
    axmul_train_options_init(&o);
    o.epochs = (int)epochs;
    o.batch = (int)batch;
    o.lr = (float)lr;
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    o.layer_tables = lt;
    o.per_channel = T->per_channel;
    axmul__progress pr = {isatty(STDERR_FILENO), quiet, (int)epochs, axmul__tool_now()};
    o.progress = axmul__train_progress;
    o.ctx = &pr;
    if (!quiet)
        fprintf(stderr, "training %s on %d %s images%s%s, %ld epochs, batch %ld, lr %g, seed %ld\n",
                from ? from : "LeNet-5", n, dataset, lt ? " with " : "", lt ? T->assignment : "",
                epochs, batch, lr, seed);
    if (axmul_model_train(m, x, axmul_dataset_labels(tr), n, &o) != AXMUL_OK) {
        errorf("training: %s", axmul_error_detail());
        goto out;
    }
    double facc = test_accuracy(m, &no, xt, nt, test_labels), after = -1;
    if (facc < 0)
        goto out;
    no.layer_tables = lt;
    /* a model trained with its tables runs as their network, not as its float one */
    if ((lt ? axmul_model_calibrate_network(m, &no, x, nc, 1000)
            : axmul_model_calibrate(m, x, nc, 1000, (int)threads)) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    if (lt && (after = test_accuracy(m, &no, xt, nt, test_labels)) < 0)
        goto out;
    if (axmul_model_save(m, out) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    printf("float test accuracy %.4f (%ld/%d)", facc, lround(facc * nt), nt);
    if (lt)
        printf("; with %s: test accuracy %.4f before training, %.4f after", T->assignment, before,
               after);
    printf("; calibrated on %d training images; model written to %s\n", nc, out);
    rc = 0;
out:
    free(x);
    free(xt);
    axmul_model_free(m);
    axmul_dataset_free(tr);
    axmul_dataset_free(te);
    return rc;
}
