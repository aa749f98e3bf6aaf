/* axconv-test train | calibrate | net: whole networks on real data. */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "axmul.h"
#include "lib/tool.h"

#define errorf axmul__tool_error
#include "conv/netcmd.h"
#include "conv/report.h"

#define PROG "axconv-test"
enum { EXIT_CHECK = 1, EXIT_USAGE = 2 };

/* Values per image (rows x columns x channels). */
static size_t image_size(const axmul_dataset *d)
{
    return (size_t)axmul_dataset_rows(d) * axmul_dataset_cols(d) * axmul_dataset_channels(d);
}

/* Images as floats in [0, 1] (pixel / 255), at most limit of them (0 = all). */
static float *dataset_floats(const axmul_dataset *d, long limit, int *n_out)
{
    size_t n = axmul_dataset_count(d);
    if (limit > 0 && (size_t)limit < n)
        n = (size_t)limit;
    size_t per = image_size(d);
    float *x = malloc(n * per * sizeof *x);
    if (!x)
        return NULL;
    const uint8_t *im = axmul_dataset_images(d);
    for (size_t i = 0; i < n * per; i++)
        x[i] = (float)im[i] / 255.0f;
    *n_out = (int)n;
    return x;
}

/* The dataset's images must be what the model's input expects. */
static int check_input_shape(const axmul_dataset *d, const axmul_model *m, const char *opt,
                             const char *model, const char *dataset)
{
    int h, w, c;
    axmul_model_input_shape(m, &h, &w, &c);
    if (h != axmul_dataset_rows(d) || w != axmul_dataset_cols(d) ||
        c != axmul_dataset_channels(d)) {
        errorf("%s %s expects %dx%dx%d inputs but %s has %dx%dx%d images", opt, model, h, w, c,
               dataset, axmul_dataset_rows(d), axmul_dataset_cols(d), axmul_dataset_channels(d));
        return -1;
    }
    return 0;
}

/* Every label must be one of the model's classes: a data set with more classes than the model
 * is the wrong data set, not a lower accuracy. */
static int check_labels(const axmul_dataset *d, size_t n, const axmul_model *m, const char *dataset)
{
    const uint8_t *lab = axmul_dataset_labels(d);
    const int classes = axmul_model_classes(m);
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= classes) {
            errorf("%s: image %zu has label %d but the model has %d classes (0..%d)", dataset, i,
                   lab[i], classes, classes - 1);
            return -1;
        }
    return 0;
}

/* ---------------------------------------------------------------- layer-wise assignment */

/* Which table each conv2d/dense layer reads: the swept --mtab table on the layers that --approx
 * selects (kinds or names), a fixed table on the layers of --layer-mtab NAME=FILE. */
typedef struct {
    int kinds; /* axmul_approx bits of --approx */
    char **names;
    int nnames;
    char **pin_name, **pin_file;
    int npins;
    /* against the model (layers_resolve) */
    int nl;
    int *sweep;         /* per layer: reads the swept table */
    axmul_table **pin;  /* per layer: its --layer-mtab table, or NULL */
    const char **file;  /* per layer: its --layer-mtab file, or NULL */
    axmul_table *ex[2]; /* the exact tables, unsigned and signed, for the exact network */
    char **labels;      /* per --mtab table (in paths' order): its name in the result rows */
    int nlabels;
} layers_t;

static int push_str(char ***v, int *n, const char *s, size_t len)
{
    char **nv = realloc(*v, sizeof(char *) * (size_t)(*n + 1));
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strndup(s, len)))
        return -1;
    (*n)++;
    return 0;
}

/* --approx LIST: comma-separated conv, dense, all and layer names (checked against the model
 * in layers_resolve). */
static int layers_parse_approx(layers_t *L, const char *arg)
{
    L->kinds = 0;
    for (const char *p = arg;;) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            errorf("--approx '%s': expected a comma-separated list of conv, dense, all or layer "
                   "names",
                   arg);
            return -1;
        }
        if (len == 4 && strncmp(p, "conv", 4) == 0)
            L->kinds |= AXMUL_APPROX_CONV;
        else if (len == 5 && strncmp(p, "dense", 5) == 0)
            L->kinds |= AXMUL_APPROX_DENSE;
        else if (len == 3 && strncmp(p, "all", 3) == 0)
            L->kinds |= AXMUL_APPROX_ALL;
        else if (push_str(&L->names, &L->nnames, p, len) != 0) {
            errorf("out of memory");
            return -1;
        }
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

/* --layer-mtab NAME=FILE */
static int layers_add_pin(layers_t *L, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        errorf("--layer-mtab '%s': expected LAYER=TABLE.bin", arg);
        return -1;
    }
    int nfiles = L->npins; /* the file first: npins counts complete pairs */
    if (push_str(&L->pin_file, &nfiles, eq + 1, strlen(eq + 1)) != 0 ||
        push_str(&L->pin_name, &L->npins, arg, (size_t)(eq - arg)) != 0) {
        errorf("out of memory");
        return -1;
    }
    return 0;
}

/* 1 when the run assigns tables per layer (the result rows then name the layers). */
static int layers_on(const layers_t *L)
{
    return L->npins > 0 || L->nnames > 0;
}

static int is_param(const axmul_model *m, int i)
{
    const char *ty = axmul_model_layer_type(m, i);
    return strcmp(ty, "conv2d") == 0 || strcmp(ty, "dense") == 0;
}

/* Index of the conv2d/dense layer called name, or -1 after an error naming what (the option)
 * and the layers that would do. */
static int find_param_layer(const axmul_model *m, const char *model_dir, const char *what,
                            const char *name)
{
    int nl = axmul_model_num_layers(m), found = -1;
    for (int i = 0; i < nl && found < 0; i++)
        if (strcmp(axmul_model_layer_name(m, i), name) == 0)
            found = i;
    if (found >= 0 && is_param(m, found))
        return found;
    axmul__tool_buf b = {0};
    for (int i = 0; i < nl; i++)
        if (is_param(m, i))
            axmul__tool_bprintf(&b, "%s%s", b.len ? ", " : "", axmul_model_layer_name(m, i));
    if (found < 0)
        errorf("%s %s: no layer of that name in %s (its conv2d and dense layers: %s)", what, name,
               model_dir, b.s ? b.s : "none");
    else
        errorf("%s %s: the layer is of type %s, without weights to multiply (the conv2d and dense "
               "layers of %s: %s)",
               what, name, axmul_model_layer_type(m, found), model_dir, b.s ? b.s : "none");
    free(b.s);
    return -1;
}

/* Checks the names against the model, loads the --layer-mtab tables and marks the layers of the
 * swept table. sweeping: --mtab tables were given. */
