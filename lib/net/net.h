/* axmul: internal interface of the networks (lib/net): the model and its layers, the one registry
 * of layer kinds (AXMUL__LAYER_KINDS) with the operations of each kind (axmul__layer_ops), and
 * what the model files, inference and training share. A new kind of layer is one file with its
 * axmul__layer_ops and one row in AXMUL__LAYER_KINDS. */
#ifndef AXMUL_NET_NET_H
#define AXMUL_NET_NET_H

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "axmul_net.h"
#include "lib/engine/engine.h"

/* The layer kinds: X(KIND, type). KIND names AXMUL__L_KIND; type is the model.json "type" and
 * names the kind's operations, axmul__layer_<type> (an axmul__layer_ops). The order is that of
 * the lists in error messages. */
#define AXMUL__LAYER_KINDS(X)                                                                      \
    X(CONV, conv2d)                                                                                \
    X(DENSE, dense)                                                                                \
    X(AVGPOOL, avgpool)                                                                            \
    X(MAXPOOL, maxpool)                                                                            \
    X(GLOBALAVG, globalavgpool)                                                                    \
    X(GLOBALMAX, globalmaxpool)                                                                    \
    X(ADAPTIVEAVG, adaptiveavgpool)                                                                \
    X(BATCHNORM, batchnorm)                                                                        \
    X(RELU, relu)                                                                                  \
    X(RELU6, relu6)                                                                                \
    X(LEAKYRELU, leakyrelu)                                                                        \
    X(SIGMOID, sigmoid)                                                                            \
    X(SILU, silu)                                                                                  \
    X(HARDSWISH, hardswish)                                                                        \
    X(FLATTEN, flatten)                                                                            \
    X(SOFTMAX, softmax)                                                                            \
    X(ADD, add)                                                                                    \
    X(CONCAT, concat)

typedef enum {
#define AXMUL__LAYER_ENUM(kind, type) AXMUL__L_##kind,
    AXMUL__LAYER_KINDS(AXMUL__LAYER_ENUM)
#undef AXMUL__LAYER_ENUM
        AXMUL__L_COUNT
} axmul__layer_kind;

struct axmul__layer_ops;

/* The most inputs an add or concat layer takes. */
#define AXMUL__MAX_MERGE 8

/* The activations the layers and ONNX's operators share (one formula each, so that a network
 * gives the same floats whichever way it was loaded). hardswish: ONNX's x * clip(x / 6 + 1/2),
 * as PyTorch's x * relu6(x + 3) / 6 up to rounding. */
static inline float axmul__sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}
static inline float axmul__hardswishf(float x)
{
    return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
}
static inline float axmul__leakyreluf(float x, float alpha)
{
    return x < 0 ? alpha * x : x;
}

/* A 2-D pooling window over an H x W input: kernel, strides, dilations, padding (top, bottom,
 * left, right: pixels outside the image that windows may cover) and the output size. One
 * geometry and one kernel for the pool layers and ONNX's MaxPool/AveragePool. */
typedef struct {
    int kh, kw, sh, sw, dh, dw;
    int pt, pb, pl, pr;
    int oh, ow;
} axmul__pool_win;

/* One axis of a window's geometry, shared by the pool layers and ONNX's Conv and pools. ek is
 * the effective kernel extent ((k - 1) * dilation + 1), s the stride (>= 1).
 * axmul__window_same: "same" padding (out = ceil(in / s)), its total split with the odd pixel
 * at the end (TensorFlow, ONNX SAME_UPPER) or, with lower, at the start (SAME_LOWER).
 * axmul__window_out: the output size with the given padding, rounded down or (ceil_mode,
 * PyTorch and ONNX) up, but no window starting in the end padding; -1 when the padded input is
 * smaller than the window. */
void axmul__window_same(int64_t in, int64_t ek, int64_t s, int lower, int64_t *begin, int64_t *end);
int64_t axmul__window_out(int64_t in, int64_t ek, int64_t s, int64_t begin, int64_t end,
                          int ceil_mode);

