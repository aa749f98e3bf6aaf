/* Properties of the bundled multiplier families, from their papers (not copied numbers): the
 * committed tables in $top_srcdir/tables are checked (test_tables.sh proves they are what the
 * sources give). */
#include <math.h>

#include "axmul.h"
#include "testutil.h"

static axmul_table *load(const char *name)
{
    const char *top = getenv("top_srcdir");
    char path[4200];
    snprintf(path, sizeof path, "%s/tables/%s.bin", top && *top ? top : ".", name);
    axmul_table *t;
    ck_assert_msg(axmul_table_load(path, axmul_name_is_signed(name), &t) == AXMUL_OK, "%s",
                  axmul_error_detail());
    return t;
}

static axmul_metrics metrics_of(const char *name)
{
    axmul_table *t = load(name);
    axmul_metrics m;
    ck_assert_int_eq(axmul_metrics_compute(t, NULL, NULL, &m), AXMUL_OK);
    axmul_table_free(t);
    return m;
}

START_TEST(test_never_overestimate)
{
    const char *names[] = {"mul8u_trunc_k2", "mul8u_trunc_k4", "mul8u_trunc_k6", "mul8u_trunc_k8",
                           "mul8u_bam_h0v4", "mul8u_bam_h1v6", "mul8u_bam_h2v8", "mul8u_bam_h3v10",
                           "mul8u_mask_k1",  "mul8u_mask_k2",  "mul8u_mask_k3",  "mul8u_mitchell",
                           "mul8u_kulkarni"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        axmul_metrics m = metrics_of(names[i]);
        ck_assert_msg(m.max_error <= 0, "%s overestimates: max_error %g", names[i], m.max_error);
        ck_assert_msg(m.mae > 0, "%s is exact", names[i]);
    }
}
END_TEST

START_TEST(test_unbiasing)
{
    const int ks[] = {2, 4, 6, 8};
    for (int i = 0; i < 4; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "mul8u_trunc_k%d", ks[i]);
        snprintf(b, sizeof b, "mul8u_truncc_k%d", ks[i]);
        axmul_metrics raw = metrics_of(a), cor = metrics_of(b);
        ck_assert_msg(fabs(cor.mean_error) < 0.25 * fabs(raw.mean_error),
                      "K=%d: corrected bias %g vs %g", ks[i], cor.mean_error, raw.mean_error);
    }
    /* DRUM against its biased peer: the same k-bit leading-one segments without the forced LSB */
    for (int k = 3; k <= 6; k++) {
        char name[64];
        snprintf(name, sizeof name, "mul8u_drum_k%d", k);
        axmul_metrics drum = metrics_of(name);
        double bias = 0;
        for (unsigned a = 0; a < 256; a++)
            for (unsigned b = 0; b < 256; b++) {
                unsigned sa = 0, sb = 0, va = a, vb = b;
                while ((va >> sa) >= (1u << k))
                    sa++;
                while ((vb >> sb) >= (1u << k))
                    sb++;
                bias += (double)(((va >> sa) * (vb >> sb)) << (sa + sb)) - (double)(a * b);
            }
        bias /= 65536;
        /* The forced LSB leaves each operand +1/2 on average, so a small positive product bias
         * remains (about (a + b) / 2); the truncated peer loses half of the dropped range. */
        double limit = k <= 5 ? 0.25 : 0.5;
        ck_assert_msg(bias < 0 && fabs(drum.mean_error) < limit * fabs(bias),
                      "DRUM k=%d: bias %g vs truncated segments %g", k, drum.mean_error, bias);
    }
}
END_TEST

