/* Unit tests: model files (load, save, errors), inference with every layer kind against direct
 * computation, residual graphs, thread independence and per-layer tables, on synthetic data. */
#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axmul.h"
#include "lib/net/net.h"
#include "nettest.h"
#include "testutil.h"

/* A tiny model: conv 2x2 (1 -> 2) on 4x4x1, relu, maxpool 3x3 -> flatten -> dense 2 -> softmax. */
static char *tiny_model(const char *conv_type, const size_t *wshape)
{
    char *dir = tu_mkdtemp();
    float w[32], b[2] = {0.1f, -0.1f}, dw[4] = {1, -1, 0.5f, 2}, db[2] = {0, 0};
    for (int i = 0; i < 32; i++)
        w[i] = (float)((i % 5) - 2) * 0.25f;
    save_tensor(dir, "c_w.npy", w, wshape, 4);
    size_t bs[1] = {2}, ds[2] = {2, 2};
    save_tensor(dir, "c_b.npy", b, bs, 1);
    save_tensor(dir, "d_w.npy", dw, ds, 2);
    save_tensor(dir, "d_b.npy", db, bs, 1);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, 1],\n"
             " \"layers\": [\n"
             "  {\"type\": \"%s\", \"name\": \"c\", \"filters\": 2, \"kernel_size\": 2,\n"
             "   \"padding\": \"valid\", \"weights\": \"c_w.npy\", \"bias\": \"c_b.npy\",\n"
             "   \"input_range\": [0, 1]},\n"
             "  {\"type\": \"relu\"}, {\"type\": \"maxpool\", \"pool_size\": [3, 3]},\n"
             "  {\"type\": \"flatten\"},\n"
             "  {\"type\": \"dense\", \"name\": \"d\", \"units\": 2, \"weights\": \"d_w.npy\",\n"
             "   \"bias\": \"d_b.npy\"},\n"
             "  {\"type\": \"softmax\"}]}\n",
             conv_type);
    write_file(dir, "model.json", json);
    return dir;
}

START_TEST(test_model_load_save_predict)
{
    size_t ws[4] = {2, 2, 1, 2};
    char *dir = tiny_model("conv2d", ws);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    ck_assert_int_eq(axmul_model_num_layers(m), 6);
    ck_assert_str_eq(axmul_model_layer_type(m, 2), "maxpool");
    ck_assert_int_eq(axmul_model_classes(m), 2);
    ck_assert_uint_eq(axmul_model_layer_output_size(m, 0), 3 * 3 * 2);
    ck_assert_int_eq(axmul_model_calibrated(m), 0); /* the dense layer has no range */
    float x[2 * 16];
    for (int i = 0; i < 32; i++)
        x[i] = (float)((i * 7) % 16) / 15.0f;
    axmul_net_options o;
    axmul_net_options_init(&o);
    uint8_t pf[2], pe[2], p1[2];
    float sf[4], se[4];
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pf, sf), AXMUL_OK);
    ck_assert_float_eq_tol(sf[0] + sf[1], 1.0f, 1e-6f); /* softmax */
    axmul_table *ex;
    ck_assert_int_eq(axmul_table_create_exact(0, &ex), AXMUL_OK);
    o.table = ex; /* conv approximated with the exact table: close to float */
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pe, se), AXMUL_OK);
    ck_assert_float_eq_tol(se[0], sf[0], 0.02f);
    o.approx = AXMUL_APPROX_ALL; /* the dense layer has no calibrated range */
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pe, se), AXMUL_ERR_RANGE);
    ck_assert(strstr(axmul_error_detail(), "calibrate") != NULL);
    /* calibration, then save and reload: same predictions, one image at a time too */
    ck_assert_int_eq(axmul_model_calibrate(m, x, 2, 1, 0), AXMUL_OK);
    ck_assert_int_eq(axmul_model_calibrated(m), 1);
    ck_assert_int_eq(axmul_model_predict(m, &o, x, 2, pe, se), AXMUL_OK);
    char dir2[4200];
    snprintf(dir2, sizeof dir2, "%s/saved", dir);
    ck_assert_int_eq(axmul_model_save(m, dir2), AXMUL_OK);
    axmul_model *m2;
    ck_assert_msg(axmul_model_load(dir2, &m2) == AXMUL_OK, "%s", axmul_error_detail());
    axmul_net_workspace *w;
    ck_assert_int_eq(axmul_net_workspace_create(&w), AXMUL_OK);
    o.workspace = w;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(axmul_model_predict(m2, &o, x + 16 * i, 1, p1 + i, NULL), AXMUL_OK);
        ck_assert_int_eq(p1[i], pe[i]);
    }
    axmul_net_workspace_free(w);
    axmul_model_free(m2);
    axmul_model_free(m);
    axmul_table_free(ex);
    /* depthwise: groups = input channels, filter (kh, kw, 1, filters) */
    tu_rmdir(dir);
    dir = tiny_model("depthwise", ws);
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    axmul_model_free(m);
    tu_rmdir(dir);
}
END_TEST

/* json (when not NULL) as dir's model.json must fail to load, with needle in the message. */
static void expect_load_error(const char *dir, const char *json, const char *needle)
{
    if (json)
        write_file(dir, "model.json", json);
    axmul_model *m = (axmul_model *)0x1;
    ck_assert_int_ne(axmul_model_load(dir, &m), AXMUL_OK);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(axmul_error_detail(), needle) != NULL, "'%s' should mention '%s'",
                  axmul_error_detail(), needle);
}

/* The same in the tiny model's folder (its tensors at hand). */
static void expect_model_error(const char *json, const char *needle)
{
    size_t ws[4] = {2, 2, 1, 2};
    char *dir = tiny_model("conv2d", ws);
    expect_load_error(dir, json, needle);
    tu_rmdir(dir);
}

