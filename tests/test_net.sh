#!/bin/sh
# axconv-test net / calibrate / train on real Fashion-MNIST data with the shipped LeNet-5.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
C="$top_builddir/conv/axconv-test"
V="$top_builddir/verify/axmul-verify"
M="$top_srcdir/models/lenet5-fashion-mnist"
E="$top_srcdir/tables/mul8u_1JFF.bin"
FM=/usr/share/datasets/fashion-mnist
[ -f "$FM/t10k-images-idx3-ubyte.gz" ] ||
    skip "Debian's dataset-fashion-mnist is not installed ($FM); ./quickstart.sh installs it"
head -c 131072 /dev/zero > "$T/mul8u_zero.bin"

# accuracy on the full test set: exact table vs float, all-zero table, a near-exact table
run 0 "$C" net --model "$M" --mtab "$E" --mtab "$T/mul8u_zero.bin" \
    --mtab "$top_srcdir/tables/mul8u_truncc_k2.bin" --format csv --quiet
head -1 "$T/out" | grep -qx 'table,accuracy,exact_accuracy,float_accuracy,agreement,layer_snr_db,images,seconds' ||
    fail "csv header"
awk -F, 'NR == 2 { d = $3 - $4; if (d < 0) d = -d; if ($7 != 10000 || d > 0.005 || $4 < 0.89) exit 1 }' "$T/out" ||
    fail "exact-table accuracy must be within 0.5 points of float (>= 0.89): $(sed -n 2p "$T/out")"
awk -F, 'NR == 3 { if ($2 > 0.2) exit 1 }' "$T/out" || fail "all-zero table: $(sed -n 3p "$T/out")"
awk -F, 'NR == 4 { d = $2 - $3; if (d < 0) d = -d; if (d > 0.01) exit 1 }' "$T/out" ||
    fail "corrected truncation K=2 must stay within 1 point of exact: $(sed -n 4p "$T/out")"
pass "full test set: exact = float within 0.5 points, all-zero near chance, near-exact within 1 point"
if have_fixtures; then
    run 0 "$C" net --model "$M" --mtab "$fixtures/mul8u_Y48.bin" --mtab "$fixtures/mul8u_199Z.bin" --format json --quiet
    sed -n 1p "$T/out" | sed 's/.*"accuracy": \([0-9.]*\), "exact_accuracy": \([0-9.]*\),.*/\1 \2/' |
        awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 0.01) exit 1 }' || fail "mul8u_Y48: $(sed -n 1p "$T/out")"
    sed -n 2p "$T/out" | grep -q '"accuracy": 0.1' || fail "mul8u_199Z: $(sed -n 2p "$T/out")"
    pass "EvoApprox fixtures: Y48 within 1 point, 199Z at chance"
fi

# JSON Lines with the documented keys
run 0 "$C" net --model "$M" --mtab "$top_srcdir/tables/mul8u_drum_k4.bin" --limit 500 --format json
for k in table accuracy exact_accuracy agreement layer_snr_db images seconds; do
    expect_out "\"$k\": "
done
expect_out '"images": 500'
pass "json keys"

# batch size does not change any prediction (calibrated ranges)
D4="$top_srcdir/tables/mul8u_drum_k4.bin"
run 0 "$C" net --model "$M" --mtab "$D4" --batch 10000 --predictions "$T/p10000" --quiet
run 0 "$C" net --model "$M" --mtab "$D4" --batch 32 --predictions "$T/p32" --quiet
cmp -s "$T/p10000" "$T/p32" || fail "batch 32 and 10000 predict differently"
grep -v "^#" "$T/p10000" > "$T/p10000.rows"
run 0 "$C" net --model "$M" --mtab "$D4" --batch 1 --limit 300 --predictions "$T/p1" --quiet
head -301 "$T/p10000" | cmp -s - "$T/p1" || fail "batch 1 and 10000 predict differently"
pass "batch sizes 1, 32 and 10000 give identical predictions"

