/* axmul: ONNX's operators that move data without arithmetic: Constant, ConstantOfShape, Shape,
 * Gather, Unsqueeze, Squeeze, Concat, Reshape, Flatten, Transpose, Expand and Slice, in the plain
 * (row-major) layout and for every element type. The chains that exporters write to compute
 * shapes (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) take constant inputs once the
 * input shapes are known, and the runtime folds them before the first image. */
#include "config.h"

#include <string.h>

#include "lib/net/onnx/ops.h"

/* The reshaping operators' one kernel: the elements in the plain order, from an NHWC input
 * in one transposing pass (the plan makes the output share a plain input's buffer instead, with
 * no step to run: axmul__onnx_aliases). */
static axmul_status copy_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    (void)c;
    if (in[0]->nhwc && in[0]->sh.rank == 4 && !axmul__tensor_layouts_coincide(in[0])) {
        axmul__tensor dst = *in[0];
        dst.nhwc = 0;
        dst.data = out->data;
        axmul__tensor_relayout(in[0], &dst);
        return AXMUL_OK;
    }
    if (out->data != in[0]->data)
        memcpy(out->data, in[0]->data,
               (size_t)axmul__shape_count(&out->sh) * axmul__dt_size(out->dt));
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- Constant, ConstantOfShape */

static axmul_status constant_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                   axmul__tensor *out)
{
    (void)in;
    const axmul__node *n = c->node;
    const axmul__attr *a = n->nattr == 1 ? &n->attr[0] : NULL;
    if (!a)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "needs exactly one attribute");
    memset(&out->sh, 0, sizeof out->sh);
    if (strcmp(a->name, "value") == 0 && a->t) {
        out->dt = a->t->dt;
        out->sh = a->t->sh;
    } else if (strcmp(a->name, "value_float") == 0) {
        out->dt = AXMUL__DT_FLOAT;
    } else if (strcmp(a->name, "value_int") == 0) {
        out->dt = AXMUL__DT_INT64;
    } else if (strcmp(a->name, "value_floats") == 0 || strcmp(a->name, "value_ints") == 0) {
        out->dt = a->name[6] == 'f' ? AXMUL__DT_FLOAT : AXMUL__DT_INT64;
        out->sh.rank = 1;
        out->sh.d[0] = (int64_t)(a->name[6] == 'f' ? a->nfloats : a->nints);
    } else
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "attribute %s (supported: value, value_float(s), value_int(s))",
                                a->name);
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status constant_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    (void)in;
    const axmul__attr *a = &c->node->attr[0];
    const int64_t n = axmul__shape_count(&out->sh);
    if (a->t)
        memcpy(out->data, a->t->data, (size_t)n * axmul__dt_size(out->dt));
    else if (strcmp(a->name, "value_float") == 0)
        *(float *)out->data = a->f;
    else if (strcmp(a->name, "value_int") == 0)
        *(int64_t *)out->data = a->i;
    else if (a->name[6] == 'f')
        memcpy(out->data, a->floats, (size_t)n * sizeof(float));
    else
        memcpy(out->data, a->ints, (size_t)n * sizeof(int64_t));
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Constant = {"Constant", AXMUL__LAYOUT_PLAIN, constant_shape,
                                             constant_run};