/* Average and max pooling (strided, windows that do not tile the input, several channels), read
 * out through a dense layer with identity weights (exact in float), against a direct loop that
 * combines each window's taps in row-major order. */
/* m, saved into dir/saved and loaded back, gives the same scores on n images x. */
static void expect_saved_same(const axmul_model *m, const char *dir, const float *x, int n)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/saved", dir);
    ck_assert_int_eq(axmul_model_save(m, sub), AXMUL_OK);
    axmul_model *m2;
    ck_assert_msg(axmul_model_load(sub, &m2) == AXMUL_OK, "%s", axmul_error_detail());
    const size_t count = (size_t)n * axmul_model_classes(m);
    float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b);
    uint8_t *pred = malloc((size_t)n);
    axmul_net_options o;
    axmul_net_options_init(&o);
    ck_assert_int_eq(axmul_model_predict(m, &o, x, n, pred, a), AXMUL_OK);
    ck_assert_int_eq(axmul_model_predict(m2, &o, x, n, pred, b), AXMUL_OK);
    ck_assert_mem_eq(a, b, count * sizeof *a);
    free(a);
    free(b);
    free(pred);
    axmul_model_free(m2);
}

START_TEST(test_pooling_matches_direct)
{
    /* 400 images: 75,600 inputs, enough for the pooling to run on several threads. Windows that
     * do not tile the input, then padded ones (PyTorch's symmetric, TensorFlow's "same",
     * [t, b, l, r]), ceil_mode and count_include_pad, against a direct loop over the padded
     * window that keeps the taps inside the image. */
    enum { H = 7, W = 9, C = 3, N = 400 };
    static const struct {
        int kh, kw, sh, sw, pad[4], ceil, count_pad;
        const char *json; /* the layer's padding fields */
    } cfg[] = {
        {3, 2, 2, 3, {0, 0, 0, 0}, 0, 0, ""},
        {3, 3, 2, 2, {1, 1, 1, 1}, 0, 1, ", \"padding\": 1"},
        {3, 3, 2, 2, {1, 1, 1, 1}, 0, 0, ", \"padding\": [1, 1], \"count_include_pad\": false"},
        {3, 2, 2, 2, {1, 1, 0, 1}, 1, 1, ", \"padding\": [1, 1, 0, 1], \"ceil_mode\": true"},
        {2, 2, 2, 2, {0, 1, 0, 1}, 0, 0, ", \"padding\": \"same\""},
        {3, 3, 3, 3, {0, 0, 0, 0}, 1, 0, ", \"ceil_mode\": true"},
    };
    uint64_t s = tu_seed() ^ 0x9001;
    float *x = malloc(sizeof(float) * N * H * W * C);
    for (int i = 0; i < N * H * W * C; i++)
        x[i] = tu_randf(&s, -2.0f, 2.0f);
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++)
        for (int run = 0; run < 4; run++) {
            const int KH = cfg[k].kh, KW = cfg[k].kw, SH = cfg[k].sh, SW = cfg[k].sw;
            const int pt = cfg[k].pad[0], pb = cfg[k].pad[1], pl = cfg[k].pad[2],
                      pr = cfg[k].pad[3];
            int oh = (H + pt + pb - KH + (cfg[k].ceil ? SH - 1 : 0)) / SH + 1;
            int ow = (W + pl + pr - KW + (cfg[k].ceil ? SW - 1 : 0)) / SW + 1;
            if (cfg[k].ceil && (oh - 1) * SH >= H + pt)
                oh--;
            if (cfg[k].ceil && (ow - 1) * SW >= W + pl)
                ow--;
            const int out = oh * ow * C, is_max = run % 2, threads = run < 2 ? 1 : 3;
            float *ident = calloc((size_t)out * out, sizeof(float));
            for (int i = 0; i < out; i++)
                ident[(size_t)i * out + i] = 1.0f;
            char *dir = tu_mkdtemp();
            size_t ishape[2] = {(size_t)out, (size_t)out};
            save_tensor(dir, "i.npy", ident, ishape, 2);
            char json[1024];
            snprintf(json, sizeof json,
                     "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [%d, %d, "
                     "%d],\n \"layers\": [{\"type\": \"%s\", \"pool_size\": [%d, %d], "
                     "\"strides\": [%d, %d]%s},\n  {\"type\": \"flatten\"},\n"
                     "  {\"type\": \"dense\", \"name\": \"id\", \"units\": %d, \"weights\": "
                     "\"i.npy\"}]}\n",
                     H, W, C, is_max ? "maxpool" : "avgpool", KH, KW, SH, SW,
                     is_max && strstr(cfg[k].json, "count_include") ? ", \"padding\": [1, 1]"
                                                                    : cfg[k].json,
                     out);
            write_file(dir, "model.json", json);
            axmul_model *m;
            ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
            axmul_net_options o;
            axmul_net_options_init(&o);
            o.threads = threads;
            float *got = malloc(sizeof(float) * N * out);
            uint8_t pred[N];
            ck_assert_int_eq(axmul_model_predict(m, &o, x, N, pred, got), AXMUL_OK);
            for (int img = 0; img < N; img++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        for (int ch = 0; ch < C; ch++) {
                            float acc = is_max ? -INFINITY : 0.0f;
                            int inside = 0, padded = 0;
                            for (int i = 0; i < KH; i++)
                                for (int j = 0; j < KW; j++) {
                                    const int yy = oy * SH - pt + i, xx = ox * SW - pl + j;
                                    padded += yy < H + pb && xx < W + pr;
                                    if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                                        continue;
                                    inside++;
                                    float v = x[((img * H + yy) * W + xx) * C + ch];
                                    acc = is_max ? (v > acc ? v : acc) : acc + v;
                                }
                            if (!is_max)
                                acc /= (float)(cfg[k].count_pad ? padded : inside);
                            float g = got[img * out + (oy * ow + ox) * C + ch];
                            ck_assert_msg(memcmp(&g, &acc, sizeof g) == 0,
                                          "config %zu %s, %d threads, image %d (%d,%d,%d): %.9g, "
                                          "expected %.9g",
                                          k, is_max ? "max" : "avg", threads, img, oy, ox, ch, g,
                                          acc);
                        }
            if (run == 0)
                expect_saved_same(m, dir, x, 3); /* padding and modes survive a save */
            free(got);
            free(ident);
            axmul_model_free(m);
            tu_rmdir(dir);
        }
    free(x);
}
END_TEST

