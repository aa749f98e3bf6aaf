/* axmul: planning an ONNX graph for one set of input shapes (lib/net/onnx/runtime.h): the shape,
 * type and layout of every value, node by node through each operator's shape function; constant
 * folding (nodes whose inputs are all constants, and Shape, whose output is known once the
 * shapes are: the shape computations of exported models run once, here); the QDQ ranges of the
 * LUT layers' operands; and buffers for the steps left, shared by values whose lives do not
 * overlap, allocated once per plan. g keeps the last two plans (a loop over batches has its full
 * batches and a last one). */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/onnx/ops.h"
#include "lib/net/onnx/runtime.h"

void axmul__onnx_run_free(axmul__onnx_run *r)
{
    while (r) {
        axmul__onnx_run *next = r->next;
        for (int i = 0; r->val && r->is_const && i < r->nvalues; i++)
            if (r->is_const[i] && r->val[i].owned)
                free(r->val[i].data);
        for (int s = 0; s < r->nsteps; s++) {
            free(r->steps[s].state);
            free(r->steps[s].qdq_channels);
            free(r->steps[s].scratch);
            free(r->steps[s].conv[0]);
            free(r->steps[s].conv[1]);
        }
        for (int b = 0; b < r->nbufs; b++)
            free(r->bufs[b]);
        free(r->bufs);
        free(r->bufsize);
        free(r->steps);
        free(r->val);
        free(r->is_const);
        free(r->buf);
        free(r->last);
        free(r->node_shape);
        free(r->hwc);
        for (int k = 0; r->in_key && r->by_value && k < r->ninputs; k++)
            if (r->by_value[k])
                free(r->in_key[k].data);
        free(r->by_value);
        free(r->in_key);
        free(r);
        r = next;
    }
}

const axmul_table *axmul__onnx_node_table(const axmul__onnx *g, int i, const axmul_net_options *o)
{
    const axmul__node *n = &g->nodes[i];
    if (!n->approx || !o)
        return NULL;
    if (o->layer_tables && o->layer_tables[i])
        return o->layer_tables[i];
    return (o->approx & n->approx) ? o->table : NULL;
}

void axmul__onnx_step_ctx(const axmul__onnx *g, axmul__onnx_run *r, axmul__onnx_step *st,
                          const axmul_net_options *o, const axmul_table *t, axmul__onnx_ctx *c)
{
    (void)r;
    memset(c, 0, sizeof *c);
    c->g = g;
    c->node = &g->nodes[st->node];
    c->index = st->node;
    c->o = o;
    c->table = t;
    c->nt = o && o->threads > 0 ? o->threads : 1;
    c->in_const = st->in_const;
    for (int k = 0; k < 2; k++)
        c->qdq[k] = st->has_qdq[k] ? &st->qdq[k] : NULL;
    c->qdq_channels = st->qdq_channels;
    c->a_hwc = st->a_hwc[0] > 0 ? st->a_hwc : NULL;
    c->state = &st->state;
    c->scratch = &st->scratch;
    c->scratch_size = &st->scratch_size;
}

