/* Unit tests: the CPU backend. Every kernel path of lib/cpu/paths.h against the reference kernel
 * on random and edge shapes, the quantizers' edges, the cache of prepared tables, fork safety,
 * independence of batch and thread count, accumulator overflow, the path selection, and the
 * working memory of a call. */
#include <math.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axmul.h"
#include "lib/cpu/cpu.h"
#include "lib/cpu/paths.h"
#include "lib/engine/engine.h"
#include "testutil.h"
#include "convcase.h"
#include "kernelcase.h"

/* ---------------------------------------------------------------- hand-computed cases */

/* ---------------------------------------------------------------- random shapes */

static void compare_with_ref(const rcase *c, const axmul_table *t, int threads)
{
    float *y = malloc(c->ny * sizeof(float)), *r = malloc(c->ny * sizeof(float));
    axmul_conv_desc d = c->d;
    d.threads = threads;
    d.backend = AXMUL_BACKEND_CPU;
    char desc[256];
    describe(&d, desc, sizeof desc);
    ck_assert_msg(axmul_conv2d_ref(&d, t, c->x, c->w, r, NULL) == AXMUL_OK, "%s: %s", desc,
                  axmul_error_detail());
    ck_assert_msg(axmul_conv2d(&d, t, c->x, c->w, y, NULL) == AXMUL_OK, "%s: %s", desc,
                  axmul_error_detail());
    char ctx[300];
    snprintf(ctx, sizeof ctx, "%s threads %d: fast against ref", desc, threads);
    assert_same_bits(y, r, c->ny, ctx);
    free(y);
    free(r);
}

/* every path of the one list (lib/cpu/paths.h) */
#define PATH_NAME(name, kernel, quantize, rows, rows_min, dw, planes, runs, timed) #name,
static const char *const cpu_paths[] = {AXMUL__CPU_PATHS(PATH_NAME)};
#undef PATH_NAME
#define PATH_QUANTIZER(name, kernel, quantize, rows, rows_min, dw, planes, runs, timed) quantize,
static const axmul__quantize_fn cpu_quantizers[] = {AXMUL__CPU_PATHS(PATH_QUANTIZER)};
#undef PATH_QUANTIZER
#define NPATHS (sizeof cpu_paths / sizeof cpu_paths[0])

START_TEST(test_fast_matches_ref_random)
{
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!tc_use_cpu_path(cpu_paths[pi]))
            continue;
        uint64_t s = tu_seed() ^ 0x1234;
        axmul_table *tu = random_table(&s, 0), *ts = random_table(&s, 1), *ex;
        ck_assert_int_eq(axmul_table_create_exact(0, &ex), AXMUL_OK);
        for (int it = 0; it < 60; it++) {
            rcase c;
            random_case(&s, &c);
            compare_with_ref(&c, it % 3 == 0 ? ex : it % 3 == 1 ? tu : ts, 1 + it % 3);
            rcase_free(&c);
        }
        axmul_table_free(tu);
        axmul_table_free(ts);
        axmul_table_free(ex);
    }
    axmul_set_cpu_path("auto");
}
END_TEST

/* Every kernel this CPU runs against the reference kernel, call by call (kernelcase.h: partial
 * vectors, tap counts at the unroll and flush boundaries, 1 to AXMUL__KCH channels, the largest
 * sums). */
START_TEST(test_kernels_against_ref)
{
    int tested = 0;
    for (int i = 0; i < KC_NPATHS; i++) {
        if (!kc_paths[i].runs()) {
            fprintf(stderr, "note: CPU kernel %s not available here: not tested\n",
                    kc_paths[i].name);
            continue;
        }
        const int failed = kc_run(kc_paths[i].name, kc_paths[i].fn, tu_seed() ^ (uint64_t)i, 1);
        ck_assert_msg(failed == 0, "kernel %s: %d cases differ from the reference (stderr)",
                      kc_paths[i].name, failed);
        if (kc_paths[i].rows) {
            const int rf = kc_rows_run(kc_paths[i].name, kc_paths[i].rows, tu_seed() ^ 0x40 ^ i);
            ck_assert_msg(rf == 0, "row kernel %s: %d cases differ from the columns (stderr)",
                          kc_paths[i].name, rf);
        }
        tested++;
    }
    ck_assert_int_ge(tested, 1); /* portable runs everywhere */
}
END_TEST