/* Unnamed layers get distinct names (type and position), so that a saved model keeps each
 * layer's tensors apart. */
START_TEST(test_unnamed_layers_saved_apart)
{
    char *dir = tu_mkdtemp(), json[1024];
    const float w1[4] = {1, 2, 3, 4}, w2[4] = {-1, 0.5f, 2, 0};
    size_t s4[4] = {1, 1, 2, 2};
    save_tensor(dir, "a.npy", w1, s4, 4);
    save_tensor(dir, "b.npy", w2, s4, 4);
    snprintf(
        json, sizeof json,
        "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [2, 2, 2],\n"
        " \"layers\": [{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 1, "
        "\"weights\": \"a.npy\"},\n"
        "  {\"type\": \"relu\"},\n"
        "  {\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 1, \"weights\": \"b.npy\"}]}\n");
    write_file(dir, "model.json", json);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    ck_assert_str_eq(axmul_model_layer_name(m, 0), "conv2d_0");
    ck_assert_str_eq(axmul_model_layer_name(m, 1), "relu_1");
    ck_assert_str_eq(axmul_model_layer_name(m, 2), "conv2d_2");
    const float x[8] = {0.5f, -1, 2, 0.25f, 1, 1, -2, 3};
    expect_saved_same(m, dir, x, 1);
    axmul_model_free(m);
    tu_rmdir(dir);
}
END_TEST

/* Loads json (written into dir) and returns the scores of n images, float or with the exact
 * table after calibrating on the same images; frees the model. */
static void graph_scores(const char *dir, const char *json, const float *x, int n, int exact,
                         float *scores)
{
    write_file(dir, "model.json", json);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    axmul_net_options o;
    axmul_net_options_init(&o);
    axmul_table *ex = NULL;
    if (exact) {
        ck_assert_int_eq(axmul_model_calibrate(m, x, n, 3, 0), AXMUL_OK);
        ck_assert_int_eq(axmul_table_create_exact(0, &ex), AXMUL_OK);
        o.table = ex;
        o.approx = AXMUL_APPROX_ALL;
    }
    uint8_t pred[64];
    ck_assert_int_eq(axmul_model_predict(m, &o, x, n, pred, scores), AXMUL_OK);
    axmul_table_free(ex);
    axmul_model_free(m);
}

/* Residual graphs: "input" reads an earlier layer's output, "add" sums two. Each graph is checked
 * against a chain that computes the same numbers: a layer skipped by "input" is as if absent, and
 * add(c, c) is the conv with doubled weights (exact in float). The last layer's 4x4x2 output is
 * the score vector; float and exact-table networks (calibrated in batches of 3 of the 7 images),
 * and the graph saved and reloaded. */
