/* Unit tests: the CPU backend's kernels for particular kinds of layer, through whole
 * convolutions on every path of lib/cpu/paths.h that has them: the row tables of layers of many
 * pixels and the direct kernels of depthwise layers, each against the reference convolution and
 * told apart from the chunk kernels by the working memory they report. (tests/check_cpu.c holds
 * the chunk kernels, the quantizers and the path selection.) */
#include <math.h>

#include "axmul.h"
#include "lib/cpu/cpu.h"
#include "lib/cpu/paths.h"
#include "lib/engine/engine.h"
#include "testutil.h"
#include "convcase.h"
#include "kernelcase.h"

/* Depthwise layers (groups = c = co) through the direct kernels (cpu.h) on every path that has
 * one, against the reference convolution: 8, 16, 24, 32 and 40 channels (whole vectors) and 9,
 * 19, 21 (a masked block), every padding kind with an input zero point (padding reads it), stride,
 * dilation, 3x3 filters (with the pair table where stride and dilation along the row are 1, under
 * any padding and any stride and dilation down the columns) and other sizes up to
 * AXMUL__DW_MAX_TAPS taps, signed and unsigned tables, a bias, a channel of scale 0 (+0 even where
 * its sum is negative), a table of all 0xFFFF (the largest sums); one filter of
 * AXMUL__DW_MAX_TAPS + 16 taps and layers of one input channel (c = 1, 1 to 13 outputs), which
 * the chunk kernels serve. The direct kernels are told apart by their working memory: no planar
 * copy of the input, no per-thread gather rows. */
