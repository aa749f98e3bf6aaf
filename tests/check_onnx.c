/* Unit tests of the ONNX import (lib/net/onnx): models built here with the generated protobuf
 * code; the LUT nodes (Conv, Gemm, MatMul between activations) against the engine's own calls
 * bit for bit; QDQ models quantize as their scales and zero points say; the refusals, by file,
 * node and op; calibration's ranges through save and load; layouts, batches and the plans. */
#include "config.h"

#include <math.h>

#include "tests/onnxbuild.h"

/* ---------------------------------------------------------------- LUT layers */

/* A Conv node with a table is axmul_conv2d on the NHWC input and HWIO weights, bit for bit
 * (pads, strides, dilations, groups, bias, per-channel weights). */
START_TEST(test_conv_lut_is_engine)
{
    uint64_t rng = tu_seed() + 11;
    char *dir = tu_mkdtemp();
    axmul_table *t = random_table(&rng, 0);
    static const struct {
        int c, m, group, kh, kw, sh, sw, dh, dw;
        int64_t pads[4];
    } cs[] = {{3, 4, 1, 3, 3, 2, 1, 1, 2, {1, 0, 2, 1}}, {4, 4, 4, 3, 2, 1, 2, 1, 1, {1, 1, 1, 0}}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
        for (int per_channel = 0; per_channel < 2; per_channel++) {
            const int N = 2, C = cs[ci].c, H = 9, W = 8, M = cs[ci].m, cg = C / cs[ci].group;
            const int64_t xd[4] = {-1, C, H, W}, wd[4] = {M, cg, cs[ci].kh, cs[ci].kw}, bd[1] = {M};
            const size_t nw = (size_t)M * cg * cs[ci].kh * cs[ci].kw;
            float x[2 * 4 * 9 * 8], w[4 * 4 * 3 * 3], bias[4];
            fill(&rng, x, (size_t)N * C * H * W, -1.0f, 1.5f);
            fill(&rng, w, nw, -0.5f, 0.5f);
            fill(&rng, bias, (size_t)M, -0.2f, 0.2f);
            mb b;
            mb_init(&b, 13);
            mb_value(&b, 0, "x", 1, 4, xd);
            mb_init_t(&b, "w", 1, 4, wd, w);
            mb_init_t(&b, "b", 1, 1, bd, bias);
            Onnx__NodeProto *n = mb_node(&b, "Conv", "conv", "x,w,b", "y");
            mb_ints(&b, n, "pads", 4, cs[ci].pads);
            mb_ints(&b, n, "strides", 2, (int64_t[]){cs[ci].sh, cs[ci].sw});
            mb_ints(&b, n, "dilations", 2, (int64_t[]){cs[ci].dh, cs[ci].dw});
            mb_int(&b, n, "group", cs[ci].group);
            mb_value(&b, 1, "y", 1, -1, NULL);
            mb_meta(&b, "axmul:range:conv", "-1 1.5");
            axmul__onnx *g;
            ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "conv.onnx"), &g), AXMUL_OK);
            mb_free(&b);
            ck_assert_int_eq(g->nodes[0].approx, AXMUL_APPROX_CONV);
            ck_assert(g->nodes[0].has_range[0] && g->nodes[0].range[0].max == 1.5f);
            axmul_net_options o;
            axmul_net_options_init(&o);
            o.table = t;
            o.per_channel = per_channel;
            axmul__tensor in = in_tensor(AXMUL__DT_FLOAT, 4, (int64_t[]){N, C, H, W}, x), out;
            ck_assert_int_eq(axmul__onnx_forward(g, &o, &in, &out, NULL), AXMUL_OK);
            const int oh = (int)out.sh.d[2], ow = (int)out.sh.d[3];
            /* the engine itself */
            float xh[2 * 9 * 8 * 4], wh[4 * 4 * 3 * 3], yh[2 * 4 * 9 * 8], yr[2 * 4 * 9 * 8];
            to_nhwc(x, N, C, H * W, xh);
            oihw_to_hwio(w, M, cg, cs[ci].kh, cs[ci].kw, wh);
            axmul_conv_desc d;
            axmul_conv_desc_init(&d);
            d.n = N, d.h = H, d.w = W, d.c = C, d.kh = cs[ci].kh, d.kw = cs[ci].kw, d.co = M;
            d.stride_h = cs[ci].sh, d.stride_w = cs[ci].sw;
            d.dilation_h = cs[ci].dh, d.dilation_w = cs[ci].dw, d.groups = cs[ci].group;
            d.padding = AXMUL_PADDING_EXPLICIT;
            d.pad_top = (int)cs[ci].pads[0], d.pad_left = (int)cs[ci].pads[1];
            d.pad_bottom = (int)cs[ci].pads[2], d.pad_right = (int)cs[ci].pads[3];
            d.input_range_set = 1;
            d.input_range = (axmul_range){-1.0f, 1.5f};
            d.per_channel = per_channel;
            d.bias = bias;
            ck_assert_int_eq(axmul_conv2d(&d, t, xh, wh, yh, NULL), AXMUL_OK);
            ck_assert_int_eq(out.sh.d[1], M);
            for (int i = 0; i < N; i++) /* NHWC -> NCHW */
                for (int p = 0; p < oh * ow; p++)
                    for (int ch = 0; ch < M; ch++)
                        yr[((size_t)i * M + ch) * oh * ow + p] =
                            yh[((size_t)i * oh * ow + p) * M + ch];
            ck_assert_mem_eq(out.data, yr, sizeof(float) * (size_t)N * M * oh * ow);
            /* float: the exact convolution */
            axmul__tensor fo;
            ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, &fo, NULL), AXMUL_OK);
            float yf[2 * 4 * 9 * 8];
            ck_assert_int_eq(axmul_conv2d_float(&d, xh, wh, yf), AXMUL_OK);
            for (int i = 0; i < N; i++)
                for (int p = 0; p < oh * ow; p++)
                    for (int ch = 0; ch < M; ch++) {
                        const float want = yf[((size_t)i * oh * ow + p) * M + ch]; /* (bias in) */
                        const float got = ((float *)fo.data)[((size_t)i * M + ch) * oh * ow + p];
                        ck_assert_float_eq_tol(got, want, 1e-5f);
                    }
            release(&out, 1);
            release(&fo, 1);
            axmul__onnx_free(g);
        }
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

