/* axmul: other frameworks' table formats (axmul_table.h): TorchApprox's .npy arrays, ApproxTorch's
 * text tables and the C headers of AdaPT and TransAxx, read into and written from tables. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_npy.h"
#include "axmul_table.h"
#include "lib/core/internal.h"

/* Text formats are small: a table in decimal is under 1 MiB; refuse what cannot be one. */
#define FORMAT_MAX_TEXT ((size_t)16 << 20)

static const char *const format_names[] = {
#define AXMUL__FORMAT_NAME(name, text) text,
    AXMUL_TABLE_FORMAT_LIST(AXMUL__FORMAT_NAME)
#undef AXMUL__FORMAT_NAME
};

_Static_assert(sizeof format_names / sizeof format_names[0] == AXMUL_FORMAT_COUNT,
               "one name per format");

axmul_status axmul_table_format_from_name(const char *name, axmul_table_format *out)
{
    axmul_error_clear();
    for (int f = 0; name && f < AXMUL_FORMAT_COUNT; f++)
        if (strcmp(name, format_names[f]) == 0) {
            *out = (axmul_table_format)f;
            return AXMUL_OK;
        }
    return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                       "unknown table format '%s' (expected bin, torchapprox, approxtorch or "
                       "adapt)",
                       name ? name : "(null)");
}