START_TEST(test_residual_graphs)
{
    enum { N = 7, OUT = 4 * 4 * 2 };
    char *dir = tu_mkdtemp();
    uint64_t s = tu_seed() ^ 0x6a;
    float x[N * 4 * 4 * 2], w1[2 * 2 * 2 * 3], w1x2[2 * 2 * 2 * 3], w2[3 * 3 * 3 * 3], w3[3 * 2];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = tu_randf(&s, -1.0f, 1.0f);
    for (size_t i = 0; i < sizeof w1 / sizeof w1[0]; i++)
        w1x2[i] = 2.0f * (w1[i] = tu_randf(&s, -1.0f, 1.0f));
    for (size_t i = 0; i < sizeof w2 / sizeof w2[0]; i++)
        w2[i] = tu_randf(&s, -1.0f, 1.0f);
    for (size_t i = 0; i < sizeof w3 / sizeof w3[0]; i++)
        w3[i] = tu_randf(&s, -1.0f, 1.0f);
    size_t s1[4] = {2, 2, 2, 3}, s2[4] = {3, 3, 3, 3}, s3[4] = {1, 1, 3, 2};
    save_tensor(dir, "w1.npy", w1, s1, 4);
    save_tensor(dir, "w1x2.npy", w1x2, s1, 4);
    save_tensor(dir, "w2.npy", w2, s2, 4);
    save_tensor(dir, "w3.npy", w3, s3, 4);
    const char *head = "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, 2], "
                       "\"layers\": [",
               *c1 = "{\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 3, \"kernel_size\": 2, "
                     "\"padding\": \"same\", \"weights\": \"w1.npy\"}, ",
               *c1x2 =
                   "{\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 3, \"kernel_size\": 2, "
                   "\"padding\": \"same\", \"weights\": \"w1x2.npy\"}, ",
               *c2 = "{\"type\": \"conv2d\", \"name\": \"c2\", \"filters\": 3, \"kernel_size\": 3, "
                     "\"padding\": \"same\", \"weights\": \"w2.npy\"}, ",
               *c3 = "{\"type\": \"conv2d\", \"name\": \"c3\", \"filters\": 2, \"kernel_size\": 1, "
                     "\"weights\": \"w3.npy\"",
               *r1 = "{\"type\": \"relu\", \"name\": \"r1\"}, ";
    char skip[2048], chain[2048], twice[2048], doubled[2048];
    /* c1 -> r1 -> c2 -> c3 reading r1; the chain without c2 */
    snprintf(skip, sizeof skip, "%s%s%s%s%s, \"input\": \"r1\"}]}", head, c1, r1, c2, c3);
    snprintf(chain, sizeof chain, "%s%s%s%s}]}", head, c1, r1, c3);
    /* add(c1, c1) -> relu -> c3; the chain with doubled c1 weights */
    snprintf(twice, sizeof twice, "%s%s{\"type\": \"add\", \"inputs\": [\"c1\", \"c1\"]}, %s%s}]}",
             head, c1, r1, c3);
    snprintf(doubled, sizeof doubled, "%s%s%s%s}]}", head, c1x2, r1, c3);
    const char *graph[2] = {skip, twice}, *same[2] = {chain, doubled};
    for (int g = 0; g < 2; g++)
        for (int exact = 0; exact < 2; exact++) {
            float a[N * OUT], b[N * OUT];
            graph_scores(dir, same[g], x, N, exact, b);
            graph_scores(dir, graph[g], x, N, exact, a);
            ck_assert_msg(memcmp(a, b, sizeof a) == 0, "%s graph, %s: scores differ",
                          g ? "add" : "input", exact ? "exact table" : "float");
        }
    /* the add graph saved and reloaded (model.json written with its "inputs") */
    write_file(dir, "model.json", twice);
    axmul_model *m;
    ck_assert_int_eq(axmul_model_load(dir, &m), AXMUL_OK);
    ck_assert_str_eq(axmul_model_layer_type(m, 1), "add");
    expect_saved_same(m, dir, x, N);
    axmul_model_free(m);

    /* bad references, each named */
    const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"type\": \"add\", \"inputs\": [\"c1\"]}", "\"inputs\" must name 2 to 8 earlier layers"},
        {"{\"type\": \"add\", \"inputs\": [\"c1\", \"nope\"]}",
         "inputs 'nope' is not an earlier layer"},
        {"{\"type\": \"add\", \"inputs\": [\"c1\", \"later\"]}, {\"type\": \"relu\", \"name\": "
         "\"later\"}",
         "inputs 'later' is not an earlier layer"},
        {"{\"type\": \"add\", \"inputs\": [\"c1\", \"c1\"], \"input\": \"c1\"}", "add layers take"},
        {"{\"type\": \"relu\", \"input\": 3}", "\"input\" must name an earlier layer"},
        {"{\"type\": \"relu\", \"name\": \"r\"}, {\"type\": \"relu\", \"name\": \"r\"}, "
         "{\"type\": \"relu\", \"input\": \"r\"}",
         "input 'r' names 2 layers"},
        {"{\"type\": \"maxpool\", \"name\": \"p\"}, {\"type\": \"add\", \"inputs\": [\"c1\", "
         "\"p\"]}",
         "adds c1 (4x4x3) and p (2x2x3)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char j[2048];
        snprintf(j, sizeof j, "%s%s%s]}", head, c1, bad[k].json);
        expect_load_error(dir, j, bad[k].needle);
    }
    tu_rmdir(dir);
}
END_TEST

/* Batch norm, ReLU6 and global average/max pooling, read out through an identity dense layer,
 * against a direct computation with the documented float32 formulas; then saved and reloaded. */