/* Gemm with a table is axmul_dense (transB, the bias C; alpha, beta and a full C after). */
START_TEST(test_gemm_lut_is_dense)
{
    uint64_t rng = tu_seed() + 12;
    char *dir = tu_mkdtemp();
    axmul_table *t = random_table(&rng, 1);
    for (int full = 0; full < 2; full++) {
        const int M = 5, K = 7, N = 4;
        float a[5 * 7], bt[4 * 7], cv[5 * 4], bkn[7 * 4], y[5 * 4];
        fill(&rng, a, (size_t)M * K, -2.0f, 2.0f);
        fill(&rng, bt, (size_t)N * K, -1.0f, 1.0f);
        fill(&rng, cv, (size_t)M * N, -1.0f, 1.0f);
        mb b;
        mb_init(&b, 13);
        mb_value(&b, 0, "a", 1, 2, (int64_t[]){-1, K});
        mb_init_t(&b, "b", 1, 2, (int64_t[]){N, K}, bt);
        mb_init_t(&b, "c", 1, full ? 2 : 1, full ? (int64_t[]){M, N} : (int64_t[]){N}, cv);
        Onnx__NodeProto *n = mb_node(&b, "Gemm", "fc", "a,b,c", "y");
        mb_int(&b, n, "transB", 1);
        if (full) {
            mb_float(&b, n, "alpha", 0.5f);
            mb_float(&b, n, "beta", 2.0f);
        }
        mb_value(&b, 1, "y", 1, -1, NULL);
        axmul__onnx *g;
        ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "gemm.onnx"), &g), AXMUL_OK);
        mb_free(&b);
        ck_assert_int_eq(g->nodes[0].approx, AXMUL_APPROX_DENSE);
        g->nodes[0].has_range[0] = 1;
        g->nodes[0].range[0] = (axmul_range){-2.0f, 2.0f};
        axmul_net_options o;
        axmul_net_options_init(&o);
        o.table = t;
        o.approx = AXMUL_APPROX_DENSE;
        axmul__tensor in = in_tensor(AXMUL__DT_FLOAT, 2, (int64_t[]){M, K}, a), out;
        ck_assert_int_eq(axmul__onnx_forward(g, &o, &in, &out, NULL), AXMUL_OK);
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++)
                bkn[k * N + j] = bt[j * K + k];
        axmul_dense_desc d;
        axmul_dense_desc_init(&d);
        d.n = M, d.in = K, d.out = N;
        d.input_range_set = 1;
        d.input_range = (axmul_range){-2.0f, 2.0f};
        d.bias = full ? NULL : cv;
        ck_assert_int_eq(axmul_dense(&d, t, a, bkn, y, NULL), AXMUL_OK);
        for (int e = 0; full && e < M * N; e++)
            y[e] = y[e] * 0.5f + 2.0f * cv[e];
        ck_assert_mem_eq(out.data, y, sizeof y);
        release(&out, 1);
        axmul__onnx_free(g);
    }
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