# --predictions with several tables keeps every table's, each after its "# table:" line
run 0 "$C" net --model "$M" --mtab "$E" --mtab "$D4" --limit 300 --predictions "$T/p2" --quiet
[ "$(grep -c '^# table: ' "$T/p2")" -eq 2 ] || fail "--predictions: not two tables: $(grep '^#' "$T/p2")"
[ "$(grep -vc '^#' "$T/p2")" -eq 600 ] || fail "--predictions: not 2 x 300 rows"
sed -n '/^# table: .*drum_k4/,$p' "$T/p2" | cmp -s - "$T/p1" || fail "--predictions: the second table's rows differ from its own run's"
grep -q "^# table: $E\$" "$T/p2" || fail "--predictions: the first table is not named: $(head -1 "$T/p2")"
pass "--predictions of two tables: both, named, each as its own run"

# layer-wise tables (TFApprox's one table per layer): the same table pinned on both conv layers
# is the default run, image for image; --approx LAYER sweeps one layer, the rest float; a pinned
# layer keeps its table under a sweep; rows name the assignment (resume, JSON, report)
Z="$T/mul8u_zero.bin"
run 0 "$C" net --model "$M" --layer-mtab conv1="$D4" --layer-mtab conv2="$D4" --predictions "$T/ppin" \
    --format csv --quiet
grep -v "^#" "$T/ppin" | cmp -s "$T/p10000.rows" - || fail "conv1 and conv2 pinned to drum_k4 predict unlike --mtab drum_k4"
expect_out "conv1+conv2=$D4,"
run 0 "$C" net --model "$M" --approx conv2 --mtab "$Z" --mtab "$E" --format csv --quiet
awk -F, 'NR == 2 { if ($2 > 0.2 || $6 !~ /^inf;/) exit 1 }
         NR == 3 { if ($2 != $3 || $3 != $4 || $5 != 1 || $6 != "inf;inf;inf;inf;inf") exit 1 }' "$T/out" ||
    fail "--approx conv2 (zero table: near chance, conv1 untouched; exact table: the float network): $(cat "$T/out")"
expect_out "conv2=$Z,"
run 0 "$C" net --model "$M" --layer-mtab conv1="$Z" --mtab "$E" --mtab "$D4" --limit 1000 --format json --quiet
expect_out "\"table\": \"conv1=$Z;conv2=$E\""
sed -n 1p "$T/out" | grep -q '"accuracy": 0\.[0-7]' || fail "conv1 on the zero table: $(sed -n 1p "$T/out")"
expect_out "\"layer_tables\": {\"conv1\": \"$Z\", \"conv2\": \"$D4\"}}"
run 0 "$C" net --model "$M" --approx conv1,fc3 --layer-mtab fc1="$E" --mtab "$D4" --limit 300 --format json --quiet
expect_out "\"table\": \"conv1+fc3=$D4;fc1=$E\""
expect_out "\"layer_tables\": {\"conv1\": \"$D4\", \"fc1\": \"$E\", \"fc3\": \"$D4\"}}"
# --resume knows the assignment: the same rows are done, other pins are not
for pin in "$Z" "$Z" "$E"; do
    run 0 "$C" net --model "$M" --layer-mtab conv1="$pin" --mtab "$E" --mtab "$D4" --limit 200 \
        --format csv --output "$T/lw.csv" --resume
done
[ "$(wc -l < "$T/lw.csv")" -eq 5 ] && grep -q "^conv1=$E;conv2=$D4," "$T/lw.csv" ||
    fail "--resume with layer-wise rows: $(cat "$T/lw.csv")"
run 0 "$C" net --model "$M" --layer-mtab conv1="$E" --mtab "$D4" --limit 200 --report "$T/lwrep" --quiet
grep -q "Tables per layer: <code>conv1=$E;conv2=(each table)</code>" "$T/lwrep/index.html" ||
    fail "layer-wise report: $(grep -o 'Tables per layer[^<]*<code>[^<]*' "$T/lwrep/index.html")"
pass "layer-wise tables: pins equal --mtab, one-layer sweeps, fixed layers, resume and report"

