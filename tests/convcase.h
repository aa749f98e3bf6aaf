/* axmul tests: random convolution cases and tables shared by the CPU and CUDA suites. */
#ifndef AXMUL_CONVCASE_H
#define AXMUL_CONVCASE_H

#include <pthread.h>

#include "axmul.h"
#include "testutil.h"

typedef struct {
    axmul_conv_desc d;
    axmul_range chan[64];
    float *x, *w;
    size_t nx, nw, ny;
} rcase;

static inline void rcase_free(rcase *c)
{
    free(c->x);
    free(c->w);
}

/* Sizes c's tensors from its descriptor (output oh x ow) and fills x and w with uniform values
 * in [xlo, xhi) and [wlo, whi). */
static inline void fill_case(uint64_t *s, rcase *c, int oh, int ow, float xlo, float xhi, float wlo,
                             float whi)
{
    const axmul_conv_desc *d = &c->d;
    c->nx = (size_t)d->n * d->h * d->w * d->c;
    c->nw = (size_t)d->kh * d->kw * (d->c / d->groups) * d->co;
    c->ny = (size_t)d->n * oh * ow * d->co;
    c->x = malloc(c->nx * sizeof(float));
    c->w = malloc(c->nw * sizeof(float));
    for (size_t i = 0; i < c->nx; i++)
        c->x[i] = tu_randf(s, xlo, xhi);
    for (size_t i = 0; i < c->nw; i++)
        c->w[i] = tu_randf(s, wlo, whi);
}

/* A random valid descriptor covering stride, dilation, every padding kind, groups, depthwise,
 * per-channel ranges, explicit or data ranges. */
static inline void random_case(uint64_t *s, rcase *c)
{
    for (;;) {
        axmul_conv_desc *d = &c->d;
        axmul_conv_desc_init(d);
        int mode = tu_randint(s, 0, 2);
        int g = mode == 0 ? 1 : mode == 1 ? tu_randint(s, 2, 3) : tu_randint(s, 2, 5);
        int cin_g = mode == 2 ? 1 : tu_randint(s, 1, 5);
        d->n = tu_randint(s, 1, 3);
        d->c = cin_g * g;
        d->co = g * tu_randint(s, 1, 3);
        d->groups = g;
        d->kh = tu_randint(s, 1, 4);
        d->kw = tu_randint(s, 1, 4);
        d->h = tu_randint(s, 1, 11);
        d->w = tu_randint(s, 1, 11);
        d->stride_h = tu_randint(s, 1, 3);
        d->stride_w = tu_randint(s, 1, 3);
        d->dilation_h = tu_randint(s, 1, 2);
        d->dilation_w = tu_randint(s, 1, 2);
        d->padding = (axmul_padding)tu_randint(s, 0, 2);
        if (d->padding == AXMUL_PADDING_EXPLICIT) {
            d->pad_top = tu_randint(s, 0, 2);
            d->pad_bottom = tu_randint(s, 0, 2);
            d->pad_left = tu_randint(s, 0, 2);
            d->pad_right = tu_randint(s, 0, 2);
        }
        int oh, ow;
        if (axmul_conv_output_shape(d, &oh, &ow) != AXMUL_OK)
            continue;
        d->per_channel = tu_randint(s, 0, 3) == 0;
        if (d->per_channel && tu_randint(s, 0, 1)) {
            for (int o = 0; o < d->co; o++) {
                c->chan[o].min = tu_randf(s, -1.5f, 0.1f);
                c->chan[o].max = tu_randf(s, 0.2f, 1.5f);
            }
            d->channel_ranges = c->chan;
        }
        if (!d->per_channel && tu_randint(s, 0, 1)) {
            d->filter_range_set = 1;
            d->filter_range.min = tu_randf(s, -1.2f, 0.3f);
            d->filter_range.max = tu_randf(s, 0.4f, 1.2f);
        }
        if (tu_randint(s, 0, 1)) {
            d->input_range_set = 1;
            d->input_range.min = tu_randf(s, -1.0f, 0.5f);
            d->input_range.max = tu_randf(s, 0.6f, 2.0f);
        }
        fill_case(s, c, oh, ow, -1.0f, 2.0f, -1.0f, 1.0f);
        return;
    }
}