/* MatMul of two activations reads the table only under AXMUL_APPROX_MATMUL: per batch matrix
 * axmul_dense with both ranges those of the whole tensors (per-batch ranges here). */
START_TEST(test_matmul_activations)
{
    uint64_t rng = tu_seed() + 13;
    char *dir = tu_mkdtemp();
    axmul_table *t = random_table(&rng, 0);
    float a[2 * 3 * 4 * 5], bm[2 * 3 * 5 * 6], y[2 * 3 * 4 * 6];
    fill(&rng, a, sizeof a / sizeof a[0], -1.0f, 3.0f);
    fill(&rng, bm, sizeof bm / sizeof bm[0], -2.0f, 1.0f);
    mb b;
    mb_init(&b, 13);
    mb_value(&b, 0, "a", 1, 4, (int64_t[]){-1, 3, 4, 5});
    mb_value(&b, 0, "b", 1, 4, (int64_t[]){-1, 3, 5, 6});
    mb_node(&b, "MatMul", "qk", "a,b", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    axmul__onnx *g;
    ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "mm.onnx"), &g), AXMUL_OK);
    mb_free(&b);
    ck_assert_int_eq(g->nodes[0].approx, AXMUL_APPROX_MATMUL);
    axmul_net_options o;
    axmul_net_options_init(&o);
    o.table = t;
    o.approx = AXMUL_APPROX_ALL; /* conv and dense: not this node */
    o.batch_ranges = 1;
    axmul__tensor in[2] = {in_tensor(AXMUL__DT_FLOAT, 4, (int64_t[]){2, 3, 4, 5}, a),
                           in_tensor(AXMUL__DT_FLOAT, 4, (int64_t[]){2, 3, 5, 6}, bm)},
                  out;
    ck_assert_int_eq(axmul__onnx_forward(g, &o, in, &out, NULL), AXMUL_OK);
    for (int m = 0; m < 6; m++) /* float: a plain product */
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 6; j++) {
                double s = 0;
                for (int k = 0; k < 5; k++)
                    s += (double)a[(m * 4 + i) * 5 + k] * bm[(m * 5 + k) * 6 + j];
                ck_assert_float_eq_tol(((float *)out.data)[(m * 4 + i) * 6 + j], s, 1e-4);
            }
    release(&out, 1);
    o.approx = AXMUL_APPROX_MATMUL;
    ck_assert_int_eq(axmul__onnx_forward(g, &o, in, &out, NULL), AXMUL_OK);
    axmul_range ra, rb;
    ck_assert_int_eq(axmul_range_of(a, sizeof a / sizeof a[0], "a", &ra), AXMUL_OK);
    ck_assert_int_eq(axmul_range_of(bm, sizeof bm / sizeof bm[0], "b", &rb), AXMUL_OK);
    for (int m = 0; m < 6; m++) {
        axmul_dense_desc d;
        axmul_dense_desc_init(&d);
        d.n = 4, d.in = 5, d.out = 6;
        d.input_range_set = d.filter_range_set = 1;
        d.input_range = ra;
        d.filter_range = rb;
        ck_assert_int_eq(axmul_dense(&d, t, a + m * 20, bm + m * 30, y + m * 24, NULL), AXMUL_OK);
    }
    ck_assert_mem_eq(out.data, y, sizeof y);
    release(&out, 1);
    /* calibrated ranges instead: both operands' */
    o.batch_ranges = 0;
    ck_assert_int_eq(axmul__onnx_forward(g, &o, in, &out, NULL), AXMUL_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "node qk (MatMul)"));
    g->nodes[0].has_range[0] = g->nodes[0].has_range[1] = 1;
    g->nodes[0].range[0] = ra;
    g->nodes[0].range[1] = rb;
    ck_assert_int_eq(axmul__onnx_forward(g, &o, in, &out, NULL), AXMUL_OK);
    ck_assert_mem_eq(out.data, y, sizeof y);
    release(&out, 1);
    axmul__onnx_free(g);
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

/* ---------------------------------------------------------------- QDQ */

/* A QDQ model's Conv reads the table at the codes of the model's own quantization: with the exact
 * table, the sum of (qx - zx)(qw - zw) times the scales, whatever the data's min/max. */
