/* EvoApprox mul8s style: int16_t mul8s_XXX(int8_t A, int8_t B). Exact signed product. */
#include <stdint.h>

int16_t mul8s_TST(int8_t A, int8_t B)
{
    return (int16_t)(A * B);
}
