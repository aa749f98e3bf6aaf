/* axmul: reading .onnx files (protobuf-c code generated from onnx.proto at build time) into the
 * graph of lib/net/onnx/onnx.h: values (inputs, initializers, node outputs), nodes in
 * topological order with their attributes, the calibrated ranges that axmul stores as metadata.
 * Every refusal names the file, and the node and op where one is at fault. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/onnx/onnx.h"
#include "lib/net/onnx/onnx.pb-c.h"

/* A .onnx file larger than this is refused without being read (weights beyond 2 GiB need ONNX's
 * external data, which is refused anyway). */
#define ONNX_MAX_FILE ((size_t)2 << 30)

/* The opsets whose semantics the kernels implement. */
#define ONNX_OPSET_MIN 6
#define ONNX_OPSET_MAX 18

static const axmul__onnx_op *const op_table[AXMUL__OP_COUNT] = {
#define AXMUL__ONNX_OP_PTR(op) &axmul__onnx_##op,
    AXMUL__ONNX_OPS(AXMUL__ONNX_OP_PTR)
#undef AXMUL__ONNX_OP_PTR
};

int axmul__onnx_op_kind(const char *name)
{
    for (int k = 0; k < AXMUL__OP_COUNT; k++)
        if (strcmp(op_table[k]->name, name) == 0)
            return k;
    return -1;
}

const axmul__onnx_op *axmul__onnx_op_of(int kind)
{
    return op_table[kind];
}

const char *axmul__onnx_op_names(void)
{
    static char text[1024];
    if (!text[0]) {
        char t[sizeof text];
        size_t n = 0;
        for (int k = 0; k < AXMUL__OP_COUNT; k++) {
            int w = snprintf(t + n, sizeof t - n, "%s%s", k ? ", " : "", op_table[k]->name);
            n += w > 0 && (size_t)w < sizeof t - n ? (size_t)w : 0;
        }
        memcpy(text, t, sizeof text);
    }
    return text;
}

const axmul__attr *axmul__onnx_attr(const axmul__node *n, const char *name)
{
    for (int k = 0; k < n->nattr; k++)
        if (strcmp(n->attr[k].name, name) == 0)
            return &n->attr[k];
    return NULL;
}

int64_t axmul__onnx_attr_int(const axmul__node *n, const char *name, int64_t dflt)
{
    const axmul__attr *a = axmul__onnx_attr(n, name);
    return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT ? a->i : dflt;
}

float axmul__onnx_attr_float(const axmul__node *n, const char *name, float dflt)
{
    const axmul__attr *a = axmul__onnx_attr(n, name);
    return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT ? a->f : dflt;
}

/* ---------------------------------------------------------------- freeing */

static void attr_free(axmul__attr *a)
{
    free(a->name);
    free(a->s);
    free(a->floats);
    free(a->ints);
    axmul__tensor_free(a->t);
}

void axmul__onnx_free(axmul__onnx *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nvalues; i++) {
        free(g->v[i].name);
        axmul__tensor_free(g->v[i].init);
    }
    for (int i = 0; i < g->nnodes; i++) {
        axmul__node *n = &g->nodes[i];
        free(n->name);
        free(n->op);
        free(n->in);
        free(n->out);
        for (int k = 0; k < n->nattr; k++)
            attr_free(&n->attr[k]);
        free(n->attr);
    }
    axmul__onnx_run_free(g->cache);
    pthread_mutex_destroy(&g->lock);
    if (g->proto)
        onnx__model_proto__free_unpacked(g->proto, NULL);
    free(g->v);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->path);
    free(g);
}

/* ---------------------------------------------------------------- values */

