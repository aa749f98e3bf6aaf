/* Unit tests: quantization (TensorFlow FakeQuant semantics), the reference conv kernel on
 * hand-computed cases, the exact-table engine against the float convolution of the fake-quantized
 * tensors, dense layers, the exact float convolution (axmul_conv2d_float) and padding against
 * direct loops, and bad descriptors. */
#include <math.h>

#include "axmul.h"
#include "lib/engine/engine.h"
#include "testutil.h"
#include "convcase.h"

static axmul_qparams qp(float lo, float hi, int sgn)
{
    axmul_qparams q;
    axmul_range r = {lo, hi};
    ck_assert_int_eq(axmul_qparams_from_range(r, sgn, "t", &q), AXMUL_OK);
    return q;
}

START_TEST(test_quant_nudging)
{
    /* [-1, 1]: scale 2/255 rounds up in float32, so 0 - min/scale is 127.49999 (not 127.5) and
     * the zero point is 127, as in TensorFlow: the nudged range is [-127, 128] * scale */
    axmul_qparams q = qp(-1, 1, 0);
    ck_assert_float_eq(q.scale, 2.0f / 255.0f);
    ck_assert(0.0f - -1.0f / q.scale < 127.5f);
    ck_assert_int_eq(q.zero_point, 127);
    ck_assert_float_eq(q.nudged_min, -127.0f * q.scale);
    ck_assert_float_eq(q.nudged_max, 128.0f * q.scale);
    ck_assert_int_eq(axmul_quantize(0.0f, &q), 127); /* 0.0 is exactly representable */
    ck_assert_float_eq(axmul_dequantize(127, &q), 0.0f);
    ck_assert_int_eq(axmul_quantize(-5.0f, &q), 0);
    ck_assert_int_eq(axmul_quantize(5.0f, &q), 255);
    /* scale exactly 1: zero point from min 63.75 -> 64, and an exact 63.5 -> 64 (half away
     * from zero, std::round) */
    q = qp(-63.75f, 191.25f, 0);
    ck_assert_float_eq(q.scale, 1.0f);
    ck_assert_int_eq(q.zero_point, 64);
    q = qp(-63.5f, 191.5f, 0);
    ck_assert_int_eq(q.zero_point, 64);
    /* [0.2, 1.0]: the zero point clamps to 0 and the range moves to [0, 0.8] */
    q = qp(0.2f, 1.0f, 0);
    ck_assert_int_eq(q.zero_point, 0);
    ck_assert_float_eq(q.nudged_min, 0.0f);
    ck_assert_float_eq_tol(q.nudged_max, 0.8f, 1e-6f);
    ck_assert_int_eq(axmul_quantize(1.0f, &q), 255);
    /* [-3, -1]: zero point clamps to 255, range [-2, 0] */
    q = qp(-3, -1, 0);
    ck_assert_int_eq(q.zero_point, 255);
    ck_assert_float_eq(q.nudged_max, 0.0f);
    ck_assert_int_eq(axmul_quantize(0.5f, &q), 255);
    /* [0, 255]: scale 1, floor(x + 0.5) rounds half up */
    q = qp(0, 255, 0);
    ck_assert_float_eq(q.scale, 1.0f);
    ck_assert_int_eq(axmul_quantize(2.5f, &q), 3);
    ck_assert_int_eq(axmul_quantize(2.4999f, &q), 2);
    ck_assert_int_eq(axmul_quantize(-0.5f, &q), 0);
    ck_assert_int_eq(axmul_quantize(254.5f, &q), 255);
    ck_assert_int_eq(axmul_quantize(NAN, &q), 0);
    /* dequantize is TensorFlow's q * scale + nudged_min */
    q = qp(-0.3f, 0.7f, 0);
    for (int k = 0; k < 256; k++)
        ck_assert_float_eq(axmul_dequantize(k, &q), (float)k * q.scale + q.nudged_min);
}
END_TEST

