/* axmul: datasets (IDX), small CNN models (model.json + .npy), inference with approximate layers,
 * calibration and float training. */
#ifndef AXMUL_NET_H
#define AXMUL_NET_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_conv.h"
#include "axmul_npy.h"
#include "axmul_status.h"
#include "axmul_table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- datasets */

/* Images (uint8, n x rows x cols x channels, channels last) with their labels (0..255). */
typedef struct axmul_dataset axmul_dataset;

/* Loads a labelled image set from two IDX files (gzip-compressed or plain, detected from the
 * content): an unsigned-byte 3-dimensional image file (magic 0x00000803) and a 1-dimensional
 * label file (0x00000801) with the same count. Magic numbers, dimensions and lengths are
 * validated; every error names the file. */
AXMUL_API axmul_status axmul_dataset_load_idx(const char *images_path, const char *labels_path,
                                              axmul_dataset **out);

/* The same from two in-memory IDX images (gzip or plain); error details name "<images>" and
 * "<labels>". */
AXMUL_API axmul_status axmul_dataset_parse_idx(const void *images, size_t images_len,
                                               const void *labels, size_t labels_len,
                                               axmul_dataset **out);

/* Loads a labelled image set from two .npy files: uint8 images of shape (N, H, W) (one channel)
 * or (N, H, W, C), and N labels of shape (N,) or (N, 1), of any numeric dtype holding whole
 * numbers 0..255 (Keras' load_data() arrays, saved with np.save, load as they are). Every error
 * names the file. */
AXMUL_API axmul_status axmul_dataset_load_npy(const char *images_path, const char *labels_path,
                                              axmul_dataset **out);

/* Loads a named dataset: "fashion-mnist" (Debian's dataset-fashion-mnist, in
 * /usr/share/datasets/fashion-mnist), "fashion-mnist:DIR" or "mnist:DIR" (the usual
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] names), or "npy:DIR" (DIR/x_train.npy and
 * DIR/y_train.npy, DIR/x_test.npy and DIR/y_test.npy, read by axmul_dataset_load_npy). train
 * selects the training split, else the test split. */
AXMUL_API axmul_status axmul_dataset_load(const char *spec, int train, axmul_dataset **out);

/* Releases a data set; NULL is a no-op. */
AXMUL_API void axmul_dataset_free(axmul_dataset *d);
AXMUL_API size_t axmul_dataset_count(const axmul_dataset *d);
AXMUL_API int axmul_dataset_rows(const axmul_dataset *d);
AXMUL_API int axmul_dataset_cols(const axmul_dataset *d);
AXMUL_API int axmul_dataset_channels(const axmul_dataset *d); /* 1 for IDX files */
/* count * rows * cols * channels bytes, channels last (NHWC) */
AXMUL_API const uint8_t *axmul_dataset_images(const axmul_dataset *d);
AXMUL_API const uint8_t *axmul_dataset_labels(const axmul_dataset *d); /* count bytes */

/* ---------------------------------------------------------------- models */

typedef struct axmul_model axmul_model;

/* Most layers a model may have (axmul_model_load refuses more). */
#define AXMUL_MODEL_MAX_LAYERS 1000

/* Loads a model directory: model.json (doc/models.md) and the .npy tensors it names. Unknown
 * layer types, missing or mistyped fields, tensors whose shape does not match the layer, and
 * shapes that do not chain are errors naming model.json or the .npy file.
 * Or an ONNX model: a file whose name ends in .onnx (opsets 7 to 18, the operators of
 * doc/models.md; weights inside the file), whose layers are the graph's nodes; unsupported
 * operators and attributes, external data and malformed protobuf are errors naming the file,
 * and the node and operator. ERR_NOT_BUILT for a .onnx file where the library was built
 * without ONNX import. */
AXMUL_API axmul_status axmul_model_load(const char *dir, axmul_model **out);

/* Writes the model (model.json and its .npy files) into dir, creating dir if needed; each file
 * is written atomically. An ONNX model is written as one .onnx file at dir (a file path): the
 * model read, with its calibrated ranges in the metadata (axmul:range:NODE). */
AXMUL_API axmul_status axmul_model_save(const axmul_model *m, const char *dir);

AXMUL_API void axmul_model_free(axmul_model *m);

/* The LeNet-5 of the project: Conv2D(6, 3x3) ReLU, AvgPool 2, Conv2D(16, 3x3) ReLU, Flatten,
 * Dense(120) ReLU, Dense(84) ReLU, Dense(10), Softmax, for 28x28x1 inputs, with Glorot-uniform
 * weights from seed and zero biases. */
AXMUL_API axmul_status axmul_model_create_lenet5(uint64_t seed, axmul_model **out);

AXMUL_API int axmul_model_num_layers(const axmul_model *m);
/* Type of layer i: "conv2d", "dense", "avgpool", "maxpool", "globalavgpool", "globalmaxpool",
 * "batchnorm", "relu", "relu6", "flatten", "softmax", "add"; for ONNX models the node's op
 * ("Conv", "Gemm", ...). */
