/* axmul: ONNX's elementwise operators: the broadcasting arithmetic and comparisons (Add, Sub, Mul,
 * Div, Pow, Min, Max, Equal, Less, Greater, Where), the activations and other unary functions,
 * Clip, Cast, Identity and Dropout (inference). They take tensors in either layout: each input
 * is read through its strides, the output keeps an NHWC input's layout. Float tensors take the
 * float loops; integer and boolean ones (shape computations) a generic path through double,
 * exact for the values those carry. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lib/net/net.h"
#include "lib/net/onnx/ops.h"

/* The loops of the cheap float functions on the kernel's threads, as the model.json layers'. */
#ifdef _OPENMP
#define PAR_LOOP                                                                                   \
    _Pragma("omp parallel for simd num_threads(nt) schedule(static) if (n >= AXMUL__PAR_MIN)")
#else
#define PAR_LOOP
#endif

/* ---------------------------------------------------------------- broadcasting operators */

static int is_compare(int kind)
{
    return kind == AXMUL__OP_Equal || kind == AXMUL__OP_Less || kind == AXMUL__OP_Greater;
}

static int is_logic(int kind)
{
    return kind == AXMUL__OP_And || kind == AXMUL__OP_Or || kind == AXMUL__OP_Xor;
}

static int is_variadic(int kind)
{
    return kind == AXMUL__OP_Min || kind == AXMUL__OP_Max || kind == AXMUL__OP_Sum ||
           kind == AXMUL__OP_Mean;
}

/* Output shape of n broadcast inputs; its layout NHWC when an NHWC input has that shape. */
static axmul_status broadcast_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                    int first, int n, axmul__tensor *out)
{
    axmul__shape s = in[first]->sh;
    for (int k = first + 1; k < n; k++) {
        axmul_status st = axmul__onnx_broadcast(c, &s, &in[k]->sh, &s);
        if (st != AXMUL_OK)
            return st;
    }
    out->sh = s;
    out->nhwc = 0;
    for (int k = first; k < n; k++)
        if (in[k]->nhwc && in[k]->sh.rank == 4 && s.rank == 4 &&
            memcmp(in[k]->sh.d, s.d, sizeof s.d[0] * 4) == 0)
            out->nhwc = 1;
    return AXMUL_OK;
}

/* Before opset 7 the second operand broadcast only when broadcast = 1, its dims aligned at
 * axis (default: the trailing ones): the header of b with the dims of ones that say so. */
static const axmul__tensor *legacy_b(const axmul__onnx_ctx *c, const axmul__tensor *a,
                                     const axmul__tensor *b, axmul__tensor *tmp)
{
    /* (PRelu's slope: one per channel, axis 1) */
    const int prelu = c->node->kind == AXMUL__OP_PRelu && a && b && b->sh.rank == 1 &&
                      a->sh.rank > 1 && b->sh.d[0] == a->sh.d[1] && b->sh.d[0] > 1;
    if (c->g->opset >= 7 || !a || !b || (!prelu && !axmul__onnx_attr_int(c->node, "broadcast", 0)))
        return b;
    const int64_t axis = prelu ? 1 : axmul__onnx_attr_int(c->node, "axis", a->sh.rank - b->sh.rank);
    if (axis < 0 || axis + b->sh.rank > a->sh.rank)
        return b;
    *tmp = *b;
    tmp->owned = 0;
    tmp->sh.rank = (int)(axis + b->sh.rank);
    for (int k = 0; k < tmp->sh.rank; k++)
        tmp->sh.d[k] = k < axis ? 1 : b->sh.d[k - axis];
    tmp->sh.rank = a->sh.rank;
    for (int k = (int)(axis + b->sh.rank); k < a->sh.rank; k++)
        tmp->sh.d[k] = 1;
    return tmp;
}

static axmul_status binary_shape_of(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                    axmul__tensor *out);

static axmul_status binary_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    axmul__tensor tb;
    const axmul__tensor *v[2] = {in[0], c->node->nin > 1 ? in[1] : NULL};
    if (c->node->nin == 2) {
        v[1] = legacy_b(c, in[0], in[1], &tb);
        return binary_shape_of(c, v, out);
    }
    return binary_shape_of(c, in, out);
}

