/* Unit tests: packing diagnosis of wrongly written versions of a table. */
#include "axmul.h"
#include "testutil.h"

static uint8_t *le_bytes(const axmul_table *t)
{
    uint8_t *b = malloc(AXMUL_TABLE_BYTES);
    axmul_table_to_bytes(t, b);
    return b;
}

static axmul_packing_report diagnose(const uint8_t *b, size_t len, const axmul_table *ref)
{
    axmul_packing_report r;
    ck_assert_int_eq(axmul_packing_diagnose(b, len, "f.bin", ref, &r), AXMUL_OK);
    ck_assert_msg(strstr(r.text, "f.bin") != NULL, "text names the file: %s", r.text);
    return r;
}

/* A non-commutative reference, so that transposition is visible. */
static axmul_table *noncommutative(void)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            axmul_table_data_mut(t)[a * 256 + b] = (uint16_t)(a * b + (a > b ? 1 : 0));
    return t;
}

START_TEST(test_identical_and_swapped)
{
    axmul_table *ref;
    ck_assert_int_eq(axmul_table_create_exact(0, &ref), AXMUL_OK);
    uint8_t *b = le_bytes(ref);
    axmul_packing_report r = diagnose(b, AXMUL_TABLE_BYTES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_IDENTICAL);
    for (size_t i = 0; i < AXMUL_TABLE_BYTES; i += 2) {
        uint8_t x = b[i];
        b[i] = b[i + 1];
        b[i + 1] = x;
    }
    r = diagnose(b, AXMUL_TABLE_BYTES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_BIG_ENDIAN);
    ck_assert(strstr(r.text, "big-endian") != NULL);
    free(b);
    axmul_table_free(ref);
}
END_TEST

START_TEST(test_transposed)
{
    axmul_table *ref = noncommutative(), *tr;
    ck_assert_int_eq(axmul_table_create(0, &tr), AXMUL_OK);
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            axmul_table_data_mut(tr)[b * 256 + a] = axmul_table_data(ref)[a * 256 + b];
    uint8_t *b = le_bytes(tr);
    axmul_packing_report r = diagnose(b, AXMUL_TABLE_BYTES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_TRANSPOSED);
    ck_assert(strstr(r.text, "transposed") != NULL);
    free(b);
    axmul_table_free(tr);
    axmul_table_free(ref);
}
END_TEST

START_TEST(test_element_sizes)
{
    axmul_table *ref;
    ck_assert_int_eq(axmul_table_create_exact(0, &ref), AXMUL_OK);
    const uint16_t *v = axmul_table_data(ref);
    uint8_t *b8 = malloc(AXMUL_TABLE_ENTRIES);
    uint8_t *b32 = malloc(4 * AXMUL_TABLE_ENTRIES);
    for (size_t i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        b8[i] = (uint8_t)v[i];
        b32[4 * i] = (uint8_t)v[i];
        b32[4 * i + 1] = (uint8_t)(v[i] >> 8);
        b32[4 * i + 2] = b32[4 * i + 3] = 0;
    }
    axmul_packing_report r = diagnose(b8, AXMUL_TABLE_ENTRIES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_ELEMENT_8BIT);
    ck_assert(strstr(r.text, "8-bit") != NULL);
    r = diagnose(b32, 4 * AXMUL_TABLE_ENTRIES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_ELEMENT_32BIT);
    ck_assert(strstr(r.text, "values equal the reference") != NULL);
    free(b8);
    free(b32);
    axmul_table_free(ref);
}
END_TEST

START_TEST(test_header_trailing_truncated)
{
    axmul_table *ref;
    ck_assert_int_eq(axmul_table_create_exact(0, &ref), AXMUL_OK);
    uint8_t *b = malloc(AXMUL_TABLE_BYTES + 16);
    memset(b, 0xee, 16);
    axmul_table_to_bytes(ref, b + 16);
    axmul_packing_report r = diagnose(b, AXMUL_TABLE_BYTES + 16, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_HEADER);
    ck_assert_int_eq(r.offset, 16);
    ck_assert(strstr(r.text, "16-byte header") != NULL);
    axmul_table_to_bytes(ref, b);
    memset(b + AXMUL_TABLE_BYTES, 0xee, 16);
    r = diagnose(b, AXMUL_TABLE_BYTES + 16, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_TRAILING);
    ck_assert(strstr(r.text, "16 trailing bytes") != NULL);
    r = diagnose(b, 1000, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_TRUNCATED);
    r = diagnose(b, 0, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_WRONG_SIZE);
    ck_assert(strstr(r.text, "empty") != NULL);
    free(b);
    axmul_table_free(ref);
}
END_TEST