AXMUL_API const char *axmul_model_layer_type(const axmul_model *m, int i);
AXMUL_API const char *axmul_model_layer_name(const axmul_model *m, int i);
/* Input shape (height, width, channels); 0, 0, 0 for an ONNX model whose input is not one
 * image batch (N, C, H, W) of fixed C, H and W (axmul_model_run runs those). */
AXMUL_API void axmul_model_input_shape(const axmul_model *m, int *h, int *w, int *c);
/* Output elements per image of layer i, and their shape (h, w, c; 1, 1, n after flatten; an
 * ONNX node's first output for one image: (1, C, H, W) gives H, W, C, other shapes 1, 1 and
 * their elements). */
AXMUL_API size_t axmul_model_layer_output_size(const axmul_model *m, int i);
AXMUL_API void axmul_model_layer_output_shape(const axmul_model *m, int i, int *h, int *w, int *c);
/* Number of classes (size of the last layer's output). */
AXMUL_API int axmul_model_classes(const axmul_model *m);
/* 1 when every conv2d/dense layer has a calibrated input range (ONNX: every node that may read
 * a table has calibrated ranges, or its model's own quantization, QDQ). */
AXMUL_API int axmul_model_calibrated(const axmul_model *m);

/* Which layers read the multiplier table. */
typedef enum axmul_approx {
    AXMUL_APPROX_CONV = 1,  /* conv2d layers (TFApprox's choice); ONNX Conv, ConvInteger,
                               QLinearConv */
    AXMUL_APPROX_DENSE = 2, /* dense layers; ONNX Gemm, and MatMul by a constant */
    AXMUL_APPROX_ALL = 3,   /* conv and dense */
    /* ONNX MatMul between two activations (attention's Q.K^T and P.V): both operands
     * quantized per tensor from their calibrated (or per-batch) ranges */
    AXMUL_APPROX_MATMUL = 4
} axmul_approx;

/* The kind of table-reading layer that layer i is (one axmul_approx bit), or 0 for a layer
 * without weights. */
AXMUL_API int axmul_model_layer_approx(const axmul_model *m, int i);

/* 1 for a model read from an ONNX file. */
AXMUL_API int axmul_model_is_onnx(const axmul_model *m);

/* An ONNX image model as a new model of layer kinds (what model folders hold; freed with
 * axmul_model_free): for training (axmul_model_train) and axmul_model_save into a folder. A graph
 * of Conv, Gemm or MatMul by a constant, BatchNormalization, MaxPool/AveragePool without padding,
 * GlobalAveragePool/GlobalMaxPool, Relu, Clip(0, 6), Add of two activations, Flatten and a last
 * Softmax converts (Identity, Dropout and zero Pads are dropped); weights are reordered to the
 * layer model's HWIO and (in, out), a flattened C x H x W map's next dense layer to its H, W, C
 * order, and calibrated ranges go along. ERR_UNSUPPORTED naming the first node that has no
 * counterpart (attention, for one); ERR_INVALID_ARGUMENT for a model of layers. */
AXMUL_API axmul_status axmul_model_to_layers(const axmul_model *m, axmul_model **out);

/* The model's inputs and outputs, and their names (model.json models: one each, "input" and
 * "output"). */
AXMUL_API int axmul_model_num_inputs(const axmul_model *m);
AXMUL_API int axmul_model_num_outputs(const axmul_model *m);
AXMUL_API const char *axmul_model_input_name(const axmul_model *m, int k);
AXMUL_API const char *axmul_model_output_name(const axmul_model *m, int k);

/* Reusable scratch memory for axmul_model_predict: with one, a loop over batches allocates (and
 * page-faults) its activation buffers once instead of once per batch. Not thread-safe: one
 * workspace per concurrent caller. */
typedef struct axmul_net_workspace axmul_net_workspace;
AXMUL_API axmul_status axmul_net_workspace_create(axmul_net_workspace **out);
AXMUL_API void axmul_net_workspace_free(axmul_net_workspace *w);

typedef struct axmul_net_options {
    const axmul_table *table; /* NULL: plain float network, no quantization */
    int approx;               /* axmul_approx bits: layers that are quantized and use the table */
    int batch_ranges;         /* 1: activation ranges from each batch's min/max (TFApprox) */
    int per_channel;          /* per-output-channel weight ranges */
    axmul_backend backend;
    int threads;
    /* Optional: called with every conv2d/dense layer's output (before its activation layer)
     * for the n images of the batch (ONNX: every node that may read a table, its output in
     * the runtime's layout: NHWC for convolutions). */
    void (*layer_output)(void *ctx, int layer, const float *out, size_t count);
    void *ctx;
    /* Optional: 256-bin histograms of the quantized activation and weight codes of each
     * approximated layer, accumulated (indexed by layer; arrays of num_layers x 256). */
    uint64_t *act_hist, *wt_hist;
    axmul_net_workspace *workspace; /* optional */
    /* Optional per-layer tables (layer-wise assignment, as TFApprox's one table per layer):
     * axmul_model_num_layers entries, indexed as axmul_model_layer_type. A non-NULL entry is
     * the table of that conv2d or dense layer, which is then quantized and reads it whatever
     * table and approx say; layers with a NULL entry follow table and approx. So table = NULL
     * with one entry set approximates that layer alone and keeps the float network elsewhere.
     * Each layer quantizes its operands as its own table's signedness says. An entry for
     * another kind of layer is ERR_INVALID_ARGUMENT. Not copied: must outlive the call. */
    const axmul_table *const *layer_tables;
} axmul_net_options;