const char *axmul_table_format_name(axmul_table_format fmt)
{
    return (unsigned)fmt < AXMUL_FORMAT_COUNT ? format_names[fmt] : "unknown";
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

axmul_table_format axmul_table_format_guess(const char *path)
{
    if (!path)
        return AXMUL_FORMAT_BIN;
    if (ends_with(path, ".npy"))
        return AXMUL_FORMAT_TORCHAPPROX;
    if (ends_with(path, ".txt"))
        return AXMUL_FORMAT_APPROXTORCH;
    if (ends_with(path, ".h"))
        return AXMUL_FORMAT_ADAPT;
    return AXMUL_FORMAT_BIN;
}

/* The operand value of byte index i of a signed table. */
static int sval(int i)
{
    return (int)(int8_t)(uint8_t)i;
}

/* Stores value v as entry idx of t, checking the table's range; errors name path, the
 * operands (row, column as the format numbers them) and the value. */
static axmul_status put_entry(axmul_table *t, size_t idx, long long v, const char *path, int row,
                              int col)
{
    const int sgn = axmul_table_is_signed(t);
    const long long lo = sgn ? -32768 : 0, hi = sgn ? 32767 : 65535;
    if (v < lo || v > hi)
        return axmul__fail(AXMUL_ERR_RANGE,
                           "%s: entry (%d, %d) = %lld is outside the %s range %lld..%lld", path,
                           row, col, v, sgn ? "int16" : "uint16", lo, hi);
    axmul_table_data_mut(t)[idx] = (uint16_t)(v & 0xffff);
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- TorchApprox */

static axmul_status torchapprox_import(const char *path, axmul_table **out)
{
    axmul_npy *a;
    axmul_status s = axmul_npy_load(path, &a);
    if (s != AXMUL_OK)
        return s;
    double *v = NULL;
    axmul_table *t = NULL;
    if (axmul_npy_ndim(a) != 2 || axmul_npy_shape(a)[0] != 256 || axmul_npy_shape(a)[1] != 256) {
        s = axmul__fail(AXMUL_ERR_SHAPE, "%s: a TorchApprox table is a (256, 256) array", path);
        goto out;
    }
    const axmul_dtype dt = axmul_npy_dtype(a);
    if (dt == AXMUL_DTYPE_F32 || dt == AXMUL_DTYPE_F64) {
        s = axmul__fail(AXMUL_ERR_FORMAT,
                        "%s: floating-point entries; a TorchApprox table holds integers", path);
        goto out;
    }
    if (!(v = malloc(AXMUL_TABLE_ENTRIES * sizeof *v))) {
        s = axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if ((s = axmul_npy_to_double(a, v, AXMUL_TABLE_ENTRIES)) != AXMUL_OK ||
        (s = axmul_table_create(1, &t)) != AXMUL_OK)
        goto out;
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES && s == AXMUL_OK; i++)
        s = put_entry(t, i, (long long)v[i], path, (int)(i / 256), (int)(i % 256));
out:
    free(v);
    axmul_npy_free(a);
    if (s != AXMUL_OK)
        axmul_table_free(t);
    else
        *out = t;
    return s;
}

static axmul_status torchapprox_export(const axmul_table *t, const char *path)
{
    int32_t *lut = malloc(AXMUL_TABLE_ENTRIES * sizeof *lut);
    if (!lut)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    const int sgn = axmul_table_is_signed(t);
    for (int i = 0; i < 256; i++)
        for (int j = 0; j < 256; j++) {
            if (sgn) {
                lut[i * 256 + j] = axmul_table_product(t, (unsigned)i, (unsigned)j);
                continue;
            }
            /* an unsigned multiplier on signed operands, as TorchApprox applies it */
            const int vi = sval(i), vj = sval(j);
            const int sign = (vi < 0) != (vj < 0) ? -1 : 1;
            lut[i * 256 + j] = sign * axmul_table_product(t, (unsigned)abs(vi), (unsigned)abs(vj));
        }
    const size_t shape[2] = {256, 256};
    axmul_status s = axmul__npy_save_words(path, "<i4", lut, shape, 2);
    free(lut);
    return s;
}

/* ---------------------------------------------------------------- text parsing */

/* A cursor over a text file's bytes. */
typedef struct {
    const char *p, *end, *path;
    int line;
} text_cur;

/* Skips white space, commas, braces and C comments (ApproxTorch and AdaPT alike). */
static void skip_separators(text_cur *c)
{
    while (c->p < c->end) {
        if (*c->p == '\n')
            c->line++;
        if (isspace((unsigned char)*c->p) || *c->p == ',' || *c->p == '{' || *c->p == '}' ||
            *c->p == '|') {
            c->p++;
        } else if (c->p + 1 < c->end && c->p[0] == '/' && c->p[1] == '/') {
            while (c->p < c->end && *c->p != '\n')
                c->p++;
        } else if (c->p + 1 < c->end && c->p[0] == '/' && c->p[1] == '*') {
            c->p += 2;
            while (c->p + 1 < c->end && !(c->p[0] == '*' && c->p[1] == '/'))
                c->line += *c->p++ == '\n';
            c->p = c->p + 1 < c->end ? c->p + 2 : c->end;
        } else {
            return;
        }
    }
}

/* The next integer (decimal or 0x hex, optional sign, C suffixes u/l ignored) into *v: 1, or 0
 * at the end of the text or at a '}' closing the initialiser; -1 after an error. */
static int next_int(text_cur *c, long long *v)
{
    skip_separators(c);
    if (c->p >= c->end || *c->p == ';')
        return 0;
    char buf[64];
    size_t n = 0;
    while (c->p < c->end && n + 1 < sizeof buf &&
           (isalnum((unsigned char)*c->p) || *c->p == '-' || *c->p == '+'))
        buf[n++] = *c->p++;
    buf[n] = 0;
    char *e;
    errno = 0;
    *v = strtoll(buf, &e, 0);
    while (*e == 'u' || *e == 'U' || *e == 'l' || *e == 'L')
        e++;
    if (n == 0 || errno || *e) {
        axmul__fail(AXMUL_ERR_FORMAT, "%s:%d: '%s' is not an integer", c->path, c->line,
                    n ? buf : (char[]){*c->p, 0});
        return -1;
    }
    return 1;
}

/* Reads 65,536 integers from c in file order into v; the count is checked. */
static axmul_status read_ints(text_cur *c, long long *v)
{
    size_t n = 0;
    long long x;
    int r;
    while ((r = next_int(c, &x)) == 1) {
        if (n == AXMUL_TABLE_ENTRIES)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s:%d: more than 65536 entries", c->path,
                               c->line);
        v[n++] = x;
    }
    if (r < 0)
        return AXMUL_ERR_FORMAT;
    if (n != AXMUL_TABLE_ENTRIES)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: %zu entries, a table has 65536 (256 x 256)",
                           c->path, n);
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- ApproxTorch */

static axmul_status approxtorch_import(const char *path, const char *text, size_t len,
                                       axmul_table **out)
{
    long long *v = malloc(AXMUL_TABLE_ENTRIES * sizeof *v);
    if (!v)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    text_cur c = {text, text + len, path, 1};
    axmul_table *t = NULL;
    axmul_status s = read_ints(&c, v);
    if (s == AXMUL_OK)
        s = axmul_table_create(1, &t);
    /* row r, column k hold the operands r - 128 and k - 128 */
    for (int r = 0; r < 256 && s == AXMUL_OK; r++)
        for (int k = 0; k < 256 && s == AXMUL_OK; k++)
            s = put_entry(t, (size_t)((r + 128) & 255) * 256 + (size_t)((k + 128) & 255),
                          v[r * 256 + k], path, r - 128, k - 128);
    free(v);
    if (s != AXMUL_OK)
        axmul_table_free(t);
    else
        *out = t;
    return s;
}

/* ---------------------------------------------------------------- AdaPT / TransAxx */

/* The element type of the header's "lut[256][256]" declaration: 1 signed, 0 unsigned, -1 a
 * type that does not say (int, long); the initialiser's start in *body. */
static axmul_status adapt_find(const char *path, const char *text, size_t len, int *sgn,
                               const char **body)
{
    const char *end = text + len, *decl = NULL;
    for (const char *p = text; p + 3 <= end && !decl; p++)
        if (memcmp(p, "lut", 3) == 0 && (p == text || !isalnum((unsigned char)p[-1]))) {
            const char *q = p + 3;
            char dims[32] = "";
            size_t n = 0;
            while (q < end && n + 1 < sizeof dims && (*q == '[' || *q == ']' || isdigit((unsigned char)*q) || *q == ' '))
                if (*q++ != ' ')
                    dims[n++] = q[-1];
            dims[n] = 0;
            if (strcmp(dims, "[256][256]") == 0)
                decl = p;
        }
    if (!decl)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: no lut[256][256] declaration (AdaPT header)",
                           path);
    const char *line = decl;
    while (line > text && line[-1] != '\n' && line[-1] != ';')
        line--;
    char type[128];
    size_t n = (size_t)(decl - line) < sizeof type - 1 ? (size_t)(decl - line) : sizeof type - 1;
    memcpy(type, line, n);
    type[n] = 0;
    *sgn = strstr(type, "uint16_t") || strstr(type, "unsigned") ? 0
           : strstr(type, "int16_t") || strstr(type, "short")  ? 1
                                                                : -1;
    const char *eq = memchr(decl, '=', (size_t)(end - decl));
    if (!eq)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: lut[256][256] has no initialiser", path);
    *body = eq + 1;
    return AXMUL_OK;
}