START_TEST(test_batchnorm_relu6_global_pools)
{
    enum { H = 3, W = 4, C = 2, N = 5 };
    const float gamma[C] = {1.5f, -2.0f}, beta[C] = {0.25f, 7.0f}, mean[C] = {0.1f, -0.3f},
                var[C] = {0.5f, 2.0f}, eps = 0.01f, ident[C * C] = {1, 0, 0, 1};
    uint64_t s = tu_seed() ^ 0xb4;
    float x[N * H * W * C];
    for (int i = 0; i < N * H * W * C; i++)
        x[i] = tu_randf(&s, -4.0f, 4.0f);
    for (int is_max = 0; is_max < 2; is_max++) {
        char *dir = tu_mkdtemp(), json[1024];
        size_t cs[1] = {C}, is[2] = {C, C};
        save_tensor(dir, "g.npy", gamma, cs, 1);
        save_tensor(dir, "b.npy", beta, cs, 1);
        save_tensor(dir, "m.npy", mean, cs, 1);
        save_tensor(dir, "v.npy", var, cs, 1);
        save_tensor(dir, "i.npy", ident, is, 2);
        snprintf(
            json, sizeof json,
            "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [%d, %d, %d],\n"
            " \"layers\": [{\"type\": \"batchnorm\", \"name\": \"bn\", \"gamma\": \"g.npy\",\n"
            "   \"beta\": \"b.npy\", \"moving_mean\": \"m.npy\", \"moving_variance\": \"v.npy\",\n"
            "   \"epsilon\": 0.01},\n"
            "  {\"type\": \"relu6\"}, {\"type\": \"%s\"},\n"
            "  {\"type\": \"dense\", \"name\": \"id\", \"units\": %d, \"weights\": \"i.npy\"}]}\n",
            H, W, C, is_max ? "globalmaxpool" : "globalavgpool", C);
        write_file(dir, "model.json", json);
        axmul_model *m;
        ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
        ck_assert_str_eq(axmul_model_layer_type(m, 0), "batchnorm");
        ck_assert_str_eq(axmul_model_layer_type(m, 1), "relu6");
        ck_assert_str_eq(axmul_model_layer_type(m, 2), is_max ? "globalmaxpool" : "globalavgpool");
        ck_assert_uint_eq(axmul_model_layer_output_size(m, 2), C);
        axmul_net_options o;
        axmul_net_options_init(&o);
        float got[N * C];
        uint8_t pred[N];
        ck_assert_int_eq(axmul_model_predict(m, &o, x, N, pred, got), AXMUL_OK);
        for (int img = 0; img < N; img++)
            for (int ch = 0; ch < C; ch++) {
                const float scale = gamma[ch] / sqrtf(var[ch] + eps),
                            offset = beta[ch] - mean[ch] * scale;
                float acc = is_max ? -INFINITY : 0.0f;
                for (int p = 0; p < H * W; p++) {
                    float v = x[(img * H * W + p) * C + ch] * scale + offset;
                    v = v > 0 ? (v < 6 ? v : 6) : 0;
                    acc = is_max ? (v > acc ? v : acc) : acc + v;
                }
                if (!is_max)
                    acc /= (float)(H * W);
                ck_assert_msg(memcmp(&got[img * C + ch], &acc, sizeof acc) == 0,
                              "%s image %d channel %d: %.9g, expected %.9g", is_max ? "max" : "avg",
                              img, ch, got[img * C + ch], acc);
            }
        /* saved (tensors under new names) and reloaded: the same scores */
        expect_saved_same(m, dir, x, N);
        axmul_model_free(m);

        /* bad batch norms, each named */
        const struct {
            const char *from, *to, *needle;
        } bad[] = {
            {"\"moving_variance\": \"v.npy\"", "\"moving_variance\": null",
             "\"moving_variance\" file missing"},
            /* a misspelled field is refused, not ignored (with a hint when it is close) */
            {"\"moving_variance\": \"v.npy\"", "\"variance\": \"v.npy\"",
             "layer 0 (bn): unknown field \"variance\" (fields here: type, name, input, gamma"},
            {"\"epsilon\": 0.01", "\"eps\": 0.01",
             "unknown field \"eps\" (did you mean \"epsilon\"?"},
            {"\"epsilon\": 0.01", "\"epsilom\": 0.01", "(did you mean \"epsilon\"?"},
            {"\"beta\": \"b.npy\"", "\"beta\": \"i.npy\"", "i.npy has 4 elements but g.npy has 2"},
            {"\"epsilon\": 0.01", "\"epsilon\": \"small\"", "\"epsilon\" must be a number"},
            {"\"epsilon\": 0.01", "\"epsilon\": -0.5", "variance 0.5 + epsilon -0.5 of channel 0"},
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            char j2[1024], *at = strstr(json, bad[k].from);
            ck_assert_ptr_nonnull(at);
            snprintf(j2, sizeof j2, "%.*s%s%s", (int)(at - json), json, bad[k].to,
                     at + strlen(bad[k].from));
            expect_load_error(dir, j2, bad[k].needle);
        }
        /* batch norm tensors that do not match the input's channels */
        size_t c3[1] = {3};
        const float three[3] = {1, 1, 1};
        save_tensor(dir, "g.npy", three, c3, 1);
        save_tensor(dir, "b.npy", three, c3, 1);
        save_tensor(dir, "m.npy", three, c3, 1);
        save_tensor(dir, "v.npy", three, c3, 1);
        expect_load_error(dir, json, "g.npy has 3 elements, the input has 2 channels");
        ck_assert_int_eq(axmul_model_load(dir, &m), AXMUL_ERR_SHAPE);
        tu_rmdir(dir);
    }
}
END_TEST

/* The float layers between the LUT convolutions run on the conv's threads: scores must not
 * depend on the thread count (6000 images of the tiny model: its bias, ReLU and pooling tensors
 * are large enough to run on several threads). */
START_TEST(test_threads_do_not_change_results)
{
    enum { N = 6000 };
    size_t ws[4] = {2, 2, 1, 2};
    char *dir = tiny_model("conv2d", ws);
    axmul_model *m;
    ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
    uint64_t s = tu_seed() ^ 0x7e4d;
    float *x = malloc(sizeof(float) * N * 16), *sc[2];
    for (int i = 0; i < N * 16; i++)
        x[i] = tu_randf(&s, 0.0f, 1.0f);
    axmul_table *t; /* an approximate table: the exact products, some off by a few units */
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(t)[i] += (uint16_t)tu_randint(&s, 0, 3);
    uint8_t *pr[2];
    for (int approx = 0; approx < 2; approx++) {
        for (int k = 0; k < 2; k++) {
            axmul_net_options o;
            axmul_net_options_init(&o);
            o.threads = k ? 3 : 1;
            o.table = approx ? t : NULL;
            sc[k] = malloc(sizeof(float) * N * 2);
            pr[k] = malloc(N);
            ck_assert_int_eq(axmul_model_predict(m, &o, x, N, pr[k], sc[k]), AXMUL_OK);
        }
        ck_assert_msg(memcmp(sc[0], sc[1], sizeof(float) * N * 2) == 0,
                      "%s network: scores differ between 1 and 3 threads",
                      approx ? "approximate" : "float");
        ck_assert_int_eq(memcmp(pr[0], pr[1], N), 0);
        for (int k = 0; k < 2; k++) {
            free(sc[k]);
            free(pr[k]);
        }
    }
    axmul_table_free(t);
    free(x);
    axmul_model_free(m);
    tu_rmdir(dir);
}
END_TEST

/* Per-layer tables (axmul_net_options.layer_tables) on a randomly initialised LeNet-5
 * (conv1, conv2, fc1, fc2, fc3): pinning a layer set to a table is the same network as selecting
 * that set with approx; a pin overrides table and approx; with one layer pinned to another
 * table, the layers before it compute what they compute without the pin and the pinned one
 * differs; each layer quantizes with its own table's signedness (operand histograms); a table
 * for a layer without weights is refused by name. */

