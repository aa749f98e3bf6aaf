#!/bin/sh
# axmul-gen: signature styles, operand order, function selection, errors, time limit, temp files.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
G="$top_builddir/gen/axmul-gen"
S="$top_srcdir/tests/gen"
mkdir "$T/tmp" "$T/work"
export TMPDIR="$T/tmp"
cd "$T/work" || exit 99

no_temp_left() {
    [ -z "$(ls -A "$T/tmp")" ] || fail "temporary files left: $(ls -A "$T/tmp")"
}

# --help, --version, usage errors
run 0 "$G" --help
expect_out "Usage: axmul-gen"
run 0 "$G" --version
expect_out "axmul-gen (axmul)"
run 2 "$G"
expect_err "axmul-gen: error: missing SOURCE.c"
run 2 "$G" "$T/nope.c"
expect_err "nope.c"
run 2 "$G" "$S"
expect_err "is a directory"
run 2 "$G" "$S/seed_style.c" --timeout 0
expect_err "--timeout"
pass "usage errors"

# the seed's uint16_t approximate_mult(uint8_t, uint8_t); default output name FUNCTION.bin
run 0 "$G" "$S/seed_style.c"
[ -f approximate_mult.bin ] || fail "default output name approximate_mult.bin"
[ "$(wc -c < approximate_mult.bin)" -eq 131072 ] || fail "table size"
[ "$(entry approximate_mult.bin 255 255)" -eq 65025 ] || fail "255*255"
[ "$(entry approximate_mult.bin 7 9)" -eq 63 ] || fail "7*9"
if have_fixtures; then
    cmp approximate_mult.bin "$fixtures/mul8u_1JFF.bin" || fail "exact table differs from mul8u_1JFF.bin"
fi
no_temp_left
pass "seed signature, exact table"

# EvoApprox uint64_t mul8u_XXX(const uint64_t B, const uint64_t A): a is the FIRST argument
run 0 "$G" "$S/evo_style.c" -o evo.bin
[ "$(entry evo.bin 3 4)" -eq 13 ] || fail "evo: f(3,4) = 12 + (3 odd) = 13, got $(entry evo.bin 3 4)"
[ "$(entry evo.bin 4 3)" -eq 12 ] || fail "evo: f(4,3) = 12, got $(entry evo.bin 4 3)"
[ "$(entry evo.bin 255 0)" -eq 1 ] || fail "evo: f(255,0) = 1"
pass "EvoApprox unsigned signature, operand order"

# unsigned int f(unsigned int, unsigned int): the only external function, not commutative
run 0 "$G" "$S/uint_style.c" -o u.bin
[ "$(entry u.bin 200 3)" -eq 601 ] || fail "uint: f(200,3) = 601"
[ "$(entry u.bin 3 200)" -eq 600 ] || fail "uint: f(3,200) = 600"
pass "unsigned int signature, only external function, table[a*256+b] == f(a,b)"

# int16_t mul8s_XXX(int8_t, int8_t): signed implied by the name
run 0 "$G" "$S/signed_style.c" -o mul8s_tst.bin
expect_err "signed"
# (-128) * 127 = -16256 = 0xc080 at index (0x80, 0x7f)
[ "$(entry mul8s_tst.bin 128 127)" -eq 49280 ] || fail "signed: (-128)*127"
[ "$(entry mul8s_tst.bin 255 255)" -eq 1 ] || fail "signed: (-1)*(-1)"
[ "$(entry mul8s_tst.bin 2 254)" -eq 65532 ] || fail "signed: 2*(-2) = -4"
# forcing unsigned evaluation of an int8 function shows the first negative product
run 1 "$G" "$S/signed_style.c" --unsigned -o forced_unsigned.bin
expect_err "mul8s_TST(1, 128) = -128 is outside the uint16 range"
pass "EvoApprox signed signature"

# -D/--define and standard output
run 1 "$G" "$S/define.c" -o d.bin
expect_err "define K"
expect_err "does not compile"
[ -f d.bin ] && fail "a table was written for a file that does not compile"
run 0 "$G" "$S/define.c" --define K=4 -o d.bin
[ "$(entry d.bin 15 15)" -eq 224 ] || fail "define: 225 truncated to 224"
"$G" "$S/define.c" -D K=4 -o - > d_stdout.bin 2>/dev/null || fail "-o - failed"
cmp d.bin d_stdout.bin || fail "-o - differs from -o FILE"
long=$(head -c 5000 /dev/zero | tr '\0' 'x')
run 2 "$G" "$S/define.c" --define "K=$long" -o d_long.bin
expect_err "--define: longer than 4093 characters"
[ -f d_long.bin ] && fail "a table was written for a cut --define"
"$G" "$S/noisy.c" -o - > noisy.bin 2>/dev/null || fail "noisy function"
[ "$(wc -c < noisy.bin)" -eq 131072 ] || fail "output printed by the function reached the table"
no_temp_left
pass "--define, -o -, function output kept out of the table"

# errors in the source: each exits 1 with a clear message, writes nothing, leaves no temp file
run 1 "$G" "$S/compile_error.c" -o x.bin
expect_err "error"
expect_err "compile_error.c: does not compile"
run 1 "$G" "$S/ambiguous_mul8.c" -o x.bin
expect_err "several mul8u_/mul8s_ functions"
expect_err "mul8u_ONE"
expect_err "mul8u_TWO"
run 1 "$G" "$S/ambiguous_plain.c" -o x.bin
expect_err "first_fn"
expect_err "second_fn"
run 0 "$G" "$S/ambiguous_plain.c" -f second_fn -o x.bin
[ "$(entry x.bin 3 4)" -eq 7 ] || fail "-f second_fn: 3+4"
rm -f x.bin
run 1 "$G" "$S/seed_style.c" -f nothere -o x.bin
expect_err "no function named 'nothere'"
expect_err "approximate_mult"
run 1 "$G" "$S/out_of_range.c" -o x.bin
expect_err "mul8u_BIG(129, 255) = 65790 is outside the uint16 range"
run 1 "$G" "$S/negative.c" -o x.bin
expect_err "mul8u_NEG(0, 1) = -1"
run 1 "$G" "$S/fraction.c" -o x.bin
expect_err "non-integer"
run 1 "$G" "$S/crash.c" -o x.bin
expect_err "crashed"
run 1 "$G" "$S/exits.c" -o x.bin
expect_err "ended the process"
[ -f x.bin ] && fail "a table was written after an error"
no_temp_left
pass "compile error, ambiguous, missing, out of range, crash, exit"

# an infinite loop is stopped by --timeout
start=$(date +%s)
run 1 "$G" "$S/infinite.c" --timeout 1 -o x.bin
end=$(date +%s)
expect_err "did not finish within 1 s"
[ $((end - start)) -le 8 ] || fail "--timeout 1 took $((end - start)) s"
[ -f x.bin ] && fail "a table was written after a timeout"
no_temp_left
pass "--timeout stops an infinite loop"

# an unwritable output leaves nothing behind
run 2 "$G" "$S/seed_style.c" -o "$T/no/such/dir/t.bin"
expect_err "no/such/dir/t.bin"
run 2 "$G" "$S/seed_style.c" --cc /nonexistent/cc
expect_err "could not be run"
no_temp_left
pass "output and compiler errors"