/* A 2x2 image of one channel, a kh x kw filter of one output channel, the given padding. */
static inline void desc_2x2(axmul_conv_desc *d, int kh, int kw, axmul_padding pad)
{
    axmul_conv_desc_init(d);
    d->n = 1;
    d->h = d->w = 2;
    d->c = 1;
    d->kh = kh;
    d->kw = kw;
    d->co = 1;
    d->padding = pad;
}

static inline void describe(const axmul_conv_desc *d, char *buf, size_t n)
{
    snprintf(buf, n,
             "n%d h%d w%d c%d k%dx%d co%d s%d,%d d%d,%d pad%d(%d,%d,%d,%d) g%d pc%d ranges %d/%d",
             d->n, d->h, d->w, d->c, d->kh, d->kw, d->co, d->stride_h, d->stride_w, d->dilation_h,
             d->dilation_w, (int)d->padding, d->pad_top, d->pad_bottom, d->pad_left, d->pad_right,
             d->groups, d->per_channel, d->input_range_set, d->filter_range_set);
}

/* Every element of got equals want bit for bit (so -0 differs from +0 and NaNs are compared by
 * their bits); ctx names the case in the failure message. */
static inline void assert_same_bits(const float *got, const float *want, size_t n, const char *ctx)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0,
                      "%s: element %zu is %.9g, expected %.9g", ctx, i, got[i], want[i]);
}

static inline axmul_table *random_table(uint64_t *s, int sgn)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(sgn, &t), AXMUL_OK);
    uint16_t *v = axmul_table_data_mut(t);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        int32_t p = axmul_table_product(t, i >> 8, i & 255);
        int32_t e = (int32_t)(tu_rand(s) % 601) - 300;
        int32_t q = p + e;
        if (sgn)
            q = q < -32768 ? -32768 : q > 32767 ? 32767 : q;
        else
            q = q < 0 ? 0 : q > 65535 ? 65535 : q;
        v[i] = (uint16_t)q;
    }
    v[0 * 256 + 5] = 77;                                 /* T[0][b] != 0 */
    v[3 * 256 + 200] = (uint16_t)(v[200 * 256 + 3] + 1); /* not commutative */
    return t;
}

/* Forces a CPU path; 0 (with a note) when this CPU cannot run it. */
static inline int tc_use_cpu_path(const char *name)
{
    if (axmul_set_cpu_path(name) != AXMUL_OK) {
        fprintf(stderr, "note: CPU path %s not available here (%s): not tested\n", name,
                axmul_error_detail());
        return 0;
    }
    const char *in_use = NULL;
    ck_assert_int_eq(axmul_cpu_path(&in_use), AXMUL_OK);
    ck_assert_str_eq(in_use, name);
    return 1;
}

/* A case of the given shape (v: n, h, w, c, kh, kw, co) and groups with inputs uniform in
 * [0, 4) and weights in [-0.5, 0.5); returns the output size in *oh, *ow. */
static inline void grouped_case(uint64_t *s, const int v[7], axmul_padding pad, int groups,
                                rcase *c, int *oh, int *ow)
{
    memset(c, 0, sizeof *c);
    axmul_conv_desc_init(&c->d);
    c->d.n = v[0];
    c->d.h = v[1];
    c->d.w = v[2];
    c->d.c = v[3];
    c->d.kh = v[4];
    c->d.kw = v[5];
    c->d.co = v[6];
    c->d.groups = groups;
    c->d.padding = pad;
    ck_assert_int_eq(axmul_conv_output_shape(&c->d, oh, ow), AXMUL_OK);
    fill_case(s, c, *oh, *ow, 0.0f, 4.0f, -0.5f, 0.5f);
}