static axmul_status cos_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    int64_t d[AXMUL__ONNX_MAX_RANK];
    int n;
    axmul_status s = axmul__onnx_const_ints(c, in, 0, "shape", d, &n, AXMUL__ONNX_MAX_RANK);
    if (s != AXMUL_OK)
        return s;
    const axmul__attr *v = axmul__onnx_attr(c->node, "value");
    if (v && (!v->t || axmul__shape_count(&v->t->sh) != 1))
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "value must be a one-element tensor");
    out->dt = v ? v->t->dt : AXMUL__DT_FLOAT;
    out->sh.rank = n;
    for (int k = 0; k < n; k++)
        if ((out->sh.d[k] = d[k]) < 0)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "negative dimension %lld",
                                    (long long)d[k]);
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status cos_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                            axmul__tensor *out)
{
    (void)in;
    const axmul__attr *v = axmul__onnx_attr(c->node, "value");
    const size_t es = axmul__dt_size(out->dt);
    const int64_t n = axmul__shape_count(&out->sh);
    for (int64_t k = 0; v && k < n; k++) /* (zeros without a value: as allocated) */
        memcpy((uint8_t *)out->data + k * (int64_t)es, v->t->data, es);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_ConstantOfShape = {"ConstantOfShape", AXMUL__LAYOUT_PLAIN,
                                                    cos_shape, cos_run};

/* ---------------------------------------------------------------- Shape */

static void shape_range(const axmul__onnx_ctx *c, int rank, int64_t *b, int64_t *e)
{
    *b = axmul__onnx_attr_int(c->node, "start", 0);
    *e = axmul__onnx_attr_int(c->node, "end", rank);
    *b = *b < 0 ? *b + rank : *b;
    *e = *e < 0 ? *e + rank : *e;
    *b = *b < 0 ? 0 : *b > rank ? rank : *b;
    *e = *e < 0 ? 0 : *e > rank ? rank : *e;
    if (*e < *b)
        *e = *b;
}

static axmul_status shape_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    int64_t b, e;
    shape_range(c, in[0]->sh.rank, &b, &e);
    out->dt = AXMUL__DT_INT64;
    out->sh.rank = 1;
    out->sh.d[0] = e - b;
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status shape_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    int64_t b, e;
    shape_range(c, in[0]->sh.rank, &b, &e);
    for (int64_t k = b; k < e; k++)
        ((int64_t *)out->data)[k - b] = in[0]->sh.d[k];
    return AXMUL_OK;
}

/* (its input's layout does not matter: it reads the shape only) */
const axmul__onnx_op axmul__onnx_Shape = {"Shape", AXMUL__LAYOUT_ANY, shape_shape, shape_run};

/* ---------------------------------------------------------------- Gather */

static axmul_status gather_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    const axmul__tensor *x = in[0], *ix = axmul__onnx_in(c, in, 1);
    int axis;
    axmul_status s = axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 0), x->sh.rank,
                                      "axis", &axis);
    if (s != AXMUL_OK)
        return s;
    if (!ix || (ix->dt != AXMUL__DT_INT64 && ix->dt != AXMUL__DT_INT32))
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "indices must be int32 or int64");
    if (x->sh.rank == 0 || x->sh.rank - 1 + ix->sh.rank > AXMUL__ONNX_MAX_RANK)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "ranks %d and %d", x->sh.rank,
                                ix->sh.rank);
    out->dt = x->dt;
    out->sh.rank = 0;
    for (int k = 0; k < axis; k++)
        out->sh.d[out->sh.rank++] = x->sh.d[k];
    for (int k = 0; k < ix->sh.rank; k++)
        out->sh.d[out->sh.rank++] = ix->sh.d[k];
    for (int k = axis + 1; k < x->sh.rank; k++)
        out->sh.d[out->sh.rank++] = x->sh.d[k];
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status gather_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    const axmul__tensor *x = in[0], *ix = in[1];
    int axis;
    axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 0), x->sh.rank, "axis", &axis);
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++)
        outer *= x->sh.d[k];
    for (int k = axis + 1; k < x->sh.rank; k++)
        inner *= x->sh.d[k];
    const int64_t dim = x->sh.d[axis], ni = axmul__shape_count(&ix->sh);
    const size_t es = axmul__dt_size(x->dt), blk = (size_t)inner * es;
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = axmul__tensor_int(ix, j);
        if (v < -dim || v >= dim)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "index %lld is out of range for %lld",
                                    (long long)v, (long long)dim);
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t v = axmul__tensor_int(ix, j);
            v = v < 0 ? v + dim : v;
            memcpy((uint8_t *)out->data + (size_t)(o * ni + j) * blk,
                   (const uint8_t *)x->data + (size_t)(o * dim + v) * blk, blk);
        }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Gather = {"Gather", AXMUL__LAYOUT_PLAIN, gather_shape,
                                           gather_run};