# the same test set as NumPy arrays (npy:DIR, Keras' names) predicts the same, image for image;
# a 3-channel copy is refused by the 1-channel model
npy_hdr() { # npy_hdr DESCR SHAPE: a format 1.0 header, padded to 128 bytes
    perl -e 'binmode STDOUT; my $h = "{\x27descr\x27: \x27$ARGV[0]\x27, \x27fortran_order\x27: False, \x27shape\x27: $ARGV[1], }";
        $h .= " " x (117 - length($h)) . "\n"; print "\x93NUMPY\x01\x00", pack("v", length($h)), $h' "$1" "$2"
}
mkdir "$T/npy" "$T/npy3"
{ npy_hdr '|u1' '(10000, 28, 28)'; gzip -dc "$FM/t10k-images-idx3-ubyte.gz" | tail -c +17; } > "$T/npy/x_test.npy"
{ npy_hdr '|u1' '(10000,)'; gzip -dc "$FM/t10k-labels-idx1-ubyte.gz" | tail -c +9; } > "$T/npy/y_test.npy"
run 0 "$C" net --model "$M" --mtab "$D4" --dataset "npy:$T/npy" --predictions "$T/pnpy" --quiet
cmp -s "$T/p10000" "$T/pnpy" || fail "npy:DIR and fashion-mnist predict differently"
{ npy_hdr '|u1' '(10, 28, 28, 3)'; head -c 23520 /dev/zero; } > "$T/npy3/x_test.npy"
{ npy_hdr '<i8' '(10, 1)'; head -c 80 /dev/zero; } > "$T/npy3/y_test.npy"
run 2 "$C" net --model "$M" --mtab "$D4" --dataset "npy:$T/npy3"
expect_err "expects 28x28x1 inputs but npy:$T/npy3 has 28x28x3 images"
pass "npy:DIR data sets: the test set as .npy arrays predicts as the IDX files; shapes checked"

# a deep model (ResNet-20 has about 70 layers): LeNet-5 with 70 more ReLU layers after its first
# (idempotent) predicts exactly as LeNet-5, with a report of its layers
mkdir "$T/deep"
cp "$M"/*.npy "$T/deep/"
perl -0pe 's/("name": "relu1"\s*\})/$1 . (", {\"type\": \"relu\"}" x 70)/e' "$M/model.json" > "$T/deep/model.json"
[ "$(grep -o '"type": "relu"' "$T/deep/model.json" | wc -l)" -eq 74 ] || fail "deep model: $(head -c 300 "$T/deep/model.json")"
run 0 "$C" net --model "$M" --mtab "$D4" --limit 300 --predictions "$T/pshallow" --quiet
run 0 "$C" net --model "$T/deep" --mtab "$D4" --limit 300 --predictions "$T/pdeep" --report "$T/deeprep" --quiet
cmp -s "$T/pshallow" "$T/pdeep" || fail "81-layer model predicts differently"
[ -f "$T/deeprep/index.html" ] || fail "81-layer model: no report"
pass "an 81-layer model runs and reports (models up to 1000 layers)"

# operand histograms feed axmul-verify's data-aware metrics
run 0 "$C" net --model "$M" --mtab "$D4" --limit 200 --dump-operands "$T/ops" --quiet
for f in activations weights conv1_activations conv2_weights; do
    [ "$(wc -l < "$T/ops/$f.txt")" -eq 256 ] || fail "$f.txt"
done
run 0 "$V" --dist-a "$T/ops/activations.txt" --dist-b "$T/ops/weights.txt" "$D4"
expect_out "weighted by the given operand distributions"
pass "--dump-operands"

# a misspelled field is refused by name with the valid one, never ignored ("stride" ran at 1)
mkdir "$T/typo"
cp "$M"/*.npy "$T/typo/"
for typo in 'strides/stride/did you mean "strides"' 'padding/pading/did you mean "padding"' \
    'input_shape/inputshape/did you mean "input_shape"' 'pool_size/pool/did you mean "pool_size"'; do
    from=${typo%%/*} rest=${typo#*/} to=${rest%%/*} hint=${rest#*/}
    perl -pe 'BEGIN { $n = 0 } s/"'"$from"'"/"'"$to"'"/ if /"'"$from"'"/ && !$n++' "$M/model.json" > "$T/typo/model.json"
    grep -q "\"$to\"" "$T/typo/model.json" || fail "no $from in $M/model.json"
    run 2 "$C" net --model "$T/typo" --mtab "$E" --limit 10
    expect_err "unknown field \"$to\" ($hint"
done
pass "misspelled model.json fields are refused with the nearest valid one"

# --ranges batch (TFApprox's per-batch min/max) works; an uncalibrated model needs it
cp -r "$M" "$T/model"
perl -0pe 's/,\s*"input_range":\s*\[[^\]]*\]//g' "$M/model.json" > "$T/model/model.json"
grep -q input_range "$T/model/model.json" && fail "the ranges were not removed"
run 2 "$C" net --model "$T/model" --mtab "$E" --limit 100
expect_err "not calibrated"
run 0 "$C" net --model "$T/model" --mtab "$E" --limit 100 --ranges batch --quiet
run 0 "$C" calibrate --model "$T/model" --limit 500
grep -q '"input_range"' "$T/model/model.json" || fail "calibrate wrote no ranges"
run 0 "$C" net --model "$T/model" --mtab "$E" --limit 100 --quiet
pass "--ranges batch, calibrate"

