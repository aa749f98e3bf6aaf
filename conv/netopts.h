/* axconv-test: what the network commands (net, train, calibrate) share: data sets as floats and
 * their checks against a model, the layer-wise table assignment of --approx/--layer-mtab, the
 * table options of train and calibrate, training progress. Internal to the tool; errors are
 * printed in the tool's format. */
#ifndef AXMUL_CONV_NETOPTS_H
#define AXMUL_CONV_NETOPTS_H

#include <getopt.h>
#include <stddef.h>

#include "axmul.h"

/* Values per image (rows x columns x channels). */
size_t axmul__image_size(const axmul_dataset *d);

/* Images as floats in [0, 1] (pixel / 255), at most limit of them (0 = all); NULL when out of
 * memory. */
float *axmul__dataset_floats(const axmul_dataset *d, long limit, int *n_out);

/* The dataset's images must be what the model's input expects (opt, model and dataset name
 * them in the error). 0 or -1. */
int axmul__check_input_shape(const axmul_dataset *d, const axmul_model *m, const char *opt,
                             const char *model, const char *dataset);

/* Every label of the first n images must be one of the model's classes. 0 or -1. */
int axmul__check_labels(const axmul_dataset *d, size_t n, const axmul_model *m,
                        const char *dataset);

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
} axmul__layers;

/* --approx LIST (conv, dense, all and layer names) and --layer-mtab NAME=FILE into L. 0 or -1. */
int axmul__layers_parse_approx(axmul__layers *L, const char *arg);
int axmul__layers_add_pin(axmul__layers *L, const char *arg);

/* 1 when the run assigns tables per layer (the result rows then name the layers). */
int axmul__layers_on(const axmul__layers *L);

/* Checks the names against the model, loads the --layer-mtab tables and marks the layers of the
 * swept table. sweeping: --mtab tables were given. 0 or -1. */
int axmul__layers_resolve(axmul__layers *L, const axmul_model *m, const char *model_dir,
                          int sweeping);

/* The table of each layer (out: num_layers entries) in a run with the swept table t (NULL:
 * none), or, exact = 1, in the exact network of that run: the same layers quantized, with the
 * exact table of each layer's signedness. -1 when an exact table cannot be made. */
int axmul__layers_tables(axmul__layers *L, const axmul_table *t, int exact,
                         const axmul_table **out);

/* The file of layer i's table in a run with the swept table path, NULL on float layers. */
const char *axmul__layers_file(const axmul__layers *L, int i, const char *path);

/* "conv1+fc1=a.bin;conv2=b.bin": the layers and their tables, grouped by table in layer
 * order; the name of a run (axmul__layers_label: the swept table's path when not layer-wise).
 * malloc'd; NULL when out of memory. */
char *axmul__layers_assignment(const axmul__layers *L, const axmul_model *m, const char *path);
char *axmul__layers_label(const axmul__layers *L, const axmul_model *m, const char *path);

void axmul__layers_free(axmul__layers *L);

/* The table options of train and calibrate: one --mtab table in the layers of --approx, fixed
 * tables (--layer-mtab) and --per-channel; and what they resolve to against the model. */
typedef struct {
    axmul__layers L;
    const char *mtab;
    int approx_given, per_channel;
    axmul_table *t;
    const axmul_table **lt; /* per layer: its table, NULL for float; NULL: no table option */
    char *assignment;       /* "conv1+conv2=T.bin" */
} axmul__tabopts;

/* The table options' getopt entries ("T:a:L:p" in the short option string). */
/* clang-format off */
#define AXMUL__TABOPTS_LONG                                                                        \
    {"mtab", required_argument, NULL, 'T'},                                                        \
    {"approx", required_argument, NULL, 'a'},                                                      \
    {"layer-mtab", required_argument, NULL, 'L'},                                                  \
    {"per-channel", no_argument, NULL, 'p'}
/* clang-format on */

/* Training progress on stderr (axmul__train_progress, an axmul_train_options.progress): a bar
 * on a terminal, a line per epoch otherwise, nothing when quiet. */
typedef struct {
    int tty, quiet, epochs;
    double t0;
} axmul__progress;

/* Option c with argument arg, if it is one of the table options (cmd names the command in an
 * error): 1 taken, 0 not one of them, -1 after an error. */
int axmul__tabopts_option(axmul__tabopts *T, int c, const char *arg, const char *cmd);

/* After the options: --approx and --per-channel say how a table is used. 0 or -1. */
int axmul__tabopts_check(const axmul__tabopts *T);

/* Loads the tables and assigns them to m's layers (T->lt, T->assignment); nothing without a
 * table option. 0 or -1. */
int axmul__tabopts_resolve(axmul__tabopts *T, const axmul_model *m, const char *model_name);

void axmul__tabopts_free(axmul__tabopts *T);

void axmul__train_progress(void *ctx, int epoch, int done, int total, double loss, double acc);

#endif
