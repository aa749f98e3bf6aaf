/* axmul: which CPU kernel runs: the paths of lib/cpu/paths.h, the one forced by
 * axmul_set_cpu_path or AXMUL_CPU_PATH, and the automatic choice (the most specialised path the
 * CPU has, or among the timed paths the fastest on one synthetic chunk). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axmul_conv.h"
#include "lib/core/internal.h"
#include "lib/cpu/cpu.h"
#include "lib/cpu/paths.h"

/* One function per row for its "runs" expression. */
#define AXMUL__PATH_RUNS(name, kernel, quantize, rows, rows_min, dw, planes, runs, timed)          \
    static int runs_##name(void)                                                                   \
    {                                                                                              \
        return (runs) != 0;                                                                        \
    }
AXMUL__CPU_PATHS(AXMUL__PATH_RUNS)
#undef AXMUL__PATH_RUNS

typedef struct {
    const char *name;
    axmul__lut_kernel fn; /* NULL: not in this build */
    axmul__quantize_fn quantize;
    axmul__rows_kernel rows;
    int rows_min;
    axmul__dw_kernel dw;
    int planes, timed;
    int (*runs)(void);
} path_row;

#define AXMUL__PATH_ROW(name, kernel, quantize, rows, rows_min, dw, planes, runs, timed)           \
    {#name, kernel, quantize, rows, rows_min, dw, planes, timed, runs_##name},
static const path_row paths[] = {AXMUL__CPU_PATHS(AXMUL__PATH_ROW)};
#undef AXMUL__PATH_ROW
enum { NPATHS = (int)(sizeof paths / sizeof paths[0]) };

/* Whether path i is built and this CPU runs it. */
static int path_runs(int i)
{
#ifdef AXMUL__HAVE_X86_KERNELS
    __builtin_cpu_init();
#endif
    return paths[i].fn && paths[i].runs();
}

/* The index of the path called name, or -1. */
static int path_index(const char *name)
{
    for (int i = 0; i < NPATHS; i++)
        if (strcmp(name, paths[i].name) == 0)
            return i;
    return -1;
}

/* "portable, avx2, avx512bw or vbmi": every path's name, for the error messages. */
static char names_text[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_make(void)
{
    size_t k = 0;
    for (int i = 0; i < NPATHS; i++) {
        const char *sep = i == 0 ? "" : i == NPATHS - 1 ? " or " : ", ";
        int w = snprintf(names_text + k, sizeof names_text - k, "%s%s", sep, paths[i].name);
        k += w > 0 && (size_t)w < sizeof names_text - k ? (size_t)w : 0;
    }
}

static const char *path_names(void)
{
    pthread_once(&names_once, names_make);
    return names_text;
}

axmul__quantize_fn axmul__cpu_best_quantizer(void)
{
    /* rows run from the most portable to the most specialised */
    for (int i = NPATHS - 1; i > 0; i--)
        if (path_runs(i))
            return paths[i].quantize;
    return paths[0].quantize;
}

/* ---------------------------------------------------------------- the forced path */

/* Forced path (-1: automatic). Set by axmul_set_cpu_path or AXMUL_CPU_PATH; not meant to be
 * changed while convolutions run on other threads. An AXMUL_CPU_PATH that names no usable path
 * is kept as an error (env_status, env_value) that every CPU convolution reports: ignoring it
 * would let a mistyped value benchmark another path than the one the user asked for. */
static int forced = -1;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static axmul_status env_status = AXMUL_OK;
static char env_value[48];

static void read_env(void)
{
    const char *e = getenv("AXMUL_CPU_PATH");
    if (!e || !*e || strcmp(e, "auto") == 0)
        return;
    const int i = path_index(e);
    if (i >= 0 && path_runs(i)) {
        forced = i;
        return;
    }
    env_status = i >= 0 ? AXMUL_ERR_UNSUPPORTED : AXMUL_ERR_INVALID_ARGUMENT;
    /* printable and bounded: the value is echoed in error messages */
    size_t k = 0;
    for (; e[k] && k + 4 < sizeof env_value; k++)
        env_value[k] = e[k] >= 0x20 && e[k] < 0x7f ? e[k] : '?';
    if (e[k]) {
        memcpy(env_value + k, "...", 3);
        k += 3;
    }
    env_value[k] = 0;
}

axmul_status axmul_set_cpu_path(const char *name)
{
    axmul_error_clear();
    pthread_once(&env_once, read_env); /* so that the environment cannot override this later */
    if (!name || strcmp(name, "auto") == 0) {
        forced = -1;
        env_status = AXMUL_OK;
        return AXMUL_OK;
    }
    const int i = path_index(name);
    if (i < 0)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "unknown CPU path '%s' (expected auto, %s)",
                           name, path_names());
    if (!path_runs(i))
        return axmul__fail(AXMUL_ERR_UNSUPPORTED,
                           "CPU path '%s' needs instructions this CPU (or build) does not have",
                           paths[i].name);
    forced = i;
    env_status = AXMUL_OK;
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- the automatic choice */

/* Which of the timed paths is faster depends on the microarchitecture rather than on the
 * instruction set (the AVX2 kernel's wider copies against the portable one's on a core that
 * slows down for 256-bit operations; NEON table instructions, whose cost differs widely between
 * aarch64 cores). So the first automatic choice without an untimed path times every timed path
 * that runs on one synthetic chunk of four channels (about 0.4 ms, best of 7 interleaved runs)
 * and keeps the fastest (the earlier row on a tie); all give the same integers. */
static pthread_once_t calib_once = PTHREAD_ONCE_INIT;
static int calibrated; /* row 0, the portable path, when nothing else runs */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void calibrate(void)
{
    enum { TAPS = 64 };
    int cand[NPATHS], nc = 0;
    for (int i = 0; i < NPATHS; i++)
        if (paths[i].timed && path_runs(i))
            cand[nc++] = i;
    if (nc < 2) {
        calibrated = nc ? cand[0] : 0;
        return;
    }
    uint16_t *tt = calloc(AXMUL_TABLE_ENTRIES, sizeof *tt);
    uint8_t *planes = calloc(2 * AXMUL_TABLE_ENTRIES, 1);
    uint8_t *A = malloc((size_t)TAPS * AXMUL__CHUNK);
    uint32_t *acc = malloc((size_t)AXMUL__KCH * AXMUL__CHUNK * sizeof *acc);
    if (tt && planes && A && acc) {
        /* AXMUL__KCH channels, as the driver calls the kernels */
        uint8_t wrow[AXMUL__KCH][TAPS];
        const uint8_t *w[AXMUL__KCH];
        uint32_t r = 0x9e3779b9u; /* scattered codes, as real activations and weights are */
        for (size_t i = 0; i < (size_t)TAPS * AXMUL__CHUNK; i++) {
            r = r * 1664525u + 1013904223u;
            A[i] = (uint8_t)(r >> 24);
        }
        for (int c = 0; c < AXMUL__KCH; c++) {
            w[c] = wrow[c];
            for (int i = 0; i < TAPS; i++) {
                r = r * 1664525u + 1013904223u;
                wrow[c][i] = (uint8_t)(r >> 24);
            }
        }
        const axmul__lut lut = {tt, planes};
        double best[NPATHS];
        for (int c = 0; c < nc; c++)
            best[c] = 1e30;
        for (int run = 0; run < 7; run++)
            for (int c = nc - 1; c >= 0; c--) {
                const double t0 = now_s();
                paths[cand[c]].fn(A, TAPS, w, AXMUL__KCH, &lut, AXMUL__CHUNK, acc);
                const double t = now_s() - t0;
                best[c] = t < best[c] ? t : best[c];
            }
        int win = 0;
        for (int c = 1; c < nc; c++)
            if (best[c] < best[win])
                win = c;
        calibrated = cand[win];
    }
    free(tt);
    free(planes);
    free(A);
    free(acc);
}

const char *axmul__cpu_calibrated(void)
{
    pthread_once(&calib_once, calibrate);
    return paths[calibrated].name;
}

axmul_status axmul__cpu_select(axmul__cpu_kernel *k)
{
    pthread_once(&env_once, read_env);
    if (env_status == AXMUL_ERR_INVALID_ARGUMENT)
        return axmul__fail(env_status, "AXMUL_CPU_PATH=%s: unknown CPU path (expected auto, %s)",
                           env_value, path_names());
    if (env_status != AXMUL_OK)
        return axmul__fail(
            env_status, "AXMUL_CPU_PATH=%s: needs instructions this CPU (or build) does not have",
            env_value);
    int i = forced;
    for (int j = NPATHS - 1; i < 0 && j >= 0; j--)
        if (!paths[j].timed && path_runs(j))
            i = j;
    const int timed_choice = i < 0;
    if (i < 0)
        i = path_index(axmul__cpu_calibrated());
    k->name = paths[i].name;
    k->fn = paths[i].fn;
    k->quantize = paths[i].quantize;
    k->rows = paths[i].rows;
    k->rows_min = paths[i].rows_min;
    k->rows_name = paths[i].name;
    k->dw = paths[i].dw;
    k->needs_planes = paths[i].planes;
    /* The timing compares chunk kernels only, and on some cores the portable one wins it by a
     * few per cent; the row kernel of a timed path this CPU runs (AVX2) is then still twice as
     * fast on the layers it serves, so "auto" takes it there (a forced path keeps its own). */
    for (int j = NPATHS - 1; timed_choice && !k->rows && j >= 0; j--)
        if (paths[j].timed && paths[j].rows && path_runs(j)) {
            k->rows = paths[j].rows;
            k->rows_min = paths[j].rows_min;
            k->rows_name = paths[j].name;
        }
    return AXMUL_OK;
}

axmul_status axmul_cpu_path(const char **name)
{
    axmul_error_clear();
    axmul__cpu_kernel k;
    axmul_status s = axmul__cpu_select(&k);
    *name = s == AXMUL_OK ? k.name : NULL;
    return s;
}
