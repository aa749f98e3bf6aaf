/* libFuzzer target: .onnx bytes -> the ONNX model loader (protobuf, graph, attributes), then,
 * for a small image model, one float inference and one with the exact table and per-batch
 * ranges (shape inference, constant folding, the kernels), and its conversion to a layer model. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axmul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];
static axmul_table *exact;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        char dir[] = "/tmp/axmul-fuzz-onnx.XXXXXX";
        if (!mkdtemp(dir) || axmul_table_create_exact(0, &exact) != AXMUL_OK)
            abort();
        snprintf(path, sizeof path, "%s/model.onnx", dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    axmul_model *m;
    if (axmul_model_load(path, &m) != AXMUL_OK)
        return 0;
    int h, w, c;
    axmul_model_input_shape(m, &h, &w, &c);
    const size_t n = (size_t)h * w * c, out = (size_t)axmul_model_classes(m);
    if (n && n <= 4096 && out <= 65536) {
        float *x = calloc(n, sizeof *x), *scores = calloc(out + 1, sizeof *scores);
        axmul_net_options o;
        axmul_net_options_init(&o);
        if (x && scores && axmul_model_predict(m, &o, x, 1, NULL, scores) == AXMUL_OK) {
            o.table = exact;
            o.approx = AXMUL_APPROX_ALL | AXMUL_APPROX_MATMUL;
            o.batch_ranges = 1;
            axmul_model_predict(m, &o, x, 1, NULL, scores);
            axmul_model *lm; /* the layer model, for training: the same network */
            if (axmul_model_to_layers(m, &lm) == AXMUL_OK) {
                axmul_net_options_init(&o);
                axmul_model_predict(lm, &o, x, 1, NULL, NULL);
                axmul_model_free(lm);
            }
        }
        free(x);
        free(scores);
    }
    axmul_model_free(m);
    return 0;
}
