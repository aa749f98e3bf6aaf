#!/bin/sh
# Behaviour check for refactorings: runs one corpus of tool commands with two builds and compares
# every output byte for byte (stdout, stderr, exit status, and every file written), timings masked.
#
#   tests/same-behaviour.sh [--keep DIR] BASE [NEW]
#
# BASE and NEW are build trees (folders holding gen/axmul-gen, verify/axmul-verify and
# conv/axconv-test) or git revisions of this repository, which are built into a temporary folder
# first (./configure --without-cuda). NEW defaults to the build tree this script belongs to. The
# commands run from the source tree of this script, so relative table paths are the same for
# both. Exit 0 when everything matches, 1 with the differing files listed, 2 on a usage or build
# error. Not part of `make check`: it needs git and a second build; CPU-dependent only as far as
# OpenBLAS is (run both builds on one machine).
#
# What it covers: axmul-gen on every bundled design; axmul-verify text/CSV/JSON of every table
# (bundled, plus the 36 TFApprox fixtures when ../shared has them), --check-packing, heatmaps,
# data-aware metrics; axconv-test conv (JSON, outputs, heatmaps) over shapes, options and every
# CPU path; bench --quick and a custom layer (ref check and shape columns); net: the sweep of all
# tables as JSON/CSV/text, layer-wise runs, --ranges batch, --per-channel, --report,
# --dump-operands, --predictions; calibrate; train (float and approximation-aware) with the model
# files written; a set of bad inputs.
set -u
keep=""
if [ "${1:-}" = --keep ]; then
    keep=$2
    shift 2