START_TEST(test_quant_signed_and_errors)
{
    axmul_qparams q = qp(-1, 1, 1);
    ck_assert_float_eq(q.scale, 1.0f / 127.0f);
    ck_assert_int_eq(q.zero_point, 0);
    ck_assert_int_eq(axmul_quantize(1.0f, &q), 127);
    ck_assert_int_eq(axmul_quantize(-1.0f, &q), -127);
    ck_assert_int_eq(axmul_quantize(-1.2f, &q), -128);
    ck_assert_int_eq(axmul_quantize(9.0f, &q), 127);
    q = qp(-2, 1, 1); /* the negative side needs the larger scale: 2/128 */
    ck_assert_float_eq(q.scale, 2.0f / 128.0f);
    ck_assert_int_eq(axmul_quantize(-2.0f, &q), -128);

    axmul_range r = {1, 0};
    ck_assert_int_eq(axmul_qparams_from_range(r, 0, "weights", &q), AXMUL_ERR_RANGE);
    ck_assert(strstr(axmul_error_detail(), "weights") && strstr(axmul_error_detail(), "inverted"));
    r.min = r.max = 2;
    ck_assert_int_eq(axmul_qparams_from_range(r, 0, "x", &q), AXMUL_ERR_RANGE);
    r.min = NAN;
    ck_assert_int_eq(axmul_qparams_from_range(r, 0, "x", &q), AXMUL_ERR_RANGE);
    /* (found by fuzz_onnx) scales that underflow or whose width overflows: refused */
    for (int sg = 0; sg < 2; sg++) {
        r = (axmul_range){0.0f, 1e-43f};
        ck_assert_int_eq(axmul_qparams_from_range(r, sg, "x", &q), AXMUL_ERR_RANGE);
        ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "too narrow"));
        r = (axmul_range){-3e38f, 3e38f};
        ck_assert_int_eq(axmul_qparams_from_range(r, sg, "x", &q), sg ? AXMUL_OK : AXMUL_ERR_RANGE);
    }
    r.min = r.max = 0;
    ck_assert_int_eq(axmul_qparams_from_range(r, 0, "x", &q), AXMUL_OK);
    ck_assert_int_eq(q.degenerate, 1);
    ck_assert_int_eq(axmul_quantize(3.0f, &q), 0);
    ck_assert_float_eq(axmul_dequantize(7, &q), 0.0f);

    float c3[3] = {3, 3, 3}, cm[2] = {-2, -2}, bad[3] = {0, INFINITY, 1};
    axmul_range out;
    ck_assert_int_eq(axmul_range_of(c3, 3, "c", &out), AXMUL_OK);
    ck_assert(out.min == 0 && out.max == 3); /* constant tensor widened to include 0 */
    ck_assert_int_eq(axmul_range_of(cm, 2, "c", &out), AXMUL_OK);
    ck_assert(out.min == -2 && out.max == 0);
    ck_assert_int_eq(axmul_range_of(bad, 3, "activations", &out), AXMUL_ERR_NONFINITE);
    ck_assert(strstr(axmul_error_detail(), "activations: element 1 is +Inf") != NULL);
}
END_TEST

static axmul_table *table_plus(int sgn, int row, int add)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(sgn, &t), AXMUL_OK);
    uint16_t *v = axmul_table_data_mut(t);
    for (int a = 0; a < 256; a++)
        if (row < 0 || a == row)
            for (int b = 0; b < 256; b++)
                v[a * 256 + b] = (uint16_t)(v[a * 256 + b] + add);
    return t;
}

