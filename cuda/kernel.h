/* axmul: the CUDA convolution kernel's per-thread work, written in the common subset of C11 and
 * CUDA C++ so that one text is both the device code (cuda/conv.cu) and a host program that the
 * test suite runs over the same grid on any machine (tests/check_cudakernel.c): the indexing,
 * padding, tap blocking and accumulator logic are thus tested in every build, with or without a
 * GPU. Only the loads differ (vector loads through the read-only cache on the device).
 *
 * Work layout (the design measured by others, doc/performance.md): one thread per output pixel,
 * a block of up to AXMUL__CUDA_PIX pixels x AXMUL__CUDA_CO_TILE output channels of one group
 * (of several groups for depthwise layers and groups of 1-8 outputs, axmul__cuda_across_groups).
 * For each tap a thread reads its
 * activation code straight from the quantized NHWC input (no im2col ever exists) and the tile's 16
 * weight codes with one warp-uniform 16-byte load; all lanes then read the same table column
 * T[.][w], held in shared memory where the GPU allows 128 KiB per block. Sums are 32-bit per block
 * of AXMUL__CUDA_TAP_BLOCK taps, then 64-bit: no float atomics, no order dependence, and the one
 * float conversion of axmul__conv_out, as on the CPU. */
#ifndef AXMUL_CUDA_CONV_KERNEL_H
#define AXMUL_CUDA_CONV_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/engine/plan.h"

#define AXMUL__CUDA_PIX 512    /* most threads (output pixels) per block */
#define AXMUL__CUDA_CO_TILE 16 /* output channels per block: one 16-byte load of weight codes */
#define AXMUL__CUDA_TAP_BLOCK 32768 /* taps summed in 32 bits: 32768 * 65535 < 2^32 */
/* Device buffers for inputs and outputs stay below this whatever the batch. */
#define AXMUL__CUDA_CHUNK_BYTES ((size_t)256 << 20)

#if defined(__CUDACC__)
#define AXMUL__KFN __device__ __forceinline__
#define AXMUL__UNROLL _Pragma("unroll")
#else
#define AXMUL__KFN static inline
#define AXMUL__UNROLL
#endif

/* Output channel tiles per group. */
static inline AXMUL__HD int axmul__cuda_tiles(const axmul__conv_plan *p)
{
    return (p->cout_g + AXMUL__CUDA_CO_TILE - 1) / AXMUL__CUDA_CO_TILE;
}

/* Depthwise layers (one input channel per group) are tiled across groups: a tile of 16 groups'
 * channels, each lane reading 16 different input channels, instead of tiles of one group's
 * cout_g channels that would leave 15 of 16 lookups unused with a multiplier of 1. Their sums
 * stay in 32 bits (k = kh * kw taps at most one tap block). */
static inline AXMUL__HD int axmul__cuda_depthwise(const axmul__conv_plan *p)
{
    return p->cin_g == 1 && p->groups > 1 && p->k <= AXMUL__CUDA_TAP_BLOCK;
}

/* Grouped layers with 1, 2, 4 or 8 output channels per group and more than one input channel
 * (ResNeXt: 32 groups of 4; RegNet: groups of 8): tiles of one group's channels would leave 8-15
 * of a tile's 16 lookups per tap unused, so these too are tiled across groups: a tile holds
 * 16 / cout_g whole groups (tiles start on a multiple of 16 channels, which cout_g divides), each
 * group's channels reading that group's codes. Sums in 32 bits, as for depthwise layers. */
static inline AXMUL__HD int axmul__cuda_small_groups(const axmul__conv_plan *p)
{
    return p->groups > 1 && p->cin_g > 1 && p->cout_g < AXMUL__CUDA_CO_TILE &&
           AXMUL__CUDA_CO_TILE % p->cout_g == 0 && p->k <= AXMUL__CUDA_TAP_BLOCK;
}

/* Whether a layer's channel tiles run across groups: 16 consecutive output channels per tile. */
static inline AXMUL__HD int axmul__cuda_across_groups(const axmul__conv_plan *p)
{
    return axmul__cuda_depthwise(p) || axmul__cuda_small_groups(p);
}

/* Grid rows: channel tiles of each group, or for layers tiled across groups tiles of all
 * channels. */
static inline AXMUL__HD int axmul__cuda_rows(const axmul__conv_plan *p)
{
    return axmul__cuda_across_groups(p) ? (p->co + AXMUL__CUDA_CO_TILE - 1) / AXMUL__CUDA_CO_TILE
                                        : p->groups * axmul__cuda_tiles(p);
}

/* The output channels of grid row r: the first in *o0, the count (1-16) returned. */
static inline AXMUL__HD int axmul__cuda_row_channels(const axmul__conv_plan *p, int r, int *o0)
{
    int end;
    if (axmul__cuda_across_groups(p)) {
        *o0 = r * AXMUL__CUDA_CO_TILE;
        end = p->co;
    } else {
        const int tiles = axmul__cuda_tiles(p), g = r / tiles;
        *o0 = g * p->cout_g + (r % tiles) * AXMUL__CUDA_CO_TILE;
        end = (g + 1) * p->cout_g;
    }
    return end - *o0 < AXMUL__CUDA_CO_TILE ? end - *o0 : AXMUL__CUDA_CO_TILE;
}

/* Images per launch, so that a chunk's input codes and float outputs fit the device buffers. */
static inline size_t axmul__cuda_chunk(const axmul__conv_plan *p)
{
    const size_t in_img = (size_t)p->h * p->w * p->c, out_img = (size_t)p->oh * p->ow * p->co;
    size_t chunk = AXMUL__CUDA_CHUNK_BYTES / (in_img + sizeof(float) * out_img + 1);
    if (chunk < 1)
        chunk = 1;
    return chunk > (size_t)p->n ? (size_t)p->n : chunk;
}

/* Threads (pixels) per block for nb images on a GPU with sms multiprocessors: AXMUL__CUDA_PIX,
 * halved down to 64 while the grid would leave multiprocessors idle. Small launches (dense
 * layers: one pixel per image) otherwise run on a few multiprocessors with mostly idle lanes;
 * the table occupies one block's shared memory per multiprocessor either way. */
