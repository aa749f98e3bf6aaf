/* axmul: ONNX's matrix products. Gemm (alpha, beta, transA/B, a broadcast C) and MatMul (numpy
 * semantics: batched, broadcast, 1-D operands) run as the engine's dense layer, axmul_dense, where
 * the node has a table, else as SGEMM. A MatMul whose second operand is an activation (attention's
 * Q.K^T and P.V) reads the table with both operands quantized per tensor, from calibrated or
 * per-batch ranges (AXMUL_APPROX_MATMUL). MatMulInteger multiplies codes with exact sums. */
#include "config.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "lib/engine/engine.h"
#include "lib/net/onnx/ops.h"

/* ---------------------------------------------------------------- Gemm */

static axmul_status gemm_dims(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              int64_t *m, int64_t *k, int64_t *n)
{
    const axmul__tensor *a = in[0], *b = axmul__onnx_in(c, in, 1);
    if (!b || a->sh.rank != 2 || b->sh.rank != 2)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "A and B must be matrices");
    const int ta = (int)axmul__onnx_attr_int(c->node, "transA", 0);
    const int tb = (int)axmul__onnx_attr_int(c->node, "transB", 0);
    *m = a->sh.d[ta ? 1 : 0];
    *k = a->sh.d[ta ? 0 : 1];
    *n = b->sh.d[tb ? 0 : 1];
    if (b->sh.d[tb ? 1 : 0] != *k)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "A has %lld columns, B %lld rows",
                                (long long)*k, (long long)b->sh.d[tb ? 1 : 0]);
    if (*m > INT32_MAX || *k > INT32_MAX || *n > INT32_MAX)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "dimensions beyond 2^31");
    return AXMUL_OK;
}

static axmul_status gemm_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    int64_t m, k, n;
    axmul_status s;
    if ((s = gemm_dims(c, in, &m, &k, &n)) || (s = axmul__onnx_need_float(c, in[0], "A")) ||
        (s = axmul__onnx_need_float(c, in[1], "B")))
        return s;
    out->dt = AXMUL__DT_FLOAT;
    out->sh = (axmul__shape){2, {m, n}};
    out->nhwc = 0;
    const axmul__tensor *cc = axmul__onnx_in(c, in, 2);
    if (cc) {
        axmul__shape bs;
        if ((s = axmul__onnx_need_float(c, cc, "C")) ||
            (s = axmul__onnx_broadcast(c, &cc->sh, &out->sh, &bs)))
            return s;
        if (bs.rank != 2 || bs.d[0] != m || bs.d[1] != n)
            return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "C does not broadcast to %lldx%lld",
                                    (long long)m, (long long)n);
    }
    return AXMUL_OK;
}

/* rows x cols row-major src transposed into dst (cols x rows). */
static void transpose2(const float *src, int64_t rows, int64_t cols, float *dst)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t q = 0; q < cols; q++)
            dst[q * rows + r] = src[r * cols + q];
}

/* y = alpha * y + beta * C (C broadcast to m x n). */
static void add_c(float *y, int64_t m, int64_t n, float alpha, float beta, const axmul__tensor *cc)
{
    axmul__shape os = {2, {m, n}};
    int64_t st[AXMUL__ONNX_MAX_RANK];
    axmul__onnx_strides(cc, &os, st);
    const float *cv = cc->data;
    for (int64_t r = 0; r < m; r++)
        for (int64_t q = 0; q < n; q++) {
            float v = y[r * n + q];
            if (alpha != 1.0f)
                v *= alpha;
            y[r * n + q] = v + beta * cv[r * st[0] + q * st[1]];
        }
}

/* The LUT dense layer of x (rows x in) and w (in x out) into y, with the node's ranges
 * (activation ranges given in ar/br when set_ab: a product of two activations). */
static axmul_status lut_dense(const axmul__onnx_ctx *c, const float *x, int64_t rows, int64_t in,
                              const float *w, int64_t out, const float *bias, float *y,
                              const axmul__onnx_ranges *r)
{
    axmul_dense_desc d;
    axmul_dense_desc_init(&d);
    d.n = (int)rows;
    d.in = (int)in;
    d.out = (int)out;
    d.input_range_set = r->a_set;
    d.input_range = r->a;
    d.filter_range_set = r->b_set;
    d.filter_range = r->b;
    d.per_channel = r->per_channel;
    d.channel_ranges = r->channels;
    d.backend = c->o ? c->o->backend : AXMUL_BACKEND_AUTO;
    d.threads = c->o ? c->o->threads : 0;
    d.input_name = c->node->name;
    d.filter_name = c->node->name;
    d.bias = bias;
    if (rows == 0 || out == 0)
        return AXMUL_OK;
    return axmul_dense(&d, c->table, x, w, y, NULL);
}

