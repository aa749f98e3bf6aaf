/* Unit tests: IDX reader, model files, inference, calibration and training on synthetic data. */
#include <math.h>
#include <zlib.h>

#include "axmul.h"
#include "lib/net/net.h" /* a layer's calibrated range, axmul__dataset_wrap */
#include "testutil.h"

/* Writes an IDX file (optionally gzip-compressed). */
static void write_idx(const char *path, int gz, const uint8_t *hdr, size_t hl, const uint8_t *data,
                      size_t dl)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, hdr, (unsigned)hl), (int)hl);
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
    for (int gz = 0; gz < 2; gz++) {
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

/* ---------------------------------------------------------------- models */

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tu_write(p, text, strlen(text));
}

static void save_tensor(const char *dir, const char *name, const float *v, const size_t *shape,
                        int nd)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(axmul_npy_save_f32(p, v, shape, nd), AXMUL_OK);
}

/* A tiny model: conv 2x2 (1 -> 2) on 4x4x1, relu, maxpool 3x3 -> flatten -> dense 2 -> softmax. */
static char *tiny_model(const char *conv_type, const size_t *wshape)
{
    char *dir = tu_mkdtemp();
    float w[32], b[2] = {0.1f, -0.1f}, dw[4] = {1, -1, 0.5f, 2}, db[2] = {0, 0};
    for (int i = 0; i < 32; i++)
        w[i] = (float)((i % 5) - 2) * 0.25f;
    save_tensor(dir, "c_w.npy", w, wshape, 4);
    size_t bs[1] = {2}, ds[2] = {2, 2};
    save_tensor(dir, "c_b.npy", b, bs, 1);
    save_tensor(dir, "d_w.npy", dw, ds, 2);
    save_tensor(dir, "d_b.npy", db, bs, 1);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, 1],\n"
             " \"layers\": [\n"
             "  {\"type\": \"%s\", \"name\": \"c\", \"filters\": 2, \"kernel_size\": 2,\n"
             "   \"padding\": \"valid\", \"weights\": \"c_w.npy\", \"bias\": \"c_b.npy\",\n"
             "   \"input_range\": [0, 1]},\n"
             "  {\"type\": \"relu\"}, {\"type\": \"maxpool\", \"pool_size\": [3, 3]},\n"
             "  {\"type\": \"flatten\"},\n"
             "  {\"type\": \"dense\", \"name\": \"d\", \"units\": 2, \"weights\": \"d_w.npy\",\n"
             "   \"bias\": \"d_b.npy\"},\n"
             "  {\"type\": \"softmax\"}]}\n",
             conv_type);
    write_file(dir, "model.json", json);
    return dir;
}

START_TEST(test_model_load_save_predict)
{
    size_t ws[4] = {2, 2, 1, 2};
    char *dir = tiny_model("conv2d", ws);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    ck_assert_int_eq(axmul_model_num_layers(m), 6);
    ck_assert_str_eq(axmul_model_layer_type(m, 2), "maxpool");
    ck_assert_int_eq(axmul_model_classes(m), 2);
    ck_assert_uint_eq(axmul_model_layer_output_size(m, 0), 3 * 3 * 2);
    ck_assert_int_eq(axmul_model_calibrated(m), 0); /* the dense layer has no range */
    float x[2 * 16];
    for (int i = 0; i < 32; i++)
        x[i] = (float)((i * 7) % 16) / 15.0f;
    axmul_net_options o;
    axmul_net_options_init(&o);
    uint8_t pf[2], pe[2], p1[2];
    float sf[4], se[4];
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pf, sf), AXMUL_OK);
    ck_assert_float_eq_tol(sf[0] + sf[1], 1.0f, 1e-6f); /* softmax */
    axmul_table *ex;
    ck_assert_int_eq(axmul_table_create_exact(0, &ex), AXMUL_OK);
    o.table = ex; /* conv approximated with the exact table: close to float */
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pe, se), AXMUL_OK);
    ck_assert_float_eq_tol(se[0], sf[0], 0.02f);
    o.approx = AXMUL_APPROX_ALL; /* the dense layer has no calibrated range */
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pe, se), AXMUL_ERR_RANGE);
    ck_assert(strstr(axmul_error_detail(), "calibrate") != NULL);
    /* calibration, then save and reload: same predictions, one image at a time too */
    ck_assert_int_eq(axmul_model_calibrate(m, x, 2, 1, 0), AXMUL_OK);
    ck_assert_int_eq(axmul_model_calibrated(m), 1);
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pe, se), AXMUL_OK);
    char dir2[4200];
    snprintf(dir2, sizeof dir2, "%s/saved", dir);
    ck_assert_int_eq(axmul_model_save(m, dir2), AXMUL_OK);
    axmul_model *m2;
    ck_assert_msg(axmul_model_load(dir2, &m2) == AXMUL_OK, "%s", axmul_error_detail());
    axmul_net_workspace *w;
    ck_assert_int_eq(axmul_net_workspace_create(&w), AXMUL_OK);
    o.workspace = w;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(axmul_model_predict(m2, &o, x + 16 * i, 1, p1 + i, NULL), AXMUL_OK);
        ck_assert_int_eq(p1[i], pe[i]);
    }
    axmul_net_workspace_free(w);
    axmul_model_free(m2);
    axmul_model_free(m);
    axmul_table_free(ex);
    /* depthwise: groups = input channels, filter (kh, kw, 1, filters) */
    tu_rmdir(dir);
    dir = tiny_model("depthwise", ws);
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    axmul_model_free(m);
    tu_rmdir(dir);
}
END_TEST

/* json (when not NULL) as dir's model.json must fail to load, with needle in the message. */
static void expect_load_error(const char *dir, const char *json, const char *needle)
{
    if (json)
        write_file(dir, "model.json", json);
    axmul_model *m = (axmul_model *)0x1;
    ck_assert_int_ne(axmul_model_load(dir, &m), AXMUL_OK);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(axmul_error_detail(), needle) != NULL, "'%s' should mention '%s'",
                  axmul_error_detail(), needle);
}

/* The same in the tiny model's folder (its tensors at hand). */
static void expect_model_error(const char *json, const char *needle)
{
    size_t ws[4] = {2, 2, 1, 2};
    char *dir = tiny_model("conv2d", ws);
    expect_load_error(dir, json, needle);
    tu_rmdir(dir);
}

/* Average and max pooling (strided, windows that do not tile the input, several channels), read
 * out through a dense layer with identity weights (exact in float), against a direct loop that
 * combines each window's taps in row-major order. */
