/* axmul: whole-file reads with size limits and atomic writes. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/core/internal.h"

axmul_status axmul__status_from_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return AXMUL_ERR_NOT_FOUND;
    case EISDIR:
        return AXMUL_ERR_IS_DIRECTORY;
    case EACCES:
    case EPERM:
    case EROFS:
        return AXMUL_ERR_PERMISSION;
    case ENOMEM:
        return AXMUL_ERR_NOMEM;
    default:
        return AXMUL_ERR_IO;
    }
}

int axmul__mul_size(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return 0;
    *out = a * b;
    return 1;
}

const char *axmul__file_kind(unsigned mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    return "not a regular file";
}

axmul_status axmul__open_regular(const char *path, int *out)
{
    *out = -1;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever (and
     * a tape or terminal device likewise); the type is checked on the descriptor, then the flag
     * is cleared for the reads. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return axmul__fail(axmul__status_from_errno(e), "%s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return axmul__fail(AXMUL_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode))
            return axmul__fail(AXMUL_ERR_IS_DIRECTORY, "%s: is a directory, not a file", path);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: is %s, not a regular file", path,
                           axmul__file_kind(st.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return axmul__fail(AXMUL_ERR_IO, "%s: %s", path, strerror(e));
    }
    *out = fd;
    return AXMUL_OK;
}

int axmul_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned c = p[0];
    const int n = c == 0           ? 0
                  : c < 0x80       ? 1
                  : (c >> 5) == 6  ? 2
                  : (c >> 4) == 14 ? 3
                  : (c >> 3) == 30 ? 4
                                   : 0;
    if (n <= 1)
        return n;
    unsigned v = c & (0x7fu >> n);
    for (int k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) /* a NUL ends the sequence here too */
            return 0;
        v = v << 6 | (p[k] & 0x3fu);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    return v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ? 0 : n;
}

const char *axmul__plain_name_why(const char *name, size_t max_len)
{
    const size_t n = strlen(name);
    if (n == 0)
        return "it is empty";
    if (n > max_len)
        return "it is longer than the limit";
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return "'.' and '..' name folders";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '/' || *p == '\\')
            return "it holds a slash (a name must not reach outside its folder)";
        if (*p < 0x20 || *p == 0x7f)
            return "it holds a control character";
    }
    /* UTF-8, so that a name prints in JSON and a terminal as it reads */
    for (const char *p = name; *p;) {
        const int len = axmul_utf8_len(p);
        if (!len)
            return "it is not valid UTF-8";
        p += len;
    }
    return NULL;
}

axmul_status axmul__read_file(const char *path, size_t max_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int fd;
    axmul_status s0 = axmul__open_regular(path, &fd);
    if (s0 != AXMUL_OK)
        return s0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return axmul__fail(AXMUL_ERR_IO, "%s: %s", path, strerror(e));
    }
    if ((unsigned long long)st.st_size > (unsigned long long)max_len) {
        close(fd);
        return axmul__fail(AXMUL_ERR_SIZE, "%s: %lld bytes, larger than the %zu-byte limit", path,
                           (long long)st.st_size, max_len);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, len);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return axmul__fail(axmul__status_from_errno(e), "%s: read failed: %s", path,
                               strerror(e));
        }
        if (r == 0)
            break; /* file shrank while reading: report what we got */
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *out_len = got;
    return AXMUL_OK;
}

static axmul_status write_all(int fd, const void *data, size_t len, const char *path)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            return axmul__fail(axmul__status_from_errno(e), "%s: write failed: %s", path,
                               strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    return AXMUL_OK;
}

axmul_status axmul__write_file_atomic(const char *path, const void *data, size_t len)
{
    if (strcmp(path, "-") == 0) {
        axmul_status st = write_all(STDOUT_FILENO, data, len, "<stdout>");
        return st;
    }
    size_t plen = strlen(path);
    if (plen == 0)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "empty output file name");
    if (path[plen - 1] == '/')
        return axmul__fail(AXMUL_ERR_IS_DIRECTORY, "%s: is a directory name, not a file", path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return axmul__fail(AXMUL_ERR_IS_DIRECTORY, "%s: is a directory, not a file", path);

    /* The temporary lives next to the target so that rename() stays within one file system and
     * the replacement is atomic. */
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return axmul__fail(axmul__status_from_errno(e), "%s: cannot create output file: %s", path,
                           strerror(e));
    }
    axmul_status s = write_all(fd, data, len, path);
    if (s == AXMUL_OK && fsync(fd) != 0) {
        int e = errno;
        s = axmul__fail(AXMUL_ERR_IO, "%s: fsync failed: %s", path, strerror(e));
    }
    /* mkstemp creates 0600; give the file the permissions a plain fopen would. */
    if (s == AXMUL_OK) {
        mode_t mask = umask(0);
        umask(mask);
        if (fchmod(fd, 0666 & ~mask) != 0) {
            int e = errno;
            s = axmul__fail(AXMUL_ERR_IO, "%s: chmod failed: %s", path, strerror(e));
        }
    }
    if (close(fd) != 0 && s == AXMUL_OK) {
        int e = errno;
        s = axmul__fail(AXMUL_ERR_IO, "%s: close failed: %s", path, strerror(e));
    }
    if (s == AXMUL_OK && rename(tmp, path) != 0) {
        int e = errno;
        s = axmul__fail(axmul__status_from_errno(e), "%s: rename failed: %s", path, strerror(e));
    }
    if (s != AXMUL_OK)
        unlink(tmp);
    free(tmp);
    return s;
}

axmul_status axmul_file_read(const char *path, size_t max_len, void **data, size_t *len)
{
    axmul_error_clear();
    if (!path || !data || !len)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_file_read: NULL argument");
    uint8_t *b;
    axmul_status s = axmul__read_file(path, max_len, &b, len);
    *data = b;
    return s;
}

