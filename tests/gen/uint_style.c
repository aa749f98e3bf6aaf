/* unsigned int f(unsigned int, unsigned int), the only external function: a*b plus one when
 * a > b (not commutative). */
static unsigned int bias(unsigned int x, unsigned int y)
{
    return x > y ? 1u : 0u;
}

unsigned int my_multiplier(unsigned int x, unsigned int y)
{
    return x * y + bias(x, y);
}
