/* The seed's signature: uint16_t approximate_mult(uint8_t a, uint8_t b). Exact. */
#include <stdint.h>

uint16_t approximate_mult(uint8_t a, uint8_t b)
{
    return (uint16_t)(a * b);
}
