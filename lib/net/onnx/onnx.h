/* axmul: ONNX models (lib/net/onnx): the graph read from a .onnx file (load.c), tensors
 * (tensor.c), the operators, one registry with a row per op type (AXMUL__ONNX_OPS, kernels in
 * ops_*.c), and the runtime that resolves shapes for the inputs given, folds what is constant
 * and runs the rest (run.c). An ONNX model is an axmul_model whose layers are the graph's
 * nodes (lib/net/model.c dispatches); Conv, Gemm and MatMul run through the engine's LUT layers
 * where a table is given. */
#ifndef AXMUL_NET_ONNX_ONNX_H
#define AXMUL_NET_ONNX_ONNX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "axmul_net.h"
#include "axmul_status.h"

#define AXMUL__ONNX_MAX_RANK 8

/* Element types, with ONNX's TensorProto codes. */
typedef enum {
    AXMUL__DT_FLOAT = 1,
    AXMUL__DT_UINT8 = 2,
    AXMUL__DT_INT8 = 3,
    AXMUL__DT_INT32 = 6,
    AXMUL__DT_INT64 = 7,
    AXMUL__DT_BOOL = 9
} axmul__dtype;

typedef struct {
    int rank;
    int64_t d[AXMUL__ONNX_MAX_RANK];
} axmul__shape;

/* A tensor: its logical (ONNX) shape, and its data. nhwc: a rank-4 float tensor whose logical
 * shape is (N, C, H, W) stored in N, H, W, C order, the layout of the engine's convolutions,
 * kept between the operators that take it (run.c converts where an operator needs the plain
 * layout). */
typedef struct {
    axmul__dtype dt;
    axmul__shape sh;
    int nhwc;
    void *data;
    int owned; /* data is freed with the tensor */
} axmul__tensor;

/* An attribute of a node. */
typedef struct {
    char *name;
    int type; /* ONNX's AttributeProto type: 1 float, 2 int, 3 string, 4 tensor, 6 floats, 7 ints */
    float f;
    int64_t i;
    char *s;
    size_t nfloats, nints;
    float *floats;
    int64_t *ints;
    axmul__tensor *t;
} axmul__attr;

typedef struct {
    char *name; /* the node's name, or OP_INDEX for an unnamed node */
    char *op;
    int kind; /* index of op in AXMUL__ONNX_OPS */
    int nin, nout;
    int *in, *out; /* value indices; -1 for an omitted optional input */
    int nattr;
    axmul__attr *attr;
    int approx; /* AXMUL_APPROX_CONV, DENSE or MATMUL for a node that may read a table, else 0 */
    int has_range[2];
    axmul_range range[2]; /* calibrated ranges of the table's two operands (A, and B of a MatMul
                             between activations) */
} axmul__node;

typedef struct {
    char *name;
    axmul__tensor *init; /* an initializer (constant), or NULL */
    int is_input;        /* a graph input that is not an initializer */
    axmul__dtype dt;
    axmul__shape decl; /* declared shape; dims < 0 are symbolic (dim_param) or unknown */
    int decl_known;
    int producer; /* node index, -1 for inputs and initializers */
} axmul__value;

typedef struct axmul__onnx_run axmul__onnx_run;

struct axmul__onnx {
    char *path;
    int opset; /* of the default domain */
    int nvalues;
    axmul__value *v;
    int nnodes;
    axmul__node *nodes; /* in topological order */
    int ninputs, noutputs;
    int *inputs, *outputs;  /* value indices of the graph's (non-initializer) inputs, outputs */
    void *proto;            /* the parsed ModelProto, for writing the model back (save.c) */
    axmul__onnx_run *cache; /* the plans for the last input shapes (plan.c) */
    pthread_mutex_t lock;   /* one run at a time: the plans hold the activations */
};
typedef struct axmul__onnx axmul__onnx;

/* ---------------------------------------------------------------- the operators */

/* What a kernel sees: the model, its node, the run's options (NULL while constants are folded)
 * and the table this node multiplies with (NULL: float). */
