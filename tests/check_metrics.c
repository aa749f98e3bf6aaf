/* Unit tests: error metrics on hand-built tables with known answers, operand distributions,
 * and the values published in the EvoApprox C model headers (fixtures, when present). */
#include <math.h>

#include "axmul.h"
#include "testutil.h"

static axmul_table *exact(int sgn)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(sgn, &t), AXMUL_OK);
    return t;
}

static axmul_metrics metrics(const axmul_table *t)
{
    axmul_metrics m;
    ck_assert_int_eq(axmul_metrics_compute(t, NULL, NULL, &m), AXMUL_OK);
    return m;
}

START_TEST(test_exact)
{
    for (int sgn = 0; sgn < 2; sgn++) {
        axmul_table *t = exact(sgn);
        axmul_metrics m = metrics(t);
        ck_assert_int_eq(m.is_signed, sgn);
        ck_assert(m.mae == 0 && m.wce == 0 && m.ep_percent == 0 && m.mse == 0);
        ck_assert(m.mre_percent == 0 && m.wcre_percent == 0 && m.mean_error == 0);
        ck_assert(m.error_std == 0 && m.min_error == 0 && m.max_error == 0);
        ck_assert_int_eq(m.commutative, 1);
        ck_assert_int_eq(m.zero_preserving, 1);
        ck_assert_int_eq(m.monotone_violations, 0);
        axmul_table_free(t);
    }
}
END_TEST

START_TEST(test_constant_zero)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create(0, &t), AXMUL_OK);
    axmul_metrics m = metrics(t);
    /* mean of a*b over 0..255 squared = 127.5^2 */
    ck_assert_double_eq_tol(m.mae, 16256.25, 1e-9);
    ck_assert_double_eq_tol(m.mae_percent, 16256.25 / 65536 * 100, 1e-12);
    ck_assert_double_eq(m.wce, 65025);
    ck_assert_double_eq_tol(m.ep_percent, 65025.0 / 65536 * 100, 1e-12); /* 511 pairs have P=0 */
    ck_assert_double_eq_tol(m.mre_percent, 100, 1e-12);
    ck_assert_double_eq_tol(m.wcre_percent, 100, 1e-12);
    ck_assert_double_eq(m.min_error, -65025);
    ck_assert_double_eq(m.max_error, 0);
    ck_assert_double_eq_tol(m.mean_error, -16256.25, 1e-9);
    /* E[(ab)^2] = (E[a^2])^2 = (255*511/6)^2 */
    double ea2 = 255.0 * 511.0 / 6.0;
    ck_assert_double_eq_tol(m.mse, ea2 * ea2, 1e-6);
    ck_assert_double_eq_tol(m.error_std, sqrt(ea2 * ea2 - 16256.25 * 16256.25), 1e-6);
    ck_assert_int_eq(m.commutative, 1);
    ck_assert_int_eq(m.zero_preserving, 1);
    ck_assert_int_eq(m.monotone_violations, 0);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_plus_one)
{
    axmul_table *t = exact(0);
    uint16_t *v = axmul_table_data_mut(t);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        v[i]++;
    axmul_metrics m = metrics(t);
    ck_assert_double_eq(m.mae, 1);
    ck_assert_double_eq(m.mse, 1);
    ck_assert_double_eq(m.wce, 1);
    ck_assert_double_eq(m.mean_error, 1);
    ck_assert_double_eq(m.error_std, 0);
    ck_assert_double_eq(m.ep_percent, 100);
    ck_assert_double_eq(m.min_error, 1);
    ck_assert_double_eq(m.max_error, 1);
    ck_assert_double_eq_tol(m.wcre_percent, 100, 1e-12); /* at P = 1 */
    double rel = 0;
    for (unsigned a = 1; a < 256; a++)
        for (unsigned b = 1; b < 256; b++)
            rel += 1.0 / (a * b);
    ck_assert_double_eq_tol(m.mre_percent, rel / (255.0 * 255.0) * 100, 1e-9);
    ck_assert_int_eq(m.zero_preserving, 0);
    ck_assert_int_eq(m.commutative, 1);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_single_wrong_entry)
{
    axmul_table *t = exact(0);
    axmul_table_data_mut(t)[3 * 256 + 5] = 16; /* 3*5 = 15 */
    axmul_metrics m = metrics(t);
    ck_assert_double_eq_tol(m.mae, 1.0 / 65536, 1e-15);
    ck_assert_double_eq(m.wce, 1);
    ck_assert_double_eq_tol(m.ep_percent, 100.0 / 65536, 1e-15);
    ck_assert_double_eq_tol(m.wcre_percent, 100.0 / 15, 1e-12);
    ck_assert_double_eq(m.min_error, 0);
    ck_assert_double_eq(m.max_error, 1);
    ck_assert_int_eq(m.commutative, 0);
    ck_assert_int_eq(m.zero_preserving, 1);
    ck_assert_int_eq(m.monotone_violations, 0);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_monotone_and_transposed)
{
    axmul_table *t = exact(0);
    /* 10*20 = 200 set to 0: a 9->10 and b 19->20 each decrease the product; 10->11, 20->21 rise */
    axmul_table_data_mut(t)[10 * 256 + 20] = 0;
    axmul_metrics m = metrics(t);
    ck_assert_int_eq(m.monotone_violations, 2);
    ck_assert_int_eq(m.commutative, 0);
    /* the transposed table has the same error distribution */
    axmul_table *tr;
    ck_assert_int_eq(axmul_table_create(0, &tr), AXMUL_OK);
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            axmul_table_data_mut(tr)[b * 256 + a] = axmul_table_data(t)[a * 256 + b];
    axmul_metrics mt = metrics(tr);
    ck_assert_double_eq(mt.mae, m.mae);
    ck_assert_double_eq(mt.mse, m.mse);
    ck_assert_double_eq(mt.wcre_percent, m.wcre_percent);
    ck_assert_int_eq(mt.monotone_violations, 2);
    /* relative to each other they differ at two entries */
    axmul_metrics rel;
    ck_assert_int_eq(axmul_metrics_compare(tr, t, NULL, NULL, &rel), AXMUL_OK);
    ck_assert_double_eq_tol(rel.ep_percent, 2 * 100.0 / 65536, 1e-12);
    ck_assert_double_eq(rel.wce, 200);
    axmul_table_free(t);
    axmul_table_free(tr);
}
END_TEST