START_TEST(test_pooling_matches_direct)
{
    /* 400 images: 75,600 inputs, enough for the pooling to run on several threads */
    enum { H = 7, W = 9, C = 3, KH = 3, KW = 2, SH = 2, SW = 3, N = 400 };
    const int oh = (H - KH) / SH + 1, ow = (W - KW) / SW + 1, out = oh * ow * C;
    uint64_t s = tu_seed() ^ 0x9001;
    float *x = malloc(sizeof(float) * N * H * W * C),
          *ident = calloc((size_t)out * out, sizeof(float));
    for (int i = 0; i < N * H * W * C; i++)
        x[i] = tu_randf(&s, -2.0f, 2.0f);
    for (int i = 0; i < out; i++)
        ident[(size_t)i * out + i] = 1.0f;
    for (int run = 0; run < 4; run++) {
        const int is_max = run % 2, threads = run < 2 ? 1 : 3;
        char *dir = tu_mkdtemp();
        size_t ishape[2] = {(size_t)out, (size_t)out};
        save_tensor(dir, "i.npy", ident, ishape, 2);
        char json[1024];
        snprintf(
            json, sizeof json,
            "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [%d, %d, %d],\n"
            " \"layers\": [{\"type\": \"%s\", \"pool_size\": [%d, %d], \"strides\": [%d, %d]},\n"
            "  {\"type\": \"flatten\"},\n"
            "  {\"type\": \"dense\", \"name\": \"id\", \"units\": %d, \"weights\": \"i.npy\"}]}\n",
            H, W, C, is_max ? "maxpool" : "avgpool", KH, KW, SH, SW, out);
        write_file(dir, "model.json", json);
        axmul_model *m;
        ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
        axmul_net_options o;
        axmul_net_options_init(&o);
        o.threads = threads;
        float *got = malloc(sizeof(float) * N * out);
        uint8_t pred[N];
        ck_assert_int_eq(axmul_model_predict(m, &o, x, N, pred, got), AXMUL_OK);
        for (int img = 0; img < N; img++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int ch = 0; ch < C; ch++) {
                        float acc = is_max ? -INFINITY : 0.0f;
                        for (int i = 0; i < KH; i++)
                            for (int j = 0; j < KW; j++) {
                                float v = x[((img * H + oy * SH + i) * W + ox * SW + j) * C + ch];
                                acc = is_max ? (v > acc ? v : acc) : acc + v;
                            }
                        if (!is_max)
                            acc /= (float)(KH * KW);
                        float g = got[img * out + (oy * ow + ox) * C + ch];
                        ck_assert_msg(memcmp(&g, &acc, sizeof g) == 0,
                                      "%s, %d threads, image %d (%d,%d,%d): %.9g, expected %.9g",
                                      is_max ? "max" : "avg", threads, img, oy, ox, ch, g, acc);
                    }
        free(got);
        axmul_model_free(m);
        tu_rmdir(dir);
    }
    free(ident);
    free(x);
}
END_TEST

/* m, saved into dir/saved and loaded back, gives the same scores on n images x. */
static void expect_saved_same(const axmul_model *m, const char *dir, const float *x, int n)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/saved", dir);
    ck_assert_int_eq(axmul_model_save(m, sub), AXMUL_OK);
    axmul_model *m2;
    ck_assert_msg(axmul_model_load(sub, &m2) == AXMUL_OK, "%s", axmul_error_detail());
    const size_t count = (size_t)n * axmul_model_classes(m);
    float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b);
    uint8_t *pred = malloc((size_t)n);
    axmul_net_options o;
    axmul_net_options_init(&o);
    ck_assert_int_eq(axmul_model_predict(m, &o, x, n, pred, a), AXMUL_OK);
    ck_assert_int_eq(axmul_model_predict(m2, &o, x, n, pred, b), AXMUL_OK);
    ck_assert_mem_eq(a, b, count * sizeof *a);
    free(a);
    free(b);
    free(pred);
    axmul_model_free(m2);
}

/* Unnamed layers get distinct names (type and position), so that a saved model keeps each
 * layer's tensors apart. */
START_TEST(test_unnamed_layers_saved_apart)
{
    char *dir = tu_mkdtemp(), json[1024];
    const float w1[4] = {1, 2, 3, 4}, w2[4] = {-1, 0.5f, 2, 0};
    size_t s4[4] = {1, 1, 2, 2};
    save_tensor(dir, "a.npy", w1, s4, 4);
    save_tensor(dir, "b.npy", w2, s4, 4);
    snprintf(
        json, sizeof json,
        "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [2, 2, 2],\n"
        " \"layers\": [{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 1, "
        "\"weights\": \"a.npy\"},\n"
        "  {\"type\": \"relu\"},\n"
        "  {\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 1, \"weights\": \"b.npy\"}]}\n");
    write_file(dir, "model.json", json);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    ck_assert_str_eq(axmul_model_layer_name(m, 0), "conv2d_0");
    ck_assert_str_eq(axmul_model_layer_name(m, 1), "relu_1");
    ck_assert_str_eq(axmul_model_layer_name(m, 2), "conv2d_2");
    const float x[8] = {0.5f, -1, 2, 0.25f, 1, 1, -2, 3};
    expect_saved_same(m, dir, x, 1);
    axmul_model_free(m);
    tu_rmdir(dir);
}
END_TEST

/* Loads json (written into dir) and returns the scores of n images, float or with the exact
 * table after calibrating on the same images; frees the model. */
static void graph_scores(const char *dir, const char *json, const float *x, int n, int exact,
                         float *scores)
{
    write_file(dir, "model.json", json);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    axmul_net_options o;
    axmul_net_options_init(&o);
    axmul_table *ex = NULL;
    if (exact) {
        ck_assert_int_eq(axmul_model_calibrate(m, x, n, 3, 0), AXMUL_OK);
        ck_assert_int_eq(axmul_table_create_exact(0, &ex), AXMUL_OK);
        o.table = ex;
        o.approx = AXMUL_APPROX_ALL;
    }
    uint8_t pred[64];
    ck_assert_int_eq(axmul_model_predict(m, &o, x, n, pred, scores), AXMUL_OK);
    axmul_table_free(ex);
    axmul_model_free(m);
}

/* Residual graphs: "input" reads an earlier layer's output, "add" sums two. Each graph is checked
 * against a chain that computes the same numbers: a layer skipped by "input" is as if absent, and
 * add(c, c) is the conv with doubled weights (exact in float). The last layer's 4x4x2 output is
 * the score vector; float and exact-table networks (calibrated in batches of 3 of the 7 images),
 * and the graph saved and reloaded. */
