/* The CUDA kernel's per-thread code (cuda/conv_kernel.h) run on the host over the launch grid,
 * chunk by chunk, exactly as cuda/conv.cu launches it, against the reference convolution. This
 * needs no GPU and no CUDA: it tests the kernel's indexing, padding, channel tiles, activation
 * load widths, 32/64-bit tap blocking and zero-point corrections in every build, so that a GPU
 * session only has to confirm the device-specific parts (tests/check_cuda.c). */
#include <math.h>

#include "axmul.h"
#include "cuda/job.h"
#include "lib/engine/engine.h"
#include "cuda/kernel.h"
#include "testutil.h"
#include "convcase.h"

enum { GUARD = 64 };

/* One block of the expanded kernel as cuda/conv.cu runs it, its threads one after the other
 * between the barriers: all build a stage, then all look it up. */
static void run_x_block(const axmul__cuda_job *job, int64_t nb, const uint8_t *qx, float *y,
                        uint64_t bx, int by, int bt, int vec4)
{
    const axmul__conv_plan *p = job->p;
    static uint32_t E[AXMUL__CUDA_X_STAGE_WORDS];
    axmul__cuda_x_state *st = malloc((size_t)bt * sizeof *st);
    ck_assert_ptr_nonnull(st);
    for (int tx = 0; tx < bt; tx++)
        axmul__cuda_x_init(&st[tx], p, nb, (int64_t)bx, by, tx, bt);
    const uint8_t *wtile = job->wt + (int64_t)by * p->k * AXMUL__CUDA_CO_TILE;
    for (int tap0 = 0; tap0 < p->k; tap0 += AXMUL__CUDA_X_TAPS) {
        const int nt = p->k - tap0 < AXMUL__CUDA_X_TAPS ? p->k - tap0 : AXMUL__CUDA_X_TAPS;
        memset(E, 0xa5, sizeof E); /* a stage must not depend on the previous one */
        for (int tx = 0; tx < bt; tx++)
            axmul__cuda_x_build(wtile, job->tt, tap0, nt, st[tx].halves, E, tx, bt);
        /* a stage builds its own taps only (the weight codes end after the last one), and only
         * the halves its row uses; all of those */
        for (size_t part = 0; part < 2 * AXMUL__CUDA_X_TAPS; part++) { /* (tap, half) */
            if (part / 2 < (size_t)nt && part % 2 < (size_t)st[0].halves)
                continue;
            const uint32_t *w = E + part * 256 * 4;
            size_t i = 0;
            while (i < 256 * 4 && w[i] == 0xa5a5a5a5u)
                i++;
            ck_assert_msg(i == 256 * 4, "stage tap %zu half %zu written", part / 2, part % 2);
        }
        for (int tx = 0; tx < bt; tx++)
            axmul__cuda_x_taps(&st[tx], p, qx, E, nt, vec4);
    }
    for (int tx = 0; tx < bt; tx++)
        axmul__cuda_x_finish(&st[tx], p, nb, by, bt, job->sum_qw, job->zw, job->oscale, y);
    free(st);
}

/* The kernels as the host runs them: the column kernel with the split-K slices that
 * cuda/conv.cu picks, with none, or with SPLIT_FORCED slices; the expanded kernel wherever it
 * can compute the layer (AXMUL_CUDA_TABLE=expanded leaves layers of few pixels to the column
 * kernel; here they test the expanded one too). */
enum { COLUMN, COLUMN_UNSPLIT, COLUMN_SPLIT_FORCED, EXPANDED, N_KINDS };
enum { SPLIT_FORCED = 3 };
static const char *const kind_names[N_KINDS] = {"column", "column unsplit", "column, 3 slices",
                                                "expanded"};

/* Whether kind runs differently from COLUMN on this layer (else the test skips it). */
static int kind_differs(const axmul__conv_plan *p, size_t chunk, int sms, int kind)
{
    const int split = axmul__cuda_splits(p, chunk ? chunk : axmul__cuda_chunk(p), sms);
    switch (kind) {
    case COLUMN_UNSPLIT:
        return split > 1;
    case COLUMN_SPLIT_FORCED:
        return p->groups == 1 && split != SPLIT_FORCED;
    case EXPANDED:
        return axmul__cuda_expandable(p);
    default:
        return 1;
    }
}