/* The value called name, created (with no producer) when absent; -1 when out of memory. */
static int value_index(axmul__onnx *g, const char *name, int *cap)
{
    if (!name)
        name = ""; /* (a value without a name: refused by build as unknown) */
    for (int i = g->nvalues - 1; i >= 0; i--) /* recent values are the likely ones */
        if (strcmp(g->v[i].name, name) == 0)
            return i;
    if (g->nvalues == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        axmul__value *nv = realloc(g->v, sizeof *nv * (size_t)nc);
        if (!nv)
            return -1;
        g->v = nv;
        *cap = nc;
    }
    axmul__value *v = &g->v[g->nvalues];
    memset(v, 0, sizeof *v);
    if (!(v->name = strdup(name)))
        return -1;
    v->producer = -1;
    return g->nvalues++;
}

/* ERR_UNSUPPORTED unless a graph input or output is a tensor (not a sequence, map or
 * optional). */
static axmul_status tensor_typed(const char *path, const Onnx__ValueInfoProto *vi)
{
    const Onnx__TypeProto *tp = vi->type;
    if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
        tp->value_case != ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: graph input or output %s is not a tensor (sequences, maps and "
                           "optionals are not supported)",
                           path, vi->name ? vi->name : "?");
    return AXMUL_OK;
}

/* A ValueInfoProto's type and shape into v (shape dims < 0 where symbolic). */
static void value_info(axmul__value *v, const Onnx__ValueInfoProto *vi)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return;
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type)
        v->dt = (axmul__dtype)tt->elem_type;
    if (tt->shape && tt->shape->n_dim <= AXMUL__ONNX_MAX_RANK) {
        v->decl.rank = (int)tt->shape->n_dim;
        for (size_t k = 0; k < tt->shape->n_dim; k++) {
            const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
            v->decl.d[k] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                               ? d->dim_value
                               : -1;
        }
        v->decl_known = 1;
    }
}

/* ---------------------------------------------------------------- nodes */

static axmul_status parse_attr(const char *path, const axmul__node *n, const Onnx__AttributeProto *p,
                               axmul__attr *a)
{
    memset(a, 0, sizeof *a);
    if (!p->name || !(a->name = strdup(p->name)))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: node %s (%s): an attribute without a name", path,
                           n->name, n->op);
    a->type = p->has_type ? (int)p->type : 0;
    a->f = p->f;
    a->i = p->i;
    if (p->ref_attr_name && p->ref_attr_name[0])
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: node %s (%s): attribute %s refers to a function attribute", path,
                           n->name, n->op, a->name);
    switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        if (!(a->s = malloc(p->s.len + 1)))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        if (p->s.len)
            memcpy(a->s, p->s.data, p->s.len);
        a->s[p->s.len] = 0;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->nfloats = p->n_floats;
        if (!(a->floats = malloc(sizeof *a->floats * (p->n_floats + 1))))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        if (p->n_floats)
            memcpy(a->floats, p->floats, sizeof *a->floats * p->n_floats);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->nints = p->n_ints;
        if (!(a->ints = malloc(sizeof *a->ints * (p->n_ints + 1))))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        if (p->n_ints)
            memcpy(a->ints, p->ints, sizeof *a->ints * p->n_ints);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        char what[512];
        snprintf(what, sizeof what, "%s: node %s (%s): attribute %s", path, n->name, n->op,
                 a->name);
        if (!p->t)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: no tensor", what);
        return axmul__onnx_tensor_decode(p->t, what, &a->t);
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        break;
    default:
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: node %s (%s): attribute %s of type %d (graphs, sparse tensors and "
                           "lists of strings or tensors are not supported)",
                           path, n->name, n->op, a->name, a->type);
    }
    return AXMUL_OK;
}