AXMUL_API void axmul_net_options_init(axmul_net_options *o);

/* Runs n images (pixels scaled to [0, 1] as the model's input, n x H x W x C floats) through
 * the network and writes the predicted class of each image to pred (and, if scores is not NULL,
 * the last layer's n x classes outputs; ONNX: the first output's). An ONNX model runs one call
 * at a time (concurrent calls on one model wait for each other: its plans hold the
 * activations); it keeps the plans of the last two input shapes until freed. */
AXMUL_API axmul_status axmul_model_predict(const axmul_model *m, const axmul_net_options *o,
                                           const float *x, int n, uint8_t *pred, float *scores);

/* One forward pass on arrays: inputs[k] for each of the model's inputs (ONNX: its shape and
 * type as the model declares them, any batch and other symbolic dims; float64 arrays are
 * converted to float32; model.json: (N, H, W, C) or (N, H, W) float32 images), into outputs[k],
 * new arrays the caller frees with axmul_npy_free (ONNX: the graph's outputs, NCHW as ONNX
 * defines them; model.json: (N, classes)). Tables as in axmul_model_predict; the Conv, Gemm and
 * MatMul nodes (o->approx) read them. Errors name the model, the node and the input. */
AXMUL_API axmul_status axmul_model_run(const axmul_model *m, const axmul_net_options *o,
                                       const axmul_npy *const *inputs, axmul_npy **outputs);

/* Sets each conv2d/dense layer's input range to the min/max of that input over the images
 * (the float network; a constant input is widened to include 0). */
AXMUL_API axmul_status axmul_model_calibrate(axmul_model *m, const float *x, int n, int batch,
                                             int threads);

/* Calibrates the network that o describes (its tables in its layers; o->batch_ranges ignored):
 * each approximated layer's input range is the min/max of its input in that network, with the
 * layers before it already calibrated so, and the other layers' ranges are the float network's.
 * For a model trained approximation-aware, whose float network is not the one that runs. One
 * pass over the images per approximated layer (stopping at it) and one of the float network. */
AXMUL_API axmul_status axmul_model_calibrate_network(axmul_model *m, const axmul_net_options *o,
                                                     const float *x, int n, int batch);

/* ---------------------------------------------------------------- training */

typedef struct axmul_train_options {
    int epochs;    /* default 10 */
    int batch;     /* default 64 */
    float lr;      /* Adam step size, default 1e-3 */
    uint64_t seed; /* shuffling; default 1 */
    int threads;
    /* Optional progress: called after every batch (done/total batches of the epoch) and at the
     * end of each epoch (done == total) with the running mean loss and accuracy. */
    void (*progress)(void *ctx, int epoch, int done, int total, double loss, double accuracy);
    void *ctx;
    /* Approximation-aware training (fine-tuning a trained model for a multiplier): the forward
     * pass of the conv2d/dense layers that table/approx/layer_tables select (as in
     * axmul_net_options; default none: float training) is the quantized LUT layer of inference
     * with per-batch input ranges (TFApprox's, and those of the network being trained) and
     * weight ranges per tensor or, per_channel, per output channel. The backward pass takes the
     * exact float layer's gradients for it (the straight-through estimator of quantization-aware
     * training: Bengio et al., arXiv:1308.3432, 2013; Jacob et al., CVPR 2018). Calibrate the
     * result with axmul_model_calibrate_network and the same tables. */
    const axmul_table *table;
    int approx;
    const axmul_table *const *layer_tables;
    int per_channel;
} axmul_train_options;

AXMUL_API void axmul_train_options_init(axmul_train_options *o);

/* Trains the model in place with Adam and softmax cross-entropy on n images x (scaled to
 * [0, 1]) with labels, in float or approximation-aware (o->table, o->layer_tables). Clears the
 * calibrated input ranges, which belong to the old weights (calibrate again). Bit-reproducible
 * for the same seed, thread count and machine. Every layer type trains, graphs included (the
 * gradients that reach a layer's output are summed); batchnorm is frozen (its inference scale
 * and offset are not trained); conv2d/dense layers without a bias get a zero bias that trains.
 * ONNX models train as their layer models (axmul_model_to_layers; ERR_UNSUPPORTED for the
 * ONNX model itself). A softmax must be the last layer (ERR_UNSUPPORTED otherwise); the loss is the
 * cross-entropy of the softmax of the last layer's input, or of the output where the last layer is
 * not a softmax. */
AXMUL_API axmul_status axmul_model_train(axmul_model *m, const float *x, const uint8_t *labels,
                                         int n, const axmul_train_options *o);

#ifdef __cplusplus
}
#endif
#endif
