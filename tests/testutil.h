/* axmul tests: small helpers shared by the Check suites. */
#ifndef AXMUL_TESTUTIL_H
#define AXMUL_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/core/rng.h"

/* The suites' generator: the library's splitmix64. */
static inline uint64_t tu_rand(uint64_t *s)
{
    return axmul__splitmix64(s);
}

/* Seed of randomized tests: AXMUL_TEST_SEED if set, else the clock. Printed once so that a
 * failure can be replayed. */
static inline uint64_t tu_seed(void)
{
    static uint64_t seed;
    static int done;
    if (!done) {
        const char *e = getenv("AXMUL_TEST_SEED");
        seed = e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
        fprintf(stderr, "random seed: %" PRIu64 " (replay with AXMUL_TEST_SEED=%" PRIu64 ")\n",
                seed, seed);
        done = 1;
    }
    return seed;
}

static inline int tu_randint(uint64_t *s, int lo, int hi)
{
    return lo + (int)(tu_rand(s) % (uint64_t)(hi - lo + 1));
}

static inline float tu_randf(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(tu_rand(s) >> 11) * 0x1p-53);
}

/* A fresh temporary folder (under $TMPDIR or /tmp); removed with tu_rmdir. */
static inline char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/axmul-test.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(buf);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

static inline int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static inline void tu_rmdir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[8192];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            chmod(p, 0700);
            unlink(p);
        }
        closedir(d);
    }
    chmod(dir, 0700);
    rmdir(dir);
    free(dir);
}

static inline void tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Folder of the shared EvoApprox fixtures, or NULL (with a note) when absent. */
static inline const char *tu_fixtures(void)
{
    const char *d = getenv("AXMUL_FIXTURES");
    struct stat st;
    if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "note: fixture tables not found (AXMUL_FIXTURES=%s): fixture checks "
                "skipped\n",
                d ? d : "");
        return NULL;
    }
    return d;
}

static inline int tu_run(Suite *s)
{
    tu_seed(); /* once, before the forked tests, so that they share it */
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