/* convcase.h's padded_shapes through every CPU path. */
START_TEST(test_padded_shapes)
{
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!tc_use_cpu_path(cpu_paths[pi]))
            continue;
        uint64_t s = tu_seed() ^ 0x9ad;
        axmul_table *tu = random_table(&s, 0), *ts = random_table(&s, 1);
        for (int k = 0; k < N_PADDED_SHAPES; k++) {
            rcase c;
            padded_case(&s, k, &c);
            compare_with_ref(&c, k % 2 ? ts : tu, 1 + k % 2);
            rcase_free(&c);
        }
        axmul_table_free(tu);
        axmul_table_free(ts);
    }
    axmul_set_cpu_path("auto");
}
END_TEST

/* Quantization edge values through every path: exact range bounds, +-0, far outside the range,
 * exact half steps; unsigned and signed tables. */
START_TEST(test_paths_quantization_edges)
{
    float x[40] = {0.0f, -0.0f, 1e30f, -1e30f, 1.0f, -1.0f, 0.5f, -0.5f, 2.0f, -2.0f};
    for (int i = 10; i < 40; i++)
        x[i] = (float)(i - 25) / 12.75f; /* lands on and between codes */
    float w[3] = {1.0f, -1.0f, 0.25f};
    axmul_conv_desc d;
    axmul_conv_desc_init(&d);
    d.n = 1;
    d.h = 1;
    d.w = 40;
    d.c = 1;
    d.kh = d.kw = 1;
    d.co = 3;
    d.input_range_set = d.filter_range_set = 1;
    d.input_range = (axmul_range){-1.0f, 1.0f};
    d.filter_range = (axmul_range){-1.0f, 1.0f};
    for (int sgn = 0; sgn < 2; sgn++) {
        axmul_table *t;
        ck_assert_int_eq(axmul_table_create_exact(sgn, &t), AXMUL_OK);
        float r[120], y[120];
        ck_assert_int_eq(axmul_conv2d_ref(&d, t, x, w, r, NULL), AXMUL_OK);
        for (size_t pi = 0; pi < NPATHS; pi++) {
            if (!tc_use_cpu_path(cpu_paths[pi]))
                continue;
            ck_assert_int_eq(axmul_conv2d(&d, t, x, w, y, NULL), AXMUL_OK);
            char ctx[64];
            snprintf(ctx, sizeof ctx, "path %s signed %d", cpu_paths[pi], sgn);
            assert_same_bits(y, r, 120, ctx);
        }
        axmul_table_free(t);
    }
    axmul_set_cpu_path("auto");
}
END_TEST

/* Every path's bulk quantizer against axmul_quantize, code for code: random ranges of both
 * signednesses, values on and halfway between codes, +-0, the range's ends and far outside it,
 * in a length that leaves a tail after every vector width. */