START_TEST(test_mitchell)
{
    axmul_table *t = load("mul8u_mitchell");
    axmul_metrics m;
    ck_assert_int_eq(axmul_metrics_compute(t, NULL, NULL, &m), AXMUL_OK);
    ck_assert_msg(fabs(m.wcre_percent / 100 - 1.0 / 9.0) < 1e-9, "WCRE %.12g%%", m.wcre_percent);
    for (unsigned i = 0; i < 8; i++)
        for (unsigned j = 0; j < 8; j++)
            ck_assert_int_eq(axmul_table_product(t, 1u << i, 1u << j), (int)(1u << (i + j)));
    ck_assert_int_eq(axmul_table_product(t, 3, 3), 8); /* (1.5 * 1.5 = 2.25) -> 2 */
    for (unsigned b = 0; b < 256; b++)
        ck_assert(axmul_table_product(t, 0, b) == 0 && axmul_table_product(t, b, 0) == 0);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_kulkarni)
{
    axmul_table *t = load("mul8u_kulkarni");
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            int sees33 = 0;
            for (int i = 0; i < 8; i += 2)
                for (int j = 0; j < 8; j += 2)
                    sees33 |= ((a >> i) & 3) == 3 && ((b >> j) & 3) == 3;
            int32_t v = axmul_table_product(t, a, b), p = (int32_t)(a * b);
            if (sees33)
                ck_assert_msg(v < p, "(%u, %u): %d not below %d", a, b, v, p);
            else
                ck_assert_msg(v == p, "(%u, %u): %d != %d", a, b, v, p);
        }
    ck_assert_int_eq(axmul_table_product(t, 3, 3), 7);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_drum_exact_small)
{
    for (int k = 3; k <= 6; k++) {
        char name[64];
        snprintf(name, sizeof name, "mul8u_drum_k%d", k);
        axmul_table *t = load(name);
        for (unsigned a = 0; a < (1u << k); a++)
            for (unsigned b = 0; b < (1u << k); b++)
                ck_assert_int_eq(axmul_table_product(t, a, b), (int)(a * b));
        axmul_table_free(t);
    }
}
END_TEST

/* Each family's error grows with its aggressiveness parameter. */
START_TEST(test_monotone_in_parameter)
{
    const char *chains[][4] = {
        {"mul8u_trunc_k2", "mul8u_trunc_k4", "mul8u_trunc_k6", "mul8u_trunc_k8"},
        {"mul8u_truncc_k2", "mul8u_truncc_k4", "mul8u_truncc_k6", "mul8u_truncc_k8"},
        {"mul8u_bam_h0v4", "mul8u_bam_h1v6", "mul8u_bam_h2v8", "mul8u_bam_h3v10"},
        {"mul8u_mask_k1", "mul8u_mask_k2", "mul8u_mask_k3", NULL},
        {"mul8u_drum_k6", "mul8u_drum_k5", "mul8u_drum_k4", "mul8u_drum_k3"},
        {"mul8s_drum_k6", "mul8s_drum_k4", "mul8s_drum_k3", NULL},
    };
    for (size_t c = 0; c < sizeof chains / sizeof chains[0]; c++) {
        double prev = -1;
        for (int i = 0; i < 4 && chains[c][i]; i++) {
            double mae = metrics_of(chains[c][i]).mae;
            ck_assert_msg(mae > prev, "%s: MAE %g not above %g", chains[c][i], mae, prev);
            prev = mae;
        }
    }
}
END_TEST

START_TEST(test_signed_families)
{
    axmul_table *ex = load("mul8s_exact");
    ck_assert_int_eq(axmul_table_is_signed(ex), 1);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++)
            ck_assert_int_eq(axmul_table_product(ex, (uint8_t)a, (uint8_t)b), a * b);
    axmul_table_free(ex);
    const char *sm[] = {"mul8s_drum_k6", "mul8s_drum_k4", "mul8s_drum_k3", "mul8s_mitchell"};
    for (size_t i = 0; i < 4; i++) {
        axmul_table *t = load(sm[i]);
        for (int a = -127; a < 128; a++)
            for (int b = -128; b < 128; b++) {
                int32_t p = axmul_table_product(t, (uint8_t)a, (uint8_t)b);
                int32_t n = axmul_table_product(t, (uint8_t)-a, (uint8_t)b);
                ck_assert_msg(n == -p, "%s: T(%d, %d) = %d but T(%d, %d) = %d", sm[i], -a, b, n, a,
                              b, p);
            }
        axmul_table_free(t);
    }
}
END_TEST

START_TEST(test_roba)
{
    /* exact when either operand is a power of two (its rounding error is zero) */
    axmul_table *t = load("mul8u_roba");
    for (unsigned i = 0; i < 8; i++)
        for (unsigned b = 0; b < 256; b++) {
            ck_assert_int_eq(axmul_table_product(t, 1u << i, b), (int)((1u << i) * b));
            ck_assert_int_eq(axmul_table_product(t, b, 1u << i), (int)((1u << i) * b));
        }
    /* error = -(a - Ar)(b - Br): 3 rounds to 4, 5 to 4: 3*5 = 15 -> 15 - (-1)(1) = 16 */
    ck_assert_int_eq(axmul_table_product(t, 3, 5), 16);
    axmul_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("families");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_never_overestimate);
    tcase_add_test(tc, test_unbiasing);
    tcase_add_test(tc, test_mitchell);
    tcase_add_test(tc, test_kulkarni);
    tcase_add_test(tc, test_drum_exact_small);
    tcase_add_test(tc, test_monotone_in_parameter);
    tcase_add_test(tc, test_signed_families);
    tcase_add_test(tc, test_roba);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