static axmul_status binary_shape_of(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                    axmul__tensor *out)
{
    const int kind = c->node->kind, n = c->node->nin;
    const int variadic = is_variadic(kind);
    if ((variadic && n < 1) || (!variadic && n != 2))
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "%d inputs", n);
    if (is_logic(kind) && in[0] && in[0]->dt != AXMUL__DT_BOOL)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "inputs of type %s (bool expected)",
                                axmul__dt_name(in[0]->dt));
    if ((kind == AXMUL__OP_Mean || kind == AXMUL__OP_PRelu) && in[0] &&
        in[0]->dt != AXMUL__DT_FLOAT)
        return axmul__onnx_need_float(c, in[0], "the input");
    for (int k = 0; k < n; k++) {
        if (!in[k])
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "input %d is missing", k);
        if (in[k]->dt != in[0]->dt && kind != AXMUL__OP_Pow)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "inputs of types %s and %s",
                                    axmul__dt_name(in[0]->dt), axmul__dt_name(in[k]->dt));
    }
    out->dt = is_compare(kind) || is_logic(kind) ? AXMUL__DT_BOOL : in[0]->dt;
    axmul_status s = broadcast_shape(c, in, 0, n, out);
    if (out->dt != AXMUL__DT_FLOAT)
        out->nhwc = 0;
    return s;
}

/* The storage-order loop over the output of o, with the strides of up to 3 inputs: fn gets, for
 * each innermost run, the offsets of the inputs, their innermost strides and the run length. */
typedef struct {
    int nin;
    int64_t st[3][AXMUL__ONNX_MAX_RANK];
} strided;

typedef void (*run_fn)(void *ctx, const int64_t *off, const int64_t *inner, int64_t len,
                       int64_t out_off);

static void loop_strided(const axmul__tensor *o, strided *sv, run_fn fn, void *ctx)
{
    const int r = o->sh.rank;
    const int64_t total = axmul__shape_count(&o->sh);
    int64_t off[3] = {0, 0, 0}, inner[3] = {0, 0, 0};
    if (total == 0)
        return;
    if (r == 0) {
        fn(ctx, off, inner, 1, 0);
        return;
    }
    int ord[AXMUL__ONNX_MAX_RANK];
    axmul__onnx_storage_order(o, ord);
    const int in_dim = ord[r - 1];
    const int64_t len = o->sh.d[in_dim];
    for (int k = 0; k < sv->nin; k++)
        inner[k] = sv->st[k][in_dim];
    int64_t idx[AXMUL__ONNX_MAX_RANK] = {0};
    for (int64_t done = 0; done < total; done += len) {
        fn(ctx, off, inner, len, done);
        for (int q = r - 2; q >= 0; q--) {
            const int d = ord[q];
            for (int k = 0; k < sv->nin; k++)
                off[k] += sv->st[k][d];
            if (++idx[d] < o->sh.d[d])
                break;
            for (int k = 0; k < sv->nin; k++)
                off[k] -= sv->st[k][d] * o->sh.d[d];
            idx[d] = 0;
        }
    }
}

/* Mod with fmod = 1: C's fmod (the sign of the dividend) */
#define MOD_FMOD (AXMUL__OP_COUNT + 1)

typedef struct {
    int kind;
    const axmul__tensor *a, *b, *cnd;
    axmul__tensor *y;
} binary_job;

