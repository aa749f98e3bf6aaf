/* axmul: the host side of the CUDA backend, the engine's entry points into it
 * (lib/engine/backend.h): the device probe, run once per process, and the preparation of a
 * call, which quantizes the tensors exactly as the CPU engine does and lays out the filter codes
 * for the kernels (cuda/kernel.h). The preparation is plain C, built with or without CUDA: the
 * test suite runs the kernels' per-thread code on the host over a prepared job
 * (tests/check_cudakernel.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_conv.h"
#include "cuda/job.h"
#include "cuda/kernel.h"
#include "lib/core/internal.h"
#include "lib/engine/backend.h"
#include "lib/engine/engine.h"
#ifdef HAVE_CUDA
#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include "cuda/probe.h"
#endif

axmul_status axmul__cuda_job_make(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                  const float *w, float *y, int threads, axmul__cuda_job *job)
{
    const axmul__conv_plan *p = &s->p;
    const size_t nx = (size_t)p->n * p->h * p->w * p->c, nw = (size_t)p->co * p->k;
    const size_t nwt = axmul__cuda_weight_tile_bytes(p);
    memset(job, 0, sizeof *job);
    uint8_t *qx = malloc(nx ? nx : 1), *wq = malloc(nw ? nw : 1), *wt = malloc(nwt + 1);
    int64_t *sum_qw = malloc(sizeof(int64_t) * (size_t)p->co);
    job->work_bytes = nx + nw + nwt + sizeof(int64_t) * (size_t)p->co;
    job->p = p;
    job->qx = qx;
    job->wt = wt;
    job->sum_qw = sum_qw;
    job->zw = s->zw;
    job->oscale = s->oscale;
    job->y = y;
    job->tt = axmul__prepared_colmajor(t, p->is_signed, &job->hold_);
    if (!qx || !wq || !wt || !sum_qw || !job->tt) {
        free(wq);
        return axmul__fail(AXMUL_ERR_NOMEM, "conv: out of memory");
    }
    axmul__quantize_threads(x, nx, &s->xq, qx, threads);
    axmul__conv_quantize_filter(s, w, wq, sum_qw, threads);
    axmul__cuda_weight_tiles(p, wq, wt);
    free(wq);
    return AXMUL_OK;
}

void axmul__cuda_job_free(axmul__cuda_job *job)
{
    free((void *)job->qx);
    free((void *)job->wt);
    free((void *)job->sum_qw);
    axmul__prepared_release(job->hold_);
    memset(job, 0, sizeof *job);
}

#ifdef HAVE_CUDA
/* The probe runs once (pthread_once: concurrent first calls are common in threaded sweeps): it
 * launches a kernel, so a GPU whose architecture this build has no image for is reported here
 * instead of computing garbage later. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_ok;
static char probe_why[256];
/* The process that initialised CUDA: a child of fork() inherits the probe's answer but not a
 * usable CUDA context (the CUDA runtime does not support fork() after initialisation; its calls
 * fail in the child), so there the device counts as absent and the auto backend uses the CPU.
 * Seen on an H200: tests/check_cpu's fork test, whose parent had run the auto backend on the
 * GPU, got errors in every child. */
static pid_t probe_pid;

/* A fork() while another thread is inside the probe (the CUDA runtime dlopen()s the driver
 * library there) gives a child whose dynamic loader is caught mid-update, and the child's own
 * probe (glibc lets a child re-run an unfinished pthread_once) crashed in dlopen: seen as a
 * SIGSEGV in tests/check_conv's fork test under load. So fork() waits for a running probe: the
 * lock is held across the probe and taken around fork(), the handlers being registered when the
 * library is loaded, before any thread can probe. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;

static void probe_fork_prepare(void)
{
    pthread_mutex_lock(&probe_lock);
}

static void probe_fork_after(void)
{
    pthread_mutex_unlock(&probe_lock);
}

__attribute__((constructor)) static void probe_register_fork(void)
{
    pthread_atfork(probe_fork_prepare, probe_fork_after, probe_fork_after);
}

static void probe_run(void)
{
    int n = 0;
    char msg[256] = "";
    pthread_mutex_lock(&probe_lock);
    probe_pid = getpid();
    if (axmul__cuda_probe(&n, msg, sizeof msg) != 0 || n == 0)
        snprintf(probe_why, sizeof probe_why, "%s", msg);
    else
        probe_ok = 1;
    pthread_mutex_unlock(&probe_lock);
}

axmul_status axmul__cuda_status(void)
{
    if (getenv("AXMUL_DISABLE_CUDA") && strcmp(getenv("AXMUL_DISABLE_CUDA"), "0") != 0)
        return axmul__fail(AXMUL_ERR_NO_DEVICE, "CUDA disabled by AXMUL_DISABLE_CUDA");
    pthread_once(&probe_once, probe_run);
    if (!probe_ok)
        return axmul__fail(AXMUL_ERR_NO_DEVICE, "no usable CUDA device: %s", probe_why);
    if (getpid() != probe_pid)
        return axmul__fail(AXMUL_ERR_NO_DEVICE,
                           "no usable CUDA device in this process: CUDA was initialised before "
                           "fork() (in process %ld), and a CUDA context does not survive fork()",
                           (long)probe_pid);
    return AXMUL_OK;
}

axmul_status axmul__cuda_conv2d(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                const float *w, float *y, int threads, double *kernel_seconds,
                                size_t *work_bytes, const char **kernel)
{
    axmul__cuda_job job;
    axmul_status st = axmul__cuda_job_make(s, t, x, w, y, threads, &job);
    char msg[512];
    if (st == AXMUL_OK && axmul__cuda_launch(&job, msg, sizeof msg) != 0)
        st = axmul__fail(AXMUL_ERR_CUDA, "CUDA: %s", msg);
    if (st == AXMUL_OK) /* the kernels write the converted sums; the bias follows on the host */
        axmul__add_channel_bias(y, (size_t)s->p.n * s->p.oh * s->p.ow, s->p.co, s->bias, threads);
    *kernel_seconds = job.kernel_seconds;
    *work_bytes = job.work_bytes;
    *kernel = job.kernel;
    axmul__cuda_job_free(&job);
    return st;
}
#else
axmul_status axmul__cuda_status(void)
{
    return axmul__fail(AXMUL_ERR_NOT_BUILT, "this build has no CUDA backend (configure "
                                            "--with-cuda)");
}

axmul_status axmul__cuda_conv2d(const axmul__conv_setup *s, const axmul_table *t, const float *x,
                                const float *w, float *y, int threads, double *kernel_seconds,
                                size_t *work_bytes, const char **kernel)
{
    (void)s, (void)t, (void)x, (void)w, (void)y, (void)threads;
    *kernel_seconds = 0.0;
    *work_bytes = 0;
    *kernel = NULL;
    return axmul__cuda_status();
}
#endif
