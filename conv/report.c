/* axconv-test net --report: one HTML page (self-contained apart from its images) with the results
 * table, each table's axmul-verify metrics and error heatmap, a confusion matrix per table,
 * per-layer output-difference heatmaps for the first test image, and a Pareto plot of accuracy
 * against MAE (SVG, so that its text needs no font rendering). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conv/report.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

typedef struct {
    char *name;   /* file name without folder */
    char *family; /* for the legend */
    double acc, exact, agree, secs;
    axmul_metrics m;
    int nlayers;
    char snr[512];
    int idx;
    int is_signed;
} row_t;

struct axmul__report {
    char *dir; /* the staging folder; target: the folder it replaces */
    char *target;
    char *model, *dataset, *setup;
    int images, classes;
    double float_acc;
    row_t *rows;
    int n, cap;
    int nimg; /* images referenced by the page */
    char layers_hdr[512];
};

axmul__report *axmul__report_begin(const char *dir, const char *model, const char *dataset,
                                   const char *setup, int images, int classes, double float_acc)
{
    char img[4096], *staging;
    if (axmul_dir_stage(dir, &staging) != AXMUL_OK) {
        errorf("--report: %s", axmul_error_detail());
        return NULL;
    }
    snprintf(img, sizeof img, "%s/img", staging);
    axmul__report *r = calloc(1, sizeof *r);
    if (mkdir(img, 0777) != 0 || !r || !(r->target = strdup(dir))) {
        errorf("--report %s: %s", dir, r ? strerror(errno) : "out of memory");
        axmul_dir_discard(staging);
        free(r);
        return NULL;
    }
    r->dir = staging;
    r->model = strdup(model);
    r->dataset = strdup(dataset);
    r->setup = setup ? strdup(setup) : NULL;
    r->images = images;
    r->classes = classes;
    r->float_acc = float_acc;
    return r;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Family for the legend: the bundled tables are named mul8[us]_FAMILY_PARAMS; EvoApprox's are
 * mul8u_CODE with an upper-case code. */
static char *family_of(const char *name, int is_signed)
{
    char buf[64];
    const char *p = name;
    if (strncmp(p, "mul8u_", 6) == 0 || strncmp(p, "mul8s_", 6) == 0)
        p += 6;
    size_t n = strcspn(p, "_.");
    int upper = 0;
    for (size_t i = 0; i < n; i++)
        upper |= p[i] >= 'A' && p[i] <= 'Z';
    if (upper || n == 0)
        snprintf(buf, sizeof buf, "EvoApprox%s", is_signed ? " (signed)" : "");
    else
        snprintf(buf, sizeof buf, "%.*s%s", (int)n, p, is_signed ? " (signed)" : "");
    if (strncmp(buf, "truncc", 6) == 0)
        snprintf(buf, sizeof buf, "trunc+corr%s", is_signed ? " (signed)" : "");
    return strdup(buf);
}

static int write_confusion(const char *path, const uint8_t *pred, const uint8_t *lab, int n,
                           int classes)
{
    const int cell = 20;
    int side = classes * cell + 1;
    long *cm = calloc((size_t)classes * classes, sizeof *cm),
         *rowsum = calloc((size_t)classes, sizeof *rowsum);
    uint8_t *rgb = malloc((size_t)side * side * 3);
    if (!cm || !rowsum || !rgb) {
        free(cm);
        free(rowsum);
        free(rgb);
        errorf("out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (lab[i] < classes && pred[i] < classes) {
            cm[lab[i] * classes + pred[i]]++;
            rowsum[lab[i]]++;
        }
    memset(rgb, 160, (size_t)side * side * 3);
    for (int t = 0; t < classes; t++)
        for (int p = 0; p < classes; p++) {
            uint8_t c[3];
            double f = rowsum[t] ? (double)cm[t * classes + p] / rowsum[t] : 0;
            /* square root: makes the small off-diagonal confusions visible next to the diagonal */
            axmul_color_sequential(sqrt(f), c);
            for (int y = 1; y < cell; y++)
                for (int x = 1; x < cell; x++)
                    memcpy(rgb + ((size_t)(t * cell + y) * side + (size_t)(p * cell + x)) * 3, c,
                           3);
        }
    const char *keys[] = {"Title", "Scale"};
    const char *vals[] = {"confusion matrix: rows = true class, columns = predicted class",
                          "sqrt(share of the row), black = 0 .. light yellow = 1"};
    axmul_status s = axmul_png_write_rgb(path, (unsigned)side, (unsigned)side, rgb, keys, vals, 2);
    free(cm);
    free(rowsum);
    free(rgb);
    if (s != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return -1;
    }
    return 0;
}

/* |approx - exact| of one layer's output for one image: channels tiled (conv) or a strip
 * (dense); returns the largest difference in *mx. */
static int write_layer_diff(const char *path, const float *a, const float *e, int h, int w, int c,
                            double *mx)
{
    int cols = (int)ceil(sqrt((double)c)), rows = (c + cols - 1) / cols;
    int scale = 1;
    while ((h * scale < 32 || w * scale < 32) && scale < 8)
        scale++;
    if (h == 1 && w == 1) { /* dense: one cell per unit */
        cols = c < 32 ? c : 32;
        rows = (c + cols - 1) / cols;
        scale = 10;
    }
    int th = h * scale, tw = w * scale;
    long W = (long)cols * (tw + 1) + 1, H = (long)rows * (th + 1) + 1;
    if (W > 8192 || H > 8192) {
        errorf("%s: layer output too large for a heatmap", path);
        return -1;
    }
    size_t cnt = (size_t)h * w * c;
    *mx = 0;
    for (size_t i = 0; i < cnt; i++)
        *mx = fmax(*mx, fabs((double)a[i] - (double)e[i]));
    uint8_t *rgb = malloc((size_t)W * H * 3);
    if (!rgb) {
        errorf("out of memory");
        return -1;
    }
    memset(rgb, 128, (size_t)W * H * 3);
    for (int ch = 0; ch < c; ch++) {
        int gx = ch % cols, gy = ch / cols;
        for (int py = 0; py < th; py++)
            for (int px = 0; px < tw; px++) {
                size_t i = ((size_t)(py / scale) * w + (size_t)(px / scale)) * c + (size_t)ch;
                double d = fabs((double)a[i] - (double)e[i]);
                long X = 1 + (long)gx * (tw + 1) + px, Y = 1 + (long)gy * (th + 1) + py;
                axmul_color_sequential(*mx > 0 ? d / *mx : 0, rgb + ((size_t)Y * W + X) * 3);
            }
    }
    char sc[128];
    snprintf(sc, sizeof sc, "|approx - exact|: black = 0 .. light yellow = %.6g", *mx);
    const char *keys[] = {"Title", "Scale"};
    const char *vals[] = {"layer output difference, first test image", sc};
    axmul_status s = axmul_png_write_rgb(path, (unsigned)W, (unsigned)H, rgb, keys, vals, 2);
    free(rgb);
    if (s != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return -1;
    }
    return 0;
}

int axmul__report_add(axmul__report *r, const axmul__report_row *row)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        row_t *nr = realloc(r->rows, sizeof *nr * (size_t)cap);
        if (!nr)
            return -1;
        r->rows = nr;
        r->cap = cap;
    }
    row_t *o = &r->rows[r->n];
    memset(o, 0, sizeof *o);
    o->idx = r->n;
    o->name = strdup(base_name(row->path));
    o->is_signed = axmul_table_is_signed(row->table);
    o->family = family_of(o->name, o->is_signed);
    o->acc = row->accuracy;
    o->exact = row->exact_accuracy;
    o->agree = row->agreement;
    o->secs = row->seconds;
    o->nlayers = row->nlayers;
    if (axmul_metrics_compute(row->table, NULL, NULL, &o->m) != AXMUL_OK) {
        errorf("%s: %s", row->path, axmul_error_detail());
        return -1;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/img/t%04d_error.png", r->dir, o->idx);
    if (axmul_heatmap_table_error(row->table, NULL, 1, p, NULL) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return -1;
    }
    snprintf(p, sizeof p, "%s/img/t%04d_confusion.png", r->dir, o->idx);
    if (write_confusion(p, row->pred, row->labels, row->n, r->classes) != 0)
        return -1;
    size_t sl = 0;
    r->layers_hdr[0] = '\0';
    size_t hl = 0;
    for (int k = 0; k < row->nlayers; k++) {
        double mx;
        snprintf(p, sizeof p, "%s/img/t%04d_layer%d.png", r->dir, o->idx, k);
        if (write_layer_diff(p, row->sample_approx[k], row->sample_exact[k], row->sample_h[k],
                             row->sample_w[k], row->sample_c[k], &mx) != 0)
            return -1;
        double v = row->snr[k];
        sl += (size_t)snprintf(o->snr + sl, sizeof o->snr - sl, "%s%s", k ? " / " : "",
                               isfinite(v) ? "" : "inf");
        if (isfinite(v))
            sl += (size_t)snprintf(o->snr + sl, sizeof o->snr - sl, "%.1f", v);
        hl += (size_t)snprintf(r->layers_hdr + hl, sizeof r->layers_hdr - hl, "%s%s",
                               k ? " / " : "", row->layer_names[k]);
    }
    r->n++;
    return 0;
}

/* ---------------------------------------------------------------- page */

static void esc(axmul__tool_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            axmul__tool_bprintf(b, "&lt;");
            break;
        case '>':
            axmul__tool_bprintf(b, "&gt;");
            break;
        case '&':
            axmul__tool_bprintf(b, "&amp;");
            break;
        case '"':
            axmul__tool_bprintf(b, "&quot;");
            break;
        default:
            axmul__tool_bprintf(b, "%c", *s);
        }
    }
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                      "#bcbd22", "#17becf", "#393b79", "#637939"};