static axmul_status parse_node(axmul__onnx *g, const Onnx__NodeProto *p, int index, int *cap,
                               axmul__node *n)
{
    const char *path = g->path;
    memset(n, 0, sizeof *n);
    if (!p->op_type || !(n->op = strdup(p->op_type)))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: node %d has no op_type", path, index);
    char name[96];
    if (p->name && p->name[0])
        n->name = strdup(p->name);
    else {
        snprintf(name, sizeof name, "%.40s_%d", n->op, index);
        n->name = strdup(name);
    }
    if (!n->name)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    if (p->domain && p->domain[0] && strcmp(p->domain, "ai.onnx") != 0)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: node %s: op %s of domain '%s' (only the default ONNX domain)", path,
                           n->name, n->op, p->domain);
    if ((n->kind = axmul__onnx_op_kind(n->op)) < 0)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: node %s: op %s is not supported (supported: %s)", path, n->name,
                           n->op, axmul__onnx_op_names());
    n->nin = (int)p->n_input;
    n->nout = (int)p->n_output;
    n->in = malloc(sizeof *n->in * (size_t)(n->nin + 1));
    n->out = malloc(sizeof *n->out * (size_t)(n->nout + 1));
    n->attr = calloc(p->n_attribute + 1, sizeof *n->attr);
    if (!n->in || !n->out || !n->attr)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n->nin; k++)
        if ((n->in[k] = p->input[k][0] ? value_index(g, p->input[k], cap) : -1) < -1 ||
            (p->input[k][0] && n->in[k] < 0))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n->nout; k++) {
        if (!p->output[k][0]) { /* an omitted optional output */
            n->out[k] = -1;
            continue;
        }
        if ((n->out[k] = value_index(g, p->output[k], cap)) < 0)
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        axmul__value *v = &g->v[n->out[k]];
        if (v->producer >= 0 || v->init || v->is_input)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: node %s (%s): output %s is also %s", path,
                               n->name, n->op, v->name,
                               v->init ? "an initializer" : v->is_input ? "a graph input"
                                                                         : "another node's output");
        v->producer = index;
    }
    axmul_status s = AXMUL_OK;
    for (size_t k = 0; k < p->n_attribute && s == AXMUL_OK; k++, n->nattr++)
        s = parse_attr(path, n, p->attribute[k], &n->attr[k]);
    return s;
}

/* Orders the nodes so that every node follows the producers of its inputs (ONNX requires it,
 * not every exporter obeys); a circle is an error. */
static axmul_status topo_sort(axmul__onnx *g)
{
    const int n = g->nnodes;
    int *state = calloc((size_t)n + 1, sizeof *state), *order = malloc(sizeof *order * (size_t)(n + 1));
    int *stack = malloc(sizeof *stack * (size_t)(n + 1)), *pos = malloc(sizeof *pos * (size_t)(n + 1));
    axmul__node *sorted = malloc(sizeof *sorted * (size_t)(n + 1));
    axmul_status s = AXMUL_OK;
    if (!state || !order || !stack || !pos || !sorted) {
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        goto out;
    }
    int no = 0;
    for (int r = 0; r < n && s == AXMUL_OK; r++) {
        if (state[r])
            continue;
        int sp = 0;
        stack[sp] = r;
        pos[sp++] = 0;
        state[r] = 1;
        while (sp && s == AXMUL_OK) {
            const int i = stack[sp - 1];
            const axmul__node *nd = &g->nodes[i];
            if (pos[sp - 1] < nd->nin) {
                const int v = nd->in[pos[sp - 1]++];
                const int p = v >= 0 ? g->v[v].producer : -1;
                if (p < 0 || state[p] == 2)
                    continue;
                if (state[p] == 1) {
                    s = axmul__fail(AXMUL_ERR_FORMAT, "%s: the graph has a cycle through node %s",
                                    g->path, g->nodes[p].name);
                    break;
                }
                state[p] = 1;
                stack[sp] = p;
                pos[sp++] = 0;
            } else {
                state[i] = 2;
                order[no++] = i;
                sp--;
            }
        }
    }
    if (s != AXMUL_OK)
        goto out;
    int *newpos = pos; /* old index -> new index */
    for (int k = 0; k < n; k++) {
        sorted[k] = g->nodes[order[k]];
        newpos[order[k]] = k;
    }
    for (int i = 0; i < g->nvalues; i++)
        if (g->v[i].producer >= 0)
            g->v[i].producer = newpos[g->v[i].producer];
    memcpy(g->nodes, sorted, sizeof *sorted * (size_t)n);
out:
    free(state);
    free(order);
    free(stack);
    free(pos);
    free(sorted);
    return s;
}