axmul_status axmul__onnx_convert_inputs(const axmul__onnx *g, const axmul__node *n,
                                        axmul__onnx_step *st, const axmul__tensor *const *in,
                                        axmul__tensor *tmp, const axmul__tensor **conv)
{
    const int layout = axmul__onnx_op_of(n->kind)->layout;
    (void)g;
    for (int k = 0; k < n->nin; k++) {
        const axmul__tensor *t = in[k];
        memset(&tmp[k], 0, sizeof tmp[k]);
        conv[k] = t;
        if (!t || layout == AXMUL__LAYOUT_ANY)
            continue;
        const int want_nhwc = layout == AXMUL__LAYOUT_NHWC && k == 0 && t->sh.rank == 4 &&
                              t->dt == AXMUL__DT_FLOAT;
        if (want_nhwc == (t->nhwc && t->sh.rank == 4))
            continue;
        if (!t->data) { /* planning: the header only */
            tmp[k] = *t;
            tmp[k].nhwc = want_nhwc;
            conv[k] = &tmp[k];
            continue;
        }
        if (st && k < 2 && !axmul__tensor_layouts_coincide(t)) { /* into the step's buffer */
            const size_t need = (size_t)axmul__shape_count(&t->sh) * axmul__dt_size(t->dt);
            if (st->conv_size[k] < need) {
                free(st->conv[k]);
                st->conv[k] = malloc(need ? need : 1);
                st->conv_size[k] = st->conv[k] ? need : 0;
                if (!st->conv[k])
                    return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
            }
            tmp[k] = *t;
            tmp[k].nhwc = want_nhwc;
            tmp[k].data = st->conv[k];
            tmp[k].owned = 0;
            axmul__tensor_relayout(t, &tmp[k]);
            conv[k] = &tmp[k];
            continue;
        }
        axmul_status s = want_nhwc ? axmul__tensor_to_nhwc(t, &tmp[k], &conv[k])
                                   : axmul__tensor_plain(t, &tmp[k], &conv[k]);
        if (s != AXMUL_OK)
            return s;
    }
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- QDQ */

/* The model's range of operand k of approximable node i where its producer is a
 * DequantizeLinear with constant scale and zero point: per tensor, or (the weights, k = 1) per
 * output channel when the axis is the output channels'. */
static void qdq_ranges(const axmul__onnx *g, axmul__onnx_run *r, axmul__onnx_step *st)
{
    const axmul__node *n = &g->nodes[st->node];
    for (int k = 0; k < 2 && k < n->nin; k++) {
        const int v = n->in[k];
        const int p = v >= 0 ? g->v[v].producer : -1;
        if (p < 0 || g->nodes[p].kind != AXMUL__OP_DequantizeLinear || g->nodes[p].nin < 2)
            continue;
        const axmul__node *dq = &g->nodes[p];
        const int xs = dq->in[0], ss = dq->in[1], zs = dq->nin > 2 ? dq->in[2] : -1;
        if (ss < 0 || !r->is_const[ss] || (zs >= 0 && !r->is_const[zs]))
            continue;
        int64_t axis = axmul__onnx_attr_int(dq, "axis", 1), nch;
        axmul_range *ch = NULL;
        if (!axmul__onnx_dq_range(&r->val[xs], &r->val[ss], zs >= 0 ? &r->val[zs] : NULL, axis,
                                  &st->qdq[k], &ch, &nch))
            continue;
        if (!ch) {
            st->has_qdq[k] = 1;
            continue;
        }
        /* per channel: the weights' output channels only */
        const int rank = r->val[xs].sh.rank;
        axis = axis < 0 ? axis + rank : axis;
        int ok = k == 1 && n->approx != AXMUL_APPROX_MATMUL;
        if (n->kind == AXMUL__OP_Conv)
            ok = ok && axis == 0;
        else if (n->kind == AXMUL__OP_Gemm)
            ok = ok && axis == (axmul__onnx_attr_int(n, "transB", 0) ? 0 : 1);
        else
            ok = ok && rank == 2 && axis == 1;
        if (ok)
            st->qdq_channels = ch;
        else
            free(ch);
    }
}

/* ---------------------------------------------------------------- aliases, in place */

/* Whether node n's output is its input 0's data, under another shape for the reshaping ones
 * (whose input must then be in the plain layout), the input a step's output: the output shares
 * its buffer and nothing runs. */
static int alias_step(const axmul__onnx *g, const axmul__onnx_run *r, const axmul__node *n,
                      const axmul__tensor *x)
{
    const int u = n->nin > 0 ? n->in[0] : -1;
    if (u < 0 || r->is_const[u] || g->v[u].producer < 0 || n->out[0] < 0)
        return 0;
    switch (n->kind) {
    case AXMUL__OP_Flatten: /* (the plain order: from an NHWC input, a transposing step) */
    case AXMUL__OP_Reshape:
    case AXMUL__OP_Squeeze:
    case AXMUL__OP_Unsqueeze:
        return !(x->nhwc && x->sh.rank == 4 && !axmul__tensor_layouts_coincide(x));
    case AXMUL__OP_Identity: /* (the input's layout kept) */
        return 1;
    case AXMUL__OP_Dropout:
        return n->nout < 2 || n->out[1] < 0;
    case AXMUL__OP_Pad: { /* zero pads (before pooling, as exporters write them) */
        size_t cnt = 0;
        const int64_t *p = NULL;
        if (g->opset < 11)
            p = axmul__onnx_attr_ints(n, "pads", &cnt);
        else if (n->nin > 1 && n->in[1] >= 0 && r->is_const[n->in[1]]) {
            p = r->val[n->in[1]].data;
            cnt = (size_t)axmul__shape_count(&r->val[n->in[1]].sh);
            if (r->val[n->in[1]].dt != AXMUL__DT_INT64)
                return 0;
        }
        for (size_t k = 0; p && k < cnt; k++)
            if (p[k])
                return 0;
        return p != NULL;
    }
    default:
        return 0;
    }
}

/* Whether a Flatten of an NHWC batch x can leave its output in NHWC order: every reader of it is
 * a Gemm taking it as A (not transposed) with constant weights, whose rows the plan permutes
 * to match (one transposing pass per batch fewer: a CNN's flatten before its dense layers). */
static int flatten_fusable(const axmul__onnx *g, const axmul__node *n, const axmul__tensor *x)
{
    const int f = n->out[0];
    if (n->kind != AXMUL__OP_Flatten || !x->nhwc || x->sh.rank != 4 ||
        axmul__tensor_layouts_coincide(x) || f < 0 ||
        (axmul__onnx_attr_int(n, "axis", 1) != 1 && axmul__onnx_attr_int(n, "axis", 1) != -3))
        return 0;
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == f)
            return 0;
    int readers = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const axmul__node *m = &g->nodes[i];
        for (int k = 0; k < m->nin; k++)
            if (m->in[k] == f) {
                if (m->kind != AXMUL__OP_Gemm || k != 0 || axmul__onnx_attr_int(m, "transA", 0) ||
                    m->nin < 2 || m->in[1] < 0 || !g->v[m->in[1]].init)
                    return 0;
                readers++;
            }
    }
    return readers > 0;
}

