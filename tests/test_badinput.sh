#!/bin/sh
# The bad-input matrix: every tool, every kind of broken input. Each case must exit 1 or 2 (never
# a signal), name the input in its message, and leave no output file (nor temporary) behind.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
G="$top_builddir/gen/axmul-gen"
V="$top_builddir/verify/axmul-verify"
C="$top_builddir/conv/axconv-test"
E="$top_srcdir/tables/mul8u_1JFF.bin"
M="$top_srcdir/models/lenet5-fashion-mnist"
command -v perl >/dev/null || skip "perl (Debian's perl-base) is needed to write the broken files"
mkdir "$T/in" "$T/outdir"
cases=0

# bad CODE NEEDLE OUTPUT CMD...: OUTPUT (or -) must not exist afterwards.
bad() {
    code=$1 needle=$2 output=$3
    shift 3
    "$@" > "$T/out" 2> "$T/err"
    got=$?
    [ "$got" -lt 128 ] || fail "'$*' died with signal $((got - 128))"
    [ "$got" -eq "$code" ] || { cat "$T/err" >&2; fail "'$*' exited $got, expected $code"; }
    grep -F -q -- "$needle" "$T/err" || { cat "$T/err" >&2; fail "'$*': message lacks '$needle'"; }
    if [ "$output" != - ]; then
        [ -e "$output" ] && fail "'$*' left $output behind"
        ls "$(dirname "$output")" 2>/dev/null | grep -q '\.tmp' && fail "'$*' left a temporary file"
    fi
    cases=$((cases + 1))
}

# ---- options: the tools' own error format, not getopt's (which names libtool's wrapper path)
bad 2 "axmul-verify: error: unknown option '--bogus'" - "$V" --bogus x
bad 2 "axmul-verify: error: option '--check-packing' takes no argument" - "$V" --check-packing=1 x
bad 2 "axmul-gen: error: option '--timeout' needs an argument" - "$G" --timeout
bad 2 "axmul-gen: error: option '-o' needs an argument" - "$G" x.c -o
bad 2 "axconv-test: error: ambiguous option '--s'" - "$C" conv --s 2
bad 2 "axconv-test: error: unknown option '-Z'" - "$C" bench -qZ
grep -F -q "Try 'axconv-test bench --help'" "$T/err" || fail "bench -qZ: no hint: $(cat "$T/err")"

# ---- inputs
I="$T/in"
: > "$I/empty.bin"
head -c 1000 "$E" > "$I/short.bin"
{ cat "$E"; printf 'xx'; } > "$I/long.bin"
head -c 5000 /dev/urandom > "$I/garbage.bin"
mkdir "$I/dir.bin"
npy() { # npy FILE DESCR SHAPE DATA-PERL-EXPR
    perl -e 'binmode STDOUT; my $h = "{\x27descr\x27: \x27'"$2"'\x27, \x27fortran_order\x27: False, \x27shape\x27: '"$3"', }";
        $h .= " " x (117 - length($h)) . "\n"; print "\x93NUMPY\x01\x00", pack("v", length($h)), $h, '"$4" > "$1"
}
npy "$I/x.npy" '<f4' '(1, 4, 4, 1)' 'pack("f*", map { $_ / 16 } 0..15)'
npy "$I/w.npy" '<f4' '(3, 3, 1, 2)' 'pack("f*", map { $_ / 9 - 1 } 0..17)'
npy "$I/huge.npy" '<f4' '(100000, 100000, 100000, 1)' 'pack("f*", 1, 2, 3)'
npy "$I/be.npy" '>f4' '(1, 4, 4, 1)' 'pack("f>*", 0..15)'
npy "$I/f8.npy" '<f8' '(1, 4, 4, 1)' 'pack("d*", 0..15)'
npy "$I/trunc.npy" '<f4' '(1, 4, 4, 1)' 'pack("f*", 0..9)'
npy "$I/trail.npy" '<f4' '(1, 4, 4, 1)' 'pack("f*", 0..20)'
npy "$I/nan.npy" '<f4' '(1, 4, 4, 1)' 'pack("f*", 0..4, 9**9**9 - 9**9**9, 6..15)'
npy "$I/inf.npy" '<f4' '(1, 4, 4, 1)' 'pack("f*", 0..4, 9**9**9, 6..15)'
printf 'int f(int a, int b) { return a * b }\n' > "$I/broken.c"
: > "$I/empty.c"