typedef struct {
    const axmul__onnx *g;
    const axmul__node *node;
    int index; /* the node's */
    const axmul_net_options *o;
    const axmul_table *table;
    int nt;            /* threads of the float kernels, >= 1 */
    unsigned in_const; /* bit k: input k is a constant of the plan (initializer or folded) */
    /* The model's own quantization of the table's operands: the range of operand k (0: the
     * activation, 1: the weights or the second activation) where it comes from a
     * DequantizeLinear with constant parameters (a QDQ model), else NULL; per_channel ranges of
     * the weights (one per output channel) of a per-axis DequantizeLinear, else NULL. */
    const axmul_range *qdq[2];
    const axmul_range *qdq_channels;
    /* Gemm: input 0 holds flattened NHWC images of (C, H, W) = a_hwc, the weights' rows to be
     * read in that order; NULL: the plain order */
    const int *a_hwc;
    /* The step's own state across runs of the same plan (a kernel's prepared weights), freed
     * with free() with the plan; and its scratch memory (axmul__onnx_scratch). */
    void **state;
    void **scratch;
    size_t *scratch_size;
} axmul__onnx_ctx;

/* How an operator takes rank-4 float tensors in the NHWC layout: */
enum {
    AXMUL__LAYOUT_PLAIN, /* only in the plain (row-major) layout: run.c converts first */
    AXMUL__LAYOUT_NHWC,  /* input 0 in NHWC (spatial operators): run.c converts a plain one */
    AXMUL__LAYOUT_ANY    /* either: the kernel reads each tensor's layout */
};

/* An operator: its output shapes and types from its inputs' (with the data of constant inputs;
 * out[k].sh, dt and nhwc to fill), then its outputs' data (allocated by the caller). */
typedef struct {
    const char *name;
    int layout;
    axmul_status (*shape)(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                          axmul__tensor *out);
    axmul_status (*run)(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                        axmul__tensor *out);
} axmul__onnx_op;

#define AXMUL__ONNX_OPS(X)                                                                         \
    X(Conv)                                                                                        \
    X(ConvInteger)                                                                                 \
    X(QLinearConv)                                                                                 \
    X(Gemm)                                                                                        \
    X(MatMul)                                                                                      \
    X(MatMulInteger)                                                                               \
    X(MaxPool)                                                                                     \
    X(AveragePool)                                                                                 \
    X(GlobalAveragePool)                                                                           \
    X(GlobalMaxPool)                                                                               \
    X(BatchNormalization)                                                                          \
    X(LayerNormalization)                                                                          \
    X(Softmax)                                                                                     \
    X(ReduceMean)                                                                                  \
    X(ReduceSum)                                                                                   \
    X(ReduceMax)                                                                                   \
    X(ReduceMin)                                                                                   \
    X(ReduceProd)                                                                                  \
    X(ReduceL1)                                                                                    \
    X(ReduceL2)                                                                                    \
    X(ReduceSumSquare)                                                                             \
    X(ReduceLogSum)                                                                                \
    X(ReduceLogSumExp)                                                                             \
    X(ArgMax)                                                                                      \
    X(ArgMin)                                                                                      \
    X(LogSoftmax)                                                                                  \
    X(Add)                                                                                         \
    X(Sub)                                                                                         \
    X(Mul)                                                                                         \
    X(Div)                                                                                         \
    X(Pow)                                                                                         \
    X(Min)                                                                                         \
    X(Max)                                                                                         \
    X(Equal)                                                                                       \
    X(Less)                                                                                        \
    X(Greater)                                                                                     \
    X(Not)                                                                                         \
    X(Where)                                                                                       \
    X(Mod)                                                                                         \
    X(And)                                                                                         \
    X(Or)                                                                                          \
    X(Xor)                                                                                         \
    X(Sum)                                                                                         \
    X(Mean)                                                                                        \
    X(PRelu)                                                                                       \
    X(Relu)                                                                                        \
    X(LeakyRelu)                                                                                   \
    X(Sigmoid)                                                                                     \
    X(HardSigmoid)                                                                                 \
    X(HardSwish)                                                                                   \
    X(Tanh)                                                                                        \
    X(Erf)                                                                                         \
    X(Gelu)                                                                                        \
    X(Sqrt)                                                                                        \
    X(Exp)                                                                                         \
    X(Neg)                                                                                         \
    X(Abs)                                                                                         \
    X(Reciprocal)                                                                                  \
    X(Floor)                                                                                       \
    X(Ceil)                                                                                        \
    X(Round)                                                                                       \
    X(Sign)                                                                                        \
    X(Log)                                                                                         \
    X(Sin)                                                                                         \
    X(Cos)                                                                                         \
    X(Softplus)                                                                                    \
    X(Softsign)                                                                                    \
    X(Elu)                                                                                         \
    X(Selu)                                                                                        \
    X(Celu)                                                                                        \
    X(Clip)                                                                                        \
    X(Identity)                                                                                    \
    X(Dropout)                                                                                     \
    X(Cast)                                                                                        \
    X(QuantizeLinear)                                                                              \
    X(DequantizeLinear)                                                                            \
    X(Constant)                                                                                    \
    X(ConstantOfShape)                                                                             \
    X(Shape)                                                                                       \
    X(Gather)                                                                                      \
    X(Unsqueeze)                                                                                   \
    X(Squeeze)                                                                                     \
    X(Concat)                                                                                      \
    X(Reshape)                                                                                     \
    X(Flatten)                                                                                     \
    X(Transpose)                                                                                   \
    X(Expand)                                                                                      \
    X(Slice)                                                                                       \
    X(Pad)                                                                                         \
    X(Tile)                                                                                        \
    X(Split)                                                                                       \
    X(Range)                                                                                       \
    X(Size)                                                                                        \
    X(CastLike)

