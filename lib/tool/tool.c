/* axmul: helpers shared by the command-line tools: messages, options, text buffers, JSON, time,
 * and error statistics of tensors. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "axmul.h"
#include "lib/tool/tool.h"

static const char *prog_name = "axmul";

void axmul__tool_set_name(const char *prog)
{
    prog_name = prog;
}

void axmul__tool_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: error: ", prog_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Options whose name starts with the name part of arg ("--NAME" or "--NAME=VALUE") and, when
 * val is not 0, whose val is val. */
static int long_matches(const struct option *opts, const char *arg, int val)
{
    if (strncmp(arg, "--", 2) != 0)
        return 0;
    size_t len = strcspn(arg + 2, "=");
    int n = 0;
    for (const struct option *o = opts; o->name; o++)
        n += strncmp(o->name, arg + 2, len) == 0 && (val == 0 || o->val == val);
    return n;
}

int axmul__tool_getopt(int argc, char **argv, const char *optstring, const struct option *opts)
{
    char lead[128]; /* a leading ':' makes getopt tell a missing argument from a bad option */
    snprintf(lead, sizeof lead, ":%s", optstring);
    opterr = 0;
    int c = getopt_long(argc, argv, lead, opts, NULL);
    if (c != '?' && c != ':')
        return c;
    /* getopt says which option only through optopt (0 for an unknown or ambiguous long one)
     * and optind: a long option has moved optind past itself, a short one in a cluster ("-qZ")
     * may not have. */
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    const int len = (int)strcspn(arg, "=");
    const int is_long = optopt == 0 || long_matches(opts, arg, optopt) > 0;
    if (c == ':' && is_long)
        axmul__tool_error("option '%s' needs an argument", arg);
    else if (c == ':')
        axmul__tool_error("option '-%c' needs an argument", optopt);
    else if (!is_long)
        axmul__tool_error("unknown option '-%c'", optopt);
    else if (optopt != 0)
        axmul__tool_error("option '%.*s' takes no argument", len, arg);
    else
        axmul__tool_error("%s option '%.*s'",
                          long_matches(opts, arg, 0) > 1 ? "ambiguous" : "unknown", len, arg);
    return '?';
}

void axmul__tool_bprintf(axmul__tool_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            axmul__tool_error("out of memory");
            exit(2);
        }
        b->s = ns;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void axmul__tool_json_str(axmul__tool_buf *b, const char *s)
{
    axmul__tool_bprintf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        const int n = axmul_utf8_len((const char *)p);
        if (*p == '"' || *p == '\\')
            axmul__tool_bprintf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            axmul__tool_bprintf(b, "\\u%04x", *p);
        else if (n == 0) /* a file name is bytes; JSON text is UTF-8: U+FFFD stands in */
            axmul__tool_bprintf(b, "\\ufffd");
        else
            axmul__tool_bprintf(b, "%.*s", n, (const char *)p);
        p += n ? n : 1;
    }
    axmul__tool_bprintf(b, "\"");
}

void axmul__tool_csv_str(axmul__tool_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        axmul__tool_bprintf(b, "%s", s);
        return;
    }
    axmul__tool_bprintf(b, "\""); /* RFC 4180: quoted, with inner quotes doubled */
    for (const char *p = s; *p; p++)
        axmul__tool_bprintf(b, *p == '"' ? "\"\"" : "%c", *p);
    axmul__tool_bprintf(b, "\"");
}

double axmul__tool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int axmul__tool_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

void axmul__tool_json_num(axmul__tool_buf *b, const char *fmt, double v)
{
    if (isfinite(v))
        axmul__tool_bprintf(b, fmt, v);
    else
        axmul__tool_bprintf(b, "null");
}

/* ---------------------------------------------------------------- error statistics */

void axmul__tool_errstats_add(axmul__tool_errstats *s, const float *y, const float *ref, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double r = ref[i], diff = (double)y[i] - r;
        s->max_ref = fmax(s->max_ref, fabs(r));
        s->max_diff = fmax(s->max_diff, fabs(diff));
        s->sum_abs += fabs(diff);
        s->sum_sq += diff * diff;
        s->signal += r * r;
    }
    s->n += n;
}

double axmul__tool_snr_db(double signal, double noise)
{
    return noise > 0 ? 10.0 * log10(signal / noise) : INFINITY;
}

int axmul__tool_refuse_overwrite(const char *opt, const char *out, const char *const *inputs,
                                 size_t n)
{
    struct stat so, si;
    if (!out || strcmp(out, "-") == 0 || stat(out, &so) != 0 || !S_ISREG(so.st_mode))
        return 0; /* a new file, or standard output, cannot be an input */
    for (size_t i = 0; i < n; i++)
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino) {
            axmul__tool_error("%s %s: is the input %s (same file): writing it would destroy "
                              "the input",
                              opt, out, inputs[i]);
            return -1;
        }
    return 0;
}
