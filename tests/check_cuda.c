/* CUDA backend: bit-identical to the CPU engine on every feature. Exits 77 (SKIP) with the
 * reason when the build has no CUDA or no usable device is present. Runs without Check's fork
 * mode: a CUDA context does not survive fork(). */
#include <sys/wait.h>
#include <unistd.h>

#include "axmul.h"
#include "convcase.h"
#include "testutil.h"

/* want_path: the kernel that must run (axmul_conv_info.path), or NULL for the column kernel. */
static void cuda_vs_cpu_path(const rcase *c, const axmul_table *t, const char *what,
                             const char *want_path)
{
    float *g = malloc(c->ny * sizeof(float)), *r = malloc(c->ny * sizeof(float));
    axmul_conv_desc d = c->d;
    char desc[256];
    describe(&d, desc, sizeof desc);
    d.backend = AXMUL_BACKEND_CPU;
    ck_assert_msg(axmul_conv2d(&d, t, c->x, c->w, r, NULL) == AXMUL_OK, "%s", axmul_error_detail());
    d.backend = AXMUL_BACKEND_CUDA;
    axmul_conv_info info;
    ck_assert_msg(axmul_conv2d(&d, t, c->x, c->w, g, &info) == AXMUL_OK, "%s: %s", desc,
                  axmul_error_detail());
    /* the default (want_path NULL) runs the cached column kernel or, on layers the expanded
     * kernel serves, either design (axmul__cuda_auto_expanded: by the launch's blocks); the
     * shared-table kernel reads the table through the read-only cache where a block cannot have
     * 128 KiB of shared memory (sm_75) */
    if (want_path)
        ck_assert_msg(strcmp(info.path, want_path) == 0 || (strcmp(want_path, "cuda-shared") == 0 &&
                                                            strcmp(info.path, "cuda-cached") == 0),
                      "%s: ran %s, expected %s", desc, info.path, want_path);
    else
        ck_assert_msg(strcmp(info.path, "cuda-cached") == 0 ||
                          (expects_expanded(&d) && strcmp(info.path, "cuda-expanded") == 0),
                      "%s: ran %s by default", desc, info.path);
    ck_assert_msg(info.device_seconds > 0.0, "%s: no kernel time", desc);
    char ctx[300];
    snprintf(ctx, sizeof ctx, "%s %s: cuda against cpu", what, desc);
    assert_same_bits(g, r, c->ny, ctx);
    free(g);
    free(r);
}

static void cuda_vs_cpu(const rcase *c, const axmul_table *t, const char *what)
{
    cuda_vs_cpu_path(c, t, what, NULL);
}

static const char *expanded_path(const axmul_conv_desc *d)
{
    return expects_expanded(d) ? "cuda-expanded" : "cuda-cached";
}

START_TEST(test_random_cases)
{
    uint64_t s = tu_seed() ^ 0xc0da;
    axmul_table *tu = random_table(&s, 0), *ts = random_table(&s, 1), *ex;
    ck_assert_int_eq(axmul_table_create_exact(0, &ex), AXMUL_OK);
    for (int it = 0; it < 150; it++) {
        rcase c;
        random_case(&s, &c);
        cuda_vs_cpu(&c, it % 3 == 0 ? ex : it % 3 == 1 ? tu : ts, "random");
        rcase_free(&c);
    }
    axmul_table_free(tu);
    axmul_table_free(ts);
    axmul_table_free(ex);
}
END_TEST

/* The shapes of convcase.h's edge_shapes. */
START_TEST(test_edge_shapes)
{
    uint64_t s = tu_seed() ^ 0x12;
    axmul_table *t = random_table(&s, 0);
    for (int k = 0; k < N_EDGE_SHAPES; k++) {
        rcase c;
        edge_case(&s, k, &c);
        cuda_vs_cpu(&c, t, "edge");
        rcase_free(&c);
    }
    axmul_table_free(t);
}
END_TEST

