// axmul: CUDA LUT convolution. The per-thread work is cuda/kernel.h, shared with the host
// emulation that the test suite runs everywhere; this file adds the shared-memory table, the
// launches, device memory and error handling.
#include <cuda_runtime.h>

#include <mutex>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/job.h"
#include "cuda/kernel.h"

namespace
{

constexpr size_t TABLE_BYTES = 65536 * sizeof(uint16_t);

// Templates give the compiler the table's address space (shared-memory loads rather than generic
// ones), the activation load mode (axmul__cuda_mode) and, for modes 5-6, the output channels per
// group as constants.
template <int MODE, int SMEM, int COUT_G>
__device__ __forceinline__ void
lut_conv_body(const axmul__conv_plan &p, int64_t n_img, const uint8_t *__restrict__ qx,
              const uint8_t *__restrict__ wt, const uint16_t *__restrict__ tt,
              const int64_t *__restrict__ sum_qw, const int32_t *__restrict__ zw,
              const float *__restrict__ oscale, float *__restrict__ y, int slices,
              int64_t *__restrict__ part, int64_t *__restrict__ psq)
{
    extern __shared__ uint4 smem[];
    const uint16_t *T = tt;
    if (SMEM) {
        const uint4 *src = reinterpret_cast<const uint4 *>(tt);
        for (int i = threadIdx.x; i < (int)(TABLE_BYTES / sizeof(uint4)); i += blockDim.x)
            smem[i] = src[i];
        __syncthreads();
        T = reinterpret_cast<const uint16_t *>(smem);
    }
    const int64_t pix = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    axmul__cuda_thread(&p, n_img, qx, wt, T, sum_qw, zw, oscale, y, pix, (int)blockIdx.y, MODE,
                       COUT_G, slices, (int)blockIdx.z, part, psq);
}

// The table in shared memory: 128 KiB allow one block per multiprocessor, and saying so keeps
// ptxas from spilling to fit the registers of a second block that could never run.
template <int MODE, int COUT_G = 0>
__global__ void __launch_bounds__(AXMUL__CUDA_PIX, 1)
    lut_conv_smem(axmul__conv_plan p, int64_t n_img, const uint8_t *__restrict__ qx,
                  const uint8_t *__restrict__ wt, const uint16_t *__restrict__ tt,
                  const int64_t *__restrict__ sum_qw, const int32_t *__restrict__ zw,
                  const float *__restrict__ oscale, float *__restrict__ y, int slices,
                  int64_t *__restrict__ part, int64_t *__restrict__ psq)
{
    lut_conv_body<MODE, 1, COUT_G>(p, n_img, qx, wt, tt, sum_qw, zw, oscale, y, slices, part, psq);
}

// The table through the read-only cache: several blocks per multiprocessor can run.
template <int MODE, int COUT_G = 0>
__global__ void __launch_bounds__(AXMUL__CUDA_PIX)
    lut_conv_cached(axmul__conv_plan p, int64_t n_img, const uint8_t *__restrict__ qx,
                    const uint8_t *__restrict__ wt, const uint16_t *__restrict__ tt,
                    const int64_t *__restrict__ sum_qw, const int32_t *__restrict__ zw,
                    const float *__restrict__ oscale, float *__restrict__ y, int slices,
                    int64_t *__restrict__ part, int64_t *__restrict__ psq)
{
    lut_conv_body<MODE, 0, COUT_G>(p, n_img, qx, wt, tt, sum_qw, zw, oscale, y, slices, part, psq);
}

// The second kernel of a split launch (axmul__cuda_splits): one thread per output element.
__global__ void split_finish(axmul__conv_plan p, int64_t n_img, int slices,
                             const int64_t *__restrict__ part, const int64_t *__restrict__ psq,
                             const int64_t *__restrict__ sum_qw, const int32_t *__restrict__ zw,
                             const float *__restrict__ oscale, float *__restrict__ y)
{
    axmul__cuda_split_finish(&p, n_img, slices, part, psq, sum_qw, zw, oscale, y,
                             (int64_t)blockIdx.x * blockDim.x + threadIdx.x);
}

// The expanded-table kernel (cuda/kernel.h): stages of AXMUL__CUDA_X_TAPS taps, each expanded
// into shared memory by the whole block, then looked up by every thread for its pixels. Every
// thread reaches both barriers of every stage (pixels past the end are computed, not stored).
template <int VEC4>
__global__ void __launch_bounds__(AXMUL__CUDA_X_THREADS, 2)
    lut_conv_x(axmul__conv_plan p, int64_t n_img, const uint8_t *__restrict__ qx,
               const uint8_t *__restrict__ wt, const uint16_t *__restrict__ tt,
               const int64_t *__restrict__ sum_qw, const int32_t *__restrict__ zw,
               const float *__restrict__ oscale, float *__restrict__ y)
{
    extern __shared__ uint4 smem[];
    uint32_t *E = reinterpret_cast<uint32_t *>(smem);
    axmul__cuda_x_state st;
    axmul__cuda_x_init(&st, &p, n_img, (int64_t)blockIdx.x, (int)blockIdx.y, (int)threadIdx.x,
                       (int)blockDim.x);
    const uint8_t *wtile = wt + (int64_t)blockIdx.y * p.k * AXMUL__CUDA_CO_TILE;
    for (int tap0 = 0; tap0 < p.k; tap0 += AXMUL__CUDA_X_TAPS) {
        const int nt = p.k - tap0 < AXMUL__CUDA_X_TAPS ? p.k - tap0 : AXMUL__CUDA_X_TAPS;
        axmul__cuda_x_build(wtile, tt, tap0, nt, st.halves, E, (int)threadIdx.x, (int)blockDim.x);
        __syncthreads();
        axmul__cuda_x_taps(&st, &p, qx, E, nt, VEC4);
        __syncthreads(); // the next stage overwrites E
    }
    axmul__cuda_x_finish(&st, &p, n_img, (int)blockIdx.y, (int)blockDim.x, sum_qw, zw, oscale, y);
}

typedef void (*kernel_fn)(axmul__conv_plan, int64_t, const uint8_t *, const uint8_t *,
                          const uint16_t *, const int64_t *, const int32_t *, const float *,
                          float *, int, int64_t *, int64_t *);
typedef void (*x_kernel_fn)(axmul__conv_plan, int64_t, const uint8_t *, const uint8_t *,
                            const uint16_t *, const int64_t *, const int32_t *, const float *,
                            float *);

// kernels[table in shared memory][axmul__cuda_mode], modes 0-4
const kernel_fn kernels[2][5] = {
    {lut_conv_cached<0>, lut_conv_cached<1>, lut_conv_cached<2>, lut_conv_cached<3>,
     lut_conv_cached<4>},
    {lut_conv_smem<0>, lut_conv_smem<1>, lut_conv_smem<2>, lut_conv_smem<3>, lut_conv_smem<4>}};
// sg_kernels[table in shared memory][mode 5 or 6][log2 of the output channels per group]
const kernel_fn sg_kernels[2][2][4] = {
    {{lut_conv_cached<5, 1>, lut_conv_cached<5, 2>, lut_conv_cached<5, 4>, lut_conv_cached<5, 8>},
     {lut_conv_cached<6, 1>, lut_conv_cached<6, 2>, lut_conv_cached<6, 4>, lut_conv_cached<6, 8>}},
    {{lut_conv_smem<5, 1>, lut_conv_smem<5, 2>, lut_conv_smem<5, 4>, lut_conv_smem<5, 8>},
     {lut_conv_smem<6, 1>, lut_conv_smem<6, 2>, lut_conv_smem<6, 4>, lut_conv_smem<6, 8>}}};

// The kernel instance for a layer's mode (axmul__cuda_mode) and table placement.
kernel_fn column_kernel(const axmul__conv_plan &p, int mode, int smem)
{
    if (mode < 5)
        return kernels[smem][mode];
    const int lg = p.cout_g == 1 ? 0 : p.cout_g == 2 ? 1 : p.cout_g == 4 ? 2 : 3;
    return sg_kernels[smem][mode - 5][lg];
}
// x_kernels[axmul__cuda_mode], modes 0 and 1
const x_kernel_fn x_kernels[2] = {lut_conv_x<0>, lut_conv_x<1>};

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

extern "C" int axmul__cuda_launch(axmul__cuda_job *job, char *msg, size_t msg_len)
{
    std::lock_guard<std::mutex> hold(g_lock);
    const axmul__conv_plan &p = *job->p;
    const size_t in_img = (size_t)p.h * p.w * p.c, out_img = (size_t)p.oh * p.ow * p.co;
    const size_t chunk = axmul__cuda_chunk(&p), nwt = axmul__cuda_weight_tile_bytes(&p);
    uint8_t *d_qx = nullptr, *d_wt = nullptr;
    int64_t *d_sqw = nullptr;
    int32_t *d_zw = nullptr;
    float *d_os = nullptr, *d_y = nullptr;
    int64_t *d_part = nullptr, *d_psq = nullptr; // split-K sums (axmul__cuda_splits)
    int dev = 0, optin = 0, sms = 1, bt = AXMUL__CUDA_PIX, rc = -1, expanded = 0, slices = 1;
    uint64_t gx = 0, gy = 0, part_pix = 0;
    const int mode = axmul__cuda_mode(&p);
    kernel_fn kernel = nullptr;
    x_kernel_fn x_kernel = nullptr;
    size_t smem_bytes = 0;
    const char *table_env = getenv("AXMUL_CUDA_TABLE");
    const int want_shared = table_env && strcmp(table_env, "shared") == 0;
    const int want_cached = table_env && strcmp(table_env, "cached") == 0;
    const int want_expanded = table_env && strcmp(table_env, "expanded") == 0;
    cudaEvent_t ev0 = nullptr, ev1 = nullptr; // kernel time, for the benchmark
    float ms = 0.0f;
    job->kernel_seconds = 0.0;
    job->kernel = "cuda-cached";

    // AXMUL_CUDA_TABLE picks one kernel design for the benchmark's comparisons: =shared the
    // column kernel with the table in shared memory, =cached the column kernel reading it
    // through the read-only cache (the texture-like baseline, TFApprox's choice), =expanded the
    // expanded-table kernel on every layer it serves (axmul__cuda_use_expanded), the cached
    // column kernel on the others. Unset (or =auto): the choice that the H200 figures of
    // doc/performance.md made (axmul__cuda_auto_expanded).
    if (table_env && strcmp(table_env, "auto") != 0 && !want_shared && !want_cached &&
        !want_expanded) {
        snprintf(msg, msg_len, "AXMUL_CUDA_TABLE=%s: expected auto, shared, cached or expanded",
                 table_env);
        goto out;
    }
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    if (want_expanded)
        expanded = axmul__cuda_use_expanded(&p);
    else if (!want_shared && !want_cached)
        expanded = axmul__cuda_auto_expanded(&p, (size_t)p.n < chunk ? (size_t)p.n : chunk, sms);
    if (expanded) {
        x_kernel = x_kernels[mode];
        job->kernel = "cuda-expanded";
        smem_bytes = AXMUL__CUDA_X_STAGE_WORDS * sizeof(uint32_t); // 32 KiB: no opt-in needed
    } else {
        // sm_75 (64 KiB per block) reads the columns through the read-only cache
        smem_bytes = (size_t)optin >= TABLE_BYTES && want_shared ? TABLE_BYTES : 0;
        kernel = column_kernel(p, mode, smem_bytes != 0);
        job->kernel = smem_bytes ? "cuda-shared" : "cuda-cached";
        if (smem_bytes)
            CK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)TABLE_BYTES));
    }
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
    CK(cudaMalloc(&d_wt, nwt));
    CK(cudaMalloc(&d_sqw, sizeof(int64_t) * p.co));
    CK(cudaMalloc(&d_zw, sizeof(int32_t) * p.co));
    CK(cudaMalloc(&d_os, sizeof(float) * p.co));
    CK(cudaMemcpy(d_wt, job->wt, nwt, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_sqw, job->sum_qw, sizeof(int64_t) * p.co, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_zw, job->zw, sizeof(int32_t) * p.co, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_os, job->oscale, sizeof(float) * p.co, cudaMemcpyHostToDevice));
    // split-K buffers for the largest of the launches (all chunks but the last are alike)
    for (int last = 0; last < 2 && !expanded; last++) {
        const size_t nb = last && p.n % chunk ? (size_t)p.n % chunk : chunk;
        const uint64_t need = (uint64_t)axmul__cuda_splits(&p, nb, sms) * nb * p.oh * p.ow;
        if (need > (uint64_t)nb * p.oh * p.ow && need > part_pix)
            part_pix = need;
    }
    if (part_pix) {
        CK(cudaMalloc(&d_part, sizeof(int64_t) * part_pix * p.co));
        CK(cudaMalloc(&d_psq, sizeof(int64_t) * part_pix));
    }
    for (size_t i0 = 0; i0 < (size_t)p.n; i0 += chunk) {
        const size_t nb = (size_t)p.n - i0 < chunk ? (size_t)p.n - i0 : chunk;
        CK(cudaMemcpy(d_qx, job->qx + i0 * in_img, nb * in_img, cudaMemcpyHostToDevice));
        axmul__cuda_launch_shape(&p, nb, sms, expanded, &bt, &gx, &gy);
        slices = expanded ? 1 : axmul__cuda_splits(&p, nb, sms);
        if (gy > 65535 || gx > 0x7fffffff) {
            snprintf(msg, msg_len, "launch grid %llu x %llu too large (channel tiles or pixels)",
                     (unsigned long long)gx, (unsigned long long)gy);
            goto out;
        }
        CK(cudaEventRecord(ev0));
        if (expanded)
            x_kernel<<<dim3((unsigned)gx, (unsigned)gy), bt, smem_bytes>>>(
                p, (int64_t)nb, d_qx, d_wt, d_table, d_sqw, d_zw, d_os, d_y);
        else
            kernel<<<dim3((unsigned)gx, (unsigned)gy, (unsigned)slices), bt, smem_bytes>>>(
                p, (int64_t)nb, d_qx, d_wt, d_table, d_sqw, d_zw, d_os, d_y, slices, d_part, d_psq);
        // a GPU without a kernel image of this build fails here, never silently
        CK(cudaGetLastError());
        if (slices > 1) {
            const uint64_t outs = (uint64_t)nb * out_img;
            split_finish<<<(unsigned)((outs + 255) / 256), 256>>>(p, (int64_t)nb, slices, d_part,
                                                                  d_psq, d_sqw, d_zw, d_os, d_y);
            CK(cudaGetLastError());
        }
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
    cudaFree(d_wt);
    cudaFree(d_sqw);
    cudaFree(d_zw);
    cudaFree(d_os);
    cudaFree(d_part);
    cudaFree(d_psq);
    if (rc != 0)
        cudaGetLastError(); // clear a sticky launch error for the next call
    return rc;
}
