#!/bin/sh
# The aarch64 NEON kernel against the reference kernel on every shape class
# (tests/kernelcase.h), cross-compiled with Debian's gcc-aarch64-linux-gnu and run under
# qemu-user-static. Skipped (77) where either is missing; on an aarch64 build machine check_cpu
# tests the kernel natively. AARCH64_CC and QEMU_AARCH64 override the tools.
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
command -v "$cc" >/dev/null 2>&1 ||
    skip "$cc not installed (Debian: apt-get install gcc-aarch64-linux-gnu)"
qemu=${QEMU_AARCH64:-}
if [ -z "$qemu" ]; then
    for q in qemu-aarch64-static qemu-aarch64; do
        if command -v "$q" >/dev/null 2>&1; then
            qemu=$q
            break
        fi
    done
fi
[ -n "$qemu" ] || skip "qemu-aarch64-static not installed (Debian: apt-get install qemu-user-static)"

# The kernel files include config.h, which holds nothing they use: an empty one for the target.
mkdir -p "$T/cfg"
: >"$T/cfg/config.h"
src=$top_srcdir
for opt in -O2 "-O3 -mcpu=neoverse-n1"; do
    # shellcheck disable=SC2086 # $opt is two words on purpose
    run 0 "$cc" -std=c11 $opt -static -Wall -Wextra -I"$T/cfg" -I"$src" -I"$src/lib" \
        -I"$src/tests" -o "$T/kernel_cross" "$src/tests/kernel_cross.c" "$src/lib/cpu/portable.c" \
        "$src/lib/cpu/arm.c"
    pass "cross-compiled for aarch64 ($opt)"
    run 0 "$qemu" "$T/kernel_cross"
    grep -q '^neon: as the reference$' "$T/out" || fail "neon not tested: $(cat "$T/out")"
    grep -q '^portable: as the reference$' "$T/out" || fail "portable not tested: $(cat "$T/out")"
    pass "neon and portable kernels equal the reference under $qemu ($opt): $(head -1 "$T/out")"
done

# The harness can fail: a NEON kernel that drops the last table's lanes must be caught.
sed 's/e = vqtbx4q_u8(e, t3, veorq_u8(idx, k3));/(void)t3;/' "$src/lib/cpu/arm.c" >"$T/arm_broken.c"
cmp -s "$src/lib/cpu/arm.c" "$T/arm_broken.c" && fail "the mutation did not apply to lib/cpu/arm.c"
run 0 "$cc" -std=c11 -O2 -static -I"$T/cfg" -I"$src" -I"$src/lib" -I"$src/tests" \
    -o "$T/kernel_broken" "$src/tests/kernel_cross.c" "$src/lib/cpu/portable.c" "$T/arm_broken.c"
run 1 "$qemu" "$T/kernel_broken"
grep -q '^neon: DIFFERS' "$T/out" || fail "the broken kernel was not reported"
pass "a broken NEON kernel is caught"
