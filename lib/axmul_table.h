/* axmul: 8x8 multiplier lookup tables. */
#ifndef AXMUL_TABLE_H
#define AXMUL_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A table has 65,536 16-bit entries; entry a*256+b is the product of operand a (the activation,
 * table row) and operand b (the weight, table column). Unsigned tables hold uint16 products of
 * uint8 operands. Signed (mul8s) tables use the same layout with index ((uint8_t)a)*256 +
 * (uint8_t)b and hold the int16 product in two's complement. On disk: 131,072 bytes,
 * little-endian, no header (the EvoApprox/TFApprox .bin format). */
#define AXMUL_TABLE_ENTRIES 65536u
#define AXMUL_TABLE_BYTES 131072u

typedef struct axmul_table axmul_table;

/* Creates an all-zero table. signedness: 0 unsigned, 1 signed. *out receives a table owned by
 * the caller (release with axmul_table_free). Errors: ERR_INVALID_ARGUMENT, ERR_NOMEM. */
AXMUL_API axmul_status axmul_table_create(int is_signed, axmul_table **out);

/* Creates the exact multiplier table (a*b, or the int16 product when is_signed). */
AXMUL_API axmul_status axmul_table_create_exact(int is_signed, axmul_table **out);

/* Copies a table. */
AXMUL_API axmul_status axmul_table_clone(const axmul_table *src, axmul_table **out);

/* Releases a table; NULL is a no-op. */
AXMUL_API void axmul_table_free(axmul_table *t);

/* Loads a table file. is_signed is stored with the table (the file format has no flag). A file
 * that is not exactly 131,072 bytes is ERR_SIZE with a detail that says what its size suggests;
 * a missing file is ERR_NOT_FOUND, a directory ERR_IS_DIRECTORY, an unreadable one
 * ERR_PERMISSION or ERR_IO. */
AXMUL_API axmul_status axmul_table_load(const char *path, int is_signed, axmul_table **out);

/* Builds a table from 131,072 little-endian bytes in memory; name is used in error details
 * (may be NULL). Same size diagnostics as axmul_table_load. */
AXMUL_API axmul_status axmul_table_from_bytes(const void *bytes, size_t len, const char *name,
                                              int is_signed, axmul_table **out);

/* Writes the table as 131,072 little-endian bytes whatever the host byte order. The file
 * appears atomically: written to a temporary file in the same folder, flushed with fsync, then
 * renamed over path; on any error no file (and no temporary) is left behind. path "-" writes to
 * standard output. */
AXMUL_API axmul_status axmul_table_save(const axmul_table *t, const char *path);

/* Serialises to 131,072 little-endian bytes at out. */
AXMUL_API void axmul_table_to_bytes(const axmul_table *t, uint8_t *out);

/* Raw entries in host byte order, index a*256+b; 65,536 of them. Never NULL for a valid t. */
AXMUL_API const uint16_t *axmul_table_data(const axmul_table *t);
AXMUL_API uint16_t *axmul_table_data_mut(axmul_table *t);

AXMUL_API int axmul_table_is_signed(const axmul_table *t);
AXMUL_API void axmul_table_set_signed(axmul_table *t, int is_signed);

/* Entry for table indices ia, ib (0..255), interpreted as a product: 0..65535 for unsigned
 * tables, -32768..32767 for signed ones. */
AXMUL_API int32_t axmul_table_product(const axmul_table *t, unsigned ia, unsigned ib);

/* Exact product for table indices (ia, ib) under the table's signedness. */
AXMUL_API int32_t axmul_exact_product(int is_signed, unsigned ia, unsigned ib);

/* 1 when both tables have identical entries (signedness is not compared). */
AXMUL_API int axmul_table_equal(const axmul_table *x, const axmul_table *y);

/* Guesses signedness from a file name: 1 when the base name starts with "mul8s_", else 0. */
AXMUL_API int axmul_name_is_signed(const char *path);

/* SHA-256 of the 131,072 on-disk bytes, as 64 lowercase hex digits plus NUL. */
AXMUL_API void axmul_table_sha256(const axmul_table *t, char hex[65]);

/* SHA-256 of arbitrary bytes, lowercase hex. */
AXMUL_API void axmul_sha256_hex(const void *data, size_t len, char hex[65]);

/* ------------------------------------------------------------ other tools' table formats */

/* The table formats of other approximate-multiplier frameworks, read and written next to the
 * native .bin. Rows are always the first operand (the activation), columns the second.
 *   BIN          EvoApprox/TFApprox .bin, this library's own format
 *   TORCHAPPROX  TorchApprox: a .npy array (256, 256) of int32 in two's-complement index order
 *                (row i is the operand (int8_t)i). Signed tables map entry for entry; an
 *                unsigned table is written as TorchApprox applies unsigned multipliers to signed
 *                operands, in sign-magnitude: (i, j) = s_i s_j T[|v_i|][|v_j|]. Reads give
 *                signed tables.
 *   APPROXTORCH  ApproxTorch: text, 256 rows of 256 integers, rows and columns in operand value
 *                order -128..127. Signed tables only.
 *   ADAPT        AdaPT and TransAxx: a C header declaring lut[256][256] = {...}, byte index
 *                order (as the .bin); int16_t entries for signed tables, uint16_t for
 *                unsigned ones. */
#define AXMUL_TABLE_FORMAT_LIST(X)                                                                 \
    X(BIN, "bin")                                                                                  \
    X(TORCHAPPROX, "torchapprox")                                                                  \
    X(APPROXTORCH, "approxtorch")                                                                  \
    X(ADAPT, "adapt")

typedef enum axmul_table_format {
#define AXMUL__FORMAT_ENUM(name, text) AXMUL_FORMAT_##name,
    AXMUL_TABLE_FORMAT_LIST(AXMUL__FORMAT_ENUM)
#undef AXMUL__FORMAT_ENUM
        AXMUL_FORMAT_COUNT
} axmul_table_format;

/* The format called name ("bin", "torchapprox", "approxtorch", "adapt"); ERR_INVALID_ARGUMENT
 * naming the known ones otherwise. */
AXMUL_API axmul_status axmul_table_format_from_name(const char *name, axmul_table_format *out);

/* The name of a format, a static string ("bin", ...); "unknown" for other values. */
AXMUL_API const char *axmul_table_format_name(axmul_table_format fmt);

/* The format a file name suggests: .npy TORCHAPPROX, .txt APPROXTORCH, .h ADAPT, anything else
 * BIN. */
AXMUL_API axmul_table_format axmul_table_format_guess(const char *path);

/* Reads a table written in fmt. is_signed: for BIN and for ADAPT headers whose entry type says
 * nothing (int, long), the signedness to store (-1: from the file name, mul8s_); TORCHAPPROX and
 * APPROXTORCH tables are signed and ADAPT's int16_t/uint16_t decide. Entries outside the
 * table's int16/uint16 range, a wrong element count or dtype are errors naming the file and the
 * first bad entry. */
AXMUL_API axmul_status axmul_table_import(const char *path, axmul_table_format fmt, int is_signed,
                                          axmul_table **out);

/* Writes t in fmt, atomically (whole or absent). ERR_UNSUPPORTED for an unsigned table in
 * APPROXTORCH. path "-" writes to standard output. */
AXMUL_API axmul_status axmul_table_export(const axmul_table *t, axmul_table_format fmt,
                                          const char *path);

#ifdef __cplusplus
}
#endif
#endif
