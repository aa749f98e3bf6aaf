#!/bin/sh
# Optional: PyTorch (Debian's python3-torch) as an independent oracle: torch's fake quantizers and
# conv2d against axconv-test conv, and a CNN exported from torch as doc/models.md says against
# axconv-test calibrate/net (tests/torch_oracle.py). Skips when torch is absent; the core suite
# does not need it. Random tensors: AXMUL_TEST_SEED replays a run.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
PY=$(python_with "numpy, torch")
[ -n "$PY" ] || skip "PyTorch not installed (Debian: python3-torch): torch oracle test skipped"
seed=${AXMUL_TEST_SEED:-$(date +%s)}
echo "random seed: $seed (replay with AXMUL_TEST_SEED=$seed)"
"$PY" "$top_srcdir/tests/torch_oracle.py" "$top_builddir/conv/axconv-test" "$top_srcdir" "$T" "$seed" ||
    fail "torch oracle (replay with AXMUL_TEST_SEED=$seed)"
pass "9 conv cases bit-identical to torch; three CNNs exported from torch (LeNet-like on IDX; MobileNet- and ResNet-style on npy data) calibrated and run as torch runs them"
"$PY" "$top_srcdir/tests/torch_layers.py" "$top_builddir/conv/axconv-test" "$T" "$seed" ||
    fail "torch layers (replay with AXMUL_TEST_SEED=$seed)"
pass "padded/ceil_mode pools bit-identical to torch; adaptive pools, LeakyReLU, sigmoid, SiLU, hardswish, concat and add of three within 1e-6"
