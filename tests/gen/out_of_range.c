/* a*b*2 leaves 0..65535 first at (129, 255) = 65790 */
int mul8u_BIG(int a, int b)
{
    return a * b * 2;
}