/* Max or average pooling of n NHWC images (h x w x c) into y (n x oh x ow x c), on nt threads:
 * each output combines the taps of its window that lie in the image in row-major order, from
 * -inf (max) or 0 (average, then divided once: by the taps in the image, or with count_pad by
 * the window clipped to the padded input, as PyTorch and ONNX count_include_pad). */
void axmul__pool_forward(const float *x, int n, int h, int w, int c, const axmul__pool_win *win,
                         int is_max, int count_pad, int nt, float *y);

/* The gradient g of the pooled output added onto dx (the input's): max to the first maximum
 * of each window, as the forward pass keeps it; average spread evenly with the same divisor. */
void axmul__pool_backward(const float *x, int n, int h, int w, int c, const axmul__pool_win *win,
                          int is_max, int count_pad, const float *g, float *dx);

typedef struct {
    axmul__layer_kind kind;
    const struct axmul__layer_ops *ops; /* axmul__layer_ops_of(kind) */
    char name[64];
    /* conv2d: kernel, stride, dilation, padding, groups; pools: kernel (kh, kw) and stride */
    int kh, kw, sh, sw, dh, dw, groups;
    axmul_padding padding;
    int pad[4];               /* explicit: top, bottom, left, right */
    int ceil_mode, count_pad; /* pools: output size rounded up; padding counted by averages */
    axmul__pool_win pool;     /* pools: the window, resolved at load */
    int units;                /* conv2d filters / dense units */
    float *w, *b;             /* batchnorm: the per-channel scale and offset it reduces to */
    size_t nw, nb;
    char wfile[128], bfile[128];
    /* batchnorm: gamma, beta, moving mean, moving variance (c each) and epsilon, as given */
    float *bn[4];
    size_t nbn[4];
    char bnfile[4][128];
    float eps; /* batchnorm: epsilon; leakyrelu: the slope below 0 */
    /* graph: src is 1 + the index of the layer whose output is this layer's input (0: the
     * previous layer's, or the network's input for layer 0; zero-initialised layers are a
     * chain); add, concat: the indices of their nadd operands; saved: a later layer reads this
     * layer's output out of order, so the forward pass keeps a copy */
    int src, add[AXMUL__MAX_MERGE], nadd, saved;
    int addc[AXMUL__MAX_MERGE]; /* concat: the channels of each input, resolved at load */
    char src_name[64], add_name[AXMUL__MAX_MERGE][64];
    int has_range;
    axmul_range in_range; /* calibrated input range (conv2d, dense) */
    /* shapes, resolved at load: input and output h, w, c (dense/flatten: h = w = 1) */
    int ih, iw, ic, oh, ow, oc;
    axmul__conv_plan plan; /* conv2d: the geometry of one image (the engine's, padding resolved) */
} axmul__layer;

struct axmul__ox; /* an ONNX model's graph and what the accessors report (lib/net/onnx/model.c) */

struct axmul_model {
    char name[128];
    int in_h, in_w, in_c;
    int nl;
    axmul__layer *L;      /* NULL for an ONNX model */
    struct axmul__ox *ox; /* an ONNX model, or NULL */
};

/* ---------------------------------------------------------------- ONNX models (lib/net/onnx) */

/* The ONNX model's answer where m is one (built with ONNX import only). */
#ifdef HAVE_ONNX
#define AXMUL__IF_ONNX(m, expr)                                                                    \
    do {                                                                                           \
        if ((m)->ox)                                                                               \
            return expr;                                                                           \
    } while (0)
#else
#define AXMUL__IF_ONNX(m, expr) ((void)0)
#endif