START_TEST(test_quantizers_match_reference)
{
    uint64_t s = tu_seed() ^ 0x9a7;
    enum { N = 1037 };
    float *x = malloc(N * sizeof(float));
    uint8_t *out = malloc(N);
    for (int it = 0; it < 40; it++) {
        const int sgn = it % 2;
        float lo = it < 4 ? 0.0f : tu_randf(&s, -4.0f, 1.0f);
        float hi = it < 4 ? 1.0f : lo + tu_randf(&s, 0.01f, 8.0f);
        axmul_qparams q;
        ck_assert_int_eq(axmul_qparams_from_range((axmul_range){lo, hi}, sgn, "x", &q), AXMUL_OK);
        const float span = q.nudged_max - q.nudged_min;
        const float ends[8] = {0.0f, -0.0f, 1e30f, -1e30f, q.nudged_min, q.nudged_max, lo, hi};
        for (int i = 0; i < N; i++) {
            const int k = tu_randint(&s, -140, 400), kind = i % 4;
            x[i] = i < 8       ? ends[i]
                   : kind == 0 ? q.nudged_min + (float)k * q.scale
                   : kind == 1 ? q.nudged_min + ((float)k + 0.5f) * q.scale
                               : tu_randf(&s, q.nudged_min - span, q.nudged_max + span);
        }
        for (size_t pi = 0; pi < NPATHS; pi++) {
            if (!tc_use_cpu_path(cpu_paths[pi]))
                continue;
            memset(out, 0xa5, N);
            cpu_quantizers[pi](x, N, q.nudged_min, q.nudged_max, 1.0f / q.scale, sgn, out);
            for (int i = 0; i < N; i++) {
                const uint8_t want = (uint8_t)axmul_quantize(x[i], &q);
                ck_assert_msg(out[i] == want,
                              "path %s, signed %d, range [%a, %a], x[%d] = %a: %d, expected %d",
                              cpu_paths[pi], sgn, (double)lo, (double)hi, i, (double)x[i], out[i],
                              want);
            }
        }
    }
    axmul_set_cpu_path("auto");
    free(x);
    free(out);
}
END_TEST

/* The shapes TFApprox's GPU path got wrong (its issue #12): 1x1 kernels, and a kernel as large
 * as the input with VALID padding; plus odd pixel counts that leave partial chunks. */
START_TEST(test_fast_matches_ref_edge_shapes)
{
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!tc_use_cpu_path(cpu_paths[pi]))
            continue;
        uint64_t s = tu_seed() ^ 0x77;
        axmul_table *t = random_table(&s, (int)(pi % 2));
        int shapes[][7] = {/* n h w c kh kw co */
                           {1, 7, 5, 3, 1, 1, 4},   {2, 6, 6, 8, 6, 6, 3},
                           {3, 1, 1, 16, 1, 1, 9},  {1, 13, 11, 2, 13, 11, 2},
                           {5, 17, 19, 3, 3, 3, 5}, {1, 2, 129, 1, 1, 2, 1},
                           {2, 9, 70, 3, 3, 3, 16}, {1, 5, 11, 4, 2, 3, 17}};
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            rcase c;
            int oh, ow;
            shaped_case(&s, shapes[k], k % 2 ? AXMUL_PADDING_VALID : AXMUL_PADDING_SAME, &c, &oh,
                        &ow);
            if (k == 1 || k == 3)
                ck_assert(oh == 1 && ow == 1);
            compare_with_ref(&c, t, 2);
            rcase_free(&c);
        }
        axmul_table_free(t);
    }
    axmul_set_cpu_path("auto");
}
END_TEST

/* Trained weights cluster on few codes: few-valued weights with a large K (channels of three to
 * eight levels next to continuous ones), on every CPU path. (An earlier VBMI variant visited such
 * channels' taps sorted by weight code; doc/performance.md says why it went.) Channel 2 is all
 * zeros: its scale is 0, the engine writes it without lookups, and the kernel calls around it
 * take channels that are not adjacent (0, 1, 3, 4), which the output stores handle apart. */