static inline int axmul__cuda_block_threads(const axmul__conv_plan *p, size_t nb, int sms)
{
    const uint64_t npix = (uint64_t)nb * p->oh * p->ow, rows = (uint64_t)axmul__cuda_rows(p);
    int t = AXMUL__CUDA_PIX;
    while (t > 64 && (npix + t - 1) / t * rows < (uint64_t)sms)
        t /= 2;
    return t;
}

/* The launch grid for nb images and blocks of bt threads: x over blocks of pixels, y over grid
 * rows (channel tiles). */
static inline void axmul__cuda_grid(const axmul__conv_plan *p, size_t nb, int bt, uint64_t *gx,
                                    uint64_t *gy)
{
    const uint64_t npix = (uint64_t)nb * p->oh * p->ow;
    *gx = (npix + (uint64_t)bt - 1) / (uint64_t)bt;
    *gy = (uint64_t)axmul__cuda_rows(p);
}

/* Split-K for launches that would leave most of the GPU idle (dense layers and small 1x1
 * layers at small batches: one pixel per image, a few blocks): the input channels of each
 * output are cut into slices, blockIdx.z, whose integer sums (and sums of activation codes) go
 * to a buffer, and a second kernel adds the slices in order and finishes the outputs
 * (axmul__cuda_split_finish): no float atomics, the same integers, so the same bits. Only
 * ungrouped layers (one sum of activation codes per pixel) of the column kernel, slices of at
 * least 256 channels, about two blocks per multiprocessor in all, at most 32 slices and 64 MiB
 * of partial sums. Returns the slice count, 1 for no split. */
/* least input channels per slice: a block's lookups (256 taps x 16 per thread at least) then
 * outweigh its copy of the 128 KiB table into shared memory */
#define AXMUL__CUDA_SPLIT_MIN 256
#define AXMUL__CUDA_SPLIT_MAX 32
#define AXMUL__CUDA_SPLIT_BYTES ((uint64_t)64 << 20)
static inline int axmul__cuda_splits(const axmul__conv_plan *p, size_t nb, int sms)
{
    if (p->groups != 1) /* ungrouped layers run modes 0 and 1 */
        return 1;
    const uint64_t npix = (uint64_t)nb * p->oh * p->ow;
    const int bt = axmul__cuda_block_threads(p, nb, sms);
    const uint64_t blocks =
        (npix + (uint64_t)bt - 1) / (uint64_t)bt * (uint64_t)axmul__cuda_rows(p);
    uint64_t s = (2 * (uint64_t)sms + blocks - 1) / blocks;
    const uint64_t by_len = (uint64_t)p->cin_g / AXMUL__CUDA_SPLIT_MIN;
    s = s < by_len ? s : by_len;
    s = s < AXMUL__CUDA_SPLIT_MAX ? s : AXMUL__CUDA_SPLIT_MAX;
    while (s > 1 && s * npix * (uint64_t)(p->co + 1) * 8 > AXMUL__CUDA_SPLIT_BYTES)
        s--;
    return s > 1 ? (int)s : 1;
}

/* Input channels [*c0, *c1) of slice s of S: equal runs rounded up to a multiple of 4, so that
 * 4-byte activation loads stay aligned (the last slices may be short or empty). */
static inline AXMUL__HD void axmul__cuda_slice(const axmul__conv_plan *p, int s, int S, int *c0,
                                               int *c1)
{
    const int len = ((p->cin_g + S - 1) / S + 3) & ~3;
    const int64_t a = (int64_t)s * len, b = a + len;
    *c0 = (int)(a < p->cin_g ? a : p->cin_g);
    *c1 = (int)(b < p->cin_g ? b : p->cin_g);
}

/* How a thread reads activation codes, a constant of each kernel instance:
 *   0: one byte per tap;
 *   1: 4 taps per 4-byte load, where every pixel's run of a group's channels starts on a multiple
 *      of 4 bytes (the buffers themselves are aligned);
 *   2: depthwise, one byte per channel of the tile;
 *   3: depthwise with a multiplier of 1 and c a multiple of 16: the tile's 16 channels are 16
 *      aligned bytes of the pixel, one load;
 *   4: depthwise with a multiplier of 1 and c a multiple of 4 (24, 40, 72, 120: MobileNetV3,
 *      EfficientNet): the tile's channels as 4-byte loads, none past the pixel's last channel;
 *   5: small groups (axmul__cuda_small_groups), one byte per tap and group of the tile;
 *   6: small groups, 4 taps per 4-byte load and group of the tile (the alignment of mode 1). */
static inline AXMUL__HD int axmul__cuda_mode(const axmul__conv_plan *p)
{
    const int vec4 = p->c % 4 == 0 && p->cin_g % 4 == 0;
    if (axmul__cuda_depthwise(p))
        return p->cout_g != 1 ? 2 : p->c % 16 == 0 ? 3 : p->c % 4 == 0 ? 4 : 2;
    if (axmul__cuda_small_groups(p))
        return vec4 ? 6 : 5;
    return vec4 ? 1 : 0;
}

/* Bytes of the tile-major weight codes (axmul__cuda_weight_tiles). */
static inline size_t axmul__cuda_weight_tile_bytes(const axmul__conv_plan *p)
{
    return (size_t)axmul__cuda_rows(p) * p->k * AXMUL__CUDA_CO_TILE;
}

/* Rearranges filter codes wq[o * k + tap] so that a block reads its 16 channels' codes of one
 * tap with one load: wt[(r * k + tap) * 16 + i] = wq[(o0 + i) * k + tap] for grid row r and its
 * channels o0.. (axmul__cuda_row_channels), and 0 past the row's last channel (a harmless
 * lookup whose sum is never stored, so the inner loops need no test). */