static void binary_float(void *ctx, const int64_t *off, const int64_t *inner, int64_t len,
                         int64_t oo)
{
    const binary_job *j = ctx;
    const float *a = axmul__onnx_f(j->a) + off[0], *b = axmul__onnx_f(j->b) + off[1];
    const int64_t ia = inner[0], ib = inner[1];
    float *y = j->y->dt == AXMUL__DT_FLOAT ? axmul__onnx_f(j->y) + oo : NULL;
    uint8_t *yb = (uint8_t *)j->y->data + oo;
    switch (j->kind) {
    case AXMUL__OP_Add:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] + b[i * ib];
        break;
    case AXMUL__OP_Sub:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] - b[i * ib];
        break;
    case AXMUL__OP_Mul:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] * b[i * ib];
        break;
    case AXMUL__OP_Div:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] / b[i * ib];
        break;
    case AXMUL__OP_Pow:
        for (int64_t i = 0; i < len; i++)
            y[i] = powf(a[i * ia], b[i * ib]);
        break;
    case AXMUL__OP_Min:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] < b[i * ib] || isnan(a[i * ia]) ? a[i * ia] : b[i * ib];
        break;
    case AXMUL__OP_Max:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] > b[i * ib] || isnan(a[i * ia]) ? a[i * ia] : b[i * ib];
        break;
    case AXMUL__OP_Equal:
        for (int64_t i = 0; i < len; i++)
            yb[i] = a[i * ia] == b[i * ib];
        break;
    case AXMUL__OP_Less:
        for (int64_t i = 0; i < len; i++)
            yb[i] = a[i * ia] < b[i * ib];
        break;
    case AXMUL__OP_Greater:
        for (int64_t i = 0; i < len; i++)
            yb[i] = a[i * ia] > b[i * ib];
        break;
    case AXMUL__OP_Sum:
    case AXMUL__OP_Mean: /* (Mean divides once, at the end) */
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] + b[i * ib];
        break;
    case AXMUL__OP_PRelu:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i * ia] < 0 ? a[i * ia] * b[i * ib] : a[i * ia];
        break;
    case MOD_FMOD:
        for (int64_t i = 0; i < len; i++)
            y[i] = fmodf(a[i * ia], b[i * ib]);
        break;
    }
}

static double apply_real(int kind, int integer, double a, double b)
{
    switch (kind) {
    case MOD_FMOD:
        return b == 0 ? 0 : fmod(a, b);
    case AXMUL__OP_Sum:
    case AXMUL__OP_Mean:
        return a + b;
    case AXMUL__OP_And:
        return a != 0 && b != 0;
    case AXMUL__OP_Or:
        return a != 0 || b != 0;
    case AXMUL__OP_Xor:
        return (a != 0) != (b != 0);
    case AXMUL__OP_Mod: /* integers: the sign of the divisor, as Python's % */
        if (b == 0)
            return 0;
        if (integer) {
            double r = fmod(a, b);
            return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
        }
        return fmod(a, b);
    case AXMUL__OP_Add:
        return a + b;
    case AXMUL__OP_Sub:
        return a - b;
    case AXMUL__OP_Mul:
        return a * b;
    case AXMUL__OP_Div:
        if (integer)
            return b == 0 ? 0 : trunc(a / b);
        return a / b;
    case AXMUL__OP_Pow:
        return pow(a, b);
    case AXMUL__OP_Min:
        return a < b ? a : b;
    case AXMUL__OP_Max:
        return a > b ? a : b;
    case AXMUL__OP_Equal:
        return a == b;
    case AXMUL__OP_Less:
        return a < b;
    case AXMUL__OP_Greater:
        return a > b;
    }
    return 0;
}

static void binary_generic(void *ctx, const int64_t *off, const int64_t *inner, int64_t len,
                           int64_t oo)
{
    const binary_job *j = ctx;
    const int integer = j->a->dt != AXMUL__DT_FLOAT;
    for (int64_t i = 0; i < len; i++) {
        double a = axmul__tensor_real(j->a, off[0] + i * inner[0]);
        double b = axmul__tensor_real(j->b, off[1] + i * inner[1]);
        axmul__onnx_set_real(j->y, oo + i, apply_real(j->kind, integer, a, b));
    }
}