/* B as in x out row-major: as given, or transposed, or with its rows in the order of an NHWC
 * batch flattened as it lies (c->a_hwc) (once per plan for a constant B). */
static axmul_status gemm_b(const axmul__onnx_ctx *c, const axmul__tensor *b, int tb, int64_t k,
                           int64_t n, float **tmp, const float **out)
{
    *tmp = NULL;
    if (!tb && !c->a_hwc) {
        *out = b->data;
        return AXMUL_OK;
    }
    const int cached = (c->in_const >> 1 & 1) && c->state;
    float *p = cached ? *c->state : NULL;
    if (!p) {
        if (!(p = malloc(sizeof *p * (size_t)(k * n > 0 ? k * n : 1))))
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        if (tb)
            transpose2(b->data, n, k, p);
        else
            memcpy(p, b->data, sizeof *p * (size_t)(k * n));
        if (c->a_hwc) { /* row (y * W + x) * C + ch takes row ch * H * W + y * W + x */
            const int C = c->a_hwc[0], H = c->a_hwc[1], W = c->a_hwc[2];
            float *q = malloc(sizeof *q * (size_t)(k * n > 0 ? k * n : 1));
            if (!q) {
                free(p);
                return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
            }
            for (int ch = 0; ch < C; ch++)
                for (int pix = 0; pix < H * W; pix++)
                    memcpy(q + ((size_t)pix * C + ch) * n, p + ((size_t)ch * H * W + pix) * n,
                           sizeof *q * (size_t)n);
            free(p);
            p = q;
        }
        if (cached)
            *c->state = p;
        else
            *tmp = p;
    }
    *out = p;
    return AXMUL_OK;
}

static axmul_status gemm_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    int64_t m, k, n;
    gemm_dims(c, in, &m, &k, &n);
    const int ta = (int)axmul__onnx_attr_int(c->node, "transA", 0);
    const int tb = (int)axmul__onnx_attr_int(c->node, "transB", 0);
    const float alpha = axmul__onnx_attr_float(c->node, "alpha", 1.0f);
    const float beta = axmul__onnx_attr_float(c->node, "beta", 1.0f);
    const axmul__tensor *cc = axmul__onnx_in(c, in, 2);
    /* a per-column C with unit factors is the layer's bias (as the model.json dense layer) */
    const int bias = cc && alpha == 1.0f && beta == 1.0f && axmul__shape_count(&cc->sh) == n &&
                     (cc->sh.rank == 1 || (cc->sh.rank == 2 && cc->sh.d[0] == 1));
    float *y = out->data;
    axmul_status s = AXMUL_OK;
    if (!c->table) {
        float *tb_tmp = NULL;
        const float *bw = in[1]->data;
        int tbe = tb;
        if (c->a_hwc) { /* the rows permuted: (k, n) */
            if ((s = gemm_b(c, in[1], tb, k, n, &tb_tmp, &bw)) != AXMUL_OK)
                return s;
            tbe = 0;
        }
        if (m && n)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tbe ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, in[0]->data,
                        ta ? (int)m : (int)k, bw, tbe ? (int)k : (int)n, 0.0f, y, (int)n);
        free(tb_tmp);
        if (bias)
            axmul__add_channel_bias(y, (size_t)m, (int)n, cc->data, c->nt);
        else if (cc)
            add_c(y, m, n, 1.0f, beta, cc);
        return AXMUL_OK;
    }
    float *ta_tmp = NULL, *tb_tmp = NULL;
    const float *a = in[0]->data, *b = NULL;
    if ((s = gemm_b(c, in[1], tb, k, n, &tb_tmp, &b)) != AXMUL_OK)
        return s;
    if (ta) {
        if (!(ta_tmp = malloc(sizeof *ta_tmp * (size_t)(m * k > 0 ? m * k : 1)))) {
            free(tb_tmp);
            return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        }
        transpose2(a, k, m, ta_tmp);
        a = ta_tmp;
    }
    axmul__onnx_ranges r;
    if ((s = axmul__onnx_lut_ranges(c, 0, &r)) == AXMUL_OK &&
        (s = axmul__onnx_lut_histograms(c, &r, a, (size_t)(m * k), b, (size_t)k, (size_t)n)) ==
            AXMUL_OK &&
        (s = lut_dense(c, a, m, k, b, n, bias ? cc->data : NULL, y, &r)) == AXMUL_OK && cc &&
        !bias)
        add_c(y, m, n, alpha, beta, cc);
    else if (s == AXMUL_OK && !cc && alpha != 1.0f)
        for (int64_t e = 0; e < m * n; e++)
            y[e] *= alpha;
    free(ta_tmp);
    free(tb_tmp);
    return s;
}