START_TEST(test_few_valued_weights)
{
    uint64_t s = tu_seed() ^ 0x5047;
    axmul_table *t = random_table(&s, 0);
    rcase c;
    memset(&c, 0, sizeof c);
    axmul_conv_desc_init(&c.d);
    c.d.n = 2;
    c.d.h = 9;
    c.d.w = 13;
    c.d.c = 64;
    c.d.kh = c.d.kw = 3;
    c.d.co = 8;
    c.d.per_channel = 1;
    c.nx = 2 * 9 * 13 * 64;
    c.nw = 3 * 3 * 64 * 8;
    c.ny = 2 * 9 * 13 * 8;
    c.x = malloc(c.nx * sizeof(float));
    c.w = malloc(c.nw * sizeof(float));
    for (size_t i = 0; i < c.nx; i++)
        c.x[i] = tu_randf(&s, 0.0f, 2.0f);
    for (size_t i = 0; i < c.nw; i++) {
        int o = (int)(i % 8);
        /* channels 0-3: three to eight levels (2: zeros); 4-7: continuous */
        c.w[i] = o == 2  ? 0.0f
                 : o < 4 ? (float)(tu_randint(&s, 0, 2 + o) - 1) * 0.25f
                         : tu_randf(&s, -1, 1);
    }
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!tc_use_cpu_path(cpu_paths[pi]))
            continue;
        compare_with_ref(&c, t, 2);
    }
    axmul_set_cpu_path("auto");
    /* the zero channel took the no-lookup branch: a random table's T[a][0] is not 0 */
    float *y = malloc(c.ny * sizeof(float));
    ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, NULL), AXMUL_OK);
    for (size_t i = 2; i < c.ny; i += 8)
        ck_assert_msg(y[i] == 0.0f, "output %zu: %g", i, (double)y[i]);
    free(y);
    rcase_free(&c);
    axmul_table_free(t);
}
END_TEST

/* Rows wider than the gather's 64-byte copy blocks (the copies spill into the next row and past
 * the input's end, into slack), with padding, dilation and strides, few and many output channels,
 * and pixel counts that leave partial last chunks of every vector count (the kernels then skip
 * the dead 64-pixel vectors). */
START_TEST(test_wide_rows_and_partial_chunks)
{
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!tc_use_cpu_path(cpu_paths[pi]))
            continue;
        uint64_t s = tu_seed() ^ 0x91de;
        axmul_table *tu = random_table(&s, 0), *ts = random_table(&s, 1);
        for (int it = 0; it < 14; it++) {
            rcase c;
            memset(&c, 0, sizeof c);
            axmul_conv_desc *d = &c.d;
            axmul_conv_desc_init(d);
            d->n = tu_randint(&s, 1, 2);
            d->h = tu_randint(&s, 1, 4);
            d->w = tu_randint(&s, 60, 200);
            d->c = tu_randint(&s, 1, 3);
            d->co = it % 2 ? tu_randint(&s, 16, 18) : tu_randint(&s, 1, 3);
            d->kh = tu_randint(&s, 1, 3);
            d->kw = tu_randint(&s, 1, 5);
            d->stride_w = it % 4 == 3 ? 2 : 1;
            d->dilation_w = tu_randint(&s, 1, 2);
            d->padding = (axmul_padding)(it % 3);
            if (d->padding == AXMUL_PADDING_EXPLICIT) {
                d->pad_left = tu_randint(&s, 0, 3);
                d->pad_right = tu_randint(&s, 0, 3);
                d->pad_top = tu_randint(&s, 0, 1);
            }
            int oh, ow;
            if (axmul_conv_output_shape(d, &oh, &ow) != AXMUL_OK)
                continue;
            fill_case(&s, &c, oh, ow, -1.0f, 2.0f, -1.0f, 1.0f);
            compare_with_ref(&c, it % 2 ? ts : tu, 1 + it % 3);
            rcase_free(&c);
        }
        /* npix = 257, 320, 321, 448: last chunks of 1, 64, 65 and 192 pixels */
        const int widths[] = {257, 320, 321, 448};
        for (size_t k = 0; k < 4; k++) {
            rcase c;
            int oh, ow, v[7] = {1, 1, widths[k], 2, 1, 3, 2};
            shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
            compare_with_ref(&c, k % 2 ? ts : tu, 1 + k % 2);
            rcase_free(&c);
        }
        axmul_table_free(tu);
        axmul_table_free(ts);
    }
    axmul_set_cpu_path("auto");
}
END_TEST

