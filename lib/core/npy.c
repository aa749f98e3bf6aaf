/* axmul: reader and writer for NumPy .npy files, written from the format description in
 * NumPy's NEP 1 ("A simple file format for NumPy arrays"). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_npy.h"
#include "lib/core/internal.h"

struct axmul_npy {
    axmul_dtype dtype;
    size_t itemsize;
    int ndim;
    size_t shape[AXMUL_NPY_MAX_DIMS];
    size_t count;
    void *data;
    char name[256];
    int fortran; /* while parsing: the file stores the array in column-major order */
};

/* Largest array data we accept: 4 GiB (far beyond any tensor these tools handle). */
#define NPY_MAX_BYTES ((size_t)1 << 32)
#define NPY_MAX_HEADER 65536u

static const char *dtype_names[] = {"<f4", "<f8", "|i1", "|u1", "<i2", "<u2",
                                    "<i4", "<u4", "<i8", "<u8", "|b1"};
static const size_t dtype_sizes[] = {4, 8, 1, 1, 2, 2, 4, 4, 8, 8, 1};

static axmul_status parse_descr(const char *d, const char *name, axmul_dtype *dt, size_t *size)
{
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++) {
        const char *n = dtype_names[i];
        /* byte-sized types may be written with any byte-order mark */
        if (strcmp(d, n) == 0 || (dtype_sizes[i] == 1 && strlen(d) == 3 && strchr("<|=", d[0]) &&
                                  strcmp(d + 1, n + 1) == 0)) {
            *dt = (axmul_dtype)i;
            *size = dtype_sizes[i];
            return AXMUL_OK;
        }
    }
    if (d[0] == '>' && strlen(d) == 3)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: big-endian dtype '%s' (save it little-endian: a.astype('<%s'))",
                           name, d, d + 1);
    return axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: unsupported dtype '%s'", name, d);
}

/* Skips spaces; returns the new position. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Parses a quoted Python string into buf. */
static const char *parse_str(const char *p, const char *end, char *buf, size_t cap)
{
    if (p >= end || (*p != '\'' && *p != '"'))
        return NULL;
    char q = *p++;
    size_t n = 0;
    while (p < end && *p != q) {
        if (n + 1 >= cap)
            return NULL;
        buf[n++] = *p++;
    }
    if (p >= end)
        return NULL;
    buf[n] = '\0';
    return p + 1;
}

static axmul_status parse_header(const char *h, size_t hlen, const char *name, axmul_npy *a)
{
    const char *p = h, *end = h + hlen;
    int have_descr = 0, have_order = 0, have_shape = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: header is not a Python dict", name);
    p++;
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == '}')
            break;
        char key[32];
        p = parse_str(p, end, key, sizeof key);
        if (!p)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: malformed header dict key", name);
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: malformed header: ':' expected after '%s'",
                               name, key);
        p = skip_ws(p + 1, end);
        if (strcmp(key, "descr") == 0) {
            char d[32];
            p = parse_str(p, end, d, sizeof d);
            if (!p)
                return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                                   "%s: unsupported or malformed 'descr' (structured dtype?)",
                                   name);
            axmul_status s = parse_descr(d, name, &a->dtype, &a->itemsize);
            if (s != AXMUL_OK)
                return s;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((size_t)(end - p) >= 5 && strncmp(p, "False", 5) == 0)
                p += 5;
            else if ((size_t)(end - p) >= 4 && strncmp(p, "True", 4) == 0)
                p += 4, a->fortran = 1; /* valid .npy (a.T saved as is): reordered on load */
            else
                return axmul__fail(AXMUL_ERR_FORMAT, "%s: malformed 'fortran_order'", name);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (p >= end || *p != '(')
                return axmul__fail(AXMUL_ERR_FORMAT, "%s: malformed 'shape'", name);
            p++;
            a->ndim = 0;
            for (;;) {
                p = skip_ws(p, end);
                if (p < end && *p == ')') {
                    p++;
                    break;
                }
                if (p >= end || !isdigit((unsigned char)*p))
                    return axmul__fail(AXMUL_ERR_FORMAT, "%s: malformed 'shape'", name);
                if (a->ndim == AXMUL_NPY_MAX_DIMS)
                    return axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: more than %d dimensions", name,
                                       AXMUL_NPY_MAX_DIMS);
                size_t v = 0;
                while (p < end && isdigit((unsigned char)*p)) {
                    if (v > (SIZE_MAX - 9) / 10)
                        return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: shape dimension too large",
                                           name);
                    v = v * 10 + (size_t)(*p++ - '0');
                }
                if (p < end && *p == 'L')
                    p++;
                a->shape[a->ndim++] = v;
                p = skip_ws(p, end);
                if (p < end && *p == ',')
                    p++;
            }
            have_shape = 1;
        } else {
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: unexpected header key '%s'", name, key);
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        p = skip_ws(p, end);
        if (p < end && *p == '}')
            break;
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: malformed header dict", name);
    }
    if (!have_descr || !have_order || !have_shape)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: header lacks %s", name,
                           !have_descr   ? "'descr'"
                           : !have_order ? "'fortran_order'"
                                         : "'shape'");
    return AXMUL_OK;
}

