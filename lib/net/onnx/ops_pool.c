/* axmul: ONNX's pooling operators, MaxPool and AveragePool (pads, auto_pad, strides, dilations,
 * ceil_mode, count_include_pad) and GlobalAveragePool/GlobalMaxPool, on 2-D float images in the
 * NHWC layout of the engine (the runtime converts a plain input). Sums run in window order and
 * divide once, as the model.json layers do. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lib/net/net.h"
#include "lib/net/onnx/ops.h"

static axmul_status image_input(const axmul__onnx_ctx *c, const axmul__tensor *x)
{
    if (x->sh.rank != 4)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "input of rank %d (only 2-D images, N x C x H x W)", x->sh.rank);
    return axmul__onnx_need_float(c, x, "the input");
}

static axmul_status pool_window(const axmul__onnx_ctx *c, const axmul__tensor *x,
                                axmul__onnx_window *w)
{
    size_t n;
    const int64_t *k = axmul__onnx_attr_ints(c->node, "kernel_shape", &n);
    if (!k || n != 2)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED,
                                "kernel_shape must have 2 values (2-D pooling)");
    if (axmul__onnx_attr_int(c->node, "storage_order", 0) != 0)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "storage_order = 1");
    const int ceil_mode = (int)axmul__onnx_attr_int(c->node, "ceil_mode", 0);
    return axmul__onnx_window_of(c, x->sh.d[2], x->sh.d[3], k[0], k[1], ceil_mode, w);
}

static axmul_status pool_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    axmul__onnx_window w;
    axmul_status s;
    if ((s = image_input(c, in[0])) || (s = pool_window(c, in[0], &w)))
        return s;
    if (c->node->nout > 1 && c->node->out[1] >= 0)
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "the Indices output");
    if (c->node->kind == AXMUL__OP_AveragePool && (w.dh != 1 || w.dw != 1))
        return axmul__onnx_fail(c, AXMUL_ERR_UNSUPPORTED, "dilations in AveragePool");
    out->dt = AXMUL__DT_FLOAT;
    out->sh = in[0]->sh;
    out->sh.d[2] = w.oh;
    out->sh.d[3] = w.ow;
    out->nhwc = 1;
    return AXMUL_OK;
}

static axmul_status pool_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                             axmul__tensor *out)
{
    axmul__onnx_window w;
    pool_window(c, in[0], &w);
    const int is_max = c->node->kind == AXMUL__OP_MaxPool;
    const int incl = (int)axmul__onnx_attr_int(c->node, "count_include_pad", 0);
    const int64_t *d = in[0]->sh.d; /* N, C, H, W; the data NHWC */
    axmul__pool_forward(in[0]->data, (int)d[0], (int)d[2], (int)d[3], (int)d[1], &w, is_max, incl,
                        c->nt, out->data);
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_MaxPool = {"MaxPool", AXMUL__LAYOUT_NHWC, pool_shape, pool_run};
const axmul__onnx_op axmul__onnx_AveragePool = {"AveragePool", AXMUL__LAYOUT_NHWC, pool_shape,
                                                pool_run};

/* ---------------------------------------------------------------- global pooling */

static axmul_status global_shape(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                                 axmul__tensor *out)
{
    axmul_status s = image_input(c, in[0]);
    if (s != AXMUL_OK)
        return s;
    out->dt = AXMUL__DT_FLOAT;
    out->sh = in[0]->sh;
    out->sh.d[2] = out->sh.d[3] = 1;
    out->nhwc = 1;
    return AXMUL_OK;
}

static axmul_status global_run(const axmul__onnx_ctx *c, const axmul__tensor *const *in,
                               axmul__tensor *out)
{
    const int is_max = c->node->kind == AXMUL__OP_GlobalMaxPool;
    const int64_t N = in[0]->sh.d[0], C = in[0]->sh.d[1], P = in[0]->sh.d[2] * in[0]->sh.d[3];
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t n = 0; n < N; n++) {
        const float *xi = x + n * P * C;
        float *yi = y + n * C;
        for (int64_t ch = 0; ch < C; ch++)
            yi[ch] = is_max ? -INFINITY : 0.0f;
        for (int64_t p = 0; p < P; p++)
            for (int64_t ch = 0; ch < C; ch++)
                yi[ch] = is_max ? (xi[p * C + ch] > yi[ch] ? xi[p * C + ch] : yi[ch])
                                : yi[ch] + xi[p * C + ch];
        if (!is_max)
            for (int64_t ch = 0; ch < C; ch++)
                yi[ch] /= (float)P;
    }
    return AXMUL_OK;
}

const axmul__onnx_op axmul__onnx_GlobalAveragePool = {"GlobalAveragePool", AXMUL__LAYOUT_NHWC,
                                                      global_shape, global_run};
const axmul__onnx_op axmul__onnx_GlobalMaxPool = {"GlobalMaxPool", AXMUL__LAYOUT_NHWC, global_shape,
                                                  global_run};
