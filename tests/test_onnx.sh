#!/bin/sh
# axconv-test with ONNX models (the shipped models/vit-fashion-mnist.onnx): run on .npy arrays,
# net and calibrate as with model folders (tables in Conv, Gemm and MatMul nodes, by node name,
# attention's products with --approx matmul), and the refusals: missing and malformed files,
# wrong inputs, training. Skips in a build without ONNX import.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
[ -x "$top_builddir/tests/onnx_node_tests" ] || skip "built without ONNX import"
vit="$top_srcdir/models/vit-fashion-mnist.onnx"
tables="$top_srcdir/tables"

# npy_zeros FILE SHAPE COUNT: a float32 .npy of COUNT zeros, shape "(2, 1, 28, 28)"
npy_zeros() {
    dict="{'descr': '<f4', 'fortran_order': False, 'shape': $2, }"
    n=$((${#dict} + 1))
    hlen=$((n + (64 - (10 + n) % 64) % 64))
    {
        printf '\223NUMPY\001\000'
        printf "\\$(printf %03o $((hlen % 256)))\\$(printf %03o $((hlen / 256)))"
        printf '%s' "$dict"
        printf "%$((hlen - n))s\n" ""
        head -c $((4 * $3)) /dev/zero
    } >"$1"
}

npy_zeros "$T/x.npy" "(2, 1, 28, 28)" 1568
run 0 axconv-test run --model "$vit" --input "$T/x.npy" --output "$T/y.npy"
expect_out "output logits: 2x10 float32 -> $T/y.npy"
[ "$(wc -c <"$T/y.npy")" -eq $((128 + 80)) ] || fail "y.npy has $(wc -c <"$T/y.npy") bytes"
run 0 axconv-test run --model "$vit" --input image="$T/x.npy" --output "$T/y2.npy" --threads 1
cmp -s "$T/y.npy" "$T/y2.npy" || fail "run by input name, one thread: other bytes"
run 0 axconv-test run --model "$vit" --input "$T/x.npy" --mtab "$tables/mul8u_1JFF.bin" \
    --approx all,matmul
expect_out "output logits: 2x10 float32"
pass "run: a forward pass on .npy arrays, by position or input name, with and without a table"

# the model folder runs too: (N, H, W) images in, (N, classes) out
npy_zeros "$T/img.npy" "(3, 28, 28)" 2352
run 0 axconv-test run --model "$top_srcdir/models/lenet5-fashion-mnist" --input "$T/img.npy"
expect_out "output output: 3x10 float32"
pass "run on a model folder"

run 0 axconv-test net --model "$vit" --mtab "$tables/mul8u_1JFF.bin" --mtab "$tables/mul8s_exact.bin" \
    --approx all,matmul --limit 400 --format csv --quiet
awk -F, 'NR > 1 { d = $2 - $4; if (d < 0) d = -d; if (d > 0.02) bad = 1 }
         END { exit bad }' "$T/out" || { cat "$T/out" >&2; fail "exact tables far from float"; }
pass "net: the exact tables in every Conv, Gemm and MatMul node keep the float accuracy"

run 2 axconv-test net --model "$vit" --mtab "$tables/mul8u_1JFF.bin" --approx nosuch --limit 10
expect_err "--approx nosuch: no layer of that name in $vit (its Conv, Gemm and MatMul nodes: /patch/Conv,"
run 2 axconv-test net --model "$vit" --mtab "$tables/mul8u_1JFF.bin" --layer-mtab "/ln/Relu=x.bin" \
    --limit 10
expect_err "no layer of that name"
run 0 axconv-test net --model "$vit" --layer-mtab "/head/Gemm=$tables/mul8u_trunc_k6.bin" --limit 200 \
    --format csv --quiet
expect_out "/head/Gemm="
pass "net: layers by ONNX node name (--approx, --layer-mtab), unknown ones listed"

cp "$vit" "$T/v.onnx"
run 0 axconv-test calibrate --model "$T/v.onnx" --limit 100
expect_out "calibrated $T/v.onnx on 100 training images"
cmp -s "$vit" "$T/v.onnx" && fail "calibrate did not rewrite the model"
run 0 axconv-test calibrate --model "$T/v.onnx" --limit 100 --mtab "$tables/mul8s_drum_k6.bin" \
    --approx all,matmul
run 0 axconv-test net --model "$T/v.onnx" --mtab "$tables/mul8s_drum_k6.bin" --approx all,matmul \
    --limit 100 --quiet
pass "calibrate: ranges into the .onnx file (float network, and with tables)"

# refusals
run 2 axconv-test run --model "$T/none.onnx" --input "$T/x.npy"
expect_err "axconv-test: error: --model $T/none.onnx: "
printf 'not a protobuf \377\377\377' >"$T/junk.onnx"
run 2 axconv-test run --model "$T/junk.onnx" --input "$T/x.npy"
expect_err "$T/junk.onnx: not an ONNX model (the protobuf does not parse)"
run 2 axconv-test net --model "$T/junk.onnx" --mtab "$tables/mul8u_1JFF.bin"
expect_err "not an ONNX model"
run 2 axconv-test run --model "$vit" --input "$T/img.npy"
expect_err "input image: shape 3x28x28 given, the model takes ?x1x28x28"
run 2 axconv-test run --model "$vit" --input nosuch="$T/x.npy"
expect_err "--input nosuch=$T/x.npy: the model has no input called nosuch"
run 2 axconv-test run --model "$vit" --input "$T/x.npy" --input "$T/x.npy"
expect_err "the model has 1 input"
run 2 axconv-test run --model "$vit"
expect_err "--model and --input are required"
run 2 axconv-test run --model "$vit" --input "$T/x.npy" --output "$T/nodir/y.npy"
expect_err "--output $T/nodir/y.npy"
[ ! -e "$T/nodir" ] || fail "a partial output"
run 2 axconv-test train --from "$vit" --out "$T/t" --epochs 1 --limit 64
expect_err "has no counterpart among the layer kinds"
pass "refusals name the file, the input and the reason"