START_TEST(test_residual_graphs)
{
    enum { N = 7, OUT = 4 * 4 * 2 };
    char *dir = tu_mkdtemp();
    uint64_t s = tu_seed() ^ 0x6a;
    float x[N * 4 * 4 * 2], w1[2 * 2 * 2 * 3], w1x2[2 * 2 * 2 * 3], w2[3 * 3 * 3 * 3], w3[3 * 2];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = tu_randf(&s, -1.0f, 1.0f);
    for (size_t i = 0; i < sizeof w1 / sizeof w1[0]; i++)
        w1x2[i] = 2.0f * (w1[i] = tu_randf(&s, -1.0f, 1.0f));
    for (size_t i = 0; i < sizeof w2 / sizeof w2[0]; i++)
        w2[i] = tu_randf(&s, -1.0f, 1.0f);
    for (size_t i = 0; i < sizeof w3 / sizeof w3[0]; i++)
        w3[i] = tu_randf(&s, -1.0f, 1.0f);
    size_t s1[4] = {2, 2, 2, 3}, s2[4] = {3, 3, 3, 3}, s3[4] = {1, 1, 3, 2};
    save_tensor(dir, "w1.npy", w1, s1, 4);
    save_tensor(dir, "w1x2.npy", w1x2, s1, 4);
    save_tensor(dir, "w2.npy", w2, s2, 4);
    save_tensor(dir, "w3.npy", w3, s3, 4);
    const char *head = "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, 2], "
                       "\"layers\": [",
               *c1 = "{\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 3, \"kernel_size\": 2, "
                     "\"padding\": \"same\", \"weights\": \"w1.npy\"}, ",
               *c1x2 =
                   "{\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 3, \"kernel_size\": 2, "
                   "\"padding\": \"same\", \"weights\": \"w1x2.npy\"}, ",
               *c2 = "{\"type\": \"conv2d\", \"name\": \"c2\", \"filters\": 3, \"kernel_size\": 3, "
                     "\"padding\": \"same\", \"weights\": \"w2.npy\"}, ",
               *c3 = "{\"type\": \"conv2d\", \"name\": \"c3\", \"filters\": 2, \"kernel_size\": 1, "
                     "\"weights\": \"w3.npy\"",
               *r1 = "{\"type\": \"relu\", \"name\": \"r1\"}, ";
    char skip[2048], chain[2048], twice[2048], doubled[2048];
    /* c1 -> r1 -> c2 -> c3 reading r1; the chain without c2 */
    snprintf(skip, sizeof skip, "%s%s%s%s%s, \"input\": \"r1\"}]}", head, c1, r1, c2, c3);
    snprintf(chain, sizeof chain, "%s%s%s%s}]}", head, c1, r1, c3);
    /* add(c1, c1) -> relu -> c3; the chain with doubled c1 weights */
    snprintf(twice, sizeof twice, "%s%s{\"type\": \"add\", \"inputs\": [\"c1\", \"c1\"]}, %s%s}]}",
             head, c1, r1, c3);
    snprintf(doubled, sizeof doubled, "%s%s%s%s}]}", head, c1x2, r1, c3);
    const char *graph[2] = {skip, twice}, *same[2] = {chain, doubled};
    for (int g = 0; g < 2; g++)
        for (int exact = 0; exact < 2; exact++) {
            float a[N * OUT], b[N * OUT];
            graph_scores(dir, same[g], x, N, exact, b);
            graph_scores(dir, graph[g], x, N, exact, a);
            ck_assert_msg(memcmp(a, b, sizeof a) == 0, "%s graph, %s: scores differ",
                          g ? "add" : "input", exact ? "exact table" : "float");
        }
    /* the add graph saved and reloaded (model.json written with its "inputs") */
    write_file(dir, "model.json", twice);
    axmul_model *m;
    ck_assert_int_eq(axmul_model_load(dir, &m), AXMUL_OK);
    ck_assert_str_eq(axmul_model_layer_type(m, 1), "add");
    expect_saved_same(m, dir, x, N);
    axmul_model_free(m);

    /* bad references, each named */
    const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"type\": \"add\", \"inputs\": [\"c1\"]}", "\"inputs\" must name two earlier layers"},
        {"{\"type\": \"add\", \"inputs\": [\"c1\", \"nope\"]}",
         "inputs 'nope' is not an earlier layer"},
        {"{\"type\": \"add\", \"inputs\": [\"c1\", \"later\"]}, {\"type\": \"relu\", \"name\": "
         "\"later\"}",
         "inputs 'later' is not an earlier layer"},
        {"{\"type\": \"add\", \"inputs\": [\"c1\", \"c1\"], \"input\": \"c1\"}", "add layers take"},
        {"{\"type\": \"relu\", \"input\": 3}", "\"input\" must name an earlier layer"},
        {"{\"type\": \"relu\", \"name\": \"r\"}, {\"type\": \"relu\", \"name\": \"r\"}, "
         "{\"type\": \"relu\", \"input\": \"r\"}",
         "input 'r' names 2 layers"},
        {"{\"type\": \"maxpool\", \"name\": \"p\"}, {\"type\": \"add\", \"inputs\": [\"c1\", "
         "\"p\"]}",
         "adds c1 (4x4x3) and p (2x2x3)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char j[2048];
        snprintf(j, sizeof j, "%s%s%s]}", head, c1, bad[k].json);
        expect_load_error(dir, j, bad[k].needle);
    }
    tu_rmdir(dir);
}
END_TEST

/* Batch norm, ReLU6 and global average/max pooling, read out through an identity dense layer,
 * against a direct computation with the documented float32 formulas; then saved and reloaded. */
START_TEST(test_batchnorm_relu6_global_pools)
{
    enum { H = 3, W = 4, C = 2, N = 5 };
    const float gamma[C] = {1.5f, -2.0f}, beta[C] = {0.25f, 7.0f}, mean[C] = {0.1f, -0.3f},
                var[C] = {0.5f, 2.0f}, eps = 0.01f, ident[C * C] = {1, 0, 0, 1};
    uint64_t s = tu_seed() ^ 0xb4;
    float x[N * H * W * C];
    for (int i = 0; i < N * H * W * C; i++)
        x[i] = tu_randf(&s, -4.0f, 4.0f);
    for (int is_max = 0; is_max < 2; is_max++) {
        char *dir = tu_mkdtemp(), json[1024];
        size_t cs[1] = {C}, is[2] = {C, C};
        save_tensor(dir, "g.npy", gamma, cs, 1);
        save_tensor(dir, "b.npy", beta, cs, 1);
        save_tensor(dir, "m.npy", mean, cs, 1);
        save_tensor(dir, "v.npy", var, cs, 1);
        save_tensor(dir, "i.npy", ident, is, 2);
        snprintf(
            json, sizeof json,
            "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [%d, %d, %d],\n"
            " \"layers\": [{\"type\": \"batchnorm\", \"name\": \"bn\", \"gamma\": \"g.npy\",\n"
            "   \"beta\": \"b.npy\", \"moving_mean\": \"m.npy\", \"moving_variance\": \"v.npy\",\n"
            "   \"epsilon\": 0.01},\n"
            "  {\"type\": \"relu6\"}, {\"type\": \"%s\"},\n"
            "  {\"type\": \"dense\", \"name\": \"id\", \"units\": %d, \"weights\": \"i.npy\"}]}\n",
            H, W, C, is_max ? "globalmaxpool" : "globalavgpool", C);
        write_file(dir, "model.json", json);
        axmul_model *m;
        ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
        ck_assert_str_eq(axmul_model_layer_type(m, 0), "batchnorm");
        ck_assert_str_eq(axmul_model_layer_type(m, 1), "relu6");
        ck_assert_str_eq(axmul_model_layer_type(m, 2), is_max ? "globalmaxpool" : "globalavgpool");
        ck_assert_uint_eq(axmul_model_layer_output_size(m, 2), C);
        axmul_net_options o;
        axmul_net_options_init(&o);
        float got[N * C];
        uint8_t pred[N];
        ck_assert_int_eq(axmul_model_predict(m, &o, x, N, pred, got), AXMUL_OK);
        for (int img = 0; img < N; img++)
            for (int ch = 0; ch < C; ch++) {
                const float scale = gamma[ch] / sqrtf(var[ch] + eps),
                            offset = beta[ch] - mean[ch] * scale;
                float acc = is_max ? -INFINITY : 0.0f;
                for (int p = 0; p < H * W; p++) {
                    float v = x[(img * H * W + p) * C + ch] * scale + offset;
                    v = v > 0 ? (v < 6 ? v : 6) : 0;
                    acc = is_max ? (v > acc ? v : acc) : acc + v;
                }
                if (!is_max)
                    acc /= (float)(H * W);
                ck_assert_msg(memcmp(&got[img * C + ch], &acc, sizeof acc) == 0,
                              "%s image %d channel %d: %.9g, expected %.9g", is_max ? "max" : "avg",
                              img, ch, got[img * C + ch], acc);
            }
        /* saved (tensors under new names) and reloaded: the same scores */
        expect_saved_same(m, dir, x, N);
        axmul_model_free(m);

        /* bad batch norms, each named */
        const struct {
            const char *from, *to, *needle;
        } bad[] = {
            {"\"moving_variance\": \"v.npy\"", "\"variance\": \"v.npy\"",
             "\"moving_variance\" file missing"},
            {"\"beta\": \"b.npy\"", "\"beta\": \"i.npy\"", "i.npy has 4 elements but g.npy has 2"},
            {"\"epsilon\": 0.01", "\"epsilon\": \"small\"", "\"epsilon\" must be a number"},
            {"\"epsilon\": 0.01", "\"epsilon\": -0.5", "variance 0.5 + epsilon -0.5 of channel 0"},
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            char j2[1024], *at = strstr(json, bad[k].from);
            ck_assert_ptr_nonnull(at);
            snprintf(j2, sizeof j2, "%.*s%s%s", (int)(at - json), json, bad[k].to,
                     at + strlen(bad[k].from));
            expect_load_error(dir, j2, bad[k].needle);
        }
        /* batch norm tensors that do not match the input's channels */
        size_t c3[1] = {3};
        const float three[3] = {1, 1, 1};
        save_tensor(dir, "g.npy", three, c3, 1);
        save_tensor(dir, "b.npy", three, c3, 1);
        save_tensor(dir, "m.npy", three, c3, 1);
        save_tensor(dir, "v.npy", three, c3, 1);
        expect_load_error(dir, json, "g.npy has 3 elements, the input has 2 channels");
        ck_assert_int_eq(axmul_model_load(dir, &m), AXMUL_ERR_SHAPE);
        tu_rmdir(dir);
    }
}
END_TEST