START_TEST(test_signed_tables)
{
    axmul_table *t = exact(1);
    /* (-3) * 5 = -15 stored as -14: e = +1 */
    axmul_table_data_mut(t)[(uint8_t)-3 * 256 + 5] = (uint16_t)(int16_t)-14;
    axmul_metrics m = metrics(t);
    ck_assert_double_eq(m.max_error, 1);
    ck_assert_double_eq(m.min_error, 0);
    ck_assert_double_eq_tol(m.wcre_percent, 100.0 / 15, 1e-12);
    ck_assert_double_eq_tol(m.mae_percent, 1.0 / 65536 / 65536 * 100, 1e-18);
    /* |product| grows away from zero: -14 between -15 (b=5, a=-3) neighbours a=-4 (-20) and
     * a=-2 (-10): increasing a from -4 to -3 goes -20 -> -14, up: fine for b > 0 */
    ck_assert_int_eq(m.monotone_violations, 0);
    axmul_table_data_mut(t)[(uint8_t)-3 * 256 + 5] = (uint16_t)(int16_t)-25; /* below -20 */
    m = metrics(t);
    /* a: -4 -> -3 goes -20 -> -25, down although b = 5 > 0; b: 5 -> 6 (with a = -3 < 0, the
     * exact product falls) goes -25 -> -18, up: two violations */
    ck_assert_int_eq(m.monotone_violations, 2);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_weighted)
{
    axmul_table *t = exact(0);
    axmul_table_data_mut(t)[3 * 256 + 5] = 25; /* e = +10 */
    double da[256] = {0}, db[256] = {0};
    da[3] = 2;
    db[5] = 1;
    axmul_metrics m;
    ck_assert_int_eq(axmul_metrics_compute(t, da, db, &m), AXMUL_OK);
    ck_assert_int_eq(m.weighted, 1);
    ck_assert_double_eq(m.mae, 10);
    ck_assert_double_eq(m.ep_percent, 100);
    ck_assert_double_eq_tol(m.mre_percent, 1000.0 / 15, 1e-9);
    db[6] = 1; /* now half of the weight sits on an exact pair */
    ck_assert_int_eq(axmul_metrics_compute(t, da, db, &m), AXMUL_OK);
    ck_assert_double_eq(m.mae, 5);
    ck_assert_double_eq(m.ep_percent, 50);
    ck_assert_double_eq(m.mean_error, 5);
    ck_assert_double_eq(m.error_std, 5);
    /* uniform weights give the unweighted numbers */
    for (int i = 0; i < 256; i++)
        da[i] = db[i] = 3;
    axmul_metrics u, w;
    ck_assert_int_eq(axmul_metrics_compute(t, NULL, NULL, &u), AXMUL_OK);
    ck_assert_int_eq(axmul_metrics_compute(t, da, db, &w), AXMUL_OK);
    ck_assert_double_eq_tol(u.mae, w.mae, 1e-12);
    ck_assert_double_eq_tol(u.mre_percent, w.mre_percent, 1e-12);
    /* invalid distributions */
    memset(da, 0, sizeof da);
    ck_assert_int_eq(axmul_metrics_compute(t, da, NULL, &w), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(axmul_error_detail(), "all weights are zero") != NULL);
    da[0] = -1;
    ck_assert_int_eq(axmul_metrics_compute(t, da, NULL, &w), AXMUL_ERR_INVALID_ARGUMENT);
    da[0] = NAN;
    ck_assert_int_eq(axmul_metrics_compute(t, da, NULL, &w), AXMUL_ERR_INVALID_ARGUMENT);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_histogram_files)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    double h[256];
    snprintf(path, sizeof path, "%s/h.txt", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# operand histogram\n");
    for (int i = 0; i < 256; i++)
        fprintf(f, "%d\n", i);
    fclose(f);
    ck_assert_int_eq(axmul_histogram_load(path, h), AXMUL_OK);
    ck_assert_double_eq(h[255], 255);
    f = fopen(path, "a");
    fprintf(f, "1\n");
    fclose(f);
    ck_assert_int_eq(axmul_histogram_load(path, h), AXMUL_ERR_SHAPE);
    ck_assert(strstr(axmul_error_detail(), "h.txt") != NULL);
    f = fopen(path, "w");
    fprintf(f, "1\nabc\n");
    fclose(f);
    ck_assert_int_eq(axmul_histogram_load(path, h), AXMUL_ERR_FORMAT);
    ck_assert(strstr(axmul_error_detail(), "h.txt:2") != NULL);
    /* .npy, float32 */
    float v[256];
    for (int i = 0; i < 256; i++)
        v[i] = (float)(i % 7);
    size_t shape[1] = {256};
    snprintf(path, sizeof path, "%s/h.npy", dir);
    ck_assert_int_eq(axmul_npy_save_f32(path, v, shape, 1), AXMUL_OK);
    ck_assert_int_eq(axmul_histogram_load(path, h), AXMUL_OK);
    ck_assert_double_eq(h[13], 6);
    shape[0] = 128;
    ck_assert_int_eq(axmul_npy_save_f32(path, v, shape, 1), AXMUL_OK);
    ck_assert_int_eq(axmul_histogram_load(path, h), AXMUL_ERR_SHAPE);
    ck_assert(strstr(axmul_error_detail(), "expected 256") != NULL);
    tu_rmdir(dir);
}
END_TEST