O="$T/outdir"
# ---- axmul-gen
bad 2 "nope.c" "$O/g.bin" "$G" "$I/nope.c" -o "$O/g.bin"
bad 2 "dir.bin" "$O/g.bin" "$G" "$I/dir.bin" -o "$O/g.bin"
bad 1 "empty.c: defines no externally visible function" "$O/g.bin" "$G" "$I/empty.c" -o "$O/g.bin"
bad 1 "garbage.bin: does not compile" "$O/g.bin" "$G" "$I/garbage.bin" -o "$O/g.bin"
bad 1 "broken.c: does not compile" "$O/g.bin" "$G" "$I/broken.c" -o "$O/g.bin"
bad 2 "no/such/g.bin" "$O/no/such/g.bin" "$G" "$top_srcdir/gen/families/exact.c" -o "$O/no/such/g.bin"
# ---- axmul-verify
for f in empty short long; do
    bad 2 "$f.bin" - "$V" "$I/$f.bin"
done
bad 2 "dir.bin: is a directory" - "$V" "$I/dir.bin"
bad 2 "nope.bin" - "$V" "$I/nope.bin"
bad 2 "garbage.bin: 5000 bytes" - "$V" "$I/garbage.bin"
bad 2 "garbage.bin" - "$V" --dist-a "$I/garbage.bin" "$E"
bad 2 "x.npy: 16 elements, expected 256" - "$V" --dist-a "$I/x.npy" "$E"
bad 2 "no/such/h.png" "$O/no/such/h.png" "$V" --heatmap "$O/no/such/h.png" "$E"
bad 2 "no/such/r.csv" "$O/no/such/r.csv" "$V" -o "$O/no/such/r.csv" --format json "$E"
# ---- axconv-test conv
for f in nope dir.bin empty.bin garbage.bin trunc trail huge be f8 nan inf; do
    case $f in *.bin) p="$I/$f" ;; *) p="$I/$f.npy" ;; esac
    [ "$f" = dir.bin ] && p="$I/dir.bin"
    bad 2 "$(basename "$p")" "$O/y.npy" "$C" conv --input "$p" --filter "$I/w.npy" --output "$O/y.npy"
    bad 2 "$(basename "$p")" "$O/y.npy" "$C" conv --input "$I/x.npy" --filter "$p" --output "$O/y.npy"
