#!/bin/sh
# axconv-test conv: reports, .npy in/out, heatmap, and bad input.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
C="$top_builddir/conv/axconv-test"
E="$top_srcdir/tables/mul8u_1JFF.bin"
command -v perl >/dev/null || skip "perl (Debian's perl-base) is needed to write test .npy files"

run 0 "$C" --help
expect_out "Commands:"
run 0 "$C" conv --help
expect_out "--input X.npy"
run 2 "$C" bogus
expect_err "unknown command 'bogus'"
run 2 "$C" conv
expect_err "give --input"
pass "usage"

# random tensors with the exact table: equal to the float conv of the fake-quantized tensors
run 0 "$C" conv --shape 2,11,9,5 --kernel 3,3,7 --seed 7 --format json
for k in linf_rel mae rmse snr_db macs seconds gmacs backend path; do
    expect_out "\"$k\": "
done
expect_out '"macs": 62370'
# (the auto backend: cuda where a GPU is present)
grep -Eq '"backend": "(cpu|cuda)"' "$T/out" || fail "no backend in $(cat "$T/out")"
expect_out '"seed": 7'
sed 's/.*"linf_rel": \([^,]*\),.*/\1/' "$T/out" | awk '{ if ($1 >= 1e-6) exit 1 }' ||
    fail "exact table: linf_rel $(cat "$T/out")"
pass "exact table equals the fake-quantized float conv (linf_rel < 1e-6)"

# an approximate table changes the result; text output; the heatmap is a valid PNG
perl -e 'binmode STDOUT; print pack("v*", map { my ($a, $b) = (int($_ / 256), $_ % 256); $a * $b + ($a > 100 ? 300 : 0) } 0..65535)' > "$T/approx.bin"
run 0 "$C" conv --shape 1,8,8,3 --kernel 3,3,4 --mtab "$T/approx.bin" \
    --stride 2 --padding 1,0,0,1 --dilation 1,2
expect_out "output     1 x 4 x 3 x 4"
grep -Eq '^path +(portable|neon|avx2|avx512bw|vbmi|cuda-[a-z]+)$' "$T/out" || fail "path line"
grep -q "^linf_rel   0$" "$T/out" && fail "approximate table gave an exact result"
# 4 channels of 8x8 outputs: 2x2 tiles of 64x64 (8x enlarged) with 1-pixel gaps
run 0 "$C" conv --shape 1,8,8,3 --kernel 3,3,4 --mtab "$T/approx.bin" --heatmap "$T/d.png"
size=$(png_size "$T/d.png") || fail "heatmap is not a valid PNG"
[ "$size" = "131 131" ] || fail "heatmap size $size"
"$top_builddir/tests/pnginfo" "$T/d.png" -t Scale | grep -q "black = 0" || fail "heatmap scale"
pass "approximate table, options, heatmap"

# .npy round trip: an output becomes the next input; depthwise with per-channel ranges
run 0 "$C" conv --shape 2,6,6,4 --kernel 3,3,4 --output "$T/y.npy"
run 0 "$C" conv --shape 3,3,1,1 --kernel 1,1,4 --output "$T/w_dw.npy"
run 0 "$C" conv --input "$T/y.npy" --filter "$T/w_dw.npy" --groups 4 --per-channel --format json
expect_out '"output_shape": [2, 6, 6, 4]'
pass ".npy input and output, depthwise, per-channel"

# bad input: exit 2, the message names the file or the argument
printf 'garbage' > "$T/bad.npy"
run 2 "$C" conv --input "$T/bad.npy" --kernel 1,1,1
expect_err "bad.npy: not a .npy file"
perl -e 'binmode STDOUT; $h = "{\x27descr\x27: \x27<f8\x27, \x27fortran_order\x27: False, \x27shape\x27: (1, 2, 2, 1), }";
    $h .= " " x (117 - length($h)) . "\n"; print "\x93NUMPY\x01\x00", pack("v", length($h)), $h, pack("d*", 1, 2, 3, 4)' > "$T/f8.npy"
run 2 "$C" conv --input "$T/f8.npy" --kernel 1,1,1
expect_err "f8.npy: dtype '<f8', expected float32"
perl -e 'binmode STDOUT; $h = "{\x27descr\x27: \x27<f4\x27, \x27fortran_order\x27: False, \x27shape\x27: (1, 2, 2, 1), }";
    $h .= " " x (117 - length($h)) . "\n"; print "\x93NUMPY\x01\x00", pack("v", length($h)), $h, pack("f*", 1, 2, 9**9**9 - 9**9**9, 4)' > "$T/nan.npy"
run 2 "$C" conv --input "$T/nan.npy" --kernel 1,1,1
expect_err "nan.npy: element 2 is NaN"
run 2 "$C" conv --input "$T/y.npy" --filter "$T/w_dw.npy"
expect_err "1 input channels per group x 1 groups != the input's 4 channels"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --stride 0
expect_err "stride height must be >= 1"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --stride 2,x
expect_err "--stride '2,x': expected S or SH,SW"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --dilation 1,1,1
expect_err "--dilation '1,1,1': expected D or DH,DW"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --stride 1,0
expect_err "stride width must be >= 1"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --padding 1,-1,0,0
expect_err "must not be negative"
run 2 "$C" conv --shape 1,2,2,1 --kernel 3,3,1 --padding valid
expect_err "larger than the padded input"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --input-range 1,0
expect_err "inverted"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --mtab "$T/missing.bin"
expect_err "missing.bin"
run 2 "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --output "$T/nodir/y.npy"
expect_err "nodir/y.npy"
[ -e "$T/nodir" ] && fail "created a folder"
pass "bad input"