static inline void axmul__cuda_weight_tiles(const axmul__conv_plan *p, const uint8_t *wq,
                                            uint8_t *wt)
{
    memset(wt, 0, axmul__cuda_weight_tile_bytes(p));
    for (int r = 0; r < axmul__cuda_rows(p); r++) {
        int o0;
        const int nc = axmul__cuda_row_channels(p, r, &o0);
        uint8_t *dst = wt + (size_t)r * p->k * AXMUL__CUDA_CO_TILE;
        for (int i = 0; i < nc; i++) {
            const uint8_t *src = wq + (size_t)(o0 + i) * p->k;
            for (int tap = 0; tap < p->k; tap++)
                dst[(size_t)tap * AXMUL__CUDA_CO_TILE + i] = src[tap];
        }
    }
}

#if defined(__CUDACC__)
#define AXMUL__LOAD_A4(ptr) __ldg((const unsigned int *)(ptr))
#define AXMUL__LOAD_W16(ptr, v)                                                                    \
    do {                                                                                           \
        const uint4 q_ = __ldg((const uint4 *)(ptr));                                              \
        (v)[0] = q_.x;                                                                             \
        (v)[1] = q_.y;                                                                             \
        (v)[2] = q_.z;                                                                             \
        (v)[3] = q_.w;                                                                             \
    } while (0)
#else
/* Host: memcpy keeps the emulation free of alignment and aliasing assumptions (UBSan checks
 * it); both sides are little-endian, so byte i of word j is channel 4 * j + i. */
static inline uint32_t axmul__load_u32(const uint8_t *ptr)
{
    uint32_t v;
    memcpy(&v, ptr, sizeof v);
    return v;
}
#define AXMUL__LOAD_A4(ptr) axmul__load_u32(ptr)
#define AXMUL__LOAD_W16(ptr, v) memcpy((v), (ptr), 16)
#endif

/* Output coordinates of pixel pix of a chunk: column, row, image. */
AXMUL__KFN void axmul__cuda_pixel(const axmul__conv_plan *p, int64_t pix, int *ox, int *oy,
                                  int64_t *n)
{
    const int64_t r = pix / p->ow;
    *ox = (int)(pix % p->ow);
    *oy = (int)(r % p->oh);
    *n = r / p->oh;
}

/* The input pixel that tap (i, j) of output pixel (n, oy, ox) reads: its channel 0 in the NHWC
 * codes, or NULL where the tap falls in the padding (which reads the zero point: the code of
 * real 0). */
AXMUL__KFN const uint8_t *axmul__cuda_tap_pixel(const axmul__conv_plan *p, const uint8_t *qx,
                                                int64_t n, int oy, int ox, int i, int j)
{
    const int iy = axmul__in_y(p, oy, i), ix = axmul__in_x(p, ox, j);
    if (!axmul__in_image(p, iy, ix))
        return NULL;
    return qx + ((n * p->h + iy) * p->w + ix) * p->c;
}

/* Output channel o from its sum of table entries (the signed storage offset already removed)
 * and the sum of its activation codes: the CPU engine's zero-point corrections in 64-bit
 * integers, then its one float conversion. */
AXMUL__KFN float axmul__cuda_finish(const axmul__conv_plan *p, int o, int64_t acc, int64_t sqa,
                                    const int64_t *sum_qw, const int32_t *zw, const float *oscale)
{
    if (!p->is_signed)
        acc = axmul__zp_correct(acc, axmul__zp_base(p->k, p->zx, zw[o], sum_qw[o]), zw[o], sqa);
    return axmul__conv_out(oscale[o], acc);
}

/* One tap: the 16 channels' lookups of activation code qa, weight codes at wtap (16 bytes). */
AXMUL__KFN void axmul__cuda_tap(const uint8_t *wtap, uint32_t qa, const uint16_t *T,
                                uint32_t acc32[AXMUL__CUDA_CO_TILE])
{
    uint32_t wv[4];
    AXMUL__LOAD_W16(wtap, wv);
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        const uint32_t w = (wv[t / 4] >> (8 * (t % 4))) & 255u;
        acc32[t] += T[w * 256u + qa]; /* warp-uniform column, lanes vary over qa */
    }
}

/* The work of the thread for output pixel pix (of the chunk's n_img images) and grid row by,
 * modes 0 and 1 (axmul__cuda_mode). qx: the chunk's input codes, NHWC; wt: tile-major weight
 * codes (axmul__cuda_weight_tiles); T: column-major table, T[w * 256 + a], signed entries stored
 * + 32768; y: the chunk's output, NHWC. With slices > 1 (axmul__cuda_splits) the thread sums
 * slice `slice` only and writes its sums to part[(slice * npix + pix) * co + o] and, in grid row
 * 0, its sum of activation codes to psq[slice * npix + pix], instead of y. */
