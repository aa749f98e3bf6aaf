/* axmul: the CUDA convolution kernel's per-thread work, written in the common subset of C11 and
 * CUDA C++ so that one text is both the device code (cuda/conv.cu) and a host program that the
 * test suite runs over the same grid on any machine (tests/check_cudakernel.c): the indexing,
 * padding, tap blocking and accumulator logic are thus tested in every build, with or without a
 * GPU. Only the loads differ (vector loads through the read-only cache on the device).
 *
 * Work layout (the design measured by others, doc/performance.md): one thread per output pixel,
 * a block of up to AXMUL__CUDA_PIX pixels x AXMUL__CUDA_CO_TILE output channels of one group
 * (of 16 groups for depthwise layers, axmul__cuda_depthwise). For each tap a thread reads its
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

#include "conv/conv_plan.h"

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

/* Grid rows: channel tiles of each group, or for depthwise layers tiles of all channels. */
static inline AXMUL__HD int axmul__cuda_rows(const axmul__conv_plan *p)
{
    return axmul__cuda_depthwise(p) ? (p->co + AXMUL__CUDA_CO_TILE - 1) / AXMUL__CUDA_CO_TILE
                                    : p->groups * axmul__cuda_tiles(p);
}

/* The output channels of grid row r: the first in *o0, the count (1-16) returned. */
static inline AXMUL__HD int axmul__cuda_row_channels(const axmul__conv_plan *p, int r, int *o0)
{
    int end;
    if (axmul__cuda_depthwise(p)) {
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

/* How a thread reads activation codes, a constant of each kernel instance:
 *   0: one byte per tap;
 *   1: 4 taps per 4-byte load, where every pixel's run of a group's channels starts on a multiple
 *      of 4 bytes (the buffers themselves are aligned);
 *   2: depthwise, one byte per channel of the tile;
 *   3: depthwise with a multiplier of 1 and c a multiple of 16: the tile's 16 channels are 16
 *      aligned bytes of the pixel, one load. */
static inline AXMUL__HD int axmul__cuda_mode(const axmul__conv_plan *p)
{
    if (axmul__cuda_depthwise(p))
        return p->cout_g == 1 && p->c % 16 == 0 ? 3 : 2;
    return p->c % 4 == 0 && p->cin_g % 4 == 0 ? 1 : 0;
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

/* Output channel o from its sum of table entries (the signed storage offset already removed)
 * and the sum of its activation codes: the CPU engine's zero-point corrections in 64-bit
 * integers, then its one float conversion. */
AXMUL__KFN float axmul__cuda_finish(const axmul__conv_plan *p, int o, int64_t acc, int64_t sqa,
                                    const int64_t *sum_qw, const int32_t *zw, const float *oscale)
{
    if (!p->is_signed) {
        const int64_t z = zw[o], zx = p->zx;
        acc = acc - z * sqa + (int64_t)p->k * zx * z - zx * sum_qw[o];
    }
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
 * + 32768; y: the chunk's output, NHWC. */
AXMUL__KFN void axmul__cuda_conv_thread(const axmul__conv_plan *p, int64_t n_img, const uint8_t *qx,
                                        const uint8_t *wt, const uint16_t *T, const int64_t *sum_qw,
                                        const int32_t *zw, const float *oscale, float *y,
                                        int64_t pix, int by, int vec4)
{
    if (pix >= n_img * p->oh * p->ow)
        return;
    int o0;
    const int ntile = axmul__cuda_row_channels(p, by, &o0);
    const int g = o0 / p->cout_g;
    int ox, oy;
    int64_t n;
    axmul__cuda_pixel(p, pix, &ox, &oy, &n);
    const uint8_t *wtile = wt + (int64_t)by * p->k * AXMUL__CUDA_CO_TILE;
    const uint32_t offset = p->is_signed ? 32768u : 0u; /* signed entries are stored + 32768 */
    const uint32_t zx = (uint32_t)p->zx;
    uint32_t acc32[AXMUL__CUDA_CO_TILE];
    int64_t acc64[AXMUL__CUDA_CO_TILE];
    AXMUL__UNROLL
    for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
        acc32[t] = 0;
        acc64[t] = 0;
    }
    int64_t sqa = 0;
    int64_t tap = 0;
    int inblock = 0;
    for (int i = 0; i < p->kh; i++) {
        const int iy = oy * p->sh - p->pad_top + i * p->dh;
        for (int j = 0; j < p->kw; j++) {
            const int ix = ox * p->sw - p->pad_left + j * p->dw;
            const int inside = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
            /* padding reads the zero point: the code of real 0 */
            const uint8_t *src =
                inside ? qx + ((n * p->h + iy) * p->w + ix) * p->c + (int64_t)g * p->cin_g : NULL;
            int ci = 0;
            while (ci < p->cin_g) {
                const int room = AXMUL__CUDA_TAP_BLOCK - inblock;
                const int seg = p->cin_g - ci < room ? p->cin_g - ci : room;
                const int end = ci + seg;
                if (vec4) { /* seg is a multiple of 4: so are cin_g and the tap block */
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
                        acc64[t] += (int64_t)acc32[t] - (int64_t)offset * AXMUL__CUDA_TAP_BLOCK;
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
        const int64_t acc = acc64[t] + (int64_t)acc32[t] - (int64_t)offset * inblock;
        y[pix * p->co + o0 + t] = axmul__cuda_finish(p, o0 + t, acc, sqa, sum_qw, zw, oscale);
    }
}

/* Modes 2 and 3 (depthwise): the thread's 16 output channels each read their own input channel
 * (o / cout_g), so the sums of activation codes are per channel; k <= one tap block, so every
 * sum fits 32 bits (k * 65535 and k * 255 < 2^32). Same arguments as axmul__cuda_conv_thread. */
AXMUL__KFN void axmul__cuda_dw_thread(const axmul__conv_plan *p, int64_t n_img, const uint8_t *qx,
                                      const uint8_t *wt, const uint16_t *T, const int64_t *sum_qw,
                                      const int32_t *zw, const float *oscale, float *y, int64_t pix,
                                      int by, int vec16)
{
    if (pix >= n_img * p->oh * p->ow)
        return;
    int o0;
    const int ntile = axmul__cuda_row_channels(p, by, &o0);
    int ox, oy;
    int64_t n;
    axmul__cuda_pixel(p, pix, &ox, &oy, &n);
    const uint8_t *wtile = wt + (int64_t)by * p->k * AXMUL__CUDA_CO_TILE;
    const uint32_t offset = p->is_signed ? 32768u : 0u;
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
        const int iy = oy * p->sh - p->pad_top + i * p->dh;
        for (int j = 0; j < p->kw; j++, tap++) {
            const int ix = ox * p->sw - p->pad_left + j * p->dw;
            const int inside = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
            const uint8_t *src = inside ? qx + ((n * p->h + iy) * p->w + ix) * p->c : NULL;
            uint32_t av[4] = {0, 0, 0, 0};
            if (vec16) { /* channels o0..o0 + 15 of the pixel: 16 aligned bytes */
                if (src) {
                    AXMUL__LOAD_W16(src + o0, av);
                } else {
                    av[0] = av[1] = av[2] = av[3] = zx * 0x01010101u;
                }
            }
            uint32_t wv[4];
            AXMUL__LOAD_W16(wtile + (int64_t)tap * AXMUL__CUDA_CO_TILE, wv);
            AXMUL__UNROLL
            for (int t = 0; t < AXMUL__CUDA_CO_TILE; t++) {
                const uint32_t qa =
                    vec16 ? (av[t / 4] >> (8 * (t % 4))) & 255u : (src ? src[ch[t]] : zx);
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
        const int64_t a = (int64_t)acc[t] - (int64_t)offset * p->k;
        y[pix * p->co + o0 + t] = axmul__cuda_finish(p, o0 + t, a, sqa[t], sum_qw, zw, oscale);
    }
}

/* The thread's work in the given mode (axmul__cuda_mode): the one entry point of the kernel and
 * of the host run. */
AXMUL__KFN void axmul__cuda_thread(const axmul__conv_plan *p, int64_t n_img, const uint8_t *qx,
                                   const uint8_t *wt, const uint16_t *T, const int64_t *sum_qw,
                                   const int32_t *zw, const float *oscale, float *y, int64_t pix,
                                   int by, int mode)
{
    if (mode < 2)
        axmul__cuda_conv_thread(p, n_img, qx, wt, T, sum_qw, zw, oscale, y, pix, by, mode == 1);
    else
        axmul__cuda_dw_thread(p, n_img, qx, wt, T, sum_qw, zw, oscale, y, pix, by, mode == 3);
}

#endif
