#!/bin/sh
# The sweep report loads in headless Chromium with every image decoded (no broken links).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
C="$top_builddir/conv/axconv-test"
M="$top_srcdir/models/lenet5-fashion-mnist"
FM=/usr/share/datasets/fashion-mnist
[ -f "$FM/t10k-images-idx3-ubyte.gz" ] || skip "Debian's dataset-fashion-mnist is not installed"
CH=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CH" ] || skip "Debian's chromium is not installed (./quickstart.sh check installs it)"

run 0 "$C" net --model "$M" --mtab-dir "$top_srcdir/tables" --limit 200 --report "$T/r" --quiet
n=$(grep -o '<img ' "$T/r/index.html" | wc -l)
timeout 120 "$CH" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$T/profile" --virtual-time-budget=10000 --dump-dom \
    "file://$T/r/index.html" > "$T/dom.html" 2> "$T/chromium.log" || {
    tail -20 "$T/chromium.log" >&2
    fail "chromium failed"
}
grep -q "data-images=\"ok $n/$n\"" "$T/dom.html" || {
    grep -o 'data-images="[^"]*"' "$T/dom.html" >&2
    grep -o 'data-broken="[^"]*"' "$T/dom.html" >&2
    fail "the page did not show all $n images"
}
pass "headless Chromium: $n/$n images decoded"