static int layers_resolve(layers_t *L, const axmul_model *m, const char *model_dir, int sweeping)
{
    L->nl = axmul_model_num_layers(m);
    L->sweep = calloc((size_t)L->nl, sizeof *L->sweep);
    L->pin = calloc((size_t)L->nl, sizeof *L->pin);
    L->file = calloc((size_t)L->nl, sizeof *L->file);
    if (!L->sweep || !L->pin || !L->file) {
        errorf("out of memory");
        return -1;
    }
    for (int k = 0; k < L->nnames; k++) {
        int i = find_param_layer(m, model_dir, "--approx", L->names[k]);
        if (i < 0)
            return -1;
        L->sweep[i] = sweeping;
    }
    for (int i = 0; i < L->nl && sweeping; i++)
        if (L->kinds & (strcmp(axmul_model_layer_type(m, i), "conv2d") == 0  ? AXMUL_APPROX_CONV
                        : strcmp(axmul_model_layer_type(m, i), "dense") == 0 ? AXMUL_APPROX_DENSE
                                                                             : 0))
            L->sweep[i] = 1;
    for (int k = 0; k < L->npins; k++) {
        int i = find_param_layer(m, model_dir, "--layer-mtab", L->pin_name[k]);
        if (i < 0)
            return -1;
        if (L->pin[i]) {
            errorf("--layer-mtab %s: the layer is given twice", L->pin_name[k]);
            return -1;
        }
        if (axmul_table_load(L->pin_file[k], axmul_name_is_signed(L->pin_file[k]), &L->pin[i]) !=
            AXMUL_OK) {
            errorf("--layer-mtab %s: %s", L->pin_name[k], axmul_error_detail());
            return -1;
        }
        L->file[i] = L->pin_file[k];
        L->sweep[i] = 0; /* a fixed table wins over --approx */
    }
    int nsweep = 0;
    for (int i = 0; i < L->nl; i++)
        nsweep += L->sweep[i];
    if (sweeping && nsweep == 0) {
        errorf("--layer-mtab fixes every layer that --approx selects: no layer is left for the "
               "--mtab tables");
        return -1;
    }
    return 0;
}

/* The table of each layer in a run with the swept table t (NULL: none), or, exact = 1, in the
 * exact network of that run: the same layers quantized, with the exact table of each layer's
 * signedness. Returns -1 when an exact table cannot be made. */
static int layers_tables(layers_t *L, const axmul_table *t, int exact, const axmul_table **out)
{
    for (int i = 0; i < L->nl; i++) {
        const axmul_table *ti = L->pin[i] ? L->pin[i] : L->sweep[i] ? t : NULL;
        if (ti && exact) {
            int sg = axmul_table_is_signed(ti);
            if (!L->ex[sg] && axmul_table_create_exact(sg, &L->ex[sg]) != AXMUL_OK)
                return -1;
            ti = L->ex[sg];
        }
        out[i] = ti;
    }
    return 0;
}

/* The file of layer i's table in a run with the swept table path: its --layer-mtab file, path
 * on the swept layers, NULL on float layers. */
static const char *layers_file(const layers_t *L, int i, const char *path)
{
    return L->file[i] ? L->file[i] : L->sweep[i] ? path : NULL;
}

/* The layers and their tables (path: the swept table's name), grouped by table in layer order
 * ("conv1+fc1=a.bin;conv2=b.bin"). */
static char *layers_assignment(const layers_t *L, const axmul_model *m, const char *path)
{
    axmul__tool_buf b = {0};
    char *done = calloc((size_t)L->nl, 1);
    for (int i = 0; done && i < L->nl; i++) {
        const char *fi = layers_file(L, i, path);
        if (!fi || done[i])
            continue;
        axmul__tool_bprintf(&b, "%s", b.len ? ";" : "");
        for (int j = i, first = 1; j < L->nl; j++) {
            const char *fj = layers_file(L, j, path);
            if (fj && !done[j] && strcmp(fi, fj) == 0) {
                axmul__tool_bprintf(&b, "%s%s", first ? "" : "+", axmul_model_layer_name(m, j));
                done[j] = 1;
                first = 0;
            }
        }
        axmul__tool_bprintf(&b, "=%s", fi);
    }
    free(done);
    return b.s;
}

/* The name of a run in the result rows: the swept table's path, or in a layer-wise run the
 * assignment. */
static char *layers_label(const layers_t *L, const axmul_model *m, const char *path)
{
    return layers_on(L) ? layers_assignment(L, m, path) : strdup(path);
}

static void layers_free(layers_t *L)
{
    for (int k = 0; k < L->nnames; k++)
        free(L->names[k]);
    for (int k = 0; k < L->npins; k++) {
        free(L->pin_name[k]);
        free(L->pin_file[k]);
    }
    for (int i = 0; L->pin && i < L->nl; i++)
        axmul_table_free(L->pin[i]);
    for (int k = 0; k < L->nlabels; k++)
        free(L->labels[k]);
    free(L->labels);
    free(L->names);
    free(L->pin_name);
    free(L->pin_file);
    free(L->sweep);
    free(L->pin);
    free(L->file);
    axmul_table_free(L->ex[0]);
    axmul_table_free(L->ex[1]);
}

/* The table options of train and calibrate: one --mtab table in the layers of --approx, fixed
 * tables (--layer-mtab) and --per-channel; and what they resolve to against the model. */
typedef struct {
    layers_t L;
    const char *mtab;
    int approx_given, per_channel;
    axmul_table *t;
    const axmul_table **lt; /* per layer: its table, NULL for float; NULL: no table option */
    char *assignment;       /* "conv1+conv2=T.bin" */
} tabopts_t;

static void tabopts_free(tabopts_t *T)
{
    layers_free(&T->L);
    axmul_table_free(T->t);
    free(T->lt);
    free(T->assignment);
}

/* The table options' getopt entries ("T:a:L:p" in the short option string). */
/* clang-format off */
#define TABOPTS_LONG                                                                               \
    {"mtab", required_argument, NULL, 'T'},                                                        \
    {"approx", required_argument, NULL, 'a'},                                                      \
    {"layer-mtab", required_argument, NULL, 'L'},                                                  \
    {"per-channel", no_argument, NULL, 'p'}
/* clang-format on */

/* Option c with argument arg, if it is one of the table options (cmd names the command in an
 * error): 1 taken, 0 not one of them, -1 after an error. */
static int tabopts_option(tabopts_t *T, int c, const char *arg, const char *cmd)
{
    switch (c) {
    case 'T':
        if (T->mtab) {
            errorf("--mtab %s: %s takes one --mtab table (--layer-mtab for more)", arg, cmd);
            return -1;
        }
        T->mtab = arg;
        return 1;
    case 'a':
        if (layers_parse_approx(&T->L, arg) != 0)
            return -1;
        T->approx_given = 1;
        return 1;
    case 'L':
        return layers_add_pin(&T->L, arg) != 0 ? -1 : 1;
    case 'p':
        T->per_channel = 1;
        return 1;
    default:
        return 0;
    }
}