/* The float layers between the LUT convolutions run on the conv's threads: scores must not
 * depend on the thread count (6000 images of the tiny model: its bias, ReLU and pooling tensors
 * are large enough to run on several threads). */
START_TEST(test_threads_do_not_change_results)
{
    enum { N = 6000 };
    size_t ws[4] = {2, 2, 1, 2};
    char *dir = tiny_model("conv2d", ws);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    uint64_t s = tu_seed() ^ 0x7e4d;
    float *x = malloc(sizeof(float) * N * 16), *sc[2];
    for (int i = 0; i < N * 16; i++)
        x[i] = tu_randf(&s, 0.0f, 1.0f);
    axmul_table *t; /* an approximate table: the exact products, some off by a few units */
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(t)[i] += (uint16_t)tu_randint(&s, 0, 3);
    uint8_t *pr[2];
    for (int approx = 0; approx < 2; approx++) {
        for (int k = 0; k < 2; k++) {
            axmul_net_options o;
            axmul_net_options_init(&o);
            o.threads = k ? 3 : 1;
            o.table = approx ? t : NULL;
            sc[k] = malloc(sizeof(float) * N * 2);
            pr[k] = malloc(N);
            ck_assert_int_eq(axmul_model_predict(m, &o, x, N, pr[k], sc[k]), AXMUL_OK);
        }
        ck_assert_msg(memcmp(sc[0], sc[1], sizeof(float) * N * 2) == 0,
                      "%s network: scores differ between 1 and 3 threads",
                      approx ? "approximate" : "float");
        ck_assert_int_eq(memcmp(pr[0], pr[1], N), 0);
        for (int k = 0; k < 2; k++) {
            free(sc[k]);
            free(pr[k]);
        }
    }
    axmul_table_free(t);
    free(x);
    axmul_model_free(m);
    tu_rmdir(dir);
}
END_TEST

/* Per-layer tables (axmul_net_options.layer_tables) on a randomly initialised LeNet-5
 * (conv1, conv2, fc1, fc2, fc3): pinning a layer set to a table is the same network as selecting
 * that set with approx; a pin overrides table and approx; with one layer pinned to another
 * table, the layers before it compute what they compute without the pin and the pinned one
 * differs; each layer quantizes with its own table's signedness (operand histograms); a table
 * for a layer without weights is refused by name. */
typedef struct {
    float *out[16]; /* per layer: the layer's output for the batch */
} layer_rec;
static void rec_layer(void *ctx, int layer, const float *out, size_t count)
{
    layer_rec *r = ctx;
    (void)count;
    if (!r->out[layer])
        r->out[layer] = malloc(count * sizeof(float));
    memcpy(r->out[layer], out, count * sizeof(float));
}

enum { LT_N = 40, LT_CLASSES = 10 };
/* Scores of the LT_N images with the given options; layer outputs into rec if not NULL. */
static void lt_scores(const axmul_model *m, axmul_net_options o, const float *x, float *scores,
                      layer_rec *rec)
{
    uint8_t pred[LT_N];
    if (rec) {
        o.layer_output = rec_layer;
        o.ctx = rec;
    }
    ck_assert_msg(axmul_model_predict(m, &o, x, LT_N, pred, scores) == AXMUL_OK, "%s",
                  axmul_error_detail());
}