axmul_status axmul_file_write_atomic(const char *path, const void *data, size_t len)
{
    axmul_error_clear();
    if (!path || (!data && len))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_file_write_atomic: NULL argument");
    return axmul__write_file_atomic(path, data, len);
}

/* ---------------------------------------------------------------- staged folders */

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return (flag == FTW_DP ? rmdir(p) : unlink(p)) != 0 && errno != ENOENT ? -1 : 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

axmul_status axmul_dir_stage(const char *target, char **staging)
{
    axmul_error_clear();
    if (!target || !staging)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_dir_stage: NULL argument");
    *staging = NULL;
    size_t n = strlen(target);
    while (n > 1 && target[n - 1] == '/')
        n--;
    if (n == 0)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "empty output folder name");
    struct stat st;
    if (stat(target, &st) == 0 && !S_ISDIR(st.st_mode))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: exists and is %s, not a folder", target,
                           axmul__file_kind(st.st_mode));
    char *tmp = malloc(n + 16);
    if (!tmp)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", target);
    snprintf(tmp, n + 16, "%.*s.tmpXXXXXX", (int)n, target);
    if (!mkdtemp(tmp)) {
        int e = errno;
        free(tmp);
        return axmul__fail(axmul__status_from_errno(e), "%s: cannot create a folder beside it: %s",
                           target, strerror(e));
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask); /* mkdtemp makes 0700; a plain mkdir would not */
    *staging = tmp;
    return AXMUL_OK;
}

void axmul_dir_discard(char *staging)
{
    if (!staging)
        return;
    remove_tree(staging);
    free(staging);
}

/* Moves what the old folder holds and the new one lacks (the user's own files beside a model, a
 * README say) into the new one: regular files and links by hard link, so that a failure before
 * the swap leaves the old folder whole; folders by rename, undone by undo_moves. */
static int carry_over(const char *old, const char *neu, char ***moved, size_t *nmoved)
{
    DIR *d = opendir(old);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char a[4096], b[4096];
        struct stat st;
        snprintf(a, sizeof a, "%s/%s", old, e->d_name);
        snprintf(b, sizeof b, "%s/%s", neu, e->d_name);
        if (lstat(b, &st) == 0 || lstat(a, &st) != 0)
            continue; /* the new output has its own (or the entry went away) */
        if (!S_ISDIR(st.st_mode)) {
            rc = linkat(AT_FDCWD, a, AT_FDCWD, b, 0);
            continue;
        }
        char **v = realloc(*moved, (*nmoved + 1) * sizeof *v);
        if (!v || !(v[*nmoved] = strdup(e->d_name))) {
            if (v)
                *moved = v;
            rc = -1;
            break;
        }
        *moved = v;
        if ((rc = rename(a, b)) == 0)
            (*nmoved)++;
        else
            free(v[*nmoved]);
    }
    closedir(d);
    return rc;
}

static void undo_moves(const char *old, const char *neu, char **moved, size_t nmoved)
{
    for (size_t i = 0; i < nmoved; i++) {
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/%s", old, moved[i]);
        snprintf(b, sizeof b, "%s/%s", neu, moved[i]);
        rename(b, a);
    }
}

axmul_status axmul_dir_commit(char *staging, const char *target)
{
    axmul_error_clear();
    if (!staging || !target) {
        axmul_dir_discard(staging);
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_dir_commit: NULL argument");
    }
    struct stat st;
    axmul_status s = AXMUL_OK;
    char **moved = NULL;
    size_t nmoved = 0;
    if (stat(target, &st) != 0) {
        /* no earlier output: a plain rename puts the whole folder in place at once */
        if (rename(staging, target) != 0) {
            int e = errno;
            s = axmul__fail(axmul__status_from_errno(e), "%s: cannot put the output in place: %s",
                            target, strerror(e));
        }
    } else if (!S_ISDIR(st.st_mode)) {
        s = axmul__fail(AXMUL_ERR_FORMAT, "%s: exists and is %s, not a folder", target,
                        axmul__file_kind(st.st_mode));
    } else if (carry_over(target, staging, &moved, &nmoved) != 0) {
        int e = errno;
        undo_moves(target, staging, moved, nmoved);
        s = axmul__fail(axmul__status_from_errno(e), "%s: cannot keep the folder's other files: %s",
                        target, strerror(e));
    } else if (renameat2(AT_FDCWD, staging, AT_FDCWD, target, RENAME_EXCHANGE) == 0) {
        /* the two folders swapped in one step: the old output is now at staging */
    } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        /* a file system without the exchange: set the old folder aside, then rename, so that
         * the target is absent for a moment but never mixed */
        size_t n = strlen(staging) + 8;
        char *aside = malloc(n);
        if (!aside) {
            undo_moves(target, staging, moved, nmoved);
            s = axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", target);
        } else {
            snprintf(aside, n, "%s.old", staging);
            if (rename(target, aside) != 0 || rename(staging, target) != 0) {
                int e = errno;
                rename(aside, target);
                undo_moves(target, staging, moved, nmoved);
                s = axmul__fail(axmul__status_from_errno(e),
                                "%s: cannot put the output in place: %s", target, strerror(e));
            } else {
                remove_tree(aside);
            }
            free(aside);
        }
    } else {
        int e = errno;
        undo_moves(target, staging, moved, nmoved);
        s = axmul__fail(axmul__status_from_errno(e), "%s: cannot put the output in place: %s",
                        target, strerror(e));
    }
    for (size_t i = 0; i < nmoved; i++)
        free(moved[i]);
    free(moved);
    axmul_dir_discard(staging); /* the old output, the failed new one, or nothing */
    return s;
}
