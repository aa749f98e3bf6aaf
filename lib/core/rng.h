/* axmul: splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014): tiny, seedable, good enough for test data and weight initialisation. Header-only
 * so that the library and the tools share it without exporting a symbol. */
#ifndef AXMUL_RNG_H
#define AXMUL_RNG_H

#include <stdint.h>

static inline uint64_t axmul__splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
