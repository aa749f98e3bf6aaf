/* axmul: internal representation of a model (shared by model.c, net.c, train.c). */
#ifndef AXMUL_NET_INTERNAL_H
#define AXMUL_NET_INTERNAL_H

#include <stddef.h>

#include "axmul_net.h"

typedef enum {
    AXMUL__L_CONV,
    AXMUL__L_DENSE,
    AXMUL__L_AVGPOOL,
    AXMUL__L_MAXPOOL,
    AXMUL__L_RELU,
    AXMUL__L_FLATTEN,
    AXMUL__L_SOFTMAX,
    AXMUL__L_BATCHNORM, /* inference: y = (x - mean) / sqrt(variance + epsilon) * gamma + beta */
    AXMUL__L_RELU6,     /* min(max(x, 0), 6) */
    AXMUL__L_GLOBALAVG, /* mean over h and w: (h, w, c) -> (1, 1, c) */
    AXMUL__L_GLOBALMAX, /* max over h and w */
    AXMUL__L_ADD        /* elementwise sum of two earlier layers' outputs (residual blocks) */
} axmul__layer_kind;

typedef struct {
    axmul__layer_kind kind;
    char name[64];
    /* conv2d: kernel, stride, dilation, padding, groups; pools: kernel (kh, kw) and stride */
    int kh, kw, sh, sw, dh, dw, groups;
    axmul_padding padding;
    int pad[4];   /* explicit: top, bottom, left, right */
    int units;    /* conv2d filters / dense units */
    float *w, *b; /* batchnorm: the per-channel scale and offset it reduces to */
    size_t nw, nb;
    char wfile[128], bfile[128];
    /* batchnorm: gamma, beta, moving mean, moving variance (c each) and epsilon, as given */
    float *bn[4];
    size_t nbn[4];
    char bnfile[4][128];
    float eps;
    /* graph: src is 1 + the index of the layer whose output is this layer's input (0: the
     * previous layer's, or the network's input for layer 0; zero-initialised layers are a
     * chain); add: the indices of its two operands; saved: a later layer reads this layer's
     * output out of order, so the forward pass keeps a copy */
    int src, add[2], saved;
    char src_name[64], add_name[2][64];
    int has_range;
    axmul_range in_range; /* calibrated input range (conv2d, dense) */
    /* shapes, resolved at load: input and output h, w, c (dense/flatten: h = w = 1) */
    int ih, iw, ic, oh, ow, oc;
} axmul__layer;

struct axmul_model {
    char name[128];
    int in_h, in_w, in_c;
    int nl;
    axmul__layer *L;
};

/* Resolves every layer's shapes from the input shape; checks tensors against them. name is
 * used in error details (the model.json path). */
axmul_status axmul__model_resolve(axmul_model *m, const char *name);

/* The convolution descriptor of a conv or dense layer (dense: 1x1 kernel, VALID, one group) on
 * n images of h x w x c; every other field at its axmul_conv_desc_init default. */
void axmul__layer_conv_desc(const axmul__layer *l, int n, int h, int w, int c, axmul_conv_desc *d);

/* Largest activation (h*w*c) in the network, input included. */
size_t axmul__model_max_act(const axmul_model *m);

/* Float convolution (im2col + SGEMM) of n images: x (n, ih, iw, ic) -> y (n, oh, ow, oc), with
 * bias. col is scratch of at least oh*ow*kh*kw*ic/groups floats. */
void axmul__conv_float(const axmul__layer *l, const float *x, int n, float *y, float *col);

/* im2col of one image for a conv layer (zero padding), the input channels of group g. */
void axmul__im2col(const axmul__layer *l, const float *x, float *col, int g);

/* The top and left padding of a conv layer (SAME: TensorFlow's split, the odd pixel at the
 * bottom/right). */
void axmul__layer_pads(const axmul__layer *l, int *pt, int *pl);

/* Average or max pooling (valid) of n images on nt threads: each output is its taps combined in
 * row-major order from 0 (then divided by their count) or -inf, whatever nt. */
void axmul__pool(const axmul__layer *l, const float *x, int n, float *y, int nt);

/* Adds the bias (units floats) to each of rows rows of units outputs, on nt threads. */
void axmul__add_bias(float *y, size_t rows, int units, const float *bias, int nt);

/* Global average or max pooling of n images: (h, w, c) -> c; the mean sums in pixel order. */
void axmul__global_pool(const axmul__layer *l, const float *x, int n, float *y);

/* The table that layer i multiplies with under (table, approx, layer_tables), the selection of
 * axmul_net_options and axmul_train_options: its own layer_tables entry, else table where
 * approx selects the layer's kind (conv2d/dense), else NULL (a float layer). */
const axmul_table *axmul__layer_table(const axmul_model *m, int i, const axmul_table *table,
                                      int approx, const axmul_table *const *layer_tables);

/* ERR_INVALID_ARGUMENT naming the first layer that layer_tables gives a table but that is not a
 * conv2d or dense layer; AXMUL_OK otherwise (layer_tables NULL too). */
axmul_status axmul__check_layer_tables(const axmul_model *m,
                                       const axmul_table *const *layer_tables);

/* Training internals, for tests: the mean softmax cross-entropy of n images (labels) and its
 * gradients with respect to each conv2d/dense layer's weights and bias (wg[i], bg[i]: nw and
 * units floats for those layers, NULL elsewhere), with o's approximation-aware settings. */
axmul_status axmul__model_gradients(axmul_model *m, const axmul_train_options *o, const float *x,
                                    const uint8_t *labels, int n, double *loss, float **wg,
                                    float **bg);

#endif