static inline void shaped_case(uint64_t *s, const int v[7], axmul_padding pad, rcase *c, int *oh,
                               int *ow)
{
    grouped_case(s, v, pad, 1, c, oh, ow);
}

/* Shapes a GPU backend must get right: 1x1 kernels and kernel == input with VALID padding
 * (TFApprox's GPU bug, its issue #12), batch 1 vs 7, and layers that span many blocks and
 * channel tiles. Columns: n h w c kh kw co, then 1 for VALID padding (else SAME). */
static const int edge_shapes[][8] = {{1, 7, 5, 3, 1, 1, 4, 0},     {2, 6, 6, 8, 6, 6, 3, 1},
                                     {3, 1, 1, 16, 1, 1, 9, 0},    {1, 13, 11, 2, 13, 11, 2, 1},
                                     {7, 17, 19, 3, 3, 3, 5, 0},   {1, 17, 19, 3, 3, 3, 5, 0},
                                     {2, 56, 56, 64, 3, 3, 64, 0}, {1, 28, 28, 256, 1, 1, 128, 0}};
enum { N_EDGE_SHAPES = sizeof edge_shapes / sizeof edge_shapes[0] };

/* edge_shapes[k] with explicit ranges. */
static inline void edge_case(uint64_t *s, int k, rcase *c)
{
    int oh, ow;
    shaped_case(s, edge_shapes[k], edge_shapes[k][7] ? AXMUL_PADDING_VALID : AXMUL_PADDING_SAME, c,
                &oh, &ow);
    c->d.input_range_set = c->d.filter_range_set = 1;
    c->d.input_range = (axmul_range){0, 4};
    c->d.filter_range = (axmul_range){-0.5f, 0.5f};
}

/* Grouped and depthwise layers for a GPU backend's tilings: groups whose channels are read 4 at
 * a time, partial channel tiles (20 and 17 outputs per group), depthwise layers with one 16-byte
 * load (c % 16 == 0, multiplier 1), byte loads and a multiplier of 2 or 3; groups of 1, 2, 4 or 8
 * outputs that tiles hold several of (ResNeXt's 4 x 4 channels, 4-byte or byte loads, group
 * counts that leave the last tile partial). Columns: n h w c kh kw co groups, then 1 for VALID
 * padding (else SAME). */
static const int group_shapes[][9] = {
    {2, 9, 7, 8, 3, 3, 6, 2, 0},     {1, 12, 12, 64, 3, 3, 80, 4, 0},
    {3, 5, 6, 12, 2, 3, 51, 3, 1},   {2, 10, 9, 8, 3, 3, 24, 8, 0},
    {1, 8, 8, 36, 1, 1, 34, 1, 0},   {2, 11, 13, 5, 5, 5, 33, 1, 0},
    {1, 6, 6, 128, 3, 3, 16, 1, 1},  {4, 3, 3, 4, 3, 3, 17, 1, 0},
    {2, 9, 11, 32, 3, 3, 32, 32, 0}, {1, 7, 7, 48, 5, 5, 48, 48, 0},
    {2, 6, 5, 16, 3, 3, 32, 16, 0},  {2, 8, 9, 40, 3, 3, 40, 40, 0},
    {1, 6, 7, 24, 3, 3, 24, 24, 1},  {1, 7, 6, 10, 3, 3, 10, 10, 0},
    {2, 9, 9, 64, 3, 3, 64, 16, 0},  {1, 7, 8, 24, 3, 3, 48, 6, 0},
    {2, 6, 7, 18, 3, 3, 12, 6, 1},   {1, 5, 6, 40, 3, 3, 10, 10, 0},
    {2, 8, 8, 10, 3, 3, 20, 5, 0},   {1, 6, 6, 36, 1, 1, 72, 9, 0}};