/* The row-major (C order) copy of a column-major array: the element at index (i0, ..., in-1)
 * sits at offset i0 + d0 * (i1 + d1 * (...)) in the file. NULL when out of memory. */
static void *from_fortran(const uint8_t *f, const size_t *shape, int ndim, size_t itemsize,
                          size_t count)
{
    uint8_t *c = malloc(count * itemsize);
    if (!c)
        return NULL;
    size_t idx[AXMUL_NPY_MAX_DIMS] = {0}, stride[AXMUL_NPY_MAX_DIMS];
    size_t st = 1;
    for (int k = 0; k < ndim; k++) {
        stride[k] = st;
        st *= shape[k];
    }
    size_t off = 0; /* the file offset, in elements, of the C-order element i */
    for (size_t i = 0; i < count; i++) {
        memcpy(c + i * itemsize, f + off * itemsize, itemsize);
        for (int k = ndim - 1; k >= 0; k--) { /* the next C-order index: the last one fastest */
            off += stride[k];
            if (++idx[k] < shape[k])
                break;
            off -= stride[k] * shape[k];
            idx[k] = 0;
        }
    }
    return c;
}

/* Parses the .npy bytes; owned: NULL, or bytes itself as a malloc'ed buffer that becomes the
 * array's data on success (moved to its start: no second copy of a large file). */
static axmul_status npy_parse(const void *bytes, size_t len, const char *name, uint8_t *owned,
                              axmul_npy **out)
{
    const uint8_t *b = bytes;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    unsigned major = b[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)(b[8] | b[9] << 8);
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: truncated .npy header", name);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hoff = 12;
    } else {
        return axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: .npy format version %u.%u not supported",
                           name, major, b[7]);
    }
    if (hlen > NPY_MAX_HEADER)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: .npy header of %zu bytes is implausibly large",
                           name, hlen);
    if (len - hoff < hlen)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: truncated .npy header", name);
    axmul_npy *a = calloc(1, sizeof *a);
    if (!a)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", name);
    snprintf(a->name, sizeof a->name, "%s", name);
    axmul_status s = parse_header((const char *)b + hoff, hlen, name, a);
    if (s != AXMUL_OK) {
        free(a);
        return s;
    }
    size_t count = 1, nbytes;
    for (int i = 0; i < a->ndim; i++)
        if (!axmul__mul_size(count, a->shape[i], &count)) {
            free(a);
            return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: shape overflows", name);
        }
    if (!axmul__mul_size(count, a->itemsize, &nbytes) || nbytes > NPY_MAX_BYTES) {
        free(a);
        return axmul__fail(AXMUL_ERR_OVERFLOW,
                           "%s: declared shape needs more than the %zu-byte limit", name,
                           NPY_MAX_BYTES);
    }
    size_t have = len - hoff - hlen;
    if (have != nbytes) {
        free(a);
        return axmul__fail(AXMUL_ERR_SIZE, "%s: %zu data bytes, but the shape needs %zu (%s)", name,
                           have, nbytes, have < nbytes ? "truncated" : "trailing bytes");
    }
    a->count = count;
    if (owned) {
        memmove(owned, owned + hoff + hlen, nbytes);
        void *shrunk = realloc(owned, nbytes ? nbytes : 1);
        a->data = shrunk ? shrunk : owned;
    } else if ((a->data = malloc(nbytes ? nbytes : 1)) != NULL) {
        memcpy(a->data, b + hoff + hlen, nbytes);
    } else {
        free(a);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, nbytes);
    }
    /* The file is little-endian; on a big-endian host swap every element in place. */
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe == 0 && a->itemsize > 1) {
        uint8_t *d = a->data;
        for (size_t i = 0; i < count; i++, d += a->itemsize)
            for (size_t k = 0; k < a->itemsize / 2; k++) {
                uint8_t t = d[k];
                d[k] = d[a->itemsize - 1 - k];
                d[a->itemsize - 1 - k] = t;
            }
    }
    if (a->fortran && a->ndim > 1 && count > 1) {
        void *c = from_fortran(a->data, a->shape, a->ndim, a->itemsize, count);
        if (!c) {
            axmul_npy_free(a);
            return axmul__fail(AXMUL_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, nbytes);
        }
        free(a->data);
        a->data = c;
    }
    a->fortran = 0;
    *out = a;
    return AXMUL_OK;
}

