/* axmul: an ONNX image model as a model of layer kinds (lib/net/net.h), for what only those
 * have: training (axmul_model_train: fine-tuning an imported network for a multiplier) and
 * model folders. A graph of Conv, Gemm (and MatMul by a constant), BatchNormalization, pools,
 * ReLU/ReLU6, Add, Flatten and a final Softmax converts, the exporters' no-ops (Identity,
 * Dropout, zero Pads) dropped; anything else is refused naming its node. Weights become HWIO
 * (conv) and (in, out) (dense); a Flatten of C x H x W features reorders the next dense layer's
 * rows, since layer models flatten H, W, C. Calibrated ranges go along. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/net.h"
#include "lib/net/onnx/ops.h"
#include "lib/net/onnx/runtime.h"

/* Per value: the layer that computes it (-1: the network's input, -2: none), and for a flattened
 * C x H x W feature map (C, H, W): its order is the layer model's H, W, C, not ONNX's. */
typedef struct {
    int layer;
    int chw[3];
} vmap;

typedef struct {
    const axmul__onnx *g;
    axmul__onnx_run *r;
    axmul_model *m;
    vmap *vm;
    int cap;
} conv_state;

static axmul_status refuse(const conv_state *c, const axmul__node *n, const char *why)
{
    return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                       "%s: node %s (%s) has no counterpart among the layer kinds: %s (only CNNs "
                       "of Conv, Gemm, BatchNormalization, pools, ReLU/ReLU6, Add, Flatten and a "
                       "last Softmax train here)",
                       c->g->path, n->name, n->op, why);
}

/* A new layer of kind reading value u (its source), named after node n (a file-name-safe,
 * unique name). */
static axmul_status new_layer(conv_state *c, const axmul__node *n, axmul__layer_kind kind, int u,
                              axmul__layer **out)
{
    axmul_model *m = c->m;
    if (m->nl == c->cap) {
        int nc = c->cap ? 2 * c->cap : 32;
        axmul__layer *L = realloc(m->L, sizeof *L * (size_t)nc);
        if (!L)
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        m->L = L;
        c->cap = nc;
    }
    const int i = m->nl, s = u >= 0 ? c->vm[u].layer : -2;
    axmul__layer *l = &m->L[i];
    memset(l, 0, sizeof *l);
    axmul__layer_set_kind(l, kind);
    size_t k = 0;
    for (const char *p = n->name; *p && k + 8 < sizeof l->name; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || (*p == '_' && k) || (*p == '.' && k))
            l->name[k++] = *p;
        else if (k && l->name[k - 1] != '_')
            l->name[k++] = '_';
    while (k && l->name[k - 1] == '_')
        k--;
    l->name[k] = 0;
    int dup = !k;
    for (int j = 0; j < i && !dup; j++)
        dup = strcmp(m->L[j].name, l->name) == 0;
    if (dup) /* (unnamed, or two nodes sanitized alike: the index tells them apart) */
        snprintf(l->name + k, sizeof l->name - k, "%s%d", k ? "_" : "layer", i);
    l->sh = l->sw = l->dh = l->dw = l->groups = 1;
    l->padding = AXMUL_PADDING_VALID;
    if (kind != AXMUL__L_ADD && kind != AXMUL__L_CONCAT) {
        if (s == -2)
            return refuse(c, n, "its input is not an activation of the network");
        if (s == -1 && i != 0)
            return refuse(c, n, "it reads the network's input after other layers");
        if (s >= 0 && s != i - 1) {
            l->src = s + 1;
            m->L[s].saved = 1;
        }
    }
    m->nl++;
    *out = l;
    return AXMUL_OK;
}

static float *copy_floats(const float *src, size_t n)
{
    float *p = malloc(sizeof *p * (n ? n : 1));
    if (p && n)
        memcpy(p, src, sizeof *p * n);
    return p;
}

/* The constant float tensor of node n's input k, or NULL. */
static const axmul__tensor *const_input(const conv_state *c, const axmul__node *n, int k)
{
    const int v = k < n->nin ? n->in[k] : -1;
    if (v < 0 || !c->r->is_const[v] || c->r->val[v].dt != AXMUL__DT_FLOAT || !c->r->val[v].data)
        return NULL;
    return &c->r->val[v];
}

static void take_range(const axmul__node *n, axmul__layer *l)
{
    if (n->has_range[0]) {
        l->has_range = 1;
        l->in_range = n->range[0];
    }
}

/* The bias, the file names a saved layer model gives the arrays, and the node's range: what
 * conv and dense layers share once their weights are laid out. */
