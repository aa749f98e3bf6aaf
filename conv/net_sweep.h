/* axconv-test net: the state of a sweep, shared by the command line (conv/cmd_net.c) and the
 * runs (conv/net_sweep.c). Internal to the tool. */
#ifndef AXMUL_CONV_NET_SWEEP_H
#define AXMUL_CONV_NET_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "axmul.h"
#include "conv/netopts.h"
#include "conv/report.h"
#include "lib/tool/tool.h"

#define SNR_IMAGES 1000

typedef struct {
    int nl;
    int offset;               /* first image of the current batch */
    int limit;                /* images that take part in the SNR */
    float **exact;            /* per layer: outputs of the exact-table network for the SNR images */
    size_t *per;              /* per layer: outputs per image */
    axmul__tool_errstats *st; /* per layer: against the exact network */
    int record;               /* 1: store into exact; 0: compare */
    float **sample;           /* per layer: the approximate output of the first image */
} snr_t;

/* Collects each approximated layer's outputs: into snr_t.exact while recording the exact
 * network, else against them (an axmul_net_options.layer_output). */
void axmul__net_snr_cb(void *ctx, int layer, const float *out, size_t count);

/* The command line of net. */
typedef struct {
    const char *model_dir, *dataset, *dump, *pred_path, *report_dir, *out_path;
    long shard_i, shard_n, limit, batch, threads;
    int resume, fmt, quiet, batch_ranges, per_channel, approx_given, sweep_given, pin_only;
    axmul_backend backend;
} net_opts;

/* A sweep: the options, the tables (paths: NULL for the one run of --layer-mtab alone), the
 * model and data, the results of the float and exact networks, and what each table's run
 * needs. */
typedef struct {
    net_opts o;
    char **paths;
    int npaths;
    axmul__layers L;
    axmul_model *m;
    axmul_dataset *d;
    float *x;
    int n, nl;
    size_t per_img;
    const uint8_t *labels;
    uint8_t *pf, *pe[2], *pa; /* predictions: float, exact (unsigned, signed), approximate */
    uint64_t *ah, *wh;        /* operand histograms of the exact networks (--dump-operands) */
    snr_t snr;
    axmul_net_workspace *ws;
    axmul_net_options no;
    axmul__report *rep;
    int name_w;            /* width of the text table's name column */
    axmul__tool_buf preds; /* --predictions: every table's so far, rewritten whole per table */
    axmul__tool_rows rows;
    int new_file;
    double float_acc, exact_acc[2];
    /* the conv2d/dense layers, for the report */
    int pl_n, pl_idx[AXMUL_MODEL_MAX_LAYERS], pl_h[AXMUL_MODEL_MAX_LAYERS],
        pl_w[AXMUL_MODEL_MAX_LAYERS], pl_c[AXMUL_MODEL_MAX_LAYERS];
    const char *pl_names[AXMUL_MODEL_MAX_LAYERS];
    float *samples[AXMUL_MODEL_MAX_LAYERS];
    float *exact_out[2][AXMUL_MODEL_MAX_LAYERS];
    const axmul_table *lt_run[AXMUL_MODEL_MAX_LAYERS], *lt_exact[AXMUL_MODEL_MAX_LAYERS];
    char head[4096]; /* written before the first row (into the file: see net_data) */
    int head_len, done_tables;
} net_run;

/* The float network, the result header, the conv2d/dense layers and the report. 0, or -1 after
 * an error. */
int axmul__net_start(net_run *R);

/* The sweep over every run, then the report and the operand histograms. The tool's exit
 * status. */
int axmul__net_sweep(net_run *R);

/* Frees everything of R, and R. */
void axmul__net_free(net_run *R);

#endif
