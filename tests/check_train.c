/* Unit tests: training (float and approximation-aware), calibration on the approximate network,
 * and every layer kind's gradients against finite differences, on synthetic data. */
#include <math.h>

#include "axmul.h"
#include "lib/net/net.h" /* a layer's calibrated range, axmul__model_gradients */
#include "nettest.h"
#include "testutil.h"

/* Two runs with one seed give identical weights; training lowers the loss on a separable set. */
typedef struct {
    double first, last;
} loss_rec;

static void rec_progress(void *ctx, int epoch, int done, int total, double loss, double acc)
{
    loss_rec *r = ctx;
    (void)acc;
    if (epoch == 0 && done == 1)
        r->first = loss;
    if (done == total)
        r->last = loss;
}

START_TEST(test_training_deterministic)
{
    const int n = 256;
    float *x = malloc(sizeof(float) * 784 * n);
    uint8_t *lab = malloc((size_t)n);
    uint64_t s = 99;
    for (int i = 0; i < n; i++) {
        lab[i] = (uint8_t)(i % 10);
        for (int k = 0; k < 784; k++) /* class = which horizontal band is bright */
            x[i * 784 + k] = (k / 28) / 3 == lab[i] ? 0.8f + 0.2f * tu_randf(&s, 0, 1)
                                                    : 0.2f * tu_randf(&s, 0, 1);
    }
    axmul_model *a, *b;
    ck_assert_int_eq(axmul_model_create_lenet5(7, &a), AXMUL_OK);
    ck_assert_int_eq(axmul_model_create_lenet5(7, &b), AXMUL_OK);
    axmul_train_options o;
    axmul_train_options_init(&o);
    o.epochs = 3;
    o.batch = 32;
    o.seed = 5;
    loss_rec ra = {0, 0}, rb = {0, 0};
    o.progress = rec_progress;
    o.ctx = &ra;
    ck_assert_int_eq(axmul_model_train(a, x, lab, n, &o), AXMUL_OK);
    o.ctx = &rb;
    ck_assert_int_eq(axmul_model_train(b, x, lab, n, &o), AXMUL_OK);
    ck_assert_msg(ra.last < 0.5 * ra.first, "loss %g -> %g", ra.first, ra.last);
    ck_assert(ra.last == rb.last);
    char *dir = tu_mkdtemp(), da[4200], db[4200], pa[4300], pb[4300];
    snprintf(da, sizeof da, "%s/a", dir);
    snprintf(db, sizeof db, "%s/b", dir);
    ck_assert_int_eq(axmul_model_save(a, da), AXMUL_OK);
    ck_assert_int_eq(axmul_model_save(b, db), AXMUL_OK);
    const char *files[] = {"conv1_weights.npy", "conv2_weights.npy", "fc1_weights.npy",
                           "fc3_bias.npy", "model.json"};
    for (int k = 0; k < 5; k++) {
        snprintf(pa, sizeof pa, "%s/%s", da, files[k]);
        snprintf(pb, sizeof pb, "%s/%s", db, files[k]);
        FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
        ck_assert(fa && fb);
        int ca, cb;
        do {
            ca = fgetc(fa);
            cb = fgetc(fb);
            ck_assert_msg(ca == cb, "%s differs between two runs with one seed", files[k]);
        } while (ca != EOF);
        fclose(fa);
        fclose(fb);
    }
    /* the trained model classifies its training set */
    uint8_t *pred = malloc((size_t)n);
    axmul_net_options no;
    axmul_net_options_init(&no);
    ck_assert_int_eq(axmul_model_predict(a, &no, x, n, pred, NULL), AXMUL_OK);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += pred[i] == lab[i];
    ck_assert_msg(ok > n * 9 / 10, "%d/%d correct", ok, n);
    free(pred);
    tu_rmdir(dir);
    axmul_model_free(a);
    axmul_model_free(b);
    free(x);
    free(lab);
}
END_TEST

/* Approximation-aware training: the forward pass of training is the LUT network of inference
 * (the first batch's loss, the whole set in one batch, is the cross-entropy of
 * axmul_model_predict's softmax outputs with the same table and per-batch ranges, and not the
 * float network's), runs are reproducible, and a table for a layer without weights is refused. */
static void banded_set(int n, float *x, uint8_t *lab, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        lab[i] = (uint8_t)(i % 10);
        for (int k = 0; k < 784; k++) /* class = which horizontal band is bright */
            x[i * 784 + k] = (k / 28) / 3 == lab[i] ? 0.8f + 0.2f * tu_randf(&seed, 0, 1)
                                                    : 0.2f * tu_randf(&seed, 0, 1);
    }
}