AXMUL__KFN void axmul__cuda_conv_thread(const axmul__conv_plan *p, int64_t n_img, const uint8_t *qx,
                                        const uint8_t *wt, const uint16_t *T, const int64_t *sum_qw,
                                        const int32_t *zw, const float *oscale, float *y,
                                        int64_t pix, int by, int vec4, int slices, int slice,
                                        int64_t *part, int64_t *psq)
{
    const int64_t npix = n_img * p->oh * p->ow;
    if (pix >= npix)
        return;
    int c0 = 0, c1 = p->cin_g;
    if (slices > 1)
        axmul__cuda_slice(p, slice, slices, &c0, &c1);
    int o0;
    const int ntile = axmul__cuda_row_channels(p, by, &o0);
    const int g = o0 / p->cout_g;
    int ox, oy;
    int64_t n;
    axmul__cuda_pixel(p, pix, &ox, &oy, &n);
    const uint8_t *wtile = wt + (int64_t)by * p->k * AXMUL__CUDA_CO_TILE;
    const uint32_t zx = (uint32_t)p->zx;
    uint32_t acc32[AXMUL__CUDA_CO_TILE];
    int64_t acc64[AXMUL__CUDA_CO_TILE];
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        acc32[t] = 0;
        acc64[t] = 0;
    }
    int64_t sqa = 0;
    int inblock = 0;
    for (int i = 0; i < p->kh; i++) {
        const int iy = axmul__in_y(p, oy, i);
        for (int j = 0; j < p->kw; j++) {
            const int ix = axmul__in_x(p, ox, j);
            const int inside = axmul__in_image(p, iy, ix);
            /* padding reads the zero point: the code of real 0 */
            const uint8_t *src =
                inside ? qx + ((n * p->h + iy) * p->w + ix) * p->c + (int64_t)g * p->cin_g : NULL;
            int ci = c0;
            int64_t tap = (int64_t)(i * p->kw + j) * p->cin_g + c0;
            while (ci < c1) {
                const int room = AXMUL__CUDA_TAP_BLOCK - inblock;
                const int seg = c1 - ci < room ? c1 - ci : room;
                const int end = ci + seg;
                if (vec4) { /* seg is a multiple of 4: so are cin_g, slices and the tap block */
                    for (; ci < end; ci += 4, tap += 4) {
                        const uint32_t a4 = src ? AXMUL__LOAD_A4(src + ci) : zx * 0x01010101u;
                        AXMUL__UNROLL
                        for (int u = 0; u < 4; u++) {
                            const uint32_t qa = (a4 >> (8 * u)) & 255u;
                            sqa += qa;
                            axmul__cuda_tap(wtile + (tap + u) * AXMUL__CUDA_CO_TILE, qa, T, acc32);
                        }
                    }
                } else {
                    for (; ci < end; ci++, tap++) {
                        const uint32_t qa = src ? src[ci] : zx;
                        sqa += qa;
                        axmul__cuda_tap(wtile + tap * AXMUL__CUDA_CO_TILE, qa, T, acc32);
                    }
                }
                inblock += seg;
                if (inblock == AXMUL__CUDA_TAP_BLOCK) {
                    AXMUL__UNROLL
                    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
                        acc64[t] += axmul__unstore(acc32[t], p->is_signed, AXMUL__CUDA_TAP_BLOCK);
                        acc32[t] = 0;
                    }
                    inblock = 0;
                }
            }
        }
    }
    /* unrolled: constant indices keep the accumulators in registers */
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        if (t >= ntile)
            break;
        const int64_t acc = acc64[t] + axmul__unstore(acc32[t], p->is_signed, inblock);
        if (slices > 1)
            part[((int64_t)slice * npix + pix) * p->co + o0 + t] = acc;
        else
            y[pix * p->co + o0 + t] = axmul__cuda_finish(p, o0 + t, acc, sqa, sum_qw, zw, oscale);
    }
    if (slices > 1 && by == 0)
        psq[(int64_t)slice * npix + pix] = sqa;
}

/* Output element idx (pixel idx / co, channel idx % co) of a split launch: the slices' sums
 * added in slice order, then the corrections and the float conversion of axmul__cuda_finish. */
AXMUL__KFN void axmul__cuda_split_finish(const axmul__conv_plan *p, int64_t n_img, int slices,
                                         const int64_t *part, const int64_t *psq,
                                         const int64_t *sum_qw, const int32_t *zw,
                                         const float *oscale, float *y, int64_t idx)
{
    const int64_t npix = n_img * p->oh * p->ow;
    if (idx >= npix * p->co)
        return;
    const int64_t pix = idx / p->co;
    const int o = (int)(idx % p->co);
    int64_t acc = 0, sqa = 0;
    for (int s = 0; s < slices; s++) {
        acc += part[(int64_t)s * npix * p->co + idx];
        sqa += psq[(int64_t)s * npix + pix];
    }
    y[idx] = axmul__cuda_finish(p, o, acc, sqa, sum_qw, zw, oscale);
}

/* Modes 2-4 (depthwise): the thread's 16 output channels each read their own input channel
 * (o / cout_g), so the sums of activation codes are per channel; k <= one tap block, so every
 * sum fits 32 bits (k * 65535 and k * 255 < 2^32). vec: the bytes per activation load, 1 (mode
 * 2), 16 (mode 3) or 4 (mode 4). Other arguments as axmul__cuda_conv_thread. */
AXMUL__KFN void axmul__cuda_dw_thread(const axmul__conv_plan *p, int64_t n_img, const uint8_t *qx,
                                      const uint8_t *wt, const uint16_t *T, const int64_t *sum_qw,
                                      const int32_t *zw, const float *oscale, float *y, int64_t pix,
                                      int by, int vec)
{
    if (pix >= n_img * p->oh * p->ow)
        return;
    int o0;
    const int ntile = axmul__cuda_row_channels(p, by, &o0);
    int ox, oy;
    int64_t n;
    axmul__cuda_pixel(p, pix, &ox, &oy, &n);
    const uint8_t *wtile = wt + (int64_t)by * p->k * AXMUL__CUDA_CO_TILE;
    const uint32_t zx = (uint32_t)p->zx;
    uint32_t acc[AXMUL__CUDA_CO_TILE], sqa[AXMUL__CUDA_CO_TILE];
    int ch[AXMUL__CUDA_CO_TILE]; /* input channel of each output channel; any valid one past
                                    the row's end */
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        acc[t] = 0;
        sqa[t] = 0;
        const int c = (o0 + t) / p->cout_g;
        ch[t] = c < p->c ? c : p->c - 1;
    }
    int tap = 0;
    for (int i = 0; i < p->kh; i++) {
        for (int j = 0; j < p->kw; j++, tap++) {
            const uint8_t *src = axmul__cuda_tap_pixel(p, qx, n, oy, ox, i, j);
            uint32_t av[4] = {0, 0, 0, 0};
            if (vec > 1 && !src) {
                av[0] = av[1] = av[2] = av[3] = zx * 0x01010101u;
            } else if (vec == 16) { /* channels o0..o0 + 15 of the pixel: 16 aligned bytes */
                AXMUL__LOAD_W16(src + o0, av);
            } else if (vec == 4) { /* a partial last tile reads its own words only */
                AXMUL__UNROLL
                for (int q = 0; q < 4; q++)
                    if (o0 + 4 * q < p->c)
                        av[q] = AXMUL__LOAD_A4(src + o0 + 4 * q);
            }
            uint32_t wv[4];
            AXMUL__LOAD_W16(wtile + (int64_t)tap * AXMUL__CUDA_CO_TILE, wv);
            AXMUL__UNROLL
            for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
                const uint32_t qa =
                    vec > 1 ? (av[t / 4] >> (8 * (t % 4))) & 255u : (src ? src[ch[t]] : zx);
                const uint32_t w = (wv[t / 4] >> (8 * (t % 4))) & 255u;
                sqa[t] += qa;
                acc[t] += T[w * 256u + qa]; /* warp-uniform column for each t */
            }
        }
    }
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        if (t >= ntile)
            break;
        const int64_t a = axmul__unstore(acc[t], p->is_signed, p->k);
        y[pix * p->co + o0 + t] = axmul__cuda_finish(p, o0 + t, a, sqa[t], sum_qw, zw, oscale);
    }
}