static axmul_status binary_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    const int n = c->node->nin;
    axmul__tensor tb;
    const axmul__tensor *legacy[2] = {in[0], n == 2 ? legacy_b(c, in[0], in[1], &tb) : NULL};
    if (n == 2)
        in = legacy;
    binary_job j = {c->node->kind, in[0], n > 1 ? in[1] : in[0], NULL, out};
    if (j.kind == AXMUL__OP_Mod && axmul__onnx_attr_int(c->node, "fmod", 0))
        j.kind = MOD_FMOD;
    const size_t es = axmul__dt_size(out->dt);
    if (c->node->kind == AXMUL__OP_Mod && in[0]->dt == AXMUL__DT_FLOAT &&
        !axmul__onnx_attr_int(c->node, "fmod", 0))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "Mod of floats needs fmod = 1");
    if (n == 1) { /* Min/Max/Sum/Mean of one input: a copy, broadcast trivially */
        memcpy(out->data, in[0]->data, (size_t)axmul__shape_count(&out->sh) * es);
        return AXMUL_OK;
    }
    /* Min/Max of more than two inputs: pairwise into the output (reading it as input 0) */
    axmul__tensor acc = *out;
    for (int k = 1; k < n; k++) {
        j.a = k == 1 ? in[0] : &acc;
        j.b = in[k];
        strided sv = {2, {{0}}};
        axmul__onnx_strides(j.a, &out->sh, sv.st[0]);
        axmul__onnx_strides(j.b, &out->sh, sv.st[1]);
        const int fl = j.a->dt == AXMUL__DT_FLOAT && j.b->dt == AXMUL__DT_FLOAT;
        loop_strided(out, &sv, fl ? binary_float : binary_generic, &j);
    }
    if (c->node->kind == AXMUL__OP_Mean)
        for (int64_t k = 0; k < axmul__shape_count(&out->sh); k++)
            ((float *)out->data)[k] /= (float)n;
    return AXMUL_OK;
}

#define BINARY_OP(op)                                                                              \
    const axmul__onnx_op axmul__onnx_##op = {#op, AXMUL__LAYOUT_ANY, binary_shape, binary_run};
BINARY_OP(Add)
BINARY_OP(Sub)
BINARY_OP(Mul)
BINARY_OP(Div)
BINARY_OP(Pow)
BINARY_OP(Min)
BINARY_OP(Max)
BINARY_OP(Equal)
BINARY_OP(Less)
BINARY_OP(Greater)
BINARY_OP(Mod)
BINARY_OP(And)
BINARY_OP(Or)
BINARY_OP(Xor)
BINARY_OP(Sum)
BINARY_OP(Mean)
BINARY_OP(PRelu)

/* ---------------------------------------------------------------- Where */

static axmul_status where_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    if (c->node->nin != 3 || !in[0] || !in[1] || !in[2])
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "needs 3 inputs");
    if (in[0]->dt != AXMUL__DT_BOOL || in[1]->dt != in[2]->dt)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "input types %s, %s, %s",
                                axmul__dt_name(in[0]->dt), axmul__dt_name(in[1]->dt),
                                axmul__dt_name(in[2]->dt));
    out->dt = in[1]->dt;
    axmul_status s = broadcast_shape(c, in, 0, 3, out);
    if (out->dt != AXMUL__DT_FLOAT)
        out->nhwc = 0;
    return s;
}

static void where_part(void *ctx, const int64_t *off, const int64_t *inner, int64_t len, int64_t oo)
{
    const binary_job *j = ctx;
    const uint8_t *cd = (const uint8_t *)j->cnd->data + off[0];
    const size_t es = axmul__dt_size(j->y->dt);
    uint8_t *y = (uint8_t *)j->y->data + oo * es;
    const uint8_t *a = (const uint8_t *)j->a->data, *b = (const uint8_t *)j->b->data;
    for (int64_t i = 0; i < len; i++) {
        const uint8_t *src =
            cd[i * inner[0]] ? a + (off[1] + i * inner[1]) * es : b + (off[2] + i * inner[2]) * es;
        memcpy(y + i * es, src, es);
    }
}

static axmul_status where_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    (void)c;
    binary_job j = {0, in[1], in[2], in[0], out};
    strided sv = {3, {{0}}};
    for (int k = 0; k < 3; k++)
        axmul__onnx_strides(in[k], &out->sh, sv.st[k]);
    loop_strided(out, &sv, where_part, &j);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Where = {"Where", AXMUL__LAYOUT_ANY, where_shape, where_run};

/* ---------------------------------------------------------------- unary functions */