/* Whether node n may write its output over its input 0 (elementwise, the same shape, type and
 * layout); the buffers decide whether it does. */
static int inplace_step(const axmul__node *n, const axmul__tensor *x, const axmul__tensor *y)
{
    if (n->nin < 1 || n->in[0] < 0 || x->dt != y->dt || x->nhwc != y->nhwc ||
        x->sh.rank != y->sh.rank || memcmp(x->sh.d, y->sh.d, sizeof x->sh.d[0] * (size_t)x->sh.rank))
        return 0;
    switch (n->kind) {
    case AXMUL__OP_Add:
    case AXMUL__OP_Sub:
    case AXMUL__OP_Mul:
    case AXMUL__OP_Div:
    case AXMUL__OP_Relu:
    case AXMUL__OP_LeakyRelu:
    case AXMUL__OP_Sigmoid:
    case AXMUL__OP_HardSigmoid:
    case AXMUL__OP_HardSwish:
    case AXMUL__OP_Tanh:
    case AXMUL__OP_Erf:
    case AXMUL__OP_Gelu:
    case AXMUL__OP_Sqrt:
    case AXMUL__OP_Exp:
    case AXMUL__OP_Neg:
    case AXMUL__OP_Abs:
    case AXMUL__OP_Clip:
    case AXMUL__OP_BatchNormalization:
        return 1;
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------- buffers */

/* Assigns each step output a buffer whose previous value is no longer read, the smallest that
 * fits (else the largest free one, grown; else a new one), and allocates them. */
static axmul_status assign_buffers(const axmul__onnx *g, axmul__onnx_run *r)
{
    const int nv = g->nvalues;
    int cap = 0;
    int *free_after = NULL;
    for (int v = 0; v < nv; v++)
        r->last[v] = -1;
    for (int s = 0; s < r->nsteps; s++) {
        const axmul__node *n = &g->nodes[r->steps[s].node];
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && !r->is_const[n->in[k]])
                r->last[n->in[k]] = s;
    }
    for (int k = 0; k < g->noutputs; k++)
        r->last[g->outputs[k]] = INT_MAX;
    for (int s = 0; s < r->nsteps; s++) {
        const axmul__node *n = &g->nodes[r->steps[s].node];
        const int u = n->nin > 0 ? n->in[0] : -1;
        /* input 0's buffer: shared by an alias, or taken over where nothing reads it after */
        if (u >= 0 && r->buf[u] >= 0 &&
            (r->steps[s].alias || (r->steps[s].inplace && free_after[r->buf[u]] == s))) {
            const int v = n->out[0], b = r->buf[u];
            r->buf[v] = b;
            if (r->last[v] > free_after[b])
                free_after[b] = r->last[v];
            if (s > free_after[b])
                free_after[b] = s;
            continue; /* (these operators have one output) */
        }
        for (int k = 0; k < n->nout; k++) {
            const int v = n->out[k];
            if (v < 0)
                continue;
            const size_t need =
                (size_t)axmul__shape_count(&r->val[v].sh) * axmul__dt_size(r->val[v].dt) + 64;
            int best = -1, big = -1;
            for (int b = 0; b < r->nbufs; b++) {
                if (free_after[b] >= s)
                    continue;
                if (r->bufsize[b] >= need && (best < 0 || r->bufsize[b] < r->bufsize[best]))
                    best = b;
                if (big < 0 || r->bufsize[b] > r->bufsize[big])
                    big = b;
            }
            if (best < 0 && big >= 0) {
                best = big;
                r->bufsize[big] = need;
            }
            if (best < 0) {
                if (r->nbufs == cap) {
                    cap = cap ? 2 * cap : 16;
                    size_t *ns = realloc(r->bufsize, sizeof *ns * (size_t)cap);
                    if (ns)
                        r->bufsize = ns;
                    int *nf = realloc(free_after, sizeof *nf * (size_t)cap);
                    if (nf)
                        free_after = nf;
                    if (!ns || !nf) {
                        free(free_after);
                        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
                    }
                }
                best = r->nbufs++;
                r->bufsize[best] = need;
            }
            r->buf[v] = best;
            free_after[best] = r->last[v] > s ? r->last[v] : s;
        }
    }
    free(free_after);
    if (!(r->bufs = calloc((size_t)r->nbufs + 1, sizeof *r->bufs)))
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (int b = 0; b < r->nbufs; b++)
        if (!(r->bufs[b] = malloc(r->bufsize[b])))
            return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory for the activations (%zu bytes)",
                               g->path, r->bufsize[b]);
    for (int v = 0; v < nv; v++)
        if (r->buf[v] >= 0) {
            r->val[v].data = r->bufs[r->buf[v]];
            r->val[v].owned = 0;
        }
    return AXMUL_OK;
}