/* Every thread of every block of every launch, in the device's chunking unless chunk > 0, with
 * the block size that cuda/conv.cu picks on a GPU with sms multiprocessors; split launches
 * write their slices' sums, then every output element runs the finishing kernel's thread. */
static void run_grid(const axmul__cuda_job *job, size_t chunk, int sms, int kind)
{
    const int expanded = kind == EXPANDED;
    const axmul__conv_plan *p = job->p;
    const size_t in_img = (size_t)p->h * p->w * p->c, out_img = (size_t)p->oh * p->ow * p->co;
    const int mode = axmul__cuda_mode(p);
    if (chunk == 0)
        chunk = axmul__cuda_chunk(p);
    for (size_t i0 = 0; i0 < (size_t)p->n; i0 += chunk) {
        const size_t nb = (size_t)p->n - i0 < chunk ? (size_t)p->n - i0 : chunk;
        uint64_t gx, gy;
        int bt;
        axmul__cuda_launch_shape(p, nb, sms, expanded, &bt, &gx, &gy);
        ck_assert(bt >= 64 && bt % 32 == 0 &&
                  bt <= (expanded ? AXMUL__CUDA_X_THREADS : AXMUL__CUDA_PIX));
        ck_assert_uint_le(gy, 65535); /* the device's limit for grid rows */
        const int slices = kind == COLUMN_UNSPLIT        ? 1
                           : kind == COLUMN_SPLIT_FORCED ? SPLIT_FORCED
                           : kind == COLUMN              ? axmul__cuda_splits(p, nb, sms)
                                                         : 1;
        const size_t npix = nb * p->oh * p->ow;
        int64_t *part = NULL, *psq = NULL;
        if (slices > 1) {
            ck_assert(mode < 2 && p->groups == 1);
            ck_assert_int_le(slices, AXMUL__CUDA_SPLIT_MAX);
            part = malloc(sizeof *part * slices * npix * p->co);
            psq = malloc(sizeof *psq * slices * npix);
            ck_assert(part && psq);
            memset(part, 0xa5, sizeof *part * slices * npix * p->co); /* every sum is written */
            memset(psq, 0xa5, sizeof *psq * slices * npix);
        }
        float *y = job->y + i0 * out_img;
        for (int z = 0; z < slices; z++)
            for (uint64_t by = 0; by < gy; by++)
                for (uint64_t bx = 0; bx < gx; bx++) {
                    if (expanded) {
                        ck_assert(mode < 2);
                        run_x_block(job, (int64_t)nb, job->qx + i0 * in_img, y, bx, (int)by, bt,
                                    mode == 1);
                        continue;
                    }
                    for (int tx = 0; tx < bt; tx++)
                        axmul__cuda_thread(p, (int64_t)nb, job->qx + i0 * in_img, job->wt, job->tt,
                                           job->sum_qw, job->zw, job->oscale, y,
                                           (int64_t)(bx * bt + tx), (int)by, mode, p->cout_g,
                                           slices, z, part, psq);
                }
        if (slices > 1) {
            for (size_t i = 0; i < nb * out_img; i++) /* the first kernel wrote no output */
                ck_assert_msg(isnan(y[i]), "split launch wrote output %zu", i);
            for (size_t idx = 0; idx < nb * out_img + 256; idx++) /* a whole last block */
                axmul__cuda_split_finish(p, (int64_t)nb, slices, part, psq, job->sum_qw, job->zw,
                                         job->oscale, y, (int64_t)idx);
        }
        free(part);
        free(psq);
    }
}

/* Every kind's output must equal the reference bit for bit, cover every element (the output
 * starts as NaN) and write nothing past the end. */
