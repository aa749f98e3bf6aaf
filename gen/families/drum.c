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

#include "drum_core.h"

uint16_t mul8u_drum(uint8_t a, uint8_t b)
{
    unsigned sa, sb;
    unsigned p = drum_segment(a, &sa) * drum_segment(b, &sb);
    p <<= sa + sb;
    return (uint16_t)(p > 65535u ? 65535u : p);
}