done
bad 2 "big-endian" - "$C" conv --input "$I/be.npy" --filter "$I/w.npy"
bad 2 "'<f8', expected float32" - "$C" conv --input "$I/f8.npy" --filter "$I/w.npy"
bad 2 "element 5 is NaN" - "$C" conv --input "$I/nan.npy" --filter "$I/w.npy"
bad 2 "element 5 is +Inf" - "$C" conv --input "$I/inf.npy" --filter "$I/w.npy"
bad 2 "declared shape needs more than" - "$C" conv --input "$I/huge.npy" --filter "$I/w.npy"
bad 2 "range [1, 0] is inverted" - "$C" conv --input "$I/x.npy" --filter "$I/w.npy" --input-range 1,0
bad 2 "zero width" - "$C" conv --input "$I/x.npy" --filter "$I/w.npy" --filter-range 0.5,0.5
bad 2 "short.bin" "$O/y.npy" "$C" conv --input "$I/x.npy" --filter "$I/w.npy" --mtab "$I/short.bin" --output "$O/y.npy"
bad 2 "no/such/y.npy" "$O/no/such/y.npy" "$C" conv --input "$I/x.npy" --filter "$I/w.npy" --output "$O/no/such/y.npy"
bad 2 "no/such/d.png" "$O/no/such/d.png" "$C" conv --input "$I/x.npy" --filter "$I/w.npy" --heatmap "$O/no/such/d.png"
# ---- axconv-test bench / calibrate / train
bad 2 "garbage.bin" - "$C" bench --quick --mtab "$I/garbage.bin"
bad 2 "nomodel" - "$C" calibrate --model "$T/nomodel"
# ---- models
mk_model() { rm -rf "$T/m"; cp -r "$M" "$T/m"; }
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
    mk_model
    cp "$I/garbage.bin" "$T/m/model.json"
    bad 2 "model.json" - "$C" net --model "$T/m" --mtab "$E" --limit 10
    mk_model
    sed 's/"type": "avgpool"/"type": "lstm"/' "$M/model.json" > "$T/m/model.json"
    bad 2 "unknown layer type 'lstm'" - "$C" net --model "$T/m" --mtab "$E" --limit 10
    mk_model
    cp "$I/w.npy" "$T/m/fc2_weights.npy"
    bad 2 "fc2_weights.npy has 18 elements" - "$C" net --model "$T/m" --mtab "$E" --limit 10
    mk_model
    cp "$I/huge.npy" "$T/m/conv1_weights.npy"
    bad 2 "conv1_weights.npy: declared shape" - "$C" net --model "$T/m" --mtab "$E" --limit 10
    mk_model
    cp "$I/nan.npy" "$T/m/conv1_bias.npy"
    bad 2 "conv1_bias.npy: element 5 is not finite" - "$C" net --model "$T/m" --mtab "$E" --limit 10
    bad 2 "long.bin" - "$C" net --model "$M" --mtab "$I/long.bin" --limit 10
    bad 2 "no/such/rep" "$O/no/such/rep" "$C" net --model "$M" --mtab "$E" --limit 10 --report "$O/no/such/rep"
    bad 2 "no/such/r.csv" "$O/no/such/r.csv" "$C" net --model "$M" --mtab "$E" --limit 10 --output "$O/no/such/r.csv"
    # layer-wise tables: the layer named and the model's conv2d/dense layers listed
    bad 2 "--approx conv9: no layer of that name in $M (its conv2d and dense layers: conv1, conv2, fc1, fc2, fc3)" \
        - "$C" net --model "$M" --approx conv9 --mtab "$E" --limit 10
    bad 2 "--layer-mtab pool1: the layer is of type avgpool" - "$C" net --model "$M" --layer-mtab pool1="$E" --limit 10
    bad 2 "--approx 'conv,,fc1': expected a comma-separated list" - "$C" net --model "$M" --approx conv,,fc1 --mtab "$E"
    bad 2 "--layer-mtab 'conv1': expected LAYER=TABLE.bin" - "$C" net --model "$M" --layer-mtab conv1 --mtab "$E"
    bad 2 "--layer-mtab conv1: $I/long.bin" - "$C" net --model "$M" --layer-mtab conv1="$I/long.bin" --limit 10
    bad 2 "--layer-mtab conv2: the layer is given twice" - "$C" net --model "$M" --layer-mtab conv2="$E" \
        --layer-mtab conv2="$E" --limit 10
    bad 2 "no layer is left for the --mtab tables" "$O/lw.csv" "$C" net --model "$M" --approx conv1 \
        --layer-mtab conv1="$E" --mtab "$E" --limit 10 --output "$O/lw.csv"
    bad 2 "--approx selects the layers of the --mtab tables" - "$C" net --model "$M" --approx dense \
        --layer-mtab conv1="$E" --limit 10
    bad 2 "--report plots one point per --mtab table" "$O/lwrep" "$C" net --model "$M" \
        --layer-mtab conv1="$E" --limit 10 --report "$O/lwrep"
    mkdir "$T/ds"
    cp "$I/garbage.bin" "$T/ds/t10k-images-idx3-ubyte"
    cp "$FM/t10k-labels-idx1-ubyte.gz" "$T/ds/"
    bad 2 "t10k-images-idx3-ubyte: not an IDX file" - "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/ds"
    bad 2 "dataset 'mnist:$T/nods'" - "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/nods"
    bad 2 "no/such/model" - "$C" train --out "$O/no/such/model" --limit 64 --epochs 1 --quiet
    bad 2 "--approx selects how the --mtab table is used: give --mtab" "$O/ft" "$C" train --from "$M" \
        --approx conv1 --out "$O/ft"
    bad 2 "training takes one --mtab table" "$O/ft" "$C" train --mtab "$E" --mtab "$E" --out "$O/ft"
    bad 2 "--from $T/nomodel" "$O/ft" "$C" train --from "$T/nomodel" --mtab "$E" --out "$O/ft"
    bad 2 "--layer-mtab pool1: the layer is of type avgpool" "$O/ft" "$C" train --from "$M" \
        --layer-mtab pool1="$E" --out "$O/ft" --quiet
    bad 2 "--mtab $I/long.bin" "$O/ft" "$C" train --from "$M" --mtab "$I/long.bin" --out "$O/ft" --quiet
    bad 2 "--approx selects how the --mtab table is used" - "$C" calibrate --model "$M" --approx conv
    bad 2 "--approx conv7: no layer of that name" - "$C" calibrate --model "$M" --mtab "$E" --approx conv7
    bad 2 "--mtab $I/long.bin" - "$C" calibrate --model "$M" --mtab "$I/long.bin"
