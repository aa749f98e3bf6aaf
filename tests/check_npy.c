/* Unit tests: .npy reader and writer. */
#include <math.h>

#include "axmul.h"
#include "testutil.h"

/* Builds a .npy file from a version, a header dict and raw data bytes. */
static size_t make_npy(uint8_t *out, int major, const char *dict, const void *data, size_t len)
{
    size_t dl = strlen(dict), hl = dl + 1, off = major == 1 ? 10 : 12;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    if (major == 1) {
        out[8] = (uint8_t)hl;
        out[9] = (uint8_t)(hl >> 8);
    } else {
        out[8] = (uint8_t)hl;
        out[9] = (uint8_t)(hl >> 8);
        out[10] = out[11] = 0;
    }
    memcpy(out + off, dict, dl);
    out[off + dl] = '\n';
    memcpy(out + off + hl, data, len);
    return off + hl + len;
}

START_TEST(test_roundtrip)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i * 0.5f - 3;
    size_t shapes[4][4] = {{24}, {4, 6}, {2, 3, 4}, {1, 2, 3, 4}};
    for (int nd = 1; nd <= 4; nd++) {
        ck_assert_int_eq(axmul_npy_save_f32(path, v, shapes[nd - 1], nd), AXMUL_OK);
        /* NEP 1: the data starts at a multiple of 64 */
        struct stat st;
        stat(path, &st);
        ck_assert_int_eq((int)((st.st_size - 96) % 64), 0);
        axmul_npy *a;
        ck_assert_int_eq(axmul_npy_load(path, &a), AXMUL_OK);
        ck_assert_int_eq(axmul_npy_ndim(a), nd);
        for (int i = 0; i < nd; i++)
            ck_assert_uint_eq(axmul_npy_shape(a)[i], shapes[nd - 1][i]);
        const float *d;
        ck_assert_int_eq(axmul_npy_f32(a, &d), AXMUL_OK);
        ck_assert_int_eq(memcmp(d, v, sizeof v), 0);
        axmul_npy_free(a);
    }
    /* 0-d (one element) and empty arrays; NULL data only where there is nothing to read */
    ck_assert_int_eq(axmul_npy_save_f32(path, v + 3, NULL, 0), AXMUL_OK);
    axmul_npy *a;
    ck_assert_int_eq(axmul_npy_load(path, &a), AXMUL_OK);
    ck_assert_int_eq(axmul_npy_ndim(a), 0);
    ck_assert_uint_eq(axmul_npy_count(a), 1);
    ck_assert(((const float *)axmul_npy_data(a))[0] == v[3]);
    axmul_npy_free(a);
    size_t zero[2] = {3, 0};
    ck_assert_int_eq(axmul_npy_save_f32(path, NULL, zero, 2), AXMUL_OK);
    ck_assert_int_eq(axmul_npy_load(path, &a), AXMUL_OK);
    ck_assert_uint_eq(axmul_npy_count(a), 0);
    axmul_npy_free(a);
    ck_assert_int_eq(axmul_npy_save_f32(path, NULL, NULL, 0), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(axmul_npy_save_f32(path, v, NULL, 2), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(axmul_npy_save_f32(path, NULL, shapes[1], 2), AXMUL_ERR_INVALID_ARGUMENT);
    axmul_npy_free(NULL);
    tu_rmdir(dir);
}
END_TEST

START_TEST(test_versions_and_dtypes)
{
    uint8_t buf[512];
    int16_t i16[3] = {-2, 0, 300};
    size_t n = make_npy(buf, 2, "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", i16,
                        sizeof i16);
    axmul_npy *a;
    ck_assert_int_eq(axmul_npy_parse(buf, n, "v2.npy", &a), AXMUL_OK);
    double d[3];
    ck_assert_int_eq(axmul_npy_to_double(a, d, 3), AXMUL_OK);
    ck_assert(d[0] == -2 && d[1] == 0 && d[2] == 300);
    const float *f;
    ck_assert_int_eq(axmul_npy_f32(a, &f), AXMUL_ERR_FORMAT);
    ck_assert(strstr(axmul_error_detail(), "v2.npy") && strstr(axmul_error_detail(), "float32"));
    axmul_npy_free(a);
    double f8[2] = {1.5, -2.5};
    n = make_npy(buf, 3, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2,)}", f8,
                 sizeof f8);
    ck_assert_int_eq(axmul_npy_parse(buf, n, "v3.npy", &a), AXMUL_OK);
    ck_assert_int_eq(axmul_npy_dtype(a), AXMUL_DTYPE_F64);
    ck_assert_int_eq(axmul_npy_to_double(a, d, 2), AXMUL_OK);
    ck_assert(d[0] == 1.5 && d[1] == -2.5);
    ck_assert_int_eq(axmul_npy_to_double(a, d, 3), AXMUL_ERR_SHAPE);
    axmul_npy_free(a);
    uint8_t u8[4] = {1, 2, 3, 255};
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", u8, 4);
    ck_assert_int_eq(axmul_npy_parse(buf, n, "u8.npy", &a), AXMUL_OK);
    double d4[4];
    ck_assert_int_eq(axmul_npy_to_double(a, d4, 4), AXMUL_OK);
    ck_assert(d4[0] == 1 && d4[3] == 255);
    ck_assert_int_eq(axmul_npy_dtype(a), AXMUL_DTYPE_U8);
    axmul_npy_free(a);
    /* Fortran order is valid .npy (np.save of a.T, np.asfortranarray): read into C order.
     * (2, 3, 2) column-major: the element (i, j, k) sits at i + 2 * (j + 3 * k) in the file. */
    {
        float fo[12], want[12];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 2; k++) {
                    const float v3 = (float)(100 * i + 10 * j + k);
                    fo[i + 2 * (j + 3 * k)] = v3;
                    want[(i * 3 + j) * 2 + k] = v3;
                }
        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 2), }", fo,
                     sizeof fo);
        ck_assert_int_eq(axmul_npy_parse(buf, n, "fortran.npy", &a), AXMUL_OK);
        const float *g;
        ck_assert_int_eq(axmul_npy_f32(a, &g), AXMUL_OK);
        ck_assert_uint_eq(axmul_npy_shape(a)[1], 3);
        for (int i = 0; i < 12; i++)
            ck_assert_msg(g[i] == want[i], "element %d: %g, expected %g", i, g[i], want[i]);
        axmul_npy_free(a);
        /* one dimension: both orders are the same bytes */
        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", fo, 16);
        ck_assert_int_eq(axmul_npy_parse(buf, n, "f1.npy", &a), AXMUL_OK);
        ck_assert_int_eq(axmul_npy_f32(a, &g), AXMUL_OK);
        ck_assert(g[3] == fo[3]);
        axmul_npy_free(a);
    }
    /* a 0-d array holds one element */
    float one = 7;
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", &one, 4);
    ck_assert_int_eq(axmul_npy_parse(buf, n, "scalar.npy", &a), AXMUL_OK);
    ck_assert_uint_eq(axmul_npy_count(a), 1);
    axmul_npy_free(a);
}
END_TEST

