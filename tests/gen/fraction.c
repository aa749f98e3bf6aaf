double mul8u_FRAC(double a, double b)
{
    return a * b / 3.0;
}
