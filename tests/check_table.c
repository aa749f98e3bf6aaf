/* Unit tests: status codes, UTF-8 names, table load/save, size diagnostics, atomic writes. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>

#include "axmul.h"
#include "testutil.h"

START_TEST(test_strerror)
{
    for (int s = 0; s < AXMUL_STATUS_COUNT; s++) {
        ck_assert_ptr_nonnull(axmul_strerror((axmul_status)s));
        ck_assert_int_gt((int)strlen(axmul_strerror((axmul_status)s)), 0);
    }
    ck_assert_str_eq(axmul_strerror(AXMUL_OK), "success");
    ck_assert_str_eq(axmul_strerror((axmul_status)9999), "unknown status");
    ck_assert_str_eq(axmul_strerror(AXMUL_ERR_SIZE), "wrong file size");
}
END_TEST

START_TEST(test_exact_tables)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            ck_assert_int_eq(axmul_table_product(t, a, b), (int)(a * b));
    char hex[65];
    axmul_table_sha256(t, hex);
    ck_assert_str_eq(hex, "0c6fd3441f139fb52cb64129eeb8b9cf866d6d095563d74639bd7459d183a8c1");
    axmul_table_free(t);

    ck_assert_int_eq(axmul_table_create_exact(1, &t), AXMUL_OK);
    ck_assert_int_eq(axmul_table_is_signed(t), 1);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++)
            ck_assert_int_eq(axmul_table_product(t, (uint8_t)a, (uint8_t)b), a * b);
    /* two's complement on disk: (-128)*(-128) = 16384, (-128)*127 = -16256 = 0xc080 */
    ck_assert_uint_eq(axmul_table_data(t)[0x80 * 256 + 0x7f], 0xc080);
    axmul_table_free(t);
    axmul_table_free(NULL); /* no-op */
}
END_TEST

START_TEST(test_sha256_vectors)
{
    /* FIPS 180-2 appendix B examples */
    char hex[65];
    axmul_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    axmul_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    axmul_sha256_hex(m, strlen(m), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_roundtrip_little_endian)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/t.bin", dir);
    uint64_t s = tu_seed();
    axmul_table *t, *u;
    ck_assert_int_eq(axmul_table_create(0, &t), AXMUL_OK);
    uint16_t *v = axmul_table_data_mut(t);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        v[i] = (uint16_t)tu_rand(&s);
    v[0] = 0x1234;
    ck_assert_int_eq(axmul_table_save(t, path), AXMUL_OK);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char head[2];
    ck_assert_uint_eq(fread(head, 1, 2, f), 2);
    fclose(f);
    ck_assert_uint_eq(head[0], 0x34); /* low byte first on disk, whatever the host */
    ck_assert_uint_eq(head[1], 0x12);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq((int)st.st_size, (int)AXMUL_TABLE_BYTES);
    ck_assert_int_eq(axmul_table_load(path, 0, &u), AXMUL_OK);
    ck_assert(axmul_table_equal(t, u));
    axmul_table_free(u);
    /* saving over an existing table replaces it, and leaves no temporary behind */
    v[1] = 7;
    ck_assert_int_eq(axmul_table_save(t, path), AXMUL_OK);
    ck_assert_int_eq(axmul_table_load(path, 0, &u), AXMUL_OK);
    ck_assert_uint_eq(axmul_table_data(u)[1], 7);
    ck_assert_int_eq(tu_count_entries(dir), 1);
    axmul_table_free(u);
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

static void expect_size_error(size_t len, const char *needle)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/sized_%zu.bin", dir, len);
    unsigned char *buf = calloc(1, len ? len : 1);
    tu_write(path, buf, len);
    free(buf);
    axmul_table *t = (axmul_table *)0x1;
    ck_assert_int_eq(axmul_table_load(path, 0, &t), AXMUL_ERR_SIZE);
    ck_assert_ptr_null(t);
    const char *d = axmul_error_detail();
    ck_assert_msg(strstr(d, path) != NULL, "detail '%s' must name the file", d);
    ck_assert_msg(strstr(d, needle) != NULL, "detail '%s' must say '%s'", d, needle);
    tu_rmdir(dir);
}

