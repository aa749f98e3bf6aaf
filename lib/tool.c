/* axmul: helpers shared by the command-line tools. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/tool.h"

static const char *prog_name = "axmul";
static volatile sig_atomic_t interrupted;

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
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            axmul__tool_bprintf(b, "\\%c", *p);
        else if (*p < 0x20)
            axmul__tool_bprintf(b, "\\u%04x", *p);
        else
            axmul__tool_bprintf(b, "%c", *p);
    }
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

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

void axmul__tool_catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int axmul__tool_interrupted(void)
{
    return interrupted;
}

int axmul__tool_write_row(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t w = write(fd, s, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        len -= (size_t)w;
    }
    return fsync(fd) == 0 || errno == EINVAL ? 0 : -1;
}

int axmul__tool_rows_open(axmul__tool_rows *r, const char *path, int resume)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->resume = resume;
    /* O_EXCL first, to know whether a later failure leaves behind a file of ours; a file removed
     * between the two opens is created on the next round. */
    for (int tries = 0; tries < 3; tries++) {
        r->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
        if (r->fd >= 0) {
            r->created = 1;
            return 0;
        }
        if (errno != EEXIST)
            return -1;
        r->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (r->fd >= 0) {
            struct stat st;
            r->had_content = fstat(r->fd, &st) == 0 && st.st_size > 0;
            return 0;
        }
        if (errno != ENOENT)
            return -1;
    }
    return -1;
}

int axmul__tool_rows_write(axmul__tool_rows *r, const char *s, size_t len)
{
    if (!r->written && !r->resume && r->had_content && ftruncate(r->fd, 0) != 0)
        return -1;
    r->written = 1;
    return axmul__tool_write_row(r->fd, s, len);
}

void axmul__tool_rows_close(axmul__tool_rows *r)
{
    if (r->fd < 0)
        return;
    close(r->fd);
    r->fd = -1;
    if (r->created && !r->written)
        unlink(r->path);
}

int axmul__tool_done_rows(const char *path, int json, const char *csv_header, char ***done)
{
    *done = NULL;
    FILE *f = fopen(path, "r+");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long good = 0;
    int n = 0;
    while ((len = getline(&line, &cap, f)) > 0 && line[len - 1] == '\n') {
        good = ftell(f);
        char *name = NULL;
        if (!json) {
            if (csv_header && strncmp(line, csv_header, strlen(csv_header)) == 0)
                continue;
            name = strndup(line, strcspn(line, ","));
        } else {
            const char *p = strstr(line, "\"table\": \"");
            if (!p)
                continue;
            p += 10;
            name = malloc(strlen(p) + 1);
            size_t k = 0;
            while (name && *p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                name[k++] = *p++;
            }
            if (name)
                name[k] = '\0';
        }
        char **nd = name ? realloc(*done, sizeof(char *) * (size_t)(n + 1)) : NULL;
        if (!nd) {
            free(name);
            break;
        }
        *done = nd;
        (*done)[n++] = name;
    }
    free(line);
    int ok = fflush(f) == 0 && ftruncate(fileno(f), good) == 0;
    fclose(f);
    return ok ? n : -1;
}
