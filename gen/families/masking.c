/* Operand LSB masking: the K least significant bits of both operands are cleared before an
 * exact multiplication, (a & ~(2^K-1)) * (b & ~(2^K-1)). This is how a lower bit width
 * (8 - K bits) is emulated inside an 8-bit lookup table (the question of TFApprox's issue #5).
 * Never overestimates.
 *
 * Reference: V. Mrazek et al., "TFApprox: Towards a fast emulation of DNN approximate hardware
 * accelerators on GPU", DATE 2020 (8-bit table emulation of narrower multipliers); the masking
 * itself is standard operand truncation, e.g. S. Venkataramani et al., "Quality programmable
 * vector processors for approximate computing", MICRO 2013.
 *
 * Parameters: -D K=0..7 (default 2). */
#include <stdint.h>

#ifndef K
#define K 2
#endif

uint16_t mul8u_masking(uint8_t a, uint8_t b)
{
    unsigned mask = ~((1u << K) - 1u) & 0xffu;
    return (uint16_t)((a & mask) * (b & mask));
}