START_TEST(test_size_errors)
{
    expect_size_error(0, "empty");
    expect_size_error(65536, "one byte per entry");
    expect_size_error(262144, "32-bit entries");
    expect_size_error(524288, "64-bit entries");
    expect_size_error(131072 + 128, "128 bytes too many: a header or trailing bytes");
    expect_size_error(131072 + 1, "header or trailing");
    expect_size_error(131071, "1 bytes short");
    expect_size_error(100, "truncated");
}
END_TEST

START_TEST(test_missing_and_directory)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/nope.bin", dir);
    axmul_table *t;
    ck_assert_int_eq(axmul_table_load(path, 0, &t), AXMUL_ERR_NOT_FOUND);
    ck_assert(strstr(axmul_error_detail(), "nope.bin") != NULL);
    ck_assert_int_eq(axmul_table_load(dir, 0, &t), AXMUL_ERR_IS_DIRECTORY);
    ck_assert(strstr(axmul_error_detail(), dir) != NULL);
    ck_assert(strstr(axmul_error_detail(), "directory") != NULL);
    /* a path through a regular file */
    snprintf(path, sizeof path, "%s/file", dir);
    tu_write(path, "x", 1);
    snprintf(path, sizeof path, "%s/file/t.bin", dir);
    ck_assert_int_eq(axmul_table_load(path, 0, &t), AXMUL_ERR_NOT_FOUND);
    tu_rmdir(dir);
}
END_TEST

START_TEST(test_unreadable)
{
    if (geteuid() == 0) {
        /* root reads any file: check the error path on a file it cannot open for reading */
        axmul_table *t;
        axmul_status s = axmul_table_load("/proc/self/mem", 0, &t);
        ck_assert_int_ne(s, AXMUL_OK);
        ck_assert(strstr(axmul_error_detail(), "/proc/self/mem") != NULL);
        fprintf(stderr, "note: running as root, chmod 000 cannot make a file unreadable; "
                        "checked /proc/self/mem instead\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/locked.bin", dir);
    unsigned char *buf = calloc(1, AXMUL_TABLE_BYTES);
    tu_write(path, buf, AXMUL_TABLE_BYTES);
    free(buf);
    chmod(path, 0);
    axmul_table *t;
    ck_assert_int_eq(axmul_table_load(path, 0, &t), AXMUL_ERR_PERMISSION);
    ck_assert(strstr(axmul_error_detail(), "locked.bin") != NULL);
    tu_rmdir(dir);
}
END_TEST

/* A write that fails half-way (file size limit) must leave the old file intact and no
 * temporary: the property "never a half-written table". Root is not exempt from RLIMIT_FSIZE. */
START_TEST(test_atomic_save_failure)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/keep.bin", dir);
    axmul_table *old, *t, *u;
    ck_assert_int_eq(axmul_table_create_exact(0, &old), AXMUL_OK);
    ck_assert_int_eq(axmul_table_save(old, path), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create(0, &t), AXMUL_OK);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {4096, 4096};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ck_assert_int_ne(axmul_table_save(t, path), AXMUL_OK);
    ck_assert(strstr(axmul_error_detail(), "keep.bin") != NULL);
    ck_assert_int_eq(tu_count_entries(dir), 1); /* no temporary left */
    ck_assert_int_eq(axmul_table_load(path, 0, &u), AXMUL_OK);
    ck_assert(axmul_table_equal(u, old)); /* old content intact */
    snprintf(path, sizeof path, "%s/new.bin", dir);
    ck_assert_int_ne(axmul_table_save(t, path), AXMUL_OK);
    ck_assert_int_eq(access(path, F_OK), -1); /* no partial new file */
    ck_assert_int_eq(tu_count_entries(dir), 1);
    axmul_table_free(old);
    axmul_table_free(t);
    axmul_table_free(u);
    tu_rmdir(dir);
}
END_TEST