START_TEST(test_layer_tables)
{
    uint64_t seed = tu_seed() ^ 0x1a7e;
    axmul_model *m;
    ck_assert_int_eq(axmul_model_create_lenet5(seed, &m), AXMUL_OK);
    const int nl = axmul_model_num_layers(m);
    ck_assert_int_le(nl, 16);
    int conv[2], dense[3], nc = 0, nd = 0, relu = -1;
    for (int i = 0; i < nl; i++) {
        const char *ty = axmul_model_layer_type(m, i);
        if (strcmp(ty, "conv2d") == 0)
            conv[nc++] = i;
        else if (strcmp(ty, "dense") == 0)
            dense[nd++] = i;
        else if (strcmp(ty, "relu") == 0 && relu < 0)
            relu = i;
    }
    ck_assert_int_eq(nc, 2);
    ck_assert_int_eq(nd, 3);
    float *x = malloc(sizeof(float) * LT_N * 28 * 28);
    for (int i = 0; i < LT_N * 28 * 28; i++)
        x[i] = tu_randf(&seed, 0.0f, 1.0f);
    ck_assert_int_eq(axmul_model_calibrate(m, x, LT_N, 16, 0), AXMUL_OK);
    /* T and U: two different approximate unsigned tables; S: the exact signed table */
    axmul_table *T, *U, *S;
    ck_assert_int_eq(axmul_table_create_exact(0, &T), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create_exact(0, &U), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create_exact(1, &S), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        axmul_table_data_mut(T)[i] += (uint16_t)tu_randint(&seed, 0, 40);
        axmul_table_data_mut(U)[i] &= 0xffc0; /* the 6 low bits dropped */
    }
    const size_t ns = LT_N * LT_CLASSES;
    float *a = malloc(sizeof(float) * ns), *b = malloc(sizeof(float) * ns);
    const axmul_table *lt[16] = {0};
    axmul_net_options o, base;
    axmul_net_options_init(&base);
    base.threads = 2;

    /* the conv layers, the dense layers, all of them: pins == approx */
    for (int set = 0; set < 3; set++) {
        o = base;
        o.table = T;
        o.approx = set == 0 ? AXMUL_APPROX_CONV : set == 1 ? AXMUL_APPROX_DENSE : AXMUL_APPROX_ALL;
        lt_scores(m, o, x, a, NULL);
        memset(lt, 0, sizeof lt);
        for (int k = 0; k < nc && set != 1; k++)
            lt[conv[k]] = T;
        for (int k = 0; k < nd && set != 0; k++)
            lt[dense[k]] = T;
        o = base;
        o.table = NULL;
        o.layer_tables = lt;
        lt_scores(m, o, x, b, NULL);
        ck_assert_msg(memcmp(a, b, sizeof(float) * ns) == 0, "set %d: pins differ from approx",
                      set);
        /* a pin wins over table and approx: U everywhere else, T pinned on the same set */
        o.table = U;
        o.approx = set == 0 ? AXMUL_APPROX_CONV : set == 1 ? AXMUL_APPROX_DENSE : AXMUL_APPROX_ALL;
        lt_scores(m, o, x, b, NULL);
        ck_assert_msg(memcmp(a, b, sizeof(float) * ns) == 0, "set %d: a pin lost to table", set);
    }
    /* an all-NULL array is no pin */
    memset(lt, 0, sizeof lt);
    o = base;
    o.table = T;
    lt_scores(m, o, x, a, NULL);
    o.layer_tables = lt;
    lt_scores(m, o, x, b, NULL);
    ck_assert_int_eq(memcmp(a, b, sizeof(float) * ns), 0);

    /* conv2 pinned to U, conv1 on T: conv1 computes what it computes with T alone, conv2 not */
    layer_rec ra = {{0}}, rb = {{0}};
    o = base;
    o.table = T;
    lt_scores(m, o, x, a, &ra);
    lt[conv[1]] = U;
    o.layer_tables = lt;
    lt_scores(m, o, x, b, &rb);
    const size_t n1 = LT_N * axmul_model_layer_output_size(m, conv[0]);
    const size_t n2 = LT_N * axmul_model_layer_output_size(m, conv[1]);
    ck_assert_int_eq(memcmp(ra.out[conv[0]], rb.out[conv[0]], n1 * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(ra.out[conv[1]], rb.out[conv[1]], n2 * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(a, b, sizeof(float) * ns), 0);
    for (int i = 0; i < 16; i++) {
        free(ra.out[i]);
        free(rb.out[i]);
    }

    /* signedness per layer: conv1 signed (pinned), conv2 unsigned (table), each layer's
     * operand histograms as in the network with that table everywhere */
    uint64_t *h[3][2];
    for (int r = 0; r < 3; r++) {
        h[r][0] = calloc((size_t)nl * 256, sizeof(uint64_t));
        h[r][1] = calloc((size_t)nl * 256, sizeof(uint64_t));
        memset(lt, 0, sizeof lt);
        o = base;
        o.table = r == 0 ? S : T; /* r = 0: S everywhere; 1: T everywhere; 2: S on conv1 */
        if (r == 2)
            lt[conv[0]] = S;
        o.layer_tables = lt;
        o.act_hist = h[r][0];
        o.wt_hist = h[r][1];
        lt_scores(m, o, x, a, NULL);
    }
    for (int w = 0; w < 2; w++) { /* (conv2's input differs: only its weights compare) */
        ck_assert_int_eq(memcmp(h[2][w] + 256 * conv[0], h[0][w] + 256 * conv[0], 256 * 8), 0);
        ck_assert_int_ne(memcmp(h[0][w] + 256 * conv[0], h[1][w] + 256 * conv[0], 256 * 8), 0);
    }
    ck_assert_int_eq(memcmp(h[2][1] + 256 * conv[1], h[1][1] + 256 * conv[1], 256 * 8), 0);
    ck_assert_int_ne(memcmp(h[0][1] + 256 * conv[1], h[1][1] + 256 * conv[1], 256 * 8), 0);
    for (int r = 0; r < 3; r++) {
        free(h[r][0]);
        free(h[r][1]);
    }

    /* a table for a layer without weights */
    memset(lt, 0, sizeof lt);
    lt[relu] = T;
    o = base;
    o.layer_tables = lt;
    uint8_t pred[LT_N];
    ck_assert_int_eq(axmul_model_predict(m, &o, x, LT_N, pred, a), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(axmul_error_detail(), axmul_model_layer_name(m, relu)) &&
                      strstr(axmul_error_detail(), "of type relu"),
                  "%s", axmul_error_detail());

    axmul_table_free(T);
    axmul_table_free(U);
    axmul_table_free(S);
    free(a);
    free(b);
    free(x);
    axmul_model_free(m);
}
END_TEST

START_TEST(test_model_bad_inputs)
{
    const char *head = "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, 1], "
                       "\"layers\": [";
    char j[2048];
    snprintf(j, sizeof j, "%s{\"type\": \"lstm\"}]}", head);
    expect_model_error(j, "unknown layer type 'lstm'");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 2, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "c_w.npy has 8 elements, the layer needs (2, 2, 1, 3) = 12");
    snprintf(j, sizeof j, "%s{\"type\": \"dense\", \"units\": 2, \"weights\": \"d_w.npy\"}]}",
             head);
    expect_model_error(j, "flatten");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"../c_w.npy\"}]}",
             head);
    expect_model_error(j, "plain name");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"missing.npy\"}]}",
             head);
    expect_model_error(j, "missing.npy");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 9, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "larger than the padded input");
    /* AXMUL_MODEL_MAX_LAYERS + 1 layers */
    {
        static char big[32 * (AXMUL_MODEL_MAX_LAYERS + 2)];
        size_t len = (size_t)snprintf(big, sizeof big, "%s", head);
        for (int i = 0; i <= AXMUL_MODEL_MAX_LAYERS; i++)
            len += (size_t)snprintf(big + len, sizeof big - len, "%s{\"type\": \"relu\"}",
                                    i ? ", " : "");
        snprintf(big + len, sizeof big - len, "]}");
        expect_model_error(big, "must be a non-empty list of at most 1000 layers");
    }
    /* layer names name the tensor files a saved model writes: no two alike */
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"name\": \"c\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"c_w.npy\"}, {\"type\": \"flatten\"}, {\"type\": \"dense\", "
             "\"name\": \"c\", \"units\": 2, \"weights\": \"d_w.npy\"}]}",
             head);
    expect_model_error(j, "layers 0 and 2 are both named 'c'");
    snprintf(j, sizeof j, "%s{\"type\": \"softmax\"}, {\"type\": \"relu\"}]}", head);
    expect_model_error(j, "softmax must be the last layer");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"c_w.npy\", \"input_range\": [1, 0]}]}",
             head);
    expect_model_error(j, "inverted");
    /* 2^32 + 2 would wrap to a valid 2 if the scalar were cast before its range check */
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 4294967298, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "layer 0: 'kernel_size' holds a non-integer or out-of-range value");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, \"strides\": -1, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "'strides' holds a non-integer or out-of-range value");
    expect_model_error("{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, "
                       "-1], \"layers\": []}",
                       "model.json: 'input_shape' holds");
    expect_model_error("{\"format\": \"axmul-model\", \"version\": 1, ", "model.json:1");
    expect_model_error("{\"format\": \"keras\"}", "not an axmul model");
    expect_model_error("{\"format\": \"axmul-model\", \"version\": 7}", "version");
    axmul_model *m;
    ck_assert_int_eq(axmul_model_load("/nonexistent/model", &m), AXMUL_ERR_NOT_FOUND);
}
END_TEST

/* Two runs with one seed give identical weights; training lowers the loss on a separable set. */
typedef struct {
    double first, last;
} loss_rec;

static void rec_progress(void *ctx, int epoch, int done, int total, double loss, double acc)
{
    loss_rec *r = ctx;
    (void)acc;
    if (epoch == 0 && done == 1)
        r->first = loss;
    if (done == total)
        r->last = loss;
}