/* The engine keeps prepared forms of recent tables, recognised by their contents: a table whose
 * entries or signedness change between calls, more tables than the cache holds, and threads
 * that run different tables at once must all still give the reference results. */
START_TEST(test_prepared_table_cache)
{
    uint64_t s = tu_seed() ^ 0xcac4e;
    rcase c;
    int oh, ow, v[7] = {2, 9, 11, 5, 3, 3, 4};
    shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
    c.d.threads = 2;
    axmul_table *t = random_table(&s, 0);
    ck_assert(conv_equals_ref(&c, t));
    /* entries changed in place: one that every output uses, and a whole column */
    uint16_t *e = axmul_table_data_mut(t);
    for (int a = 0; a < 256; a++)
        e[a * 256 + 3] = (uint16_t)(e[a * 256 + 3] + 1000);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i += 97)
        e[i] ^= 0x0100;
    ck_assert(conv_equals_ref(&c, t));
    /* same entries, read as signed: a different prepared form (entries offset by 32768) */
    axmul_table_set_signed(t, 1);
    ck_assert(conv_equals_ref(&c, t));
    axmul_table_set_signed(t, 0);
    ck_assert(conv_equals_ref(&c, t));
    /* more tables than the cache keeps, twice round */
    axmul_table *many[7];
    for (int i = 0; i < 7; i++)
        many[i] = random_table(&s, i % 2);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 7; i++)
            ck_assert_msg(conv_equals_ref(&c, many[i]), "round %d table %d", round, i);
    /* concurrent callers with different tables */
    const int failed = run_case_threads(&c, many, 6, conv_equals_ref, 4);
    ck_assert_msg(failed < 0, "thread %d", failed);
    for (int i = 0; i < 7; i++)
        axmul_table_free(many[i]);
    axmul_table_free(t);
    rcase_free(&c);
}
END_TEST

/* A process that forks while another thread is inside the engine (holding the table cache's
 * lock, with some luck) must give its child a usable engine: children convolve once under an
 * alarm, so a child left with a held lock would be killed and fail the test. Single-threaded
 * convolutions: OpenMP thread pools do not survive fork anyway. The auto backend: where a GPU
 * is present the parent runs on it, and the children must fall back to the CPU (a CUDA context
 * does not survive fork either; tests/check_cuda.c tests that alone). */
typedef struct {
    const rcase *c;
    axmul_table **tables;
    volatile int stop;
} churn_job;

static void *churn(void *arg)
{
    churn_job *j = arg;
    float *y = malloc(j->c->ny * sizeof(float));
    for (int i = 0; !j->stop; i++) /* six tables: misses and insertions into a cache of four */
        axmul_conv2d(&j->c->d, j->tables[i % 6], j->c->x, j->c->w, y, NULL);
    free(y);
    return NULL;
}

START_TEST(test_fork_while_converting)
{
#if defined(__SANITIZE_ADDRESS__)
    /* gcc 12's AddressSanitizer runtime does not hold its allocator's lock across fork(): a child
     * forked while the other thread allocates can hang in malloc, whatever this library does */
    fprintf(stderr, "note: fork test skipped under AddressSanitizer\n");
    return;
#endif
    uint64_t s = tu_seed() ^ 0xf04c;
    rcase c;
    int oh, ow, v[7] = {1, 6, 6, 3, 3, 3, 4};
    shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
    c.d.threads = 1;
    axmul_table *tables[6];
    for (int i = 0; i < 6; i++)
        tables[i] = random_table(&s, 0);
    float *ref = malloc(c.ny * sizeof(float));
    ck_assert_int_eq(axmul_conv2d_ref(&c.d, tables[0], c.x, c.w, ref, NULL), AXMUL_OK);
    churn_job job = {&c, tables, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, churn, &job), 0);
    for (int k = 0; k < 40; k++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            alarm(20);
            float *y = malloc(c.ny * sizeof(float));
            int ok = axmul_conv2d(&c.d, tables[0], c.x, c.w, y, NULL) == AXMUL_OK &&
                     memcmp(y, ref, c.ny * sizeof(float)) == 0;
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "child %d: status %d (a signal means it hung)", k, status);
    }
    job.stop = 1;
    pthread_join(th, NULL);
    for (int i = 0; i < 6; i++)
        axmul_table_free(tables[i]);
    free(ref);
    rcase_free(&c);
}
END_TEST

