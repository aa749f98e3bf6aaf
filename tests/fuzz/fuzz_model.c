/* libFuzzer target: model.json text -> model loader (with a fixed set of small .npy tensors in
 * the model folder), then one float inference when it loads. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axmul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/axmul-fuzz-model.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    static float v[4096], pos[4096];
    for (int i = 0; i < 4096; i++) {
        v[i] = (float)((i % 13) - 6) * 0.1f;
        pos[i] = (float)(i % 7 + 1) * 0.1f;
    }
    /* tensors of the shapes small models use: conv (2,2,1,2), (3,3,1,4), (3,3,4,4), dense (18,2),
     * (36,10), (4,10), biases (2,), (4,), (10,), and positive (4,) (batch norm variances) */
    struct {
        const char *name;
        size_t shape[4];
        int nd;
        const float *data;
    } t[] = {{"c_w.npy", {2, 2, 1, 2}, 4, v},
             {"c3_w.npy", {3, 3, 1, 4}, 4, v},
             {"c4_w.npy", {3, 3, 4, 4}, 4, v},
             {"d_w.npy", {18, 2}, 2, v},
             {"d36_w.npy", {36, 10}, 2, v},
             {"d4_w.npy", {4, 10}, 2, v},
             {"b2.npy", {2}, 1, v},
             {"b4.npy", {4}, 1, v},
             {"b10.npy", {10}, 1, v},
             {"p4.npy", {4}, 1, pos}};
    char p[512];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, t[i].name);
        if (axmul_npy_save_f32(p, t[i].data, t[i].shape, t[i].nd) != AXMUL_OK)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    char p[512];
    snprintf(p, sizeof p, "%s/model.json", dir);
    FILE *f = fopen(p, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    axmul_model *m;
    if (axmul_model_load(dir, &m) != AXMUL_OK)
        return 0;
    int h, w, c;
    axmul_model_input_shape(m, &h, &w, &c);
    size_t n = (size_t)h * w * c;
    if (n <= 65536) {
        float *x = calloc(n, sizeof *x);
        uint8_t pred;
        axmul_net_options o;
        axmul_net_options_init(&o);
        if (x)
            axmul_model_predict(m, &o, x, 1, &pred, NULL);
        free(x);
    }
    axmul_model_free(m);
    return 0;
}