/* Integer and boolean inputs of at most this many elements are constants of the plan (their
 * values are part of its key): what tells a Reshape or Slice its shape when fed as an input. */
#define BY_VALUE_MAX 64

static int by_value(const axmul__tensor *t)
{
    return t->dt != AXMUL__DT_FLOAT && axmul__shape_count(&t->sh) <= BY_VALUE_MAX;
}

/* ---------------------------------------------------------------- nodes */

/* Node i: its outputs' headers from its operator's shape function; folded (run now, outputs
 * constant) when its inputs are constants, else a step. */
static axmul_status plan_node(const axmul__onnx *g, axmul__onnx_run *r, int i, int *cap)
{
    const axmul__node *n = &g->nodes[i];
    const axmul__onnx_op *op = axmul__onnx_op_of(n->kind);
    const axmul__tensor *in[64], *conv[64];
    axmul__tensor tmp[64], outs[16];
    if (n->nin > 64 || n->nout > 16)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: node %s (%s): %d inputs, %d outputs",
                           g->path, n->name, n->op, n->nin, n->nout);
    axmul__onnx_step st;
    memset(&st, 0, sizeof st);
    st.node = i;
    int fold = 1;
    for (int k = n->nin; k < 64; k++) /* (what a kernel may read beyond the node's inputs) */
        in[k] = conv[k] = NULL;
    if (n->kind != AXMUL__OP_Constant && (n->nin < 1 || n->in[0] < 0))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: node %s (%s): input 0 is missing", g->path,
                           n->name, n->op);
    for (int k = 0; k < n->nin; k++) {
        in[k] = n->in[k] >= 0 ? &r->val[n->in[k]] : NULL;
        if (in[k] && r->is_const[n->in[k]])
            st.in_const |= 1u << k;
        else if (in[k])
            fold = 0;
    }
    if (n->kind == AXMUL__OP_Shape || n->kind == AXMUL__OP_Size) /* the shape is known */
        fold = 1;
    axmul_status s = axmul__onnx_convert_inputs(g, n, NULL, in, tmp, conv);
    axmul__onnx_ctx c;
    axmul__onnx_step_ctx(g, r, &st, NULL, NULL, &c);
    c.state = NULL;
    c.scratch = NULL;
    memset(outs, 0, sizeof outs);
    if (s == AXMUL_OK)
        s = op->shape(&c, conv, outs);
    for (int k = 0; k < n->nout && s == AXMUL_OK; k++) {
        if (n->out[k] >= 0 && !outs[k].dt)
            s = axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: node %s (%s): output %d is not supported",
                            g->path, n->name, n->op, k);
        for (int d = 0; d < outs[k].sh.rank && s == AXMUL_OK; d++)
            if (outs[k].sh.d[d] < 0)
                s = axmul__fail(AXMUL_ERR_SHAPE, "%s: node %s (%s): output %d has dimension %lld",
                                g->path, n->name, n->op, k, (long long)outs[k].sh.d[d]);
        if (s == AXMUL_OK && axmul__shape_count(&outs[k].sh) > INT32_MAX)
            s = axmul__fail(AXMUL_ERR_OVERFLOW,
                            "%s: node %s (%s): output %d would have more than 2^31 elements",
                            g->path, n->name, n->op, k);
    }
    r->node_shape[i] = outs[0].sh;
    for (int k = 0; k < n->nout && s == AXMUL_OK && fold; k++)
        s = axmul__tensor_alloc(&outs[k], n->name);
    if (s == AXMUL_OK && fold)
        s = op->run(&c, conv, outs);
    for (int k = 0; k < n->nin; k++)
        axmul__tensor_release(&tmp[k]);
    for (int k = 0; k < n->nout; k++) {
        if (n->out[k] < 0 || s != AXMUL_OK) {
            axmul__tensor_release(&outs[k]);
            continue;
        }
        r->val[n->out[k]] = outs[k];
        r->is_const[n->out[k]] = (char)fold;
    }
    if (s != AXMUL_OK || fold)
        return s;
    if (r->nsteps == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        axmul__onnx_step *ns = realloc(r->steps, sizeof *ns * (size_t)*cap);
        if (!ns)
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        r->steps = ns;
    }
    if (n->approx)
        qdq_ranges(g, r, &st);
    st.alias = n->nin > 0 && conv[0] && alias_step(g, r, n, conv[0]);
    if (n->nin > 0 && conv[0] && !st.alias && n->in[0] >= 0 && g->v[n->in[0]].producer >= 0 &&
        !r->is_const[n->in[0]] && flatten_fusable(g, n, conv[0])) {
        st.alias = 1;
        r->hwc[n->out[0]][0] = (int)conv[0]->sh.d[1];
        r->hwc[n->out[0]][1] = (int)conv[0]->sh.d[2];
        r->hwc[n->out[0]][2] = (int)conv[0]->sh.d[3];
    }
    if (n->kind == AXMUL__OP_Gemm && n->in[0] >= 0 && r->hwc[n->in[0]][0] > 0)
        memcpy(st.a_hwc, r->hwc[n->in[0]], sizeof st.a_hwc);
    st.inplace = !st.alias && n->nin > 0 && conv[0] && inplace_step(n, conv[0], &outs[0]);
    r->steps[r->nsteps++] = st;
    return AXMUL_OK;
}

