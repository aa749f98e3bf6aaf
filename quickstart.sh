#!/bin/sh
# axmul quickstart for a fresh Debian 12 machine (run as root, or with the packages installed):
#   ./quickstart.sh          install what is missing, build, then the demo
#   ./quickstart.sh check    install what is missing, build, then the whole test suite
# Both are idempotent: a second run only rebuilds what changed. Extra configure flags can be
# given in AXMUL_CONFIGURE_FLAGS (e.g. --without-cuda).
set -eu
cd "$(dirname "$0")"
mode=${1:-demo}
case $mode in
demo | check) ;;
-h | --help)
    sed -n '2,6s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
*)
    echo "quickstart.sh: error: unknown mode '$mode' (expected nothing or 'check')" >&2
    exit 2
    ;;
esac

# Debian packages the build, the tests and the demo need.
packages="build-essential autoconf automake libtool pkg-config libpng-dev zlib1g-dev check perl libopenblas-dev libjansson-dev dataset-fashion-mnist libprotobuf-c-dev protobuf-c-compiler libonnx-dev"
# The test suite also renders the sweep report in a headless browser, checks the convolution
# and exported networks against NumPy and PyTorch (independent oracles), runs ONNX's own
# backend tests, and runs the aarch64 NEON kernel under qemu-user.
[ "$mode" = check ] && packages="$packages chromium python3-numpy python3-torch python3-torchvision python3-onnx libonnx-testdata gcc-aarch64-linux-gnu qemu-user-static"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "quickstart.sh: error: missing Debian packages:$missing (run as root, or install them)" >&2
        exit 2
    fi
    echo "== installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    echo "== bootstrapping (autoreconf)"
    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
if [ ! -f config.status ] || [ configure -nt config.status ]; then
    echo "== configuring"
    # shellcheck disable=SC2086
    ./configure -q ${AXMUL_CONFIGURE_FLAGS:-}
fi
echo "== building"
make -s -j"$jobs"

if [ "$mode" = check ]; then
    echo "== running the test suite"
    if ! make -j"$jobs" check; then
        [ -f test-suite.log ] && cat test-suite.log
        exit 1
    fi
    exit 0
fi

# The demo: generate the bundled catalogue from its C sources with axmul-gen, check it against
# the committed tables, list it with its metrics, and run one approximate convolution.
out=demo
mkdir -p "$out"
echo "== generating the bundled tables with axmul-gen (gen/families/catalogue.txt)"
sh gen/families/make-tables.sh gen/axmul-gen verify/axmul-verify gen/families "$out/tables" \
    --heatmaps "$out/heatmaps"
for t in "$out"/tables/*.bin; do
    cmp -s "$t" "tables/$(basename "$t")" || {
        echo "quickstart.sh: error: $t differs from tables/$(basename "$t")" >&2
        exit 1
    }
done
echo "   $(ls "$out"/tables/*.bin | wc -l) tables, identical to the committed tables/"
echo "== the catalogue (tables/index.csv; MAE/WCE/MRE in percent of 2^16 as EvoApprox prints them)"
awk -F, 'NR == 1 { printf "   %-16s %-10s %-14s %6s %10s %9s %8s %10s\n", "table", "family", "parameters", "signed", "MAE%", "WCE%", "MRE%", "bias"; next }
    { printf "   %-16s %-10s %-14s %6s %10.4g %9.4g %8.4g %10.4g\n", $1, $2, $3, $4, $6, $7, $8, $11 }' "$out/tables/index.csv"
echo "== packing check of the exact table against a*b"
./verify/axmul-verify --check-packing "$out/tables/mul8u_1JFF.bin"
echo "== one approximate convolution (3x3, 28x28x8 -> 16) with DRUM k=4"
./conv/axconv-test conv --shape 1,28,28,8 --kernel 3,3,16 --mtab tables/mul8u_drum_k4.bin \
    --heatmap "$out/conv-diff.png"
echo "== LeNet-5 on the 10,000 Fashion-MNIST test images with every bundled table (conv layers approximated)"
./conv/axconv-test net --model models/lenet5-fashion-mnist --mtab-dir tables --quiet \
    --dump-operands "$out/operands" --report "$out/report" | tee "$out/net.txt"
echo
echo "demo output: $(pwd)/$out (tables/ with index.csv, heatmaps/, conv-diff.png, net.txt, operands/)"
echo "report: $(pwd)/$out/report/index.html"