# the CUDA backend: where a device is usable it runs (the GPU suite tests it); elsewhere a clear
# error and exit 2, also from the benchmark, whose parent process must not initialise CUDA
if "$C" conv --shape 1,4,4,1 --kernel 3,3,1 --backend cuda > "$T/out" 2> "$T/err"; then
    grep -q "cuda" "$T/out" || fail "conv --backend cuda: $(cat "$T/out")"
    run 0 "$C" bench --quick --repeat 1 --backend cuda --format json
    expect_out '"kernel_seconds"'
    expect_out '"cudnn'
    grep -q '"ref_check": false' "$T/out" && fail "bench --backend cuda: reference mismatch"
    pass "CUDA backend usable here: conv and bench ran"
else
    rc=$?
    [ "$rc" -eq 2 ] || fail "conv --backend cuda without a device: exit $rc, expected 2"
    expect_err "CUDA"
    run 2 "$C" bench --quick --backend cuda
    expect_err "backend cuda"
    pass "no usable CUDA device: clear errors"
fi

# the benchmark (small shapes): every shape is checked bit for bit against the reference kernel
run 0 "$C" bench --quick --repeat 1 --format json
expect_out '"ref_check": true'
grep -q '"ref_check": false' "$T/out" && fail "bench: reference mismatch"
[ "$(grep -c '"shape"' "$T/out")" -eq 3 ] || fail "bench: 3 quick shapes"
for p in portable avx2 avx512bw vbmi; do
    if "$C" bench --quick --repeat 1 --path "$p" --threads 2 > "$T/out" 2> "$T/err"; then
        grep -q "bit-exact" "$T/out" || fail "bench --path $p"
        grep -q "MISMATCH" "$T/out" && fail "bench --path $p: mismatch"
    else
        grep -q "needs instructions" "$T/err" || fail "bench --path $p: $(cat "$T/err")"
        echo "note: CPU path $p not available here"
    fi
done
run 2 "$C" bench --path sse9
expect_err "unknown CPU path 'sse9'"
AXMUL_CPU_PATH=portable "$C" conv --shape 1,5,5,2 --kernel 3,3,2 > "$T/out" 2> "$T/err" ||
    fail "AXMUL_CPU_PATH=portable: $(cat "$T/err")"
expect_out "path       portable"
# a mistyped AXMUL_CPU_PATH is an error, not a silent fallback to another path
run 2 env AXMUL_CPU_PATH=sse9 "$C" conv --shape 1,5,5,2 --kernel 3,3,2
expect_err "AXMUL_CPU_PATH=sse9: unknown CPU path"
run 2 env AXMUL_CPU_PATH=sse9 "$C" bench --quick --repeat 1
expect_err "AXMUL_CPU_PATH=sse9: unknown CPU path"
[ -s "$T/out" ] && fail "bench with a bad AXMUL_CPU_PATH printed figures"
run 0 env AXMUL_CPU_PATH=sse9 "$C" conv --shape 1,5,5,2 --kernel 3,3,2 --path portable
expect_out "path       portable"
pass "bench --quick on every CPU path, AXMUL_CPU_PATH"

# bench --shape: one layer of the user's, every geometry option; its float baseline is checked
# against a direct loop (a baseline without dilation or with the wrong padding fails)
run 0 "$C" bench --shape 2,13,11,12 --kernel 3,2,8 --groups 4 --stride 2,1 --dilation 2,1 \
    --padding 1,2,0,3 --repeat 1 --format json
expect_out '"shape": "conv3x2 13x11x12->8 b2 g4 s2,1 d2,1 pad 1,2,0,3"'
expect_out '"macs": 22464,' # 2 images x 6x13 pixels x 8 channels x 3x2 taps x 3 channels
expect_out '"ref_check": true'
[ "$(grep -c '"shape"' "$T/out")" -eq 1 ] || fail "bench --shape: one layer only"
run 0 "$C" bench --shape 1,9,9,8 --kernel 3,3,8 --groups 8 --padding same --dilation 3 --repeat 1
expect_out "depthwise3x3 9x9x8->8 b1 d3"
expect_out "bit-exact"
run 0 "$C" bench --shape 5,1,1,40 --kernel 1,1,7 --padding valid --repeat 1
expect_out "conv1x1 1x1x40->7 b5 valid"
run 2 "$C" bench --shape 1,9,9,8 --kernel 3,3,8 --groups 3
expect_err "--shape 1,9,9,8 --kernel 3,3,8: groups = 3 must divide"
run 2 "$C" bench --shape 1,9,9,8
expect_err "need --kernel"
run 2 "$C" bench --groups 2
expect_err "need --kernel"
run 2 "$C" bench --kernel 3,3,8
expect_err "--kernel needs --shape"
run 2 "$C" bench --quick --shape 1,9,9,8 --kernel 3,3,8
expect_err "--quick and --shape"
run 2 "$C" bench --shape 1,4,4,2 --kernel 3,3,2 --padding 1,1
expect_err "--padding '1,1'"
run 2 "$C" bench --shape 1,40000,30000,1 --kernel 1,1,1
expect_err "more than 2^30 elements"
pass "bench --shape: one layer with every geometry option"
