/* libFuzzer target: IDX image + label files (gzip or plain) -> dataset parser. Input layout: a
 * little-endian uint32 giving the image part's length, the image bytes, the label bytes. */
#include <stddef.h>
#include <stdint.h>

#include "axmul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t k =
        (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    data += 4;
    size -= 4;
    if (k > size)
        k = size;
    axmul_dataset *d;
    if (axmul_dataset_parse_idx(data, k, data + k, size - k, &d) == AXMUL_OK) {
        volatile uint8_t sink = 0;
        size_t n = axmul_dataset_count(d),
               px = (size_t)axmul_dataset_rows(d) * axmul_dataset_cols(d);
        if (n)
            sink ^= axmul_dataset_images(d)[n * px - 1] ^ axmul_dataset_labels(d)[n - 1];
        (void)sink;
        axmul_dataset_free(d);
    }
    return 0;
}
