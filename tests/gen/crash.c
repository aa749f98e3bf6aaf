#include <stdint.h>
#include <stddef.h>
uint16_t mul8u_CRASH(uint8_t a, uint8_t b)
{
    volatile uint16_t *p = NULL;
    if (a == 3 && b == 4)
        return *p;
    return (uint16_t)(a * b);
}