START_TEST(test_depthwise_direct)
{
    uint64_t s = tu_seed() ^ 0xd3;
    /* n h w c kh kw, stride h w, dilation h w, padding (0 same, 1 valid, 2 explicit), threads,
     * then 0 (depthwise: co = groups = c) or co (one group of one input channel) */
    static const int shapes[][13] = {
        {1, 9, 11, 8, 3, 3, 1, 1, 1, 1, 0, 1},     {2, 10, 7, 19, 3, 3, 2, 1, 1, 1, 1, 2},
        {1, 13, 12, 32, 3, 3, 1, 2, 2, 1, 2, 2},   {3, 6, 9, 40, 5, 5, 1, 1, 1, 1, 0, 3},
        {1, 5, 6, 16, 1, 1, 1, 1, 1, 1, 0, 1},     {1, 4, 4, 9, 2, 3, 1, 1, 1, 1, 2, 2},
        {1, 18, 17, 24, 16, 16, 1, 1, 1, 1, 0, 2}, {1, 18, 17, 24, 16, 17, 1, 1, 1, 1, 0, 2},
        {2, 12, 12, 8, 3, 3, 3, 3, 2, 2, 0, 2},    {1, 30, 30, 21, 3, 3, 2, 2, 1, 1, 2, 2},
        {1, 3, 2, 16, 3, 3, 1, 1, 1, 1, 0, 1},     {1, 20, 20, 32, 3, 3, 1, 1, 1, 1, 0, 2},
        {1, 8, 9, 16, 3, 2, 1, 1, 1, 1, 0, 1},     {2, 10, 12, 19, 3, 3, 2, 1, 1, 1, 2, 2},
        {1, 9, 9, 24, 3, 3, 1, 1, 2, 1, 1, 1},     {1, 6, 5, 8, 3, 3, 1, 1, 1, 1, 1, 2},
        {4, 28, 28, 1, 3, 3, 1, 1, 1, 1, 1, 2, 6}, {2, 11, 10, 1, 5, 5, 2, 1, 1, 2, 0, 2, 13},
        {1, 9, 9, 1, 3, 3, 1, 1, 1, 1, 2, 1, 8},   {1, 7, 6, 1, 1, 2, 1, 1, 1, 1, 0, 1, 2}};
    int tested = 0;
    for (int pi = 0; pi < KC_NPATHS; pi++) {
        if (!tc_use_cpu_path(kc_paths[pi].name))
            continue;
        tested += kc_paths[pi].dw != NULL;
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            const int *v = shapes[k], co = v[12] ? v[12] : v[3];
            const int shape[7] = {v[0], v[1], v[2], v[3], v[4], v[5], co};
            rcase c;
            int oh, ow;
            const axmul_padding pad = v[10] == 0   ? AXMUL_PADDING_SAME
                                      : v[10] == 1 ? AXMUL_PADDING_VALID
                                                   : AXMUL_PADDING_EXPLICIT;
            grouped_case(&s, shape, pad, v[12] ? 1 : v[3], &c, &oh, &ow);
            c.d.stride_h = v[6];
            c.d.stride_w = v[7];
            c.d.dilation_h = v[8];
            c.d.dilation_w = v[9];
            if (pad == AXMUL_PADDING_EXPLICIT) {
                c.d.pad_top = 2;
                c.d.pad_bottom = 0;
                c.d.pad_left = 1;
                c.d.pad_right = 2;
            }
            ck_assert_int_eq(axmul_conv_output_shape(&c.d, &oh, &ow), AXMUL_OK);
            c.ny = (size_t)c.d.n * oh * ow * c.d.co;
            c.d.threads = v[11];
            c.d.backend = AXMUL_BACKEND_CPU;
            c.d.input_range_set = 1; /* zero point about 85: padding is not code 0 */
            c.d.input_range = (axmul_range){-1.5f, 3.0f};
            float *bias = malloc(sizeof(float) * (size_t)c.d.co);
            for (int o = 0; o < c.d.co; o++)
                bias[o] = tu_randf(&s, -1.0f, 1.0f);
            if (k % 2)
                c.d.bias = bias;
            if (k % 3 == 1) { /* channel 5 all zero: output scale 0 */
                c.d.per_channel = 1;
                for (size_t i = 5; i < c.nw; i += (size_t)c.d.co)
                    c.w[i] = 0.0f;
            }
            axmul_table *t = random_table(&s, (int)(k % 4 == 2));
            if (k == 6 || k == 10) /* the largest sums; negative sums, scale-0 channel 5 */
                for (unsigned e = 0; e < AXMUL_TABLE_ENTRIES; e++)
                    axmul_table_data_mut(t)[e] = k == 6 ? 0xFFFF : 0xFF00;
            float *y = malloc(c.ny * sizeof(float)), *r = malloc(c.ny * sizeof(float));
            char desc[256], ctx[320];
            describe(&c.d, desc, sizeof desc);
            snprintf(ctx, sizeof ctx, "path %s, %s", kc_paths[pi].name, desc);
            axmul_conv_info info;
            ck_assert_msg(axmul_conv2d_ref(&c.d, t, c.x, c.w, r, NULL) == AXMUL_OK, "%s: %s", ctx,
                          axmul_error_detail());
            ck_assert_msg(axmul_conv2d(&c.d, t, c.x, c.w, y, &info) == AXMUL_OK, "%s: %s", ctx,
                          axmul_error_detail());
            assert_same_bits(y, r, c.ny, ctx);
            const size_t taps = (size_t)v[4] * v[5];
            const int direct = kc_paths[pi].dw && taps <= AXMUL__DW_MAX_TAPS && !v[12];
            /* direct: codes, filter codes, 16 bytes per channel, the pair table of 3x3 filters
             * with stride and dilation 1 along the row, 6 pieces' alignment; chunks:
             * also the planar copy and 256 gathered pixels per tap */
            const size_t pairs = v[4] == 3 && v[5] == 3 && v[7] == 1 && v[9] == 1 ? 3 * 1024 : 0;
            ck_assert_msg(direct
                              ? info.work_bytes <= c.nx + (size_t)co * (taps + 16 + pairs) + 6 * 64
                              : info.work_bytes >= 2 * c.nx + taps * 256,
                          "%s: work_bytes %zu: the %s kernel did not run", ctx, info.work_bytes,
                          direct ? "direct" : "chunk");
            free(y);
            free(r);
            free(bias);
            axmul_table_free(t);
            rcase_free(&c);
        }
    }
    axmul_set_cpu_path("auto");
    if (!tested)
        fprintf(stderr, "note: no CPU path here has a direct depthwise kernel (chunk kernels "
                        "tested above)\n");
}
END_TEST