static void kernel_vs_ref(const rcase *c, const axmul_table *t, const char *what, size_t chunk,
                          int sms)
{
    float *g = malloc((c->ny + GUARD) * sizeof(float)), *r = malloc(c->ny * sizeof(float));
    char desc[256];
    describe(&c->d, desc, sizeof desc);
    ck_assert_msg(axmul_conv2d_ref(&c->d, t, c->x, c->w, r, NULL) == AXMUL_OK, "%s",
                  axmul_error_detail());
    axmul__conv_setup s;
    ck_assert_msg(axmul__conv_setup_make(&c->d, t, c->x, c->w, &s) == AXMUL_OK, "%s",
                  axmul_error_detail());
    ck_assert_msg(expects_expanded(&c->d) == axmul__cuda_use_expanded(&s.p), "%s", desc);
    for (int kind = 0; kind < N_KINDS; kind++) {
        if (!kind_differs(&s.p, chunk, sms, kind))
            continue;
        for (size_t i = 0; i < c->ny + GUARD; i++)
            g[i] = NAN;
        axmul__cuda_job job;
        ck_assert_int_eq(axmul__cuda_job_make(&s, t, c->x, c->w, g, 0, &job), AXMUL_OK);
        run_grid(&job, chunk, sms, kind);
        char ctx[320];
        snprintf(ctx, sizeof ctx, "%s %s (%s kernel, chunk %zu, %d SMs): kernel against reference",
                 what, desc, kind_names[kind], chunk, sms);
        assert_same_bits(g, r, c->ny, ctx);
        for (size_t i = c->ny; i < c->ny + GUARD; i++)
            ck_assert_msg(isnan(g[i]), "%s: write past the output at %zu", ctx, i);
        axmul__cuda_job_free(&job);
    }
    axmul__conv_setup_free(&s);
    free(g);
    free(r);
}

START_TEST(test_random_cases)
{
    uint64_t s = tu_seed() ^ 0xe3u;
    axmul_table *tu = random_table(&s, 0), *ts = random_table(&s, 1), *ex;
    ck_assert_int_eq(axmul_table_create_exact(0, &ex), AXMUL_OK);
    for (int it = 0; it < 300; it++) {
        rcase c;
        random_case(&s, &c);
        kernel_vs_ref(&c,
                      it % 3 == 0   ? ex
                      : it % 3 == 1 ? tu
                                    : ts,
                      "random", it % 4 == 0 ? 1 : 0, it % 2 ? 132 : 1);
        rcase_free(&c);
    }
    axmul_table_free(tu);
    axmul_table_free(ts);
    axmul_table_free(ex);
}
END_TEST

START_TEST(test_edge_shapes)
{
    uint64_t s = tu_seed() ^ 0x12;
    axmul_table *t = random_table(&s, 0);
    for (int k = 0; k < N_EDGE_SHAPES; k++) {
        rcase c;
        edge_case(&s, k, &c);
        kernel_vs_ref(&c, t, "edge", 0, 132);
        rcase_free(&c);
    }
    axmul_table_free(t);
}
END_TEST

/* convcase.h's padded_shapes, unsigned and signed tables. */
START_TEST(test_padded_shapes)
{
    uint64_t s = tu_seed() ^ 0x9ad;
    axmul_table *t[2] = {random_table(&s, 0), random_table(&s, 1)};
    for (int k = 0; k < N_PADDED_SHAPES; k++) {
        rcase c;
        padded_case(&s, k, &c);
        kernel_vs_ref(&c, t[k % 2], "padded", 0, k % 2 ? 132 : 1);
        rcase_free(&c);
    }
    axmul_table_free(t[0]);
    axmul_table_free(t[1]);
}
END_TEST

/* convcase.h's group_shapes, with signed and unsigned tables. */
START_TEST(test_groups_and_tiles)
{
    uint64_t s = tu_seed() ^ 0x6a;
    axmul_table *t[2] = {random_table(&s, 0), random_table(&s, 1)};
    for (int k = 0; k < N_GROUP_SHAPES; k++)
        for (int sgn = 0; sgn < 2; sgn++) {
            rcase c;
            group_shape_case(&s, k, &c);
            kernel_vs_ref(&c, t[sgn], sgn ? "groups signed" : "groups", 0, sgn ? 132 : 1);
            rcase_free(&c);
        }
    axmul_table_free(t[0]);
    axmul_table_free(t[1]);
}
END_TEST

/* Sums as long as one 32-bit tap block and longer, with the largest entries, unsigned and signed
 * (stored + 32768: all 65535 or all 0), with both activation load widths. */