/* convcase.h's padded_shapes. */
START_TEST(test_padded_shapes)
{
    uint64_t s = tu_seed() ^ 0x9ad;
    axmul_table *t[2] = {random_table(&s, 0), random_table(&s, 1)};
    for (int k = 0; k < N_PADDED_SHAPES; k++) {
        rcase c;
        padded_case(&s, k, &c);
        cuda_vs_cpu(&c, t[k % 2], "padded");
        rcase_free(&c);
    }
    axmul_table_free(t[0]);
    axmul_table_free(t[1]);
}
END_TEST

/* convcase.h's group_shapes: every tiling and activation load mode of the kernels. */
START_TEST(test_groups_and_depthwise)
{
    uint64_t s = tu_seed() ^ 0x6a;
    axmul_table *t[2] = {random_table(&s, 0), random_table(&s, 1)};
    for (int k = 0; k < N_GROUP_SHAPES; k++)
        for (int sgn = 0; sgn < 2; sgn++) {
            rcase c;
            group_shape_case(&s, k, &c);
            cuda_vs_cpu(&c, t[sgn], sgn ? "groups signed" : "groups");
            rcase_free(&c);
        }
    axmul_table_free(t[0]);
    axmul_table_free(t[1]);
}
END_TEST

/* 70,000 taps per output with an all-65535 table overflow 32-bit sums; both activation load
 * widths (k a multiple of 4 or not). */
START_TEST(test_dense_and_accumulators)
{
    axmul_table *t = saturated_table();
    for (int k = 70000; k <= 70001; k++) {
        rcase c;
        long_dense_case(&c, 3, k, 5);
        cuda_vs_cpu(&c, t, "dense K=70000");
        rcase_free(&c);
    }
    /* launches split over the input channels (split-K): the benchmark's dense layer, and a
     * strided 1x1 layer with padding on a few pixels */
    uint64_t s = tu_seed() ^ 0x5b1;
    axmul_table *r = random_table(&s, 1);
    rcase c;
    long_dense_case(&c, 256, 1936, 120);
    cuda_vs_cpu(&c, r, "dense 1936->120 b256");
    rcase_free(&c);
    int oh, ow;
    const int v[7] = {2, 3, 3, 1024, 1, 1, 40};
    shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
    c.d.stride_h = c.d.stride_w = 2;
    c.d.padding = AXMUL_PADDING_EXPLICIT;
    c.d.pad_top = c.d.pad_left = c.d.pad_bottom = c.d.pad_right = 1;
    ck_assert_int_eq(axmul_conv_output_shape(&c.d, &oh, &ow), AXMUL_OK);
    c.ny = (size_t)c.d.n * oh * ow * c.d.co;
    cuda_vs_cpu(&c, r, "1x1 stride 2, padded");
    rcase_free(&c);
    axmul_table_free(r);
    axmul_table_free(t);
}
END_TEST

/* The column kernel with its table through the read-only cache (the default's column kernel,
 * the texture-like baseline of the benchmark) and in shared memory give the same bits, as does
 * AXMUL_CUDA_TABLE=auto (the default spelled out); a wrong AXMUL_CUDA_TABLE is an error naming
 * it, never a silent fallback. */
START_TEST(test_table_placements)
{
    uint64_t s = tu_seed() ^ 0x7ab;
    axmul_table *t = random_table(&s, 1);
    const char *env[3] = {"cached", "shared", "auto"};
    const char *want[3] = {"cuda-cached", "cuda-shared", NULL};
    for (int e = 0; e < 3; e++) {
        ck_assert_int_eq(setenv("AXMUL_CUDA_TABLE", env[e], 1), 0);
        for (int k = e; k < N_EDGE_SHAPES; k += 3) {
            rcase c;
            edge_case(&s, k, &c);
            cuda_vs_cpu_path(&c, t, env[e], want[e]);
            rcase_free(&c);
        }
        for (int k = e; k < N_GROUP_SHAPES; k += 3) {
            rcase c;
            group_shape_case(&s, k, &c);
            cuda_vs_cpu_path(&c, t, env[e], want[e]);
            rcase_free(&c);
        }
    }
    ck_assert_int_eq(setenv("AXMUL_CUDA_TABLE", "texture", 1), 0);
    rcase c;
    edge_case(&s, 0, &c);
    float *y = malloc(c.ny * sizeof(float));
    c.d.backend = AXMUL_BACKEND_CUDA;
    ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, NULL), AXMUL_ERR_CUDA);
    ck_assert_msg(strstr(axmul_error_detail(), "AXMUL_CUDA_TABLE=texture"), "%s",
                  axmul_error_detail());
    unsetenv("AXMUL_CUDA_TABLE");
    free(y);
    rcase_free(&c);
    axmul_table_free(t);
}
END_TEST