static int family_index(const axmul__report *r, const char *fam, char fams[][64], int *nf)
{
    for (int i = 0; i < *nf; i++)
        if (strcmp(fams[i], fam) == 0)
            return i;
    (void)r;
    if (*nf < 12) {
        snprintf(fams[*nf], 64, "%s", fam);
        return (*nf)++;
    }
    return 11;
}

static int cmp_mae(const void *a, const void *b)
{
    const row_t *x = *(const row_t *const *)a, *y = *(const row_t *const *)b;
    if (x->m.mae_percent != y->m.mae_percent)
        return x->m.mae_percent < y->m.mae_percent ? -1 : 1;
    return (x->acc < y->acc) - (x->acc > y->acc);
}

/* Accuracy against MAE% (log scale; exact tables at the left edge), one colour per family, the
 * Pareto front (no other table is both more accurate and less erroneous) as a line. */
static int write_pareto(axmul__report *r, const char *path)
{
    const double W = 760, H = 500, L = 80, R = 210, T = 40, B = 60;
    double pw = W - L - R, ph = H - T - B;
    double xmin = 1e9, xmax = 1e-9, ymin = 1, ymax = 0;
    for (int i = 0; i < r->n; i++) {
        double x = r->rows[i].m.mae_percent;
        if (x > 0) {
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
        }
        ymin = fmin(ymin, r->rows[i].acc);
        ymax = fmax(ymax, r->rows[i].acc);
    }
    if (xmax < xmin) {
        xmin = 1e-3;
        xmax = 1;
    }
    double lx0 = floor(log10(xmin)) - 0.5, lx1 = ceil(log10(xmax));
    double y0 = floor(ymin * 10) / 10, y1 = fmin(1.0, ceil(ymax * 20) / 20 + 0.05);
    if (y1 <= y0)
        y1 = y0 + 0.1;
#define XP(v) (L + ((v) > 0 ? (log10(v) - lx0) / (lx1 - lx0) * pw : 0.0))
#define YP(v) (T + (1.0 - ((v)-y0) / (y1 - y0)) * ph)
    axmul__tool_buf b = {0};
    axmul__tool_bprintf(&b,
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                        "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
                        W, H, W, H);
    axmul__tool_bprintf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    axmul__tool_bprintf(
        &b,
        "<text x=\"%.0f\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">Accuracy vs. "
        "multiplier error (%d tables)</text>\n",
        L + pw / 2, r->n);
    /* grid and ticks */
    for (double e = ceil(lx0); e <= lx1; e += 1) {
        double x = L + (e - lx0) / (lx1 - lx0) * pw;
        axmul__tool_bprintf(
            &b, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n", x, T,
            x, T + ph);
        axmul__tool_bprintf(&b, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%g</text>\n", x,
                            T + ph + 16, pow(10, e));
    }
    axmul__tool_bprintf(&b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">0 (exact)</text>\n",
                        L, T + ph + 30);
    for (int k = 0; k <= 10; k++) {
        double v = y0 + (y1 - y0) * k / 10.0, y = YP(v);
        axmul__tool_bprintf(
            &b, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y,
            L + pw, y);
        axmul__tool_bprintf(&b, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                            L - 6, y + 4, v);
    }
    axmul__tool_bprintf(&b,
                        "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                        "stroke=\"black\"/>\n",
                        L, T, pw, ph);
    axmul__tool_bprintf(
        &b,
        "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">mean absolute error, %% of 2^16 "
        "(log scale)</text>\n",
        L + pw / 2, H - 12);
    axmul__tool_bprintf(
        &b,
        "<text transform=\"translate(20 %.0f) rotate(-90)\" text-anchor=\"middle\">top-1 "
        "accuracy</text>\n",
        T + ph / 2);
    /* float accuracy reference line */
    if (r->float_acc >= y0 && r->float_acc <= y1)
        axmul__tool_bprintf(
            &b,
            "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#888\" "
            "stroke-dasharray=\"4 3\"/><text x=\"%.0f\" y=\"%.1f\" fill=\"#555\">float</text>\n",
            L, YP(r->float_acc), L + pw, YP(r->float_acc), L + pw + 4, YP(r->float_acc) + 4);
    /* Pareto front */
    row_t **sorted = malloc(sizeof(row_t *) * (size_t)(r->n ? r->n : 1));
    for (int i = 0; i < r->n; i++)
        sorted[i] = &r->rows[i];
    qsort(sorted, (size_t)r->n, sizeof *sorted, cmp_mae);
    axmul__tool_bprintf(&b,
                        "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"1.5\" points=\"");
    double best = -1;
    for (int i = 0; i < r->n; i++)
        if (sorted[i]->acc > best) {
            best = sorted[i]->acc;
            axmul__tool_bprintf(&b, "%.1f,%.1f ", XP(sorted[i]->m.mae_percent), YP(sorted[i]->acc));
        }
    axmul__tool_bprintf(&b, "\"/>\n");
    free(sorted);
    char fams[12][64];
    int nf = 0;
    for (int i = 0; i < r->n; i++) {
        const row_t *o = &r->rows[i];
        int fi = family_index(r, o->family, fams, &nf);
        axmul__tool_bprintf(
            &b,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" fill-opacity=\"%s\" "
            "stroke=\"%s\"><title>",
            XP(o->m.mae_percent), YP(o->acc), palette[fi], o->is_signed ? "0.2" : "0.8",
            palette[fi]);
        esc(&b, o->name);
        axmul__tool_bprintf(&b, ": accuracy %.4f, MAE %.4g%%</title></circle>\n", o->acc,
                            o->m.mae_percent);
    }
    /* legend */
    axmul__tool_bprintf(&b, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">family</text>\n",
                        L + pw + 40, T + 10);
    for (int i = 0; i < nf; i++) {
        double y = T + 30 + 18 * i;
        axmul__tool_bprintf(
            &b, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"5\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.0f\">",
            L + pw + 46, y - 4, palette[i], L + pw + 58, y);
        esc(&b, fams[i]);
        axmul__tool_bprintf(&b, "</text>\n");
    }
    double y = T + 30 + 18 * nf + 10;
    axmul__tool_bprintf(&b,
                        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\" "
                        "stroke-width=\"1.5\"/><text x=\"%.0f\" y=\"%.0f\">Pareto front</text>\n",
                        L + pw + 40, y - 4, L + pw + 54, y - 4, L + pw + 58, y);
    axmul__tool_bprintf(&b, "</svg>\n");
#undef XP
#undef YP
    axmul_status s = axmul_file_write_atomic(path, b.s, b.len);
    free(b.s);
    if (s != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return -1;
    }
    return 0;
}