static void expect_bad(const uint8_t *buf, size_t n, axmul_status want, const char *needle)
{
    axmul_npy *a = (axmul_npy *)0x1;
    axmul_status s = axmul_npy_parse(buf, n, "bad.npy", &a);
    ck_assert_msg(s == want, "status %s, wanted %s (%s)", axmul_strerror(s), axmul_strerror(want),
                  axmul_error_detail());
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(axmul_error_detail(), "bad.npy") != NULL, "names the file: %s",
                  axmul_error_detail());
    ck_assert_msg(strstr(axmul_error_detail(), needle) != NULL, "'%s' in '%s'", needle,
                  axmul_error_detail());
}

START_TEST(test_bad_inputs)
{
    uint8_t buf[1024];
    float v[4] = {0};
    size_t n;
    expect_bad((const uint8_t *)"hello world", 11, AXMUL_ERR_FORMAT, "bad magic");
    n = make_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", v, 16);
    expect_bad(buf, n, AXMUL_ERR_UNSUPPORTED, "big-endian");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", v, 16);
    expect_bad(buf, n, AXMUL_ERR_SIZE, "truncated");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", v, 16);
    expect_bad(buf, n, AXMUL_ERR_SIZE, "trailing");
    /* a huge declared shape is refused before anything is allocated */
    n = make_npy(buf, 1,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 1000), }", v,
                 16);
    expect_bad(buf, n, AXMUL_ERR_OVERFLOW, "limit");
    n = make_npy(buf, 1,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': "
                 "(99999999999999999999999999,), }",
                 v, 16);
    expect_bad(buf, n, AXMUL_ERR_OVERFLOW, "too large");
    n = make_npy(buf, 1, "{'descr': '<f4', 'shape': (4,), }", v, 16);
    expect_bad(buf, n, AXMUL_ERR_FORMAT, "fortran_order");
    n = make_npy(buf, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", v, 16);
    expect_bad(buf, n, AXMUL_ERR_UNSUPPORTED, "dtype");
    n = make_npy(buf, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,)}", v, 16);
    expect_bad(buf, n, AXMUL_ERR_UNSUPPORTED, "descr");
    n = make_npy(buf, 1, "['descr']", v, 16);
    expect_bad(buf, n, AXMUL_ERR_FORMAT, "dict");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,", v, 0);
    expect_bad(buf, n, AXMUL_ERR_FORMAT, "shape");
    n = make_npy(buf, 9, "{}", v, 0);
    expect_bad(buf, n, AXMUL_ERR_UNSUPPORTED, "version 9");
    /* header length pointing past the end */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 16);
    buf[8] = 0xff;
    buf[9] = 0x7f;
    expect_bad(buf, 40, AXMUL_ERR_FORMAT, "header");
}
END_TEST

START_TEST(test_missing_file)
{
    axmul_npy *a;
    ck_assert_int_eq(axmul_npy_load("/nonexistent/x.npy", &a), AXMUL_ERR_NOT_FOUND);
    ck_assert(strstr(axmul_error_detail(), "/nonexistent/x.npy") != NULL);
    char *dir = tu_mkdtemp();
    ck_assert_int_eq(axmul_npy_load(dir, &a), AXMUL_ERR_IS_DIRECTORY);
    char path[4200];
    snprintf(path, sizeof path, "%s/e.npy", dir);
    tu_write(path, "", 0);
    ck_assert_int_eq(axmul_npy_load(path, &a), AXMUL_ERR_FORMAT);
    ck_assert(strstr(axmul_error_detail(), "e.npy") != NULL);
    tu_rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_versions_and_dtypes);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