# bad input: each a clear error naming the file
mkdir "$T/badset"
printf 'not an idx file' | gzip > "$T/badset/t10k-images-idx3-ubyte.gz"
cp "$FM/t10k-labels-idx1-ubyte.gz" "$T/badset/"
run 2 "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/badset"
expect_err "t10k-images-idx3-ubyte.gz: not an IDX file (bad magic number)"
gzip -dc "$FM/t10k-images-idx3-ubyte.gz" | head -c 100000 > "$T/badset/t10k-images-idx3-ubyte"
rm "$T/badset/t10k-images-idx3-ubyte.gz"
run 2 "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/badset"
expect_err "truncated"
sed 's/"type": "relu"/"type": "gelu"/' "$M/model.json" > "$T/model/model.json"
run 2 "$C" net --model "$T/model" --mtab "$E" --limit 10
expect_err "unknown layer type 'gelu'"
sed 's/"filters": 16/"filters": 12/' "$M/model.json" > "$T/model/model.json"
run 2 "$C" net --model "$T/model" --mtab "$E" --limit 10
expect_err "conv2_weights.npy has"
run 2 "$C" net --model "$M" --mtab "$T/nope.bin" --limit 10
expect_err "nope.bin"
run 2 "$C" net --model "$T/nomodel" --mtab "$E"
expect_err "nomodel"
# a failing run leaves an earlier run's results alone (the output is opened once all is loaded)
echo "earlier results" > "$T/results.csv"
run 2 "$C" net --model "$T/nomodel" --mtab "$E" --format csv --output "$T/results.csv"
run 2 "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/badset" --output "$T/results.csv"
run 2 env AXMUL_CPU_PATH=sse9 "$C" net --model "$M" --mtab "$E" --output "$T/results.csv"
expect_err "AXMUL_CPU_PATH=sse9: unknown CPU path"
head -c 1000 "$E" > "$T/mul8u_short.bin"
run 2 "$C" net --model "$M" --mtab "$T/mul8u_short.bin" --limit 10 --output "$T/results.csv"
expect_err "mul8u_short.bin"
[ "$(cat "$T/results.csv")" = "earlier results" ] || fail "a failed run changed --output"
run 2 "$C" net --model "$M" --mtab "$T/mul8u_short.bin" --limit 10 --output "$T/fresh.csv"
[ ! -e "$T/fresh.csv" ] || fail "a run without a row left an empty --output behind"
# the first good row replaces it (header, then the row)
run 2 "$C" net --model "$M" --mtab "$T/mul8u_short.bin" --mtab "$E" --limit 10 --format csv \
    --output "$T/results.csv" --quiet
[ "$(wc -l < "$T/results.csv")" -eq 2 ] && head -1 "$T/results.csv" | grep -q '^table,accuracy' &&
    grep -q 'mul8u_1JFF.bin,' "$T/results.csv" || fail "--output after a failed table: $(cat "$T/results.csv")"
pass "bad datasets, models and tables; --output untouched by a failed run"

# training is bit-reproducible for one seed (small run)
run 0 "$C" train --out "$T/t1" --limit 1000 --epochs 1 --calibrate 200 --seed 3 --quiet
expect_out "float test accuracy"
run 0 "$C" train --out "$T/t2" --limit 1000 --epochs 1 --calibrate 200 --seed 3 --quiet
for f in model.json conv1_weights.npy fc1_weights.npy fc3_bias.npy; do
    cmp -s "$T/t1/$f" "$T/t2/$f" || fail "train: $f differs between two runs with one seed"
done
pass "train: reproducible"

