/* axmul: helpers of the model file reader and writer (lib/net/model_load.c, model_save.c) that
 * the layer kinds' parse and save operations share. */
#ifndef AXMUL_NET_MODEL_IO_H
#define AXMUL_NET_MODEL_IO_H

#include <jansson.h>
#include <stddef.h>

#include "axmul_status.h"
#include "lib/net/net.h"

/* An integer or a list of n integers in 0..2^20 into out (a scalar serves all n); v NULL gives
 * dflt. Errors name path, the layer (-1: a model-level field) and the field what. */
axmul_status axmul__json_ints(json_t *v, int *out, int n, int dflt, const char *what,
                              const char *path, int layer);

/* Loads the float32 .npy file `file` of the model folder (a plain name: no folders) into a
 * malloc'd copy; every element must be finite. Errors name the file and the layer. */
axmul_status axmul__load_tensor(const axmul__parse *ps, const char *file, float **data,
                                size_t *count);

/* Writes a float32 .npy file `file` into dir, atomically. */
axmul_status axmul__save_tensor(const char *dir, const char *file, const float *data,
                                const size_t *shape, int ndim);

#endif
