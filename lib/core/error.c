/* axmul: status strings and the per-thread error detail. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "axmul_status.h"
#include "lib/core/internal.h"

static const char *const status_messages[] = {
#define AXMUL__STATUS_MSG(name, msg) msg,
    AXMUL_STATUS_LIST(AXMUL__STATUS_MSG)
#undef AXMUL__STATUS_MSG
};

_Static_assert(sizeof(status_messages) / sizeof(status_messages[0]) == AXMUL_STATUS_COUNT,
               "one message per status");

/* Thread-local so that tools running sweeps on several threads keep their details apart. */
static _Thread_local char error_detail[1024];

const char *axmul_strerror(axmul_status status)
{
    if ((unsigned)status >= AXMUL_STATUS_COUNT)
        return "unknown status";
    return status_messages[status];
}

const char *axmul_error_detail(void)
{
    return error_detail;
}

void axmul_error_clear(void)
{
    error_detail[0] = '\0';
}

axmul_status axmul__fail(axmul_status status, const char *fmt, ...)
{
    /* Format into a scratch buffer first: an argument may be the current detail itself. */
    char tmp[sizeof error_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(error_detail, tmp, sizeof tmp);
    return status;
}
