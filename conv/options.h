/* axconv-test: what the commands share: the command entry points, option values (integer lists,
 * ranges, backends, the layer geometry of conv and bench), random tensors and .npy inputs.
 * Internal to the tool; errors are printed in the tool's format. */
#ifndef AXMUL_CONV_OPTIONS_H
#define AXMUL_CONV_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "axmul.h"

#define PROG "axconv-test"

/* The commands, each in its own file: argc/argv from the command's name on; the tool's exit
 * status. */
int axmul__cmd_conv(int argc, char **argv);
int axmul__cmd_bench(int argc, char **argv);
int axmul__cmd_net(int argc, char **argv);
int axmul__cmd_train(int argc, char **argv);
int axmul__cmd_calibrate(int argc, char **argv);
int axmul__cmd_run(int argc, char **argv);

/* A comma-separated list of at most maxn integers into v (*n of them). 0, or -1 for a bad
 * list. */
int axmul__opt_ints(const char *s, int *v, int maxn, int *n);

/* "MIN,MAX" into r. 0 or -1. */
int axmul__opt_range(const char *s, axmul_range *r);

/* "auto", "cpu" or "cuda" into b; -1 after an error naming option. */
int axmul__opt_backend(const char *option, const char *arg, axmul_backend *b);

/* The layer options that conv and bench share (c as getopt returns it): --shape (1) and
 * --kernel (2) into shape and kern with their counts, --stride, --padding ('p'), --dilation,
 * --groups into d. 1: c was one of them; 0: another option; -1: a bad value (message printed). */
int axmul__opt_layer(int c, const char *arg, axmul_conv_desc *d, int shape[4], int *nshape,
                     int kern[3], int *nkern);

/* n values uniform in [-1, 1) from the splitmix64 state. */
void axmul__fill_random(float *v, size_t n, uint64_t *state);

/* The name of a backend: "auto", "cpu" or "cuda". */
const char *axmul__backend_name(axmul_backend b);

/* Loads a float32 .npy array of exactly ndim dimensions (what names the option in errors);
 * returns a malloc'd copy with its shape, or NULL after an error. */
float *axmul__load_f32(const char *path, const char *what, int ndim, size_t shape[4]);

#endif
