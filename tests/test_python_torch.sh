#!/bin/sh
# axmul.torch with PyTorch: the shipped LeNet-5 rebuilt in torch and converted predicts as
# axconv-test net on the 10,000 test images, gradients are the float layers', calibrate, convert
# (tests/python_torch_check.py). Skips without NumPy and torch.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
py=$(python_with "numpy, torch")
[ -n "$py" ] || skip "no python3 with NumPy and torch (Debian: apt-get install python3-torch)"
so="$top_builddir/lib/.libs/libaxmul.so"
[ -f "$so" ] || skip "no shared libaxmul in $top_builddir/lib/.libs (a static-only build)"
ldd "$so" 2>/dev/null | grep -q 'libasan\|libubsan' &&
    skip "libaxmul is built with sanitizers: python3 cannot load it without their runtime preloaded (the normal build runs this test)"
AXMUL_LIBRARY=$so PYTHONPATH="$top_srcdir/python" "$py" "$top_srcdir/tests/python_torch_check.py" \
    "$top_builddir" "$top_srcdir" ${AXMUL_TEST_SEED:-} >"$T/log" 2>&1 || {
    cat "$T/log" >&2
    fail "tests/python_torch_check.py"
}
grep -E '^(seed|Ran|OK)' "$T/log"
pass "python_torch_check.py: $(grep '^Ran' "$T/log")"