/* Every path's depthwise kernel, row by row, against its plain C twin axmul__dw_kernel_ref on
 * the kernel's own contract (cpu.h): random codes, weight codes, zero point, scales (some 0),
 * constant parts and weight zero points, with and without a bias, the pair table where
 * axmul__dw_pairs_fit; bit for bit. */
START_TEST(test_depthwise_kernel)
{
    uint64_t s = tu_seed() ^ 0xd4;
    /* n h w c kh kw, stride h w, dilation h w, padding (0 same, 1 valid) */
    static const int shapes[][11] = {
        {2, 7, 9, 8, 3, 3, 1, 1, 1, 1, 0},  {1, 6, 11, 19, 3, 3, 2, 1, 1, 1, 1},
        {1, 9, 8, 32, 3, 3, 1, 2, 1, 1, 0}, {1, 10, 10, 13, 5, 5, 1, 1, 2, 2, 0},
        {2, 5, 7, 24, 2, 3, 1, 1, 1, 1, 1}, {1, 4, 3, 40, 3, 3, 1, 1, 1, 1, 0}};
    uint16_t *tt = malloc((AXMUL_TABLE_ENTRIES + 32) * sizeof *tt); /* readable past the end */
    for (size_t e = 0; e < AXMUL_TABLE_ENTRIES + 32; e++)
        tt[e] = (uint16_t)tu_rand(&s);
    int tested = 0;
    for (int pi = 0; pi < KC_NPATHS; pi++) {
        if (!kc_paths[pi].dw || !kc_paths[pi].runs())
            continue;
        tested++;
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            const int *v = shapes[k];
            axmul_conv_desc d;
            axmul_conv_desc_init(&d);
            d.n = v[0], d.h = v[1], d.w = v[2], d.c = d.co = d.groups = v[3];
            d.kh = v[4], d.kw = v[5], d.stride_h = v[6], d.stride_w = v[7];
            d.dilation_h = v[8], d.dilation_w = v[9];
            d.padding = v[10] ? AXMUL_PADDING_VALID : AXMUL_PADDING_SAME;
            axmul__conv_plan p;
            ck_assert_int_eq(axmul__conv_geometry(&d, &p, NULL), AXMUL_OK);
            p.zx = tu_randint(&s, 0, 255);
            const int c = p.c, taps = p.k;
            const size_t nx = (size_t)p.n * p.h * p.w * c, ny = (size_t)p.n * p.oh * p.ow * c;
            uint8_t *qx = malloc(nx + 8), *wq = malloc((size_t)c * taps);
            float *sc = malloc(sizeof(float) * c), *bias = malloc(sizeof(float) * c);
            int32_t *base = malloc(sizeof(int32_t) * c), *zw = malloc(sizeof(int32_t) * c);
            uint32_t *P = malloc(sizeof(uint32_t) * 3 * 256 * c);
            float *y = malloc(sizeof(float) * ny), *r = malloc(sizeof(float) * ny);
            for (size_t i = 0; i < nx + 8; i++)
                qx[i] = (uint8_t)tu_rand(&s);
            for (size_t i = 0; i < (size_t)c * taps; i++)
                wq[i] = (uint8_t)tu_rand(&s);
            for (int o = 0; o < c; o++) {
                sc[o] = o % 5 == 3 ? 0.0f : tu_randf(&s, 1e-6f, 1e-3f);
                bias[o] = tu_randf(&s, -1.0f, 1.0f);
                base[o] = tu_randint(&s, -(1 << 24), 1 << 24);
                zw[o] = tu_randint(&s, 0, 255);
            }
            const int pairs = axmul__dw_pairs_fit(&p);
            if (pairs)
                axmul__dw_pairs_build(tt, wq, c, P);
            const axmul__dw_args got = {
                &p, qx, wq, tt, sc, base, zw, k % 2 ? bias : NULL, pairs ? P : NULL, y};
            axmul__dw_args want = got;
            want.y = r;
            for (int64_t row = 0; row < (int64_t)p.n * p.oh; row++) {
                kc_paths[pi].dw(&got, row);
                axmul__dw_kernel_ref(&want, row);
            }
            char ctx[160];
            snprintf(ctx, sizeof ctx, "%s dw kernel, shape %zu, zx %d, pairs %d", kc_paths[pi].name,
                     k, p.zx, pairs);
            assert_same_bits(y, r, ny, ctx);
            free(qx);
            free(wq);
            free(sc);
            free(bias);
            free(base);
            free(zw);
            free(P);
            free(y);
            free(r);
        }
    }
    free(tt);
    if (!tested)
        fprintf(stderr, "note: no CPU path here has a direct depthwise kernel: not tested\n");
}
END_TEST