const axmul__onnx_op axmul__onnx_Gemm = {"Gemm", AXMUL__LAYOUT_PLAIN, gemm_shape, gemm_run};

/* ---------------------------------------------------------------- MatMul */

/* numpy's matmul geometry: operands promoted to matrices ((K) -> (1, K) for A, (K, 1) for B),
 * batch dims broadcast. */
typedef struct {
    axmul__shape ab, bb, ob; /* batch shapes of A, B and the output */
    int64_t m, k, n, batches;
} mm_geom;

static axmul_status mm_geometry(const axmul__onnx_ctx *c, const axmul__tensor *a,
                                const axmul__tensor *b, mm_geom *g, axmul__shape *out)
{
    if (!a || !b || a->sh.rank < 1 || b->sh.rank < 1)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "operands of rank 0");
    const axmul__shape *sa = &a->sh, *sb = &b->sh;
    g->m = sa->rank == 1 ? 1 : sa->d[sa->rank - 2];
    g->k = sa->d[sa->rank - 1];
    const int64_t kb = sb->rank == 1 ? sb->d[0] : sb->d[sb->rank - 2];
    g->n = sb->rank == 1 ? 1 : sb->d[sb->rank - 1];
    if (kb != g->k)
        return axmul__onnx_fail(c, AXMUL_ERR_SHAPE, "A has %lld columns, B %lld rows",
                                (long long)g->k, (long long)kb);
    g->ab = (axmul__shape){sa->rank > 2 ? sa->rank - 2 : 0, {0}};
    g->bb = (axmul__shape){sb->rank > 2 ? sb->rank - 2 : 0, {0}};
    memcpy(g->ab.d, sa->d, sizeof g->ab.d[0] * (size_t)g->ab.rank);
    memcpy(g->bb.d, sb->d, sizeof g->bb.d[0] * (size_t)g->bb.rank);
    axmul_status s = axmul__onnx_broadcast(c, &g->ab, &g->bb, &g->ob);
    if (s != AXMUL_OK)
        return s;
    if (g->ob.rank + 2 > AXMUL__ONNX_MAX_RANK || g->m > INT32_MAX || g->k > INT32_MAX ||
        g->n > INT32_MAX)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "too large");
    g->batches = axmul__shape_count(&g->ob);
    *out = g->ob;
    if (sa->rank > 1)
        out->d[out->rank++] = g->m;
    if (sb->rank > 1)
        out->d[out->rank++] = g->n;
    return AXMUL_OK;
}

/* The matrix offsets (in matrices) into A and B of output batch t. */
static void mm_batch(const mm_geom *g, int64_t t, int64_t *oa, int64_t *ob)
{
    int64_t ia = 0, ib = 0, ma = 1, mb = 1;
    for (int d = g->ob.rank - 1; d >= 0; d--) {
        const int64_t i = t % g->ob.d[d];
        t /= g->ob.d[d];
        const int da = d - (g->ob.rank - g->ab.rank), db = d - (g->ob.rank - g->bb.rank);
        if (da >= 0) {
            ia += (g->ab.d[da] == 1 ? 0 : i) * ma;
            ma *= g->ab.d[da];
        }
        if (db >= 0) {
            ib += (g->bb.d[db] == 1 ? 0 : i) * mb;
            mb *= g->bb.d[db];
        }
    }
    *oa = ia;
    *ob = ib;
}

static axmul_status matmul_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    mm_geom g;
    axmul_status s;
    out->dt = AXMUL__DT_FLOAT;
    out->nhwc = 0;
    if ((s = mm_geometry(c, in[0], axmul__onnx_in(c, in, 1), &g, &out->sh)) ||
        (s = axmul__onnx_need_float(c, in[0], "A")))
        return s;
    return axmul__onnx_need_float(c, in[1], "B");
}

