/* prints to stdout while evaluated: must not end up in a table written to stdout */
#include <stdint.h>
#include <stdio.h>
uint16_t mul8u_NOISY(uint8_t a, uint8_t b)
{
    if (b == 0)
        printf("row %u\n", a);
    return (uint16_t)(a * b);
}
