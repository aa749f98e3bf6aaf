/* axmul: fake-quantized LUT convolution and dense layers (TensorFlow FakeQuant semantics). */
#ifndef AXMUL_CONV_H
#define AXMUL_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_status.h"
#include "axmul_table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum axmul_backend {
    AXMUL_BACKEND_AUTO, /* CUDA when built and a device is present, else CPU */
    AXMUL_BACKEND_CPU,
    AXMUL_BACKEND_CUDA
} axmul_backend;

typedef enum axmul_padding {
    AXMUL_PADDING_SAME,    /* TensorFlow rule: output = ceil(in / stride), extra pad at the end */
    AXMUL_PADDING_VALID,   /* no padding */
    AXMUL_PADDING_EXPLICIT /* pad_top, pad_bottom, pad_left, pad_right */
} axmul_padding;

typedef struct axmul_range {
    float min, max;
} axmul_range;

/* Quantization parameters. Unsigned tables: TensorFlow FakeQuantWithMinMaxVars(num_bits=8,
 * narrow_range=false), q in 0..255 with zero point 0..255. Signed tables: symmetric int8, zero
 * point 0, scale = max(-min/128, max/127), q in -128..127. doc/semantics.md has every formula. */
typedef struct axmul_qparams {
    float scale;
    int32_t zero_point;
    float nudged_min, nudged_max;
    int is_signed;
    int degenerate; /* range [0, 0]: every value quantizes to 0 and the output is 0 */
} axmul_qparams;

/* Quantization parameters of a range. ERR_RANGE when min > max, min == max != 0, or either is
 * not finite; min == max == 0 gives degenerate parameters. what names the tensor in errors. */
AXMUL_API axmul_status axmul_qparams_from_range(axmul_range r, int is_signed, const char *what,
                                                axmul_qparams *out);

/* Quantized code of x: 0..255 (unsigned) or -128..127 (signed). NaN quantizes like 0. */
AXMUL_API int32_t axmul_quantize(float x, const axmul_qparams *q);

/* The fake-quantized value of code q, computed in float32 exactly as TensorFlow does
 * (q * scale + nudged_min; signed: q * scale). */
AXMUL_API float axmul_dequantize(int32_t q, const axmul_qparams *qp);

/* Min/max of n floats. ERR_NONFINITE naming `what` and the index for NaN/Inf; a constant
 * tensor (min == max) is widened to include 0. n must be > 0. */
AXMUL_API axmul_status axmul_range_of(const float *x, size_t n, const char *what, axmul_range *out);

/* Convolution descriptor. Input NHWC float32, filter HWIO float32 of shape
 * (kh, kw, c / groups, co), output NHWC (n, oh, ow, co). Output channel o belongs to group
 * o / (co / groups) (TensorFlow/PyTorch convention; depthwise = groups == c). */
typedef struct axmul_conv_desc {
    int n, h, w, c;
    int kh, kw, co;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    axmul_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right;
    int groups;
    /* Ranges: when *_set is 0 they are computed from the tensors (per-tensor min/max). */
    int input_range_set;
    axmul_range input_range;
    int filter_range_set;
    axmul_range filter_range;
    /* Per-output-channel filter quantization: channel_ranges has co entries, or is NULL to take
     * each channel's min/max from the filter. */
    int per_channel;
    const axmul_range *channel_ranges;
    axmul_backend backend;
    int threads; /* CPU threads, also for the CUDA backend's host quantization; 0 = OpenMP's */
    const char *input_name, *filter_name; /* for error details; NULL = "input"/"filter" */
    /* Optional: co floats; bias[o] is added to every output of channel o after its conversion
     * (one float addition, what adding it afterwards gives). NULL: none. */
    const float *bias;
} axmul_conv_desc;

/* Defaults: stride 1, dilation 1, SAME padding, 1 group, ranges from data, AUTO backend. Shape
 * fields are zeroed and must be filled in. */
AXMUL_API void axmul_conv_desc_init(axmul_conv_desc *d);

/* Output height and width of a descriptor; validates every field (ERR_INVALID_ARGUMENT or
 * ERR_SHAPE with a detail naming the field). */
AXMUL_API axmul_status axmul_conv_output_shape(const axmul_conv_desc *d, int *oh, int *ow);

/* The padding a descriptor resolves to, in input pixels: pad[0..3] = top, bottom, left, right
 * (SAME: TensorFlow's split, the odd pixel at the bottom and right; VALID: zeros). Validates as
 * axmul_conv_output_shape. */
AXMUL_API axmul_status axmul_conv_padding(const axmul_conv_desc *d, int pad[4]);

/* What a run did. */
typedef struct axmul_conv_info {
    axmul_backend backend; /* backend that ran */
    const char *path;      /* kernel: "ref", "portable", "avx2", "avx512bw", "vbmi", "neon"; on the
                              GPU "cuda-cached" (column kernel, table through the read-only cache),
                              "cuda-expanded" (expanded-table kernel) or "cuda-shared" (column
                              kernel, table in shared memory; AXMUL_CUDA_TABLE, axconv-test(1)) */
    axmul_qparams input_q;
    axmul_qparams filter_q; /* per-tensor parameters (channel 0 when per-channel) */
    uint64_t macs;          /* table lookups: n * oh * ow * co * kh * kw * c / groups */
    double device_seconds;  /* CUDA backend: time in the convolution kernels (CUDA events),
                               without quantization and transfers; 0 on the CPU */
    size_t work_bytes;      /* host working memory the call allocated beyond the caller's
                               tensors and the table cache (CPU engine: its one workspace block;
                               CUDA: quantized input and filter codes); 0 for the reference */
} axmul_conv_info;