static axmul_status matmul_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    mm_geom g;
    axmul__shape os;
    mm_geometry(c, in[0], in[1], &g, &os);
    const float *a = in[0]->data, *b = in[1]->data;
    float *y = out->data;
    const int64_t sa = g.m * g.k, sb = g.k * g.n, sy = g.m * g.n;
    /* a 2-D B (a dense layer's weights): every row of A at once */
    const int flat = g.bb.rank == 0 && axmul__shape_count(&g.ab) == g.batches;
    axmul__onnx_ranges r = {0};
    axmul_status s = AXMUL_OK;
    if (c->table) {
        const int act = c->node->approx == AXMUL_APPROX_MATMUL;
        if ((s = axmul__onnx_lut_ranges(c, act, &r)) != AXMUL_OK)
            return s;
        if (act || !flat) { /* one range per tensor for every batch matrix */
            r.per_channel = r.per_channel && flat;
            if (!r.a_set &&
                (s = axmul_range_of(a, (size_t)axmul__shape_count(&in[0]->sh), c->node->name,
                                    &r.a)) != AXMUL_OK)
                return s;
            if (!r.b_set && !r.per_channel &&
                (s = axmul_range_of(b, (size_t)axmul__shape_count(&in[1]->sh), c->node->name,
                                    &r.b)) != AXMUL_OK)
                return s;
            r.a_set = 1;
            r.b_set = !r.per_channel;
        }
        if ((s = axmul__onnx_lut_histograms(c, &r, a, (size_t)axmul__shape_count(&in[0]->sh), b,
                                            flat ? (size_t)g.k : (size_t)axmul__shape_count(&in[1]->sh),
                                            flat ? (size_t)g.n : 1)) != AXMUL_OK)
            return s;
    }
    if (flat) {
        const int64_t rows = g.batches * g.m;
        if (c->table)
            return lut_dense(c, a, rows, g.k, b, g.n, NULL, y, &r);
        if (rows && g.n)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)g.n, (int)g.k,
                        1.0f, a, (int)g.k, b, (int)g.n, 0.0f, y, (int)g.n);
        return AXMUL_OK;
    }
    for (int64_t t = 0; t < g.batches && s == AXMUL_OK; t++) {
        int64_t ia, ib;
        mm_batch(&g, t, &ia, &ib);
        if (c->table)
            s = lut_dense(c, a + ia * sa, g.m, g.k, b + ib * sb, g.n, NULL, y + t * sy, &r);
        else if (g.m && g.n)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.m, (int)g.n, (int)g.k,
                        1.0f, a + ia * sa, (int)g.k, b + ib * sb, (int)g.n, 0.0f, y + t * sy,
                        (int)g.n);
    }
    return s;
}

const axmul__onnx_op axmul__onnx_MatMul = {"MatMul", AXMUL__LAYOUT_PLAIN, matmul_shape,
                                           matmul_run};

/* ---------------------------------------------------------------- MatMulInteger */

static axmul_status mmi_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                              axmul__tensor *out)
{
    mm_geom g;
    const axmul__tensor *a = in[0], *b = axmul__onnx_in(c, in, 1);
    if (!b || (a->dt != AXMUL__DT_UINT8 && a->dt != AXMUL__DT_INT8) ||
        (b->dt != AXMUL__DT_UINT8 && b->dt != AXMUL__DT_INT8))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "operands must be uint8 or int8 codes");
    out->dt = AXMUL__DT_INT32;
    out->nhwc = 0;
    return mm_geometry(c, a, b, &g, &out->sh);
}

static axmul_status mmi_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                            axmul__tensor *out)
{
    mm_geom g;
    axmul__shape os;
    mm_geometry(c, in[0], in[1], &g, &os);
    const axmul__tensor *za = axmul__onnx_in(c, in, 2), *zb = axmul__onnx_in(c, in, 3);
    int32_t *y = out->data;
    axmul_status st = axmul__onnx_table_codes(c, in[0]->dt, in[1]->dt);
    if (st != AXMUL_OK)
        return st;
    for (int64_t t = 0; t < g.batches; t++) {
        int64_t ia, ib;
        mm_batch(&g, t, &ia, &ib);
        for (int64_t i = 0; i < g.m; i++)
            for (int64_t j = 0; j < g.n; j++) {
                int64_t s = 0;
                const int32_t zai = axmul__onnx_zero_point(za, i), zbj = axmul__onnx_zero_point(zb, j);
                for (int64_t q = 0; q < g.k; q++)
                    s += axmul__onnx_code_product(c->table, axmul__onnx_code(in[0], ia * g.m * g.k + i * g.k + q),
                                                  axmul__onnx_code(in[1], ib * g.k * g.n + q * g.n + j), zai,
                                                  zbj);
                y[(t * g.m + i) * g.n + j] = (int32_t)s;
            }
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_MatMulInteger = {"MatMulInteger", AXMUL__LAYOUT_PLAIN, mmi_shape,
                                                  mmi_run};