/* Which nodes may read a table: convolutions, and products whose second operand is a constant
 * (dense layers) or an activation (MatMul between activations: attention). */
static void mark_approx(axmul__onnx *g)
{
    char *is_const = calloc((size_t)g->nvalues + 1, 1);
    if (!is_const)
        return;
    for (int i = 0; i < g->nvalues; i++)
        is_const[i] = g->v[i].init != NULL;
    for (int i = 0; i < g->nnodes; i++) {
        axmul__node *n = &g->nodes[i];
        int all = n->kind != AXMUL__OP_Shape && n->kind != AXMUL__OP_Size;
        for (int k = 0; k < n->nin && all; k++)
            all = n->in[k] < 0 || is_const[n->in[k]];
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] >= 0)
                is_const[n->out[k]] = (char)all;
        const int b_const = n->nin > 1 && n->in[1] >= 0 && is_const[n->in[1]];
        if (n->kind == AXMUL__OP_Conv || n->kind == AXMUL__OP_ConvInteger ||
            n->kind == AXMUL__OP_QLinearConv)
            n->approx = AXMUL_APPROX_CONV;
        else if (n->kind == AXMUL__OP_Gemm || n->kind == AXMUL__OP_MatMul ||
                 n->kind == AXMUL__OP_MatMulInteger)
            n->approx = b_const || n->kind == AXMUL__OP_MatMulInteger ? AXMUL_APPROX_DENSE
                                                                      : AXMUL_APPROX_MATMUL;
        if (all) /* folded away when the runtime plans: no layer to approximate */
            n->approx = 0;
    }
    free(is_const);
}

/* axmul's metadata: "axmul:range:NODE" and "axmul:range_b:NODE" = "min max". */
static axmul_status read_ranges(axmul__onnx *g, const Onnx__ModelProto *m)
{
    for (size_t k = 0; k < m->n_metadata_props; k++) {
        const char *key = m->metadata_props[k]->key, *val = m->metadata_props[k]->value;
        int which;
        if (!key || !val)
            continue;
        if (strncmp(key, "axmul:range:", 12) == 0)
            which = 0, key += 12;
        else if (strncmp(key, "axmul:range_b:", 14) == 0)
            which = 1, key += 14;
        else
            continue;
        int i = 0;
        while (i < g->nnodes && strcmp(g->nodes[i].name, key) != 0)
            i++;
        float lo, hi;
        if (i == g->nnodes || sscanf(val, "%g %g", &lo, &hi) != 2 || !(lo <= hi) ||
            !isfinite(lo) || !isfinite(hi))
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: metadata %s = '%s': not a range of one of the graph's nodes",
                               g->path, m->metadata_props[k]->key, val);
        g->nodes[i].range[which] = (axmul_range){lo, hi};
        g->nodes[i].has_range[which] = 1;
    }
    return AXMUL_OK;
}