START_TEST(test_ref_hand_1x1)
{
    float x[4] = {0, 1, 2, 3}, w[1] = {1}, y[4];
    axmul_conv_desc d;
    desc_2x2(&d, 1, 1, AXMUL_PADDING_VALID);
    axmul_table *t = table_plus(0, -1, 0);
    ck_assert_int_eq(axmul_conv2d_ref(&d, t, x, w, y, NULL), AXMUL_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq_tol(y[i], x[i], 1e-6f);
    axmul_table_free(t);
    /* every product 7 too large: y = x + 7 * s_x * s_w with s_x = 3/255, s_w = 1/255 (the
     * filter's constant range [1, 1] is widened to [0, 1]) */
    t = table_plus(0, -1, 7);
    ck_assert_int_eq(axmul_conv2d_ref(&d, t, x, w, y, NULL), AXMUL_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq_tol(y[i], x[i] + 7.0f * 3.0f / 255.0f / 255.0f, 1e-6f);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_ref_hand_2x2)
{
    /* one output: 0*1 + 1*0.5 + 2*(-0.5) + 3*0 = -0.5. Filter range [-0.5, 1]: scale 1.5/255,
     * zero point 85; codes 255, 170, 0, 85. Input codes 0, 85, 170, 255. */
    float x[4] = {0, 1, 2, 3}, w[4] = {1, 0.5f, -0.5f, 0}, y[1];
    axmul_conv_desc d;
    desc_2x2(&d, 2, 2, AXMUL_PADDING_VALID);
    axmul_table *t = table_plus(0, -1, 0);
    axmul_conv_info info;
    ck_assert_int_eq(axmul_conv2d_ref(&d, t, x, w, y, &info), AXMUL_OK);
    ck_assert_int_eq(info.filter_q.zero_point, 85);
    ck_assert_uint_eq(info.macs, 4);
    ck_assert_float_eq_tol(y[0], -0.5f, 1e-6f);
    axmul_table_free(t);
    /* row a = 0 returns 1000 more: only the tap x = 0 (code 0, weight code 255) reads it */
    t = table_plus(0, 0, 1000);
    ck_assert_int_eq(axmul_conv2d_ref(&d, t, x, w, y, NULL), AXMUL_OK);
    float sxsw = (3.0f / 255.0f) * (1.5f / 255.0f);
    ck_assert_float_eq_tol(y[0], -0.5f + 1000.0f * sxsw, 1e-5f);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_ref_hand_padding_zero_point)
{
    /* Input range [-1, 1] has zero point 127; SAME padding of a 3x3 kernel on 2x2 gives every
     * output 4 real taps and 5 padded ones, which must read the table at row zx = 127. Adding 5
     * to that row adds 25 * s_x * s_w to every output (no input value quantizes to 127). */
    float x[4] = {-1, -0.5f, 0.5f, 1}, w[9], y0[4], y1[4];
    for (int i = 0; i < 9; i++)
        w[i] = (float)(i % 3) - 1.0f; /* -1, 0, 1: range [-1, 1] */
    axmul_conv_desc d;
    desc_2x2(&d, 3, 3, AXMUL_PADDING_SAME);
    axmul_table *e = table_plus(0, -1, 0), *t = table_plus(0, 127, 5);
    axmul_conv_info info;
    ck_assert_int_eq(axmul_conv2d_ref(&d, e, x, w, y0, &info), AXMUL_OK);
    ck_assert_int_eq(info.input_q.zero_point, 127);
    ck_assert_int_eq(axmul_conv2d_ref(&d, t, x, w, y1, NULL), AXMUL_OK);
    float sxsw = info.input_q.scale * info.filter_q.scale;
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq_tol(y1[i] - y0[i], 25.0f * sxsw, 1e-5f);
    /* and the fast path agrees bit for bit */
    float y2[4];
    ck_assert_int_eq(axmul_conv2d(&d, t, x, w, y2, NULL), AXMUL_OK);
    ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
    axmul_table_free(e);
    axmul_table_free(t);
}
END_TEST

START_TEST(test_exact_table_equals_float_conv)
{
    uint64_t s = tu_seed() ^ 0x99;
    for (int sgn = 0; sgn < 2; sgn++) {
        axmul_table *t;
        ck_assert_int_eq(axmul_table_create_exact(sgn, &t), AXMUL_OK);
        for (int it = 0; it < 40; it++) {
            rcase c;
            random_case(&s, &c);
            float *y = malloc(c.ny * sizeof(float)), *r = malloc(c.ny * sizeof(float));
            ck_assert_int_eq(axmul_conv2d(&c.d, t, c.x, c.w, y, NULL), AXMUL_OK);
            ck_assert_int_eq(axmul_conv2d_fakequant_float(&c.d, sgn, c.x, c.w, r), AXMUL_OK);
            double mx = 0, md = 0, ax = 0, aw = 0;
            for (size_t i = 0; i < c.ny; i++) {
                mx = fmax(mx, fabs(r[i]));
                md = fmax(md, fabs((double)y[i] - r[i]));
            }
            for (size_t i = 0; i < c.nx; i++)
                ax = fmax(ax, fabs(c.x[i]));
            for (size_t i = 0; i < c.nw; i++)
                aw = fmax(aw, fabs(c.w[i]));
            /* The float path rounds once per product and once per addition: an output that
             * cancels to near zero keeps those roundings, so the bound is K roundings of the
             * largest product (fake-quantized values lie within half a step of the clamped
             * inputs: the margins), besides 1e-6 of the largest output. */
            const int k = c.d.kh * c.d.kw * (c.d.c / c.d.groups);
            const double tol = 1e-6 * mx + 2.0 * k * 0x1p-24 * (1.5 * ax + 0.1) * (1.5 * aw + 0.1);
            char desc[256];
            describe(&c.d, desc, sizeof desc);
            ck_assert_msg(md <= tol,
                          "%s signed %d: max difference %g, bound %g (largest output %g)", desc,
                          sgn, md, tol, mx);
            free(y);
            free(r);
            rcase_free(&c);
        }
        axmul_table_free(t);
    }
}
END_TEST

START_TEST(test_dense)
{
    uint64_t s = tu_seed() ^ 0x42;
    axmul_table *t = random_table(&s, 0);
    axmul_dense_desc dd;
    axmul_dense_desc_init(&dd);
    dd.n = 5;
    dd.in = 37;
    dd.out = 11;
    dd.per_channel = 1;
    float x[5 * 37], w[37 * 11], y[5 * 11], r[5 * 11], c[5 * 11];
    for (int i = 0; i < 5 * 37; i++)
        x[i] = tu_randf(&s, 0, 3);
    for (int i = 0; i < 37 * 11; i++)
        w[i] = tu_randf(&s, -1, 1);
    ck_assert_int_eq(axmul_dense(&dd, t, x, w, y, NULL), AXMUL_OK);
    ck_assert_int_eq(axmul_dense_ref(&dd, t, x, w, r, NULL), AXMUL_OK);
    ck_assert_int_eq(memcmp(y, r, sizeof y), 0);
    /* the same as a 1x1 convolution of 1x1 images */
    axmul_conv_desc d;
    axmul_conv_desc_init(&d);
    d.n = 5;
    d.h = d.w = 1;
    d.c = 37;
    d.kh = d.kw = 1;
    d.co = 11;
    d.per_channel = 1;
    ck_assert_int_eq(axmul_conv2d(&d, t, x, w, c, NULL), AXMUL_OK);
    ck_assert_int_eq(memcmp(y, c, sizeof y), 0);
    axmul_table_free(t);
}
END_TEST

static axmul_status run_bad(axmul_conv_desc *d, float *x, float *w)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    static float y[4096];
    axmul_status st = axmul_conv2d(d, t, x, w, y, NULL);
    axmul_status st2 = axmul_conv2d_ref(d, t, x, w, y, NULL);
    ck_assert_int_eq(st, st2);
    axmul_table_free(t);
    return st;
}

START_TEST(test_bad_inputs)
{
    float x[64], w[64];
    for (int i = 0; i < 64; i++)
        x[i] = w[i] = (float)i / 64;
    axmul_conv_desc d;
    desc_2x2(&d, 1, 1, AXMUL_PADDING_VALID);
    d.c = 2;
    d.groups = 2;
    d.co = 3; /* 3 output channels do not split into 2 groups */
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_SHAPE);
    ck_assert(strstr(axmul_error_detail(), "groups") != NULL);
    desc_2x2(&d, 3, 3, AXMUL_PADDING_VALID);
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_SHAPE);
    ck_assert(strstr(axmul_error_detail(), "larger than the padded input") != NULL);
    desc_2x2(&d, 1, 1, AXMUL_PADDING_VALID);
    d.stride_h = 0;
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(axmul_error_detail(), "stride height") != NULL);
    desc_2x2(&d, 1, 1, AXMUL_PADDING_EXPLICIT);
    d.pad_left = -1;
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(axmul_error_detail(), "negative") != NULL);
    desc_2x2(&d, 1, 1, AXMUL_PADDING_VALID);
    x[2] = NAN;
    d.input_name = "images.npy";
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_NONFINITE);
    ck_assert(strstr(axmul_error_detail(), "images.npy: element 2 is NaN") != NULL);
    x[2] = 0;
    w[0] = -INFINITY;
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_NONFINITE);
    ck_assert(strstr(axmul_error_detail(), "filter: element 0 is -Inf") != NULL);
    w[0] = 0;
    d.input_range_set = 1;
    d.input_range = (axmul_range){2, 1};
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_RANGE);
    ck_assert(strstr(axmul_error_detail(), "images.npy range") != NULL);
    d.input_range = (axmul_range){0, 0}; /* degenerate: all-zero output */
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    float y[4] = {1, 1, 1, 1};
    ck_assert_int_eq(axmul_conv2d(&d, t, x, w, y, NULL), AXMUL_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(y[i] == 0.0f && !signbit(y[i]));
    axmul_table_free(t);
    desc_2x2(&d, 1, 1, AXMUL_PADDING_VALID);
    d.n = 0;
    ck_assert_int_eq(run_bad(&d, x, w), AXMUL_ERR_INVALID_ARGUMENT);
    /* sizes beyond the per-tensor limit are refused before any allocation */
    desc_2x2(&d, 1, 1, AXMUL_PADDING_VALID);
    d.n = 1 << 20;
    d.h = d.w = 1 << 10;
    ck_assert_int_eq(axmul_conv_output_shape(&d, NULL, NULL), AXMUL_ERR_OVERFLOW);
}
END_TEST

