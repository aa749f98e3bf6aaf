/* axmul: the tools' sweeps: interrupts that stop between tables, result files written row by
 * row, and the rows an earlier run already wrote (--resume). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/tool/tool.h"

static volatile sig_atomic_t interrupted;

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
    /* a row that does not fit (a full disk) is cut off again, so that the file ends with a whole
     * row and --resume continues after it */
    struct stat st;
    const off_t start = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
    while (len) {
        ssize_t w = write(fd, s, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            const int e = errno;
            if (start >= 0 && ftruncate(fd, start) != 0) {
                /* the write's error is the one to report */
            }
            errno = e;
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

char *axmul__tool_csv_first(const char *line, const char **rest)
{
    if (line[0] != '"') {
        const size_t n = strcspn(line, ",");
        if (rest)
            *rest = line + n;
        return strndup(line, n);
    }
    char *name = malloc(strlen(line));
    const char *p = line + 1;
    size_t k = 0;
    for (; *p && !(*p == '"' && p[1] != '"'); p++) {
        if (*p == '"')
            p++;
        if (name)
            name[k++] = *p;
    }
    if (name)
        name[k] = '\0';
    if (rest) /* past the closing quote, up to the comma */
        *rest = *p ? p + 1 + strcspn(p + 1, ",") : p;
    return name;
}

int axmul__tool_done_rows(const char *path, int json, const char *csv_header, const char *first,
                          char ***done)
{
    *done = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* reading a FIFO would wait for a writer forever; a device has no rows to resume */
        axmul__tool_error("--resume %s: not a regular file (only a results file that this tool "
                          "wrote can be resumed)",
                          path);
        return -2;
    }
    FILE *f = fopen(path, "r+");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long good = 0;
    int n = 0;
    while ((len = getline(&line, &cap, f)) > 0 && line[len - 1] == '\n') {
        if (first && good == 0 && strcmp(line, first) != 0) {
            /* appending to a file of another tool or other options would mix two tables */
            axmul__tool_error("--resume %s: not a results file of these options (its first line "
                              "is not the header they write: %.*s)",
                              path, (int)strcspn(first, "\n"), first);
            free(line);
            fclose(f);
            for (int i = 0; i < n; i++)
                free((*done)[i]);
            free(*done);
            *done = NULL;
            return -2;
        }
        good = ftell(f);
        char *name = NULL;
        if (!json) {
            if (csv_header && strncmp(line, csv_header, strlen(csv_header)) == 0)
                continue;
            name = axmul__tool_csv_first(line, NULL);
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