enum {
#define AXMUL__ONNX_OP_ENUM(op) AXMUL__OP_##op,
    AXMUL__ONNX_OPS(AXMUL__ONNX_OP_ENUM)
#undef AXMUL__ONNX_OP_ENUM
        AXMUL__OP_COUNT
};

#define AXMUL__ONNX_OP_DECL(op) extern const axmul__onnx_op axmul__onnx_##op;
AXMUL__ONNX_OPS(AXMUL__ONNX_OP_DECL)
#undef AXMUL__ONNX_OP_DECL

/* The operator called name, or -1. */
int axmul__onnx_op_kind(const char *name);
const axmul__onnx_op *axmul__onnx_op_of(int kind);
/* "Abs, Add, ...": every supported op type, for error messages. */
const char *axmul__onnx_op_names(void);

/* ---------------------------------------------------------------- tensors (tensor.c) */

size_t axmul__dt_size(axmul__dtype dt);
const char *axmul__dt_name(axmul__dtype dt);
int64_t axmul__shape_count(const axmul__shape *s);
/* "2x3x4" */
const char *axmul__shape_text(const axmul__shape *s, char *buf, size_t len);
/* Allocates t's data for its shape and type (zeroed); ERR_NOMEM/ERR_OVERFLOW naming what. */
axmul_status axmul__tensor_alloc(axmul__tensor *t, const char *what);
void axmul__tensor_release(axmul__tensor *t);
axmul__tensor *axmul__tensor_new_copy(const axmul__tensor *src);
void axmul__tensor_free(axmul__tensor *t);
/* A copy of t in the plain layout (t itself, not copied, when it is plain already or when its
 * NHWC storage equals the plain one: C == 1 or H == W == 1). *tmp receives the copy to release. */
axmul_status axmul__tensor_plain(const axmul__tensor *t, axmul__tensor *tmp,
                                 const axmul__tensor **out);
/* The same into NHWC for a rank-4 float tensor. */
axmul_status axmul__tensor_to_nhwc(const axmul__tensor *t, axmul__tensor *tmp,
                                   const axmul__tensor **out);
/* src's rank-4 data into dst's layout (dst->nhwc; the other layout than src's), dst->data
 * allocated by the caller. */
