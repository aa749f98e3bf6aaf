/* axmul: whole-file reads with size limits and atomic writes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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

axmul_status axmul__read_file(const char *path, size_t max_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return axmul__fail(AXMUL_ERR_IS_DIRECTORY, "%s: is a directory, not a file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: not a regular file", path);
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

axmul_status axmul_file_write_atomic(const char *path, const void *data, size_t len)
{
    axmul_error_clear();
    if (!path || (!data && len))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_file_write_atomic: NULL argument");
    return axmul__write_file_atomic(path, data, len);
}