START_TEST(test_save_unwritable_folder)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/missing-folder/t.bin", dir);
    ck_assert_int_ne(axmul_table_save(t, path), AXMUL_OK);
    ck_assert(strstr(axmul_error_detail(), "missing-folder/t.bin") != NULL);
    /* a directory as the target */
    ck_assert_int_eq(axmul_table_save(t, dir), AXMUL_ERR_IS_DIRECTORY);
    if (geteuid() != 0) {
        chmod(dir, 0555);
        snprintf(path, sizeof path, "%s/t.bin", dir);
        ck_assert_int_eq(axmul_table_save(t, path), AXMUL_ERR_PERMISSION);
        ck_assert_int_eq(tu_count_entries(dir), 0);
    } else {
        /* /proc/self is a folder in which nobody, root included, can create files */
        ck_assert_int_ne(axmul_table_save(t, "/proc/self/axmul-test.bin"), AXMUL_OK);
        ck_assert(strstr(axmul_error_detail(), "/proc/self/axmul-test.bin") != NULL);
    }
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

START_TEST(test_from_bytes_and_names)
{
    unsigned char buf[AXMUL_TABLE_BYTES];
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        buf[2 * i] = (unsigned char)(i & 0xff);
        buf[2 * i + 1] = (unsigned char)(i >> 8);
    }
    axmul_table *t;
    ck_assert_int_eq(axmul_table_from_bytes(buf, sizeof buf, "mem", 0, &t), AXMUL_OK);
    ck_assert_uint_eq(axmul_table_data(t)[0xabcd], 0xabcd);
    unsigned char out[AXMUL_TABLE_BYTES];
    axmul_table_to_bytes(t, out);
    ck_assert_int_eq(memcmp(out, buf, sizeof buf), 0);
    axmul_table *c;
    ck_assert_int_eq(axmul_table_clone(t, &c), AXMUL_OK);
    ck_assert(axmul_table_equal(t, c));
    axmul_table_free(c);
    axmul_table_free(t);
    ck_assert_int_eq(axmul_table_from_bytes(buf, 10, "mem", 0, &t), AXMUL_ERR_SIZE);
    ck_assert(strstr(axmul_error_detail(), "mem: 10 bytes") != NULL);
    ck_assert_int_eq(axmul_table_from_bytes(NULL, 0, NULL, 0, NULL), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(axmul_name_is_signed("dir/mul8s_1KV6.bin"), 1);
    ck_assert_int_eq(axmul_name_is_signed("mul8s_x.bin"), 1);
    ck_assert_int_eq(axmul_name_is_signed("mul8s/mul8u_x.bin"), 0);
    ck_assert_int_eq(axmul_name_is_signed(NULL), 0);
}
END_TEST

START_TEST(test_fixture_exact_identical)
{
    const char *fx = tu_fixtures();
    if (!fx)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/mul8u_1JFF.bin", fx);
    axmul_table *f, *e;
    ck_assert_int_eq(axmul_table_load(path, 0, &f), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create_exact(0, &e), AXMUL_OK);
    ck_assert(axmul_table_equal(f, e));
    axmul_table_free(f);
    axmul_table_free(e);
}
END_TEST

/* A random table of the signedness; unsigned entries below 32768, so that TorchApprox's signed
 * (sign-magnitude) view of it holds them all. */
static axmul_table *rand_table(uint64_t *s, int sgn)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create(sgn, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(t)[i] = (uint16_t)(tu_rand(s) & (sgn ? 0xffff : 0x7fff));
    return t;
}

/* The other frameworks' formats: every format round-trips a signed table and the unsigned ones
 * it can hold, entry for entry; the text formats' layouts (operand value order for ApproxTorch,
 * byte order for AdaPT) checked on written text; names, guesses and bad files refused by name. */
