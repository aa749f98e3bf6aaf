/* Truncated multiplier: the partial-product bits a_i*b_j whose weight 2^(i+j) is below 2^K are
 * not generated (the K least significant columns of the partial-product array are dropped), so
 * the result never exceeds the exact product. With CORRECTION=1 the expected value of the
 * dropped bits under uniform operands, sum over i+j<K of 2^(i+j)/4, rounded, is added as a
 * constant ("constant correction"), which removes most of the bias.
 *
 * Reference: M. J. Schulte and E. E. Swartzlander, "Truncated multiplication with correction
 * constant", VLSI Signal Processing VI, IEEE 1993, pp. 388-396.
 *
 * Parameters: -D K=0..16 (default 4), -D CORRECTION=0|1 (default 0). */
#include <stdint.h>

#ifndef K
#define K 4
#endif
#ifndef CORRECTION
#define CORRECTION 0
#endif

static unsigned correction_constant(void)
{
    /* each column c < K holds (number of (i, j) with i + j = c) bits, each 1 with p = 1/4 */
    unsigned quarter_units = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            if (i + j < K)
                quarter_units += 1u << (i + j);
    return (quarter_units + 2) / 4; /* round(sum / 4), halves up */
}

uint16_t mul8u_truncated(uint8_t a, uint8_t b)
{
    unsigned p = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            if (i + j >= K)
                p += (((unsigned)a >> i) & (b >> j) & 1u) << (i + j);
    if (CORRECTION)
        p += correction_constant();
    return (uint16_t)(p > 65535u ? 65535u : p);
}
