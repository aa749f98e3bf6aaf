/* axconv-test net: the runs of a sweep (conv/net_sweep.h): the float network once, the exact
 * network of each signedness once, then each table's network, its result row, predictions and
 * report row; the operand histograms at the end. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axmul.h"
#include "conv/net_sweep.h"
#include "conv/options.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

void axmul__net_snr_cb(void *ctx, int layer, const float *out, size_t count)
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
    axmul__tool_errstats_add(&s->st[layer], out, s->exact[layer] + base, cnt);
}

/* One result row, in one write, synced: an interrupted run leaves only complete rows. */
static int emit_row(axmul__tool_rows *rows, FILE *out, const char *row, size_t len)
{
    if (rows->fd < 0) {
        fwrite(row, 1, len, out);
        return fflush(out) == 0 ? 0 : -1;
    }
    return axmul__tool_rows_write(rows, row, len);
}

/* Predictions of the network of options po over the test images, in batches. 0, or -1 after an
 * error. */
static int net_predict(net_run *R, const axmul_net_options *po, uint8_t *pred, const char *name)
{
    const int tty = name && isatty(STDERR_FILENO) && !R->o.quiet;
    for (int i0 = 0; i0 < R->n; i0 += (int)R->o.batch) {
        const int nb = R->n - i0 < R->o.batch ? R->n - i0 : (int)R->o.batch;
        R->snr.offset = i0;
        if (axmul_model_predict(R->m, po, R->x + (size_t)i0 * R->per_img, nb, pred + i0, NULL) !=
            AXMUL_OK) {
            if (tty)
                fprintf(stderr, "\r%*s\r", 60, "");
            errorf(name ? "%s: %s" : "%s%s", name ? name : "", axmul_error_detail());
            return -1;
        }
        if (tty)
            fprintf(stderr, "\r%s: %d/%d images", name, i0 + nb, R->n);
    }
    if (tty)
        fprintf(stderr, "\r%*s\r", 60, "");
    return 0;
}

/* Top-1 accuracy of predictions. */
static double net_accuracy(const net_run *R, const uint8_t *pred)
{
    long ok = 0;
    for (int i = 0; i < R->n; i++)
        ok += pred[i] == R->labels[i];
    return (double)ok / R->n;
}

/* --resume: every row already in the output must come from a run of this model on these images
 * (its float accuracy and image count equal this run's), so that a foreign file, another
 * model's results or another --limit is refused instead of appended to. 0 or -1. */
