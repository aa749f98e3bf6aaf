#!/bin/sh
# ONNX's own backend tests (Debian's libonnx-testdata) through the ONNX runtime in float: every
# test that runs passes, and every test listed in tests/onnx_must_pass.txt runs (is not refused
# as unsupported). Skips without the package, or in a build without ONNX import.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
data=${AXMUL_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
[ -d "$data/node" ] || skip "no ONNX backend tests in $data (Debian: apt-get install libonnx-testdata)"
runner="$top_builddir/tests/onnx_node_tests"
[ -x "$runner" ] || skip "built without ONNX import (no $runner)"
for set in node pytorch-converted pytorch-operator simple; do
    [ -d "$data/$set" ] || continue
    "$runner" "$data/$set" --must-pass "$top_srcdir/tests/onnx_must_pass.txt" >"$T/$set.log" 2>&1 || {
        cat "$T/$set.log" >&2
        fail "ONNX backend tests $set"
    }
    pass "$set: $(tail -1 "$T/$set.log" | sed 's/^onnx node tests: //')"
done