START_TEST(test_training_deterministic)
{
    const int n = 256;
    float *x = malloc(sizeof(float) * 784 * n);
    uint8_t *lab = malloc((size_t)n);
    uint64_t s = 99;
    for (int i = 0; i < n; i++) {
        lab[i] = (uint8_t)(i % 10);
        for (int k = 0; k < 784; k++) /* class = which horizontal band is bright */
            x[i * 784 + k] = (k / 28) / 3 == lab[i] ? 0.8f + 0.2f * tu_randf(&s, 0, 1)
                                                    : 0.2f * tu_randf(&s, 0, 1);
    }
    axmul_model *a, *b;
    ck_assert_int_eq(axmul_model_create_lenet5(7, &a), AXMUL_OK);
    ck_assert_int_eq(axmul_model_create_lenet5(7, &b), AXMUL_OK);
    axmul_train_options o;
    axmul_train_options_init(&o);
    o.epochs = 3;
    o.batch = 32;
    o.seed = 5;
    loss_rec ra = {0, 0}, rb = {0, 0};
    o.progress = rec_progress;
    o.ctx = &ra;
    ck_assert_int_eq(axmul_model_train(a, x, lab, n, &o), AXMUL_OK);
    o.ctx = &rb;
    ck_assert_int_eq(axmul_model_train(b, x, lab, n, &o), AXMUL_OK);
    ck_assert_msg(ra.last < 0.5 * ra.first, "loss %g -> %g", ra.first, ra.last);
    ck_assert(ra.last == rb.last);
    char *dir = tu_mkdtemp(), da[4200], db[4200], pa[4300], pb[4300];
    snprintf(da, sizeof da, "%s/a", dir);
    snprintf(db, sizeof db, "%s/b", dir);
    ck_assert_int_eq(axmul_model_save(a, da), AXMUL_OK);
    ck_assert_int_eq(axmul_model_save(b, db), AXMUL_OK);
    const char *files[] = {"conv1_weights.npy", "conv2_weights.npy", "fc1_weights.npy",
                           "fc3_bias.npy", "model.json"};
    for (int k = 0; k < 5; k++) {
        snprintf(pa, sizeof pa, "%s/%s", da, files[k]);
        snprintf(pb, sizeof pb, "%s/%s", db, files[k]);
        FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
        ck_assert(fa && fb);
        int ca, cb;
        do {
            ca = fgetc(fa);
            cb = fgetc(fb);
            ck_assert_msg(ca == cb, "%s differs between two runs with one seed", files[k]);
        } while (ca != EOF);
        fclose(fa);
        fclose(fb);
    }
    /* the trained model classifies its training set */
    uint8_t *pred = malloc((size_t)n);
    axmul_net_options no;
    axmul_net_options_init(&no);
    ck_assert_int_eq(axmul_model_predict(a, &no, x, n, pred, NULL), AXMUL_OK);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += pred[i] == lab[i];
    ck_assert_msg(ok > n * 9 / 10, "%d/%d correct", ok, n);
    free(pred);
    tu_rmdir(dir);
    axmul_model_free(a);
    axmul_model_free(b);
    free(x);
    free(lab);
}
END_TEST

/* Approximation-aware training: the forward pass of training is the LUT network of inference
 * (the first batch's loss, the whole set in one batch, is the cross-entropy of
 * axmul_model_predict's softmax outputs with the same table and per-batch ranges, and not the
 * float network's), runs are reproducible, and a table for a layer without weights is refused. */
static void banded_set(int n, float *x, uint8_t *lab, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        lab[i] = (uint8_t)(i % 10);
        for (int k = 0; k < 784; k++) /* class = which horizontal band is bright */
            x[i * 784 + k] = (k / 28) / 3 == lab[i] ? 0.8f + 0.2f * tu_randf(&seed, 0, 1)
                                                    : 0.2f * tu_randf(&seed, 0, 1);
    }
}

static double cross_entropy(const axmul_model *m, const axmul_net_options *no, const float *x,
                            const uint8_t *lab, int n)
{
    float *p = malloc(sizeof(float) * 10 * (size_t)n);
    uint8_t *pred = malloc((size_t)n);
    ck_assert_int_eq(axmul_model_predict(m, no, x, n, pred, p), AXMUL_OK);
    double ce = 0;
    for (int i = 0; i < n; i++)
        ce -= log((double)p[i * 10 + lab[i]]);
    free(p);
    free(pred);
    return ce / n;
}

START_TEST(test_training_approximate)
{
    const int n = 200;
    float *x = malloc(sizeof(float) * 784 * n);
    uint8_t *lab = malloc((size_t)n);
    banded_set(n, x, lab, tu_seed());
    axmul_table *t; /* the 6 low bits of every product dropped: far from the float network */
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(t)[i] &= 0xffc0;
    double first[2], last[2];
    for (int run = 0; run < 2; run++) {
        axmul_model *m;
        ck_assert_int_eq(axmul_model_create_lenet5(3, &m), AXMUL_OK);
        axmul_train_options fo; /* a trained float model first: confident outputs */
        axmul_train_options_init(&fo);
        fo.epochs = 2;
        fo.batch = 32;
        ck_assert_int_eq(axmul_model_train(m, x, lab, n, &fo), AXMUL_OK);
        axmul_net_options no;
        axmul_net_options_init(&no);
        no.table = t;
        no.approx = AXMUL_APPROX_ALL;
        no.per_channel = 1;
        no.batch_ranges = 1;
        const double ce_lut = cross_entropy(m, &no, x, lab, n);
        no.table = NULL;
        const double ce_float = cross_entropy(m, &no, x, lab, n);
        axmul_train_options o;
        axmul_train_options_init(&o);
        o.epochs = 2;
        o.batch = n;
        o.table = t;
        o.approx = AXMUL_APPROX_ALL;
        o.per_channel = 1;
        loss_rec r = {0, 0};
        o.progress = rec_progress;
        o.ctx = &r;
        ck_assert_msg(axmul_model_train(m, x, lab, n, &o) == AXMUL_OK, "%s", axmul_error_detail());
        ck_assert_msg(fabs(r.first - ce_lut) < 1e-5 * ce_lut && fabs(ce_lut - ce_float) > 1e-2,
                      "first loss %.7g: LUT network %.7g, float %.7g", r.first, ce_lut, ce_float);
        ck_assert_msg(r.last < r.first, "loss %.7g -> %.7g", r.first, r.last);
        first[run] = r.first;
        last[run] = r.last;
        axmul_model_free(m);
    }
    ck_assert(first[0] == first[1] && last[0] == last[1]);

    axmul_model *m;
    ck_assert_int_eq(axmul_model_create_lenet5(3, &m), AXMUL_OK);
    const axmul_table *lt[16] = {0};
    lt[1] = t; /* relu */
    ck_assert_str_eq(axmul_model_layer_type(m, 1), "relu");
    axmul_train_options o;
    axmul_train_options_init(&o);
    o.epochs = 1;
    o.layer_tables = lt;
    ck_assert_int_eq(axmul_model_train(m, x, lab, n, &o), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(axmul_error_detail(), "of type relu"), "%s", axmul_error_detail());
    axmul_model_free(m);
    axmul_table_free(t);
    free(x);
    free(lab);
}
END_TEST

/* axmul_model_calibrate_network: without tables it is axmul_model_calibrate; with a table in
 * every layer, each layer's range is the min/max of its input in the network that runs with
 * those ranges (recomputed here from the layers' outputs: ReLU, the 2x2 average pool), not the
 * float network's. */
static void minmax_relu(const float *v, size_t n, int pool_w, int pool_c, axmul_range *r)
{
    r->min = INFINITY;
    r->max = -INFINITY;
    const size_t per = pool_w ? (size_t)pool_w * pool_w * pool_c : 1;
    const int ow = pool_w ? pool_w / 2 : 1;
    for (size_t img = 0; img < n / per; img++) /* pool_w: images of pool_w^2 x pool_c */
        for (int y = 0; y < ow; y++)
            for (int x = 0; x < ow; x++)
                for (int c = 0; c < (pool_w ? pool_c : 1); c++) {
                    float e;
                    if (!pool_w) {
                        e = v[img] > 0 ? v[img] : 0.0f;
                    } else {
                        float acc = 0.0f;
                        for (int i = 0; i < 2; i++)
                            for (int j = 0; j < 2; j++) {
                                float u =
                                    v[img * per +
                                      ((size_t)(2 * y + i) * pool_w + 2 * x + j) * pool_c + c];
                                acc += u > 0 ? u : 0.0f;
                            }
                        e = acc / 4.0f;
                    }
                    r->min = e < r->min ? e : r->min;
                    r->max = e > r->max ? e : r->max;
                }
}