/* What the public model functions do for an ONNX model (m->ox set); built with HAVE_ONNX. */
axmul_status axmul__ox_load(const char *path, axmul_model **out);
void axmul__ox_free(struct axmul__ox *ox);
const char *axmul__ox_layer_type(const axmul_model *m, int i);
const char *axmul__ox_layer_name(const axmul_model *m, int i);
int axmul__ox_layer_approx(const axmul_model *m, int i);
void axmul__ox_layer_output_shape(const axmul_model *m, int i, int *h, int *w, int *c);
int axmul__ox_classes(const axmul_model *m);
int axmul__ox_calibrated(const axmul_model *m);
int axmul__ox_num_io(const axmul_model *m, int outputs);
const char *axmul__ox_io_name(const axmul_model *m, int outputs, int k);
axmul_status axmul__ox_save(const axmul_model *m, const char *path);
axmul_status axmul__ox_predict(const axmul_model *m, const axmul_net_options *o, const float *x,
                               int n, uint8_t *pred, float *scores);
axmul_status axmul__ox_run(const axmul_model *m, const axmul_net_options *o,
                           const axmul_npy *const *inputs, axmul_npy **outputs);
axmul_status axmul__ox_calibrate(axmul_model *m, const axmul_net_options *o, const float *x, int n,
                                 int batch, int network);
axmul_status axmul__ox_layers(const axmul_model *m, axmul_model **out);

/* ---------------------------------------------------------------- the operations of a kind */

/* A forward pass of one layer over n images: inference (o set) or training (to set). */
typedef struct {
    const axmul_model *m;
    const axmul_net_options *o;    /* inference: the caller's options; NULL in training */
    const axmul_train_options *to; /* training: the caller's options; NULL in inference */
    int i;                         /* the layer's index */
    int n;                         /* images */
    int nt;                        /* threads of the float layers, >= 1 */
    const axmul_table *table;      /* the layer's table (axmul__layer_table); NULL: float */
    float *col;                    /* im2col scratch (axmul__model_col_size) */
} axmul__fwd;

/* A backward pass of one layer over n images (training). */
typedef struct {
    int n;
    float *col, *dcol; /* im2col scratch and its gradient */
    float *wg, *bg;    /* the layer's parameter gradients (conv2d, dense): nw and units floats */
} axmul__bwd;

/* Where model.json is being read: errors name the file (path) and the layer (index). */
typedef struct {
    const char *dir, *path;
    int index;
} axmul__parse;

typedef struct axmul__layer_ops {
    const char *type;  /* model.json "type" */
    const char *alias; /* another "type" that means this kind (with parse telling them apart) */
    int params;        /* weights and bias: takes a table and a calibrated input range */
    int in_place;      /* inference may run it with y == in[0] */
    /* The kind's own model.json fields (the loader reads type, name and input, and the weights,
     * bias and input range of params layers); type is the name given (the alias or not). */
    axmul_status (*parse)(const axmul__parse *ps, json_t *jl, const char *type, axmul__layer *l);
    /* Output shape (l->oh, ow, oc) from the input shape (l->ih, iw, ic), checking the layer's
     * tensors against it; errors name path and layer i. */
    axmul_status (*resolve)(axmul_model *m, int i, const char *path);
    /* The kind's own model.json fields into jl, and its tensors into dir (not the weights and
     * bias of params layers, which the saver writes). */
    axmul_status (*save)(const axmul_model *m, int i, json_t *jl, const char *dir);
    /* y from the inputs in (in[0]; add: in[0] and in[1]) for f->n images. */
    axmul_status (*forward)(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                            float *y);
    /* Training: adds the gradient g of the output y onto the gradients dx[k] of the inputs
     * (NULL for the network input) and, for params layers, writes b->wg and b->bg. The
     * straight-through estimator: an approximated layer back-propagates as its float layer. */
    void (*backward)(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                     const float *y, const float *g, float *const *dx);
    /* The kind's own model.json keys, space-separated ("" for none): with the common ones (type,
     * name, input; weights, bias, input_range for params layers) the only keys a layer may
     * have, so that a misspelled field ("stride", "pading") is refused, not ignored. */
    const char *keys;
    int merge; /* add, concat: reads the "inputs" it names (add[0 .. nadd-1]), not one source */
} axmul__layer_ops;

#define AXMUL__LAYER_OPS_DECL(kind, type) extern const axmul__layer_ops axmul__layer_##type;
AXMUL__LAYER_KINDS(AXMUL__LAYER_OPS_DECL)
#undef AXMUL__LAYER_OPS_DECL

