/* EvoApprox style: uint64_t mul8u_XXX(const uint64_t B, const uint64_t A), helper functions,
 * stdlib includes. Not commutative: +1 when the FIRST argument is odd. */
#include <stdint.h>
#include <stdlib.h>

static uint64_t bit(uint64_t v, int i)
{
    return (v >> i) & 1;
}

uint64_t helper_visible_but_not_chosen(uint64_t v);
uint64_t helper_visible_but_not_chosen(uint64_t v)
{
    return v;
}

uint64_t mul8u_TST(const uint64_t B, const uint64_t A)
{
    uint64_t p = 0;
    for (int i = 0; i < 8; i++)
        if (bit(A, i))
            p += B << i;
    return p + bit(B, 0);
}