START_TEST(test_qdq_conv_codes)
{
    uint64_t rng = tu_seed() + 14;
    char *dir = tu_mkdtemp();
    const float sx = 0.02f, sw[3] = {0.01f, 0.02f, 0.005f};
    const uint8_t zx = 10, zw[3] = {128, 120, 130};
    float x[2 * 6 * 6];
    uint8_t wq[3 * 2 * 3 * 3];
    fill(&rng, x, sizeof x / sizeof x[0], -0.1f, 3.0f);
    for (size_t k = 0; k < sizeof wq; k++)
        wq[k] = (uint8_t)(tu_rand(&rng) % 256);
    for (int per = 0; per < 2; per++) {
        mb b;
        mb_init(&b, 13);
        mb_value(&b, 0, "x", 1, 4, (int64_t[]){-1, 2, 6, 6});
        mb_init_t(&b, "sx", 1, 0, NULL, &sx);
        mb_init_t(&b, "zx", 2, 0, NULL, &zx);
        mb_init_t(&b, "wq", 2, 4, (int64_t[]){3, 2, 3, 3}, wq);
        mb_init_t(&b, "sw", 1, per, (int64_t[]){3}, sw);
        mb_init_t(&b, "zw", 2, per, (int64_t[]){3}, zw);
        mb_node(&b, "QuantizeLinear", "q", "x,sx,zx", "xq");
        mb_node(&b, "DequantizeLinear", "dq", "xq,sx,zx", "xd");
        Onnx__NodeProto *n = mb_node(&b, "DequantizeLinear", "dqw", "wq,sw,zw", "w");
        mb_int(&b, n, "axis", 0);
        n = mb_node(&b, "Conv", "conv", "xd,w", "y");
        mb_ints(&b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
        mb_value(&b, 1, "y", 1, -1, NULL);
        axmul_model *m;
        ck_assert_int_eq(axmul_model_load(mb_write(&b, dir, "qdq.onnx"), &m), AXMUL_OK);
        mb_free(&b);
        ck_assert(axmul_model_calibrated(m)); /* the model's quantization */
        axmul_table *t;
        ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
        axmul_net_options o;
        axmul_net_options_init(&o);
        o.table = t;
        float xh[36 * 2];
        to_nhwc(x, 1, 2, 36, xh);
        float scores[3 * 36];
        ck_assert_int_eq(axmul_model_predict(m, &o, xh, 1, NULL, scores), AXMUL_OK);
        for (int oc = 0; oc < 3; oc++)
            for (int oy = 0; oy < 6; oy++)
                for (int ox = 0; ox < 6; ox++) {
                    int64_t acc = 0;
                    const int ws = per ? oc : 0;
                    for (int c = 0; c < 2; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                const int iy = oy + i - 1, ix = ox + j - 1;
                                if (iy < 0 || iy >= 6 || ix < 0 || ix >= 6)
                                    continue;
                                long q = lrintf(nearbyintf(x[(c * 6 + iy) * 6 + ix] / sx)) + zx;
                                q = q < 0 ? 0 : q > 255 ? 255 : q;
                                acc +=
                                    (q - zx) * ((int)wq[((oc * 2 + c) * 3 + i) * 3 + j] - zw[ws]);
                            }
                    const double want = (double)acc * sx * sw[ws];
                    ck_assert_float_eq_tol(scores[(oc * 6 + oy) * 6 + ox], want,
                                           1e-5 * (1 + fabs(want)));
                }
        axmul_table_free(t);
        axmul_model_free(m);
    }
    tu_rmdir(dir);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

static void expect_load_error(const char *path, axmul_status want, const char *a, const char *b)
{
    axmul__onnx *g = NULL;
    ck_assert_int_eq(axmul__onnx_load(path, &g), want);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(axmul_error_detail(), path) && strstr(axmul_error_detail(), a) &&
                      (!b || strstr(axmul_error_detail(), b)),
                  "detail '%s' lacks '%s'/'%s'", axmul_error_detail(), a, b ? b : "");
}

START_TEST(test_refusals)
{
    char *dir = tu_mkdtemp();
    const float w[4] = {1, 2, 3, 4};
    const int64_t w4[1] = {0};
    Onnx__NodeProto *n0;
    mb b;
    /* an unknown op, named with its node */
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){1, 4});
    mb_node(&b, "FooBar", "mynode", "x", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    expect_load_error(mb_write(&b, dir, "op.onnx"), AXMUL_ERR_UNSUPPORTED, "node mynode",
                      "op FooBar is not supported");
    mb_free(&b);
    /* external data */
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){1, 4});
    mb_init_t(&b, "w", 1, 2, (int64_t[]){4, 1}, w);
    b.inits[0]->has_data_location = 1;
    b.inits[0]->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    mb_node(&b, "MatMul", "mm", "x,w", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    expect_load_error(mb_write(&b, dir, "ext.onnx"), AXMUL_ERR_UNSUPPORTED, "initializer w",
                      "external file");
    mb_free(&b);
    /* a non-finite weight */
    mb_init(&b, 13);
    const float bad[4] = {1, NAN, 3, 4};
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){1, 4});
    mb_init_t(&b, "w", 1, 2, (int64_t[]){4, 1}, bad);
    mb_node(&b, "MatMul", "mm", "x,w", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    expect_load_error(mb_write(&b, dir, "nan.onnx"), AXMUL_ERR_NONFINITE, "initializer w",
                      "element 1");
    mb_free(&b);
    /* a cycle, an unknown value, an opset */
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){1, 4});
    mb_node(&b, "Add", "a", "x,v", "u");
    mb_node(&b, "Relu", "r", "u", "v");
    mb_value(&b, 1, "v", 1, -1, NULL);
    expect_load_error(mb_write(&b, dir, "cycle.onnx"), AXMUL_ERR_FORMAT, "cycle", NULL);
    mb_free(&b);
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){1, 4});
    mb_node(&b, "Add", "a", "x,nowhere", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    expect_load_error(mb_write(&b, dir, "unknown.onnx"), AXMUL_ERR_FORMAT, "value nowhere", NULL);
    mb_free(&b);
    mb_init(&b, 99);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){1, 4});
    mb_node(&b, "Relu", "r", "x", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    expect_load_error(mb_write(&b, dir, "opset.onnx"), AXMUL_ERR_UNSUPPORTED, "opset 99", NULL);
    mb_free(&b);
    /* not a protobuf at all, and a missing file */
    char path[4200];
    snprintf(path, sizeof path, "%s/junk.onnx", dir);
    tu_write(path, "\xff\xff\xff\xff\x0f garbage", 14);
    expect_load_error(path, AXMUL_ERR_FORMAT, "not an ONNX model", NULL);
    axmul_model *m;
    snprintf(path, sizeof path, "%s/none.onnx", dir);
    ck_assert_int_eq(axmul_model_load(path, &m), AXMUL_ERR_NOT_FOUND);
    /* at run time: an input shape, a table on a Relu, a range, a 1-D Conv */
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 4, (int64_t[]){-1, 1, 4, 4});
    mb_init_t(&b, "w", 1, 4, (int64_t[]){1, 1, 2, 2}, w);
    mb_node(&b, "Conv", "conv", "x,w", "c");
    mb_node(&b, "Relu", "relu", "c", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    axmul__onnx *g;
    ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "run.onnx"), &g), AXMUL_OK);
    mb_free(&b);
    float x[32] = {0};
    axmul__tensor in = in_tensor(AXMUL__DT_FLOAT, 4, (int64_t[]){2, 2, 4, 4}, x), out;
    ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, &out, NULL), AXMUL_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "input x: shape 2x2x4x4 given, the model "
                                                       "takes ?x1x4x4"));
    in.sh.d[1] = 1;
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    const axmul_table *lt[2] = {NULL, t};
    axmul_net_options o;
    axmul_net_options_init(&o);
    o.layer_tables = lt;
    ck_assert_int_eq(axmul__onnx_forward(g, &o, &in, &out, NULL), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "node relu is a Relu"));
    lt[0] = t;
    lt[1] = NULL;
    ck_assert_int_eq(axmul__onnx_forward(g, &o, &in, &out, NULL), AXMUL_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "node conv (Conv) has no calibrated range"));
    o.batch_ranges = 1;
    ck_assert_int_eq(axmul__onnx_forward(g, &o, &in, &out, NULL), AXMUL_OK);
    release(&out, 1);
    axmul__onnx_free(g);
    axmul_table_free(t);
    /* what the fuzzer found: a node without inputs, a shape of 2^62 elements, empty lists */
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){2, 2});
    mb_init_t(&b, "s", 7, 1, (int64_t[]){2}, (int64_t[]){(int64_t)1 << 31, (int64_t)1 << 31});
    mb_node(&b, "Relu", "none", "", "r");
    n0 = mb_node(&b, "Reshape", "big", "x,s", "y");
    mb_ints(&b, n0, "perm", 0, w4);
    mb_value(&b, 1, "y", 1, -1, NULL);
    mb_value(&b, 1, "r", 1, -1, NULL);
    ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "fz.onnx"), &g), AXMUL_OK);
    mb_free(&b);
    in = in_tensor(AXMUL__DT_FLOAT, 2, (int64_t[]){2, 2}, x);
    ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, NULL, NULL), AXMUL_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "node none (Relu): input 0 is missing"));
    axmul__onnx_free(g);
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){2, 2});
    mb_init_t(&b, "s", 7, 1, (int64_t[]){2}, (int64_t[]){(int64_t)1 << 31, (int64_t)1 << 31});
    mb_node(&b, "Reshape", "big", "x,s", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "fz2.onnx"), &g), AXMUL_OK);
    mb_free(&b);
    ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, NULL, NULL), AXMUL_ERR_SHAPE);
    ck_assert_ptr_nonnull(
        strstr(axmul_error_detail(), "node big (Reshape): shape[0] = 2147483648"));
    axmul__onnx_free(g);
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 3, (int64_t[]){1, 1, 4});
    mb_init_t(&b, "w", 1, 3, (int64_t[]){1, 1, 2}, w);
    mb_node(&b, "Conv", "conv1d", "x,w", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "c1.onnx"), &g), AXMUL_OK);
    mb_free(&b);
    in = in_tensor(AXMUL__DT_FLOAT, 3, (int64_t[]){1, 1, 4}, x);
    ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, &out, NULL), AXMUL_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "node conv1d (Conv)"));
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "only 2-D"));
    axmul__onnx_free(g);
    tu_rmdir(dir);
}
END_TEST

