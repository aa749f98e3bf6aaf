/* axmul: helpers shared by the command-line tools (not part of libaxmul; linked into each tool
 * from a convenience library). */
#ifndef AXMUL_TOOL_H
#define AXMUL_TOOL_H

#include <stddef.h>
#include <stdio.h>

/* The exit status of every tool: 0 ok, 1 a check failed (or the input checked is wrong), 2 a
 * usage or I/O error, 130 interrupted by SIGINT or SIGTERM (after complete result rows). */
enum {
    AXMUL__EXIT_OK = 0,
    AXMUL__EXIT_CHECK = 1,
    AXMUL__EXIT_USAGE = 2,
    AXMUL__EXIT_INTERRUPTED = 130
};

/* Sets the program name used by axmul__tool_error ("axmul-gen", ...). */
void axmul__tool_set_name(const char *prog);

/* Prints "PROG: error: <message>" and a newline to stderr. */
void axmul__tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct option;
/* getopt_long with the tools' error format: an unknown, ambiguous or misused option and a
 * missing argument are reported as "PROG: error: ..." (getopt's own messages name the libtool
 * wrapper's path or the subcommand) and returned as '?'; otherwise as getopt_long. optstring
 * must not start with ':' or '+'. */
int axmul__tool_getopt(int argc, char **argv, const char *optstring, const struct option *opts);

/* A growing text buffer for reports that are written in one go. */
typedef struct {
    char *s;
    size_t len, cap;
} axmul__tool_buf;

/* Appends printf-style text; on out-of-memory prints an error and exits with status 2. */
void axmul__tool_bprintf(axmul__tool_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s as an RFC 4180 CSV field: quoted (inner quotes doubled) when it holds a comma, quote
 * or line break, else as is. */
void axmul__tool_csv_str(axmul__tool_buf *b, const char *s);

/* Appends s as a JSON string literal (quotes, backslashes and control characters escaped; bytes
 * that are not UTF-8, as file names may hold, become U+FFFD). */
void axmul__tool_json_str(axmul__tool_buf *b, const char *s);

/* Appends v with the printf format fmt, or null where v is not finite (JSON has no inf or nan). */
void axmul__tool_json_num(axmul__tool_buf *b, const char *fmt, double v);

/* How far a tensor y is from its reference ref, accumulated over calls in element order (so the
 * same tensors give the same figures bit for bit): the largest |ref| and |y - ref|, the sums of
 * |y - ref|, (y - ref)^2 and ref^2, in double. Zero-initialise. */
typedef struct {
    size_t n;
    double max_ref, max_diff, sum_abs, sum_sq, signal;
} axmul__tool_errstats;
void axmul__tool_errstats_add(axmul__tool_errstats *s, const float *y, const float *ref, size_t n);

/* Signal-to-noise ratio in dB, 10 log10(signal / noise); +inf when noise is 0 (identical). */
double axmul__tool_snr_db(double signal, double noise);

/* Monotonic seconds. */
double axmul__tool_now(void);

/* Parses a whole decimal integer in [lo, hi]; 0 on success, -1 otherwise. */
int axmul__tool_parse_long(const char *s, long lo, long hi, long *out);

/* SIGINT and SIGTERM set a flag instead of killing the process, so that sweeps stop between
 * tables and leave only complete rows. */
void axmul__tool_catch_interrupts(void);
int axmul__tool_interrupted(void);

/* Writes len bytes to fd in full and syncs them; for result rows of sweeps. 0 or -1 (errno). */
int axmul__tool_write_row(int fd, const char *s, size_t len);

/* A sweep's result file, written row by row. Opening it does not change it: without resume its
 * old content is cut only when the first row is written, so a run that fails before its first
 * result (a mistyped argument, only bad tables) leaves an earlier run's results as they were, and
 * a file that this run created but never wrote is removed again by axmul__tool_rows_close. */
typedef struct {
    int fd;           /* -1 when not open */
    const char *path; /* borrowed */
    int resume;       /* append to the old content instead of replacing it */
    int created;      /* this run created the file */
    int had_content;  /* the file was not empty when opened */
    int written;      /* at least one row was written */
} axmul__tool_rows;

/* Opens (creating if needed) path for rows; 0, or -1 with errno set and r->fd == -1. */
int axmul__tool_rows_open(axmul__tool_rows *r, const char *path, int resume);

/* Writes len bytes in full and syncs them; the first call without resume first empties the
 * file. 0 or -1 (errno). */
int axmul__tool_rows_write(axmul__tool_rows *r, const char *s, size_t len);

/* Closes the file (no-op when not open); removes it when this run created it and wrote none. */
void axmul__tool_rows_close(axmul__tool_rows *r);

/* -1 after an error naming opt ("-o", "--heatmap"), when the existing regular file out is one of
 * the n inputs (NULL entries skipped) under any name (same device and inode: hard links,
 * symlinks, ./x and x alike); 0 otherwise. Outputs are written to a temporary and renamed, so
 * an output equal to its input would silently replace it. */
int axmul__tool_refuse_overwrite(const char *opt, const char *out, const char *const *inputs,
                                 size_t n);

/* The first field of a CSV line, unquoted (RFC 4180: a field in double quotes, "" for a quote;
 * else up to the first comma), as a new string the caller frees (NULL when out of memory); *rest
 * (when rest is not NULL) is set to what follows the field: its comma, or the end. */
char *axmul__tool_csv_first(const char *line, const char **rest);

/* Names already present in a sweep's result file: CSV (first field; lines starting with
 * csv_header are skipped) or JSON lines (the value of "table"). A last line without its newline
 * (a run killed mid-write) is cut off the file. Returns the count (caller frees each name and
 * the array), -1 on error (errno set), -2 after printing why the file cannot be resumed (not
 * a regular file; first given and the file's first line differs from it); a missing file
 * counts 0. */
int axmul__tool_done_rows(const char *path, int json, const char *csv_header, const char *first,
                          char ***done);

#endif
