/* libFuzzer target: .npy bytes -> parser, dtype conversion. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "axmul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    axmul_npy *a;
    if (axmul_npy_parse(data, size, "fuzz.npy", &a) != AXMUL_OK)
        return 0;
    size_t n = axmul_npy_count(a);
    const float *f;
    axmul_npy_f32(a, &f);
    if (n <= (1u << 20)) {
        double *d = malloc((n ? n : 1) * sizeof *d);
        if (d)
            axmul_npy_to_double(a, d, n);
        free(d);
    }
    axmul_npy_free(a);
    return 0;
}