/* ---------------------------------------------------------------- Unsqueeze, Squeeze */

/* The axes of (Un)squeeze: the attribute before opset 13, input 1 after. */
static axmul_status squeeze_axes(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 int64_t *ax, int *n, int *given)
{
    *n = 0;
    *given = 0;
    if (c->g->opset < 13) {
        size_t cnt;
        const int64_t *a = axmul__onnx_attr_ints(c->node, "axes", &cnt);
        if (cnt > AXMUL__ONNX_MAX_RANK)
            return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "%zu axes", cnt);
        if (cnt) /* (an absent or empty list: NULL) */
            memcpy(ax, a, cnt * sizeof *ax);
        *n = (int)cnt;
        *given = a != NULL;
        return AXMUL_OK;
    }
    if (!axmul__onnx_in(c, in, 1))
        return AXMUL_OK;
    *given = 1;
    return axmul__onnx_const_ints(c, in, 1, "axes", ax, n, AXMUL__ONNX_MAX_RANK);
}

static axmul_status unsqueeze_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                    axmul__tensor *out)
{
    int64_t ax[AXMUL__ONNX_MAX_RANK];
    int n, given;
    axmul_status s = squeeze_axes(c, in, ax, &n, &given);
    if (s != AXMUL_OK)
        return s;
    const int r = in[0]->sh.rank + n;
    if (!given || r > AXMUL__ONNX_MAX_RANK)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "no axes, or a result of rank %d", r);
    int is_new[AXMUL__ONNX_MAX_RANK] = {0};
    for (int k = 0; k < n; k++) {
        int a;
        if ((s = axmul__onnx_axis(c, ax[k], r, "axes", &a)) != AXMUL_OK)
            return s;
        if (is_new[a]++)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "axis %d given twice", a);
    }
    out->dt = in[0]->dt;
    out->sh.rank = r;
    for (int k = 0, j = 0; k < r; k++)
        out->sh.d[k] = is_new[k] ? 1 : in[0]->sh.d[j++];
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status squeeze_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                  axmul__tensor *out)
{
    int64_t ax[AXMUL__ONNX_MAX_RANK];
    int n, given;
    axmul_status s = squeeze_axes(c, in, ax, &n, &given);
    if (s != AXMUL_OK)
        return s;
    const axmul__shape *x = &in[0]->sh;
    int drop[AXMUL__ONNX_MAX_RANK] = {0};
    for (int k = 0; k < n; k++) {
        int a;
        if ((s = axmul__onnx_axis(c, ax[k], x->rank, "axes", &a)) != AXMUL_OK)
            return s;
        if (x->d[a] != 1)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "axis %d has %lld elements, not 1", a,
                                    (long long)x->d[a]);
        drop[a] = 1;
    }
    out->dt = in[0]->dt;
    out->sh.rank = 0;
    for (int k = 0; k < x->rank; k++)
        if (!(given ? drop[k] : x->d[k] == 1))
            out->sh.d[out->sh.rank++] = x->d[k];
    out->nhwc = 0;
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Unsqueeze = {"Unsqueeze", AXMUL__LAYOUT_ANY, unsqueeze_shape,
                                              copy_run};
const axmul__onnx_op axmul__onnx_Squeeze = {"Squeeze", AXMUL__LAYOUT_ANY, squeeze_shape,
                                            copy_run};

/* ---------------------------------------------------------------- Concat */