static axmul_status unary_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                axmul__tensor *out)
{
    const int kind = c->node->kind;
    if (c->node->nin < 1 || !in[0])
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "no input");
    const int generic = kind == AXMUL__OP_Neg || kind == AXMUL__OP_Abs || kind == AXMUL__OP_Relu ||
                        kind == AXMUL__OP_Identity || kind == AXMUL__OP_Dropout ||
                        kind == AXMUL__OP_Clip;
    if (kind == AXMUL__OP_Not) {
        if (in[0]->dt != AXMUL__DT_BOOL)
            return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "input of type %s (bool expected)",
                                    axmul__dt_name(in[0]->dt));
    } else if (!generic && in[0]->dt != AXMUL__DT_FLOAT)
        return axmul__onnx_need_float(c, in[0], "the input");
    out[0].dt = in[0]->dt;
    out[0].sh = in[0]->sh;
    out[0].nhwc = in[0]->nhwc;
    if (kind == AXMUL__OP_Dropout && c->node->nout > 1) {
        out[1].dt = AXMUL__DT_BOOL;
        out[1].sh = in[0]->sh;
        out[1].nhwc = 0; /* all true: the same in either layout */
    }
    if (kind == AXMUL__OP_Dropout && c->g->opset < 7 &&
        !axmul__onnx_attr_int(c->node, "is_test", 0))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "is_test = 0 (training)");
    if (kind == AXMUL__OP_Dropout && c->node->nin > 2 && c->node->in[2] >= 0) {
        axmul_status s = axmul__onnx_need_const(c, in, 2, "training_mode");
        if (s != AXMUL_OK)
            return s;
        if (axmul__tensor_int(in[2], 0))
            return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "training_mode is true");
    }
    return AXMUL_OK;
}

/* Clip's bounds: attributes before opset 11, optional inputs after. */
static void clip_bounds(const axmul__onnx_ctx *c, const axmul__tensor *const *in, double *lo,
                        double *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (c->g->opset < 11) {
        *lo = axmul__onnx_attr_float(c->node, "min", -INFINITY);
        *hi = axmul__onnx_attr_float(c->node, "max", INFINITY);
        return;
    }
    const axmul__tensor *a = axmul__onnx_in(c, in, 1), *b = axmul__onnx_in(c, in, 2);
    if (a && axmul__shape_count(&a->sh) > 0)
        *lo = axmul__tensor_real(a, 0);
    if (b && axmul__shape_count(&b->sh) > 0)
        *hi = axmul__tensor_real(b, 0);
}