START_TEST(test_peer_formats)
{
    uint64_t s = tu_seed() ^ 0xf0f0;
    char *dir = tu_mkdtemp(), path[4200];
    const char *ext[AXMUL_FORMAT_COUNT] = {"bin", "npy", "txt", "h"};
    for (int sgn = 0; sgn < 2; sgn++) {
        axmul_table *t = rand_table(&s, sgn);
        for (int f = 0; f < AXMUL_FORMAT_COUNT; f++) {
            snprintf(path, sizeof path, "%s/t%d.%s", dir, sgn, ext[f]);
            ck_assert_int_eq(axmul_table_format_guess(path), f);
            axmul_status st = axmul_table_export(t, (axmul_table_format)f, path);
            if (f == AXMUL_FORMAT_APPROXTORCH && !sgn) {
                ck_assert_int_eq(st, AXMUL_ERR_UNSUPPORTED);
                ck_assert(strstr(axmul_error_detail(), "signed 8x8") != NULL);
                continue;
            }
            ck_assert_msg(st == AXMUL_OK, "%s: %s", path, axmul_error_detail());
            axmul_table *back = NULL;
            ck_assert_msg(axmul_table_import(path, (axmul_table_format)f, sgn, &back) == AXMUL_OK,
                          "%s: %s", path, axmul_error_detail());
            if (f == AXMUL_FORMAT_TORCHAPPROX && !sgn) {
                /* TorchApprox's sign-magnitude view of an unsigned multiplier, read as signed:
                 * (i, j) = s_i s_j T[|v_i|][|v_j|] for operands v of the signed bytes */
                ck_assert(axmul_table_is_signed(back));
                for (int k = 0; k < 2000; k++) {
                    const int i = tu_randint(&s, 0, 255), j = tu_randint(&s, 0, 255);
                    const int vi = (int8_t)i, vj = (int8_t)j, m = (vi < 0) != (vj < 0) ? -1 : 1;
                    const int32_t want =
                        m * axmul_table_product(t, (unsigned)abs(vi), (unsigned)abs(vj));
                    if (want < -32768 || want > 32767) /* only what int16 holds comes back */
                        continue;
                    ck_assert_int_eq(axmul_table_product(back, (unsigned)i, (unsigned)j), want);
                }
            } else {
                ck_assert_int_eq(axmul_table_is_signed(back), sgn);
                ck_assert(axmul_table_equal(t, back));
            }
            axmul_table_free(back);
        }
        axmul_table_free(t);
    }
    /* ApproxTorch: row 0 is the operand -128, column 0 too; AdaPT: byte order, a comment and
     * hex are read */
    axmul_table *e;
    ck_assert_int_eq(axmul_table_create_exact(1, &e), AXMUL_OK);
    snprintf(path, sizeof path, "%s/e.txt", dir);
    ck_assert_int_eq(axmul_table_export(e, AXMUL_FORMAT_APPROXTORCH, path), AXMUL_OK);
    FILE *fp = fopen(path, "r");
    long v0, v1;
    ck_assert(fp && fscanf(fp, "%ld %ld", &v0, &v1) == 2);
    fclose(fp);
    ck_assert_int_eq(v0, 16384); /* -128 x -128 */
    ck_assert_int_eq(v1, 16256); /* -128 x -127 */
    axmul_table_free(e);
    snprintf(path, sizeof path, "%s/hand.h", dir);
    {
        char *text = malloc(700000);
        size_t n =
            (size_t)sprintf(text, "/* by hand */\nstatic const uint16_t lut[256][256] = {\n");
        for (int i = 0; i < 65536; i++)
            n += (size_t)sprintf(text + n, i == 5 ? "0x10, /* five */ " : "%d, ", i % 3);
        n += (size_t)sprintf(text + n, "};\n");
        tu_write(path, text, n);
        free(text);
    }
    ck_assert_int_eq(axmul_table_import(path, AXMUL_FORMAT_ADAPT, -1, &e), AXMUL_OK);
    ck_assert(!axmul_table_is_signed(e));
    ck_assert_int_eq(axmul_table_data(e)[5], 16);
    ck_assert_int_eq(axmul_table_data(e)[7], 1);
    axmul_table_free(e);
    /* refusals, by name */
    axmul_table_format fmt;
    ck_assert_int_eq(axmul_table_format_from_name("adapt", &fmt), AXMUL_OK);
    ck_assert_int_eq(fmt, AXMUL_FORMAT_ADAPT);
    ck_assert_int_eq(axmul_table_format_from_name("pickle", &fmt), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(axmul_error_detail(), "'pickle'") != NULL);
    ck_assert_str_eq(axmul_table_format_name(AXMUL_FORMAT_TORCHAPPROX), "torchapprox");
    snprintf(path, sizeof path, "%s/short.txt", dir);
    tu_write(path, "1 2 3\n4\n", 8);
    ck_assert_int_eq(axmul_table_import(path, AXMUL_FORMAT_APPROXTORCH, 1, &e), AXMUL_ERR_FORMAT);
    ck_assert(strstr(axmul_error_detail(), "4 entries") != NULL);
    tu_write(path, "1 2 x3\n", 7);
    ck_assert_int_eq(axmul_table_import(path, AXMUL_FORMAT_APPROXTORCH, 1, &e), AXMUL_ERR_FORMAT);
    ck_assert(strstr(axmul_error_detail(), "short.txt:1: 'x3' is not an integer") != NULL);
    snprintf(path, sizeof path, "%s/nolut.h", dir);
    tu_write(path, "int x[3] = {1, 2, 3};\n", 22);
    ck_assert_int_eq(axmul_table_import(path, AXMUL_FORMAT_ADAPT, 1, &e), AXMUL_ERR_FORMAT);
    ck_assert(strstr(axmul_error_detail(), "nolut.h: no lut[256][256]") != NULL);
    snprintf(path, sizeof path, "%s/big.h", dir);
    {
        char *text = malloc(600000);
        size_t n = (size_t)sprintf(text, "const int16_t lut[256][256] = {");
        for (int i = 0; i < 65536; i++)
            n += (size_t)sprintf(text + n, "%d,", i == 300 ? 40000 : 1);
        n += (size_t)sprintf(text + n, "};");
        tu_write(path, text, n);
        free(text);
    }
    ck_assert_int_eq(axmul_table_import(path, AXMUL_FORMAT_ADAPT, -1, &e), AXMUL_ERR_RANGE);
    ck_assert(strstr(axmul_error_detail(), "entry (1, 44) = 40000 is outside the int16 range") !=
              NULL);
    tu_rmdir(dir);
}
END_TEST

