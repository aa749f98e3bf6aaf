/* axmul: IDX files (the MNIST/Fashion-MNIST format: big-endian magic 0x000008TD, T = 0x08
 * unsigned byte, D = number of dimensions, D big-endian uint32 sizes, then the data), gzip or
 * plain, read with zlib. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <zlib.h>

#include "axmul_net.h"
#include "lib/core/internal.h"
#include "lib/net/net.h"

/* Largest decompressed IDX file we read: 1 GiB (MNIST's training images are 47 MB). */
#define IDX_MAX_BYTES ((size_t)1 << 30)

typedef struct {
    int ndim;
    uint32_t dims[4];
    uint8_t *data;
    size_t len;
} idx_t;

/* Inflates a gzip stream held in memory (RFC 1952), refusing output beyond IDX_MAX_BYTES. */
static axmul_status gunzip(const uint8_t *in, size_t len, const char *name, uint8_t **out,
                           size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: cannot start zlib", name);
    size_t cap = len * 4 + 1024, used = 0;
    if (cap > IDX_MAX_BYTES)
        cap = IDX_MAX_BYTES;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        inflateEnd(&z);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", name);
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    axmul_status s = AXMUL_OK;
    size_t left = len;
    for (;;) {
        if (used == cap) {
            if (cap >= IDX_MAX_BYTES) {
                s = axmul__fail(AXMUL_ERR_SIZE, "%s: larger than %zu bytes uncompressed", name,
                                IDX_MAX_BYTES);
                break;
            }
            size_t ncap = cap * 2 > IDX_MAX_BYTES ? IDX_MAX_BYTES : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                s = axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", name);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        uInt in_chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        z.avail_in = in_chunk;
        z.next_out = buf + used;
        z.avail_out = (uInt)((cap - used) > (1u << 30) ? (1u << 30) : (cap - used));
        uInt out_before = z.avail_out;
        int r = inflate(&z, Z_NO_FLUSH);
        used += out_before - z.avail_out;
        left -= in_chunk - z.avail_in;
        if (r == Z_STREAM_END) {
            /* RFC 1952 2.2: a gzip file is a series of members (cat a.gz b.gz), their data
             * concatenated, as gzip -d reads it */
            if (left >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
                if (inflateReset(&z) != Z_OK) {
                    s = axmul__fail(AXMUL_ERR_FORMAT, "%s: cannot restart zlib", name);
                    break;
                }
                continue;
            }
            if (left > 0)
                s = axmul__fail(AXMUL_ERR_FORMAT,
                                "%s: %zu bytes after the end of the gzip data that are not "
                                "another gzip member",
                                name, left);
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            s = axmul__fail(AXMUL_ERR_FORMAT, "%s: corrupt gzip data (%s)", name,
                            z.msg ? z.msg : "inflate failed");
            break;
        }
        if (left == 0 && z.avail_out != 0) {
            s = axmul__fail(AXMUL_ERR_FORMAT, "%s: truncated gzip stream", name);
            break;
        }
    }
    inflateEnd(&z);
    if (s != AXMUL_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    *out_len = used;
    return AXMUL_OK;
}

/* Reads a file whole and inflates it when it starts with the gzip magic. */
static axmul_status read_maybe_gzip(const char *path, uint8_t **out, size_t *out_len)
{
    uint8_t *raw;
    size_t len;
    axmul_status s = axmul__read_file(path, IDX_MAX_BYTES, &raw, &len);
    if (s != AXMUL_OK)
        return s;
    if (len >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        s = gunzip(raw, len, path, out, out_len);
        free(raw);
        return s;
    }
    *out = raw;
    *out_len = len;
    return AXMUL_OK;
}

/* Parses an IDX image (b, len), taking ownership of b (freed on error, kept in x). */
static axmul_status idx_parse(uint8_t *b, size_t len, const char *path, int want_ndim, idx_t *x)
{
    memset(x, 0, sizeof *x);
    if (len < 4 || b[0] != 0 || b[1] != 0) {
        free(b);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: not an IDX file (bad magic number)", path);
    }
    if (b[2] != 0x08) {
        unsigned type = b[2];
        free(b);
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: IDX element type 0x%02x, only unsigned bytes (0x08) are supported",
                           path, type);
    }
    int nd = b[3];
    if (nd != want_ndim) {
        free(b);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: %d dimensions, expected %d (%s)", path, nd,
                           want_ndim, want_ndim == 3 ? "an image file" : "a label file");
    }
    if (len < 4 + 4 * (size_t)nd) {
        free(b);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: truncated IDX header", path);
    }
    size_t total = 1;
    for (int i = 0; i < nd; i++) {
        const uint8_t *p = b + 4 + 4 * i;
        x->dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (x->dims[i] == 0 || !axmul__mul_size(total, x->dims[i], &total) ||
            total > IDX_MAX_BYTES) {
            free(b);
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: implausible dimension %u", path, x->dims[i]);
        }
    }
    size_t hdr = 4 + 4 * (size_t)nd;
    if (len - hdr != total) {
        free(b);
        return axmul__fail(AXMUL_ERR_SIZE, "%s: %zu data bytes, the header declares %zu (%s)", path,
                           len - hdr, total, len - hdr < total ? "truncated" : "trailing bytes");
    }
    memmove(b, b + hdr, total);
    x->ndim = nd;
    x->data = b;
    x->len = total;
    return AXMUL_OK;
}

