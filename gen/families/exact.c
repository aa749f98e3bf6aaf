/* Exact 8x8 unsigned multiplier: the reference every approximate design is measured against.
 * Its table is byte-identical to EvoApprox8b's mul8u_1JFF.bin, hence the name.
 *
 * Reference: V. Mrazek, R. Hrbacek, Z. Vasicek and L. Sekanina, "EvoApprox8b: Library of
 * approximate adders and multipliers for circuit design and benchmarking of approximation
 * methods", DATE 2017, pp. 258-261. */
#include <stdint.h>

uint16_t mul8u_1JFF(uint8_t a, uint8_t b)
{
    return (uint16_t)(a * b);
}