enum { N_GROUP_SHAPES = sizeof group_shapes / sizeof group_shapes[0] };

/* group_shapes[k]; odd k strided (2, 1), dilated (1, 2) where the window fits, explicit padding;
 * every third per-channel. */
static inline void group_shape_case(uint64_t *s, int k, rcase *c)
{
    const int *v = group_shapes[k];
    int oh, ow;
    grouped_case(s, v, v[8] ? AXMUL_PADDING_VALID : AXMUL_PADDING_SAME, v[7], c, &oh, &ow);
    if (k % 2) {
        c->d.stride_h = 2;
        c->d.dilation_w = c->d.w >= 2 * c->d.kw - 1 ? 2 : 1;
        c->d.padding = AXMUL_PADDING_EXPLICIT;
        c->d.pad_top = c->d.pad_left = 1;
        ck_assert_int_eq(axmul_conv_output_shape(&c->d, &oh, &ow), AXMUL_OK);
        c->ny = (size_t)c->d.n * oh * ow * c->d.co;
    }
    c->d.per_channel = (int)(k % 3 == 0);
}

/* Explicit pads larger than the image or than the kernel's reach, one-sided pads, strides and
 * dilations that leave input rows unread, SAME padding of a large dilation, rows that span
 * chunks. Columns: n h w c kh kw co groups, stride h w, dilation h w, pads top bottom left right
 * (top -1: SAME). */
static const int padded_shapes[][16] = {
    {2, 3, 4, 2, 2, 2, 3, 1, 1, 1, 3, 3, 9, 0, 0, 7},
    {1, 5, 5, 4, 3, 3, 4, 4, 2, 3, 1, 1, 0, 5, 6, 0},
    {3, 1, 1, 3, 1, 1, 5, 1, 1, 1, 1, 1, 4, 4, 4, 4},
    {1, 9, 6, 6, 3, 2, 6, 3, 3, 1, 2, 3, 1, 0, 2, 2},
    {2, 7, 70, 2, 1, 5, 17, 1, 1, 1, 1, 2, 0, 0, 3, 0},
    {2, 5, 5, 3, 3, 3, 3, 3, 1, 1, 4, 4, -1, 0, 0, 0},
    {1, 2, 300, 1, 2, 3, 2, 1, 1, 2, 1, 1, 1, 1, 0, 41},
    {2, 40, 60, 3, 3, 3, 8, 1, 1, 1, 2, 1, 5, 0, 0, 9}, /* enough pixels for the expanded kernel */
};
enum { N_PADDED_SHAPES = sizeof padded_shapes / sizeof padded_shapes[0] };

/* padded_shapes[k], inputs in [-1, 3) and weights in [-1, 1), ranges from the data. */
static inline void padded_case(uint64_t *s, int k, rcase *c)
{
    const int *v = padded_shapes[k];
    memset(c, 0, sizeof *c);
    axmul_conv_desc *d = &c->d;
    axmul_conv_desc_init(d);
    d->n = v[0], d->h = v[1], d->w = v[2], d->c = v[3];
    d->kh = v[4], d->kw = v[5], d->co = v[6], d->groups = v[7];
    d->stride_h = v[8], d->stride_w = v[9], d->dilation_h = v[10], d->dilation_w = v[11];
    if (v[12] >= 0) {
        d->padding = AXMUL_PADDING_EXPLICIT;
        d->pad_top = v[12], d->pad_bottom = v[13], d->pad_left = v[14], d->pad_right = v[15];
    }
    int oh, ow;
    ck_assert_msg(axmul_conv_output_shape(d, &oh, &ow) == AXMUL_OK, "padded shape %d: %s", k,
                  axmul_error_detail());
    fill_case(s, c, oh, ow, -1.0f, 3.0f, -1.0f, 1.0f);
}

/* A dense layer as a conv (n images of 1x1 x k channels, co outputs, per-channel ranges) whose
 * long sums overflow 32 bits with an all-65535 table when k > 65537. */