static axmul_status build(axmul__onnx *g, const Onnx__ModelProto *m)
{
    const char *path = g->path;
    g->opset = -1;
    for (size_t k = 0; k < m->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[k];
        if ((!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) && o->has_version)
            g->opset = (int)o->version;
    }
    if (g->opset < 0)
        g->opset = 7; /* ir_version 3 files may omit it */
    if (g->opset < ONNX_OPSET_MIN || g->opset > ONNX_OPSET_MAX)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: opset %d (supported: %d to %d)", path,
                           g->opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX);
    const Onnx__GraphProto *gp = m->graph;
    if (!gp)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: the model has no graph", path);
    int cap = 0;
    axmul_status s;
    for (size_t k = 0; k < gp->n_initializer; k++) {
        const Onnx__TensorProto *t = gp->initializer[k];
        if (!t->name || !t->name[0])
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: initializer %zu has no name", path, k);
        int i = value_index(g, t->name, &cap);
        if (i < 0)
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        char what[512];
        snprintf(what, sizeof what, "%s: initializer %s", path, t->name);
        if (g->v[i].init)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s appears twice", what);
        if ((s = axmul__onnx_tensor_decode(t, what, &g->v[i].init)) != AXMUL_OK)
            return s;
        const axmul__tensor *it = g->v[i].init;
        if (it->dt == AXMUL__DT_FLOAT)
            for (int64_t e = 0; e < axmul__shape_count(&it->sh); e++)
                if (!isfinite(((const float *)it->data)[e]))
                    return axmul__fail(AXMUL_ERR_NONFINITE, "%s: element %lld is not finite",
                                       what, (long long)e);
        g->v[i].dt = it->dt;
        g->v[i].decl = it->sh;
        g->v[i].decl_known = 1;
    }
    g->inputs = malloc(sizeof *g->inputs * (gp->n_input + 1));
    g->outputs = malloc(sizeof *g->outputs * (gp->n_output + 1));
    if (!g->inputs || !g->outputs)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < gp->n_input; k++) {
        int i = value_index(g, gp->input[k]->name, &cap);
        if (i < 0)
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        if (g->v[i].init) /* older exporters list initializers as inputs too */
            continue;
        g->v[i].is_input = 1;
        if ((s = tensor_typed(path, gp->input[k])) != AXMUL_OK)
            return s;
        value_info(&g->v[i], gp->input[k]);
        g->inputs[g->ninputs++] = i;
    }
    for (size_t k = 0; k < gp->n_value_info; k++) {
        int i = value_index(g, gp->value_info[k]->name, &cap);
        if (i < 0)
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        value_info(&g->v[i], gp->value_info[k]);
    }
    if (!(g->nodes = calloc(gp->n_node + 1, sizeof *g->nodes)))
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < gp->n_node; k++, g->nnodes++)
        if ((s = parse_node(g, gp->node[k], (int)k, &cap, &g->nodes[k])) != AXMUL_OK) {
            g->nnodes++; /* freed with the others */
            return s;
        }
    for (size_t k = 0; k < gp->n_output; k++) {
        int i = value_index(g, gp->output[k]->name, &cap);
        if (i < 0)
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        if ((s = tensor_typed(path, gp->output[k])) != AXMUL_OK)
            return s;
        value_info(&g->v[i], gp->output[k]);
        g->outputs[g->noutputs++] = i;
    }
    for (int i = 0; i < g->nvalues; i++)
        if (g->v[i].producer < 0 && !g->v[i].init && !g->v[i].is_input)
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: value %s is neither a graph input, an initializer nor a "
                               "node's output",
                               path, g->v[i].name);
    if (g->noutputs == 0)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: the graph has no outputs", path);
    if ((s = topo_sort(g)) != AXMUL_OK)
        return s;
    mark_approx(g);
    return read_ranges(g, m);
}

axmul_status axmul__onnx_load(const char *path, axmul__onnx **out)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    axmul_status s = axmul__read_file(path, ONNX_MAX_FILE, &buf, &len);
    if (s != AXMUL_OK)
        return s;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!m)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: not an ONNX model (the protobuf does not parse)",
                           path);
    axmul__onnx *g = calloc(1, sizeof *g);
    if (g)
        pthread_mutex_init(&g->lock, NULL);
    if (!g || !(g->path = strdup(path))) {
        if (g)
            pthread_mutex_destroy(&g->lock);
        free(g);
        onnx__model_proto__free_unpacked(m, NULL);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    g->proto = m;
    if ((s = build(g, m)) != AXMUL_OK) {
        axmul__onnx_free(g);
        return s;
    }
    *out = g;
    return AXMUL_OK;
}