/* AXMUL_CUDA_TABLE=expanded: the expanded-table kernel on the layers it serves, the column
 * kernel on the others (depthwise, sums over more than 32,768 taps), the same bits everywhere. */
START_TEST(test_expanded_table)
{
    uint64_t s = tu_seed() ^ 0xe7a;
    axmul_table *t[2] = {random_table(&s, 0), random_table(&s, 1)};
    ck_assert_int_eq(setenv("AXMUL_CUDA_TABLE", "expanded", 1), 0);
    for (int it = 0; it < 60; it++) {
        rcase c;
        random_case(&s, &c);
        cuda_vs_cpu_path(&c, t[it % 2], "expanded, random", expanded_path(&c.d));
        rcase_free(&c);
    }
    for (int k = 0; k < N_EDGE_SHAPES; k++) {
        rcase c;
        edge_case(&s, k, &c);
        cuda_vs_cpu_path(&c, t[k % 2], "expanded, edge", expanded_path(&c.d));
        rcase_free(&c);
    }
    for (int k = 0; k < N_GROUP_SHAPES; k++) {
        rcase c;
        group_shape_case(&s, k, &c);
        cuda_vs_cpu_path(&c, t[k % 2], "expanded, groups", expanded_path(&c.d));
        rcase_free(&c);
    }
    for (int k = 0; k < N_PADDED_SHAPES; k++) {
        rcase c;
        padded_case(&s, k, &c);
        cuda_vs_cpu_path(&c, t[k % 2], "expanded, padded", expanded_path(&c.d));
        rcase_free(&c);
    }
    /* grouped layers of enough pixels: 4-byte and byte activation loads, partial tiles */
    const int gv[2][7] = {{4, 32, 32, 32, 3, 3, 48}, {3, 40, 40, 6, 3, 3, 9}};
    const int gg[2] = {4, 3};
    for (int k = 0; k < 2; k++) {
        rcase c;
        int oh, ow;
        grouped_case(&s, gv[k], AXMUL_PADDING_SAME, gg[k], &c, &oh, &ow);
        cuda_vs_cpu_path(&c, t[k], "expanded, groups", "cuda-expanded");
        rcase_free(&c);
    }
    axmul_table *sat = saturated_table();
    rcase c;
    /* near the longest sums it takes (32,760 x 65535 < 2^32; the host run tests 32,768) on
     * 4096 pixels, the fewest it runs on */
    int oh, ow;
    const int kv[7] = {1, 64, 64, 3640, 3, 3, 3};
    shaped_case(&s, kv, AXMUL_PADDING_SAME, &c, &oh, &ow);
    cuda_vs_cpu_path(&c, sat, "expanded, K=32760", "cuda-expanded");
    rcase_free(&c);
    long_dense_case(&c, 3, 70001, 5);
    cuda_vs_cpu_path(&c, sat, "expanded, K=70001 (column kernel)", "cuda-cached");
    rcase_free(&c);
    unsetenv("AXMUL_CUDA_TABLE");
    axmul_table_free(sat);
    axmul_table_free(t[0]);
    axmul_table_free(t[1]);
}
END_TEST

/* The device keeps the last table, recognised by its entries: a table changed in place, the
 * same entries read as signed, and threads that run different tables at once (their calls are
 * serialised around the one device copy) must all give the CPU's results. */