static axmul_status adapt_import(const char *path, const char *text, size_t len, int is_signed,
                                 axmul_table **out)
{
    int sgn = -1;
    const char *body = text;
    axmul_status s = adapt_find(path, text, len, &sgn, &body);
    if (s != AXMUL_OK)
        return s;
    if (sgn < 0)
        sgn = is_signed >= 0 ? is_signed : axmul_name_is_signed(path);
    long long *v = malloc(AXMUL_TABLE_ENTRIES * sizeof *v);
    if (!v)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    int line = 1;
    for (const char *p = text; p < body; p++)
        line += *p == '\n';
    text_cur c = {body, text + len, path, line};
    axmul_table *t = NULL;
    if ((s = read_ints(&c, v)) == AXMUL_OK)
        s = axmul_table_create(sgn, &t);
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES && s == AXMUL_OK; i++)
        s = put_entry(t, i, v[i], path, (int)(i / 256), (int)(i % 256));
    free(v);
    if (s != AXMUL_OK)
        axmul_table_free(t);
    else
        *out = t;
    return s;
}

/* ---------------------------------------------------------------- text writers */

/* The 65,536 entries as text: ApproxTorch rows in operand value order, or an AdaPT header in
 * byte index order. malloc'd; NULL when out of memory. */
static char *text_table(const axmul_table *t, axmul_table_format fmt, size_t *len)
{
    const int sgn = axmul_table_is_signed(t);
    const size_t cap = (size_t)AXMUL_TABLE_ENTRIES * 8 + 4096;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t n = 0;
    if (fmt == AXMUL_FORMAT_ADAPT)
        n += (size_t)snprintf(buf + n, cap - n,
                              "/* lut[activation][weight], byte index order (written by axmul) */\n"
                              "#include <stdint.h>\n\nconst %s lut[256][256] = {\n",
                              sgn ? "int16_t" : "uint16_t");
    for (int r = 0; r < 256; r++) {
        const int a = fmt == AXMUL_FORMAT_ADAPT ? r : (r + 128) & 255;
        if (fmt == AXMUL_FORMAT_ADAPT)
            n += (size_t)snprintf(buf + n, cap - n, "    {");
        for (int k = 0; k < 256; k++) {
            const int b = fmt == AXMUL_FORMAT_ADAPT ? k : (k + 128) & 255;
            n += (size_t)snprintf(buf + n, cap - n, "%s%d",
                                  k == 0 ? "" : fmt == AXMUL_FORMAT_ADAPT ? ", " : " ",
                                  (int)axmul_table_product(t, (unsigned)a, (unsigned)b));
        }
        if (fmt == AXMUL_FORMAT_ADAPT)
            n += (size_t)snprintf(buf + n, cap - n, "}%s\n", r < 255 ? "," : "");
        else
            buf[n++] = '\n';
    }
    if (fmt == AXMUL_FORMAT_ADAPT)
        n += (size_t)snprintf(buf + n, cap - n, "};\n");
    *len = n;
    return buf;
}

