/* axmul: the aarch64 LUT-MAC kernel, Advanced SIMD (NEON), which every aarch64 CPU has (Graviton,
 * Ampere, Apple silicon under Linux).
 *
 * A weight's column T[.][w] is two 256-byte planes (low and high bytes of the entries, the layout
 * the VBMI kernel reads: lib/cpu/cpu.h). One plane is sixteen q registers, four 64-byte tables:
 * TBL looks up 16 activation bytes in the first (indices 0-63; an index past the table gives 0)
 * and three TBX in the others (index XOR 0x40, 0x80, 0xC0 brings the table's range to 0-63 and
 * takes every other index out of it; TBX keeps those lanes). So 16 lookups of one plane are one
 * load of indices, three XORs, four table instructions and two widening adds into 16-bit sums
 * kept in L1; a plane's registers serve the whole chunk of pixels before the next plane is loaded.
 * The 16-bit sums hold 257 bytes of 255 before they could overflow, so every 256 taps they are
 * added, low + 256 * high, to the 32-bit totals.
 *
 * Instruction count per 16 lookups of 16-bit entries (both planes): 24 (2 loads of indices, 6
 * XORs, 8 table instructions, 2 loads and 2 stores of sums, 4 widening adds), against 16 loads,
 * 16 adds and the address arithmetic of the scalar kernel (about 3.4 instructions per lookup on
 * x86, doc/performance.md); the flush adds 6 per 16 pixels per 256 taps. */
#include "config.h"

#include "lib/cpu/cpu.h"

#ifdef AXMUL__HAVE_ARM_KERNELS
#include <arm_neon.h>

_Static_assert(AXMUL__CHUNK % 16 == 0, "the NEON kernel works on 16-pixel vectors");

/* sum[16 * v + i] += plane[idx] for the nv live 16-pixel vectors of one activation row. */
static inline void plane_row(const uint8_t *plane, const uint8_t *row, int nv, uint16_t *sum)
{
    const uint8x16x4_t t0 = vld1q_u8_x4(plane), t1 = vld1q_u8_x4(plane + 64);
    const uint8x16x4_t t2 = vld1q_u8_x4(plane + 128), t3 = vld1q_u8_x4(plane + 192);
    const uint8x16_t k1 = vdupq_n_u8(0x40), k2 = vdupq_n_u8(0x80), k3 = vdupq_n_u8(0xC0);
    for (int v = 0; v < nv; v++) {
        const uint8x16_t idx = vld1q_u8(row + 16 * v);
        uint8x16_t e = vqtbl4q_u8(t0, idx);
        e = vqtbx4q_u8(e, t1, veorq_u8(idx, k1));
        e = vqtbx4q_u8(e, t2, veorq_u8(idx, k2));
        e = vqtbx4q_u8(e, t3, veorq_u8(idx, k3));
        uint16_t *s = sum + 16 * v;
        vst1q_u16(s, vaddw_u8(vld1q_u16(s), vget_low_u8(e)));
        vst1q_u16(s + 8, vaddw_high_u8(vld1q_u16(s + 8), e));
    }
}

/* One channel: acc[p] (p < 16 * nv) = the sum of its entries over the taps. */
static void neon_one(const uint8_t *A, int ntaps, const uint8_t *wrow, const uint8_t *planes,
                     int nv, uint32_t *acc)
{
    uint16_t lo[AXMUL__CHUNK], hi[AXMUL__CHUNK];
    for (int p = 0; p < 16 * nv; p++)
        acc[p] = 0;
    for (int t0 = 0; t0 < ntaps; t0 += 256) {
        const int t1 = ntaps - t0 < 256 ? ntaps : t0 + 256;
        for (int p = 0; p < 16 * nv; p++)
            lo[p] = hi[p] = 0;
        for (int tap = t0; tap < t1; tap++) {
            const uint8_t *pl = planes + (size_t)wrow[tap] * 512;
            const uint8_t *row = A + (size_t)tap * AXMUL__CHUNK;
            plane_row(pl, row, nv, lo);
            plane_row(pl + 256, row, nv, hi);
        }
        for (int p = 0; p < 16 * nv; p += 8) {
            const uint16x8_t l = vld1q_u16(lo + p), h = vld1q_u16(hi + p);
            /* low + 256 * high in 32 bits: h << 8 widened, plus l widened */
            uint32x4_t a0 = vld1q_u32(acc + p), a1 = vld1q_u32(acc + p + 4);
            a0 = vaddq_u32(a0, vaddw_u16(vshll_n_u16(vget_low_u16(h), 8), vget_low_u16(l)));
            a1 = vaddq_u32(a1, vaddw_high_u16(vshll_high_n_u16(h, 8), l));
            vst1q_u32(acc + p, a0);
            vst1q_u32(acc + p + 4, a1);
        }
    }
}

void axmul__lut_kernel_neon(const uint8_t *A, int ntaps, const uint8_t *const *w, int nch,
                            const axmul__lut *lut, int np, uint32_t *acc)
{
    const int nv = (np + 15) / 16;
    for (int c = 0; c < nch; c++)
        neon_one(A, ntaps, w[c], lut->planes, nv, acc + (size_t)c * AXMUL__CHUNK);
}
#endif
