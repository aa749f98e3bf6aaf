#!/bin/sh
# The Python package (python/axmul) with NumPy: metrics, conv2d and dense against the C tools bit
# for bit, the peer table formats, bad arguments (tests/python_check.py). Skips without NumPy.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
py=$(python_with numpy)
[ -n "$py" ] || skip "no python3 with NumPy (Debian: apt-get install python3-numpy)"
so="$top_builddir/lib/.libs/libaxmul.so"
[ -f "$so" ] || skip "no shared libaxmul in $top_builddir/lib/.libs (a static-only build)"
ldd "$so" 2>/dev/null | grep -q 'libasan\|libubsan' &&
    skip "libaxmul is built with sanitizers: python3 cannot load it without their runtime preloaded (the normal build runs this test)"
AXMUL_LIBRARY=$so PYTHONPATH="$top_srcdir/python" "$py" "$top_srcdir/tests/python_check.py" \
    "$top_builddir" "$top_srcdir" "$fixtures" ${AXMUL_TEST_SEED:-} >"$T/log" 2>&1 || {
    cat "$T/log" >&2
    fail "tests/python_check.py"
}
grep -E '^(seed|Ran|OK)' "$T/log"
pass "python_check.py: $(grep '^Ran' "$T/log")"