# approximation-aware fine-tuning: Mitchell's multiplier in both conv layers costs LeNet-5 half
# its accuracy; one epoch on 5000 training images wins most of it back, and net measures the
# accuracy that train reports
MI="$top_srcdir/tables/mul8u_mitchell.bin"
run 0 "$C" train --from "$M" --mtab "$MI" --epochs 1 --limit 5000 --calibrate 2000 --out "$T/ft" --quiet
expect_out "with conv1+conv2=$MI: test accuracy"
ba=$(sed -n 's/.*test accuracy \([0-9.]*\) before training, \([0-9.]*\) after.*/\1 \2/p' "$T/out")
echo "$ba" | awk '{ if (!($2 > $1 + 0.2)) exit 1 }' || fail "fine-tuning for Mitchell: $(cat "$T/out")"
run 0 "$C" net --model "$T/ft" --mtab "$MI" --format csv --quiet
[ "$(sed -n 2p "$T/out" | cut -d, -f2 | cut -c1-6)" = "${ba#* }" ] ||
    fail "net on the fine-tuned model: $(sed -n 2p "$T/out"), train said after = ${ba#* }"
run 0 "$C" train --from "$M" --layer-mtab conv2="$MI" --epochs 1 --limit 300 --calibrate 300 --out "$T/ft2" --quiet
expect_out "with conv2=$MI: test accuracy"
# train calibrated on the approximate network: calibrate --mtab writes the same ranges, the float
# network's are others
cp -r "$T/ft" "$T/ftc"
run 0 "$C" calibrate --model "$T/ftc" --mtab "$MI" --limit 2000
expect_out "in the network with conv1+conv2=$MI"
cmp -s "$T/ft/model.json" "$T/ftc/model.json" || fail "calibrate --mtab: other ranges than train's"
run 0 "$C" calibrate --model "$T/ftc" --limit 2000
cmp -s "$T/ft/model.json" "$T/ftc/model.json" && fail "calibrate without --mtab: the same ranges"
pass "train --from --mtab: approximation-aware fine-tuning recovers accuracy ($ba); calibrate --mtab"

# graphs train too: LeNet-5 with a residual block of batch norm, ReLU6 and a 3x3 depthwise conv
# after relu1 (added to relu1) trains from scratch-initialised block weights, with Mitchell's
# multiplier in every conv layer, depthwise included
mkdir "$T/res"
cp "$M"/*.npy "$T/res/"
f32() { # f32 FILE SHAPE VALUE...: a float32 .npy file
    f=$1 shape=$2
    shift 2
    { npy_hdr '<f4' "$shape"; perl -e 'binmode STDOUT; print pack("f<*", @ARGV)' -- "$@"; } > "$f"
}
f32 "$T/res/bn_g.npy" '(6,)' 1 1 1 1 1 1
f32 "$T/res/bn_b.npy" '(6,)' 0 0 0 0 0 0
f32 "$T/res/bn_m.npy" '(6,)' 0.5 0.5 0.5 0.5 0.5 0.5
f32 "$T/res/bn_v.npy" '(6,)' 1 1 1 1 1 1
f32 "$T/res/dw_w.npy" '(3, 3, 1, 6)' $(perl -e 'print join(" ", map { (($_ * 7) % 11 - 5) / 20 } 0..53)')
perl -0pe 's/("name": "relu1"\s*\})/$1, {"type": "batchnorm", "name": "bn", "gamma": "bn_g.npy", "beta": "bn_b.npy", "moving_mean": "bn_m.npy", "moving_variance": "bn_v.npy"}, {"type": "relu6"}, {"type": "depthwise", "name": "dw", "filters": 6, "kernel_size": 3, "padding": "same", "weights": "dw_w.npy"}, {"type": "add", "name": "res", "inputs": ["relu1", "dw"]}/' \
    "$M/model.json" > "$T/res/model.json"
grep -q '"name": "res"' "$T/res/model.json" || fail "residual model: $(head -c 300 "$T/res/model.json")"
run 0 "$C" train --from "$T/res" --mtab "$MI" --epochs 1 --limit 3000 --calibrate 1000 --out "$T/rest" --quiet
expect_out "with conv1+dw+conv2=$MI: test accuracy"
sed -n 's/.*test accuracy \([0-9.]*\) before training, \([0-9.]*\) after.*/\1 \2/p' "$T/out" |
    awk '{ if (!($2 > $1 + 0.3)) exit 1 }' ||
    fail "residual LeNet-5 fine-tuned for Mitchell: $(cat "$T/out")"
run 0 "$C" net --model "$T/rest" --mtab "$MI" --limit 500 --quiet
pass "train --from a graph (batch norm, ReLU6, depthwise, add) with the table in its depthwise conv"
