/* axmul tests: a builder of ONNX models for the unit suites (the generated protobuf-c code of
 * lib/net/onnx), and the layout helpers the ONNX tests compare with. Header-only; every
 * allocation is freed by mb_free. */
#ifndef AXMUL_TESTS_ONNXBUILD_H
#define AXMUL_TESTS_ONNXBUILD_H

#include "axmul.h"
#include "lib/net/onnx/onnx.pb-c.h"
#include "lib/net/onnx/runtime.h"
#include "tests/testutil.h"

/* ---------------------------------------------------------------- a model builder */

typedef struct {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op, *ops[1];
    Onnx__NodeProto *nodes[32];
    Onnx__TensorProto *inits[32];
    Onnx__ValueInfoProto *ins[8], *outs[8];
    Onnx__StringStringEntryProto *meta[8];
    void *pool[1024];
    int npool;
} mb;

static void *mb_alloc(mb *b, size_t n)
{
    ck_assert_int_lt(b->npool, 1024);
    void *p = calloc(1, n ? n : 1);
    ck_assert_ptr_nonnull(p);
    return b->pool[b->npool++] = p;
}

static char *mb_str(mb *b, const char *s)
{
    char *p = mb_alloc(b, strlen(s) + 1);
    memcpy(p, s, strlen(s) + 1);
    return p;
}

static void mb_init(mb *b, int opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->op);
    b->op.has_version = 1;
    b->op.version = opset;
    b->ops[0] = &b->op;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->ops;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.graph = &b->g;
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->ins;
    b->g.output = b->outs;
    b->m.metadata_props = b->meta;
}

static void mb_free(mb *b)
{
    for (int k = 0; k < b->npool; k++)
        free(b->pool[k]);
}

/* A graph input (dims < 0: symbolic "n") or output (rank < 0: no type). */
static void mb_value(mb *b, int output, const char *name, int dt, int rank, const int64_t *d)
{
    Onnx__ValueInfoProto *v = mb_alloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = mb_str(b, name);
    if (rank >= 0) {
        Onnx__TypeProto *t = mb_alloc(b, sizeof *t);
        Onnx__TypeProto__Tensor *tt = mb_alloc(b, sizeof *tt);
        Onnx__TensorShapeProto *sh = mb_alloc(b, sizeof *sh);
        onnx__type_proto__init(t);
        onnx__type_proto__tensor__init(tt);
        onnx__tensor_shape_proto__init(sh);
        t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        t->tensor_type = tt;
        tt->has_elem_type = 1;
        tt->elem_type = dt;
        tt->shape = sh;
        sh->n_dim = (size_t)rank;
        sh->dim = mb_alloc(b, sizeof *sh->dim * (size_t)(rank + 1));
        for (int k = 0; k < rank; k++) {
            Onnx__TensorShapeProto__Dimension *dm = mb_alloc(b, sizeof *dm);
            onnx__tensor_shape_proto__dimension__init(dm);
            if (d[k] < 0) {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dm->dim_param = mb_str(b, "n");
            } else {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dm->dim_value = d[k];
            }
            sh->dim[k] = dm;
        }
        v->type = t;
    }
    if (output)
        b->outs[b->g.n_output++] = v;
    else
        b->ins[b->g.n_input++] = v;
}

static Onnx__TensorProto *mb_tensor(mb *b, const char *name, int dt, int rank, const int64_t *d,
                                    const void *data)
{
    Onnx__TensorProto *t = mb_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = mb_str(b, name);
    t->has_data_type = 1;
    t->data_type = dt;
    t->n_dims = (size_t)rank;
    t->dims = mb_alloc(b, sizeof *t->dims * (size_t)(rank + 1));
    size_t n = 1;
    for (int k = 0; k < rank; k++) {
        t->dims[k] = d[k];
        n *= (size_t)d[k];
    }
    const size_t es = dt == 1 ? 4 : dt == 7 ? 8 : 1;
    t->has_raw_data = 1;
    t->raw_data.len = n * es;
    t->raw_data.data = mb_alloc(b, n * es);
    memcpy(t->raw_data.data, data, n * es);
    return t;
}

