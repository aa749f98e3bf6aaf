#include <stdint.h>
uint16_t mul8u_LOOP(uint8_t a, uint8_t b)
{
    volatile int spin = 1;
    while (spin)
        ;
    return (uint16_t)(a * b);
}
