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
packages="build-essential autoconf automake libtool pkg-config libpng-dev zlib1g-dev check perl"
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

# The demo: generate the bundled tables from their C sources with axmul-gen, check them
# against the committed copies, and show their metrics and error heatmaps.
out=demo
mkdir -p "$out/tables" "$out/heatmaps"
echo "== generating the bundled tables with axmul-gen"
for src in gen/families/*.c; do
    name=$(sed -n 's/^[a-z0-9_]* *\(mul8[us]_[A-Za-z0-9_]*\)(.*/\1/p' "$src" | head -1)
    [ -n "$name" ] || continue
    ./gen/axmul-gen -q "$src" -o "$out/tables/$name.bin"
    if cmp -s "$out/tables/$name.bin" "tables/$name.bin"; then
        echo "   $name.bin  (identical to tables/$name.bin)"
    else
        echo "   $name.bin  DIFFERS from tables/$name.bin" >&2
        exit 1
    fi
done
echo "== axmul-verify"
./verify/axmul-verify --heatmap-dir "$out/heatmaps" "$out"/tables/*.bin
echo "== packing check against the exact multiplier"
./verify/axmul-verify --check-packing "$out"/tables/mul8u_1JFF.bin
echo "== one approximate convolution (3x3, 28x28x8 -> 16) with the exact table"
./conv/axconv-test conv --shape 1,28,28,8 --kernel 3,3,16 --mtab tables/mul8u_1JFF.bin \
    --heatmap "$out/conv-diff.png"
echo
echo "demo output: $(pwd)/$out (tables/, heatmaps/, conv-diff.png)"
