/* axmul: the CPU backend's cache of prepared tables. Rearranging a table for the kernels
 * (column-major entries and byte planes, lib/cpu/cpu.h) costs as much as a small convolution and
 * touches 256 KiB of fresh memory, while networks and sweeps run the engine many times with one
 * table; so the last few prepared tables are kept, recognised by their contents: a table's
 * entries may change between calls (axmul_table_data_mut), so its address is no key. */
#include "config.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_table.h"
#include "lib/cpu/cpu.h"
#include "lib/engine/backend.h"
#include "lib/engine/plan.h"

#define PREP_SLOTS 4

struct axmul__prepared {
    _Alignas(64) uint8_t planes[2 * AXMUL_TABLE_ENTRIES]; /* 64-byte aligned column loads */
    uint16_t tt[AXMUL_TABLE_ENTRIES];                     /* column-major */
    uint16_t key[AXMUL_TABLE_ENTRIES];                    /* the entries as given */
    int is_signed;
    int refs; /* holders, the cache counting as one */
};
typedef axmul__prepared prepared;
/* The depthwise kernels' gathers read 4 bytes at each entry of tt, 2 past the last one (cpu.h):
 * key follows tt directly, inside the same allocation. */
_Static_assert(offsetof(prepared, key) ==
                   offsetof(prepared, tt) + sizeof(uint16_t) * AXMUL_TABLE_ENTRIES,
               "tt readable past its end");

static pthread_mutex_t prep_lock = PTHREAD_MUTEX_INITIALIZER;
static prepared *prep_cache[PREP_SLOTS]; /* most recently used first */
static int prep_count;

static void prep_release_locked(prepared *e)
{
    if (--e->refs == 0)
        free(e);
}

static void prep_release(prepared *e)
{
    pthread_mutex_lock(&prep_lock);
    prep_release_locked(e);
    pthread_mutex_unlock(&prep_lock);
}

/* Frees the cache at exit so that leak checkers see a clean heap. */
__attribute__((destructor)) static void prep_cleanup(void)
{
    pthread_mutex_lock(&prep_lock);
    for (int i = 0; i < prep_count; i++)
        prep_release_locked(prep_cache[i]);
    prep_count = 0;
    pthread_mutex_unlock(&prep_lock);
}

/* A process that forks while another thread holds the lock would leave its child with a lock
 * that nobody releases: take it around fork() (the benchmark forks a worker per shape, and
 * callers such as Python multiprocessing fork too). */
static void prep_fork_prepare(void)
{
    pthread_mutex_lock(&prep_lock);
}

static void prep_fork_after(void)
{
    pthread_mutex_unlock(&prep_lock);
}

static pthread_once_t prep_once = PTHREAD_ONCE_INIT;

static void prep_register_fork(void)
{
    pthread_atfork(prep_fork_prepare, prep_fork_after, prep_fork_after);
}

axmul__prepared *axmul__prepared_get(const axmul_table *t, int is_signed, int nthreads)
{
    const uint16_t *tv = axmul_table_data(t);
    pthread_once(&prep_once, prep_register_fork);
    pthread_mutex_lock(&prep_lock);
    for (int i = 0; i < prep_count; i++) {
        prepared *e = prep_cache[i];
        if (e->is_signed == is_signed && memcmp(e->key, tv, sizeof e->key) == 0) {
            e->refs++;
            memmove(prep_cache + 1, prep_cache, sizeof *prep_cache * (size_t)i);
            prep_cache[0] = e;
            pthread_mutex_unlock(&prep_lock);
            return e;
        }
    }
    pthread_mutex_unlock(&prep_lock);

    prepared *e = aligned_alloc(64, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->key, tv, sizeof e->key);
    e->is_signed = is_signed;
    e->refs = 2; /* the caller and the cache */
    for (int b = 0; b < 256; b++)
        for (int a = 0; a < 256; a++)
            e->tt[b * 256 + a] = axmul__store_entry(tv[a * 256 + b], is_signed);
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int b = 0; b < 256; b++)
        for (int a = 0; a < 256; a++) {
            e->planes[b * 512 + a] = (uint8_t)(e->tt[b * 256 + a] & 0xff);
            e->planes[b * 512 + 256 + a] = (uint8_t)(e->tt[b * 256 + a] >> 8);
        }

    pthread_mutex_lock(&prep_lock);
    if (prep_count == PREP_SLOTS)
        prep_release_locked(prep_cache[--prep_count]);
    memmove(prep_cache + 1, prep_cache, sizeof *prep_cache * (size_t)prep_count);
    prep_cache[0] = e;
    prep_count++;
    pthread_mutex_unlock(&prep_lock);
    return e;
}

void axmul__prepared_put(axmul__prepared *e)
{
    prep_release(e);
}

axmul__lut axmul__prepared_lut(const axmul__prepared *e)
{
    return (axmul__lut){e->tt, e->planes};
}

const uint16_t *axmul__prepared_colmajor(const axmul_table *t, int is_signed, void **hold)
{
    prepared *e = axmul__prepared_get(t, is_signed, 1);
    *hold = e;
    return e ? e->tt : NULL;
}

void axmul__prepared_release(void *hold)
{
    if (hold)
        prep_release(hold);
}