fi
[ $# -ge 1 ] && [ $# -le 2 ] || {
    sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src" || exit 2
work=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/axmul-same.XXXXXX")}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)

# build_of ARG NAME: prints the build tree for ARG (a folder, or a revision built here).
build_of() {
    if [ -x "$1/conv/axconv-test" ]; then
        (cd "$1" && pwd)
        return
    fi
    rev=$(git -C "$src" rev-parse --verify -q "$1^{commit}") || {
        echo "same-behaviour.sh: error: '$1' is neither a build tree nor a revision" >&2
        return 1
    }
    b="$work/build-$2"
    if [ ! -x "$b/conv/axconv-test" ]; then
        rm -rf "$b" && mkdir -p "$b"
        git -C "$src" archive "$rev" | tar -x -C "$b" || return 1
        (cd "$b" && autoreconf -fi >/dev/null 2>&1 && ./configure -q --without-cuda >/dev/null &&
            make -s -j"$jobs" >/dev/null 2>&1) || {
            echo "same-behaviour.sh: error: building $1 in $b failed" >&2
            return 1
        }
    fi
    echo "$b"
}
base=$(build_of "$1" base) || exit 2
new=$(build_of "${2:-$src}" new) || exit 2
echo "base: $base"
echo "new:  $new"

fix=${AXMUL_FIXTURES:-$src/../shared/fixtures/tfapprox-axmul_8x8}
FM=/usr/share/datasets/fashion-mnist
M=models/lenet5-fashion-mnist
tabs=$(ls tables/*.bin)
fixtabs=""
[ -f "$fix/mul8u_1JFF.bin" ] && fixtabs=$(ls "$fix"/mul8u_*.bin)

# mask FILE: timings and dates out of a captured output (in place).
mask() {
    sed -i -E \
        -e 's/"(seconds|gmacs|float_seconds|float_gmacs|ratio_vs_float|peak_rss_mb|kernel_seconds|kernel_gmacs)": [-+0-9.eE]+/"\1": T/g' \
        -e 's/^(seconds|gmacs) .*/\1 T/' \
        -e 's/\([0-9.]+ s\)/(T s)/g' \
        -e 's/ on [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5} UTC/ on DATE/' \
        -e 's#</td><td>[0-9.]+</td><td><img class="map"#</td><td>T</td><td><img class="map"#' "$1"
}

# run_corpus BUILD OUT: every command, each into OUT/NN.{out,err,rc} plus the files it wrote.
run_corpus() {
    B=$1 O=$2
    G="$B/gen/axmul-gen" V="$B/verify/axmul-verify" C="$B/conv/axconv-test"
    rm -rf "$O" && mkdir -p "$O/files"
    n=0
    # c CMD...: one command, from the source tree, files under $O/files
    c() {
        n=$((n + 1))
        k=$(printf %03d $n)
        (cd "$src" && AXMUL_CPU_PATH=${CPU_PATH:-} "$@") >"$O/$k.out" 2>"$O/$k.err"
        echo $? >"$O/$k.rc"
        # the tools' paths (base and new builds) are not part of the behaviour
        sed -i -e "s#$B/\(gen\|verify\|conv\)/#BUILD/\1/#g" -e "s#$O/#OUT/#g" "$O/$k.out" "$O/$k.err"
        mask "$O/$k.out"
        mask "$O/$k.err"
        case "$2" in
        bench) # the shape, path and bit-check columns of the text table
            sed -i -E 's/^(.*) (portable|neon|avx2|avx512bw|vbmi|cuda[a-z-]*) .* (bit-exact|MISMATCH) .*/\1 \2 \3/' "$O/$k.out" ;;
        net) # the seconds column of CSV rows
            sed -i -E 's/^(.*,[0-9]+),[0-9]+\.[0-9]{4}$/\1,T/' "$O/$k.out" ;;
        esac
        printf '%s\n' "$*" | sed -e "s#$B/\(gen\|verify\|conv\)/#BUILD/\1/#g" -e "s#$O/#OUT/#g" >"$O/$k.cmd"
    }
    F="$O/files"
    # axmul-gen: every design of the catalogue
    c sh gen/families/make-tables.sh "$G" "$V" gen/families "$F/gen" --heatmaps "$F/gen-heat"
    c "$G" gen/families/drum.c -D K=5 -o "$F/drum5.bin"
    c "$G" tests/gen/evo_style.c -o -
    c "$G" tests/gen/compile_error.c -o "$F/bad.bin"
    c "$G" tests/gen/out_of_range.c -o "$F/bad.bin"
    # axmul-verify
    # shellcheck disable=SC2086
    {
        c "$V" $tabs $fixtabs
        c "$V" --format csv $tabs $fixtabs
        c "$V" --format json $tabs $fixtabs
        c "$V" --check-packing --format csv $tabs $fixtabs
        c "$V" --check-packing tables/mul8u_1JFF.bin tables/mul8s_exact.bin
        mkdir -p "$F/heat"
        c "$V" --heatmap-dir "$F/heat" --scale 2 tables/mul8u_mitchell.bin tables/mul8s_drum_k4.bin
        c "$V" --heatmap "$F/h1.png" tables/mul8u_roba.bin
    }
    printf '%s\n' 0 0 1 5 9 200 255 17 17 17 >"$F/acts.txt"
    c "$V" --dist-a "$F/acts.txt" --dist-b models/lenet5-fashion-mnist/conv1_weights.npy tables/mul8u_drum_k4.bin
    c "$V" --format json --dist-a "$F/acts.txt" tables/mul8u_drum_k4.bin tables/mul8u_trunc_k8.bin
    head -c 1000 tables/mul8u_1JFF.bin >"$F/short.bin"
    c "$V" "$F/short.bin"
    c "$V" --check-packing "$F/short.bin"
    # axconv-test conv over shapes and options, on every CPU path this machine has
    for p in portable avx2 avx512bw vbmi; do
        grep -q -w "$(echo $p | sed 's/vbmi/avx512vbmi/;s/avx512bw/avx512bw/;s/portable/fpu/')" /proc/cpuinfo || continue
        CPU_PATH=$p
        c "$C" conv --shape 2,17,19,8 --kernel 3,3,16 --format json --output "$F/c1-$p.npy" --heatmap "$F/c1-$p.png"
        c "$C" conv --shape 1,30,30,12 --kernel 5,3,24 --stride 2,1 --dilation 1,2 --padding same --groups 3 --mtab tables/mul8u_mitchell.bin --format json --output "$F/c2-$p.npy"
        c "$C" conv --shape 3,9,9,16 --kernel 3,3,16 --groups 16 --mtab tables/mul8s_drum_k4.bin --per-channel --format json --output "$F/c3-$p.npy"
        c "$C" conv --shape 4,1,1,300 --kernel 1,1,50 --padding valid --mtab tables/mul8u_trunc_k8.bin --format json --output "$F/c4-$p.npy"
        c "$C" conv --shape 1,8,8,4 --kernel 2,2,4 --padding 1,0,2,1 --input-range -2,3 --filter-range -1,1 --mtab tables/mul8u_bam_h2v8.bin --output "$F/c5-$p.npy"
        c "$C" conv --shape 2,12,12,64 --kernel 1,1,32 --mtab tables/mul8u_drum_k3.bin --format json --output "$F/c6-$p.npy"
        c "$C" conv --shape 1,40,40,3 --kernel 7,7,8 --stride 3 --mtab tables/mul8s_mitchell.bin --format json --output "$F/c7-$p.npy"
        CPU_PATH=
    done
    c "$C" conv --input "$F/c1-portable.npy" --filter models/lenet5-fashion-mnist/conv2_weights.npy --groups 1 --format json
    c "$C" conv --shape 1,4,4,6 --kernel 3,3,16 --groups 4
    c "$C" conv --shape 1,4,4,6 --kernel 9,9,16 --padding valid
    c "$C" conv --shape 1,4,4,6 --kernel 3,3,6 --input-range 3,2
    # bench: the shapes, paths and bit checks (timings masked)
    c "$C" bench --quick --threads 1 --repeat 1
    c "$C" bench --quick --threads 2 --repeat 1 --format json --mtab tables/mul8s_drum_k4.bin
    c "$C" bench --shape 2,10,10,8 --kernel 3,3,8 --groups 2 --stride 2 --padding valid --repeat 1
    # net (needs the Fashion-MNIST test set)
    if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
        # shellcheck disable=SC2086
        {
            c "$C" net --model "$M" --mtab-dir tables ${fixtabs:+--mtab-dir "$fix"} --format json --quiet
            c "$C" net --model "$M" --mtab-dir tables --format csv --quiet --approx all --threads 1
            c "$C" net --model "$M" --mtab-dir tables --quiet --limit 2000 --ranges batch --batch 100
            c "$C" net --model "$M" --mtab tables/mul8u_drum_k4.bin --mtab tables/mul8s_mitchell.bin --per-channel --format json --quiet --predictions "$F/pred.txt"
            c "$C" net --model "$M" --mtab tables/mul8u_drum_k4.bin --mtab tables/mul8u_1JFF.bin --approx conv2,fc1 --layer-mtab conv1=tables/mul8u_mitchell.bin --format json --quiet
            c "$C" net --model "$M" --layer-mtab fc3=tables/mul8s_exact.bin --layer-mtab conv2=tables/mul8u_trunc_k4.bin --format csv --quiet
            c "$C" net --model "$M" --mtab tables/mul8u_drum_k4.bin --mtab tables/mul8u_roba.bin --limit 700 --quiet --report "$F/report" --dump-operands "$F/operands"
            c "$C" net --model "$M" --mtab-dir tables --shard 3/7 --format csv --output "$F/rows.csv" --quiet
            c "$C" net --model "$M" --mtab-dir tables --shard 3/7 --format csv --output "$F/rows.csv" --resume --quiet
            c "$C" net --model "$M" --mtab tables/mul8u_drum_k4.bin --layer-mtab pool1=tables/mul8u_roba.bin
            c "$C" net --model "$M" --mtab "$F/short.bin"
        }
        cp -r "$src/$M" "$F/model-cal"
        c "$C" calibrate --model "$F/model-cal" --limit 3000
        cp -r "$src/$M" "$F/model-cal2"
        c "$C" calibrate --model "$F/model-cal2" --limit 2000 --mtab tables/mul8u_mitchell.bin --approx all
        c "$C" train --out "$F/float" --limit 3000 --epochs 1 --calibrate 500 --quiet --threads 2
        c "$C" train --from "$M" --mtab tables/mul8u_drum_k3.bin --out "$F/tuned" --limit 2000 --epochs 1 --lr 1e-4 --calibrate 400 --quiet --threads 2
        c "$C" train --from "$M" --layer-mtab conv2=tables/mul8s_mitchell.bin --per-channel --out "$F/tuned2" --limit 1000 --epochs 1 --batch 50 --calibrate 300 --quiet --threads 1
        c "$C" train --out "$F/bad" --epochs 0
    fi
    # the files written, timings masked where they hold some
    for f in $(find "$F" -type f -name '*.html'); do mask "$f"; done
    [ -f "$F/rows.csv" ] && sed -i -E 's/^(.*,[0-9]+),[0-9]+\.[0-9]{4}$/\1,T/' "$F/rows.csv"
}

echo "== running the corpus with base"
run_corpus "$base" "$work/base"
echo "== running the corpus with new"
run_corpus "$new" "$work/new"
echo "== comparing ($(ls "$work/new" | grep -c '\.cmd$') commands, $(find "$work/new/files" -type f | wc -l) files)"
if diff -r -q "$work/base" "$work/new" >"$work/diff.txt"; then
    echo "same behaviour: every output identical"
    exit 0
fi
sed -e "s#$work/##g" "$work/diff.txt"
for f in $(sed -n 's/^Files \([^ ]*\) and .*/\1/p' "$work/diff.txt" | head -5); do
    case $f in *.out | *.err | *.rc)
        echo "--- $(cat "${f%.*}.cmd" | head -c 300)"
        diff "$f" "$(echo "$f" | sed "s#$work/base#$work/new#")" | head -20
        ;;
    esac
done
exit 1
