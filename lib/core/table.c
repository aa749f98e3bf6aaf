/* axmul: 8x8 multiplier tables: creation, load, save. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_table.h"
#include "lib/core/internal.h"

struct axmul_table {
    uint16_t v[AXMUL_TABLE_ENTRIES];
    int is_signed;
};

_Static_assert(AXMUL_TABLE_BYTES == 2 * AXMUL_TABLE_ENTRIES, "16-bit entries");

axmul_status axmul_table_create(int is_signed, axmul_table **out)
{
    axmul_error_clear();
    if (!out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_create: out is NULL");
    *out = NULL;
    axmul_table *t = calloc(1, sizeof *t);
    if (!t)
        return axmul__fail(AXMUL_ERR_NOMEM, "cannot allocate a table");
    t->is_signed = is_signed ? 1 : 0;
    *out = t;
    return AXMUL_OK;
}

int32_t axmul_exact_product(int is_signed, unsigned ia, unsigned ib)
{
    if (is_signed)
        return (int32_t)(int8_t)(uint8_t)ia * (int32_t)(int8_t)(uint8_t)ib;
    return (int32_t)((ia & 255u) * (ib & 255u));
}

axmul_status axmul_table_create_exact(int is_signed, axmul_table **out)
{
    axmul_status s = axmul_table_create(is_signed, out);
    if (s != AXMUL_OK)
        return s;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            (*out)->v[a * 256 + b] = (uint16_t)axmul_exact_product(is_signed, a, b);
    return AXMUL_OK;
}

axmul_status axmul_table_clone(const axmul_table *src, axmul_table **out)
{
    axmul_error_clear();
    if (!src || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_clone: NULL argument");
    axmul_status s = axmul_table_create(src->is_signed, out);
    if (s == AXMUL_OK)
        memcpy((*out)->v, src->v, sizeof src->v);
    return s;
}

void axmul_table_free(axmul_table *t)
{
    free(t);
}

/* Explains a wrong size in terms of the mistakes people make when writing tables. */
static axmul_status size_error(const char *name, size_t len)
{
    const char *why;
    char extra[96] = "";
    if (len == 0)
        why = "the file is empty";
    else if (len == AXMUL_TABLE_ENTRIES)
        why = "looks like one byte per entry (8-bit entries); the format needs 16-bit entries";
    else if (len == 4u * AXMUL_TABLE_ENTRIES)
        why = "looks like 32-bit entries; the format needs 16-bit little-endian entries";
    else if (len == 8u * AXMUL_TABLE_ENTRIES)
        why = "looks like 64-bit entries; the format needs 16-bit little-endian entries";
    else if (len > AXMUL_TABLE_BYTES) {
        snprintf(extra, sizeof extra, "%zu bytes too many: a header or trailing bytes",
                 len - AXMUL_TABLE_BYTES);
        why = extra;
    } else {
        snprintf(extra, sizeof extra, "%zu bytes short: the file is truncated",
                 AXMUL_TABLE_BYTES - len);
        why = extra;
    }
    return axmul__fail(AXMUL_ERR_SIZE, "%s: %zu bytes (expected %u): %s", name ? name : "<memory>",
                       len, AXMUL_TABLE_BYTES, why);
}

axmul_status axmul_table_from_bytes(const void *bytes, size_t len, const char *name, int is_signed,
                                    axmul_table **out)
{
    axmul_error_clear();
    if (!out || (!bytes && len))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_from_bytes: NULL argument");
    *out = NULL;
    if (len != AXMUL_TABLE_BYTES)
        return size_error(name, len);
    axmul_table *t;
    axmul_status s = axmul_table_create(is_signed, &t);
    if (s != AXMUL_OK)
        return s;
    const uint8_t *p = bytes;
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        t->v[i] = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
    *out = t;
    return AXMUL_OK;
}

axmul_status axmul_table_load(const char *path, int is_signed, axmul_table **out)
{
    axmul_error_clear();
    if (!path || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_load: NULL argument");
    *out = NULL;
    uint8_t *buf;
    size_t len;
    /* Read a little more than a table so that an oversized file is reported with its real
     * size class, but never slurp a huge file. */
    axmul_status s = axmul__read_file(path, (size_t)64 << 20, &buf, &len);
    if (s == AXMUL_ERR_SIZE)
        return axmul__fail(AXMUL_ERR_SIZE, "%s: far larger than a table (expected %u bytes)", path,
                           AXMUL_TABLE_BYTES);
    if (s != AXMUL_OK)
        return s;
    s = axmul_table_from_bytes(buf, len, path, is_signed, out);
    free(buf);
    return s;
}

void axmul_table_to_bytes(const axmul_table *t, uint8_t *out)
{
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        out[2 * i] = (uint8_t)(t->v[i] & 0xff);
        out[2 * i + 1] = (uint8_t)(t->v[i] >> 8);
    }
}

axmul_status axmul_table_save(const axmul_table *t, const char *path)
{
    axmul_error_clear();
    if (!t || !path)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_save: NULL argument");
    uint8_t *buf = malloc(AXMUL_TABLE_BYTES);
    if (!buf)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    axmul_table_to_bytes(t, buf);
    axmul_status s = axmul__write_file_atomic(path, buf, AXMUL_TABLE_BYTES);
    free(buf);
    return s;
}

const uint16_t *axmul_table_data(const axmul_table *t)
{
    return t->v;
}

uint16_t *axmul_table_data_mut(axmul_table *t)
{
    return t->v;
}

int axmul_table_is_signed(const axmul_table *t)
{
    return t->is_signed;
}

void axmul_table_set_signed(axmul_table *t, int is_signed)
{
    t->is_signed = is_signed ? 1 : 0;
}

int32_t axmul_table_product(const axmul_table *t, unsigned ia, unsigned ib)
{
    uint16_t v = t->v[(ia & 255u) * 256u + (ib & 255u)];
    return t->is_signed ? (int32_t)(int16_t)v : (int32_t)v;
}

int axmul_table_equal(const axmul_table *x, const axmul_table *y)
{
    return memcmp(x->v, y->v, sizeof x->v) == 0;
}

int axmul_name_is_signed(const char *path)
{
    if (!path)
        return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "mul8s_", 6) == 0;
}

void axmul_table_sha256(const axmul_table *t, char hex[65])
{
    uint8_t *buf = malloc(AXMUL_TABLE_BYTES);
    if (!buf) {
        hex[0] = '\0';
        return;
    }
    axmul_table_to_bytes(t, buf);
    axmul_sha256_hex(buf, AXMUL_TABLE_BYTES, hex);
    free(buf);
}