static double cross_entropy(const axmul_model *m, const axmul_net_options *no, const float *x,
                            const uint8_t *lab, int n)
{
    float *p = malloc(sizeof(float) * 10 * (size_t)n);
    uint8_t *pred = malloc((size_t)n);
    ck_assert_int_eq(axmul_model_predict(m, no, x, n, pred, p), AXMUL_OK);
    double ce = 0;
    for (int i = 0; i < n; i++)
        ce -= log((double)p[i * 10 + lab[i]]);
    free(p);
    free(pred);
    return ce / n;
}

START_TEST(test_training_approximate)
{
    const int n = 200;
    float *x = malloc(sizeof(float) * 784 * n);
    uint8_t *lab = malloc((size_t)n);
    banded_set(n, x, lab, tu_seed());
    axmul_table *t; /* the 6 low bits of every product dropped: far from the float network */
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
        axmul_table_data_mut(t)[i] &= 0xffc0;
    double first[2], last[2];
    for (int run = 0; run < 2; run++) {
        axmul_model *m;
        ck_assert_int_eq(axmul_model_create_lenet5(3, &m), AXMUL_OK);
        axmul_train_options fo; /* a trained float model first: confident outputs */
        axmul_train_options_init(&fo);
        fo.epochs = 2;
        fo.batch = 32;
        ck_assert_int_eq(axmul_model_train(m, x, lab, n, &fo), AXMUL_OK);
        axmul_net_options no;
        axmul_net_options_init(&no);
        no.table = t;
        no.approx = AXMUL_APPROX_ALL;
        no.per_channel = 1;
        no.batch_ranges = 1;
        const double ce_lut = cross_entropy(m, &no, x, lab, n);
        no.table = NULL;
        const double ce_float = cross_entropy(m, &no, x, lab, n);
        axmul_train_options o;
        axmul_train_options_init(&o);
        o.epochs = 2;
        o.batch = n;
        o.table = t;
        o.approx = AXMUL_APPROX_ALL;
        o.per_channel = 1;
        loss_rec r = {0, 0};
        o.progress = rec_progress;
        o.ctx = &r;
        ck_assert_msg(axmul_model_train(m, x, lab, n, &o) == AXMUL_OK, "%s", axmul_error_detail());
        ck_assert_msg(fabs(r.first - ce_lut) < 1e-5 * ce_lut && fabs(ce_lut - ce_float) > 1e-2,
                      "first loss %.7g: LUT network %.7g, float %.7g", r.first, ce_lut, ce_float);
        ck_assert_msg(r.last < r.first, "loss %.7g -> %.7g", r.first, r.last);
        first[run] = r.first;
        last[run] = r.last;
        axmul_model_free(m);
    }
    ck_assert(first[0] == first[1] && last[0] == last[1]);

    axmul_model *m;
    ck_assert_int_eq(axmul_model_create_lenet5(3, &m), AXMUL_OK);
    const axmul_table *lt[16] = {0};
    lt[1] = t; /* relu */
    ck_assert_str_eq(axmul_model_layer_type(m, 1), "relu");
    axmul_train_options o;
    axmul_train_options_init(&o);
    o.epochs = 1;
    o.layer_tables = lt;
    ck_assert_int_eq(axmul_model_train(m, x, lab, n, &o), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(axmul_error_detail(), "of type relu"), "%s", axmul_error_detail());
    axmul_model_free(m);
    axmul_table_free(t);
    free(x);
    free(lab);
}
END_TEST

/* axmul_model_calibrate_network: without tables it is axmul_model_calibrate; with a table in
 * every layer, each layer's range is the min/max of its input in the network that runs with
 * those ranges (recomputed here from the layers' outputs: ReLU, the 2x2 average pool), not the
 * float network's. */
