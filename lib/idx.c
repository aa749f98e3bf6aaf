/* axmul: IDX files (the MNIST/Fashion-MNIST format: big-endian magic 0x000008TD, T = 0x08
 * unsigned byte, D = number of dimensions, D big-endian uint32 sizes, then the data), gzip or
 * plain, read with zlib. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "axmul_net.h"
#include "internal.h"

struct axmul_dataset {
    size_t count;
    int rows, cols;
    uint8_t *images;
    uint8_t *labels;
};

/* Largest decompressed IDX file we read: 1 GiB (MNIST's training images are 47 MB). */
#define IDX_MAX_BYTES ((size_t)1 << 30)

typedef struct {
    int ndim;
    uint32_t dims[4];
    uint8_t *data;
    size_t len;
} idx_t;

/* Reads the whole (possibly gzip-compressed) file; gzread passes plain files through. */
static axmul_status read_maybe_gzip(const char *path, uint8_t **out, size_t *out_len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return axmul__fail(axmul__status_from_errno(e), "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode))
        return axmul__fail(AXMUL_ERR_IS_DIRECTORY, "%s: is a directory, not an IDX file", path);
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        int e = errno;
        return axmul__fail(axmul__status_from_errno(e), "%s: %s", path,
                           e ? strerror(e) : "cannot open");
    }
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        gzclose(gz);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            if (cap >= IDX_MAX_BYTES) {
                free(buf);
                gzclose(gz);
                return axmul__fail(AXMUL_ERR_SIZE, "%s: larger than %zu bytes uncompressed", path,
                                   IDX_MAX_BYTES);
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(gz);
                return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        int want = (int)((cap - len) > (1u << 30) ? (1u << 30) : (cap - len));
        int r = gzread(gz, buf + len, (unsigned)want);
        if (r < 0) {
            int errnum;
            const char *msg = gzerror(gz, &errnum);
            axmul_status s = axmul__fail(AXMUL_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, msg);
            free(buf);
            gzclose(gz);
            return s;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    /* a truncated gzip stream ends without error from gzread but is flagged by gzclose */
    int zr = gzclose(gz);
    if (zr != Z_OK) {
        free(buf);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: truncated or corrupt gzip stream", path);
    }
    *out = buf;
    *out_len = len;
    return AXMUL_OK;
}

static axmul_status idx_read(const char *path, int want_ndim, idx_t *x)
{
    memset(x, 0, sizeof *x);
    uint8_t *b = NULL;
    size_t len = 0;
    axmul_status s = read_maybe_gzip(path, &b, &len);
    if (s != AXMUL_OK)
        return s;
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
    if (im.dims[0] != lb.dims[0]) {
        free(im.data);
        free(lb.data);
        return axmul__fail(AXMUL_ERR_SHAPE, "%s has %u images but %s has %u labels", images_path,
                           im.dims[0], labels_path, lb.dims[0]);
    }
    if (im.dims[1] > 4096 || im.dims[2] > 4096) {
        free(im.data);
        free(lb.data);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: images of %ux%u pixels are implausible",
                           images_path, im.dims[1], im.dims[2]);
    }
    axmul_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        free(im.data);
        free(lb.data);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    d->count = im.dims[0];
    d->rows = (int)im.dims[1];
    d->cols = (int)im.dims[2];
    d->images = im.data;
    d->labels = lb.data;
    *out = d;
    return AXMUL_OK;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

axmul_status axmul_dataset_load(const char *spec, int train, axmul_dataset **out)
{
    axmul_error_clear();
    if (!spec || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_dataset_load: NULL argument");
    const char *dir;
    char name[64];
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (nl >= sizeof name)
        nl = sizeof name - 1;
    memcpy(name, spec, nl);
    name[nl] = '\0';
    if (strcmp(name, "fashion-mnist") == 0)
        dir = colon ? colon + 1 : "/usr/share/datasets/fashion-mnist";
    else if (strcmp(name, "mnist") == 0 && colon)
        dir = colon + 1;
    else
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                           "dataset '%s': expected fashion-mnist, fashion-mnist:DIR or mnist:DIR",
                           spec);
    const char *prefix = train ? "train" : "t10k";
    char img[4096], lab[4096];
    /* each file may be gzip-compressed (.gz) or not, independently */
    snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    if (!file_exists(img))
        snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte", dir, prefix);
    snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    if (!file_exists(lab))
        snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte", dir, prefix);
    if (!file_exists(img) || !file_exists(lab))
        return axmul__fail(AXMUL_ERR_NOT_FOUND, "dataset '%s': %s[.gz] not found%s", spec,
                           file_exists(img) ? lab : img,
                           colon ? "" : " (install Debian's dataset-fashion-mnist package)");
    return axmul_dataset_load_idx(img, lab, out);
}

void axmul_dataset_free(axmul_dataset *d)
{
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    free(d);
}

size_t axmul_dataset_count(const axmul_dataset *d)
{
    return d->count;
}

int axmul_dataset_rows(const axmul_dataset *d)
{
    return d->rows;
}

int axmul_dataset_cols(const axmul_dataset *d)
{
    return d->cols;
}

const uint8_t *axmul_dataset_images(const axmul_dataset *d)
{
    return d->images;
}

const uint8_t *axmul_dataset_labels(const axmul_dataset *d)
{
    return d->labels;
}
