/* Kulkarni's under-designed multiplier: a 2x2 multiplier block that returns 7 (binary 111, three
 * output bits instead of four) for 3 x 3 and the exact product otherwise, composed into 4x4 and
 * then 8x8 multipliers by the usual shift-and-add of four sub-products. The 8x8 result is the sum
 * of the sixteen 2x2 block products of the operands' 2-bit digits; it is exact unless some block
 * sees 3 x 3, and then too small (never an overestimate).
 *
 * Reference: P. Kulkarni, P. Gupta and M. Ercegovac, "Trading accuracy for power with an
 * underdesigned multiplier architecture", 24th International Conference on VLSI Design (VLSID),
 * 2011, pp. 346-351. */
#include <stdint.h>

static unsigned udm2x2(unsigned x, unsigned y)
{
    return (x == 3 && y == 3) ? 7u : x * y;
}

static unsigned udm(unsigned a, unsigned b, int bits)
{
    if (bits == 2)
        return udm2x2(a, b);
    int h = bits / 2;
    unsigned m = (1u << h) - 1u;
    unsigned al = a & m, ah = a >> h, bl = b & m, bh = b >> h;
    return (udm(ah, bh, h) << (2 * h)) + ((udm(ah, bl, h) + udm(al, bh, h)) << h) + udm(al, bl, h);
}

uint16_t mul8u_kulkarni(uint8_t a, uint8_t b)
{
    return (uint16_t)udm(a, b, 8);
}