START_TEST(test_tap_blocks)
{
    axmul_table *t[3] = {saturated_table(), NULL, NULL};
    ck_assert_int_eq(axmul_table_create(1, &t[1]), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create(1, &t[2]), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        axmul_table_data_mut(t[1])[i] = 32767;
        axmul_table_data_mut(t[2])[i] = 0x8000; /* -32768 */
    }
    uint64_t s = tu_seed() ^ 0x7b;
    for (int i = 0; i < 3; i++) {
        /* 32767 and 32768 taps: the longest sums of the expanded kernel (and of one 32-bit
         * block), with a short last stage or none */
        const int ks[4] = {32767, 32768, 70000, 70001};
        for (int ki = 0; ki < 4; ki++) {
            rcase c;
            long_dense_case(&c, 2, ks[ki], 3);
            kernel_vs_ref(&c, t[i], "long sums", 0, 132);
            rcase_free(&c);
        }
        /* depthwise over a 257x257 window: 66,049 taps overflow 32 bits, so not the depthwise
         * kernel (whose sums are 32-bit) but the general one */
        const int v[7] = {1, 257, 257, 2, 257, 257, 2};
        rcase c;
        int oh, ow;
        grouped_case(&s, v, AXMUL_PADDING_VALID, 2, &c, &oh, &ow);
        kernel_vs_ref(&c, t[i], "long depthwise sums", 0, 132);
        rcase_free(&c);
    }
    for (int i = 0; i < 3; i++)
        axmul_table_free(t[i]);
}
END_TEST

/* A batch split into launches of 1, 2 and 3 images gives the one-launch result. */
START_TEST(test_chunks)
{
    uint64_t s = tu_seed() ^ 0xc4;
    axmul_table *t = random_table(&s, 0);
    const int v[7] = {7, 9, 10, 8, 3, 3, 18};
    for (size_t chunk = 1; chunk <= 4; chunk++) {
        rcase c;
        int oh, ow;
        shaped_case(&s, v, AXMUL_PADDING_SAME, &c, &oh, &ow);
        kernel_vs_ref(&c, t, "chunks", chunk == 4 ? 0 : chunk, 16);
        rcase_free(&c);
    }
    axmul_table_free(t);
}
END_TEST

