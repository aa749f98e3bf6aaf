#include <stdint.h>
uint16_t mul8u_BAD(uint8_t a, uint8_t b)
{
    return a * b  /* missing semicolon */
}