/* The operations of a kind. */
const axmul__layer_ops *axmul__layer_ops_of(axmul__layer_kind kind);

/* The kind whose type (or alias) is type, or AXMUL__L_COUNT. */
axmul__layer_kind axmul__layer_kind_of(const char *type);

/* Every type and alias, for error messages: "conv2d, depthwise, dense, ..., add". */
const char *axmul__layer_types(void);

/* Sets layer l's kind and operations. */
void axmul__layer_set_kind(axmul__layer *l, axmul__layer_kind kind);

/* ---------------------------------------------------------------- model (model.c) */

/* Resolves every layer's shapes from the input shape; checks tensors against them. name is
 * used in error details (the model.json path). */
axmul_status axmul__model_resolve(axmul_model *m, const char *name);

/* The convolution descriptor of a conv or dense layer (dense: 1x1 kernel, VALID, one group) on
 * n images of h x w x c; every other field at its axmul_conv_desc_init default. */
void axmul__layer_conv_desc(const axmul__layer *l, int n, int h, int w, int c, axmul_conv_desc *d);

/* Largest activation (h*w*c) in the network, input included. */
size_t axmul__model_max_act(const axmul_model *m);

/* Floats of im2col scratch the layers of m need for one image (training's simple convolutions
 * take a batch at once: axmul__layer_batched_im2col). */
size_t axmul__model_col_size(const axmul_model *m);

/* Whether training runs conv layer l's float pass as one im2col + SGEMM over the whole batch
 * (stride 1, no dilation, one group), so that its scratch holds a batch. */
int axmul__layer_batched_im2col(const axmul__layer *l);

/* Whether layer l has weights (conv2d, dense). */
int axmul__layer_params(const axmul__layer *l);

/* The table that layer i multiplies with under (table, approx, layer_tables), the selection of
 * axmul_net_options and axmul_train_options: its own layer_tables entry, else table where
 * approx selects the layer's kind (conv2d/dense), else NULL (a float layer). */
const axmul_table *axmul__layer_table(const axmul_model *m, int i, const axmul_table *table,
                                      int approx, const axmul_table *const *layer_tables);

/* ERR_INVALID_ARGUMENT naming the first layer that layer_tables gives a table but that is not a
 * conv2d or dense layer; AXMUL_OK otherwise (layer_tables NULL too). */
axmul_status axmul__check_layer_tables(const axmul_model *m,
                                       const axmul_table *const *layer_tables);

/* ---------------------------------------------------------------- shared kernels of the layers */

/* The float layers between the LUT convolutions run on the same threads, each output element
 * computed by one thread in the same order whatever the thread count (so results do not depend
 * on it); tensors below this many elements stay on one thread. */
#define AXMUL__PAR_MIN 65536

/* The backward pass of a layer whose output is its input (flatten, and softmax in training,
 * where the loss applies it): dx[0] += g. */
void axmul__pass_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                          const float *y, const float *g, float *const *dx);

/* ---------------------------------------------------------------- data sets (dataset.c) */

/* A data set from its parts, both loaders' one plausibility check: 1..4096 rows, columns and
 * channels, 1..2^31 - 1 images (errors name name). images (count x rows x cols x channels bytes)
 * and labels are taken over, and freed on failure too. */
axmul_status axmul__dataset_wrap(const char *name, size_t count, size_t rows, size_t cols,
                                 size_t channels, uint8_t *images, uint8_t *labels,
                                 axmul_dataset **out);

/* ---------------------------------------------------------------- training (train.c) */

/* Training internals, for tests: the mean softmax cross-entropy of n images (labels) and its
 * gradients with respect to each conv2d/dense layer's weights and bias (wg[i], bg[i]: nw and
 * units floats for those layers, NULL elsewhere), with o's approximation-aware settings. */
axmul_status axmul__model_gradients(axmul_model *m, const axmul_train_options *o, const float *x,
                                    const uint8_t *labels, int n, double *loss, float **wg,
                                    float **bg);

#endif
