// axmul: CUDA device probe. Proves the nvcc build path (suffix rule, fat binary, linking) and
// tells the library whether a usable device is present: a device counts only when a kernel of
// this build actually runs on it, so a GPU whose architecture the fat binary lacks is reported
// (TFApprox's issue #11: a mismatched -arch silently gave wrong results).
#include <cuda_runtime.h>

#include <stdio.h>

#include "cuda/probe.h"

__global__ void axmul__probe_kernel(int *out)
{
    *out = 0x61786d6c; // "axml"
}

extern "C" int axmul__cuda_probe(int *count, char *msg, size_t msg_len)
{
    *count = 0;
    cudaError_t e = cudaGetDeviceCount(count);
    if (e != cudaSuccess) {
        snprintf(msg, msg_len, "%s", cudaGetErrorString(e));
        *count = 0;
        return -1;
    }
    if (*count == 0) {
        snprintf(msg, msg_len, "the CUDA runtime reports no device");
        return 0;
    }
    int *d = nullptr, h = 0;
    if ((e = cudaMalloc(&d, sizeof(int))) != cudaSuccess) {
        snprintf(msg, msg_len, "cudaMalloc: %s", cudaGetErrorString(e));
        return -1;
    }
    axmul__probe_kernel<<<1, 1>>>(d);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e != cudaSuccess || h != 0x61786d6c) {
        snprintf(msg, msg_len,
                 "no usable kernel image for this GPU (%s); rebuild with "
                 "--with-cuda-archs including its compute capability",
                 e != cudaSuccess ? cudaGetErrorString(e) : "wrong result");
        return -1;
    }
    return 0;
}