/* TensorFlow's padding written out independently of the engine: SAME pads out = ceil(in /
 * stride) with the odd pixel at the end (bottom/right). */
static void expected_pads(const axmul_conv_desc *d, int oh, int ow, int pad[4])
{
    if (d->padding == AXMUL_PADDING_EXPLICIT) {
        pad[0] = d->pad_top;
        pad[1] = d->pad_bottom;
        pad[2] = d->pad_left;
        pad[3] = d->pad_right;
        return;
    }
    memset(pad, 0, 4 * sizeof *pad);
    if (d->padding != AXMUL_PADDING_SAME)
        return;
    const int th = (oh - 1) * d->stride_h + (d->kh - 1) * d->dilation_h + 1 - d->h;
    const int tw = (ow - 1) * d->stride_w + (d->kw - 1) * d->dilation_w + 1 - d->w;
    pad[0] = th > 0 ? th / 2 : 0;
    pad[1] = th > 0 ? th - pad[0] : 0;
    pad[2] = tw > 0 ? tw / 2 : 0;
    pad[3] = tw > 0 ? tw - pad[2] : 0;
}

/* The exact float convolution against a direct loop in double on random shapes (strides,
 * dilations, every padding, groups, depthwise) and pointwise ones (one SGEMM over all pixels):
 * within float32 rounding of the sum of |x * w| over the taps; the padding it reports against
 * the formula above. */