/* After the options: --approx and --per-channel say how a table is used. 0 or -1 (printed). */
static int tabopts_check(const tabopts_t *T)
{
    if (!T->mtab && (T->approx_given || (T->per_channel && T->L.npins == 0))) {
        errorf("%s selects how the --mtab table is used: give --mtab",
               T->approx_given ? "--approx" : "--per-channel");
        return -1;
    }
    return 0;
}

/* Loads the tables and assigns them to m's layers (T->lt, T->assignment); nothing without a
 * table option. 0 or -1 (printed). */
static int tabopts_resolve(tabopts_t *T, const axmul_model *m, const char *model_name)
{
    if (!T->mtab && T->L.npins == 0)
        return 0;
    if (T->mtab && axmul_table_load(T->mtab, axmul_name_is_signed(T->mtab), &T->t) != AXMUL_OK) {
        errorf("--mtab %s", axmul_error_detail());
        return -1;
    }
    if (layers_resolve(&T->L, m, model_name, T->mtab != NULL) != 0)
        return -1;
    if (!(T->lt = calloc((size_t)axmul_model_num_layers(m), sizeof *T->lt)) ||
        !(T->assignment = layers_assignment(&T->L, m, T->mtab))) {
        errorf("out of memory");
        return -1;
    }
    layers_tables(&T->L, T->t, 0, T->lt);
    return 0;
}

/* ---------------------------------------------------------------- progress */

typedef struct {
    int tty, quiet, epochs;
    double t0;
} progress_t;

static void train_progress(void *ctx, int epoch, int done, int total, double loss, double acc)
{
    progress_t *p = ctx;
    if (p->quiet)
        return;
    if (p->tty && (done % 20 == 0 || done == total)) {
        int width = 30, fill = (int)((double)done / total * width);
        fprintf(stderr, "\repoch %2d/%d [", epoch + 1, p->epochs);
        for (int i = 0; i < width; i++)
            fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %3d%%  loss %.4f  accuracy %.4f", (int)(100.0 * done / total), loss,
                acc);
        if (done == total)
            fprintf(stderr, "  (%.1f s)\n", axmul__tool_now() - p->t0);
        fflush(stderr);
    } else if (!p->tty && done == total) {
        fprintf(stderr, "epoch %d/%d: loss %.4f accuracy %.4f (%.1f s)\n", epoch + 1, p->epochs,
                loss, acc, axmul__tool_now() - p->t0);
    }
}

/* ---------------------------------------------------------------- train */

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

static int cmd_train_inner(int argc, char **argv, tabopts_t *T);

int axmul__cmd_train(int argc, char **argv)
{
    tabopts_t T = {.L = {.kinds = AXMUL_APPROX_CONV}};
    int rc = cmd_train_inner(argc, argv, &T);
    tabopts_free(&T);
    return rc;
}

static int cmd_train_inner(int argc, char **argv, tabopts_t *T)
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
        {"from", required_argument, NULL, 'f'},    TABOPTS_LONG,
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "d:o:e:b:l:s:n:c:t:qf:T:a:L:ph", opts)) != -1) {
        int bad = 0, tab = tabopts_option(T, c, optarg, "training");
        if (tab < 0)
            return EXIT_USAGE;
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
            return EXIT_USAGE;
        }
        if (bad) {
            errorf("--%s '%s': invalid value", opts[0].name == NULL ? "" : argv[optind - 1] + 2,
                   optarg);
            return EXIT_USAGE;
        }
    }
    if (!out || optind != argc) {
        errorf(out ? "unexpected argument '%s'" : "--out DIR is required", out ? argv[optind] : "");
        return EXIT_USAGE;
    }
    if (tabopts_check(T) != 0)
        return EXIT_USAGE;
    axmul_dataset *tr = NULL, *te = NULL;
    if (axmul_dataset_load(dataset, 1, &tr) != AXMUL_OK ||
        axmul_dataset_load(dataset, 0, &te) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        axmul_dataset_free(tr);
        return EXIT_USAGE;
    }
    int rc = EXIT_USAGE, n = 0, nt = 0;
    float *x = NULL, *xt = NULL;
    axmul_model *m = NULL;
    const uint8_t *test_labels = axmul_dataset_labels(te);
    if (from ? axmul_model_load(from, &m) : axmul_model_create_lenet5((uint64_t)seed, &m)) {
        errorf(from ? "--from %s" : "%s", axmul_error_detail());
        goto out;
    }
    /* the test images too: they go through the same network */
    const axmul_dataset *sets[2] = {tr, te};
    for (int i = 0; i < 2; i++) {
        if (from && check_input_shape(sets[i], m, "--from", from, dataset) != 0)
            goto out;
        if (!from && (axmul_dataset_rows(sets[i]) != 28 || axmul_dataset_cols(sets[i]) != 28 ||
                      axmul_dataset_channels(sets[i]) != 1)) {
            errorf("%s: %dx%dx%d %s images; the LeNet-5 trainer needs 28x28x1", dataset,
                   axmul_dataset_rows(sets[i]), axmul_dataset_cols(sets[i]),
                   axmul_dataset_channels(sets[i]), i == 0 ? "training" : "test");
            goto out;
        }
    }
    x = dataset_floats(tr, limit, &n);
    xt = dataset_floats(te, 0, &nt);
    if (!x || !xt) {
        errorf("out of memory");
        goto out;
    }
    if (check_labels(tr, (size_t)n, m, dataset) != 0 ||
        check_labels(te, (size_t)nt, m, dataset) != 0)
        goto out;
    const int nc = calib < n ? (int)calib : n;
    axmul_net_options no; /* the test network: float, then with the tables */
    axmul_net_options_init(&no);
    no.threads = (int)threads;
    no.per_channel = T->per_channel;
    double before = -1;
    const axmul_table **lt = NULL; /* per layer: its table in approximation-aware training */
    if (tabopts_resolve(T, m, from ? from : "LeNet-5") != 0)
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
    progress_t pr = {isatty(STDERR_FILENO), quiet, (int)epochs, axmul__tool_now()};
    o.progress = train_progress;
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

/* ---------------------------------------------------------------- calibrate */

static int cmd_calibrate_inner(int argc, char **argv, tabopts_t *T);

int axmul__cmd_calibrate(int argc, char **argv)
{
    tabopts_t T = {.L = {.kinds = AXMUL_APPROX_CONV}};
    int rc = cmd_calibrate_inner(argc, argv, &T);
    tabopts_free(&T);
    return rc;
}