/* ---------------------------------------------------------------- entry points */

axmul_status axmul_table_import(const char *path, axmul_table_format fmt, int is_signed,
                                axmul_table **out)
{
    axmul_error_clear();
    if (!path || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_import: NULL argument");
    *out = NULL;
    switch (fmt) {
    case AXMUL_FORMAT_BIN:
        return axmul_table_load(path, is_signed >= 0 ? is_signed : axmul_name_is_signed(path), out);
    case AXMUL_FORMAT_TORCHAPPROX:
        return torchapprox_import(path, out);
    case AXMUL_FORMAT_APPROXTORCH:
    case AXMUL_FORMAT_ADAPT: {
        uint8_t *text;
        size_t len;
        axmul_status s = axmul__read_file(path, FORMAT_MAX_TEXT, &text, &len);
        if (s != AXMUL_OK)
            return s;
        s = fmt == AXMUL_FORMAT_ADAPT ? adapt_import(path, (const char *)text, len, is_signed, out)
                                      : approxtorch_import(path, (const char *)text, len, out);
        free(text);
        return s;
    }
    default:
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_import: unknown format %d",
                           (int)fmt);
    }
}

axmul_status axmul_table_export(const axmul_table *t, axmul_table_format fmt, const char *path)
{
    axmul_error_clear();
    if (!t || !path)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_export: NULL argument");
    switch (fmt) {
    case AXMUL_FORMAT_BIN:
        return axmul_table_save(t, path);
    case AXMUL_FORMAT_TORCHAPPROX:
        return torchapprox_export(t, path);
    case AXMUL_FORMAT_APPROXTORCH:
        if (!axmul_table_is_signed(t))
            return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                               "%s: ApproxTorch tables are signed 8x8; this table is unsigned "
                               "(convert a mul8s table)",
                               path);
        /* fall through */
    case AXMUL_FORMAT_ADAPT: {
        size_t len;
        char *text = text_table(t, fmt, &len);
        if (!text)
            return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
        axmul_status s = axmul__write_file_atomic(path, text, len);
        free(text);
        return s;
    }
    default:
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_table_export: unknown format %d",
                           (int)fmt);
    }
}