enum { LT_N = 40, LT_CLASSES = 10 };
/* Scores of the LT_N images with the given options; layer outputs into rec if not NULL. */
static void lt_scores(const axmul_model *m, axmul_net_options o, const float *x, float *scores,
                      layer_rec *rec)
{
    uint8_t pred[LT_N];
    if (rec) {
        o.layer_output = rec_layer;
        o.ctx = rec;
    }
    ck_assert_msg(axmul_model_predict(m, &o, x, LT_N, pred, scores) == AXMUL_OK, "%s",
                  axmul_error_detail());
}

START_TEST(test_layer_tables)
{
    uint64_t seed = tu_seed() ^ 0x1a7e;
    axmul_model *m;
    ck_assert_int_eq(axmul_model_create_lenet5(seed, &m), AXMUL_OK);
    const int nl = axmul_model_num_layers(m);
    ck_assert_int_le(nl, 16);
    int conv[2], dense[3], nc = 0, nd = 0, relu = -1;
    for (int i = 0; i < nl; i++) {
        const char *ty = axmul_model_layer_type(m, i);
        if (strcmp(ty, "conv2d") == 0)
            conv[nc++] = i;
        else if (strcmp(ty, "dense") == 0)
            dense[nd++] = i;
        else if (strcmp(ty, "relu") == 0 && relu < 0)
            relu = i;
    }
    ck_assert_int_eq(nc, 2);
    ck_assert_int_eq(nd, 3);
    float *x = malloc(sizeof(float) * LT_N * 28 * 28);
    for (int i = 0; i < LT_N * 28 * 28; i++)
        x[i] = tu_randf(&seed, 0.0f, 1.0f);
    ck_assert_int_eq(axmul_model_calibrate(m, x, LT_N, 16, 0), AXMUL_OK);
    /* T and U: two different approximate unsigned tables; S: the exact signed table */
    axmul_table *T, *U, *S;
    ck_assert_int_eq(axmul_table_create_exact(0, &T), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create_exact(0, &U), AXMUL_OK);
    ck_assert_int_eq(axmul_table_create_exact(1, &S), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        axmul_table_data_mut(T)[i] += (uint16_t)tu_randint(&seed, 0, 40);
        axmul_table_data_mut(U)[i] &= 0xffc0; /* the 6 low bits dropped */
    }
    const size_t ns = LT_N * LT_CLASSES;
    float *a = malloc(sizeof(float) * ns), *b = malloc(sizeof(float) * ns);
    const axmul_table *lt[16] = {0};
    axmul_net_options o, base;
    axmul_net_options_init(&base);
    base.threads = 2;

    /* the conv layers, the dense layers, all of them: pins == approx */
    for (int set = 0; set < 3; set++) {
        o = base;
        o.table = T;
        o.approx = set == 0 ? AXMUL_APPROX_CONV : set == 1 ? AXMUL_APPROX_DENSE : AXMUL_APPROX_ALL;
        lt_scores(m, o, x, a, NULL);
        memset(lt, 0, sizeof lt);
        for (int k = 0; k < nc && set != 1; k++)
            lt[conv[k]] = T;
        for (int k = 0; k < nd && set != 0; k++)
            lt[dense[k]] = T;
        o = base;
        o.table = NULL;
        o.layer_tables = lt;
        lt_scores(m, o, x, b, NULL);
        ck_assert_msg(memcmp(a, b, sizeof(float) * ns) == 0, "set %d: pins differ from approx",
                      set);
        /* a pin wins over table and approx: U everywhere else, T pinned on the same set */
        o.table = U;
        o.approx = set == 0 ? AXMUL_APPROX_CONV : set == 1 ? AXMUL_APPROX_DENSE : AXMUL_APPROX_ALL;
        lt_scores(m, o, x, b, NULL);
        ck_assert_msg(memcmp(a, b, sizeof(float) * ns) == 0, "set %d: a pin lost to table", set);
    }
    /* an all-NULL array is no pin */
    memset(lt, 0, sizeof lt);
    o = base;
    o.table = T;
    lt_scores(m, o, x, a, NULL);
    o.layer_tables = lt;
    lt_scores(m, o, x, b, NULL);
    ck_assert_int_eq(memcmp(a, b, sizeof(float) * ns), 0);

    /* conv2 pinned to U, conv1 on T: conv1 computes what it computes with T alone, conv2 not */
    layer_rec ra = {{0}}, rb = {{0}};
    o = base;
    o.table = T;
    lt_scores(m, o, x, a, &ra);
    lt[conv[1]] = U;
    o.layer_tables = lt;
    lt_scores(m, o, x, b, &rb);
    const size_t n1 = LT_N * axmul_model_layer_output_size(m, conv[0]);
    const size_t n2 = LT_N * axmul_model_layer_output_size(m, conv[1]);
    ck_assert_int_eq(memcmp(ra.out[conv[0]], rb.out[conv[0]], n1 * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(ra.out[conv[1]], rb.out[conv[1]], n2 * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(a, b, sizeof(float) * ns), 0);
    for (int i = 0; i < 16; i++) {
        free(ra.out[i]);
        free(rb.out[i]);
    }

    /* signedness per layer: conv1 signed (pinned), conv2 unsigned (table), each layer's
     * operand histograms as in the network with that table everywhere */
    uint64_t *h[3][2];
    for (int r = 0; r < 3; r++) {
        h[r][0] = calloc((size_t)nl * 256, sizeof(uint64_t));
        h[r][1] = calloc((size_t)nl * 256, sizeof(uint64_t));
        memset(lt, 0, sizeof lt);
        o = base;
        o.table = r == 0 ? S : T; /* r = 0: S everywhere; 1: T everywhere; 2: S on conv1 */
        if (r == 2)
            lt[conv[0]] = S;
        o.layer_tables = lt;
        o.act_hist = h[r][0];
        o.wt_hist = h[r][1];
        lt_scores(m, o, x, a, NULL);
    }
    for (int w = 0; w < 2; w++) { /* (conv2's input differs: only its weights compare) */
        ck_assert_int_eq(memcmp(h[2][w] + 256 * conv[0], h[0][w] + 256 * conv[0], 256 * 8), 0);
        ck_assert_int_ne(memcmp(h[0][w] + 256 * conv[0], h[1][w] + 256 * conv[0], 256 * 8), 0);
    }
    ck_assert_int_eq(memcmp(h[2][1] + 256 * conv[1], h[1][1] + 256 * conv[1], 256 * 8), 0);
    ck_assert_int_ne(memcmp(h[0][1] + 256 * conv[1], h[1][1] + 256 * conv[1], 256 * 8), 0);
    for (int r = 0; r < 3; r++) {
        free(h[r][0]);
        free(h[r][1]);
    }

    /* a table for a layer without weights */
    memset(lt, 0, sizeof lt);
    lt[relu] = T;
    o = base;
    o.layer_tables = lt;
    uint8_t pred[LT_N];
    ck_assert_int_eq(axmul_model_predict(m, &o, x, LT_N, pred, a), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(axmul_error_detail(), axmul_model_layer_name(m, relu)) &&
                      strstr(axmul_error_detail(), "of type relu"),
                  "%s", axmul_error_detail());

    axmul_table_free(T);
    axmul_table_free(U);
    axmul_table_free(S);
    free(a);
    free(b);
    free(x);
    axmul_model_free(m);
}
END_TEST

START_TEST(test_model_bad_inputs)
{
    const char *head = "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, 1], "
                       "\"layers\": [";
    char j[2048];
    snprintf(j, sizeof j, "%s{\"type\": \"lstm\"}]}", head);
    expect_model_error(j, "unknown layer type 'lstm'");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 2, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "c_w.npy has 8 elements, the layer needs (2, 2, 1, 3) = 12");
    snprintf(j, sizeof j, "%s{\"type\": \"dense\", \"units\": 2, \"weights\": \"d_w.npy\"}]}",
             head);
    expect_model_error(j, "flatten");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"../c_w.npy\"}]}",
             head);
    expect_model_error(j, "plain name");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"missing.npy\"}]}",
             head);
    expect_model_error(j, "missing.npy");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 9, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "larger than the padded input");
    /* AXMUL_MODEL_MAX_LAYERS + 1 layers */
    {
        static char big[32 * (AXMUL_MODEL_MAX_LAYERS + 2)];
        size_t len = (size_t)snprintf(big, sizeof big, "%s", head);
        for (int i = 0; i <= AXMUL_MODEL_MAX_LAYERS; i++)
            len += (size_t)snprintf(big + len, sizeof big - len, "%s{\"type\": \"relu\"}",
                                    i ? ", " : "");
        snprintf(big + len, sizeof big - len, "]}");
        expect_model_error(big, "must be a non-empty list of at most 1000 layers");
    }
    /* layer names name the tensor files a saved model writes: no two alike */
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"name\": \"c\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"c_w.npy\"}, {\"type\": \"flatten\"}, {\"type\": \"dense\", "
             "\"name\": \"c\", \"units\": 2, \"weights\": \"d_w.npy\"}]}",
             head);
    expect_model_error(j, "layers 0 and 2 are both named 'c'");
    snprintf(j, sizeof j, "%s{\"type\": \"softmax\"}, {\"type\": \"relu\"}]}", head);
    expect_model_error(j, "softmax must be the last layer");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, "
             "\"weights\": \"c_w.npy\", \"input_range\": [1, 0]}]}",
             head);
    expect_model_error(j, "inverted");
    /* 2^32 + 2 would wrap to a valid 2 if the scalar were cast before its range check */
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 4294967298, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "layer 0: 'kernel_size' holds a non-integer or out-of-range value");
    snprintf(j, sizeof j,
             "%s{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, \"strides\": -1, "
             "\"weights\": \"c_w.npy\"}]}",
             head);
    expect_model_error(j, "'strides' holds a non-integer or out-of-range value");
    expect_model_error("{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [4, 4, "
                       "-1], \"layers\": []}",
                       "model.json: 'input_shape' holds");
    /* a layer name becomes file names (saved tensors, operand dumps): plain names only, whole */
    static const char *const badname[] = {"../../../x", "a/b", "..", "", "tab\\tname"};
    for (size_t k = 0; k < sizeof badname / sizeof badname[0]; k++) {
        snprintf(j, sizeof j, "%s{\"type\": \"relu\", \"name\": \"%s\"}]}", head, badname[k]);
        expect_model_error(j, "refused");
    }
    snprintf(j, sizeof j, "%s{\"type\": \"relu\", \"name\": \"%070d\"}]}", head, 7);
    expect_model_error(j, "at most 63 bytes");
    snprintf(j, sizeof j, "%s{\"type\": \"relu\", \"name\": 5}]}", head);
    expect_model_error(j, "\"name\" must be a string");
    snprintf(j, sizeof j,
             "%s{\"type\": \"relu\", \"name\": \"r\"}, {\"type\": \"relu\", \"input\": "
             "\"%064d\"}]}",
             head, 1);
    expect_model_error(j, "names are at most 63 bytes");
    {
        /* a batch norm whose folded scale overflows float: refused, not inf in every output */
        size_t ws[4] = {2, 2, 1, 2}, one[1] = {1};
        char *dir = tiny_model("conv2d", ws);
        const float g = 3e38f, z = 0.0f, v = 1e-30f;
        save_tensor(dir, "g.npy", &g, one, 1);
        save_tensor(dir, "z.npy", &z, one, 1);
        save_tensor(dir, "v.npy", &v, one, 1);
        snprintf(j, sizeof j,
                 "%s{\"type\": \"batchnorm\", \"gamma\": \"g.npy\", \"beta\": \"z.npy\", "
                 "\"moving_mean\": \"z.npy\", \"moving_variance\": \"v.npy\", \"epsilon\": "
                 "0}]}",
                 head);
        expect_load_error(dir, j, "not finite in float");
        tu_rmdir(dir);
    }
    expect_model_error("{\"format\": \"axmul-model\", \"version\": 1, ", "model.json:1");
    expect_model_error("{\"format\": \"keras\"}", "not an axmul model");
    expect_model_error("{\"format\": \"axmul-model\", \"version\": 7}", "version");
    axmul_model *m;
    ck_assert_int_eq(axmul_model_load("/nonexistent/model", &m), AXMUL_ERR_NOT_FOUND);
}
END_TEST

