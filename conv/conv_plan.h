/* axmul: resolved convolution geometry and quantization, shared by the C kernels and (later)
 * the CUDA kernels: plain fixed-size fields only, layout pinned by static assertions. */
#ifndef AXMUL_CONV_PLAN_H
#define AXMUL_CONV_PLAN_H

#include <stdint.h>

typedef struct axmul__conv_plan {
    int32_t n, h, w, c;     /* input NHWC */
    int32_t kh, kw, co;     /* filter (kh, kw, cin_g, co) */
    int32_t oh, ow;         /* output spatial size */
    int32_t sh, sw, dh, dw; /* stride, dilation */
    int32_t pad_top, pad_left;
    int32_t groups, cin_g, cout_g;
    int32_t k;  /* taps per output: kh * kw * cin_g */
    int32_t zx; /* input zero point (0 for signed tables) */
    int32_t is_signed;
    int32_t degenerate; /* input or filter range [0, 0]: output is all zero */
    float sx;           /* input scale */
    int32_t reserved_;  /* keeps the size a multiple of 8 */
} axmul__conv_plan;

#ifdef __cplusplus
static_assert(sizeof(axmul__conv_plan) == 24 * 4, "plan layout shared with CUDA");
#else
_Static_assert(sizeof(axmul__conv_plan) == 24 * 4, "plan layout shared with CUDA");
#endif

#if defined(__CUDACC__)
#define AXMUL__HD __host__ __device__
#else
#define AXMUL__HD
#endif

/* The one place where an integer accumulator becomes an output value, so that every kernel
 * rounds identically: one float conversion of the exact sum, one float multiply. A zero scale
 * (degenerate range) gives +0. */
static inline AXMUL__HD float axmul__conv_out(float oscale, int64_t acc)
{
    return oscale == 0.0f ? 0.0f : oscale * (float)acc;
}

#endif