static int cuda_equals_cpu(const rcase *c, const axmul_table *t)
{
    float *g = malloc(c->ny * sizeof(float)), *r = malloc(c->ny * sizeof(float));
    axmul_conv_desc d = c->d;
    d.backend = AXMUL_BACKEND_CPU;
    int ok = g && r && axmul_conv2d(&d, t, c->x, c->w, r, NULL) == AXMUL_OK;
    d.backend = AXMUL_BACKEND_CUDA;
    ok = ok && axmul_conv2d(&d, t, c->x, c->w, g, NULL) == AXMUL_OK &&
         memcmp(g, r, c->ny * sizeof(float)) == 0;
    free(g);
    free(r);
    return ok;
}

START_TEST(test_device_table_cache)
{
    uint64_t s = tu_seed() ^ 0x7ab1e;
    rcase c;
    int oh, ow;
    const int v[7] = {2, 12, 10, 8, 3, 3, 20};
    shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
    axmul_table *t = random_table(&s, 0);
    ck_assert_msg(cuda_equals_cpu(&c, t), "first call: %s", axmul_error_detail());
    uint16_t *e = axmul_table_data_mut(t);
    for (int a = 0; a < 256; a++) /* one weight's column, and scattered entries */
        e[a * 256 + 7] = (uint16_t)(e[a * 256 + 7] + 1000);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i += 101)
        e[i] ^= 0x0100;
    ck_assert_msg(cuda_equals_cpu(&c, t), "table changed in place");
    axmul_table_set_signed(t, 1);
    ck_assert_msg(cuda_equals_cpu(&c, t), "same entries, signed");
    axmul_table_set_signed(t, 0);
    axmul_table *many[4];
    for (int i = 0; i < 4; i++)
        many[i] = random_table(&s, i % 2);
    const int failed = run_case_threads(&c, many, 4, cuda_equals_cpu, 3);
    ck_assert_msg(failed < 0, "thread %d (table %d) differs from the CPU", failed, failed);
    for (int i = 0; i < 4; i++)
        axmul_table_free(many[i]);
    axmul_table_free(t);
    rcase_free(&c);
}
END_TEST

/* The default kernel on the benchmark's 3x3 56x56x64->64 layer (batch 16: 196 blocks of 1024
 * pixels, more than any GPU of up to 196 multiprocessors needs) is the expanded one. */
START_TEST(test_default_kernel)
{
    uint64_t s = tu_seed() ^ 0xdef;
    axmul_table *t = random_table(&s, 0);
    rcase c;
    int oh, ow;
    const int v[7] = {16, 56, 56, 64, 3, 3, 64};
    shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
    unsetenv("AXMUL_CUDA_TABLE");
    cuda_vs_cpu_path(&c, t, "default", "cuda-expanded");
    rcase_free(&c);
    axmul_table_free(t);
}
END_TEST

/* A child of fork() after CUDA ran cannot use the parent's context: the CUDA backend says so
 * (naming fork), the auto backend computes on the CPU, the same bits. Runs in this suite's
 * no-fork mode, so that the parent's context exists before the fork. */
START_TEST(test_fork_after_cuda)
{
    uint64_t s = tu_seed() ^ 0xf0c;
    axmul_table *t = random_table(&s, 0);
    rcase c;
    edge_case(&s, 1, &c);
    c.d.threads = 1; /* OpenMP thread pools do not survive fork() either */
    float *g = malloc(c.ny * sizeof(float)), *r = malloc(c.ny * sizeof(float));
    axmul_conv_desc d = c.d;
    d.backend = AXMUL_BACKEND_CUDA;
    ck_assert_int_eq(axmul_conv2d(&d, t, c.x, c.w, g, NULL), AXMUL_OK);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(60);
        axmul_conv_info info;
        int code = 0;
        if (axmul_conv2d(&d, t, c.x, c.w, r, NULL) != AXMUL_ERR_NO_DEVICE ||
            !strstr(axmul_error_detail(), "fork()"))
            code = 3;
        d.backend = AXMUL_BACKEND_AUTO;
        if (!code && (axmul_conv2d(&d, t, c.x, c.w, r, &info) != AXMUL_OK ||
                      info.backend != AXMUL_BACKEND_CPU))
            code = 4;
        if (!code && memcmp(g, r, c.ny * sizeof(float)) != 0)
            code = 5;
        _exit(code);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child: status %d (3: CUDA not refused by name, 4: auto not on the CPU, 5: "
                  "different bits, a signal: crashed or hung)",
                  status);
    /* the parent's context is still usable */
    ck_assert_int_eq(axmul_conv2d(&d, t, c.x, c.w, r, NULL), AXMUL_OK);
    ck_assert_int_eq(memcmp(g, r, c.ny * sizeof(float)), 0);
    free(g);
    free(r);
    rcase_free(&c);
    axmul_table_free(t);
}
END_TEST

