/* axmul: "was this table written with the right packing?" — diagnosis of raw table bytes
 * against a reference table. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_metrics.h"
#include "lib/core/internal.h"

static const char *const packing_names[] = {
#define AXMUL__PACKING_NAME(name, msg) msg,
    AXMUL_PACKING_LIST(AXMUL__PACKING_NAME)
#undef AXMUL__PACKING_NAME
};

_Static_assert(sizeof(packing_names) / sizeof(packing_names[0]) == AXMUL_PACKING_COUNT,
               "one name per packing kind");

const char *axmul_packing_name(axmul_packing kind)
{
    if ((unsigned)kind >= AXMUL_PACKING_COUNT)
        return "unknown";
    return packing_names[kind];
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* 1 when entries of width `width` bytes, little-endian, starting at bytes, equal ref. */
static int wide_equals(const uint8_t *bytes, unsigned width, const uint16_t *ref)
{
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        const uint8_t *p = bytes + i * width;
        uint64_t v = 0;
        for (unsigned k = 0; k < width; k++)
            v |= (uint64_t)p[k] << (8 * k);
        /* Signed tables widened by sign extension also count as "the same values". */
        uint64_t sext = (uint64_t)(int64_t)(int16_t)ref[i];
        if (width < 8)
            sext &= (((uint64_t)1 << (8 * width)) - 1);
        if (v != ref[i] && v != sext)
            return 0;
    }
    return 1;
}

static int bytes8_match(const uint8_t *bytes, const uint16_t *ref)
{
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        if (bytes[i] != (ref[i] & 0xff))
            return 0;
    return 1;
}

static int le_matches_at(const uint8_t *bytes, const uint16_t *ref)
{
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        if (le16(bytes + 2 * i) != ref[i])
            return 0;
    return 1;
}

/* Whole-table shift by `shift` entries (positive: file entry i holds ref[i - shift]); the
 * entries shifted in from outside are ignored. */
static int shifted_by(const uint16_t *v, const uint16_t *ref, long shift)
{
    for (long i = 0; i < (long)AXMUL_TABLE_ENTRIES; i++) {
        long j = i - shift;
        if (j < 0 || j >= (long)AXMUL_TABLE_ENTRIES)
            continue;
        if (v[i] != ref[j])
            return 0;
    }
    return 1;
}

static int byte_shift_matches(const uint8_t *bytes, const uint16_t *ref, int shift)
{
    /* shift +1: one byte inserted at the front; -1: first byte missing. */
    for (size_t i = 1; i + 1 < AXMUL_TABLE_ENTRIES; i++) {
        const uint8_t *p = bytes + 2 * i + shift;
        if (le16(p) != ref[i])
            return 0;
    }
    return 1;
}