static axmul_status finish_weighted(const axmul__node *n, axmul__layer *l, const axmul__tensor *b)
{
    if (b) {
        l->nb = (size_t)axmul__shape_count(&b->sh);
        if (!(l->b = copy_floats(b->data, l->nb)))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    snprintf(l->wfile, sizeof l->wfile, "%s_weights.npy", l->name);
    snprintf(l->bfile, sizeof l->bfile, "%s_bias.npy", l->name);
    take_range(n, l);
    return AXMUL_OK;
}

static axmul_status conv_layer(conv_state *c, const axmul__node *n)
{
    const axmul__tensor *w = const_input(c, n, 1), *b = const_input(c, n, 2);
    if (!w || w->sh.rank != 4)
        return refuse(c, n, "its weights are not a constant 2-D filter");
    if (n->nin > 2 && n->in[2] >= 0 && !b)
        return refuse(c, n, "its bias is not a constant");
    const char *ap = axmul__onnx_attr_str(n, "auto_pad", "NOTSET");
    size_t np, ns, nd;
    const int64_t *pads = axmul__onnx_attr_ints(n, "pads", &np);
    const int64_t *st = axmul__onnx_attr_ints(n, "strides", &ns);
    const int64_t *dl = axmul__onnx_attr_ints(n, "dilations", &nd);
    if (strcmp(ap, "SAME_LOWER") == 0 || (pads && np != 4) || (st && ns != 2) || (dl && nd != 2))
        return refuse(c, n, "its padding, strides or dilations");
    axmul__layer *l;
    axmul_status s = new_layer(c, n, AXMUL__L_CONV, n->in[0], &l);
    if (s != AXMUL_OK)
        return s;
    const int64_t M = w->sh.d[0], ci = w->sh.d[1], kh = w->sh.d[2], kw = w->sh.d[3];
    l->kh = (int)kh;
    l->kw = (int)kw;
    l->units = (int)M;
    l->groups = (int)axmul__onnx_attr_int(n, "group", 1);
    l->sh = st ? (int)st[0] : 1;
    l->sw = st ? (int)st[1] : 1;
    l->dh = dl ? (int)dl[0] : 1;
    l->dw = dl ? (int)dl[1] : 1;
    if (strcmp(ap, "SAME_UPPER") == 0) /* TensorFlow's SAME */
        l->padding = AXMUL_PADDING_SAME;
    else if (strcmp(ap, "VALID") != 0 && pads) {
        l->padding = AXMUL_PADDING_EXPLICIT;
        l->pad[0] = (int)pads[0]; /* ONNX: top, left, bottom, right */
        l->pad[1] = (int)pads[2];
        l->pad[2] = (int)pads[1];
        l->pad[3] = (int)pads[3];
    }
    l->nw = (size_t)(M * ci * kh * kw);
    if (!(l->w = malloc(sizeof *l->w * (l->nw ? l->nw : 1))))
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    const float *wv = w->data;
    for (int64_t a = 0; a < M; a++)
        for (int64_t bb = 0; bb < ci; bb++)
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++)
                    l->w[((i * kw + j) * ci + bb) * M + a] = wv[((a * ci + bb) * kh + i) * kw + j];
    return finish_weighted(n, l, b);
}

/* Gemm (transA 0, alpha = beta = 1, a per-column C) and MatMul by a constant matrix. */
static axmul_status dense_layer(conv_state *c, const axmul__node *n)
{
    const axmul__tensor *w = const_input(c, n, 1), *b = const_input(c, n, 2);
    const int gemm = n->kind == AXMUL__OP_Gemm, tb = gemm && axmul__onnx_attr_int(n, "transB", 0);
    if (!w || w->sh.rank != 2)
        return refuse(c, n, "its weights are not a constant matrix");
    if (gemm &&
        (axmul__onnx_attr_int(n, "transA", 0) || axmul__onnx_attr_float(n, "alpha", 1) != 1 ||
         axmul__onnx_attr_float(n, "beta", 1) != 1))
        return refuse(c, n, "transA, alpha or beta");
    const int64_t K = w->sh.d[tb ? 1 : 0], N = w->sh.d[tb ? 0 : 1];
    if (gemm && n->nin > 2 && n->in[2] >= 0 && (!b || axmul__shape_count(&b->sh) != N))
        return refuse(c, n, "its C is not a constant of one value per output");
    const int u = n->in[0];
    const int *chw = u >= 0 && c->vm[u].chw[0] ? c->vm[u].chw : NULL;
    axmul__layer *l;
    axmul_status s = new_layer(c, n, AXMUL__L_DENSE, u, &l);
    if (s != AXMUL_OK)
        return s;
    l->units = (int)N;
    l->nw = (size_t)(K * N);
    if (!(l->w = malloc(sizeof *l->w * (l->nw ? l->nw : 1))))
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    const float *wv = w->data;
    for (int64_t k = 0; k < K; k++) {
        int64_t src = k; /* the ONNX row of layer row k (H, W, C order after a flatten) */
        if (chw) {
            const int64_t C = chw[0], HW = (int64_t)chw[1] * chw[2];
            src = (k % C) * HW + k / C;
        }
        for (int64_t j = 0; j < N; j++)
            l->w[k * N + j] = tb ? wv[j * K + src] : wv[src * N + j];
    }
    return finish_weighted(n, l, b);
}

