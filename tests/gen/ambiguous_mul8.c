#include <stdint.h>
uint16_t mul8u_ONE(uint8_t a, uint8_t b) { return a * b; }
uint16_t mul8u_TWO(uint8_t a, uint8_t b) { return a * b; }
