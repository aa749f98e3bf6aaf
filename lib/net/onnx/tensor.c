/* axmul: ONNX tensors: sizes, allocation, the NCHW/NHWC layouts, and decoding TensorProto
 * messages (initializers, Constant attributes, the backend tests' .pb files). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/onnx/onnx.h"
#include "lib/net/onnx/onnx.pb-c.h"

/* Largest tensor the runtime makes (elements), as the engine's limit. */
#define ONNX_MAX_ELEMS ((int64_t)INT32_MAX)

size_t axmul__dt_size(axmul__dtype dt)
{
    switch (dt) {
    case AXMUL__DT_FLOAT:
    case AXMUL__DT_INT32:
        return 4;
    case AXMUL__DT_INT64:
        return 8;
    default:
        return 1;
    }
}

const char *axmul__dt_name(axmul__dtype dt)
{
    switch (dt) {
    case AXMUL__DT_FLOAT:
        return "float";
    case AXMUL__DT_UINT8:
        return "uint8";
    case AXMUL__DT_INT8:
        return "int8";
    case AXMUL__DT_INT32:
        return "int32";
    case AXMUL__DT_INT64:
        return "int64";
    case AXMUL__DT_BOOL:
        return "bool";
    }
    return "unknown";
}

int64_t axmul__shape_count(const axmul__shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) { /* saturating: the plan refuses what this reaches */
        if (s->d[i] <= 0)
            return s->d[i] == 0 ? 0 : INT64_MAX;
        if (n > INT64_MAX / s->d[i])
            return INT64_MAX;
        n *= s->d[i];
    }
    return n;
}

const char *axmul__shape_text(const axmul__shape *s, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = 0;
    if (s->rank == 0)
        snprintf(buf, len, "scalar");
    for (int i = 0; i < s->rank && k < len; i++) {
        int w = snprintf(buf + k, len - k, "%s%lld", i ? "x" : "", (long long)s->d[i]);
        k += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

axmul_status axmul__tensor_alloc(axmul__tensor *t, const char *what)
{
    int64_t n = 1;
    for (int i = 0; i < t->sh.rank; i++) {
        if (t->sh.d[i] < 0)
            return axmul__fail(AXMUL_ERR_SHAPE, "%s: dimension %d is %lld", what, i,
                               (long long)t->sh.d[i]);
        if (t->sh.d[i] && n > ONNX_MAX_ELEMS / t->sh.d[i])
            return axmul__fail(AXMUL_ERR_OVERFLOW, "%s: more than %lld elements", what,
                               (long long)ONNX_MAX_ELEMS);
        n *= t->sh.d[i];
    }
    t->data = calloc(n ? (size_t)n : 1, axmul__dt_size(t->dt));
    if (!t->data)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory (%lld elements)", what,
                           (long long)n);
    t->owned = 1;
    return AXMUL_OK;
}

void axmul__tensor_release(axmul__tensor *t)
{
    if (t && t->owned)
        free(t->data);
    if (t) {
        t->data = NULL;
        t->owned = 0;
    }
}

axmul__tensor *axmul__tensor_new_copy(const axmul__tensor *src)
{
    axmul__tensor *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    *t = *src;
    t->data = NULL;
    if (axmul__tensor_alloc(t, "tensor") != AXMUL_OK) {
        free(t);
        return NULL;
    }
    memcpy(t->data, src->data, (size_t)axmul__shape_count(&src->sh) * axmul__dt_size(src->dt));
    return t;
}

void axmul__tensor_free(axmul__tensor *t)
{
    axmul__tensor_release(t);
    free(t);
}

/* Whether t's NHWC storage is also its plain one (one channel, or one pixel). */
static int layouts_coincide(const axmul__tensor *t)
{
    return t->sh.rank == 4 && (t->sh.d[1] == 1 || t->sh.d[2] * t->sh.d[3] == 1);
}

/* Copies the rank-4 data of src into dst's layout: to_nhwc 1 from plain NCHW, 0 back. */
static void transpose4(const void *src, void *dst, const int64_t *d, size_t es, int to_nhwc)
{
    const int64_t N = d[0], C = d[1], HW = d[2] * d[3];
    for (int64_t n = 0; n < N; n++) {
        const uint8_t *s = (const uint8_t *)src + (size_t)(n * C * HW) * es;
        uint8_t *o = (uint8_t *)dst + (size_t)(n * C * HW) * es;
        if (es == 4) {
            const float *sf = (const float *)s;
            float *of = (float *)o;
            for (int64_t c = 0; c < C; c++)
                for (int64_t p = 0; p < HW; p++) {
                    if (to_nhwc)
                        of[p * C + c] = sf[c * HW + p];
                    else
                        of[c * HW + p] = sf[p * C + c];
                }
            continue;
        }
        for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < HW; p++) {
                if (to_nhwc)
                    memcpy(o + (size_t)(p * C + c) * es, s + (size_t)(c * HW + p) * es, es);
                else
                    memcpy(o + (size_t)(c * HW + p) * es, s + (size_t)(p * C + c) * es, es);
            }
    }
}

void axmul__tensor_relayout(const axmul__tensor *src, axmul__tensor *dst)
{
    transpose4(src->data, dst->data, src->sh.d, axmul__dt_size(src->dt), dst->nhwc);
}

int axmul__tensor_layouts_coincide(const axmul__tensor *t)
{
    return layouts_coincide(t);
}