/* The first axmul_cuda_available() probes the CUDA driver (which dlopen()s it) in whatever thread
 * gets there first; a child forked meanwhile must get a usable library (it probes again, since
 * the parent's probe had not finished). The probe runs once per process and takes about a
 * millisecond, so each of 60 rounds is a fresh process (this test's process never probes) that
 * starts a probing thread and forks children until the probe is over. Meaningful in CUDA builds;
 * the others answer at once. */
static void *probe_thread(void *arg)
{
    axmul_cuda_available();
    *(volatile int *)arg = 1;
    return NULL;
}

static int probe_round(void)
{
    volatile int done = 0;
    pthread_t th;
    if (pthread_create(&th, NULL, probe_thread, (void *)&done) != 0)
        return 1;
    int bad = 0, kids = 0;
    do {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            alarm(20);
            axmul_status st = axmul_cuda_available();
            _exit(st == AXMUL_OK || st == AXMUL_ERR_NO_DEVICE || st == AXMUL_ERR_NOT_BUILT ? 0 : 1);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad++;
        kids++;
    } while (!done && kids < 200);
    pthread_join(th, NULL);
    return bad;
}

START_TEST(test_fork_during_cuda_probe)
{
#if defined(__SANITIZE_ADDRESS__)
    fprintf(stderr, "note: fork test skipped under AddressSanitizer (see the test above)\n");
    return;
#endif
    for (int round = 0; round < 60; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            alarm(60);
            _exit(probe_round() ? 1 : 0);
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "round %d: %s (status %d)",
                      round,
                      WIFEXITED(status) ? "a child forked during the probe crashed or hung"
                                        : "the probing process died",
                      status);
    }
}
END_TEST

START_TEST(test_batch_and_threads_independence)
{
    uint64_t s = tu_seed() ^ 0x55;
    axmul_table *t = random_table(&s, 0);
    axmul_conv_desc d;
    axmul_conv_desc_init(&d);
    d.n = 7;
    d.h = 9;
    d.w = 10;
    d.c = 3;
    d.kh = d.kw = 3;
    d.co = 4;
    d.input_range_set = d.filter_range_set = 1; /* calibrated ranges: no batch-mate influence */
    d.input_range = (axmul_range){-1, 2};
    d.filter_range = (axmul_range){-1, 1};
    size_t per_in = 9 * 10 * 3, per_out = 9 * 10 * 4;
    float *x = malloc(7 * per_in * sizeof(float)), w[3 * 3 * 3 * 4];
    for (size_t i = 0; i < 7 * per_in; i++)
        x[i] = tu_randf(&s, -1, 2);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        w[i] = tu_randf(&s, -1, 1);
    float *y7 = malloc(7 * per_out * sizeof(float)), *y1 = malloc(per_out * sizeof(float));
    float *yt = malloc(7 * per_out * sizeof(float));
    ck_assert_int_eq(axmul_conv2d(&d, t, x, w, y7, NULL), AXMUL_OK);
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!tc_use_cpu_path(cpu_paths[pi]))
            continue;
        for (int th = 1; th <= 3; th++) {
            d.threads = th;
            ck_assert_int_eq(axmul_conv2d(&d, t, x, w, yt, NULL), AXMUL_OK);
            ck_assert_msg(memcmp(yt, y7, 7 * per_out * sizeof(float)) == 0, "path %s threads %d",
                          cpu_paths[pi], th);
        }
    }
    axmul_set_cpu_path("auto");
    d.threads = 0;
    d.n = 1;
    for (int img = 0; img < 7; img++) {
        ck_assert_int_eq(axmul_conv2d(&d, t, x + img * per_in, w, y1, NULL), AXMUL_OK);
        ck_assert_msg(memcmp(y1, y7 + img * per_out, per_out * sizeof(float)) == 0,
                      "image %d differs between batch 1 and batch 7", img);
    }
    free(x);
    free(y7);
    free(y1);
    free(yt);
    axmul_table_free(t);
}
END_TEST