/* The host-side facts the launch code relies on. */
START_TEST(test_launch_geometry)
{
    axmul__conv_plan p;
    memset(&p, 0, sizeof p);
    p.n = 32;
    p.h = p.w = p.oh = p.ow = 56;
    p.c = p.cin_g = 64;
    p.co = p.cout_g = 64;
    p.groups = 1;
    p.k = 9 * 64;
    uint64_t gx, gy;
    ck_assert_int_eq(axmul__cuda_block_threads(&p, 32, 132), AXMUL__CUDA_PIX);
    axmul__cuda_grid(&p, 32, AXMUL__CUDA_PIX, &gx, &gy);
    ck_assert_uint_eq(gx, (32 * 56 * 56 + AXMUL__CUDA_PIX - 1) / AXMUL__CUDA_PIX);
    ck_assert_uint_eq(gy, 4);
    /* the benchmark's dense layer (1936 -> 120, batch 256): 8 blocks of 512 would leave 124 of
     * an H100's 132 multiprocessors idle; blocks of 64 give 32 */
    axmul__conv_plan dn = p;
    dn.h = dn.w = dn.oh = dn.ow = 1;
    dn.c = dn.cin_g = dn.k = 1936;
    dn.co = dn.cout_g = 120;
    ck_assert_int_eq(axmul__cuda_block_threads(&dn, 256, 132), 64);
    ck_assert_int_eq(axmul__cuda_block_threads(&dn, 256, 8), AXMUL__CUDA_PIX);
    ck_assert_int_eq(axmul__cuda_block_threads(&dn, 256, 16), 128);
    ck_assert_int_eq(axmul__cuda_mode(&p), 1);
    /* the expanded kernel: 256 threads x 4 pixels per block */
    ck_assert_int_eq(axmul__cuda_expandable(&p), 1);
    ck_assert_int_eq(axmul__cuda_use_expanded(&p), 1);
    ck_assert_int_eq(axmul__cuda_x_block_threads(&p, 32, 132), AXMUL__CUDA_X_THREADS);
    axmul__cuda_x_grid(&p, 32, AXMUL__CUDA_X_THREADS, &gx, &gy);
    ck_assert_uint_eq(gx, 98);
    ck_assert_uint_eq(gy, 4);
    ck_assert_int_eq(axmul__cuda_x_block_threads(&dn, 256, 132), 64);
    /* the default design on an H200 (132 SMs), as measured (doc/performance.md): expanded on the
     * 3x3 layer at batch 32 (blocks of 1024 pixels) and 8 (512), on LeNet's conv1 at batch 256
     * (1024); the column kernel on the 1x1 28x28x256->128 layer at batch 8 and on LeNet's conv2
     * at batch 256 (256-pixel blocks), and on the dense layer (too few pixels) */
    ck_assert_int_eq(axmul__cuda_auto_expanded(&p, 32, 132), 1);
    ck_assert_int_eq(axmul__cuda_auto_expanded(&p, 8, 132), 1);
    ck_assert_int_eq(axmul__cuda_auto_expanded(&dn, 256, 132), 0);
    axmul__conv_plan q = p;
    q.n = 8;
    q.h = q.w = q.oh = q.ow = 28;
    q.c = q.cin_g = q.k = 256;
    q.co = q.cout_g = 128;
    ck_assert_int_eq(axmul__cuda_use_expanded(&q), 1);
    ck_assert_int_eq(axmul__cuda_auto_expanded(&q, 8, 132), 0);
    ck_assert_int_eq(axmul__cuda_auto_expanded(&q, 8, 40), 1); /* a smaller GPU: 512-pixel blocks */
    q.n = 256; /* LeNet-5's conv1 (28x28x1 -> 24x24x6) and conv2 (13x13x6 -> 9x9x16; 5x5, valid) */
    q.h = q.w = 28;
    q.oh = q.ow = 24;
    q.c = q.cin_g = 1;
    q.k = 25;
    q.co = q.cout_g = 6;
    ck_assert_int_eq(axmul__cuda_auto_expanded(&q, 256, 132), 1);
    q.h = q.w = 13;
    q.oh = q.ow = 9;
    q.c = q.cin_g = 6;
    q.k = 150;
    q.co = q.cout_g = 16;
    ck_assert_int_eq(axmul__cuda_auto_expanded(&q, 256, 132), 0);
    /* rows of at most 8 channels build and read one half of each stage: 120 = 7 x 16 + 8 */
    ck_assert_int_eq(axmul__cuda_x_halves(&dn, 6), 2);
    ck_assert_int_eq(axmul__cuda_x_halves(&dn, 7), 1);
    ck_assert_int_eq(axmul__cuda_x_halves(&p, 0), 2);
    /* split-K: 32 blocks of 64 pixels and 16 channels would leave most of the 132 SMs idle; 7
     * slices (of at least 256 of the 1936 channels) make about 2 blocks per SM; none for the 3x3
     * layer (784 blocks) */
    ck_assert_int_eq(axmul__cuda_splits(&dn, 256, 132), 7);
    ck_assert_int_eq(axmul__cuda_splits(&dn, 256, 8), 2); /* 8 blocks of 512: 2 per SM */
    ck_assert_int_eq(axmul__cuda_splits(&dn, 256, 4), 1);
    ck_assert_int_eq(axmul__cuda_splits(&p, 32, 132), 1);
    int c0, c1;
    axmul__cuda_slice(&dn, 6, 7, &c0, &c1);
    ck_assert_int_eq(c0, 6 * 280);
    ck_assert_int_eq(c1, 1936);
    dn.n = 4096; /* 4096 pixels: the least the expanded kernel is used for */
    ck_assert_int_eq(axmul__cuda_use_expanded(&dn), 1);
    dn.n = 4095;
    ck_assert_int_eq(axmul__cuda_expandable(&dn), 1);
    ck_assert_int_eq(axmul__cuda_use_expanded(&dn), 0);
    ck_assert_int_eq(axmul__cuda_x_block_threads(&dn, 256, 1), AXMUL__CUDA_X_THREADS);
    ck_assert_uint_eq(axmul__cuda_chunk(&p), 32); /* the target batch in one launch */
    ck_assert_uint_eq(axmul__cuda_weight_tile_bytes(&p), (size_t)4 * 576 * 16);
    p.n = 100000; /* device buffers stay bounded */
    const size_t chunk = axmul__cuda_chunk(&p);
    ck_assert_uint_lt(chunk, (size_t)p.n);
    ck_assert_uint_le(chunk * (56 * 56 * 64 * 5), AXMUL__CUDA_CHUNK_BYTES);
    p.c = p.cin_g = 6;
    ck_assert_int_eq(axmul__cuda_mode(&p), 0);
    /* depthwise 3x3 on 112x112x32: 2 rows of 16 channels across groups, one 16-byte load */
    p.c = p.groups = 32;
    p.cin_g = p.cout_g = 1;
    p.co = 32;
    p.k = 9;
    ck_assert_int_eq(axmul__cuda_depthwise(&p), 1);
    ck_assert_int_eq(axmul__cuda_rows(&p), 2);
    ck_assert_int_eq(axmul__cuda_mode(&p), 3);
    p.c = p.groups = p.co = 40; /* 40 channels: 4-byte loads, 3 rows, the last of 8 */
    ck_assert_int_eq(axmul__cuda_mode(&p), 4);
    ck_assert_int_eq(axmul__cuda_rows(&p), 3);
    p.c = p.groups = p.co = 10; /* 10: byte loads */
    ck_assert_int_eq(axmul__cuda_mode(&p), 2);
    p.c = p.groups = 32;
    p.cout_g = 3; /* multiplier 3: 96 outputs, 6 rows, byte loads */
    p.co = 96;
    ck_assert_int_eq(axmul__cuda_rows(&p), 6);
    ck_assert_int_eq(axmul__cuda_mode(&p), 2);
    int o0;
    ck_assert_int_eq(axmul__cuda_row_channels(&p, 5, &o0), 16);
    ck_assert_int_eq(o0, 80);
    ck_assert_int_eq(axmul__cuda_expandable(&p), 0);
    p.k = 40000; /* sums longer than a tap block: the general kernel, never the expanded one */
    ck_assert_int_eq(axmul__cuda_depthwise(&p), 0);
    ck_assert_int_eq(axmul__cuda_expandable(&p), 0);
    ck_assert_int_eq(axmul__cuda_rows(&p), 32);
    /* ResNeXt's 3x3 on 56x56x128, 32 groups of 4 -> 4: 8 tiles of 4 groups each (not 32 tiles of
     * 4 used channels), 4-byte loads, not the expanded kernel */
    p.c = p.co = 128;
    p.groups = 32;
    p.cin_g = p.cout_g = 4;
    p.k = 36;
    ck_assert_int_eq(axmul__cuda_small_groups(&p), 1);
    ck_assert_int_eq(axmul__cuda_rows(&p), 8);
    ck_assert_int_eq(axmul__cuda_mode(&p), 6);
    ck_assert_int_eq(axmul__cuda_expandable(&p), 0);
    ck_assert_int_eq(axmul__cuda_row_channels(&p, 7, &o0), 16);
    ck_assert_int_eq(o0, 112);
    p.cin_g = 2; /* 64 input channels: byte loads */
    p.c = 64;
    p.k = 18;
    ck_assert_int_eq(axmul__cuda_mode(&p), 5);
    p.cout_g = 16; /* whole tiles per group: the general tiling */
    p.co = 512;
    ck_assert_int_eq(axmul__cuda_small_groups(&p), 0);
    ck_assert_int_eq(axmul__cuda_rows(&p), 32);
    ck_assert_int_eq(axmul__cuda_mode(&p), 0);
    p.cout_g = 3; /* 16 is no multiple of 3 */
    p.co = 96;
    ck_assert_int_eq(axmul__cuda_small_groups(&p), 0);
    p.cout_g = 8;
    p.co = 256;
    p.k = 40000; /* long sums: not in 32 bits */
    ck_assert_int_eq(axmul__cuda_small_groups(&p), 0);
    ck_assert_int_eq(axmul__cuda_rows(&p), 32);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cudakernel");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_launch_geometry);
    tcase_add_test(tc, test_random_cases);
    tcase_add_test(tc, test_groups_and_tiles);
    tcase_add_test(tc, test_tap_blocks);
    tcase_add_test(tc, test_chunks);
    tcase_add_test(tc, test_edge_shapes);
    tcase_add_test(tc, test_padded_shapes);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
