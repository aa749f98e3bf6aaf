/* axmul: the resolved convolution that the engine hands to every kernel, C and CUDA alike, and
 * the formulas that all of them share: where a tap reads, how table sums are stored, the
 * zero-point correction and the one conversion of an integer sum into an output value. Compiled
 * by the C compiler and by nvcc; plain fixed-size fields only, layout pinned by a static
 * assertion. doc/semantics.md derives every formula. */
#ifndef AXMUL_ENGINE_PLAN_H
#define AXMUL_ENGINE_PLAN_H

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

/* ---------------------------------------------------------------- tap coordinates */

/* The input row that filter row i reads for output row oy, and the input column of filter
 * column j for output column ox; outside 0..h-1 (0..w-1) the tap lies in the padding. */
static inline AXMUL__HD int axmul__in_y(const axmul__conv_plan *p, int oy, int i)
{
    return oy * p->sh - p->pad_top + i * p->dh;
}

static inline AXMUL__HD int axmul__in_x(const axmul__conv_plan *p, int ox, int j)
{
    return ox * p->sw - p->pad_left + j * p->dw;
}

/* Whether input position (iy, ix) lies inside the image (otherwise: padding, which holds the
 * value 0.0, i.e. the input zero point). */
static inline AXMUL__HD int axmul__in_image(const axmul__conv_plan *p, int iy, int ix)
{
    return iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
}

/* Whether output pixel p reads input pixel p alone: a 1x1 kernel, stride 1, no padding (dense
 * layers and pointwise convolutions, a plain matrix product over the pixels). */
static inline AXMUL__HD int axmul__plan_pointwise(const axmul__conv_plan *p)
{
    return p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pad_top == 0 &&
           p->pad_left == 0 && p->oh == p->h && p->ow == p->w;
}

/* ---------------------------------------------------------------- table sums */

/* Fast kernels sum unsigned 16-bit entries only: a signed table is stored with every entry
 * XOR 0x8000, i.e. product + 32768, and the sum of ntaps stored entries comes back to the sum of
 * products by taking 32768 * ntaps away. */
#define AXMUL__SIGNED_FLIP 0x8000u

static inline AXMUL__HD uint16_t axmul__store_entry(uint16_t entry, int is_signed)
{
    return (uint16_t)(entry ^ (is_signed ? AXMUL__SIGNED_FLIP : 0u));
}

static inline AXMUL__HD int64_t axmul__unstore(int64_t stored_sum, int is_signed, int64_t ntaps)
{
    return is_signed ? stored_sum - (int64_t)AXMUL__SIGNED_FLIP * ntaps : stored_sum;
}

/* The zero-point correction of an output's sum of products over its k taps, with zx and zw the
 * input and weight zero points and sum_qa, sum_qw the sums of the activation and weight codes:
 *   acc = sum T[qa][qw] - zw * sum_qa - zx * sum_qw + k * zx * zw
 * written as the part that is the same for every pixel of an output channel (the base) and the
 * part per pixel. Both are 0 for signed (symmetric) quantization. Exact in 64 bits. */
static inline AXMUL__HD int64_t axmul__zp_base(int64_t k, int64_t zx, int64_t zw, int64_t sum_qw)
{
    return k * zx * zw - zx * sum_qw;
}

static inline AXMUL__HD int64_t axmul__zp_correct(int64_t lut_sum, int64_t base, int64_t zw,
                                                  int64_t sum_qa)
{
    return lut_sum + base - zw * sum_qa;
}

/* The one place where an integer accumulator becomes an output value, so that every kernel
 * rounds identically: one float conversion of the exact sum, one float multiply. A zero scale
 * (degenerate range) gives +0. */
static inline AXMUL__HD float axmul__conv_out(float oscale, int64_t acc)
{
    return oscale == 0.0f ? 0.0f : oscale * (float)acc;
}

#endif
