/* Mitchell's logarithmic multiplier: with a = 2^ka (1 + xa), b = 2^kb (1 + xb) and
 * log2(1 + x) ~ x, the product is 2^(ka+kb) (1 + xa + xb) when xa + xb < 1, else
 * 2^(ka+kb+1) (xa + xb). The approximation is evaluated exactly in integers
 * (xa * 2^ka = a - 2^ka), so the only error is Mitchell's: never an overestimate, exact when both
 * operands are powers of two, worst-case relative error 1/9 (11.1%, at xa = xb = 1/2). An
 * operand 0 gives 0.
 *
 * Reference: J. N. Mitchell, "Computer multiplication and division using binary logarithms",
 * IRE Transactions on Electronic Computers, vol. EC-11, no. 4, pp. 512-517, 1962. */
#include <stdint.h>

#include "mitchell_core.h"

uint16_t mul8u_mitchell(uint8_t a, uint8_t b)
{
    return (uint16_t)mitchell_product(a, b);
}