/* ---------------------------------------------------------------- models */

/* An image model through the public API: its layers, calibration (the min/max of each LUT
 * node's input over the images), the ranges written into the file's metadata and read back,
 * and the same scores after. */
START_TEST(test_model_calibrate_save_load)
{
    uint64_t rng = tu_seed() + 15;
    char *dir = tu_mkdtemp();
    float w[2 * 9], fw[3 * 72], fb[3];
    fill(&rng, w, 18, -1.0f, 1.0f);
    fill(&rng, fw, 216, -0.3f, 0.3f);
    fill(&rng, fb, 3, -0.1f, 0.1f);
    mb b;
    mb_init(&b, 13);
    mb_value(&b, 0, "image", 1, 4, (int64_t[]){-1, 1, 6, 6});
    mb_init_t(&b, "w", 1, 4, (int64_t[]){2, 1, 3, 3}, w);
    mb_init_t(&b, "fw", 1, 2, (int64_t[]){3, 72}, fw);
    mb_init_t(&b, "fb", 1, 1, (int64_t[]){3}, fb);
    Onnx__NodeProto *n = mb_node(&b, "Conv", "conv", "image,w", "c");
    mb_ints(&b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    mb_node(&b, "Relu", "relu", "c", "r");
    mb_node(&b, "Flatten", "flat", "r", "f");
    n = mb_node(&b, "Gemm", "fc", "f,fw,fb", "logits");
    mb_int(&b, n, "transB", 1);
    mb_value(&b, 1, "logits", 1, -1, NULL);
    const char *p = mb_write(&b, dir, "m.onnx");
    char path[4200], path2[4200];
    snprintf(path, sizeof path, "%s", p);
    snprintf(path2, sizeof path2, "%s/m2.onnx", dir);
    mb_free(&b);
    axmul_model *m, *m2 = NULL;
    ck_assert_int_eq(axmul_model_load(path, &m), AXMUL_OK);
    ck_assert(axmul_model_is_onnx(m));
    ck_assert_int_eq(axmul_model_num_layers(m), 4);
    ck_assert_str_eq(axmul_model_layer_type(m, 0), "Conv");
    ck_assert_str_eq(axmul_model_layer_name(m, 3), "fc");
    const int kinds[4] = {AXMUL_APPROX_CONV, 0, 0, AXMUL_APPROX_DENSE};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(axmul_model_layer_approx(m, i), kinds[i]);
    int h, wd, c;
    axmul_model_input_shape(m, &h, &wd, &c);
    ck_assert(h == 6 && wd == 6 && c == 1);
    axmul_model_layer_output_shape(m, 0, &h, &wd, &c);
    ck_assert(h == 6 && wd == 6 && c == 2);
    ck_assert_int_eq(axmul_model_classes(m), 3);
    ck_assert_str_eq(axmul_model_input_name(m, 0), "image");
    ck_assert(!axmul_model_calibrated(m));
    float x[20 * 36];
    fill(&rng, x, 720, 0.0f, 1.0f);
    ck_assert_int_eq(axmul_model_calibrate(m, x, 20, 7, 1), AXMUL_OK);
    ck_assert(axmul_model_calibrated(m));
    axmul_table *t = random_table(&rng, 0);
    axmul_net_options o;
    axmul_net_options_init(&o);
    o.table = t;
    o.approx = AXMUL_APPROX_ALL;
    float s1[60], s2[60];
    uint8_t pred[20];
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 20, pred, s1), AXMUL_OK);
    ck_assert_int_eq(axmul_model_save(m, path2), AXMUL_OK);
    axmul_model_free(m);
    ck_assert_int_eq(axmul_model_load(path2, &m), AXMUL_OK);
    ck_assert(axmul_model_calibrated(m));
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 20, pred, s2), AXMUL_OK);
    ck_assert_mem_eq(s1, s2, sizeof s1);
    /* the conv's range is the images' */
    axmul_range r;
    ck_assert_int_eq(axmul_range_of(x, 720, "x", &r), AXMUL_OK);
    axmul_model_free(m);
    axmul__onnx *g;
    ck_assert_int_eq(axmul__onnx_load(path2, &g), AXMUL_OK);
    ck_assert(g->nodes[0].has_range[0] && !g->nodes[1].has_range[0]);
    ck_assert_float_eq(g->nodes[0].range[0].min, r.min);
    ck_assert_float_eq(g->nodes[0].range[0].max, r.max);
    axmul__onnx_free(g);
    /* training: as the layer model, which computes what the ONNX model computes (the dense
     * layer's rows reordered for the H, W, C flatten; with the table the same bits) */
    ck_assert_int_eq(axmul_model_load(path2, &m), AXMUL_OK);
    axmul_train_options to;
    axmul_train_options_init(&to);
    ck_assert_int_eq(axmul_model_train(m, x, pred, 20, &to), AXMUL_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "m2: an ONNX model trains as its layer"));
    axmul_model *lm;
    ck_assert_int_eq(axmul_model_to_layers(m, &lm), AXMUL_OK);
    ck_assert(!axmul_model_is_onnx(lm) && axmul_model_calibrated(lm));
    ck_assert_int_eq(axmul_model_num_layers(lm), 4);
    ck_assert_str_eq(axmul_model_layer_type(lm, 0), "conv2d");
    ck_assert_str_eq(axmul_model_layer_name(lm, 0), "conv");
    ck_assert_str_eq(axmul_model_layer_type(lm, 2), "flatten");
    ck_assert_int_eq(axmul_model_predict(lm, &o, x, 20, pred, s2), AXMUL_OK);
    ck_assert_mem_eq(s1, s2, sizeof s1);
    axmul_net_options fo;
    axmul_net_options_init(&fo);
    float f1[60], f2[60];
    ck_assert_int_eq(axmul_model_predict(m, &fo, x, 20, pred, f1), AXMUL_OK);
    ck_assert_int_eq(axmul_model_predict(lm, &fo, x, 20, pred, f2), AXMUL_OK);
    for (int k = 0; k < 60; k++)
        ck_assert_float_eq_tol(f1[k], f2[k], 1e-5);
    to.epochs = 1;
    ck_assert_int_eq(axmul_model_train(lm, x, pred, 20, &to), AXMUL_OK);
    ck_assert_int_eq(axmul_model_to_layers(lm, &m2), AXMUL_ERR_INVALID_ARGUMENT);
    axmul_model_free(lm);
    axmul_model_free(m);
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