/* All entries 65535 and K = 70,000 taps: 65535 * 70000 overflows 32 bits, the engine must still
 * match the 64-bit reference exactly. */
START_TEST(test_accumulator_safety)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(t)[i] = 65535;
    axmul_dense_desc dd;
    axmul_dense_desc_init(&dd);
    dd.n = 2;
    dd.in = 70000;
    dd.out = 2;
    float *x = malloc(2 * 70000 * sizeof(float)), *w = malloc(70000 * 2 * sizeof(float));
    for (int i = 0; i < 2 * 70000; i++) {
        x[i] = (float)(i % 5);
        w[i] = (float)(i % 3) - 1;
    }
    float y[4], r[4];
    ck_assert_int_eq(axmul_dense_ref(&dd, t, x, w, r, NULL), AXMUL_OK);
    for (size_t pi = 0; pi < NPATHS; pi++) {
        if (!tc_use_cpu_path(cpu_paths[pi]))
            continue;
        ck_assert_int_eq(axmul_dense(&dd, t, x, w, y, NULL), AXMUL_OK);
        ck_assert_msg(memcmp(y, r, sizeof y) == 0, "path %s", cpu_paths[pi]);
    }
    axmul_set_cpu_path("auto");
    /* acc = 70000 * 65535 - zw * sum(qa) (zx = 0, input range [0, 4]); zw = 128 */
    ck_assert(y[0] > 0);
    free(x);
    free(w);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_backends_and_paths)
{
    axmul_status s = axmul_cuda_available();
    ck_assert_msg(s == AXMUL_OK || s == AXMUL_ERR_NOT_BUILT || s == AXMUL_ERR_NO_DEVICE, "%s",
                  axmul_strerror(s));
    if (s != AXMUL_OK) {
        ck_assert_int_gt((int)strlen(axmul_error_detail()), 0);
        float x[4] = {0, 1, 2, 3}, w[1] = {1}, y[4];
        axmul_conv_desc d;
        desc_2x2(&d, 1, 1, AXMUL_PADDING_VALID);
        d.backend = AXMUL_BACKEND_CUDA;
        axmul_table *t;
        ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
        ck_assert_int_eq(axmul_conv2d(&d, t, x, w, y, NULL), s);
        d.backend = AXMUL_BACKEND_AUTO; /* falls back to the CPU */
        axmul_conv_info info;
        ck_assert_int_eq(axmul_conv2d(&d, t, x, w, y, &info), AXMUL_OK);
        ck_assert_int_eq(info.backend, AXMUL_BACKEND_CPU);
        ck_assert(info.device_seconds == 0.0);
        axmul_table_free(t);
    }
    /* the timed choice between AVX2 and portable, used without AVX-512: one of them, once */
    const char *cal = axmul__cpu_calibrated();
    ck_assert_msg(strcmp(cal, "avx2") == 0 || strcmp(cal, "portable") == 0, "%s", cal);
    ck_assert_ptr_eq(cal, axmul__cpu_calibrated());
    if (strcmp(cal, "avx2") == 0)
        ck_assert_int_eq(axmul_set_cpu_path("avx2"), AXMUL_OK); /* only where AVX2 runs */
    ck_assert_int_eq(axmul_set_cpu_path("portable"), AXMUL_OK);
    const char *in_use = NULL;
    ck_assert_int_eq(axmul_cpu_path(&in_use), AXMUL_OK);
    ck_assert_str_eq(in_use, "portable");
    ck_assert_int_eq(axmul_set_cpu_path("bogus"), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(axmul_error_detail(), "bogus") != NULL);
    /* a refused name leaves the choice in force */
    ck_assert_int_eq(axmul_cpu_path(&in_use), AXMUL_OK);
    ck_assert_str_eq(in_use, "portable");
    ck_assert_int_eq(axmul_set_cpu_path("auto"), AXMUL_OK);
}
END_TEST

