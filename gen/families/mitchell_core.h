/* Mitchell's logarithmic product of two non-negative integers, evaluated exactly in integers
 * (shared by mitchell.c and signed_mitchell.c; see mitchell.c for the reference). With
 * a = 2^ka (1 + xa) and b = 2^kb (1 + xb): 2^(ka+kb) (1 + xa + xb) when xa + xb < 1, else
 * 2^(ka+kb+1) (xa + xb); xa * 2^ka = a - 2^ka. */
#ifndef MITCHELL_CORE_H
#define MITCHELL_CORE_H

static unsigned mitchell_log2(unsigned v)
{
    unsigned k = 0;
    while (v >>= 1)
        k++;
    return k;
}

static unsigned mitchell_product(unsigned a, unsigned b)
{
    if (a == 0 || b == 0)
        return 0;
    unsigned ka = mitchell_log2(a), kb = mitchell_log2(b);
    /* fractions scaled by 2^(ka+kb): xa * 2^(ka+kb) = (a - 2^ka) << kb */
    unsigned fa = (a - (1u << ka)) << kb, fb = (b - (1u << kb)) << ka;
    unsigned one = 1u << (ka + kb);
    if (fa + fb < one)
        return one + fa + fb;
    return 2u * (fa + fb);
}

#endif