static float gelu(float x, int tanh_form)
{
    if (tanh_form)
        return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

static axmul_status unary_float(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                const float *x, float *y, int64_t n)
{
    const axmul__node *nd = c->node;
    const int kd = nd->kind;
    const float alpha = axmul__onnx_attr_float(nd, "alpha",
                                               kd == AXMUL__OP_LeakyRelu                     ? 0.01f
                                               : kd == AXMUL__OP_Elu || kd == AXMUL__OP_Celu ? 1.0f
                                               : kd == AXMUL__OP_Selu ? 1.67326319217681884765625f
                                                                      : 0.2f);
    const float beta = axmul__onnx_attr_float(nd, "beta", 0.5f);
    const float gamma = axmul__onnx_attr_float(nd, "gamma", 1.05070102214813232421875f);
    double lo, hi;
    const int nt = c->nt;
    (void)nt;
    switch (nd->kind) {
    case AXMUL__OP_Relu:
        PAR_LOOP
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] > 0 ? x[k] : 0.0f;
        break;
    case AXMUL__OP_LeakyRelu:
        for (int64_t k = 0; k < n; k++)
            y[k] = axmul__leakyreluf(x[k], alpha);
        break;
    case AXMUL__OP_Sigmoid:
        for (int64_t k = 0; k < n; k++)
            y[k] = axmul__sigmoidf(x[k]);
        break;
    case AXMUL__OP_HardSigmoid:
        for (int64_t k = 0; k < n; k++)
            y[k] = fmaxf(0.0f, fminf(1.0f, alpha * x[k] + beta));
        break;
    case AXMUL__OP_HardSwish:
        for (int64_t k = 0; k < n; k++)
            y[k] = axmul__hardswishf(x[k]);
        break;
    case AXMUL__OP_Tanh:
        for (int64_t k = 0; k < n; k++)
            y[k] = tanhf(x[k]);
        break;
    case AXMUL__OP_Erf:
        for (int64_t k = 0; k < n; k++)
            y[k] = erff(x[k]);
        break;
    case AXMUL__OP_Gelu: {
        const int th = strcmp(axmul__onnx_attr_str(nd, "approximate", "none"), "tanh") == 0;
        for (int64_t k = 0; k < n; k++)
            y[k] = gelu(x[k], th);
        break;
    }
    case AXMUL__OP_Sqrt:
        for (int64_t k = 0; k < n; k++)
            y[k] = sqrtf(x[k]);
        break;
    case AXMUL__OP_Exp:
        for (int64_t k = 0; k < n; k++)
            y[k] = expf(x[k]);
        break;
    case AXMUL__OP_Neg:
        for (int64_t k = 0; k < n; k++)
            y[k] = -x[k];
        break;
    case AXMUL__OP_Abs:
        for (int64_t k = 0; k < n; k++)
            y[k] = fabsf(x[k]);
        break;
    case AXMUL__OP_Clip: {
        clip_bounds(c, in, &lo, &hi);
        const float l = (float)lo, h = (float)hi;
        PAR_LOOP
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] < l ? l : x[k] > h ? h : x[k];
        break;
    }
    case AXMUL__OP_Reciprocal:
        for (int64_t k = 0; k < n; k++)
            y[k] = 1.0f / x[k];
        break;
    case AXMUL__OP_Floor:
        for (int64_t k = 0; k < n; k++)
            y[k] = floorf(x[k]);
        break;
    case AXMUL__OP_Ceil:
        for (int64_t k = 0; k < n; k++)
            y[k] = ceilf(x[k]);
        break;
    case AXMUL__OP_Round: /* ties to even */
        for (int64_t k = 0; k < n; k++)
            y[k] = nearbyintf(x[k]);
        break;
    case AXMUL__OP_Sign:
        for (int64_t k = 0; k < n; k++)
            y[k] = (float)((x[k] > 0) - (x[k] < 0));
        break;
    case AXMUL__OP_Log:
        for (int64_t k = 0; k < n; k++)
            y[k] = logf(x[k]);
        break;
    case AXMUL__OP_Sin:
        for (int64_t k = 0; k < n; k++)
            y[k] = sinf(x[k]);
        break;
    case AXMUL__OP_Cos:
        for (int64_t k = 0; k < n; k++)
            y[k] = cosf(x[k]);
        break;
    case AXMUL__OP_Softplus:
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] > 20.0f ? x[k] : log1pf(expf(x[k]));
        break;
    case AXMUL__OP_Softsign:
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] / (1.0f + fabsf(x[k]));
        break;
    case AXMUL__OP_Elu:
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] < 0 ? alpha * expm1f(x[k]) : x[k];
        break;
    case AXMUL__OP_Selu:
        for (int64_t k = 0; k < n; k++)
            y[k] = gamma * (x[k] <= 0 ? alpha * expm1f(x[k]) : x[k]);
        break;
    case AXMUL__OP_Celu:
        for (int64_t k = 0; k < n; k++)
            y[k] = fmaxf(0.0f, x[k]) + fminf(0.0f, alpha * expm1f(x[k] / alpha));
        break;
    default:
        memcpy(y, x, (size_t)n * sizeof *y);
    }
    return AXMUL_OK;
}

static axmul_status unary_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    const int kind = c->node->kind;
    const int64_t n = axmul__shape_count(&in[0]->sh);
    if (kind == AXMUL__OP_Dropout && c->node->nout > 1 && c->node->out[1] >= 0)
        memset(out[1].data, 1, (size_t)n);
    if (in[0]->dt == AXMUL__DT_FLOAT)
        return unary_float(c, in, axmul__onnx_f(in[0]), axmul__onnx_f(&out[0]), n);
    double lo, hi;
    clip_bounds(c, in, &lo, &hi);
    for (int64_t k = 0; k < n; k++) {
        const double v = axmul__tensor_real(in[0], k);
        double r = v;
        if (kind == AXMUL__OP_Neg)
            r = -v;
        else if (kind == AXMUL__OP_Abs)
            r = fabs(v);
        else if (kind == AXMUL__OP_Relu)
            r = v > 0 ? v : 0;
        else if (kind == AXMUL__OP_Not)
            r = !v;
        else if (kind == AXMUL__OP_Clip)
            r = v < lo ? lo : v > hi ? hi : v;
        if (in[0]->dt == AXMUL__DT_INT64 && kind != AXMUL__OP_Not && r == v)
            ((int64_t *)out[0].data)[k] = axmul__tensor_int(in[0], k); /* exact beyond 2^53 */
        else
            axmul__onnx_set_real(&out[0], k, r);
    }
    return AXMUL_OK;
}