static axmul_status bn_layer(conv_state *c, const axmul__node *n)
{
    const axmul__tensor *t[4];
    for (int k = 0; k < 4; k++)
        if (!(t[k] = const_input(c, n, k + 1)))
            return refuse(c, n, "its parameters are not constants");
    axmul__layer *l;
    axmul_status s = new_layer(c, n, AXMUL__L_BATCHNORM, n->in[0], &l);
    if (s != AXMUL_OK)
        return s;
    static const char *const keys[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    const size_t ch = (size_t)axmul__shape_count(&t[0]->sh);
    l->eps = axmul__onnx_attr_float(n, "epsilon", 1e-5f);
    for (int k = 0; k < 4; k++) {
        l->nbn[k] = (size_t)axmul__shape_count(&t[k]->sh);
        snprintf(l->bnfile[k], sizeof l->bnfile[k], "%s_%s.npy", l->name, keys[k]);
        if (!(l->bn[k] = copy_floats(t[k]->data, l->nbn[k])))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    /* the scale and offset it reduces to, as the model.json loader computes them */
    l->w = malloc(sizeof *l->w * (ch ? ch : 1));
    l->b = malloc(sizeof *l->b * (ch ? ch : 1));
    if (!l->w || !l->b)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    l->nw = l->nb = ch;
    for (size_t k = 0; k < ch; k++) {
        const float v = l->bn[3][k] + l->eps;
        if (!(v > 0))
            return refuse(c, n, "a variance + epsilon that is not positive");
        l->w[k] = l->bn[0][k] / sqrtf(v);
        l->b[k] = l->bn[1][k] - l->bn[2][k] * l->w[k];
    }
    return AXMUL_OK;
}

static axmul_status pool_layer(conv_state *c, const axmul__node *n)
{
    size_t nk, ns, np, nd;
    const int64_t *k = axmul__onnx_attr_ints(n, "kernel_shape", &nk);
    const int64_t *st = axmul__onnx_attr_ints(n, "strides", &ns);
    const int64_t *pads = axmul__onnx_attr_ints(n, "pads", &np);
    const int64_t *dl = axmul__onnx_attr_ints(n, "dilations", &nd);
    int dilated = 0;
    for (size_t i = 0; dl && i < nd; i++)
        dilated |= dl[i] != 1;
    const char *ap = axmul__onnx_attr_str(n, "auto_pad", "NOTSET");
    if (!k || nk != 2 || (st && ns != 2) || (pads && np != 4) || dilated ||
        (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER")))
        return refuse(c, n, "dilation or SAME_LOWER padding (the pool layers have none)");
    for (size_t i = 0; pads && i < 4; i++)
        if (pads[i] < 0 || pads[i] >= k[i % 2])
            return refuse(c, n, "padding as large as the window");
    axmul__layer *l;
    axmul_status s = new_layer(
        c, n, n->kind == AXMUL__OP_MaxPool ? AXMUL__L_MAXPOOL : AXMUL__L_AVGPOOL, n->in[0], &l);
    if (s != AXMUL_OK)
        return s;
    l->kh = (int)k[0];
    l->kw = (int)k[1];
    l->sh = st ? (int)st[0] : 1;
    l->sw = st ? (int)st[1] : 1;
    l->padding = strcmp(ap, "SAME_UPPER") == 0 ? AXMUL_PADDING_SAME
                 : pads                        ? AXMUL_PADDING_EXPLICIT
                                               : AXMUL_PADDING_VALID;
    if (pads) { /* ONNX: top, left, bottom, right; the layers: top, bottom, left, right */
        l->pad[0] = (int)pads[0];
        l->pad[1] = (int)pads[2];
        l->pad[2] = (int)pads[1];
        l->pad[3] = (int)pads[3];
    }
    l->ceil_mode = axmul__onnx_attr_int(n, "ceil_mode", 0) != 0;
    l->count_pad = axmul__onnx_attr_int(n, "count_include_pad", 0) != 0;
    return AXMUL_OK;
}

/* Clip(0, 6) is relu6, Clip(0, inf) relu. */
static axmul_status clip_kind(const conv_state *c, const axmul__node *n, axmul__layer_kind *kind)
{
    double lo = -INFINITY, hi = INFINITY;
    if (c->g->opset < 11) {
        lo = axmul__onnx_attr_float(n, "min", -INFINITY);
        hi = axmul__onnx_attr_float(n, "max", INFINITY);
    } else {
        for (int k = 1; k < 3 && k < n->nin; k++) {
            const int v = n->in[k];
            if (v < 0)
                continue;
            if (!c->r->is_const[v] || !c->r->val[v].data)
                return refuse(c, n, "bounds that are not constants");
            *(k == 1 ? &lo : &hi) = axmul__tensor_real(&c->r->val[v], 0);
        }
    }
    if (lo == 0 && hi == 6)
        *kind = AXMUL__L_RELU6;
    else if (lo == 0 && isinf(hi))
        *kind = AXMUL__L_RELU;
    else
        return refuse(c, n, "bounds other than [0, 6] and [0, inf)");
    return AXMUL_OK;
}

/* Node n of the graph into the layers (or into the value map, for the no-ops). */
static axmul_status convert_node(conv_state *c, const axmul__node *n)
{
    const int u = n->nin > 0 ? n->in[0] : -1, y = n->out[0];
    axmul__layer *l = NULL;
    axmul__layer_kind kind;
    axmul_status s = AXMUL_OK;
    const axmul__shape *xs = u >= 0 ? &c->r->val[u].sh : NULL;
    switch (n->kind) {
    case AXMUL__OP_Conv:
        s = conv_layer(c, n);
        break;
    case AXMUL__OP_Gemm:
    case AXMUL__OP_MatMul:
        s = dense_layer(c, n);
        break;
    case AXMUL__OP_BatchNormalization:
        s = bn_layer(c, n);
        break;
    case AXMUL__OP_MaxPool:
    case AXMUL__OP_AveragePool:
        s = pool_layer(c, n);
        break;
    case AXMUL__OP_GlobalAveragePool:
    case AXMUL__OP_GlobalMaxPool:
        s = new_layer(c, n,
                      n->kind == AXMUL__OP_GlobalMaxPool ? AXMUL__L_GLOBALMAX : AXMUL__L_GLOBALAVG,
                      u, &l);
        break;
    case AXMUL__OP_Relu:
    case AXMUL__OP_Clip:
    case AXMUL__OP_LeakyRelu:
    case AXMUL__OP_Sigmoid:
    case AXMUL__OP_HardSwish:
        kind = n->kind == AXMUL__OP_LeakyRelu   ? AXMUL__L_LEAKYRELU
               : n->kind == AXMUL__OP_Sigmoid   ? AXMUL__L_SIGMOID
               : n->kind == AXMUL__OP_HardSwish ? AXMUL__L_HARDSWISH
                                                : AXMUL__L_RELU;
        if (n->kind == AXMUL__OP_Clip && (s = clip_kind(c, n, &kind)) != AXMUL_OK)
            return s;
        s = new_layer(c, n, kind, u, &l);
        if (s == AXMUL_OK && kind == AXMUL__L_LEAKYRELU)
            l->eps = axmul__onnx_attr_float(n, "alpha", 0.01f);
        if (s == AXMUL_OK && y >= 0) /* (elementwise: a flattened order stays) */
            memcpy(c->vm[y].chw, c->vm[u].chw, sizeof c->vm[y].chw);
        break;
    case AXMUL__OP_Softmax:
        s = new_layer(c, n, AXMUL__L_SOFTMAX, u, &l);
        break;
    case AXMUL__OP_Flatten:
    case AXMUL__OP_Reshape:
        if (!xs || xs->rank != 4 || c->r->val[y].sh.rank != 2 || c->r->val[y].sh.d[0] != xs->d[0])
            return refuse(c, n, "a reshape other than flattening each image");
        s = new_layer(c, n, AXMUL__L_FLATTEN, u, &l);
        if (s == AXMUL_OK && xs->d[1] > 1 && xs->d[2] * xs->d[3] > 1) {
            c->vm[y].chw[0] = (int)xs->d[1];
            c->vm[y].chw[1] = (int)xs->d[2];
            c->vm[y].chw[2] = (int)xs->d[3];
        }
        break;
    case AXMUL__OP_Add:
    case AXMUL__OP_Sum:
    case AXMUL__OP_Concat: {
        /* Add/Sum: 2..8 layers' outputs of one shape; Concat: 4-D images along the channels */
        const int cat = n->kind == AXMUL__OP_Concat;
        int ok = n->nin >= 2 && n->nin <= AXMUL__MAX_MERGE &&
                 (!cat || axmul__onnx_attr_int(n, "axis", 0) == 1 ||
                  axmul__onnx_attr_int(n, "axis", 0) == -3);
        const axmul__shape *sa = ok ? &c->r->val[n->in[0]].sh : NULL;
        for (int k = 0; ok && k < n->nin; k++) {
            const int v = n->in[k];
            const axmul__shape *sb = v >= 0 ? &c->r->val[v].sh : NULL;
            ok = sb && c->vm[v].layer >= 0 && !c->vm[v].chw[0] && sb->rank == sa->rank &&
                 (cat ? sa->rank == 4 && sb->d[0] == sa->d[0] && sb->d[2] == sa->d[2] &&
                            sb->d[3] == sa->d[3]
                      : memcmp(sa->d, sb->d, sizeof sa->d[0] * (size_t)sa->rank) == 0);
        }
        if (!ok)
            return refuse(c, n,
                          cat ? "it does not concatenate 2 to 8 layers' images along the channels"
                              : "it does not add 2 to 8 layers' outputs of one shape");
        if ((s = new_layer(c, n, cat ? AXMUL__L_CONCAT : AXMUL__L_ADD, -1, &l)) != AXMUL_OK)
            return s;
        l->nadd = n->nin;
        for (int k = 0; k < n->nin; k++) {
            l->add[k] = c->vm[n->in[k]].layer;
            c->m->L[l->add[k]].saved = 1;
        }
        break;
    }
    case AXMUL__OP_Identity:
    case AXMUL__OP_Dropout:
    case AXMUL__OP_Pad: /* (zero pads only: the plan aliased them) */
        if (n->kind == AXMUL__OP_Pad) {
            int step = -1;
            for (int k = 0; k < c->r->nsteps; k++)
                if (c->r->steps[k].node == (int)(n - c->g->nodes))
                    step = k;
            if (step < 0 || !c->r->steps[step].alias)
                return refuse(c, n, "pads other than zeros");
        }
        if (y >= 0)
            c->vm[y] = c->vm[u];
        return AXMUL_OK;
    default:
        return refuse(c, n, "its operator");
    }
    if (s == AXMUL_OK && y >= 0)
        c->vm[y].layer = c->m->nl - 1;
    return s;
}

axmul_status axmul__ox_to_layers(const axmul_model *src, axmul__onnx *g, axmul_model **out)
{
    axmul_model *m = calloc(1, sizeof *m);
    vmap *vm = calloc((size_t)g->nvalues + 1, sizeof *vm);
    if (!m || !vm) {
        free(m);
        free(vm);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    snprintf(m->name, sizeof m->name, "%s", src->name);
    m->in_h = src->in_h;
    m->in_w = src->in_w;
    m->in_c = src->in_c;
    const int64_t n0 = g->v[g->inputs[0]].decl.d[0];
    const axmul__tensor in = {
        AXMUL__DT_FLOAT, {4, {n0 > 0 ? n0 : 1, m->in_c, m->in_h, m->in_w}}, 1, NULL, 0};
    conv_state c = {g, NULL, m, vm, 0};
    axmul_status s = axmul__onnx_plan(g, &in, &c.r);
    for (int v = 0; v < g->nvalues; v++)
        vm[v].layer = -2;
    if (s == AXMUL_OK)
        vm[g->inputs[0]].layer = -1;
    for (int i = 0; i < g->nnodes && s == AXMUL_OK; i++) {
        const axmul__node *n = &g->nodes[i];
        if (n->nout > 0 && n->out[0] >= 0 && c.r->is_const[n->out[0]])
            continue; /* folded into constants */
        s = convert_node(&c, n);
    }
    if (s == AXMUL_OK && (m->nl < 1 || vm[g->outputs[0]].layer != m->nl - 1))
        s = axmul__fail(AXMUL_ERR_UNSUPPORTED,
                        "%s: the graph's output %s is not its last layer's output", g->path,
                        g->v[g->outputs[0]].name);
    if (s == AXMUL_OK)
        s = axmul__model_resolve(m, g->path);
    free(vm);
    if (s != AXMUL_OK) {
        axmul_model_free(m);
        return s;
    }
    *out = m;
    return AXMUL_OK;
}