static axmul_status concat_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    const int n = c->node->nin;
    if (n < 1 || !in[0])
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "no inputs");
    const axmul__shape *s0 = &in[0]->sh;
    int axis;
    axmul_status s = axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 0), s0->rank,
                                      "axis", &axis);
    if (s != AXMUL_OK)
        return s;
    out->dt = in[0]->dt;
    out->sh = *s0;
    out->sh.d[axis] = 0;
    for (int k = 0; k < n; k++) {
        const axmul__tensor *t = in[k];
        if (!t || t->dt != out->dt || t->sh.rank != s0->rank)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "input %d differs in type or rank", k);
        for (int d = 0; d < s0->rank; d++)
            if (d != axis && t->sh.d[d] != s0->d[d]) {
                char a[128], b[128];
                return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "inputs of shapes %s and %s",
                                        axmul__shape_text(s0, a, sizeof a),
                                        axmul__shape_text(&t->sh, b, sizeof b));
            }
        out->sh.d[axis] += t->sh.d[axis];
    }
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status concat_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    int axis;
    axmul__onnx_axis(c, axmul__onnx_attr_int(c->node, "axis", 0), out->sh.rank, "axis", &axis);
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++)
        outer *= out->sh.d[k];
    for (int k = axis + 1; k < out->sh.rank; k++)
        inner *= out->sh.d[k];
    const size_t es = axmul__dt_size(out->dt);
    uint8_t *dst = out->data;
    const size_t row = (size_t)(out->sh.d[axis] * inner) * es;
    size_t at = 0;
    for (int k = 0; k < c->node->nin; k++) {
        const size_t blk = (size_t)(in[k]->sh.d[axis] * inner) * es;
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + (size_t)o * row + at, (const uint8_t *)in[k]->data + (size_t)o * blk,
                   blk);
        at += blk;
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Concat = {"Concat", AXMUL__LAYOUT_PLAIN, concat_shape,
                                           concat_run};

/* ---------------------------------------------------------------- Reshape, Flatten */

static axmul_status reshape_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                  axmul__tensor *out)
{
    int64_t d[AXMUL__ONNX_MAX_RANK];
    int n;
    axmul_status s;
    if (c->g->opset < 5) {
        size_t cnt;
        const int64_t *a = axmul__onnx_attr_ints(c->node, "shape", &cnt);
        if (cnt > AXMUL__ONNX_MAX_RANK)
            return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "rank %zu", cnt);
        if (cnt) /* (an absent or empty list: NULL) */
            memcpy(d, a, cnt * sizeof *d);
        n = (int)cnt;
    } else if ((s = axmul__onnx_const_ints(c, in, 1, "shape", d, &n, AXMUL__ONNX_MAX_RANK)) != AXMUL_OK)
        return s;
    const int allowzero = (int)axmul__onnx_attr_int(c->node, "allowzero", 0);
    const axmul__shape *x = &in[0]->sh;
    int64_t known = 1;
    int infer = -1;
    for (int k = 0; k < n; k++) {
        if (d[k] == 0 && !allowzero) {
            if (k >= x->rank)
                return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "shape[%d] = 0 copies no dimension",
                                        k);
            d[k] = x->d[k];
        }
        if (d[k] == -1) {
            if (infer >= 0)
                return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "two dimensions are -1");
            infer = k;
        } else if (d[k] < 0 || d[k] > INT32_MAX)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "shape[%d] = %lld", k, (long long)d[k]);
        else if (known > INT32_MAX / (d[k] ? d[k] : 1))
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "a shape of more than 2^31 elements");
        else
            known *= d[k];
    }
    const int64_t total = axmul__shape_count(x);
    if (infer >= 0)
        d[infer] = known ? total / known : 0;
    out->dt = in[0]->dt;
    out->sh.rank = n;
    memcpy(out->sh.d, d, sizeof *d * (size_t)n);
    out->nhwc = 0;
    if (axmul__shape_count(&out->sh) != total) {
        char a[128], b[128];
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "a tensor of shape %s cannot be reshaped to %s",
                                axmul__shape_text(x, a, sizeof a),
                                axmul__shape_text(&out->sh, b, sizeof b));
    }
    return AXMUL_OK;
}

