#!/bin/sh
# bench/lut_micro.c, the table-lookup microbenchmark of doc/performance.md, built as its comment
# says and run on a small chunk: every scheme must give the reference sums (it exits 1 if one
# does not), the AVX2 ones included where this CPU has AVX2.
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || skip "no C compiler ($cc)"
flags="-std=gnu11 -O2 -fno-tree-vectorize"
avx2=0
case $(uname -m) in
x86_64 | i?86)
    if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
        flags="$flags -mavx2"
        avx2=1
    fi
    ;;
esac
# shellcheck disable=SC2086 # $flags is several words on purpose
run 0 "$cc" $flags -o "$T/lut_micro" "$top_srcdir/bench/lut_micro.c"
pass "lut_micro builds ($flags)"

# K = 300: the pshufb scheme's 16-bit sums cross a flush (256 taps), the pair schemes leave
# tails; a scheme with other sums makes it exit 1
run 0 "$T/lut_micro" 300 8
for s in scalar-mem scalar-t4 scratch-t4c4 pair-t4c4 pair-t8c4; do
    expect_out "$s "
done
if [ "$avx2" -eq 1 ]; then
    for s in gather gather-nc pshufb rows; do
        expect_out "$s "
    done
fi
pass "every scheme gives the reference sums"

run 2 "$T/lut_micro" 300 6
expect_err "usage"
pass "a channel count that is not a multiple of 4 is refused"
