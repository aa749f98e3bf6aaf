/* Broken-array multiplier (BAM): an 8x8 carry-save array multiplier from which the adder cells
 * of the HBL least significant partial-product rows (rows j < HBL, row j = a * b_j) and every
 * cell right of the vertical break level (columns i + j < VBL) are omitted. Behaviourally the
 * partial-product bit a_i * b_j is dropped when j < HBL or i + j < VBL and the remaining bits
 * are summed exactly; the result never exceeds the exact product. HBL = 0 is a truncated
 * multiplier.
 *
 * Reference: H. R. Mahdiani, A. Ahmadi, S. M. Fakhraie and C. Lucas, "Bio-inspired imprecise
 * computational blocks for efficient VLSI implementation of soft-computing applications", IEEE
 * Transactions on Circuits and Systems I, vol. 57, no. 4, pp. 850-862, 2010.
 *
 * Parameters: -D HBL=0..8 (default 1), -D VBL=0..15 (default 6). */
#include <stdint.h>

#ifndef HBL
#define HBL 1
#endif
#ifndef VBL
#define VBL 6
#endif

uint16_t mul8u_bam(uint8_t a, uint8_t b)
{
    unsigned p = 0;
    for (int j = HBL; j < 8; j++)
        for (int i = 0; i < 8; i++)
            if (i + j >= VBL)
                p += (((unsigned)a >> i) & (b >> j) & 1u) << (i + j);
    return (uint16_t)p;
}