#define UNARY_OP(op)                                                                               \
    const axmul__onnx_op axmul__onnx_##op = {#op, AXMUL__LAYOUT_ANY, unary_shape, unary_run};
UNARY_OP(Relu)
UNARY_OP(LeakyRelu)
UNARY_OP(Sigmoid)
UNARY_OP(HardSigmoid)
UNARY_OP(HardSwish)
UNARY_OP(Tanh)
UNARY_OP(Erf)
UNARY_OP(Gelu)
UNARY_OP(Sqrt)
UNARY_OP(Exp)
UNARY_OP(Neg)
UNARY_OP(Abs)
UNARY_OP(Reciprocal)
UNARY_OP(Floor)
UNARY_OP(Ceil)
UNARY_OP(Round)
UNARY_OP(Sign)
UNARY_OP(Log)
UNARY_OP(Sin)
UNARY_OP(Cos)
UNARY_OP(Softplus)
UNARY_OP(Softsign)
UNARY_OP(Elu)
UNARY_OP(Selu)
UNARY_OP(Celu)
UNARY_OP(Clip)
UNARY_OP(Not)
UNARY_OP(Identity)
UNARY_OP(Dropout)

/* ---------------------------------------------------------------- Cast */

static axmul_status cast_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    const int64_t to = axmul__onnx_attr_int(c->node, "to", -1);
    if (to != AXMUL__DT_FLOAT && to != AXMUL__DT_UINT8 && to != AXMUL__DT_INT8 &&
        to != AXMUL__DT_INT32 && to != AXMUL__DT_INT64 && to != AXMUL__DT_BOOL)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "to = %lld (supported: float, uint8, int8, int32, int64, bool)",
                                (long long)to);
    out->dt = (axmul__dtype)to;
    out->sh = in[0]->sh;
    out->nhwc = 0;
    return AXMUL_OK;
}

static axmul_status cast_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    (void)c;
    const int64_t n = axmul__shape_count(&in[0]->sh);
    const axmul__dtype from = in[0]->dt, to = out->dt;
    if (from == to) {
        memcpy(out->data, in[0]->data, (size_t)n * axmul__dt_size(to));
        return AXMUL_OK;
    }
    for (int64_t k = 0; k < n; k++) {
        if (from == AXMUL__DT_FLOAT) {
            const float v = ((const float *)in[0]->data)[k];
            if (to == AXMUL__DT_BOOL)
                ((uint8_t *)out->data)[k] = v != 0;
            else
                axmul__onnx_set_real(out, k, isfinite(v) ? truncf(v) : 0);
        } else if (to == AXMUL__DT_FLOAT)
            ((float *)out->data)[k] = (float)axmul__tensor_int(in[0], k);
        else if (to == AXMUL__DT_INT64)
            ((int64_t *)out->data)[k] = axmul__tensor_int(in[0], k);
        else
            axmul__onnx_set_real(out, k, (double)axmul__tensor_int(in[0], k));
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_Cast = {"Cast", AXMUL__LAYOUT_PLAIN, cast_shape, cast_run};

/* CastLike: Cast to the type of input 1. */
static axmul_status castlike_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                   axmul__tensor *out)
{
    const axmul__tensor *t = axmul__onnx_in(c, in, 1);
    if (!t)
        return axmul__onnx_fail(c, AXMUL_ERR_FORMAT, "no target_type input");
    out->dt = t->dt;
    out->sh = in[0]->sh;
    out->nhwc = 0;
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_CastLike = {"CastLike", AXMUL__LAYOUT_PLAIN, castlike_shape,
                                             cast_run};