axmul_status axmul__tensor_plain(const axmul__tensor *t, axmul__tensor *tmp,
                                 const axmul__tensor **out)
{
    memset(tmp, 0, sizeof *tmp);
    if (!t->nhwc || layouts_coincide(t)) {
        *out = t;
        return AXMUL_OK;
    }
    *tmp = *t;
    tmp->nhwc = 0;
    tmp->data = NULL;
    axmul_status s = axmul__tensor_alloc(tmp, "layout conversion");
    if (s != AXMUL_OK)
        return s;
    transpose4(t->data, tmp->data, t->sh.d, axmul__dt_size(t->dt), 0);
    *out = tmp;
    return AXMUL_OK;
}

axmul_status axmul__tensor_to_nhwc(const axmul__tensor *t, axmul__tensor *tmp,
                                   const axmul__tensor **out)
{
    memset(tmp, 0, sizeof *tmp);
    if (t->nhwc || t->sh.rank != 4 || t->dt != AXMUL__DT_FLOAT) {
        *out = t;
        return AXMUL_OK;
    }
    *tmp = *t;
    tmp->nhwc = 1;
    if (layouts_coincide(t)) { /* the same bytes: a view */
        tmp->owned = 0;
        *out = tmp;
        return AXMUL_OK;
    }
    tmp->data = NULL;
    axmul_status s = axmul__tensor_alloc(tmp, "layout conversion");
    if (s != AXMUL_OK)
        return s;
    transpose4(t->data, tmp->data, t->sh.d, axmul__dt_size(t->dt), 1);
    *out = tmp;
    return AXMUL_OK;
}

int64_t axmul__tensor_int(const axmul__tensor *t, int64_t k)
{
    switch (t->dt) {
    case AXMUL__DT_INT64:
        return ((const int64_t *)t->data)[k];
    case AXMUL__DT_INT32:
        return ((const int32_t *)t->data)[k];
    case AXMUL__DT_INT8:
        return ((const int8_t *)t->data)[k];
    case AXMUL__DT_UINT8:
    case AXMUL__DT_BOOL:
        return ((const uint8_t *)t->data)[k];
    case AXMUL__DT_FLOAT:
        return (int64_t)((const float *)t->data)[k];
    }
    return 0;
}

double axmul__tensor_real(const axmul__tensor *t, int64_t k)
{
    return t->dt == AXMUL__DT_FLOAT ? (double)((const float *)t->data)[k]
                                    : (double)axmul__tensor_int(t, k);
}

/* ---------------------------------------------------------------- TensorProto */

static int supported_dt(int32_t dt)
{
    return dt == AXMUL__DT_FLOAT || dt == AXMUL__DT_UINT8 || dt == AXMUL__DT_INT8 ||
           dt == AXMUL__DT_INT32 || dt == AXMUL__DT_INT64 || dt == AXMUL__DT_BOOL;
}

axmul_status axmul__onnx_tensor_decode(const struct Onnx__TensorProto *p, const char *what,
                                       axmul__tensor **out)
{
    if (p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: tensor data in an external file (save the model with its data "
                           "inside: onnx.save(model, path, save_as_external_data=False))",
                           what);
    if (!supported_dt(p->data_type))
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "%s: element type %d (supported: float, uint8, int8, int32, int64, "
                           "bool)",
                           what, (int)p->data_type);
    if (p->n_dims > AXMUL__ONNX_MAX_RANK)
        return axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: %zu dimensions (at most %d)", what,
                           p->n_dims, AXMUL__ONNX_MAX_RANK);
    axmul__tensor *t = calloc(1, sizeof *t);
    if (!t)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", what);
    t->dt = (axmul__dtype)p->data_type;
    t->sh.rank = (int)p->n_dims;
    for (size_t i = 0; i < p->n_dims; i++)
        t->sh.d[i] = p->dims[i];
    axmul_status s = axmul__tensor_alloc(t, what);
    if (s != AXMUL_OK) {
        free(t);
        return s;
    }
    const int64_t n = axmul__shape_count(&t->sh);
    const size_t es = axmul__dt_size(t->dt);
    size_t have;
    if (p->has_raw_data) {
        have = p->raw_data.len / es;
        if (p->raw_data.len != (size_t)n * es)
            goto count;
        if (n)
            memcpy(t->data, p->raw_data.data, (size_t)n * es); /* little-endian hosts */
    } else if (t->dt == AXMUL__DT_FLOAT) {
        if ((have = p->n_float_data) != (size_t)n)
            goto count;
        if (n)
            memcpy(t->data, p->float_data, (size_t)n * 4);
    } else if (t->dt == AXMUL__DT_INT64) {
        if ((have = p->n_int64_data) != (size_t)n)
            goto count;
        if (n)
            memcpy(t->data, p->int64_data, (size_t)n * 8);
    } else { /* int32, int8, uint8, bool live in int32_data */
        if ((have = p->n_int32_data) != (size_t)n)
            goto count;
        for (int64_t k = 0; k < n; k++) {
            if (t->dt == AXMUL__DT_INT32)
                ((int32_t *)t->data)[k] = p->int32_data[k];
            else
                ((uint8_t *)t->data)[k] = (uint8_t)p->int32_data[k];
        }
    }
    *out = t;
    return AXMUL_OK;
count:
    axmul__tensor_free(t);
    return axmul__fail(AXMUL_ERR_FORMAT, "%s: %zu elements of data for a shape of %lld", what,
                       have, (long long)n);
}

axmul_status axmul__onnx_tensor_load(const char *path, axmul__tensor **out)
{
    uint8_t *buf;
    size_t len;
    axmul_status s = axmul__read_file(path, (size_t)1 << 31, &buf, &len);
    if (s != AXMUL_OK)
        return s;
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!p)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: not a serialized ONNX TensorProto", path);
    s = axmul__onnx_tensor_decode(p, path, out);
    onnx__tensor_proto__free_unpacked(p, NULL);
    return s;
}
