/* axmul-verify: error metrics, packing diagnosis and heatmaps for multiplier tables. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "axmul.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

#define PROG "axmul-verify"

enum { FMT_TEXT, FMT_JSON, FMT_CSV };

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " [OPTIONS] TABLE.bin...\n"
               "Error metrics (EvoApprox definitions), packing diagnosis and heatmaps of 8x8\n"
               "multiplier tables (131,072 bytes, little-endian uint16, entry a*256+b).\n"
               "\n"
               "  -f, --format FMT        text (default), json (one array) or csv\n"
               "  -s, --signed            treat tables as mul8s (int8 x int8 -> int16)\n"
               "  -u, --unsigned          treat tables as mul8u even when named mul8s_*\n"
               "                          (default: signed when the file name starts with mul8s_)\n"
               "      --dist-a FILE       256-entry histogram of operand a (text or .npy):\n"
               "      --dist-b FILE       metrics are weighted by p(a)*p(b)\n"
               "  -p, --check-packing     diagnose each table against the exact multiplier;\n"
               "                          exit 1 unless all are identical\n"
               "  -r, --against REF.bin   diagnose against REF instead, and report metrics\n"
               "                          relative to REF\n"
               "      --heatmap OUT.png   error heatmap of the (single) table\n"
               "      --heatmap-dir DIR   one heatmap per table: DIR/NAME.png\n"
               "      --histogram OUT.png histogram of the errors of the (single) table\n"
               "      --scale N           enlarge heatmaps N times (1..16, default 1)\n"
               "  -o, --output FILE       write the report to FILE instead of stdout: atomically\n"
               "                          (text, json), or row by row (csv), so that an\n"
               "                          interrupted sweep keeps its finished rows (the file\n"
               "                          is replaced only when the first row is ready)\n"
               "      --resume            with -o FILE and --format csv: skip the tables already\n"
               "                          in FILE and append the others\n"
               "      --from FMT          the tables' format: bin, torchapprox (.npy int32),\n"
               "                          approxtorch (text), adapt (C header lut[256][256]);\n"
               "                          default: by extension (.npy, .txt, .h; else bin)\n"
               "      --convert FMT       write the (single) table in FMT to -o FILE instead of\n"
               "                          a report (bin, torchapprox, approxtorch, adapt)\n"
               "  -h, --help              show this help and exit\n"
               "  -V, --version           show the version and exit\n"
               "\n"
               "Exit status: 0 ok; 1 a requested check failed; 2 usage or I/O error.\n");
}

/* ---------------------------------------------------------------- report buffer */

/* ---------------------------------------------------------------- metrics output */

static const char *const metric_keys[] = {
    "mae",         "mae_percent",  "wce",        "wce_percent", "ep_percent", "mse",
    "mre_percent", "wcre_percent", "mean_error", "error_std",   "min_error",  "max_error"};

static void metric_values(const axmul_metrics *m, double v[12])
{
    v[0] = m->mae;
    v[1] = m->mae_percent;
    v[2] = m->wce;
    v[3] = m->wce_percent;
    v[4] = m->ep_percent;
    v[5] = m->mse;
    v[6] = m->mre_percent;
    v[7] = m->wcre_percent;
    v[8] = m->mean_error;
    v[9] = m->error_std;
    v[10] = m->min_error;
    v[11] = m->max_error;
}

typedef struct {
    const char *file;
    int is_signed;
    int loaded; /* metrics valid */
    axmul_metrics m;
    int have_packing;
    axmul_packing_report pk;
} result_t;

