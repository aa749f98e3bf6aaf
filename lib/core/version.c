/* axmul: version string. */
#include "config.h"

#include "axmul.h"

const char *axmul_version(void)
{
    return PACKAGE_VERSION;
}