fi
# data sets whose images are not what the model reads (the float buffers would be read past
# their end): 20x20 images for the 28x28 LeNet-5, in the calibration and in the trainer's test set
idx() { # idx DIR PREFIX COUNT ROWS COLS [CLASSES]: plain IDX images and labels
    perl -e 'binmode STDOUT; my ($n, $r, $c) = @ARGV;
        print pack("N4", 0x803, $n, $r, $c), pack("C*", map { ($_ * 7) % 256 } 1 .. $n * $r * $c)' \
        "$3" "$4" "$5" > "$1/$2-images-idx3-ubyte"
    perl -e 'binmode STDOUT; my ($n, $k) = @ARGV; print pack("N2", 0x801, $n), pack("C*", map { $_ % $k } 1 .. $n)' \
        "$3" "${6:-10}" > "$1/$2-labels-idx1-ubyte"
}
mkdir "$T/ds20" "$T/dsmix"
idx "$T/ds20" train 40 20 20
idx "$T/ds20" t10k 40 20 20
idx "$T/dsmix" train 40 28 28
idx "$T/dsmix" t10k 40 20 20
cp -r "$M" "$T/mc"
bad 2 "expects 28x28x1 inputs but mnist:$T/ds20 has 20x20x1 images" - "$C" calibrate --model "$T/mc" --dataset "mnist:$T/ds20"
cmp -s "$M/model.json" "$T/mc/model.json" || fail "a failed calibrate changed model.json"
bad 2 "expects 28x28x1 inputs but mnist:$T/ds20 has 20x20x1 images" - "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/ds20"
bad 2 "20x20x1 training images; the LeNet-5 trainer needs 28x28x1" "$O/t20" "$C" train --dataset "mnist:$T/ds20" --out "$O/t20" --epochs 1 --quiet
bad 2 "20x20x1 test images; the LeNet-5 trainer needs 28x28x1" "$O/tmix" "$C" train --dataset "mnist:$T/dsmix" --out "$O/tmix" --epochs 1 --quiet
# labels the model has no class for (12 classes against LeNet-5's 10)
mkdir "$T/ds12"
idx "$T/ds12" train 40 28 28 12
idx "$T/ds12" t10k 40 28 28 12
bad 2 "mnist:$T/ds12: image 9 has label 10 but the model has 10 classes (0..9)" - "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/ds12"
bad 2 "image 9 has label 10 but the model has 10 classes" "$O/t12" "$C" train --dataset "mnist:$T/ds12" --out "$O/t12" --epochs 1 --quiet
run 0 "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/ds12" --limit 9 --quiet