static inline void long_dense_case(rcase *c, int n, int k, int co)
{
    memset(c, 0, sizeof *c);
    axmul_conv_desc_init(&c->d);
    c->d.n = n;
    c->d.h = c->d.w = 1;
    c->d.c = k;
    c->d.kh = c->d.kw = 1;
    c->d.co = co;
    c->d.per_channel = 1;
    c->nx = (size_t)n * k;
    c->nw = (size_t)k * co;
    c->ny = (size_t)n * co;
    c->x = malloc(c->nx * sizeof(float));
    c->w = malloc(c->nw * sizeof(float));
    for (size_t i = 0; i < c->nx; i++)
        c->x[i] = (float)(i % 5);
    for (size_t i = 0; i < c->nw; i++)
        c->w[i] = (float)(i % 3) - 1;
}

/* A table whose every entry is 65535: the worst case for 32-bit partial sums. */
static inline axmul_table *saturated_table(void)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(t)[i] = 65535;
    return t;
}

/* Whether AXMUL_CUDA_TABLE=expanded runs the expanded kernel on a layer, from the public
 * descriptor: not depthwise, not groups of 1, 2, 4 or 8 outputs with more than one input channel,
 * at most 32,768 taps per output, at least 4096 output pixels (doc/performance.md).
 * check_cudakernel holds it to the launch code's rule. */
static inline int expects_expanded(const axmul_conv_desc *d)
{
    const int cin_g = d->c / d->groups;
    const long k = (long)d->kh * d->kw * cin_g;
    int oh, ow;
    ck_assert_int_eq(axmul_conv_output_shape(d, &oh, &ow), AXMUL_OK);
    const int depthwise = cin_g == 1 && d->groups > 1, cout_g = d->co / d->groups;
    const int small_groups = d->groups > 1 && cin_g > 1 && 16 % cout_g == 0 && cout_g < 16;
    return !depthwise && !small_groups && k <= 32768 && (long)d->n * oh * ow >= 4096;
}

/* Whether the convolution of c with t equals the reference's, bit for bit (a
 * run_case_threads check). */
static inline int conv_equals_ref(const rcase *c, const axmul_table *t)
{
    float *y = malloc(c->ny * sizeof(float)), *r = malloc(c->ny * sizeof(float));
    int ok = axmul_conv2d_ref(&c->d, t, c->x, c->w, r, NULL) == AXMUL_OK &&
             axmul_conv2d(&c->d, t, c->x, c->w, y, NULL) == AXMUL_OK &&
             memcmp(y, r, c->ny * sizeof(float)) == 0;
    free(y);
    free(r);
    return ok;
}

/* Threads that each run check(c, tables[i]) reps times, all at once: the index of the first
 * thread whose checks failed, or -1. No Check assertion runs on the threads (in no-fork mode it
 * would unwind the wrong stack). */
typedef int (*case_check_fn)(const rcase *c, const axmul_table *t);
typedef struct {
    const rcase *c;
    const axmul_table *t;
    case_check_fn check;
    int reps, ok;
} case_thread;

static void *case_thread_main(void *arg)
{
    case_thread *j = arg;
    j->ok = 1;
    for (int i = 0; i < j->reps; i++)
        j->ok = j->ok && j->check(j->c, j->t);
    return NULL;
}

static inline int run_case_threads(const rcase *c, axmul_table *const *tables, int n,
                                   case_check_fn check, int reps)
{
    pthread_t th[16];
    case_thread jobs[16];
    ck_assert_int_le(n, 16);
    for (int i = 0; i < n; i++) {
        jobs[i] = (case_thread){c, tables[i], check, reps, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, case_thread_main, &jobs[i]), 0);
    }
    int failed = -1;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (!jobs[i].ok && failed < 0)
            failed = i;
    }
    return failed;
}

#endif