/* The inputs against the graph's declarations (rank, fixed dims, type). */
static axmul_status check_inputs(const axmul__onnx *g, const axmul__tensor *inputs)
{
    for (int k = 0; k < g->ninputs; k++) {
        const axmul__value *v = &g->v[g->inputs[k]];
        const axmul__tensor *t = &inputs[k];
        char a[128], b[128];
        if (v->dt && t->dt != v->dt)
            return axmul__fail(AXMUL_ERR_SHAPE, "%s: input %s: %s given, the model takes %s",
                               g->path, v->name, axmul__dt_name(t->dt), axmul__dt_name(v->dt));
        if (!v->decl_known)
            continue;
        int ok = t->sh.rank == v->decl.rank;
        for (int d = 0; ok && d < t->sh.rank; d++)
            ok = v->decl.d[d] < 0 || v->decl.d[d] == t->sh.d[d];
        if (!ok) {
            axmul__shape_text(&t->sh, a, sizeof a);
            size_t at = 0;
            for (int d = 0; d < v->decl.rank && at < sizeof b; d++) {
                int w = v->decl.d[d] < 0
                            ? snprintf(b + at, sizeof b - at, "%s?", d ? "x" : "")
                            : snprintf(b + at, sizeof b - at, "%s%lld", d ? "x" : "",
                                       (long long)v->decl.d[d]);
                at += w > 0 ? (size_t)w : 0;
            }
            if (!v->decl.rank)
                snprintf(b, sizeof b, "scalar");
            return axmul__fail(AXMUL_ERR_SHAPE, "%s: input %s: shape %s given, the model takes %s",
                               g->path, v->name, a, b);
        }
    }
    return AXMUL_OK;
}