static axmul_status idx_read(const char *path, int want_ndim, idx_t *x)
{
    uint8_t *b = NULL;
    size_t len = 0;
    axmul_status s = read_maybe_gzip(path, &b, &len);
    if (s != AXMUL_OK)
        return s;
    return idx_parse(b, len, path, want_ndim, x);
}

/* Both halves of a dataset from memory (either may be gzip-compressed). */
static axmul_status idx_from_memory(const void *bytes, size_t len, const char *name, int ndim,
                                    idx_t *x)
{
    uint8_t *b;
    size_t bl;
    const uint8_t *p = bytes;
    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        axmul_status s = gunzip(p, len, name, &b, &bl);
        if (s != AXMUL_OK)
            return s;
    } else {
        b = malloc(len ? len : 1);
        if (!b)
            return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", name);
        if (len)
            memcpy(b, p, len);
        bl = len;
    }
    return idx_parse(b, bl, name, ndim, x);
}

static axmul_status combine(idx_t im, idx_t lb, const char *images_path, const char *labels_path,
                            axmul_dataset **out);

axmul_status axmul_dataset_parse_idx(const void *images, size_t images_len, const void *labels,
                                     size_t labels_len, axmul_dataset **out)
{
    axmul_error_clear();
    if (!out || (!images && images_len) || (!labels && labels_len))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_dataset_parse_idx: NULL argument");
    *out = NULL;
    idx_t im, lb;
    axmul_status s = idx_from_memory(images, images_len, "<images>", 3, &im);
    if (s != AXMUL_OK)
        return s;
    if ((s = idx_from_memory(labels, labels_len, "<labels>", 1, &lb)) != AXMUL_OK) {
        free(im.data);
        return s;
    }
    return combine(im, lb, "<images>", "<labels>", out);
}

axmul_status axmul_dataset_load_idx(const char *images_path, const char *labels_path,
                                    axmul_dataset **out)
{
    axmul_error_clear();
    if (!images_path || !labels_path || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_dataset_load_idx: NULL argument");
    *out = NULL;
    idx_t im, lb;
    axmul_status s = idx_read(images_path, 3, &im);
    if (s != AXMUL_OK)
        return s;
    if ((s = idx_read(labels_path, 1, &lb)) != AXMUL_OK) {
        free(im.data);
        return s;
    }
    return combine(im, lb, images_path, labels_path, out);
}

static axmul_status combine(idx_t im, idx_t lb, const char *images_path, const char *labels_path,
                            axmul_dataset **out)
{
    if (im.dims[0] != lb.dims[0]) {
        free(im.data);
        free(lb.data);
        return axmul__fail(AXMUL_ERR_SHAPE, "%s has %u images but %s has %u labels", images_path,
                           im.dims[0], labels_path, lb.dims[0]);
    }
    return axmul__dataset_wrap(images_path, im.dims[0], im.dims[1], im.dims[2], 1, im.data, lb.data,
                               out);
}