START_TEST(test_calibrate_network)
{
    enum { N = 60 };
    uint64_t seed = tu_seed() ^ 0xca1;
    float *x = malloc(sizeof(float) * N * 784);
    uint8_t *lab = malloc(N);
    banded_set(N, x, lab, seed);
    axmul_model *a, *b;
    ck_assert_int_eq(axmul_model_create_lenet5(11, &a), AXMUL_OK);
    ck_assert_int_eq(axmul_model_create_lenet5(11, &b), AXMUL_OK);
    ck_assert_int_eq(axmul_model_calibrate(a, x, N, 25, 0), AXMUL_OK);
    axmul_net_options o;
    axmul_net_options_init(&o);
    ck_assert_int_eq(axmul_model_calibrate_network(b, &o, x, N, 25), AXMUL_OK);
    for (int i = 0; i < a->nl; i++) {
        ck_assert_int_eq(a->L[i].has_range, b->L[i].has_range);
        ck_assert(a->L[i].in_range.min == b->L[i].in_range.min &&
                  a->L[i].in_range.max == b->L[i].in_range.max);
    }
    axmul_table *t; /* every product doubled (saturating): activations far from the float ones */
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        unsigned v = 2u * axmul_table_data_mut(t)[i];
        axmul_table_data_mut(t)[i] = (uint16_t)(v > 0xffff ? 0xffff : v);
    }
    o.table = t;
    o.approx = AXMUL_APPROX_ALL;
    ck_assert_int_eq(axmul_model_calibrate_network(b, &o, x, N, 25), AXMUL_OK);
    layer_rec rec = {{0}};
    o.layer_output = rec_layer;
    o.ctx = &rec;
    uint8_t pred[N];
    ck_assert_int_eq(axmul_model_predict(b, &o, x, N, pred, NULL), AXMUL_OK);
    /* LeNet-5: conv1 (0) relu pool conv2 (3) relu flatten fc1 (6) relu fc2 (8) relu fc3 (10) */
    const int prev[4] = {0, 3, 6, 8}, next[4] = {3, 6, 8, 10};
    int differs = 0;
    for (int k = 0; k < 4; k++) {
        axmul_range r;
        const size_t cnt = N * axmul_model_layer_output_size(b, prev[k]);
        minmax_relu(rec.out[prev[k]], cnt, k == 0 ? 26 : 0, 6, &r);
        const axmul__layer *l = &b->L[next[k]];
        ck_assert_msg(l->has_range && l->in_range.min == r.min && l->in_range.max == r.max,
                      "layer %s: range [%g, %g], its input in the network [%g, %g]", l->name,
                      l->in_range.min, l->in_range.max, r.min, r.max);
        differs += a->L[next[k]].in_range.max != r.max;
    }
    ck_assert_msg(differs == 4, "%d of 4 ranges differ from the float network's", differs);
    ck_assert(a->L[0].in_range.max == b->L[0].in_range.max); /* conv1 reads the image */
    for (int i = 0; i < 16; i++)
        free(rec.out[i]);
    axmul_table_free(t);
    axmul_model_free(a);
    axmul_model_free(b);
    free(x);
    free(lab);
}
END_TEST

/* Back-propagation through every layer kind against central differences of the loss: a
 * MobileNet/ResNet-like graph (strided grouped conv, batch norm, ReLU6, dilated depthwise, a 1x1
 * shortcut from an earlier layer without bias, add, max pool, global average or max pool,
 * dense) and a LeNet-like chain (conv, ReLU, average pool, conv, flatten, dense, ReLU, dense).
 * Each weight and bias entry of each conv/dense layer: |numeric - analytic| <= 2e-3 + 5%. The
 * images are drawn from the test seed, the weights fixed. */
static void grad_model(const char *dir, int which, const char *global)
{
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)which;
    float v[256];
    size_t sh[4];