static int net_check_resume(const net_run *R)
{
    const char *path = R->o.out_path;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0; /* none yet (done_rows has refused what cannot be read) */
    char want[32], *line = NULL;
    snprintf(want, sizeof want, "%.6f", R->float_acc);
    size_t cap = 0;
    int rc = 0;
    for (long no = 1; rc == 0 && getline(&line, &cap, f) > 0; no++) {
        if (strncmp(line, "table,accuracy,", 15) == 0 && R->o.fmt == 2)
            continue;
        char facc[32] = "";
        int images = -1;
        if (R->o.fmt == 1) {
            const char *a = strstr(line, "\"float_accuracy\": "), *b = strstr(line, "\"images\": ");
            if (a && b && line[0] == '{')
                sscanf(a + 18, "%31[0-9.]", facc), images = atoi(b + 10);
        } else {
            /* after the (maybe quoted) table name: accuracy, exact, float, agreement, snr, images
             */
            const char *p = NULL;
            free(axmul__tool_csv_first(line, &p));
            p = *p ? p : NULL;
            for (int k = 0; p && k < 2; k++)
                p = strchr(p + 1, ',');
            if (p && sscanf(p + 1, "%31[0-9.]", facc) == 1) {
                const char *q = p;
                for (int k = 0; q && k < 3; k++)
                    q = strchr(q + 1, ',');
                images = q ? atoi(q + 1) : -1;
            }
        }
        if (!facc[0] || images < 0) {
            errorf("--resume %s: line %ld is not a result row of axconv-test net (--format %s)",
                   path, no, R->o.fmt == 1 ? "json" : "csv");
            rc = -1;
        } else if (strcmp(facc, want) != 0 || images != R->n) {
            errorf("--resume %s: line %ld is a row of another run (float accuracy %s on %d "
                   "images; this run: %s on %d: another model, dataset or --limit)",
                   path, no, facc, images, want, R->n);
            rc = -1;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int axmul__net_start(net_run *R)
{
    const net_opts *o = &R->o;
    if (net_predict(R, &R->no, R->pf, NULL) != 0)
        return -1;
    R->float_acc = net_accuracy(R, R->pf);
    if (o->resume && !R->new_file && net_check_resume(R) != 0)
        return -1;
    /* the text table's first column fits the longest name (tables given by long paths) */
    R->name_w = 28;
    for (int i = 0; i < R->L.nlabels; i++)
        if (strlen(R->L.labels[i]) > (size_t)R->name_w && strlen(R->L.labels[i]) < 512)
            R->name_w = (int)strlen(R->L.labels[i]);
    if (o->fmt == 0)
        R->head_len = snprintf(R->head, sizeof R->head,
                               "model %s, %d test images of %s, float accuracy %.4f\n%-*s %9s %9s "
                               "%9s  %s\n",
                               o->model_dir, R->n, o->dataset, R->float_acc, R->name_w, "table",
                               "accuracy", "exact", "agreement", "layer SNR dB");
    else if (o->fmt == 2 && o->shard_i == 1 && R->new_file) /* one header when shards concatenate */
        R->head_len = snprintf(R->head, sizeof R->head,
                               "table,accuracy,exact_accuracy,float_accuracy,agreement,"
                               "layer_snr_db,images,seconds\n");
    R->head_len = R->head_len < 0                     ? 0
                  : R->head_len < (int)sizeof R->head ? R->head_len
                                                      : (int)sizeof R->head - 1;
    if (R->rows.fd < 0 && R->head_len) {
        emit_row(&R->rows, stdout, R->head, (size_t)R->head_len);
        R->head_len = 0;
    }
    for (int i = 0; i < R->nl; i++) {
        if (!axmul_model_layer_approx(R->m, i))
            continue;
        R->pl_idx[R->pl_n] = i;
        R->pl_names[R->pl_n] = axmul_model_layer_name(R->m, i);
        axmul_model_layer_output_shape(R->m, i, &R->pl_h[R->pl_n], &R->pl_w[R->pl_n],
                                       &R->pl_c[R->pl_n]);
        R->pl_n++;
    }
    if (!o->report_dir)
        return 0;
    char *setup = axmul__layers_on(&R->L) ? axmul__layers_label(&R->L, R->m, "(each table)") : NULL;
    R->rep = axmul__report_begin(o->report_dir, o->model_dir, o->dataset, setup, R->n,
                                 axmul_model_classes(R->m), R->float_acc);
    free(setup);
    if (!R->rep)
        return -1;
    for (int i = 0; i < R->nl; i++)
        if (!(R->samples[i] = malloc(sizeof(float) * axmul_model_layer_output_size(R->m, i)))) {
            errorf("out of memory");
            return -1;
        }
    R->snr.sample = R->samples;
    return 0;
}

/* The exact network of a signedness (the same quantized network with exact products), once: its
 * predictions, its layer outputs (the SNR reference) and the operand histograms. t: the table
 * of the run that needs it. 0, or -1 after an error. */
static int net_exact(net_run *R, int sgn, const axmul_table *t)
{
    snr_t *snr = &R->snr;
    R->pe[sgn] = malloc((size_t)R->n);
    if (!R->pe[sgn] || axmul__layers_tables(&R->L, t, 1, R->lt_exact) != 0) {
        errorf("out of memory");
        return -1;
    }
    axmul_net_options po = R->no;
    po.layer_tables = R->lt_exact;
    po.layer_output = axmul__net_snr_cb;
    po.ctx = snr;
    po.act_hist = R->o.dump ? R->ah : NULL;
    po.wt_hist = R->o.dump ? R->wh : NULL;
    snr->record = 1;
    for (int i = 0; i < R->nl; i++) {
        snr->per[i] = axmul_model_layer_output_size(R->m, i);
        if (!R->exact_out[sgn][i])
            R->exact_out[sgn][i] = malloc(sizeof(float) * snr->per[i] * (size_t)snr->limit);
        if (!R->exact_out[sgn][i]) {
            errorf("out of memory");
            return -1;
        }
        snr->exact[i] = R->exact_out[sgn][i];
    }
    if (net_predict(R, &po, R->pe[sgn], NULL) != 0)
        return -1;
    R->exact_acc[sgn] = net_accuracy(R, R->pe[sgn]);
    return 0;
}

/* The text of one result row (fmt: text, JSON or CSV) into row; its length, or -1. */
static int net_row(const net_run *R, int ti, int sgn, double acc, double agr, double secs,
                   char *row, size_t cap)
{
    const int fmt = R->o.fmt;
    const char *path = R->paths[ti], *name = R->L.labels[ti];
    char snrtxt[AXMUL_MODEL_MAX_LAYERS * 24] = ""; /* at most 20 characters per layer */
    size_t sl = 0;
    for (int k = 0; k < R->pl_n; k++) {
        const int i = R->pl_idx[k];
        const double v = axmul__tool_snr_db(R->snr.st[i].signal, R->snr.st[i].sum_sq);
        char one[48];
        if (fmt == 1)
            snprintf(one, sizeof one, isfinite(v) ? "%.3f" : "null", v);
        else
            snprintf(one, sizeof one, isfinite(v) ? "%.2f" : "inf", v);
        sl += (size_t)snprintf(snrtxt + sl, sizeof snrtxt - sl, "%s%s",
                               k == 0     ? ""
                               : fmt == 1 ? ", "
                               : fmt == 2 ? ";"
                                          : " ",
                               one);
    }
    if (fmt == 0)
        return snprintf(row, cap, "%-*s %9.4f %9.4f %9.4f  %s  (%.2f s)\n", R->name_w, name, acc,
                        R->exact_acc[sgn], agr, snrtxt, secs);
    if (fmt == 2) {
        axmul__tool_buf cn = {0};
        axmul__tool_csv_str(&cn, name);
        const int rl = snprintf(row, cap, "%s,%.6f,%.6f,%.6f,%.6f,%s,%d,%.4f\n", cn.s, acc,
                                R->exact_acc[sgn], R->float_acc, agr, snrtxt, R->n, secs);
        free(cn.s);
        return rl;
    }
    axmul__tool_buf jn = {0}, jl = {0};
    axmul__tool_json_str(&jn, name);
    if (axmul__layers_on(&R->L)) /* the assignment, layer by layer */
        for (int i = 0; i < R->nl; i++) {
            const char *f = axmul__layers_file(&R->L, i, path);
            if (!f)
                continue;
            axmul__tool_bprintf(&jl, "%s", jl.len ? ", " : ", \"layer_tables\": {");
            axmul__tool_json_str(&jl, axmul_model_layer_name(R->m, i));
            axmul__tool_bprintf(&jl, ": ");
            axmul__tool_json_str(&jl, f);
        }
    if (jl.len)
        axmul__tool_bprintf(&jl, "}");
    const int rl = snprintf(row, cap,
                            "{\"table\": %s, \"accuracy\": %.6f, \"exact_accuracy\": %.6f, "
                            "\"float_accuracy\": %.6f, \"agreement\": %.6f, \"layer_snr_db\": "
                            "[%s], \"images\": %d, \"seconds\": %.4f%s}\n",
                            jn.s, acc, R->exact_acc[sgn], R->float_acc, agr, snrtxt, R->n, secs,
                            jl.s ? jl.s : "");
    free(jn.s);
    free(jl.s);
    return rl;
}

/* One table's report row: its layers' SNR and first-image outputs next to the exact network's.
 * 0 or -1. */
static int net_report_row(net_run *R, int ti, int sgn, const axmul_table *t, double acc, double agr,
                          double secs)
{
    double snrv[AXMUL_MODEL_MAX_LAYERS];
    const float *sa[AXMUL_MODEL_MAX_LAYERS], *se[AXMUL_MODEL_MAX_LAYERS];
    for (int k = 0; k < R->pl_n; k++) {
        const int i = R->pl_idx[k];
        snrv[k] = axmul__tool_snr_db(R->snr.st[i].signal, R->snr.st[i].sum_sq);
        sa[k] = R->samples[i];
        se[k] = R->exact_out[sgn][i];
    }
    axmul__report_row rrow = {
        R->paths[ti], t,  acc,     R->exact_acc[sgn], agr,     secs,  R->pl_n,   R->pl_names, snrv,
        sa,           se, R->pl_h, R->pl_w,           R->pl_c, R->pa, R->labels, R->n};
    return axmul__report_add(R->rep, &rrow);
}

/* Run ti of the sweep: its table in its layers, the exact network of its signedness (the first
 * time), the row, the predictions and the report. 0, 1 when the run failed (the others go on),
 * -1 when the sweep stops (what is done is reported), -2 when it is abandoned. */
static int net_one(net_run *R, int ti)
{
    static char row[65536]; /* (a row names every layer of a layer-wise run) */
    const net_opts *o = &R->o;
    const char *path = R->paths[ti], *name = R->L.labels[ti]; /* path: NULL with no --mtab */
    const int sgn = path ? axmul_name_is_signed(path) : 0;
    axmul_table *t = NULL;
    if (path && axmul_table_load(path, sgn, &t) != AXMUL_OK) {
        errorf("--mtab %s", axmul_error_detail());
        return 1;
    }
    int rc = 1;
    if (!R->pe[sgn] && net_exact(R, sgn, t) != 0) {
        rc = -2;
        goto out;
    }
    for (int i = 0; i < R->nl; i++) {
        R->snr.exact[i] = R->exact_out[sgn][i];
        memset(&R->snr.st[i], 0, sizeof R->snr.st[i]);
    }
    R->snr.record = 0;
    axmul__layers_tables(&R->L, t, 0, R->lt_run); /* (makes no table: cannot fail) */
    axmul_net_options po = R->no;
    po.layer_tables = R->lt_run;
    po.layer_output = axmul__net_snr_cb;
    po.ctx = &R->snr;
    po.act_hist = po.wt_hist = NULL;
    double t0 = axmul__tool_now();
    if (net_predict(R, &po, R->pa, name) != 0)
        goto out;
    const double secs = axmul__tool_now() - t0, acc = net_accuracy(R, R->pa);
    long agree = 0;
    for (int i = 0; i < R->n; i++)
        agree += R->pa[i] == R->pe[sgn][i];
    const double agr = (double)agree / R->n;
    rc = 0;
    if (o->pred_path) {
        /* every table of the run so far, each after a "# table: NAME" line (a comment to
         * np.loadtxt and most readers): rewritten whole after each table, as every other file
         * the tools write, so an interrupted sweep keeps the finished tables */
        axmul__tool_buf *pb = &R->preds;
        axmul__tool_bprintf(pb, "# table: ");
        for (const char *c = name; *c; c++) /* a line break in a file name stays in its line */
            axmul__tool_bprintf(pb, "%c", *c == '\n' || *c == '\r' ? '?' : *c);
        axmul__tool_bprintf(pb, "\n");
        for (int i = 0; i < R->n; i++)
            axmul__tool_bprintf(pb, "%d %d %d\n", i, R->pa[i], R->labels[i]);
        if (axmul_file_write_atomic(o->pred_path, pb->s, pb->len) != AXMUL_OK) {
            errorf("--predictions %s", axmul_error_detail());
            rc = 1;
        }
    }
    int rl = net_row(R, ti, sgn, acc, agr, secs, row, sizeof row);
    if (R->rows.fd >= 0 && R->done_tables == 0 && R->head_len &&
        emit_row(&R->rows, stdout, R->head, (size_t)R->head_len) != 0)
        rl = -1;
    if (rl < 0 || (size_t)rl >= sizeof row || emit_row(&R->rows, stdout, row, (size_t)rl) != 0) {
        errorf("%s: %s", o->out_path ? o->out_path : "standard output",
               rl >= (int)sizeof row ? "result row too long" : strerror(errno));
        rc = -1;
        goto out;
    }
    R->done_tables++;
    if (R->rep && net_report_row(R, ti, sgn, t, acc, agr, secs) != 0)
        rc = 1;
out:
    axmul_table_free(t);
    return rc;
}

/* --dump-operands: the exact networks' operand histograms, per layer and in all. 0 or -1. */
static int net_dump(const net_run *R)
{
    char *dump;
    int rc = 0;
    if (axmul_dir_stage(R->o.dump, &dump) != AXMUL_OK) {
        errorf("--dump-operands: %s", axmul_error_detail());
        return -1;
    }
    uint64_t ta[256] = {0}, tw[256] = {0};
    for (int i = 0; i < R->nl; i++) {
        uint64_t sa = 0;
        for (int k = 0; k < 256; k++)
            sa += R->ah[i * 256 + k];
        if (!sa)
            continue;
        for (int which = 0; which < 2; which++) {
            char p[4096], *buf = malloc(256 * 24);
            size_t bl = 0;
            const uint64_t *h = (which ? R->wh : R->ah) + i * 256;
            for (int k = 0; k < 256; k++) {
                bl += (size_t)snprintf(buf + bl, 24, "%llu\n", (unsigned long long)h[k]);
                (which ? tw : ta)[k] += h[k];
            }
            snprintf(p, sizeof p, "%s/%s_%s.txt", dump, axmul_model_layer_name(R->m, i),
                     which ? "weights" : "activations");
            if (axmul_file_write_atomic(p, buf, bl) != AXMUL_OK) {
                errorf("%s", axmul_error_detail());
                rc = -1;
            }
            free(buf);
        }
    }
    for (int which = 0; which < 2; which++) {
        char p[4096], buf[256 * 24];
        size_t bl = 0;
        for (int k = 0; k < 256; k++)
            bl +=
                (size_t)snprintf(buf + bl, 24, "%llu\n", (unsigned long long)(which ? tw : ta)[k]);
        snprintf(p, sizeof p, "%s/%s.txt", dump, which ? "weights" : "activations");
        if (axmul_file_write_atomic(p, buf, bl) != AXMUL_OK) {
            errorf("%s", axmul_error_detail());
            rc = -1;
        }
    }
    if (rc != 0) {
        axmul_dir_discard(dump);
        return rc;
    }
    if (axmul_dir_commit(dump, R->o.dump) != AXMUL_OK) {
        errorf("--dump-operands: %s", axmul_error_detail());
        return -1;
    }
    if (!R->o.quiet)
        fprintf(stderr,
                PROG ": operand histograms in %s (activations.txt, weights.txt: "
                     "axmul-verify --dist-a/--dist-b)\n",
                R->o.dump);
    return rc;
}

int axmul__net_sweep(net_run *R)
{
    int rc = 0;
    for (int ti = 0; ti < R->npaths; ti++) {
        if (axmul__tool_interrupted())
            break;
        const int r = net_one(R, ti);
        if (r != 0)
            rc = AXMUL__EXIT_USAGE;
        if (r == -2)
            return rc;
        if (r < 0)
            break;
    }
    if (axmul__tool_interrupted()) {
        errorf("interrupted after %d of %d tables; every finished row is complete%s",
               R->done_tables, R->npaths, R->o.out_path ? "; add --resume to continue" : "");
        rc = AXMUL__EXIT_INTERRUPTED;
    }
    if (R->rep) {
        /* a failed or interrupted sweep leaves an earlier report (and dump) as they were */
        if (axmul__report_end(R->rep, rc == 0) != 0)
            rc = AXMUL__EXIT_USAGE;
        else if (!R->o.quiet)
            fprintf(stderr, PROG ": report written to %s/index.html\n", R->o.report_dir);
        R->rep = NULL;
    }
    if (R->o.dump && rc == 0 && net_dump(R) != 0)
        rc = AXMUL__EXIT_USAGE;
    return rc;
}

void axmul__net_free(net_run *R)
{
    axmul__tool_rows_close(&R->rows);
    free(R->preds.s);
    if (R->rep)
        axmul__report_end(R->rep, 0);
    for (int i = 0; i < AXMUL_MODEL_MAX_LAYERS; i++)
        free(R->samples[i]);
    axmul_net_workspace_free(R->ws);
    for (int s = 0; s < 2; s++) {
        free(R->pe[s]);
        for (int i = 0; i < AXMUL_MODEL_MAX_LAYERS; i++)
            free(R->exact_out[s][i]);
    }
    free(R->x);
    free(R->pf);
    free(R->pa);
    free(R->ah);
    free(R->wh);
    free(R->snr.exact);
    free(R->snr.per);
    free(R->snr.st);
    axmul_dataset_free(R->d);
    axmul_model_free(R->m);
    for (int i = 0; i < R->npaths; i++)
        free(R->paths[i]);
    free(R->paths);
    axmul__layers_free(&R->L);
    free(R);
}