static void report_free(axmul__report *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->rows[i].name);
        free(r->rows[i].family);
    }
    free(r->rows);
    free(r->target);
    free(r->model);
    free(r->dataset);
    free(r->setup);
    free(r);
}

int axmul__report_end(axmul__report *r, int keep)
{
    if (!keep) {
        axmul_dir_discard(r->dir);
        report_free(r);
        return 0;
    }
    char p[4096];
    int rc = 0;
    snprintf(p, sizeof p, "%s/pareto.svg", r->dir);
    if (write_pareto(r, p) != 0)
        rc = -1;
    axmul__tool_buf b = {0};
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    axmul__tool_bprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                            "<title>axmul report: ");
    esc(&b, r->model);
    axmul__tool_bprintf(
        &b,
        "</title>\n<style>\nbody{font-family:sans-serif;margin:24px;color:#222}\n"
        "table{border-collapse:collapse;font-size:13px}\n"
        "th,td{border:1px solid #ccc;padding:4px 6px;text-align:right;vertical-align:middle}\n"
        "th{background:#f2f2f2}td.name{text-align:left;font-family:monospace}\n"
        "img.map{width:128px;height:128px;image-rendering:pixelated}\n"
        "img.cm{width:120px;image-rendering:pixelated}img.layer{max-width:160px;"
        "image-rendering:pixelated}\n.bad{color:#b00}.good{color:#070}\n</style></head>\n<body>\n");
    axmul__tool_bprintf(&b, "<h1>Approximate multipliers in ");
    esc(&b, r->model);
    axmul__tool_bprintf(&b, "</h1>\n<p>%d test images of <code>", r->images);
    esc(&b, r->dataset);
    axmul__tool_bprintf(
        &b,
        "</code>; float accuracy <b>%.4f</b>; %d tables; generated by axconv-test (axmul %s) "
        "on %s.</p>\n",
        r->float_acc, r->n, axmul_version(), date);
    if (r->setup) {
        axmul__tool_bprintf(&b, "<p>Tables per layer: <code>");
        esc(&b, r->setup);
        axmul__tool_bprintf(&b, "</code>; each row's table is in the layers marked "
                                "<code>(each table)</code>, the others keep theirs.</p>\n");
    }
    axmul__tool_bprintf(
        &b, "<h2>Accuracy vs. error</h2>\n<p><img src=\"pareto.svg\" alt=\"Pareto plot of "
            "accuracy against MAE\" width=\"760\" height=\"500\"></p>\n");
    axmul__tool_bprintf(
        &b, "<h2>Results</h2>\n<p>Accuracy with the table in the approximated layers; "
            "&Delta; against the exact table (the same quantized network with exact products); "
            "agreement with the exact network's predictions; axmul-verify metrics of the table "
            "(uniform operands, %% of 2<sup>16</sup>); output SNR of each layer (");
    esc(&b, r->layers_hdr);
    axmul__tool_bprintf(
        &b, ") against the exact network. Images: the table's error e = T[a][b] - a&middot;b "
            "(a down, b across; blue &lt; 0 &lt; red), the confusion matrix (rows: true class, "
            "columns: predicted; brighter = more), and |approx - exact| of each layer's output for "
            "the first test image (channels tiled).</p>\n");
    axmul__tool_bprintf(
        &b, "<table>\n<tr><th>table</th><th>accuracy</th><th>&Delta;</th><th>agreement</th>"
            "<th>MAE %%</th><th>WCE %%</th><th>MRE %%</th><th>EP %%</th><th>bias</th>"
            "<th>layer SNR dB</th><th>s</th><th>error</th><th>confusion</th><th>layer "
            "differences</th></tr>\n");
    r->nimg = 1;
    for (int i = 0; i < r->n; i++) {
        const row_t *o = &r->rows[i];
        double d = o->acc - o->exact;
        axmul__tool_bprintf(&b, "<tr><td class=\"name\">");
        esc(&b, o->name);
        axmul__tool_bprintf(&b, "<br><small>");
        esc(&b, o->family);
        axmul__tool_bprintf(
            &b,
            "</small></td><td>%.4f</td><td class=\"%s\">%+.4f</td><td>%.4f</td><td>%.4g</td>"
            "<td>%.4g</td><td>%.4g</td><td>%.4g</td><td>%.4g</td><td>%s</td><td>%.2f</td>",
            o->acc, d < -0.01 ? "bad" : "good", d, o->agree, o->m.mae_percent, o->m.wce_percent,
            o->m.mre_percent, o->m.ep_percent, o->m.mean_error, o->snr, o->secs);
        axmul__tool_bprintf(
            &b, "<td><img class=\"map\" src=\"img/t%04d_error.png\" alt=\"error heatmap\"></td>",
            o->idx);
        axmul__tool_bprintf(&b,
                            "<td><img class=\"cm\" src=\"img/t%04d_confusion.png\" alt=\"confusion "
                            "matrix\"></td><td>",
                            o->idx);
        for (int k = 0; k < o->nlayers; k++)
            axmul__tool_bprintf(&b,
                                "<img class=\"layer\" src=\"img/t%04d_layer%d.png\" alt=\"layer %d "
                                "difference\"> ",
                                o->idx, k, k);
        axmul__tool_bprintf(&b, "</td></tr>\n");
        r->nimg += 2 + o->nlayers;
    }
    axmul__tool_bprintf(&b, "</table>\n");
    /* A self-check for headless browsers (tests): counts the images that decoded. */
    axmul__tool_bprintf(
        &b,
        "<script>\nwindow.addEventListener('load', function () {\n"
        "  var imgs = document.images, ok = 0, bad = [];\n"
        "  for (var i = 0; i < imgs.length; i++)\n"
        "    if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; else bad.push(imgs[i].src);\n"
        "  document.body.setAttribute('data-images', (bad.length ? 'broken ' : 'ok ') + ok + '/' + "
        "imgs.length);\n"
        "  document.body.setAttribute('data-broken', bad.join(' '));\n"
        "});\n</script>\n</body></html>\n");
    snprintf(p, sizeof p, "%s/index.html", r->dir);
    if (axmul_file_write_atomic(p, b.s, b.len) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        rc = -1;
    }
    free(b.s);
    if (rc != 0)
        axmul_dir_discard(r->dir);
    else if (axmul_dir_commit(r->dir, r->target) != AXMUL_OK) {
        errorf("--report: %s", axmul_error_detail());
        rc = -1;
    }
    report_free(r);
    return rc;
}
