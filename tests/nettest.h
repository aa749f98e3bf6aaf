/* Helpers of the network test suites (check_model, check_train): model folders written by
 * hand. */
#ifndef AXMUL_TESTS_NETTEST_H
#define AXMUL_TESTS_NETTEST_H

#include <stdio.h>
#include <string.h>

#include "axmul.h"
#include "testutil.h"

static inline void write_file(const char *dir, const char *name, const char *text)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tu_write(p, text, strlen(text));
}

static inline void save_tensor(const char *dir, const char *name, const float *v,
                               const size_t *shape, int nd)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(axmul_npy_save_f32(p, v, shape, nd), AXMUL_OK);
}

/* Every layer's output for the batch (an axmul_net_options.layer_output). */
typedef struct {
    float *out[16]; /* per layer: the layer's output for the batch */
} layer_rec;
static inline void rec_layer(void *ctx, int layer, const float *out, size_t count)
{
    layer_rec *r = ctx;
    if (!r->out[layer])
        r->out[layer] = malloc(count * sizeof(float));
    memcpy(r->out[layer], out, count * sizeof(float));
}

#endif
