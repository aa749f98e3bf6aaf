/* axmul: the ONNX runtime's plan (plan.c makes it, run.c runs it): for one set of input shapes,
 * every value's shape, type and layout, the constants folded, the steps left to run per batch,
 * and the buffers they write, shared between values whose lives do not overlap. */
#ifndef AXMUL_NET_ONNX_RUNTIME_H
#define AXMUL_NET_ONNX_RUNTIME_H

#include "lib/net/onnx/onnx.h"

typedef struct {
    int node;
    int alias;   /* the output is input 0's data under another shape: nothing to run */
    int a_hwc[3]; /* Gemm whose input 0 is an NHWC batch flattened as it lies (C, H, W): its
                     weights' rows are permuted instead (a_hwc[0] > 0) */
    int inplace; /* the output may take input 0's buffer (its last reader) */
    unsigned in_const;
    void *state; /* the kernel's (axmul__onnx_ctx.state), freed with the plan */
    int has_qdq[2];
    axmul_range qdq[2];
    axmul_range *qdq_channels; /* malloc'ed, or NULL */
    void *scratch;             /* the kernel's scratch (axmul__onnx_scratch) */
    size_t scratch_size;
    void *conv[2];             /* the layout conversions of inputs 0 and 1 */
    size_t conv_size[2];
} axmul__onnx_step;

struct axmul__onnx_run {
    /* the key: the inputs' types, shapes and layouts */
    int ninputs;
    axmul__tensor *in_key;
    char *by_value; /* input k: a small integer tensor that the plan takes as a constant, its
                       values part of the key (shapes and axes fed as inputs) */
    int nvalues;
    /* per value: its header (shape, type, layout; the data of constants, owned where folded) */
    axmul__tensor *val;
    char *is_const;
    int (*hwc)[3]; /* a Flatten's output left in NHWC order, (C, H, W) of the batch flattened */
    int *buf;  /* the buffer a step's output lives in, or -1 */
    int *last; /* the last step that reads the value (INT_MAX: a graph output) */
    int nsteps;
    axmul__onnx_step *steps;
    int nbufs;
    void **bufs;
    size_t *bufsize;
    axmul__shape *node_shape; /* per node, its first output's shape */
    struct axmul__onnx_run *next; /* the previous plan (two are kept: full and last batch) */
};

/* The plan for inputs (the graph's inputs in order), from g's cache or made and cached. */
axmul_status axmul__onnx_plan(axmul__onnx *g, const axmul__tensor *inputs, axmul__onnx_run **out);

/* The ctx of step k of r for options o (NULL: folding) and table t. */
void axmul__onnx_step_ctx(const axmul__onnx *g, axmul__onnx_run *r, axmul__onnx_step *st,
                          const axmul_net_options *o, const axmul_table *t, axmul__onnx_ctx *c);

/* The table node i multiplies with under o (its layer_tables entry, else o->table where
 * o->approx selects the node's kind), or NULL. */
const axmul_table *axmul__onnx_node_table(const axmul__onnx *g, int i, const axmul_net_options *o);

/* Converts the inputs of node n for its operator's layout: conv[k] receives the tensor to pass
 * (in[k] itself, a view, or a conversion held in tmp[k], released by the caller). With st, the
 * conversions of inputs 0 and 1 go into the step's buffers (kept across runs). */
axmul_status axmul__onnx_convert_inputs(const axmul__onnx *g, const axmul__node *n,
                                        axmul__onnx_step *st, const axmul__tensor *const *in,
                                        axmul__tensor *tmp, const axmul__tensor **conv);

#endif