static void emit_text(axmul__tool_buf *b, const result_t *r, const char *relative_to)
{
    axmul__tool_bprintf(b, "%s (%s%s%s)\n", r->file,
                        r->is_signed ? "signed mul8s" : "unsigned mul8u",
                        relative_to ? ", relative to " : "", relative_to ? relative_to : "");
    if (r->have_packing)
        axmul__tool_bprintf(b, "  packing:   %s: %s\n", axmul_packing_name(r->pk.kind), r->pk.text);
    if (!r->loaded)
        return;
    const axmul_metrics *m = &r->m;
    if (m->weighted)
        axmul__tool_bprintf(b, "  (weighted by the given operand distributions)\n");
    axmul__tool_bprintf(b, "  MAE   %14.6f  (%.6g%%)     WCE   %8.0f  (%.6g%%)\n", m->mae,
                        m->mae_percent, m->wce, m->wce_percent);
    axmul__tool_bprintf(b, "  MRE   %13.6g%%              WCRE  %9.6g%%\n", m->mre_percent,
                        m->wcre_percent);
    axmul__tool_bprintf(b, "  EP    %13.6g%%              MSE   %.10g\n", m->ep_percent, m->mse);
    axmul__tool_bprintf(b, "  bias (mean error) %.6g   std %.6g   min %.0f   max %.0f\n",
                        m->mean_error, m->error_std, m->min_error, m->max_error);
    axmul__tool_bprintf(b, "  commutative %s   zero-preserving %s   monotonicity violations %ld\n",
                        m->commutative ? "yes" : "no", m->zero_preserving ? "yes" : "no",
                        m->monotone_violations);
}

static void emit_json(axmul__tool_buf *b, const result_t *r, int first)
{
    axmul__tool_bprintf(b, "%s  {\"file\": ", first ? "" : ",\n");
    axmul__tool_json_str(b, r->file);
    axmul__tool_bprintf(b, ", \"signed\": %s", r->is_signed ? "true" : "false");
    if (r->loaded) {
        double v[12];
        metric_values(&r->m, v);
        for (int i = 0; i < 12; i++)
            axmul__tool_bprintf(b, ", \"%s\": %.17g", metric_keys[i], v[i]);
        axmul__tool_bprintf(
            b, ", \"commutative\": %s, \"zero_preserving\": %s, \"monotone_violations\": %ld",
            r->m.commutative ? "true" : "false", r->m.zero_preserving ? "true" : "false",
            r->m.monotone_violations);
        if (r->m.weighted)
            axmul__tool_bprintf(b, ", \"weighted\": true");
    }
    if (r->have_packing) {
        axmul__tool_bprintf(b, ", \"packing\": ");
        axmul__tool_json_str(b, axmul_packing_name(r->pk.kind));
        axmul__tool_bprintf(b, ", \"packing_detail\": ");
        axmul__tool_json_str(b, r->pk.text);
    }
    axmul__tool_bprintf(b, "}");
}

static void emit_csv_header(axmul__tool_buf *b, int packing)
{
    axmul__tool_bprintf(b, "file,signed");
    for (int i = 0; i < 12; i++)
        axmul__tool_bprintf(b, ",%s", metric_keys[i]);
    axmul__tool_bprintf(b, ",commutative,zero_preserving,monotone_violations%s\n",
                        packing ? ",packing,packing_detail" : "");
}

static void emit_csv(axmul__tool_buf *b, const result_t *r, int packing)
{
    axmul__tool_csv_str(b, r->file);
    axmul__tool_bprintf(b, ",%s", r->is_signed ? "true" : "false");
    if (r->loaded) {
        double v[12];
        metric_values(&r->m, v);
        for (int i = 0; i < 12; i++)
            axmul__tool_bprintf(b, ",%.17g", v[i]);
        axmul__tool_bprintf(b, ",%s,%s,%ld", r->m.commutative ? "true" : "false",
                            r->m.zero_preserving ? "true" : "false", r->m.monotone_violations);
    } else {
        axmul__tool_bprintf(b, ",,,,,,,,,,,,,,,");
    }
    if (packing) {
        axmul__tool_bprintf(b, ",");
        axmul__tool_csv_str(b, axmul_packing_name(r->pk.kind));
        axmul__tool_bprintf(b, ",");
        axmul__tool_csv_str(b, r->pk.text);
    }
    axmul__tool_bprintf(b, "\n");
}

/* ---------------------------------------------------------------- helpers */

