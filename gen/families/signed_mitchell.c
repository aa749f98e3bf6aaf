/* Mitchell's logarithmic multiplier in sign-magnitude form: |a| and |b| (0..128) go through the
 * unsigned Mitchell approximation, the sign is the XOR of the operand signs; T(-a, b) = -T(a, b).
 *
 * Reference: J. N. Mitchell, "Computer multiplication and division using binary logarithms",
 * IRE Transactions on Electronic Computers, vol. EC-11, no. 4, pp. 512-517, 1962. */
#include <stdint.h>

#include "mitchell_core.h"

int16_t mul8s_mitchell(int8_t a, int8_t b)
{
    unsigned ma = (unsigned)(a < 0 ? -a : a), mb = (unsigned)(b < 0 ? -b : b);
    long p = (long)mitchell_product(ma, mb);
    return (int16_t)(((a < 0) != (b < 0)) ? -p : p);
}
