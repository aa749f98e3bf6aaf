/* axmul: status codes and per-call error detail. */
#ifndef AXMUL_STATUS_H
#define AXMUL_STATUS_H

#include <stddef.h>

#include "axmul_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one list of status codes. X(NAME, message): NAME becomes AXMUL_NAME. Append only: the
 * numeric values are part of the ABI. */
#define AXMUL_STATUS_LIST(X)                                                                       \
    X(OK, "success")                                                                               \
    X(ERR_INVALID_ARGUMENT, "invalid argument")                                                    \
    X(ERR_IO, "input/output error")                                                                \
    X(ERR_NOT_FOUND, "no such file or directory")                                                  \
    X(ERR_IS_DIRECTORY, "is a directory")                                                          \
    X(ERR_PERMISSION, "permission denied")                                                         \
    X(ERR_SIZE, "wrong file size")                                                                 \
    X(ERR_FORMAT, "malformed input")                                                               \
    X(ERR_RANGE, "value out of range")                                                             \
    X(ERR_SHAPE, "shape mismatch")                                                                 \
    X(ERR_NONFINITE, "non-finite value")                                                           \
    X(ERR_NOMEM, "out of memory")                                                                  \
    X(ERR_OVERFLOW, "size too large")                                                              \
    X(ERR_UNSUPPORTED, "unsupported")                                                              \
    X(ERR_NOT_BUILT, "backend not built")                                                          \
    X(ERR_NO_DEVICE, "no device")                                                                  \
    X(ERR_CUDA, "CUDA error")                                                                      \
    X(ERR_MISMATCH, "contents differ")

typedef enum axmul_status {
#define AXMUL__STATUS_ENUM(name, msg) AXMUL_##name,
    AXMUL_STATUS_LIST(AXMUL__STATUS_ENUM)
#undef AXMUL__STATUS_ENUM
        AXMUL_STATUS_COUNT
} axmul_status;

/* Short, static, English description of a status; never NULL (unknown codes give a generic
 * text). */
AXMUL_API const char *axmul_strerror(axmul_status status);

/* Detail of the last failing call on this thread: names the file or argument and what was wrong,
 * e.g. "t.bin: 65536 bytes (expected 131072): looks like one byte per entry". The string belongs
 * to the library and stays valid until the next axmul call on this thread. Empty when the last
 * call set none. */
AXMUL_API const char *axmul_error_detail(void);

/* Clears the detail string; every public fallible function calls it on entry. */
AXMUL_API void axmul_error_clear(void);

/* Writes len bytes to path atomically: a temporary file in the same folder, fsync, rename; on
 * any error nothing is left behind. "-" writes to standard output. For reports and images that
 * must be whole or absent. */
AXMUL_API axmul_status axmul_file_write_atomic(const char *path, const void *data, size_t len);

/* The length in bytes (1 to 4) of the well-formed UTF-8 sequence that s starts with, as RFC 3629
 * defines it (no overlong forms, surrogates or values past U+10FFFF), or 0 when s does not start
 * one (a stray continuation byte, a sequence cut short, and the NUL byte). For names printed in
 * JSON and on terminals; s is not NULL. */
AXMUL_API int axmul_utf8_len(const char *s);

/* Reads the whole regular file at path into *data (malloc'ed; the caller frees it) and its size
 * into *len. A FIFO, device or socket is refused by name without blocking, a folder with
 * AXMUL_ERR_IS_DIRECTORY, a file over max_len bytes with AXMUL_ERR_SIZE before reading it. */
AXMUL_API axmul_status axmul_file_read(const char *path, size_t max_len, void **data, size_t *len);

/* Folder outputs that are whole or absent (a model folder, a report, an operand dump): write
 * everything into *staging (a new folder beside target; the caller frees the string only
 * through commit or discard), then axmul_dir_commit swaps it in for target in one rename; the
 * files of an existing target that the new output does not write are kept (hard links), the
 * rest of the old output is removed. On any failure target is left as it was and the staging
 * folder is removed. axmul_dir_discard(NULL) is a no-op. */
AXMUL_API axmul_status axmul_dir_stage(const char *target, char **staging);
AXMUL_API axmul_status axmul_dir_commit(char *staging, const char *target);
AXMUL_API void axmul_dir_discard(char *staging);

#ifdef __cplusplus
}
#endif
#endif
