/* needs -D K=...: truncates the K low bits of the product */
#include <stdint.h>
#ifndef K
#error "define K"
#endif
uint16_t mul8u_TRUNC(uint8_t a, uint8_t b)
{
    return (uint16_t)((a * b) >> K << K);
}