/* Approximate convolution. For each output element, with qa/qw the quantized activation and
 * weight codes and zx/zw their zero points:
 *   acc = sum_taps T[qa][qw] - zw*sum(qa) - zx*sum(qw) + K*zx*zw   (exact 64-bit integers)
 *   y   = (s_x * s_w) * (float)acc
 * Padded taps hold the input zero point (the value 0.0), so the table is read at T[zx][qw].
 * Results do not depend on threads, batch size or kernel path. x, w, y must not overlap; y has
 * n*oh*ow*co floats. info may be NULL. The table's signedness selects the quantization scheme.
 * Thread-safe. Memory: the CPU engine keeps the prepared layouts of the last 4 tables it ran
 * (384 KiB each, recognised by their entries, so a table changed in place is prepared again) until
 * the process exits; everything else is freed before returning (doc/performance.md).
 * Errors: shape/argument errors, ERR_NONFINITE for NaN/Inf in x or w, ERR_RANGE for bad ranges,
 * ERR_NOT_BUILT/ERR_NO_DEVICE for an unavailable CUDA backend, ERR_NOMEM. */
AXMUL_API axmul_status axmul_conv2d(const axmul_conv_desc *d, const axmul_table *t, const float *x,
                                    const float *w, float *y, axmul_conv_info *info);

/* The plain C reference kernel of axmul_conv2d: same contract, one straightforward loop nest.
 * Every fast path is tested against it. */
AXMUL_API axmul_status axmul_conv2d_ref(const axmul_conv_desc *d, const axmul_table *t,
                                        const float *x, const float *w, float *y,
                                        axmul_conv_info *info);

/* Dense (fully connected) layer as a LUT GEMM: x (n, in), w (in, out), y (n, out). Same
 * semantics as a 1x1 convolution of a 1x1 image with `in` channels. */
typedef struct axmul_dense_desc {
    int n, in, out;
    int input_range_set;
    axmul_range input_range;
    int filter_range_set;
    axmul_range filter_range;
    int per_channel;
    const axmul_range *channel_ranges;
    axmul_backend backend;
    int threads;
    const char *input_name, *filter_name;
    const float *bias; /* optional: out floats, as axmul_conv_desc.bias */
} axmul_dense_desc;

AXMUL_API void axmul_dense_desc_init(axmul_dense_desc *d);
AXMUL_API axmul_status axmul_dense(const axmul_dense_desc *d, const axmul_table *t, const float *x,
                                   const float *w, float *y, axmul_conv_info *info);
AXMUL_API axmul_status axmul_dense_ref(const axmul_dense_desc *d, const axmul_table *t,
                                       const float *x, const float *w, float *y,
                                       axmul_conv_info *info);

/* Float convolution of the fake-quantized tensors (double accumulation, rounded to float once):
 * what an exact multiplier gives. Quantization as in axmul_conv2d (same ranges, same table
 * signedness via is_signed). The independent check of the integer engine. */
AXMUL_API axmul_status axmul_conv2d_fakequant_float(const axmul_conv_desc *d, int is_signed,
                                                    const float *x, const float *w, float *y);

/* Exact float32 convolution of d (no quantization, no table; ranges, backend and threads are
 * not read): for each image and group an im2col and one SGEMM (OpenBLAS), for pointwise layers
 * (1x1, stride 1, no padding, one group) one SGEMM over every pixel; what an ML framework runs,
 * and the baseline of the benchmark. x, w, y as for axmul_conv2d; every output is one SGEMM dot
 * product of float32 values. Errors: shape/argument errors, ERR_NOMEM, ERR_OVERFLOW. */
AXMUL_API axmul_status axmul_conv2d_float(const axmul_conv_desc *d, const float *x, const float *w,
                                          float *y);

/* CPU kernel selection (for tests and benchmarks): "auto", "portable", "avx2", "avx512bw" (word
 * permutes, for AVX-512 CPUs without VBMI such as Skylake-SP and Cascade Lake), "vbmi". "auto"
 * takes vbmi, else avx512bw, else whichever of avx2 and portable ran a synthetic chunk faster at
 * the first call (gathers are slow on some CPUs). ERR_INVALID_ARGUMENT for an unknown name,
 * ERR_UNSUPPORTED when the CPU lacks the instructions (the choice in force is then unchanged).
 * Without a call, the AXMUL_CPU_PATH environment variable gives the name (read once, at the first
 * use); when it names an unknown or unsupported path, every CPU convolution fails with that
 * status and a detail naming the variable, rather than running another path than the one asked
 * for. A call (even "auto") replaces the variable's choice and its error. */
AXMUL_API axmul_status axmul_set_cpu_path(const char *name);

/* The CPU path in use ("portable", "avx2", "avx512bw" or "vbmi", a static string) in *name; or
 * the status and detail of an unusable AXMUL_CPU_PATH, with *name set to NULL. */
AXMUL_API axmul_status axmul_cpu_path(const char **name);

/* Whether the CUDA backend can run here: OK, ERR_NOT_BUILT or ERR_NO_DEVICE (with detail). */
AXMUL_API axmul_status axmul_cuda_available(void);

#ifdef __cplusplus
}
#endif
#endif