/* A convolution's NHWC output added to a plain tensor, then an operator of the plain layout:
 * what plain NCHW arithmetic gives; an image's result does not depend on its batch; two plans
 * are kept. */
START_TEST(test_layouts_batches_plans)
{
    uint64_t rng = tu_seed() + 16;
    char *dir = tu_mkdtemp();
    float w[2 * 2 * 9], x[3 * 2 * 25];
    fill(&rng, w, 36, -1.0f, 1.0f);
    fill(&rng, x, 150, -1.0f, 1.0f);
    mb b;
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 4, (int64_t[]){-1, 2, 5, 5});
    mb_init_t(&b, "w", 1, 4, (int64_t[]){2, 2, 3, 3}, w);
    Onnx__NodeProto *n = mb_node(&b, "Conv", "conv", "x,w", "c");
    mb_ints(&b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    mb_node(&b, "Add", "add", "c,x", "s");
    mb_node(&b, "Relu", "relu", "s", "r");
    n = mb_node(&b, "Transpose", "tr", "r", "y");
    mb_ints(&b, n, "perm", 4, (int64_t[]){0, 2, 3, 1});
    mb_value(&b, 1, "y", 1, -1, NULL);
    axmul__onnx *g;
    ck_assert_int_eq(axmul__onnx_load(mb_write(&b, dir, "l.onnx"), &g), AXMUL_OK);
    mb_free(&b);
    axmul__tensor in = in_tensor(AXMUL__DT_FLOAT, 4, (int64_t[]){3, 2, 5, 5}, x), out, one;
    ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, &out, NULL), AXMUL_OK);
    ck_assert(out.sh.rank == 4 && out.sh.d[1] == 5 && out.sh.d[3] == 2);
    for (int i = 0; i < 3; i++)
        for (int oc = 0; oc < 2; oc++)
            for (int y = 0; y < 5; y++)
                for (int xx = 0; xx < 5; xx++) {
                    double s = 0;
                    for (int ci = 0; ci < 2; ci++)
                        for (int a = 0; a < 3; a++)
                            for (int bb = 0; bb < 3; bb++) {
                                const int iy = y + a - 1, ix = xx + bb - 1;
                                if (iy >= 0 && iy < 5 && ix >= 0 && ix < 5)
                                    s += (double)w[((oc * 2 + ci) * 3 + a) * 3 + bb] *
                                         x[((i * 2 + ci) * 5 + iy) * 5 + ix];
                            }
                    s += x[((i * 2 + oc) * 5 + y) * 5 + xx];
                    const float got = ((float *)out.data)[((i * 5 + y) * 5 + xx) * 2 + oc];
                    ck_assert_float_eq_tol(got, s > 0 ? s : 0, 1e-5);
                }
    /* the first image alone: the same bits */
    in.sh.d[0] = 1;
    ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, &one, NULL), AXMUL_OK);
    ck_assert_mem_eq(one.data, out.data, sizeof(float) * 50);
    ck_assert_ptr_nonnull(g->cache->next);
    in.sh.d[0] = 2;
    release(&one, 1);
    ck_assert_int_eq(axmul__onnx_forward(g, NULL, &in, &one, NULL), AXMUL_OK);
    ck_assert_ptr_null(g->cache->next->next); /* two plans at most */
    ck_assert_mem_eq(one.data, out.data, sizeof(float) * 100);
    release(&one, 1);
    release(&out, 1);
    axmul__onnx_free(g);
    tu_rmdir(dir);
}
END_TEST

