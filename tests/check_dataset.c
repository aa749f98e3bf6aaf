/* Unit tests: data sets, IDX (gzip or plain) and .npy files, and their plausibility checks. */
#include <zlib.h>

#include "axmul.h"
#include "lib/net/net.h" /* axmul__dataset_wrap */
#include "testutil.h"

static void write_idx(const char *path, int gz, const uint8_t *hdr, size_t hl, const uint8_t *data,
                      size_t dl)
{
    if (gz) {
        /* gz 2: the header and the data as two gzip members (cat a.gz b.gz) */
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, hdr, (unsigned)hl), (int)hl);
        if (gz == 2) {
            ck_assert_int_eq(gzclose(f), Z_OK);
            ck_assert_ptr_nonnull(f = gzopen(path, "ab"));
        }
        if (dl)
            ck_assert_int_eq(gzwrite(f, data, (unsigned)dl), (int)dl);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        fwrite(hdr, 1, hl, f);
        fwrite(data, 1, dl, f);
        fclose(f);
    }
}

static void make_set(const char *dir, int gz, int n, int rows, int cols, int nlabels)
{
    char p[4200];
    uint8_t ih[16] = {0,
                      0,
                      8,
                      3,
                      0,
                      0,
                      (uint8_t)(n >> 8),
                      (uint8_t)n,
                      0,
                      0,
                      0,
                      (uint8_t)rows,
                      0,
                      0,
                      0,
                      (uint8_t)cols};
    uint8_t lh[8] = {0, 0, 8, 1, 0, 0, (uint8_t)(nlabels >> 8), (uint8_t)nlabels};
    size_t ni = (size_t)n * rows * cols;
    uint8_t *img = malloc(ni), *lab = malloc((size_t)nlabels);
    for (size_t i = 0; i < ni; i++)
        img[i] = (uint8_t)(i * 7);
    for (int i = 0; i < nlabels; i++)
        lab[i] = (uint8_t)(i % 10);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
    write_idx(p, gz, ih, 16, img, ni);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte%s", dir, gz ? ".gz" : "");
    write_idx(p, gz, lh, 8, lab, (size_t)nlabels);
    free(img);
    free(lab);
}

START_TEST(test_idx_gzip_and_plain)
{
    for (int gz = 0; gz < 3; gz++) {
        char *dir = tu_mkdtemp(), spec[4300];
        make_set(dir, gz, 5, 4, 3, 5);
        snprintf(spec, sizeof spec, "mnist:%s", dir);
        axmul_dataset *d;
        ck_assert_msg(axmul_dataset_load(spec, 0, &d) == AXMUL_OK, "%s", axmul_error_detail());
        ck_assert_uint_eq(axmul_dataset_count(d), 5);
        ck_assert_int_eq(axmul_dataset_rows(d), 4);
        ck_assert_int_eq(axmul_dataset_cols(d), 3);
        ck_assert_uint_eq(axmul_dataset_images(d)[7], 49);
        ck_assert_uint_eq(axmul_dataset_labels(d)[4], 4);
        axmul_dataset_free(d);
        /* the training split is not there */
        ck_assert_int_eq(axmul_dataset_load(spec, 1, &d), AXMUL_ERR_NOT_FOUND);
        ck_assert(strstr(axmul_error_detail(), "train-images-idx3-ubyte[.gz] not found") != NULL);
        if (gz) { /* bytes after the last member that are not another member */
            char p[4400];
            snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
            FILE *f = fopen(p, "ab");
            fputs("junk", f);
            fclose(f);
            ck_assert_int_eq(axmul_dataset_load(spec, 0, &d), AXMUL_ERR_FORMAT);
            ck_assert_msg(strstr(axmul_error_detail(), "4 bytes after the end of the gzip data"),
                          "%s", axmul_error_detail());
        }
        tu_rmdir(dir);
    }
    axmul_dataset_free(NULL);
}
END_TEST

/* Writes a .npy file (format 1.0) with the given dtype, shape text and raw data. */
static void write_npy(const char *path, const char *descr, const char *shape, const void *data,
                      size_t len)
{
    char h[256];
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                      shape);
    while ((10 + hl + 1) % 64)
        h[hl++] = ' ';
    h[hl++] = '\n';
    uint8_t *b = malloc(10 + (size_t)hl + len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)hl;
    b[9] = (uint8_t)(hl >> 8);
    memcpy(b + 10, h, (size_t)hl);
    if (len)
        memcpy(b + 10 + hl, data, len);
    tu_write(path, b, 10 + (size_t)hl + len);
    free(b);
}