/* Modes 5 and 6 (axmul__cuda_small_groups): the tile's 16 channels are gpt = 16 / cout_g whole
 * groups, channel t of group slot t / cout_g; per tap, each slot's activation code (one byte, or
 * with vec4 one 4-byte load for 4 taps) serves its cout_g channels. cout_g is the layer's, a
 * constant of each kernel instance on the device (so that the slot arrays stay in registers).
 * Slots past the last group read the last group (harmless lookups whose sums are never stored).
 * k <= one tap block: 32-bit sums. Other arguments as axmul__cuda_conv_thread. */
AXMUL__KFN void axmul__cuda_sg_thread(const axmul__conv_plan *p, int64_t n_img, const uint8_t *qx,
                                      const uint8_t *wt, const uint16_t *T, const int64_t *sum_qw,
                                      const int32_t *zw, const float *oscale, float *y, int64_t pix,
                                      int by, int cout_g, int vec4)
{
    if (pix >= n_img * p->oh * p->ow)
        return;
    int o0;
    const int ntile = axmul__cuda_row_channels(p, by, &o0);
    const int gpt = AXMUL__CUDA_CO_TILE / cout_g, g0 = o0 / cout_g;
    int ox, oy;
    int64_t n;
    axmul__cuda_pixel(p, pix, &ox, &oy, &n);
    const uint8_t *wtile = wt + (int64_t)by * p->k * AXMUL__CUDA_CO_TILE;
    const uint32_t zx = (uint32_t)p->zx;
    uint32_t acc[AXMUL__CUDA_CO_TILE], sqa[AXMUL__CUDA_CO_TILE];
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        acc[t] = 0;
        sqa[t] = 0;
    }
    /* the first input channel of slot s's group: cbase + s * cin_g, but the last group's for the
     * slots past it (at most the last tile has such slots) */
    const int cbase = g0 * p->cin_g, last = (p->groups - 1 - g0) * p->cin_g;
    int64_t tap = 0;
    for (int i = 0; i < p->kh; i++) {
        for (int j = 0; j < p->kw; j++) {
            const uint8_t *src = axmul__cuda_tap_pixel(p, qx, n, oy, ox, i, j);
            if (vec4) {
                for (int ci = 0; ci < p->cin_g; ci += 4, tap += 4) {
                    uint32_t a4[AXMUL__CUDA_CO_TILE];
                    AXMUL__UNROLL
                    for (int s = 0; s < AXMUL__CUDA_CO_TILE; s++)
                        if (s < gpt) {
                            const int at = cbase + ci + (s * p->cin_g < last ? s * p->cin_g : last);
                            a4[s] = src ? AXMUL__LOAD_A4(src + at) : zx * 0x01010101u;
                        }
                    AXMUL__UNROLL
                    for (int u = 0; u < 4; u++) {
                        uint32_t wv[4];
                        AXMUL__LOAD_W16(wtile + (tap + u) * AXMUL__CUDA_CO_TILE, wv);
                        AXMUL__UNROLL
                        for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
                            const uint32_t qa = (a4[t / cout_g] >> (8 * u)) & 255u;
                            const uint32_t w = (wv[t / 4] >> (8 * (t % 4))) & 255u;
                            acc[t] += T[w * 256u + qa]; /* warp-uniform column for each t */
                        }
                    }
                    AXMUL__UNROLL
                    for (int s = 0; s < AXMUL__CUDA_CO_TILE; s++)
                        if (s < gpt) { /* the 4 codes' sum: bytes added pairwise */
                            const uint32_t v = (a4[s] & 0x00ff00ffu) + ((a4[s] >> 8) & 0x00ff00ffu);
                            sqa[s] += (v & 0xffffu) + (v >> 16);
                        }
                }
            } else {
                for (int ci = 0; ci < p->cin_g; ci++, tap++) {
                    uint32_t a[AXMUL__CUDA_CO_TILE];
                    AXMUL__UNROLL
                    for (int s = 0; s < AXMUL__CUDA_CO_TILE; s++)
                        if (s < gpt) {
                            const int at = cbase + ci + (s * p->cin_g < last ? s * p->cin_g : last);
                            a[s] = src ? src[at] : zx;
                            sqa[s] += a[s];
                        }
                    uint32_t wv[4];
                    AXMUL__LOAD_W16(wtile + tap * AXMUL__CUDA_CO_TILE, wv);
                    AXMUL__UNROLL
                    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
                        const uint32_t w = (wv[t / 4] >> (8 * (t % 4))) & 255u;
                        acc[t] += T[w * 256u + a[t / cout_g]];
                    }
                }
            }
        }
    }
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        if (t >= ntile)
            break;
        const int64_t a = axmul__unstore(acc[t], p->is_signed, p->k);
        y[pix * p->co + o0 + t] =
            axmul__cuda_finish(p, o0 + t, a, sqa[t / cout_g], sum_qw, zw, oscale);
    }
}

/* The thread's work in the given mode (axmul__cuda_mode): the one entry point of the kernel and
 * of the host run. slices, slice, part, psq: split-K (axmul__cuda_conv_thread), modes 0-1.
 * cout_g: the layer's output channels per group (modes 5-6; a constant of the kernel instance on
 * the device). */
