#!/bin/sh
# Optional: doc/models.md's Keras export recipe, run on a stand-in for TensorFlow
# (tests/doc_recipes.py; needs NumPy, Debian's python3-numpy). The PyTorch recipe is run by
# test_torch.sh.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
PY=$(python_with "numpy")
[ -n "$PY" ] || skip "NumPy not installed (Debian: python3-numpy): documentation recipe test skipped"
"$PY" "$top_srcdir/tests/doc_recipes.py" "$top_builddir/conv/axconv-test" "$top_srcdir" "$T" ||
    fail "doc/models.md's Keras recipe"
pass "doc/models.md's Keras export recipe exports a MobileNet-style model that axconv-test runs"