/* Keras-style arrays: x_test (N, H, W, C) uint8 and y_test (N, 1) of another integer type. */
START_TEST(test_npy_dataset)
{
    char *dir = tu_mkdtemp(), xp[4200], yp[4200], spec[4300];
    snprintf(xp, sizeof xp, "%s/x_test.npy", dir);
    snprintf(yp, sizeof yp, "%s/y_test.npy", dir);
    snprintf(spec, sizeof spec, "npy:%s", dir);
    uint8_t img[3 * 2 * 4 * 3];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i * 5);
    const int64_t lab64[3] = {7, 0, 255};
    write_npy(xp, "|u1", "(3, 2, 4, 3)", img, sizeof img);
    write_npy(yp, "<i8", "(3, 1)", lab64, sizeof lab64);
    axmul_dataset *d;
    ck_assert_msg(axmul_dataset_load(spec, 0, &d) == AXMUL_OK, "%s", axmul_error_detail());
    ck_assert_uint_eq(axmul_dataset_count(d), 3);
    ck_assert_int_eq(axmul_dataset_rows(d), 2);
    ck_assert_int_eq(axmul_dataset_cols(d), 4);
    ck_assert_int_eq(axmul_dataset_channels(d), 3);
    ck_assert_mem_eq(axmul_dataset_images(d), img, sizeof img);
    ck_assert_uint_eq(axmul_dataset_labels(d)[0], 7);
    ck_assert_uint_eq(axmul_dataset_labels(d)[2], 255);
    axmul_dataset_free(d);
    /* (N, H, W): one channel; float labels holding whole numbers are labels too */
    const float labf[3] = {1, 2, 3};
    write_npy(xp, "|u1", "(3, 8, 3)", img, sizeof img);
    write_npy(yp, "<f4", "(3,)", labf, sizeof labf);
    ck_assert_msg(axmul_dataset_load_npy(xp, yp, &d) == AXMUL_OK, "%s", axmul_error_detail());
    ck_assert_int_eq(axmul_dataset_channels(d), 1);
    ck_assert_int_eq(axmul_dataset_rows(d), 8);
    ck_assert_uint_eq(axmul_dataset_labels(d)[2], 3);
    axmul_dataset_free(d);
    /* IDX sets have one channel */
    make_set(dir, 0, 5, 4, 3, 5);
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    ck_assert_int_eq(axmul_dataset_load(spec, 0, &d), AXMUL_OK);
    ck_assert_int_eq(axmul_dataset_channels(d), 1);
    axmul_dataset_free(d);

    /* each error names the file and says what is wrong */
    const struct {
        const char *xdescr, *xshape, *ydescr, *yshape, *file, *needle;
        const void *y;
        size_t xlen, ylen;
    } bad[] = {
        {"<f4", "(3, 2, 2)", "<i8", "(3,)", "x_test.npy", "images must be uint8", lab64, 48, 24},
        {"|u1", "(3, 24)", "<i8", "(3,)", "x_test.npy", "2 dimensions, expected (N, H, W)", lab64,
         72, 24},
        {"|u1", "(3, 24, 1, 1, 1)", "<i8", "(3,)", "x_test.npy", "5 dimensions", lab64, 72, 24},
        {"|u1", "(3, 0, 4)", "<i8", "(3,)", "x_test.npy", "implausible", lab64, 0, 24},
        {"|u1", "(3, 8, 3)", "<i8", "(2,)", "y_test.npy",
         "labels of shape (2,), expected (3,) or (3, 1)", lab64, 72, 16},
        {"|u1", "(3, 8, 3)", "<i8", "(1, 3)", "y_test.npy", "labels of shape (1, 3)", lab64, 72,
         24},
        {"|u1", "(3, 8, 3)", "<f4", "(3,)", "y_test.npy", "label 2.5 of image 1", NULL, 72, 12},
        {"|u1", "(3, 8, 3)", "<i8", "(3,)", "y_test.npy", "label 256 of image 2", NULL, 72, 24},
        {"|u1", "(3, 8, 3)", "<i8", "(3,)", "y_test.npy", "label -1 of image 0", NULL, 72, 24},
    };
    const float half[3] = {1, 2.5f, 0};
    const int64_t big[3] = {0, 1, 256}, neg[3] = {-1, 1, 2};
    const void *ys[] = {NULL, NULL, NULL, NULL, NULL, NULL, half, big, neg};
    uint8_t zeros[72] = {0};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_npy(xp, bad[k].xdescr, bad[k].xshape, zeros, bad[k].xlen);
        write_npy(yp, bad[k].ydescr, bad[k].yshape, bad[k].y ? bad[k].y : ys[k], bad[k].ylen);
        d = (axmul_dataset *)0x1;
        ck_assert_int_ne(axmul_dataset_load_npy(xp, yp, &d), AXMUL_OK);
        ck_assert_ptr_null(d);
        const char *e = axmul_error_detail();
        ck_assert_msg(strstr(e, bad[k].file) && strstr(e, bad[k].needle),
                      "case %zu: '%s' should name %s and say '%s'", k, e, bad[k].file,
                      bad[k].needle);
    }
    /* a missing array is named; so is an unknown kind of data set */
    remove(yp);
    snprintf(spec, sizeof spec, "npy:%s", dir);
    ck_assert_int_eq(axmul_dataset_load(spec, 0, &d), AXMUL_ERR_NOT_FOUND);
    ck_assert(strstr(axmul_error_detail(), "y_test.npy not found") != NULL);
    ck_assert_int_eq(axmul_dataset_load(spec, 1, &d), AXMUL_ERR_NOT_FOUND);
    ck_assert(strstr(axmul_error_detail(), "x_train.npy not found") != NULL);
    ck_assert_int_eq(axmul_dataset_load("cifar:/x", 0, &d), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(axmul_error_detail(), "npy:DIR") != NULL);
    tu_rmdir(dir);

    /* Image counts are int in the network API: a data set of 2^31 images (a 2 GiB file, so
     * wrapped here with stand-in buffers) is refused by name and its buffers freed (ASan's leak
     * check), 2^31 - 1 images are taken. */
    d = NULL;
    ck_assert_int_eq(
        axmul__dataset_wrap("big.npy", (size_t)INT32_MAX + 1, 1, 1, 1, malloc(1), malloc(1), &d),
        AXMUL_ERR_SIZE);
    ck_assert_msg(strstr(axmul_error_detail(), "big.npy: 2147483648 images, at most 2147483647"),
                  "%s", axmul_error_detail());
    ck_assert_ptr_null(d);
    ck_assert_int_eq(
        axmul__dataset_wrap("big.npy", (size_t)INT32_MAX, 1, 1, 1, malloc(1), malloc(1), &d),
        AXMUL_OK);
    ck_assert_uint_eq(axmul_dataset_count(d), (size_t)INT32_MAX);
    axmul_dataset_free(d);
}
END_TEST