AXMUL__KFN void axmul__cuda_thread(const axmul__conv_plan *p, int64_t n_img, const uint8_t *qx,
                                   const uint8_t *wt, const uint16_t *T, const int64_t *sum_qw,
                                   const int32_t *zw, const float *oscale, float *y, int64_t pix,
                                   int by, int mode, int cout_g, int slices, int slice,
                                   int64_t *part, int64_t *psq)
{
    if (mode < 2)
        axmul__cuda_conv_thread(p, n_img, qx, wt, T, sum_qw, zw, oscale, y, pix, by, mode == 1,
                                slices, slice, part, psq);
    else if (mode >= 5)
        axmul__cuda_sg_thread(p, n_img, qx, wt, T, sum_qw, zw, oscale, y, pix, by, cout_g,
                              mode == 6);
    else
        axmul__cuda_dw_thread(p, n_img, qx, wt, T, sum_qw, zw, oscale, y, pix, by,
                              mode == 3   ? 16
                              : mode == 4 ? 4
                                          : 1);
}

/* ---------------------------------------------------------------- the expanded-table kernel
 *
 * A second design for the general layers (AXMUL_CUDA_TABLE=expanded), aimed at the shared-memory
 * bank conflicts that bound the column kernel above: there, each of a lane's 16 lookups per tap
 * is its own 2-byte shared load, and 32 lanes with scattered activation codes hit the same bank
 * 2.78 times on average (doc/performance.md). Here a block first expands, for a stage of
 * AXMUL__CUDA_X_TAPS taps, the 16 weight columns of its channel tile into rows: for every
 * activation code a, the 16 entries T[w_t][a] of the tile's channels side by side (32 bytes, as
 * two 16-byte chunks). A lane then gets all 16 products of a tap with two 16-byte shared loads
 * at its activation code. The expansion reads the 16 columns (8 KiB per tap) with coalesced
 * loads from the read-only cache and costs the block the same per tap whatever its pixel count,
 * so each thread takes AXMUL__CUDA_X_PPT pixels. Sums stay in 32 bits: only layers with at most
 * one tap block per output, and not depthwise ones (each channel of theirs reads its own code). */
#define AXMUL__CUDA_X_THREADS 256 /* most threads per block */
#define AXMUL__CUDA_X_PPT 4       /* output pixels per thread */
#define AXMUL__CUDA_X_TAPS 4      /* taps per stage */
/* one stage: X_TAPS taps x 2 halves x 256 codes x 16 bytes (32 KiB), as 32-bit words */
#define AXMUL__CUDA_X_STAGE_WORDS (AXMUL__CUDA_X_TAPS * 2 * 256 * 4)
/* cuda/conv.cu launches it without the opt-in to more than 48 KiB of shared memory per block */
#ifdef __cplusplus
static_assert(AXMUL__CUDA_X_STAGE_WORDS * 4 <= 48 * 1024, "expanded stage within 48 KiB");
#else
_Static_assert(AXMUL__CUDA_X_STAGE_WORDS * 4 <= 48 * 1024, "expanded stage within 48 KiB");
#endif

/* Whether the expanded kernel can compute a layer: not one tiled across groups (its tile's 16
 * channels share one activation code). */
static inline AXMUL__HD int axmul__cuda_expandable(const axmul__conv_plan *p)
{
    return !axmul__cuda_across_groups(p) && p->k <= AXMUL__CUDA_TAP_BLOCK;
}

/* Whether AXMUL_CUDA_TABLE=expanded runs a layer with the expanded kernel (otherwise with the
 * column kernel): also at least 4096 output pixels, 16 blocks of the smallest size per channel
 * tile. A block builds each stage whatever its pixel count: below 256 pixels (a block of 64
 * threads) the building outweighs the lookups it saves (model in doc/performance.md), and
 * layers of a few thousand pixels (dense layers at small batches) would leave most of the GPU
 * idle, where the column kernel splits the sums over the input channels (axmul__cuda_splits). */
#define AXMUL__CUDA_X_MIN_PIXELS 4096
static inline AXMUL__HD int axmul__cuda_use_expanded(const axmul__conv_plan *p)
{
    return axmul__cuda_expandable(p) && (int64_t)p->n * p->oh * p->ow >= AXMUL__CUDA_X_MIN_PIXELS;
}

/* Threads per block of the expanded kernel: AXMUL__CUDA_X_THREADS, halved down to 64 while the
 * grid would leave multiprocessors idle (as axmul__cuda_block_threads). */
static inline int axmul__cuda_x_block_threads(const axmul__conv_plan *p, size_t nb, int sms)
{
    const uint64_t npix = (uint64_t)nb * p->oh * p->ow, rows = (uint64_t)axmul__cuda_rows(p);
    int t = AXMUL__CUDA_X_THREADS;
    for (;;) {
        const uint64_t per = (uint64_t)t * AXMUL__CUDA_X_PPT; /* pixels per block */
        if (t <= 64 || (npix + per - 1) / per * rows >= (uint64_t)sms)
            return t;
        t /= 2;
    }
}

/* The default choice between the two designs (AXMUL_CUDA_TABLE unset), from the H200 figures of
 * doc/performance.md (2026-12-04): the expanded kernel where it is used at all
 * (axmul__cuda_use_expanded) and its blocks keep at least 512 pixels while filling the GPU
 * (AXMUL__CUDA_X_AUTO_THREADS threads of 4 pixels), where it ran 1.06-1.50x the faster column
 * kernel on the four such layers measured; the column kernel where the grid needs blocks of 256
 * pixels (1x1 28x28x256 b8, LeNet's conv2 at b256: 0.49x and 0.54x), each block building every
 * stage for fewer pixels. nb: the images of one launch. */
#define AXMUL__CUDA_X_AUTO_THREADS 128
static inline int axmul__cuda_auto_expanded(const axmul__conv_plan *p, size_t nb, int sms)
{
    return axmul__cuda_use_expanded(p) &&
           axmul__cuda_x_block_threads(p, nb, sms) >= AXMUL__CUDA_X_AUTO_THREADS;
}

/* The expanded kernel's grid: x over blocks of bt * AXMUL__CUDA_X_PPT pixels, y over rows. */
static inline void axmul__cuda_x_grid(const axmul__conv_plan *p, size_t nb, int bt, uint64_t *gx,
                                      uint64_t *gy)
{
    const uint64_t npix = (uint64_t)nb * p->oh * p->ow, per = (uint64_t)bt * AXMUL__CUDA_X_PPT;
    *gx = (npix + per - 1) / per;
    *gy = (uint64_t)axmul__cuda_rows(p);
}

