/* axmul: NumPy .npy files (format versions 1.0, 2.0 and 3.0). */
#ifndef AXMUL_NPY_H
#define AXMUL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "axmul_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXMUL_NPY_MAX_DIMS 8

/* Element types the reader understands (little-endian or byte-sized only). */
typedef enum axmul_dtype {
    AXMUL_DTYPE_F32,
    AXMUL_DTYPE_F64,
    AXMUL_DTYPE_I8,
    AXMUL_DTYPE_U8,
    AXMUL_DTYPE_I16,
    AXMUL_DTYPE_U16,
    AXMUL_DTYPE_I32,
    AXMUL_DTYPE_U32,
    AXMUL_DTYPE_I64,
    AXMUL_DTYPE_U64,
    AXMUL_DTYPE_BOOL /* '|b1', one byte, 0 or 1 */
} axmul_dtype;

typedef struct axmul_npy axmul_npy;

/* Loads an array. Validates the magic, version, header dictionary, dtype, shape and that the
 * data length equals the shape exactly (a huge declared shape is refused before anything is
 * allocated). Fortran order, big-endian and object dtypes are ERR_UNSUPPORTED; every error
 * detail names the file. */
AXMUL_API axmul_status axmul_npy_load(const char *path, axmul_npy **out);

/* Same from memory; name is used in error details. The bytes are copied. */
AXMUL_API axmul_status axmul_npy_parse(const void *bytes, size_t len, const char *name,
                                       axmul_npy **out);

/* Releases an array; NULL is a no-op. */
AXMUL_API void axmul_npy_free(axmul_npy *a);

AXMUL_API axmul_dtype axmul_npy_dtype(const axmul_npy *a);
AXMUL_API int axmul_npy_ndim(const axmul_npy *a);
/* Shape: ndim entries. */
AXMUL_API const size_t *axmul_npy_shape(const axmul_npy *a);
/* Number of elements (1 for a 0-d array). */
AXMUL_API size_t axmul_npy_count(const axmul_npy *a);
/* Raw element data, little-endian, C order. */
AXMUL_API const void *axmul_npy_data(const axmul_npy *a);

/* Float32 view: ERR_FORMAT naming the file and the dtype found unless the dtype is '<f4'. */
AXMUL_API axmul_status axmul_npy_f32(const axmul_npy *a, const float **data);

/* Converts up to n elements to double (any dtype). ERR_SHAPE if the array has another count. */
AXMUL_API axmul_status axmul_npy_to_double(const axmul_npy *a, double *out, size_t n);

/* A new zero-filled array of dtype and shape (ndim dims); name is used in error details. Freed
 * with axmul_npy_free. ERR_OVERFLOW beyond 4 GiB. */
AXMUL_API axmul_status axmul_npy_create(axmul_dtype dtype, const size_t *shape, int ndim,
                                        const char *name, axmul_npy **out);

/* The array's data for writing (host order, C order). */
AXMUL_API void *axmul_npy_data_mut(axmul_npy *a);

/* Writes the array (format 1.0, its dtype, little-endian) to path atomically. */
AXMUL_API axmul_status axmul_npy_save(const char *path, const axmul_npy *a);

/* Writes a float32 C-order array (format 1.0, '<f4'), atomically. */
AXMUL_API axmul_status axmul_npy_save_f32(const char *path, const float *data, const size_t *shape,
                                          int ndim);

#ifdef __cplusplus
}
#endif
#endif