static axmul_status flatten_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                  axmul__tensor *out)
{
    const axmul__shape *x = &in[0]->sh;
    int64_t axis = axmul__onnx_attr_int(c->node, "axis", 1);
    if (axis < -x->rank || axis > x->rank)
        return axmul__onnx_fail(c, AXMUL_ERR_INVALID_ARGUMENT, "axis = %lld for rank %d",
                                (long long)axis, x->rank);
    axis = axis < 0 ? axis + x->rank : axis;
    int64_t a = 1, b = 1;
    for (int k = 0; k < x->rank; k++)
        *(k < axis ? &a : &b) *= x->d[k];
    out->dt = in[0]->dt;
    out->sh.rank = 2;
    out->sh.d[0] = a;
    out->sh.d[1] = b;
    out->nhwc = 0;
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Reshape = {"Reshape", AXMUL__LAYOUT_ANY, reshape_shape,
                                            copy_run};
const axmul__onnx_op axmul__onnx_Flatten = {"Flatten", AXMUL__LAYOUT_ANY, flatten_shape,
                                            copy_run};

/* ---------------------------------------------------------------- Transpose */

static axmul_status transpose_perm(const axmul__onnx_ctx *c, int rank, int *perm)
{
    size_t n;
    const int64_t *p = axmul__onnx_attr_ints(c->node, "perm", &n);
    if (!p) {
        for (int k = 0; k < rank; k++)
            perm[k] = rank - 1 - k;
        return AXMUL_OK;
    }
    int seen[AXMUL__ONNX_MAX_RANK] = {0};
    if ((int)n != rank)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "perm has %zu entries for rank %d", n, rank);
    for (int k = 0; k < rank; k++) {
        if (p[k] < 0 || p[k] >= rank || seen[p[k]]++)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "perm is not a permutation");
        perm[k] = (int)p[k];
    }
    return AXMUL_OK;
}

static axmul_status transpose_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                    axmul__tensor *out)
{
    int perm[AXMUL__ONNX_MAX_RANK];
    axmul_status s = transpose_perm(c, in[0]->sh.rank, perm);
    if (s != AXMUL_OK)
        return s;
    out->dt = in[0]->dt;
    out->sh.rank = in[0]->sh.rank;
    for (int k = 0; k < out->sh.rank; k++)
        out->sh.d[k] = in[0]->sh.d[perm[k]];
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status transpose_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                  axmul__tensor *out)
{
    int perm[AXMUL__ONNX_MAX_RANK];
    int64_t st[AXMUL__ONNX_MAX_RANK], own[AXMUL__ONNX_MAX_RANK];
    transpose_perm(c, in[0]->sh.rank, perm);
    axmul__onnx_plain_strides(&in[0]->sh, own);
    for (int k = 0; k < out->sh.rank; k++)
        st[k] = own[perm[k]];
    axmul__onnx_copy_strided(in[0], 0, st, out);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Transpose = {"Transpose", AXMUL__LAYOUT_PLAIN, transpose_shape,
                                              transpose_run};

/* ---------------------------------------------------------------- Expand */

static axmul_status expand_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    axmul__shape want = {0};
    axmul_status s = axmul__onnx_const_ints(c, in, 1, "shape", want.d, &want.rank, AXMUL__ONNX_MAX_RANK);
    if (s != AXMUL_OK)
        return s;
    out->dt = in[0]->dt;
    out->nhwc = 0;
    return axmul__onnx_broadcast(c, &in[0]->sh, &want, &out->sh);
}

static axmul_status expand_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    int64_t st[AXMUL__ONNX_MAX_RANK];
    (void)c;
    axmul__onnx_strides(in[0], &out->sh, st);
    axmul__onnx_copy_strided(in[0], 0, st, out);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Expand = {"Expand", AXMUL__LAYOUT_PLAIN, expand_shape,
                                           expand_run};

/* ---------------------------------------------------------------- Slice */

/* Per dimension of the input: first element and step (in elements of that dimension) of the
 * slice, and the output dims. */