/* Values printed in the EvoApprox8b C model headers (rounded there). */
static const struct {
    const char *name;
    double mae_pct, mae, wce_pct, wce, wcre_pct, ep_pct, mre_pct, mse;
    double mse_tol;
} published[] = {
    {"mul8u_L40", 1.54, 1011, 13.92, 9124, 152.38, 74.91, 7.46, 36892.825e2, 0.05e2},
    {"mul8u_1446", 0.018, 12, 0.29, 192, 28.57, 9.38, 0.13, 1792, 0.5},
    {"mul8u_2AC", 0.037, 25, 0.12, 79, 3100.00, 98.12, 1.25, 892, 0.5},
    {"mul8u_KEM", 0.0046, 3.0, 0.017, 11, 100.00, 75.00, 0.18, 17, 0.5},
    {"mul8u_199Z", 24.81, 16256, 99.22, 65025, 100.00, 99.22, 100.00, 47164.981e4, 0.005e4},
};

/* half a unit in the last printed digit */
static double half_ulp(double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.10g", v);
    const char *dot = strchr(buf, '.');
    int decimals = dot ? (int)strlen(dot + 1) : 0;
    return 0.5 * pow(10, -decimals) + 1e-12;
}

START_TEST(test_published_values)
{
    const char *fx = tu_fixtures();
    if (!fx)
        return;
    for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.bin", fx, published[i].name);
        axmul_table *t;
        ck_assert_int_eq(axmul_table_load(path, 0, &t), AXMUL_OK);
        axmul_metrics m = metrics(t);
#define NEAR(field, val)                                                                           \
    ck_assert_msg(fabs(m.field - (val)) <= half_ulp(val), "%s: %s = %.10g, published %.10g",       \
                  published[i].name, #field, m.field, (double)(val))
        NEAR(mae_percent, published[i].mae_pct);
        ck_assert_msg(fabs(m.mae - published[i].mae) <= 0.5 + 1e-9, "%s: mae %.6f",
                      published[i].name, m.mae);
        NEAR(wce_percent, published[i].wce_pct);
        ck_assert_double_eq(m.wce, published[i].wce);
        NEAR(wcre_percent, published[i].wcre_pct);
        NEAR(ep_percent, published[i].ep_pct);
        NEAR(mre_percent, published[i].mre_pct);
        ck_assert_msg(fabs(m.mse - published[i].mse) <= published[i].mse_tol, "%s: mse %.6f",
                      published[i].name, m.mse);
#undef NEAR
        axmul_table_free(t);
    }
}
END_TEST