/* Saving over an existing model folder swaps the whole folder in: the old tensors are gone, the
 * user's own files stay, and a failed save (a target that is a file) changes nothing. */
START_TEST(test_model_save_whole_folder)
{
    const size_t ws[4] = {2, 2, 1, 2};
    char *src = tiny_model("conv2d", ws), *dir = tu_mkdtemp(), p[4096];
    axmul_model *m;
    ck_assert_int_eq(axmul_model_load(src, &m), AXMUL_OK);
    write_file(dir, "README", "the user's notes\n");
    write_file(dir, "stale_weights.npy", "old");
    snprintf(p, sizeof p, "%s/data", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    write_file(p, "keep.txt", "x");
    snprintf(p, sizeof p, "%s/model.json", dir);
    write_file(dir, "model.json", "{\"old\": 1}");
    ck_assert_int_eq(axmul_model_save(m, dir), AXMUL_OK);
    axmul_model *m2;
    ck_assert_int_eq(axmul_model_load(dir, &m2), AXMUL_OK);
    axmul_model_free(m2);
    snprintf(p, sizeof p, "%s/README", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/data/keep.txt", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/stale_weights.npy", dir);
    ck_assert_int_eq(access(p, F_OK), 0); /* not the save's: the user's, kept */
    /* nothing of the staging folder stays beside the target */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    *strrchr(parent, '/') = 0;
    DIR *d = opendir(parent);
    ck_assert_ptr_nonnull(d);
    const char *base = strrchr(dir, '/') + 1;
    for (struct dirent *e; (e = readdir(d));)
        ck_assert_msg(strncmp(e->d_name, base, strlen(base)) != 0 ||
                          strlen(e->d_name) == strlen(base),
                      "staging folder left: %s", e->d_name);
    closedir(d);
    /* a target that is a regular file: refused, the file untouched */
    snprintf(p, sizeof p, "%s/README", dir);
    ck_assert_int_eq(axmul_model_save(m, p), AXMUL_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "not a folder"));
    char *text;
    size_t len;
    ck_assert_int_eq(axmul_file_read(p, 1000, (void **)&text, &len), AXMUL_OK);
    ck_assert_uint_eq(len, 17);
    free(text);
    /* reads refuse a FIFO by name instead of waiting for a writer */
    snprintf(p, sizeof p, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(p, 0666), 0);
    ck_assert_int_eq(axmul_file_read(p, 1000, (void **)&text, &len), AXMUL_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(axmul_error_detail(), "is a FIFO"));
    axmul_model_free(m);
    tu_rmdir(src);
    tu_rmdir(dir);
}
END_TEST