#define T(name, n0, n1, n2, n3, nd, lo, hi)                                                        \
    do {                                                                                           \
        sh[0] = n0, sh[1] = n1, sh[2] = n2, sh[3] = n3;                                            \
        size_t cnt = 1;                                                                            \
        for (int d_ = 0; d_ < nd; d_++)                                                            \
            cnt *= sh[d_];                                                                         \
        for (size_t k_ = 0; k_ < cnt; k_++)                                                        \
            v[k_] = tu_randf(&s, lo, hi);                                                          \
        save_tensor(dir, name, v, sh, nd);                                                         \
    } while (0)
    char json[4096];
    if (which == 0) {
        T("c1_w.npy", 3, 3, 1, 4, 4, -0.8f, 0.8f);
        T("c1_b.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("g.npy", 4, 0, 0, 0, 1, 3.0f, 6.0f); /* some ReLU6 inputs above 6 */
        T("b.npy", 4, 0, 0, 0, 1, 0.0f, 3.0f);
        T("m.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("v.npy", 4, 0, 0, 0, 1, 0.5f, 2.0f);
        T("dw_w.npy", 3, 3, 1, 4, 4, -0.8f, 0.8f);
        T("dw_b.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("sc_w.npy", 1, 1, 4, 4, 4, -0.8f, 0.8f);
        T("fc_w.npy", 4, 3, 0, 0, 2, -1.0f, 1.0f);
        T("fc_b.npy", 3, 0, 0, 0, 1, -0.2f, 0.2f);
        snprintf(
            json, sizeof json,
            "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [8, 8, 2],\n"
            " \"layers\": [\n"
            "  {\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 4, \"kernel_size\": 3,\n"
            "   \"strides\": 2, \"padding\": \"same\", \"groups\": 2, \"weights\": "
            "\"c1_w.npy\", \"bias\": \"c1_b.npy\"},\n"
            "  {\"type\": \"batchnorm\", \"name\": \"bn\", \"gamma\": \"g.npy\", \"beta\": "
            "\"b.npy\", \"moving_mean\": \"m.npy\", \"moving_variance\": \"v.npy\"},\n"
            "  {\"type\": \"relu6\", \"name\": \"r1\"},\n"
            "  {\"type\": \"depthwise\", \"name\": \"dw\", \"filters\": 4, \"kernel_size\": 3, "
            "\"dilation\": 2, \"padding\": [2, 2, 1, 3], \"weights\": \"dw_w.npy\", "
            "\"bias\": \"dw_b.npy\"},\n"
            "  {\"type\": \"relu\", \"name\": \"r2\"},\n"
            "  {\"type\": \"conv2d\", \"name\": \"sc\", \"input\": \"r1\", \"filters\": 4, "
            "\"kernel_size\": 1, \"weights\": \"sc_w.npy\"},\n"
            "  {\"type\": \"add\", \"inputs\": [\"r2\", \"sc\"]},\n"
            "  {\"type\": \"maxpool\", \"pool_size\": 2},\n"
            "  {\"type\": \"%s\"},\n"
            "  {\"type\": \"dense\", \"name\": \"fc\", \"units\": 3, \"weights\": "
            "\"fc_w.npy\", \"bias\": \"fc_b.npy\"},\n"
            "  {\"type\": \"softmax\"}]}\n",
            global);
    } else {
        T("c1_w.npy", 3, 3, 2, 3, 4, -0.8f, 0.8f);
        T("c1_b.npy", 3, 0, 0, 0, 1, -0.2f, 0.2f);
        T("c2_w.npy", 2, 2, 3, 4, 4, -0.8f, 0.8f);
        T("c2_b.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("f1_w.npy", 16, 5, 0, 0, 2, -0.6f, 0.6f);
        T("f1_b.npy", 5, 0, 0, 0, 1, -0.2f, 0.2f);
        T("f2_w.npy", 5, 3, 0, 0, 2, -1.0f, 1.0f);
        T("f2_b.npy", 3, 0, 0, 0, 1, -0.2f, 0.2f);
        snprintf(json, sizeof json,
                 "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [8, 8, 2],\n"
                 " \"layers\": [\n"
                 "  {\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 3, \"kernel_size\": 3,\n"
                 "   \"weights\": \"c1_w.npy\", \"bias\": \"c1_b.npy\"},\n"
                 "  {\"type\": \"relu\"}, {\"type\": \"avgpool\", \"pool_size\": 2},\n"
                 "  {\"type\": \"conv2d\", \"name\": \"c2\", \"filters\": 4, \"kernel_size\": 2,\n"
                 "   \"weights\": \"c2_w.npy\", \"bias\": \"c2_b.npy\"},\n"
                 "  {\"type\": \"flatten\"},\n"
                 "  {\"type\": \"dense\", \"name\": \"f1\", \"units\": 5, \"weights\": "
                 "\"f1_w.npy\", \"bias\": \"f1_b.npy\"},\n"
                 "  {\"type\": \"relu\"},\n"
                 "  {\"type\": \"dense\", \"name\": \"f2\", \"units\": 3, \"weights\": "
                 "\"f2_w.npy\", \"bias\": \"f2_b.npy\"},\n"
                 "  {\"type\": \"softmax\"}]}\n");
    }
#undef T
    write_file(dir, "model.json", json);
}

START_TEST(test_gradients_every_layer)
{
    enum { N = 6 };
    const char *variants[3][2] = {{"0", "globalavgpool"}, {"0", "globalmaxpool"}, {"1", ""}};
    uint64_t s = tu_seed() ^ 0x96ad;
    float x[N * 8 * 8 * 2];
    uint8_t lab[N];
    for (int i = 0; i < N * 128; i++)
        x[i] = tu_randf(&s, 0.0f, 1.0f);
    for (int i = 0; i < N; i++)
        lab[i] = (uint8_t)(i % 3);
    for (int v = 0; v < 3; v++) {
        char *dir = tu_mkdtemp();
        grad_model(dir, variants[v][0][0] - '0', variants[v][1]);
        axmul_model *m;
        ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
        axmul_train_options o;
        axmul_train_options_init(&o);
        float *wg[16] = {0}, *bg[16] = {0};
        for (int i = 0; i < m->nl; i++)
            if (m->L[i].kind == AXMUL__L_CONV || m->L[i].kind == AXMUL__L_DENSE) {
                wg[i] = malloc(sizeof(float) * m->L[i].nw);
                bg[i] = malloc(sizeof(float) * (size_t)m->L[i].units);
            }
        double loss, lp, lm;
        ck_assert_msg(axmul__model_gradients(m, &o, x, lab, N, &loss, wg, bg) == AXMUL_OK, "%s",
                      axmul_error_detail());
        int checked = 0;
        for (int i = 0; i < m->nl; i++) {
            if (!wg[i])
                continue;
            axmul__layer *l = &m->L[i];
            ck_assert_ptr_nonnull(l->b); /* "sc" had none: training gives it zeros */
            for (size_t k = 0; k < l->nw + (size_t)l->units; k++) {
                float *p = k < l->nw ? &l->w[k] : &l->b[k - l->nw];
                const float ana = k < l->nw ? wg[i][k] : bg[i][k - l->nw], keep = *p;
                float *tw[16] = {0}, *tb[16] = {0}; /* gradients of the shifted runs: unused */
                for (int j = 0; j < m->nl; j++)
                    if (wg[j]) {
                        tw[j] = malloc(sizeof(float) * m->L[j].nw);
                        tb[j] = malloc(sizeof(float) * (size_t)m->L[j].units);
                    }
                /* A ReLU, ReLU6 or max pool kink within the step spoils the central difference:
                 * a smaller step, or the one-sided difference on the kink-free side, then
                 * agrees, whereas a wrong gradient disagrees at every step on both sides. The
                 * loss is computed in float, so steps below 6e-5 would be noise. */
                double num = 0;
                int agrees = 0;
                for (float h = 1e-3f; h > 5e-5f && !agrees; h /= 4) {
                    *p = keep + h;
                    ck_assert_int_eq(axmul__model_gradients(m, &o, x, lab, N, &lp, tw, tb),
                                     AXMUL_OK);
                    *p = keep - h;
                    ck_assert_int_eq(axmul__model_gradients(m, &o, x, lab, N, &lm, tw, tb),
                                     AXMUL_OK);
                    *p = keep;
                    const double tol = 2e-3 + 0.05 * fabs(ana);
                    const double fwd = (lp - loss) / h, bwd = (loss - lm) / h;
                    num = (lp - lm) / (2.0 * h);
                    agrees =
                        fabs(num - ana) <= tol || fabs(fwd - ana) <= tol || fabs(bwd - ana) <= tol;
                }
                for (int j = 0; j < m->nl; j++) {
                    free(tw[j]);
                    free(tb[j]);
                }
                ck_assert_msg(agrees,
                              "model %d (%s), layer %s, %s %zu: numeric %.6g, analytic %.6g", v,
                              variants[v][1], l->name, k < l->nw ? "weight" : "bias",
                              k < l->nw ? k : k - l->nw, num, ana);
                checked++;
            }
        }
        ck_assert_int_gt(checked, 100);
        for (int i = 0; i < 16; i++) {
            free(wg[i]);
            free(bg[i]);
        }
        axmul_model_free(m);
        tu_rmdir(dir);
    }
}
END_TEST

/* A label beyond the model's classes is refused by name, not read past the output row. */
START_TEST(test_training_bad_label)
{
    const int n = 8;
    float *x = calloc((size_t)784 * n, sizeof *x);
    uint8_t lab[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    axmul_model *m;
    ck_assert_int_eq(axmul_model_create_lenet5(1, &m), AXMUL_OK);
    axmul_train_options o;
    axmul_train_options_init(&o);
    o.epochs = 1;
    lab[5] = 10;
    ck_assert_int_eq(axmul_model_train(m, x, lab, n, &o), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(axmul_error_detail(),
                     "label 10 of image 5 is not a class of the model (0..9)");
    lab[5] = 9;
    ck_assert_int_eq(axmul_model_train(m, x, lab, n, &o), AXMUL_OK);
    axmul_model_free(m);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_idx_gzip_and_plain);
    tcase_add_test(tc, test_idx_bad_inputs);
    tcase_add_test(tc, test_npy_dataset);
    tcase_add_test(tc, test_model_load_save_predict);
    tcase_add_test(tc, test_pooling_matches_direct);
    tcase_add_test(tc, test_batchnorm_relu6_global_pools);
    tcase_add_test(tc, test_unnamed_layers_saved_apart);
    tcase_add_test(tc, test_residual_graphs);
    tcase_add_test(tc, test_threads_do_not_change_results);
    tcase_add_test(tc, test_layer_tables);
    tcase_add_test(tc, test_model_bad_inputs);
    tcase_add_test(tc, test_training_deterministic);
    tcase_add_test(tc, test_training_bad_label);
    tcase_add_test(tc, test_training_approximate);
    tcase_add_test(tc, test_calibrate_network);
    tcase_add_test(tc, test_gradients_every_layer);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