axmul_status axmul_packing_diagnose(const uint8_t *bytes, size_t len, const char *name,
                                    const axmul_table *ref, axmul_packing_report *out)
{
    axmul_error_clear();
    if ((!bytes && len) || !ref || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_packing_diagnose: NULL argument");
    if (!name)
        name = "<table>";
    memset(out, 0, sizeof *out);
    out->first_a = out->first_b = -1;
    const uint16_t *r = axmul_table_data(ref);
    const size_t tb = AXMUL_TABLE_BYTES;

    if (len != tb) {
        if (len == AXMUL_TABLE_ENTRIES) {
            out->kind = AXMUL_PACKING_ELEMENT_8BIT;
            snprintf(out->text, sizeof out->text,
                     "%s: %zu bytes: one byte per entry (8-bit entries)%s; the format needs "
                     "16-bit little-endian entries",
                     name, len,
                     bytes8_match(bytes, r) ? ", holding the low bytes of the reference" : "");
        } else if (len == 4 * AXMUL_TABLE_ENTRIES || len == 8 * AXMUL_TABLE_ENTRIES) {
            unsigned width = (unsigned)(len / AXMUL_TABLE_ENTRIES);
            out->kind = width == 4 ? AXMUL_PACKING_ELEMENT_32BIT : AXMUL_PACKING_ELEMENT_64BIT;
            snprintf(out->text, sizeof out->text,
                     "%s: %zu bytes: %u-bit entries%s; the format needs 16-bit little-endian "
                     "entries",
                     name, len, 8 * width,
                     wide_equals(bytes, width, r) ? " (values equal the reference)" : "");
        } else if (len > tb) {
            size_t extra = len - tb;
            out->offset = (long)extra;
            if (le_matches_at(bytes + extra, r)) {
                out->kind = AXMUL_PACKING_HEADER;
                snprintf(out->text, sizeof out->text,
                         "%s: %zu bytes: a %zu-byte header precedes a correct table", name, len,
                         extra);
            } else if (le_matches_at(bytes, r)) {
                out->kind = AXMUL_PACKING_TRAILING;
                snprintf(out->text, sizeof out->text,
                         "%s: %zu bytes: a correct table followed by %zu trailing bytes", name, len,
                         extra);
            } else {
                out->kind = AXMUL_PACKING_WRONG_SIZE;
                snprintf(out->text, sizeof out->text,
                         "%s: %zu bytes, %zu more than a table: a header or trailing bytes, and "
                         "the table itself differs from the reference",
                         name, len, extra);
            }
        } else {
            out->kind = len == 0 ? AXMUL_PACKING_WRONG_SIZE : AXMUL_PACKING_TRUNCATED;
            out->offset = (long)(tb - len);
            snprintf(out->text, sizeof out->text, "%s: %zu bytes, %zu short of a table (%zu)%s",
                     name, len, tb - len, tb, len == 0 ? ": the file is empty" : ": truncated");
        }
        return AXMUL_OK;
    }

    uint16_t *v = malloc(AXMUL_TABLE_BYTES);
    if (!v)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        v[i] = le16(bytes + 2 * i);

    long ndiff = 0;
    size_t first = 0;
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        if (v[i] != r[i]) {
            if (ndiff == 0)
                first = i;
            ndiff++;
        }
    out->differing_entries = ndiff;
    if (ndiff == 0) {
        out->kind = AXMUL_PACKING_IDENTICAL;
        snprintf(out->text, sizeof out->text, "%s: identical to the reference", name);
        free(v);
        return AXMUL_OK;
    }
    out->first_a = (int)(first >> 8);
    out->first_b = (int)(first & 255);
    int sgn = axmul_table_is_signed(ref);
    out->expected = sgn ? (int16_t)r[first] : r[first];
    out->found = sgn ? (int16_t)v[first] : v[first];

    int be = 1, tr = 1, trbe = 1, other_sign = 1;
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        size_t ti = (i & 255) * 256 + (i >> 8);
        uint16_t bev = be16(bytes + 2 * i);
        be &= bev == r[i];
        tr &= v[i] == r[ti];
        trbe &= bev == r[ti];
        other_sign &=
            v[i] == (uint16_t)axmul_exact_product(!sgn, (unsigned)(i >> 8), (unsigned)(i & 255));
    }
    /* Is the reference the exact table? Then the signedness question makes sense. */
    int ref_exact = 1;
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES && ref_exact; i++)
        ref_exact =
            r[i] == (uint16_t)axmul_exact_product(sgn, (unsigned)(i >> 8), (unsigned)(i & 255));
    if (be) {
        out->kind = AXMUL_PACKING_BIG_ENDIAN;
        snprintf(out->text, sizeof out->text,
                 "%s: big-endian byte order: every entry is byte-swapped (write the low byte "
                 "first)",
                 name);
    } else if (tr) {
        out->kind = AXMUL_PACKING_TRANSPOSED;
        snprintf(out->text, sizeof out->text,
                 "%s: transposed (b-major) order: entry a*256+b holds f(b, a); the first operand "
                 "(activation) must select the row",
                 name);
    } else if (trbe) {
        out->kind = AXMUL_PACKING_TRANSPOSED_BIG_ENDIAN;
        snprintf(out->text, sizeof out->text,
                 "%s: transposed (b-major) order and big-endian byte order", name);
    } else if (ref_exact && other_sign) {
        out->kind = AXMUL_PACKING_SIGNEDNESS;
        snprintf(out->text, sizeof out->text,
                 "%s: signed/unsigned mix-up: the file is the exact %s table, the reference is "
                 "%s",
                 name, sgn ? "unsigned (mul8u)" : "signed (mul8s)",
                 sgn ? "signed (mul8s)" : "unsigned (mul8u)");
    } else if (shifted_by(v, r, 1) || shifted_by(v, r, -1)) {
        long sh = shifted_by(v, r, 1) ? 1 : -1;
        out->kind = AXMUL_PACKING_SHIFTED;
        out->offset = sh;
        snprintf(
            out->text, sizeof out->text,
            "%s: the whole table is shifted by one entry (%s): an off-by-one in the index", name,
            sh > 0 ? "entry i holds the reference's i-1" : "entry i holds the reference's i+1");
    } else if (byte_shift_matches(bytes, r, 1) || byte_shift_matches(bytes, r, -1)) {
        int sh = byte_shift_matches(bytes, r, 1) ? 1 : -1;
        out->kind = AXMUL_PACKING_SHIFTED;
        out->offset = sh;
        snprintf(out->text, sizeof out->text, "%s: the whole table is shifted by one byte (%s)",
                 name,
                 sh > 0 ? "one stray byte at the start, last byte missing"
                        : "first byte missing, one stray byte at the end");
    } else {
        out->kind = AXMUL_PACKING_DIFFERENT;
        if (sgn)
            snprintf(out->text, sizeof out->text,
                     "%s: %ld entries differ; first at (a=%d, b=%d): expected %d, found %d", name,
                     ndiff, (int)(int8_t)out->first_a, (int)(int8_t)out->first_b, out->expected,
                     out->found);
        else
            snprintf(out->text, sizeof out->text,
                     "%s: %ld entries differ; first at (a=%d, b=%d): expected %d, found %d", name,
                     ndiff, out->first_a, out->first_b, out->expected, out->found);
    }
    free(v);
    return AXMUL_OK;
}