START_TEST(test_signedness_mixup)
{
    axmul_table *uref, *sref;
    ck_assert_int_eq(axmul_table_create_exact(0, &uref), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create_exact(1, &sref), AXMUL_OK);
    uint8_t *sb = le_bytes(sref), *ub = le_bytes(uref);
    axmul_packing_report r = diagnose(sb, AXMUL_TABLE_BYTES, uref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_SIGNEDNESS);
    ck_assert(strstr(r.text, "signed/unsigned") != NULL);
    r = diagnose(ub, AXMUL_TABLE_BYTES, sref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_SIGNEDNESS);
    free(sb);
    free(ub);
    axmul_table_free(uref);
    axmul_table_free(sref);
}
END_TEST

START_TEST(test_shifted)
{
    axmul_table *ref = noncommutative();
    const uint16_t *v = axmul_table_data(ref);
    axmul_table *sh;
    ck_assert_int_eq(axmul_table_create(0, &sh), AXMUL_OK);
    for (size_t i = 1; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(sh)[i] = v[i - 1];
    axmul_table_data_mut(sh)[0] = 99;
    uint8_t *b = le_bytes(sh);
    axmul_packing_report r = diagnose(b, AXMUL_TABLE_BYTES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_SHIFTED);
    ck_assert_int_eq(r.offset, 1);
    ck_assert(strstr(r.text, "one entry") != NULL);
    /* one stray byte at the start */
    uint8_t *rb = le_bytes(ref);
    b[0] = 0x55;
    memcpy(b + 1, rb, AXMUL_TABLE_BYTES - 1);
    r = diagnose(b, AXMUL_TABLE_BYTES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_SHIFTED);
    ck_assert(strstr(r.text, "one byte") != NULL);
    free(rb);
    free(b);
    axmul_table_free(sh);
    axmul_table_free(ref);
}
END_TEST

START_TEST(test_first_difference)
{
    axmul_table *ref, *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &ref), AXMUL_OK);
    ck_assert_int_eq(axmul_table_clone(ref, &t), AXMUL_OK);
    axmul_table_data_mut(t)[7 * 256 + 9] = 60; /* 63 expected */
    axmul_table_data_mut(t)[200 * 256 + 1] = 0;
    uint8_t *b = le_bytes(t);
    axmul_packing_report r = diagnose(b, AXMUL_TABLE_BYTES, ref);
    ck_assert_int_eq(r.kind, AXMUL_PACKING_DIFFERENT);
    ck_assert_int_eq(r.first_a, 7);
    ck_assert_int_eq(r.first_b, 9);
    ck_assert_int_eq(r.expected, 63);
    ck_assert_int_eq(r.found, 60);
    ck_assert_int_eq(r.differing_entries, 2);
    ck_assert(strstr(r.text, "(a=7, b=9): expected 63, found 60") != NULL);
    free(b);
    axmul_table_free(t);
    axmul_table_free(ref);
}
END_TEST

START_TEST(test_names)
{
    for (int k = 0; k < AXMUL_PACKING_COUNT; k++)
        ck_assert_int_gt((int)strlen(axmul_packing_name((axmul_packing)k)), 0);
    ck_assert_str_eq(axmul_packing_name((axmul_packing)999), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("packing");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_identical_and_swapped);
    tcase_add_test(tc, test_transposed);
    tcase_add_test(tc, test_element_sizes);
    tcase_add_test(tc, test_header_trailing_truncated);
    tcase_add_test(tc, test_signedness_mixup);
    tcase_add_test(tc, test_shifted);
    tcase_add_test(tc, test_first_difference);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