static int read_raw(const char *path, unsigned char **buf, size_t *len)
{
    /* 64 MiB: far larger than any table (131072 bytes), so that the packing diagnosis still
     * sees oversized files; a FIFO or device is refused without blocking */
    void *data;
    if (axmul_file_read(path, (size_t)64 << 20, &data, len) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        return -1;
    }
    *buf = data;
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* The command line. */
typedef struct {
    int fmt, force_signed, check_packing, resume;
    int from_given; /* --from: every table's format; else guessed from its name */
    axmul_table_format from, convert;
    int convert_given;
    const char *dist_a_path, *dist_b_path, *against, *heatmap, *heatmap_dir, *histogram, *output;
    unsigned scale;
    double dist_a[256], dist_b[256];
    const double *da, *db; /* the distributions, NULL: uniform */
    axmul_table *ref;      /* --against */
} verify_opts;

/* Parses the options into *o: 0 to go on, 1 after --help or --version, -1 after a usage error
 * (printed). */
static int verify_parse(int argc, char **argv, verify_opts *o)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"signed", no_argument, NULL, 's'},
        {"unsigned", no_argument, NULL, 'u'},
        {"dist-a", required_argument, NULL, 1},
        {"dist-b", required_argument, NULL, 2},
        {"check-packing", no_argument, NULL, 'p'},
        {"against", required_argument, NULL, 'r'},
        {"heatmap", required_argument, NULL, 3},
        {"heatmap-dir", required_argument, NULL, 4},
        {"histogram", required_argument, NULL, 5},
        {"scale", required_argument, NULL, 6},
        {"output", required_argument, NULL, 'o'},
        {"resume", no_argument, NULL, 7},
        {"from", required_argument, NULL, 8},
        {"convert", required_argument, NULL, 9},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = axmul__tool_getopt(argc, argv, "f:supr:o:hV", opts)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "text") == 0)
                o->fmt = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                o->fmt = FMT_JSON;
            else if (strcmp(optarg, "csv") == 0)
                o->fmt = FMT_CSV;
            else {
                errorf("--format '%s': expected text, json or csv", optarg);
                return -1;
            }
            break;
        case 's':
            o->force_signed = 1;
            break;
        case 'u':
            o->force_signed = 0;
            break;
        case 1:
            o->dist_a_path = optarg;
            break;
        case 2:
            o->dist_b_path = optarg;
            break;
        case 'p':
            o->check_packing = 1;
            break;
        case 'r':
            o->against = optarg;
            break;
        case 3:
            o->heatmap = optarg;
            break;
        case 4:
            o->heatmap_dir = optarg;
            break;
        case 5:
            o->histogram = optarg;
            break;
        case 6:
            if (parse_uint(optarg, 1, 16, &o->scale) != 0) {
                errorf("--scale '%s': expected an integer in 1..16", optarg);
                return -1;
            }
            break;
        case 'o':
            o->output = optarg;
            break;
        case 7:
            o->resume = 1;
            break;
        case 8:
        case 9:
            if (axmul_table_format_from_name(optarg, c == 8 ? &o->from : &o->convert) != AXMUL_OK) {
                errorf("--%s %s", c == 8 ? "from" : "convert", axmul_error_detail());
                return -1;
            }
            *(c == 8 ? &o->from_given : &o->convert_given) = 1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf(PROG " (axmul) %s\n", axmul_version());
            return 1;
        default:
            fprintf(stderr, "Try '" PROG " --help' for more information.\n");
            return -1;
        }
    }
    return 0;
}

/* Checks the options against the ntables tables and loads the distributions and the reference
 * table. 0, or -1 after an error (printed). */