static void expect_idx_error(const uint8_t *hdr, size_t hl, size_t datalen, int gz,
                             const char *needle)
{
    char *dir = tu_mkdtemp(), ip[4200], lp[4200];
    snprintf(ip, sizeof ip, "%s/images", dir);
    snprintf(lp, sizeof lp, "%s/labels", dir);
    uint8_t *data = calloc(1, datalen + 1);
    write_idx(ip, gz, hdr, hl, data, datalen);
    uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, 2}, lab[2] = {0, 1};
    write_idx(lp, 0, lh, 8, lab, 2);
    axmul_dataset *d = (axmul_dataset *)0x1;
    ck_assert_int_ne(axmul_dataset_load_idx(ip, lp, &d), AXMUL_OK);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(axmul_error_detail(), "images") && strstr(axmul_error_detail(), needle),
                  "'%s' should mention '%s'", axmul_error_detail(), needle);
    free(data);
    tu_rmdir(dir);
}

START_TEST(test_idx_bad_inputs)
{
    uint8_t good[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    uint8_t magic[16] = {1, 2, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    uint8_t type[16] = {0, 0, 0x0d, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    uint8_t dims[12] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    expect_idx_error(magic, 16, 8, 0, "bad magic");
    expect_idx_error(type, 16, 8, 1, "element type 0x0d");
    expect_idx_error(dims, 12, 4, 0, "2 dimensions, expected 3");
    expect_idx_error(good, 16, 7, 1, "truncated");
    expect_idx_error(good, 16, 9, 0, "trailing");
    expect_idx_error(good, 10, 0, 0, "truncated IDX header");
    /* the loaders' shared plausibility check: rows of 5000 pixels */
    uint8_t wide[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0x13, 0x88, 0, 0, 0, 1};
    expect_idx_error(wide, 16, 10000, 0, "2 images of 5000x1x1 pixels are implausible");
    /* count mismatch between images and labels */
    char *dir = tu_mkdtemp(), spec[4300];
    make_set(dir, 0, 5, 2, 2, 4);
    snprintf(spec, sizeof spec, "fashion-mnist:%s", dir);
    axmul_dataset *d;
    ck_assert_int_eq(axmul_dataset_load(spec, 0, &d), AXMUL_ERR_SHAPE);
    ck_assert(strstr(axmul_error_detail(), "5 images") && strstr(axmul_error_detail(), "4 labels"));
    tu_rmdir(dir);
    /* a corrupt gzip stream */
    dir = tu_mkdtemp();
    make_set(dir, 1, 50, 20, 20, 50);
    char p[4200];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    FILE *f = fopen(p, "r+b");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    ck_assert_int_eq(ftruncate(fileno(f), sz / 2), 0);
    fclose(f);
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    ck_assert_int_ne(axmul_dataset_load(spec, 0, &d), AXMUL_OK);
    ck_assert(strstr(axmul_error_detail(), "t10k-images") != NULL);
    tu_rmdir(dir);
    ck_assert_int_eq(axmul_dataset_load("cifar", 0, &d), AXMUL_ERR_INVALID_ARGUMENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_idx_gzip_and_plain);
    tcase_add_test(tc, test_idx_bad_inputs);
    tcase_add_test(tc, test_npy_dataset);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
