/* axmul: internal helpers shared by the library's modules (not installed). */
#ifndef AXMUL_INTERNAL_H
#define AXMUL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_status.h"

#if defined(__GNUC__)
#define AXMUL__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define AXMUL__PRINTF(fmt, args)
#endif

/* Sets the thread's error detail (printf-style) and returns status, so that failing paths read
 * `return axmul__fail(AXMUL_ERR_IO, "%s: ...", path, ...);`. */
axmul_status axmul__fail(axmul_status status, const char *fmt, ...) AXMUL__PRINTF(2, 3);

/* Reads a whole regular file into a malloc'd buffer (caller frees). Refuses files larger than
 * max_len with ERR_SIZE (detail says so) without reading them. Maps errno to a status with a
 * detail naming path. */
axmul_status axmul__read_file(const char *path, size_t max_len, uint8_t **out, size_t *out_len);

/* Opens path for reading when it is a regular file; a FIFO, device or socket is refused by
 * name without blocking, a folder with ERR_IS_DIRECTORY. *fd is -1 on failure. */
axmul_status axmul__open_regular(const char *path, int *fd);

/* "a FIFO", "a character device", ... for messages about a file of the wrong type. */
const char *axmul__file_kind(unsigned mode);

/* NULL when name may name a file inside a folder (1..max_len bytes of UTF-8, no slash, no
 * control character, not "." or ".."); otherwise why not. The one rule for every name that
 * model data turns into a file name. */
const char *axmul__plain_name_why(const char *name, size_t max_len);

/* Writes len bytes to path atomically (temp file in the same folder, fsync, rename). "-" writes
 * to stdout. On failure nothing is left at path's folder. */
axmul_status axmul__write_file_atomic(const char *path, const void *data, size_t len);

/* Status for an errno value from open/stat/read. */
axmul_status axmul__status_from_errno(int err);

/* Overflow-checked size arithmetic: return 0 on overflow. */
int axmul__mul_size(size_t a, size_t b, size_t *out);

/* FIPS 180-4 SHA-256. */
void axmul__sha256(const void *data, size_t len, uint8_t digest[32]);

/* Hands over a .npy array's data (malloc'ed, count * itemsize bytes) to the caller, who frees
 * it; the array keeps its shape but no data (axmul_npy_data then returns NULL). */
struct axmul_npy;
void *axmul__npy_take_data(struct axmul_npy *a);

/* Writes a .npy file of 4-byte elements (descr: "<f4", "<i4", ...) atomically; data holds the
 * elements in host order (written little-endian). */
axmul_status axmul__npy_save_words(const char *path, const char *descr, const void *data,
                                   const size_t *shape, int ndim);

#endif