/* The registry of layer kinds: every kind has its operations, finds itself by its type and
 * alias, and the list that error messages show holds them all in registry order. */
START_TEST(test_layer_registry)
{
    for (int k = 0; k < AXMUL__L_COUNT; k++) {
        const axmul__layer_ops *ops = axmul__layer_ops_of((axmul__layer_kind)k);
        ck_assert(ops && ops->type && ops->resolve && ops->forward && ops->backward);
        ck_assert_int_eq(axmul__layer_kind_of(ops->type), k);
        if (ops->alias)
            ck_assert_int_eq(axmul__layer_kind_of(ops->alias), k);
        ck_assert_int_eq(ops->params, k == AXMUL__L_CONV || k == AXMUL__L_DENSE);
    }
    ck_assert_int_eq(axmul__layer_kind_of("conv3d"), AXMUL__L_COUNT);
    ck_assert_str_eq(axmul__layer_types(),
                     "conv2d, depthwise, dense, avgpool, maxpool, globalavgpool, globalmaxpool, "
                     "adaptiveavgpool, batchnorm, relu, relu6, leakyrelu, sigmoid, silu, swish, "
                     "hardswish, flatten, softmax, add, concat");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_layer_registry);
    tcase_add_test(tc, test_model_load_save_predict);
    tcase_add_test(tc, test_pooling_matches_direct);
    tcase_add_test(tc, test_batchnorm_relu6_global_pools);
    tcase_add_test(tc, test_unnamed_layers_saved_apart);
    tcase_add_test(tc, test_residual_graphs);
    tcase_add_test(tc, test_threads_do_not_change_results);
    tcase_add_test(tc, test_layer_tables);
    tcase_add_test(tc, test_model_bad_inputs);
    tcase_add_test(tc, test_model_save_whole_folder);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