static void minmax_relu(const float *v, size_t n, int pool_w, int pool_c, axmul_range *r)
{
    r->min = INFINITY;
    r->max = -INFINITY;
    const size_t per = pool_w ? (size_t)pool_w * pool_w * pool_c : 1;
    const int ow = pool_w ? pool_w / 2 : 1;
    for (size_t img = 0; img < n / per; img++) /* pool_w: images of pool_w^2 x pool_c */
        for (int y = 0; y < ow; y++)
            for (int x = 0; x < ow; x++)
                for (int c = 0; c < (pool_w ? pool_c : 1); c++) {
                    float e;
                    if (!pool_w) {
                        e = v[img] > 0 ? v[img] : 0.0f;
                    } else {
                        float acc = 0.0f;
                        for (int i = 0; i < 2; i++)
                            for (int j = 0; j < 2; j++) {
                                float u =
                                    v[img * per +
                                      ((size_t)(2 * y + i) * pool_w + 2 * x + j) * pool_c + c];
                                acc += u > 0 ? u : 0.0f;
                            }
                        e = acc / 4.0f;
                    }
                    r->min = e < r->min ? e : r->min;
                    r->max = e > r->max ? e : r->max;
                }
}

START_TEST(test_calibrate_network)
{
    enum { N = 60 };
    uint64_t seed = tu_seed() ^ 0xca1;
    float *x = malloc(sizeof(float) * N * 784);
    uint8_t *lab = malloc(N);
    banded_set(N, x, lab, seed);
    axmul_model *a, *b;
    ck_assert_int_eq(axmul_model_create_lenet5(11, &a), AXMUL_OK);
    ck_assert_int_eq(axmul_model_create_lenet5(11, &b), AXMUL_OK);
    ck_assert_int_eq(axmul_model_calibrate(a, x, N, 25, 0), AXMUL_OK);
    axmul_net_options o;
    axmul_net_options_init(&o);
    ck_assert_int_eq(axmul_model_calibrate_network(b, &o, x, N, 25), AXMUL_OK);
    for (int i = 0; i < a->nl; i++) {
        ck_assert_int_eq(a->L[i].has_range, b->L[i].has_range);
        ck_assert(a->L[i].in_range.min == b->L[i].in_range.min &&
                  a->L[i].in_range.max == b->L[i].in_range.max);
    }
    axmul_table *t; /* every product doubled (saturating): activations far from the float ones */
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        unsigned v = 2u * axmul_table_data_mut(t)[i];
        axmul_table_data_mut(t)[i] = (uint16_t)(v > 0xffff ? 0xffff : v);
    }
    o.table = t;
    o.approx = AXMUL_APPROX_ALL;
    ck_assert_int_eq(axmul_model_calibrate_network(b, &o, x, N, 25), AXMUL_OK);
    layer_rec rec = {{0}};
    o.layer_output = rec_layer;
    o.ctx = &rec;
    uint8_t pred[N];
    ck_assert_int_eq(axmul_model_predict(b, &o, x, N, pred, NULL), AXMUL_OK);
    /* LeNet-5: conv1 (0) relu pool conv2 (3) relu flatten fc1 (6) relu fc2 (8) relu fc3 (10) */
    const int prev[4] = {0, 3, 6, 8}, next[4] = {3, 6, 8, 10};
    int differs = 0;
    for (int k = 0; k < 4; k++) {
        axmul_range r;
        const size_t cnt = N * axmul_model_layer_output_size(b, prev[k]);
        minmax_relu(rec.out[prev[k]], cnt, k == 0 ? 26 : 0, 6, &r);
        const axmul__layer *l = &b->L[next[k]];
        ck_assert_msg(l->has_range && l->in_range.min == r.min && l->in_range.max == r.max,
                      "layer %s: range [%g, %g], its input in the network [%g, %g]", l->name,
                      l->in_range.min, l->in_range.max, r.min, r.max);
        differs += a->L[next[k]].in_range.max != r.max;
    }
    ck_assert_msg(differs == 4, "%d of 4 ranges differ from the float network's", differs);
    ck_assert(a->L[0].in_range.max == b->L[0].in_range.max); /* conv1 reads the image */
    for (int i = 0; i < 16; i++)
        free(rec.out[i]);
    axmul_table_free(t);
    axmul_model_free(a);
    axmul_model_free(b);
    free(x);
    free(lab);
}
END_TEST

/* Back-propagation through every layer kind against central differences of the loss: a
 * MobileNet/ResNet-like graph (strided grouped conv, batch norm, ReLU6, dilated depthwise, a 1x1
 * shortcut from an earlier layer without bias, add, max pool, global average or max pool,
 * dense) and a LeNet-like chain (conv, ReLU, average pool, conv, flatten, dense, ReLU, dense).
 * Each weight and bias entry of each conv/dense layer: |numeric - analytic| <= 2e-3 + 5%. The
 * images are drawn from the test seed, the weights fixed. */