static int cmd_calibrate_inner(int argc, char **argv, tabopts_t *T)
{
    const char *dataset = "fashion-mnist", *model = NULL;
    long limit = 10000, threads = 0;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"dataset", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        TABOPTS_LONG,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "m:d:n:t:T:a:L:ph", opts)) != -1) {
        int tab = tabopts_option(T, c, optarg, "calibration");
        if (tab < 0)
            return EXIT_USAGE;
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
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (axmul__tool_parse_long(optarg, 1, 1024, &threads)) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            printf("Usage: " PROG " calibrate --model DIR [--dataset SPEC] [--limit N]\n"
                   "                       [--mtab T.bin] [--approx conv|dense|all|LAYER,...]\n"
                   "                       [--layer-mtab LAYER=T.bin] [--per-channel]\n"
                   "Sets each conv2d/dense layer's input range to the min/max seen by the float\n"
                   "network on the first N training images (default 10000) and rewrites\n"
                   "DIR/model.json. Calibrated ranges make a test image's result independent of\n"
                   "its batch-mates. With tables (as for net), the approximated layers' ranges\n"
                   "are those of the network with the tables, layer after layer: for a model\n"
                   "fine-tuned for a multiplier (train --from --mtab does this itself).\n");
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " calibrate --help' for more information.\n");
            return EXIT_USAGE;
        }
    }
    if (!model) {
        errorf("--model DIR is required");
        return EXIT_USAGE;
    }
    if (tabopts_check(T) != 0)
        return EXIT_USAGE;
    axmul_model *m;
    if (axmul_model_load(model, &m) != AXMUL_OK) {
        errorf("--model %s", axmul_error_detail());
        return EXIT_USAGE;
    }
    axmul_dataset *d = NULL;
    float *x = NULL;
    int n = 0, rc = EXIT_USAGE;
    if (axmul_dataset_load(dataset, 1, &d) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    if (check_input_shape(d, m, "--model", model, dataset) != 0)
        goto out;
    if (tabopts_resolve(T, m, model) != 0)
        goto out;
    if (!(x = dataset_floats(d, limit, &n))) {
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

/* ---------------------------------------------------------------- net */

#define SNR_IMAGES 1000

typedef struct {
    int nl;
    int offset;        /* first image of the current batch */
    int limit;         /* images that take part in the SNR */
    float **exact;     /* per layer: outputs of the exact-table network for the SNR images */
    size_t *per;       /* per layer: outputs per image */
    double *sig, *err; /* per layer sums */
    int record;        /* 1: store into exact; 0: compare */
    float **sample;    /* per layer: the approximate output of the first image */
} snr_t;

static void snr_cb(void *ctx, int layer, const float *out, size_t count)
{
    snr_t *s = ctx;
    if (s->offset >= s->limit)
        return;
    int n_img = (int)(count / s->per[layer]);
    int take = s->limit - s->offset < n_img ? s->limit - s->offset : n_img;
    size_t cnt = (size_t)take * s->per[layer], base = (size_t)s->offset * s->per[layer];
    if (s->record) {
        memcpy(s->exact[layer] + base, out, cnt * sizeof(float));
        return;
    }
    if (s->offset == 0 && s->sample && s->sample[layer])
        memcpy(s->sample[layer], out, s->per[layer] * sizeof(float));
    for (size_t i = 0; i < cnt; i++) {
        double e = s->exact[layer][base + i], d = (double)out[i] - e;
        s->sig[layer] += e * e;
        s->err[layer] += d * d;
    }
}

typedef struct {
    const char *path;
    axmul_table *t;
} tab_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends every *.bin of dir, sorted by name. A sweep must not silently run on part of a folder:
 * a read error or out-of-memory fails the whole listing. */
static int list_dir(const char *dir, char ***paths, int *n)
{
    DIR *d = opendir(dir);
    if (!d) {
        errorf("--mtab-dir %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    char **found = NULL;
    int nf = 0, err = 0;
    for (;;) {
        errno = 0;
        if (!(e = readdir(d))) {
            err = errno;
            break;
        }
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".bin") != 0)
            continue;
        size_t pl = strlen(dir) + l + 2;
        char **nfnd = realloc(found, sizeof(char *) * (size_t)(nf + 1));
        char *name = nfnd ? malloc(pl) : NULL;
        if (nfnd)
            found = nfnd;
        if (!name) {
            err = ENOMEM;
            break;
        }
        snprintf(name, pl, "%s/%s", dir, e->d_name);
        found[nf++] = name;
    }
    closedir(d);
    char **all = err ? NULL : realloc(*paths, sizeof(char *) * (size_t)(*n + nf + 1));
    if (!all) {
        errorf("--mtab-dir %s: %s", dir, strerror(err ? err : ENOMEM));
        for (int i = 0; i < nf; i++)
            free(found[i]);
        free(found);
        return -1;
    }
    if (nf)
        qsort(found, (size_t)nf, sizeof(char *), cmp_str);
    *paths = all;
    for (int i = 0; i < nf; i++)
        (*paths)[(*n)++] = found[i];
    free(found);
    if (nf == 0)
        fprintf(stderr, PROG ": warning: --mtab-dir %s holds no .bin tables\n", dir);
    return 0;
}

/* ---------------------------------------------------------------- interrupts, resume */

/* One result row, in one write, synced: an interrupted run leaves only complete rows. */
static int emit_row(axmul__tool_rows *rows, FILE *out, const char *row, size_t len)
{
    if (rows->fd < 0) {
        fwrite(row, 1, len, out);
        return fflush(out) == 0 ? 0 : -1;
    }
    return axmul__tool_rows_write(rows, row, len);
}

static void usage_net(FILE *f)
{
    fprintf(f, "Usage: " PROG " net --model DIR --mtab T.bin [--mtab T2.bin ...] [--mtab-dir D]\n"
               "                 [--dataset fashion-mnist[:DIR]|mnist:DIR|npy:DIR] [--limit N]\n"
               "                 [--batch B] [--backend auto|cpu|cuda] [--threads N]\n"
               "                 [--approx conv|dense|all|LAYER[,...]] [--layer-mtab LAYER=T.bin]\n"
               "                 [--ranges calibrated|batch]\n"
               "                 [--per-channel] [--dump-operands DIR] [--predictions FILE]\n"
               "                 [--report DIR] [--shard I/N] [--output FILE [--resume]]\n"
               "                 [--format text|json|csv] [--quiet]\n"
               "Top-1 accuracy of the network on the test set with each multiplier table in the\n"
               "approximated layers (conv2d by default), next to the exact table's accuracy (the\n"
               "same quantized network with exact products), the float network's accuracy, the\n"
               "agreement with the exact network's predictions, and each conv2d/dense layer's\n"
               "output SNR against the exact network (first 1000 images). --format json prints\n"
               "one JSON object per line (JSON Lines), so results of several runs concatenate.\n"
               "--report DIR writes an HTML page with a Pareto plot, metrics, error heatmaps,\n"
               "confusion matrices and layer difference heatmaps; --shard I/N takes every N-th\n"
               "table starting at the I-th (doc/sweeps.md). --output FILE appends one complete,\n"
               "synced row per table; SIGINT/SIGTERM stop after the current table (exit 130) and\n"
               "--resume skips the tables already in FILE. npy:DIR reads DIR/x_test.npy (uint8\n"
               "images, (N, H, W) or (N, H, W, C)) and DIR/y_test.npy (labels), e.g. CIFAR-10\n"
               "saved from Keras' load_data(). Layer-wise: --approx also takes layer names\n"
               "(the --mtab tables in those layers only, the float network elsewhere), and\n"
               "--layer-mtab LAYER=T.bin (repeatable) fixes a conv2d/dense layer's table in every\n"
               "run; without --mtab, the fixed tables are the one run. Rows of such runs are\n"
               "named by their assignment, e.g. conv1=a.bin;conv2+fc1=b.bin (doc/sweeps.md).\n");
}

static int cmd_net_inner(int argc, char **argv, char ***pathsp, int *npathsp, layers_t *L);

int axmul__cmd_net(int argc, char **argv)
{
    /* the table list and the layer assignment outlive every early return of the command */
    char **paths = NULL;
    int npaths = 0;
    layers_t L = {.kinds = AXMUL_APPROX_CONV};
    int rc = cmd_net_inner(argc, argv, &paths, &npaths, &L);
    for (int i = 0; i < npaths; i++)
        free(paths[i]);
    free(paths);
    layers_free(&L);
    return rc;
}

#define paths (*pathsp)
#define npaths (*npathsp)

static int cmd_net_inner(int argc, char **argv, char ***pathsp, int *npathsp, layers_t *L)
{
    const char *model_dir = NULL, *dataset = "fashion-mnist", *dump = NULL, *pred_path = NULL;
    const char *report_dir = NULL, *out_path = NULL;
    long shard_i = 1, shard_n = 1;
    int resume = 0;
    int fmt = 0, quiet = 0, batch_ranges = 0, per_channel = 0, approx_given = 0, sweep_given = 0;
    long limit = 0, batch = 1000, threads = 0;
    axmul_backend backend = AXMUL_BACKEND_AUTO;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"dataset", required_argument, NULL, 'd'},
        {"mtab", required_argument, NULL, 'T'},
        {"mtab-dir", required_argument, NULL, 'D'},
        {"limit", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},
        {"backend", required_argument, NULL, 'B'},
        {"threads", required_argument, NULL, 't'},
        {"approx", required_argument, NULL, 'a'},
        {"ranges", required_argument, NULL, 'r'},
        {"per-channel", no_argument, NULL, 'p'},
        {"dump-operands", required_argument, NULL, 'o'},
        {"predictions", required_argument, NULL, 'P'},
        {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"report", required_argument, NULL, 'R'},
        {"shard", required_argument, NULL, 'S'},
        {"output", required_argument, NULL, 'O'},
        {"resume", no_argument, NULL, 'U'},
        {"layer-mtab", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = 0;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "m:d:T:D:n:b:B:t:a:r:po:P:f:qhR:S:O:UL:", opts)) !=
           -1) {
        switch (c) {
        case 'm':
            model_dir = optarg;
            break;
        case 'd':
            dataset = optarg;
            break;
        case 'T': {
            char **np = realloc(paths, sizeof(char *) * (size_t)(npaths + 1));
            if (!np)
                return EXIT_USAGE;
            paths = np;
            paths[npaths++] = strdup(optarg);
            sweep_given = 1;
            break;
        }
        case 'D':
            if (list_dir(optarg, &paths, &npaths) != 0)
                return EXIT_USAGE;
            sweep_given = 1;
            break;
        case 'L':
            if (layers_add_pin(L, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'n':
            if (axmul__tool_parse_long(optarg, 1, 100000000, &limit)) {
                errorf("--limit '%s': expected a positive count", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'b':
            if (axmul__tool_parse_long(optarg, 1, 1000000, &batch)) {
                errorf("--batch '%s': expected 1..1000000", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'B':
            if (strcmp(optarg, "auto") == 0)
                backend = AXMUL_BACKEND_AUTO;
            else if (strcmp(optarg, "cpu") == 0)
                backend = AXMUL_BACKEND_CPU;
            else if (strcmp(optarg, "cuda") == 0)
                backend = AXMUL_BACKEND_CUDA;
            else {
                errorf("--backend '%s': expected auto, cpu or cuda", optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (axmul__tool_parse_long(optarg, 1, 1024, &threads)) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'a':
            if (layers_parse_approx(L, optarg) != 0)
                return EXIT_USAGE;
            approx_given = 1;
            break;
        case 'r':
            if (strcmp(optarg, "batch") == 0)
                batch_ranges = 1;
            else if (strcmp(optarg, "calibrated") == 0)
                batch_ranges = 0;
            else {
                errorf("--ranges '%s': expected calibrated or batch", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'p':
            per_channel = 1;
            break;
        case 'o':
            dump = optarg;
            break;
        case 'P':
            pred_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                fmt = 0;
            else if (strcmp(optarg, "json") == 0)
                fmt = 1;
            else if (strcmp(optarg, "csv") == 0)
                fmt = 2;
            else {
                errorf("--format '%s': expected text, json or csv", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'R':
            report_dir = optarg;
            break;
        case 'O':
            out_path = optarg;
            break;
        case 'U':
            resume = 1;
            break;
        case 'S': {
            char *slash = strchr(optarg, '/'), *end;
            errno = 0;
            shard_i = strtol(optarg, &end, 10);
            if (!slash || end != slash || errno)
                shard_i = 0;
            else
                shard_n = strtol(slash + 1, &end, 10);
            if (shard_i < 1 || shard_n < 1 || shard_i > shard_n || *end || shard_n > 100000) {
                errorf("--shard '%s': expected I/N with 1 <= I <= N", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h':
            usage_net(stdout);
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " net --help' for more information.\n");
            return EXIT_USAGE;
        }
    }
    if (!model_dir || optind != argc) {
        errorf(model_dir ? "unexpected argument '%s'" : "--model DIR is required",
               model_dir ? argv[optind] : "");
        return EXIT_USAGE;
    }
    /* Without --mtab tables, --layer-mtab alone is one run: the fixed tables in their layers,
     * the float network elsewhere. */
    const int pin_only = !sweep_given && L->npins > 0;
    if (npaths == 0 && !pin_only) {
        errorf(sweep_given ? "no --mtab tables to run"
                           : "give at least one --mtab T.bin or --mtab-dir D (or --layer-mtab "
                             "LAYER=T.bin)");
        return EXIT_USAGE;
    }
    if (pin_only && approx_given) {
        errorf("--approx selects the layers of the --mtab tables: give --mtab or --mtab-dir "
               "(--layer-mtab alone approximates its layers only)");
        return EXIT_USAGE;
    }
    if (pin_only && report_dir) {
        errorf("--report plots one point per --mtab table: give --mtab or --mtab-dir");
        return EXIT_USAGE;
    }
    if (pin_only) { /* one run, without a swept table */
        if (!(paths = calloc(1, sizeof *paths)))
            return EXIT_USAGE;
        npaths = 1;
    }
    /* sharding: this run takes tables I, I+N, I+2N, ... (1-based) of the full list */
    if (shard_n > 1) {
        int k = 0;
        for (int i = 0; i < npaths; i++) {
            if (i % shard_n == shard_i - 1)
                paths[k++] = paths[i];
            else
                free(paths[i]);
        }
        npaths = k;
        if (npaths == 0) {
            fprintf(stderr, PROG ": note: shard %ld/%ld has no tables\n", shard_i, shard_n);
            return 0;
        }
    }
    if (resume && (!out_path || fmt == 0)) {
        errorf("--resume needs --output FILE with --format csv or json");
        return EXIT_USAGE;
    }
    const char *cpu_path; /* a bad AXMUL_CPU_PATH fails now, not after the float pass */
    if (axmul_cpu_path(&cpu_path) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return EXIT_USAGE;
    }
    axmul__tool_catch_interrupts();
    /* The LUT layers run on OpenMP threads; OpenBLAS's own pool would spin against them, and the
     * float layers of a small CNN gain nothing from it. */
    openblas_set_num_threads(1);
    axmul_model *m;
    if (axmul_model_load(model_dir, &m) != AXMUL_OK) {
        errorf("--model %s", axmul_error_detail());
        return EXIT_USAGE;
    }
    if (layers_resolve(L, m, model_dir, !pin_only) != 0 ||
        !(L->labels = calloc((size_t)npaths, sizeof *L->labels))) {
        axmul_model_free(m);
        return EXIT_USAGE;
    }
    for (; L->nlabels < npaths; L->nlabels++)
        if (!(L->labels[L->nlabels] = layers_label(L, m, paths[L->nlabels]))) {
            errorf("out of memory");
            axmul_model_free(m);
            return EXIT_USAGE;
        }
    axmul__tool_rows rows = {.fd = -1};
    int new_file = 1;
    if (out_path && resume) {
        char **done;
        int ndone;
        if ((ndone = axmul__tool_done_rows(out_path, fmt == 1, "table,", &done)) < 0) {
            errorf("--resume %s: %s", out_path, strerror(errno));
            axmul_model_free(m);
            return EXIT_USAGE;
        }
        new_file = ndone == 0;
        int k = 0; /* a row is done when its name matches: the table and any layer assignment */
        for (int i = 0; i < npaths; i++) {
            int seen = 0;
            for (int j = 0; j < ndone && !seen; j++)
                seen = strcmp(done[j], L->labels[i]) == 0;
            if (seen) {
                free(paths[i]);
                free(L->labels[i]);
            } else {
                paths[k] = paths[i];
                L->labels[k++] = L->labels[i];
            }
        }
        L->nlabels = k;
        if (!quiet)
            fprintf(stderr, PROG ": --resume: %d tables already in %s, %d to go\n", ndone, out_path,
                    k);
        for (int j = 0; j < ndone; j++)
            free(done[j]);
        free(done);
        npaths = k;
        if (npaths == 0) {
            axmul_model_free(m);
            return 0;
        }
    }
    if (!batch_ranges && !axmul_model_calibrated(m)) {
        errorf("--model %s: not calibrated (run '" PROG " calibrate --model %s', or use "
               "--ranges batch)",
               model_dir, model_dir);
        axmul_model_free(m);
        return EXIT_USAGE;
    }
    axmul_dataset *d;
    if (axmul_dataset_load(dataset, 0, &d) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        axmul_model_free(m);
        return EXIT_USAGE;
    }
    int n = 0, nl = axmul_model_num_layers(m);
    float *x = dataset_floats(d, limit, &n);
    const size_t per_img = image_size(d);
    const uint8_t *labels = axmul_dataset_labels(d);
    uint8_t *pf = malloc((size_t)n), *pe[2] = {NULL, NULL}, *pa = malloc((size_t)n);
    uint64_t *ah = calloc((size_t)nl * 256, sizeof *ah), *wh = calloc((size_t)nl * 256, sizeof *wh);
    snr_t snr = {0};
    axmul_net_workspace *ws = NULL;
    axmul__report *rep = NULL;
    int pl_n = 0, pl_idx[AXMUL_MODEL_MAX_LAYERS], pl_h[AXMUL_MODEL_MAX_LAYERS],
        pl_w[AXMUL_MODEL_MAX_LAYERS], pl_c[AXMUL_MODEL_MAX_LAYERS];
    const char *pl_names[AXMUL_MODEL_MAX_LAYERS];
    float *samples[AXMUL_MODEL_MAX_LAYERS] = {0};
    snr.nl = nl;
    snr.limit = n < SNR_IMAGES ? n : SNR_IMAGES;
    snr.exact = calloc((size_t)nl, sizeof *snr.exact);
    snr.per = calloc((size_t)nl, sizeof *snr.per);
    snr.sig = calloc((size_t)nl, sizeof *snr.sig);
    snr.err = calloc((size_t)nl, sizeof *snr.err);
    double exact_acc[2] = {-1, -1};
    float *exact_out[2][AXMUL_MODEL_MAX_LAYERS] = {{0}};
    const axmul_table *lt_run[AXMUL_MODEL_MAX_LAYERS], *lt_exact[AXMUL_MODEL_MAX_LAYERS];
    assert(nl <= AXMUL_MODEL_MAX_LAYERS); /* axmul_model_load's contract */
    if (!x || !pf || !pa || !ah || !wh || !snr.exact || !snr.per || !snr.sig || !snr.err) {
        errorf("out of memory");
        rc = EXIT_USAGE;
        goto out;
    }
    if (check_input_shape(d, m, "--model", model_dir, dataset) != 0 ||
        check_labels(d, (size_t)n, m, dataset) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    /* Opened here so that an unwritable file fails early, but replaced (without --resume) only
     * when the first table's row is ready: a mistyped argument or a run whose tables all fail
     * must not wipe the results of an earlier run. */
    if (out_path) {
        if (axmul__tool_rows_open(&rows, out_path, resume) != 0) {
            errorf("--output %s: %s", out_path, strerror(errno));
            rc = EXIT_USAGE;
            goto out;
        }
        if (resume && rows.had_content)
            new_file = 0;
    }
    axmul_net_options o;
    axmul_net_options_init(&o);
    if (axmul_net_workspace_create(&ws) != AXMUL_OK) {
        errorf("out of memory");
        rc = EXIT_USAGE;
        goto out;
    }
    o.workspace = ws;
    o.threads = (int)threads;
    o.backend = backend;
    o.batch_ranges = batch_ranges;
    o.per_channel = per_channel;

    /* the float network, once */
    for (int i0 = 0; i0 < n; i0 += (int)batch) {
        int nb = n - i0 < batch ? n - i0 : (int)batch;
        if (axmul_model_predict(m, &o, x + (size_t)i0 * per_img, nb, pf + i0, NULL) != AXMUL_OK) {
            errorf("%s", axmul_error_detail());
            rc = EXIT_USAGE;
            goto out;
        }
    }
    long fok = 0;
    for (int i = 0; i < n; i++)
        fok += pf[i] == labels[i];
    double float_acc = (double)fok / n;

    FILE *out = stdout;
    static char row[65536]; /* (a row names every layer of a layer-wise run) */
    char head[4096];
    int rl, head_len = 0; /* head: written before the first row (into the file: see above) */
    if (fmt == 0)
        head_len =
            snprintf(head, sizeof head,
                     "model %s, %d test images of %s, float accuracy %.4f\n%-28s %9s %9s %9s  %s\n",
                     model_dir, n, dataset, float_acc, "table", "accuracy", "exact", "agreement",
                     "layer SNR dB");
    else if (fmt == 2 && shard_i == 1 && new_file) /* one header when shards concatenate */
        head_len = snprintf(head, sizeof head,
                            "table,accuracy,exact_accuracy,float_accuracy,agreement,"
                            "layer_snr_db,images,seconds\n");
    head_len = head_len < 0 ? 0 : head_len < (int)sizeof head ? head_len : (int)sizeof head - 1;
    if (rows.fd < 0 && head_len) {
        emit_row(&rows, out, head, (size_t)head_len);
        head_len = 0;
    }
    int done_tables = 0;
    for (int i = 0; i < nl; i++) {
        const char *ty = axmul_model_layer_type(m, i);
        if (strcmp(ty, "conv2d") && strcmp(ty, "dense"))
            continue;
        pl_idx[pl_n] = i;
        pl_names[pl_n] = axmul_model_layer_name(m, i);
        axmul_model_layer_output_shape(m, i, &pl_h[pl_n], &pl_w[pl_n], &pl_c[pl_n]);
        pl_n++;
    }
    if (report_dir) {
        char *setup = layers_on(L) ? layers_label(L, m, "(each table)") : NULL;
        rep = axmul__report_begin(report_dir, model_dir, dataset, setup, n, axmul_model_classes(m),
                                  float_acc);
        free(setup);
        if (!rep) {
            rc = EXIT_USAGE;
            goto out;
        }
        for (int i = 0; i < nl; i++) {
            samples[i] = malloc(sizeof(float) * axmul_model_layer_output_size(m, i));
            if (!samples[i]) {
                errorf("out of memory");
                rc = EXIT_USAGE;
                goto out;
            }
        }
        snr.sample = samples;
    }
    for (int ti = 0; ti < npaths; ti++) {
        if (axmul__tool_interrupted())
            break;
        const char *path = paths[ti], *name = L->labels[ti]; /* path: NULL with no --mtab */
        int sgn = path ? axmul_name_is_signed(path) : 0;
        axmul_table *t = NULL;
        if (path && axmul_table_load(path, sgn, &t) != AXMUL_OK) {
            errorf("--mtab %s", axmul_error_detail());
            rc = EXIT_USAGE;
            continue;
        }
        /* the exact network of this signedness, once: predictions, SNR reference, operands */
        if (!pe[sgn]) {
            pe[sgn] = malloc((size_t)n);
            if (!pe[sgn] || layers_tables(L, t, 1, lt_exact) != 0) {
                errorf("out of memory");
                rc = EXIT_USAGE;
                axmul_table_free(t);
                goto out;
            }
            axmul_net_options po = o;
            po.layer_tables = lt_exact;
            po.layer_output = snr_cb;
            po.ctx = &snr;
            po.act_hist = dump ? ah : NULL;
            po.wt_hist = dump ? wh : NULL;
            snr.record = 1;
            for (int i = 0; i < nl; i++) {
                snr.per[i] = axmul_model_layer_output_size(m, i);
                if (!exact_out[sgn][i])
                    exact_out[sgn][i] = malloc(sizeof(float) * snr.per[i] * (size_t)snr.limit);
                if (!exact_out[sgn][i]) {
                    errorf("out of memory");
                    rc = EXIT_USAGE;
                    axmul_table_free(t);
                    goto out;
                }
                snr.exact[i] = exact_out[sgn][i];
            }
            for (int i0 = 0; i0 < n; i0 += (int)batch) {
                int nb = n - i0 < batch ? n - i0 : (int)batch;
                snr.offset = i0;
                if (axmul_model_predict(m, &po, x + (size_t)i0 * per_img, nb, pe[sgn] + i0, NULL) !=
                    AXMUL_OK) {
                    errorf("%s", axmul_error_detail());
                    rc = EXIT_USAGE;
                    axmul_table_free(t);
                    goto out;
                }
            }
            long eok = 0;
            for (int i = 0; i < n; i++)
                eok += pe[sgn][i] == labels[i];
            exact_acc[sgn] = (double)eok / n;
        }
        for (int i = 0; i < nl; i++) {
            snr.exact[i] = exact_out[sgn][i];
            snr.sig[i] = snr.err[i] = 0;
        }
        snr.record = 0;
        layers_tables(L, t, 0, lt_run); /* (makes no table: cannot fail) */
        o.layer_tables = lt_run;
        o.layer_output = snr_cb;
        o.ctx = &snr;
        o.act_hist = o.wt_hist = NULL;
        int tty = isatty(STDERR_FILENO) && !quiet;
        double t0 = axmul__tool_now();
        axmul_status st = AXMUL_OK;
        for (int i0 = 0; i0 < n && st == AXMUL_OK; i0 += (int)batch) {
            int nb = n - i0 < batch ? n - i0 : (int)batch;
            snr.offset = i0;
            st = axmul_model_predict(m, &o, x + (size_t)i0 * per_img, nb, pa + i0, NULL);
            if (tty)
                fprintf(stderr, "\r%s: %d/%d images", name, i0 + nb, n);
        }
        double secs = axmul__tool_now() - t0;
        if (tty)
            fprintf(stderr, "\r%*s\r", 60, "");
        if (st != AXMUL_OK) {
            errorf("%s: %s", name, axmul_error_detail());
            rc = EXIT_USAGE;
            axmul_table_free(t);
            continue;
        }
        long ok = 0, agree = 0;
        for (int i = 0; i < n; i++) {
            ok += pa[i] == labels[i];
            agree += pa[i] == pe[sgn][i];
        }
        double acc = (double)ok / n, agr = (double)agree / n;
        if (pred_path) { /* whole or absent, as every other file the tools write */
            axmul__tool_buf pb = {0};
            for (int i = 0; i < n; i++)
                axmul__tool_bprintf(&pb, "%d %d %d\n", i, pa[i], labels[i]);
            if (axmul_file_write_atomic(pred_path, pb.s ? pb.s : "", pb.len) != AXMUL_OK) {
                errorf("--predictions %s", axmul_error_detail());
                rc = EXIT_USAGE;
            }
            free(pb.s);
        }
        char snrtxt[AXMUL_MODEL_MAX_LAYERS * 24] = ""; /* at most 20 characters per layer */
        size_t sl = 0;
        int first_snr = 1;
        for (int i = 0; i < nl; i++) {
            const char *ty = axmul_model_layer_type(m, i);
            if (strcmp(ty, "conv2d") && strcmp(ty, "dense"))
                continue;
            double v = snr.err[i] > 0 ? 10.0 * log10(snr.sig[i] / snr.err[i]) : INFINITY;
            char one[48];
            if (fmt == 1)
                snprintf(one, sizeof one, isfinite(v) ? "%.3f" : "null", v);
            else
                snprintf(one, sizeof one, isfinite(v) ? "%.2f" : "inf", v);
            sl += (size_t)snprintf(snrtxt + sl, sizeof snrtxt - sl, "%s%s",
                                   first_snr ? ""
                                             : (fmt == 1   ? ", "
                                                : fmt == 2 ? ";"
                                                           : " "),
                                   one);
            first_snr = 0;
        }
        if (fmt == 0)
            rl = snprintf(row, sizeof row, "%-28s %9.4f %9.4f %9.4f  %s  (%.2f s)\n", name, acc,
                          exact_acc[sgn], agr, snrtxt, secs);
        else if (fmt == 1) {
            axmul__tool_buf jn = {0}, jl = {0};
            axmul__tool_json_str(&jn, name);
            if (layers_on(L)) /* the assignment, layer by layer */
                for (int i = 0; i < nl; i++) {
                    const char *f = layers_file(L, i, path);
                    if (!f)
                        continue;
                    axmul__tool_bprintf(&jl, "%s", jl.len ? ", " : ", \"layer_tables\": {");
                    axmul__tool_json_str(&jl, axmul_model_layer_name(m, i));
                    axmul__tool_bprintf(&jl, ": ");
                    axmul__tool_json_str(&jl, f);
                }
            if (jl.len)
                axmul__tool_bprintf(&jl, "}");
            rl = snprintf(row, sizeof row,
                          "{\"table\": %s, \"accuracy\": %.6f, \"exact_accuracy\": %.6f, "
                          "\"float_accuracy\": %.6f, \"agreement\": %.6f, \"layer_snr_db\": [%s], "
                          "\"images\": %d, \"seconds\": %.4f%s}\n",
                          jn.s, acc, exact_acc[sgn], float_acc, agr, snrtxt, n, secs,
                          jl.s ? jl.s : "");
            free(jn.s);
            free(jl.s);
        } else
            rl = snprintf(row, sizeof row, "%s,%.6f,%.6f,%.6f,%.6f,%s,%d,%.4f\n", name, acc,
                          exact_acc[sgn], float_acc, agr, snrtxt, n, secs);
        if (rows.fd >= 0 && done_tables == 0 && head_len &&
            emit_row(&rows, out, head, (size_t)head_len) != 0)
            rl = -1;
        if (rl < 0 || (size_t)rl >= sizeof row || emit_row(&rows, out, row, (size_t)rl) != 0) {
            errorf("%s: %s", out_path ? out_path : "standard output",
                   rl >= (int)sizeof row ? "result row too long" : strerror(errno));
            rc = EXIT_USAGE;
            axmul_table_free(t);
            break;
        }
        done_tables++;
        if (rep) {
            double snrv[AXMUL_MODEL_MAX_LAYERS];
            const float *sa[AXMUL_MODEL_MAX_LAYERS], *se[AXMUL_MODEL_MAX_LAYERS];
            for (int k = 0; k < pl_n; k++) {
                int i = pl_idx[k];
                snrv[k] = snr.err[i] > 0 ? 10.0 * log10(snr.sig[i] / snr.err[i]) : INFINITY;
                sa[k] = samples[i];
                se[k] = exact_out[sgn][i];
            }
            axmul__report_row rrow = {path, t,  acc, exact_acc[sgn], agr,  secs, pl_n, pl_names,
                                      snrv, sa, se,  pl_h,           pl_w, pl_c, pa,   labels,
                                      n};
            if (axmul__report_add(rep, &rrow) != 0)
                rc = EXIT_USAGE;
        }
        axmul_table_free(t);
    }
    if (axmul__tool_interrupted()) {
        errorf("interrupted after %d of %d tables; every finished row is complete%s", done_tables,
               npaths, out_path ? "; add --resume to continue" : "");
        rc = 130;
    }
    if (rep) {
        if (axmul__report_end(rep) != 0)
            rc = EXIT_USAGE;
        else if (!quiet)
            fprintf(stderr, PROG ": report written to %s/index.html\n", report_dir);
        rep = NULL;
    }
    if (dump) {
        if (mkdir(dump, 0777) != 0 && errno != EEXIST) {
            errorf("--dump-operands %s: %s", dump, strerror(errno));
            rc = EXIT_USAGE;
        } else {
            uint64_t ta[256] = {0}, tw[256] = {0};
            for (int i = 0; i < nl; i++) {
                uint64_t sa = 0;
                for (int k = 0; k < 256; k++)
                    sa += ah[i * 256 + k];
                if (!sa)
                    continue;
                for (int which = 0; which < 2; which++) {
                    char p[4096], *buf = malloc(256 * 24);
                    size_t bl = 0;
                    const uint64_t *h = (which ? wh : ah) + i * 256;
                    for (int k = 0; k < 256; k++) {
                        bl += (size_t)snprintf(buf + bl, 24, "%llu\n", (unsigned long long)h[k]);
                        (which ? tw : ta)[k] += h[k];
                    }
                    snprintf(p, sizeof p, "%s/%s_%s.txt", dump, axmul_model_layer_name(m, i),
                             which ? "weights" : "activations");
                    if (axmul_file_write_atomic(p, buf, bl) != AXMUL_OK) {
                        errorf("%s", axmul_error_detail());
                        rc = EXIT_USAGE;
                    }
                    free(buf);
                }
            }
            for (int which = 0; which < 2; which++) {
                char p[4096], buf[256 * 24];
                size_t bl = 0;
                for (int k = 0; k < 256; k++)
                    bl += (size_t)snprintf(buf + bl, 24, "%llu\n",
                                           (unsigned long long)(which ? tw : ta)[k]);
                snprintf(p, sizeof p, "%s/%s.txt", dump, which ? "weights" : "activations");
                if (axmul_file_write_atomic(p, buf, bl) != AXMUL_OK) {
                    errorf("%s", axmul_error_detail());
                    rc = EXIT_USAGE;
                }
            }
            if (!quiet)
                fprintf(stderr,
                        PROG ": operand histograms in %s (activations.txt, weights.txt: "
                             "axmul-verify --dist-a/--dist-b)\n",
                        dump);
        }
    }
out:
    axmul__tool_rows_close(&rows);
    if (rep)
        axmul__report_end(rep);
    for (int i = 0; i < AXMUL_MODEL_MAX_LAYERS; i++)
        free(samples[i]);
    axmul_net_workspace_free(ws);
    for (int s = 0; s < 2; s++) {
        free(pe[s]);
        for (int i = 0; i < AXMUL_MODEL_MAX_LAYERS; i++)
            free(exact_out[s][i]);
    }
    free(x);
    free(pf);
    free(pa);
    free(ah);
    free(wh);
    free(snr.exact);
    free(snr.per);
    free(snr.sig);
    free(snr.err);
    axmul_dataset_free(d);
    axmul_model_free(m);
    return rc;
}

#undef paths
#undef npaths