static axmul_status slice_plan(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               int64_t *first, int64_t *step, axmul__shape *os)
{
    const axmul__shape *x = &in[0]->sh;
    int64_t st[AXMUL__ONNX_MAX_RANK], en[AXMUL__ONNX_MAX_RANK], ax[AXMUL__ONNX_MAX_RANK],
        sp[AXMUL__ONNX_MAX_RANK];
    int n = 0, ne = 0, na = -1, ns = -1;
    axmul_status s = AXMUL_OK;
    if (c->g->opset < 10) {
        size_t a, b, d;
        const int64_t *pa = axmul__onnx_attr_ints(c->node, "starts", &a);
        const int64_t *pb = axmul__onnx_attr_ints(c->node, "ends", &b);
        const int64_t *pd = axmul__onnx_attr_ints(c->node, "axes", &d);
        if (a > AXMUL__ONNX_MAX_RANK || b != a || (pd && d != a))
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "starts, ends and axes differ in size");
        if (a) /* (an absent or empty list: NULL) */
            memcpy(st, pa, a * sizeof *st);
        if (b) /* (an absent or empty list: NULL) */
            memcpy(en, pb, b * sizeof *en);
        if (pd)
            if (d) /* (an absent or empty list: NULL) */
                memcpy(ax, pd, d * sizeof *ax);
        n = ne = (int)a;
        na = pd ? (int)d : -1;
    } else if ((s = axmul__onnx_const_ints(c, in, 1, "starts", st, &n, AXMUL__ONNX_MAX_RANK)) ||
               (s = axmul__onnx_const_ints(c, in, 2, "ends", en, &ne, AXMUL__ONNX_MAX_RANK)) ||
               (axmul__onnx_in(c, in, 3) &&
                (s = axmul__onnx_const_ints(c, in, 3, "axes", ax, &na, AXMUL__ONNX_MAX_RANK))) ||
               (axmul__onnx_in(c, in, 4) &&
                (s = axmul__onnx_const_ints(c, in, 4, "steps", sp, &ns, AXMUL__ONNX_MAX_RANK))))
        return s;
    if (ne != n || (na >= 0 && na != n) || (ns >= 0 && ns != n))
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "starts, ends, axes and steps differ in size");
    *os = *x;
    for (int k = 0; k < x->rank; k++) {
        first[k] = 0;
        step[k] = 1;
    }
    int used[AXMUL__ONNX_MAX_RANK] = {0};
    for (int k = 0; k < n; k++) {
        int a = k;
        if (na >= 0 && (s = axmul__onnx_axis(c, ax[k], x->rank, "axes", &a)) != AXMUL_OK)
            return s;
        if (used[a]++)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "axis %d is sliced twice", a);
        const int64_t dim = x->d[a], p = ns >= 0 ? sp[k] : 1;
        if (p == 0 || p > INT32_MAX || p < -INT32_MAX)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "a step of %lld", (long long)p);
        int64_t b = st[k] < 0 ? st[k] + dim : st[k], e = en[k] < 0 ? en[k] + dim : en[k];
        if (p > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
        } else {
            b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        }
        int64_t len = p > 0 ? (e - b + p - 1) / p : (b - e + (-p) - 1) / (-p);
        os->d[a] = len > 0 ? len : 0;
        first[a] = b;
        step[a] = p;
    }
    return AXMUL_OK;
}

static axmul_status slice_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    int64_t first[AXMUL__ONNX_MAX_RANK], step[AXMUL__ONNX_MAX_RANK];
    out->dt = in[0]->dt;
    out->nhwc = 0;
    return slice_plan(c, in, first, step, &out->sh);
}

static axmul_status slice_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    int64_t first[AXMUL__ONNX_MAX_RANK], step[AXMUL__ONNX_MAX_RANK], own[AXMUL__ONNX_MAX_RANK];
    axmul__shape os;
    axmul_status s = slice_plan(c, in, first, step, &os);
    if (s != AXMUL_OK)
        return s;
    axmul__onnx_plain_strides(&in[0]->sh, own);
    int64_t base = 0, st[AXMUL__ONNX_MAX_RANK];
    for (int k = 0; k < os.rank; k++) {
        if (os.d[k])
            base += first[k] * own[k];
        st[k] = step[k] * own[k];
    }
    axmul__onnx_copy_strided(in[0], base, st, out);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Slice = {"Slice", AXMUL__LAYOUT_PLAIN, slice_shape, slice_run};

