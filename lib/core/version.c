/* axmul: the package version, and the sizes of the public structures for callers that lay them
 * out themselves (the Python package's ctypes mirrors check theirs against these). */
#include "config.h"

#include <string.h>

#include "axmul.h"

const char *axmul_version(void)
{
    return PACKAGE_VERSION;
}

size_t axmul_struct_size(const char *name)
{
#define AXMUL__SIZE(type)                                                                          \
    if (name && strcmp(name, #type) == 0)                                                          \
        return sizeof(type);
    AXMUL__SIZE(axmul_range)
    AXMUL__SIZE(axmul_qparams)
    AXMUL__SIZE(axmul_conv_desc)
    AXMUL__SIZE(axmul_conv_info)
    AXMUL__SIZE(axmul_dense_desc)
    AXMUL__SIZE(axmul_metrics)
    AXMUL__SIZE(axmul_packing_report)
    AXMUL__SIZE(axmul_net_options)
#undef AXMUL__SIZE
    return 0;
}