axmul_status axmul_npy_parse(const void *bytes, size_t len, const char *name, axmul_npy **out)
{
    axmul_error_clear();
    if (!out || (!bytes && len))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_npy_parse: NULL argument");
    *out = NULL;
    return npy_parse(bytes, len, name ? name : "<npy>", NULL, out);
}

axmul_status axmul_npy_load(const char *path, axmul_npy **out)
{
    axmul_error_clear();
    if (!path || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_npy_load: NULL argument");
    *out = NULL;
    uint8_t *buf;
    size_t len;
    axmul_status s = axmul__read_file(path, NPY_MAX_BYTES + NPY_MAX_HEADER + 16, &buf, &len);
    if (s != AXMUL_OK)
        return s;
    if ((s = npy_parse(buf, len, path, buf, out)) != AXMUL_OK) /* else buf is the data now */
        free(buf);
    return s;
}

void axmul_npy_free(axmul_npy *a)
{
    if (!a)
        return;
    free(a->data);
    free(a);
}

axmul_dtype axmul_npy_dtype(const axmul_npy *a)
{
    return a->dtype;
}

int axmul_npy_ndim(const axmul_npy *a)
{
    return a->ndim;
}

const size_t *axmul_npy_shape(const axmul_npy *a)
{
    return a->shape;
}

size_t axmul_npy_count(const axmul_npy *a)
{
    return a->count;
}

const void *axmul_npy_data(const axmul_npy *a)
{
    return a->data;
}

void *axmul__npy_take_data(axmul_npy *a)
{
    void *d = a->data;
    a->data = NULL;
    return d;
}

axmul_status axmul_npy_f32(const axmul_npy *a, const float **data)
{
    axmul_error_clear();
    if (a->dtype != AXMUL_DTYPE_F32)
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: dtype '%s', expected float32 '<f4' (use "
                           "a.astype(np.float32))",
                           a->name, dtype_names[a->dtype]);
    *data = a->data;
    return AXMUL_OK;
}

axmul_status axmul_npy_to_double(const axmul_npy *a, double *out, size_t n)
{
    axmul_error_clear();
    if (a->count != n)
        return axmul__fail(AXMUL_ERR_SHAPE, "%s: %zu elements, expected %zu", a->name, a->count, n);
    const uint8_t *p = a->data;
    for (size_t i = 0; i < n; i++, p += a->itemsize) {
        union {
            float f;
            double d;
            int8_t i8;
            uint8_t u8;
            int16_t i16;
            uint16_t u16;
            int32_t i32;
            uint32_t u32;
            int64_t i64;
            uint64_t u64;
        } v;
        memcpy(&v, p, a->itemsize);
        switch (a->dtype) {
        case AXMUL_DTYPE_F32:
            out[i] = v.f;
            break;
        case AXMUL_DTYPE_F64:
            out[i] = v.d;
            break;
        case AXMUL_DTYPE_I8:
            out[i] = v.i8;
            break;
        case AXMUL_DTYPE_U8:
        case AXMUL_DTYPE_BOOL:
            out[i] = v.u8;
            break;
        case AXMUL_DTYPE_I16:
            out[i] = v.i16;
            break;
        case AXMUL_DTYPE_U16:
            out[i] = v.u16;
            break;
        case AXMUL_DTYPE_I32:
            out[i] = v.i32;
            break;
        case AXMUL_DTYPE_U32:
            out[i] = v.u32;
            break;
        case AXMUL_DTYPE_I64:
            out[i] = (double)v.i64;
            break;
        case AXMUL_DTYPE_U64:
            out[i] = (double)v.u64;
            break;
        }
    }
    return AXMUL_OK;
}

axmul_status axmul_npy_save_f32(const char *path, const float *data, const size_t *shape, int ndim)
{
    axmul_error_clear();
    if (!path || ndim < 0 || ndim > AXMUL_NPY_MAX_DIMS || (ndim && !shape))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_npy_save_f32: bad argument");
    return axmul__npy_save_words(path, "<f4", data, shape, ndim);
}

axmul_status axmul_npy_create(axmul_dtype dtype, const size_t *shape, int ndim, const char *name,
                              axmul_npy **out)
{
    axmul_error_clear();
    if (!out || ndim < 0 || ndim > AXMUL_NPY_MAX_DIMS || (ndim && !shape) ||
        (unsigned)dtype >= sizeof dtype_sizes / sizeof dtype_sizes[0])
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_npy_create: bad argument");
    *out = NULL;
    size_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (!axmul__mul_size(count, shape[i], &count))
            return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: shape overflows", name ? name : "array");
    if (!axmul__mul_size(count, dtype_sizes[dtype], &bytes) || bytes > NPY_MAX_BYTES)
        return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: array too large", name ? name : "array");
    axmul_npy *a = calloc(1, sizeof *a);
    if (!a || !(a->data = calloc(bytes ? bytes : 1, 1))) {
        free(a);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    a->dtype = dtype;
    a->itemsize = dtype_sizes[dtype];
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        a->shape[i] = shape[i];
    a->count = count;
    snprintf(a->name, sizeof a->name, "%s", name ? name : "array");
    *out = a;
    return AXMUL_OK;
}

void *axmul_npy_data_mut(axmul_npy *a)
{
    return a->data;
}

/* The header of a .npy file (format 1.0) for descr and shape, padded to 64 bytes with its
 * newline, into dict (hlen bytes after the 10 of magic, version and length). */
static axmul_status npy_header(const char *path, const char *descr, const size_t *shape, int ndim,
                               char *dict, size_t cap, size_t *hlen, size_t *count)
{
    int n = snprintf(dict, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    *count = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(dict + n, cap - (size_t)n, "%zu%s", shape[i],
                      ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        if (!axmul__mul_size(*count, shape[i], count))
            return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: shape overflows", path);
    }
    n += snprintf(dict + n, cap - (size_t)n, "), }");
    const size_t total_hdr = 10 + (size_t)n + 1, pad = (64 - total_hdr % 64) % 64;
    memset(dict + n, ' ', pad);
    *hlen = (size_t)n + pad + 1;
    dict[*hlen - 1] = '\n';
    return AXMUL_OK;
}

axmul_status axmul_npy_save(const char *path, const axmul_npy *a)
{
    axmul_error_clear();
    if (!path || !a)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_npy_save: NULL argument");
    char dict[640];
    size_t hlen = 0, count = 0, nbytes;
    axmul_status s =
        npy_header(path, dtype_names[a->dtype], a->shape, a->ndim, dict, 512, &hlen, &count);
    if (s != AXMUL_OK)
        return s;
    if (!axmul__mul_size(count, a->itemsize, &nbytes) || nbytes > NPY_MAX_BYTES)
        return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: array too large", path);
    uint8_t *buf = malloc(10 + hlen + nbytes);
    if (!buf)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, dict, hlen);
    uint8_t *d = buf + 10 + hlen;
    for (size_t i = 0; i < count; i++) {
        uint64_t u = 0; /* serialised by value: little-endian on any host */
        switch (a->itemsize) {
        case 1: {
            uint8_t v;
            memcpy(&v, (const uint8_t *)a->data + i, 1);
            u = v;
            break;
        }
        case 2: {
            uint16_t v;
            memcpy(&v, (const uint8_t *)a->data + 2 * i, 2);
            u = v;
            break;
        }
        case 4: {
            uint32_t v;
            memcpy(&v, (const uint8_t *)a->data + 4 * i, 4);
            u = v;
            break;
        }
        default:
            memcpy(&u, (const uint8_t *)a->data + 8 * i, 8);
        }
        for (size_t b = 0; b < a->itemsize; b++)
            d[i * a->itemsize + b] = (uint8_t)(u >> (8 * b));
    }
    s = axmul__write_file_atomic(path, buf, 10 + hlen + nbytes);
    free(buf);
    return s;
}

axmul_status axmul__npy_save_words(const char *path, const char *descr, const void *data,
                                   const size_t *shape, int ndim)
{
    char dict[640];
    size_t hlen = 0, count = 0;
    axmul_status st = npy_header(path, descr, shape, ndim, dict, 512, &hlen, &count);
    if (st != AXMUL_OK)
        return st;
    if (!data && count) /* a 0-d array holds one element */
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "%s: no data to save", path);
    size_t nbytes;
    if (!axmul__mul_size(count, 4, &nbytes) || nbytes > NPY_MAX_BYTES)
        return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: array too large", path);
    uint8_t *buf = malloc(10 + hlen + nbytes);
    if (!buf)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, dict, hlen);
    uint8_t *d = buf + 10 + hlen;
    for (size_t i = 0; i < count; i++) {
        uint32_t u; /* serialised by value: little-endian on any host */
        memcpy(&u, (const uint8_t *)data + 4 * i, 4);
        d[4 * i] = (uint8_t)u;
        d[4 * i + 1] = (uint8_t)(u >> 8);
        d[4 * i + 2] = (uint8_t)(u >> 16);
        d[4 * i + 3] = (uint8_t)(u >> 24);
    }
    axmul_status s = axmul__write_file_atomic(path, buf, 10 + hlen + nbytes);
    free(buf);
    return s;
}
