// axmul: CUDA LUT convolution. Same integers as the CPU engine, same single float conversion per
// output (axmul__conv_out), so the results are bit-identical.
//
// Work layout (the design measured by others, doc/performance.md): one thread per output pixel,
// a block of 512 pixels x CO_TILE output channels of one group. For each tap the thread computes
// its activation code once (on the fly from the quantized NHWC input, so no im2col ever exists),
// and the weight code of each of the tile's channels is warp-uniform: all lanes read the same
// table column T[.][w], held in shared memory when the GPU allows 128 KiB per block (sm_80,
// sm_90), else read through the read-only cache. Sums are 32-bit per block of 32,768 taps, then
// 64-bit: no float atomics, no order dependence.
#include <cuda_runtime.h>

#include <mutex>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cuda/conv_cuda.h"

namespace
{

constexpr int PIX = 512;         // threads (output pixels) per block
constexpr int CO_TILE = 16;      // output channels per block
constexpr int TAP_BLOCK = 32768; // taps summed in 32 bits: 32768 * 65535 < 2^32
constexpr size_t TABLE_BYTES = 65536 * sizeof(uint16_t);

__global__ void __launch_bounds__(PIX)
    lut_conv(axmul__conv_plan p, int n_img, const uint8_t *__restrict__ qx,
             const uint8_t *__restrict__ wq, const uint16_t *__restrict__ tt,
             const int64_t *__restrict__ sum_qw, const int32_t *__restrict__ zw,
             const float *__restrict__ oscale, float *__restrict__ y, int table_in_smem)
{
    extern __shared__ uint4 smem[];
    const uint16_t *T = tt;
    if (table_in_smem) {
        const uint4 *src = reinterpret_cast<const uint4 *>(tt);
        for (int i = threadIdx.x; i < (int)(TABLE_BYTES / sizeof(uint4)); i += blockDim.x)
            smem[i] = src[i];
        __syncthreads();
        T = reinterpret_cast<const uint16_t *>(smem);
    }
    const int64_t npix = (int64_t)n_img * p.oh * p.ow;
    const int64_t pix = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int tiles = (p.cout_g + CO_TILE - 1) / CO_TILE;
    const int g = blockIdx.y / tiles;
    const int o0 = g * p.cout_g + (blockIdx.y % tiles) * CO_TILE;
    const int ntile = min(CO_TILE, g * p.cout_g + p.cout_g - o0);
    const bool live = pix < npix;
    int ox = 0, oy = 0, n = 0;
    if (live) {
        ox = (int)(pix % p.ow);
        int64_t r = pix / p.ow;
        oy = (int)(r % p.oh);
        n = (int)(r / p.oh);
    }
    const uint32_t offset = p.is_signed ? 32768u : 0u; // signed entries are stored + 32768
    uint32_t acc32[CO_TILE];
    int64_t acc64[CO_TILE];
#pragma unroll
    for (int t = 0; t < CO_TILE; t++) {
        acc32[t] = 0;
        acc64[t] = 0;
    }
    int64_t sqa = 0;
    int tap = 0, inblock = 0;
    for (int i = 0; i < p.kh; i++) {
        const int iy = oy * p.sh - p.pad_top + i * p.dh;
        for (int j = 0; j < p.kw; j++) {
            const int ix = ox * p.sw - p.pad_left + j * p.dw;
            const bool inside = live && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
            const uint8_t *src =
                inside ? qx + (((int64_t)n * p.h + iy) * p.w + ix) * p.c + (int64_t)g * p.cin_g
                       : nullptr;
            for (int ci = 0; ci < p.cin_g; ci++, tap++) {
                const uint32_t qa = inside ? src[ci] : (uint32_t)p.zx; // padding: zero point
                sqa += qa;
#pragma unroll
                for (int t = 0; t < CO_TILE; t++)
                    if (t < ntile) {
                        const uint32_t w = __ldg(&wq[(int64_t)(o0 + t) * p.k + tap]);
                        acc32[t] += T[w * 256u + qa];
                    }
                if (++inblock == TAP_BLOCK) {
#pragma unroll
                    for (int t = 0; t < CO_TILE; t++) {
                        acc64[t] += (int64_t)acc32[t] - (int64_t)offset * TAP_BLOCK;
                        acc32[t] = 0;
                    }
                    inblock = 0;
                }
            }
        }
    }
    if (!live)
        return;
    for (int t = 0; t < ntile; t++) {
        const int o = o0 + t;
        int64_t acc = acc64[t] + (int64_t)acc32[t] - (int64_t)offset * inblock;
        if (!p.is_signed) {
            const int64_t z = zw[o], zx = p.zx;
            acc = acc - z * sqa + (int64_t)p.k * zx * z - zx * sum_qw[o];
        }
        const float sc = oscale[o];
        // axmul__conv_out: one rounding of the exact sum to float, one float multiply
        y[pix * p.co + o] = sc == 0.0f ? 0.0f : __fmul_rn(sc, __ll2float_rn(acc));
    }
}

// The device copy of the last table, reused while its entries are the same (a host copy is kept
// to compare them: a hash could collide), and the lock that serialises the calls sharing it.
uint16_t *d_table = nullptr;
uint16_t h_table[TABLE_BYTES / sizeof(uint16_t)];
int d_table_valid = 0;
std::mutex g_lock;

} // namespace

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            snprintf(msg, msg_len, "%s: %s", #call, cudaGetErrorString(e_));                       \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

extern "C" int axmul__cuda_conv(axmul__cuda_job *job, char *msg, size_t msg_len)
{
    std::lock_guard<std::mutex> hold(g_lock);
    const axmul__conv_plan &p = *job->p;
    const size_t in_img = (size_t)p.h * p.w * p.c, out_img = (size_t)p.oh * p.ow * p.co;
    // images per launch: device buffers stay below about 256 MiB whatever the batch
    size_t chunk = ((size_t)256 << 20) / (in_img + 4 * out_img + 1);
    if (chunk < 1)
        chunk = 1;
    if (chunk > (size_t)p.n)
        chunk = (size_t)p.n;
    const size_t nw = (size_t)p.co * p.k;
    uint8_t *d_qx = nullptr, *d_wq = nullptr;
    int64_t *d_sqw = nullptr;
    int32_t *d_zw = nullptr;
    float *d_os = nullptr, *d_y = nullptr;
    int dev = 0, optin = 0, use_smem = 0, rc = -1;
    int tiles = (p.cout_g + CO_TILE - 1) / CO_TILE;
    cudaEvent_t ev0 = nullptr, ev1 = nullptr; // kernel time, for the benchmark
    float ms = 0.0f;
    job->kernel_seconds = 0.0;

    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    use_smem = (size_t)optin >= TABLE_BYTES;
    if (use_smem)
        CK(cudaFuncSetAttribute(lut_conv, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)TABLE_BYTES));
    if (!d_table_valid || memcmp(h_table, job->tt, TABLE_BYTES) != 0) {
        d_table_valid = 0;
        if (!d_table)
            CK(cudaMalloc(&d_table, TABLE_BYTES));
        CK(cudaMemcpy(d_table, job->tt, TABLE_BYTES, cudaMemcpyHostToDevice));
        memcpy(h_table, job->tt, TABLE_BYTES);
        d_table_valid = 1;
    }
    CK(cudaEventCreate(&ev0));
    CK(cudaEventCreate(&ev1));
    CK(cudaMalloc(&d_qx, chunk * in_img));
    CK(cudaMalloc(&d_y, chunk * out_img * sizeof(float)));
    CK(cudaMalloc(&d_wq, nw));
    CK(cudaMalloc(&d_sqw, sizeof(int64_t) * p.co));
    CK(cudaMalloc(&d_zw, sizeof(int32_t) * p.co));
    CK(cudaMalloc(&d_os, sizeof(float) * p.co));
    CK(cudaMemcpy(d_wq, job->wq, nw, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_sqw, job->sum_qw, sizeof(int64_t) * p.co, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_zw, job->zw, sizeof(int32_t) * p.co, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_os, job->oscale, sizeof(float) * p.co, cudaMemcpyHostToDevice));
    for (size_t i0 = 0; i0 < (size_t)p.n; i0 += chunk) {
        const size_t nb = (size_t)p.n - i0 < chunk ? (size_t)p.n - i0 : chunk;
        CK(cudaMemcpy(d_qx, job->qx + i0 * in_img, nb * in_img, cudaMemcpyHostToDevice));
        const int64_t npix = (int64_t)nb * p.oh * p.ow;
        dim3 grid((unsigned)((npix + PIX - 1) / PIX), (unsigned)(p.groups * tiles));
        if (grid.y > 65535) {
            snprintf(msg, msg_len, "too many output channel tiles (%u) for one launch", grid.y);
            goto out;
        }
        CK(cudaEventRecord(ev0));
        lut_conv<<<grid, PIX, use_smem ? TABLE_BYTES : 0>>>(p, (int)nb, d_qx, d_wq, d_table, d_sqw,
                                                            d_zw, d_os, d_y, use_smem);
        // a GPU without a kernel image of this build fails here, never silently
        CK(cudaGetLastError());
        CK(cudaEventRecord(ev1));
        CK(cudaMemcpy(job->y + i0 * out_img, d_y, nb * out_img * sizeof(float),
                      cudaMemcpyDeviceToHost));
        CK(cudaEventElapsedTime(&ms, ev0, ev1));
        job->kernel_seconds += 1e-3 * ms;
    }
    rc = 0;
out:
    if (ev0)
        cudaEventDestroy(ev0);
    if (ev1)
        cudaEventDestroy(ev1);
    cudaFree(d_qx);
    cudaFree(d_y);
    cudaFree(d_wq);
    cudaFree(d_sqw);
    cudaFree(d_zw);
    cudaFree(d_os);
    if (rc != 0)
        cudaGetLastError(); // clear a sticky launch error for the next call
    return rc;
}