static axmul_status make_plan(axmul__onnx *g, const axmul__tensor *inputs, axmul__onnx_run **out)
{
    const int nv = g->nvalues;
    axmul__onnx_run *r = calloc(1, sizeof *r);
    if (!r)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    r->ninputs = g->ninputs;
    r->nvalues = nv;
    r->in_key = calloc((size_t)g->ninputs + 1, sizeof *r->in_key);
    r->by_value = calloc((size_t)g->ninputs + 1, 1);
    r->val = calloc((size_t)nv + 1, sizeof *r->val);
    r->is_const = calloc((size_t)nv + 1, 1);
    r->buf = malloc(sizeof *r->buf * ((size_t)nv + 1));
    r->last = malloc(sizeof *r->last * ((size_t)nv + 1));
    r->node_shape = calloc((size_t)g->nnodes + 1, sizeof *r->node_shape);
    r->hwc = calloc((size_t)nv + 1, sizeof *r->hwc);
    if (!r->hwc || !r->in_key || !r->by_value || !r->val || !r->is_const || !r->buf || !r->last || !r->node_shape) {
        axmul__onnx_run_free(r);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < nv; v++) {
        r->buf[v] = -1;
        if (g->v[v].init) {
            r->val[v] = *g->v[v].init;
            r->val[v].owned = 0;
            r->is_const[v] = 1;
        }
    }
    for (int k = 0; k < g->ninputs; k++) {
        r->in_key[k] = inputs[k];
        r->in_key[k].data = NULL;
        r->in_key[k].owned = 0;
        if (by_value(&inputs[k]) && inputs[k].data) {
            const size_t len = (size_t)axmul__shape_count(&inputs[k].sh) * axmul__dt_size(inputs[k].dt);
            if (!(r->in_key[k].data = malloc(len ? len : 1))) {
                axmul__onnx_run_free(r);
                return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
            }
            memcpy(r->in_key[k].data, inputs[k].data, len);
            r->by_value[k] = 1;
            r->is_const[g->inputs[k]] = 1;
        }
        r->val[g->inputs[k]] = r->in_key[k];
        r->val[g->inputs[k]].owned = 0;
    }
    axmul_status s = AXMUL_OK;
    int cap = 0;
    for (int i = 0; i < g->nnodes && s == AXMUL_OK; i++)
        s = plan_node(g, r, i, &cap);
    if (s == AXMUL_OK)
        s = assign_buffers(g, r);
    if (s != AXMUL_OK) {
        axmul__onnx_run_free(r);
        return s;
    }
    *out = r;
    return AXMUL_OK;
}

static int same_key(const axmul__onnx_run *r, const axmul__tensor *inputs)
{
    for (int k = 0; k < r->ninputs; k++) {
        const axmul__tensor *a = &r->in_key[k], *b = &inputs[k];
        if (a->dt != b->dt || a->nhwc != b->nhwc || a->sh.rank != b->sh.rank ||
            memcmp(a->sh.d, b->sh.d, sizeof a->sh.d[0] * (size_t)a->sh.rank) != 0 ||
            r->by_value[k] != (by_value(b) && b->data != NULL))
            return 0;
        if (r->by_value[k] &&
            memcmp(a->data, b->data,
                   (size_t)axmul__shape_count(&a->sh) * axmul__dt_size(a->dt)) != 0)
            return 0;
    }
    return 1;
}

axmul_status axmul__onnx_plan(axmul__onnx *g, const axmul__tensor *inputs, axmul__onnx_run **out)
{
    axmul__onnx_run **pp = &g->cache;
    for (int depth = 0; *pp; pp = &(*pp)->next, depth++)
        if (same_key(*pp, inputs)) {
            axmul__onnx_run *hit = *pp;
            *pp = hit->next; /* to the front */
            hit->next = g->cache;
            g->cache = hit;
            *out = hit;
            return AXMUL_OK;
        }
    axmul_status s = check_inputs(g, inputs);
    axmul__onnx_run *r = NULL;
    if (s == AXMUL_OK)
        s = make_plan(g, inputs, &r);
    if (s != AXMUL_OK)
        return s;
    r->next = g->cache;
    g->cache = r;
    if (r->next && r->next->next) { /* keep two */
        axmul__onnx_run_free(r->next->next);
        r->next->next = NULL;
    }
    *out = r;
    return AXMUL_OK;
}
