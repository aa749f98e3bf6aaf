/* DRUM, the dynamic range unbiased multiplier: each operand is reduced to the k-bit segment that
 * starts at its leading one; the segment's least significant bit is forced to 1, which makes the
 * expected truncation error of the dropped bits zero (unbiasing); the two k-bit segments are
 * multiplied exactly and the product is shifted back. Operands that fit in k bits are used
 * unchanged, so small operands multiply exactly.
 *
 * Reference: S. Hashemi, R. I. Bahar and S. Reda, "DRUM: A dynamic range unbiased multiplier for
 * approximate applications", IEEE/ACM ICCAD 2015, pp. 418-425.
 *
 * Parameters: -D DRUM_K=2..8 (default 4). */
#include <stdint.h>

#ifndef DRUM_K
#define DRUM_K 4
#endif

/* k-bit segment of v and its shift: v ~ seg << shift */
static unsigned drum_segment(unsigned v, unsigned *shift)
{
    int lead = -1;
    for (int i = 15; i >= 0; i--)
        if ((v >> i) & 1u) {
            lead = i;
            break;
        }
    if (lead < DRUM_K) { /* fits in k bits: exact */
        *shift = 0;
        return v;
    }
    *shift = (unsigned)(lead - DRUM_K + 1);
    return (v >> *shift) | 1u;
}

uint16_t mul8u_drum(uint8_t a, uint8_t b)
{
    unsigned sa, sb;
    unsigned p = drum_segment(a, &sa) * drum_segment(b, &sb);
    p <<= sa + sb;
    return (uint16_t)(p > 65535u ? 65535u : p);
}
