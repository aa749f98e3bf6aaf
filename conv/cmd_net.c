/* axconv-test net: a whole network on real data with one or many multiplier tables (a sweep):
 * top-1 accuracy next to the exact table's and the float network's, agreement, each layer's
 * output SNR; JSON Lines, CSV or text rows, resumable result files, shards, an HTML report,
 * operand histograms. */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "axmul.h"
#include "conv/netopts.h"
#include "conv/options.h"
#include "conv/net_sweep.h"
#include "conv/report.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

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

static void usage_net(FILE *f)
{
    fprintf(f, "Usage: " PROG " net --model DIR|M.onnx --mtab T.bin [--mtab T2.bin ...]\n"
               "                 [--mtab-dir D]\n"
               "                 [--dataset fashion-mnist[:DIR]|mnist:DIR|npy:DIR] [--limit N]\n"
               "                 [--batch B] [--backend auto|cpu|cuda] [--threads N]\n"
               "                 [--approx conv|dense|all|matmul|LAYER[,...]]\n"
               "                 [--layer-mtab LAYER=T.bin]\n"
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

/* Parses the options into R->o and the table list: 0 to go on, 1 after --help, -1 after a usage
 * error (printed). */
static int net_parse(int argc, char **argv, net_run *R)
{
    net_opts *o = &R->o;
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
    int c;
    optind = 1;
    while ((c = axmul__tool_getopt(argc, argv, "m:d:T:D:n:b:B:t:a:r:po:P:f:qhR:S:O:UL:", opts)) !=
           -1) {
        switch (c) {
        case 'm':
            o->model_dir = optarg;
            break;
        case 'd':
            o->dataset = optarg;
            break;
        case 'T': {
            char **np = realloc(R->paths, sizeof(char *) * (size_t)(R->npaths + 1));
            if (!np)
                return -1;
            R->paths = np;
            R->paths[R->npaths++] = strdup(optarg);
            o->sweep_given = 1;
            break;
        }
        case 'D':
            if (list_dir(optarg, &R->paths, &R->npaths) != 0)
                return -1;
            o->sweep_given = 1;
            break;
        case 'L':
            if (axmul__layers_add_pin(&R->L, optarg) != 0)
                return -1;
            break;
        case 'n':
            if (axmul__tool_parse_long(optarg, 1, 100000000, &o->limit)) {
                errorf("--limit '%s': expected a positive count", optarg);
                return -1;
            }
            break;
        case 'b':
            if (axmul__tool_parse_long(optarg, 1, 1000000, &o->batch)) {
                errorf("--batch '%s': expected 1..1000000", optarg);
                return -1;
            }
            break;
        case 'B':
            if (axmul__opt_backend("--backend", optarg, &o->backend) != 0)
                return -1;
            break;
        case 't':
            if (axmul__tool_parse_long(optarg, 1, 1024, &o->threads)) {
                errorf("--threads '%s': expected 1..1024", optarg);
                return -1;
            }
            break;
        case 'a':
            if (axmul__layers_parse_approx(&R->L, optarg) != 0)
                return -1;
            o->approx_given = 1;
            break;
        case 'r':
            if (strcmp(optarg, "batch") == 0)
                o->batch_ranges = 1;
            else if (strcmp(optarg, "calibrated") == 0)
                o->batch_ranges = 0;
            else {
                errorf("--ranges '%s': expected calibrated or batch", optarg);
                return -1;
            }
            break;
        case 'p':
            o->per_channel = 1;
            break;
        case 'o':
            o->dump = optarg;
            break;
        case 'P':
            o->pred_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                o->fmt = 0;
            else if (strcmp(optarg, "json") == 0)
                o->fmt = 1;
            else if (strcmp(optarg, "csv") == 0)
                o->fmt = 2;
            else {
                errorf("--format '%s': expected text, json or csv", optarg);
                return -1;
            }
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'R':
            o->report_dir = optarg;
            break;
        case 'O':
            o->out_path = optarg;
            break;
        case 'U':
            o->resume = 1;
            break;
        case 'S': {
            char *slash = strchr(optarg, '/'), *end;
            errno = 0;
            o->shard_i = strtol(optarg, &end, 10);
            if (!slash || end != slash || errno)
                o->shard_i = 0;
            else
                o->shard_n = strtol(slash + 1, &end, 10);
            if (o->shard_i < 1 || o->shard_n < 1 || o->shard_i > o->shard_n || *end ||
                o->shard_n > 100000) {
                errorf("--shard '%s': expected I/N with 1 <= I <= N", optarg);
                return -1;
            }
            break;
        }
        case 'h':
            usage_net(stdout);
            return 1;
        default:
            fprintf(stderr, "Try '" PROG " net --help' for more information.\n");
            return -1;
        }
    }
    if (!o->model_dir || optind != argc) {
        errorf(o->model_dir ? "unexpected argument '%s'" : "--model DIR is required",
               o->model_dir ? argv[optind] : "");
        return -1;
    }
    return 0;
}

/* The runs of the sweep: the --mtab tables (this shard's), or without them the one run of the
 * --layer-mtab tables. 0 to go on, 1 when there is nothing to do, -1 after a usage error. */
static int net_select_tables(net_run *R)
{
    net_opts *o = &R->o;
    /* Without --mtab tables, --layer-mtab alone is one run: the fixed tables in their layers,
     * the float network elsewhere. */
    o->pin_only = !o->sweep_given && R->L.npins > 0;
    if (R->npaths == 0 && !o->pin_only) {
        errorf(o->sweep_given ? "no --mtab tables to run"
                              : "give at least one --mtab T.bin or --mtab-dir D (or --layer-mtab "
                                "LAYER=T.bin)");
        return -1;
    }
    if (o->pin_only && o->approx_given) {
        errorf("--approx selects the layers of the --mtab tables: give --mtab or --mtab-dir "
               "(--layer-mtab alone approximates its layers only)");
        return -1;
    }
    if (o->pin_only && o->report_dir) {
        errorf("--report plots one point per --mtab table: give --mtab or --mtab-dir");
        return -1;
    }
    if (o->pin_only) { /* one run, without a swept table */
        if (!(R->paths = calloc(1, sizeof *R->paths)))
            return -1;
        R->npaths = 1;
    }
    /* sharding: this run takes tables I, I+N, I+2N, ... (1-based) of the full list */
    if (o->shard_n > 1) {
        int k = 0;
        for (int i = 0; i < R->npaths; i++) {
            if (i % o->shard_n == o->shard_i - 1)
                R->paths[k++] = R->paths[i];
            else
                free(R->paths[i]);
        }
        R->npaths = k;
        if (R->npaths == 0) {
            fprintf(stderr, PROG ": note: shard %ld/%ld has no tables\n", o->shard_i, o->shard_n);
            return 1;
        }
    }
    if (o->resume && (!o->out_path || o->fmt == 0)) {
        errorf("--resume needs --output FILE with --format csv or json");
        return -1;
    }
    return 0;
}

/* --resume: drops the runs whose rows the output file already holds (a row is done when its
 * name matches: the table and any layer assignment). 0 to go on, 1 when every run is done, -1
 * after an error. */
static int net_skip_done(net_run *R)
{
    const net_opts *o = &R->o;
    char **done;
    int ndone;
    if ((ndone = axmul__tool_done_rows(o->out_path, o->fmt == 1, "table,", NULL, &done)) < 0) {
        if (ndone == -1)
            errorf("--resume %s: %s", o->out_path, strerror(errno));
        return -1;
    }
    R->new_file = ndone == 0;
    int k = 0;
    for (int i = 0; i < R->npaths; i++) {
        int seen = 0;
        for (int j = 0; j < ndone && !seen; j++)
            seen = strcmp(done[j], R->L.labels[i]) == 0;
        if (seen) {
            free(R->paths[i]);
            free(R->L.labels[i]);
        } else {
            R->paths[k] = R->paths[i];
            R->L.labels[k++] = R->L.labels[i];
        }
    }
    R->L.nlabels = k;
    if (!o->quiet)
        fprintf(stderr, PROG ": --resume: %d tables already in %s, %d to go\n", ndone, o->out_path,
                k);
    for (int j = 0; j < ndone; j++)
        free(done[j]);
    free(done);
    R->npaths = k;
    return R->npaths == 0 ? 1 : 0;
}

/* The model, its layer assignment and the names of the runs. 0 to go on, 1 when --resume
 * leaves nothing to do, -1 after an error. */
static int net_model(net_run *R)
{
    const net_opts *o = &R->o;
    if (axmul_model_load(o->model_dir, &R->m) != AXMUL_OK) {
        errorf("--model %s", axmul_error_detail());
        return -1;
    }
    axmul__layers *L = &R->L;
    if (axmul__layers_resolve(L, R->m, o->model_dir, !o->pin_only) != 0 ||
        !(L->labels = calloc((size_t)R->npaths, sizeof *L->labels)))
        return -1;
    for (; L->nlabels < R->npaths; L->nlabels++)
        if (!(L->labels[L->nlabels] = axmul__layers_label(L, R->m, R->paths[L->nlabels]))) {
            errorf("out of memory");
            return -1;
        }
    R->new_file = 1;
    if (o->out_path && o->resume) {
        int r = net_skip_done(R);
        if (r != 0)
            return r;
    }
    if (!o->batch_ranges && !axmul_model_calibrated(R->m)) {
        errorf("--model %s: not calibrated (run '" PROG " calibrate --model %s', or use "
               "--ranges batch)",
               o->model_dir, o->model_dir);
        return -1;
    }
    return 0;
}

/* The test images and the buffers of the sweep. 0, or -1 after an error. */
static int net_data(net_run *R)
{
    const net_opts *o = &R->o;
    if (axmul_dataset_load(o->dataset, 0, &R->d) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return -1;
    }
    R->nl = axmul_model_num_layers(R->m);
    const int nl = R->nl;
    R->x = axmul__dataset_floats(R->d, o->limit, &R->n);
    R->per_img = axmul__image_size(R->d);
    R->labels = axmul_dataset_labels(R->d);
    R->pf = malloc((size_t)R->n);
    R->pa = malloc((size_t)R->n);
    R->ah = calloc((size_t)nl * 256, sizeof *R->ah);
    R->wh = calloc((size_t)nl * 256, sizeof *R->wh);
    snr_t *snr = &R->snr;
    snr->nl = nl;
    snr->limit = R->n < SNR_IMAGES ? R->n : SNR_IMAGES;
    snr->exact = calloc((size_t)nl, sizeof *snr->exact);
    snr->per = calloc((size_t)nl, sizeof *snr->per);
    snr->st = calloc((size_t)nl, sizeof *snr->st);
    R->exact_acc[0] = R->exact_acc[1] = -1;
    assert(nl <= AXMUL_MODEL_MAX_LAYERS); /* axmul_model_load's contract */
    if (!R->x || !R->pf || !R->pa || !R->ah || !R->wh || !snr->exact || !snr->per || !snr->st) {
        errorf("out of memory");
        return -1;
    }
    if (axmul__check_input_shape(R->d, R->m, "--model", o->model_dir, o->dataset) != 0 ||
        axmul__check_labels(R->d, (size_t)R->n, R->m, o->dataset) != 0)
        return -1;
    /* Opened here so that an unwritable file fails early, but replaced (without --resume) only
     * when the first table's row is ready: a mistyped argument or a run whose tables all fail
     * must not wipe the results of an earlier run. */
    if (o->out_path) {
        if (axmul__tool_rows_open(&R->rows, o->out_path, o->resume) != 0) {
            errorf("--output %s: %s", o->out_path, strerror(errno));
            return -1;
        }
        if (o->resume && R->rows.had_content)
            R->new_file = 0;
    }
    axmul_net_options_init(&R->no);
    if (axmul_net_workspace_create(&R->ws) != AXMUL_OK) {
        errorf("out of memory");
        return -1;
    }
    R->no.workspace = R->ws;
    R->no.threads = (int)o->threads;
    R->no.backend = o->backend;
    R->no.batch_ranges = o->batch_ranges;
    R->no.per_channel = o->per_channel;
    return 0;
}

int axmul__cmd_net(int argc, char **argv)
{
    net_run *R = calloc(1, sizeof *R);
    if (!R) {
        errorf("out of memory");
        return AXMUL__EXIT_USAGE;
    }
    R->o.dataset = "fashion-mnist";
    R->o.shard_i = R->o.shard_n = 1;
    R->o.batch = 1000;
    R->o.backend = AXMUL_BACKEND_AUTO;
    R->L.kinds = AXMUL_APPROX_CONV;
    R->rows.fd = -1;
    int rc = AXMUL__EXIT_USAGE, r = net_parse(argc, argv, R);
    if (r > 0)
        rc = AXMUL__EXIT_OK;
    if (r != 0 || (r = net_select_tables(R)) != 0) {
        rc = r > 0 ? AXMUL__EXIT_OK : rc;
        goto out;
    }
    /* the results files against the model's files and every table */
    char mj[4096];
    snprintf(mj, sizeof mj, "%s/model.json", R->o.model_dir);
    const char *mfiles[2] = {R->o.model_dir, mj};
    for (int k = 0; k < 2; k++) {
        const char *opt = k ? "--predictions" : "--output", *f = k ? R->o.pred_path : R->o.out_path;
        if (axmul__tool_refuse_overwrite(opt, f, mfiles, 2) != 0 ||
            axmul__tool_refuse_overwrite(opt, f, (const char *const *)R->paths,
                                         (size_t)R->npaths) != 0)
            goto out;
    }
    const char *cpu_path; /* a bad AXMUL_CPU_PATH fails now, not after the float pass */
    if (axmul_cpu_path(&cpu_path) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        goto out;
    }
    axmul__tool_catch_interrupts();
    /* The LUT layers run on OpenMP threads; OpenBLAS's own pool would spin against them, and the
     * float layers of a small CNN gain nothing from it. */
    openblas_set_num_threads(1);
    /* OpenMP threads meet at a barrier after every layer: where other processes hold the CPUs,
     * each barrier waits for a descheduled thread (seen: 2 threads 8x slower than 1 at batch 1) */
    double load;
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!R->o.threads && !R->o.quiet && ncpu > 1 && getloadavg(&load, 1) == 1 &&
        load >= (double)ncpu - 0.5)
        fprintf(stderr,
                PROG ": note: the machine is busy (load %.1f on %ld CPUs): if this run is slow, "
                     "try --threads 1\n",
                load, ncpu);
    if ((r = net_model(R)) != 0) {
        rc = r > 0 ? AXMUL__EXIT_OK : rc;
        goto out;
    }
    if (net_data(R) != 0 || axmul__net_start(R) != 0)
        goto out;
    rc = axmul__net_sweep(R);
out:
    axmul__net_free(R);
    return rc;
}