static void grad_model(const char *dir, int which, const char *global)
{
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)which;
    float v[256];
    size_t sh[4];
#define T(name, n0, n1, n2, n3, nd, lo, hi)                                                        \
    do {                                                                                           \
        sh[0] = n0, sh[1] = n1, sh[2] = n2, sh[3] = n3;                                            \
        size_t cnt = 1;                                                                            \
        for (int d_ = 0; d_ < nd; d_++)                                                            \
            cnt *= sh[d_];                                                                         \
        for (size_t k_ = 0; k_ < cnt; k_++)                                                        \
            v[k_] = tu_randf(&s, lo, hi);                                                          \
        save_tensor(dir, name, v, sh, nd);                                                         \
    } while (0)
    char json[4096];
    if (which == 0) {
        T("c1_w.npy", 3, 3, 1, 4, 4, -0.8f, 0.8f);
        T("c1_b.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("g.npy", 4, 0, 0, 0, 1, 3.0f, 6.0f); /* some ReLU6 inputs above 6 */
        T("b.npy", 4, 0, 0, 0, 1, 0.0f, 3.0f);
        T("m.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("v.npy", 4, 0, 0, 0, 1, 0.5f, 2.0f);
        T("dw_w.npy", 3, 3, 1, 4, 4, -0.8f, 0.8f);
        T("dw_b.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("sc_w.npy", 1, 1, 4, 4, 4, -0.8f, 0.8f);
        T("fc_w.npy", 4, 3, 0, 0, 2, -1.0f, 1.0f);
        T("fc_b.npy", 3, 0, 0, 0, 1, -0.2f, 0.2f);
        snprintf(
            json, sizeof json,
            "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [8, 8, 2],\n"
            " \"layers\": [\n"
            "  {\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 4, \"kernel_size\": 3,\n"
            "   \"strides\": 2, \"padding\": \"same\", \"groups\": 2, \"weights\": "
            "\"c1_w.npy\", \"bias\": \"c1_b.npy\"},\n"
            "  {\"type\": \"batchnorm\", \"name\": \"bn\", \"gamma\": \"g.npy\", \"beta\": "
            "\"b.npy\", \"moving_mean\": \"m.npy\", \"moving_variance\": \"v.npy\"},\n"
            "  {\"type\": \"relu6\", \"name\": \"r1\"},\n"
            "  {\"type\": \"depthwise\", \"name\": \"dw\", \"filters\": 4, \"kernel_size\": 3, "
            "\"dilation\": 2, \"padding\": [2, 2, 1, 3], \"weights\": \"dw_w.npy\", "
            "\"bias\": \"dw_b.npy\"},\n"
            "  {\"type\": \"relu\", \"name\": \"r2\"},\n"
            "  {\"type\": \"conv2d\", \"name\": \"sc\", \"input\": \"r1\", \"filters\": 4, "
            "\"kernel_size\": 1, \"weights\": \"sc_w.npy\"},\n"
            "  {\"type\": \"add\", \"inputs\": [\"r2\", \"sc\"]},\n"
            "  {\"type\": \"maxpool\", \"pool_size\": 2},\n"
            "  {\"type\": \"%s\"},\n"
            "  {\"type\": \"dense\", \"name\": \"fc\", \"units\": 3, \"weights\": "
            "\"fc_w.npy\", \"bias\": \"fc_b.npy\"},\n"
            "  {\"type\": \"softmax\"}]}\n",
            global);
    } else if (which == 2) {
        /* the smooth activations, concat and add of three, padded and ceil_mode pools,
         * adaptive average pooling */
        T("c1_w.npy", 3, 3, 2, 4, 4, -0.8f, 0.8f);
        T("c1_b.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("c2_w.npy", 1, 1, 12, 4, 4, -0.6f, 0.6f);
        T("fc_w.npy", 16, 3, 0, 0, 2, -1.0f, 1.0f);
        T("fc_b.npy", 3, 0, 0, 0, 1, -0.2f, 0.2f);
        snprintf(
            json, sizeof json,
            "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [8, 8, 2],\n"
            " \"layers\": [\n"
            "  {\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 4, \"kernel_size\": 3,\n"
            "   \"padding\": \"same\", \"weights\": \"c1_w.npy\", \"bias\": \"c1_b.npy\"},\n"
            "  {\"type\": \"leakyrelu\", \"name\": \"a\", \"alpha\": 0.1},\n"
            "  {\"type\": \"sigmoid\", \"name\": \"s\", \"input\": \"a\"},\n"
            "  {\"type\": \"silu\", \"name\": \"si\", \"input\": \"a\"},\n"
            "  {\"type\": \"hardswish\", \"name\": \"h\", \"input\": \"c1\"},\n"
            "  {\"type\": \"concat\", \"name\": \"cat\", \"inputs\": [\"a\", \"si\", \"h\"]},\n"
            "  {\"type\": \"conv2d\", \"name\": \"c2\", \"filters\": 4, \"kernel_size\": 1,\n"
            "   \"weights\": \"c2_w.npy\"},\n"
            "  {\"type\": \"add\", \"inputs\": [\"c2\", \"s\", \"h\"]},\n"
            "  {\"type\": \"maxpool\", \"pool_size\": 3, \"strides\": 2, \"padding\": 1,\n"
            "   \"ceil_mode\": true},\n"
            "  {\"type\": \"avgpool\", \"pool_size\": 2, \"padding\": 1, "
            "\"count_include_pad\": false},\n"
            "  {\"type\": \"adaptiveavgpool\", \"output_size\": 2},\n"
            "  {\"type\": \"flatten\"},\n"
            "  {\"type\": \"dense\", \"name\": \"fc\", \"units\": 3, \"weights\": "
            "\"fc_w.npy\", \"bias\": \"fc_b.npy\"},\n"
            "  {\"type\": \"softmax\"}]}\n");
    } else {
        T("c1_w.npy", 3, 3, 2, 3, 4, -0.8f, 0.8f);
        T("c1_b.npy", 3, 0, 0, 0, 1, -0.2f, 0.2f);
        T("c2_w.npy", 2, 2, 3, 4, 4, -0.8f, 0.8f);
        T("c2_b.npy", 4, 0, 0, 0, 1, -0.2f, 0.2f);
        T("f1_w.npy", 16, 5, 0, 0, 2, -0.6f, 0.6f);
        T("f1_b.npy", 5, 0, 0, 0, 1, -0.2f, 0.2f);
        T("f2_w.npy", 5, 3, 0, 0, 2, -1.0f, 1.0f);
        T("f2_b.npy", 3, 0, 0, 0, 1, -0.2f, 0.2f);
        snprintf(json, sizeof json,
                 "{\"format\": \"axmul-model\", \"version\": 1, \"input_shape\": [8, 8, 2],\n"
                 " \"layers\": [\n"
                 "  {\"type\": \"conv2d\", \"name\": \"c1\", \"filters\": 3, \"kernel_size\": 3,\n"
                 "   \"weights\": \"c1_w.npy\", \"bias\": \"c1_b.npy\"},\n"
                 "  {\"type\": \"relu\"}, {\"type\": \"avgpool\", \"pool_size\": 2},\n"
                 "  {\"type\": \"conv2d\", \"name\": \"c2\", \"filters\": 4, \"kernel_size\": 2,\n"
                 "   \"weights\": \"c2_w.npy\", \"bias\": \"c2_b.npy\"},\n"
                 "  {\"type\": \"flatten\"},\n"
                 "  {\"type\": \"dense\", \"name\": \"f1\", \"units\": 5, \"weights\": "
                 "\"f1_w.npy\", \"bias\": \"f1_b.npy\"},\n"
                 "  {\"type\": \"relu\"},\n"
                 "  {\"type\": \"dense\", \"name\": \"f2\", \"units\": 3, \"weights\": "
                 "\"f2_w.npy\", \"bias\": \"f2_b.npy\"},\n"
                 "  {\"type\": \"softmax\"}]}\n");
    }
#undef T
    write_file(dir, "model.json", json);
}

START_TEST(test_gradients_every_layer)
{
    enum { N = 6 };
    const char *variants[4][2] = {
        {"0", "globalavgpool"}, {"0", "globalmaxpool"}, {"1", ""}, {"2", ""}};
    uint64_t s = tu_seed() ^ 0x96ad;
    float x[N * 8 * 8 * 2];
    uint8_t lab[N];
    for (int i = 0; i < N * 128; i++)
        x[i] = tu_randf(&s, 0.0f, 1.0f);
    for (int i = 0; i < N; i++)
        lab[i] = (uint8_t)(i % 3);
    for (int v = 0; v < 4; v++) {
        char *dir = tu_mkdtemp();
        grad_model(dir, variants[v][0][0] - '0', variants[v][1]);
        axmul_model *m;
        ck_assert_msg(axmul_model_load(dir, &m) == AXMUL_OK, "%s", axmul_error_detail());
        axmul_train_options o;
        axmul_train_options_init(&o);
        float *wg[16] = {0}, *bg[16] = {0};
        for (int i = 0; i < m->nl; i++)
            if (m->L[i].kind == AXMUL__L_CONV || m->L[i].kind == AXMUL__L_DENSE) {
                wg[i] = malloc(sizeof(float) * m->L[i].nw);
                bg[i] = malloc(sizeof(float) * (size_t)m->L[i].units);
            }
        double loss, lp, lm;
        ck_assert_msg(axmul__model_gradients(m, &o, x, lab, N, &loss, wg, bg) == AXMUL_OK, "%s",
                      axmul_error_detail());
        int checked = 0;
        for (int i = 0; i < m->nl; i++) {
            if (!wg[i])
                continue;
            axmul__layer *l = &m->L[i];
            ck_assert_ptr_nonnull(l->b); /* "sc" had none: training gives it zeros */
            for (size_t k = 0; k < l->nw + (size_t)l->units; k++) {
                float *p = k < l->nw ? &l->w[k] : &l->b[k - l->nw];
                const float ana = k < l->nw ? wg[i][k] : bg[i][k - l->nw], keep = *p;
                float *tw[16] = {0}, *tb[16] = {0}; /* gradients of the shifted runs: unused */
                for (int j = 0; j < m->nl; j++)
                    if (wg[j]) {
                        tw[j] = malloc(sizeof(float) * m->L[j].nw);
                        tb[j] = malloc(sizeof(float) * (size_t)m->L[j].units);
                    }
                /* A ReLU, ReLU6 or max pool kink within the step spoils the central difference:
                 * a smaller step, or the one-sided difference on the kink-free side, then
                 * agrees, whereas a wrong gradient disagrees at every step on both sides. The
                 * loss is computed in float, so steps below 6e-5 would be noise. */
                double num = 0;
                int agrees = 0;
                for (float h = 1e-3f; h > 5e-5f && !agrees; h /= 4) {
                    *p = keep + h;
                    ck_assert_int_eq(axmul__model_gradients(m, &o, x, lab, N, &lp, tw, tb),
                                     AXMUL_OK);
                    *p = keep - h;
                    ck_assert_int_eq(axmul__model_gradients(m, &o, x, lab, N, &lm, tw, tb),
                                     AXMUL_OK);
                    *p = keep;
                    const double tol = 2e-3 + 0.05 * fabs(ana);
                    const double fwd = (lp - loss) / h, bwd = (loss - lm) / h;
                    num = (lp - lm) / (2.0 * h);
                    agrees =
                        fabs(num - ana) <= tol || fabs(fwd - ana) <= tol || fabs(bwd - ana) <= tol;
                }
                for (int j = 0; j < m->nl; j++) {
                    free(tw[j]);
                    free(tb[j]);
                }
                ck_assert_msg(agrees,
                              "model %d (%s), layer %s, %s %zu: numeric %.6g, analytic %.6g", v,
                              variants[v][1], l->name, k < l->nw ? "weight" : "bias",
                              k < l->nw ? k : k - l->nw, num, ana);
                checked++;
            }
        }
        ck_assert_int_gt(checked, 100);
        for (int i = 0; i < 16; i++) {
            free(wg[i]);
            free(bg[i]);
        }
        axmul_model_free(m);
        tu_rmdir(dir);
    }
}
END_TEST

/* A label beyond the model's classes is refused by name, not read past the output row. */
START_TEST(test_training_bad_label)
{
    const int n = 8;
    float *x = calloc((size_t)784 * n, sizeof *x);
    uint8_t lab[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    axmul_model *m;
    ck_assert_int_eq(axmul_model_create_lenet5(1, &m), AXMUL_OK);
    axmul_train_options o;
    axmul_train_options_init(&o);
    o.epochs = 1;
    lab[5] = 10;
    ck_assert_int_eq(axmul_model_train(m, x, lab, n, &o), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(axmul_error_detail(),
                     "label 10 of image 5 is not a class of the model (0..9)");
    lab[5] = 9;
    ck_assert_int_eq(axmul_model_train(m, x, lab, n, &o), AXMUL_OK);
    axmul_model_free(m);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_training_deterministic);
    tcase_add_test(tc, test_training_bad_label);
    tcase_add_test(tc, test_training_approximate);
    tcase_add_test(tc, test_calibrate_network);
    tcase_add_test(tc, test_gradients_every_layer);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