START_TEST(test_fixture_structure)
{
    const char *fx = tu_fixtures();
    if (!fx)
        return;
    char path[4200];
    axmul_table *t;
    /* mul8u_2AC: non-zero products when an operand is 0 (T[0][5] = 32) */
    snprintf(path, sizeof path, "%s/mul8u_2AC.bin", fx);
    ck_assert_int_eq(axmul_table_load(path, 0, &t), AXMUL_OK);
    ck_assert_int_eq(axmul_table_product(t, 0, 5), 32);
    ck_assert_int_eq(metrics(t).zero_preserving, 0);
    axmul_table_free(t);
    /* mul8u_L40 is not commutative (T[3][48] = 144, T[48][3] = 112) */
    snprintf(path, sizeof path, "%s/mul8u_L40.bin", fx);
    ck_assert_int_eq(axmul_table_load(path, 0, &t), AXMUL_OK);
    ck_assert_int_eq(axmul_table_product(t, 3, 48), 144);
    ck_assert_int_eq(axmul_table_product(t, 48, 3), 112);
    ck_assert_int_eq(metrics(t).commutative, 0);
    axmul_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_exact);
    tcase_add_test(tc, test_constant_zero);
    tcase_add_test(tc, test_plus_one);
    tcase_add_test(tc, test_single_wrong_entry);
    tcase_add_test(tc, test_monotone_and_transposed);
    tcase_add_test(tc, test_signed_tables);
    tcase_add_test(tc, test_weighted);
    tcase_add_test(tc, test_histogram_files);
    tcase_add_test(tc, test_published_values);
    tcase_add_test(tc, test_fixture_structure);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