/* info.work_bytes: the engine's workspace follows the layout documented in doc/performance.md
 * (quantized input and its planar copy, filter codes and sums, per thread K*256
 * activation bytes and the accumulators), each piece rounded up to 64 bytes. */
START_TEST(test_work_bytes)
{
    uint64_t s = tu_seed() ^ 0x3b;
    axmul_table *t = random_table(&s, 0);
    const int v[7] = {2, 20, 18, 24, 3, 3, 40};
    ck_assert_int_lt(2 * 20 * 18, AXMUL__ROWS_MIN_PIXELS); /* no row tables (check_cpulayers) */
    rcase c;
    int oh, ow;
    shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
    c.d.backend = AXMUL_BACKEND_CPU; /* the auto backend takes a GPU where one is present */
    float *y = malloc(c.ny * sizeof(float));
    const size_t nx = c.nx, k = 3 * 3 * 24, co = 40;
    size_t per_thread[3] = {0};
    for (int th = 1; th <= 2; th++) {
        axmul_conv_info info;
        c.d.threads = th;
        ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, &info), AXMUL_OK);
        const size_t low = 2 * nx + co * k + 8 * co + (size_t)th * k * 256;
        /* per thread: sum(qa), the 32- and 64-bit sums and the float outputs of AXMUL__KCH
         * channels */
        const size_t high = low + (size_t)th * (256 * (8 + 16 * AXMUL__KCH) + 64 * 5) + 64 * 8;
        ck_assert_msg(info.work_bytes >= low && info.work_bytes <= high,
                      "%d threads: work_bytes %zu outside [%zu, %zu]", th, info.work_bytes, low,
                      high);
        per_thread[th] = info.work_bytes;
    }
    ck_assert_uint_ge(per_thread[2] - per_thread[1], k * 256 + 256 * (8 + 12 * AXMUL__KCH));
    axmul_conv_info info;
    ck_assert_int_eq(axmul_conv2d_ref(&c.d, t, c.x, c.w, y, &info), AXMUL_OK);
    ck_assert_uint_eq(info.work_bytes, 0);
    free(y);
    rcase_free(&c);
    axmul_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpu");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kernels_against_ref);
    tcase_add_test(tc, test_fast_matches_ref_random);
    tcase_add_test(tc, test_padded_shapes);
    tcase_add_test(tc, test_paths_quantization_edges);
    tcase_add_test(tc, test_quantizers_match_reference);
    tcase_add_test(tc, test_few_valued_weights);
    tcase_add_test(tc, test_fast_matches_ref_edge_shapes);
    tcase_add_test(tc, test_wide_rows_and_partial_chunks);
    tcase_add_test(tc, test_prepared_table_cache);
    tcase_add_test(tc, test_fork_while_converting);
    tcase_add_test(tc, test_fork_during_cuda_probe);
    tcase_add_test(tc, test_batch_and_threads_independence);
    tcase_add_test(tc, test_accumulator_safety);
    tcase_add_test(tc, test_backends_and_paths);
    tcase_add_test(tc, test_work_bytes);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