/* A whole network on the device: LeNet-5 (random weights, calibrated) with a table per layer,
 * unsigned and signed, so that consecutive layers swap the device's cached table; the scores
 * must be the CPU's bit for bit, with calibrated and with per-batch ranges. */
START_TEST(test_network_layer_tables)
{
    enum { N = 70 };
    uint64_t s = tu_seed() ^ 0x1e7;
    axmul_model *m;
    ck_assert_int_eq(axmul_model_create_lenet5(s, &m), AXMUL_OK);
    float *x = malloc(sizeof(float) * N * 28 * 28), *sc[2];
    for (int i = 0; i < N * 28 * 28; i++)
        x[i] = tu_randf(&s, 0.0f, 1.0f);
    ck_assert_int_eq(axmul_model_calibrate(m, x, N, 32, 0), AXMUL_OK);
    const int nl = axmul_model_num_layers(m);
    const axmul_table **lt = calloc((size_t)nl, sizeof *lt);
    axmul_table *tabs[3] = {random_table(&s, 0), random_table(&s, 1), random_table(&s, 0)};
    for (int i = 0, k = 0; i < nl; i++) /* conv1 T0, conv2 T1 (signed), fc1 T2, fc2 T0, ... */
        if (!strcmp(axmul_model_layer_type(m, i), "conv2d") ||
            !strcmp(axmul_model_layer_type(m, i), "dense"))
            lt[i] = tabs[k++ % 3];
    for (int batch_ranges = 0; batch_ranges < 2; batch_ranges++) {
        uint8_t pred[2][N];
        for (int k = 0; k < 2; k++) {
            axmul_net_options o;
            axmul_net_options_init(&o);
            o.layer_tables = lt;
            o.batch_ranges = batch_ranges;
            o.backend = k ? AXMUL_BACKEND_CUDA : AXMUL_BACKEND_CPU;
            sc[k] = malloc(sizeof(float) * N * 10);
            ck_assert_msg(axmul_model_predict(m, &o, x, N, pred[k], sc[k]) == AXMUL_OK, "%s",
                          axmul_error_detail());
        }
        assert_same_bits(sc[1], sc[0], (size_t)N * 10,
                         batch_ranges ? "network, per-batch ranges" : "network, calibrated");
        ck_assert_int_eq(memcmp(pred[0], pred[1], N), 0);
        free(sc[0]);
        free(sc[1]);
    }
    for (int k = 0; k < 3; k++)
        axmul_table_free(tabs[k]);
    free(lt);
    free(x);
    axmul_model_free(m);
}
END_TEST

int main(void)
{
    axmul_status st = axmul_cuda_available();
    if (st != AXMUL_OK) {
        fprintf(stderr, "SKIP: CUDA backend not usable here: %s (%s)\n", axmul_strerror(st),
                axmul_error_detail());
        return 77;
    }
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_random_cases);
    tcase_add_test(tc, test_edge_shapes);
    tcase_add_test(tc, test_padded_shapes);
    tcase_add_test(tc, test_groups_and_depthwise);
    tcase_add_test(tc, test_dense_and_accumulators);
    tcase_add_test(tc, test_table_placements);
    tcase_add_test(tc, test_expanded_table);
    tcase_add_test(tc, test_device_table_cache);
    tcase_add_test(tc, test_network_layer_tables);
    tcase_add_test(tc, test_default_kernel);
    tcase_add_test(tc, test_fork_after_cuda);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    tu_seed();
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
