/* axconv-test: option values and inputs that the commands share (conv/options.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul.h"
#include "conv/options.h"
#include "lib/core/rng.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

int axmul__opt_ints(const char *s, int *v, int maxn, int *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        if (*n == maxn)
            return -1;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < INT32_MIN || x > INT32_MAX)
            return -1;
        v[(*n)++] = (int)x;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return *n ? 0 : -1;
}

int axmul__opt_range(const char *s, axmul_range *r)
{
    char *end;
    errno = 0;
    double a = strtod(s, &end);
    if (errno || end == s || *end != ',')
        return -1;
    const char *q = end + 1;
    double b = strtod(q, &end);
    if (errno || end == q || *end)
        return -1;
    r->min = (float)a;
    r->max = (float)b;
    return 0;
}

/* "A" or "A,B" into *a and *b (one value serves both). 0, or -1 for a bad value. */
static int int_pair(const char *arg, int *a, int *b)
{
    int v[2], n;
    if (axmul__opt_ints(arg, v, 2, &n) != 0)
        return -1;
    *a = v[0];
    *b = n == 2 ? v[1] : v[0];
    return 0;
}

int axmul__opt_layer(int c, const char *arg, axmul_conv_desc *d, int shape[4], int *nshape,
                     int kern[3], int *nkern)
{
    int v[4], n;
    switch (c) {
    case 1:
        if (axmul__opt_ints(arg, shape, 4, nshape) != 0 || *nshape != 4) {
            errorf("--shape '%s': expected N,H,W,C", arg);
            return -1;
        }
        return 1;
    case 2:
        if (axmul__opt_ints(arg, kern, 3, nkern) != 0 || *nkern != 3) {
            errorf("--kernel '%s': expected KH,KW,CO", arg);
            return -1;
        }
        return 1;
    case 's':
        if (int_pair(arg, &d->stride_h, &d->stride_w) != 0) {
            errorf("--stride '%s': expected S or SH,SW", arg);
            return -1;
        }
        return 1;
    case 'd':
        if (int_pair(arg, &d->dilation_h, &d->dilation_w) != 0) {
            errorf("--dilation '%s': expected D or DH,DW", arg);
            return -1;
        }
        return 1;
    case 'p':
        if (strcmp(arg, "same") == 0)
            d->padding = AXMUL_PADDING_SAME;
        else if (strcmp(arg, "valid") == 0)
            d->padding = AXMUL_PADDING_VALID;
        else if (axmul__opt_ints(arg, v, 4, &n) == 0 && n == 4) {
            d->padding = AXMUL_PADDING_EXPLICIT;
            d->pad_top = v[0];
            d->pad_bottom = v[1];
            d->pad_left = v[2];
            d->pad_right = v[3];
        } else {
            errorf("--padding '%s': expected same, valid or T,B,L,R", arg);
            return -1;
        }
        return 1;
    case 'g':
        if (axmul__opt_ints(arg, v, 1, &n) != 0 || v[0] < 1) {
            errorf("--groups '%s': expected a positive integer (1: a plain convolution)", arg);
            return -1;
        }
        d->groups = v[0];
        return 1;
    }
    return 0;
}

void axmul__fill_random(float *v, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((double)(axmul__splitmix64(state) >> 11) * 0x1p-53 * 2.0 - 1.0);
}

int axmul__opt_backend(const char *option, const char *arg, axmul_backend *b)
{
    if (strcmp(arg, "auto") == 0)
        *b = AXMUL_BACKEND_AUTO;
    else if (strcmp(arg, "cpu") == 0)
        *b = AXMUL_BACKEND_CPU;
    else if (strcmp(arg, "cuda") == 0)
        *b = AXMUL_BACKEND_CUDA;
    else {
        errorf("%s '%s': expected auto, cpu or cuda", option, arg);
        return -1;
    }
    return 0;
}

const char *axmul__backend_name(axmul_backend b)
{
    return b == AXMUL_BACKEND_CUDA ? "cuda" : b == AXMUL_BACKEND_CPU ? "cpu" : "auto";
}

float *axmul__load_f32(const char *path, const char *what, int ndim, size_t shape[4])
{
    axmul_npy *a;
    if (axmul_npy_load(path, &a) != AXMUL_OK) {
        errorf("%s %s", what, axmul_error_detail());
        return NULL;
    }
    const float *d;
    if (axmul_npy_f32(a, &d) != AXMUL_OK) {
        errorf("%s %s", what, axmul_error_detail());
        axmul_npy_free(a);
        return NULL;
    }
    if (axmul_npy_ndim(a) != ndim) {
        errorf("%s %s: %d dimensions, expected %d (%s)", what, path, axmul_npy_ndim(a), ndim,
               ndim == 4 && what[2] == 'i' ? "N, H, W, C" : "KH, KW, C/groups, CO");
        axmul_npy_free(a);
        return NULL;
    }
    size_t n = axmul_npy_count(a);
    for (int i = 0; i < ndim; i++) {
        shape[i] = axmul_npy_shape(a)[i];
        if (shape[i] == 0 || shape[i] > INT32_MAX) {
            errorf("%s %s: dimension %d is %zu", what, path, i, shape[i]);
            axmul_npy_free(a);
            return NULL;
        }
    }
    float *copy = malloc(n * sizeof *copy);
    if (!copy) {
        errorf("%s %s: out of memory", what, path);
        axmul_npy_free(a);
        return NULL;
    }
    memcpy(copy, d, n * sizeof *copy);
    axmul_npy_free(a);
    return copy;
}
