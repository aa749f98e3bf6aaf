/* axconv-test bench: the exact fp32 GPU convolution (cuDNN) that the CUDA backend is compared
 * with. Used by the benchmark only; built when configure finds cuDNN next to CUDA. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/bench.h"

#ifdef HAVE_CUDNN
#include <cuda_runtime.h>
#include <cudnn.h>

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

#define CU(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            snprintf(why, why_len, "%s: %s", #call, cudaGetErrorString(e_));                       \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
#define DNN(call)                                                                                  \
    do {                                                                                           \
        cudnnStatus_t e_ = (call);                                                                 \
        if (e_ != CUDNN_STATUS_SUCCESS) {                                                          \
            snprintf(why, why_len, "%s: %s", #call, cudnnGetErrorString(e_));                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

int axmul__cudnn_conv_seconds(const axmul_conv_desc *d, int oh, int ow, const float *x,
                              const float *w, float *y, int repeat, double *seconds, char *why,
                              size_t why_len)
{
    int ok = -1;
    const int cin = d->c / d->groups;
    /* cuDNN takes one padding per axis, so asymmetric SAME padding (even kernels, some strides)
     * has no cuDNN equivalent */
    int pad[4];
    if (axmul_conv_padding(d, pad) != AXMUL_OK) {
        snprintf(why, why_len, "%s", axmul_error_detail());
        return -1;
    }
    const int pt = pad[0], pb = pad[1], pl = pad[2], pr = pad[3];
    if (pt != pb || pl != pr) {
        snprintf(why, why_len, "asymmetric padding (%d/%d, %d/%d): cuDNN pads both sides alike", pt,
                 pb, pl, pr);
        return -1;
    }
    const size_t nx = (size_t)d->n * d->h * d->w * d->c, nw = (size_t)d->kh * d->kw * cin * d->co;
    const size_t ny = (size_t)d->n * oh * ow * d->co;
    cudnnHandle_t h = NULL;
    cudnnTensorDescriptor_t xd = NULL, yd = NULL;
    cudnnFilterDescriptor_t wd = NULL;
    cudnnConvolutionDescriptor_t cd = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    float *dx = NULL, *dw = NULL, *dy = NULL, *krsc = NULL, *times = NULL;
    void *ws = NULL;
    size_t ws_size = 0;
    int on, oc, ohh, oww, found = 0;
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    const float one = 1.0f, zero = 0.0f;

    /* HWIO -> KRSC (cuDNN's NHWC filter layout: output channel, row, column, input channel) */
    krsc = malloc(nw * sizeof *krsc);
    times = malloc((size_t)(repeat > 0 ? repeat : 1) * sizeof *times);
    if (!krsc || !times) {
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    for (int o = 0; o < d->co; o++)
        for (size_t tap = 0; tap < (size_t)d->kh * d->kw * cin; tap++)
            krsc[(size_t)o * d->kh * d->kw * cin + tap] = w[tap * d->co + o];

    DNN(cudnnCreate(&h));
    DNN(cudnnCreateTensorDescriptor(&xd));
    DNN(cudnnCreateTensorDescriptor(&yd));
    DNN(cudnnCreateFilterDescriptor(&wd));
    DNN(cudnnCreateConvolutionDescriptor(&cd));
    DNN(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, d->n, d->c, d->h,
                                   d->w));
    DNN(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, d->co, cin, d->kh,
                                   d->kw));
    DNN(cudnnSetConvolution2dDescriptor(cd, pt, pl, d->stride_h, d->stride_w, d->dilation_h,
                                        d->dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN(cudnnSetConvolutionGroupCount(cd, d->groups));
    /* plain fp32 FMA: no TF32, so that the baseline is the exact convolution */
    DNN(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
    DNN(cudnnGetConvolution2dForwardOutputDim(cd, xd, wd, &on, &oc, &ohh, &oww));
    if (on != d->n || oc != d->co || ohh != oh || oww != ow) {
        snprintf(why, why_len, "cuDNN output %dx%dx%dx%d, engine %dx%dx%dx%d", on, ohh, oww, oc,
                 d->n, oh, ow, d->co);
        goto out;
    }
    DNN(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, d->n, d->co, oh, ow));
    CU(cudaMalloc((void **)&dx, nx * sizeof *dx));
    CU(cudaMalloc((void **)&dw, nw * sizeof *dw));
    CU(cudaMalloc((void **)&dy, ny * sizeof *dy));
    CU(cudaMemcpy(dx, x, nx * sizeof *dx, cudaMemcpyHostToDevice));
    CU(cudaMemcpy(dw, krsc, nw * sizeof *dw, cudaMemcpyHostToDevice));
    /* cuDNN times its algorithms itself and lists them fastest first */
    DNN(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, yd, 8, &found, perf));
    int pick = -1;
    for (int i = 0; i < found && pick < 0; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS)
            pick = i;
    if (pick < 0) {
        snprintf(why, why_len, "no cuDNN algorithm runs this shape");
        goto out;
    }
    DNN(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, perf[pick].algo, &ws_size));
    if (ws_size)
        CU(cudaMalloc(&ws, ws_size));
    CU(cudaEventCreate(&e0));
    CU(cudaEventCreate(&e1));
    for (int i = -1; i < repeat; i++) { /* i = -1: warm-up */
        CU(cudaEventRecord(e0, NULL));
        DNN(cudnnConvolutionForward(h, &one, xd, dx, wd, dw, cd, perf[pick].algo, ws, ws_size,
                                    &zero, yd, dy));
        CU(cudaEventRecord(e1, NULL));
        CU(cudaEventSynchronize(e1));
        if (i >= 0)
            CU(cudaEventElapsedTime(&times[i], e0, e1));
    }
    CU(cudaMemcpy(y, dy, ny * sizeof *y, cudaMemcpyDeviceToHost));
    qsort(times, (size_t)repeat, sizeof *times, cmp_float);
    *seconds = 1e-3 * times[repeat / 2];
    ok = 0;
out:
    if (e0)
        cudaEventDestroy(e0);
    if (e1)
        cudaEventDestroy(e1);
    cudaFree(ws);
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(dy);
    if (cd)
        cudnnDestroyConvolutionDescriptor(cd);
    if (wd)
        cudnnDestroyFilterDescriptor(wd);
    if (xd)
        cudnnDestroyTensorDescriptor(xd);
    if (yd)
        cudnnDestroyTensorDescriptor(yd);
    if (h)
        cudnnDestroy(h);
    free(krsc);
    free(times);
    return ok;
}

#else

int axmul__cudnn_conv_seconds(const axmul_conv_desc *d, int oh, int ow, const float *x,
                              const float *w, float *y, int repeat, double *seconds, char *why,
                              size_t why_len)
{
    (void)d, (void)oh, (void)ow, (void)x, (void)w, (void)y, (void)repeat, (void)seconds;
    snprintf(why, why_len, "built without cuDNN");
    return -1;
}

#endif
