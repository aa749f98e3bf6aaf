/* Exact 8x8 signed multiplier (int8 x int8 -> int16, two's complement table layout): the
 * reference for the signed families and the signed convolution path.
 *
 * Reference: exact two's complement multiplication; EvoApprox8b's mul8s tables use the same
 * layout (V. Mrazek et al., "EvoApprox8b: Library of approximate adders and multipliers for
 * circuit design and benchmarking of approximation methods", DATE 2017). */
#include <stdint.h>

int16_t mul8s_exact(int8_t a, int8_t b)
{
    return (int16_t)(a * b);
}