/* A shape given as an input (a small integer tensor): a constant of the plan, keyed by value. */
START_TEST(test_shape_inputs)
{
    char *dir = tu_mkdtemp();
    mb b;
    mb_init(&b, 13);
    mb_value(&b, 0, "x", 1, 2, (int64_t[]){2, 6});
    mb_value(&b, 0, "s", 7, 1, (int64_t[]){2});
    mb_node(&b, "Reshape", "rs", "x,s", "y");
    mb_value(&b, 1, "y", 1, -1, NULL);
    axmul__onnx *g;
    const char *path = mb_write(&b, dir, "r.onnx");
    mb_free(&b);
    /* not an image model: no input shape, no predict */
    axmul_model *m;
    ck_assert_int_eq(axmul_model_load(path, &m), AXMUL_OK);
    int h, w, c;
    axmul_model_input_shape(m, &h, &w, &c);
    ck_assert(h == 0 && w == 0 && c == 0);
    ck_assert_int_eq(axmul_model_num_inputs(m), 2);
    axmul_net_options o;
    axmul_net_options_init(&o);
    float img[12] = {0};
    ck_assert_int_eq(axmul_model_predict(m, &o, img, 1, NULL, NULL), AXMUL_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "not one batch of images"));
    axmul_model_free(m);
    ck_assert_int_eq(axmul__onnx_load(path, &g), AXMUL_OK);
    float x[12];
    for (int k = 0; k < 12; k++)
        x[k] = (float)k;
    for (int t = 0; t < 2; t++) {
        int64_t s[2] = {t ? 4 : 3, t ? 3 : 4};
        axmul__tensor in[2] = {in_tensor(AXMUL__DT_FLOAT, 2, (int64_t[]){2, 6}, x),
                               in_tensor(AXMUL__DT_INT64, 1, (int64_t[]){2}, s)},
                      out;
        ck_assert_int_eq(axmul__onnx_forward(g, NULL, in, &out, NULL), AXMUL_OK);
        ck_assert(out.sh.rank == 2 && out.sh.d[0] == s[0] && out.sh.d[1] == s[1]);
        ck_assert_mem_eq(out.data, x, sizeof x);
        release(&out, 1);
    }
    axmul__onnx_free(g);
    tu_rmdir(dir);
}
END_TEST

/* The registry: every op has both functions and finds itself by name. */
START_TEST(test_op_registry)
{
    for (int k = 0; k < AXMUL__OP_COUNT; k++) {
        const axmul__onnx_op *op = axmul__onnx_op_of(k);
        ck_assert(op && op->name && op->shape && op->run);
        ck_assert_int_eq(axmul__onnx_op_kind(op->name), k);
    }
    ck_assert_int_eq(axmul__onnx_op_kind("Conv3D"), -1);
    ck_assert_ptr_nonnull(strstr(axmul__onnx_op_names(), "Conv, ConvInteger, QLinearConv"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_op_registry);
    tcase_add_test(tc, test_conv_lut_is_engine);
    tcase_add_test(tc, test_gemm_lut_is_dense);
    tcase_add_test(tc, test_matmul_activations);
    tcase_add_test(tc, test_qdq_conv_codes);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_model_calibrate_save_load);
    tcase_add_test(tc, test_layouts_batches_plans);
    tcase_add_test(tc, test_shape_inputs);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
