/* libFuzzer target: table bytes -> loader, metrics, packing diagnosis. */
#include <stddef.h>
#include <stdint.h>

#include "axmul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static axmul_table *exact;
    if (!exact && axmul_table_create_exact(0, &exact) != AXMUL_OK)
        return 0;
    axmul_packing_report rep;
    axmul_packing_diagnose(data, size, "fuzz.bin", exact, &rep);
    for (int sgn = 0; sgn < 2; sgn++) {
        axmul_table *t;
        if (axmul_table_from_bytes(data, size, "fuzz.bin", sgn, &t) != AXMUL_OK)
            continue;
        axmul_metrics m;
        axmul_metrics_compute(t, NULL, NULL, &m);
        axmul_table_free(t);
    }
    return 0;
}
