/* axmul: helpers shared by the command-line tools (not part of libaxmul; linked into each tool
 * from a convenience library). */
#ifndef AXMUL_TOOL_H
#define AXMUL_TOOL_H

#include <stddef.h>
#include <stdio.h>

/* Sets the program name used by axmul__tool_error ("axmul-gen", ...). */
void axmul__tool_set_name(const char *prog);

/* Prints "PROG: error: <message>" and a newline to stderr. */
void axmul__tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growing text buffer for reports that are written in one go. */
typedef struct {
    char *s;
    size_t len, cap;
} axmul__tool_buf;

/* Appends printf-style text; on out-of-memory prints an error and exits with status 2. */
void axmul__tool_bprintf(axmul__tool_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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

/* Names already present in a sweep's result file: CSV (first field; lines starting with
 * csv_header are skipped) or JSON lines (the value of "table"). A last line without its newline
 * (a run killed mid-write) is cut off the file. Returns the count (caller frees each name and
 * the array), -1 on error (errno set); a missing file counts 0. */
int axmul__tool_done_rows(const char *path, int json, const char *csv_header, char ***done);

#endif