static int verify_prepare(verify_opts *o, const char *const *tables, int ntables)
{
    if (ntables < 1) {
        errorf("no TABLE.bin given");
        fprintf(stderr, "Try '" PROG " --help' for more information.\n");
        return -1;
    }
    /* every output against every input: TABLE arguments, --against, --dist-a/-b */
    const char *extra[3] = {o->against, o->dist_a_path, o->dist_b_path};
    const char *outs[3] = {o->heatmap, o->histogram, o->output};
    static const char *const optname[3] = {"--heatmap", "--histogram", "-o"};
    for (int k = 0; k < 3; k++)
        if (axmul__tool_refuse_overwrite(optname[k], outs[k], tables, (size_t)ntables) != 0 ||
            axmul__tool_refuse_overwrite(optname[k], outs[k], extra, 3) != 0)
            return -1;
    if ((o->heatmap || o->histogram) && ntables != 1) {
        errorf("--heatmap/--histogram take one table (got %d); use --heatmap-dir for many",
               ntables);
        return -1;
    }
    if (o->heatmap_dir) {
        struct stat st;
        if (stat(o->heatmap_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            errorf("--heatmap-dir %s: not an existing folder", o->heatmap_dir);
            return -1;
        }
    }
    if (o->dist_a_path) {
        if (axmul_histogram_load(o->dist_a_path, o->dist_a) != AXMUL_OK) {
            errorf("--dist-a %s", axmul_error_detail());
            return -1;
        }
        o->da = o->dist_a;
    }
    if (o->dist_b_path) {
        if (axmul_histogram_load(o->dist_b_path, o->dist_b) != AXMUL_OK) {
            errorf("--dist-b %s", axmul_error_detail());
            return -1;
        }
        o->db = o->dist_b;
    }
    if (o->against) {
        const int ref_signed =
            o->force_signed >= 0 ? o->force_signed : axmul_name_is_signed(o->against);
        if (axmul_table_load(o->against, ref_signed, &o->ref) != AXMUL_OK) {
            errorf("--against %s", axmul_error_detail());
            return -1;
        }
    }
    return 0;
}

/* The images of one loaded table: its heatmap and error histogram. 0, or -1 after an error. */
static int verify_images(const verify_opts *o, const char *path, const axmul_table *t)
{
    int rc = 0;
    char png[PATH_MAX];
    const char *hm = o->heatmap;
    if (o->heatmap_dir) {
        const char *bn = base_name(path);
        size_t bl = strlen(bn);
        if (bl > 4 && strcmp(bn + bl - 4, ".bin") == 0)
            bl -= 4;
        snprintf(png, sizeof png, "%s/%.*s.png", o->heatmap_dir, (int)bl, bn);
        hm = png;
    }
    double lim;
    if (hm && axmul_heatmap_table_error(t, o->ref, o->scale, hm, &lim) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        rc = -1;
    } else if (hm && o->fmt == FMT_TEXT) {
        fprintf(stderr, PROG ": %s: heatmap %s (%ux%u, blue -%g .. white 0 .. red +%g)\n", path, hm,
                256 * o->scale, 256 * o->scale, lim, lim);
    }
    if (o->histogram &&
        axmul_histogram_table_error(t, o->ref, 512, 256, o->histogram) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        rc = -1;
    }
    return rc;
}

/* One table into *r: its packing diagnosis, metrics and images. Returns 1 when r is a row of
 * the report, 0 when the table could not be read (no row), -1 when the run must stop; *rc
 * becomes the tool's exit status so far. */
static int verify_table(const verify_opts *o, const char *path, result_t *r, int *rc)
{
    memset(r, 0, sizeof *r);
    r->file = path;
    r->is_signed = o->force_signed >= 0 ? o->force_signed : axmul_name_is_signed(path);
    unsigned char *raw = NULL;
    size_t len = 0;
    axmul_table *t = NULL;
    axmul_status st;
    const axmul_table_format fmt = o->from_given ? o->from : axmul_table_format_guess(path);
    if (fmt != AXMUL_FORMAT_BIN) {
        /* another framework's format: its table, diagnosed as the .bin it converts to */
        if (axmul_table_import(path, fmt, o->force_signed, &t) != AXMUL_OK ||
            !(raw = malloc(AXMUL_TABLE_BYTES))) {
            errorf("%s", t ? "out of memory" : axmul_error_detail());
            axmul_table_free(t);
            *rc = AXMUL__EXIT_USAGE;
            return 0;
        }
        r->is_signed = axmul_table_is_signed(t);
        axmul_table_to_bytes(t, raw);
        len = AXMUL_TABLE_BYTES;
        st = AXMUL_OK;
    } else if (read_raw(path, &raw, &len) != 0) {
        *rc = AXMUL__EXIT_USAGE;
        return 0;
    } else {
        st = axmul_table_from_bytes(raw, len, path, r->is_signed, &t);
    }
    if (o->check_packing || o->against) {
        axmul_table *exact = NULL;
        const axmul_table *cmp = o->ref;
        if (!cmp) {
            if (axmul_table_create_exact(r->is_signed, &exact) != AXMUL_OK) {
                errorf("%s", axmul_error_detail());
                free(raw);
                axmul_table_free(t);
                return -1;
            }
            cmp = exact;
        }
        axmul_packing_diagnose(raw, len, path, cmp, &r->pk);
        r->have_packing = 1;
        if (r->pk.kind != AXMUL_PACKING_IDENTICAL && o->check_packing)
            *rc = *rc ? *rc : AXMUL__EXIT_CHECK;
        axmul_table_free(exact);
    } else if (st != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        *rc = AXMUL__EXIT_USAGE;
        free(raw);
        return 0;
    }
    free(raw);
    if (st == AXMUL_OK) {
        if (o->ref && axmul_table_is_signed(o->ref) != r->is_signed)
            axmul_table_set_signed(o->ref, r->is_signed);
        axmul_status ms = o->ref ? axmul_metrics_compare(t, o->ref, o->da, o->db, &r->m)
                                 : axmul_metrics_compute(t, o->da, o->db, &r->m);
        if (ms != AXMUL_OK) {
            errorf("%s: %s", path, axmul_error_detail());
            *rc = AXMUL__EXIT_USAGE;
        } else {
            r->loaded = 1;
        }
        if (verify_images(o, path, t) != 0)
            *rc = AXMUL__EXIT_USAGE;
    }
    axmul_table_free(t);
    return 1;
}

/* The report of the tables argv[first..argc): CSV into a file row by row (resumable), the
 * other formats at the end. The tool's exit status. */
static int verify_report(const verify_opts *o, int first_arg, int argc, char **argv)
{
    int rc = 0;
    axmul__tool_buf out = {0};
    /* The file is replaced only when the first row is ready: a run whose tables all fail to
     * load leaves an earlier run's results as they were. */
    axmul__tool_rows rows = {.fd = -1};
    int pending = 0; /* out holds a row not yet in the file */
    char **done = NULL;
    int ndone = 0;
    if (o->resume && !(o->output && o->fmt == FMT_CSV)) {
        errorf("--resume needs -o FILE and --format csv");
        return AXMUL__EXIT_USAGE;
    }
    if (o->output && o->fmt == FMT_CSV) {
        axmul__tool_buf hdr = {0};
        emit_csv_header(&hdr, o->check_packing || o->against);
        if (o->resume && (ndone = axmul__tool_done_rows(o->output, 0, "file,", hdr.s, &done)) < 0) {
            if (ndone == -1)
                errorf("--resume %s: %s", o->output, strerror(errno));
            free(hdr.s);
            return AXMUL__EXIT_USAGE;
        }
        free(hdr.s);
        if (axmul__tool_rows_open(&rows, o->output, o->resume) != 0) {
            errorf("-o %s: %s", o->output, strerror(errno));
            return AXMUL__EXIT_USAGE;
        }
    }
    axmul__tool_catch_interrupts();
    if (o->fmt == FMT_JSON)
        axmul__tool_bprintf(&out, "[\n");
    if (o->fmt == FMT_CSV && !(o->resume && rows.had_content))
        emit_csv_header(&out, o->check_packing || o->against);
    int first = 1, processed = 0;
    for (int i = first_arg; i < argc; i++) {
        if (axmul__tool_interrupted())
            break;
        const char *path = argv[i];
        int skip = 0;
        for (int j = 0; j < ndone && !skip; j++)
            skip = strcmp(done[j], path) == 0;
        if (skip)
            continue;
        if (rows.fd >= 0 && pending) { /* the previous row (the first: with the header) */
            if (axmul__tool_rows_write(&rows, out.s, out.len) != 0) {
                errorf("-o %s: %s", o->output, strerror(errno));
                rc = AXMUL__EXIT_USAGE;
                break;
            }
            out.len = 0;
            pending = 0;
        }
        result_t r;
        const int got = verify_table(o, path, &r, &rc);
        if (got < 0) {
            axmul__tool_rows_close(&rows);
            free(out.s);
            return AXMUL__EXIT_USAGE;
        }
        if (got == 0)
            continue;
        switch (o->fmt) {
        case FMT_TEXT:
            emit_text(&out, &r, o->against);
            break;
        case FMT_JSON:
            emit_json(&out, &r, first);
            break;
        case FMT_CSV:
            emit_csv(&out, &r, o->check_packing || o->against);
            pending = 1;
            break;
        }
        first = 0;
        processed++;
    }
    for (int j = 0; j < ndone; j++)
        free(done[j]);
    free(done);
    if (o->fmt == FMT_JSON)
        axmul__tool_bprintf(&out, "%s]\n", first ? "" : "\n");
    if (axmul__tool_interrupted()) {
        errorf("interrupted after %d tables%s", processed,
               rows.fd >= 0 ? "; every row in the output is complete: add --resume to continue"
                            : "; no report written");
        rc = AXMUL__EXIT_INTERRUPTED;
        if (rows.fd < 0) {
            free(out.s);
            return rc;
        }
    }
    if (rows.fd >= 0) {
        if (pending && axmul__tool_rows_write(&rows, out.s, out.len) != 0) {
            errorf("-o %s: %s", o->output, strerror(errno));
            rc = AXMUL__EXIT_USAGE;
        }
        axmul__tool_rows_close(&rows);
    } else if (o->output) {
        /* Written via the library's atomic writer: a report file is whole or absent. */
        if (axmul_file_write_atomic(o->output, out.s ? out.s : "", out.len) != AXMUL_OK) {
            errorf("%s", axmul_error_detail());
            rc = AXMUL__EXIT_USAGE;
        }
    } else if (out.len) {
        fwrite(out.s, 1, out.len, stdout);
    }
    free(out.s);
    return rc;
}

/* --convert: the one table in another format. The tool's exit status. */
static int verify_convert(const verify_opts *o, const char *path)
{
    if (!o->output) {
        errorf("--convert needs -o FILE");
        return AXMUL__EXIT_USAGE;
    }
    const axmul_table_format fmt = o->from_given ? o->from : axmul_table_format_guess(path);
    axmul_table *t = NULL;
    if (axmul_table_import(path, fmt, o->force_signed, &t) != AXMUL_OK ||
        axmul_table_export(t, o->convert, o->output) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        axmul_table_free(t);
        return AXMUL__EXIT_USAGE;
    }
    axmul_table_free(t);
    return AXMUL__EXIT_OK;
}

int main(int argc, char **argv)
{
    axmul__tool_set_name(PROG);
    verify_opts o;
    memset(&o, 0, sizeof o);
    o.fmt = FMT_TEXT;
    o.force_signed = -1;
    o.scale = 1;
    const int p = verify_parse(argc, argv, &o);
    if (p != 0)
        return p > 0 ? AXMUL__EXIT_OK : AXMUL__EXIT_USAGE;
    if (o.convert_given) {
        if (argc - optind != 1) {
            errorf("--convert takes one table (got %d)", argc - optind);
            return AXMUL__EXIT_USAGE;
        }
        if (axmul__tool_refuse_overwrite("-o", o.output, (const char *const *)argv + optind, 1))
            return AXMUL__EXIT_USAGE;
        return verify_convert(&o, argv[optind]);
    }
    if (verify_prepare(&o, (const char *const *)argv + optind, argc - optind) != 0) {
        axmul_table_free(o.ref);
        return AXMUL__EXIT_USAGE;
    }
    int rc = verify_report(&o, optind, argc, argv);
    axmul_table_free(o.ref);
    if (fflush(stdout) != 0) {
        errorf("writing the report: %s", strerror(errno));
        return AXMUL__EXIT_USAGE;
    }
    return rc;
}