static void mb_init_t(mb *b, const char *name, int dt, int rank, const int64_t *d, const void *data)
{
    b->inits[b->g.n_initializer++] = mb_tensor(b, name, dt, rank, d, data);
}

/* A node: inputs and outputs as comma-separated names ("" for an omitted one). */
static Onnx__NodeProto *mb_node(mb *b, const char *op, const char *name, const char *in,
                                const char *out)
{
    Onnx__NodeProto *n = mb_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = mb_str(b, op);
    n->name = mb_str(b, name);
    const char *lists[2] = {in, out};
    for (int w = 0; w < 2; w++) {
        char **v = mb_alloc(b, sizeof *v * 16);
        size_t cnt = 0;
        for (const char *p = lists[w]; *p || p == lists[w];) {
            size_t len = strcspn(p, ",");
            char *s = mb_alloc(b, len + 1);
            memcpy(s, p, len);
            v[cnt++] = s;
            p += len;
            if (!*p)
                break;
            p++;
        }
        if (w == 0) {
            n->input = v;
            n->n_input = lists[0][0] ? cnt : 0;
        } else {
            n->output = v;
            n->n_output = cnt;
        }
    }
    n->attribute = mb_alloc(b, sizeof *n->attribute * 16);
    b->nodes[b->g.n_node++] = n;
    return n;
}

static Onnx__AttributeProto *mb_attr(mb *b, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = mb_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = mb_str(b, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void mb_ints(mb *b, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)cnt;
    a->ints = mb_alloc(b, sizeof *a->ints * (size_t)cnt);
    memcpy(a->ints, v, sizeof *v * (size_t)cnt);
}

static void mb_int(mb *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void mb_float(mb *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void mb_meta(mb *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = mb_alloc(b, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = mb_str(b, key);
    e->value = mb_str(b, value);
    b->meta[b->m.n_metadata_props++] = e;
}

/* Writes the model into dir/name; returns the path (static). */
static const char *mb_write(mb *b, const char *dir, const char *name)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = malloc(len + 1);
    ck_assert_ptr_nonnull(buf);
    onnx__model_proto__pack(&b->m, buf);
    tu_write(path, buf, len);
    free(buf);
    return path;
}

/* ---------------------------------------------------------------- helpers */

static void fill(uint64_t *rng, float *v, size_t n, float lo, float hi)
{
    for (size_t k = 0; k < n; k++)
        v[k] = tu_randf(rng, lo, hi);
}

/* NCHW <-> NHWC of n x c x hw floats. */
static void to_nhwc(const float *x, int n, int c, int hw, float *y)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < hw; p++)
                y[((size_t)i * hw + p) * c + ch] = x[((size_t)i * c + ch) * hw + p];
}

static void oihw_to_hwio(const float *w, int m, int ci, int kh, int kw, float *o)
{
    for (int a = 0; a < m; a++)
        for (int b = 0; b < ci; b++)
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                    o[((i * kw + j) * ci + b) * m + a] = w[((a * ci + b) * kh + i) * kw + j];
}

static axmul_table *random_table(uint64_t *rng, int is_signed)
{
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(is_signed, &t), AXMUL_OK);
    uint16_t *d = axmul_table_data_mut(t);
    for (int k = 0; k < 65536; k++)
        d[k] = (uint16_t)(d[k] + (tu_rand(rng) % 64) - 32);
    return t;
}

static axmul__tensor in_tensor(axmul__dtype dt, int rank, const int64_t *d, void *data)
{
    axmul__tensor t = {dt, {rank, {0}}, 0, data, 0};
    for (int k = 0; k < rank; k++)
        t.sh.d[k] = d[k];
    return t;
}

static void release(axmul__tensor *out, int n)
{
    for (int k = 0; k < n; k++)
        axmul__tensor_release(&out[k]);
}

#endif
