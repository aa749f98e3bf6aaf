/* RoBA, the rounding-based approximate multiplier: each operand is rounded to the nearest power of
 * two (Ar, Br; a value exactly halfway, 3 * 2^(p-1), rounds up as in the paper's hardware), and
 * a*b = Ar*b + a*Br - Ar*Br + (a - Ar)(b - Br) is computed without the last term, which needs
 * only shifts and additions. An operand 0 gives 0.
 *
 * Reference: R. Zendegani, M. Kamal, M. Bahadori, A. Afzali-Kusha and M. Pedram, "RoBA
 * multiplier: A rounding-based approximate multiplier for high-speed yet energy-efficient digital
 * signal processing", IEEE Transactions on VLSI Systems, vol. 25, no. 2, pp. 393-401, 2017. */
#include <stdint.h>

static unsigned roba_round(unsigned v)
{
    if (v == 0)
        return 0;
    unsigned p = 1;
    while (p * 2 <= v)
        p *= 2;
    return 2 * v >= 3 * p ? 2 * p : p; /* v >= 1.5 * 2^p rounds up */
}

uint16_t mul8u_roba(uint8_t a, uint8_t b)
{
    unsigned ar = roba_round(a), br = roba_round(b);
    unsigned p = ar * b + a * br - ar * br;
    return (uint16_t)(p > 65535u ? 65535u : p);
}