# ---- hardening 2: names that leave their folder, FIFOs, outputs that are inputs, whole folders
# a layer name becomes file names (calibrate, train --out, --dump-operands): refused at load
mkdir "$T/trav"
cp "$M"/*.npy "$T/trav/"
sed 's/"name": "conv1"/"name": "..\/..\/..\/escaped"/' "$M/model.json" > "$T/trav/model.json"
grep -q 'escaped' "$T/trav/model.json" || fail "no conv1 to rename in $M/model.json"
bad 2 "name '../../../escaped' refused: it holds a slash" - "$C" calibrate --model "$T/trav" --dataset "mnist:$T/ds12"
bad 2 "name '../../../escaped' refused" "$O/dump" "$C" net --model "$T/trav" --mtab "$E" --dataset "mnist:$T/ds12" --dump-operands "$O/dump"
[ -e "$T/../escaped_weights.npy" ] || [ -e "$(dirname "$T")/../escaped_weights.npy" ] && fail "a layer name wrote outside the folder"
long=$(printf 'n%.0s' $(seq 70))
sed "s/\"name\": \"conv1\"/\"name\": \"$long\"/" "$M/model.json" > "$T/trav/model.json"
bad 2 "a layer name is a plain file name of at most 63 bytes" - "$C" net --model "$T/trav" --mtab "$E" --dataset "mnist:$T/ds12"
# any FIFO as an input is refused by name at once (timeout: a hang fails the case, exit 124)
mkfifo "$I/fifo.bin" "$I/fifo.npy" "$I/fifo.h" "$I/fifo.c" "$I/fifo.csv"
mkdir "$T/fifomodel" "$T/fifodir"
mkfifo "$T/fifomodel/model.json" "$T/fifodir/zz.bin"
cp "$E" "$T/fifodir/"
W="timeout 60"
bad 2 "fifo.bin: is a FIFO, not a regular file" - $W "$V" "$I/fifo.bin"
bad 2 "fifo.npy: is a FIFO" - $W "$V" --dist-a "$I/fifo.npy" "$E"
bad 2 "fifo.bin: is a FIFO" - $W "$C" conv --shape 1,8,8,1 --kernel 3,3,1 --mtab "$I/fifo.bin"
bad 2 "fifo.npy: is a FIFO" "$O/y.npy" $W "$C" conv --input "$I/fifo.npy" --kernel 3,3,1 --output "$O/y.npy"
bad 2 "model.json: is a FIFO" - $W "$C" net --model "$T/fifomodel" --mtab "$E" --dataset "mnist:$T/ds12"
bad 2 "zz.bin: is a FIFO" - $W "$C" net --model "$M" --mtab-dir "$T/fifodir" --dataset "mnist:$T/ds12" --limit 9
bad 2 "fifo.c: is not a regular file" "$O/g.bin" $W "$G" "$I/fifo.c" -o "$O/g.bin"
printf '#include "fifo.h"\nunsigned approximate_mult(unsigned char a, unsigned char b) { return a * b; }\n' > "$I/incl.c"
bad 1 "did not finish within 2 s" "$O/g.bin" $W "$G" "$I/incl.c" --compile-timeout 2 -o "$O/g.bin"
bad 2 "--resume $I/fifo.csv: not a regular file" - $W "$V" -o "$I/fifo.csv" --format csv --resume "$E"
# an output that is an input (under any name) is refused, the input untouched
cp "$E" "$I/t.bin"
ln -s t.bin "$I/t-link.bin"
cp "$top_srcdir/gen/families/exact.c" "$I/src.c"
cp "$I/x.npy" "$I/x2.npy"
for f in t.bin src.c x2.npy; do cp "$I/$f" "$I/$f.orig"; done
bad 2 "--heatmap $I/t-link.bin: is the input $I/t.bin (same file)" - "$V" --heatmap "$I/t-link.bin" "$I/t.bin"
bad 2 "-o $I/t.bin: is the input" - "$V" --convert adapt -o "$I/t.bin" "$I/t.bin"
bad 2 "-o $I/src.c: is the input" - "$G" "$I/src.c" -o "$I/src.c"
bad 2 "--output $I/x2.npy: is the input" - "$C" conv --input "$I/x2.npy" --kernel 3,3,1 --output "$I/x2.npy"
cp -r "$M" "$T/mout"
cp "$T/mout/model.json" "$T/mout.json.orig"
bad 2 "--output $T/mout/model.json: is the input" - "$C" net --model "$T/mout" --mtab "$E" --dataset "mnist:$T/ds12" --output "$T/mout/model.json"
bad 2 "--predictions $I/t.bin: is the input" - "$C" net --model "$M" --mtab "$I/t.bin" --dataset "mnist:$T/ds12" --predictions "$I/t.bin"
for f in t.bin src.c x2.npy; do cmp -s "$I/$f" "$I/$f.orig" || fail "$f was changed by a refused run"; done
cmp -s "$T/mout/model.json" "$T/mout.json.orig" || fail "model.json was changed by a refused run"
# option values are named from the option table, not from argv (-e0x has no "--epochs" in it)
bad 2 "--epochs '0x': invalid value" - "$C" train -e 0x
bad 2 "--epochs '0x': invalid value" - "$C" train -e0x
bad 2 "--groups '0': expected a positive integer" - "$C" conv --shape 1,8,8,4 --kernel 3,3,4 --groups 0
bad 2 "/dev/zero: is a character device, not a regular file" - "$V" /dev/zero
# --resume appends only to a results file of the same tool, options, model and images
run 0 "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/ds12" --limit 9 --quiet --format csv --output "$O/r.csv"
cp "$O/r.csv" "$T/r.orig"
bad 2 "line 2 is a row of another run (float accuracy" - "$C" net --model "$M" --mtab "$E" --mtab "$top_srcdir/tables/mul8u_drum_k4.bin" --dataset "mnist:$T/ds12" --limit 8 --quiet --format csv --output "$O/r.csv" --resume
bad 2 "not a results file of these options" - "$V" -o "$O/r.csv" --format csv --resume "$E"
cmp -s "$O/r.csv" "$T/r.orig" || fail "a refused --resume changed the results file"
printf 'not a row\n' > "$O/foreign.json"
bad 2 "line 1 is not a result row of axconv-test net" - "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/ds12" --limit 9 --quiet --format json --output "$O/foreign.json" --resume
# a table name with a comma is one CSV field (RFC 4180), and --resume finds it again
cp "$E" "$I/a,b.bin"
run 0 "$C" net --model "$M" --mtab "$I/a,b.bin" --dataset "mnist:$T/ds12" --limit 9 --quiet --format csv --output "$O/q.csv"
grep -q "^\"$I/a,b.bin\",0" "$O/q.csv" || fail "the table name is not quoted: $(cat "$O/q.csv")"
"$C" net --model "$M" --mtab "$I/a,b.bin" --dataset "mnist:$T/ds12" --limit 9 --format csv --output "$O/q.csv" --resume 2> "$T/err" ||
    fail "resume of a quoted name: $(cat "$T/err")"
grep -q "1 tables already in" "$T/err" || fail "resume did not find the quoted row: $(cat "$T/err")"
# a quote in the name is doubled ("") and read back as one
cp "$E" "$I/q\"x,y.bin"
"$C" net --model "$M" --mtab "$I/q\"x,y.bin" --dataset "mnist:$T/ds12" --limit 9 --quiet --format csv --output "$O/q.csv" --resume 2> "$T/err" ||
    fail "resume with a quote in a name: $(cat "$T/err")"
grep -q "^\"$I/q\"\"x,y.bin\",0" "$O/q.csv" || fail "the quote is not doubled: $(cat "$O/q.csv")"
"$C" net --model "$M" --mtab "$I/a,b.bin" --mtab "$I/q\"x,y.bin" --dataset "mnist:$T/ds12" --limit 9 --format csv --output "$O/q.csv" --resume 2> "$T/err" ||
    fail "second resume with a quote in a name: $(cat "$T/err")"
grep -q "2 tables already in" "$T/err" || fail "resume did not find both quoted rows: $(cat "$T/err")"
# a failed net run leaves an earlier report and operand dump as they were
run 0 "$C" net --model "$M" --mtab "$E" --dataset "mnist:$T/ds12" --limit 9 --quiet --report "$O/rep" --dump-operands "$O/ops"
cp "$O/rep/index.html" "$T/index.orig"
cp "$O/ops/activations.txt" "$T/acts.orig"
bad 2 "short.bin" - "$C" net --model "$M" --mtab "$E" --mtab "$I/short.bin" --dataset "mnist:$T/ds12" --limit 9 --quiet --report "$O/rep" --dump-operands "$O/ops"
cmp -s "$O/rep/index.html" "$T/index.orig" || fail "a failed net run changed the earlier report"
cmp -s "$O/ops/activations.txt" "$T/acts.orig" || fail "a failed net run changed the earlier dump"
ls "$O" | grep -q tmp && fail "a staging folder was left in $O: $(ls "$O")"
pass "bad-input matrix: $cases cases, each a clear error, no signal, no partial output"

# ---- a full disk: a tiny tmpfs when this machine lets us mount one, else a file size limit
full="$T/full"
mkdir "$full"
if mount -t tmpfs -o size=16k tmpfs "$full" 2>/dev/null; then
    how="16 KiB tmpfs"
    trap 'umount "$full" 2>/dev/null; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
    limit=""
else
    how="file size limit (ulimit -f), tmpfs not mountable here"
    limit=yes
fi
disk() { # like bad, with writes failing for lack of space
    if [ -n "$limit" ]; then
        (trap '' XFSZ; ulimit -f 16; bad "$@") || exit 1
    else
        bad "$@"
    fi
}
disk 2 "$full/t.bin" "$full/t.bin" "$G" "$top_srcdir/gen/families/exact.c" -o "$full/t.bin"
disk 2 "$full/h.png" "$full/h.png" "$V" --heatmap "$full/h.png" --scale 16 "$E"
disk 2 "$full/y.npy" "$full/y.npy" "$C" conv --shape 1,64,64,8 --kernel 3,3,16 --output "$full/y.npy"
# result rows written as they come: a row that does not fit is cut off, the file ends whole
set --
for i in $(seq 400); do set -- "$@" "$E"; done
if [ -n "$limit" ]; then
    (trap '' XFSZ; ulimit -f 16; "$V" --format csv -o "$full/r.csv" "$@" > /dev/null 2> "$T/err")
else
    "$V" --format csv -o "$full/r.csv" "$@" > /dev/null 2> "$T/err"
fi
got=$?
[ "$got" -eq 2 ] || fail "rows on a full disk: exit $got: $(cat "$T/err")"
[ -s "$full/r.csv" ] || fail "rows on a full disk: no row was kept"
[ "$(tail -c 1 "$full/r.csv" | od -An -c | tr -d ' ')" = '\n' ] || fail "rows on a full disk: the last row is torn"
[ "$(awk -F, '{ print NF }' "$full/r.csv" | sort -u | wc -l)" -eq 1 ] || fail "rows on a full disk: rows of different widths"
rm -f "$full/r.csv"
pass "full disk ($how): clear errors, nothing left behind"
