/* DRUM in sign-magnitude form: |a| and |b| (0..128) go through the unsigned DRUM core and the
 * sign is the XOR of the operand signs, so T(-a, b) = -T(a, b).
 *
 * Reference: S. Hashemi, R. I. Bahar and S. Reda, "DRUM: A dynamic range unbiased multiplier for
 * approximate applications", IEEE/ACM ICCAD 2015 (the paper also describes the signed version
 * built around the unsigned core).
 *
 * Parameters: -D DRUM_K=2..8 (default 4). */
#include <stdint.h>

#include "drum_core.h"

int16_t mul8s_drum(int8_t a, int8_t b)
{
    unsigned ma = (unsigned)(a < 0 ? -a : a), mb = (unsigned)(b < 0 ? -b : b);
    unsigned sa, sb;
    long p = (long)((drum_segment(ma, &sa) * drum_segment(mb, &sb)) << (sa + sb));
    if (p > 32767)
        p = 32767; /* (-128) * (-128) with DRUM_K = 2 would give 36864 */
    return (int16_t)(((a < 0) != (b < 0)) ? -p : p);
}
