int mul8u_NEG(int a, int b)
{
    return a - b;
}
