/* The CPU LUT kernels of the architecture this file is compiled for against the reference kernel
 * (kernelcase.h), without the library or Check: tests/test_kernel_cross.sh cross-compiles it with
 * lib/cpu's kernel files for aarch64 and runs it under qemu-user, so that the NEON kernel is
 * tested on an x86 build machine. Exit 0 when every kernel this CPU runs agrees (and, on aarch64,
 * the NEON one was among them), 1 otherwise. The seed is AXMUL_TEST_SEED or the clock. */
#include <inttypes.h>
#include <time.h>

#include "kernelcase.h"

int main(void)
{
    const char *e = getenv("AXMUL_TEST_SEED");
    const uint64_t seed = e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
    printf("random seed: %" PRIu64 " (replay with AXMUL_TEST_SEED=%" PRIu64 ")\n", seed, seed);
    int failed = 0, tested = 0, neon = 0;
    for (int i = 0; i < KC_NPATHS; i++) {
        if (!kc_paths[i].runs()) {
            printf("%s: not in this build or CPU\n", kc_paths[i].name);
            continue;
        }
        const int f = kc_run(kc_paths[i].name, kc_paths[i].fn, seed ^ (uint64_t)i, 1);
        printf("%s: %s\n", kc_paths[i].name, f ? "DIFFERS from the reference" : "as the reference");
        failed += f;
        tested++;
        neon |= strcmp(kc_paths[i].name, "neon") == 0;
    }
#ifdef __aarch64__
    if (!neon) {
        fprintf(stderr, "the neon kernel did not run on aarch64\n");
        return 1;
    }
#endif
    return failed || tested == 0;
}