/* A launch for nb images: the threads per block and the grid of the expanded kernel (expanded)
 * or of the column kernel, on a GPU with sms multiprocessors. */
static inline void axmul__cuda_launch_shape(const axmul__conv_plan *p, size_t nb, int sms,
                                            int expanded, int *bt, uint64_t *gx, uint64_t *gy)
{
    if (expanded) {
        *bt = axmul__cuda_x_block_threads(p, nb, sms);
        axmul__cuda_x_grid(p, nb, *bt, gx, gy);
    } else {
        *bt = axmul__cuda_block_threads(p, nb, sms);
        axmul__cuda_grid(p, nb, *bt, gx, gy);
    }
}

#if defined(__CUDACC__)
#define AXMUL__LOAD_T4(ptr, v)                                                                     \
    do {                                                                                           \
        const uint2 t_ = __ldg((const uint2 *)(ptr));                                              \
        (v)[0] = t_.x;                                                                             \
        (v)[1] = t_.y;                                                                             \
    } while (0)
#define AXMUL__LOAD_E8(ptr, v)                                                                     \
    do {                                                                                           \
        const uint4 e_ = *(const uint4 *)(ptr);                                                    \
        (v)[0] = e_.x;                                                                             \
        (v)[1] = e_.y;                                                                             \
        (v)[2] = e_.z;                                                                             \
        (v)[3] = e_.w;                                                                             \
    } while (0)
/* One 16-byte shared store, written out: nvcc 13.0 splits a uint4 store through this pointer
 * into four 4-byte stores (four times the store instructions of the stage build). */
#define AXMUL__STORE_E8(ptr, v)                                                                    \
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};"                                        \
                 :                                                                                 \
                 : "r"((unsigned)__cvta_generic_to_shared(ptr)), "r"((v)[0]), "r"((v)[1]),         \
                   "r"((v)[2]), "r"((v)[3])                                                        \
                 : "memory")
#else
#define AXMUL__LOAD_T4(ptr, v) memcpy((v), (ptr), 8)
#define AXMUL__LOAD_E8(ptr, v) memcpy((v), (ptr), 16)
#define AXMUL__STORE_E8(ptr, v) memcpy((ptr), (v), 16)
#endif

/* Where the 16-byte chunk of code a lies in its 256-chunk half: the building threads write 4
 * consecutive codes each, so that 8 neighbouring lanes would write to 2 of the 8 groups of banks;
 * the swizzle sends them to 8 different ones. Any permutation serves the readers, whose codes are
 * scattered anyway. */
AXMUL__KFN int axmul__cuda_x_swz(int a)
{
    return a ^ ((a >> 3) & 7);
}

/* Halves of 8 channels that grid row by uses: 1 where it has at most 8 output channels (small
 * layers and groups, a last partial tile), whose stages are then built and read half as much. */
AXMUL__KFN int axmul__cuda_x_halves(const axmul__conv_plan *p, int by)
{
    int o0;
    return axmul__cuda_row_channels(p, by, &o0) > 8 ? 2 : 1;
}

/* Thread tid of bt's share of building the stage E for the nt taps from tap0 of the tile's
 * weight codes wtile, first halves (1 or 2) halves: unit u = (tap, half, block of 4 codes) reads
 * 4 codes of 8 columns (one 8-byte load each, a warp's loads covering 256 bytes of a column) and
 * writes 4 chunks, chunk (tap, half, a) holding T[w_t][a] for the half's 8 channels t, 16 bits
 * each, in word order. */
AXMUL__KFN void axmul__cuda_x_build(const uint8_t *wtile, const uint16_t *T, int tap0, int nt,
                                    int halves, uint32_t *E, int tid, int bt)
{
    const int shift = halves == 2 ? 7 : 6; /* log2 of the units per tap */
    for (int u = tid; u < nt << shift; u += bt) {
        const int tau = u >> shift, half = (u >> 6) & (halves - 1), ab = u & 63;
        const uint8_t *wq = wtile + (int64_t)(tap0 + tau) * AXMUL__CUDA_CO_TILE + 8 * half;
        uint32_t col[8][2];
        AXMUL__UNROLL
        for (int v = 0; v < 8; v++)
            AXMUL__LOAD_T4(T + (uint32_t)wq[v] * 256u + (uint32_t)ab * 4u, col[v]);
        uint32_t *dst = E + (size_t)(tau * 2 + half) * 256 * 4;
        AXMUL__UNROLL
        for (int j = 0; j < 4; j++) {
            uint32_t q[4];
            AXMUL__UNROLL
            for (int m = 0; m < 4; m++) {
                const uint32_t lo = (col[2 * m][j >> 1] >> (16 * (j & 1))) & 0xffffu;
                const uint32_t hi = (col[2 * m + 1][j >> 1] >> (16 * (j & 1))) & 0xffffu;
                q[m] = lo | hi << 16;
            }
            AXMUL__STORE_E8(dst + (size_t)axmul__cuda_x_swz(ab * 4 + j) * 4, q);
        }
    }
}

/* A thread's running state: its pixels, their sums, and the position of its next tap. */
typedef struct axmul__cuda_x_state {
    int64_t pix0;                   /* first pixel of the chunk; the others follow bt apart */
    int32_t img[AXMUL__CUDA_X_PPT]; /* image * h: 0, or under 2^28 (axmul__cuda_chunk) */
    int iy0[AXMUL__CUDA_X_PPT], ix0[AXMUL__CUDA_X_PPT];
    uint32_t acc[AXMUL__CUDA_X_PPT][AXMUL__CUDA_CO_TILE], sqa[AXMUL__CUDA_X_PPT];
    int cbase;    /* the group's first input channel */
    int halves;   /* axmul__cuda_x_halves of the block's row */
    int i, j, ci; /* the next tap: filter row, column, channel of the group */
} axmul__cuda_x_state;

/* Thread tid of block (bx, by) of bt threads, for a chunk of n_img images. Pixels past the
 * chunk's end compute pixel 0 and are never stored (every thread takes part in the stages). */