START_TEST(test_float_conv_matches_direct)
{
    uint64_t s = tu_seed() ^ 0x5151;
    for (int it = 0; it < 80; it++) {
        rcase c;
        random_case(&s, &c);
        axmul_conv_desc *d = &c.d;
        if (it % 8 == 0) { /* pointwise */
            rcase_free(&c);
            axmul_conv_desc_init(d);
            d->n = tu_randint(&s, 1, 3);
            d->h = tu_randint(&s, 1, 9);
            d->w = tu_randint(&s, 1, 9);
            d->c = tu_randint(&s, 1, 40);
            d->kh = d->kw = 1;
            d->co = tu_randint(&s, 1, 20);
            d->padding = tu_randint(&s, 0, 1) ? AXMUL_PADDING_SAME : AXMUL_PADDING_VALID;
            fill_case(&s, &c, d->h, d->w, -1.0f, 2.0f, -1.0f, 1.0f);
        }
        int oh, ow, pad[4], want[4];
        ck_assert_int_eq(axmul_conv_output_shape(d, &oh, &ow), AXMUL_OK);
        ck_assert_int_eq(axmul_conv_padding(d, pad), AXMUL_OK);
        expected_pads(d, oh, ow, want);
        ck_assert_int_eq(memcmp(pad, want, sizeof pad), 0);
        float *y = malloc(c.ny * sizeof *y);
        ck_assert_int_eq(axmul_conv2d_float(d, c.x, c.w, y), AXMUL_OK);
        const int cin = d->c / d->groups, cout = d->co / d->groups;
        for (int n = 0; n < d->n; n++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int o = 0; o < d->co; o++) {
                        const int g = o / cout;
                        double acc = 0, mag = 0;
                        for (int i = 0; i < d->kh; i++)
                            for (int j = 0; j < d->kw; j++) {
                                const int iy = oy * d->stride_h - pad[0] + i * d->dilation_h;
                                const int ix = ox * d->stride_w - pad[2] + j * d->dilation_w;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
                                    continue;
                                for (int ci = 0; ci < cin; ci++) {
                                    const double v =
                                        (double)c.x[(((size_t)n * d->h + iy) * d->w + ix) * d->c +
                                                    (size_t)g * cin + ci] *
                                        c.w[(((size_t)i * d->kw + j) * cin + ci) * d->co + o];
                                    acc += v;
                                    mag += fabs(v);
                                }
                            }
                        const double got = y[(((size_t)n * oh + oy) * ow + ox) * d->co + o];
                        ck_assert_msg(fabs(got - acc) <= 1e-5 * mag + 1e-30,
                                      "case %d: output (%d, %d, %d, %d) = %.9g, direct %.9g", it, n,
                                      oy, ox, o, got, acc);
                    }
        free(y);
        rcase_free(&c);
    }
    axmul_conv_desc d;
    axmul_conv_desc_init(&d); /* shape fields zero: refused by name */
    float v = 0;
    ck_assert_int_eq(axmul_conv2d_float(&d, &v, &v, &v), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(axmul_error_detail(), "batch size") != NULL);
    ck_assert_int_eq(axmul_conv2d_float(NULL, &v, &v, &v), AXMUL_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The descriptor's bias: every kernel's output plus bias[o], bit for bit what adding it after
 * the call gives (the fast path, the reference, the fake-quantized and the exact float
 * convolution, dense layers). */
START_TEST(test_bias_is_a_final_addition)
{
    uint64_t s = tu_seed() ^ 0xb1a5;
    for (int it = 0; it < 30; it++) {
        rcase c;
        random_case(&s, &c);
        axmul_table *t = random_table(&s, (int)(it % 2));
        float *bias = malloc(sizeof(float) * (size_t)c.d.co);
        for (int o = 0; o < c.d.co; o++)
            bias[o] = tu_randf(&s, -2, 2);
        float *a = malloc(c.ny * sizeof(float)), *b = malloc(c.ny * sizeof(float));
        for (int k = 0; k < 4; k++) {
            axmul_conv_desc d = c.d;
            d.bias = NULL;
            axmul_status st0 = k == 0   ? axmul_conv2d(&d, t, c.x, c.w, a, NULL)
                               : k == 1 ? axmul_conv2d_ref(&d, t, c.x, c.w, a, NULL)
                               : k == 2 ? axmul_conv2d_fakequant_float(&d, it % 2, c.x, c.w, a)
                                        : axmul_conv2d_float(&d, c.x, c.w, a);
            d.bias = bias;
            axmul_status st1 = k == 0   ? axmul_conv2d(&d, t, c.x, c.w, b, NULL)
                               : k == 1 ? axmul_conv2d_ref(&d, t, c.x, c.w, b, NULL)
                               : k == 2 ? axmul_conv2d_fakequant_float(&d, it % 2, c.x, c.w, b)
                                        : axmul_conv2d_float(&d, c.x, c.w, b);
            ck_assert_int_eq(st0, AXMUL_OK);
            ck_assert_int_eq(st1, AXMUL_OK);
            for (size_t i = 0; i < c.ny; i++)
                a[i] += bias[i % (size_t)c.d.co];
            char ctx[64];
            snprintf(ctx, sizeof ctx, "case %d, kind %d", it, k);
            assert_same_bits(b, a, c.ny, ctx);
        }
        free(a);
        free(b);
        free(bias);
        axmul_table_free(t);
        rcase_free(&c);
    }
    axmul_table *t = random_table(&s, 0);
    axmul_dense_desc dd;
    axmul_dense_desc_init(&dd);
    dd.n = 3;
    dd.in = 9;
    dd.out = 4;
    float x[27], w[36], bias[4] = {1.5f, -2, 0.25f, 3}, y0[12], y1[12];
    for (int i = 0; i < 27; i++)
        x[i] = tu_randf(&s, 0, 1);
    for (int i = 0; i < 36; i++)
        w[i] = tu_randf(&s, -1, 1);
    ck_assert_int_eq(axmul_dense(&dd, t, x, w, y0, NULL), AXMUL_OK);
    dd.bias = bias;
    ck_assert_int_eq(axmul_dense(&dd, t, x, w, y1, NULL), AXMUL_OK);
    for (int i = 0; i < 12; i++)
        y0[i] += bias[i % 4];
    assert_same_bits(y1, y0, 12, "dense");
    axmul_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_quant_nudging);
    tcase_add_test(tc, test_quant_signed_and_errors);
    tcase_add_test(tc, test_ref_hand_1x1);
    tcase_add_test(tc, test_ref_hand_2x2);
    tcase_add_test(tc, test_ref_hand_padding_zero_point);
    tcase_add_test(tc, test_exact_table_equals_float_conv);
    tcase_add_test(tc, test_dense);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_float_conv_matches_direct);
    tcase_add_test(tc, test_bias_is_a_final_addition);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
