/* axmul: labelled image sets: the container, named sets (Fashion-MNIST and MNIST as IDX files in
 * lib/idx.c, any set saved as NumPy arrays), and the .npy loader. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "axmul_net.h"
#include "axmul_npy.h"
#include "lib/core/internal.h"
#include "lib/net/net.h"

struct axmul_dataset {
    size_t count;
    int rows, cols, channels;
    uint8_t *images; /* count x rows x cols x channels */
    uint8_t *labels;
};

/* Largest image side and channel count we believe (a typo in a shape, not a data set). */
#define DATASET_MAX_SIDE 4096
#define DATASET_MAX_CHANNELS 4096

axmul_status axmul__dataset_wrap(const char *name, size_t count, size_t rows, size_t cols,
                                 size_t channels, uint8_t *images, uint8_t *labels,
                                 axmul_dataset **out)
{
    axmul_status s = AXMUL_OK;
    axmul_dataset *d = NULL;
    if (count < 1 || rows < 1 || cols < 1 || channels < 1 || rows > DATASET_MAX_SIDE ||
        cols > DATASET_MAX_SIDE || channels > DATASET_MAX_CHANNELS)
        s = axmul__fail(AXMUL_ERR_SHAPE, "%s: %zu images of %zux%zux%zu pixels are implausible",
                        name, count, rows, cols, channels);
    else if (count > INT32_MAX) /* image counts are int in the tools and the network API */
        s = axmul__fail(AXMUL_ERR_SIZE, "%s: %zu images, at most %d", name, count, INT32_MAX);
    else if (!(d = calloc(1, sizeof *d)))
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    if (s != AXMUL_OK) {
        free(images);
        free(labels);
        return s;
    }
    d->count = count;
    d->rows = (int)rows;
    d->cols = (int)cols;
    d->channels = (int)channels;
    d->images = images;
    d->labels = labels;
    *out = d;
    return AXMUL_OK;
}

axmul_status axmul_dataset_load_npy(const char *images_path, const char *labels_path,
                                    axmul_dataset **out)
{
    axmul_error_clear();
    if (!images_path || !labels_path || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_dataset_load_npy: NULL argument");
    *out = NULL;
    axmul_npy *im = NULL, *lb = NULL;
    uint8_t *images = NULL, *labels = NULL;
    double *lv = NULL;
    axmul_status s;
    if ((s = axmul_npy_load(images_path, &im)) != AXMUL_OK ||
        (s = axmul_npy_load(labels_path, &lb)) != AXMUL_OK)
        goto out;
    const int nd = axmul_npy_ndim(im);
    const size_t *sh = axmul_npy_shape(im);
    if (axmul_npy_dtype(im) != AXMUL_DTYPE_U8) {
        s = axmul__fail(AXMUL_ERR_FORMAT,
                        "%s: images must be uint8 pixels ('|u1', as Keras' data sets load them)",
                        images_path);
        goto out;
    }
    if (nd != 3 && nd != 4) {
        s = axmul__fail(AXMUL_ERR_SHAPE,
                        "%s: %d dimensions, expected (N, H, W) or (N, H, W, C) images", images_path,
                        nd);
        goto out;
    }
    const size_t n = sh[0];
    const int lnd = axmul_npy_ndim(lb);
    const size_t *lsh = axmul_npy_shape(lb);
    if (!(lnd == 1 || (lnd == 2 && lsh[1] == 1)) || lsh[0] != n) {
        char shape[160] = "(";
        for (int i = 0; i < lnd; i++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%zu", i ? ", " : "",
                     lsh[i]);
        strncat(shape, lnd == 1 ? ",)" : ")", sizeof shape - strlen(shape) - 1);
        s = axmul__fail(AXMUL_ERR_SHAPE,
                        "%s: labels of shape %s, expected (%zu,) or (%zu, 1) for the images of %s",
                        labels_path, shape, n, n, images_path);
        goto out;
    }
    lv = malloc(n * sizeof *lv);
    labels = malloc(n);
    if (!lv || !labels) {
        s = axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", images_path);
        goto out;
    }
    if ((s = axmul_npy_to_double(lb, lv, n)) != AXMUL_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!(lv[i] >= 0 && lv[i] <= 255 && lv[i] == floor(lv[i]))) {
            s = axmul__fail(AXMUL_ERR_FORMAT, "%s: label %g of image %zu is not a class in 0..255",
                            labels_path, lv[i], i);
            goto out;
        }
        labels[i] = (uint8_t)lv[i];
    }
    images = axmul__npy_take_data(im); /* uint8: the array's bytes are the images, no copy */
    s = axmul__dataset_wrap(images_path, n, sh[1], sh[2], nd == 4 ? sh[3] : 1, images, labels, out);
    images = labels = NULL; /* owned by the data set, or freed by the wrapper */
out:
    free(lv);
    free(images);
    free(labels);
    axmul_npy_free(im);
    axmul_npy_free(lb);
    return s;
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
    char img[4096], lab[4096];
    if (strcmp(name, "npy") == 0 && colon) {
        /* the names of Keras' load_data() tuples: np.save("x_test.npy", x_test), ... */
        const char *split = train ? "train" : "test";
        snprintf(img, sizeof img, "%s/x_%s.npy", colon + 1, split);
        snprintf(lab, sizeof lab, "%s/y_%s.npy", colon + 1, split);
        if (!file_exists(img) || !file_exists(lab))
            return axmul__fail(AXMUL_ERR_NOT_FOUND, "dataset '%s': %s not found", spec,
                               file_exists(img) ? lab : img);
        return axmul_dataset_load_npy(img, lab, out);
    }
    if (strcmp(name, "fashion-mnist") == 0)
        dir = colon ? colon + 1 : "/usr/share/datasets/fashion-mnist";
    else if (strcmp(name, "mnist") == 0 && colon)
        dir = colon + 1;
    else
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                           "dataset '%s': expected fashion-mnist, fashion-mnist:DIR, mnist:DIR or "
                           "npy:DIR",
                           spec);
    const char *prefix = train ? "train" : "t10k";
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

int axmul_dataset_channels(const axmul_dataset *d)
{
    return d->channels;
}

const uint8_t *axmul_dataset_images(const axmul_dataset *d)
{
    return d->images;
}

const uint8_t *axmul_dataset_labels(const axmul_dataset *d)
{
    return d->labels;
}