void axmul__tensor_relayout(const axmul__tensor *src, axmul__tensor *dst);
/* Whether a rank-4 tensor's two layouts are the same bytes (one channel, or one pixel). */
int axmul__tensor_layouts_coincide(const axmul__tensor *t);
/* Element k of an integer tensor (int64, int32, int8, uint8, bool) as int64. */
int64_t axmul__tensor_int(const axmul__tensor *t, int64_t k);
/* Element k of a numeric tensor as double (plain layout). */
double axmul__tensor_real(const axmul__tensor *t, int64_t k);

/* Decodes a TensorProto (raw_data or the typed fields; external data refused) into a new
 * tensor; what names it in errors (file, initializer). */
struct Onnx__TensorProto;
axmul_status axmul__onnx_tensor_decode(const struct Onnx__TensorProto *p, const char *what,
                                       axmul__tensor **out);

/* Reads a serialized TensorProto file (the backend tests' input_N.pb / output_N.pb). */
axmul_status axmul__onnx_tensor_load(const char *path, axmul__tensor **out);

/* ---------------------------------------------------------------- the model (load.c, save.c) */

/* Loads path (a .onnx file). Errors name the file, and the node and op of unsupported ops or
 * attributes. */
axmul_status axmul__onnx_load(const char *path, axmul__onnx **out);
void axmul__onnx_free(axmul__onnx *g);

/* Writes the model to path atomically with the nodes' calibrated ranges as metadata
 * (axmul:range:NODE = "min max") and the current initializers. */
axmul_status axmul__onnx_save(const axmul__onnx *g, const char *path);

/* The attribute called name of node n, or NULL. */
const axmul__attr *axmul__onnx_attr(const axmul__node *n, const char *name);
int64_t axmul__onnx_attr_int(const axmul__node *n, const char *name, int64_t dflt);
float axmul__onnx_attr_float(const axmul__node *n, const char *name, float dflt);

/* ---------------------------------------------------------------- running (run.c) */

/* Where a run ends and what it records (calibration): observe[i] (num_layers entries) receives
 * the min/max of the table operands of approximable node i (two each: [2 * i], [2 * i + 1]);
 * the run stops before node stop (stop >= nnodes: the whole graph). */
typedef struct {
    axmul_range *observe;
    int *observed;
    int stop;
} axmul__onnx_watch;

/* Runs the graph on inputs (the graph's inputs in order; shapes as given: the batch may vary)
 * with options o (tables per layer as in axmul_net_options), the outputs into out (noutputs
 * tensors, plain layout, owned by the caller). A float rank-4 input may be given in NHWC
 * (image data sets): inputs[k].nhwc. */
axmul_status axmul__onnx_forward(axmul__onnx *g, const axmul_net_options *o,
                                 const axmul__tensor *inputs, axmul__tensor *out,
                                 const axmul__onnx_watch *w);

/* The shapes of every node's first output for the given input shapes (batch included):
 * shapes[i] for node i. */
axmul_status axmul__onnx_shapes(axmul__onnx *g, const axmul__tensor *inputs, axmul__shape *shapes);

/* The range that the codes of a DequantizeLinear's input x span with its (constant) scale and
 * zero point: per tensor into *r, or per channel along axis (*channels, malloc'ed, *nch
 * entries, the caller frees). 0 when they are not constants or not codes. */
int axmul__onnx_dq_range(const axmul__tensor *x, const axmul__tensor *scale,
                         const axmul__tensor *zp, int64_t axis, axmul_range *r,
                         axmul_range **channels, int64_t *nch);

/* The image model src (g its graph) as a model of layer kinds (convert.c; the caller holds
 * g->lock): axmul_model_to_layers. */
struct axmul_model;
axmul_status axmul__ox_to_layers(const struct axmul_model *src, axmul__onnx *g,
                                 struct axmul_model **out);

/* Frees the runtime cache of g. */
void axmul__onnx_run_free(axmul__onnx_run *r);

#endif