/* Row tables (lib/cpu/cpu.h), on the paths that have a row kernel: layers of enough pixels and
 * channels per group, against the reference and against the same path without rows
 * (AXMUL_CPU_ROWS=0), bit for bit: blocks of 64 channels with padding channels, more than 256
 * taps (several 16-bit segments), groups, stride and dilation, signed tables, a bias, channels
 * whose output scale is 0 (per-channel ranges of an all-zero filter channel), and threads that
 * split a chunk's blocks. work_bytes says whether the rows were built (512 bytes per tap and
 * padded channel). */
START_TEST(test_row_tables)
{
    uint64_t s = tu_seed() ^ 0x4f5;
    /* n h w c kh kw co, groups, stride, dilation, threads */
    static const int shapes[][11] = {
        {2, 24, 24, 20, 3, 3, 40, 1, 1, 1, 2}, {1, 40, 40, 300, 1, 1, 70, 1, 1, 1, 2},
        {1, 36, 36, 32, 3, 3, 64, 2, 1, 1, 2}, {5, 30, 30, 8, 3, 3, 130, 1, 2, 1, 3},
        {1, 34, 34, 12, 3, 3, 16, 1, 1, 2, 1}, {1, 32, 32, 600, 1, 1, 24, 1, 1, 1, 2},
        {4, 32, 32, 24, 3, 3, 72, 1, 1, 1, 2}}; /* 4096 pixels: every path's rows_min */
    int tested = 0, rows_path = -1;
    for (int pi = 0; pi < (int)KC_NPATHS; pi++) {
        if (!kc_paths[pi].rows || axmul_set_cpu_path(kc_paths[pi].name) != AXMUL_OK)
            continue;
        tested++;
        rows_path = pi;
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            const int *v = shapes[k];
            rcase c;
            int oh, ow;
            grouped_case(&s, v, AXMUL_PADDING_SAME, v[7], &c, &oh, &ow);
            c.d.stride_h = c.d.stride_w = v[8];
            c.d.dilation_h = c.d.dilation_w = v[9];
            ck_assert_int_eq(axmul_conv_output_shape(&c.d, &oh, &ow), AXMUL_OK);
            c.ny = (size_t)c.d.n * oh * ow * c.d.co;
            c.d.threads = v[10];
            float *bias = malloc(sizeof(float) * (size_t)c.d.co);
            for (int o = 0; o < c.d.co; o++)
                bias[o] = tu_randf(&s, -1.0f, 1.0f);
            if (k % 2)
                c.d.bias = bias;
            if (k == 1) { /* channels 3 and 66 all zero: output scale 0 */
                c.d.per_channel = 1;
                for (size_t i = 0; i < c.nw; i++)
                    if (i % (size_t)c.d.co == 3 || i % (size_t)c.d.co == 66)
                        c.w[i] = 0.0f;
            }
            axmul_table *t = random_table(&s, (int)(k % 3 == 2));
            float *y = malloc(c.ny * sizeof(float)), *r = malloc(c.ny * sizeof(float)),
                  *y0 = malloc(c.ny * sizeof(float));
            char desc[256];
            describe(&c.d, desc, sizeof desc);
            axmul_conv_info info, info0;
            ck_assert_int_eq(axmul_conv2d_ref(&c.d, t, c.x, c.w, r, NULL), AXMUL_OK);
            ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, &info), AXMUL_OK);
            ck_assert_int_eq(setenv("AXMUL_CPU_ROWS", "0", 1), 0);
            ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y0, &info0), AXMUL_OK);
            unsetenv("AXMUL_CPU_ROWS");
            char ctx[320];
            snprintf(ctx, sizeof ctx, "%s rows %s", kc_paths[pi].name, desc);
            assert_same_bits(y, r, c.ny, ctx);
            assert_same_bits(y0, r, c.ny, ctx);
            const size_t cin_g = (size_t)(c.d.c / v[7]), cout_g = (size_t)(c.d.co / v[7]);
            const size_t rows_bytes =
                (size_t)v[7] * ((cout_g + 15) / 16 * 16) * (size_t)(v[4] * v[5]) * cin_g * 512;
            const int npix = c.d.n * oh * ow;
            if (npix >= kc_paths[pi].rows_min)
                ck_assert_msg(info.work_bytes >= info0.work_bytes + rows_bytes, "%s: no rows built",
                              ctx);
            else
                ck_assert_msg(info.work_bytes == info0.work_bytes, "%s: rows below %d pixels", ctx,
                              kc_paths[pi].rows_min);
            free(y);
            free(y0);
            free(r);
            free(bias);
            axmul_table_free(t);
            rcase_free(&c);
        }
    }
    /* a value of AXMUL_CPU_ROWS other than 0 or 1 is an error naming it, on any layer */
    {
        rcase c;
        int oh, ow;
        const int v[7] = {1, 5, 5, 2, 3, 3, 3};
        shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
        c.d.backend = AXMUL_BACKEND_CPU;
        axmul_table *t = random_table(&s, 0);
        float *y = malloc(c.ny * sizeof(float));
        ck_assert_int_eq(setenv("AXMUL_CPU_ROWS", "yes", 1), 0);
        ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, NULL), AXMUL_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(axmul_error_detail(), "AXMUL_CPU_ROWS=yes"), "%s",
                      axmul_error_detail());
        ck_assert_int_eq(setenv("AXMUL_CPU_ROWS", "1", 1), 0);
        ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, NULL), AXMUL_OK);
        unsetenv("AXMUL_CPU_ROWS");
        free(y);
        axmul_table_free(t);
        rcase_free(&c);
    }
    /* concurrent callers with different tables: each maps or takes the kept rows (driver.c) */
    if (rows_path >= 0) {
        ck_assert_int_eq(axmul_set_cpu_path(kc_paths[rows_path].name), AXMUL_OK);
        rcase c;
        int oh, ow;
        const int v[7] = {4, 32, 32, 24, 3, 3, 40};
        shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
        c.d.backend = AXMUL_BACKEND_CPU;
        axmul_table *many[4];
        for (int i = 0; i < 4; i++)
            many[i] = random_table(&s, i % 2);
        const int failed = run_case_threads(&c, many, 4, conv_equals_ref, 3);
        ck_assert_msg(failed < 0, "rows: thread %d differs from the reference", failed);
        for (int i = 0; i < 4; i++)
            axmul_table_free(many[i]);
        rcase_free(&c);
    }
    axmul_set_cpu_path("auto");
    if (!tested)
        fprintf(stderr, "note: no CPU path with a row kernel here: row tables not tested\n");
    /* "auto" on a CPU without AVX-512BW: whichever chunk kernel the timing picked, the layers
     * that rows serve run the AVX2 row kernel (select.c) and say so */
    int untimed = 0, avx2 = -1;
    for (int pi = 0; pi < (int)KC_NPATHS; pi++) {
        const int runs = kc_paths[pi].runs();
        untimed |=
            runs && (!strcmp(kc_paths[pi].name, "avx512bw") || !strcmp(kc_paths[pi].name, "vbmi"));
        if (runs && !strcmp(kc_paths[pi].name, "avx2"))
            avx2 = pi;
    }
    if (!untimed && avx2 >= 0) {
        rcase c;
        int oh, ow;
        const int v[7] = {2, 24, 24, 20, 3, 3, 40};
        shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
        c.d.backend = AXMUL_BACKEND_CPU;
        axmul_table *t = random_table(&s, 0);
        float *y = malloc(c.ny * sizeof(float));
        axmul_conv_info info;
        ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, &info), AXMUL_OK);
        ck_assert_msg(!strcmp(info.path, "avx2"), "auto with %s chunks ran rows as %s",
                      axmul__cpu_calibrated(), info.path);
        free(y);
        axmul_table_free(t);
        rcase_free(&c);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpulayers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_row_tables);
    tcase_add_test(tc, test_depthwise_kernel);
    tcase_add_test(tc, test_depthwise_direct);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