AXMUL__KFN void axmul__cuda_x_init(axmul__cuda_x_state *st, const axmul__conv_plan *p,
                                   int64_t n_img, int64_t bx, int by, int tid, int bt)
{
    const int64_t npix = n_img * p->oh * p->ow;
    int o0;
    axmul__cuda_row_channels(p, by, &o0);
    st->pix0 = bx * bt * AXMUL__CUDA_X_PPT + tid;
    st->cbase = o0 / p->cout_g * p->cin_g;
    st->halves = axmul__cuda_x_halves(p, by);
    st->i = st->j = st->ci = 0;
    AXMUL__UNROLL
    for (int u = 0; u < AXMUL__CUDA_X_PPT; u++) {
        const int64_t pix = st->pix0 + (int64_t)u * bt;
        int ox, oy;
        int64_t n;
        axmul__cuda_pixel(p, pix < npix ? pix : 0, &ox, &oy, &n);
        st->img[u] = (int32_t)(n * p->h);
        st->iy0[u] = axmul__in_y(p, oy, 0); /* filter row i then reads iy0 + i * dh */
        st->ix0[u] = axmul__in_x(p, ox, 0);
        st->sqa[u] = 0;
        AXMUL__UNROLL
        for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++)
            st->acc[u][t] = 0;
    }
}

/* The input codes of pixel u at the thread's current filter position, or NULL in the padding. */
AXMUL__KFN const uint8_t *axmul__cuda_x_src(const axmul__cuda_x_state *st,
                                            const axmul__conv_plan *p, const uint8_t *qx, int u)
{
    const int iy = st->iy0[u] + st->i * p->dh, ix = st->ix0[u] + st->j * p->dw;
    if (!axmul__in_image(p, iy, ix))
        return NULL;
    return qx + ((int64_t)(st->img[u] + iy) * p->w + ix) * p->c + st->cbase;
}

/* Moves the thread's tap position on by n taps (n divides cin_g when it is more than 1). */
AXMUL__KFN void axmul__cuda_x_advance(axmul__cuda_x_state *st, const axmul__conv_plan *p, int n)
{
    st->ci += n;
    if (st->ci == p->cin_g) {
        st->ci = 0;
        if (++st->j == p->kw) {
            st->j = 0;
            st->i++;
        }
    }
}

/* One lookup of all 16 channels: the chunks of code qa in stage tap tau (channels 8-15 add 0
 * where the row has only one half). */
AXMUL__KFN void axmul__cuda_x_lookup(const uint32_t *E, int tau, uint32_t qa, int halves,
                                     uint32_t acc[AXMUL__CUDA_CO_TILE])
{
    const uint32_t *c0 = E + ((size_t)tau * 2 * 256 + (size_t)axmul__cuda_x_swz((int)qa)) * 4;
    uint32_t e[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    AXMUL__LOAD_E8(c0, e);
    if (halves == 2)
        AXMUL__LOAD_E8(c0 + 256 * 4, e + 4);
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++)
        acc[t] += (e[t >> 1] >> (16 * (t & 1))) & 0xffffu;
}

/* The thread's work on a built stage of nt taps. vec4 (mode 1: c and cin_g multiples of 4, so a
 * stage's 4 taps are 4 channels of one filter position): one 4-byte load per pixel. */
AXMUL__KFN void axmul__cuda_x_taps(axmul__cuda_x_state *st, const axmul__conv_plan *p,
                                   const uint8_t *qx, const uint32_t *E, int nt, int vec4)
{
    const uint32_t zx = (uint32_t)p->zx;
    if (vec4) {
        uint32_t a4[AXMUL__CUDA_X_PPT];
        AXMUL__UNROLL
        for (int u = 0; u < AXMUL__CUDA_X_PPT; u++) {
            const uint8_t *src = axmul__cuda_x_src(st, p, qx, u);
            a4[u] = src ? AXMUL__LOAD_A4(src + st->ci) : zx * 0x01010101u;
        }
        AXMUL__UNROLL
        for (int tau = 0; tau < AXMUL__CUDA_X_TAPS; tau++) {
            AXMUL__UNROLL
            for (int u = 0; u < AXMUL__CUDA_X_PPT; u++) {
                const uint32_t qa = (a4[u] >> (8 * tau)) & 255u;
                st->sqa[u] += qa;
                axmul__cuda_x_lookup(E, tau, qa, st->halves, st->acc[u]);
            }
        }
        axmul__cuda_x_advance(st, p, AXMUL__CUDA_X_TAPS);
        return;
    }
    for (int tau = 0; tau < nt; tau++) {
        AXMUL__UNROLL
        for (int u = 0; u < AXMUL__CUDA_X_PPT; u++) {
            const uint8_t *src = axmul__cuda_x_src(st, p, qx, u);
            const uint32_t qa = src ? src[st->ci] : zx;
            st->sqa[u] += qa;
            axmul__cuda_x_lookup(E, tau, qa, st->halves, st->acc[u]);
        }
        axmul__cuda_x_advance(st, p, 1);
    }
}

/* The thread's outputs, after the last stage (y: the chunk's output, NHWC). */
AXMUL__KFN void axmul__cuda_x_finish(const axmul__cuda_x_state *st, const axmul__conv_plan *p,
                                     int64_t n_img, int by, int bt, const int64_t *sum_qw,
                                     const int32_t *zw, const float *oscale, float *y)
{
    const int64_t npix = n_img * p->oh * p->ow;
    int o0;
    const int ntile = axmul__cuda_row_channels(p, by, &o0);
    AXMUL__UNROLL
    for (int u = 0; u < AXMUL__CUDA_X_PPT; u++) {
        const int64_t pix = st->pix0 + (int64_t)u * bt;
        if (pix >= npix)
            break;
        AXMUL__UNROLL
        for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
            if (t >= ntile)
                break;
            const int64_t acc = axmul__unstore(st->acc[u][t], p->is_signed, p->k);
            y[pix * p->co + o0 + t] =
                axmul__cuda_finish(p, o0 + t, acc, (int64_t)st->sqa[u], sum_qw, zw, oscale);
        }
    }
}

#endif