/* axmul_utf8_len, which layer names (at load) and the tools' JSON output rely on: RFC 3629's
 * well-formed sequences of 1 to 4 bytes and its edges, and what it rules out. */
START_TEST(test_utf8_len)
{
    static const struct {
        const char *s;
        int len;
    } cases[] = {
        {"a", 1},
        {"\x7f", 1},
        {"\xc3\xa9", 2},             /* U+00E9 */
        {"\xe2\x82\xac", 3},         /* U+20AC */
        {"\xef\xbf\xbd", 3},         /* U+FFFD */
        {"\xf0\x9d\x84\x9e", 4},     /* U+1D11E */
        {"\xf4\x8f\xbf\xbf", 4},     /* U+10FFFF, the last */
        {"", 0},                     /* NUL */
        {"\x80", 0},                 /* a continuation byte alone */
        {"\xc3", 0},                 /* cut short by the NUL */
        {"\xc3(", 0},                /* not followed by a continuation byte */
        {"\xc0\xaf", 0},             /* overlong '/' */
        {"\xe0\x80\xaf", 0},         /* overlong '/' in three bytes */
        {"\xf0\x80\x80\xaf", 0},     /* and in four */
        {"\xed\xa0\x80", 0},         /* U+D800, a surrogate */
        {"\xf4\x90\x80\x80", 0},     /* U+110000, past the last */
        {"\xf8\x88\x80\x80\x80", 0}, /* five-byte forms do not exist */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(axmul_utf8_len(cases[i].s) == cases[i].len, "case %zu: %d, expected %d", i,
                      axmul_utf8_len(cases[i].s), cases[i].len);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_utf8_len);
    tcase_add_test(tc, test_exact_tables);
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_roundtrip_little_endian);
    tcase_add_test(tc, test_size_errors);
    tcase_add_test(tc, test_missing_and_directory);
    tcase_add_test(tc, test_unreadable);
    tcase_add_test(tc, test_atomic_save_failure);
    tcase_add_test(tc, test_save_unwritable_folder);
    tcase_add_test(tc, test_from_bytes_and_names);
    tcase_add_test(tc, test_peer_formats);
    tcase_add_test(tc, test_fixture_exact_identical);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
